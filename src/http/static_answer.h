/* static_answer.h — what a disk service answers to one HTTP request (host process): the
 * status, the headers and where the body comes from, decided once for both ways a request
 * arrives (a socket serving the disk service, http/static_handler.c, and a worker's service
 * binding, host/binding_disk.c). Sending is theirs; nothing here knows h2o or an isolate.
 *
 * workerd's disk service: GET/HEAD (a file; a directory as a JSON listing), PUT (writable
 * only: atomic replace, 204), DELETE (writable only: 204 or 404), 501 for other methods; a
 * refused path is 404 for reads and 403 for writes; special files 406. pyworkerd adds what
 * Cloudflare's static assets do: the Content-Type from the extension, an ETag with
 * If-None-Match → 304, If-Modified-Since → 304, If-Range, Accept-Ranges, and index.html for
 * a directory that has one. A disk service with assets rules (static_assets.h) answers as
 * Cloudflare's static assets: the file assets_rules.h picks (200, or 404 for a 404 page),
 * a 307 to the canonical path, or 404; never a listing. Its _redirects rules come first
 * (a 3xx, or a 200 serving another asset, 404 if none), its _headers edit every answer.
 */
#ifndef PW_STATIC_ANSWER_H
#define PW_STATIC_ANSWER_H

#include "base/buf.h"
#include "http/assets_headers.h"
#include "http/http_date.h"
#include "http/static_dir.h"

#include <stdint.h>

typedef struct {
    pw_bytes_t method;
    pw_bytes_t host;            /* the URL's host (pw_static_url_host): _headers' https:// rules */
    pw_bytes_t path;            /* the URL's path, still percent-encoded (pw_static_url_path) */
    pw_bytes_t query;           /* "?..." or empty: kept by an assets redirect */
    pw_bytes_t range;           /* request headers; base NULL when absent */
    pw_bytes_t if_none_match;
    pw_bytes_t if_modified_since;
    pw_bytes_t if_range;
    pw_bytes_t body;            /* a PUT's */
} pw_static_request_t;

typedef struct {
    int status;
    const char *content_type;   /* NULL: none */
    char etag[48];              /* each "" when absent */
    char last_modified[PW_HTTP_DATE_LEN + 1];
    char content_range[64];
    int accept_ranges;
    const char *allow;          /* a 405's Allow header */
    char *location;             /* an assets redirect's Location (a _redirects rule's 3xx, or
                                 * html_handling's 307), malloc'd; else NULL */
    int fd;                     /* >= 0: the body is this file's bytes [offset, offset + length) */
    uint64_t offset;
    uint64_t length;            /* the body's length: Content-Length, also for HEAD */
    int no_body;                /* HEAD, 204, 304: send the head only */
    pw_buf_t text;              /* the body when fd < 0: a listing, an error's words */
    pw_header_edits_t edits;    /* an assets directory's _headers rules for this request */
} pw_static_answer_t;

/* One response header (lower-case name). */
typedef struct {
    const char *name;
    const char *value;
} pw_static_header_t;

/* Decides the answer; always fills *out (its own failures are a 500). Free with
 * pw_static_answer_free, which closes the file. */
void pw_static_answer(const pw_static_dir_t *dir, const pw_static_request_t *req,
                      pw_static_answer_t *out);
void pw_static_answer_free(pw_static_answer_t *answer);

/* The answer's headers other than Content-Length, one a call: its own, less those _headers
 * removes or replaces, then those _headers sets. 1 with *h, or 0 after the last; *cursor
 * starts at 0. The strings live as long as the answer. */
int pw_static_answer_header(const pw_static_answer_t *answer, size_t *cursor,
                            pw_static_header_t *h);

/* The reason phrase of a status this file answers with. */
const char *pw_static_reason(int status);

/* Whether an If-None-Match value names `etag` ("*" names any): weak comparison. */
int pw_static_etag_matches(pw_bytes_t if_none_match, const char *etag);

#endif
