/* limits.h — CPU accounting of isolates and the reasons they die, seen from the host (host
 * process).
 *
 * CPU: the host samples every live isolate's CPU time (/proc/PID/stat) on a timer, busy or
 * not, so that work left running after a response (a waitUntil() task, a top-level asyncio
 * task) is watched as closely as a request. A request's CPU is not observable on its own when
 * one isolate runs many requests at once, so the isolate holds a credit: each request it is
 * sent adds `limit`, the CPU it uses is taken off. When nothing is in flight the credit is
 * capped at one `limit` (what its last requests left for their work after the response), and
 * a request arriving at an isolate that was idle and quiet starts from nothing. So a stuck
 * request is over after `limit` of CPU; a busy isolate serving short requests never is; work
 * after the responses may use what its requests left, at most one `limit`, and then the
 * isolate is over with nothing in flight. An isolate that had nothing in flight for two whole
 * ticks in a row, used CPU in each and was running at their ends is *burning*: new requests
 * are not sent to it (they would wait for that work, and pay for it); one busy like that for
 * PW_CPU_AFTER_RESPONSE_MS (Cloudflare's waitUntil() time) without a break is over whatever
 * its credit.
 *
 * Exits: the host only sees an isolate's socket close. Its pidfd, opened when it starts,
 * tells the host how it died (PIDFD_GET_INFO with PIDFD_INFO_EXIT, Linux 6.15 and later) once
 * it has been reaped; before that kernel the reason stays "it exited".
 */
#ifndef PW_LIMITS_H
#define PW_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#define PW_CPU_AFTER_RESPONSE_MS 30000

typedef struct {
    int started;                /* a first sample was taken */
    int64_t credit_ms;          /* CPU it may still use */
    uint64_t cpu_ms;            /* its CPU time at the last tick */
    uint64_t calls_seen;        /* requests sent to it before the last tick */
    size_t inflight_last;       /* requests in flight at the last tick */
    int busy_idle;              /* the last tick: nothing in flight, yet it used CPU and runs */
    unsigned busy_idle_ticks;   /* ticks in a row like that */
    int burning;                /* two ticks in a row or more (a blip at its start is not) */
    uint64_t burning_ms;        /* how long it has been busy with nothing in flight */
} pw_cpu_account_t;

enum {
    PW_CPU_OK = 0,
    PW_CPU_OVER_BUSY,           /* over its credit with requests in flight: they get 503 */
    PW_CPU_OVER_IDLE,           /* over with nothing in flight: work after its responses */
};

/* The user+system CPU time of `pid` in milliseconds, and whether it is running or runnable
 * now (running may be NULL); 0 or -errno. */
int pw_limits_cpu_ms(int pid, uint64_t *out, int *running);

/* One tick for one isolate: its CPU time now, whether it runs now, requests in flight,
 * requests ever sent to it, the limit per request and the time since the last tick. Returns
 * PW_CPU_OK or PW_CPU_OVER_*. */
int pw_cpu_account_tick(pw_cpu_account_t *a, uint64_t cpu_ms, int running, size_t n_inflight,
                        uint64_t calls_started, uint64_t limit_ms, uint64_t elapsed_ms);

/* How a process ended, from a wait status, as a clause of a log line: "it exited with status
 * 1", "it was killed by SIGSYS: a forbidden system call", ... Returns buf. */
const char *pw_exit_describe(int wait_status, char *buf, size_t len);

/* Whether `pid` is exiting or gone (1), or still runs (0): an isolate whose socket closed
 * while it runs closed it itself. */
int pw_limits_exiting(int pid);

/* A pidfd for `pid` (to learn later how it ended), or -errno. */
int pw_exit_pidfd_open(int pid);

/* How the process of `pidfd` ended: 1 with *wait_status once it has been reaped, 0 while it
 * has not (or the kernel cannot tell: before Linux 6.15), -errno on error. */
int pw_exit_status(int pidfd, int *wait_status);

#endif
