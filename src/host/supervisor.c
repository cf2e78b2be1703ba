/* supervisor.c — the host's handle on the runtime zygote (host process): exec it, send it
 * CREATE_TEMPLATE with a fresh control socket for the new template, and stop it at exit.
 * The zygote (and so every template and isolate) runs in a session of its own: a terminal's
 * Ctrl-C (SIGINT to the foreground process group) or hang-up reaches only the host, which
 * drains the isolates, instead of raising KeyboardInterrupt inside their requests; and with
 * the kernel's autogroup scheduling, the isolates' CPU is shared out apart from the host's,
 * rather than the host taking a third of its session's share on a busy machine.
 * The zygote's stdin is /dev/null and it inherits no descriptor of the host's but stderr
 * (its own errors) and its control socket; each template gets its own stdout/stderr pipe
 * with CREATE_TEMPLATE (host/child_log.h), so no worker process holds the host's.
 * Invariant: every descriptor the host creates is close-on-exec except the one the zygote
 * is meant to inherit.
 */
#include "host/supervisor.h"
#include "config/child_command.h"
#include "host/child_log.h"
#include "host/log.h"
#include "wire/control.h"
#include "wire/frame.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0)
            _exit(127);
        if (null_fd != STDIN_FILENO)
            close(null_fd);
        /* whatever else the host inherited (a shell's or a service manager's descriptors)
         * stays with the host */
        if (close_range(STDERR_FILENO + 1, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
            for (int fd = STDERR_FILENO + 1; fd < 1024; fd++)
                fcntl(fd, F_SETFD, FD_CLOEXEC);     /* kernels before 5.11 */
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

/* Sends CREATE_TEMPLATE with the template's control socket and the write end of its
 * stdout/stderr pipe, whose read end becomes *log. */
static int request_template(pw_zygote_t *zygote, const char *service, const char *spec_path,
                            int *template_fd, pw_child_log_t **log, char **error_text)
{
    int fds[2], out[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) {
        *error_text = strdup(strerror(errno));
        return -1;
    }
    if (pipe2(out, O_CLOEXEC) < 0) {
        *error_text = strdup(strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    int passed[2] = { fds[1], out[1] };
    int rc = pw_control_send_fds(zygote->ctl_fd, PW_FRAME_CTL_CREATE_TEMPLATE, 0, spec_path,
                                 strlen(spec_path), passed, 2);
    close(fds[1]);
    close(out[1]);
    if (rc < 0) {
        close(fds[0]);
        close(out[0]);
        *error_text = strdup("the runtime zygote is not running (see the errors above)");
        return -1;
    }
    *template_fd = fds[0];
    *log = pw_child_log_open(zygote->loop, out[0], service, "tpl", 0);
    return 0;
}

int pw_zygote_request_template(pw_zygote_t *zygote, const char *service, const char *spec_path,
                               int *template_fd, char **error_text)
{
    pw_child_log_t *log;
    return request_template(zygote, service, spec_path, template_fd, &log, error_text);
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

/* Blocks until the template's control socket is readable, reading its output meanwhile:
 * top-level code that prints more than a pipe holds must not stall the load. */
static void wait_for_template(int template_fd, pw_child_log_t *log)
{
    for (;;) {
        struct pollfd p[2] = { { .fd = template_fd, .events = POLLIN },
                               { .fd = log ? pw_child_log_fd(log) : -1, .events = POLLIN } };
        int n = poll(p, log ? 2 : 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (log && n > 0 && p[1].revents)
            pw_child_log_pump(log);
        if (n < 0 || p[0].revents)
            break;
        if (log && p[1].revents & (POLLHUP | POLLERR | POLLNVAL) && !(p[1].revents & POLLIN))
            log = NULL;     /* every writer gone: nothing more to read there */
    }
    for (int i = 0; log && i < 64; i++)
        pw_child_log_pump(log);     /* what it wrote before it answered */
}

int pw_zygote_create_template(pw_zygote_t *zygote, const char *service, const char *spec_path,
                              int *template_fd, char **error_text)
{
    pw_child_log_t *log;
    if (request_template(zygote, service, spec_path, template_fd, &log, error_text) < 0)
        return -1;
    wait_for_template(*template_fd, log);
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
