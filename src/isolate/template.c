/* template.c — a worker template (template process): forked from the zygote, it imports
 * the worker's modules once (running their top-level code) and then forks isolates on the
 * host's request, each with the socket the host passed along. It exits when the host closes
 * its control socket; its isolates die with it (PR_SET_PDEATHSIG).
 */
#include "isolate/process.h"
#include "host/log.h"
#include "python/embed.h"
#include "wire/control.h"
#include "wire/frame.h"

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

static void spawn_isolate(int ctl_fd, pw_control_msg_t *msg, const char *spec_path)
{
    int isolate_fd = msg->fd;
    msg->fd = -1;
    if (isolate_fd < 0) {
        pw_control_send_u32(ctl_fd, PW_FRAME_CTL_ISOLATE_SPAWNED, 0);
        return;
    }
    pw_isolate_fork_ns = pw_trace_clock();
    if (start_type == PW_SNAPSHOT_NONE) {
        int cold = pw_startmode_spawn_cold(isolate_fd, spec_path);
        PW_TRACE(pw_isolate_fork_ns, "isolate spawned (cold) pid=%d", cold);
        close(isolate_fd);
        pw_control_send_u32(ctl_fd, PW_FRAME_CTL_ISOLATE_SPAWNED, cold < 0 ? 0 : (uint32_t)cold);
        return;
    }
    pw_isolate_load_spec = start_type == PW_SNAPSHOT_BASELINE ? spec_path : NULL;
    pw_python_before_fork();
    pid_t pid = fork();
    if (pid == 0) {
        pw_python_after_fork_child();
        close(ctl_fd);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
            _exit(1);
        signal(SIGCHLD, SIG_DFL);
        name_process("pw-iso:", spec_path);
        _exit(pw_isolate_main(isolate_fd));
    }
    pw_python_after_fork_parent();
    PW_TRACE(pw_isolate_fork_ns, "isolate forked pid=%d", (int)pid);
    close(isolate_fd);
    pw_control_send_u32(ctl_fd, PW_FRAME_CTL_ISOLATE_SPAWNED, pid < 0 ? 0 : (uint32_t)pid);
}

int pw_template_main(int ctl_fd, const char *spec_path, pw_snapshot_t snapshot)
{
    start_type = snapshot;
    signal(SIGCHLD, SIG_IGN);   /* isolates are reaped by the kernel; the host sees EOF */
    name_process("pw-tpl:", spec_path);
    char *error_text = NULL;
    uint64_t start = pw_trace_clock();
    if ((snapshot == PW_SNAPSHOT_PACKAGE ? pw_python_load_worker(spec_path, &error_text)
                                         : pw_startmode_probe_worker(spec_path, &error_text)) < 0) {
        size_t len = strlen(error_text);
        if (len > PW_CONTROL_MAX - 64)
            len = PW_CONTROL_MAX - 64;
        pw_control_send(ctl_fd, PW_FRAME_CTL_TEMPLATE_FAILED, 0, error_text, len, -1);
        free(error_text);
        return 1;
    }
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
