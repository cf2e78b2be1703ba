/* pg_leases.c — the lease statements of the cluster (host process, the pool's loop; the
 * release at stop blocks; see pg_leases.h). Times are the server's (clock_timestamp), so
 * nodes' clocks need not agree.
 * Invariant: a lease changes node only when it has expired (or its holder gave it up), and
 * the state rows of what it covers (pw_do_state, pw_d1_state) are written under a FOR SHARE
 * lock on it, so a takeover waits for a write in flight and then reads what it wrote.
 */
#include "storage/pg_leases.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::int8"
#define KINDS "kind IN ('" PW_LEASE_DO "', '" PW_LEASE_D1 "')"

enum { ST_ACQUIRE, ST_RENEW, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    [ST_ACQUIRE] =
        "WITH p AS (SELECT node FROM pw_leases WHERE kind = $4::text AND name = $1::text), "
        "t AS (INSERT INTO pw_leases (kind, name, node, until_ms) "
        "  VALUES ($4::text, $1::text, $2::text, " NOW_MS " + $3::int8) "
        "  ON CONFLICT (kind, name) DO UPDATE SET node = EXCLUDED.node, until_ms = EXCLUDED.until_ms "
        "  WHERE pw_leases.node = EXCLUDED.node OR pw_leases.until_ms < " NOW_MS " RETURNING node), "
        "h AS (SELECT node FROM t UNION ALL SELECT node FROM pw_leases "
        "  WHERE kind = $4::text AND name = $1::text AND NOT EXISTS (SELECT 1 FROM t)) "
        "SELECT h.node, n.internal_address, (SELECT node FROM p) FROM h "
        "LEFT JOIN pw_nodes n ON n.id = h.node",
    [ST_RENEW] = "UPDATE pw_leases SET until_ms = " NOW_MS " + $2::int8 WHERE " KINDS " AND node = $1::text",
};

struct pw_pg_leases {
    pw_pg_pool_t *pool;
    int st[ST_COUNT];
    char node[128];
    int64_t lease_ms;
};

pw_pg_leases_t *pw_pg_leases_open(pw_pg_pool_t *pool, const char *node_id, unsigned lease_ms)
{
    pw_pg_leases_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->pool = pool;
    l->lease_ms = lease_ms;
    snprintf(l->node, sizeof l->node, "%s", node_id);
    for (int i = 0; i < ST_COUNT; i++)
        l->st[i] = pw_pg_statement(pool, statements[i]);
    return l;
}

void pw_pg_leases_close(pw_pg_leases_t *l)
{
    free(l);
}

pw_pg_job_t *pw_pg_lease_acquire(pw_pg_leases_t *l, const char *kind, const char *name, pw_pg_cb cb,
                                 void *arg)
{
    pw_pg_param_t p[4] = { pw_pg_text(name), pw_pg_text(l->node), pw_pg_int(l->lease_ms), pw_pg_text(kind) };
    return pw_pg_run(l->pool, l->st[ST_ACQUIRE], p, 4, cb, arg);
}

pw_pg_job_t *pw_pg_leases_renew(pw_pg_leases_t *l, pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[2] = { pw_pg_text(l->node), pw_pg_int(l->lease_ms) };
    return pw_pg_run(l->pool, l->st[ST_RENEW], p, 2, cb, arg);
}

long pw_pg_leases_release_now(const char *url, const char *node_id, char *err, size_t err_len)
{
    const char *keys[] = { "dbname", "connect_timeout", NULL };
    const char *values[] = { url, "3", NULL };
    PGconn *c = PQconnectdbParams(keys, values, 1);
    long released = -1;
    if (c && PQstatus(c) == CONNECTION_OK) {
        const char *params[1] = { node_id };
        PGresult *r = PQexecParams(c, "DELETE FROM pw_leases WHERE " KINDS " AND node = $1::text", 1,
                                   NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            released = atol(PQcmdTuples(r));
        else
            snprintf(err, err_len, "%s", PQresultErrorMessage(r));
        PQclear(r);
    } else {
        snprintf(err, err_len, "%s", c ? PQerrorMessage(c) : "out of memory");
    }
    PQfinish(c);
    for (size_t n = strlen(err); released < 0 && n && err[n - 1] == '\n'; n--)
        err[n - 1] = '\0';
    return released;
}
