/* busy_poll.h — how an isolate waits for its socket (isolate process; python/channel.c):
 * when the isolate is the bottleneck, it polls the socket for a short window before it sleeps.
 *
 * Why: an isolate that is busy most of the time still runs out of requests for a few tens
 * of microseconds at a time. If it sleeps, its CPU goes idle. The scheduler then moves other
 * runnable tasks onto that CPU: the host, or a load generator on the same machine. Waking a
 * halted virtual CPU also costs tens of microseconds. Polling for a while keeps the CPU busy
 * with the isolate. bench/asgi (FastAPI hello, c=32, isolate ~95 % busy), 6 A/B pairs of
 * server instances: more req/s in every pair, median p99 2.17 -> 1.95 ms.
 *
 * Adaptive, so that polling never takes CPU that others could use:
 * - it polls only while the isolate is busy most of the time (`busy`, a moving average of the
 *   share of time spent outside waits, at least PW_BUSY_POLL_MIN_BUSY). An isolate with slack
 *   (a fast handler; the host or the client is the bottleneck) sleeps at once: with FastAPI's
 *   isolate at ~40 % busy (hello), polling cost the host throughput;
 * - and only while the waits end within the window (`warm`), as they do under load. After a
 *   longer wait it sleeps at once, until a short wait shows the load is back. An idle isolate,
 *   or one that gets a request now and then, never polls.
 */
#ifndef PW_BUSY_POLL_H
#define PW_BUSY_POLL_H

#include <stdint.h>

#define PW_BUSY_POLL_WINDOW_NS 200000
#define PW_BUSY_POLL_MIN_BUSY 0.75

typedef struct {
    uint64_t window_ns;         /* how long to poll before sleeping */
    int warm;                   /* the last wait ended within the window */
    double busy;                /* moving average of the share of time between waits */
    uint64_t last_wait_end_ns;  /* CLOCK_MONOTONIC when the last wait ended (0: none yet) */
} pw_busy_poll_t;

void pw_busy_poll_init(pw_busy_poll_t *bp, uint64_t window_ns);

/* Whether the next wait polls first: warm, and busy at least PW_BUSY_POLL_MIN_BUSY. */
int pw_busy_poll_will_poll(const pw_busy_poll_t *bp);

/* Waits until fd is readable (or at its end or in error: the read that follows tells):
 * polls for window_ns first if pw_busy_poll_will_poll(), then sleeps in poll(2). Returns 0,
 * or -1 with errno set (never EINTR: it waits again). */
int pw_busy_poll_wait(pw_busy_poll_t *bp, int fd);

#endif
