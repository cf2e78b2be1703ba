/* do_cluster.c — routing Durable Object events across nodes, the leases behind it and the
 * shipping of each commit to PostgreSQL (host process, the main loop; see do_cluster.h). The
 * leases' clock is host/cluster_leases.h's, the shipping host/cluster_ship.h's (shared with D1).
 * A route is one event on its way: held here → delivered; not held → the lease is asked for
 * (one request per object at a time; other routes for it wait), then either the database is
 * restored and the event delivered, or it goes to the holder's internal port
 * (host/do_forward.c). A holder that does not answer is retried until its lease has expired.
 * Invariant: an object is "held" only while pw_lease_held says so, a time before the lease's
 * expiry in PostgreSQL (3/4 of the lease after the request that took or last renewed it).
 */
#include "host/do_cluster.h"
#include "host/cluster_ship.h"
#include "host/do_forward.h"
#include "host/do_id.h"
#include "base/list.h"
#include "base/log.h"
#include "storage/do_sqlite.h"
#include "storage/pg_do.h"
#include "storage/pg_leases.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pw_do_cluster {
    uv_loop_t *loop;
    pw_do_host_t *host;
    pw_pg_do_t *pg;
    pw_cluster_leases_t *leases;
    pw_fetch_t *fetch;
    unsigned lease_ms;
    uv_timer_t *timer;          /* the search for orphaned alarms */
    pw_pg_job_t *orphan_job;
    pw_list_t waiting;          /* routes waiting for another route's lease request */
    pw_do_forward_port_t *port; /* the internal port (host/do_forward.h) */
    char *secret;
};

struct pw_do_route {
    pw_list_t link;             /* c->waiting while another route asks for the lease */
    pw_do_cluster_t *c;
    pw_do_object_t *obj;        /* held (pw_do_object_hold) */
    pw_buf_t copy;              /* name, method, payload */
    pw_bytes_t name, method, payload;
    pw_worker_done_cb done;
    void *arg;
    int forwarded;              /* from another node: never sent on again */
    int asking;                 /* this route asks for the object's lease */
    uint64_t started, sent;
    pw_pg_job_t *job;
    pw_do_event_t *event;
    pw_do_forward_t *forward;
    uv_timer_t *retry;
};

typedef struct {
    pw_do_backend_t head;       /* first */
    pw_do_backend_t *inner;
    pw_do_cluster_t *c;
    char *prefix;               /* "<service>/<class>/" */
} cluster_backend_t;

static void route_run(pw_do_route_t *r);

/* ---- names and time ---- */

static void object_name(pw_do_object_t *obj, char *out, size_t len)
{
    pw_do_ns_t *ns = pw_do_object_ns(obj);
    snprintf(out, len, "%s/%s/%s", pw_do_ns_service(ns), pw_do_ns_class(ns), pw_do_object_id(obj));
}

static uint64_t now(pw_do_cluster_t *c)
{
    return pw_cluster_leases_now(c->leases);
}

static int held(pw_do_cluster_t *c, pw_do_object_t *obj)
{
    return pw_lease_held(c->leases, pw_do_object_lease(obj));
}

/* ---- ending a route ---- */

static void route_free(pw_do_route_t *r)
{
    if (pw_list_linked(&r->link))
        pw_list_remove(&r->link);
    pw_lease_retry_free(r->retry);
    pw_buf_free(&r->copy);
    pw_do_object_unhold(r->obj);
    free(r);
}

static void wake_waiting(pw_do_cluster_t *c, pw_do_object_t *obj)
{
    pw_do_object_lease(obj)->acquiring = 0;
    pw_list_t again = PW_LIST_INIT(again);
    pw_list_t *n, *next;
    for (n = c->waiting.next; n != &c->waiting; n = next) {
        next = n->next;
        pw_do_route_t *w = PW_CONTAINER_OF(n, pw_do_route_t, link);
        if (w->obj == obj) {
            pw_list_remove(n);
            pw_list_push_back(&again, n);
        }
    }
    while (!pw_list_empty(&again)) {
        pw_do_route_t *w = PW_CONTAINER_OF(again.next, pw_do_route_t, link);
        pw_list_remove(&w->link);
        pw_list_init(&w->link);
        route_run(w);
    }
}

