/* spec_settings.h — the worker spec's fields that the C side needs before Python reads the
 * spec (guard and template processes): the worker's directories, whether it is sandboxed,
 * its memory and CPU limits.
 */
#ifndef PW_SPEC_SETTINGS_H
#define PW_SPEC_SETTINGS_H

#include <limits.h>
#include <stddef.h>

/* The spec's fields the C side needs before Python loads it. */
typedef struct {
    char dir[PATH_MAX];
    char config_dir[PATH_MAX];      /* where python_modules/ and requirement files live */
    int sandbox;
    double memory_limit_mib;
    unsigned cpu_limit_ms;          /* bounds the top-level code too (startup_limits.h) */
} pw_spec_settings_t;

/* Reads them from the spec JSON at spec_path. Returns 0, or -1 with err set. */
int pw_spec_settings_read(const char *spec_path, pw_spec_settings_t *out, char *err, size_t err_len);
/* What the guard needs: whether the worker asks for the sandbox, and its CPU limit (which
 * bounds the top-level code). Returns 0, or -1 when the spec cannot be read. */
int pw_template_guard_settings(const char *spec_path, int *sandbox, unsigned *cpu_limit_ms);

#endif
