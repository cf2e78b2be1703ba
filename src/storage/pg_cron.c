/* pg_cron.c — claiming cron ticks in pw_cron_ticks (host process, the pool's loop; see
 * pg_cron.h). One INSERT ... ON CONFLICT DO NOTHING per tick: the row count says who won.
 * Invariant: a claim's callback runs once, unless it is cancelled first.
 */
#include "storage/pg_cron.h"

#include <stdlib.h>
#include <string.h>

#define PRUNE_EVERY 256             /* claims between deletions of day-old rows */

enum { ST_CLAIM, ST_PRUNE, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    [ST_CLAIM] = "INSERT INTO pw_cron_ticks (service, cron, tick_ms, node) "
                 "VALUES ($1, $2, $3::int8, $4) ON CONFLICT DO NOTHING",
    [ST_PRUNE] = "DELETE FROM pw_cron_ticks WHERE fired_at < now() - interval '1 day'",
};

struct pw_pg_cron {
    pw_pg_pool_t *pool;
    char *node;
    int st[ST_COUNT];
    unsigned claims;
};

struct pw_pg_cron_claim {
    pw_pg_job_t *job;
    pw_pg_cron_cb cb;
    void *arg;
};

pw_pg_cron_t *pw_pg_cron_open(pw_pg_pool_t *pool, const char *node_id)
{
    pw_pg_cron_t *c = calloc(1, sizeof *c);
    if (!c || !(c->node = strdup(node_id))) {
        free(c);
        return NULL;
    }
    c->pool = pool;
    for (int i = 0; i < ST_COUNT; i++)
        c->st[i] = pw_pg_statement(pool, statements[i]);
    return c;
}

void pw_pg_cron_close(pw_pg_cron_t *c)
{
    if (c)
        free(c->node);
    free(c);
}

static void claimed(void *arg, const pw_pg_result_t *r)
{
    pw_pg_cron_claim_t *claim = arg;
    int won = pw_pg_status(r) != PW_PG_OK ? -1 : pw_pg_affected(r) == 1;
    claim->cb(claim->arg, won);
    free(claim);
}

static void ignore_result(void *arg, const pw_pg_result_t *r)
{
    (void)arg;
    (void)r;
}

pw_pg_cron_claim_t *pw_pg_cron_claim(pw_pg_cron_t *c, const char *service, const char *cron,
                                     int64_t tick_ms, pw_pg_cron_cb cb, void *arg)
{
    pw_pg_cron_claim_t *claim = calloc(1, sizeof *claim);
    if (!claim)
        return NULL;
    claim->cb = cb;
    claim->arg = arg;
    pw_pg_param_t p[4] = { pw_pg_text(service), pw_pg_text(cron), pw_pg_int(tick_ms), pw_pg_text(c->node) };
    if (!(claim->job = pw_pg_run(c->pool, c->st[ST_CLAIM], p, 4, claimed, claim))) {
        free(claim);
        return NULL;
    }
    if (++c->claims % PRUNE_EVERY == 0)
        pw_pg_run(c->pool, c->st[ST_PRUNE], NULL, 0, ignore_result, NULL);
    return claim;
}

void pw_pg_cron_cancel(pw_pg_cron_claim_t *claim)
{
    if (!claim)
        return;
    pw_pg_cancel(claim->job);
    free(claim);
}
