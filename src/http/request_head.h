/* request_head.h — the host's own checks of an HTTP/1 request head and the URL a worker sees
 * (host process; pure functions, no h2o, so that tests/fuzz/fuzz_http.c calls them as they
 * are). h2o parses requests leniently; these decide what pyworkerd refuses before a request
 * reaches a worker (RFC 9112 §3.2, §5.2, §6.3) and build request.url from the target.
 * Every function returns 0 or the HTTP status to answer with; never a partial URL.
 */
#ifndef PW_REQUEST_HEAD_H
#define PW_REQUEST_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Cloudflare's limit on the total size of a request's headers (names and values). */
#define PW_HTTP_MAX_HEADER_BYTES (128u * 1024)
/* ... on their number (h2o's own limit, which answers 400 past it). */
#define PW_HTTP_MAX_HEADERS 100
/* A head (request line and header lines) longer than this is refused before h2o parses it. */
#define PW_HTTP_MAX_HEAD_BYTES (PW_HTTP_MAX_HEADER_BYTES + 16u * 1024)

/* What pw_http_head_check found in a head. */
typedef struct {
    pw_bytes_t method;
    pw_bytes_t target;
    pw_bytes_t host;             /* the Host header's value; base NULL when there is none */
    size_t head_len;            /* bytes up to and including the blank line */
    size_t n_headers;
} pw_http_head_t;

/* The reason for a refusal, as the one sentence of the response body. */
typedef struct {
    int status;                 /* 0, 400, 405 or 431 */
    const char *reason;
} pw_http_verdict_t;

/* On bytes that may hold only the start of a head (as they arrive): 431 when the head is
 * already over PW_HTTP_MAX_HEAD_BYTES without its end, or has more than PW_HTTP_MAX_HEADERS
 * header lines; 0 when it is (so far) within both, or complete. */
int pw_http_head_guard(const uint8_t *data, size_t len, pw_http_verdict_t *why);

/* On a whole head (leading blank lines allowed, as picohttpparser skips them): 400 for
 * obs-fold, differing Content-Length values, Content-Length with Transfer-Encoding, more
 * than one Transfer-Encoding or Host line, a malformed line or no end; 431 past the limits.
 * Identical Content-Length lines are accepted as one (RFC 9110 §8.6). 0: *out is filled. */
int pw_http_head_check(const uint8_t *data, size_t len, pw_http_head_t *out, pw_http_verdict_t *why);

/* Longest URL pw_http_request_url can write for these lengths. */
size_t pw_http_url_max(size_t scheme_len, size_t host_len, size_t target_len);

/* request.url from the connection's scheme ("http"/"https"), the method, the target and the
 * Host header (len 0: none, "localhost" is used). origin-form: scheme://host/target;
 * absolute-form (RFC 9112 §3.2.2): the target itself, whose scheme must be the connection's
 * and whose authority replaces Host (*authority points to it); asterisk-form and anything else:
 * 400; CONNECT: 405. Bytes a URL parser would escape (controls, space, non-ASCII, `"#<>`...)
 * are percent-encoded. out must hold pw_http_url_max(...) bytes; *url_len is set. */
int pw_http_request_url(pw_bytes_t scheme, pw_bytes_t method, pw_bytes_t target, pw_bytes_t host,
                        char *out, size_t *url_len, pw_bytes_t *authority, pw_http_verdict_t *why);

#endif
