/* log.c — writing log lines to stderr (host process). Each line is formatted into one
 * buffer and written with a single write(2).
 */
#include "host/log.h"

#include <stdarg.h>
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
