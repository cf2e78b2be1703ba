/* kv_http_backend.h — the KV backend that speaks workerd's KV HTTP protocol (host process):
 * a `kvNamespace` binding naming a worker or an `external` service. Each operation becomes
 * one HTTP request (storage/kv_http.h builds it and reads the answer), carried by a transport
 * the host provides (host/kv_remote.h: into the worker's pool, or libcurl to the external
 * address); operations are subrequests, answered when the service answers.
 */
#ifndef PW_KV_HTTP_BACKEND_H
#define PW_KV_HTTP_BACKEND_H

#include "storage/kv_backend.h"
#include "storage/kv_http.h"

/* One request in flight, as the transport sees it (owned by the backend). */
typedef struct pw_kv_http_exchange pw_kv_http_exchange_t;
struct pw_kv_http_exchange {
    /* The transport calls this once: error set (the service did not answer: why), or the
     * service's status, headers ("name\nvalue\n"...) and body. */
    void (*answer)(pw_kv_http_exchange_t *x, const char *error, unsigned status, pw_bytes_t headers,
                   pw_bytes_t body);
    void *handle;               /* the transport's, for cancel() */
};

typedef struct {
    /* Sends req (read only during the call) and sets x->handle before anything can answer
     * (answer() may run before this returns). Returns 0, or -1 with *why (answer() not called). */
    int (*send)(void *transport, const pw_kv_http_request_t *req, pw_kv_http_exchange_t *x,
                const char **why);
    /* Stops an exchange not yet answered: answer() never runs. */
    void (*cancel)(void *transport, pw_kv_http_exchange_t *x);
    void (*free)(void *transport);
} pw_kv_http_transport_t;

/* A backend for the KV service named `service` (for messages; borrowed, must outlive it) over
 * `transport`, which it owns from now on (freed by its close, or here on failure). Returns 0
 * or -ENOMEM. */
int pw_kv_http_backend_create(const char *service, const pw_kv_http_transport_t *ops, void *transport,
                              pw_kv_backend_t **out);

#endif
