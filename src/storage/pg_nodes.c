/* pg_nodes.c — registering this node and its heartbeat (host process, the pool's loop; see
 * pg_nodes.h). The heartbeat is an UPDATE of its row; when it fails (PostgreSQL down) the
 * next one tries again, and an UPSERT puts the row back if it was pruned meanwhile. Rows of
 * nodes silent for an hour are deleted when a node registers.
 */
#include "storage/pg_nodes.h"
#include "base/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { ST_REGISTER, ST_PRUNE, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    [ST_REGISTER] = "INSERT INTO pw_nodes (id, internal_address, hostname, pid) "
                    "VALUES ($1, $2, $3, $4::int4) ON CONFLICT (id) DO UPDATE SET "
                    "heartbeat_at = now(), internal_address = EXCLUDED.internal_address",
    [ST_PRUNE] = "DELETE FROM pw_nodes WHERE heartbeat_at < now() - interval '1 hour'",
};

struct pw_pg_node {
    pw_pg_pool_t *pool;
    uv_timer_t *timer;
    int st[ST_COUNT];
    char id[128];
    char hostname[64];
    char *address;
    pw_pg_job_t *beat;          /* the heartbeat in flight */
};

const char *pw_pg_node_id(const pw_pg_node_t *n)
{
    return n->id;
}

static void make_id(pw_pg_node_t *n)
{
    unsigned char r[4] = { 0 };
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, r, sizeof r) != (ssize_t)sizeof r)
            memset(r, 0, sizeof r);
        close(fd);
    }
    if (gethostname(n->hostname, sizeof n->hostname) < 0)
        snprintf(n->hostname, sizeof n->hostname, "node");
    n->hostname[sizeof n->hostname - 1] = '\0';
    snprintf(n->id, sizeof n->id, "%s-%d-%02x%02x%02x%02x", n->hostname, (int)getpid(), r[0], r[1],
             r[2], r[3]);
}

static void beaten(void *arg, const pw_pg_result_t *r)
{
    pw_pg_node_t *n = arg;
    n->beat = NULL;
    if (pw_pg_status(r) == PW_PG_ERROR)
        pw_log_error("cluster: node %s: heartbeat failed: %s", n->id, pw_pg_error(r));
}

static void beat(pw_pg_node_t *n)
{
    if (n->beat)
        return;                 /* the last one is still on its way */
    pw_pg_param_t p[4] = { pw_pg_text(n->id), n->address ? pw_pg_text(n->address) : pw_pg_null(),
                           pw_pg_text(n->hostname), pw_pg_int(getpid()) };
    n->beat = pw_pg_run(n->pool, n->st[ST_REGISTER], p, 4, beaten, n);
}

static void on_timer(uv_timer_t *t)
{
    beat(t->data);
}

static void ignore_result(void *arg, const pw_pg_result_t *r)
{
    (void)arg;
    (void)r;
}

int pw_pg_node_start(pw_pg_pool_t *pool, const char *internal_address, pw_pg_node_t **out,
                     char *err, size_t err_len)
{
    pw_pg_node_t *n = calloc(1, sizeof *n);
    if (!n || !(n->timer = calloc(1, sizeof *n->timer)) ||
        (internal_address && !(n->address = strdup(internal_address)))) {
        if (n)
            free(n->timer);
        free(n);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    n->pool = pool;
    for (int i = 0; i < ST_COUNT; i++)
        n->st[i] = pw_pg_statement(pool, statements[i]);
    make_id(n);
    beat(n);
    pw_pg_run(pool, n->st[ST_PRUNE], NULL, 0, ignore_result, NULL);
    uv_timer_init(pw_pg_pool_loop(pool), n->timer);
    n->timer->data = n;
    uv_unref((uv_handle_t *)n->timer);
    uv_timer_start(n->timer, on_timer, PW_NODE_HEARTBEAT_MS, PW_NODE_HEARTBEAT_MS);
    *out = n;
    return 0;
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

void pw_pg_node_stop(pw_pg_node_t *n)
{
    if (!n)
        return;
    pw_pg_cancel(n->beat);
    uv_close((uv_handle_t *)n->timer, free_timer);
    free(n->address);
    free(n);
}
