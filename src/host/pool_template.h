/* pool_template.h — a pool's worker template (host process): its control socket (which
 * reports forked isolates), its death and its rebuild (host/template_rebuild.h). Part of the
 * pool (pool_state.h). */
#ifndef PW_POOL_TEMPLATE_H
#define PW_POOL_TEMPLATE_H

#include "host/pool_state.h"

/* Polls `fd`, the pool's template's control socket. Returns 0 or a libuv error. */
int pw_pool_template_watch(pw_pool_t *pool, int fd);
/* Stops polling the template's socket (the socket itself stays open). */
void pw_pool_template_unwatch(pw_pool_t *pool);
/* pw_pool_submit: while the template is dead and no isolate is left, a call is queued with
 * a bounded wait, or (the worker failed to load for good) refused at once. Returns 1 when
 * it was answered. */
int pw_pool_template_refuses(pw_pool_t *pool, pw_call_t *call);

#endif
