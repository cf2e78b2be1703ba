/* fuzz_cron.c — fuzz target: cron expressions from the config (config/cron.c). Whatever the
 * text, parsing stays inside it and ends with a result or a message; a parsed expression's
 * next fire time is on a whole minute strictly after the time asked about, matches no
 * earlier minute, and is the same when asked again.
 */
#include "fuzz.h"
#include "config/cron.h"

#include <stdlib.h>
#include <string.h>

static void check_next(const pw_cron_t *c, int64_t after)
{
    int64_t next = pw_cron_next(c, after);
    if (next == -1)
        return;
    if (next <= after || next % 60000 != 0 || pw_cron_next(c, after) != next)
        abort();
    if (next - 60000 > after && pw_cron_next(c, next - 60001) != next)
        abort();    /* the minute before it does not fire */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > PW_CRON_MAX_TEXT + 8)
        return 0;
    char text[PW_CRON_MAX_TEXT + 9];
    memcpy(text, data, size);
    text[size] = '\0';
    pw_cron_t c;
    char err[256];
    if (pw_cron_parse(text, &c, err, sizeof err) < 0) {
        if (!err[0] || !memchr(err, '\0', sizeof err))
            abort();    /* a failure always says why */
        return 0;
    }
    check_next(&c, 1735689600000);      /* 2025-01-01T00:00Z */
    check_next(&c, 1709164799999);      /* just before a leap day */
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    static const char *const seeds[] = {
        "* * * * *", "*/30 * * * *", "0 17 * * sun", "10 7 * * mon-fri", "0 18 * * 6L",
        "59 23 LW * *", "0 0 L-3 * *", "0 0 15W * *", "0 10 * * MON#2", "0 0 29 2 *",
        "0,15,30 9-17/2 1-15 JAN-jun ?", "@hourly", "@weekly", "@nope", "1-", "*/0 * * * *",
        "61 * * * *", "* * * * 0", "0 0 31 2 *", "",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}
