/* pool.h — the isolates of one Python worker, seen from the host (host process).
 *
 * A pool owns the control socket of its worker template and one socket per isolate. Calls
 * (one per HTTP request) are sent to the serving isolate with the fewest calls in flight, or
 * wait in the pool's queue while none is up. An isolate that dies fails its calls with 502
 * and is replaced; a template that dies is rebuilt, and calls meanwhile wait a few seconds
 * at most (then 503 with Retry-After). The pool grows and shrinks between a minimum and a
 * maximum and keeps spare pre-forked isolates (host/scale.h). Calls (host/call.h) live in memory
 * the caller owns (h2o's request pool): the caller must pw_pool_cancel() a call it is about to
 * free before the call was answered. Each isolate is a child (host/child.h); binding calls are
 * answered through its port (host/port.h).
 */
#ifndef PW_POOL_H
#define PW_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "host/call.h"
#include "host/port.h"
#include "host/scale.h"

typedef struct pw_pool pw_pool_t;

typedef struct {
    const char *name;           /* the service's name, for logs */
    int template_fd;            /* control socket of a ready template; the pool owns it */
    int isolates;               /* serving isolates to keep, when scale.min and .max are 0 */
    pw_scale_t scale;           /* min/max/spare/idle (scale.h) */
    unsigned cpu_limit_ms;      /* CPU per request before the isolate is killed (503); 0: none */
    unsigned request_timeout_ms;    /* wall clock per request before a 504; 0: none */
    unsigned max_concurrent;    /* calls in flight per isolate; 0: no limit */
    unsigned retire_timeout_ms; /* a retired isolate's time to finish and exit; 0: 10 s */
    pw_rpc_handler_cb rpc;      /* binding calls of its isolates (host/rpc.h); NULL: refused */
    void *rpc_arg;
    /* Where a template that dies is built anew (host/template_rebuild.h); NULL: it is not,
     * and the pool answers 503 from then on. spec_path is copied. */
    struct pw_zygote_s *zygote;
    const char *spec_path;
} pw_pool_options_t;

/* Starts the minimum of serving isolates (waiting until each is forked), then the spares in
 * the background. Returns 0 or -errno. */
int pw_pool_create(uv_loop_t *loop, const pw_pool_options_t *opts, pw_pool_t **out);
void pw_pool_submit(pw_pool_t *pool, pw_call_t *call);
void pw_pool_cancel(pw_call_t *call);
/* Returns `bytes` of a streaming call's body to its isolate's flow-control window. */
void pw_pool_ack(pw_call_t *call, size_t bytes);
/* Stops spawning, closes every socket (templates and isolates then exit) and frees the pool
 * once libuv has closed its handles. Calls still waiting get 503. */
void pw_pool_close(pw_pool_t *pool);
const char *pw_pool_name(const pw_pool_t *pool);

/* --watch: `successor` (a pool of the worker's new version) takes over. Queued calls move to
 * it (successor NULL, at server shutdown: they get 503); this pool starts nothing more,
 * retires each isolate (RETIRE: it finishes its calls, runs its shutdown hooks and exits, or
 * is killed after retire_timeout_ms), then calls on_drained(arg, pool) and closes itself
 * (pw_pool_close still stops it at once). */
void pw_pool_drain(pw_pool_t *pool, pw_pool_t *successor,
                   void (*on_drained)(void *arg, pw_pool_t *pool), void *arg);

#endif
