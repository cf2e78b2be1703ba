/* pool.c — the host's side of one worker's isolates (host process): the queue of calls
 * waiting for an isolate, dispatch to the least busy serving one, scaling (host/scale.h),
 * the per-request limits, draining and the pool's lifetime. Each isolate is a child
 * (host/child.h), which reads its frames and ends it; the worker template is pool_template.c.
 * Frames queued for an isolate are written once per loop turn (a uv_check handle), so a
 * burst of requests costs one write.
 * Retirement is graceful (idle shrink, --watch drain, server shutdown): the isolate gets a
 * RETIRE frame and no more calls, finishes what it has, runs its shutdown hooks and exits;
 * after opts.retire_timeout_ms it is killed.
 * Limits (host/limits.h): every live isolate's CPU is sampled each tick (child.c ends one over
 * its credit), a request is never sent to an isolate burning with nothing in flight, and a
 * call not answered within --request-timeout gets 504.
 * Invariant: a call is answered exactly once (a streamed answer also ended exactly once),
 * and never after pw_pool_cancel().
 */
#include "host/pool.h"
#include "base/log.h"
#include "host/pool_limits.h"
#include "host/pool_pin.h"
#include "host/pool_state.h"
#include "host/pool_template.h"
#include "wire/control.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RETIRE_TICK_MS 50
#define DEFAULT_RETIRE_TIMEOUT_MS 10000

static pw_pool_t *pool_of(pw_children_t *set)
{
    return (pw_pool_t *)((char *)set - offsetof(pw_pool_t, children));
}

static void retire_if_idle(pw_child_t *child);

/* ---- what the children tell their pool (child.h) ---- */

static void on_child_answered(pw_children_t *set)
{
    pw_pool_t *pool = pool_of(set);
    if (!pw_call_list_empty(&pool->queue))
        pw_pool_dispatch(pool);
}

static void on_retire_tick(uv_timer_t *timer)
{
    pw_pool_t *pool = timer->data;
    if (!pw_children_kill_overdue(&pool->children, uv_now(pool->loop)))
        uv_timer_stop(timer);
}

static void on_child_retiring(pw_children_t *set)
{
    pw_pool_t *pool = pool_of(set);
    if (!uv_is_active((uv_handle_t *)&pool->retire_timer))
        uv_timer_start(&pool->retire_timer, on_retire_tick, RETIRE_TICK_MS, RETIRE_TICK_MS);
}

static void on_child_replace(pw_children_t *set)
{
    pw_pool_rebalance(pool_of(set));
}

/* An isolate that dies at start (before any call reached it: a broken sandbox or after-fork
 * step) would otherwise be replaced at once, forever: after START_FAILURES_FREE such deaths
 * in a row, replacements wait, twice as long each time, up to RESPAWN_MAX_DELAY_MS. */
#define START_FAILURES_FREE 3
#define RESPAWN_MAX_DELAY_MS 5000

static void on_respawn_timer(uv_timer_t *timer)
{
    pw_pool_rebalance(timer->data);
}

static void on_child_died(pw_children_t *set, int at_start)
{
    pw_pool_t *pool = pool_of(set);
    pool->start_failures = at_start ? pool->start_failures + 1 : 0;
    if (pool->start_failures <= START_FAILURES_FREE) {
        pw_pool_rebalance(pool);
        return;
    }
    unsigned shift = pool->start_failures - START_FAILURES_FREE;
    uint64_t delay = shift > 12 ? RESPAWN_MAX_DELAY_MS : (uint64_t)10 << shift;
    if (delay > RESPAWN_MAX_DELAY_MS)
        delay = RESPAWN_MAX_DELAY_MS;
    if (uv_is_active((uv_handle_t *)&pool->respawn_timer))
        return;
    pw_log_error("service %s: %u isolates in a row died at start; next try in %llu ms",
                 pool->name, pool->start_failures, (unsigned long long)delay);
    uv_timer_start(&pool->respawn_timer, on_respawn_timer, delay, 0);
}

static void on_child_closed(pw_children_t *set)
{
    pw_pool_t *pool = pool_of(set);
    pw_pool_drained_check(pool);
    pw_pool_maybe_free(pool);
}

static const pw_children_ops_t children_ops = {
    .answered = on_child_answered, .read = retire_if_idle, .retiring = on_child_retiring,
    .replace = on_child_replace, .died = on_child_died, .closed = on_child_closed,
};

