/* test_scale.c — the pool's sizing policy: defaults, growth under load, scale from and to
 * zero, idle retirement. */
#include "unit.h"
#include "host/scale.h"

TEST(defaults)
{
    pw_scale_t s = { .min = 2 };
    pw_scale_normalize(&s);
    CHECK(s.max == 2 && s.grow_inflight == PW_SCALE_GROW_INFLIGHT);
    pw_scale_t zero = { 0 };
    pw_scale_normalize(&zero);
    CHECK(zero.min == 0 && zero.max == 1);
}

TEST(grows_only_when_every_isolate_is_busy_and_below_max)
{
    pw_scale_t s = { .min = 1, .max = 3, .grow_inflight = 4 };
    CHECK(pw_scale_on_request(&s, 1, 1, 3) == 1);
    CHECK(pw_scale_on_request(&s, 1, 1, 4) == 2);
    CHECK(pw_scale_on_request(&s, 2, 1, 9) == 2);     /* the second one is still starting */
    CHECK(pw_scale_on_request(&s, 3, 3, 9) == 3);     /* at max */
}

TEST(scales_from_zero)
{
    pw_scale_t s = { .min = 0, .max = 2, .grow_inflight = 4 };
    CHECK(pw_scale_on_request(&s, 0, 0, -1) == 1);
    CHECK(pw_scale_on_request(&s, 1, 1, 0) == 1);
}

TEST(retires_above_min_after_the_idle_timeout)
{
    pw_scale_t s = { .min = 1, .max = 3, .idle_timeout_ms = 1000 };
    CHECK(!pw_scale_should_retire(&s, 1, 5000));      /* at min */
    CHECK(!pw_scale_should_retire(&s, 2, 999));
    CHECK(pw_scale_should_retire(&s, 2, 1000));
    pw_scale_t now = { .min = 0, .max = 1, .idle_timeout_ms = 0 };
    CHECK(pw_scale_should_retire(&now, 1, 0));
}

int main(void)
{
    RUN(defaults);
    RUN(grows_only_when_every_isolate_is_busy_and_below_max);
    RUN(scales_from_zero);
    RUN(retires_above_min_after_the_idle_timeout);
    return UNIT_DONE();
}
