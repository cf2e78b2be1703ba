/* rpc.c — dispatching binding calls from isolates (host process; see rpc.h). Runs on the
 * host's loop thread: KV calls on a disk service are answered at once (SQLite,
 * storage/kv.c), on a worker or external service they become HTTP requests in workerd's KV
 * protocol (host/kv_remote.c); service calls become CALL frames to the target worker's pool
 * (host/worker_call.c) and are answered when it responds; fetch() goes to http/fetch.c.
 * An isolate may hold at most MAX_HELD calls open at once.
 * Invariant: every RPC frame gets exactly one RPC_RESULT unless its isolate is gone, and a
 * frame that does not decode is a protocol violation (the isolate is killed).
 */
#include "host/rpc.h"
#include "host/kv_remote.h"
#include "host/log.h"
#include "host/worker_call.h"
#include "host/workflows.h"
#include "http/fetch.h"
#include "storage/kv.h"
#include "wire/rpc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HELD 256
#define KV_MAX_KEY 512
#define KV_MAX_VALUE (25u * 1024 * 1024)
#define KV_MAX_METADATA 1024
#define KV_MIN_TTL 60
#define KV_MAX_BULK 100
#define KV_MAX_LIST 1000

typedef struct store {
    struct store *next;
    const pw_service_t *disk;
    pw_kv_t *kv;
} store_t;

typedef struct {
    const pw_binding_t *config;
    store_t *store;             /* PW_BINDING_KV on a disk service */
    const pw_service_t *remote; /* PW_BINDING_KV on a worker or external service */
} binding_t;

struct pw_rpc_worker {
    pw_rpc_worker_t *next;
    pw_rpc_host_t *host;
    const pw_service_t *service;
    binding_t *bindings;
    size_t n_bindings;
    pw_fetch_policy_t *outbound;
};

struct pw_rpc_host {
    uv_loop_t *loop;
    const pw_config_t *config;
    pw_rpc_options_t opts;
    store_t *stores;
    pw_rpc_worker_t *workers;
    pw_fetch_t *fetch;
    pw_workflows_t *workflows;  /* NULL when no worker has a workflow binding */
};

/* ---- replies ---- */

static pw_bytes_t S(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

void pw_rpc_reply_error(pw_port_t *port, uint32_t id, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_port_reply_verror(port, id, name, fmt, ap);     /* the one error path (host/port.h) */
    va_end(ap);
}

static void reply_ok(pw_port_t *port, uint32_t id)
{
    pw_bytes_t f[1] = { S("") };
    pw_port_reply(port, id, f, 1);
}

/* ---- KV ---- */

static int bytes_eq(pw_bytes_t b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.base, s, b.len) == 0;
}

/* Parses a decimal integer field; "" gives `dflt`. Returns 0 or -1. */
static int parse_int(pw_bytes_t b, int64_t dflt, int64_t *out)
{
    char text[32];
    if (b.len == 0) {
        *out = dflt;
        return 0;
    }
    if (b.len >= sizeof text)
        return -1;
    memcpy(text, b.base, b.len);
    text[b.len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || end == text)
        return -1;
    *out = v;
    return 0;
}

static int kv_key_ok(pw_port_t *port, uint32_t id, pw_bytes_t key, const char *op)
{
    if (key.len == 0) {
        pw_rpc_reply_error(port, id, "TypeError", "Key names must not be empty.");
        return 0;
    }
    if (bytes_eq(key, ".") || bytes_eq(key, "..")) {
        pw_rpc_reply_error(port, id, "TypeError", "Illegal key name \"%.*s\". Please use a different name.",
                           (int)key.len, key.base);
        return 0;
    }
    if (key.len > KV_MAX_KEY) {
        pw_rpc_reply_error(port, id, "Error", "KV %s failed: 414 UTF-8 encoded length of %zu exceeds key "
                           "length limit of %d.", op, key.len, KV_MAX_KEY);
        return 0;
    }
    return 1;
}