static void on_flush_check(uv_check_t *check)
{
    pw_pool_t *pool = check->data;
    for (pw_child_t *child = pool->children.head; child; child = child->next)
        if (child->dirty)
            pw_child_flush(child);
}

/* ---- isolates forked by the template ---- */

/* One that never came up: when none is live, the queue cannot be served. */
static void child_lost(pw_pool_t *pool)
{
    if (pool->children.n_live == 0)
        pw_call_list_fail(&pool->queue, 503, "Service Unavailable: no isolate could be started.\n");
    pw_pool_drained_check(pool);
}

void pw_pool_spawned(pw_pool_t *pool, int pid)
{
    pw_child_t *child = pw_child_first_spawning(&pool->children);
    if (!child)
        return;
    if (pid <= 0) {
        pw_log_error("service %s: the worker template could not fork an isolate", pool->name);
        pw_child_end(child, PW_CHILD_END_FORGET, NULL);
        child_lost(pool);
        return;
    }
    int rc = pw_child_open(child, pid);
    if (rc == -1)
        child_lost(pool);
    if (rc < 0)
        return;
    if (pool->draining)
        pw_child_end(child, PW_CHILD_END_RETIRE, NULL);
    else
        pw_pool_dispatch(pool);
}

/* ---- scaling (host/scale.h) ---- */

#define SPARE_DELAY_MS 5

/* A new pool's first spare waits this long: forked at once it ran beside the first serving
 * isolate, whose start and first request it slowed (~40 ms of CPU on two CPUs, on the way to
 * `pyworkerd dev`'s first response and after each reload, bench/results/dev-startup.md); a
 * loaded machine answers that first request only ~0.5 s after the pool starts. */
#define SPARE_START_DELAY_MS 1000

static void on_spare_timer(uv_timer_t *timer)
{
    pw_pool_rebalance(timer->data);     /* the timer is no longer active: spares are forked now */
}

/* Spares come later (pw_pool_rebalance forks none while the spare timer runs). The loop's
 * clock is read first: a pool made at the host's start comes after blocking work (the
 * zygote, the template, the first isolate) that the loop's cached time does not count, and
 * a timer started from it was already due: the spare was forked at once. */
static void spares_later(pw_pool_t *pool)
{
    uv_update_time(pool->loop);
    uv_timer_start(&pool->spare_timer, on_spare_timer, SPARE_START_DELAY_MS, 0);
}

static pw_child_t *find_spare(pw_pool_t *pool)
{
    pw_child_t *starting = NULL;
    for (pw_child_t *child = pool->children.head; child; child = child->next) {
        if (!child->spare || child->state == PW_CHILD_DEAD || child->retiring)
            continue;
        if (child->state == PW_CHILD_LIVE)
            return child;
        if (!starting)
            starting = child;
    }
    return starting;
}

static size_t count_alive(pw_pool_t *pool, int spare)
{
    size_t n = 0;
    for (pw_child_t *child = pool->children.head; child; child = child->next)
        if (child->state != PW_CHILD_DEAD && child->spare == spare && !child->retiring)
            n++;
    return n;
}

static int request_spawn(pw_pool_t *pool, int spare)
{
    if (pool->template_fd < 0)
        return -EAGAIN;     /* the template is dead: its rebuild rebalances */
    return pw_child_spawn(&pool->children, pool->template_fd, spare);
}

void pw_pool_rebalance(pw_pool_t *pool)
{
    if (pool->children.closing || pool->draining)
        return;
    size_t serving = count_alive(pool, 0), spares = count_alive(pool, 1);
    int promoted = 0;
    for (pw_child_t *spare; serving < pool->want && (spare = find_spare(pool)); serving++, spares--) {
        spare->spare = 0;
        promoted = 1;
        PW_TRACE(spare->spawn_ns, "isolate promoted pid=%d (spare)", spare->pid);
    }
    /* The waiting requests go to the promoted spare before the template is asked for the
     * next one (see pw_pool_submit), and the next spare is forked SPARE_DELAY_MS later: a
     * fork of the template at once competes with the promoted isolate's first request (the
     * two share copy-on-write pages and, on a small machine, the CPUs). */
    if (promoted)
        pw_pool_dispatch(pool);
    for (; serving < pool->want; serving++)
        if (request_spawn(pool, 0) < 0)
            goto failed;
    if (spares < pool->scale.spare && (promoted || uv_is_active((uv_handle_t *)&pool->spare_timer))) {
        if (!uv_is_active((uv_handle_t *)&pool->spare_timer))
            uv_timer_start(&pool->spare_timer, on_spare_timer, SPARE_DELAY_MS, 0);
        return;
    }
    for (; spares < pool->scale.spare; spares++)
        if (request_spawn(pool, 1) < 0)
            goto failed;
    return;
failed:
    if (pool->template_fd >= 0)
        pw_log_error("service %s: cannot ask the template for an isolate", pool->name);
}