static void route_fail(pw_do_route_t *r, int status, const char *text)
{
    if (r->asking) {
        r->asking = 0;
        wake_waiting(r->c, r->obj);
    }
    pw_worker_answer_t a = { .error_status = status, .error_text = text };
    r->done(r->arg, &a);
    route_free(r);
}

static void on_retry(uv_timer_t *t)
{
    route_run(t->data);
}

/* Asks again shortly, while the holder's lease may still run; then gives up with 503. */
static void route_retry(pw_do_route_t *r, const char *why)
{
    if (r->asking) {
        r->asking = 0;
        wake_waiting(r->c, r->obj);
    }
    int rc = pw_lease_retry(r->c->leases, &r->retry, r->started, on_retry, r);
    if (rc != 0)
        route_fail(r, 503, rc > 0 ? why : "out of memory");
}

/* ---- delivering here ---- */

static int gate_answer(pw_do_route_t *r, const pw_worker_answer_t *a);

static void delivered(void *arg, const pw_worker_answer_t *a)
{
    pw_do_route_t *r = arg;
    r->event = NULL;
    if (!a->error_status && gate_answer(r, a))
        return;
    r->done(r->arg, a);
    route_free(r);
}

static void deliver(pw_do_route_t *r)
{
    if (pw_bytes_is(r->method, PW_DO_FORWARD_TAKE)) {   /* taken: nothing to run */
        pw_worker_answer_t a = { .status = 204 };
        r->done(r->arg, &a);
        return route_free(r);
    }
    if (pw_do_event(r->obj, r->method, r->payload, delivered, r, &r->event) < 0)
        route_fail(r, 500, "out of memory");
}

/* ---- taking the lease ---- */

static void loaded(void *arg, const pw_pg_result_t *res)
{
    pw_do_route_t *r = arg;
    char err[512];
    r->job = NULL;
    if (pw_pg_status(res) != PW_PG_OK)
        return route_fail(r, 503, "Durable Object: its state in PostgreSQL cannot be read now");
    pw_bytes_t image = pw_pg_rows(res) ? pw_pg_value(res, 0, 0) : (pw_bytes_t){ NULL, 0 };
    int64_t alarm = pw_pg_rows(res) && !pw_pg_is_null(res, 0, 1) ? pw_pg_i64(res, 0, 1) : 0;
    cluster_backend_t *b = (cluster_backend_t *)pw_do_ns_backend(pw_do_object_ns(r->obj));
    if (pw_do_sqlite_restore(b->inner, pw_do_object_id(r->obj), image, err, sizeof err) < 0) {
        pw_log_error("cluster: %s", err);
        return route_fail(r, 500, "Durable Object: its state could not be restored");
    }
    if (pw_do_object_lease(r->obj)->until)     /* held here, then by another node */
        pw_do_object_reset_stale(r->obj);
    pw_lease_taken(r->c->leases, pw_do_object_lease(r->obj), r->sent);
    if (alarm && pw_do_object_alarm(r->obj) != alarm &&
        pw_do_object_set_alarm(r->obj, alarm, err, sizeof err) < 0)
        pw_log_error("cluster: %s", err);
    r->asking = 0;
    wake_waiting(r->c, r->obj);
    route_run(r);
}

