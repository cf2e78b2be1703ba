/* url_pattern.c — matching Cloudflare's `_redirects` / `_headers` URL patterns (host
 * process; see url_pattern.h). A backtracking matcher over the pattern's text: a splat or a
 * placeholder first takes the longest run it may, then gives back one character at a time,
 * which finds the same captures as the regular expression Cloudflare's asset worker builds
 * from the pattern (greedy, leftmost).
 * Invariant: every try costs one step of a fixed budget, so no pattern and no URL make a
 * request take long (a match not found within it is no match).
 */
#include "http/url_pattern.h"
#include "base/err.h"

#include <ctype.h>
#include <string.h>

#define STEP_BUDGET 200000

typedef struct {
    const char *pattern;
    size_t host_end;            /* the pattern's host part is [8, host_end); 0: a path pattern */
    const char *subject;
    size_t len;
    pw_url_captures_t *caps;
    long steps;
} match_t;

static int name_start(char c)
{
    return isalpha((unsigned char)c);
}

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* The length of the placeholder name at p (after its ':'), 0 when none starts there. */
static size_t name_len(const char *p)
{
    size_t n = 0;
    if (!name_start(p[0]))
        return 0;
    while (name_char(p[n]))
        n++;
    return n;
}

static int is_absolute(const char *pattern)
{
    return pattern[0] == 'h' && strncmp(pattern, "https://", 8) == 0;     /* else a path */
}

static size_t host_end(const char *pattern)
{
    if (!is_absolute(pattern))
        return 0;
    const char *slash = strchr(pattern + 8, '/');
    return slash ? (size_t)(slash - pattern) : strlen(pattern);
}

int pw_url_pattern_dynamic(const char *pattern)
{
    for (const char *p = pattern; *p; p++)
        if (*p == '*' || (*p == ':' && name_len(p + 1)))
            return 1;
    return 0;
}

int pw_url_pattern_check(const char *pattern, char *err, size_t err_len)
{
    const char *names[PW_URL_PATTERN_MAX_CAPTURES];
    size_t lens[PW_URL_PATTERN_MAX_CAPTURES], n = 0;
    int splats = 0;
    for (const char *p = pattern; *p; p++) {
        size_t k = *p == ':' ? name_len(p + 1) : 0;
        if (*p == '*' && ++splats > 1)
            return pw_err_set(err, err_len, "more than one '*' in %s (a pattern has one splat at most)",
                              pattern);
        if (!k)
            continue;
        for (size_t i = 0; i < n; i++)
            if (lens[i] == k && memcmp(names[i], p + 1, k) == 0)
                return pw_err_set(err, err_len, "placeholder :%.*s used twice in %s", (int)k, p + 1,
                                  pattern);
        if (n + (size_t)splats >= PW_URL_PATTERN_MAX_CAPTURES)
            return pw_err_set(err, err_len, "more than %d placeholders in %s",
                              PW_URL_PATTERN_MAX_CAPTURES - 1, pattern);
        names[n] = p + 1;
        lens[n++] = k;
        p += k;
    }
    return 0;
}

static int match_at(match_t *m, size_t pi, size_t si);

/* A splat or placeholder (its name: [name, name + name_n)) that may take subject[si, most),
 * at least `least` characters of it, then the pattern goes on at `next`: longest run first. */
static int capture_run(match_t *m, size_t next, const char *name, size_t name_n, size_t si,
                       size_t most, size_t least)
{
    size_t slot = m->caps->n;
    if (slot >= PW_URL_PATTERN_MAX_CAPTURES)
        return 0;
    for (size_t end = most; end >= si + least; end--) {
        m->caps->at[slot] = (pw_url_capture_t){ name, name_n, m->subject + si, end - si };
        m->caps->n = slot + 1;
        if (match_at(m, next, end))
            return 1;
        if (end == si)
            break;
    }
    m->caps->n = slot;
    return 0;
}

/* The end of the run a placeholder at pattern[pi] may take from subject[si]. */
static size_t placeholder_most(const match_t *m, size_t pi, size_t si)
{
    int in_host = pi < m->host_end;
    size_t e = si;
    while (e < m->len && m->subject[e] != '/' && !(in_host && m->subject[e] == '.'))
        e++;
    return e;
}

static int same_char(const match_t *m, size_t pi, char s)
{
    char p = m->pattern[pi];
    return pi < m->host_end ? tolower((unsigned char)p) == tolower((unsigned char)s) : p == s;
}

static int match_at(match_t *m, size_t pi, size_t si)
{
    for (;;) {
        if (++m->steps > STEP_BUDGET)
            return 0;
        char c = m->pattern[pi];
        if (c == '\0')
            return si == m->len;
        if (c == '*')
            return capture_run(m, pi + 1, "splat", 5, si, m->len, 0);
        size_t k = c == ':' ? name_len(m->pattern + pi + 1) : 0;
        if (k) {
            size_t most = placeholder_most(m, pi, si);
            return most > si && capture_run(m, pi + 1 + k, m->pattern + pi + 1, k, si, most, 1);
        }
        if (si >= m->len || !same_char(m, pi, m->subject[si]))
            return 0;
        pi++;
        si++;
    }
}

int pw_url_pattern_match(const char *pattern, const char *subject, size_t len,
                         pw_url_captures_t *caps)
{
    match_t m = { pattern, host_end(pattern), subject, len, caps, 0 };
    caps->n = 0;
    if (match_at(&m, 0, 0))
        return 1;
    caps->n = 0;
    return 0;
}

static const pw_url_capture_t *capture_named(const pw_url_captures_t *caps, const char *name,
                                             size_t n)
{
    for (size_t i = 0; i < caps->n; i++)
        if (caps->at[i].name_len == n && memcmp(caps->at[i].name, name, n) == 0)
            return &caps->at[i];
    return NULL;
}

int pw_url_pattern_fill(const char *tmpl, const pw_url_captures_t *caps, char *out, size_t out_len)
{
    size_t o = 0;
    for (const char *p = tmpl; *p;) {
        size_t k = *p == ':' ? name_len(p + 1) : 0;
        const pw_url_capture_t *c = k ? capture_named(caps, p + 1, k) : NULL;
        const char *from = c ? c->value : p;
        size_t n = c ? c->len : 1;
        if (o + n >= out_len)
            return -1;
        memcpy(out + o, from, n);
        o += n;
        p += c ? k + 1 : 1;
    }
    out[o] = '\0';
    return 0;
}
