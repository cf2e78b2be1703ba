/* url_pattern.h — the URL patterns of Cloudflare's `_redirects` and `_headers` files (host
 * process; pure: no I/O, so tests/unit calls it as it is). A pattern is a path ("/blog/" then a star,
 * "/users/:id") or, in `_headers`, an absolute URL ("https://:sub.example.com/" then a star). A star
 * (the splat) matches any run of characters, slashes included; ":name" (a letter, then
 * letters, digits, underscores) matches one or more characters up to the next '/' (in the
 * host part: up to the next '/' or '.'); everything else matches itself (the host's letters
 * in any case). What they matched fills ":splat" and ":name" in a destination or a header
 * value. A pattern holds at most one splat and each name once, as Cloudflare documents.
 */
#ifndef PW_URL_PATTERN_H
#define PW_URL_PATTERN_H

#include <stddef.h>

#define PW_URL_PATTERN_MAX_CAPTURES 16

typedef struct {
    const char *name;           /* into the pattern ("splat" for the star) */
    size_t name_len;
    const char *value;          /* into the subject */
    size_t len;
} pw_url_capture_t;

typedef struct {
    pw_url_capture_t at[PW_URL_PATTERN_MAX_CAPTURES];
    size_t n;
} pw_url_captures_t;

/* 0 when `pattern` is one Cloudflare accepts, else -1 with the reason in err ("more than one
 * '*'", "placeholder :id used twice", ...). */
int pw_url_pattern_check(const char *pattern, char *err, size_t err_len);

/* 1 when it has a splat or a placeholder (a dynamic rule), else 0 (it matches one URL). */
int pw_url_pattern_dynamic(const char *pattern);

/* 1 when `pattern` (checked) matches the whole subject — the URL's path, or for a pattern
 * starting "https://", "https://" + host + path — with what each part matched in caps; else 0.
 * The search is bounded: a pattern that would take too long to try matches nothing. */
int pw_url_pattern_match(const char *pattern, const char *subject, size_t len,
                         pw_url_captures_t *caps);

/* `tmpl` with each ":name" that caps holds replaced by its value ("splat" by the star's),
 * others left as they are, into out. 0, or -1 when it does not fit. */
int pw_url_pattern_fill(const char *tmpl, const pw_url_captures_t *caps, char *out, size_t out_len);

#endif
