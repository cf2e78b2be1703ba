/* test_doorbell.c — an isolate's doorbell (wire/doorbell.h) over a real socketpair: offered
 * with the first frame, taken by the receiver, rung and drained; what a hostile isolate could
 * pass instead is refused, and draining never blocks. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include "unit.h"
#include "wire/doorbell.h"
#include "wire/frame.h"

static int readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

/* A socketpair whose sv[1] end offered a doorbell that sv[0]'s end took as *bell. */
static void open_rung_pair(int sv[2], int *offered, int *bell)
{
    uint8_t buf[64];
    *bell = -1;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    *offered = pw_doorbell_offer(sv[1]);
    CHECK(*offered >= 0);
    CHECK(pw_doorbell_recv(sv[0], buf, sizeof buf, bell) == PW_FRAME_HEADER_SIZE);
    CHECK(*bell >= 0 && *bell != *offered);
}

static void close_all(int sv[2], int a, int b)
{
    close(a);
    close(b);
    close(sv[0]);
    close(sv[1]);
}

TEST(the_first_frame_carries_the_doorbell_and_rings_wake_the_receiver)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int offered = pw_doorbell_offer(sv[1]);
    CHECK(offered >= 0);
    uint8_t buf[64];
    int bell = -1;
    ssize_t n = pw_doorbell_recv(sv[0], buf, sizeof buf, &bell);
    CHECK(n == PW_FRAME_HEADER_SIZE);
    pw_frame_t f;
    size_t used;
    CHECK(pw_frame_parse(buf, (size_t)n, &f, &used) == 1 && f.type == PW_FRAME_DOORBELL && f.len == 0);
    CHECK(bell >= 0 && bell != offered);
    CHECK(!readable(bell));
    pw_doorbell_ring(offered);
    pw_doorbell_ring(offered);
    CHECK(readable(bell));
    pw_doorbell_drain(bell);
    CHECK(!readable(bell));
    close(offered);
    close(bell);
    close(sv[0]);
    close(sv[1]);
}

TEST(a_descriptor_that_is_not_an_eventfd_is_closed_not_taken)
{
    int sv[2], pipe_fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(pipe(pipe_fds) == 0);
    int before = open_fds();
    char byte = 'x';
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { struct cmsghdr h; char space[CMSG_SPACE(sizeof(int))]; } control = { 0 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                          .msg_controllen = sizeof control.space };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pipe_fds[0], sizeof(int));
    CHECK(sendmsg(sv[1], &msg, 0) == 1);
    uint8_t buf[8];
    int bell = -1;
    CHECK(pw_doorbell_recv(sv[0], buf, sizeof buf, &bell) == 1 && buf[0] == 'x');
    CHECK(bell == -1);
    CHECK(open_fds() == before);    /* the passed pipe end was closed again */
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    close(sv[0]);
    close(sv[1]);
}

TEST(a_second_doorbell_does_not_replace_the_first)
{
    int sv[2], first, bell;
    open_rung_pair(sv, &first, &bell);
    int taken = bell;
    int before = open_fds();
    int second = pw_doorbell_offer(sv[1]);
    uint8_t buf[64];
    CHECK(pw_doorbell_recv(sv[0], buf, sizeof buf, &bell) == PW_FRAME_HEADER_SIZE);
    CHECK(bell == taken);
    CHECK(open_fds() == before + 1);    /* only the sender's own second eventfd */
    close(second);
    close_all(sv, first, bell);
}

TEST(draining_never_blocks_even_if_the_isolate_cleared_o_nonblock)
{
    int sv[2], offered, bell;
    open_rung_pair(sv, &offered, &bell);
    int flags = fcntl(offered, F_GETFL);
    CHECK(fcntl(offered, F_SETFL, flags & ~O_NONBLOCK) == 0);   /* one open file, both ends */
    pw_doorbell_drain(bell);    /* nothing rung: would block without RWF_NOWAIT */
    pw_doorbell_ring(offered);
    pw_doorbell_drain(bell);
    CHECK(!readable(bell));
    close_all(sv, offered, bell);
}

TEST(recv_reports_the_end_of_the_stream)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    close(sv[1]);
    uint8_t buf[8];
    int bell = -1;
    CHECK(pw_doorbell_recv(sv[0], buf, sizeof buf, &bell) == 0);
    CHECK(pw_doorbell_recv(sv[0], buf, 0, &bell) == 0);
    close(sv[0]);
}

int main(void)
{
    RUN(the_first_frame_carries_the_doorbell_and_rings_wake_the_receiver);
    RUN(a_descriptor_that_is_not_an_eventfd_is_closed_not_taken);
    RUN(a_second_doorbell_does_not_replace_the_first);
    RUN(draining_never_blocks_even_if_the_isolate_cleared_o_nonblock);
    RUN(recv_reports_the_end_of_the_stream);
    return UNIT_DONE();
}
