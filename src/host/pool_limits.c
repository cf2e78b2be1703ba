/* pool_limits.c — a pool's per-request limits (host process); see pool_limits.h.
 * Every LIMITS_TICK_MS: calls past --request-timeout get 504 (a queued one is dropped, one in
 * flight is cancelled in its isolate; a streamed response that has started is not timed), and
 * each live isolate's CPU is sampled (child.c ends one over its credit). An isolate that
 * stopped burning may take queued calls again, so the queue is dispatched after each tick.
 */
#include "host/pool_limits.h"

#define LIMITS_TICK_MS 100

/* Calls of `head` (the queue, or child's in flight) past the request timeout get 504. */
static void expire_calls(pw_pool_t *pool, pw_list_t *head, pw_child_t *child, uint64_t now)
{
    PW_LIST_FOR_EACH(node, head) {
        pw_call_t *call = PW_CALL_OF(node);
        if (now - call->start_ms < pool->opts.request_timeout_ms || call->state == PW_CALL_STREAMING)
            continue;   /* a streamed response has started: the timeout is to its first byte */
        if (child)
            pw_child_cancel(child, call);
        else
            pw_call_list_remove(call);
        pw_call_fail(call, 504, "Gateway Timeout: the worker did not answer within the request "
                                "timeout (--request-timeout).\n");
    }
}

static void on_limits_tick(uv_timer_t *timer)
{
    pw_pool_t *pool = timer->data;
    uint64_t now = uv_now(pool->loop);
    uint64_t elapsed = now - pool->limits_last;
    pool->limits_last = now;
    if (pool->opts.request_timeout_ms)
        expire_calls(pool, &pool->queue, NULL, now);
    for (pw_child_t *child = pool->children.head, *next; child; child = next) {
        next = child->next;
        if (child->state != PW_CHILD_LIVE)
            continue;
        if (pool->opts.request_timeout_ms)
            expire_calls(pool, &child->inflight, child, now);
        if (pool->opts.cpu_limit_ms)
            pw_child_cpu_tick(child, elapsed);
    }
    if (!pw_call_list_empty(&pool->queue))
        pw_pool_dispatch(pool);     /* an isolate stopped burning */
}

void pw_pool_limits_start(pw_pool_t *pool)
{
    uv_timer_init(pool->loop, &pool->limits_timer);
    pool->limits_timer.data = pool;
    pool->open_handles++;
    pool->limits_last = uv_now(pool->loop);
    if (pool->opts.cpu_limit_ms || pool->opts.request_timeout_ms)
        uv_timer_start(&pool->limits_timer, on_limits_tick, LIMITS_TICK_MS, LIMITS_TICK_MS);
}
