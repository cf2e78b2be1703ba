/* binding_do.c — the Durable Object binding kind (host process, the main loop: not per_loop,
 * so calls from other loops are forwarded here and every object has one owner). Two groups of
 * ops: "do." from stubs (do.call: an event for an object, answered with the object's answer)
 * and "dos." from the object itself, in the isolate holding it (its storage: get, write
 * batches, list, SQL, transactions, size, alarms). Arguments are checked here against
 * Cloudflare's limits; the objects live in host/do_objects.h, their state behind
 * storage/do_backend.h (SQLite: storage/do_sqlite.h).
 * Gates: the isolate sends an object's writes as one batch before anything else leaves it
 * (python/pyworkerd/do_storage.py), and a batch commits before the next frame of that
 * isolate is read; a batch that fails turns the object's answers in flight into errors.
 * Invariant: each call is answered once; a stub call whose isolate dies first withdraws its
 * event and nothing answers.
 */
#include "host/binding.h"
#include "base/log.h"
#include "host/do_cluster.h"
#include "host/do_id.h"
#include "host/do_objects.h"
#include "host/do_sockets.h"
#include "host/port.h"
#include "host/watched_call.h"
#include "host/ws_bridge.h"
#include "storage/do_sqlite.h"
#include "wire/frame.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;           /* the binding's */
    pw_do_ns_t *ns;
} do_binding_t;

/* The kind's state: the objects, and (--storage postgresql://) this node's share of them. */
typedef struct {
    pw_do_host_t *objects;
    pw_do_cluster_t *cluster;   /* NULL: one node, state in SQLite files */
} do_kind_t;

typedef struct {
    pw_do_host_t *host;
    pw_do_cluster_t *cluster;
    const char *service;        /* the worker's name: its classes' storage calls */
    do_binding_t *bindings;
    size_t n_bindings;
} do_worker_t;

/* ---- opening the namespaces ---- */

/* Where a namespace keeps its objects: <disk>/<uniqueKey>, the disk's path relocated under
 * --persist-dir when relative (as KV's); NULL (memory) for inMemory or --persist-dir=:memory:. */
static const char *ns_dir(const pw_binding_env_t *env, const pw_worker_t *w, const char *unique_key,
                          char *buf, size_t len)
{
    const char *base = env->persist_dir;
    const pw_service_t *disk = pw_config_service(env->config, w->do_storage_disk);
    if (w->do_storage != PW_DO_STORAGE_DISK || !disk || (base && strcmp(base, ":memory:") == 0))
        return NULL;
    if (!base || disk->disk_path[0] == '/')
        snprintf(buf, len, "%s/%s", disk->disk_path, unique_key);
    else
        snprintf(buf, len, "%s/%s/%s", base, disk->disk_path, unique_key);
    return buf;
}

static int open_namespaces(do_kind_t *k, const pw_binding_env_t *env, const pw_service_t *s,
                           char *err, size_t err_len)
{
    const pw_worker_t *w = &s->worker;
    for (size_t i = 0; i < w->n_do_namespaces; i++) {
        char dir[4096], why[1024];
        pw_do_backend_t *backend;
        /* in a cluster the databases are in memory, restored from PostgreSQL when taken */
        const char *path = k->cluster ? NULL : ns_dir(env, w, w->do_namespaces[i].unique_key, dir, sizeof dir);
        if (pw_do_sqlite_open(path, &backend, why, sizeof why) < 0) {
            snprintf(err, err_len, "service %s: Durable Object class %s: cannot open its storage: %s",
                     s->name, w->do_namespaces[i].class_name, why);
            return -1;
        }
        if (k->cluster && !(backend = pw_do_cluster_backend(k->cluster, backend, s->name,
                                                            w->do_namespaces[i].class_name))) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
        if (!pw_do_ns_add(k->objects, s->name, &w->do_namespaces[i], backend)) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
    }
    return 0;
}

