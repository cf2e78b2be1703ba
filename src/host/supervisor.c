/* supervisor.c — the host's handle on the runtime zygote (host process): exec it, send it
 * CREATE_TEMPLATE with a fresh control socket for the new template, and stop it at exit.
 * The zygote (and so every template and isolate) runs in a session of its own: a terminal's
 * Ctrl-C (SIGINT to the foreground process group) or hang-up reaches only the host, which
 * drains the isolates, instead of raising KeyboardInterrupt inside their requests; and with
 * the kernel's autogroup scheduling, the isolates' CPU is shared out apart from the host's,
 * rather than the host taking a third of its session's share on a busy machine.
 * Invariant: every descriptor the host creates is close-on-exec except the one the zygote
 * is meant to inherit.
 */
#include "host/supervisor.h"
#include "config/child_command.h"
#include "host/log.h"
#include "wire/control.h"
#include "wire/frame.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The zygote's environment, so every worker's: nothing of the host's but where pyworkerd's
 * files are and the sanitizers' settings of a test build. Secrets reach workers only
 * through bindings. */
static const char *const kept_env[] = {
    "PYWORKERD_HOME", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL,
};

/* Fills envp (NULL-terminated); returns how many of its entries are malloc'ed (the first). */
static size_t zygote_env(char **envp, size_t max)
{
    size_t n = 0;
    for (const char *const *name = kept_env; *name && n + 2 < max; name++) {
        const char *value = getenv(*name);
        if (!value)
            continue;
        size_t len = strlen(*name) + strlen(value) + 2;
        char *entry = malloc(len);
        if (!entry)
            continue;
        snprintf(entry, len, "%s=%s", *name, value);
        envp[n++] = entry;
    }
    envp[n] = "LC_CTYPE=C.UTF-8";
    envp[n + 1] = NULL;
    return n;
}

int pw_zygote_start(pw_zygote_t *zygote)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    /* Everything the child needs is made before fork: after it, only exec. */
    static pw_child_command_t command;
    static const char *const snapshot_names[] = { "package", "baseline", "none" };
    char fd_arg[16], snapshot_arg[32];
    snprintf(fd_arg, sizeof fd_arg, "%d", fds[1]);
    snprintf(snapshot_arg, sizeof snapshot_arg, "--snapshot=%s", snapshot_names[zygote->snapshot % 3]);
    char *args[] = { "--zygote", fd_arg, snapshot_arg, pw_trace_on ? "--trace" : NULL, NULL };
    char *envp[8];
    if (pw_child_command(&command, args) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -ENOENT;
    }
    size_t owned = zygote_env(envp, 8);
    pid_t pid = fork();
    if (pid == 0) {
        if (setsid() < 0)   /* a session of its own: see the top of this file */
            _exit(127);
        int flags = fcntl(fds[1], F_GETFD);
        fcntl(fds[1], F_SETFD, flags & ~FD_CLOEXEC);
        execve(command.program, command.argv, envp);
        _exit(127);
    }
    int fork_errno = errno;
    while (owned > 0)
        free(envp[--owned]);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -fork_errno;
    }
    zygote->pid = pid;
    zygote->ctl_fd = fds[0];
    return 0;
}

static char *text_from(const pw_control_msg_t *msg)
{
    return strdup(msg->len ? msg->payload : "unknown error");
}

int pw_zygote_request_template(pw_zygote_t *zygote, const char *spec_path, int *template_fd,
                               char **error_text)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) {
        *error_text = strdup(strerror(errno));
        return -1;
    }
    int rc = pw_control_send(zygote->ctl_fd, PW_FRAME_CTL_CREATE_TEMPLATE, 0, spec_path,
                             strlen(spec_path), fds[1]);
    close(fds[1]);
    if (rc < 0) {
        close(fds[0]);
        *error_text = strdup("the runtime zygote is not running (see the errors above)");
        return -1;
    }
    *template_fd = fds[0];
    return 0;
}

int pw_zygote_template_result(int template_fd, char **error_text)
{
    pw_control_msg_t msg;
    int rc = pw_control_recv(template_fd, &msg);
    if (rc > 0 && msg.type == PW_FRAME_CTL_TEMPLATE_READY) {
        pw_control_msg_free(&msg);
        return 0;
    }
    if (rc > 0) {
        *error_text = text_from(&msg);
        pw_control_msg_free(&msg);
    } else {
        *error_text = strdup("the worker template exited while loading the worker "
                             "(see the errors above)");
    }
    close(template_fd);
    return -1;
}

int pw_zygote_create_template(pw_zygote_t *zygote, const char *spec_path, int *template_fd,
                              char **error_text)
{
    if (pw_zygote_request_template(zygote, spec_path, template_fd, error_text) < 0)
        return -1;
    return pw_zygote_template_result(*template_fd, error_text);
}

void pw_zygote_stop(pw_zygote_t *zygote)
{
    if (zygote->ctl_fd >= 0)
        close(zygote->ctl_fd);
    zygote->ctl_fd = -1;
    if (zygote->pid <= 0)
        return;
    kill(zygote->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        pid_t r = waitpid(zygote->pid, NULL, WNOHANG);
        if (r == zygote->pid || (r < 0 && errno == ECHILD)) {
            zygote->pid = 0;
            return;
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kill(zygote->pid, SIGKILL);
    waitpid(zygote->pid, NULL, 0);
    zygote->pid = 0;
}
