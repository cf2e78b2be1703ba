/* workflows.h — the Workflows engine (host process): durable instances of a worker's
 * WorkflowEntrypoint classes, reached through `wrapped` bindings of PW_WORKFLOWS_MODULE.
 * Binding calls (create, get, status, pause, resume, terminate) come from any worker with
 * the binding; step calls (step results, sleeps) come from the isolate running an instance.
 * An instance runs as a CALL of its class's `run` in its worker's pool; when it sleeps it is
 * suspended (the call returns) and called again when due, replaying its completed steps from
 * storage (storage/workflow.h). Instances left unfinished by a previous host resume at start.
 */
#ifndef PW_WORKFLOWS_H
#define PW_WORKFLOWS_H

#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "host/pool.h"

typedef struct pw_workflows pw_workflows_t;
typedef pw_pool_t *(*pw_workflows_lookup_cb)(void *arg, const char *service);

/* The engine of every workflow binding in config; *out = NULL when there is none. Its store is
 * `dir`/workflows.sqlite3 (dir NULL: in memory). Unfinished instances are resumed once the
 * loop runs. Returns 0, or -1 with a message in err. */
int pw_workflows_create(uv_loop_t *loop, const pw_config_t *config, const char *dir,
                        pw_workflows_lookup_cb lookup, void *lookup_arg, pw_workflows_t **out,
                        char *err, size_t err_len);
void pw_workflows_free(pw_workflows_t *wf);
/* A "wf.*" RPC frame's fields from an isolate of `caller`; always answered. */
void pw_workflows_handle(pw_workflows_t *wf, const pw_service_t *caller, pw_port_t *port,
                         uint32_t id, const pw_bytes_t *f, size_t n);

#endif
