/* guard.c — a worker template's guard (guard process): forked from the zygote in place of the
 * template, it creates the sandbox's namespaces (sandbox.h), forks the template as pid 1 of the
 * new pid namespace, and stands between the template and the host for the template's life.
 *
 * The template runs the worker's top-level code, so from then on nothing it does is trusted:
 *  - the guard relays the host's control messages to it, and passes on only the answers the
 *    host expects (READY, FAILED, ISOLATE_SPAWNED, ISOLATE_EXITED), with isolate pids
 *    translated by the kernel (SCM_CREDENTIALS) into the host's pid namespace: the template
 *    can name no process outside its own namespace;
 *  - it decides every fork the template attempts (seccomp user notification, seccomp.c): one
 *    per SPAWN_ISOLATE the host sent, none while the top-level code runs, never a thread;
 *  - the template is pid 1 of its namespace: when it dies, every process it or an isolate
 *    made dies too. The guard kills it when the host closes the control socket, and dies
 *    with the zygote (PR_SET_PDEATHSIG), which dies with the host.
 * Invariant: the guard never runs Python and never runs code of the worker.
 */
#include "isolate/guard.h"
#include "base/log.h"
#include "isolate/guard_relay.h"
#include "isolate/process_name.h"
#include "isolate/sandbox.h"
#include "isolate/spec_settings.h"
#include "isolate/startup_limits.h"
#include "isolate/template.h"
#include "python/embed.h"
#include "wire/control.h"
#include "wire/frame.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 4
#define LOAD_GRACE_MS 5000      /* past the template's own wall-clock bound on loading */

/* The clone flags a plain fork() uses; anything else (a thread, shared memory, new
 * namespaces, a ptraced child) is refused. */
#define FORK_FLAGS (CSIGNAL | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PARENT_SETTID)

typedef struct {
    int host_fd;            /* control socket to the host */
    int tpl_fd;             /* control socket to the template (SO_PASSCRED) */
    int listener_fd;        /* the template's fork notifications, or -1 */
    int pidfd;              /* readable when the template has exited */
    pid_t tpl_pid;
    unsigned forks_allowed; /* SPAWN_ISOLATE messages relayed and not yet forked */
    uint64_t load_started_ms, load_deadline_ms;  /* CLOCK_MONOTONIC; deadline 0: no bound */
    pw_guard_state_t state; /* what the template said so far (guard_relay.h) */
} guard_t;

typedef struct {
    uint8_t data[PW_CONTROL_MAX];
    size_t len;
    int fds[MAX_FDS];
    size_t n_fds;
    int has_creds;
    struct ucred creds;
    pw_frame_t frame;
} relayed_t;

static relayed_t msg;      /* one message at a time; static: 128 KiB */

static void close_fds(relayed_t *m)
{
    for (size_t i = 0; i < m->n_fds; i++)
        close(m->fds[i]);
    m->n_fds = 0;
}

static void take_control(relayed_t *m, struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET)
            continue;
        if (cm->cmsg_type == SCM_CREDENTIALS && cm->cmsg_len >= CMSG_LEN(sizeof m->creds)) {
            memcpy(&m->creds, CMSG_DATA(cm), sizeof m->creds);
            m->has_creds = 1;
        }
        if (cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (m->n_fds < MAX_FDS)
                m->fds[m->n_fds++] = fd;
            else
                close(fd);
        }
    }
}

/* Receives one whole control message. Returns 1, 0 at end of stream, -errno (-EBADMSG for a
 * malformed or truncated one, its descriptors closed). */
static int receive(int sock, relayed_t *m)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * MAX_FDS) + CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = { m->data, sizeof m->data };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control.space, .msg_controllen = sizeof control.space };
    ssize_t n;
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n == 0 ? 0 : -errno;
    m->len = (size_t)n;
    m->n_fds = 0;
    m->has_creds = 0;
    take_control(m, &mh);
    size_t used;
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
        pw_frame_parse(m->data, m->len, &m->frame, &used) != 1 || used != m->len) {
        close_fds(m);
        return -EBADMSG;
    }
    return 1;
}

