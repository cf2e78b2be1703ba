/* worker_call.h — a call from the host into another worker's isolates (host process): the
 * CALL frame behind service bindings (an entry point's fetch or RPC method) and KV over HTTP
 * to a worker service. The whole answer is collected, a streamed body too, and handed to
 * done() once; or the call is cancelled first and done() never runs. Each call gets a request
 * id of its own (http/request_id.h), which its CALL frame carries.
 */
#ifndef PW_WORKER_CALL_H
#define PW_WORKER_CALL_H

#include "host/pool.h"
#include "host/pool_pin.h"

typedef struct {
    int error_status;           /* 0, or the pool's failure (the isolate died, 503...) */
    const char *error_text;
    unsigned status;
    pw_bytes_t headers;         /* "name\nvalue\n"... */
    pw_bytes_t body;
    /* A 101 accepting a WebSocket upgrade: the target isolate's socket, for done() to link
     * (left unlinked, the target is told it closed); NULL otherwise. */
    pw_ws_side_t *ws;
} pw_worker_answer_t;

typedef void (*pw_worker_done_cb)(void *arg, const pw_worker_answer_t *answer);
typedef struct pw_worker_call pw_worker_call_t;

/* Submits entrypoint.method(payload) to pool ("fetch": payload is the JSON request head, a
 * newline, the body). Sets *handle before submitting: done() may run before this returns
 * (a pool shutting down), so the caller sets up everything done() needs first. Returns 0, or
 * -ENOMEM (done not called). */
int pw_worker_call(pw_pool_t *pool, const char *entrypoint, pw_bytes_t method, pw_bytes_t payload,
                   pw_worker_done_cb done, void *arg, pw_worker_call_t **handle);
/* The same, pinned (host/pool_pin.h): to the pin's isolate, or (a free pin) to the one the
 * pool picks, which the pin then holds. */
int pw_worker_call_pinned(pw_pool_t *pool, pw_pool_pin_t *pin, const char *entrypoint,
                          pw_bytes_t method, pw_bytes_t payload, pw_worker_done_cb done, void *arg,
                          pw_worker_call_t **handle);
/* Cancels a call not yet answered (its isolate gets CANCEL) and frees it. */
void pw_worker_call_cancel(pw_worker_call_t *call);

#endif
