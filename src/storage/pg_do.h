/* pg_do.h — Durable Objects' ownership and durability in PostgreSQL (host process, the pool's
 * loop): the statements behind host/do_cluster.h. An object is named "<service>/<class>/<id>".
 * A node holds an object while it holds its lease (storage/pg_leases.h, kind "do"). Its SQLite
 * database lives in pw_do_state as a whole image, written only by the lease holder (the write
 * locks the lease row, so a takeover waits for it, then reads it).
 * Each call returns the job (pw_pg_cancel), or NULL when out of memory; cb gets the raw result
 * with the columns said here.
 */
#ifndef PW_PG_DO_H
#define PW_PG_DO_H

#include "storage/pg_pool.h"

typedef struct pw_pg_do pw_pg_do_t;

pw_pg_do_t *pw_pg_do_open(pw_pg_pool_t *pool, const char *node_id);
void pw_pg_do_close(pw_pg_do_t *d);

/* The stored state: no row (never written), or one row: image (bytea), alarm_ms (NULL: none). */
pw_pg_job_t *pw_pg_do_load(pw_pg_do_t *d, const char *name, pw_pg_cb cb, void *arg);
/* Stores the image and the alarm (0: none) if this node holds the lease: pw_pg_affected() is
 * 1, else 0 (lost). */
pw_pg_job_t *pw_pg_do_save(pw_pg_do_t *d, const char *name, pw_bytes_t image, int64_t alarm_ms,
                           pw_pg_cb cb, void *arg);
/* Objects with an alarm due within `ahead_ms` whose lease has expired (their node died):
 * rows of name. */
pw_pg_job_t *pw_pg_do_orphan_alarms(pw_pg_do_t *d, int64_t ahead_ms, pw_pg_cb cb, void *arg);

#endif