static void acquired(void *arg, const pw_pg_result_t *res)
{
    pw_do_route_t *r = arg;
    char name[512];
    r->job = NULL;
    if (pw_pg_status(res) != PW_PG_OK)
        return route_fail(r, 503, "Durable Object: the cluster's state (PostgreSQL) is unreachable");
    if (pw_pg_rows(res) == 0)
        return route_retry(r, "Durable Object: its lease could not be settled");
    pw_bytes_t node = pw_pg_value(res, 0, 0);
    if (pw_bytes_is(node, pw_cluster_leases_node(r->c->leases))) {
        pw_lease_t *lease = pw_do_object_lease(r->obj);
        pw_lease_holder(lease, (pw_bytes_t){ NULL, 0 });
        if (pw_lease_memory_current(lease, res, pw_cluster_leases_node(r->c->leases))) {
            pw_lease_taken(r->c->leases, lease, r->sent);     /* it only lapsed here */
            r->asking = 0;
            wake_waiting(r->c, r->obj);
            return route_run(r);
        }
        object_name(r->obj, name, sizeof name);
        if (!(r->job = pw_pg_do_load(r->c->pg, name, loaded, r)))
            route_fail(r, 500, "out of memory");
        return;
    }
    r->asking = 0;
    wake_waiting(r->c, r->obj);
    if (r->forwarded)
        return route_fail(r, PW_DO_FORWARD_MOVED, "Durable Object: held by another node");
    if (pw_pg_is_null(res, 0, 1))
        return route_retry(r, "Durable Object: held by a node with no --cluster-address");
    pw_bytes_t address = pw_pg_value(res, 0, 1);
    pw_lease_holder(pw_do_object_lease(r->obj), address);
    if (pw_do_forward_send(r->c, r, address, r->obj, r->name, r->method, r->payload, &r->forward) < 0)
        route_fail(r, 500, "out of memory");
}

static void ask_lease(pw_do_route_t *r)
{
    char name[512];
    pw_do_object_lease(r->obj)->acquiring = 1;
    r->asking = 1;
    r->sent = now(r->c);
    object_name(r->obj, name, sizeof name);
    if (!(r->job = pw_pg_lease_acquire(pw_cluster_leases_pg(r->c->leases), PW_LEASE_DO, name, acquired, r)))
        route_fail(r, 500, "out of memory");
}

static void route_run(pw_do_route_t *r)
{
    pw_lease_t *lease = pw_do_object_lease(r->obj);
    const char *holder = lease->holder;
    if (held(r->c, r->obj)) {
        deliver(r);
    } else if (holder && !r->forwarded) {      /* sent where it was; a refusal asks again */
        if (pw_do_forward_send(r->c, r, pw_bytes_of(holder), r->obj, r->name, r->method, r->payload,
                               &r->forward) < 0)
            route_fail(r, 500, "out of memory");
    } else if (lease->acquiring)
        pw_list_push_back(&r->c->waiting, &r->link);
    else
        ask_lease(r);
}

/* ---- the forwarded answer (host/do_forward.c) ---- */

void pw_do_route_answered(pw_do_route_t *r, const pw_worker_answer_t *a, const char *retry_why)
{
    r->forward = NULL;
    if (retry_why) {
        pw_lease_holder(pw_do_object_lease(r->obj), (pw_bytes_t){ NULL, 0 });
        return route_retry(r, retry_why);
    }
    r->done(r->arg, a);
    route_free(r);
}

/* ---- the public face ---- */

pw_do_route_t *pw_do_route_new(pw_do_cluster_t *c, pw_do_object_t *obj, pw_bytes_t name,
                               pw_bytes_t method, pw_bytes_t payload, pw_worker_done_cb done, void *arg)
{
    pw_do_route_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pw_buf_init(&r->copy);
    if (pw_buf_reserve(&r->copy, name.len + method.len + payload.len + 1) < 0) {
        free(r);
        return NULL;
    }
    pw_buf_append(&r->copy, name.base, name.len);
    pw_buf_append(&r->copy, method.base, method.len);
    pw_buf_append(&r->copy, payload.base, payload.len);
    r->name = (pw_bytes_t){ r->copy.data, name.len };
    r->method = (pw_bytes_t){ r->copy.data + name.len, method.len };
    r->payload = (pw_bytes_t){ r->copy.data + name.len + method.len, payload.len };
    pw_list_init(&r->link);
    r->c = c;
    r->obj = obj;
    r->done = done;
    r->arg = arg;
    r->started = now(c);
    pw_do_object_hold(obj);
    return r;
}

int pw_do_cluster_event(pw_do_cluster_t *c, pw_do_object_t *obj, pw_bytes_t name, pw_bytes_t method,
                        pw_bytes_t payload, pw_worker_done_cb done, void *arg, pw_do_route_t **handle)
{
    pw_do_route_t *r = pw_do_route_new(c, obj, name, method, payload, done, arg);
    if (!r)
        return -ENOMEM;
    *handle = r;
    route_run(r);
    return 0;
}