static int do_open(const pw_binding_env_t *env, void **state, char *err, size_t err_len)
{
    pw_do_host_options_t o = { .loop = env->loop, .lookup = env->lookup, .lookup_arg = env->lookup_arg,
                               .idle_timeout_ms = env->do_idle_timeout_ms };
    do_kind_t *k = calloc(1, sizeof *k);
    if (!k || pw_do_host_create(&o, &k->objects) < 0) {
        free(k);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    *state = k;
    if (env->pg && env->cluster && pw_do_cluster_open(env, k->objects, &k->cluster, err, err_len) < 0)
        return -1;
    for (size_t i = 0; i < env->config->n_services; i++) {
        const pw_service_t *s = &env->config->services[i];
        if (s->kind == PW_SERVICE_WORKER && open_namespaces(k, env, s, err, err_len) < 0)
            return -1;
    }
    return 0;
}

static void do_close(void *state)
{
    do_kind_t *k = state;
    if (!k)
        return;
    pw_do_host_free(k->objects);
    pw_do_cluster_close(k->cluster);
    free(k);
}

static int do_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                     void **state, char *err, size_t err_len)
{
    const pw_worker_t *wc = &service->worker;
    do_worker_t *w = calloc(1, sizeof *w);
    if (w && !(w->bindings = calloc(wc->n_bindings ? wc->n_bindings : 1, sizeof *w->bindings))) {
        free(w);
        w = NULL;
    }
    *state = w;
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    do_kind_t *k = host_state;
    w->host = k->objects;
    w->cluster = k->cluster;
    w->service = service->name;
    for (size_t i = 0; i < wc->n_bindings; i++) {
        const pw_binding_t *b = &wc->bindings[i];
        if (b->kind != PW_BINDING_DURABLE_OBJECT)
            continue;
        pw_do_ns_t *ns = pw_do_ns_find(k->objects, b->value, b->entrypoint);
        if (!ns) {
            snprintf(err, err_len, "service %s: Durable Object binding %s: the namespace %s of service "
                     "%s is not open (restart pyworkerd to add one)", service->name, b->name,
                     b->entrypoint, b->value);
            return -1;
        }
        w->bindings[w->n_bindings++] = (do_binding_t){ b->name, ns };
    }
    return 0;
}

static void do_detach(void *state)
{
    do_worker_t *w = state;
    if (w)
        free(w->bindings);
    free(w);
}

/* ---- stub calls: events for an object ---- */

typedef struct {
    pw_watched_call_t call;     /* first */
    pw_do_event_t *event;
    pw_do_route_t *route;       /* a cluster: the event's way to the node holding the object */
    pw_do_object_t *obj;
} stub_call_t;

/* The object's fetch accepted a WebSocket: the caller gets a socket of its own (the answer's
 * fifth field is its id) linked to the object's (an isolate's socket, or a hibernatable one
 * the host keeps: host/do_sockets.h). */
static void reply_websocket(stub_call_t *sc, const pw_worker_answer_t *a)
{
    char err[256], id[16];
    uint32_t socket_id;
    pw_bytes_t headers = a->headers;
    pw_ws_side_t *target = a->ws;
    if (!target) {
        headers.base += strlen(PW_DO_WS_MARK);
        headers.len -= strlen(PW_DO_WS_MARK);
        if (!(target = pw_do_socket_claim(sc->obj, a->body, err, sizeof err))) {
            pw_watched_call_error(&sc->call, "Error", "%s", err);
            return;
        }
    }
    pw_ws_side_t *side = pw_ws_bridge_open(sc->call.port, &socket_id);
    if (side)
        pw_ws_link(side, target);
    if (!a->ws)
        pw_do_socket_start(target);     /* what it sent before; unlinked: the object hears 1006 */
    if (!side) {
        pw_watched_call_error(&sc->call, "Error", "Durable Object: 502 the WebSocket could not be "
                              "handed to the caller");
        return;
    }
    snprintf(id, sizeof id, "%u", socket_id);
    pw_bytes_t f[5] = { pw_bytes_of(""), pw_bytes_of("101"), headers, pw_bytes_of(""), pw_bytes_of(id) };
    pw_watched_call_reply(&sc->call, f, 5);
}

static int is_websocket_answer(const pw_worker_answer_t *a)
{
    return a->ws || (a->status == 101 && pw_bytes_starts(a->headers, PW_DO_WS_MARK));
}

static void stub_done(void *arg, const pw_worker_answer_t *a)
{
    stub_call_t *sc = arg;
    if (!a->error_status && is_websocket_answer(a)) {
        reply_websocket(sc, a);
    } else if (a->error_status) {
        pw_watched_call_error(&sc->call, "Error", "Durable Object: %d %s", a->error_status,
                              a->error_text ? a->error_text : "");
    } else {
        char status[16];
        snprintf(status, sizeof status, "%u", a->status);
        pw_bytes_t f[4] = { pw_bytes_of(""), pw_bytes_of(status), a->headers, a->body };
        pw_watched_call_reply(&sc->call, f, 4);
    }
}

