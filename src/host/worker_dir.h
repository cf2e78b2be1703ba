/* worker_dir.h — the per-run directory where the host lays out each Python worker's
 * modules as files (so that imports, __file__ and tracebacks work as in any Python
 * program) next to the worker's spec (JSON read by the template). Host process.
 */
#ifndef PW_WORKER_DIR_H
#define PW_WORKER_DIR_H

#include <stddef.h>
#include "config/config.h"

/* Creates a private runtime directory (mode 0700, pyworkerd-<pid>-XXXXXX, locked while this
 * host runs) under $TMPDIR or /tmp, after removing those that crashed hosts of this user
 * left there. Returns 0 or -errno. */
int pw_runtime_dir_create(char *out, size_t len);
/* Removes it and everything in it. */
void pw_runtime_dir_remove(const char *path);

/* How the worker's template and isolates run (from the command line), written into the spec. */
typedef struct {
    const char *config_dir;         /* the config file's directory: python_modules/, requirements */
    int sandbox;                    /* 0: --no-sandbox */
    unsigned memory_limit_mib;      /* per isolate; 0: none */
    unsigned cpu_limit_ms;          /* also bounds the top-level code's load; 0: none */
    int test_scheduled;             /* --test-scheduled: the worker answers its test paths */
    int testing;                    /* `pyworkerd test`: test tools (pytest) count as declared */
} pw_worker_settings_t;

/* Writes <runtime_dir>/<service>/ with the worker's modules and its spec.json; sets
 * spec_path. Returns 0, or -1 with a message in err. */
int pw_worker_dir_write(const char *runtime_dir, const pw_service_t *service,
                        const pw_worker_settings_t *settings, char *spec_path,
                        size_t spec_path_len, char *err, size_t err_len);

#endif
