/* pool_limits.h — a pool's per-request limits (host process): the wall-clock request
 * timeout (504) and the CPU time per request (host/limits.h), checked on one timer that runs
 * only when either is set. Part of the pool (pool_state.h). */
#ifndef PW_POOL_LIMITS_H
#define PW_POOL_LIMITS_H

#include "host/pool_state.h"

/* Initialises the pool's limits timer (counted in open_handles; pw_pool_close closes it) and
 * starts it when opts.cpu_limit_ms or opts.request_timeout_ms is set. */
void pw_pool_limits_start(pw_pool_t *pool);

#endif
