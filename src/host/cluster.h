/* cluster.h — this host as a node of a cluster (host process, main loop): with `--storage
 * postgresql://...` every binding keeps its state in that database (storage/pg_*.h) instead
 * of SQLite files, so any number of nodes behind a load balancer serve the same state.
 * Opening it migrates the schema (a clear error when the URL is bad or the server cannot be
 * reached), opens the connection pool the bindings share and registers the node with its
 * heartbeat, the leases it will hold and its internal port. Stateful kinds run on the main
 * loop only (per_loop 0), the pool's loop.
 */
#ifndef PW_CLUSTER_H
#define PW_CLUSTER_H

#include <stddef.h>
#include <uv.h>

#include "host/cluster_leases.h"
#include "host/cluster_port.h"
#include "host/cron_timer.h"
#include "storage/pg_pool.h"

typedef struct pw_cluster pw_cluster_t;

typedef struct {
    const char *url;                /* --storage */
    const char *internal_address;   /* --cluster-address (NULL: none): its internal port,
                                     * registered for the other nodes */
    const char *secret;             /* the cluster's secret (with an internal address) */
    unsigned lease_ms;              /* --durable-object-lease */
} pw_cluster_options_t;

/* Returns 0, or -1 with a message in err. */
int pw_cluster_open(uv_loop_t *loop, const pw_cluster_options_t *opts, pw_cluster_t **out, char *err,
                    size_t err_len);
pw_pg_pool_t *pw_cluster_pool(pw_cluster_t *c);
const char *pw_cluster_node_id(const pw_cluster_t *c);
pw_cluster_leases_t *pw_cluster_leases(pw_cluster_t *c);
/* NULL: no internal address. */
pw_cluster_port_t *pw_cluster_port(pw_cluster_t *c);
/* Each cron tick once across the cluster: the timer's claim through PostgreSQL. */
void pw_cluster_claim_cron(pw_cluster_t *c, pw_cron_timer_t *cron);
/* After the bindings that use the pool are closed and the loop stopped: gives up the node's
 * leases (so that another node takes what it held at once, host/cluster_leases.h), then
 * closes. NULL: nothing. */
void pw_cluster_close(pw_cluster_t *c);

#endif
