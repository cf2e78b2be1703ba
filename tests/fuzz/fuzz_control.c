/* fuzz_control.c — fuzz target: control messages the host receives from the zygote and from
 * worker templates (wire/control.c) — a template runs the worker's top-level code, so what
 * it sends is not trusted. Each input is sent as one SOCK_SEQPACKET message, with as many
 * descriptors beside it as the input's last byte says (0-7; more than PW_CONTROL_MAX_FDS must
 * be closed), and read back with pw_control_recv(), then read as a pid (pw_control_msg_u32)
 * and as error text; no descriptor may be left open afterwards.
 */
#include "fuzz.h"
#include "wire/control.h"
#include "wire/frame.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile size_t sink;
static int pair[2] = { -1, -1 };

/* The lowest free descriptor number. Every descriptor an input makes (its duplicates, then
 * what recvmsg() allocates) is numbered from there up, lowest first. */
static int lowest_free(void)
{
    int fd = fcntl(pair[1], F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        abort();
    close(fd);
    return fd;
}

/* Which of the 16 numbers from `from` up are open, as bits. */
static unsigned open_from(int from)
{
    unsigned bits = 0;
    for (int i = 0; i < 16; i++)
        bits |= (unsigned)(fcntl(from + i, F_GETFD) >= 0) << i;
    return bits;
}

/* Sends data with n descriptors (duplicates of the socket itself) beside it. */
static void send_with_fds(const uint8_t *data, size_t size, size_t n)
{
    int fds[8];
    for (size_t i = 0; i < n; i++)
        if ((fds[i] = fcntl(pair[1], F_DUPFD_CLOEXEC, 0)) < 0)
            abort();
    struct iovec iov = { (void *)data, size };
    union { struct cmsghdr align; char space[CMSG_SPACE(sizeof(int) * 8)]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (n) {
        mh.msg_control = control.space;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    }
    if (sendmsg(pair[1], &mh, 0) != (ssize_t)size)
        abort();
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (pair[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) < 0)
        abort();
    if (size == 0 || size > PW_CONTROL_MAX)
        return 0;       /* an empty datagram reads as end of stream; larger ones are cut */
    size_t n_fds = data[size - 1] & 7;
    int before = lowest_free();
    unsigned open_before = open_from(before);
    send_with_fds(data, size, n_fds);
    pw_control_msg_t msg;
    int rc = pw_control_recv(pair[0], &msg);
    if (rc == 1) {
        size_t held = msg.fd >= 0 && fcntl(msg.fd, F_GETFD) >= 0;
        for (size_t i = 0; i < PW_CONTROL_MAX_FDS - 1; i++)
            held += msg.more_fds[i] >= 0 && fcntl(msg.more_fds[i], F_GETFD) >= 0;
        size_t want = n_fds < PW_CONTROL_MAX_FDS ? n_fds : PW_CONTROL_MAX_FDS;
        if (msg.payload[msg.len] != '\0' || held != want)
            abort();
        sink += pw_control_msg_u32(&msg) + strlen(msg.payload);
        pw_control_msg_free(&msg);
    } else if (rc != -EBADMSG) {
        abort();
    }
    if (open_from(before) != open_before)
        abort();
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    pw_buf_t b;
    pw_buf_init(&b);
    size_t start;
    uint8_t pid[4] = { 0x39, 0x30, 0, 0 };
    static const char *const texts[] = { "", "Traceback (most recent call last):\n  ...\nValueError: x" };
    uint8_t types[3] = { PW_FRAME_CTL_TEMPLATE_READY, PW_FRAME_CTL_ISOLATE_SPAWNED,
                         PW_FRAME_CTL_ISOLATE_EXITED };
    for (int i = 0; i < 3; i++) {
        b.len = 0;
        pw_frame_begin(&b, types[i], 0, &start);
        pw_buf_append(&b, pid, 4);
        if (i == 2)
            pw_buf_append(&b, pid, 4);
        pw_frame_end(&b, start);
        add(b.data, b.len);
    }
    for (int i = 0; i < 2; i++) {
        b.len = 0;
        pw_frame_begin(&b, PW_FRAME_CTL_TEMPLATE_FAILED, 0, &start);
        pw_buf_append(&b, texts[i], strlen(texts[i]));
        pw_frame_end(&b, start);
        add(b.data, b.len);
    }
    /* SPAWN_ISOLATE-like messages whose last byte asks for 2 (socket + stdio pipe) and 6 fds */
    for (uint8_t n = 2; n <= 6; n += 4) {
        b.len = 0;
        pw_frame_begin(&b, PW_FRAME_CTL_SPAWN_ISOLATE, 0, &start);
        pw_buf_append(&b, &n, 1);
        pw_frame_end(&b, start);
        add(b.data, b.len);
    }
    pw_buf_free(&b);
}
