/* do_objects.c — namespaces, objects and their events (host process, the main loop; see
 * do_objects.h). An object's events go out one by one from its `waiting` list while it may
 * take them (not evicting, not moving); each is a pinned CALL (host/worker_call.h) whose
 * entry point names the object: "$do:<class>:<id>[:<name>]". An object leaves memory
 * (deactivate: its pin and store released) when evicted, or once its isolate is gone and its
 * events have drained; it is freed when nothing refers to it (no store, event, alarm or hold).
 * Invariant: an object is in memory in at most one isolate: a new pin is taken only when the
 * last event on the previous isolate has ended.
 */
#include "host/do_state.h"
#include "base/log.h"
#include "host/do_id.h"
#include "http/ws_codec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_MAX_MS 1000
#define MIN_BUCKETS 64

struct pw_do_event {
    pw_list_t link;             /* in obj->waiting until sent */
    pw_do_object_t *obj;
    pw_worker_done_cb done;
    void *arg;
    char *method;
    pw_buf_t payload;
    pw_worker_call_t *call;     /* once sent */
};

static const char broken_text[] =
    "Durable Object storage write failed; the object was reset and its response discarded";

int64_t pw_do_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the hash table of a namespace ---- */

static size_t bucket_of(const pw_do_ns_t *ns, const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ (uint8_t)id[i]) * 1099511628211ull;
    return (size_t)(h & (ns->n_buckets - 1));
}

static int table_grow(pw_do_ns_t *ns)
{
    size_t n = ns->n_buckets ? ns->n_buckets * 2 : MIN_BUCKETS;
    pw_do_object_t **old = ns->buckets, **fresh = calloc(n, sizeof *fresh);
    size_t old_n = ns->n_buckets;
    if (!fresh)
        return -ENOMEM;
    ns->buckets = fresh;
    ns->n_buckets = n;
    for (size_t i = 0; i < old_n; i++)
        for (pw_do_object_t *o = old[i], *next; o; o = next) {
            next = o->hnext;
            size_t b = bucket_of(ns, o->id);
            o->hnext = fresh[b];
            fresh[b] = o;
        }
    free(old);
    return 0;
}

static void table_remove(pw_do_object_t *obj)
{
    pw_do_ns_t *ns = obj->ns;
    for (pw_do_object_t **p = &ns->buckets[bucket_of(ns, obj->id)]; *p; p = &(*p)->hnext)
        if (*p == obj) {
            *p = obj->hnext;
            ns->n_objects--;
            return;
        }
}

/* ---- objects ---- */

static void pin_lost(pw_pool_pin_t *pin);

pw_do_object_t *pw_do_object(pw_do_ns_t *ns, const char *id_hex, int create)
{
    if (ns->n_buckets)
        for (pw_do_object_t *o = ns->buckets[bucket_of(ns, id_hex)]; o; o = o->hnext)
            if (memcmp(o->id, id_hex, 64) == 0)
                return o;
    if (!create || ns->host->closing)
        return NULL;
    if (ns->n_objects >= ns->n_buckets * 2 && table_grow(ns) < 0)
        return NULL;
    pw_do_object_t *obj = calloc(1, sizeof *obj);
    if (!obj)
        return NULL;
    obj->ns = ns;
    memcpy(obj->id, id_hex, 64);
    pw_pool_pin_init(&obj->pin, pin_lost);
    pw_list_init(&obj->waiting);
    pw_list_init(&obj->sockets);
    size_t b = bucket_of(ns, obj->id);
    obj->hnext = ns->buckets[b];
    ns->buckets[b] = obj;
    ns->n_objects++;
    return obj;
}

void pw_do_object_name(pw_do_object_t *obj, pw_bytes_t name)
{
    if (obj->name || !(obj->name = malloc(name.len + 1)))
        return;
    memcpy(obj->name, name.base, name.len);
    obj->name[name.len] = '\0';
}

static int object_unused(const pw_do_object_t *obj)
{
    return !obj->holds && !obj->store && !obj->inflight && pw_list_empty(&obj->waiting) &&
           !obj->alarm_ms && !obj->alarm_running && !obj->evicting && !pw_list_linked(&obj->alarm_link) &&
           pw_list_empty(&obj->sockets);
}

static void object_free(pw_do_object_t *obj)
{
    table_remove(obj);
    pw_buf_free(&obj->auto_request);
    pw_buf_free(&obj->auto_response);
    free(obj->name);
    pw_lease_free(&obj->lease);
    free(obj);
}

void pw_do_object_hold(pw_do_object_t *obj)
{
    obj->holds++;
}

