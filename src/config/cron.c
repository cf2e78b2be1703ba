/* cron.c — parsing Cloudflare's cron expressions and finding their next fire time (host
 * process; see cron.h). A field is parsed item by item into bit sets (plus the Quartz
 * specials, kept apart); the next time is found by stepping through the calendar from the
 * largest unit that does not match, in whole days of the proleptic Gregorian calendar
 * computed here (no time zone, no libc calendar state).
 * Invariant: parsing never reads past the text's NUL and never writes past the bit sets.
 */
#include "config/cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_YEARS 5

typedef enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, N_FIELDS } field_t;

static const char *const field_names[N_FIELDS] = {
    "minute", "hour", "day-of-month", "month", "day-of-week",
};
static const int field_min[N_FIELDS] = { 0, 0, 1, 1, 1 };
static const int field_max[N_FIELDS] = { 59, 23, 31, 12, 7 };

static const char *const month_names[12] = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
};
static const char *const day_names[7] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT" };

static const struct { const char *alias, *expr; } aliases[] = {
    { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
    { "@weekly", "0 0 * * SUN" }, { "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
    { "@hourly", "0 * * * *" },
};

typedef struct {
    field_t field;
    const char *text;           /* the whole field, for messages */
    size_t len;
    char *err;
    size_t err_len;
} field_ctx_t;

static int field_fail(const field_ctx_t *f, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(f->err, f->err_len, "%s field \"%.*s\": %s", field_names[f->field],
             (int)(f->len < 64 ? f->len : 64), f->text, what);
    return -1;
}

/* ---- one value: a number or a name ---- */

static int name_value(const char *p, size_t len, field_t field)
{
    if (len != 3 || (field != F_MONTH && field != F_DOW))
        return -1;
    const char *const *names = field == F_MONTH ? month_names : day_names;
    int n = field == F_MONTH ? 12 : 7;
    for (int i = 0; i < n; i++)
        if (strncasecmp(p, names[i], 3) == 0)
            return i + 1;
    return -1;
}

/* Reads a number or name at *p (advancing it); -1 when there is none there. */
static int read_value(const field_ctx_t *f, const char **p, const char *end, int *out)
{
    const char *s = *p;
    if (s < end && isdigit((unsigned char)*s)) {
        int v = 0;
        while (s < end && isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        *out = v;
        *p = s;
        return 0;
    }
    const char *e = s;
    while (e < end && isalpha((unsigned char)*e))
        e++;
    size_t len = (size_t)(e - s);
    int v = name_value(s, len, f->field);
    if (v < 0)
        return -1;
    *out = v;
    *p = s + len;
    return 0;
}

static int check_range(const field_ctx_t *f, int v)
{
    if (f->field == F_DOW && v == 0)
        return field_fail(f, "0 is not a day of the week here: Cloudflare numbers them 1 (Sunday) "
                          "to 7 (Saturday)");
    if (v < field_min[f->field] || v > field_max[f->field])
        return field_fail(f, "%d is not between %d and %d", v, field_min[f->field],
                          field_max[f->field]);
    return 0;
}

/* ---- the bit sets ---- */

static void set_bit(pw_cron_t *c, field_t field, int v)
{
    switch (field) {
    case F_MINUTE: c->minutes |= 1ull << v; break;
    case F_HOUR: c->hours |= 1u << v; break;
    case F_DOM: c->days |= 1u << v; break;
    case F_MONTH: c->months |= (uint16_t)(1u << v); break;
    case F_DOW: c->weekdays |= (uint8_t)(1u << (v - 1)); break;
    default: break;
    }
}

/* `*`, `A`, `A-B`, each with an optional `/S`. */
static int parse_range(const field_ctx_t *f, const char *p, const char *end, pw_cron_t *c)
{
    int lo = field_min[f->field], hi = field_max[f->field], step = 1;
    if (p < end && (*p == '*' || *p == '?')) {
        p++;
    } else {
        if (read_value(f, &p, end, &lo) < 0)
            return field_fail(f, "expected a number%s", f->field == F_MONTH ? " or a month name"
                              : f->field == F_DOW ? " or a day name" : "");
        if (check_range(f, lo) < 0)
            return -1;
        int has_range = p < end && *p == '-';
        if (has_range) {
            p++;
            if (read_value(f, &p, end, &hi) < 0)
                return field_fail(f, "a range needs an end");
            if (check_range(f, hi) < 0)
                return -1;
            if (hi < lo)
                return field_fail(f, "the range %d-%d goes backwards", lo, hi);
        } else if (!(p < end && *p == '/')) {
            hi = lo;
        }
    }
    if (p < end && *p == '/') {
        p++;
        if (p == end || read_value(f, &p, end, &step) < 0 || step < 1)
            return field_fail(f, "a step needs a number from 1");
    }
    if (p != end)
        return field_fail(f, "unexpected \"%.*s\"", (int)(end - p), p);
    for (int v = lo; v <= hi; v += step)
        set_bit(c, f->field, v);
    return 0;
}

/* Day-of-month specials: `L`, `L-N`, `LW`, `NW`. 1: handled, 0: not one, -1: error. */
static int parse_dom_special(const field_ctx_t *f, const char *p, const char *end, pw_cron_t *c)
{
    size_t len = (size_t)(end - p);
    if (len >= 1 && toupper((unsigned char)p[0]) == 'L') {
        if (len == 2 && toupper((unsigned char)p[1]) == 'W') {
            c->last_weekday = 1;
            return 1;
        }
        int offset = 0;
        if (len > 1) {
            const char *q = p + 2;
            if (p[1] != '-' || read_value(f, &q, end, &offset) < 0 || q != end || offset > 30)
                return field_fail(f, "L is followed by nothing, W or -N (N up to 30)");
        }
        c->last_day_offset = (int8_t)offset;
        return 1;
    }
    if (len >= 2 && toupper((unsigned char)end[-1]) == 'W') {
        const char *q = p;
        int day;
        if (read_value(f, &q, end - 1, &day) < 0 || q != end - 1)
            return field_fail(f, "W follows a day number");
        if (check_range(f, day) < 0)
            return -1;
        c->nearest_weekday |= 1u << day;
        return 1;
    }
    return 0;
}

/* Day-of-week specials: `L` (Saturday), `NL`, `N#K`. 1: handled, 0: not one, -1: error. */
static int parse_dow_special(const field_ctx_t *f, const char *p, const char *end, pw_cron_t *c)
{
    size_t len = (size_t)(end - p);
    const char *hash = memchr(p, '#', len);
    int last = len >= 2 && toupper((unsigned char)end[-1]) == 'L';
    if (len == 1 && toupper((unsigned char)p[0]) == 'L') {
        c->weekdays |= 1u << 6;
        return 1;
    }
    if (!hash && !last)
        return 0;
    const char *q = p;
    int day, nth = 0;
    if (read_value(f, &q, hash ? hash : end - 1, &day) < 0 || q != (hash ? hash : end - 1))
        return field_fail(f, "%s follows a day number or name", hash ? "#" : "L");
    if (check_range(f, day) < 0)
        return -1;
    if (last) {
        c->last_weekday_of |= (uint8_t)(1u << (day - 1));
        return 1;
    }
    q = hash + 1;
    if (read_value(f, &q, end, &nth) < 0 || q != end || nth < 1 || nth > 5)
        return field_fail(f, "# is followed by 1 to 5");
    c->nth_weekday |= 1ull << ((day - 1) * 5 + nth - 1);
    return 1;
}

static int parse_item(const field_ctx_t *f, const char *p, const char *end, pw_cron_t *c)
{
    if (p == end)
        return field_fail(f, "an empty item");
    int special = f->field == F_DOM ? parse_dom_special(f, p, end, c)
                  : f->field == F_DOW ? parse_dow_special(f, p, end, c) : 0;
    if (special)
        return special < 0 ? -1 : 0;
    return parse_range(f, p, end, c);
}

static int parse_field(field_ctx_t *f, pw_cron_t *c)
{
    const char *p = f->text, *end = f->text + f->len;
    if (f->field == F_DOM)
        c->days_star = *p == '*' || *p == '?';
    if (f->field == F_DOW)
        c->weekdays_star = *p == '*' || *p == '?';
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        if (parse_item(f, p, item_end, c) < 0)
            return -1;
        p = item_end + 1;
    }
    return 0;
}

static const char *expand_alias(const char *text, char *err, size_t err_len)
{
    if (text[0] != '@')
        return text;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(text, aliases[i].alias) == 0)
            return aliases[i].expr;
    snprintf(err, err_len, "unknown alias \"%.32s\" (use @yearly, @annually, @monthly, @weekly, "
             "@daily, @midnight or @hourly)", text);
    return NULL;
}

int pw_cron_parse(const char *text, pw_cron_t *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->last_day_offset = -1;
    if (err_len)
        err[0] = '\0';
    if (strlen(text) > PW_CRON_MAX_TEXT) {
        snprintf(err, err_len, "longer than %d characters", PW_CRON_MAX_TEXT);
        return -1;
    }
    const char *expr = expand_alias(text, err, err_len);
    if (!expr)
        return -1;
    const char *p = expr;
    field_ctx_t f = { .err = err, .err_len = err_len };
    for (int i = 0; i < N_FIELDS; i++) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (p == start) {
            snprintf(err, err_len, "%d fields where five are needed (minute hour day-of-month "
                     "month day-of-week)", i);
            return -1;
        }
        f.field = (field_t)i;
        f.text = start;
        f.len = (size_t)(p - start);
        if (parse_field(&f, out) < 0)
            return -1;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p) {
        snprintf(err, err_len, "more than five fields (minute hour day-of-month month day-of-week)");
        return -1;
    }
    return 0;
}

