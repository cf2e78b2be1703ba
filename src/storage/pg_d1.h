/* pg_d1.h — D1 databases' durability in PostgreSQL (host process, the pool's loop): the
 * statements behind host/d1_cluster.h. A database is named by its disk service; a node runs
 * its statements while it holds its lease (storage/pg_leases.h, kind "d1"). The database
 * lives in pw_d1_state as a whole SQLite image, written only by the lease holder (the write
 * locks the lease row, so a takeover waits for it, then reads it).
 * Each call returns the job (pw_pg_cancel), or NULL when out of memory.
 */
#ifndef PW_PG_D1_H
#define PW_PG_D1_H

#include "storage/pg_pool.h"

typedef struct pw_pg_d1 pw_pg_d1_t;

pw_pg_d1_t *pw_pg_d1_open(pw_pg_pool_t *pool, const char *node_id);
void pw_pg_d1_close(pw_pg_d1_t *d);

/* The stored database: no row (never written), or one row: image (bytea). */
pw_pg_job_t *pw_pg_d1_load(pw_pg_d1_t *d, const char *name, pw_pg_cb cb, void *arg);
/* Stores the image if this node holds the lease: pw_pg_affected() is 1, else 0 (lost). */
pw_pg_job_t *pw_pg_d1_save(pw_pg_d1_t *d, const char *name, pw_bytes_t image, pw_pg_cb cb, void *arg);

#endif
