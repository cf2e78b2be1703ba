/* precheck.c — checks of a config's text before and after `capnp` runs on it (host process;
 * see precheck.h). Two passes over a source file: bytes (NUL, UTF-8), then tokens (comments,
 * string literals, words, brackets), enough of capnp's lexer to find nesting, huge words and
 * the paths of `embed` and `import`. Invariant: every read is bounded by the given length.
 */
#include "config/precheck.h"
#include "base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATH_BYTES 4096     /* of an embed's or import's path */

static int fail_at(pw_precheck_error_t *e, int line, int col, const char *fmt, ...)
{
    va_list ap;
    e->line = line;
    e->col = col;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- bytes ---------------------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at p (1-4), or 0 when it is not one: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t n;
    unsigned min, cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; min = 0x80; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; min = 0x800; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; min = 0x10000; cp = c & 0x07; }
    else return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

static int utf8_valid(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence(p + i, len - i);
        if (n == 0) return 0;
        i += n;
    }
    return 1;
}

/* NUL bytes and bad UTF-8 anywhere in the file, comments included. */
static int check_bytes(const unsigned char *s, size_t len, pw_precheck_error_t *e)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        if (s[i] == 0) {
            return fail_at(e, line, col, "the file contains a NUL byte; a config file is UTF-8 "
                           "text (write \\x00 inside a data literal if you mean the byte).");
        }
        size_t n = utf8_sequence(s + i, len - i);
        if (n == 0) {
            return fail_at(e, line, col, "the file is not valid UTF-8 (byte 0x%02X); a config "
                           "file must be UTF-8 text.", s[i]);
        }
        if (s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
        i += n;
    }
    return 0;
}

/* ---- string literals ------------------------------------------------------------------------ */

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One escape after the backslash at s[*i] (s[*i] is the character after '\\'): its byte. */
static unsigned char decode_escape(const char *s, size_t end, size_t *i)
{
    char c = s[(*i)++];
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'a': return '\a';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'v': return '\v';
    case 'x': {
        unsigned v = 0;
        for (int k = 0; k < 2 && *i < end && hex_digit((unsigned char)s[*i]) >= 0; k++)
            v = v * 16 + (unsigned)hex_digit((unsigned char)s[(*i)++]);
        return (unsigned char)v;
    }
    default:
        if (c >= '0' && c <= '7') {
            unsigned v = (unsigned)(c - '0');
            for (int k = 0; k < 2 && *i < end && s[*i] >= '0' && s[*i] <= '7'; k++)
                v = v * 8 + (unsigned)(s[(*i)++] - '0');
            return (unsigned char)v;
        }
        return (unsigned char)c;
    }
}

/* The literal starting at the quote s[start]: decodes its bytes into out (up to out_cap;
 * *out_len gets the full length) and returns the index just past it (the closing quote, or
 * the end of the line when it has none). */
static size_t read_literal(const char *s, size_t len, size_t start, unsigned char *out,
                           size_t out_cap, size_t *out_len)
{
    size_t i = start + 1, n = 0;
    while (i < len && s[i] != '"' && s[i] != '\n') {
        unsigned char b;
        if (s[i] == '\\' && i + 1 < len && s[i + 1] != '\n') {
            i++;
            b = decode_escape(s, len, &i);
        } else {
            b = (unsigned char)s[i++];
        }
        if (out && n < out_cap) out[n] = b;
        n++;
    }
    *out_len = n;
    return i < len && s[i] == '"' ? i + 1 : i;
}

/* ---- tokens --------------------------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t len, i;
    int line, col;
    int want_path;          /* 0, or 1 + pw_ref_kind_t: the last word was embed/import */
    int depth;
} lexer_t;

static void advance(lexer_t *l, size_t n)
{
    for (size_t k = 0; k < n && l->i < l->len; k++, l->i++) {
        if (l->s[l->i] == '\n') {
            l->line++;
            l->col = 1;
        } else if (((unsigned char)l->s[l->i] & 0xC0) != 0x80) {
            l->col++;       /* a character, not a UTF-8 continuation byte */
        }
    }
}

