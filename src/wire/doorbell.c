/* doorbell.c — an isolate's doorbell (doorbell.h): created and rung by the isolate, received
 * and drained by the host. */
#include "wire/doorbell.h"
#include "wire/control.h"
#include "wire/frame.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int pw_doorbell_offer(int sock)
{
    int bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (bell < 0)
        return -errno;
    int rc = pw_control_send(sock, PW_FRAME_DOORBELL, 0, NULL, 0, bell);
    if (rc < 0) {
        close(bell);
        return rc;
    }
    return bell;
}

void pw_doorbell_ring(int bell)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(bell, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is full, so the bell is rung already */
}

static int is_eventfd(int fd)
{
    char path[32], target[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0)
        return 0;
    target[n] = '\0';
    return strcmp(target, "anon_inode:[eventfd]") == 0;
}

ssize_t pw_doorbell_recv(int sock, void *buf, size_t len, int *bell)
{
    int passed = -1;
    ssize_t n = pw_doorbell_recv_fd(sock, buf, len, bell, &passed);
    if (passed >= 0)
        close(passed);
    return n;
}

ssize_t pw_doorbell_recv_fd(int sock, void *buf, size_t len, int *bell, int *passed_out)
{
    union {
        struct cmsghdr hdr;
        char space[CMSG_SPACE(4 * sizeof(int))];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.space, .msg_controllen = sizeof control.space };
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    int passed = n >= 0 && msg.msg_controllen > 0 ? pw_control_take_fd(&msg) : -1;
    *passed_out = -1;
    if (passed >= 0 && *bell < 0 && is_eventfd(passed))
        *bell = passed;
    else if (passed >= 0)
        *passed_out = passed;
    return n;
}

void pw_doorbell_drain(int bell)
{
    uint64_t count;
    struct iovec iov = { .iov_base = &count, .iov_len = sizeof count };
    ssize_t n;
    do
        n = preadv2(bell, &iov, 1, -1, RWF_NOWAIT);
    while (n < 0 && errno == EINTR);
}
