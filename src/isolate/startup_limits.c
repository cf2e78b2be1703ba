/* startup_limits.c — RLIMIT_CPU and alarm() around a template's import of the worker
 * (template process; see startup_limits.h). The failure frames are encoded before the limits
 * are armed: a signal handler may only call async-signal-safe functions (send, _exit).
 */
#include "isolate/startup_limits.h"
#include "wire/frame.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MIN_WALL_S 60u

typedef struct {
    char data[512];
    size_t len;
} prebuilt_t;

static int limits_fd = -1;
static prebuilt_t cpu_frame, wall_frame;

static void prebuild(prebuilt_t *out, const char *text)
{
    pw_buf_t buf;
    size_t start;
    pw_buf_init(&buf);
    out->len = 0;
    if (pw_frame_begin(&buf, PW_FRAME_CTL_TEMPLATE_FAILED, 0, &start) == 0 &&
        pw_buf_append(&buf, text, strlen(text)) == 0 && pw_frame_end(&buf, start) == 0 &&
        buf.len <= sizeof out->data) {
        memcpy(out->data, buf.data, buf.len);
        out->len = buf.len;
    }
    pw_buf_free(&buf);
}

static void fail_with(const prebuilt_t *frame)
{
    if (limits_fd >= 0 && frame->len)
        (void)!send(limits_fd, frame->data, frame->len, MSG_NOSIGNAL);
    _exit(1);
}

static void on_cpu_limit(int sig)
{
    (void)sig;
    fail_with(&cpu_frame);
}

static void on_wall_limit(int sig)
{
    (void)sig;
    fail_with(&wall_frame);
}

void pw_startup_limits_arm(int ctl_fd, unsigned cpu_limit_ms)
{
    if (cpu_limit_ms == 0)
        return;
    unsigned cpu_s = (cpu_limit_ms + 999) / 1000;
    unsigned wall_s = pw_startup_wall_limit_s(cpu_limit_ms);
    char text[400];
    snprintf(text, sizeof text, "the worker's top-level code used more than %u s of CPU time "
             "while loading (its CPU limit: --cpu-limit-ms or pyworkerd = (cpuLimitMs = ...)); "
             "an endless loop at module level?", cpu_s);
    prebuild(&cpu_frame, text);
    snprintf(text, sizeof text, "the worker's top-level code did not finish loading within %u s "
             "(twice its CPU limit, at least %u s); is it waiting for something at module level?",
             wall_s, MIN_WALL_S);
    prebuild(&wall_frame, text);
    limits_fd = ctl_fd;
    signal(SIGXCPU, on_cpu_limit);
    signal(SIGALRM, on_wall_limit);
    struct rlimit rl;
    if (getrlimit(RLIMIT_CPU, &rl) == 0 && (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > cpu_s)) {
        rl.rlim_cur = cpu_s;
        setrlimit(RLIMIT_CPU, &rl);
    }
    alarm(wall_s);
}

unsigned pw_startup_wall_limit_s(unsigned cpu_limit_ms)
{
    unsigned cpu_s = (cpu_limit_ms + 999) / 1000;
    if (cpu_limit_ms == 0)
        return 0;
    return 2 * cpu_s > MIN_WALL_S ? 2 * cpu_s : MIN_WALL_S;
}

void pw_startup_limits_disarm(void)
{
    if (limits_fd < 0)
        return;
    alarm(0);
    struct rlimit rl;
    if (getrlimit(RLIMIT_CPU, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_CPU, &rl);
    }
    signal(SIGXCPU, SIG_DFL);
    signal(SIGALRM, SIG_DFL);
    limits_fd = -1;
}
