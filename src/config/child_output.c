/* child_output.c — a helper program on two pipes and what it prints (host process, while the
 * config is read; see child_output.h).
 * Invariant: each pipe's read end is closed once, by pw_child_collect (or by pw_child_start
 * when the program could not start).
 */
#include "config/child_output.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void close_pair(int p[2])
{
    close(p[0]);
    close(p[1]);
}

int pw_child_start(const char *program, char *const argv[], int search_path, pw_child_t *child)
{
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) < 0)
        return errno;
    if (pipe2(err_pipe, O_CLOEXEC) < 0) {
        int e = errno;
        close_pair(out_pipe);
        return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], STDERR_FILENO);
    int rc = search_path ? posix_spawnp(&child->pid, program, &fa, NULL, argv, environ)
                         : posix_spawn(&child->pid, program, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (rc != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return rc;
    }
    child->out_fd = out_pipe[0];
    child->err_fd = err_pipe[0];
    return 0;
}

/* Reads what is ready; a pipe at its end is marked closed (fd -1). 0 or -1. */
static int read_ready(struct pollfd fds[2], pw_buf_t *bufs[2], int *open_fds)
{
    char chunk[65536];
    for (int i = 0; i < 2; i++) {
        if (fds[i].fd < 0 || !fds[i].revents)
            continue;
        ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            if (pw_buf_append_text(bufs[i], chunk, (size_t)n) < 0)
                return -1;
            continue;
        }
        fds[i].fd = -1;
        (*open_fds)--;
    }
    return 0;
}

static int drain(pw_child_t *child, pw_buf_t *out, pw_buf_t *err, int tick_ms,
                 pw_child_tick_fn tick, void *arg)
{
    struct pollfd fds[2] = { { child->out_fd, POLLIN, 0 }, { child->err_fd, POLLIN, 0 } };
    pw_buf_t *bufs[2] = { out, err };
    int open_fds = 2;
    while (open_fds > 0) {
        int ready = poll(fds, 2, tick ? tick_ms : -1);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (tick && tick(arg, child->pid, ready > 0))
            return -2;
        if (ready > 0 && read_ready(fds, bufs, &open_fds) < 0)
            return -1;
    }
    return 0;
}

int pw_child_collect(pw_child_t *child, pw_buf_t *out, pw_buf_t *err, int tick_ms,
                     pw_child_tick_fn tick, void *arg)
{
    int rc = drain(child, out, err, tick_ms, tick, arg);
    int saved = errno;
    if (rc < 0)
        kill(child->pid, SIGKILL);      /* our own child, not yet reaped */
    close(child->out_fd);
    close(child->err_fd);
    errno = saved;
    return rc;
}

int pw_child_wait(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