/* The calling isolate died: the object's event is cancelled. */
static void stub_cancel(pw_watched_call_t *call)
{
    stub_call_t *sc = (stub_call_t *)call;
    if (sc->route)
        pw_do_cluster_cancel(sc->route);
    else
        pw_do_event_cancel(sc->event);
}

/* The object an id names in ns: 0, or -1 once answered (a bad id, out of memory). */
static int object_of(const pw_binding_call_t *c, pw_do_ns_t *ns, pw_bytes_t hex, int create,
                     pw_do_object_t **out)
{
    char id[PW_DO_ID_HEX + 1];
    int rc = pw_do_id_check(pw_do_ns_key(ns), hex, id);
    if (rc == -1)
        return pw_port_reply_error(c->port, c->id, "TypeError", "Invalid Durable Object ID: must be "
                                   "64 hex digits"), -1;
    if (rc < 0)
        return pw_port_reply_error(c->port, c->id, "TypeError", "Durable Object ID is not valid for "
                                   "this namespace."), -1;
    if (!(*out = pw_do_object(ns, id, create)))
        return pw_port_reply_error(c->port, c->id, "Error", create ? "out of memory" :
                                   "Durable Object storage can only be used by the object itself"), -1;
    return 0;
}

/* do.call binding id name method payload: name "" or "=" + idFromName's name. */
static void do_call(const pw_binding_call_t *c)
{
    const do_binding_t *b = c->binding;
    pw_bytes_t name = c->f[3], method = c->f[4];
    pw_do_object_t *obj;
    if (method.len == 0 || (method.len >= 2 && method.base[0] == '_' && method.base[1] == '_')) {
        pw_port_reply_error(c->port, c->id, "TypeError", "The RPC receiver does not implement the "
                            "method \"%.*s\".", (int)(method.len < 200 ? method.len : 200), method.base);
        return;
    }
    if (object_of(c, b->ns, c->f[2], 1, &obj) < 0)
        return;
    if (name.len && name.base[0] == '=')
        pw_do_object_name(obj, (pw_bytes_t){ name.base + 1, name.len - 1 });
    stub_call_t *sc = pw_watched_call_new(c, sizeof *sc, stub_cancel, "out of memory");
    if (!sc)
        return;
    sc->obj = obj;
    const do_worker_t *w = c->state;
    int rc = w->cluster ? pw_do_cluster_event(w->cluster, obj, name, method, c->f[5], stub_done, sc, &sc->route)
                        : pw_do_event(obj, method, c->f[5], stub_done, sc, &sc->event);
    if (rc < 0)
        pw_watched_call_error(&sc->call, "Error", "out of memory");
}

static void *do_resolve(const pw_binding_call_t *c)
{
    do_worker_t *w = c->state;
    for (size_t i = 0; i < w->n_bindings; i++)
        if (pw_bytes_is(c->f[1], w->bindings[i].name))
            return &w->bindings[i];
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker has no %s binding named \"%.*s\"",
                        "Durable Object namespace", (int)(c->f[1].len < 200 ? c->f[1].len : 200),
                        c->f[1].base);
    return NULL;
}

/* ---- the object's own calls: its storage ---- */

/* A storage call handed to the backend; the port is held until done. */
typedef struct {
    pw_port_t *port;
    uint32_t id;
    pw_do_object_t *obj;
    pw_do_store_t *store;
    int is_write;               /* a write batch: the object is told when one fails */
    pw_do_cluster_t *cluster;   /* a commit is shipped to PostgreSQL before the answer goes */
    pw_buf_t answer;            /* the fields, kept while it ships */
} store_call_t;

static void store_call_end(store_call_t *sc)
{
    pw_port_release(sc->port);
    pw_buf_free(&sc->answer);
    free(sc);
}

static void store_reply(store_call_t *sc, const pw_bytes_t *fields, size_t n_fields)
{
    pw_bytes_t f[1 + 2 * PW_DO_MAX_KEYS];
    size_t n = n_fields < 2 * PW_DO_MAX_KEYS ? n_fields : 2 * PW_DO_MAX_KEYS;
    f[0] = pw_bytes_of("");
    for (size_t i = 0; i < n; i++)
        f[1 + i] = fields[i];
    pw_port_reply(sc->port, sc->id, f, 1 + n);
}

