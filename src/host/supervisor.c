/* supervisor.c — the host's handle on the runtime zygote (host process): exec it, send it
 * CREATE_TEMPLATE with a fresh control socket for the new template, restart it when it dies
 * (pw_zygote_watch), and stop it at exit with everything that descends from it.
 * The zygote (and so every template and isolate) runs in a session of its own: a terminal's
 * Ctrl-C (SIGINT to the foreground process group) or hang-up reaches only the host, which
 * drains the isolates, instead of raising KeyboardInterrupt inside their requests; and with
 * the kernel's autogroup scheduling, the isolates' CPU is shared out apart from the host's,
 * rather than the host taking a third of its session's share on a busy machine.
 * The session is also how the host finds its descendants at exit: what the zygote forks is
 * not the host's child, but unless it starts a session of its own it stays in the zygote's
 * session and process group (a template's guard does; the template, pid 1 of its own pid
 * namespace and session, dies with its guard), and the zygote's pid, which is that
 * session's id, cannot be reused while the zygote is an unreaped zombie.
 * The zygote's stdin is /dev/null and it inherits no descriptor of the host's but stderr
 * (its own errors) and its control socket; each template gets its own stdout/stderr pipe
 * with CREATE_TEMPLATE (host/child_log.h), so no worker process holds the host's.
 * Invariant: every descriptor the host creates is close-on-exec except the one the zygote
 * is meant to inherit.
 */
