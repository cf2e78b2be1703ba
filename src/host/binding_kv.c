/* binding_kv.c — the KV binding kind (host process, loop thread): the one front of every KV
 * namespace. Its ops (kv.get, kv.get_many, kv.put, kv.delete, kv.list) check their arguments
 * against Cloudflare's limits and expiration rules here, whatever stores the namespace, then
 * call its backend (storage/kv_backend.h): SQLite for a disk service (shared by every binding
 * naming it), workerd's KV HTTP protocol for a worker or external service (host/kv_remote.h).
 * Invariant: each call that reaches a backend is answered once, from its done(); when the
 * isolate dies first the operation is cancelled and nothing answers.
 */
#include "host/binding.h"
#include "host/disk_dir.h"
#include "host/kv_remote.h"
#include "host/port.h"
#include "host/watched_call.h"
#include "storage/kv_disk.h"
#include "storage/pg_kv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The namespaces of disk services, opened once for the whole host. */
typedef struct store {
    struct store *next;
    const pw_service_t *disk;
    pw_kv_backend_t *kv;
} store_t;

typedef struct {
    const pw_binding_env_t *env;
    store_t *stores;
} kv_host_t;

typedef struct {
    const char *name;           /* the binding's */
    pw_kv_backend_t *kv;
    int owned;                  /* a remote namespace: this binding's own backend */
} kv_binding_t;

typedef struct {
    kv_binding_t *bindings;
    size_t n_bindings;
} kv_worker_t;

/* A call handed to a backend. */
typedef struct {
    pw_watched_call_t call;     /* first */
    pw_kv_backend_t *kv;
    pw_kv_pending_t *pending;
} kv_call_t;

/* ---- calling the backend ---- */

static void kv_done(void *arg, const pw_kv_result_t *r)
{
    pw_watched_call_result(arg, r->error_name, r->error, r->fields, r->n_fields);
}

/* The calling isolate died: the backend stops the operation. */
static void kv_cancel(pw_watched_call_t *call)
{
    kv_call_t *k = (kv_call_t *)call;
    k->kv->ops->cancel(k->pending);
}

/* Runs `op` of the call's namespace with checked arguments; its answer is the call's. */
static void kv_run(const pw_binding_call_t *c, pw_kv_op_fn op, const pw_kv_args_t *args)
{
    pw_kv_backend_t *kv = ((kv_binding_t *)c->binding)->kv;
    if (kv->subrequests && pw_port_held(c->port) >= PW_BINDING_MAX_HELD) {
        pw_port_reply_error(c->port, c->id, "Error", "Too many subrequests in flight (%d).",
                            PW_BINDING_MAX_HELD);
        return;
    }
    kv_call_t *k = pw_watched_call_new(c, sizeof *k, kv_cancel, "KV: out of memory");
    if (!k)
        return;
    k->kv = kv;
    op(kv, args, kv_done, k, &k->pending);
}

/* ---- checks ---- */

/* Parses a decimal integer field; "" gives `dflt`. Returns 0 or -1. */
static int parse_int(pw_bytes_t b, int64_t dflt, int64_t *out)
{
    if (b.len == 0) {
        *out = dflt;
        return 0;
    }
    return pw_bytes_to_i64(b, out);
}

static int key_ok(const pw_binding_call_t *c, pw_bytes_t key, const char *op)
{
    if (key.len == 0) {
        pw_port_reply_error(c->port, c->id, "TypeError", "Key names must not be empty.");
        return 0;
    }
    if (pw_bytes_is(key, ".") || pw_bytes_is(key, "..")) {
        pw_port_reply_error(c->port, c->id, "TypeError", "Illegal key name \"%.*s\". Please use a "
                            "different name.", (int)key.len, key.base);
        return 0;
    }
    if (key.len > PW_KV_MAX_KEY) {
        pw_port_reply_error(c->port, c->id, "Error", "KV %s failed: 414 UTF-8 encoded length of %zu "
                            "exceeds key length limit of %d.", op, key.len, PW_KV_MAX_KEY);
        return 0;
    }
    return 1;
}

/* ---- the ops ---- */

/* kv.get key [cacheTtl] */
static void kv_get(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    int64_t cache_ttl;
    if (!key_ok(c, f[2], "GET"))
        return;
    if (c->n == 4 && (parse_int(f[3], 0, &cache_ttl) < 0 || cache_ttl < 0)) {
        pw_port_reply_error(c->port, c->id, "TypeError", "cacheTtl must be a number of seconds");
        return;
    }
    pw_kv_args_t a = { .keys = &f[2], .n_keys = 1, .now = time(NULL),
                       .cache_ttl = c->n == 4 ? f[3] : pw_bytes_of("") };
    kv_run(c, ((kv_binding_t *)c->binding)->kv->ops->get, &a);
}

