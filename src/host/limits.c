/* limits.c — CPU budget windows of isolates (host process; see limits.h). Reads
 * /proc/PID/stat of busy isolates only, once per pool tick.
 */
#include "host/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pw_limits_cpu_ms(int pid, uint64_t *out)
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

int pw_cpu_window_check(pw_cpu_window_t *w, int pid, size_t n_inflight, uint64_t calls_started,
                        uint64_t limit_ms)
{
    if (n_inflight == 0) {
        w->active = 0;
        return 0;
    }
    uint64_t cpu;
    if (pw_limits_cpu_ms(pid, &cpu) < 0)
        return 0;   /* exiting: the pool sees the EOF */
    if (!w->active) {
        w->active = 1;
        w->cpu_base_ms = cpu;
        w->calls_base = calls_started - n_inflight;
        return 0;
    }
    uint64_t budget = limit_ms * (calls_started - w->calls_base);
    return cpu - w->cpu_base_ms > budget;
}
