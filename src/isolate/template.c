/* template.c — a worker template (template process): forked by its guard (guard.c) as pid 1
 * of the sandbox's pid namespace, it enters the worker's sandbox (read-only mount tree, its
 * own seccomp filter, audit hook: sandbox.h), imports the worker's modules once (running their
 * top-level code inside it) and then forks isolates on the host's request, each with the
 * socket the host passed along; an isolate applies its own sandbox layers before Python runs
 * again. The template exits when the guard closes its control socket; being pid 1, it takes
 * every process of its namespace with it.
 * Invariant: the worker's top-level code never runs before the template's filter is loaded;
 * nothing after it is trusted by the host (the guard checks what the template says).
 */
#include "isolate/template.h"
#include "base/err.h"
#include "base/log.h"
#include "isolate/fence.h"
#include "isolate/isolate.h"
#include "isolate/process_name.h"
#include "isolate/sandbox.h"
#include "isolate/spec_settings.h"
#include "isolate/startmode.h"
#include "isolate/startup_limits.h"
#include "isolate/stdio.h"
#include "python/audit.h"
#include "python/embed.h"
#include "wire/control.h"
#include "wire/frame.h"

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static pw_snapshot_t start_type;

static int sandboxed;

/* Next to the config, what the package resolver reads (not the config dir itself). */
static const char *const config_dir_entries[] = {
    "python_modules", "pyproject.toml", "requirements.txt", NULL,
};

/* Everything Python may read: sys.path (stdlib, packages, the SDK), the worker's dir (also
 * at workerd's /session/metadata), and its vendored packages and requirement files next to
 * the config. */
static int enter_sandbox(const pw_spec_settings_t *settings, char *err, size_t err_len)
{
    char *dirs[64];
    size_t n = pw_python_path_dirs(dirs, 60);
    dirs[n++] = strdup(settings->dir);
    for (size_t i = 0; settings->config_dir[0] && config_dir_entries[i]; i++) {
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", settings->config_dir, config_dir_entries[i]);
        dirs[n++] = strdup(path);
    }
    pw_sandbox_conf_t conf = {
        .read_dirs = (const char *const *)dirs,
        .n_read_dirs = n,
        .memory_limit = (size_t)(settings->memory_limit_mib * 1024 * 1024),
        .session_dir = settings->dir,
    };
    static const char *const session[] = { PW_SANDBOX_SESSION_DIR };
    int rc = pw_sandbox_template_enter(&conf, err, err_len);
    if (rc == 0)
        rc = pw_audit_allow_read((const char *const *)dirs, n);
    if (rc == 0)
        rc = pw_audit_allow_read(session, 1);
    size_t n_system = 0;
    while (pw_sandbox_system_dirs[n_system])
        n_system++;
    if (rc == 0)
        rc = pw_audit_allow_read(pw_sandbox_system_dirs, n_system);
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    if (rc < 0 && !err[0])
        snprintf(err, err_len, "sandbox: out of memory");
    return rc;
}

/* Isolate, right after fork: the sandbox first, then Python's own after-fork work. */
static void start_isolate(int isolate_fd, const char *spec_path)
{
    char err[512];
    pw_process_name("pw-iso:", spec_path);     /* before seccomp, which refuses prctl */
    uint64_t start = pw_trace_clock();
    if (sandboxed && pw_sandbox_isolate_enter(err, sizeof err) < 0) {
        pw_log_error("isolate %d: %s", (int)getpid(), err);
        _exit(1);
    }
    uint64_t sandbox_ns = pw_trace_clock() - start;
    pw_python_after_fork_child();
    if (sandboxed)
        pw_audit_set_mode(PW_AUDIT_ISOLATE);
    if (sandboxed && pw_trace_on)
        pw_trace_step_ns(sandbox_ns, "sandbox applied");
    _exit(pw_isolate_main(isolate_fd));
}

/* The guard learns the isolate's host pid from the kernel (SCM_CREDENTIALS, translated out
 * of the pid namespace). Without the sandbox there is no namespace, and naming a child's pid
 * in credentials would need CAP_SYS_ADMIN: the plain pid is all there is to say. */
static void report_spawned(int ctl_fd, int pid)
{
    if (sandboxed)
        pw_control_send_pid(ctl_fd, PW_FRAME_CTL_ISOLATE_SPAWNED, pid);
    else
        pw_control_send_u32(ctl_fd, PW_FRAME_CTL_ISOLATE_SPAWNED, (uint32_t)pid);
}

