/* pool_template.c — a pool's worker template (host process); see pool_template.h.
 * Isolates die with their template (PR_SET_PDEATHSIG; a pid namespace's init takes its
 * namespace along), so a dead template leaves the pool with nothing to serve: its calls in
 * flight get 502 as their isolates go, new calls wait for the rebuilt template's isolates,
 * for TEMPLATE_WAIT_MS at most (then 503 with Retry-After), and once the worker failed to
 * load too often they get that 503 at once.
 */
#include "host/pool_template.h"
#include "base/log.h"
#include "wire/control.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define TEMPLATE_WAIT_MS 3000
#define TEMPLATE_WAIT_TICK_MS 100

static const char template_down_text[] =
    "Service Unavailable: the worker's template is being restarted; try again shortly.\n";
static const char template_failed_text[] =
    "Service Unavailable: the worker failed to load; see the server log.\n";

static void template_lost(pw_pool_t *pool);

static void on_template_readable(uv_poll_t *poll, int status, int events)
{
    pw_pool_t *pool = poll->data;
    for (;;) {
        pw_control_msg_t msg;
        int rc = pw_control_recv(pool->template_fd, &msg);
        if (rc == -EAGAIN)
            return;
        if (rc <= 0) {
            template_lost(pool);
            return;
        }
        if (msg.type == PW_FRAME_CTL_ISOLATE_SPAWNED)
            pw_pool_spawned(pool, (int)pw_control_msg_u32(&msg));
        pw_control_msg_free(&msg);
    }
}

static void on_template_poll_closed(uv_handle_t *handle)
{
    pw_pool_t *pool = handle->data;
    free(handle);
    pool->open_handles--;
    pw_pool_maybe_free(pool);
}

int pw_pool_template_watch(pw_pool_t *pool, int fd)
{
    uv_poll_t *poll = calloc(1, sizeof *poll);
    if (!poll)
        return UV_ENOMEM;
    int rc = uv_poll_init(pool->loop, poll, fd);
    if (rc < 0) {
        free(poll);
        return rc;
    }
    poll->data = pool;
    pool->template_poll = poll;
    pool->template_fd = fd;
    pool->open_handles++;
    return uv_poll_start(poll, UV_READABLE | UV_DISCONNECT, on_template_readable);
}

void pw_pool_template_unwatch(pw_pool_t *pool)
{
    if (!pool->template_poll)
        return;
    uv_close((uv_handle_t *)pool->template_poll, on_template_poll_closed);
    pool->template_poll = NULL;
}

static unsigned template_retry_after(pw_pool_t *pool)
{
    return pool->rebuild ? pw_template_rebuild_retry_after_s(pool->rebuild) : 1;
}

/* Answers 503 to queued calls that waited TEMPLATE_WAIT_MS while no template could fork an
 * isolate (all of them once the worker failed to load for good). */
static void on_template_wait_tick(uv_timer_t *timer)
{
    pw_pool_t *pool = timer->data;
    if (pool->template_fd >= 0 || pw_call_list_empty(&pool->queue)) {
        uv_timer_stop(timer);
        return;
    }
    int gave_up = pool->rebuild && pw_template_rebuild_gave_up(pool->rebuild);
    uint64_t now = uv_now(pool->loop);
    PW_LIST_FOR_EACH(node, &pool->queue) {
        pw_call_t *call = PW_CALL_OF(node);
        if (!gave_up && now - call->start_ms < TEMPLATE_WAIT_MS)
            continue;
        pw_call_list_remove(call);
        pw_call_fail_retry(call, 503, gave_up ? template_failed_text : template_down_text,
                           template_retry_after(pool));
    }
}

static void template_wait_start(pw_pool_t *pool)
{
    if (!uv_is_active((uv_handle_t *)&pool->template_wait_timer))
        uv_timer_start(&pool->template_wait_timer, on_template_wait_tick, TEMPLATE_WAIT_TICK_MS,
                       TEMPLATE_WAIT_TICK_MS);
}

int pw_pool_template_refuses(pw_pool_t *pool, pw_call_t *call)
{
    if (pool->template_fd >= 0 || pool->children.n_live > 0)
        return 0;
    if (pool->rebuild && pw_template_rebuild_gave_up(pool->rebuild)) {
        pw_call_fail_retry(call, 503, template_failed_text, template_retry_after(pool));
        return 1;
    }
    template_wait_start(pool);
    return 0;
}

static void on_template_rebuilt(void *arg, int template_fd)
{
    pw_pool_t *pool = arg;
    int rc = pw_pool_template_watch(pool, template_fd);
    if (rc < 0) {
        pw_log_error("service %s: cannot watch the new worker template: %s", pool->name,
                     uv_strerror(rc));
        pw_pool_template_unwatch(pool);
        close(template_fd);     /* the template exits */
        pool->template_fd = -1;
        pw_template_rebuild_start(pool->rebuild);
        return;
    }
    pw_log_error("service %s: worker template rebuilt; starting isolates", pool->name);
    pool->start_failures = 0;   /* the deaths counted were the old template's isolates' */
    uv_timer_stop(&pool->respawn_timer);
    pw_pool_rebalance(pool);
}

static void on_template_gave_up(void *arg, const char *error_text)
{
    pw_pool_t *pool = arg;
    (void)error_text;           /* logged by template_rebuild.c */
    if (!pw_call_list_empty(&pool->queue))
        on_template_wait_tick(&pool->template_wait_timer);
}

/* The dead template's isolates: those it was asked for will never come (forgotten); the
 * live ones are dying with it (PR_SET_PDEATHSIG) and are ended now, so that no call is
 * sent to one meanwhile. Returns how many calls they had in flight. */
static size_t template_isolates_die(pw_pool_t *pool)
{
    size_t inflight = 0;
    for (pw_child_t *child = pool->children.head, *next; child; child = next) {
        next = child->next;
        if (child->state == PW_CHILD_LIVE)
            inflight += child->n_inflight;
        if (child->state != PW_CHILD_DEAD)
            pw_child_end(child, PW_CHILD_END_TEMPLATE, NULL);
    }
    return inflight;
}

static int rebuild_ensure(pw_pool_t *pool)
{
    if (pool->rebuild)
        return 0;
    if (!pool->opts.zygote || !pool->spec_path)
        return -1;
    pw_template_rebuild_options_t opts = {
        .loop = pool->loop, .zygote = pool->opts.zygote, .service = pool->name,
        .spec_path = pool->spec_path, .on_ready = on_template_rebuilt,
        .on_gave_up = on_template_gave_up, .arg = pool,
    };
    return pw_template_rebuild_create(&opts, &pool->rebuild) < 0 ? -1 : 0;
}

static void template_lost(pw_pool_t *pool)
{
    pw_pool_template_unwatch(pool);
    close(pool->template_fd);   /* after the handle's close: it dropped the fd from epoll */
    pool->template_fd = -1;
    size_t inflight = template_isolates_die(pool);
    if (pool->children.closing || pool->draining) {
        pw_pool_drained_check(pool);
        return;
    }
    int rebuild = rebuild_ensure(pool) == 0;
    pw_log_error("service %s: the worker template exited (killed, out of memory or crashed); "
                 "its isolates went with it (%zu request(s) in flight got 502); %s", pool->name,
                 inflight, rebuild ? "rebuilding it" : "no new isolates can be started");
    if (!rebuild) {
        pw_call_list_fail(&pool->queue, 503, "Service Unavailable: the worker's template exited.\n");
        return;
    }
    pw_template_rebuild_start(pool->rebuild);
    if (!pw_call_list_empty(&pool->queue))
        template_wait_start(pool);
}