/* The commit is in PostgreSQL (error NULL), or is not: the output gate opens, or the answer
 * is an error and the object leaves memory. */
static void store_saved(void *arg, const char *error)
{
    store_call_t *sc = arg;
    if (error) {
        pw_port_reply_error(sc->port, sc->id, "Error", "%s", error);
        pw_do_object_write_failed(sc->obj);
        return store_call_end(sc);
    }
    pw_bytes_t f[2 * PW_DO_MAX_KEYS];
    size_t n = 0;
    pw_cursor_t cur;
    pw_cursor_init(&cur, sc->answer.data, sc->answer.len);
    while (n < 2 * PW_DO_MAX_KEYS && cur.pos < cur.end)
        f[n++] = pw_cursor_bytes(&cur);
    store_reply(sc, f, n);
    store_call_end(sc);
}

/* Keeps the answer's fields and ships the commit; 1 when it does (store_saved answers). */
static int store_ship(store_call_t *sc, const pw_do_result_t *r)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (pw_frame_put_bytes(&sc->answer, r->fields[i].base ? r->fields[i].base : (const uint8_t *)"",
                               r->fields[i].len) < 0)
            return 0;
    return pw_do_cluster_persist(sc->cluster, sc->obj, sc->store, store_saved, sc);
}

static void store_done(void *arg, const pw_do_result_t *r)
{
    store_call_t *sc = arg;
    if (r->error_name) {
        pw_port_reply_error(sc->port, sc->id, r->error_name, "%s", r->error);
        if (sc->is_write)
            pw_do_object_write_failed(sc->obj);
    } else if (sc->cluster && store_ship(sc, r)) {
        return;
    } else {
        store_reply(sc, r->fields, r->n_fields);
    }
    store_call_end(sc);
}

static store_call_t *store_call(const pw_binding_call_t *c, pw_do_object_t *obj, pw_do_store_t *s,
                                int is_write)
{
    store_call_t *sc = calloc(1, sizeof *sc);
    if (!sc) {
        pw_port_reply_error(c->port, c->id, "Error", "out of memory");
        return NULL;
    }
    const do_worker_t *w = c->state;
    sc->port = c->port;
    sc->id = c->id;
    sc->obj = obj;
    sc->store = s;
    sc->is_write = is_write;
    sc->cluster = w ? w->cluster : NULL;
    pw_buf_init(&sc->answer);
    pw_port_hold(c->port);
    return sc;
}

/* The store of the object f[2] names, when the calling isolate holds it; NULL once answered. */
static pw_do_store_t *store_of(const pw_binding_call_t *c, pw_do_object_t **obj_out)
{
    pw_do_object_t *obj;
    if (object_of(c, c->binding, c->f[2], 0, &obj) < 0)
        return NULL;
    pw_do_store_t *store = pw_do_object_store(obj, c->port);
    if (!store)
        pw_port_reply_error(c->port, c->id, "Error", "Durable Object storage can only be used by the "
                            "object itself, in the isolate that holds it");
    if (obj_out)
        *obj_out = obj;
    return store;
}

static int key_ok(const pw_binding_call_t *c, pw_bytes_t key)
{
    if (key.len <= PW_DO_MAX_KEY)
        return 1;
    pw_port_reply_error(c->port, c->id, "RangeError", "Keys cannot be larger than %d bytes. A key of "
                        "size %zu was provided.", PW_DO_MAX_KEY, key.len);
    return 0;
}

