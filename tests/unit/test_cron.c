/* test_cron.c — Cloudflare's cron expressions (config/cron.c): the syntax Cloudflare
 * documents (its examples), the Quartz specials, the aliases, the errors, and next fire
 * times across month, year and leap-year boundaries, all in UTC. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "unit.h"
#include "config/cron.h"

/* Unix milliseconds of a UTC time. */
static int64_t at(int y, int mo, int d, int h, int mi)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
    return (int64_t)timegm(&tm) * 1000;
}

static int64_t next_of(const char *expr, int64_t after)
{
    pw_cron_t c;
    char err[256];
    if (pw_cron_parse(expr, &c, err, sizeof err) < 0) {
        fprintf(stderr, "  %s: %s\n", expr, err);
        return -2;
    }
    return pw_cron_next(&c, after);
}

static int parse_fails(const char *expr, const char *needle)
{
    pw_cron_t c;
    char err[256];
    int failed = pw_cron_parse(expr, &c, err, sizeof err) < 0;
    if (failed && needle && !strstr(err, needle))
        fprintf(stderr, "  %s: \"%s\" lacks \"%s\"\n", expr, err, needle);
    return failed && (!needle || strstr(err, needle));
}

TEST(every_minute_fires_at_the_next_minute)
{
    int64_t t = at(2025, 3, 1, 12, 0);
    CHECK(next_of("* * * * *", t) == at(2025, 3, 1, 12, 1));
    CHECK(next_of("* * * * *", t + 59999) == at(2025, 3, 1, 12, 1));
    CHECK(next_of("* * * * *", t - 1) == t);                /* strictly after */
}

TEST(cloudflares_examples)
{
    int64_t t = at(2025, 3, 1, 12, 7);      /* a Saturday */
    CHECK(next_of("*/30 * * * *", t) == at(2025, 3, 1, 12, 30));
    CHECK(next_of("45 * * * *", t) == at(2025, 3, 1, 12, 45));
    CHECK(next_of("0 17 * * sun", t) == at(2025, 3, 2, 17, 0));
    CHECK(next_of("0 17 * * 1", t) == at(2025, 3, 2, 17, 0));        /* 1 = Sunday */
    CHECK(next_of("10 7 * * mon-fri", t) == at(2025, 3, 3, 7, 10));
    CHECK(next_of("10 7 * * 2-6", t) == at(2025, 3, 3, 7, 10));
    CHECK(next_of("0 15 1 * *", t) == at(2025, 3, 1, 15, 0));
    CHECK(next_of("0 15 1 * *", at(2025, 3, 1, 15, 0)) == at(2025, 4, 1, 15, 0));
    CHECK(next_of("0 18 * * 6L", t) == at(2025, 3, 28, 18, 0));      /* last Friday */
    CHECK(next_of("0 18 * * friL", t) == at(2025, 3, 28, 18, 0));
    CHECK(next_of("59 23 LW * *", t) == at(2025, 3, 31, 23, 59));    /* Monday the 31st */
    CHECK(next_of("59 23 LW * *", at(2025, 5, 1, 0, 0)) == at(2025, 5, 30, 23, 59)); /* 31st: Sat */
}

TEST(aliases)
{
    int64_t t = at(2025, 3, 1, 12, 7);
    CHECK(next_of("@hourly", t) == at(2025, 3, 1, 13, 0));
    CHECK(next_of("@daily", t) == at(2025, 3, 2, 0, 0));
    CHECK(next_of("@midnight", t) == at(2025, 3, 2, 0, 0));
    CHECK(next_of("@weekly", t) == at(2025, 3, 2, 0, 0));            /* Sunday */
    CHECK(next_of("@monthly", t) == at(2025, 4, 1, 0, 0));
    CHECK(next_of("@yearly", t) == at(2026, 1, 1, 0, 0));
    CHECK(next_of("@ANNUALLY", t) == at(2026, 1, 1, 0, 0));
    CHECK(parse_fails("@reboot", "unknown alias"));
}

TEST(lists_ranges_steps_and_names)
{
    int64_t t = at(2025, 1, 31, 23, 59);
    CHECK(next_of("0,15 9-17/4 * * *", t) == at(2025, 2, 1, 9, 0));
    CHECK(next_of("0,15 9-17/4 * * *", at(2025, 2, 1, 9, 0)) == at(2025, 2, 1, 9, 15));
    CHECK(next_of("0,15 9-17/4 * * *", at(2025, 2, 1, 9, 15)) == at(2025, 2, 1, 13, 0));
    CHECK(next_of("5/20 * * * *", at(2025, 2, 1, 9, 6)) == at(2025, 2, 1, 9, 25));
    CHECK(next_of("0 0 1 jun,DEC *", t) == at(2025, 6, 1, 0, 0));
    CHECK(next_of("0 0 1 JAN-mar/2 *", t) == at(2025, 3, 1, 0, 0));
    CHECK(next_of("0 12 ? * WED", t) == at(2025, 2, 5, 12, 0));
}

