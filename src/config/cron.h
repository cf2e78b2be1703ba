/* cron.h — Cloudflare's cron expressions (host process: checked when the config loads, run
 * by the host's cron timer, host/cron_timer.h). Five fields, minute hour day-of-month month
 * day-of-week, in UTC; each a comma list of `*`, `N`, `A-B`, `*\/S`, `A/S`, `A-B/S`, with
 * month names JAN-DEC and day names SUN-SAT (any case); day-of-week numbers 1-7 are
 * Sunday-Saturday, as Cloudflare's (Quartz's). Quartz's extensions as Cloudflare offers them:
 * `L` (the last day), `L-N`, `LW` (the last weekday) and `NW` (the weekday nearest day N) in
 * day-of-month; `NL` (the last day N of the month) and `N#K` (its K-th day N) in
 * day-of-week; `?` means `*`. When both day fields are restricted a day matching either
 * fires (as Vixie cron; a field starting with `*` is unrestricted). Aliases: @yearly,
 * @annually, @monthly, @weekly, @daily, @midnight, @hourly.
 * Invariant: a parsed pw_cron_t is plain data (no pointers), safe to copy and share.
 */
#ifndef PW_CRON_H
#define PW_CRON_H

#include <stddef.h>
#include <stdint.h>

#define PW_CRON_MAX_TEXT 256

typedef struct {
    uint64_t minutes;           /* bit m: minute m (0-59) */
    uint32_t hours;             /* bit h (0-23) */
    uint32_t days;              /* bit d: day of month d (1-31) */
    uint32_t nearest_weekday;   /* bit d: `dW` */
    uint16_t months;            /* bit m (1-12) */
    uint8_t weekdays;           /* bit w: day of week w, 0 = Sunday */
    uint8_t last_weekday_of;    /* bit w: `wL`, the last such day of the month */
    uint64_t nth_weekday;       /* bit w * 5 + k - 1: `w#k` */
    int8_t last_day_offset;     /* `L` or `L-N`: N (0-30); -1: none */
    uint8_t last_weekday;       /* `LW` */
    uint8_t days_star;          /* day-of-month starts with `*` or `?` */
    uint8_t weekdays_star;
} pw_cron_t;

/* Parses `text` into *out. Returns 0, or -1 with what is wrong in err ("day-of-week field
 * \"8\": 8 is not between 1 and 7"). */
int pw_cron_parse(const char *text, pw_cron_t *out, char *err, size_t err_len);

/* The first minute strictly after `after_ms` (Unix milliseconds, UTC) at which `cron` fires,
 * in Unix milliseconds; -1 when it fires in none of the next five years. */
int64_t pw_cron_next(const pw_cron_t *cron, int64_t after_ms);

#endif