/* kv.get_many key... */
static void kv_get_many(const pw_binding_call_t *c)
{
    size_t keys = c->n - 2;
    if (keys == 0 || keys > PW_KV_MAX_BULK) {
        pw_port_reply_error(c->port, c->id, "TypeError", "You can request a maximum of %d keys (got %zu).",
                            PW_KV_MAX_BULK, keys);
        return;
    }
    for (size_t i = 0; i < keys; i++)
        if (!key_ok(c, c->f[2 + i], "GET"))
            return;
    pw_kv_args_t a = { .keys = &c->f[2], .n_keys = keys, .now = time(NULL) };
    kv_run(c, ((kv_binding_t *)c->binding)->kv->ops->get_many, &a);
}

/* The value, metadata and expiration rules of a put; fills a. Returns 0, or -1 once answered. */
static int put_checks(const pw_binding_call_t *c, pw_kv_args_t *a)
{
    const pw_bytes_t *f = c->f;
    int64_t expiration, ttl;
    if (f[3].len > PW_KV_MAX_VALUE)
        return pw_port_reply_error(c->port, c->id, "Error", "KV PUT failed: 413 Value length of %zu "
                                   "exceeds limit of %u.", f[3].len, PW_KV_MAX_VALUE), -1;
    if (f[6].len > PW_KV_MAX_METADATA)
        return pw_port_reply_error(c->port, c->id, "Error", "KV PUT failed: 413 Metadata length of %zu "
                                   "exceeds limit of %d.", f[6].len, PW_KV_MAX_METADATA), -1;
    if (parse_int(f[4], 0, &expiration) < 0 || parse_int(f[5], 0, &ttl) < 0)
        return pw_port_reply_error(c->port, c->id, "TypeError", "expiration and expirationTtl must be "
                                   "integers"), -1;
    if (f[5].len && ttl < PW_KV_MIN_TTL)
        return pw_port_reply_error(c->port, c->id, "Error", "KV PUT failed: 400 Invalid expiration_ttl "
                                   "of %" PRId64 ". Expiration TTL must be at least %d.", ttl,
                                   PW_KV_MIN_TTL), -1;
    if (f[4].len && !f[5].len && expiration < a->now + PW_KV_MIN_TTL)
        return pw_port_reply_error(c->port, c->id, "Error", "KV PUT failed: 400 Invalid expiration of %"
                                   PRId64 ". Expiration times must be at least %d seconds in the "
                                   "future.", expiration, PW_KV_MIN_TTL), -1;
    a->expiration = f[5].len ? a->now + ttl : f[4].len ? expiration : 0;
    return 0;
}

/* kv.put key value expiration expiration_ttl metadata */
static void kv_put(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    pw_kv_backend_t *kv = ((kv_binding_t *)c->binding)->kv;
    if (!key_ok(c, f[2], "PUT"))
        return;
    if (kv->refuse_put) {
        pw_port_reply_error(c->port, c->id, "Error", "%s", kv->refuse_put);
        return;
    }
    pw_kv_args_t a = { .keys = &f[2], .n_keys = 1, .now = time(NULL), .value = f[3], .metadata = f[6],
                       .expiration_arg = f[4], .expiration_ttl_arg = f[5] };
    if (put_checks(c, &a) == 0)
        kv_run(c, kv->ops->put, &a);
}

/* kv.delete key */
static void kv_delete(const pw_binding_call_t *c)
{
    pw_kv_backend_t *kv = ((kv_binding_t *)c->binding)->kv;
    if (!key_ok(c, c->f[2], "DELETE"))
        return;
    if (kv->refuse_delete) {
        pw_port_reply_error(c->port, c->id, "Error", "%s", kv->refuse_delete);
        return;
    }
    pw_kv_args_t a = { .keys = &c->f[2], .n_keys = 1, .now = time(NULL) };
    kv_run(c, kv->ops->delete, &a);
}

/* kv.list prefix limit cursor */
static void kv_list(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    int64_t limit;
    if (parse_int(f[3], PW_KV_MAX_LIST, &limit) < 0 || limit < 1 || limit > PW_KV_MAX_LIST) {
        pw_port_reply_error(c->port, c->id, "Error", "KV GET failed: 400 Invalid key_count_limit of "
                            "%.*s. Please specify an integer between 1 and %d.",
                            (int)(f[3].len < 20 ? f[3].len : 20), f[3].base, PW_KV_MAX_LIST);
        return;
    }
    pw_kv_args_t a = { .now = time(NULL), .prefix = f[2], .limit_arg = f[3], .limit = (unsigned)limit,
                       .cursor = f[4] };
    kv_run(c, ((kv_binding_t *)c->binding)->kv->ops->list, &a);
}

