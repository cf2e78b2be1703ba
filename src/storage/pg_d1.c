/* pg_d1.c — the statements of D1 databases across nodes (host process, the pool's loop; see
 * pg_d1.h).
 * Invariant: pw_d1_state is written only under a lock on the writer's own lease row (FOR
 * SHARE; storage/pg_leases.h): a takeover waits for the write, then loads what it wrote.
 */
#include "storage/pg_d1.h"
#include "storage/pg_leases.h"

#include <stdio.h>
#include <stdlib.h>

enum { ST_LOAD, ST_SAVE, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    [ST_LOAD] = "SELECT image FROM pw_d1_state WHERE name = $1::text",
    [ST_SAVE] =
        "WITH l AS (SELECT 1 FROM pw_leases WHERE kind = '" PW_LEASE_D1 "' AND name = $1::text "
        "  AND node = $3::text FOR SHARE) "
        "INSERT INTO pw_d1_state (name, image, version) SELECT $1::text, $2::bytea, 1 FROM l "
        "ON CONFLICT (name) DO UPDATE SET image = EXCLUDED.image, version = pw_d1_state.version + 1",
};

struct pw_pg_d1 {
    pw_pg_pool_t *pool;
    int st[ST_COUNT];
    char node[128];
};

pw_pg_d1_t *pw_pg_d1_open(pw_pg_pool_t *pool, const char *node_id)
{
    pw_pg_d1_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->pool = pool;
    snprintf(d->node, sizeof d->node, "%s", node_id);
    for (int i = 0; i < ST_COUNT; i++)
        d->st[i] = pw_pg_statement(pool, statements[i]);
    return d;
}

void pw_pg_d1_close(pw_pg_d1_t *d)
{
    free(d);
}

pw_pg_job_t *pw_pg_d1_load(pw_pg_d1_t *d, const char *name, pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[1] = { pw_pg_text(name) };
    return pw_pg_run(d->pool, d->st[ST_LOAD], p, 1, cb, arg);
}

pw_pg_job_t *pw_pg_d1_save(pw_pg_d1_t *d, const char *name, pw_bytes_t image, pw_pg_cb cb, void *arg)
{
    pw_pg_param_t p[3] = { pw_pg_text(name), pw_pg_bytes(image), pw_pg_text(d->node) };
    return pw_pg_run(d->pool, d->st[ST_SAVE], p, 3, cb, arg);
}
