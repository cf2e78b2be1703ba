/* control.c — sending and receiving control messages with up to PW_CONTROL_MAX_FDS passed
 * descriptors (see control.h). Runs in the host, the zygote and the templates.
 * Invariant: a received descriptor is always either handed to the caller or closed.
 */
#include "wire/control.h"
#include "wire/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Encodes one frame and sends it with `control` (cmsg bytes; control_len 0: none). */
static int send_frame(int sock, uint8_t type, uint32_t id, const void *payload, size_t len,
                      void *control, size_t control_len)
{
    pw_buf_t buf;
    size_t start;
    pw_buf_init(&buf);
    int rc = pw_frame_begin(&buf, type, id, &start);
    if (rc == 0)
        rc = pw_buf_append(&buf, payload, len);
    if (rc == 0)
        rc = pw_frame_end(&buf, start);
    if (rc < 0 || buf.len > PW_CONTROL_MAX) {
        pw_buf_free(&buf);
        return rc < 0 ? rc : -EMSGSIZE;
    }
    struct iovec iov = { buf.data, buf.len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control_len ? control : NULL,
                         .msg_controllen = control_len };
    ssize_t n;
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    rc = n < 0 ? -errno : 0;
    pw_buf_free(&buf);
    return rc;
}

/* Fills `space` with one SOL_SOCKET control message of `type` carrying `data`; returns its
 * length (for msg_controllen). */
static size_t fill_cmsg(void *space, size_t space_len, int type, const void *data, size_t len)
{
    memset(space, 0, space_len);
    struct msghdr mh = { .msg_control = space, .msg_controllen = CMSG_SPACE(len) };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = type;
    cm->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(cm), data, len);
    return CMSG_SPACE(len);
}

int pw_control_send_fds(int sock, uint8_t type, uint32_t id, const void *payload, size_t len,
                        const int *fds, size_t n_fds)
{
    if (n_fds > PW_CONTROL_MAX_FDS)
        return -EINVAL;
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * PW_CONTROL_MAX_FDS)];
    } control;
    size_t control_len = n_fds ? fill_cmsg(control.space, sizeof control.space, SCM_RIGHTS, fds,
                                           sizeof(int) * n_fds) : 0;
    return send_frame(sock, type, id, payload, len, control.space, control_len);
}

int pw_control_send(int sock, uint8_t type, uint32_t id, const void *payload, size_t len, int fd)
{
    return pw_control_send_fds(sock, type, id, payload, len, &fd, fd >= 0 ? 1 : 0);
}

int pw_control_send_u32(int sock, uint8_t type, uint32_t value)
{
    uint8_t b[4] = { (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16),
                     (uint8_t)(value >> 24) };
    return pw_control_send(sock, type, 0, b, sizeof b, -1);
}

size_t pw_control_take_fds(struct msghdr *mh, int *fds, size_t max)
{
    size_t kept = 0;
    for (size_t i = 0; i < max; i++)
        fds[i] = -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (kept < max)
                fds[kept++] = got;
            else
                close(got);
        }
    }
    return kept;
}

int pw_control_take_fd(struct msghdr *mh)
{
    int fd;
    pw_control_take_fds(mh, &fd, 1);
    return fd;
}

/* Closes every descriptor the message still holds. */
static void close_fds(pw_control_msg_t *msg)
{
    for (size_t i = 0; i < PW_CONTROL_MAX_FDS; i++) {
        int fd = pw_control_msg_take_fd(msg, i);
        if (fd >= 0)
            close(fd);
    }
}

int pw_control_msg_take_fd(pw_control_msg_t *msg, size_t index)
{
    if (index >= PW_CONTROL_MAX_FDS)
        return -1;
    int *slot = index == 0 ? &msg->fd : &msg->more_fds[index - 1];
    int fd = *slot;
    *slot = -1;
    return fd;
}

int pw_control_recv(int sock, pw_control_msg_t *msg)
{
    static __thread uint8_t data[PW_CONTROL_MAX];
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * (PW_CONTROL_MAX_FDS + 4))];
    } control;
    struct iovec iov = { data, sizeof data };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control.space, .msg_controllen = sizeof control.space };
    ssize_t n;
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return 0;
    int fds[PW_CONTROL_MAX_FDS];
    pw_control_take_fds(&mh, fds, PW_CONTROL_MAX_FDS);
    msg->fd = fds[0];
    memcpy(msg->more_fds, fds + 1, sizeof msg->more_fds);
    msg->payload = NULL;
    pw_frame_t frame;
    size_t used;
    if (pw_frame_parse(data, (size_t)n, &frame, &used) != 1 || used != (size_t)n) {
        close_fds(msg);
        return -EBADMSG;
    }
    msg->type = frame.type;
    msg->id = frame.id;
    msg->len = frame.len;
    msg->payload = malloc(frame.len + 1);
    if (!msg->payload) {
        close_fds(msg);
        return -ENOMEM;
    }
    memcpy(msg->payload, frame.payload, frame.len);
    msg->payload[frame.len] = '\0';
    return 1;
}

void pw_control_msg_free(pw_control_msg_t *msg)
{
    free(msg->payload);
    msg->payload = NULL;
    close_fds(msg);
}

uint32_t pw_control_msg_u32(const pw_control_msg_t *msg)
{
    if (msg->len != 4)
        return 0;
    const uint8_t *p = (const uint8_t *)msg->payload;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int pw_control_send_pid(int sock, uint8_t type, int pid)
{
    uint8_t b[4] = { (uint8_t)pid, (uint8_t)(pid >> 8), (uint8_t)(pid >> 16), (uint8_t)(pid >> 24) };
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct ucred creds = { .pid = pid, .uid = getuid(), .gid = getgid() };
    size_t control_len = pid > 0 ? fill_cmsg(control.space, sizeof control.space, SCM_CREDENTIALS,
                                             &creds, sizeof creds) : 0;
    return send_frame(sock, type, 0, b, sizeof b, control.space, control_len);
}
