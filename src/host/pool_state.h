/* pool_state.h — the inside of a pool (host process), shared by the files that make it:
 * pool.c (queue, dispatch, scaling, draining, lifetime), pool_template.c (the worker
 * template's socket, death and rebuild) and pool_limits.c (request timeout, CPU time).
 * Nothing else includes it; pool.h is the pool's contract.
 */
#ifndef PW_POOL_STATE_H
#define PW_POOL_STATE_H

#include "host/child.h"
#include "host/pool.h"
#include "host/template_rebuild.h"

struct pw_pool {
    uv_loop_t *loop;
    char *name;
    int template_fd;            /* -1 while the template is dead */
    uv_poll_t *template_poll;   /* on template_fd; NULL while the template is dead */
    pw_template_rebuild_t *rebuild;     /* since the template first died */
    uv_timer_t template_wait_timer;     /* bounds calls' wait while the template is dead */
    char *spec_path;            /* the worker's spec, for rebuilds */
    pw_children_t children;     /* its isolates (child.h); children.closing: pw_pool_close() */
    pw_scale_t scale;
    size_t want;                /* serving isolates wanted: scale.min <= want <= scale.max */
    uv_timer_t idle_timer;      /* retires idle isolates above the minimum */
    int draining;               /* pw_pool_drain(): a newer pool took over */
    void (*on_drained)(void *arg, pw_pool_t *pool);
    void *drained_arg;
    pw_list_t queue;            /* calls waiting for an isolate (pw_call_t.link) */
    uv_check_t flush_check;
    uv_timer_t limits_timer;    /* CPU limit and request timeout; running when either is set */
    uint64_t limits_last;       /* uv_now() of the last limits tick */
    uv_timer_t respawn_timer;   /* delays replacements while isolates keep dying at start */
    uv_timer_t spare_timer;     /* forks the next spare a little after one was promoted */
    uv_timer_t retire_timer;    /* kills retiring isolates past their deadline */
    unsigned start_failures;    /* isolates in a row that died before they were sent a call */
    pw_pool_options_t opts;
    int open_handles;
};

/* Serving isolates up to `want`, spares first; then new spares. */
void pw_pool_rebalance(pw_pool_t *pool);
/* pw_pool_submit for a call whose `pin` the caller set (host/pool_pin.h; NULL: none). */
void pw_pool_submit_call(pw_pool_t *pool, pw_call_t *call);
/* Sends queued calls to isolates with room. */
void pw_pool_dispatch(pw_pool_t *pool);
/* The template forked an isolate as `pid` (<= 0: it could not). */
void pw_pool_spawned(pw_pool_t *pool, int pid);
/* A draining pool with no isolate left closes. */
void pw_pool_drained_check(pw_pool_t *pool);
/* A closing pool whose handles are all closed is freed. */
void pw_pool_maybe_free(pw_pool_t *pool);

#endif
