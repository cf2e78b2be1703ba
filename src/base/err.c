/* err.c — writing an error message into a caller's buffer (every process). See err.h. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pw_err_set(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int pw_err_errno(char *err, size_t err_len, int errnum, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < err_len)
            snprintf(err + n, err_len - (size_t)n, ": %s", strerror(errnum));
    }
    return errnum > 0 ? -errnum : -1;
}
