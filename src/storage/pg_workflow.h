/* pg_workflow.h — the PostgreSQL backend of Workflows (host process, the pool's loop): with
 * `--storage postgresql://...` the engines of all nodes share the instances, steps and events
 * of tables pw_wf_* (storage/pg_schema.c). An instance runs on one node at a time: due()
 * claims it with SELECT ... FOR UPDATE SKIP LOCKED, writing this node and a lease of
 * PW_PG_WF_LEASE_MS (the server's clock) into its row; the node renews the leases of what it
 * runs every PW_PG_WF_RENEW_MS and gives one up when its run ends. When a node dies, its
 * leases lapse and another node claims its instances (one left running included) and runs
 * them again from their stored steps. Wake times are the nodes' wall clocks.
 */
#ifndef PW_PG_WORKFLOW_H
#define PW_PG_WORKFLOW_H

#include <stddef.h>

#include "storage/pg_pool.h"
#include "storage/workflow_backend.h"

#define PW_PG_WF_LEASE_MS 10000     /* a run's instance is taken over this long after its node's last renewal */
#define PW_PG_WF_RENEW_MS 3000      /* how often a node renews the leases of its runs */
#define PW_PG_WF_POLL_MS 500        /* how often a node looks for instances other nodes made due */

/* The workflows on `pool`, for node `node_id`. Returns 0, or -1 with why in err. Freed by its
 * ops->close (the pool stays). */
int pw_pg_workflow_open(pw_pg_pool_t *pool, const char *node_id, pw_wf_backend_t **out, char *err,
                        size_t err_len);

#endif
