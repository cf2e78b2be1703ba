/* pg_do.c — the statements of Durable Objects across nodes (host process, the pool's loop;
 * see pg_do.h). Times are the server's (clock_timestamp), so nodes' clocks need not agree.
 * Invariant: pw_do_state is written only under a lock on the writer's own lease row (FOR
 * SHARE; storage/pg_leases.h), so a node taking the lease over (an UPDATE of that row) waits
 * for the write and then loads what it wrote: no acknowledged write is lost across a takeover.
 */
#include "storage/pg_do.h"
#include "storage/pg_leases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::int8"

enum { ST_LOAD, ST_SAVE, ST_ORPHANS, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    [ST_LOAD] = "SELECT image, alarm_ms FROM pw_do_state WHERE name = $1::text",
    [ST_SAVE] =
        "WITH l AS (SELECT 1 FROM pw_leases WHERE kind = '" PW_LEASE_DO "' AND name = $1::text "
        "  AND node = $3::text FOR SHARE) "
        "INSERT INTO pw_do_state (name, image, version, alarm_ms) "
        "SELECT $1::text, $2::bytea, 1, nullif($4::int8, 0) FROM l "
        "ON CONFLICT (name) DO UPDATE SET image = EXCLUDED.image, version = pw_do_state.version + 1, "
        "alarm_ms = EXCLUDED.alarm_ms",
    [ST_ORPHANS] =
        "SELECT s.name FROM pw_do_state s WHERE s.alarm_ms IS NOT NULL "
        "AND s.alarm_ms < " NOW_MS " + $1::int8 AND NOT EXISTS (SELECT 1 FROM pw_leases l "
        "  WHERE l.kind = '" PW_LEASE_DO "' AND l.name = s.name AND l.until_ms >= " NOW_MS ") LIMIT 100",
};

struct pw_pg_do {
    pw_pg_pool_t *pool;
    int st[ST_COUNT];
    char node[128];
};

pw_pg_do_t *pw_pg_do_open(pw_pg_pool_t *pool, const char *node_id)
{
    pw_pg_do_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->pool = pool;
    snprintf(d->node, sizeof d->node, "%s", node_id);
    for (int i = 0; i < ST_COUNT; i++)
        d->st[i] = pw_pg_statement(pool, statements[i]);
    return d;
}

void pw_pg_do_close(pw_pg_do_t *d)
{
    free(d);
}

pw_pg_job_t *pw_pg_do_load(pw_pg_do_t *d, const char *name, pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[1] = { pw_pg_text(name) };
    return pw_pg_run(d->pool, d->st[ST_LOAD], p, 1, cb, arg);
}

pw_pg_job_t *pw_pg_do_save(pw_pg_do_t *d, const char *name, pw_bytes_t image, int64_t alarm_ms,
                           pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[4] = { pw_pg_text(name), pw_pg_bytes(image), pw_pg_text(d->node), pw_pg_int(alarm_ms) };
    return pw_pg_run(d->pool, d->st[ST_SAVE], p, 4, cb, arg);
}

pw_pg_job_t *pw_pg_do_orphan_alarms(pw_pg_do_t *d, int64_t ahead_ms, pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[1] = { pw_pg_int(ahead_ms) };
    return pw_pg_run(d->pool, d->st[ST_ORPHANS], p, 1, cb, arg);
}
