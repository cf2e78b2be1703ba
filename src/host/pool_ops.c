/* pool_ops.c — a worker's pool as what an HTTP listener routes to (host process): the
 * pw_http_worker_ops_t (http/call.h) through which the HTTP server, which knows nothing of
 * pools, hands the pool its requests.
 */
#include "host/pool_ops.h"

static void submit(void *worker, pw_call_t *call)
{
    pw_pool_submit(worker, call);
}

static const char *name(const void *worker)
{
    return pw_pool_name(worker);
}

const pw_http_worker_ops_t pw_pool_worker_ops = {
    .submit = submit,
    .cancel = pw_pool_cancel,
    .ack = pw_pool_ack,
    .name = name,
};
