/* wrangler.h — a Cloudflare Python Workers project (wrangler.toml / .json / .jsonc, .dev.vars)
 * as a workerd config (host process, at start-up and on --watch reloads).
 *
 * The translation is Python: tools/wrangler/translate.py, run by Debian's /usr/bin/python3.11
 * (its tomllib is the TOML parser) as a child process, the way capnp_eval.c runs `capnp` for
 * .capnp configs. It prints the Config as `capnp eval -ojson` would, which config.c then checks
 * like any other (pw_config_load_json); `pyworkerd config` prints the same Config as Cap'n Proto
 * text. The translator's warnings are passed on to stderr; its errors ("FILE:LINE: message")
 * come back in err.
 */
#ifndef PW_WRANGLER_H
#define PW_WRANGLER_H

#include <stddef.h>

#include "config/config.h"

#define PW_WRANGLER_MAX_LIST 64

typedef struct {
    const char *configs[PW_WRANGLER_MAX_LIST];  /* -c/--config files; none: found in the CWD */
    size_t n_configs;
    const char *env;                /* --env NAME, or NULL */
    const char *vars[PW_WRANGLER_MAX_LIST];     /* --var KEY:VALUE */
    size_t n_vars;
    const char *address;            /* the socket's address ("127.0.0.1:8787"), or NULL */
    int https;                      /* --local-protocol https: a generated certificate */
} pw_wrangler_options_t;

/* What `pyworkerd dev` shows once it listens. */
typedef struct {
    char *name;             /* the worker's name */
    char *source;           /* the wrangler file that was read */
    char *bindings;         /* the banner's binding table ("" when none) */
} pw_wrangler_info_t;

/* 1 when `path` names a wrangler file (wrangler.toml, *.json, *.jsonc, *.toml), else 0. */
int pw_wrangler_is_file(const char *path);

/* Translates and loads the project. opts gives the config loader's other settings (its
 * config_path is replaced by the wrangler file's). info may be NULL. Returns 0, or -1 with
 * the message in err. */
int pw_wrangler_load(const pw_wrangler_options_t *w, const pw_config_options_t *opts,
                     pw_config_t **out, pw_wrangler_info_t *info, char *err, size_t err_len);
void pw_wrangler_info_free(pw_wrangler_info_t *info);

/* `pyworkerd config`: prints the project's config as Cap'n Proto text to stdout. Returns the
 * translator's exit status (its messages went to stderr). */
int pw_wrangler_print_config(const pw_wrangler_options_t *w);

/* `pyworkerd init NAME`: writes a new project. Returns the translator's exit status. */
int pw_wrangler_init(const char *name);

/* `pyworkerd d1 ARGS...` (execute, migrations list|apply): the translator runs them against
 * the project's local databases, its output on ours. Returns its exit status. */
int pw_wrangler_d1(int argc, char **argv);

#endif
