/* supervisor.h — starting the runtime zygote and asking it for worker templates (host
 * process). The zygote is the host's only child; templates and isolates descend from it.
 * Once the host serves, the zygote is watched: when it dies it is logged and started again,
 * with backoff. At exit every process descended from any zygote of this host is killed.
 */
#ifndef PW_SUPERVISOR_H
#define PW_SUPERVISOR_H

#include "wire/start_type.h"
#include <stddef.h>
#include <uv.h>

#define PW_ZYGOTE_OLD_SESSIONS 16

typedef struct pw_zygote_watch pw_zygote_watch_t;

typedef struct pw_zygote_s {
    int pid;
    int ctl_fd;     /* SOCK_SEQPACKET control socket to the zygote; -1 while it is down */
    pw_snapshot_t snapshot;     /* how its templates start isolates; set before start */
    pw_zygote_watch_t *watch;   /* pw_zygote_watch(): restarts it when it dies */
    /* Sessions (= pids) of zygotes that died: their templates and isolates may live on
     * (they are not their zygote's children). */
    int old_sessions[PW_ZYGOTE_OLD_SESSIONS];
    size_t n_old_sessions;
    uv_loop_t *loop;    /* where the templates' stdout/stderr is read (host/child_log.h) */
} pw_zygote_t;

/* fork+exec of the zygote (isolate/child_command.h). Returns 0 or -errno. The child only calls
 * async-signal-safe functions between fork and exec, so the host may have threads. */
int pw_zygote_start(pw_zygote_t *zygote);

/* Watches the zygote on `loop`: when its control socket ends (it died: killed, out of
 * memory), the death is logged, the zygote reaped and started again after 0.1, 0.5, 1, 2,
 * then 5 s (the delay resets once one lived 10 s). Templates asked for meanwhile fail at
 * once (pw_zygote_request_template), and their askers retry. Returns 0 or -errno. */
int pw_zygote_watch(pw_zygote_t *zygote, uv_loop_t *loop);
/* Stops watching (before the loop's last turn; pw_zygote_stop still works without it). */
void pw_zygote_unwatch(pw_zygote_t *zygote);

/* Forks n templates at once, template i for worker `services[i]` from `spec_paths[i]`, and
 * waits until each has imported its worker's modules: they load side by side, so n templates
 * take about as long as the slowest (--threads: one per worker and host loop). Meanwhile what
 * their top-level code prints is read: each template's fds 1 and 2 are a pipe of its own, read
 * on zygote->loop and tagged "[<service> tpl] " (host/child_log.h). Returns 0 with
 * template_fds[0..n) (the templates' control sockets), or -1 with *failed, the first template
 * (in order) that failed, its explanation in err (the Python traceback when the worker's top
 * level failed; PW_ERR_TEXT_MAX bytes), and every fd closed. A stop signal caught meanwhile
 * (pw_supervisor_catch_stop_signals) ends the wait: -1. */
int pw_zygote_create_templates(pw_zygote_t *zygote, size_t n, const char *const *services,
                               const char *const *spec_paths, int *template_fds, size_t *failed,
                               char *err, size_t err_len);

/* The same in two steps, for a rebuild that must not block the host's loop: send the request
 * (returns 0 with *template_fd to wait on, or -1 with err; what the template prints is read on
 * `loop`, the asker's — any loop thread may ask), then, once template_fd is
 * readable, read the outcome (0, or -1 with err; template_fd is closed on failure). */
int pw_zygote_request_template(pw_zygote_t *zygote, uv_loop_t *loop, const char *service,
                               const char *spec_path, int *template_fd, char *err, size_t err_len);
int pw_zygote_template_result(int template_fd, char *err, size_t err_len);
/* Non-blocking read of the outcome: 1 ready, 0 nothing yet (-EAGAIN), -1 failed (it said
 * why) or -2 it ended without a word (killed, or its zygote died), both with err
 * (template_fd is then closed). */
int pw_zygote_template_poll(int template_fd, char *err, size_t err_len);
/* Whether this zygote still runs (0 once it exited, even before the host noticed). */
int pw_zygote_alive(const pw_zygote_t *zygote);

/* Closes the control socket, asks the zygote to stop and reaps it (killing it after a
 * short grace period); then kills whatever is left in its session and in the sessions of
 * earlier zygotes (templates still loading, isolates of templates that lost their host). */
void pw_zygote_stop(pw_zygote_t *zygote);

/* While the host starts (before libuv takes the signals over): SIGTERM and SIGINT are
 * caught, end any template wait, and are reported by pw_supervisor_stop_signal() (the
 * signal's number; 0: none). */
void pw_supervisor_catch_stop_signals(void);
int pw_supervisor_stop_signal(void);

/* Kills (SIGKILL) every process of session `sid` whose name starts with "pw-" (/proc).
 * Returns how many were signalled. */
int pw_supervisor_kill_session(int sid);

#endif