/* Sends a KV operation built in req to the binding's worker or external service. */
static void kv_remote(pw_rpc_host_t *host, binding_t *b, pw_kv_http_request_t *req, int built,
                      const pw_bytes_t *keys, size_t n_keys, pw_port_t *port, uint32_t id)
{
    const pw_service_t *svc = b->remote;
    pw_kv_remote_t remote = { .service = svc->name };
    if (svc->kind == PW_SERVICE_WORKER) {
        remote.pool = host->opts.lookup(host->opts.lookup_arg, svc->name);
    } else {
        remote.fetch = host->fetch;
        remote.address = svc->external_address;
    }
    if (pw_port_held(port) >= MAX_HELD)
        pw_rpc_reply_error(port, id, "Error", "Too many subrequests in flight (%d).", MAX_HELD);
    else if (built == -EINVAL)
        pw_rpc_reply_error(port, id, "TypeError", "KV metadata must be JSON text without line breaks");
    else if (built < 0)
        pw_rpc_reply_error(port, id, "Error", "KV: out of memory");
    else
        pw_kv_remote_send(&remote, req, keys, n_keys, port, id);
    pw_kv_http_request_free(req);
}

static void kv_get(pw_rpc_host_t *host, binding_t *b, pw_port_t *port, uint32_t id,
                   const pw_bytes_t *f, size_t n)
{
    int64_t cache_ttl;
    if (n != 3 && n != 4)
        return pw_rpc_reply_error(port, id, "TypeError", "kv.get takes one key and an optional cacheTtl");
    if (!kv_key_ok(port, id, f[2], "GET"))
        return;
    if (n == 4 && (parse_int(f[3], 0, &cache_ttl) < 0 || cache_ttl < 0))
        return pw_rpc_reply_error(port, id, "TypeError", "cacheTtl must be a number of seconds");
    if (b->remote) {
        pw_kv_http_request_t req;
        pw_bytes_t ttl = n == 4 ? f[3] : S("");
        return kv_remote(host, b, &req, pw_kv_http_get(&req, f[2], ttl), NULL, 0, port, id);
    }
    pw_kv_entry_t e;
    int rc = pw_kv_get(b->store->kv, f[2], time(NULL), &e);
    if (rc < 0)
        return pw_rpc_reply_error(port, id, "Error", "KV GET failed: 500 %s", pw_kv_error(b->store->kv));
    if (rc == 0)
        return reply_ok(port, id);
    char exp[24];
    snprintf(exp, sizeof exp, "%" PRId64, e.expiration);
    pw_bytes_t out[4] = { S(""), e.value, e.metadata, S(e.expiration ? exp : "") };
    pw_port_reply(port, id, out, 4);
}

/* Bulk get: values are copied into one buffer (SQLite's pointers live until the next call). */
static void kv_get_many(pw_rpc_host_t *host, binding_t *b, pw_port_t *port, uint32_t id,
                        const pw_bytes_t *f, size_t n)
{
    size_t keys = n - 2;
    if (keys == 0 || keys > KV_MAX_BULK)
        return pw_rpc_reply_error(port, id, "TypeError", "You can request a maximum of %d keys (got %zu).",
                                  KV_MAX_BULK, keys);
    for (size_t i = 0; i < keys; i++)
        if (!kv_key_ok(port, id, f[2 + i], "GET"))
            return;
    if (b->remote) {
        pw_kv_http_request_t req;
        return kv_remote(host, b, &req, pw_kv_http_get_many(&req, f + 2, keys), f + 2, keys, port, id);
    }
    pw_buf_t data;
    pw_buf_init(&data);
    size_t offs[KV_MAX_BULK][3];    /* value start, value end, metadata end; SIZE_MAX: missing */
    int64_t now = time(NULL);
    for (size_t i = 0; i < keys; i++) {
        pw_kv_entry_t e;
        int rc = pw_kv_get(b->store->kv, f[2 + i], now, &e);
        offs[i][0] = rc == 1 ? data.len : SIZE_MAX;
        if (rc == 1 && (pw_buf_append(&data, e.value.base, e.value.len) < 0 ||
                        (offs[i][1] = data.len, pw_buf_append(&data, e.metadata.base, e.metadata.len) < 0)))
            rc = -ENOMEM;
        offs[i][2] = data.len;
        if (rc < 0) {
            pw_buf_free(&data);
            return pw_rpc_reply_error(port, id, "Error", "KV GET failed: 500 internal error");
        }
    }
    pw_bytes_t out[1 + 3 * KV_MAX_BULK];
    out[0] = S("");
    for (size_t i = 0; i < keys; i++) {
        int found = offs[i][0] != SIZE_MAX;
        out[1 + 3 * i] = S(found ? "1" : "");
        out[2 + 3 * i] = found ? (pw_bytes_t){ data.data + offs[i][0], offs[i][1] - offs[i][0] } : S("");
        out[3 + 3 * i] = found ? (pw_bytes_t){ data.data + offs[i][1], offs[i][2] - offs[i][1] } : S("");
    }
    pw_port_reply(port, id, out, 1 + 3 * keys);
    pw_buf_free(&data);
}