void pw_do_route_start(pw_do_route_t *r, int forwarded)
{
    r->forwarded = forwarded;
    route_run(r);
}

void pw_do_cluster_cancel(pw_do_route_t *r)
{
    if (!r)
        return;
    if (r->event)
        pw_do_event_cancel(r->event);
    pw_pg_cancel(r->job);
    pw_do_forward_cancel(r->forward);
    if (r->asking) {
        r->asking = 0;
        wake_waiting(r->c, r->obj);
    }
    route_free(r);
}

/* ---- shipping commits (host/cluster_ship.h) ---- */

typedef struct {
    pw_ship_t ship;             /* first */
    pw_do_cluster_t *c;
    pw_do_object_t *obj;        /* held while anything is pending */
    pw_do_store_t *store;       /* in memory: lives as long as its backend */
    int has_alarm;              /* an alarm set since the object's own alarm_ms was read */
    int64_t alarm_ms;
} ship_t;

static pw_pg_job_t *ship_save(pw_ship_t *head, pw_pg_cb cb, void *cb_arg)
{
    ship_t *sh = (ship_t *)head;
    char name[512];
    pw_buf_t image;
    pw_buf_init(&image);
    object_name(sh->obj, name, sizeof name);
    int64_t alarm = sh->has_alarm ? sh->alarm_ms : pw_do_object_alarm(sh->obj);
    pw_pg_job_t *job = pw_do_sqlite_image(sh->store, &image) < 0 ? NULL :
        pw_pg_do_save(sh->c->pg, name, (pw_bytes_t){ image.data, image.len }, alarm, cb, cb_arg);
    pw_buf_free(&image);
    return job;
}

/* The next event restores what was stored. */
static void ship_lost(pw_ship_t *head)
{
    pw_do_object_lease(((ship_t *)head)->obj)->until = 0;
}

static void ship_idle(pw_ship_t *head)
{
    ship_t *sh = (ship_t *)head;
    *pw_do_object_ship(sh->obj) = NULL;
    pw_do_object_unhold(sh->obj);
    free(sh);
}

static const pw_ship_ops_t ship_ops = { .what = "Durable Object", .save = ship_save, .lost = ship_lost,
                                        .idle = ship_idle };

static ship_t *ship_of(pw_do_cluster_t *c, pw_do_object_t *obj)
{
    void **slot = pw_do_object_ship(obj);
    ship_t *sh = *slot;
    if (sh || !(sh = calloc(1, sizeof *sh)))
        return sh;
    pw_ship_init(&sh->ship, &ship_ops);
    sh->c = c;
    sh->obj = obj;
    *slot = sh;
    pw_do_object_hold(obj);
    return sh;
}

int pw_do_cluster_persist(pw_do_cluster_t *c, pw_do_object_t *obj, pw_do_store_t *store,
                          pw_do_saved_cb cb, void *arg)
{
    if (!pw_do_sqlite_take_commit(store))
        return 0;
    ship_t *sh = ship_of(c, obj);
    if (!sh) {
        pw_do_object_lease(obj)->until = 0;
        cb(arg, "Durable Object: out of memory shipping the write");
        return 1;
    }
    sh->store = store;
    pw_ship_commit(&sh->ship, cb, arg);
    return 1;
}

/* The output gate for an event's answer: released once every commit before it is stored. */
typedef struct {
    pw_do_route_t *r;
    pw_worker_answer_t a;
    pw_buf_t copy;
} held_answer_t;

static void answer_released(void *arg, const char *error)
{
    held_answer_t *h = arg;
    pw_do_route_t *r = h->r;
    pw_worker_answer_t failed = { .error_status = 500, .error_text = error };
    r->done(r->arg, error ? &failed : &h->a);
    route_free(r);
    pw_buf_free(&h->copy);
    free(h);
}

