/* test_control.c — control messages (wire/control.h) over a real SOCK_SEQPACKET pair: the
 * descriptors passed beside a message arrive in the order sent, up to PW_CONTROL_MAX_FDS;
 * more than that are closed, never leaked; a message's descriptors are closed when it is
 * freed, except the ones the caller took. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "unit.h"
#include "wire/control.h"
#include "wire/frame.h"

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static ino_t inode_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* n pipes: sent[i] is a write end, kept[i] its read end (to compare inodes). */
static void make_pipes(int *sent, int *kept, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int p[2];
        CHECK(pipe2(p, O_CLOEXEC) == 0);
        kept[i] = p[0];
        sent[i] = p[1];
    }
}

static void close_list(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

TEST(two_descriptors_arrive_in_the_order_sent)
{
    int sv[2], sent[2], kept[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    make_pipes(sent, kept, 2);
    CHECK(pw_control_send_fds(sv[0], PW_FRAME_CTL_SPAWN_ISOLATE, 7, "x", 1, sent, 2) == 0);
    pw_control_msg_t msg;
    CHECK(pw_control_recv(sv[1], &msg) == 1);
    CHECK(msg.type == PW_FRAME_CTL_SPAWN_ISOLATE && msg.id == 7 && msg.len == 1);
    CHECK(msg.fd >= 0 && inode_of(msg.fd) == inode_of(sent[0]));
    CHECK(msg.more_fds[0] >= 0 && inode_of(msg.more_fds[0]) == inode_of(sent[1]));
    CHECK(msg.more_fds[1] == -1 && msg.more_fds[2] == -1);
    CHECK(fcntl(msg.more_fds[0], F_GETFD) & FD_CLOEXEC);
    int second = pw_control_msg_take_fd(&msg, 1);
    CHECK(second >= 0 && msg.more_fds[0] == -1);
    CHECK(pw_control_msg_take_fd(&msg, PW_CONTROL_MAX_FDS) == -1);
    pw_control_msg_free(&msg);
    CHECK(fcntl(second, F_GETFD) >= 0);     /* taken: still open */
    close(second);
    close_list(sent, 2);
    close_list(kept, 2);
    close(sv[0]);
    close(sv[1]);
}

TEST(a_message_without_descriptors_has_none)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(pw_control_send(sv[0], PW_FRAME_CTL_TEMPLATE_READY, 0, NULL, 0, -1) == 0);
    pw_control_msg_t msg;
    CHECK(pw_control_recv(sv[1], &msg) == 1);
    CHECK(msg.fd == -1);
    for (size_t i = 0; i < PW_CONTROL_MAX_FDS - 1; i++)
        CHECK(msg.more_fds[i] == -1);
    pw_control_msg_free(&msg);
    close(sv[0]);
    close(sv[1]);
}

TEST(more_descriptors_than_the_maximum_are_refused_or_closed)
{
    int sv[2], sent[PW_CONTROL_MAX_FDS + 2], kept[PW_CONTROL_MAX_FDS + 2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    make_pipes(sent, kept, PW_CONTROL_MAX_FDS + 2);
    CHECK(pw_control_send_fds(sv[0], PW_FRAME_CTL_SPAWN_ISOLATE, 0, NULL, 0, sent,
                              PW_CONTROL_MAX_FDS + 1) == -EINVAL);
    int before = open_fds();
    /* a hostile sender passes more than the receiver keeps: the extra ones are closed */
    pw_buf_t buf;
    size_t start;
    pw_buf_init(&buf);
    pw_frame_begin(&buf, PW_FRAME_CTL_TEMPLATE_READY, 0, &start);
    pw_frame_end(&buf, start);
    struct iovec iov = { buf.data, buf.len };
    union { struct cmsghdr align; char space[CMSG_SPACE(sizeof(int) * (PW_CONTROL_MAX_FDS + 2))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                         .msg_controllen = sizeof control.space };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * (PW_CONTROL_MAX_FDS + 2));
    memcpy(CMSG_DATA(cm), sent, sizeof(int) * (PW_CONTROL_MAX_FDS + 2));
    CHECK(sendmsg(sv[0], &mh, 0) == (ssize_t)buf.len);
    pw_buf_free(&buf);
    pw_control_msg_t msg;
    CHECK(pw_control_recv(sv[1], &msg) == 1);
    CHECK(open_fds() == before + PW_CONTROL_MAX_FDS);
    CHECK(msg.fd >= 0 && msg.more_fds[PW_CONTROL_MAX_FDS - 2] >= 0);
    pw_control_msg_free(&msg);
    CHECK(open_fds() == before);
    close_list(sent, PW_CONTROL_MAX_FDS + 2);
    close_list(kept, PW_CONTROL_MAX_FDS + 2);
    close(sv[0]);
    close(sv[1]);
}

TEST(a_malformed_message_closes_its_descriptors)
{
    int sv[2], sent[2], kept[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    make_pipes(sent, kept, 2);
    int before = open_fds();
    struct iovec iov = { "garbage", 7 };
    union { struct cmsghdr align; char space[CMSG_SPACE(sizeof(int) * 2)]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                         .msg_controllen = sizeof control.space };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * 2);
    memcpy(CMSG_DATA(cm), sent, sizeof(int) * 2);
    CHECK(sendmsg(sv[0], &mh, 0) == 7);
    pw_control_msg_t msg;
    CHECK(pw_control_recv(sv[1], &msg) == -EBADMSG);
    CHECK(open_fds() == before);
    close_list(sent, 2);
    close_list(kept, 2);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    RUN(two_descriptors_arrive_in_the_order_sent);
    RUN(a_message_without_descriptors_has_none);
    RUN(more_descriptors_than_the_maximum_are_refused_or_closed);
    RUN(a_malformed_message_closes_its_descriptors);
    return UNIT_DONE();
}
