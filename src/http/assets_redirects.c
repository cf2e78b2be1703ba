/* assets_redirects.c — parsing and matching `_redirects` (host process; see
 * assets_redirects.h). Static rules are kept sorted by (source, line) and found by binary
 * search, so 2,000 of them cost a request a dozen comparisons; dynamic ones are tried in
 * file order with url_pattern.c.
 * Invariant: a parsed rule's source is a path starting with '/' and passes
 * pw_url_pattern_check; its destination starts with '/' or "https://" and a host.
 */
#include "http/assets_redirects.h"
#include "base/err.h"
#include "http/rule_lines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pw_redirects {
    pw_redirect_t *fixed;       /* static rules, sorted by (from, line) */
    size_t n_fixed;
    pw_redirect_t *dynamic;     /* in file order */
    size_t n_dynamic;
};

#define MAX_TOKENS 3

typedef struct {
    const char *file;
    int line;
    int html_none;
    char *err;
    size_t err_len;
} parse_t;

static int fail(const parse_t *ps, const char *fmt, const char *arg)
{
    char why[1200];
    snprintf(why, sizeof why, fmt, arg);
    return pw_err_set(ps->err, ps->err_len, "%s:%d: %s", ps->file, ps->line, why);
}

/* Splits the line at white space; a token from the third on that starts with '#' begins a
 * comment. The number of tokens (MAX_TOKENS + 1: too many), each NUL-terminated in buf. */