static int word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int add_ref(pw_source_refs_t *refs, pw_ref_kind_t kind, int line, int col,
                   const unsigned char *path, size_t n)
{
    if (refs->n == refs->cap) {
        size_t cap = refs->cap ? refs->cap * 2 : 8;
        pw_source_ref_t *v = realloc(refs->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        refs->v = v;
        refs->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy) return -ENOMEM;
    memcpy(copy, path, n);
    copy[n] = '\0';
    refs->v[refs->n++] = (pw_source_ref_t){ kind, line, col, copy };
    return 0;
}

static int lex_path(lexer_t *l, pw_source_refs_t *refs, pw_precheck_error_t *e)
{
    static const char *const what[] = { "embed", "import" };
    pw_ref_kind_t kind = (pw_ref_kind_t)(l->want_path - 1);
    unsigned char path[MAX_PATH_BYTES];
    size_t n;
    size_t end = read_literal(l->s, l->len, l->i, path, sizeof path, &n);
    if (n >= sizeof path) {
        return fail_at(e, l->line, l->col, "the path of this %s is %zu bytes long (at most %d).",
                       what[kind], n, MAX_PATH_BYTES - 1);
    }
    if (memchr(path, 0, n)) {
        return fail_at(e, l->line, l->col, "the path of this %s contains a NUL character.",
                       what[kind]);
    }
    if (refs->n >= PW_PRECHECK_MAX_REFS) {
        return fail_at(e, l->line, l->col, "more than %d embeds and imports in one file.",
                       PW_PRECHECK_MAX_REFS);
    }
    int rc = add_ref(refs, kind, l->line, l->col, path, n);
    advance(l, end - l->i);
    return rc;
}

static int lex_word(lexer_t *l, pw_precheck_error_t *e)
{
    size_t n = 0;
    while (l->i + n < l->len && word_char(l->s[l->i + n])) n++;
    if (n > PW_PRECHECK_MAX_WORD) {
        return fail_at(e, l->line, l->col, "a name or number %zu characters long; names and "
                       "numbers have at most %d.", n, PW_PRECHECK_MAX_WORD);
    }
    const char *w = l->s + l->i;
    pw_bytes_t word = { (const uint8_t *)w, n };
    if (pw_bytes_is(word, "embed")) l->want_path = 1 + PW_REF_EMBED;
    else if (pw_bytes_is(word, "import")) l->want_path = 1 + PW_REF_IMPORT;
    else l->want_path = 0;
    advance(l, n);
    return 0;
}

static int lex_bracket(lexer_t *l, pw_precheck_error_t *e)
{
    char c = l->s[l->i];
    l->want_path = 0;
    if (c == '(' || c == '[' || c == '{') {
        if (++l->depth > PW_PRECHECK_MAX_NESTING) {
            return fail_at(e, l->line, l->col, "brackets are nested more than %d deep here; "
                           "pyworkerd refuses deeper nesting (capnp would crash on it).",
                           PW_PRECHECK_MAX_NESTING);
        }
    } else if (l->depth > 0) {
        l->depth--;
    }
    advance(l, 1);
    return 0;
}

static int lex_one(lexer_t *l, pw_source_refs_t *refs, pw_precheck_error_t *e)
{
    char c = l->s[l->i];
    if (c == '#') {
        size_t n = 0;
        while (l->i + n < l->len && l->s[l->i + n] != '\n') n++;
        advance(l, n);
        return 0;
    }
    if (c == '"') {
        if (l->want_path) {
            int rc = lex_path(l, refs, e);
            l->want_path = 0;
            return rc;
        }
        size_t n;
        advance(l, read_literal(l->s, l->len, l->i, NULL, 0, &n) - l->i);
        return 0;
    }
    if (word_char(c)) return lex_word(l, e);
    if (c && strchr("([{}])", c)) return lex_bracket(l, e);
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') l->want_path = 0;
    advance(l, 1);
    return 0;
}

int pw_precheck_source(const char *src, size_t len, pw_source_refs_t *refs,
                       pw_precheck_error_t *e)
{
    memset(e, 0, sizeof *e);
    if (check_bytes((const unsigned char *)src, len, e) < 0) return -1;
    lexer_t l = { .s = src, .len = len, .line = 1, .col = 1 };
    while (l.i < l.len) {
        int rc = lex_one(&l, refs, e);
        if (rc != 0) return rc;
    }
    return 0;
}

void pw_source_refs_free(pw_source_refs_t *refs)
{
    for (size_t i = 0; i < refs->n; i++) free(refs->v[i].path);
    free(refs->v);
    memset(refs, 0, sizeof *refs);
}

/* ---- capnp's JSON ------------------------------------------------------------------------- */

static const char nul_msg[] = "a text value contains a NUL character (\\x00 or \\0); names and "
                              "text in a config cannot hold one (use data for bytes).";
static const char utf8_msg[] = "a text value is not valid UTF-8 (an escape such as \\xff makes "
                               "a lone byte); names and text in a config must be UTF-8.";

int pw_precheck_json(const char *json, size_t len, pw_precheck_error_t *e)
{
    const unsigned char *s = (const unsigned char *)json;
    int in_string = 0;
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < len;) {
        if (!in_string) {
            in_string = s[i++] == '"';
            continue;
        }
        if (s[i] == '"') {
            in_string = 0;
            i++;
        } else if (s[i] == '\\') {
            if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0) {
                e->kind = PW_PRECHECK_NUL;
                snprintf(e->msg, sizeof e->msg, "%s", nul_msg);
                return -1;
            }
            i += 2;
        } else {
            size_t n = s[i] ? utf8_sequence(s + i, len - i) : 0;
            if (n == 0) {
                e->kind = s[i] ? PW_PRECHECK_BAD_UTF8 : PW_PRECHECK_NUL;
                snprintf(e->msg, sizeof e->msg, "%s", s[i] ? utf8_msg : nul_msg);
                return -1;
            }
            i += n;
        }
    }
    return 0;
}

/* Does the decoded literal hold what `kind` complains about? */
static int literal_has(const unsigned char *b, size_t n, pw_precheck_kind_t kind)
{
    if (kind == PW_PRECHECK_NUL) return memchr(b, 0, n) != NULL;
    return kind == PW_PRECHECK_BAD_UTF8 && !utf8_valid(b, n);
}

int pw_precheck_find_escape(const char *src, size_t len, const pw_precheck_error_t *json_error,
                            int *col)
{
    lexer_t l = { .s = src, .len = len, .line = 1, .col = 1 };
    while (l.i < l.len) {
        char c = src[l.i];
        if (c == '#') {
            while (l.i < l.len && src[l.i] != '\n') advance(&l, 1);
        } else if (c == '"') {
            size_t n;
            size_t end = read_literal(src, len, l.i, NULL, 0, &n);
            unsigned char *buf = malloc(n ? n : 1);
            if (!buf) return 0;
            read_literal(src, len, l.i, buf, n, &n);
            int found = literal_has(buf, n, json_error->kind);
            free(buf);
            if (found) {
                *col = l.col;
                return l.line;
            }
            advance(&l, end - l.i);
        } else {
            advance(&l, 1);
        }
    }
    return 0;
}

/* ---- paths ---------------------------------------------------------------------------------- */

int pw_precheck_path_climbs_out(const char *path)
{
    long depth = 0;
    if (path[0] == '/') return 0;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0) return 1;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n + (p[n] == '/');
    }
    return 0;
}