#include "host/supervisor.h"
#include "base/err.h"
#include "base/fd.h"
#include "base/log.h"
#include "host/child_log.h"
#include "isolate/child_command.h"
#include "wire/control.h"
#include "wire/frame.h"
#include "wire/start_type.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
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
    char fd_arg[16], snapshot_arg[32];
    snprintf(fd_arg, sizeof fd_arg, "%d", fds[1]);
    snprintf(snapshot_arg, sizeof snapshot_arg, "--snapshot=%s", pw_snapshot_name(zygote->snapshot));
    char *args[] = { "--zygote", fd_arg, snapshot_arg, pw_trace_on ? "--trace" : NULL, NULL };
    char *envp[8];
    if (pw_child_command(&command, args) < 0) {
        pw_log_error("cannot start the runtime zygote: neither build/pyext/_pyworkerd.so (run by "
                     "%s) nor build/pyworkerd-isolate is there; run `make`", PW_CHILD_PYTHON);
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
        pw_fd_set_cloexec(fds[1], 0);
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

/* Sends CREATE_TEMPLATE with the template's control socket and the write end of its
 * stdout/stderr pipe, whose read end becomes *log. */
/* --threads: a loop thread rebuilding its template sends on the control socket the main
 * loop closes when the zygote dies; this lock orders the two. */
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;

static int send_create_template(pw_zygote_t *zygote, const char *spec_path, int passed[2])
{
    pthread_mutex_lock(&ctl_lock);
    int rc = zygote->ctl_fd < 0 ? -EPIPE
             : pw_control_send_fds(zygote->ctl_fd, PW_FRAME_CTL_CREATE_TEMPLATE, 0, spec_path,
                                   strlen(spec_path), passed, 2);
    pthread_mutex_unlock(&ctl_lock);
    return rc;
}

static void close_ctl(pw_zygote_t *zygote)
{
    pthread_mutex_lock(&ctl_lock);
    if (zygote->ctl_fd >= 0)
        close(zygote->ctl_fd);
    zygote->ctl_fd = -1;
    pthread_mutex_unlock(&ctl_lock);
}

static int request_template(pw_zygote_t *zygote, uv_loop_t *loop, const char *service,
                            const char *spec_path, int *template_fd, pw_child_log_t **log,
                            char *err, size_t err_len)
{
    int fds[2], out[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return pw_err_set(err, err_len, "%s", strerror(errno));
    if (pipe2(out, O_CLOEXEC) < 0) {
        pw_err_set(err, err_len, "%s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    int passed[2] = { fds[1], out[1] };
    int rc = send_create_template(zygote, spec_path, passed);
    close(fds[1]);
    close(out[1]);
    if (rc < 0) {
        close(fds[0]);
        close(out[0]);
        return pw_err_set(err, err_len, "the runtime zygote is not running (see the errors above)");
    }
    *template_fd = fds[0];
    *log = pw_child_log_open(loop, out[0], service, "tpl", 0);
    return 0;
}

int pw_zygote_request_template(pw_zygote_t *zygote, uv_loop_t *loop, const char *service,
                               const char *spec_path, int *template_fd, char *err, size_t err_len)
{
    pw_child_log_t *log;
    return request_template(zygote, loop, service, spec_path, template_fd, &log, err, err_len);
}

int pw_zygote_template_poll(int template_fd, char *err, size_t err_len)
{
    pw_control_msg_t msg;
    int rc = pw_control_recv(template_fd, &msg);
    if (rc == -EAGAIN)
        return 0;
    if (rc > 0 && msg.type == PW_FRAME_CTL_TEMPLATE_READY) {
        pw_control_msg_free(&msg);
        return 1;
    }
    if (rc > 0) {
        pw_err_set(err, err_len, "%s", msg.len ? msg.payload : "unknown error");
        pw_control_msg_free(&msg);
    } else {
        pw_err_set(err, err_len, "the worker template exited while loading the worker "
                                 "(see the errors above)");
    }
    close(template_fd);
    return rc > 0 ? -1 : -2;
}

int pw_zygote_alive(const pw_zygote_t *zygote)
{
    if (zygote->ctl_fd < 0 || zygote->pid <= 1)
        return 0;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)zygote->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
        return 0;
    return info.si_pid != zygote->pid;
}

/* ---- stop signals while the host starts ---- */

static volatile sig_atomic_t stop_signal;
static int stop_pipe[2] = { -1, -1 };

static void on_stop_signal(int signum)
{
    int saved = errno;
    stop_signal = signum;
    if (stop_pipe[1] >= 0)
        (void)!write(stop_pipe[1], "", 1);
    errno = saved;
}

void pw_supervisor_catch_stop_signals(void)
{
    if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        stop_pipe[0] = stop_pipe[1] = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;     /* no SA_RESTART: blocking calls return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int pw_supervisor_stop_signal(void)
{
    return stop_signal;
}

/* Reads what the templates printed (the logs whose poll entries have events); a log whose
 * every writer is gone is dropped from logs[]: nothing more to read there. */
static void pump_logs(const struct pollfd *fds, pw_child_log_t **logs, size_t n_logs)
{
    for (size_t i = 0; i < n_logs; i++) {
        if (!logs[i] || !fds[i].revents)
            continue;
        pw_child_log_pump(logs[i]);
        if (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL) && !(fds[i].revents & POLLIN))
            logs[i] = NULL;
    }
}

/* wait_for_template() with room for the poll entries: [0] the template, [1] the stop pipe,
 * [2...] the logs. */
static int poll_template(int template_fd, struct pollfd *fds, pw_child_log_t **logs, size_t n_logs)
{
    for (;;) {
        if (stop_signal)
            return 0;
        fds[0] = (struct pollfd){ .fd = template_fd, .events = POLLIN };
        fds[1] = (struct pollfd){ .fd = stop_pipe[0], .events = POLLIN };
        for (size_t i = 0; i < n_logs; i++)
            fds[2 + i] = (struct pollfd){ .fd = logs[i] ? pw_child_log_fd(logs[i]) : -1, .events = POLLIN };
        int n = poll(fds, 2 + n_logs, stop_pipe[0] >= 0 ? -1 : 100);
        if (n < 0 && errno != EINTR)
            return 1;       /* let the read report it */
        if (n > 0)
            pump_logs(fds + 2, logs, n_logs);
        if (n > 0 && fds[0].revents) {
            for (int round = 0; round < 64; round++)    /* what it wrote before it answered */
                for (size_t i = 0; i < n_logs; i++)
                    if (logs[i])
                        pw_child_log_pump(logs[i]);
            return 1;
        }
        char drain[16];
        if (n > 0 && fds[1].revents)    /* a byte without stop_signal: a forked child's */
            (void)!read(stop_pipe[0], drain, sizeof drain);
    }
}

/* Waits until template_fd is readable (1) or a stop signal was caught (0), reading the
 * templates' output meanwhile (logs[i] may be NULL): top-level code that prints more than a
 * pipe holds must not stall its load, nor that of another template loading beside it. */
static int wait_for_template(int template_fd, pw_child_log_t **logs, size_t n_logs)
{
    struct pollfd *fds = calloc(2 + n_logs, sizeof *fds);
    if (!fds)
        return 1;           /* the read then blocks until the template answers */
    int ready = poll_template(template_fd, fds, logs, n_logs);
    free(fds);
    return ready;
}

int pw_zygote_template_result(int template_fd, char *err, size_t err_len)
{
    if (!wait_for_template(template_fd, NULL, 0)) {
        close(template_fd);
        return pw_err_set(err, err_len, "stopped by a signal while the worker was loading");
    }
    int flags = fcntl(template_fd, F_GETFL);
    int was_nonblock = flags >= 0 && (flags & O_NONBLOCK);
    if (was_nonblock)
        pw_fd_set_nonblock(template_fd, 0);     /* readable: a whole message is there */
    int rc = pw_zygote_template_poll(template_fd, err, err_len);
    if (was_nonblock && rc > 0)
        pw_fd_set_nonblock(template_fd, 1);
    return rc > 0 ? 0 : -1;
}

/* One template's outcome, the others' output read meanwhile; template_fd closed on failure. */
static int await_template(int template_fd, pw_child_log_t **logs, size_t n_logs, char *err,
                          size_t err_len)
{
    if (!wait_for_template(template_fd, logs, n_logs)) {
        close(template_fd);
        return pw_err_set(err, err_len, "stopped by a signal while the worker was loading");
    }
    return pw_zygote_template_result(template_fd, err, err_len);
}

int pw_zygote_create_templates(pw_zygote_t *zygote, size_t n, const char *const *services,
                               const char *const *spec_paths, int *template_fds, size_t *failed,
                               char *err, size_t err_len)
{
    pw_child_log_t **logs = calloc(n ? n : 1, sizeof *logs);
    if (!logs) {
        *failed = 0;
        return pw_err_set(err, err_len, "out of memory");
    }
    size_t asked = 0, ready = 0;
    while (asked < n && request_template(zygote, zygote->loop, services[asked], spec_paths[asked],
                                         &template_fds[asked], &logs[asked], err, err_len) == 0)
        asked++;
    while (asked == n && ready < n && await_template(template_fds[ready], logs, n, err, err_len) == 0)
        ready++;
    free(logs);
    if (ready == n)
        return 0;
    *failed = asked < n ? asked : ready;    /* not asked, or its fd closed by await_template */
    for (size_t i = 0; i < asked; i++)
        if (i != *failed)
            close(template_fds[i]);
    return -1;
}

/* ---- restarting a dead zygote ---- */

#define LIVED_LONG_MS 10000

static const unsigned restart_delays_ms[] = { 100, 500, 1000, 2000, 5000 };

struct pw_zygote_watch {
    pw_zygote_t *zygote;
    uv_loop_t *loop;
    uv_poll_t *poll;            /* on the current zygote's control socket; NULL while down */
    uv_timer_t timer;           /* the next restart */
    unsigned quick_deaths;      /* zygotes in a row that died within LIVED_LONG_MS */
    uint64_t started_ms;
    int handles;                /* open: the timer and the poll */
    int closing;
};

static void watch_maybe_free(pw_zygote_watch_t *w)
{
    if (w->closing && w->handles == 0)
        free(w);
}

static void on_watch_handle_closed(uv_handle_t *handle)
{
    pw_zygote_watch_t *w = handle->data;
    if (handle != (uv_handle_t *)&w->timer)
        free(handle);
    w->handles--;
    watch_maybe_free(w);
}

static void remember_session(pw_zygote_t *zygote, int sid)
{
    if (zygote->n_old_sessions == PW_ZYGOTE_OLD_SESSIONS) {
        memmove(zygote->old_sessions, zygote->old_sessions + 1,
                (PW_ZYGOTE_OLD_SESSIONS - 1) * sizeof *zygote->old_sessions);
        zygote->n_old_sessions--;
    }
    zygote->old_sessions[zygote->n_old_sessions++] = sid;
}

/* Reaps the dead zygote (its socket ended, so it is exiting; one that is not is killed)
 * and says how it ended. */
static void reap_dead_zygote(pw_zygote_t *zygote, char *how, size_t len)
{
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 50 && (r = waitpid(zygote->pid, &status, WNOHANG)) == 0; i++) {
        struct timespec ts = { 0, 2 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (r == 0) {
        kill(zygote->pid, SIGKILL);
        r = waitpid(zygote->pid, &status, 0);
    }
    if (r != zygote->pid)
        snprintf(how, len, "exited");
    else if (WIFSIGNALED(status))
        snprintf(how, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(how, len, "exited with status %d", WEXITSTATUS(status));
}

static void watch_open(pw_zygote_watch_t *w);

static void on_restart_timer(uv_timer_t *timer)
{
    pw_zygote_watch_t *w = timer->data;
    pw_zygote_t *zygote = w->zygote;
    int rc = pw_zygote_start(zygote);
    if (rc < 0) {
        w->quick_deaths++;
        unsigned n = w->quick_deaths < 5 ? w->quick_deaths : 4;
        pw_log_error("cannot restart the runtime zygote: %s; next try in %u ms", strerror(-rc),
                     restart_delays_ms[n]);
        uv_timer_start(&w->timer, on_restart_timer, restart_delays_ms[n], 0);
        return;
    }
    pw_log_error("runtime zygote restarted (pid %d)", zygote->pid);
    watch_open(w);
}

static void zygote_died(pw_zygote_watch_t *w)
{
    pw_zygote_t *zygote = w->zygote;
    uv_close((uv_handle_t *)w->poll, on_watch_handle_closed);
    w->poll = NULL;
    close_ctl(zygote);
    char how[128];
    reap_dead_zygote(zygote, how, sizeof how);
    remember_session(zygote, zygote->pid);
    int pid = zygote->pid;
    zygote->pid = 0;
    if (uv_now(w->loop) - w->started_ms >= LIVED_LONG_MS)
        w->quick_deaths = 0;
    unsigned delay = restart_delays_ms[w->quick_deaths < 5 ? w->quick_deaths : 4];
    w->quick_deaths++;
    pw_log_error("the runtime zygote (pid %d) %s; restarting it in %u ms", pid, how, delay);
    uv_timer_start(&w->timer, on_restart_timer, delay, 0);
}

/* The zygote never writes to the host: anything readable is its end. */
static void on_zygote_readable(uv_poll_t *poll, int status, int events)
{
    pw_zygote_watch_t *w = poll->data;
    if (status == 0 && !(events & UV_DISCONNECT)) {
        pw_control_msg_t msg;
        int rc = pw_control_recv(w->zygote->ctl_fd, &msg);
        if (rc == -EAGAIN)
            return;
        if (rc > 0) {
            pw_control_msg_free(&msg);
            return;
        }
    }
    zygote_died(w);
}

static void watch_open(pw_zygote_watch_t *w)
{
    w->started_ms = uv_now(w->loop);
    uv_poll_t *poll = calloc(1, sizeof *poll);
    if (!poll || uv_poll_init(w->loop, poll, w->zygote->ctl_fd) < 0) {
        free(poll);
        pw_log_error("cannot watch the runtime zygote");
        return;
    }
    poll->data = w;
    w->poll = poll;
    w->handles++;
    uv_poll_start(poll, UV_READABLE | UV_DISCONNECT, on_zygote_readable);
}

int pw_zygote_watch(pw_zygote_t *zygote, uv_loop_t *loop)
{
    pw_zygote_watch_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->zygote = zygote;
    w->loop = loop;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    w->handles = 1;
    zygote->watch = w;
    if (zygote->ctl_fd >= 0)
        watch_open(w);
    return 0;
}

void pw_zygote_unwatch(pw_zygote_t *zygote)
{
    pw_zygote_watch_t *w = zygote->watch;
    if (!w)
        return;
    zygote->watch = NULL;
    w->closing = 1;
    if (w->poll)
        uv_close((uv_handle_t *)w->poll, on_watch_handle_closed);
    w->poll = NULL;
    uv_close((uv_handle_t *)&w->timer, on_watch_handle_closed);
}

/* ---- stopping everything ---- */

/* Session id and name of a process, from /proc/<pid>/stat; -1 when it is gone. */
static int read_session(const char *pid_name, char *comm, size_t comm_len)
{
    char path[320], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", pid_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren || close_paren < open_paren)
        return -1;
    snprintf(comm, comm_len, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
    char state;
    int ppid, pgrp, session;
    if (sscanf(close_paren + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) != 4)
        return -1;
    return session;
}

static int kill_session_matching(int sid, int any_name)
{
    if (sid <= 1)
        return 0;
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    int killed = 0;
    struct dirent *entry;
    while ((entry = readdir(proc))) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        char comm[64];
        int pid = atoi(entry->d_name);
        if (pid <= 1 || pid == getpid() || read_session(entry->d_name, comm, sizeof comm) != sid)
            continue;
        if ((any_name || strncmp(comm, "pw-", 3) == 0) && kill(pid, SIGKILL) == 0)
            killed++;
    }
    closedir(proc);
    return killed;
}

int pw_supervisor_kill_session(int sid)
{
    return kill_session_matching(sid, 0);
}

/* 1 when the zygote has exited (it stays a zombie, its pid reserved, until reaped), 0 while
 * it runs, -1 when it is no child of ours (already reaped). */
static int zygote_exited(int pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
        return -1;
    return info.si_pid == pid;
}

void pw_zygote_stop(pw_zygote_t *zygote)
{
    close_ctl(zygote);
    if (zygote->pid > 1) {
        kill(zygote->pid, SIGTERM);
        int exited = 0;
        for (int i = 0; i < 200 && !(exited = zygote_exited(zygote->pid)); i++) {
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
        if (exited == 0)
            kill(zygote->pid, SIGKILL);
        if (exited >= 0) {
            /* Unreaped, its pid is reserved: the session and process group are this host's. */
            kill(-zygote->pid, SIGKILL);
            kill_session_matching(zygote->pid, 1);
            waitpid(zygote->pid, NULL, 0);
        } else {
            pw_supervisor_kill_session(zygote->pid);
        }
    }
    zygote->pid = 0;
    for (size_t i = 0; i < zygote->n_old_sessions; i++)
        pw_supervisor_kill_session(zygote->old_sessions[i]);
    zygote->n_old_sessions = 0;
}
