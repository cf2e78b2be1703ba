/* cluster_leases.h — the leases this node holds, and their clock (host process, the main
 * loop; with --storage postgresql://). One per node, shared by the kinds that hold things one
 * node at a time (host/do_cluster.h: Durable Objects, host/d1_cluster.h: D1 databases). It
 * renews every lease of the node at once, every quarter of the lease time (--durable-object-
 * lease, default 10 s), and says whether a lease taken at a given time is surely still held:
 * a thing is "held" until 3/4 of the lease after the request that took it was sent, or longer
 * while renewals have followed each other without a gap since then.
 * A thing's lease state is a pw_lease_t its kind keeps beside it.
 */
#ifndef PW_CLUSTER_LEASES_H
#define PW_CLUSTER_LEASES_H

#include <stdint.h>
#include <uv.h>

#include "storage/pg_leases.h"

typedef struct pw_cluster_leases pw_cluster_leases_t;

/* One thing's lease, as this node knows it. */
typedef struct {
    uint64_t until;             /* loop ms: held until then (0: not held) */
    int acquiring;              /* a request for it is in flight */
    char *holder;               /* the internal address it was last seen held at; NULL: ask */
} pw_lease_t;

int pw_cluster_leases_open(uv_loop_t *loop, pw_pg_pool_t *pool, const char *node_id, unsigned lease_ms,
                           pw_cluster_leases_t **out);
void pw_cluster_leases_close(pw_cluster_leases_t *l);

pw_pg_leases_t *pw_cluster_leases_pg(pw_cluster_leases_t *l);
const char *pw_cluster_leases_node(const pw_cluster_leases_t *l);
unsigned pw_cluster_leases_ms(const pw_cluster_leases_t *l);
/* The loop's time now (updated). */
uint64_t pw_cluster_leases_now(pw_cluster_leases_t *l);

/* The lease was taken (or found this node's) by a request sent at `sent` (loop ms). */
void pw_lease_taken(pw_cluster_leases_t *l, pw_lease_t *lease, uint64_t sent);
/* After this node took the lease (an acquire's row, storage/pg_leases.h): 1 when what it has
 * in memory is current (it held the thing before and the row was still its own, so nobody
 * else held it since) and need not be restored from PostgreSQL; else 0. */
int pw_lease_memory_current(const pw_lease_t *lease, const pw_pg_result_t *acquired, const char *node);
/* 1 while this node surely holds it. */
int pw_lease_held(pw_cluster_leases_t *l, const pw_lease_t *lease);
/* Where it was last seen held (address NULL: forget it, ask PostgreSQL next time). */
void pw_lease_holder(pw_lease_t *lease, pw_bytes_t address);
void pw_lease_free(pw_lease_t *lease);

/* Asking again for something another node holds, while that node's lease may still run: (re)
 * starts *timer (made on first use) to call cb(arg) in PW_LEASE_RETRY_MS. Returns 0; 1 when
 * asking since `started` has lasted past any lease (twice the lease time and 5 s: give up);
 * -ENOMEM. */
#define PW_LEASE_RETRY_MS 100
int pw_lease_retry(pw_cluster_leases_t *l, uv_timer_t **timer, uint64_t started, uv_timer_cb cb, void *arg);
/* Closes and frees the timer (NULL: nothing). */
void pw_lease_retry_free(uv_timer_t *timer);

#endif
