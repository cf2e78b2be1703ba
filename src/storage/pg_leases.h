/* pg_leases.h — what a node of the cluster holds, in PostgreSQL (host process, the pool's
 * loop): the lease rows of pw_leases for things one node runs at a time, Durable Objects
 * (kind "do", named "<service>/<class>/<id>") and D1 databases (kind "d1", named by their
 * disk service). A node holds a thing while its row names the node and until_ms (the server's
 * clock) is ahead; the holder renews all its leases at once (host/cluster_leases.h).
 * Each call returns the job (pw_pg_cancel), or NULL when out of memory; cb gets the raw result
 * with the columns said here.
 */
#ifndef PW_PG_LEASES_H
#define PW_PG_LEASES_H

#include <stddef.h>

#include "storage/pg_pool.h"

#define PW_LEASE_DO "do"
#define PW_LEASE_D1 "d1"

typedef struct pw_pg_leases pw_pg_leases_t;

pw_pg_leases_t *pw_pg_leases_open(pw_pg_pool_t *pool, const char *node_id, unsigned lease_ms);
void pw_pg_leases_close(pw_pg_leases_t *l);

/* Takes the lease of (kind, name) when it is free, expired or already this node's. One row:
 * the holder's node id, its internal address (NULL when unknown), the node that had the row
 * before (NULL: none; this node's: nobody else held it since, so what this node has in memory
 * is current); no row: taken meanwhile, ask again. */
pw_pg_job_t *pw_pg_lease_acquire(pw_pg_leases_t *l, const char *kind, const char *name, pw_pg_cb cb,
                                 void *arg);
/* Every "do" and "d1" lease of this node, extended by the lease time. */
pw_pg_job_t *pw_pg_leases_renew(pw_pg_leases_t *l, pw_pg_cb cb, void *arg);

/* Gives up every "do" and "d1" lease of node_id (a clean stop: another node takes them at
 * once instead of waiting out the lease). Blocking, with its own connection and a 3 s
 * connect timeout: for the end of the process, after its loop stopped. Returns the leases
 * given up, or -1 with why in err. */
long pw_pg_leases_release_now(const char *url, const char *node_id, char *err, size_t err_len);

#endif
