/* cluster_leases.c — renewing this node's leases and judging whether one is still held (host
 * process, the main loop; see cluster_leases.h).
 * Invariant: a lease counts as held only while PostgreSQL surely still has it as this node's:
 * the local deadlines start when the request was sent, and are 3/4 of the lease (the rest is
 * the slack for the request's way to the server); a renewal counts only when its answer came
 * within a quarter of the lease, so it ran while every lease it extends was still alive.
 */
#include "host/cluster_leases.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pw_cluster_leases {
    uv_loop_t *loop;
    pw_pg_leases_t *pg;
    char node[128];
    unsigned lease_ms;
    uint64_t chain_start;       /* renewals have had no gap since then */
    uint64_t renewed_until;     /* the last renewal holds every lease of this node until then */
    uint64_t renew_sent;
    uv_timer_t *timer;
    pw_pg_job_t *renew_job;
};

uint64_t pw_cluster_leases_now(pw_cluster_leases_t *l)
{
    uv_update_time(l->loop);
    return uv_now(l->loop);
}

void pw_lease_taken(pw_cluster_leases_t *l, pw_lease_t *lease, uint64_t sent)
{
    lease->until = sent + l->lease_ms * 3 / 4;
}

int pw_lease_memory_current(const pw_lease_t *lease, const pw_pg_result_t *acquired, const char *node)
{
    return lease->until && !pw_pg_is_null(acquired, 0, 2) && pw_bytes_is(pw_pg_value(acquired, 0, 2), node);
}

int pw_lease_held(pw_cluster_leases_t *l, const pw_lease_t *lease)
{
    uint64_t t = pw_cluster_leases_now(l);
    /* its own lease, or renewals without a gap since a time it still held it */
    return lease->until && (t < lease->until || (lease->until > l->chain_start && t < l->renewed_until));
}

void pw_lease_holder(pw_lease_t *lease, pw_bytes_t address)
{
    free(lease->holder);
    lease->holder = address.base ? strndup((const char *)address.base, address.len) : NULL;
}

void pw_lease_free(pw_lease_t *lease)
{
    free(lease->holder);
    lease->holder = NULL;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

int pw_lease_retry(pw_cluster_leases_t *l, uv_timer_t **timer, uint64_t started, uv_timer_cb cb, void *arg)
{
    if (pw_cluster_leases_now(l) - started > 2ull * l->lease_ms + 5000)
        return 1;
    if (!*timer) {
        if (!(*timer = calloc(1, sizeof **timer)))
            return -ENOMEM;
        uv_timer_init(l->loop, *timer);
        (*timer)->data = arg;
    }
    uv_timer_start(*timer, cb, PW_LEASE_RETRY_MS, 0);
    return 0;
}

void pw_lease_retry_free(uv_timer_t *timer)
{
    if (timer)
        uv_close((uv_handle_t *)timer, timer_closed);
}

static void renewed(void *arg, const pw_pg_result_t *res)
{
    pw_cluster_leases_t *l = arg;
    l->renew_job = NULL;
    if (pw_pg_status(res) != PW_PG_OK) {
        pw_log_error("cluster: node %s: renewing its leases failed: %s", l->node, pw_pg_error(res));
        return;
    }
    /* A renewal that took longer than a tick may have run after a lease had expired and been
     * taken by another node: it proves nothing (the next one starts after a gap). */
    if (pw_cluster_leases_now(l) - l->renew_sent > l->lease_ms / 4) {
        pw_log_error("cluster: node %s: renewing its leases took longer than %u ms; not counted",
                     l->node, l->lease_ms / 4);
        return;
    }
    if (l->renew_sent >= l->renewed_until)
        l->chain_start = l->renew_sent;     /* a gap: leases lapsed before it are not renewed */
    l->renewed_until = l->renew_sent + l->lease_ms * 3 / 4;
}

static void on_tick(uv_timer_t *t)
{
    pw_cluster_leases_t *l = t->data;
    if (l->renew_job)
        return;
    l->renew_sent = pw_cluster_leases_now(l);
    l->renew_job = pw_pg_leases_renew(l->pg, renewed, l);
}

int pw_cluster_leases_open(uv_loop_t *loop, pw_pg_pool_t *pool, const char *node_id, unsigned lease_ms,
                           pw_cluster_leases_t **out)
{
    pw_cluster_leases_t *l = calloc(1, sizeof *l);
    if (!l || !(l->timer = calloc(1, sizeof *l->timer)) ||
        !(l->pg = pw_pg_leases_open(pool, node_id, lease_ms))) {
        if (l)
            free(l->timer);
        free(l);
        return -1;
    }
    l->loop = loop;
    l->lease_ms = lease_ms;
    snprintf(l->node, sizeof l->node, "%s", node_id);
    uv_timer_init(loop, l->timer);
    l->timer->data = l;
    uv_timer_start(l->timer, on_tick, lease_ms / 4, lease_ms / 4);
    uv_unref((uv_handle_t *)l->timer);
    *out = l;
    return 0;
}

void pw_cluster_leases_close(pw_cluster_leases_t *l)
{
    if (!l)
        return;
    pw_pg_cancel(l->renew_job);
    uv_close((uv_handle_t *)l->timer, timer_closed);
    pw_pg_leases_close(l->pg);
    free(l);
}

pw_pg_leases_t *pw_cluster_leases_pg(pw_cluster_leases_t *l)
{
    return l->pg;
}

const char *pw_cluster_leases_node(const pw_cluster_leases_t *l)
{
    return l->node;
}

unsigned pw_cluster_leases_ms(const pw_cluster_leases_t *l)
{
    return l->lease_ms;
}
