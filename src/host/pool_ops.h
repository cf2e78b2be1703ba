/* pool_ops.h — a worker's pool behind the HTTP server's worker ops (host process). */
#ifndef PW_POOL_OPS_H
#define PW_POOL_OPS_H

#include "host/pool.h"
#include "http/call.h"

/* Listeners built with these ops take a pw_pool_t * as their worker. */
extern const pw_http_worker_ops_t pw_pool_worker_ops;

#endif
