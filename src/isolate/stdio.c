/* stdio.c — a worker process's fds 1 and 2 (template and isolate; called right after fork,
 * before any user code runs in the child): both become the write end of the pipe the host
 * made for this process, whose lines it reads, tags with the process and rate-limits
 * (host/child_log.h). Whatever writes to them — print(), a C extension, CPython's own
 * fatal-error output — reaches only that pipe: the host's log file or terminal, which a
 * worker could truncate, seek, overwrite or fill, is never one of this process's descriptors.
 * (Its stdin is /dev/null from the zygote on: host/supervisor.c.)
 * Invariant: after pw_stdio_adopt() returns 0, fds 1 and 2 are the given pipe (or /dev/null).
 */
#include "isolate/stdio.h"
#include "base/fd.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int dup_onto(int fd, int target)
{
    if (fd == target)
        return 0;
    int rc;
    do
        rc = dup2(fd, target);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

/* fd, moved above 2 if it is 1 or 2; -errno if it cannot be. */
static int above_stdio(int fd)
{
    if (fd != STDOUT_FILENO && fd != STDERR_FILENO)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    return moved < 0 ? -errno : moved;     /* the old number is overwritten below */
}

int pw_stdio_adopt(int fd, int *keep)
{
    if (keep && *keep >= 0 && (*keep = above_stdio(*keep)) < 0)
        return *keep;
    if (fd < 0 && (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
        return -errno;
    int rc = dup_onto(fd, STDOUT_FILENO);
    if (rc == 0)
        rc = dup_onto(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
    /* a pipe that arrived as 1 or 2 still has the close-on-exec it was received with */
    if (rc == 0)
        rc = pw_fd_set_cloexec(STDOUT_FILENO, 0);
    if (rc == 0)
        rc = pw_fd_set_cloexec(STDERR_FILENO, 0);
    return rc;
}
