/* cluster.c — opening this node's share of the cluster (host process, main loop; see
 * cluster.h): the schema first (blocking, before anything serves), then the pool and the
 * node's registration, which run on the loop.
 */
#include "host/cluster.h"
#include "base/log.h"
#include "storage/pg_cron.h"
#include "storage/pg_leases.h"
#include "storage/pg_nodes.h"
#include "storage/pg_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pw_cluster {
    char *url;
    pw_pg_pool_t *pool;
    pw_pg_node_t *node;
    pw_pg_cron_t *cron;
    pw_cluster_leases_t *leases;
    pw_cluster_port_t *port;
};

/* The pool, the node's row, cron claims, its leases and its internal port. */
static int open_parts(uv_loop_t *loop, const pw_cluster_options_t *o, pw_cluster_t *c, char *err,
                      size_t err_len)
{
    if (pw_pg_pool_open(loop, o->url, &c->pool, err, err_len) < 0 ||
        pw_pg_node_start(c->pool, o->internal_address, &c->node, err, err_len) < 0)
        return -1;
    if (!(c->url = strdup(o->url)) || !(c->cron = pw_pg_cron_open(c->pool, pw_pg_node_id(c->node))) ||
        pw_cluster_leases_open(loop, c->pool, pw_pg_node_id(c->node), o->lease_ms, &c->leases) < 0)
        return snprintf(err, err_len, "out of memory"), -1;
    if (o->internal_address &&
        pw_cluster_port_start(loop, o->internal_address, o->secret, &c->port, err, err_len) < 0)
        return -1;
    return 0;
}

int pw_cluster_open(uv_loop_t *loop, const pw_cluster_options_t *o, pw_cluster_t **out, char *err,
                    size_t err_len)
{
    int found = pw_pg_schema_migrate(o->url, err, err_len);
    if (found < 0)
        return -1;
    pw_cluster_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (open_parts(loop, o, c, err, err_len) < 0) {
        pw_cluster_close(c);
        return -1;
    }
    char shown[1024];
    pw_pg_url_redact(o->url, shown, sizeof shown);
    if (found < PW_PG_SCHEMA_VERSION)
        pw_log_info("cluster: schema of %s brought from version %d to %d", shown, found,
                    PW_PG_SCHEMA_VERSION);
    pw_log_info("cluster: node %s keeps its state in %s", pw_pg_node_id(c->node), shown);
    *out = c;
    return 0;
}

pw_pg_pool_t *pw_cluster_pool(pw_cluster_t *c)
{
    return c ? c->pool : NULL;
}

const char *pw_cluster_node_id(const pw_cluster_t *c)
{
    return c ? pw_pg_node_id(c->node) : NULL;
}

pw_cluster_leases_t *pw_cluster_leases(pw_cluster_t *c)
{
    return c ? c->leases : NULL;
}

pw_cluster_port_t *pw_cluster_port(pw_cluster_t *c)
{
    return c ? c->port : NULL;
}

static void *claim_tick(void *arg, const char *service, const char *cron, int64_t tick_ms,
                        pw_cron_claimed_cb claimed, void *claimed_arg)
{
    return pw_pg_cron_claim(arg, service, cron, tick_ms, claimed, claimed_arg);
}

static void cancel_claim(void *handle)
{
    pw_pg_cron_cancel(handle);
}

void pw_cluster_claim_cron(pw_cluster_t *c, pw_cron_timer_t *cron)
{
    if (!c || !cron)
        return;
    pw_cron_claim_t claim = { .claim = claim_tick, .cancel = cancel_claim, .arg = c->cron };
    pw_cron_timer_set_claim(cron, &claim);
}

/* A clean stop: what this node held is free for the others now, not when its lease ends. */
static void release_leases(pw_cluster_t *c)
{
    char err[512] = "";
    long n = pw_pg_leases_release_now(c->url, pw_pg_node_id(c->node), err, sizeof err);
    if (n < 0)
        pw_log_error("cluster: node %s could not give up its leases (they expire on their own): %s",
                     pw_pg_node_id(c->node), err);
    else if (n > 0)
        pw_log_info("cluster: node %s gave up %ld lease(s)", pw_pg_node_id(c->node), n);
}

void pw_cluster_close(pw_cluster_t *c)
{
    if (!c)
        return;
    pw_cluster_port_close(c->port);
    if (c->leases) {
        pw_cluster_leases_close(c->leases);
        release_leases(c);
    }
    pw_pg_cron_close(c->cron);
    pw_pg_node_stop(c->node);
    pw_pg_pool_close(c->pool);
    free(c->url);
    free(c);
}
