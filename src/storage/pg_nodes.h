/* pg_nodes.h — this node in the cluster's registry (host process, the pool's loop): a row of
 * pw_nodes with its id, host name, pid and internal address, and a heartbeat every
 * PW_NODE_HEARTBEAT_MS. A node whose heartbeat is older than PW_NODE_DEAD_MS is dead to the
 * others: what it held under a lease (workflow instances; Durable Objects and D1 databases
 * when they move between nodes) may be taken over. The registry is how a node will find the
 * one holding an object to forward a request to it (internal_address).
 */
#ifndef PW_PG_NODES_H
#define PW_PG_NODES_H

#include <stddef.h>

#include "storage/pg_pool.h"

#define PW_NODE_HEARTBEAT_MS 2000
#define PW_NODE_DEAD_MS 10000

typedef struct pw_pg_node pw_pg_node_t;

/* Registers this node (internal_address NULL: none yet) and starts its heartbeat. Returns 0,
 * or -1 with why in err. */
int pw_pg_node_start(pw_pg_pool_t *pool, const char *internal_address, pw_pg_node_t **out,
                     char *err, size_t err_len);
/* This node's id: "<hostname>-<pid>-<random hex>". */
const char *pw_pg_node_id(const pw_pg_node_t *n);
/* Stops the heartbeat (the row stays; it ages out). */
void pw_pg_node_stop(pw_pg_node_t *n);

#endif
