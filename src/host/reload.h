/* reload.h — --watch (host process): when the config or a worker's files change, build each
 * worker's template anew in the background and swap it in atomically: a new pool of isolates
 * takes the worker's new requests while the old pool finishes its in-flight ones and exits.
 * A version that fails (config errors, a worker whose top level raises) is logged and the
 * previous one keeps serving.
 */
#ifndef PW_RELOAD_H
#define PW_RELOAD_H

#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "host/pool.h"
#include "host/supervisor.h"
#include "http/server.h"

typedef struct pw_reload pw_reload_t;

typedef struct {
    uv_loop_t *loop;
    pw_zygote_t *zygote;
    const char *runtime_dir;
    const pw_config_t *config;      /* the running config: its services index `pools` */
    pw_pool_t **pools;              /* the host's, one per service; swapped in place */
    pw_http_server_t *http;
    void *arg;                      /* for the three functions below (main.c's) */
    /* Loads the config anew; errors are printed. Returns 0 or -1. */
    int (*load_config)(void *arg, pw_config_t **out);
    /* Lays out service `index` of `config` under `dir`; sets spec_path. Returns 0 or -1. */
    int (*write_spec)(void *arg, const pw_config_t *config, size_t index, const char *dir,
                      char *spec_path, size_t spec_path_len);
    /* Starts a pool for service `index` from a ready template (built from spec_path, which a
     * pool uses again when the template dies). Returns 0 or -1. */
    int (*create_pool)(void *arg, const pw_config_t *config, size_t index, int template_fd,
                       const char *spec_path, pw_pool_t **out);
} pw_reload_options_t;

/* Watches the config's directory (watch.h). Returns 0 or -errno. */
int pw_reload_start(const pw_reload_options_t *opts, pw_reload_t **out);
/* Stops watching, abandons rebuilds in progress and closes pools still draining. */
void pw_reload_stop(pw_reload_t *reload);
/* Frees it and the configs it loaded (pools and bindings point into them): once the loop has
 * stopped and the pools and bindings are gone. */
void pw_reload_free(pw_reload_t *reload);

#endif
