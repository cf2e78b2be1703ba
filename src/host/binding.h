/* binding.h — the binding-kind table (host process). Every kind of binding an isolate can
 * call (KV, service, fetch, workflows; next Durable Objects, D1, R2, queues...) is one
 * pw_binding_kind_impl_t in its own host/binding_<kind>.c: its state for the host and for each
 * worker, and its operations in groups, a row per operation with its name, its argument count
 * and its handler. host/rpc.c decodes an RPC frame, routes its op here (one lookup) and runs
 * the checks every call shares before the row's handler.
 * Adding a kind: its file, a line in binding.c's table, the config loader and the SDK.
 * Invariant: a handler, a resolve() that returns NULL and every error path answer the call
 * exactly once (through the port, now or later).
 */
#ifndef PW_BINDING_H
#define PW_BINDING_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "host/pool.h"
#include "http/fetch.h"
#include "storage/pg_pool.h"

#define PW_BINDING_MAX_HELD 256     /* binding calls an isolate may hold open at once */

/* Finds the pool of a worker service by name (NULL: not running). */
typedef pw_pool_t *(*pw_binding_lookup_cb)(void *arg, const char *service);

typedef struct pw_cluster_leases pw_cluster_leases_t;
typedef struct pw_cluster_port pw_cluster_port_t;

/* This node of a cluster (--storage postgresql://, host/cluster.h). */
typedef struct {
    const char *node_id;        /* its id in pw_nodes */
    const char *secret;         /* --cluster-secret */
    pw_cluster_leases_t *leases;    /* what it holds, renewed (host/cluster_leases.h) */
    pw_cluster_port_t *port;    /* --cluster-address: its internal port (host/cluster_port.h);
                                 * NULL: none */
} pw_cluster_info_t;

/* What the host gives every kind; lives as long as the host's bindings. */
typedef struct {
    uv_loop_t *loop;
    const pw_config_t *config;
    const char *persist_dir;    /* NULL: relative disk paths are relative to the CWD;
                                 * ":memory:": nothing is persisted; else their base */
    pw_binding_lookup_cb lookup;
    void *lookup_arg;
    pw_fetch_t *fetch;          /* the host's outbound HTTP client */
    unsigned do_idle_timeout_ms;    /* Durable Objects leave memory after this idle; 0: default */
    pw_pg_pool_t *pg;           /* --storage postgresql://...: the kinds' state is there (host/
                                 * cluster.h); NULL: SQLite files. The main loop's only. */
    const pw_cluster_info_t *cluster;   /* with pg: this node */
    int watch;                  /* --watch: files a kind read at its start are read again when
                                 * they change (an assets directory's _redirects, _headers) */
} pw_binding_env_t;

/* One binding call, as a handler sees it. */
typedef struct {
    void *state;                /* the kind's state for the calling worker (attach()) */
    void *binding;              /* what the group's resolve() found */
    pw_port_t *port;
    uint32_t id;
    const pw_bytes_t *f;        /* f[0] the op; in named groups f[1] the binding's name */
    size_t n;
} pw_binding_call_t;

typedef struct {
    const char *name;           /* "kv.get" */
    size_t min_fields, max_fields;  /* the op's field count, op and binding name included */
    const char *arity_error;    /* the TypeError outside them; NULL: the group's unknown_op */
    int holds;                  /* a subrequest: refused while the isolate holds
                                 * PW_BINDING_MAX_HELD calls (checked before the arity) */
    void (*handler)(const pw_binding_call_t *call);
} pw_binding_op_t;

/* Operations resolved alike. */
typedef struct {
    const char *prefix;         /* an op with this prefix but no row is this group's ("kv.") */
    int unnamed;                /* its calls name no binding (fetch) */
    /* What the call is for (its binding, checked to be the worker's own), or NULL once the
     * call is answered (no such binding, ...). */
    void *(*resolve)(const pw_binding_call_t *call);
    const char *unknown_op;     /* TypeError format for an op without a row ("%.*s": the op) */
    const pw_binding_op_t *ops;
    size_t n_ops;
} pw_binding_group_t;

typedef struct {
    const char *name;
    /* The kind's state for the whole host; NULL functions: none. Return 0, or -1 with a
     * message in err. */
    int (*open)(const pw_binding_env_t *env, void **state, char *err, size_t err_len);
    void (*close)(void *state);
    /* Its state for one worker (service), from the host's; detach() also after a failed
     * attach(), and with NULL. */
    int (*attach)(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                  void **state, char *err, size_t err_len);
    void (*detach)(void *state);
    const pw_binding_group_t *groups;
    size_t n_groups;
    /* 1: every host loop thread (--threads) has its own state and runs its calls itself
     * (outbound fetch, service routing); 0: the kind keeps state with one owner, the main
     * loop, and calls from other loops are forwarded there (host/rpc_forward.h). */
    int per_loop;
} pw_binding_kind_impl_t;

/* The kinds (each defined in its own host/binding_<kind>.c). */
extern const pw_binding_kind_impl_t pw_binding_kv;
extern const pw_binding_kind_impl_t pw_binding_service;
extern const pw_binding_kind_impl_t pw_binding_fetch;
extern const pw_binding_kind_impl_t pw_binding_workflows;
extern const pw_binding_kind_impl_t pw_binding_r2;
extern const pw_binding_kind_impl_t pw_binding_memory_cache;
extern const pw_binding_kind_impl_t pw_binding_queue;
extern const pw_binding_kind_impl_t pw_binding_disk;
extern const pw_binding_kind_impl_t pw_binding_do;
extern const pw_binding_kind_impl_t pw_binding_websocket;
extern const pw_binding_kind_impl_t pw_binding_d1;
extern const pw_binding_kind_impl_t pw_binding_socket;

/* A worker's outbound network rules (its globalOutbound network service's; none: nothing
 * allowed), for the kinds that connect out (fetch, websocket). 0, or -1 with err. */
int pw_binding_outbound_policy(const pw_binding_env_t *env, const pw_service_t *service,
                               pw_fetch_policy_t **out, char *err, size_t err_len);

#define PW_BINDING_MAX_KINDS 16

/* The table: kinds in the order they are opened and attached. */
size_t pw_binding_kind_count(void);
const pw_binding_kind_impl_t *pw_binding_kind_at(size_t i);

typedef struct {
    size_t kind;                        /* index in the table */
    const pw_binding_group_t *group;
    const pw_binding_op_t *op;          /* NULL: the op has no row */
} pw_binding_route_t;

/* Where op goes: its row; without one, the group its prefix names, and for any other op the
 * service bindings' group (so an unknown op is answered as a service call). */
void pw_binding_route(pw_bytes_t op, pw_binding_route_t *out);
/* Builds the route index now (before the host's loop threads start; else on first use). */
void pw_binding_index(void);

/* Where a kind keeps its own SQLite files: --persist-dir, else the working directory; NULL
 * for ":memory:" (kept in memory). */
const char *pw_binding_state_dir(const pw_binding_env_t *env);

/* The per-worker state of kinds that need only their host-wide engine and the calling
 * worker (Workflows, Queues): pw_binding_attach_caller is their attach(), free() their
 * detach(). */
typedef struct {
    void *engine;               /* the kind's host state; NULL when the config has none */
    const pw_service_t *caller;
} pw_binding_caller_t;
int pw_binding_attach_caller(void *host_state, const pw_binding_env_t *env,
                             const pw_service_t *service, void **state, char *err, size_t err_len);

#endif