void pw_do_object_unhold(pw_do_object_t *obj)
{
    obj->holds--;
    if (object_unused(obj))
        object_free(obj);
}

static int activate(pw_do_object_t *obj, char *err, size_t err_len)
{
    pw_do_backend_t *b = obj->ns->backend;
    if (b->ops->open(b, obj->id, &obj->store, err, err_len) < 0)
        return -1;
    pw_list_push_back(&obj->ns->host->active, &obj->active_link);
    return 0;
}

/* It leaves memory: its pin and store are released (its data stays). */
static void deactivate(pw_do_object_t *obj)
{
    pw_pool_unpin(&obj->pin);
    pw_do_sockets_forget(obj);
    if (!obj->store)
        return;
    obj->ns->backend->ops->release(obj->store);
    obj->store = NULL;
    pw_list_remove(&obj->active_link);
}

pw_do_store_t *pw_do_object_store(pw_do_object_t *obj, const pw_port_t *port)
{
    if (!obj->store || obj->moving || !obj->pin.child || pw_pool_pin_port(&obj->pin) != port)
        return NULL;
    return obj->store;
}

/* ---- events ---- */

static void settle(pw_do_object_t *obj);

static void event_free(pw_do_event_t *ev)
{
    free(ev->method);
    pw_buf_free(&ev->payload);
    free(ev);
}

/* Answers an event that never reached (or no longer has) an isolate. */
static void event_fail(pw_do_event_t *ev, int status, const char *text)
{
    pw_worker_answer_t a = { .error_status = status, .error_text = text, .headers = pw_bytes_of(""),
                             .body = pw_bytes_of("") };
    ev->done(ev->arg, &a);
    event_free(ev);
}

static void event_answered(void *arg, const pw_worker_answer_t *answer)
{
    pw_do_event_t *ev = arg;
    pw_do_object_t *obj = ev->obj;
    pw_do_object_hold(obj);
    obj->inflight--;
    obj->last_event_ms = uv_now(obj->ns->host->opts.loop);
    ev->call = NULL;
    if (obj->broken && !answer->error_status) {
        event_fail(ev, 500, broken_text);   /* the output gate: its writes did not last */
    } else {
        ev->done(ev->arg, answer);
        event_free(ev);
    }
    settle(obj);
    pw_do_object_unhold(obj);
}

/* "$do:<class>:<id>[:<name>]" */
static char *entry_point(const pw_do_object_t *obj)
{
    size_t len = 4 + strlen(obj->ns->class_name) + 1 + 64 + (obj->name ? 1 + strlen(obj->name) : 0) + 1;
    char *entry = malloc(len);
    if (entry)
        snprintf(entry, len, "$do:%s:%s%s%s", obj->ns->class_name, obj->id, obj->name ? ":" : "",
                 obj->name ? obj->name : "");
    return entry;
}

/* Sends one event to the object's isolate (bringing the object into memory first). */
static void event_send(pw_do_event_t *ev)
{
    pw_do_object_t *obj = ev->obj;
    const pw_do_host_options_t *o = &obj->ns->host->opts;
    char err[1024];
    if (!obj->store && activate(obj, err, sizeof err) < 0)
        return event_fail(ev, 500, err);
    pw_pool_t *pool = o->lookup(o->lookup_arg, obj->ns->service);
    if (!pool)
        return event_fail(ev, 503, "the worker defining this Durable Object class is not running");
    char *entry = entry_point(obj);
    if (!entry)
        return event_fail(ev, 500, "out of memory");
    obj->inflight++;
    pw_bytes_t method = pw_bytes_of(ev->method);
    pw_bytes_t payload = { ev->payload.data ? ev->payload.data : (const uint8_t *)"", ev->payload.len };
    int rc = pw_worker_call_pinned(pool, &obj->pin, entry, method, payload, event_answered, ev, &ev->call);
    free(entry);
    if (rc < 0) {
        obj->inflight--;
        event_fail(ev, 500, "out of memory");
    }
}

static void evicted(void *arg, const pw_worker_answer_t *answer);

/* Asks its isolate to drop the instance; it leaves memory when that is answered. */
static void evict(pw_do_object_t *obj)
{
    if (!obj->pin.child) {
        deactivate(obj);
        return;
    }
    pw_do_event_t *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->method = strdup("__evict__"))) {
        free(ev);
        return;
    }
    ev->obj = obj;
    ev->done = evicted;
    ev->arg = obj;
    pw_buf_init(&ev->payload);
    obj->evicting = 1;
    event_send(ev);
}

