/* supervisor.h — starting the runtime zygote and asking it for worker templates (host
 * process). The zygote is the host's only child; templates and isolates descend from it.
 */
#ifndef PW_SUPERVISOR_H
#define PW_SUPERVISOR_H

#include <stddef.h>
#include <uv.h>

typedef struct {
    int pid;
    int ctl_fd;     /* SOCK_SEQPACKET control socket to the zygote */
    int snapshot;   /* pw_snapshot_t: how its templates start isolates; set before start */
    uv_loop_t *loop;    /* where the templates' stdout/stderr is read (host/child_log.h) */
} pw_zygote_t;

/* fork+exec of this binary in --zygote mode. Returns 0 or -errno. Must be called while the
 * host is still single-threaded. */
int pw_zygote_start(pw_zygote_t *zygote);

/* Forks a template for one worker (`service`) and waits until it has imported the worker's
 * modules, meanwhile reading what its top-level code prints. The template's fds 1 and 2 are
 * a pipe of its own, read on zygote->loop and tagged "[<service> tpl] " (host/child_log.h).
 * Returns 0 with *template_fd (the template's control socket), or -1 with a malloc'ed
 * explanation (the Python traceback when the worker's top level failed) in *error_text. */
int pw_zygote_create_template(pw_zygote_t *zygote, const char *service, const char *spec_path,
                              int *template_fd, char **error_text);

/* The same in two steps, for a rebuild that must not block the host's loop: send the request
 * (returns 0 with *template_fd to wait on, or -1 with *error_text), then, once template_fd is
 * readable, read the outcome (0, or -1 with *error_text; template_fd is closed on failure). */
int pw_zygote_request_template(pw_zygote_t *zygote, const char *service, const char *spec_path,
                               int *template_fd, char **error_text);
int pw_zygote_template_result(int template_fd, char **error_text);

/* Closes the control socket, asks the zygote to stop and reaps it (killing it after a
 * short grace period). */
void pw_zygote_stop(pw_zygote_t *zygote);

#endif
