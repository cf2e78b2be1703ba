/* kv_http.h — workerd's KV HTTP protocol (WORKERD-CONFIG.md §E), both directions, as pure
 * functions (host process): a KV operation becomes an HTTP request to the service a
 * `kvNamespace` binding names (a worker or an `external` service), and the service's answer
 * becomes the same RPC_RESULT fields the SQLite backend gives (storage/kv_backend.h), so
 * Python sees one API. The service is not trusted: every answer is checked, and a bad one is an error.
 */
#ifndef PW_KV_HTTP_H
#define PW_KV_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "wire/frame.h"

typedef enum { PW_KV_GET, PW_KV_GET_MANY, PW_KV_PUT, PW_KV_DELETE, PW_KV_LIST } pw_kv_op_t;

#define PW_KV_HTTP_MAX_HEADERS 3

typedef struct {
    pw_kv_op_t op;
    const char *method;
    char *target;               /* path and query: "/<pct-encoded key>?urlencoded=true..." */
    char *url;                  /* "https://fake-host" + target */
    pw_header_t headers[PW_KV_HTTP_MAX_HEADERS];    /* CF-KV-FLPROD-405, CF-KV-Metadata... */
    size_t n_headers;
    pw_bytes_t body;            /* put: the caller's value (borrowed); bulk get: owned JSON */
    char *owned_body;
} pw_kv_http_request_t;

/* Builds the request; strings are copied except a put's value and metadata (borrowed).
 * expiration / expiration_ttl / cache_ttl: len 0 = not given. limit: len 0 = the service's default.
 * Return 0 or -ENOMEM; free with pw_kv_http_request_free (also after a failure). */
int pw_kv_http_get(pw_kv_http_request_t *req, pw_bytes_t key, pw_bytes_t cache_ttl);
int pw_kv_http_get_many(pw_kv_http_request_t *req, const pw_bytes_t *keys, size_t n);
int pw_kv_http_put(pw_kv_http_request_t *req, pw_bytes_t key, pw_bytes_t value,
                   pw_bytes_t expiration, pw_bytes_t expiration_ttl, pw_bytes_t metadata);
int pw_kv_http_delete(pw_kv_http_request_t *req, pw_bytes_t key);
int pw_kv_http_list(pw_kv_http_request_t *req, pw_bytes_t prefix, pw_bytes_t limit, pw_bytes_t cursor);
void pw_kv_http_request_free(pw_kv_http_request_t *req);

/* "GET", "GET_BULK", "PUT", "DELETE", "LIST": the name Cloudflare's messages use. */
const char *pw_kv_http_op_name(pw_kv_op_t op);

/* Percent-encodes everything but A-Z a-z 0-9 - . _ ~ (encodeURIComponent). */
int pw_kv_http_pct_encode(pw_buf_t *out, pw_bytes_t in);

/* Turns the service's answer to an `op` request into RPC_RESULT fields, appended to out as a
 * field list (u32 count, then u32-length-prefixed strings: wire/rpc.h), the first field ""
 * (success). keys/n_keys: the keys of a bulk get, in order. headers: "name\nvalue\n"...
 * Returns 0, or -1 with Cloudflare's message in err ("KV GET failed: 500 Internal Server
 * Error") when the status is an error or the answer does not parse. */
int pw_kv_http_answer(pw_kv_op_t op, unsigned status, pw_bytes_t headers, pw_bytes_t body,
                      const pw_bytes_t *keys, size_t n_keys, pw_buf_t *out, char *err, size_t err_len);

#endif
