/* pg_cron.h — each cron tick once across the cluster (host process, the pool's loop): a node
 * about to run a tick inserts (worker, schedule, tick time) into pw_cron_ticks; the insert
 * that lands runs it, the others find the row there and skip the tick. Rows older than a day
 * are deleted now and then.
 */
#ifndef PW_PG_CRON_H
#define PW_PG_CRON_H

#include <stdint.h>

#include "storage/pg_pool.h"

typedef struct pw_pg_cron pw_pg_cron_t;
typedef struct pw_pg_cron_claim pw_pg_cron_claim_t;

/* won: 1 this node runs the tick, 0 another one does, -1 unknown (PostgreSQL unreachable). */
typedef void (*pw_pg_cron_cb)(void *arg, int won);

pw_pg_cron_t *pw_pg_cron_open(pw_pg_pool_t *pool, const char *node_id);
void pw_pg_cron_close(pw_pg_cron_t *c);
/* Claims the tick for this node; cb answers later. NULL when out of memory. */
pw_pg_cron_claim_t *pw_pg_cron_claim(pw_pg_cron_t *c, const char *service, const char *cron,
                                     int64_t tick_ms, pw_pg_cron_cb cb, void *arg);
/* cb will not run. */
void pw_pg_cron_cancel(pw_pg_cron_claim_t *claim);

#endif
