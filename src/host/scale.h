/* scale.h — how many isolates a worker's pool serves with (host process): the policy only,
 * as pure functions of the pool's counts, so that it is tested on its own (pool.c applies it).
 *
 * A pool keeps `want` serving isolates, min <= want <= max, plus `spare` pre-forked isolates
 * that get no requests until one is needed (growth, or replacing one that died), so that a
 * fork is never on a request's path (DESIGN.md §9). It grows by one when a request arrives
 * and every serving isolate already has grow_inflight requests in flight; it shrinks by one
 * when a serving isolate above the minimum has been idle for idle_timeout_ms (0: as soon
 * as it is idle). min 0 lets a worker scale to zero.
 */
#ifndef PW_SCALE_H
#define PW_SCALE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t min;                 /* serving isolates kept even when idle (0 allowed) */
    size_t max;                 /* at most this many serving isolates (>= 1, >= min) */
    size_t spare;               /* pre-forked isolates held back */
    unsigned grow_inflight;     /* grow when the least busy isolate has this many in flight */
    uint64_t idle_timeout_ms;   /* retire an idle isolate above min after this long */
} pw_scale_t;

#define PW_SCALE_GROW_INFLIGHT 8
#define PW_SCALE_IDLE_TIMEOUT_MS 30000

/* Fills the defaults for unset fields (max = min, at least 1). */
void pw_scale_normalize(pw_scale_t *scale);

/* The serving isolates wanted once a request arrives: `serving` alive (live or starting),
 * `least_inflight` the requests in flight on the least busy live one (or -1 when none is
 * live). */
size_t pw_scale_on_request(const pw_scale_t *scale, size_t want, size_t serving, long least_inflight);

/* Whether a serving isolate idle for idle_ms (no request in flight, none queued) retires. */
int pw_scale_should_retire(const pw_scale_t *scale, size_t want, uint64_t idle_ms);

#endif
