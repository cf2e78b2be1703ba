/* doorbell.c — an isolate's doorbell (doorbell.h): created and rung by the isolate, received
 * and drained by the host. */
#include "wire/doorbell.h"
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

static int send_with_fd(int sock, const void *data, size_t len, int fd)
{
    union {
        struct cmsghdr hdr;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.space, .msg_controllen = sizeof control.space };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EAGAIN;
}

int pw_doorbell_offer(int sock)
{
    int bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (bell < 0)
        return -errno;
    pw_buf_t frame;
    pw_buf_init(&frame);
    int rc = pw_frame_put_empty(&frame, PW_FRAME_DOORBELL, 0);
    if (rc == 0)
        rc = send_with_fd(sock, frame.data, frame.len, bell);
    pw_buf_free(&frame);
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

/* Keeps the first eventfd passed in `msg` as *bell; closes every other descriptor. */
static void take_passed_fds(struct msghdr *msg, int *bell)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*bell < 0 && is_eventfd(fd))
                *bell = fd;
            else
                close(fd);
        }
    }
}

ssize_t pw_doorbell_recv(int sock, void *buf, size_t len, int *bell)
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
    if (n >= 0 && msg.msg_controllen > 0)
        take_passed_fds(&msg, bell);
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
