/* log.h — the host's one logger: lifecycle lines, errors and the access log, all on stderr,
 * one write(2) per line so that lines from isolates (which share stderr) never interleave
 * inside a line.
 */
#ifndef PW_LOG_H
#define PW_LOG_H

#include <stddef.h>
#include <stdint.h>

void pw_log_set_verbose(int verbose);
int pw_log_verbose_enabled(void);

/* "pyworkerd: <message>" */
void pw_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with --verbose. */
void pw_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One access-log line: time, worker, method, path, status, body bytes, duration in ms.
 * Buffered: the host calls pw_log_flush() once per event-loop turn and before exiting. */
void pw_log_access(const char *worker, const char *method, size_t method_len, const char *path,
                   size_t path_len, int status, size_t bytes, uint64_t duration_ns);

void pw_log_flush(void);

#endif