static void spawn_isolate(int ctl_fd, pw_control_msg_t *msg, const char *spec_path)
{
    int isolate_fd = msg->fd;
    msg->fd = -1;
    int stdio_fd = pw_control_msg_take_fd(msg, 1);     /* the isolate's fds 1/2 */
    if (isolate_fd < 0) {
        if (stdio_fd >= 0)
            close(stdio_fd);
        pw_control_send_u32(ctl_fd, PW_FRAME_CTL_ISOLATE_SPAWNED, 0);
        return;
    }
    pw_isolate_fork_ns = pw_trace_clock();
    if (start_type == PW_SNAPSHOT_NONE) {
        int cold = pw_startmode_spawn_cold(isolate_fd, stdio_fd, spec_path);
        PW_TRACE(pw_isolate_fork_ns, "isolate spawned (cold) pid=%d", cold);
        close(isolate_fd);
        if (stdio_fd >= 0)
            close(stdio_fd);
        report_spawned(ctl_fd, cold < 0 ? 0 : cold);
        return;
    }
    pw_isolate_load_spec = start_type == PW_SNAPSHOT_BASELINE ? spec_path : NULL;
    if (sandboxed)
        pw_sandbox_before_fork();
    pw_python_before_fork();
    pid_t pid = fork();
    if (pid == 0) {
        if (pw_stdio_adopt(stdio_fd, &isolate_fd) < 0)
            _exit(1);
        close(ctl_fd);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)     /* and pid 1's death ends the namespace */
            _exit(1);
        signal(SIGCHLD, SIG_DFL);
        start_isolate(isolate_fd, spec_path);
    }
    pw_python_after_fork_parent();
    PW_TRACE(pw_isolate_fork_ns, "isolate forked pid=%d", (int)pid);
    close(isolate_fd);
    if (stdio_fd >= 0)
        close(stdio_fd);
    report_spawned(ctl_fd, pid < 0 ? 0 : pid);
}

int pw_template_main(int ctl_fd, const char *spec_path, pw_snapshot_t snapshot)
{
    start_type = snapshot;
    signal(SIGCHLD, SIG_IGN);   /* isolates are reaped by the kernel; the host sees EOF */
    pw_process_name("pw-tpl:", spec_path);
    static char err[PW_ERR_TEXT_MAX];
    pw_spec_settings_t settings;
    if (pw_spec_settings_read(spec_path, &settings, err, sizeof err) < 0 ||
        (settings.sandbox && enter_sandbox(&settings, err, sizeof err) < 0)) {
        pw_control_send(ctl_fd, PW_FRAME_CTL_TEMPLATE_FAILED, 0, err, strlen(err), -1);
        return 1;
    }
    sandboxed = settings.sandbox;
    /* the package snapshot runs the top-level code here; the other start types only in a
     * throwaway probe, which fences itself (startmode.c) */
    if (sandboxed && snapshot == PW_SNAPSHOT_PACKAGE &&
        pw_template_fence(ctl_fd, 1, err, sizeof err) < 0) {
        pw_control_send(ctl_fd, PW_FRAME_CTL_TEMPLATE_FAILED, 0, err, strlen(err), -1);
        return 1;
    }
    if (sandboxed)
        pw_audit_set_mode(PW_AUDIT_TEMPLATE);
    uint64_t start = pw_trace_clock();
    pw_startup_limits_arm(ctl_fd, settings.cpu_limit_ms);
    int loaded = snapshot == PW_SNAPSHOT_PACKAGE
                     ? pw_python_load_worker(spec_path, err, sizeof err)
                     : pw_startmode_probe_worker(spec_path, sandboxed, err, sizeof err);
    pw_startup_limits_disarm();
    if (loaded < 0) {
        pw_control_send(ctl_fd, PW_FRAME_CTL_TEMPLATE_FAILED, 0, err, strlen(err), -1);
        return 1;
    }
    pw_python_settle_heap();
    PW_TRACE(start, "template ready");
    pw_control_send_u32(ctl_fd, PW_FRAME_CTL_TEMPLATE_READY, (uint32_t)getpid());
    for (;;) {
        pw_control_msg_t msg;
        int rc = pw_control_recv(ctl_fd, &msg);
        if (rc <= 0)
            return rc == 0 ? 0 : 1;
        if (msg.type == PW_FRAME_CTL_SPAWN_ISOLATE)
            spawn_isolate(ctl_fd, &msg, spec_path);
        pw_control_msg_free(&msg);
    }
}
