/* exit_log.c — the line logged when an isolate stops (host process); see exit_log.h.
 * A waiting line is logged on the first tick its pidfd has the status, or without it after
 * EXIT_WAIT_TRIES ticks, or at once when the pool closes.
 */
#include "host/exit_log.h"
#include "base/log.h"
#include "host/limits.h"
#include "host/link.h"

#include <stdlib.h>
#include <unistd.h>

#define EXIT_WAIT_TICK_MS 2
#define EXIT_WAIT_TRIES 50

struct pw_exit_wait {
    pw_exit_wait_t *next;
    int pidfd, pid;
    size_t n_inflight;
    unsigned tries;
};

void pw_exit_log_init(pw_exit_log_t *log, uv_loop_t *loop, const char *service)
{
    uv_timer_init(loop, &log->timer);
    log->timer.data = log;
    log->waits = NULL;
    log->service = service;
}

void pw_exit_log_stopped(const pw_exit_log_t *log, int pid, const char *why, size_t n_inflight,
                         int closing)
{
    pw_log_error("service %s: isolate %d stopped (%s) with %zu request(s) in flight%s",
                 log->service, pid, why, n_inflight, closing ? "" : "; starting a new one");
}

/* Logs the line once the status is known, or on the last try without it. 1 when logged. */
static int exit_wait_try(pw_exit_log_t *log, pw_exit_wait_t *w, int last, int closing)
{
    int status = 0;
    int rc = pw_exit_status(w->pidfd, &status);
    if (rc == 0 && !last)
        return 0;
    char reason[128];
    pw_exit_log_stopped(log, w->pid,
                        rc == 1 ? pw_exit_describe(status, reason, sizeof reason) : pw_link_exited,
                        w->n_inflight, closing);
    return 1;
}

static void exit_waits_run(pw_exit_log_t *log, int last, int closing)
{
    for (pw_exit_wait_t **p = &log->waits, *w; (w = *p);) {
        if (exit_wait_try(log, w, last || ++w->tries >= EXIT_WAIT_TRIES, closing)) {
            *p = w->next;
            close(w->pidfd);
            free(w);
        } else {
            p = &w->next;
        }
    }
}

static void on_exit_timer(uv_timer_t *timer)
{
    pw_exit_log_t *log = timer->data;
    exit_waits_run(log, 0, 0);
    if (!log->waits)
        uv_timer_stop(timer);
}

void pw_exit_log_exited(pw_exit_log_t *log, int pidfd, int pid, size_t n_inflight, int closing)
{
    pw_exit_wait_t *w = pidfd >= 0 ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        pw_exit_log_stopped(log, pid, pw_link_exited, n_inflight, closing);
        if (pidfd >= 0)
            close(pidfd);
        return;
    }
    w->pidfd = pidfd;
    w->pid = pid;
    w->n_inflight = n_inflight;
    if (exit_wait_try(log, w, closing, closing)) {
        close(w->pidfd);
        free(w);
        return;
    }
    w->next = log->waits;
    log->waits = w;
    if (!uv_is_active((uv_handle_t *)&log->timer))
        uv_timer_start(&log->timer, on_exit_timer, EXIT_WAIT_TICK_MS, EXIT_WAIT_TICK_MS);
}

static void on_timer_closed(uv_handle_t *handle)
{
    pw_exit_log_t *log = handle->data;
    log->on_closed(log->closed_arg);
}

void pw_exit_log_close(pw_exit_log_t *log, void (*on_closed)(void *arg), void *arg)
{
    exit_waits_run(log, 1, 1);
    log->on_closed = on_closed;
    log->closed_arg = arg;
    uv_close((uv_handle_t *)&log->timer, on_timer_closed);
}
