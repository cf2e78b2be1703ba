/* assets_redirects.h — Cloudflare's `_redirects` file for static assets (host process; pure:
 * the caller reads the file). Each line is "source destination [status]": the source a path
 * pattern (url_pattern.h), the destination a path or an https:// URL that may use the
 * source's :splat and :placeholders, the status 301, 302 (the default), 303, 307, 308, or 200
 * (a rewrite: the destination's asset answers at the source's URL). At most 2,000 static and
 * 100 dynamic rules, 1,000 characters a line. A request is matched against the static rules
 * first (the topmost one for its exact path), then the dynamic ones in order; a static rule
 * written after a dynamic one counts as dynamic, as on Cloudflare.
 * Where Cloudflare's upload skips a bad line with a warning, pyworkerd refuses the file with
 * "file:line: why", so that no rule is lost unnoticed.
 */
#ifndef PW_ASSETS_REDIRECTS_H
#define PW_ASSETS_REDIRECTS_H

#include "base/buf.h"
#include "http/url_pattern.h"

#include <stddef.h>

#define PW_REDIRECTS_MAX_STATIC 2000
#define PW_REDIRECTS_MAX_DYNAMIC 100
#define PW_REDIRECTS_MAX_LINE 1000

typedef struct {
    char *from;                 /* the source's path pattern */
    char *to;                   /* the destination as written */
    int status;
    int line;
} pw_redirect_t;

typedef struct pw_redirects pw_redirects_t;

/* Parses the text of `file` (named in errors). html_none: html_handling is "none" (then "/"
 * may rewrite or redirect to /index.html, which otherwise loops). 0, or -1 with
 * "file:line: why" in err. */
int pw_redirects_parse(const char *text, size_t len, const char *file, int html_none,
                       pw_redirects_t **out, char *err, size_t err_len);
void pw_redirects_free(pw_redirects_t *redirects);
size_t pw_redirects_count(const pw_redirects_t *redirects);

/* The rule for a URL path as the request has it (percent-encoded, no query), with what its
 * pattern captured in caps; NULL when none. */
const pw_redirect_t *pw_redirects_find(const pw_redirects_t *redirects, const char *path,
                                       size_t len, pw_url_captures_t *caps);

/* A 3xx rule's Location: the destination filled from caps, with the request's query when
 * the destination has none (`query`: "?..." or empty). A 200 rule's: the path of the asset
 * to serve instead (no query, no fragment). Runs of slashes in a relative destination
 * become one. 0, or -1 when it does not fit in out. */
int pw_redirects_target(const pw_redirect_t *rule, const pw_url_captures_t *caps,
                        pw_bytes_t query, char *out, size_t out_len);

#endif
