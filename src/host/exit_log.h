/* exit_log.h — the log line of an isolate that stopped (host process): "service S: isolate
 * P stopped (why) with N request(s) in flight". When the isolate exited on its own, its
 * socket closes before the kernel reaps it, so the line waits (a few ms at most) for its exit
 * status, read through its pidfd (host/limits.h), to say how it ended.
 * One exit log per pool; its timer runs only while lines wait.
 */
#ifndef PW_EXIT_LOG_H
#define PW_EXIT_LOG_H

#include <stddef.h>
#include <uv.h>

typedef struct pw_exit_wait pw_exit_wait_t;

typedef struct {
    uv_timer_t timer;           /* polls the waiting lines' pidfds */
    pw_exit_wait_t *waits;
    const char *service;        /* the pool's name, for the lines */
    void (*on_closed)(void *arg);
    void *closed_arg;
} pw_exit_log_t;

void pw_exit_log_init(pw_exit_log_t *log, uv_loop_t *loop, const char *service);
/* Logs the line now. closing: the server shuts down (no replacement is announced). */
void pw_exit_log_stopped(const pw_exit_log_t *log, int pid, const char *why, size_t n_inflight,
                         int closing);
/* The isolate exited (its socket closed): logs the line once its exit status is known. Takes
 * pidfd (-1: logs at once, without the status). */
void pw_exit_log_exited(pw_exit_log_t *log, int pidfd, int pid, size_t n_inflight, int closing);
/* Logs every line still waiting and closes the timer; on_closed(arg) once it is closed. */
void pw_exit_log_close(pw_exit_log_t *log, void (*on_closed)(void *arg), void *arg);

#endif