/* ---- the calendar ---- */

/* Days since 1970-01-01 of y-m-d (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* 0 = Sunday. */
static unsigned weekday_of(int64_t days)
{
    int64_t w = (days + 4) % 7;     /* 1970-01-01 was a Thursday */
    return (unsigned)(w < 0 ? w + 7 : w);
}

/* The weekday (Mon-Fri) nearest to day `target` without leaving the month. */
static unsigned nearest_weekday(int64_t y, unsigned m, unsigned target, unsigned last)
{
    if (target > last)
        target = last;
    unsigned w = weekday_of(days_from_civil(y, m, target));
    if (w == 6)                     /* Saturday: Friday, or Monday when that is the 1st */
        return target == 1 ? target + 2 : target - 1;
    if (w == 0)                     /* Sunday: Monday, or Friday when that leaves the month */
        return target == last ? target - 2 : target + 1;
    return target;
}

static int dom_matches(const pw_cron_t *c, int64_t y, unsigned m, unsigned d)
{
    unsigned last = month_days(y, m);
    if (c->days & (1u << d))
        return 1;
    if (c->last_day_offset >= 0 && (int)d == (int)last - c->last_day_offset)
        return 1;
    if (c->last_weekday && d == nearest_weekday(y, m, last, last))
        return 1;
    for (unsigned t = 1; c->nearest_weekday >> t; t++)
        if ((c->nearest_weekday & (1u << t)) && t <= last && d == nearest_weekday(y, m, t, last))
            return 1;
    return 0;
}

