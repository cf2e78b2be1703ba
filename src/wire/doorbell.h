/* doorbell.h — an isolate's doorbell: an eventfd that the isolate writes to after each write
 * on its socket, and that the host sleeps on instead of the socket (host and isolate).
 *
 * Why: a write on a Unix socket wakes its reader as a "sync" wake-up, and the scheduler then
 * places the host on the CPU of the isolate that woke it whenever the isolate runs alone
 * there, so under load the host and the isolate share one core while the other does less
 * (bench/results/asgi.md). An eventfd write is an ordinary wake-up, which leaves the host
 * where it ran. The data itself stays on the socket.
 *
 * The isolate creates the eventfd and passes it (SCM_RIGHTS) beside its first frame, a
 * PW_FRAME_DOORBELL. The isolate is not trusted: the host keeps only an eventfd, and never
 * blocks on it even if the isolate clears O_NONBLOCK on their shared file (RWF_NOWAIT).
 * Order: the writer writes its data, then rings; the reader drains the bell, then reads.
 */
#ifndef PW_DOORBELL_H
#define PW_DOORBELL_H

#include <stddef.h>
#include <sys/types.h>

/* Isolate: creates a doorbell and sends it on `sock` with a DOORBELL frame. Returns the
 * eventfd, or -errno (the channel then works without one). */
int pw_doorbell_offer(int sock);

/* Isolate: rings (never blocks; a full counter already means "rung"). */
void pw_doorbell_ring(int bell);

/* Host: reads from `sock` like read(2); a descriptor passed beside the bytes becomes *bell
 * when *bell < 0 and it is an eventfd, and is closed otherwise. */
ssize_t pw_doorbell_recv(int sock, void *buf, size_t len, int *bell);

/* Host: as pw_doorbell_recv, and a descriptor that is not the bell is handed over in *passed
 * (-1: none) instead of being closed: a socket the isolate passes for the host to relay
 * (host/binding_socket.c). */
ssize_t pw_doorbell_recv_fd(int sock, void *buf, size_t len, int *bell, int *passed);

/* Host: clears the bell (never blocks). */
void pw_doorbell_drain(int bell);

#endif
