/* d1_cluster.h — D1 databases across the nodes of a cluster (host process, the main loop;
 * with --storage postgresql://). Owned as Durable Objects are (host/do_cluster.h): one node
 * holds a database under a lease in PostgreSQL (host/cluster_leases.h, kind "d1", named by
 * its disk service) and runs every statement on it, in an SQLite database in its memory; the
 * other nodes forward their calls to the holder's internal port ("/d1") and relay its answer.
 * After every write the whole database image is stored in PostgreSQL (pw_d1_state,
 * host/cluster_ship.h) before any answer that follows it leaves (the output gate), so an
 * acknowledged write survives kill -9 of the holder. When the holder dies, a call waits until
 * its lease expires (at most the lease time, --durable-object-lease, default 10 s), then
 * this node takes the database, restoring it from PostgreSQL. A clean stop gives the leases
 * up at once (host/cluster.h).
 * Each database is a D1 backend (storage/d1_backend.h): host/binding_d1.c does not know it
 * is in a cluster.
 */
#ifndef PW_D1_CLUSTER_H
#define PW_D1_CLUSTER_H

#include "host/binding.h"
#include "storage/d1_backend.h"

typedef struct pw_d1_cluster pw_d1_cluster_t;

/* Serves "/d1" on the node's internal port (env->cluster->port, when it has one). Returns 0,
 * or -1 with a message in err. */
int pw_d1_cluster_open(const pw_binding_env_t *env, pw_d1_cluster_t **out, char *err, size_t err_len);
/* After its databases are closed. NULL: nothing. */
void pw_d1_cluster_close(pw_d1_cluster_t *c);

/* The database of disk service `name` on this node of the cluster, as a D1 backend. Returns
 * 0, or -1 with a message in err. */
int pw_d1_cluster_database(pw_d1_cluster_t *c, const char *name, pw_d1_backend_t **out, char *err,
                           size_t err_len);

#endif
