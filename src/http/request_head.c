/* request_head.c — the host's checks of raw HTTP/1 request heads and the URL a worker sees
 * (host process; pure, see request_head.h). Lines end at LF, an optional CR before it is
 * dropped, and leading blank lines are skipped: the same framing as picohttpparser, which
 * h2o uses, so that both agree on where each header line is. Nothing here allocates; the
 * walk never reads past len.
 */
#include "http/request_head.h"

#include <string.h>

static int verdict(pw_http_verdict_t *why, int status, const char *reason)
{
    why->status = status;
    why->reason = reason;
    return status;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Whether s is `lit` (lower case) in any case. */
static int span_is(pw_bytes_t s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s.base[i]) != lit[i])
            return 0;
    return 1;
}

static int span_ieq(pw_bytes_t a, pw_bytes_t b)
{
    if (a.len != b.len)
        return 0;
    for (size_t i = 0; i < a.len; i++)
        if (lower(a.base[i]) != lower(b.base[i]))
            return 0;
    return 1;
}

/* Character classes, one table looked up per byte: every request's head and URL go through
 * these (a strchr per byte cost the host ~10 % of a hello request). */
enum { CLASS_TCHAR = 1, CLASS_AUTHORITY = 2 };

static const uint8_t *char_classes(void)
{
    static uint8_t table[256];
    static int ready;
    if (ready)
        return table;
    for (int c = '0'; c <= '9'; c++)
        table[c] = CLASS_TCHAR | CLASS_AUTHORITY;
    for (int c = 'a'; c <= 'z'; c++)
        table[c] = table[c - 'a' + 'A'] = CLASS_TCHAR | CLASS_AUTHORITY;
    for (const char *p = "!#$%&'*+-.^_`|~"; *p; p++)        /* RFC 9110 tchar */
        table[(uint8_t)*p] |= CLASS_TCHAR;
    for (const char *p = "-._~!$&'()*+,;=:%[]"; *p; p++)    /* RFC 3986, no userinfo */
        table[(uint8_t)*p] |= CLASS_AUTHORITY;
    ready = 1;
    return table;
}

/* RFC 9110 tchar */
static int is_tchar(uint8_t c)
{
    return char_classes()[c] & CLASS_TCHAR;
}

/* Where the first line not blank starts (picohttpparser skips empty lines before a request). */
static size_t skip_blank_lines(const uint8_t *d, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (d[i] == '\n')
            i++;
        else if (d[i] == '\r' && i + 1 < len && d[i + 1] == '\n')
            i += 2;
        else
            break;
    }
    return i;
}

/* 1: the line at i is the blank line ending the head (*next after it); 0: a header line;
 * -1: not known yet (a lone CR at the end). */
static int blank_line_at(const uint8_t *d, size_t len, size_t i, size_t *next)
{
    if (d[i] == '\n') {
        *next = i + 1;
        return 1;
    }
    if (d[i] != '\r')
        return 0;
    if (i + 1 == len)
        return -1;
    if (d[i + 1] != '\n')
        return 0;
    *next = i + 2;
    return 1;
}

/* The line from i to its LF (CR dropped) and the index after it; 0 when no LF yet. */
static int next_line(const uint8_t *d, size_t len, size_t i, pw_bytes_t *line, size_t *next)
{
    const uint8_t *lf = memchr(d + i, '\n', len - i);
    if (!lf)
        return 0;
    size_t end = (size_t)(lf - d);
    *next = end + 1;
    if (end > i && d[end - 1] == '\r')
        end--;
    *line = (pw_bytes_t){ d + i, end - i };
    return 1;
}