static void *kv_resolve(const pw_binding_call_t *c)
{
    kv_worker_t *w = c->state;
    for (size_t i = 0; i < w->n_bindings; i++)
        if (pw_bytes_is(c->f[1], w->bindings[i].name))
            return &w->bindings[i];
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker has no %s binding named \"%.*s\"", "KV",
                        (int)(c->f[1].len < 200 ? c->f[1].len : 200), c->f[1].base);
    return NULL;
}

/* ---- host and worker state ---- */

static int kv_open(const pw_binding_env_t *env, void **state, char *err, size_t err_len)
{
    kv_host_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    h->env = env;
    *state = h;
    return 0;
}

static void kv_close(void *state)
{
    kv_host_t *h = state;
    while (h && h->stores) {
        store_t *s = h->stores;
        h->stores = s->next;
        s->kv->ops->close(s->kv);
        free(s);
    }
    free(h);
}

/* Where a disk service's KV database lives (host/disk_dir.h). */
static const char *store_dir(const kv_host_t *h, const pw_service_t *disk, char *buf, size_t len)
{
    return pw_disk_store_dir(h->env->persist_dir, disk, buf, len);
}

static pw_kv_backend_t *open_store(kv_host_t *h, const pw_service_t *disk, char *err, size_t err_len)
{
    for (store_t *s = h->stores; s; s = s->next)
        if (s->disk == disk)
            return s->kv;
    store_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    char dir[4096], why[1024];
    int rc = h->env->pg ? pw_kv_pg_open(h->env->pg, disk->name, disk->disk_writable, &s->kv, why, sizeof why)
                        : pw_kv_disk_open(store_dir(h, disk, dir, sizeof dir), disk->name,
                                          disk->disk_writable, &s->kv, why, sizeof why);
    if (rc < 0) {
        snprintf(err, err_len, "service %s: cannot open its KV store: %s", disk->name, why);
        free(s);
        return NULL;
    }
    s->disk = disk;
    s->next = h->stores;
    h->stores = s;
    return s->kv;
}

/* The namespace a binding names: a disk service's (shared), or a remote one of its own. */
static int bind_namespace(kv_host_t *h, const pw_binding_t *b, kv_binding_t *kb, char *err, size_t err_len)
{
    const pw_service_t *target = pw_config_service(h->env->config, b->value);
    kb->name = b->name;
    if (!target) {
        snprintf(err, err_len, "KV binding %s names no service \"%s\"", b->name, b->value);
        return -1;
    }
    if (target->kind == PW_SERVICE_DISK)
        return (kb->kv = open_store(h, target, err, err_len)) ? 0 : -1;
    kb->owned = 1;
    if (pw_kv_remote_open(target, h->env->lookup, h->env->lookup_arg, h->env->fetch, &kb->kv) < 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    return 0;
}

static void kv_detach(void *state)
{
    kv_worker_t *w = state;
    for (size_t i = 0; w && i < w->n_bindings; i++)
        if (w->bindings[i].owned && w->bindings[i].kv)
            w->bindings[i].kv->ops->close(w->bindings[i].kv);
    if (w)
        free(w->bindings);
    free(w);
}

static int kv_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                     void **state, char *err, size_t err_len)
{
    const pw_worker_t *wc = &service->worker;
    kv_worker_t *w = calloc(1, sizeof *w);
    if (w && !(w->bindings = calloc(wc->n_bindings ? wc->n_bindings : 1, sizeof *w->bindings))) {
        free(w);
        w = NULL;
    }
    *state = w;
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < wc->n_bindings; i++)
        if (wc->bindings[i].kind == PW_BINDING_KV &&
            bind_namespace(host_state, &wc->bindings[i], &w->bindings[w->n_bindings++], err, err_len) < 0)
            return -1;
    return 0;
}

static const pw_binding_op_t kv_ops[] = {
    { "kv.get", 3, 4, "kv.get takes one key and an optional cacheTtl", 0, kv_get },
    { "kv.get_many", 2, SIZE_MAX, NULL, 0, kv_get_many },
    { "kv.put", 7, 7, "kv.put takes key, value and options", 0, kv_put },
    { "kv.delete", 3, 3, "kv.delete takes one key", 0, kv_delete },
    { "kv.list", 5, 5, "kv.list takes prefix, limit and cursor", 0, kv_list },
};

static const pw_binding_group_t kv_groups[] = {
    { .prefix = "kv.", .resolve = kv_resolve, .unknown_op = "unknown binding operation \"%.*s\"",
      .ops = kv_ops, .n_ops = sizeof kv_ops / sizeof kv_ops[0] },
};

const pw_binding_kind_impl_t pw_binding_kv = {
    .name = "KV", .open = kv_open, .close = kv_close, .attach = kv_attach, .detach = kv_detach,
    .groups = kv_groups, .n_groups = 1,
};