TEST(both_day_fields_restricted_match_either)
{
    /* the 13th, or any Friday (Vixie cron's rule) */
    int64_t t = at(2025, 6, 1, 0, 0);      /* a Sunday */
    CHECK(next_of("0 0 13 * FRI", t) == at(2025, 6, 6, 0, 0));
    CHECK(next_of("0 0 13 * FRI", at(2025, 6, 6, 0, 0)) == at(2025, 6, 13, 0, 0));
    /* a field starting with '*' is unrestricted: Fridays that are odd days only */
    CHECK(next_of("0 0 */2 * FRI", t) == at(2025, 6, 13, 0, 0));
}

TEST(quartz_specials)
{
    int64_t t = at(2025, 2, 1, 0, 0);
    CHECK(next_of("0 0 L * *", t) == at(2025, 2, 28, 0, 0));
    CHECK(next_of("0 0 L * *", at(2024, 2, 1, 0, 0)) == at(2024, 2, 29, 0, 0));  /* leap */
    CHECK(next_of("0 0 L-2 * *", t) == at(2025, 2, 26, 0, 0));
    CHECK(next_of("0 0 15W * *", at(2025, 3, 1, 0, 0)) == at(2025, 3, 14, 0, 0)); /* Sat 15 */
    CHECK(next_of("0 0 1W * *", at(2025, 2, 4, 0, 0)) == at(2025, 3, 3, 0, 0));   /* Sat 1: Mon 3 */
    CHECK(next_of("0 10 * * MON#2", t) == at(2025, 2, 10, 10, 0));
    CHECK(next_of("0 10 * * 2#1", t) == at(2025, 2, 3, 10, 0));
    CHECK(next_of("0 10 * * 1#5", t) == at(2025, 3, 30, 10, 0));     /* February has 4 Sundays */
    CHECK(next_of("0 0 * * L", t) == at(2025, 2, 1, 0, 0) + 7 * 86400000LL);  /* Saturday */
}

TEST(leap_days_and_years_ahead)
{
    CHECK(next_of("0 0 29 2 *", at(2025, 1, 1, 0, 0)) == at(2028, 2, 29, 0, 0));
    CHECK(next_of("30 4 31 12 *", at(2025, 12, 31, 4, 30)) == at(2026, 12, 31, 4, 30));
    CHECK(next_of("0 0 30 2 *", at(2025, 1, 1, 0, 0)) == -1);     /* never */
    CHECK(next_of("0 0 31 4 *", at(2025, 1, 1, 0, 0)) == -1);
}

TEST(bad_expressions_say_what_is_wrong)
{
    CHECK(parse_fails("* * * *", "4 fields"));
    CHECK(parse_fails("* * * * * *", "more than five"));
    CHECK(parse_fails("", "0 fields"));
    CHECK(parse_fails("60 * * * *", "minute field \"60\": 60 is not between 0 and 59"));
    CHECK(parse_fails("* 24 * * *", "hour field"));
    CHECK(parse_fails("* * 0 * *", "day-of-month field"));
    CHECK(parse_fails("* * * 13 *", "month field"));
    CHECK(parse_fails("* * * * 8", "8 is not between 1 and 7"));
    CHECK(parse_fails("* * * * 0", "1 (Sunday) to 7 (Saturday)"));
    CHECK(parse_fails("5-1 * * * *", "goes backwards"));
    CHECK(parse_fails("*/0 * * * *", "step"));
    CHECK(parse_fails("1, * * * *", "empty item"));
    CHECK(parse_fails("a * * * *", "expected a number"));
    CHECK(parse_fails("* * * FOO *", "month name"));
    CHECK(parse_fails("* * * * MON#6", "# is followed by 1 to 5"));
    CHECK(parse_fails("* * L-40 * *", "L is followed"));
    CHECK(parse_fails("* * 32W * *", "32 is not between 1 and 31"));
    CHECK(parse_fails("1-", "a range needs an end"));
    char long_text[400];
    memset(long_text, '1', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    CHECK(parse_fails(long_text, "longer than"));
}

int main(void)
{
    RUN(every_minute_fires_at_the_next_minute);
    RUN(cloudflares_examples);
    RUN(aliases);
    RUN(lists_ranges_steps_and_names);
    RUN(both_day_fields_restricted_match_either);
    RUN(quartz_specials);
    RUN(leap_days_and_years_ahead);
    RUN(bad_expressions_say_what_is_wrong);
    return UNIT_DONE();
}