/* Sends the message as it came, with its descriptors, without blocking. */
static int forward(int sock, const relayed_t *m)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    } control;
    struct iovec iov = { (void *)m->data, m->len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (m->n_fds) {
        memset(&control, 0, sizeof control);
        mh.msg_control = control.space;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->n_fds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * m->n_fds);
        memcpy(CMSG_DATA(cm), m->fds, sizeof(int) * m->n_fds);
    }
    ssize_t n;
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

/* ---- host -> template ---- */

/* Returns 1 to go on, 0 when the host is gone (or the template stopped taking messages). */
static int relay_from_host(guard_t *g)
{
    int rc = receive(g->host_fd, &msg);
    if (rc == -EAGAIN || rc == -EBADMSG)
        return 1;
    if (rc <= 0)
        return 0;
    if (msg.frame.type == PW_FRAME_CTL_SPAWN_ISOLATE)
        g->forks_allowed++;
    rc = forward(g->tpl_fd, &msg);
    close_fds(&msg);
    return rc == 0;
}

/* ---- template -> host ---- */

/* Returns 1 to go on, 2 when nothing is waiting, 0 when the template's socket is closed. */
static int relay_from_template(guard_t *g)
{
    int rc = receive(g->tpl_fd, &msg);
    if (rc == -EAGAIN || rc == -EBADMSG)
        return rc == -EAGAIN ? 2 : 1;
    if (rc <= 0)
        return 0;
    pw_guard_out_t out;
    pid_t creds = msg.has_creds ? msg.creds.pid : 0;
    switch (pw_guard_relay(&g->state, msg.frame.type, msg.frame.payload, msg.frame.len, creds,
                           msg.n_fds, &out)) {
    case PW_GUARD_TAKE_LISTENER:
        if (g->listener_fd < 0) {
            g->listener_fd = msg.fds[0];
            msg.n_fds = 0;
        }
        break;
    case PW_GUARD_SEND:
        pw_control_send(g->host_fd, out.type, 0, out.payload, out.len, -1);
        break;
    case PW_GUARD_DROP:
        break;
    }
    close_fds(&msg);
    return 1;
}

/* ---- forks ---- */

static void decide_fork(guard_t *g)
{
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    memset(&req, 0, sizeof req);
    if (ioctl(g->listener_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
        if (errno != EINTR && errno != ENOENT) {
            close(g->listener_fd);
            g->listener_fd = -1;
        }
        return;
    }
    int allow = req.data.nr == __NR_clone && g->state.loaded && g->forks_allowed > 0 &&
                (req.data.args[0] & ~(uint64_t)FORK_FLAGS) == 0;
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    if (allow) {
        g->forks_allowed--;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
        resp.error = -EPERM;
    }
    (void)ioctl(g->listener_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);  /* ENOENT: it died */
}

/* ---- life ---- */

/* poll()'s timeout: until the load deadline while the template loads, else none. */
static int poll_timeout(const guard_t *g)
{
    if (g->state.loaded || !g->load_deadline_ms)
        return -1;
    uint64_t now = pw_clock_ms();
    return now >= g->load_deadline_ms ? 0 : (int)(g->load_deadline_ms - now);
}

/* The template's own alarm did not end its load (its code can disarm it): say so for it. */
static void fail_slow_load(const guard_t *g)
{
    char text[256];
    snprintf(text, sizeof text, "the worker's top-level code did not finish loading within "
             "%u s; the template was stopped from outside",
             (unsigned)((g->load_deadline_ms - g->load_started_ms) / 1000));
    pw_control_send(g->host_fd, PW_FRAME_CTL_TEMPLATE_FAILED, 0, text, strlen(text), -1);
}

static int serve(guard_t *g)
{
    for (;;) {
        struct pollfd fds[4] = {
            { g->host_fd, POLLIN, 0 }, { g->tpl_fd, POLLIN, 0 }, { g->pidfd, POLLIN, 0 },
            { g->listener_fd, POLLIN, 0 },
        };
        int n = poll(fds, g->listener_fd >= 0 ? 4 : 3, poll_timeout(g));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 1;
        if (n == 0 && poll_timeout(g) == 0) {
            fail_slow_load(g);
            return 0;
        }
        if (fds[3].revents & POLLIN)
            decide_fork(g);
        else if (fds[3].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            close(g->listener_fd);
            g->listener_fd = -1;
        }
        if (fds[1].revents && !relay_from_template(g))
            return 0;
        if (fds[0].revents && !relay_from_host(g))
            return 0;
        if (fds[2].revents) {       /* the template exited: pass on what it said last */
            while (relay_from_template(g) == 1)
                ;
            return 0;
        }
    }
}

/* The template, pid 1 of the new namespace: it dies with the guard. */
static int run_template(int tpl_fd, int alive_fd, const char *spec_path, pw_snapshot_t snapshot)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return 1;
    struct pollfd parent = { alive_fd, 0, 0 };
    if (poll(&parent, 1, 0) != 0)   /* POLLHUP: the guard is already gone */
        return 1;
    close(alive_fd);
    /* a session of its own: kill(0, ...) must not reach the zygote's process group, whose
     * members are outside the pid namespace */
    if (setsid() < 0)
        return 1;
    return pw_template_main(tpl_fd, spec_path, snapshot);
}

