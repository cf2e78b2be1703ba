/* err.h — the one error convention of the whole tree (every process).
 *
 * A function that can fail returns an int: 0 (or a count, or 1 for "yes") on success, a
 * negative number on failure — -errno where a system call's reason is the reason, else -1.
 * When the caller needs words for a person (a config error, a worker's traceback), the
 * function takes `char *err, size_t err_len` as its last two parameters and writes one
 * message there with pw_err_set(): no trailing newline, always NUL-terminated, truncated to
 * fit. A worker's traceback is such a message; callers that relay one give it
 * PW_ERR_TEXT_MAX bytes.
 */
#ifndef PW_BASE_ERR_H
#define PW_BASE_ERR_H

#include <stddef.h>

/* Room for the longest message passed between processes (a traceback in a control frame
 * of PW_CONTROL_MAX bytes, less room for the frame itself). */
#define PW_ERR_TEXT_MAX (128 * 1024 - 64)

/* Writes the message (printf-style) and returns -1, so `return pw_err_set(...)` fails. */
int pw_err_set(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same with an errno: "<message>: <strerror(errnum)>", and returns -errnum. */
int pw_err_errno(char *err, size_t err_len, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