static int tokens(const char *line, size_t len, char *buf, char *tok[MAX_TOKENS])
{
    memcpy(buf, line, len);
    buf[len] = '\0';
    int n = 0;
    for (char *p = buf; *p;) {
        while (*p && pw_rule_space(*p))
            p++;
        if (!*p || (n >= 2 && *p == '#'))
            break;
        if (n == MAX_TOKENS)
            return MAX_TOKENS + 1;
        tok[n++] = p;
        while (*p && !pw_rule_space(*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int absolute(const char *url)
{
    return strncmp(url, "https://", 8) == 0 && url[8] && url[8] != '/';
}

/* The source as a path: a fragment and a query are dropped, a missing '/' added. */
static int source_path(const parse_t *ps, const char *token, char **out)
{
    if (strstr(token, "://"))
        return fail(ps, "the source %s is not a path: a _redirects source is relative "
                    "(it starts with '/')", token);
    size_t n = strcspn(token, "?#");
    int slash = token[0] != '/';
    if (!(*out = malloc(n + 2)))
        return pw_err_set(ps->err, ps->err_len, "out of memory");
    snprintf(*out, n + 2, "%s%.*s", slash ? "/" : "", (int)n, token);
    return 0;
}

static int check_destination(const parse_t *ps, const char *to, int status)
{
    if (to[0] != '/' && !absolute(to))
        return fail(ps, "the destination %s is neither a path (starting with '/') nor an https:// "
                    "URL", to);
    if (status == 200 && to[0] != '/')
        return fail(ps, "a 200 rule rewrites to an asset of this site: its destination is a path, "
                    "not %s", to);
    return 0;
}

static int parse_status(const parse_t *ps, const char *token)
{
    static const int allowed[] = { 200, 301, 302, 303, 307, 308 };
    char *end;
    long v = token ? strtol(token, &end, 10) : 302;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (v == allowed[i] && (!token || *end == '\0'))
            return (int)v;
    return fail(ps, "the status %s is none of 200, 301, 302 (the default), 303, 307, 308", token);
}

/* Cloudflare's two rules that would loop: html_handling strips /index.html again. */
static int loops(const parse_t *ps, const char *from, const char *to)
{
    int to_index = to[0] == '/' && (ends_with(to, "/index") || ends_with(to, "/index.html"));
    if (to_index && (ends_with(from, "/*") || (ends_with(from, "/") && !ps->html_none)))
        return fail(ps, "this rule loops: %s serves the page at its canonical URL again (html_handling "
                    "drops /index.html), which this rule matches; remove it", to);
    return 0;
}

static int add_rule(pw_redirect_t **list, size_t *n, const pw_redirect_t *rule)
{
    pw_redirect_t *grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *list = grown;
    grown[(*n)++] = *rule;
    return 0;
}

/* One line: appended to r's static or dynamic rules. */
static int parse_line(const parse_t *ps, pw_redirects_t *r, const char *line, size_t len)
{
    char buf[PW_REDIRECTS_MAX_LINE + 1], *tok[MAX_TOKENS], why[512];
    if (len > PW_REDIRECTS_MAX_LINE)
        return fail(ps, "the line is longer than %s characters (Cloudflare's limit)", "1,000");
    if (memchr(line, '\0', len))
        return fail(ps, "the line holds a %s byte", "NUL");
    int n = tokens(line, len, buf, tok);
    if (n < 2 || n > MAX_TOKENS)
        return fail(ps, "expected \"source destination [status]\", %s", n < 2 ? "got one word"
                    : "got more than three words");
    int status = parse_status(ps, n == 3 ? tok[2] : NULL);
    pw_redirect_t rule = { .status = status, .line = ps->line };
    if (status < 0 || check_destination(ps, tok[1], status) < 0 ||
        source_path(ps, tok[0], &rule.from) < 0)
        return -1;
    int dynamic = r->n_dynamic > 0 || pw_url_pattern_dynamic(rule.from);
    int rc = pw_url_pattern_check(rule.from, why, sizeof why) < 0 ? fail(ps, "%s", why)
             : loops(ps, rule.from, tok[1]);
    if (rc == 0 && dynamic && r->n_dynamic == PW_REDIRECTS_MAX_DYNAMIC)
        rc = fail(ps, "more than %s dynamic rules (with '*' or a :placeholder, or after one): "
                  "Cloudflare's limit", "100");
    if (rc == 0 && !dynamic && r->n_fixed == PW_REDIRECTS_MAX_STATIC)
        rc = fail(ps, "more than %s static rules: Cloudflare's limit", "2,000");
    if (rc == 0 && !(rule.to = strdup(tok[1])))
        rc = pw_err_set(ps->err, ps->err_len, "out of memory");
    if (rc == 0 && add_rule(dynamic ? &r->dynamic : &r->fixed, dynamic ? &r->n_dynamic : &r->n_fixed,
                            &rule) < 0)
        rc = pw_err_set(ps->err, ps->err_len, "out of memory");
    if (rc < 0) {
        free(rule.from);
        free(rule.to);
    }
    return rc;
}

static int by_source_then_line(const void *a, const void *b)
{
    const pw_redirect_t *x = a, *y = b;
    int c = strcmp(x->from, y->from);
    return c ? c : x->line - y->line;
}

int pw_redirects_parse(const char *text, size_t len, const char *file, int html_none,
                       pw_redirects_t **out, char *err, size_t err_len)
{
    pw_redirects_t *r = calloc(1, sizeof *r);
    pw_rule_lines_t lines = { text, text + len, 0, 0 };
    parse_t ps = { file, 0, html_none, err, err_len };
    const char *line;
    size_t n;
    *out = NULL;
    if (!r)
        return pw_err_set(err, err_len, "out of memory");
    while (pw_rule_lines_next(&lines, &line, &n)) {
        ps.line = lines.number;
        if (parse_line(&ps, r, line, n) < 0) {
            pw_redirects_free(r);
            return -1;
        }
    }
    if (r->n_fixed)
        qsort(r->fixed, r->n_fixed, sizeof *r->fixed, by_source_then_line);
    *out = r;
    return 0;
}

static void free_rules(pw_redirect_t *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rules[i].from);
        free(rules[i].to);
    }
    free(rules);
}

void pw_redirects_free(pw_redirects_t *r)
{
    if (!r)
        return;
    free_rules(r->fixed, r->n_fixed);
    free_rules(r->dynamic, r->n_dynamic);
    free(r);
}

size_t pw_redirects_count(const pw_redirects_t *r)
{
    return r ? r->n_fixed + r->n_dynamic : 0;
}

/* The first static rule for exactly this path (the lowest line among equal sources). */
static const pw_redirect_t *find_fixed(const pw_redirects_t *r, const char *path, size_t len)
{
    size_t lo = 0, hi = r->n_fixed;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *from = r->fixed[mid].from;
        int c = strncmp(from, path, len);
        if (c == 0 && from[len] != '\0')
            c = 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < r->n_fixed && strlen(r->fixed[lo].from) == len && memcmp(r->fixed[lo].from, path, len) == 0)
        return &r->fixed[lo];
    return NULL;
}

const pw_redirect_t *pw_redirects_find(const pw_redirects_t *r, const char *path, size_t len,
                                       pw_url_captures_t *caps)
{
    caps->n = 0;
    if (!r)
        return NULL;
    const pw_redirect_t *rule = find_fixed(r, path, len);
    for (size_t i = 0; !rule && i < r->n_dynamic; i++)
        if (pw_url_pattern_match(r->dynamic[i].from, path, len, caps))
            rule = &r->dynamic[i];
    return rule;
}

/* Runs of '/' in s become one. */
static void collapse_slashes(char *s)
{
    char *w = s;
    for (const char *p = s; *p; p++)
        if (!(*p == '/' && w > s && w[-1] == '/'))
            *w++ = *p;
    *w = '\0';
}

/* "https://host" and "https://host?q" gain the root path "/", as a URL parser gives them. */
static int add_root_path(char *url, size_t url_len)
{
    size_t host_end = 8 + strcspn(url + 8, "/?#"), n = strlen(url);
    if (url[host_end] == '/')
        return 0;
    if (n + 2 > url_len)
        return -1;
    memmove(url + host_end + 1, url + host_end, n - host_end + 1);
    url[host_end] = '/';
    return 0;
}

int pw_redirects_target(const pw_redirect_t *rule, const pw_url_captures_t *caps,
                        pw_bytes_t query, char *out, size_t out_len)
{
    if (pw_url_pattern_fill(rule->to, caps, out, out_len) < 0)
        return -1;
    int relative = out[0] == '/';
    if (relative)
        collapse_slashes(out);
    else if (add_root_path(out, out_len) < 0)
        return -1;
    size_t path_end = strcspn(out, "?#");
    if (rule->status == 200) {
        out[path_end] = '\0';
        return 0;
    }
    char *hash = strchr(out, '#');
    size_t own_query = (hash ? (size_t)(hash - out) : strlen(out)) - path_end;
    if (own_query > 1 || query.len == 0)        /* "?" alone counts as none, as in a URL */
        return 0;
    /* path + the request's query + the destination's fragment */
    char *fragment = strdup(hash ? hash : "");
    if (!fragment)
        return -1;
    int n = snprintf(out + path_end, out_len - path_end, "%.*s%s", (int)query.len,
                     (const char *)query.base, fragment);
    free(fragment);
    return n < 0 || (size_t)n >= out_len - path_end ? -1 : 0;
}
