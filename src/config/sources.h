/* sources.h — the files a config reads, checked before `capnp` reads them (host process, at
 * start-up and on reload).
 *
 * The config file and every file it imports (pyworkerd's own schema aside) get the text checks
 * of precheck.h; every `embed` and `import` must name a regular file inside the config's
 * directory or one of the -I directories (never /etc/shadow, a directory or a FIFO). The real
 * paths of all of them are returned too: they are the worker's inputs that --watch reloads on.
 */
#ifndef PW_SOURCES_H
#define PW_SOURCES_H

#include <stddef.h>
#include "config/config.h"

typedef struct {
    char **paths;           /* absolute, symlinks resolved; each once */
    size_t n, cap;
} pw_config_inputs_t;

/* Checks o->config_path (whose text is src) and what it imports and embeds. Returns 0 with the
 * files' paths appended to inputs, or -1 with "FILE:LINE:COL: sentence" in err. */
int pw_config_sources_check(const pw_config_options_t *o, const char *src, size_t len,
                            pw_config_inputs_t *inputs, char *err, size_t err_len);
void pw_config_inputs_free(pw_config_inputs_t *inputs);

#endif
