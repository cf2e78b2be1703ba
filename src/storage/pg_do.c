/* pg_do.c — the statements of Durable Objects across nodes (host process, the pool's loop;
 * see pg_do.h). Times are the server's (clock_timestamp), so nodes' clocks need not agree.
 * Invariant: pw_do_state is written only under a lock on the writer's own lease row (FOR
 * SHARE), so a node taking the lease over (an UPDATE of that row) waits for the write and then
 * loads what it wrote: no acknowledged write is lost across a takeover.
 */
#include "storage/pg_do.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::int8"

enum { ST_ACQUIRE, ST_LOAD, ST_SAVE, ST_RENEW, ST_ORPHANS, ST_RELEASE, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    [ST_ACQUIRE] =
        "WITH t AS (INSERT INTO pw_leases (kind, name, node, until_ms) "
        "  VALUES ('do', $1::text, $2::text, " NOW_MS " + $3::int8) "
        "  ON CONFLICT (kind, name) DO UPDATE SET node = EXCLUDED.node, until_ms = EXCLUDED.until_ms "
        "  WHERE pw_leases.node = EXCLUDED.node OR pw_leases.until_ms < " NOW_MS " RETURNING node), "
        "h AS (SELECT node FROM t UNION ALL SELECT node FROM pw_leases "
        "  WHERE kind = 'do' AND name = $1::text AND NOT EXISTS (SELECT 1 FROM t)) "
        "SELECT h.node, n.internal_address FROM h LEFT JOIN pw_nodes n ON n.id = h.node",
    [ST_LOAD] = "SELECT image, alarm_ms FROM pw_do_state WHERE name = $1::text",
    [ST_SAVE] =
        "WITH l AS (SELECT 1 FROM pw_leases WHERE kind = 'do' AND name = $1::text AND node = $3::text "
        "  FOR SHARE) "
        "INSERT INTO pw_do_state (name, image, version, alarm_ms) "
        "SELECT $1::text, $2::bytea, 1, nullif($4::int8, 0) FROM l "
        "ON CONFLICT (name) DO UPDATE SET image = EXCLUDED.image, version = pw_do_state.version + 1, "
        "alarm_ms = EXCLUDED.alarm_ms",
    [ST_RENEW] = "UPDATE pw_leases SET until_ms = " NOW_MS " + $2::int8 WHERE kind = 'do' AND node = $1::text",
    [ST_ORPHANS] =
        "SELECT s.name FROM pw_do_state s WHERE s.alarm_ms IS NOT NULL "
        "AND s.alarm_ms < " NOW_MS " + $1::int8 AND NOT EXISTS (SELECT 1 FROM pw_leases l "
        "  WHERE l.kind = 'do' AND l.name = s.name AND l.until_ms >= " NOW_MS ") LIMIT 100",
    [ST_RELEASE] = "DELETE FROM pw_leases WHERE kind = 'do' AND node = $1::text",
};

struct pw_pg_do {
    pw_pg_pool_t *pool;
    int st[ST_COUNT];
    char node[128];
    int64_t lease_ms;
};

pw_pg_do_t *pw_pg_do_open(pw_pg_pool_t *pool, const char *node_id, unsigned lease_ms)
{
    pw_pg_do_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->pool = pool;
    d->lease_ms = lease_ms;
    snprintf(d->node, sizeof d->node, "%s", node_id);
    for (int i = 0; i < ST_COUNT; i++)
        d->st[i] = pw_pg_statement(pool, statements[i]);
    return d;
}

void pw_pg_do_close(pw_pg_do_t *d)
{
    free(d);
}

pw_pg_job_t *pw_pg_do_acquire(pw_pg_do_t *d, const char *name, pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[3] = { pw_pg_text(name), pw_pg_text(d->node), pw_pg_int(d->lease_ms) };
    return pw_pg_run(d->pool, d->st[ST_ACQUIRE], p, 3, cb, arg);
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

pw_pg_job_t *pw_pg_do_renew(pw_pg_do_t *d, pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[2] = { pw_pg_text(d->node), pw_pg_int(d->lease_ms) };
    return pw_pg_run(d->pool, d->st[ST_RENEW], p, 2, cb, arg);
}

pw_pg_job_t *pw_pg_do_orphan_alarms(pw_pg_do_t *d, int64_t ahead_ms, pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[1] = { pw_pg_int(ahead_ms) };
    return pw_pg_run(d->pool, d->st[ST_ORPHANS], p, 1, cb, arg);
}

pw_pg_job_t *pw_pg_do_release_all(pw_pg_do_t *d, pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[1] = { pw_pg_text(d->node) };
    return pw_pg_run(d->pool, d->st[ST_RELEASE], p, 1, cb, arg);
}
