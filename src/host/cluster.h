/* cluster.h — this host as a node of a cluster (host process, main loop): with `--storage
 * postgresql://...` every binding keeps its state in that database (storage/pg_*.h) instead
 * of SQLite files, so any number of nodes behind a load balancer serve the same state.
 * Opening it migrates the schema (a clear error when the URL is bad or the server cannot be
 * reached), opens the connection pool the bindings share and registers the node with its
 * heartbeat. Stateful kinds run on the main loop only (per_loop 0), the pool's loop.
 */
#ifndef PW_CLUSTER_H
#define PW_CLUSTER_H

#include <stddef.h>
#include <uv.h>

#include "host/cron_timer.h"
#include "storage/pg_pool.h"

typedef struct pw_cluster pw_cluster_t;

/* internal_address: --cluster-address (NULL: none), registered for the other nodes.
 * Returns 0, or -1 with a message in err. */
int pw_cluster_open(uv_loop_t *loop, const char *url, const char *internal_address,
                    pw_cluster_t **out, char *err, size_t err_len);
pw_pg_pool_t *pw_cluster_pool(pw_cluster_t *c);
const char *pw_cluster_node_id(const pw_cluster_t *c);
/* Each cron tick once across the cluster: the timer's claim through PostgreSQL. */
void pw_cluster_claim_cron(pw_cluster_t *c, pw_cron_timer_t *cron);
/* After the bindings that use the pool are closed. NULL: nothing. */
void pw_cluster_close(pw_cluster_t *c);

#endif