/* 1 when the answer waits for a save (answer_released ends the route), else 0. */
static int gate_answer(pw_do_route_t *r, const pw_worker_answer_t *a)
{
    ship_t *sh = *pw_do_object_ship(r->obj);
    if (!sh || a->ws || !pw_ship_busy(&sh->ship))
        return 0;
    held_answer_t *h = calloc(1, sizeof *h);
    if (!h)
        return 0;   /* out of memory: not held (the save still runs) */
    pw_buf_init(&h->copy);
    if (pw_buf_reserve(&h->copy, a->headers.len + a->body.len + 1) < 0) {
        free(h);
        return 0;
    }
    h->r = r;
    h->a = *a;
    pw_buf_append(&h->copy, a->headers.base, a->headers.len);
    pw_buf_append(&h->copy, a->body.base, a->body.len);
    h->a.headers = (pw_bytes_t){ h->copy.data, a->headers.len };
    h->a.body = (pw_bytes_t){ h->copy.data + a->headers.len, a->body.len };
    pw_ship_gate(&sh->ship, answer_released, h);
    return 1;
}

/* ---- the namespace backend: SQLite in memory, alarms also in PostgreSQL ---- */

static void nothing_to_tell(void *arg, const char *error)
{
    (void)arg;
    (void)error;
}

/* The alarm rides the object's next save (with its image), so the output gate covers it. */
static int cb_alarm_set(pw_do_backend_t *head, const char *id_hex, int64_t at_ms, char *err, size_t err_len)
{
    cluster_backend_t *b = (cluster_backend_t *)head;
    pw_do_store_t *store;
    if (b->inner->ops->alarm_set(b->inner, id_hex, at_ms, err, err_len) < 0 ||
        b->inner->ops->open(b->inner, id_hex, &store, err, err_len) < 0)
        return -1;
    char service[256], class_name[256];
    if (sscanf(b->prefix, "%255[^/]/%255[^/]/", service, class_name) != 2)
        return snprintf(err, err_len, "bad namespace name"), -1;
    pw_do_ns_t *ns = pw_do_ns_find(b->c->host, service, class_name);
    pw_do_object_t *obj = ns ? pw_do_object(ns, id_hex, 1) : NULL;
    ship_t *sh = obj ? ship_of(b->c, obj) : NULL;
    if (!sh)
        return snprintf(err, err_len, "out of memory"), -1;
    sh->store = store;
    sh->has_alarm = 1;
    sh->alarm_ms = at_ms;
    pw_ship_commit(&sh->ship, nothing_to_tell, NULL);
    return 0;
}

static int cb_alarm_get(pw_do_backend_t *head, const char *id_hex, int64_t *at_ms)
{
    cluster_backend_t *b = (cluster_backend_t *)head;
    return b->inner->ops->alarm_get(b->inner, id_hex, at_ms);
}

static int cb_alarm_scan(pw_do_backend_t *head, pw_do_alarm_cb cb, void *arg)
{
    cluster_backend_t *b = (cluster_backend_t *)head;
    return b->inner->ops->alarm_scan(b->inner, cb, arg);
}

static int cb_open(pw_do_backend_t *head, const char *id_hex, pw_do_store_t **out, char *err, size_t err_len)
{
    cluster_backend_t *b = (cluster_backend_t *)head;
    return b->inner->ops->open(b->inner, id_hex, out, err, err_len);
}

static void cb_release(pw_do_store_t *s)
{
    s->backend->ops->release(s);
}

static void cb_close(pw_do_backend_t *head)
{
    cluster_backend_t *b = (cluster_backend_t *)head;
    b->inner->ops->close(b->inner);
    free(b->prefix);
    free(b);
}

static const pw_do_backend_ops_t cluster_ops = {
    .open = cb_open, .release = cb_release, .alarm_set = cb_alarm_set, .alarm_get = cb_alarm_get,
    .alarm_scan = cb_alarm_scan, .close = cb_close,
};

pw_do_backend_t *pw_do_cluster_backend(pw_do_cluster_t *c, pw_do_backend_t *inner,
                                       const char *service, const char *class_name)
{
    cluster_backend_t *b = calloc(1, sizeof *b);
    size_t n = strlen(service) + strlen(class_name) + 3;
    if (!b || !(b->prefix = malloc(n))) {
        free(b);
        inner->ops->close(inner);
        return NULL;
    }
    snprintf(b->prefix, n, "%s/%s/", service, class_name);
    b->head.ops = &cluster_ops;
    b->inner = inner;
    b->c = c;
    return &b->head;
}

