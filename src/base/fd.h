/* fd.h — blocking whole-buffer reads and writes and descriptor flags, for every process
 * (the host's config loader and log, the zygote's and isolates' pipes). Each retries on
 * EINTR and returns 0 or a negative errno (base/err.h's convention).
 */
#ifndef PW_BASE_FD_H
#define PW_BASE_FD_H

#include "base/buf.h"

#include <stddef.h>

/* Writes all n bytes (a short write is continued); -EPIPE if the file takes no more. */
int pw_fd_write_all(int fd, const void *data, size_t n);
/* Reads exactly n bytes; -EPIPE at end of file before that. */
int pw_fd_read_exact(int fd, void *data, size_t n);
/* Reads until end of file, appended to `out` as text (pw_buf_text() is a C string after). */
int pw_fd_read_to_end(int fd, pw_buf_t *out);

int pw_fd_set_nonblock(int fd, int on);
int pw_fd_set_cloexec(int fd, int on);

#endif