/* dos.get cls id key... */
static void dos_get(const pw_binding_call_t *c)
{
    size_t n = c->n - 3;
    pw_do_object_t *obj;
    pw_do_store_t *s = store_of(c, &obj);
    if (!s)
        return;
    if (n > PW_DO_MAX_KEYS) {
        pw_port_reply_error(c->port, c->id, "RangeError", "Maximum number of keys is %d. %zu keys were "
                            "provided.", PW_DO_MAX_KEYS, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!key_ok(c, c->f[3 + i]))
            return;
    store_call_t *sc = store_call(c, obj, s, 0);
    if (sc)
        s->backend->ops->get(s, &c->f[3], n, store_done, sc);
}

/* ---- write batches ---- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One record of a batch: an op byte, then two length-prefixed fields (key, value). Returns 1,
 * 0 at the end, -1 when malformed. */
static int next_record(pw_bytes_t batch, size_t *off, uint8_t *op, pw_bytes_t *key, pw_bytes_t *value)
{
    pw_bytes_t *parts[2] = { key, value };
    if (*off == batch.len)
        return 0;
    *op = batch.base[(*off)++];
    for (int i = 0; i < 2; i++) {
        if (batch.len - *off < 4)
            return -1;
        uint32_t len = le32(batch.base + *off);
        *off += 4;
        if (len > batch.len - *off)
            return -1;
        *parts[i] = (pw_bytes_t){ batch.base + *off, len };
        *off += len;
    }
    return 1;
}

/* An alarm record ('a' at ms, 'A' delete). Returns 0, or -1 once answered. */
static int apply_alarm(const pw_binding_call_t *c, pw_do_object_t *obj, uint8_t op, pw_bytes_t at)
{
    int64_t ms = 0;
    char err[512];
    if (op == 'a' && (pw_bytes_to_i64(at, &ms) < 0 || ms <= 0))
        return pw_port_reply_error(c->port, c->id, "TypeError", "setAlarm() requires a time in "
                                   "milliseconds since the epoch, or a datetime"), -1;
    if (pw_do_object_set_alarm(obj, ms, err, sizeof err) < 0)
        return pw_port_reply_error(c->port, c->id, "Error", "%s", err), -1;
    return 0;
}

/* Counts and checks the batch's records; applies its alarm records. Returns the key-value
 * records, or -1 once answered. */
static long batch_check(const pw_binding_call_t *c, pw_do_object_t *obj, pw_bytes_t batch)
{
    size_t off = 0;
    long n = 0;
    uint8_t op;
    pw_bytes_t key, value;
    int rc;
    while ((rc = next_record(batch, &off, &op, &key, &value)) == 1) {
        if (op == 'a' || op == 'A') {
            if (apply_alarm(c, obj, op, value) < 0)
                return -1;
            continue;
        }
        if (op != PW_DO_PUT && op != PW_DO_DELETE && op != PW_DO_DELETE_ALL)
            break;
        if (!key_ok(c, key))
            return -1;
        if (value.len > PW_DO_MAX_VALUE)
            return pw_port_reply_error(c->port, c->id, "RangeError", "Values cannot be larger than %u "
                                       "bytes. A value of size %zu was provided.", PW_DO_MAX_VALUE,
                                       value.len), -1;
        n++;
    }
    if (rc != 0)
        return pw_port_reply_error(c->port, c->id, "TypeError", "malformed storage write batch"), -1;
    return n;
}

/* dos.write cls id batch: puts, deletes, deleteAll and alarms, committed as one. */
static void dos_write(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    pw_do_store_t *s = store_of(c, &obj);
    if (!s)
        return;
    long n = batch_check(c, obj, c->f[3]);
    if (n < 0) {                /* the isolate's cache holds writes that will never be */
        pw_do_object_write_failed(obj);
        return;
    }
    pw_do_write_t *writes = calloc((size_t)n + 1, sizeof *writes);
    store_call_t *sc = writes ? store_call(c, obj, s, 1) : NULL;
    if (!sc) {
        if (!writes)
            pw_port_reply_error(c->port, c->id, "Error", "out of memory");
        pw_do_object_write_failed(obj);
        free(writes);
        return;
    }
    size_t off = 0, i = 0;
    uint8_t op;
    pw_bytes_t key, value;
    while (next_record(c->f[3], &off, &op, &key, &value) == 1)
        if (op != 'a' && op != 'A')
            writes[i++] = (pw_do_write_t){ (pw_do_write_op_t)op, key, value };
    s->backend->ops->write(s, writes, i, store_done, sc);
    free(writes);
}

/* ---- list, SQL, transactions, size, alarm ---- */

/* An optional bound: "" absent, "=" + value present. */
static int bound(pw_bytes_t f, pw_bytes_t *value)
{
    if (f.len == 0)
        return 0;
    *value = (pw_bytes_t){ f.base + 1, f.len - 1 };
    return 1;
}

/* dos.list cls id start startAfter end prefix reverse limit */
static void dos_list(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    pw_do_list_t r = { 0 };
    pw_do_object_t *obj;
    pw_do_store_t *s = store_of(c, &obj);
    if (!s)
        return;
    r.has_start = bound(f[3], &r.start);
    r.has_start_after = bound(f[4], &r.start_after);
    r.has_end = bound(f[5], &r.end);
    r.has_prefix = bound(f[6], &r.prefix);
    r.reverse = pw_bytes_is(f[7], "1");
    if (f[8].len && (pw_bytes_to_i64(f[8], &r.limit) < 0 || r.limit <= 0)) {
        pw_port_reply_error(c->port, c->id, "TypeError", "list() limit must be a positive integer");
        return;
    }
    store_call_t *sc = store_call(c, obj, s, 0);
    if (sc)
        s->backend->ops->list(s, &r, store_done, sc);
}

/* dos.sql cls id query bindings */
static void dos_sql(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    pw_do_store_t *s = store_of(c, &obj);
    if (!s)
        return;
    if (!pw_do_ns_sql_enabled(c->binding)) {
        pw_port_reply_error(c->port, c->id, "Error", "SQL is not enabled for this Durable Object "
                            "class. Set enableSql = true in its durableObjectNamespaces entry.");
        return;
    }
    store_call_t *sc = store_call(c, obj, s, 0);
    if (sc)
        s->backend->ops->sql(s, c->f[3], c->f[4], store_done, sc);
}

/* dos.txn cls id begin|commit|rollback */
static void dos_txn(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    pw_do_store_t *s = store_of(c, &obj);
    pw_bytes_t op = c->f[3];
    if (!s)
        return;
    pw_do_txn_t t = pw_bytes_is(op, "begin") ? PW_DO_TXN_BEGIN : pw_bytes_is(op, "commit") ? PW_DO_TXN_COMMIT
                  : PW_DO_TXN_ROLLBACK;
    if (t == PW_DO_TXN_ROLLBACK && !pw_bytes_is(op, "rollback")) {
        pw_port_reply_error(c->port, c->id, "TypeError", "dos.txn takes begin, commit or rollback");
        return;
    }
    store_call_t *sc = store_call(c, obj, s, 0);
    if (sc)
        s->backend->ops->txn(s, t, store_done, sc);
}

/* dos.size cls id */
static void dos_size(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    pw_do_store_t *s = store_of(c, &obj);
    store_call_t *sc = s ? store_call(c, obj, s, 0) : NULL;
    if (sc)
        s->backend->ops->size(s, store_done, sc);
}

/* dos.alarm cls id: the alarm's time in ms, or "" when none. */
static void dos_alarm(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    if (!store_of(c, &obj))
        return;
    char at[24] = "";
    if (pw_do_object_alarm(obj))
        snprintf(at, sizeof at, "%" PRId64, pw_do_object_alarm(obj));
    pw_bytes_t f[2] = { pw_bytes_of(""), pw_bytes_of(at) };
    pw_port_reply(c->port, c->id, f, 2);
}

/* ---- hibernatable WebSockets (host/do_sockets.h): the object's own calls ---- */

static void reply_done(const pw_binding_call_t *c, int rc, const char *err)
{
    if (rc < 0) {
        pw_port_reply_error(c->port, c->id, "Error", "%s", err);
        return;
    }
    pw_bytes_t f[1] = { pw_bytes_of("") };
    pw_port_reply(c->port, c->id, f, 1);
}

/* dos.wsaccept cls id sock tags: ctx.acceptWebSocket(ws, tags) */
static void dos_wsaccept(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    char err[256];
    if (store_of(c, &obj))
        reply_done(c, pw_do_socket_accept(obj, c->f[3], c->f[4], err, sizeof err), err);
}

/* dos.wsdrop cls id sock: accepted by a fetch that did not return it */
static void dos_wsdrop(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    if (!store_of(c, &obj))
        return;
    pw_do_socket_drop(obj, c->f[3]);
    reply_done(c, 0, "");
}

/* dos.wssend cls id sock binary data */
static void dos_wssend(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    char err[256];
    if (store_of(c, &obj))
        reply_done(c, pw_do_socket_send(obj, c->f[3], pw_bytes_is(c->f[4], "1"), c->f[5], err, sizeof err),
                   err);
}

/* dos.wsclose cls id sock code reason */
static void dos_wsclose(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    char err[256];
    int64_t code;
    if (!store_of(c, &obj))
        return;
    if (pw_bytes_to_i64(c->f[4], &code) < 0 || code < 1000 || code > 4999) {
        pw_port_reply_error(c->port, c->id, "TypeError", "Invalid WebSocket close code.");
        return;
    }
    reply_done(c, pw_do_socket_close(obj, c->f[3], (uint16_t)code, c->f[5], err, sizeof err), err);
}

/* dos.wsattach cls id sock att: "" none, "=" + JSON */
static void dos_wsattach(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    pw_bytes_t json = { NULL, 0 };
    char err[256];
    if (!store_of(c, &obj))
        return;
    int has = bound(c->f[4], &json);
    reply_done(c, pw_do_socket_attach(obj, c->f[3], has, json, err, sizeof err), err);
}

/* dos.wsauto cls id request response: request "" none, "=" + text */
static void dos_wsauto(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    pw_bytes_t request = { NULL, 0 };
    char err[256];
    if (!store_of(c, &obj))
        return;
    int has = bound(c->f[3], &request);
    reply_done(c, pw_do_socket_auto_response(obj, has, request, c->f[4], err, sizeof err), err);
}

/* dos.wslist cls id: the object's sockets and auto-response, as JSON. */
static void dos_wslist(const pw_binding_call_t *c)
{
    pw_do_object_t *obj;
    if (!store_of(c, &obj))
        return;
    char *json = pw_do_socket_list(obj);
    if (!json) {
        pw_port_reply_error(c->port, c->id, "Error", "out of memory");
        return;
    }
    pw_bytes_t f[2] = { pw_bytes_of(""), pw_bytes_of(json) };
    pw_port_reply(c->port, c->id, f, 2);
    free(json);
}

/* The namespace of one of the calling worker's own classes (f[1]). */
static void *dos_resolve(const pw_binding_call_t *c)
{
    do_worker_t *w = c->state;
    char cls[256];
    if (c->f[1].len < sizeof cls) {
        memcpy(cls, c->f[1].base, c->f[1].len);
        cls[c->f[1].len] = '\0';
        pw_do_ns_t *ns = pw_do_ns_find(w->host, w->service, cls);
        if (ns)
            return ns;
    }
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker implements no Durable Object class "
                        "named \"%.*s\"", (int)(c->f[1].len < 200 ? c->f[1].len : 200), c->f[1].base);
    return NULL;
}