/* kv.put key value expiration expiration_ttl metadata */
static void kv_put(pw_rpc_host_t *host, binding_t *b, pw_port_t *port, uint32_t id,
                   const pw_bytes_t *f, size_t n)
{
    if (n != 7)
        return pw_rpc_reply_error(port, id, "TypeError", "kv.put takes key, value and options");
    if (!kv_key_ok(port, id, f[2], "PUT"))
        return;
    if (b->store && !b->store->disk->disk_writable)
        return pw_rpc_reply_error(port, id, "Error", "KV PUT failed: 405 Method Not Allowed (disk service "
                                  "\"%s\" is not writable: add writable = true)", b->store->disk->name);
    if (f[3].len > KV_MAX_VALUE)
        return pw_rpc_reply_error(port, id, "Error", "KV PUT failed: 413 Value length of %zu exceeds limit "
                                  "of %u.", f[3].len, KV_MAX_VALUE);
    if (f[6].len > KV_MAX_METADATA)
        return pw_rpc_reply_error(port, id, "Error", "KV PUT failed: 413 Metadata length of %zu exceeds "
                                  "limit of %d.", f[6].len, KV_MAX_METADATA);
    int64_t now = time(NULL), expiration, ttl;
    if (parse_int(f[4], 0, &expiration) < 0 || parse_int(f[5], 0, &ttl) < 0)
        return pw_rpc_reply_error(port, id, "TypeError", "expiration and expirationTtl must be integers");
    if (f[5].len && ttl < KV_MIN_TTL)
        return pw_rpc_reply_error(port, id, "Error", "KV PUT failed: 400 Invalid expiration_ttl of %" PRId64
                                  ". Expiration TTL must be at least %d.", ttl, KV_MIN_TTL);
    if (f[4].len && !f[5].len && expiration < now + KV_MIN_TTL)
        return pw_rpc_reply_error(port, id, "Error", "KV PUT failed: 400 Invalid expiration of %" PRId64
                                  ". Expiration times must be at least %d seconds in the future.",
                                  expiration, KV_MIN_TTL);
    if (b->remote) {
        pw_kv_http_request_t req;
        return kv_remote(host, b, &req, pw_kv_http_put(&req, f[2], f[3], f[4], f[5], f[6]), NULL, 0,
                         port, id);
    }
    if (f[5].len)
        expiration = now + ttl;
    if (pw_kv_put(b->store->kv, f[2], f[3], f[4].len || f[5].len ? expiration : 0, f[6], now) < 0)
        return pw_rpc_reply_error(port, id, "Error", "KV PUT failed: 500 %s", pw_kv_error(b->store->kv));
    reply_ok(port, id);
}

static void kv_delete(pw_rpc_host_t *host, binding_t *b, pw_port_t *port, uint32_t id,
                      const pw_bytes_t *f, size_t n)
{
    if (n != 3)
        return pw_rpc_reply_error(port, id, "TypeError", "kv.delete takes one key");
    if (!kv_key_ok(port, id, f[2], "DELETE"))
        return;
    if (b->remote) {
        pw_kv_http_request_t req;
        return kv_remote(host, b, &req, pw_kv_http_delete(&req, f[2]), NULL, 0, port, id);
    }
    if (!b->store->disk->disk_writable)
        return pw_rpc_reply_error(port, id, "Error", "KV DELETE failed: 405 Method Not Allowed (disk "
                                  "service \"%s\" is not writable)", b->store->disk->name);
    if (pw_kv_delete(b->store->kv, f[2]) < 0)
        return pw_rpc_reply_error(port, id, "Error", "KV DELETE failed: 500 %s", pw_kv_error(b->store->kv));
    reply_ok(port, id);
}

typedef struct {
    pw_buf_t data;
    size_t offs[KV_MAX_LIST + 1][4];  /* name start, name end, expiration end, metadata end */
    size_t count;
    int failed;
} listing_t;

static void on_listed(void *arg, pw_bytes_t key, int64_t expiration, pw_bytes_t metadata)
{
    listing_t *l = arg;
    char exp[24] = "";
    if (expiration)
        snprintf(exp, sizeof exp, "%" PRId64, expiration);
    size_t *o = l->offs[l->count++];
    o[0] = l->data.len;
    l->failed |= pw_buf_append(&l->data, key.base, key.len) < 0;
    o[1] = l->data.len;
    l->failed |= pw_buf_append(&l->data, exp, strlen(exp)) < 0;
    o[2] = l->data.len;
    l->failed |= pw_buf_append(&l->data, metadata.base, metadata.len) < 0;
    o[3] = l->data.len;
}