/* After its frames were read: a draining pool's isolate retires once it has nothing in
 * flight; a serving one retires now when the idle timeout is 0. */
static void retire_if_idle(pw_child_t *child)
{
    pw_pool_t *pool = pool_of(child->set);
    if (child->state != PW_CHILD_LIVE || pw_child_busy(child) || child->retiring ||
        !pw_list_empty(&child->pins))
        return;
    if (pool->draining) {
        pw_child_end(child, PW_CHILD_END_RETIRE, NULL);
        return;
    }
    if (child->spare)
        return;
    child->idle_since = uv_now(pool->loop);
    if (pool->scale.idle_timeout_ms == 0 && pw_call_list_empty(&pool->queue) &&
        pw_scale_should_retire(&pool->scale, pool->want, 0)) {
        pool->want--;
        pw_child_end(child, PW_CHILD_END_IDLE, NULL);
    }
}

static void on_idle_tick(uv_timer_t *timer)
{
    pw_pool_t *pool = timer->data;
    uint64_t now = uv_now(pool->loop);
    for (pw_child_t *child = pool->children.head, *next; child; child = next) {
        next = child->next;
        if (child->state == PW_CHILD_LIVE && !child->spare && !child->retiring &&
            !pw_child_busy(child) && pw_list_empty(&child->pins) && pw_call_list_empty(&pool->queue) &&
            pw_scale_should_retire(&pool->scale, pool->want, now - child->idle_since)) {
            pool->want--;
            pw_child_end(child, PW_CHILD_END_IDLE, NULL);
        }
    }
}

static void idle_timer_start(pw_pool_t *pool)
{
    uv_timer_init(pool->loop, &pool->idle_timer);
    pool->idle_timer.data = pool;
    pool->open_handles++;
    uint64_t tick = pool->scale.idle_timeout_ms / 4;
    tick = tick < 50 ? 50 : tick > 5000 ? 5000 : tick;
    if (pool->scale.idle_timeout_ms && pool->scale.max > pool->scale.min)
        uv_timer_start(&pool->idle_timer, on_idle_tick, tick, tick);
}

/* Whether a request arriving now makes the pool want more serving isolates (pool->want is
 * raised; the caller rebalances once the request is sent or queued). */
static int pool_scale_on_request(pw_pool_t *pool, pw_child_t *least_busy)
{
    size_t want = pw_scale_on_request(&pool->scale, pool->want, count_alive(pool, 0),
                                      least_busy ? (long)least_busy->n_inflight : -1);
    if (want == pool->want)
        return 0;
    pw_log_info("service %s: %zu serving isolate(s) wanted (was %zu)", pool->name, want, pool->want);
    pool->want = want;
    return 1;
}

/* ---- dispatch ---- */

static pw_child_t *pick_isolate(pw_pool_t *pool)
{
    pw_child_t *best = NULL;
    for (pw_child_t *child = pool->children.head; child; child = child->next)
        if (child->state == PW_CHILD_LIVE && !child->spare && !child->retiring &&
            !child->cpu.burning && (!best || child->n_inflight < best->n_inflight))
            best = child;
    if (best && pool->opts.max_concurrent && best->n_inflight >= pool->opts.max_concurrent)
        return NULL;
    return best;
}

/* A pinned call's isolate (host/pool_pin.h), else the least busy one. */
static pw_child_t *isolate_for(pw_pool_t *pool, pw_call_t *call)
{
    if (call->pin && call->pin->child)
        return call->pin->child;
    return pick_isolate(pool);
}

void pw_pool_dispatch(pw_pool_t *pool)
{
    while (!pw_call_list_empty(&pool->queue)) {
        pw_call_t *call = pw_call_list_first(&pool->queue);
        pw_child_t *child = isolate_for(pool, call);
        if (!child)
            return;
        pw_call_list_remove(call);
        pw_child_send(child, call);
    }
}