static void evicted(void *arg, const pw_worker_answer_t *answer)
{
    pw_do_object_t *obj = arg;
    obj->evicting = 0;
    deactivate(obj);
}

/* Sends what waits, while the object can take events; an object whose isolate went away
 * (or whose write failed) leaves memory once its last event there has ended. */
static void settle(pw_do_object_t *obj)
{
    if (obj->inflight == 0 && !obj->evicting && (obj->moving || obj->broken)) {
        obj->moving = 0;
        if (obj->broken) {
            obj->broken = 0;
            evict(obj);
        } else {
            deactivate(obj);
        }
    }
    while (!obj->evicting && !obj->moving && !obj->ns->host->closing && !pw_list_empty(&obj->waiting)) {
        pw_do_event_t *ev = PW_CONTAINER_OF(obj->waiting.next, pw_do_event_t, link);
        pw_list_remove(&ev->link);
        event_send(ev);
    }
}

/* Its isolate died or retires: events still there finish there; new ones wait for them. */
static void pin_lost(pw_pool_pin_t *pin)
{
    pw_do_object_t *obj = PW_CONTAINER_OF(pin, pw_do_object_t, pin);
    pw_do_object_hold(obj);
    if (pin->died)      /* its hibernatable sockets go with it, as Cloudflare resets them */
        pw_do_sockets_reset(obj, PW_WS_CLOSE_INTERNAL, "Durable Object reset: its isolate died");
    if (obj->inflight)
        obj->moving = 1;
    else
        deactivate(obj);
    settle(obj);
    pw_do_object_unhold(obj);
}

int pw_do_event(pw_do_object_t *obj, pw_bytes_t method, pw_bytes_t payload, pw_worker_done_cb done,
                void *arg, pw_do_event_t **handle)
{
    pw_do_event_t *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->method = malloc(method.len + 1))) {
        free(ev);
        return -ENOMEM;
    }
    memcpy(ev->method, method.base, method.len);
    ev->method[method.len] = '\0';
    pw_buf_init(&ev->payload);
    if (payload.len && pw_buf_append(&ev->payload, payload.base, payload.len) < 0) {
        event_free(ev);
        return -ENOMEM;
    }
    ev->obj = obj;
    ev->done = done;
    ev->arg = arg;
    if (handle)
        *handle = ev;
    obj->last_event_ms = uv_now(obj->ns->host->opts.loop);
    pw_do_object_hold(obj);
    pw_list_push_back(&obj->waiting, &ev->link);
    settle(obj);
    pw_do_object_unhold(obj);
    return 0;
}

int pw_do_event_internal(pw_do_object_t *obj, const char *method, pw_bytes_t payload,
                         pw_worker_done_cb done, void *arg)
{
    return pw_do_event(obj, pw_bytes_of(method), payload, done, arg, NULL);
}

void pw_do_event_cancel(pw_do_event_t *ev)
{
    pw_do_object_t *obj = ev->obj;
    pw_do_object_hold(obj);
    if (ev->call) {
        pw_worker_call_cancel(ev->call);
        obj->inflight--;
    } else {
        pw_list_remove(&ev->link);
    }
    event_free(ev);
    settle(obj);
    pw_do_object_unhold(obj);
}

void pw_do_object_reset_stale(pw_do_object_t *obj)
{
    if (!obj->store)
        return;
    pw_log_info("Durable Object %s %s: its lease lapsed on this node and was taken again; the "
                "instance in memory may be stale: resetting it", obj->ns->class_name, obj->id);
    obj->broken = 1;
}

void pw_do_object_write_failed(pw_do_object_t *obj)
{
    pw_log_error("Durable Object %s %s: a storage write failed; resetting the object",
                 obj->ns->class_name, obj->id);
    obj->broken = 1;
}

/* ---- idle eviction ---- */

static void on_sweep(uv_timer_t *timer)
{
    pw_do_host_t *host = timer->data;
    uint64_t now = uv_now(host->opts.loop);
    PW_LIST_FOR_EACH(node, &host->active) {
        pw_do_object_t *obj = PW_CONTAINER_OF(node, pw_do_object_t, active_link);
        if (obj->n_sockets)
            pw_do_sockets_sweep(obj, now);
        if (obj->inflight || obj->evicting || obj->moving || obj->alarm_running ||
            !pw_list_empty(&obj->waiting) || obj->ns->prevent_eviction ||
            now - obj->last_event_ms < host->opts.idle_timeout_ms)
            continue;
        pw_do_object_hold(obj);
        evict(obj);
        pw_do_object_unhold(obj);
    }
}

/* ---- namespaces and the host ---- */

