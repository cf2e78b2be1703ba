/* binding_d1.c — the D1 binding kind (host process, any loop thread): the one front of every
 * D1 database, workerd's `wrapped` binding of "cloudflare-internal:d1-api" whose inner
 * binding names a writable `disk` service. Its ops decode the isolate's statements
 * (storage/d1_statements.h) and run them on the database's backend (storage/d1_backend.h:
 * SQLite in the disk service's directory, opened once and shared by every binding naming
 * it; in a cluster, the database held by one node at a time, host/d1_cluster.h). Ops: d1.query (one statement: all/run/raw, or first), d1.batch (a transaction),
 * d1.exec (several statements, no values), d1.dump (the database file).
 * Every query runs for at most the host's D1 time limit (PW_D1_DEFAULT_QUERY_MS, or
 * PYWORKERD_D1_QUERY_LIMIT_MS): the backend stops it there and rolls it back, so a runaway
 * query blocks its loop for that long at most.
 * Invariant: each call is answered once, from the backend's done(); when the isolate dies
 * first the operation is cancelled and nothing answers.
 */
#include "host/binding.h"
#include "host/d1_cluster.h"
#include "host/disk_dir.h"
#include "host/port.h"
#include "host/watched_call.h"
#include "storage/d1_sqlite.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D1_MAX_DUMP (32u * 1024 * 1024)     /* fits one RPC_RESULT frame */

/* A disk service's database, opened once for the whole host. */
typedef struct store {
    struct store *next;
    const pw_service_t *disk;
    pw_d1_backend_t *d1;
} store_t;

typedef struct {
    const pw_binding_env_t *env;
    pthread_mutex_t lock;       /* the store list: workers may attach from several threads */
    store_t *stores;
    unsigned limit_ms;
    pw_d1_cluster_t *cluster;   /* --storage postgresql://: databases held across nodes */
} d1_host_t;

typedef struct {
    const char *name;           /* the binding's */
    pw_d1_backend_t *d1;
} d1_binding_t;

typedef struct {
    d1_host_t *host;
    d1_binding_t *bindings;
    size_t n_bindings;
} d1_worker_t;

/* A call handed to a backend. */
typedef struct {
    pw_watched_call_t call;     /* first */
    pw_d1_backend_t *d1;
    pw_d1_pending_t *pending;
} d1_call_t;

/* ---- calling the backend ---- */

static void d1_done(void *arg, const pw_d1_result_t *r)
{
    pw_watched_call_result(arg, r->error_name, r->error, r->fields, r->n_fields);
}

/* The calling isolate died: the backend stops the operation. */
static void d1_cancel(pw_watched_call_t *call)
{
    d1_call_t *k = (d1_call_t *)call;
    k->d1->ops->cancel(k->pending);
}

/* A watched call for the backend's done(), or NULL once answered (out of memory). */
static d1_call_t *d1_call(const pw_binding_call_t *c)
{
    d1_call_t *k = pw_watched_call_new(c, sizeof *k, d1_cancel, "D1_ERROR: out of memory");
    if (k)
        k->d1 = ((d1_binding_t *)c->binding)->d1;
    return k;
}

static unsigned limit_ms(const pw_binding_call_t *c)
{
    return ((d1_worker_t *)c->state)->host->limit_ms;
}

/* Runs the statements of `field` (one for a query, any number for a batch). */
static void run_query(const pw_binding_call_t *c, pw_bytes_t field, int batch, int first_only)
{
    size_t max = pw_d1_statements_count(field), n;
    pw_d1_statement_t one, *statements = max <= 1 ? &one : calloc(max, sizeof *statements);
    if (!statements) {
        pw_port_reply_error(c->port, c->id, "Error", "D1_ERROR: out of memory");
        return;
    }
    if (pw_d1_statements_decode(field, statements, max, &n) < 0 || (!batch && n != 1)) {
        pw_port_reply_error(c->port, c->id, "TypeError", "D1: malformed statements in %.*s",
                            (int)c->f[0].len, c->f[0].base);
    } else {
        d1_call_t *k = d1_call(c);
        pw_d1_query_t q = { .statements = statements, .n = n, .batch = batch, .first_only = first_only,
                            .limit_ms = limit_ms(c) };
        if (k)
            k->d1->ops->query(k->d1, &q, d1_done, k, &k->pending);
    }
    if (statements != &one)
        free(statements);
}

/* ---- the ops ---- */

/* d1.query binding mode statements — mode "all" (all, run, raw) or "first" */
static void d1_query(const pw_binding_call_t *c)
{
    if (!pw_bytes_is(c->f[2], "all") && !pw_bytes_is(c->f[2], "first")) {
        pw_port_reply_error(c->port, c->id, "TypeError", "d1.query: unknown mode");
        return;
    }
    run_query(c, c->f[3], 0, pw_bytes_is(c->f[2], "first"));
}

/* d1.batch binding statements */
static void d1_batch(const pw_binding_call_t *c)
{
    run_query(c, c->f[2], 1, 0);
}

/* d1.exec binding sql */
static void d1_exec(const pw_binding_call_t *c)
{
    d1_call_t *k = d1_call(c);
    if (k)
        k->d1->ops->exec(k->d1, c->f[2], limit_ms(c), d1_done, k, &k->pending);
}

