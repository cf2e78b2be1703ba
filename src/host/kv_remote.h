/* kv_remote.h — KV namespaces served by another service (host process): a `kvNamespace`
 * binding naming a worker or an `external` service. Each KV operation, already validated by
 * host/rpc.c and built by storage/kv_http.c, is sent as one HTTP request — into the worker's
 * pool as a fetch() call (no network hop), or with libcurl to the external address — and the
 * answer goes back to the isolate in the SQLite backend's layout. When the calling isolate
 * dies first, the request is cancelled (its port watch, host/pool.h).
 */
#ifndef PW_KV_REMOTE_H
#define PW_KV_REMOTE_H

#include "host/pool.h"
#include "http/fetch.h"
#include "storage/kv_http.h"

typedef struct {
    const char *service;        /* its name, for error messages */
    pw_pool_t *pool;            /* a worker service: its pool (NULL when not running) */
    pw_fetch_t *fetch;          /* an external service: the host's curl multi ... */
    const char *address;        /* ... and the service's "host:port" */
} pw_kv_remote_t;

/* Sends req for RPC call `id` of port and answers it when the service does. keys: a bulk
 * get's keys (copied). req is only read during the call. */
void pw_kv_remote_send(const pw_kv_remote_t *remote, const pw_kv_http_request_t *req,
                       const pw_bytes_t *keys, size_t n_keys, pw_port_t *port, uint32_t id);

#endif
