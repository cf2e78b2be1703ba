/* request_id.c — handing out request ids (host process, any loop thread; see request_id.h).
 * Invariant: an id is never 0 (0 means "no request" on the isolate's side) and never repeats
 * within a run.
 */
#include "http/request_id.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t next_id;

/* The run's prefix in the high 32 bits; the counter starts at 1. Without getrandom(2) (too
 * early in boot), the clock and the pid stand in. */
static uint64_t run_start(void)
{
    uint32_t prefix;
    if (getrandom(&prefix, sizeof prefix, GRND_NONBLOCK) != (ssize_t)sizeof prefix)
        prefix = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
    return (uint64_t)prefix << 32 | 1;
}

/* Any host loop thread may ask: the counter is atomic, the prefix set once before the
 * threads start (pw_request_id_next is first called by the first request, or by
 * pw_request_id_init). */
void pw_request_id_init(void)
{
    if (__atomic_load_n(&next_id, __ATOMIC_RELAXED) == 0)
        __atomic_store_n(&next_id, run_start(), __ATOMIC_RELAXED);
}

uint64_t pw_request_id_next(void)
{
    pw_request_id_init();
    return __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
}