void pw_pool_submit(pw_pool_t *pool, pw_call_t *call)
{
    call->pin = NULL;
    pw_pool_submit_call(pool, call);
}

void pw_pool_submit_call(pw_pool_t *pool, pw_call_t *call)
{
    call->link.next = call->link.prev = NULL;     /* on no list yet */
    call->trace_ns = pw_trace_on ? pw_trace_clock() : 0;
    call->start_ms = uv_now(pool->loop);
    call->retry_after_s = 0;
    if (pool->children.closing || pool->draining) {
        pw_call_fail(call, 503, "Service Unavailable: the server is shutting down.\n");
        return;
    }
    if (pw_pool_template_refuses(pool, call))
        return;
    pw_child_t *child = isolate_for(pool, call);
    int grow = pool_scale_on_request(pool, child);
    if (child) {
        pw_child_send(child, call);
    } else {
        call->state = PW_CALL_QUEUED;
        pw_call_list_push(&pool->queue, call);
    }
    /* Only now the template may be asked for isolates: its fork, woken by that message, would
     * otherwise run first on this CPU while the request waits (pw_pool_rebalance gives a
     * promoted spare its requests before it asks). */
    if (grow || !child) {
        pw_pool_rebalance(pool);
        pw_pool_dispatch(pool);
    }
}

void pw_pool_cancel(pw_call_t *call)
{
    if (call->state == PW_CALL_QUEUED)
        pw_call_list_remove(call);
    else if (call->state == PW_CALL_SENT || call->state == PW_CALL_STREAMING)
        pw_child_cancel(call->isolate, call);
    call->state = PW_CALL_DONE;
    call->isolate = NULL;
}

void pw_pool_ack(pw_call_t *call, size_t bytes)
{
    if (call->state == PW_CALL_STREAMING && call->isolate)
        pw_child_ack(call->isolate, call, bytes);
}

/* ---- draining (--watch) ---- */

void pw_pool_drained_check(pw_pool_t *pool)
{
    if (!pool->draining || pool->children.closing)
        return;
    for (pw_child_t *child = pool->children.head; child; child = child->next)
        if (child->state != PW_CHILD_DEAD)
            return;
    if (pool->on_drained)
        pool->on_drained(pool->drained_arg, pool);
    pool->on_drained = NULL;
    pw_pool_close(pool);
}

void pw_pool_drain(pw_pool_t *pool, pw_pool_t *successor,
                   void (*on_drained)(void *arg, pw_pool_t *pool), void *arg)
{
    pool->draining = 1;
    pool->on_drained = on_drained;
    pool->drained_arg = arg;
    uv_timer_stop(&pool->idle_timer);
    pw_template_rebuild_free(pool->rebuild);    /* the successor has its own template */
    pool->rebuild = NULL;
    if (!successor)
        pw_call_list_fail(&pool->queue, 503, "Service Unavailable: the server is shutting down.\n");
    while (!pw_call_list_empty(&pool->queue)) {
        pw_call_t *call = pw_call_list_first(&pool->queue);
        pw_call_list_remove(call);
        pw_pool_submit_call(successor, call);   /* a pinned call keeps its pin */
    }
    for (pw_child_t *child = pool->children.head, *next; child; child = next) {
        next = child->next;
        pw_child_end(child, PW_CHILD_END_RETIRE, NULL);     /* finishes its calls, then exits */
    }
    pw_pool_drained_check(pool);
}

/* ---- lifetime ---- */

static int wait_for_spawned(pw_pool_t *pool)
{
    pw_control_msg_t msg;
    int rc = pw_control_recv(pool->template_fd, &msg);
    if (rc <= 0)
        return rc == 0 ? -EPIPE : rc;
    int pid = msg.type == PW_FRAME_CTL_ISOLATE_SPAWNED ? (int)pw_control_msg_u32(&msg) : 0;
    pw_control_msg_free(&msg);
    if (pid <= 0)
        return -ECHILD;
    pw_child_t *child = pw_child_first_spawning(&pool->children);
    if (!child)
        return -EPROTO;
    rc = pw_child_open(child, pid);
    if (rc == -1)
        child_lost(pool);
    return rc < 0 ? -EIO : 0;
}

