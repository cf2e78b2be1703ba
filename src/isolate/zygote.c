/* zygote.c — the runtime zygote (zygote process): started by the host with fork+exec of the
 * pyworkerd binary, so it is single-threaded from its first instruction. It initialises
 * CPython once, then forks one template guard per CREATE_TEMPLATE message (guard.c: it forks
 * the worker template below itself), handing it the control socket that came with the
 * message. It dies with the host, and its guards with it.
 */
#include "isolate/zygote.h"
#include "base/log.h"
#include "base/paths.h"
#include "isolate/guard.h"
#include "isolate/pyext.h"
#include "isolate/stdio.h"
#include "python/embed.h"
#include "wire/control.h"
#include "wire/frame.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static pw_snapshot_t start_type;

static void fork_template(int zygote_fd, pw_control_msg_t *msg)
{
    int template_fd = msg->fd;
    msg->fd = -1;
    if (template_fd < 0) {
        pw_log_error("zygote: CREATE_TEMPLATE without a control socket");
        return;
    }
    int stdio_fd = pw_control_msg_take_fd(msg, 1);     /* the template's fds 1/2 */
    uint64_t start = pw_trace_clock();
    pid_t zygote_pid = getpid();
    pw_python_before_fork();
    pid_t pid = fork();
    if (pid == 0) {
        if (pw_stdio_adopt(stdio_fd, &template_fd) < 0)
            _exit(1);
        pw_python_after_fork_child();
        close(zygote_fd);
        signal(SIGCHLD, SIG_DFL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != zygote_pid)
            _exit(1);
        _exit(pw_guard_main(template_fd, msg->payload, start_type));
    }
    pw_python_after_fork_parent();
    if (stdio_fd >= 0)
        close(stdio_fd);
    PW_TRACE(start, "template forked pid=%d", (int)pid);
    if (pid < 0) {
        const char *why = "the runtime zygote could not fork a worker template";
        pw_control_send(template_fd, PW_FRAME_CTL_TEMPLATE_FAILED, 0, why, strlen(why), -1);
    }
    close(template_fd);
}

/* The zygote starts importing what only some workers need after this long without a
 * message: not beside the first template and isolate, whose CPUs it would share. */
#define PRELOAD_AFTER_IDLE_MS 300

/* Imports what only some workers need while no message waits: a CREATE_TEMPLATE waits at
 * most for one module's import. */
static void preload_while_idle(int ctl_fd)
{
    struct pollfd waiting = { .fd = ctl_fd, .events = POLLIN };
    static int more = 1;
    if (!more || poll(&waiting, 1, PRELOAD_AFTER_IDLE_MS) != 0)
        return;
    while (more && poll(&waiting, 1, 0) == 0)
        more = pw_python_preload_next();
}

int pw_zygote_main(int ctl_fd, int trace, pw_snapshot_t snapshot)
{
    start_type = snapshot;
    if (trace)
        pw_trace_enable();
    pw_trace_set_role("zygote");
    uint64_t start = pw_trace_clock();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
        return 1;
    signal(SIGCHLD, SIG_IGN);   /* templates are reaped by the kernel */
    prctl(PR_SET_NAME, "pw-zygote", 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    char python_dir[4096], err[8192];
    if (pw_paths_python_dir(python_dir, sizeof python_dir) < 0) {
        pw_log_error("zygote: cannot find the SDK's python/ directory");
        return 1;
    }
    if (pw_python_init(python_dir, 0, PyInit__pyworkerd, err, sizeof err) < 0) {
        pw_log_error("zygote: %s", err);
        return 1;
    }
    pw_python_settle_heap();
    PW_TRACE(start, "zygote init");
    for (;;) {
        preload_while_idle(ctl_fd);
        pw_control_msg_t msg;
        int rc = pw_control_recv(ctl_fd, &msg);
        if (rc <= 0)
            return rc == 0 ? 0 : 1;
        if (msg.type == PW_FRAME_CTL_CREATE_TEMPLATE)
            fork_template(ctl_fd, &msg);
        pw_control_msg_free(&msg);
    }
}