static int hex_value(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The cursor is the hex of the last key listed. */
static int cursor_decode(pw_bytes_t cursor, uint8_t *out, size_t *len)
{
    if (cursor.len % 2 || cursor.len / 2 > KV_MAX_KEY)
        return -1;
    for (size_t i = 0; i < cursor.len; i += 2) {
        int hi = hex_value(cursor.base[i]), lo = hex_value(cursor.base[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *len = cursor.len / 2;
    return 0;
}

/* kv.list prefix limit cursor -> "", complete, cursor, (name, expiration, metadata)... */
static void kv_list(pw_rpc_host_t *host, binding_t *b, pw_port_t *port, uint32_t id,
                    const pw_bytes_t *f, size_t n)
{
    int64_t limit;
    uint8_t after[KV_MAX_KEY];
    size_t after_len = 0;
    if (n != 5)
        return pw_rpc_reply_error(port, id, "TypeError", "kv.list takes prefix, limit and cursor");
    if (parse_int(f[3], KV_MAX_LIST, &limit) < 0 || limit < 1 || limit > KV_MAX_LIST)
        return pw_rpc_reply_error(port, id, "Error", "KV GET failed: 400 Invalid key_count_limit of %.*s. "
                                  "Please specify an integer between 1 and %d.", (int)(f[3].len < 20 ? f[3].len : 20),
                                  f[3].base, KV_MAX_LIST);
    if (b->remote) {
        pw_kv_http_request_t req;
        return kv_remote(host, b, &req, pw_kv_http_list(&req, f[2], f[3], f[4]), NULL, 0, port, id);
    }
    if (cursor_decode(f[4], after, &after_len) < 0)
        return pw_rpc_reply_error(port, id, "Error", "KV GET failed: 400 Invalid cursor.");
    listing_t *l = calloc(1, sizeof *l);
    if (!l)
        return pw_rpc_reply_error(port, id, "Error", "KV GET failed: 500 out of memory");
    int more;
    int rc = pw_kv_list(b->store->kv, f[2], (pw_bytes_t){ after, after_len }, (unsigned)limit,
                        time(NULL), on_listed, l, &more);
    static pw_bytes_t out[3 + 3 * KV_MAX_LIST];
    char cursor[2 * KV_MAX_KEY + 1] = "";
    if (rc >= 0 && !l->failed) {
        if (more && l->count) {
            size_t *o = l->offs[l->count - 1];
            for (size_t i = o[0]; i < o[1]; i++)
                snprintf(cursor + 2 * (i - o[0]), 3, "%02x", l->data.data[i]);
        }
        out[0] = S("");
        out[1] = S(more ? "" : "1");
        out[2] = S(cursor);
        for (size_t i = 0; i < l->count; i++) {
            size_t *o = l->offs[i];
            out[3 + 3 * i] = (pw_bytes_t){ l->data.data + o[0], o[1] - o[0] };
            out[4 + 3 * i] = (pw_bytes_t){ l->data.data + o[1], o[2] - o[1] };
            out[5 + 3 * i] = (pw_bytes_t){ l->data.data + o[2], o[3] - o[2] };
        }
        pw_port_reply(port, id, out, 3 + 3 * l->count);
    } else {
        pw_rpc_reply_error(port, id, "Error", "KV GET failed: 500 %s", pw_kv_error(b->store->kv));
    }
    pw_buf_free(&l->data);
    free(l);
}

/* ---- service bindings ---- */

typedef struct {
    pw_port_watch_t watch;      /* first: gone() gets this pointer */
    pw_port_t *port;
    uint32_t rpc_id;
    pw_worker_call_t *call;
} svc_call_t;

static void svc_done(void *arg, const pw_worker_answer_t *a)
{
    svc_call_t *sc = arg;
    if (a->error_status) {
        pw_rpc_reply_error(sc->port, sc->rpc_id, "Error", "%d %s", a->error_status, a->error_text);
    } else {
        char status[16];
        snprintf(status, sizeof status, "%u", a->status);
        pw_bytes_t f[4] = { S(""), S(status), a->headers, a->body };
        pw_port_reply(sc->port, sc->rpc_id, f, 4);
    }
    pw_port_unwatch(sc->port, &sc->watch);
    free(sc);
}

/* The calling isolate died: the target isolate is told to stop (CANCEL). */
static void svc_gone(pw_port_watch_t *watch)
{
    svc_call_t *sc = (svc_call_t *)watch;
    pw_worker_call_cancel(sc->call);
    pw_port_unwatch(sc->port, &sc->watch);
    free(sc);
}

/* svc.call method payload: the target's entry point method, answered with its response. */
static void svc_call(pw_rpc_host_t *host, binding_t *b, pw_port_t *port, uint32_t id,
                     const pw_bytes_t *f, size_t n)
{
    if (n != 4)
        return pw_rpc_reply_error(port, id, "TypeError", "svc.call takes method and payload");
    pw_pool_t *pool = host->opts.lookup(host->opts.lookup_arg, b->config->value);
    if (!pool)
        return pw_rpc_reply_error(port, id, "Error", "service \"%s\" is not running", b->config->value);
    svc_call_t *sc = calloc(1, sizeof *sc);
    if (!sc)
        return pw_rpc_reply_error(port, id, "Error", "out of memory");
    sc->port = port;
    sc->rpc_id = id;
    pw_port_watch(port, &sc->watch, svc_gone);
    const char *entry = b->config->entrypoint ? b->config->entrypoint : "";
    if (pw_worker_call(pool, entry, f[2], f[3], svc_done, sc, &sc->call) < 0) {
        pw_rpc_reply_error(port, id, "Error", "service call too large");
        pw_port_unwatch(port, &sc->watch);
        free(sc);
    }
}

/* ---- dispatch ---- */

static binding_t *find_binding(pw_rpc_worker_t *w, pw_bytes_t name, pw_binding_kind_t kind)
{
    for (size_t i = 0; i < w->n_bindings; i++) {
        const pw_binding_t *c = w->bindings[i].config;
        if (c->kind == kind && bytes_eq(name, c->name))
            return &w->bindings[i];
    }
    return NULL;
}

int pw_rpc_handle(void *arg, pw_port_t *port, const pw_frame_t *frame)
{
    pw_rpc_worker_t *w = arg;
    pw_bytes_t f[PW_RPC_MAX_ARGS];
    size_t n;
    if (pw_rpc_decode(frame, f, PW_RPC_MAX_ARGS, &n) < 0 || n < 1)
        return -EBADMSG;
    uint32_t id = frame->id;
    pw_bytes_t op = f[0];
    if (bytes_eq(op, "fetch")) {
        if (pw_port_held(port) >= MAX_HELD)
            return pw_rpc_reply_error(port, id, "Error", "Too many subrequests in flight (%d).", MAX_HELD), 0;
        pw_fetch_start(w->host->fetch, w->outbound, port, id, f + 1, n - 1);
        return 0;
    }
    if (n < 2) {
        pw_rpc_reply_error(port, id, "TypeError", "binding call without a binding name");
        return 0;
    }
    if (op.len > 3 && memcmp(op.base, "wf.", 3) == 0) {
        pw_workflows_handle(w->host->workflows, w->service, port, id, f, n);
        return 0;
    }
    int kv = op.len > 3 && memcmp(op.base, "kv.", 3) == 0;
    binding_t *b = find_binding(w, f[1], kv ? PW_BINDING_KV : PW_BINDING_SERVICE);
    if (!b) {
        pw_rpc_reply_error(port, id, "TypeError", "this worker has no %s binding named \"%.*s\"",
                           kv ? "KV" : "service", (int)(f[1].len < 200 ? f[1].len : 200), f[1].base);
        return 0;
    }
    if (bytes_eq(op, "kv.get"))
        kv_get(w->host, b, port, id, f, n);
    else if (bytes_eq(op, "kv.get_many"))
        kv_get_many(w->host, b, port, id, f, n);
    else if (bytes_eq(op, "kv.put"))
        kv_put(w->host, b, port, id, f, n);
    else if (bytes_eq(op, "kv.delete"))
        kv_delete(w->host, b, port, id, f, n);
    else if (bytes_eq(op, "kv.list"))
        kv_list(w->host, b, port, id, f, n);
    else if (bytes_eq(op, "svc.call") && pw_port_held(port) < MAX_HELD)
        svc_call(w->host, b, port, id, f, n);
    else if (bytes_eq(op, "svc.call"))
        pw_rpc_reply_error(port, id, "Error", "Too many subrequests in flight (%d).", MAX_HELD);
    else
        pw_rpc_reply_error(port, id, "TypeError", "unknown binding operation \"%.*s\"",
                           (int)(op.len < 64 ? op.len : 64), op.base);
    return 0;
}

/* ---- setup ---- */

int pw_rpc_host_create(uv_loop_t *loop, const pw_config_t *config, const pw_rpc_options_t *opts,
                       pw_rpc_host_t **out)
{
    pw_rpc_host_t *host = calloc(1, sizeof *host);
    if (!host)
        return -ENOMEM;
    host->loop = loop;
    host->config = config;
    host->opts = *opts;
    int rc = pw_fetch_create(loop, &host->fetch);
    if (rc < 0) {
        free(host);
        return rc;
    }
    char err[2048];
    const char *base = opts->persist_dir ? opts->persist_dir : ".";
    if (pw_workflows_create(loop, config, strcmp(base, ":memory:") ? base : NULL, opts->lookup,
                            opts->lookup_arg, &host->workflows, err, sizeof err) < 0) {
        pw_log_error("%s", err);
        pw_fetch_free(host->fetch);
        free(host);
        return -EINVAL;
    }
    *out = host;
    return 0;
}

void pw_rpc_set_fetch_timeout(pw_rpc_host_t *host, unsigned timeout_ms)
{
    pw_fetch_set_timeout(host->fetch, timeout_ms);
}

void pw_rpc_host_free(pw_rpc_host_t *host)
{
    if (!host)
        return;
    while (host->workers) {
        pw_rpc_worker_t *w = host->workers;
        host->workers = w->next;
        pw_fetch_policy_free(w->outbound);
        free(w->bindings);
        free(w);
    }
    while (host->stores) {
        store_t *s = host->stores;
        host->stores = s->next;
        pw_kv_close(s->kv);
        free(s);
    }
    pw_workflows_free(host->workflows);
    pw_fetch_free(host->fetch);
    free(host);
}

/* Where a disk service's KV database lives: its path, relocated under --persist-dir when
 * relative; NULL (in memory) with --persist-dir=:memory:. */
static const char *store_dir(pw_rpc_host_t *host, const pw_service_t *disk, char *buf, size_t len)
{
    const char *base = host->opts.persist_dir;
    if (base && strcmp(base, ":memory:") == 0)
        return NULL;
    if (!base || disk->disk_path[0] == '/')
        return disk->disk_path;
    snprintf(buf, len, "%s/%s", base, disk->disk_path);
    return buf;
}

static store_t *open_store(pw_rpc_host_t *host, const pw_service_t *disk, char *err, size_t err_len)
{
    for (store_t *s = host->stores; s; s = s->next)
        if (s->disk == disk)
            return s;
    store_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    char dir[4096], why[1024];
    if (pw_kv_open(store_dir(host, disk, dir, sizeof dir), &s->kv, why, sizeof why) < 0) {
        snprintf(err, err_len, "service %s: cannot open its KV store: %s", disk->name, why);
        free(s);
        return NULL;
    }
    s->disk = disk;
    s->next = host->stores;
    host->stores = s;
    return s;
}

int pw_rpc_worker_create(pw_rpc_host_t *host, const pw_service_t *service, pw_rpc_worker_t **out,
                         char *err, size_t err_len)
{
    const pw_worker_t *wc = &service->worker;
    pw_rpc_worker_t *w = calloc(1, sizeof *w);
    binding_t *bindings = calloc(wc->n_bindings ? wc->n_bindings : 1, sizeof *bindings);
    if (!w || !bindings) {
        free(w);
        free(bindings);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->host = host;
    w->service = service;
    w->bindings = bindings;
    w->next = host->workers;
    host->workers = w;
    for (size_t i = 0; i < wc->n_bindings; i++) {
        const pw_binding_t *b = &wc->bindings[i];
        if (b->kind != PW_BINDING_KV && b->kind != PW_BINDING_SERVICE)
            continue;
        binding_t *rb = &w->bindings[w->n_bindings++];
        rb->config = b;
        if (b->kind == PW_BINDING_KV) {
            const pw_service_t *target = pw_config_service(host->config, b->value);
            if (!target) {
                snprintf(err, err_len, "KV binding %s names no service \"%s\"", b->name, b->value);
                return -1;
            }
            if (target->kind == PW_SERVICE_DISK) {
                if (!(rb->store = open_store(host, target, err, err_len)))
                    return -1;
            } else {
                rb->remote = target;
            }
        }
    }
    const pw_service_t *net = pw_config_service(host->config, wc->global_outbound);
    if (pw_fetch_policy_create(net, &w->outbound, err, err_len) < 0)
        return -1;
    *out = w;
    return 0;
}