/* d1.dump binding */
static void d1_dump(const pw_binding_call_t *c)
{
    d1_call_t *k = d1_call(c);
    if (k)
        k->d1->ops->dump(k->d1, D1_MAX_DUMP, d1_done, k, &k->pending);
}

static void *d1_resolve(const pw_binding_call_t *c)
{
    d1_worker_t *w = c->state;
    for (size_t i = 0; w && i < w->n_bindings; i++)
        if (pw_bytes_is(c->f[1], w->bindings[i].name))
            return &w->bindings[i];
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker has no %s binding named \"%.*s\"", "D1",
                        (int)(c->f[1].len < 200 ? c->f[1].len : 200), c->f[1].base);
    return NULL;
}

/* ---- host and worker state ---- */

/* The host's time limit of a query: PYWORKERD_D1_QUERY_LIMIT_MS, else D1's 30 s. */
static unsigned query_limit(void)
{
    const char *text = getenv("PYWORKERD_D1_QUERY_LIMIT_MS");
    int64_t ms;
    if (text && pw_bytes_to_i64(pw_bytes_of(text), &ms) == 0 && ms > 0 && ms <= 3600000)
        return (unsigned)ms;
    return PW_D1_DEFAULT_QUERY_MS;
}

static int d1_open(const pw_binding_env_t *env, void **state, char *err, size_t err_len)
{
    d1_host_t *h = calloc(1, sizeof *h);
    if (!h || pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    h->env = env;
    h->limit_ms = query_limit();
    *state = h;
    if (env->pg && env->cluster)
        return pw_d1_cluster_open(env, &h->cluster, err, err_len);
    return 0;
}

static void d1_close(void *state)
{
    d1_host_t *h = state;
    if (!h)
        return;
    while (h->stores) {
        store_t *s = h->stores;
        h->stores = s->next;
        s->d1->ops->close(s->d1);
        free(s);
    }
    pw_d1_cluster_close(h->cluster);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* The database of a disk service, opened at its first binding. Called with h->lock held. */
static pw_d1_backend_t *open_store(d1_host_t *h, const pw_service_t *disk, char *err, size_t err_len)
{
    for (store_t *s = h->stores; s; s = s->next)
        if (s->disk == disk)
            return s->d1;
    store_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    char dir[4096], why[1024];
    int rc = h->cluster ? pw_d1_cluster_database(h->cluster, disk->name, &s->d1, why, sizeof why)
                        : pw_d1_sqlite_open(pw_disk_store_dir(h->env->persist_dir, disk, dir, sizeof dir),
                                            &s->d1, why, sizeof why);
    if (rc < 0) {
        snprintf(err, err_len, "service %s: cannot open its D1 database: %s", disk->name, why);
        free(s);
        return NULL;
    }
    s->disk = disk;
    s->next = h->stores;
    h->stores = s;
    return s->d1;
}

static int bind_database(d1_host_t *h, const pw_binding_t *b, d1_binding_t *db, char *err, size_t err_len)
{
    const pw_service_t *disk = pw_config_service(h->env->config, b->value);
    db->name = b->name;
    if (!disk || disk->kind != PW_SERVICE_DISK) {      /* the config loader refuses these */
        snprintf(err, err_len, "D1 binding %s names no disk service \"%s\"", b->name, b->value);
        return -1;
    }
    pthread_mutex_lock(&h->lock);
    db->d1 = open_store(h, disk, err, err_len);
    pthread_mutex_unlock(&h->lock);
    return db->d1 ? 0 : -1;
}

static void d1_detach(void *state)
{
    d1_worker_t *w = state;
    if (w)
        free(w->bindings);
    free(w);
}

static int d1_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                     void **state, char *err, size_t err_len)
{
    const pw_worker_t *wc = &service->worker;
    d1_worker_t *w = calloc(1, sizeof *w);
    if (w && !(w->bindings = calloc(wc->n_bindings ? wc->n_bindings : 1, sizeof *w->bindings))) {
        free(w);
        w = NULL;
    }
    *state = w;
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->host = host_state;
    for (size_t i = 0; i < wc->n_bindings; i++)
        if (wc->bindings[i].kind == PW_BINDING_D1 &&
            bind_database(host_state, &wc->bindings[i], &w->bindings[w->n_bindings++], err, err_len) < 0)
            return -1;
    return 0;
}

static const pw_binding_op_t d1_ops[] = {
    { "d1.query", 4, 4, "d1.query takes a mode and one statement", 0, d1_query },
    { "d1.batch", 3, 3, "d1.batch takes a list of statements", 0, d1_batch },
    { "d1.exec", 3, 3, "d1.exec takes one string of SQL", 0, d1_exec },
    { "d1.dump", 2, 2, "d1.dump takes no arguments", 0, d1_dump },
};

static const pw_binding_group_t d1_groups[] = {
    { .prefix = "d1.", .resolve = d1_resolve, .unknown_op = "unknown D1 operation \"%.*s\"",
      .ops = d1_ops, .n_ops = sizeof d1_ops / sizeof d1_ops[0] },
};

const pw_binding_kind_impl_t pw_binding_d1 = {
    .name = "D1", .open = d1_open, .close = d1_close, .attach = d1_attach, .detach = d1_detach,
    .groups = d1_groups, .n_groups = 1,
};
