/* startmode.c — the two start types that do not fork a package snapshot, so that the seed's
 * three (cold / baseline / package) can be measured side by side (template process, and the
 * cold isolate's own process):
 *  - baseline (hidden --snapshot=baseline): the template stays at the zygote's state
 *    (CPython started, SDK imported); each isolate is a fork of it that then imports the
 *    worker itself (isolate.c);
 *  - none (--no-snapshot): each isolate is a new process, `--isolate FD SPEC` started with
 *    posix_spawn (config/child_command.c), that starts CPython and imports everything.
 * In both, the template loads the worker once at start in a throwaway fork, so that a broken
 * worker still stops `serve` with its error. Invariant: nothing here imports the worker
 * into the template itself.
 */
#include "isolate/process.h"
#include "config/child_command.h"
#include "config/paths.h"
#include "host/log.h"
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
    char *error_text = NULL, err[512];
    const char *msg = fence && pw_template_fence(-1, 0, err, sizeof err) < 0 ? err
                      : pw_python_load_worker(spec_path, &error_text) < 0 ? error_text : "ok";
    size_t len = strlen(msg), off = 0;
    while (off < len) {
        ssize_t n = write(fd, msg + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    _exit(0);
}

static char *read_all(int fd)
{
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    while (text) {
        ssize_t n = read(fd, text + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (cap - len < 2) {
            char *bigger = realloc(text, cap *= 2);
            if (!bigger)
                break;
            text = bigger;
        }
    }
    if (text)
        text[len] = '\0';
    return text;
}

int pw_startmode_probe_worker(const char *spec_path, int fence, char **error_text)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        *error_text = strdup(strerror(errno));
        return -1;
    }
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
    if (!text || !*text) {
        free(text);
        text = strdup("the worker template's check of the worker exited (see the errors above)");
    }
    *error_text = text;
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
        pw_python_init(python_dir, 1, err, sizeof err) < 0) {
        fprintf(stderr, "pyworkerd: cold isolate %d: cannot start Python\n", (int)getpid());
        return 1;
    }
    PW_TRACE(start, "python init");
    start = pw_trace_clock();
    char *error_text = NULL;
    if (pw_python_load_worker(spec_path, &error_text) < 0) {
        fprintf(stderr, "pyworkerd: cold isolate %d: the worker failed to load:\n%s\n",
                (int)getpid(), error_text);
        free(error_text);
        return 1;
    }
    PW_TRACE(start, "worker loaded");
    return pw_isolate_main(fd);
}
