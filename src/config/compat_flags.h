/* compat_flags.h — workerd's compatibility flags and the checks workerd applies to a worker's
 * compatibilityDate and compatibilityFlags (host process, config loading).
 *
 * The table mirrors every enable/disable flag of workerd's CompatibilityFlags
 * (src/workerd/io/compatibility-date.capnp, release 2026-08-22), so a flag workerd accepts is
 * accepted here, even when pyworkerd gives it no meaning yet.
 */
#ifndef PW_COMPAT_FLAGS_H
#define PW_COMPAT_FLAGS_H

#include <stddef.h>

typedef struct {
    const char *enable_flag;    /* NULL when the feature has only a disable flag */
    const char *disable_flag;   /* NULL when it cannot be switched off by flag */
    const char *enable_date;    /* "YYYY-MM-DD" from which it is on by default, or NULL */
    int experimental;           /* workerd requires --experimental to enable it */
} pw_compat_flag_t;

/* The entry naming `flag` (as its enable or disable flag), or NULL. *is_disable tells which. */
const pw_compat_flag_t *pw_compat_flag_find(const char *flag, int *is_disable);

/* The table's i-th row (for listing every flag), or NULL past its end. */
const pw_compat_flag_t *pw_compat_flag_at(size_t i);

/* 1 when the feature of row `f` is on for a worker of compatibility date `date` (may be NULL)
 * with `flags`: its enable flag is given, or its enable date is reached and its disable flag is
 * not given. */
int pw_compat_flag_on(const pw_compat_flag_t *f, const char *date, char *const *flags, size_t n_flags);

/* 1 when `date` is a compatibility date workerd accepts ("2YYY-MM-DD", month 1-12, day 1-31). */
int pw_compat_date_valid(const char *date);

/* Checks a worker's date and flags the way workerd does (for `serve`), writing the first
 * problem to err: "Worker must specify compatibilityDate.", "Invalid compatibility date: X",
 * "Can't set compatibility date in the future: "X". Today's date (UTC) is "Y".",
 * "Compatibility flag specified multiple times: X", "Compatibility flags are mutually
 * contradictory: A vs B", "No such compatibility flag: X". `today` is "YYYY-MM-DD" or NULL for
 * the current UTC date. Returns 0 or -1. Experimental flags are accepted (pyworkerd has no
 * --experimental switch). */
int pw_compat_check(const char *date, char *const *flags, size_t n_flags, const char *today,
                    char *err, size_t err_len);

#endif
