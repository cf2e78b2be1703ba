/* startmode.c — the two start types that do not fork a package snapshot, so that the seed's
 * three (cold / baseline / package) can be measured side by side (template process, and the
 * cold isolate's own process):
 *  - baseline (hidden --snapshot=baseline): the template stays at the zygote's state
 *    (CPython started, SDK imported); each isolate is a fork of it that then imports the
 *    worker itself (isolate.c);
 *  - none (--no-snapshot): each isolate is a new process, `--isolate FD SPEC` started with
 *    posix_spawn (isolate/child_command.c), that starts CPython and imports everything.
 * In both, the template loads the worker once at start in a throwaway fork, so that a broken
 * worker still stops `serve` with its error. Invariant: nothing here imports the worker
 * into the template itself.
 */
#include "isolate/startmode.h"
#include "base/err.h"
#include "base/fd.h"
#include "base/log.h"
#include "base/paths.h"
#include "isolate/child_command.h"
#include "isolate/fence.h"
#include "isolate/isolate.h"
#include "isolate/process_name.h"
#include "isolate/pyext.h"
#include "python/embed.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;

#define COLD_FD 3   /* the request socket's number in a cold isolate */

/* The probe: loads the worker in a child and writes "ok" or the error text to `fd`. */
static void probe_child(int fd, const char *spec_path, int fence)
{
    static char err[PW_ERR_TEXT_MAX];
    const char *msg = fence && pw_template_fence(-1, 0, err, sizeof err) < 0 ? err
                      : pw_python_load_worker(spec_path, err, sizeof err) < 0 ? err : "ok";
    (void)pw_fd_write_all(fd, msg, strlen(msg));    /* the parent reads what came */
    _exit(0);
}

/* What the probe wrote, as a C string to free; NULL when memory ran out. */
static char *read_all(int fd)
{
    pw_buf_t text = { 0 };
    if (pw_fd_read_to_end(fd, &text) < 0 && !text.data)
        return NULL;
    return (char *)text.data;   /* what came before an error is the probe's message */
}

int pw_startmode_probe_worker(const char *spec_path, int fence, char *err, size_t err_len)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return pw_err_set(err, err_len, "%s", strerror(errno));
    pw_python_before_fork();
    pid_t pid = fork();
    if (pid == 0) {
        pw_python_after_fork_child();
        close(fds[0]);
        probe_child(fds[1], spec_path, fence);
    }
    pw_python_after_fork_parent();
    close(fds[1]);
    char *text = pid < 0 ? NULL : read_all(fds[0]);
    close(fds[0]);
    if (text && strcmp(text, "ok") == 0) {
        free(text);
        return 0;
    }
    if (!text || !*text)
        pw_err_set(err, err_len, "the worker template's check of the worker exited (see the errors above)");
    else
        pw_err_set(err, err_len, "%s", text);
    free(text);
    return -1;
}

int pw_startmode_spawn_cold(int isolate_fd, int stdio_fd, const char *spec_path)
{
    char fd_arg[16], since_arg[48];
    snprintf(fd_arg, sizeof fd_arg, "%d", COLD_FD);
    snprintf(since_arg, sizeof since_arg, "--since=%" PRIu64, pw_isolate_fork_ns);
    char *args[] = { "--isolate", fd_arg, (char *)spec_path, since_arg, pw_trace_on ? "--trace" : NULL, NULL };
    static pw_child_command_t command;
    if (pw_child_command(&command, args) < 0)
        return -ENOENT;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGCHLD);
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc)
        return -rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) {
        posix_spawn_file_actions_destroy(&actions);
        return -rc;
    }
    /* Its own log pipe first (isolate/stdio.h), then the socket: dup2 onto COLD_FD clears
     * close-on-exec, unless the socket already is COLD_FD (or 1 or 2, which the pipe takes:
     * a template whose top-level code closed its own fds 1/2 receives descriptors there). */
    if (stdio_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(&actions, stdio_fd, STDOUT_FILENO);
    if (!rc && stdio_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(&actions, stdio_fd, STDERR_FILENO);
    int moved = isolate_fd == COLD_FD || isolate_fd <= STDERR_FILENO
                    ? fcntl(isolate_fd, F_DUPFD_CLOEXEC, COLD_FD + 1) : isolate_fd;
    if (!rc)
        rc = moved < 0 ? errno : posix_spawn_file_actions_adddup2(&actions, moved, COLD_FD);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&attr, &defaults);
    if (!rc)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    if (!rc)
        rc = posix_spawn(&pid, command.program, &actions, &attr, command.argv, environ);
    if (moved >= 0 && moved != isolate_fd)
        close(moved);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc ? -rc : pid;
}

int pw_cold_isolate_main(int fd, const char *spec_path, int trace, uint64_t since_ns)
{
    if (trace)
        pw_trace_enable();
    /* no orphan check by parent pid: in the sandbox's pid namespace the template is pid 1,
     * and a late death leaves this isolate its socket's end of stream */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    pw_process_name("pw-iso:", spec_path);
    pw_isolate_fork_ns = since_ns ? since_ns : pw_trace_clock();
    PW_TRACE(pw_isolate_fork_ns, "isolate exec'd (since spawn)");
    char python_dir[4096], err[8192];
    uint64_t start = pw_trace_clock();
    if (pw_paths_python_dir(python_dir, sizeof python_dir) < 0 ||
        pw_python_init(python_dir, 1, PyInit__pyworkerd, err, sizeof err) < 0) {
        pw_log_error("cold isolate %d: cannot start Python", (int)getpid());
        return 1;
    }
    PW_TRACE(start, "python init");
    start = pw_trace_clock();
    static char load_err[PW_ERR_TEXT_MAX];
    if (pw_python_load_worker(spec_path, load_err, sizeof load_err) < 0) {
        pw_log_error("cold isolate %d: the worker failed to load:\n%s", (int)getpid(), load_err);
        return 1;
    }
    PW_TRACE(start, "worker loaded");
    return pw_isolate_main(fd);
}
