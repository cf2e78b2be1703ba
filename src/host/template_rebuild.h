/* template_rebuild.h — building a dead worker template anew (host process). When a pool's
 * template dies (killed, out of memory, a crash in a C extension), the pool asks the zygote
 * for a new one of the same spec in the background, with backoff: the tries start 0.1, 0.5,
 * 1, 2, then every 5 s after the death or the last failure. A try that finds no zygote (it
 * died and is being restarted: supervisor.h) is retried the same way, without end; a worker
 * whose top level fails to load TEMPLATE_REBUILD_MAX_LOAD_FAILURES times in a row stays
 * failed, with its error logged (a --watch reload or a restart brings it back).
 */
#ifndef PW_TEMPLATE_REBUILD_H
#define PW_TEMPLATE_REBUILD_H

#include <stdint.h>
#include <uv.h>

#include "host/supervisor.h"

#define TEMPLATE_REBUILD_MAX_LOAD_FAILURES 5

typedef struct pw_template_rebuild pw_template_rebuild_t;

typedef struct {
    uv_loop_t *loop;
    pw_zygote_t *zygote;
    const char *service;        /* for logs; copied */
    const char *spec_path;      /* the worker's spec; copied */
    /* A new template is ready: the callee owns template_fd (non-blocking). */
    void (*on_ready)(void *arg, int template_fd);
    /* The worker failed to load too many times in a row: no more tries. */
    void (*on_gave_up)(void *arg, const char *error_text);
    void *arg;
} pw_template_rebuild_options_t;

/* The delay before try number `failures` (0: the first): 100, 500, 1000, 2000, 5000 ms. */
uint64_t pw_template_rebuild_delay_ms(unsigned failures);

int pw_template_rebuild_create(const pw_template_rebuild_options_t *opts,
                               pw_template_rebuild_t **out);
/* The template died: the first try after the first delay. No-op while a rebuild is under way
 * or after it gave up. */
void pw_template_rebuild_start(pw_template_rebuild_t *rb);
/* Whether it gave up (the worker keeps failing to load). */
int pw_template_rebuild_gave_up(const pw_template_rebuild_t *rb);
/* What a 503 answered meanwhile should say in Retry-After: the seconds until the next try
 * (at least 1); 1 while a template loads; 30 once it gave up. */
unsigned pw_template_rebuild_retry_after_s(const pw_template_rebuild_t *rb);
/* Abandons a try under way (the loading template's socket is closed: it exits, or is killed
 * with the zygote's session at exit) and frees `rb` once libuv has closed its handles. */
void pw_template_rebuild_free(pw_template_rebuild_t *rb);

#endif
