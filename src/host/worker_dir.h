/* worker_dir.h — the per-run directory where the host lays out each Python worker's
 * modules as files (so that imports, __file__ and tracebacks work as in any Python
 * program) next to the worker's spec (JSON read by the template). Host process.
 */
#ifndef PW_WORKER_DIR_H
#define PW_WORKER_DIR_H

#include <stddef.h>
#include "config/config.h"

/* Creates a private runtime directory (mode 0700) under $TMPDIR or /tmp. */
int pw_runtime_dir_create(char *out, size_t len);
/* Removes it and everything in it. */
void pw_runtime_dir_remove(const char *path);

/* Writes <runtime_dir>/<service>/ with the worker's modules and its spec.json; sets
 * spec_path. config_dir (the config file's directory, where python_modules/ and the
 * requirement files live) goes into the spec. Returns 0, or -1 with a message in err. */
int pw_worker_dir_write(const char *runtime_dir, const pw_service_t *service,
                        const char *config_dir, char *spec_path, size_t spec_path_len, char *err,
                        size_t err_len);

#endif
