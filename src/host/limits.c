/* limits.c — CPU accounting of isolates and how they ended (host process; see limits.h).
 * Reads /proc/PID/stat of every live isolate once per pool tick, and an isolate's pidfd once
 * its socket closed. Pure functions of their inputs apart from those two reads.
 */
#include "host/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int pw_limits_cpu_ms(int pid, uint64_t *out, int *running)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    /* fields after "(comm)": state is field 3, utime 14, stime 15 */
    char *p = strrchr(buf, ')');
    if (!p)
        return -EIO;
    p++;
    if (running)
        *running = p[0] == ' ' && p[1] == 'R';
    for (int field = 3; field < 14; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -EIO;
    }
    char *end;
    unsigned long long utime = strtoull(p + 1, &end, 10);
    unsigned long long stime = strtoull(end, NULL, 10);
    static long ticks_per_s;
    if (!ticks_per_s)
        ticks_per_s = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
    *out = (utime + stime) * 1000 / (unsigned long long)ticks_per_s;
    return 0;
}

int pw_limits_exiting(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;   /* reaped */
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    /* after "(comm)": state is field 3, flags field 9 (PF_EXITING 0x4) */
    char *p = strrchr(buf, ')');
    if (!p || !p[1] || !p[2])
        return 1;
    if (p[2] == 'Z' || p[2] == 'X')
        return 1;
    p++;
    for (int field = 3; field < 9; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return 1;
    }
    return (strtoul(p + 1, NULL, 10) & 0x4) != 0;
}

static void cpu_account_start(pw_cpu_account_t *a, uint64_t cpu_ms, size_t n_inflight,
                              uint64_t calls_started, uint64_t limit_ms)
{
    a->started = 1;
    a->cpu_ms = cpu_ms;                 /* its start is not charged */
    a->calls_seen = calls_started - n_inflight;
    a->credit_ms = (int64_t)limit_ms;   /* as an idle isolate's */
    a->inflight_last = 0;
    a->busy_idle = a->burning = 0;
    a->busy_idle_ticks = 0;
    a->burning_ms = 0;
}

int pw_cpu_account_tick(pw_cpu_account_t *a, uint64_t cpu_ms, int running, size_t n_inflight,
                        uint64_t calls_started, uint64_t limit_ms, uint64_t elapsed_ms)
{
    if (!a->started)
        cpu_account_start(a, cpu_ms, n_inflight, calls_started, limit_ms);
    uint64_t used = cpu_ms > a->cpu_ms ? cpu_ms - a->cpu_ms : 0;
    uint64_t new_calls = calls_started - a->calls_seen;
    int idle_all_tick = a->inflight_last == 0 && new_calls == 0 && n_inflight == 0;
    /* requests reaching an idle, quiet isolate start from nothing: no earlier request's
     * leftover pays for their work */
    if (new_calls && a->inflight_last == 0 && !a->busy_idle && a->credit_ms > 0)
        a->credit_ms = 0;
    a->credit_ms += (int64_t)(new_calls * limit_ms) - (int64_t)used;
    if (n_inflight == 0 && a->credit_ms > (int64_t)limit_ms)
        a->credit_ms = (int64_t)limit_ms;
    a->cpu_ms = cpu_ms;
    a->calls_seen = calls_started;
    a->inflight_last = n_inflight;
    a->busy_idle = idle_all_tick && running && used > 0;
    a->busy_idle_ticks = a->busy_idle ? a->busy_idle_ticks + 1 : 0;
    a->burning = a->busy_idle_ticks >= 2;
    a->burning_ms = a->busy_idle ? a->burning_ms + elapsed_ms : 0;
    if (a->credit_ms < 0)
        return n_inflight ? PW_CPU_OVER_BUSY : PW_CPU_OVER_IDLE;
    if (a->burning_ms >= PW_CPU_AFTER_RESPONSE_MS)
        return PW_CPU_OVER_IDLE;
    return PW_CPU_OK;
}

/* ---- how an isolate ended ---- */

static const char *signal_meaning(int sig)
{
    switch (sig) {
    case SIGSYS: return "a forbidden system call";
    case SIGKILL: return "killed from outside, or out of memory";
    case SIGSEGV: return "segmentation fault: an invalid memory access";
    case SIGBUS: return "bus error: an invalid memory access";
    case SIGABRT: return "aborted";
    case SIGFPE: return "arithmetic exception";
    case SIGILL: return "illegal instruction";
    case SIGXCPU: return "CPU time limit";
    case SIGXFSZ: return "file size limit";
    case SIGTERM: return "terminated";
    default: return NULL;
    }
}

const char *pw_exit_describe(int wait_status, char *buf, size_t len)
{
    if (WIFEXITED(wait_status)) {
        snprintf(buf, len, "it exited with status %d", WEXITSTATUS(wait_status));
    } else if (WIFSIGNALED(wait_status)) {
        int sig = WTERMSIG(wait_status);
        const char *name = sigabbrev_np(sig);
        const char *meaning = signal_meaning(sig);
        if (name)
            snprintf(buf, len, "it was killed by SIG%s%s%s", name, meaning ? ": " : "",
                     meaning ? meaning : "");
        else
            snprintf(buf, len, "it was killed by signal %d", sig);
    } else {
        snprintf(buf, len, "it exited (wait status %#x)", (unsigned)wait_status);
    }
    return buf;
}

int pw_exit_pidfd_open(int pid)
{
#ifdef SYS_pidfd_open
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
#else
    (void)pid;
    return -ENOSYS;
#endif
}

/* <linux/pidfd.h> of Linux 6.15; Debian 12's headers predate it. */
struct pw_pidfd_info {
    uint64_t mask;
    uint64_t cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
};
#define PW_PIDFD_GET_INFO _IOWR(0xFF, 11, struct pw_pidfd_info)
#define PW_PIDFD_INFO_EXIT (1ULL << 3)

int pw_exit_status(int pidfd, int *wait_status)
{
    struct pw_pidfd_info info;
    memset(&info, 0, sizeof info);
    info.mask = PW_PIDFD_INFO_EXIT;
    if (ioctl(pidfd, PW_PIDFD_GET_INFO, &info) < 0)
        return -errno;
    if (!(info.mask & PW_PIDFD_INFO_EXIT))
        return 0;
    *wait_status = info.exit_code;
    return 1;
}
