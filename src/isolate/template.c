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
#include "isolate/process.h"
#include "host/log.h"
#include "isolate/sandbox.h"
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

/* The service's name, as the spec's directory: <runtime dir>/<service>/<spec file>. */
static void name_process(const char *prefix, const char *spec_path)
{
    char name[64];
    const char *end = strrchr(spec_path, '/');
    const char *start = end;
    while (start && start > spec_path && start[-1] != '/')
        start--;
    int len = (start && end) ? (int)(end - start) : 0;
    snprintf(name, sizeof name, "%s%.*s", prefix, len, start ? start : "");
    prctl(PR_SET_NAME, name, 0, 0, 0);    /* best effort: only `ps` and logs read it */
    pw_trace_set_role(name + 3);          /* "tpl:main", "iso:main" */
}

void pw_process_name(const char *prefix, const char *spec_path)
{
    name_process(prefix, spec_path);
}

static pw_snapshot_t start_type;

static int sandboxed;

/* The spec's fields the C side needs before Python loads it. */
typedef struct {
    char dir[PATH_MAX];
    char config_dir[PATH_MAX];      /* where python_modules/ and requirement files live */
    int sandbox;
    double memory_limit_mib;
    unsigned cpu_limit_ms;          /* bounds the top-level code too (startup_limits.h) */
} spec_settings_t;

static int read_settings(const char *spec_path, spec_settings_t *out, char *err, size_t err_len)
{
    /* The whole file, however large: binding values make it as large as the config allows. */
    FILE *f = fopen(spec_path, "rb");
    size_t len = 0, cap = 1 << 16;
    char *text = f ? malloc(cap) : NULL;
    for (size_t n = 1; text && n > 0; ) {
        if (cap - len < 2) {
            char *bigger = realloc(text, cap * 2);
            if (!bigger) {
                free(text);
                text = NULL;
                errno = ENOMEM;
                break;
            }
            text = bigger;
            cap *= 2;
        }
        n = fread(text + len, 1, cap - len - 1, f);
        len += n;
    }
    if (text && ferror(f)) {
        free(text);
        text = NULL;
        errno = EIO;
    }
    int saved = errno;
    if (f)
        fclose(f);
    if (!text) {
        snprintf(err, err_len, "cannot read the worker spec %s: %s", spec_path, strerror(saved));
        return -1;
    }
    text[len] = '\0';
    cJSON *spec = cJSON_Parse(text);
    free(text);
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(spec, "dir");
    if (!cJSON_IsString(dir)) {
        snprintf(err, err_len, "cannot read the worker spec %s", spec_path);
        cJSON_Delete(spec);
        return -1;
    }
    snprintf(out->dir, sizeof out->dir, "%s", dir->valuestring);
    const cJSON *config_dir = cJSON_GetObjectItemCaseSensitive(spec, "config_dir");
    snprintf(out->config_dir, sizeof out->config_dir, "%s",
             cJSON_IsString(config_dir) ? config_dir->valuestring : "");
    out->sandbox = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(spec, "sandbox"));
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(spec, "memory_limit_mib");
    out->memory_limit_mib = cJSON_IsNumber(mem) ? mem->valuedouble : 0;
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(spec, "cpu_limit_ms");
    out->cpu_limit_ms = cJSON_IsNumber(cpu) && cpu->valuedouble > 0 ? (unsigned)cpu->valuedouble : 0;
    cJSON_Delete(spec);
    return 0;
}

int pw_template_guard_settings(const char *spec_path, int *sandbox, unsigned *cpu_limit_ms)
{
    char err[256];
    spec_settings_t settings;
    if (read_settings(spec_path, &settings, err, sizeof err) < 0)
        return -1;
    *sandbox = settings.sandbox;
    *cpu_limit_ms = settings.cpu_limit_ms;
    return 0;
}

int pw_template_fence(int ctl_fd, int notify_forks, char *err, size_t err_len)
{
    pw_seccomp_prog_t prog;
    int rc = pw_seccomp_build_template(&prog, notify_forks);
    if (rc < 0) {
        snprintf(err, err_len, "sandbox: cannot build the template's seccomp filter: %s",
                 strerror(-rc));
        return -1;
    }
    int listener = pw_seccomp_apply_template(&prog, notify_forks);
    if (listener < 0) {
        snprintf(err, err_len, "sandbox: cannot load the template's seccomp filter: %s",
                 strerror(-listener));
        return -1;
    }
    if (!notify_forks)
        return 0;
    rc = pw_control_send(ctl_fd, PW_FRAME_CTL_GUARD_LISTENER, 0, NULL, 0, listener);
    close(listener);
    if (rc < 0) {
        snprintf(err, err_len, "sandbox: cannot hand the fork listener to the guard: %s",
                 strerror(-rc));
        return -1;
    }
    return 0;
}

/* Next to the config, what the package resolver reads (not the config dir itself). */
static const char *const config_dir_entries[] = {
    "python_modules", "pyproject.toml", "requirements.txt", NULL,
};

/* Everything Python may read: sys.path (stdlib, packages, the SDK), the worker's dir, and
 * its vendored packages and requirement files next to the config. */
static int enter_sandbox(const spec_settings_t *settings, char *err, size_t err_len)
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
    };
    int rc = pw_sandbox_template_enter(&conf, err, err_len);
    if (rc == 0)
        rc = pw_audit_allow_read((const char *const *)dirs, n);
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
    name_process("pw-iso:", spec_path);     /* before seccomp, which refuses prctl */
    uint64_t start = pw_trace_clock();
    if (sandboxed && pw_sandbox_isolate_enter(err, sizeof err) < 0) {
        fprintf(stderr, "pyworkerd: isolate %d: %s\n", (int)getpid(), err);
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
    name_process("pw-tpl:", spec_path);
    char *error_text = NULL;
    char err[1024] = "";
    spec_settings_t settings;
    if (read_settings(spec_path, &settings, err, sizeof err) < 0 ||
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
    int loaded = snapshot == PW_SNAPSHOT_PACKAGE ? pw_python_load_worker(spec_path, &error_text)
                                                 : pw_startmode_probe_worker(spec_path, sandboxed,
                                                                             &error_text);
    pw_startup_limits_disarm();
    if (loaded < 0) {
        size_t len = strlen(error_text);
        if (len > PW_CONTROL_MAX - 64)
            len = PW_CONTROL_MAX - 64;
        pw_control_send(ctl_fd, PW_FRAME_CTL_TEMPLATE_FAILED, 0, error_text, len, -1);
        free(error_text);
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
