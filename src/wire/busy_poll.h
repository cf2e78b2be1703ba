/* busy_poll.h — how an isolate waits for its socket (isolate process; python/channel.c):
 * under concurrent load it polls the socket for a short window before it sleeps.
 *
 * Why: an isolate under load runs out of requests for a few tens of microseconds at a time.
 * If it sleeps, its CPU goes idle. The scheduler then moves other runnable tasks onto that
 * CPU: the host, or a load generator on the same machine. Waking a halted virtual CPU also
 * costs tens of microseconds. Polling for a while keeps the CPU busy with the isolate.
 * bench/asgi, 8 paired runs: FastAPI hello at c=32 served 8-10 % more req/s with it, in every pair.
 *
 * Adaptive, so that an idle or lightly loaded isolate never spins: it polls only while the
 * waits it sees end within the window, as they do under load, and only when the caller says
 * the load is concurrent. After a wait longer than the
 * window it sleeps at once, until a short wait shows the load is back. A request now and then
 * costs no CPU.
 */
#ifndef PW_BUSY_POLL_H
#define PW_BUSY_POLL_H

#include <stdint.h>

#define PW_BUSY_POLL_WINDOW_NS 200000

typedef struct {
    uint64_t window_ns;         /* how long to poll before sleeping */
    int warm;                   /* the last wait ended within the window: poll the next one */
} pw_busy_poll_t;

void pw_busy_poll_init(pw_busy_poll_t *bp, uint64_t window_ns);

/* Waits until fd is readable (or at its end or in error: the read that follows tells).
 * If warm and `may_poll`, it polls for window_ns first; then it sleeps in poll(2). The caller
 * passes may_poll 0 when the load is one request at a time (a client that waits for each
 * answer): polling would not make its answers sooner. Returns 0, or -1 with errno set
 * (never EINTR: it waits again). */
int pw_busy_poll_wait(pw_busy_poll_t *bp, int fd, int may_poll);

#endif
