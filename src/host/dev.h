/* dev.h — `pyworkerd dev` and `pyworkerd serve wrangler.toml` (host process): a wrangler
 * project's settings on top of serve's (main.c runs both through its serve()).
 *
 * dev is `serve` with wrangler dev's defaults: the wrangler file of the current directory,
 * --watch on (unless --no-live-reload), state under <project>/.wrangler/state (or
 * --persist-to), HTTP on 127.0.0.1:8787 (--ip, --port, --local-protocol https), and a start
 * banner listing the bindings and the URL. `serve` of a wrangler file keeps serve's defaults
 * but for the state directory, which is the project's .wrangler/state unless --persist-dir.
 */
#ifndef PW_DEV_H
#define PW_DEV_H

#include <stddef.h>

#include "config/cli.h"
#include "config/config.h"
#include "http/server.h"

/* 1 when cli runs a wrangler project (dev, or serve/test of a wrangler file). */
int pw_dev_is_wrangler(const pw_cli_t *cli);

/* Fills in the defaults above. Returns 0, or -1 after printing why (a state directory that
 * cannot be made). */
int pw_dev_prepare(pw_cli_t *cli);

/* Translates and loads the project (config/wrangler.h) with opts' other settings; keeps what
 * the banner shows. Returns 0, or -1 with the message in err. */
int pw_dev_load_config(const pw_cli_t *cli, const pw_config_options_t *opts, pw_config_t **out,
                       char *err, size_t err_len);

/* dev: prints the banner (bindings, URL) once the server listens. */
void pw_dev_banner(const pw_cli_t *cli, const pw_http_server_t *http);

/* Frees what pw_dev_load_config kept. */
void pw_dev_free(void);

#endif
