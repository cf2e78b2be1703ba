/* fd.c — whole-buffer I/O and descriptor flags (every process). See fd.h. */
#include "base/fd.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int pw_fd_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EPIPE;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int pw_fd_read_exact(int fd, void *data, size_t n)
{
    char *p = data;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EPIPE;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int pw_fd_read_to_end(int fd, pw_buf_t *out)
{
    int rc = pw_buf_append_text(out, "", 0);
    while (rc == 0) {
        rc = pw_buf_reserve(out, 4096 + 1);
        if (rc < 0)
            break;
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        out->len += (size_t)r;
        out->data[out->len] = '\0';
    }
    return rc;
}

static int set_flag(int fd, int get, int set, int flag, int on)
{
    int flags = fcntl(fd, get);
    if (flags < 0)
        return -errno;
    int want = on ? flags | flag : flags & ~flag;
    if (want != flags && fcntl(fd, set, want) < 0)
        return -errno;
    return 0;
}

int pw_fd_set_nonblock(int fd, int on)
{
    return set_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, on);
}

int pw_fd_set_cloexec(int fd, int on)
{
    return set_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on);
}
