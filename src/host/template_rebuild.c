/* template_rebuild.c — a pool's dead template built anew from the zygote, in the background
 * (host process; see template_rebuild.h). One try at a time: a backoff timer, then a
 * CREATE_TEMPLATE request whose control socket is polled until the template says READY or
 * FAILED (or ends). Invariant: on_ready and on_gave_up run on the loop thread, at most once
 * per start, never after pw_template_rebuild_free().
 */
#include "host/template_rebuild.h"
#include "base/err.h"
#include "base/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZYGOTE_DOWN_RECHECK_MS 100
#define GAVE_UP_RETRY_AFTER_S 30
#define LIVED_LONG_MS 10000

enum { REBUILD_IDLE, REBUILD_WAITING, REBUILD_LOADING, REBUILD_GAVE_UP };

struct pw_template_rebuild {
    pw_template_rebuild_options_t opts;     /* service and spec_path point to our copies */
    int state;
    unsigned tries;             /* tries that failed since the template died, any cause */
    unsigned load_failures;     /* tries in a row whose template failed to load the worker */
    uint64_t next_try_ms;       /* uv_now() of the next try, while waiting */
    uint64_t ready_ms;          /* uv_now() when the last rebuilt template became ready */
    uv_timer_t timer;
    uv_poll_t *loading;         /* the loading template's socket, while loading */
    int fd;
    int zygote_pid;             /* the zygote asked for the loading template */
    int handles;                /* open: the timer, and `loading` */
    int freeing;
};

static const uint64_t delays_ms[] = { 100, 500, 1000, 2000, 5000 };

uint64_t pw_template_rebuild_delay_ms(unsigned failures)
{
    size_t n = sizeof delays_ms / sizeof *delays_ms;
    return delays_ms[failures < n ? failures : n - 1];
}

static void maybe_free(pw_template_rebuild_t *rb)
{
    if (!rb->freeing || rb->handles > 0)
        return;
    free((char *)rb->opts.service);
    free((char *)rb->opts.spec_path);
    free(rb);
}

static void on_handle_closed(uv_handle_t *handle)
{
    pw_template_rebuild_t *rb = handle->data;
    if (handle != (uv_handle_t *)&rb->timer)
        free(handle);
    rb->handles--;
    maybe_free(rb);
}

static void on_timer(uv_timer_t *timer);

static void wait_then_try(pw_template_rebuild_t *rb, uint64_t delay_ms)
{
    rb->state = REBUILD_WAITING;
    rb->next_try_ms = uv_now(rb->opts.loop) + delay_ms;
    uv_timer_start(&rb->timer, on_timer, delay_ms, 0);
}

/* Stops polling the loading template (its socket is closed or handed on by the caller). */
static void loading_done(pw_template_rebuild_t *rb)
{
    uv_close((uv_handle_t *)rb->loading, on_handle_closed);
    rb->loading = NULL;
    rb->fd = -1;
}

static void load_failed(pw_template_rebuild_t *rb, const char *error_text)
{
    rb->load_failures++;
    if (rb->load_failures >= TEMPLATE_REBUILD_MAX_LOAD_FAILURES) {
        rb->state = REBUILD_GAVE_UP;
        pw_log_error("service %s: the worker failed to load %u times in a row; no more tries "
                     "(a --watch reload or a restart brings it back). The last error:\n%s",
                     rb->opts.service, rb->load_failures, error_text);
        rb->opts.on_gave_up(rb->opts.arg, error_text);
        return;
    }
    uint64_t delay = pw_template_rebuild_delay_ms(rb->tries++);
    pw_log_error("service %s: the new worker template failed to load; next try in %llu ms:\n%s",
                 rb->opts.service, (unsigned long long)delay, error_text);
    wait_then_try(rb, delay);
}

static void on_loading_readable(uv_poll_t *poll, int status, int events)
{
    pw_template_rebuild_t *rb = poll->data;
    static char err[PW_ERR_TEXT_MAX];
    int rc = pw_zygote_template_poll(rb->fd, err, sizeof err);
    if (rc == 0)
        return;
    int fd = rb->fd;
    loading_done(rb);       /* first: closing the handle drops fd from epoll */
    if (rc > 0) {
        rb->state = REBUILD_IDLE;
        rb->load_failures = 0;
        rb->ready_ms = uv_now(rb->opts.loop);
        rb->opts.on_ready(rb->opts.arg, fd);
        return;
    }
    const pw_zygote_t *zygote = rb->opts.zygote;
    if (rc == -2 && (zygote->pid != rb->zygote_pid || !pw_zygote_alive(zygote))) {
        /* it went with its zygote (a guard dies with it): not the worker's failure */
        pw_log_error("service %s: the new worker template went with the runtime zygote; "
                     "trying again once it is back", rb->opts.service);
        wait_then_try(rb, pw_template_rebuild_delay_ms(rb->tries++));
    } else {
        load_failed(rb, err);
    }
}

