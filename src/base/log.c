/* log.c — writing log lines to stderr (host process; the trace lines in every process).
 * Each line is formatted into one buffer and written with a single write(2).
 */
#include "base/log.h"
#include "base/fd.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A message longer than the line buffer (a worker's traceback) is formatted on the heap,
 * still into one write. */
static void log_v(const char *fmt, va_list ap)
{
    char line[8192];
    va_list again;
    va_copy(again, ap);
    int len = snprintf(line, sizeof line, "pyworkerd: ");
    int n = vsnprintf(line + len, sizeof line - (size_t)len, fmt, ap);
    char *big = n >= 0 && (size_t)(len + n) + 2 > sizeof line ? malloc((size_t)(len + n) + 2) : NULL;
    if (big) {
        memcpy(big, line, (size_t)len);
        vsnprintf(big + len, (size_t)n + 1, fmt, again);
        write_line(big, len + n, (size_t)(len + n) + 2);
        free(big);
    } else {
        write_line(line, n < 0 ? n : len + n, sizeof line);
    }
    va_end(again);
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

/* Access lines are gathered and written once per event-loop turn (pw_log_flush), or
 * when the buffer fills: one write(2) for a burst of requests instead of one each. */
static __thread char access_buf[64 * 1024];     /* each host loop thread flushes its own */
static __thread size_t access_len;

void pw_log_flush(void)
{
    (void)pw_fd_write_all(STDERR_FILENO, access_buf, access_len);  /* nowhere to report it */
    access_len = 0;
}

/* "YYYY-MM-DDTHH:MM:SS", formatted once per second. */
static const char *utc_seconds(time_t now)
{
    static __thread time_t cached_at = -1;
    static __thread char text[32];
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_at = now;
    }
    return text;
}

/* "req=<16 hex digits>\n" (PW_LOG_REQUEST_ID's form) without printf, which costs the host
 * ~600 instructions per request more for this field. Returns the bytes written (21). */
static size_t put_request_id(char *out, uint64_t id)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "req=", 4);
    for (int i = 0; i < 16; i++)
        out[4 + i] = hex[(id >> (60 - 4 * i)) & 0xf];
    out[20] = '\n';
    return 21;
}

void pw_log_access(const char *worker, const char *method, size_t method_len, const char *path,
                   size_t path_len, int status, size_t bytes, uint64_t duration_ns,
                   uint64_t request_id)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (sizeof access_buf - access_len < 2048 + 512)
        pw_log_flush();
    char *line = access_buf + access_len;
    size_t room = sizeof access_buf - access_len;
    int len = snprintf(line, room, "%s.%03dZ %s %.*s %.*s %d %zu %.3fms ",
                       utc_seconds(tv.tv_sec), (int)(tv.tv_usec / 1000), worker,
                       (int)method_len, method, (int)(path_len > 2048 ? 2048 : path_len), path,
                       status, bytes, (double)duration_ns / 1e6);
    if (len <= 0)
        return;
    if ((size_t)len + 22 > room)
        access_len += room - 1;     /* a worker name longer than any config allows: cut */
    else
        access_len += (size_t)len + put_request_id(line + len, request_id);
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