static int start_isolates(pw_pool_t *pool)
{
    for (size_t i = 0; i < pool->want; i++) {
        int rc = request_spawn(pool, 0);
        if (rc == 0)
            rc = wait_for_spawned(pool);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void timer_init(pw_pool_t *pool, uv_timer_t *timer)
{
    uv_timer_init(pool->loop, timer);
    timer->data = pool;
    pool->open_handles++;
}

static void children_init(pw_pool_t *pool)
{
    pw_children_t *set = &pool->children;
    set->loop = pool->loop;
    set->name = pool->name;
    set->ops = &children_ops;
    set->rpc = pool->opts.rpc;
    set->rpc_arg = pool->opts.rpc_arg;
    set->cpu_limit_ms = pool->opts.cpu_limit_ms;
    set->retire_timeout_ms = pool->opts.retire_timeout_ms;
    pw_exit_log_init(&set->exits, pool->loop, pool->name);
    pool->open_handles++;
}

int pw_pool_create(uv_loop_t *loop, const pw_pool_options_t *opts, pw_pool_t **out)
{
    pw_pool_t *pool = calloc(1, sizeof *pool);
    if (!pool)
        return -ENOMEM;
    pool->loop = loop;
    pool->name = strdup(opts->name);
    pool->spec_path = opts->spec_path ? strdup(opts->spec_path) : NULL;
    pool->template_fd = opts->template_fd;
    pool->opts = *opts;
    pool->opts.name = NULL;
    pool->opts.spec_path = NULL;
    if (!pool->opts.retire_timeout_ms)
        pool->opts.retire_timeout_ms = DEFAULT_RETIRE_TIMEOUT_MS;
    pool->scale = opts->scale;
    if (!pool->scale.min && !pool->scale.max && opts->isolates > 0)
        pool->scale.min = (size_t)opts->isolates;   /* a caller that only set `isolates` */
    pw_scale_normalize(&pool->scale);
    pool->want = pool->scale.min;
    pw_call_list_init(&pool->queue);
    uv_check_init(loop, &pool->flush_check);
    pool->flush_check.data = pool;
    uv_check_start(&pool->flush_check, on_flush_check);
    pw_pool_limits_start(pool);
    children_init(pool);
    timer_init(pool, &pool->respawn_timer);
    timer_init(pool, &pool->spare_timer);
    timer_init(pool, &pool->retire_timer);
    timer_init(pool, &pool->template_wait_timer);
    *out = pool;
    /* Blocking waits first: uv_poll_init makes the descriptor non-blocking. */
    int rc = start_isolates(pool);
    pool->open_handles++;       /* flush_check */
    if (rc == 0)
        rc = pw_pool_template_watch(pool, pool->template_fd);
    idle_timer_start(pool);
    if (rc == 0) {
        spares_later(pool);
        pw_pool_rebalance(pool);
    }
    return rc;
}

static void on_pool_handle_closed(uv_handle_t *handle)
{
    pw_pool_t *pool = handle->data;
    pool->open_handles--;
    pw_pool_maybe_free(pool);
}

static void on_exit_log_closed(void *arg)
{
    pw_pool_t *pool = arg;
    pool->open_handles--;
    pw_pool_maybe_free(pool);
}

void pw_pool_maybe_free(pw_pool_t *pool)
{
    if (!pool->children.closing || pool->open_handles > 0 || pool->children.open_links > 0)
        return;
    if (pool->template_fd >= 0)
        close(pool->template_fd);
    free(pool->spec_path);
    free(pool->name);
    free(pool);
}

void pw_pool_close(pw_pool_t *pool)
{
    if (pool->children.closing)
        return;
    pool->children.closing = 1;
    pw_call_list_fail(&pool->queue, 503, "Service Unavailable: the server is shutting down.\n");
    for (pw_child_t *child = pool->children.head, *next; child; child = next) {
        next = child->next;
        pw_child_end(child, PW_CHILD_END_SHUTDOWN, NULL);
    }
    pw_pool_template_unwatch(pool);
    pw_template_rebuild_free(pool->rebuild);
    pool->rebuild = NULL;
    uv_close((uv_handle_t *)&pool->template_wait_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->flush_check, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->idle_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->limits_timer, on_pool_handle_closed);
    pw_exit_log_close(&pool->children.exits, on_exit_log_closed, pool);
    uv_close((uv_handle_t *)&pool->respawn_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->spare_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->retire_timer, on_pool_handle_closed);
}

const char *pw_pool_name(const pw_pool_t *pool)
{
    return pool->name;
}
