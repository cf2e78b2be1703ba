/* pg_queue.h — the PostgreSQL backend of the host's queues (host process, the pool's loop):
 * with `--storage postgresql://...` every node's queue engine (host/queues.c) shares the
 * messages of table pw_queue (storage/pg_schema.c). A take is one statement that picks
 * deliverable rows with SELECT ... FOR UPDATE SKIP LOCKED and moves their visible_ms to the
 * end of a lease (PW_PG_QUEUE_LEASE_MS), so each message is with one consumer at a time
 * across the nodes; the node renews the leases of what it holds until it settles them, and
 * when it dies they lapse and another node delivers the messages again (at least once).
 * Operations end later, from the loop (storage/pg_pool.h); nothing blocks it.
 */
#ifndef PW_PG_QUEUE_H
#define PW_PG_QUEUE_H

#include <stddef.h>

#include "storage/pg_pool.h"
#include "storage/queue_backend.h"

#define PW_PG_QUEUE_LEASE_MS 10000      /* a taken message comes back this long after its holder's last renewal */
#define PW_PG_QUEUE_RENEW_MS 3000       /* how often the holder renews */
#define PW_PG_QUEUE_POLL_MS 500         /* an empty queue is looked at again (other nodes send) */

/* The queues on `pool`. Returns 0, or -1 with why in err. Freed by its ops->close (the pool
 * stays). */
int pw_pg_queue_open(pw_pg_pool_t *pool, pw_queue_backend_t **out, char *err, size_t err_len);

#endif