static const pw_binding_op_t do_ops[] = {
    { "do.call", 6, 6, "do.call takes id, name, method and payload", 1, do_call },
};

static const pw_binding_op_t dos_ops[] = {
    { "dos.get", 3, 3 + PW_DO_MAX_KEYS, NULL, 0, dos_get },
    { "dos.write", 4, 4, "dos.write takes one batch", 0, dos_write },
    { "dos.list", 9, 9, "dos.list takes start, startAfter, end, prefix, reverse and limit", 0, dos_list },
    { "dos.sql", 5, 5, "dos.sql takes a query and its bindings", 0, dos_sql },
    { "dos.txn", 4, 4, "dos.txn takes begin, commit or rollback", 0, dos_txn },
    { "dos.size", 3, 3, "dos.size takes no arguments", 0, dos_size },
    { "dos.alarm", 3, 3, "dos.alarm takes no arguments", 0, dos_alarm },
    { "dos.wsaccept", 5, 5, "dos.wsaccept takes a socket and its tags", 0, dos_wsaccept },
    { "dos.wsdrop", 4, 4, "dos.wsdrop takes a socket", 0, dos_wsdrop },
    { "dos.wssend", 6, 6, "dos.wssend takes a socket, binary and data", 0, dos_wssend },
    { "dos.wsclose", 6, 6, "dos.wsclose takes a socket, code and reason", 0, dos_wsclose },
    { "dos.wsattach", 5, 5, "dos.wsattach takes a socket and an attachment", 0, dos_wsattach },
    { "dos.wsauto", 5, 5, "dos.wsauto takes a request and a response", 0, dos_wsauto },
    { "dos.wslist", 3, 3, "dos.wslist takes no arguments", 0, dos_wslist },
};

static const pw_binding_group_t do_groups[] = {
    { .prefix = "do.", .resolve = do_resolve, .unknown_op = "unknown binding operation \"%.*s\"",
      .ops = do_ops, .n_ops = sizeof do_ops / sizeof do_ops[0] },
    { .prefix = "dos.", .resolve = dos_resolve, .unknown_op = "unknown binding operation \"%.*s\"",
      .ops = dos_ops, .n_ops = sizeof dos_ops / sizeof dos_ops[0] },
};

const pw_binding_kind_impl_t pw_binding_do = {
    .name = "Durable Object", .open = do_open, .close = do_close, .attach = do_attach,
    .detach = do_detach, .groups = do_groups, .n_groups = 2,
};