/* ---- orphaned alarms ---- */

/* A node died holding objects whose alarm is due: take one of them (an internal event that
 * does nothing but take the lease; restoring it schedules its alarm). */
static void adopt_done(void *arg, const pw_worker_answer_t *a)
{
    (void)arg;
    (void)a;
}

static void adopt(pw_do_cluster_t *c, pw_bytes_t name)
{
    char service[256], class_name[256], id[PW_DO_ID_HEX + 1];
    if (sscanf((const char *)name.base, "%255[^/]/%255[^/]/%64s", service, class_name, id) != 3)
        return;
    pw_do_ns_t *ns = pw_do_ns_find(c->host, service, class_name);
    pw_do_object_t *obj = ns ? pw_do_object(ns, id, 1) : NULL;
    if (!obj)
        return;
    pw_do_route_t *r = pw_do_route_new(c, obj, pw_bytes_of(""), pw_bytes_of(PW_DO_FORWARD_TAKE),
                                       pw_bytes_of(""), adopt_done, NULL);
    if (r)
        pw_do_route_start(r, 1);
}

static void orphans_found(void *arg, const pw_pg_result_t *res)
{
    pw_do_cluster_t *c = arg;
    c->orphan_job = NULL;
    if (pw_pg_status(res) != PW_PG_OK)
        return;
    for (size_t i = 0; i < pw_pg_rows(res); i++) {
        char name[600];
        pw_bytes_t v = pw_pg_value(res, i, 0);
        snprintf(name, sizeof name, "%.*s", (int)(v.len < 590 ? v.len : 590), v.base);
        adopt(c, (pw_bytes_t){ (const uint8_t *)name, strlen(name) });
    }
}

static void on_tick(uv_timer_t *t)
{
    pw_do_cluster_t *c = t->data;
    if (!c->orphan_job)
        c->orphan_job = pw_pg_do_orphan_alarms(c->pg, c->lease_ms, orphans_found, c);
}

int pw_do_cluster_open(const pw_binding_env_t *env, pw_do_host_t *host, pw_do_cluster_t **out,
                       char *err, size_t err_len)
{
    pw_do_cluster_t *c = calloc(1, sizeof *c);
    if (!c || !(c->timer = calloc(1, sizeof *c->timer))) {
        free(c);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    c->loop = env->loop;
    c->host = host;
    c->fetch = env->fetch;
    c->leases = env->cluster->leases;
    c->lease_ms = pw_cluster_leases_ms(c->leases);
    c->secret = strdup(env->cluster->secret ? env->cluster->secret : "");
    pw_list_init(&c->waiting);
    uv_timer_init(c->loop, c->timer);
    c->timer->data = c;
    *out = c;
    if (!(c->pg = pw_pg_do_open(env->pg, env->cluster->node_id)))
        return snprintf(err, err_len, "out of memory"), -1;
    if (env->cluster->port && pw_do_forward_listen(c, env->cluster->port, &c->port, err, err_len) < 0)
        return -1;
    uv_timer_start(c->timer, on_tick, c->lease_ms / 2, c->lease_ms / 2);
    uv_unref((uv_handle_t *)c->timer);
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void pw_do_cluster_close(pw_do_cluster_t *c)
{
    if (!c)
        return;
    pw_pg_cancel(c->orphan_job);
    pw_do_forward_close(c->port);
    uv_close((uv_handle_t *)c->timer, timer_closed);
    pw_pg_do_close(c->pg);
    free(c->secret);
    free(c);
}

pw_do_host_t *pw_do_cluster_host(pw_do_cluster_t *c)
{
    return c->host;
}

uv_loop_t *pw_do_cluster_loop(pw_do_cluster_t *c)
{
    return c->loop;
}

pw_fetch_t *pw_do_cluster_fetch(pw_do_cluster_t *c)
{
    return c->fetch;
}

const char *pw_do_cluster_secret(pw_do_cluster_t *c)
{
    return c->secret;
}