static int fail_to_host(int host_fd, const char *what)
{
    char text[512];
    snprintf(text, sizeof text, "the worker template could not start: %s", what);
    pw_control_send(host_fd, PW_FRAME_CTL_TEMPLATE_FAILED, 0, text, strlen(text), -1);
    return 1;
}

int pw_guard_main(int host_fd, const char *spec_path, pw_snapshot_t snapshot)
{
    pw_process_name("pw-guard:", spec_path);
    char err[512] = "";
    int sandbox;
    unsigned cpu_limit_ms;
    if (pw_template_guard_settings(spec_path, &sandbox, &cpu_limit_ms) < 0)
        return fail_to_host(host_fd, "cannot read the worker spec");
    if (sandbox && pw_sandbox_enter_namespaces(err, sizeof err) < 0)
        return fail_to_host(host_fd, err);
    int sv[2], alive[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return fail_to_host(host_fd, strerror(errno));
    if (pipe2(alive, O_CLOEXEC) < 0)
        return fail_to_host(host_fd, strerror(errno));
    int one = 1;
    if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
        return fail_to_host(host_fd, strerror(errno));
    pw_python_before_fork();
    pid_t pid = fork();
    if (pid == 0) {
        pw_python_after_fork_child();
        close(host_fd);
        close(sv[0]);
        close(alive[1]);
        _exit(run_template(sv[1], alive[0], spec_path, snapshot));
    }
    pw_python_after_fork_parent();
    close(sv[1]);
    close(alive[0]);
    if (pid < 0)
        return fail_to_host(host_fd, strerror(errno));
    guard_t *g = calloc(1, sizeof *g);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (!g || pidfd < 0) {
        kill(pid, SIGKILL);
        return fail_to_host(host_fd, "cannot watch the template");
    }
    *g = (guard_t){ .host_fd = host_fd, .tpl_fd = sv[0], .listener_fd = -1, .pidfd = pidfd,
                    .tpl_pid = pid, .load_started_ms = pw_clock_ms(),
                    .state = { .template_pid = pid, .guard_pid = getpid(),
                               .same_pids = !sandbox } };
    unsigned wall_s = pw_startup_wall_limit_s(cpu_limit_ms);
    if (wall_s)
        g->load_deadline_ms = g->load_started_ms + wall_s * 1000ull + LOAD_GRACE_MS;
    int rc = serve(g);
    kill(pid, SIGKILL);             /* its pid namespace, and so every isolate, goes with it */
    waitpid(pid, NULL, 0);
    free(g);
    return rc;
}
