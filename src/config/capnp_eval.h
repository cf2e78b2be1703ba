/* capnp_eval.h — evaluating a workerd config file with the Cap'n Proto compiler (host process).
 *
 * Runs Debian's `capnp` (0.9) as a child process: `capnp compile -ocapnp` lists the file's
 * constants and their types, `capnp eval -ojson` prints the chosen Config constant as JSON.
 * capnp 0.9 lacks two things workerd's built-in parser has, and this module papers over both
 * without changing what the user sees:
 *  - a file needs no `@0x…` ID: the copy handed to capnp gets one appended;
 *  - a bare string may stand for a ServiceDesignator (`service = "main"`) or a
 *    DurableObjectNamespaceDesignator (`durableObjectNamespace = "Cls"`): the copy wraps it as
 *    `(name = "main")` / `(className = "Cls")`, at the exact places capnp reports.
 * The copy lives in a private temporary directory (the config's own directory may be
 * read-only), with the original's relative `embed`s and imports made absolute, and is removed
 * before returning; capnp's messages are mapped back to the original's name, lines and columns.
 */
#ifndef PW_CAPNP_EVAL_H
#define PW_CAPNP_EVAL_H

#include <stddef.h>
#include "config/config.h"
#include "config/sources.h"

typedef struct {
    char *json;             /* the Config constant, as capnp's JSON (NUL-terminated) */
    size_t json_len;
    char *source;           /* the config file's text, for locating names in messages */
    size_t source_len;
    char *const_name;       /* the constant that was evaluated */
    pw_config_inputs_t inputs;  /* the config file and what it imports and embeds */
} pw_capnp_config_t;

/* Evaluates opts->config_path's Config constant (opts->const_name, or the only one), after
 * the checks of sources.h. Returns 0, or -1 with capnp's messages ("FILE:LINE:COL: msg", one a
 * line) or a workerd-style message in err. */
int pw_capnp_eval_config(const pw_config_options_t *opts, pw_capnp_config_t *out,
                         char *err, size_t err_len);
void pw_capnp_config_free(pw_capnp_config_t *c);

#endif
