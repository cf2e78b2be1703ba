/* log.c — writing log lines to stderr (host process; the trace lines in every process).
 * Each line is formatted into one buffer and written with a single write(2).
 */
#include "host/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int verbose_enabled;

void pw_log_set_verbose(int verbose)
{
    verbose_enabled = verbose;
}

int pw_log_verbose_enabled(void)
{
    return verbose_enabled;
}

static void write_line(char *line, int len, size_t cap)
{
    if (len < 0)
        return;
    if ((size_t)len >= cap - 1)
        len = (int)cap - 2;
    line[len++] = '\n';
    ssize_t unused = write(STDERR_FILENO, line, (size_t)len);
    (void)unused;   /* nowhere left to report a failed log write */
}

static void log_v(const char *fmt, va_list ap)
{
    char line[8192];
    int len = snprintf(line, sizeof line, "pyworkerd: ");
    len += vsnprintf(line + len, sizeof line - (size_t)len, fmt, ap);
    write_line(line, len, sizeof line);
}

void pw_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(fmt, ap);
    va_end(ap);
}

void pw_log_info(const char *fmt, ...)
{
    if (!verbose_enabled)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_v(fmt, ap);
    va_end(ap);
}

void pw_log_access(const char *worker, const char *method, size_t method_len, const char *path,
                   size_t path_len, int status, size_t bytes, uint64_t duration_ns)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    char line[4096];
    int len = snprintf(line, sizeof line,
                       "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %.*s %.*s %d %zu %.3fms",
                       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                       tm.tm_sec, (int)(tv.tv_usec / 1000), worker, (int)method_len, method,
                       (int)(path_len > 2048 ? 2048 : path_len), path, status, bytes,
                       (double)duration_ns / 1e6);
    write_line(line, len, sizeof line);
}

/* ---- PYTHON_TRACE ---- */

int pw_trace_on;
static char trace_role[64] = "host";

void pw_trace_enable(void)
{
    pw_trace_on = 1;
}

void pw_trace_set_role(const char *role)
{
    snprintf(trace_role, sizeof trace_role, "%s", role);
}

uint64_t pw_trace_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void trace_v(uint64_t duration_ns, const char *fmt, va_list ap)
{
    char line[1024];
    int len = snprintf(line, sizeof line, "trace %s[%d] ", trace_role, (int)getpid());
    len += vsnprintf(line + len, sizeof line - (size_t)len, fmt, ap);
    if ((size_t)len >= sizeof line - 32)
        len = (int)sizeof line - 32;
    len += snprintf(line + len, sizeof line - (size_t)len, ": %.3f ms", (double)duration_ns / 1e6);
    write_line(line, len, sizeof line);
}

void pw_trace_step(uint64_t start_ns, const char *fmt, ...)
{
    uint64_t now = pw_trace_clock();
    va_list ap;
    va_start(ap, fmt);
    trace_v(now > start_ns ? now - start_ns : 0, fmt, ap);
    va_end(ap);
}

void pw_trace_step_ns(uint64_t duration_ns, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    trace_v(duration_ns, fmt, ap);
    va_end(ap);
}