static void on_timer(uv_timer_t *timer)
{
    pw_template_rebuild_t *rb = timer->data;
    if (rb->opts.zygote->ctl_fd < 0) {     /* being restarted (supervisor.h): not a failure */
        wait_then_try(rb, ZYGOTE_DOWN_RECHECK_MS);
        return;
    }
    static char err[PW_ERR_TEXT_MAX];
    int fd;
    if (pw_zygote_request_template(rb->opts.zygote, rb->opts.loop, rb->opts.service, rb->opts.spec_path, &fd,
                                   err, sizeof err) < 0) {
        uint64_t delay = pw_template_rebuild_delay_ms(rb->tries++);
        pw_log_error("service %s: cannot rebuild the worker template: %s; next try in %llu ms",
                     rb->opts.service, err, (unsigned long long)delay);
        wait_then_try(rb, delay);
        return;
    }
    uv_poll_t *poll = calloc(1, sizeof *poll);
    if (!poll || uv_poll_init(rb->opts.loop, poll, fd) < 0) {
        free(poll);
        close(fd);
        wait_then_try(rb, pw_template_rebuild_delay_ms(rb->tries++));
        return;
    }
    poll->data = rb;
    rb->loading = poll;
    rb->fd = fd;
    rb->zygote_pid = rb->opts.zygote->pid;
    rb->handles++;
    rb->state = REBUILD_LOADING;
    uv_poll_start(poll, UV_READABLE | UV_DISCONNECT, on_loading_readable);
}

int pw_template_rebuild_create(const pw_template_rebuild_options_t *opts,
                               pw_template_rebuild_t **out)
{
    pw_template_rebuild_t *rb = calloc(1, sizeof *rb);
    if (!rb)
        return -ENOMEM;
    rb->opts = *opts;
    rb->opts.service = strdup(opts->service);
    rb->opts.spec_path = strdup(opts->spec_path);
    rb->fd = -1;
    if (!rb->opts.service || !rb->opts.spec_path) {
        free((char *)rb->opts.service);
        free((char *)rb->opts.spec_path);
        free(rb);
        return -ENOMEM;
    }
    uv_timer_init(opts->loop, &rb->timer);
    rb->timer.data = rb;
    rb->handles = 1;
    *out = rb;
    return 0;
}

void pw_template_rebuild_start(pw_template_rebuild_t *rb)
{
    if (rb->state != REBUILD_IDLE)
        return;
    /* A rebuilt template that dies soon after it came up keeps the backoff going. */
    if (!rb->ready_ms || uv_now(rb->opts.loop) - rb->ready_ms >= LIVED_LONG_MS)
        rb->tries = 0;
    wait_then_try(rb, pw_template_rebuild_delay_ms(rb->tries++));
}

int pw_template_rebuild_gave_up(const pw_template_rebuild_t *rb)
{
    return rb->state == REBUILD_GAVE_UP;
}

unsigned pw_template_rebuild_retry_after_s(const pw_template_rebuild_t *rb)
{
    if (rb->state == REBUILD_GAVE_UP)
        return GAVE_UP_RETRY_AFTER_S;
    if (rb->state != REBUILD_WAITING)
        return 1;
    uint64_t now = uv_now(rb->opts.loop);
    uint64_t left = rb->next_try_ms > now ? rb->next_try_ms - now : 0;
    unsigned s = (unsigned)((left + 999) / 1000);
    return s ? s : 1;
}

void pw_template_rebuild_free(pw_template_rebuild_t *rb)
{
    if (!rb)
        return;
    rb->freeing = 1;
    if (rb->loading) {
        int fd = rb->fd;
        loading_done(rb);
        close(fd);          /* the loading template reads EOF once loaded, and exits */
    }
    uv_close((uv_handle_t *)&rb->timer, on_handle_closed);
}