pw_do_ns_t *pw_do_ns_add(pw_do_host_t *host, const char *service, const pw_do_namespace_t *config,
                         pw_do_backend_t *backend)
{
    pw_do_ns_t *ns = calloc(1, sizeof *ns);
    if (!ns || !(ns->service = strdup(service)) || !(ns->class_name = strdup(config->class_name))) {
        if (ns)
            free(ns->service);
        free(ns);
        backend->ops->close(backend);
        return NULL;
    }
    ns->host = host;
    ns->backend = backend;
    ns->enable_sql = config->enable_sql;
    ns->prevent_eviction = config->prevent_eviction;
    pw_do_id_key(config->unique_key, ns->key);
    ns->next = host->namespaces;
    host->namespaces = ns;
    pw_do_alarm_load(ns);
    return ns;
}

pw_do_ns_t *pw_do_ns_find(pw_do_host_t *host, const char *service, const char *class_name)
{
    for (pw_do_ns_t *ns = host->namespaces; ns; ns = ns->next)
        if (strcmp(ns->service, service) == 0 && strcmp(ns->class_name, class_name) == 0)
            return ns;
    return NULL;
}

const uint8_t *pw_do_ns_key(const pw_do_ns_t *ns)
{
    return ns->key;
}

const char *pw_do_ns_service(const pw_do_ns_t *ns)
{
    return ns->service;
}

const char *pw_do_ns_class(const pw_do_ns_t *ns)
{
    return ns->class_name;
}

pw_do_backend_t *pw_do_ns_backend(const pw_do_ns_t *ns)
{
    return ns->backend;
}

pw_do_ns_t *pw_do_object_ns(const pw_do_object_t *obj)
{
    return obj->ns;
}

const char *pw_do_object_id(const pw_do_object_t *obj)
{
    return obj->id;
}

void **pw_do_object_ship(pw_do_object_t *obj)
{
    return &obj->ship;
}

pw_lease_t *pw_do_object_lease(pw_do_object_t *obj)
{
    return &obj->lease;
}

int pw_do_ns_sql_enabled(const pw_do_ns_t *ns)
{
    return ns->enable_sql;
}

int pw_do_host_create(const pw_do_host_options_t *opts, pw_do_host_t **out)
{
    pw_do_host_t *host = calloc(1, sizeof *host);
    if (!host)
        return -ENOMEM;
    host->opts = *opts;
    if (!host->opts.idle_timeout_ms)
        host->opts.idle_timeout_ms = PW_DO_DEFAULT_IDLE_MS;
    pw_list_init(&host->active);
    pw_list_init(&host->alarms);
    uv_timer_init(opts->loop, &host->sweep);
    host->sweep.data = host;
    uint64_t tick = host->opts.idle_timeout_ms / 4;
    tick = tick < 10 ? 10 : tick > SWEEP_MAX_MS ? SWEEP_MAX_MS : tick;
    uv_timer_start(&host->sweep, on_sweep, tick, tick);
    uv_unref((uv_handle_t *)&host->sweep);
    pw_do_alarms_init(host);
    host->open_timers = 2;
    *out = host;
    return 0;
}

/* Everything of one namespace: waiting events fail, events in flight are withdrawn. */
static void ns_free(pw_do_ns_t *ns)
{
    for (size_t i = 0; i < ns->n_buckets; i++)
        while (ns->buckets[i]) {
            pw_do_object_t *obj = ns->buckets[i];
            while (!pw_list_empty(&obj->waiting)) {
                pw_do_event_t *ev = PW_CONTAINER_OF(obj->waiting.next, pw_do_event_t, link);
                pw_list_remove(&ev->link);
                event_fail(ev, 503, "Service Unavailable: the server is shutting down.");
            }
            deactivate(obj);
            pw_do_sockets_free(obj);
            pw_list_remove(&obj->alarm_link);
            object_free(obj);
        }
    ns->backend->ops->close(ns->backend);
    free(ns->buckets);
    free(ns->service);
    free(ns->class_name);
    free(ns);
}

static void timer_closed(uv_handle_t *handle)
{
    pw_do_host_t *host = handle->data;
    if (--host->open_timers == 0)
        free(host);
}

void pw_do_host_free(pw_do_host_t *host)
{
    if (!host)
        return;
    host->closing = 1;
    while (host->namespaces) {
        pw_do_ns_t *ns = host->namespaces;
        host->namespaces = ns->next;
        ns_free(ns);
    }
    uv_close((uv_handle_t *)&host->sweep, timer_closed);
    pw_do_alarms_close(host, timer_closed);     /* host is freed if the loop runs again */
}
