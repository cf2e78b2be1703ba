/* control.h — one frame per message on a SOCK_SEQPACKET control socket, optionally with one
 * file descriptor passed beside it (SCM_RIGHTS). Used between the host and the runtime
 * zygote, and between the host and each worker template. Messages are small (paths, pids,
 * error text): PW_CONTROL_MAX bytes at most.
 */
#ifndef PW_CONTROL_H
#define PW_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#define PW_CONTROL_MAX (128 * 1024)

typedef struct {
    uint8_t type;
    uint32_t id;
    char *payload;          /* NUL-terminated copy; owned by the message */
    size_t len;
    int fd;                 /* received descriptor, or -1 */
} pw_control_msg_t;

/* Sends one message; fd < 0 sends none. Returns 0 or -errno. */
int pw_control_send(int sock, uint8_t type, uint32_t id, const void *payload, size_t len, int fd);
int pw_control_send_u32(int sock, uint8_t type, uint32_t value);
/* Sends a u32 pid, and (pid > 0) the same pid as SCM_CREDENTIALS: a receiver with SO_PASSCRED
 * gets it translated by the kernel into its own pid namespace (guard.c). */
int pw_control_send_pid(int sock, uint8_t type, int pid);

/* Receives one message (blocking unless the socket is non-blocking). Returns 1 on a message,
 * 0 at end of stream, -errno on error (-EAGAIN when non-blocking and nothing is there,
 * -EBADMSG for a malformed one). */
int pw_control_recv(int sock, pw_control_msg_t *msg);
void pw_control_msg_free(pw_control_msg_t *msg);

/* The first descriptor passed (SCM_RIGHTS) in a received message, or -1; every other one
 * passed with it is closed. */
struct msghdr;
int pw_control_take_fd(struct msghdr *mh);

/* Reads a u32 payload (e.g. a pid); 0 when the payload is not one. */
uint32_t pw_control_msg_u32(const pw_control_msg_t *msg);

#endif
