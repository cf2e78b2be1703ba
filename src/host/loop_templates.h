/* loop_templates.h — every host loop's worker templates, asked of the zygote at once when the
 * host starts (host process, main thread, before the loops run). With --threads N each loop
 * has a template per worker of its own (ARCHITECTURE.md); forked together they load side by
 * side, so start-up takes about one template load whatever N is (bench/server_start).
 * Invariant: each template fd has one owner: this table until pw_loop_templates_take() hands
 * it to a pool; pw_loop_templates_free() closes those never taken.
 */
#ifndef PW_LOOP_TEMPLATES_H
#define PW_LOOP_TEMPLATES_H

#include "config/config.h"
#include "host/supervisor.h"
#include <stddef.h>

typedef struct {
    int *fds;               /* [loop * n_services + service]; -1: none, or taken */
    size_t n_loops, n_services;
} pw_loop_templates_t;

/* Forks a template for each worker service i (spec_paths[i] non-NULL) and each of n_loops
 * loops, and waits for all of them (pw_zygote_create_templates). Returns 0, or -1 with err:
 * "service <name>: the worker failed to load[ for host thread <k>]:\n<why>" (no template left
 * open). */
int pw_loop_templates_load(pw_loop_templates_t *t, pw_zygote_t *zygote, const pw_config_t *config,
                           char *const *spec_paths, size_t n_loops, char *err, size_t err_len);

/* Loop `loop`'s template of service `service`, now the caller's to close; -1 when none. */
int pw_loop_templates_take(pw_loop_templates_t *t, size_t loop, size_t service);

/* Closes the templates never taken (a start that failed half-way) and frees the table. */
void pw_loop_templates_free(pw_loop_templates_t *t);

#endif
