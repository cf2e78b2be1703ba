/* control.h — one frame per message on a SOCK_SEQPACKET control socket, optionally with up
 * to PW_CONTROL_MAX_FDS file descriptors passed beside it (SCM_RIGHTS). Used between the host and the runtime
 * zygote, and between the host and each worker template. Messages are small (paths, pids,
 * error text): PW_CONTROL_MAX bytes at most.
 */
#ifndef PW_CONTROL_H
#define PW_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#define PW_CONTROL_MAX (128 * 1024)
#define PW_CONTROL_MAX_FDS 4

typedef struct {
    uint8_t type;
    uint32_t id;
    char *payload;          /* NUL-terminated copy; owned by the message */
    size_t len;
    int fd;                 /* the first received descriptor, or -1 */
    int more_fds[PW_CONTROL_MAX_FDS - 1];  /* the next ones in the order sent, or -1 */
} pw_control_msg_t;

/* Sends one message; fd < 0 sends none. Returns 0 or -errno. */
int pw_control_send(int sock, uint8_t type, uint32_t id, const void *payload, size_t len, int fd);
/* The same with n_fds descriptors (at most PW_CONTROL_MAX_FDS, else -EINVAL); the receiver
 * gets them in this order. */
int pw_control_send_fds(int sock, uint8_t type, uint32_t id, const void *payload, size_t len,
                        const int *fds, size_t n_fds);
int pw_control_send_u32(int sock, uint8_t type, uint32_t value);
/* Sends a u32 pid, and (pid > 0) the same pid as SCM_CREDENTIALS: a receiver with SO_PASSCRED
 * gets it translated by the kernel into its own pid namespace (guard.c). */
int pw_control_send_pid(int sock, uint8_t type, int pid);

/* Receives one message (blocking unless the socket is non-blocking). Returns 1 on a message,
 * 0 at end of stream, -errno on error (-EAGAIN when non-blocking and nothing is there,
 * -EBADMSG for a malformed one). */
int pw_control_recv(int sock, pw_control_msg_t *msg);
void pw_control_msg_free(pw_control_msg_t *msg);

/* Descriptor `index` of a received message (0 is msg->fd), or -1; the caller owns it from
 * then on (the message forgets it). */
int pw_control_msg_take_fd(pw_control_msg_t *msg, size_t index);

/* The first descriptor passed (SCM_RIGHTS) in a received message, or -1; every other one
 * passed with it is closed. */
struct msghdr;
int pw_control_take_fd(struct msghdr *mh);
/* The first `max` descriptors passed, in order, into fds[] (the rest of fds[] set to -1);
 * every other one is closed. Returns how many were kept. */
size_t pw_control_take_fds(struct msghdr *mh, int *fds, size_t max);

/* Reads a u32 payload (e.g. a pid); 0 when the payload is not one. */
uint32_t pw_control_msg_u32(const pw_control_msg_t *msg);

#endif