int pw_http_head_guard(const uint8_t *d, size_t len, pw_http_verdict_t *why)
{
    size_t limit = len < PW_HTTP_MAX_HEAD_BYTES ? len : PW_HTTP_MAX_HEAD_BYTES;
    size_t i = skip_blank_lines(d, limit), n = 0, next;
    pw_bytes_t line;
    why->status = 0;
    if (!next_line(d, limit, i, &line, &i))
        goto unfinished;
    while (i < limit) {
        int blank = blank_line_at(d, limit, i, &next);
        if (blank == 1)
            return 0;
        if (blank < 0)
            break;
        if (n++ == PW_HTTP_MAX_HEADERS)
            return verdict(why, 431, "more than 100 header fields");
        if (!next_line(d, limit, i, &line, &i))
            break;
    }
unfinished:
    if (len > PW_HTTP_MAX_HEAD_BYTES)
        return verdict(why, 431, "request headers over 128 KiB");
    return 0;
}

/* method SP target SP version */
static int parse_request_line(pw_bytes_t line, pw_http_head_t *out, pw_http_verdict_t *why)
{
    const uint8_t *sp1 = memchr(line.base, ' ', line.len);
    if (!sp1 || sp1 == line.base)
        return verdict(why, 400, "malformed request line");
    size_t rest = line.len - (size_t)(sp1 + 1 - line.base);
    const uint8_t *sp2 = memchr(sp1 + 1, ' ', rest);
    if (!sp2 || sp2 == sp1 + 1)
        return verdict(why, 400, "malformed request line");
    out->method = (pw_bytes_t){ line.base, (size_t)(sp1 - line.base) };
    out->target = (pw_bytes_t){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
    for (size_t k = 0; k < out->method.len; k++)
        if (!is_tchar(out->method.base[k]))
            return verdict(why, 400, "malformed request line");
    return 0;
}

static pw_bytes_t trim_ows(pw_bytes_t s)
{
    while (s.len && (s.base[0] == ' ' || s.base[0] == '\t')) {
        s.base++;
        s.len--;
    }
    while (s.len && (s.base[s.len - 1] == ' ' || s.base[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* What the header lines seen so far said about the message's framing and host. */
typedef struct {
    pw_bytes_t content_length;   /* base NULL: none yet */
    int transfer_encodings;
    int hosts;
    size_t bytes;               /* names and values */
} framing_t;

static int check_field(pw_bytes_t name, pw_bytes_t value, framing_t *f, pw_http_head_t *out,
                       pw_http_verdict_t *why)
{
    f->bytes += name.len + value.len;
    if (f->bytes > PW_HTTP_MAX_HEADER_BYTES)
        return verdict(why, 431, "request headers over 128 KiB");
    if (name.len != 4 && name.len != 14 && name.len != 17)
        return 0;   /* none of the three below */
    if (span_is(name, "content-length")) {
        if (f->content_length.base && !pw_bytes_equal(f->content_length, value))
            return verdict(why, 400, "conflicting Content-Length headers");
        f->content_length = value;
    } else if (span_is(name, "transfer-encoding")) {
        if (++f->transfer_encodings > 1)
            return verdict(why, 400, "more than one Transfer-Encoding header");
    } else if (span_is(name, "host")) {
        if (++f->hosts > 1)
            return verdict(why, 400, "more than one Host header");
        out->host = value;
    }
    return 0;
}

static int parse_field(pw_bytes_t line, framing_t *f, pw_http_head_t *out, pw_http_verdict_t *why)
{
    if (line.base[0] == ' ' || line.base[0] == '\t')
        return verdict(why, 400, "obsolete line folding in a header");
    const uint8_t *colon = memchr(line.base, ':', line.len);
    if (!colon || colon == line.base)
        return verdict(why, 400, "malformed header line");
    pw_bytes_t name = { line.base, (size_t)(colon - line.base) };
    for (size_t k = 0; k < name.len; k++)
        if (!is_tchar(name.base[k]))
            return verdict(why, 400, "malformed header name");
    pw_bytes_t value = trim_ows((pw_bytes_t){ colon + 1, line.len - name.len - 1 });
    return check_field(name, value, f, out, why);
}

static int exact_check(const uint8_t *d, size_t len, pw_http_head_t *out, pw_http_verdict_t *why);

/* Only these three names matter to framing and host (and each starts with its own letter). */
static int may_matter(uint8_t first)
{
    first = (uint8_t)lower(first);
    return first == 'c' || first == 't' || first == 'h';
}

/* The common case, in one cheap walk: a head whose lines total at most the header limit.
 * Lines that cannot be Content-Length, Transfer-Encoding or Host are only counted: h2o's
 * parser, which read the same bytes first, already refused malformed names. Returns -1 when
 * the exact walk must decide (the lines alone exceed the limit, or the head is incomplete). */
static int quick_check(const uint8_t *d, size_t len, pw_http_head_t *out, pw_http_verdict_t *why)
{
    framing_t f = { { NULL, 0 }, 0, 0, 0 };
    size_t i = skip_blank_lines(d, len), next, line_bytes = 0;
    pw_bytes_t line;
    if (!next_line(d, len, i, &line, &i) || parse_request_line(line, out, why) != 0)
        return -1;
    for (;;) {
        int blank = i < len ? blank_line_at(d, len, i, &next) : -1;
        if (blank == 1)
            break;
        if (blank < 0 || !next_line(d, len, i, &line, &next))
            return -1;
        if ((line_bytes += line.len) > PW_HTTP_MAX_HEADER_BYTES || out->n_headers == PW_HTTP_MAX_HEADERS)
            return -1;
        out->n_headers++;
        if (line.base[0] == ' ' || line.base[0] == '\t' || may_matter(line.base[0]))
            if (parse_field(line, &f, out, why) != 0)
                return why->status;
        i = next;
    }
    out->head_len = next;
    if (next > PW_HTTP_MAX_HEAD_BYTES)
        return -1;
    if (f.content_length.base && f.transfer_encodings)
        return verdict(why, 400, "both Content-Length and Transfer-Encoding");
    return 0;
}

int pw_http_head_check(const uint8_t *d, size_t len, pw_http_head_t *out, pw_http_verdict_t *why)
{
    memset(out, 0, sizeof *out);
    why->status = 0;
    int quick = quick_check(d, len, out, why);
    if (quick >= 0)
        return quick;
    return exact_check(d, len, out, why);
}

/* Every line parsed, names checked, bytes of names and values counted. */
static int exact_check(const uint8_t *d, size_t len, pw_http_head_t *out, pw_http_verdict_t *why)
{
    framing_t f = { { NULL, 0 }, 0, 0, 0 };
    size_t i = skip_blank_lines(d, len), next;
    pw_bytes_t line;
    memset(out, 0, sizeof *out);
    why->status = 0;
    if (!next_line(d, len, i, &line, &i) || parse_request_line(line, out, why) != 0)
        return why->status ? why->status : verdict(why, 400, "incomplete request head");
    for (;;) {
        if (i >= len)
            return verdict(why, 400, "incomplete request head");
        int blank = blank_line_at(d, len, i, &next);
        if (blank == 1)
            break;
        if (blank < 0 || !next_line(d, len, i, &line, &next))
            return verdict(why, 400, "incomplete request head");
        if (out->n_headers++ == PW_HTTP_MAX_HEADERS)
            return verdict(why, 431, "more than 100 header fields");
        if (parse_field(line, &f, out, why) != 0)
            return why->status;
        i = next;
    }
    out->head_len = next;
    if (next > PW_HTTP_MAX_HEAD_BYTES)
        return verdict(why, 431, "request headers over 128 KiB");
    if (f.content_length.base && f.transfer_encodings)
        return verdict(why, 400, "both Content-Length and Transfer-Encoding");
    return 0;
}

/* ---- request.url ---- */

/* RFC 3986 authority characters (reg-name, IP literal, port); no userinfo. */
static int valid_authority(pw_bytes_t a)
{
    if (a.len == 0)
        return 0;
    const uint8_t *classes = char_classes();
    for (size_t k = 0; k < a.len; k++)
        if (!(classes[a.base[k]] & CLASS_AUTHORITY))
            return 0;
    return 1;
}

/* Bytes the WHATWG URL parser percent-encodes in a path (query: in_query), and any byte
 * that is not printable ASCII. */
static int needs_escape(uint8_t c, int in_query)
{
    if (c <= 0x20 || c >= 0x7f)
        return 1;
    if (c == '"' || c == '#' || c == '<' || c == '>')
        return 1;
    return in_query ? c == '\'' : (c == '`' || c == '{' || c == '}');
}

static size_t put_escaped(char *out, pw_bytes_t s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    int in_query = 0;
    for (size_t k = 0; k < s.len; k++) {
        uint8_t c = s.base[k];
        if (c == '?')
            in_query = 1;
        if (needs_escape(c, in_query)) {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

size_t pw_http_url_max(size_t scheme_len, size_t host_len, size_t target_len)
{
    return scheme_len + 3 + (host_len > 9 ? host_len : 9) + 1 + 3 * target_len;
}

/* "scheme://" at the start of target: its length (with "://"), or 0. */
static size_t scheme_prefix(pw_bytes_t t)
{
    size_t k = 0;
    while (k < t.len && ((t.base[k] >= 'a' && t.base[k] <= 'z') || (t.base[k] >= 'A' && t.base[k] <= 'Z') ||
                         (k > 0 && ((t.base[k] >= '0' && t.base[k] <= '9') || strchr("+-.", t.base[k])))))
        k++;
    if (k == 0 || t.len - k < 3 || memcmp(t.base + k, "://", 3) != 0)
        return 0;
    return k + 3;
}

/* absolute-form: splits target into its authority and the rest (path and query). */
static int split_absolute(pw_bytes_t scheme, pw_bytes_t target, pw_bytes_t *authority, pw_bytes_t *rest,
                          pw_http_verdict_t *why)
{
    size_t prefix = scheme_prefix(target);
    if (!prefix)
        return verdict(why, 400, "the request target is neither a path nor an absolute URL");
    if (!span_ieq((pw_bytes_t){ target.base, prefix - 3 }, scheme))
        return verdict(why, 400, "the request target's scheme is not the connection's");
    size_t k = prefix;
    while (k < target.len && target.base[k] != '/' && target.base[k] != '?' && target.base[k] != '#')
        k++;
    *authority = (pw_bytes_t){ target.base + prefix, k - prefix };
    *rest = (pw_bytes_t){ target.base + k, target.len - k };
    if (!valid_authority(*authority))
        return verdict(why, 400, "invalid authority in the request target");
    return 0;
}

int pw_http_request_url(pw_bytes_t scheme, pw_bytes_t method, pw_bytes_t target, pw_bytes_t host,
                        char *out, size_t *url_len, pw_bytes_t *authority, pw_http_verdict_t *why)
{
    pw_bytes_t rest = target;
    why->status = 0;
    *url_len = 0;
    if (pw_bytes_is(method, "CONNECT"))
        return verdict(why, 405, "CONNECT is not supported");
    if (target.len && target.base[0] == '/') {
        *authority = host.len ? host : (pw_bytes_t){ (const uint8_t *)"localhost", 9 };
        if (!valid_authority(*authority))
            return verdict(why, 400, "invalid Host header");
    } else if (target.len == 1 && target.base[0] == '*') {
        return verdict(why, 400, "asterisk-form request targets (OPTIONS *) are not supported");
    } else if (split_absolute(scheme, target, authority, &rest, why) != 0) {
        return why->status;
    }
    size_t n = 0;
    memcpy(out, scheme.base, scheme.len);
    n += scheme.len;
    memcpy(out + n, "://", 3);
    n += 3;
    memcpy(out + n, authority->base, authority->len);
    n += authority->len;
    if (rest.len == 0 || rest.base[0] != '/')
        out[n++] = '/';
    n += put_escaped(out + n, rest);
    *url_len = n;
    return 0;
}
