/* limits.h — per-request CPU accounting of isolates, seen from the host (host process).
 *
 * The host samples a busy isolate's CPU time (/proc/PID/stat) on a timer. A request's CPU is
 * not observable on its own when one isolate runs many requests at once, so the budget is
 * per window: from the moment an isolate becomes busy until it is idle again, it may use
 * limit × (requests started in the window) of CPU. A request stuck in a loop gets no help
 * from finished requests and exceeds it after `limit` of CPU; a busy isolate serving short
 * requests never does.
 */
#ifndef PW_LIMITS_H
#define PW_LIMITS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int active;                 /* a window is open (the isolate was busy at the last tick) */
    uint64_t cpu_base_ms;       /* CPU time when the window opened */
    uint64_t calls_base;        /* requests started before the window */
} pw_cpu_window_t;

/* The user+system CPU time of `pid` in milliseconds; 0 or -errno. */
int pw_limits_cpu_ms(int pid, uint64_t *out);

/* One tick for one isolate. `calls_started` counts every request ever sent to it. Returns 1
 * when the isolate exceeded its budget (the caller kills it), else 0. */
int pw_cpu_window_check(pw_cpu_window_t *w, int pid, size_t n_inflight, uint64_t calls_started,
                        uint64_t limit_ms);

#endif
