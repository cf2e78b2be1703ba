/* log.h — pyworkerd's one logger: lifecycle lines, errors and the access log (host), and the
 * PYTHON_TRACE lines that every process writes (host, zygote, templates, isolates), all on
 * stderr, one write(2) per line so that lines from several processes never interleave inside
 * a line.
 */
#ifndef PW_LOG_H
#define PW_LOG_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

/* How a request's id (http/request_id.h) appears on every log line about the request, the
 * isolate's included (python/pyworkerd/log.py writes the same): "req=" and 16 hex digits. */
#define PW_LOG_REQUEST_ID "req=%016" PRIx64

void pw_log_set_verbose(int verbose);
int pw_log_verbose_enabled(void);

/* "pyworkerd: <message>" */
void pw_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with --verbose. */
void pw_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One access-log line: time, worker, method, path, status, body bytes, duration in ms, and
 * the request's id (PW_LOG_REQUEST_ID).
 * Buffered: the host calls pw_log_flush() once per event-loop turn and before exiting. */
void pw_log_access(const char *worker, const char *method, size_t method_len, const char *path,
                   size_t path_len, int status, size_t bytes, uint64_t duration_ns,
                   uint64_t request_id);

void pw_log_flush(void);

/* ---- PYTHON_TRACE=1 ----
 * One line per lifecycle step, with its duration:
 *     trace <role>[<pid>] <step>: <ms> ms
 * Steps: "zygote init", "template forked", "requirements resolved", "import <module>",
 * "template ready", "isolate spawn requested"/"isolate started" (host), "isolate forked",
 * "sandbox applied" (the sandbox's step: wrap its per-isolate entry in
 * `uint64_t t = pw_trace_clock(); ...; PW_TRACE(t, "sandbox applied");`), "python after-fork",
 * "reseeded", "isolate ready", "request dispatched", "request finished". Off, a step costs one
 * test of pw_trace_on. */
extern int pw_trace_on;

/* Turns tracing on in this process (the host reads PYTHON_TRACE; children get --trace). */
void pw_trace_enable(void);
/* What the lines of this process call it: "host", "zygote", "template:main", ... */
void pw_trace_set_role(const char *role);
/* CLOCK_MONOTONIC in nanoseconds (the clock of Python's time.perf_counter()). */
uint64_t pw_trace_clock(void);
/* The same clock in milliseconds (deadlines, rate windows). */
static inline uint64_t pw_clock_ms(void)
{
    return pw_trace_clock() / 1000000u;
}
/* Writes one line whose duration is now - start_ns. Call through PW_TRACE. */
void pw_trace_step(uint64_t start_ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a duration given in nanoseconds. */
void pw_trace_step_ns(uint64_t duration_ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define PW_TRACE(start_ns, ...) \
    do { if (pw_trace_on) pw_trace_step((start_ns), __VA_ARGS__); } while (0)

#endif
