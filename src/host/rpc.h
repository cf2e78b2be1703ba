/* rpc.h — the host's side of binding calls (host process). Every isolate's RPC frame
 * (wire/rpc.h) arrives at pw_rpc_handle() through its pool; the frame names an operation,
 * which the binding-kind table (host/binding.h) routes to its kind — KV, service, fetch,
 * workflows — and, for most, one of its worker's bindings.
 * Nothing in an RPC frame is trusted: the binding must be the worker's own, of the right
 * kind, and every size is checked against Cloudflare's limits before use.
 */
#ifndef PW_RPC_H
#define PW_RPC_H

#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "host/binding.h"
#include "host/mailbox.h"
#include "host/pool.h"

typedef struct pw_rpc_host pw_rpc_host_t;
typedef struct pw_rpc_worker pw_rpc_worker_t;

/* Finds the pool of a worker service by name (service bindings). */
typedef pw_binding_lookup_cb pw_rpc_lookup_cb;

typedef struct {
    const char *persist_dir;    /* NULL: relative disk paths are relative to the CWD;
                                 * ":memory:": nothing is persisted; else their base */
    pw_rpc_lookup_cb lookup;
    void *lookup_arg;
    /* --threads: a loop thread's bindings name the main loop's (`owner`, created first, with
     * the same workers) and both loops' mailboxes; calls of kinds that are not per_loop
     * (host/binding.h) run there. NULL: this is the main loop's. */
    pw_rpc_host_t *owner;
    pw_mailbox_t *owner_mailbox;
    pw_mailbox_t *mailbox;
    unsigned do_idle_timeout_ms;    /* --durable-object-idle-timeout; 0: the default */
    pw_pg_pool_t *pg;           /* --storage: PostgreSQL (main loop only); NULL: SQLite */
    const pw_cluster_info_t *cluster;   /* with pg: this node */
    int watch;                  /* --watch (pw_binding_env_t's) */
} pw_rpc_options_t;

/* Opens every binding kind's host-wide state (KV stores, the Workflows engine...). */
int pw_rpc_host_create(uv_loop_t *loop, const pw_config_t *config, const pw_rpc_options_t *opts,
                       pw_rpc_host_t **out);
/* Outbound fetch(): total time per fetch, redirects included. */
void pw_rpc_set_fetch_timeout(pw_rpc_host_t *host, unsigned timeout_ms);
/* Frees the host's backends; pools must be closed first. */
void pw_rpc_host_free(pw_rpc_host_t *host);
/* The bindings of one worker, opening the KV namespaces it names. Returns 0, or -1 with a
 * message in err. */
int pw_rpc_worker_create(pw_rpc_host_t *host, const pw_service_t *service, pw_rpc_worker_t **out,
                         char *err, size_t err_len);
/* The pool's pw_rpc_handler_cb; arg is a pw_rpc_worker_t. */
int pw_rpc_handle(void *arg, pw_port_t *port, const pw_frame_t *frame);

#endif
