/* http_date.c — formats and reads IMF-fixdate dates (host process; see http_date.h). The
 * day and month names are constant tables: strftime's would follow the locale.
 */
#include "http/http_date.h"

#include <stdio.h>
#include <string.h>

static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void pw_http_date_format(time_t t, char *out)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        memcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT", PW_HTTP_DATE_LEN + 1);
        return;
    }
    snprintf(out, PW_HTTP_DATE_LEN + 1, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* n decimal digits at s: their value, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int name_index(const char (*names)[4], int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (memcmp(names[i], s, 3) == 0)
            return i;
    return -1;
}

int pw_http_date_parse(const char *s, size_t len, time_t *out)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (len != PW_HTTP_DATE_LEN || name_index(days, 7, s) < 0 || memcmp(s + 3, ", ", 2) != 0 ||
        s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
        memcmp(s + 25, " GMT", 4) != 0)
        return -1;
    struct tm tm = { 0 };
    tm.tm_mday = digits(s + 5, 2);
    tm.tm_mon = name_index(months, 12, s + 8);
    tm.tm_year = digits(s + 12, 4) - 1900;
    tm.tm_hour = digits(s + 17, 2);
    tm.tm_min = digits(s + 20, 2);
    tm.tm_sec = digits(s + 23, 2);
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0 || tm.tm_year < 0 || tm.tm_hour < 0 ||
        tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
        return -1;
    *out = timegm(&tm);
    return 0;
}
