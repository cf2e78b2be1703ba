/* scale.c — the pool's sizing policy (host process); see scale.h. No state of its own. */
#include "host/scale.h"

void pw_scale_normalize(pw_scale_t *scale)
{
    if (scale->max < scale->min)
        scale->max = scale->min;
    if (scale->max == 0)
        scale->max = 1;
    if (scale->grow_inflight == 0)
        scale->grow_inflight = PW_SCALE_GROW_INFLIGHT;
}

size_t pw_scale_on_request(const pw_scale_t *scale, size_t want, size_t serving, long least_inflight)
{
    if (want < scale->min)
        want = scale->min;
    if (want == 0)
        return 1;                       /* scaled to zero: this request needs one */
    if (least_inflight >= (long)scale->grow_inflight && serving >= want && want < scale->max)
        return want + 1;
    return want;
}

int pw_scale_should_retire(const pw_scale_t *scale, size_t want, uint64_t idle_ms)
{
    return want > scale->min && idle_ms >= scale->idle_timeout_ms;
}