static int dow_matches(const pw_cron_t *c, int64_t y, unsigned m, unsigned d, unsigned w)
{
    if (c->weekdays & (1u << w))
        return 1;
    if ((c->last_weekday_of & (1u << w)) && d + 7 > month_days(y, m))
        return 1;
    return (c->nth_weekday >> (w * 5 + (d - 1) / 7)) & 1;
}

static int day_matches(const pw_cron_t *c, int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (!(c->months & (1u << m)))
        return 0;
    int dom = dom_matches(c, y, m, d), dow = dow_matches(c, y, m, d, weekday_of(days));
    if (c->days_star || c->weekdays_star)
        return dom && dow;      /* "*" sets every bit: the other field decides */
    return dom || dow;
}

int64_t pw_cron_next(const pw_cron_t *c, int64_t after_ms)
{
    int64_t minute = (after_ms >= 0 ? after_ms / 60000 : (after_ms - 59999) / 60000) + 1;
    int64_t day = minute >= 0 ? minute / 1440 : (minute - 1439) / 1440;
    int64_t last_day = day + MAX_YEARS * 366;
    int first = 1;
    for (; day <= last_day; day++, first = 0) {
        if (!day_matches(c, day))
            continue;
        unsigned from = first ? (unsigned)(minute - day * 1440) : 0;
        for (unsigned t = from; t < 1440; t++) {
            unsigned h = t / 60, mi = t % 60;
            if (!(c->hours & (1u << h))) {
                t = h * 60 + 59;    /* the next hour */
                continue;
            }
            if (c->minutes & (1ull << mi))
                return (day * 1440 + t) * 60000;
        }
    }
    return -1;
}
