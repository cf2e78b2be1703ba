/* binding_memory_cache.c — the memoryCache binding kind (host process, loop thread): workerd's
 * in-memory cache, shared by every isolate of a worker (and, by its id, by every binding that
 * names the same one). Values are the SDK's serialized bytes; the store and its limits are
 * storage/memory_cache.h. A read with a fallback that misses makes its caller the key's
 * producer ("produce" and a ticket); other readers of that key wait for the producer's put,
 * which answers them all. When the producer fails (mcache.fail) or its isolate dies, the next
 * waiter becomes the producer, as in workerd: the fallback runs once per key at a time.
 *
 *   mcache.get NAME KEY                    -> "" hit VALUE | "" miss
 *   mcache.read NAME KEY WAIT              -> "" hit VALUE | "" produce TICKET  (WAIT "1": may
 *                                             wait for another reader's fallback; "0": never,
 *                                             the ticket is then "0": a sync caller's)
 *   mcache.put NAME KEY VALUE EXPIRATION TICKET -> ""   (EXPIRATION: ms since the epoch, or "")
 *   mcache.fail NAME KEY TICKET            -> ""
 *   mcache.delete NAME KEY                 -> ""
 *
 * A kind with state (per_loop 0): with --threads its calls all run on the main loop (other
 * loops forward them, host/rpc_forward.h), so one cache serves the isolates of every loop; the
 * mutex keeps the state safe should a kind's calls ever run on several loops.
 * Invariant: every field of the host state (caches, their fills and waiters) is used with
 * `mu` held; a fill holds a watch on its producer's port, a waiter one on its own, so that an
 * isolate's death releases both; each waiter is answered exactly once.
 */
#include "host/binding.h"
#include "host/port.h"
#include "host/watched_call.h"
#include "storage/memory_cache.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mc_host mc_host_t;

/* One cache: a config id, or a binding's own. */
typedef struct mc_cache {
    struct mc_cache *next;
    char *id;
    pw_mcache_t *store;
    unsigned users;
    pw_list_t fills;
} mc_cache_t;

struct mc_host {
    pthread_mutex_t mu;
    mc_cache_t *caches;
    uint64_t next_ticket;
    uint64_t next_own;          /* names the caches of bindings without an id */
};

typedef struct {
    const char *name;
    mc_cache_t *cache;
    pw_mcache_limits_t limits;
} mc_binding_t;

typedef struct {
    mc_host_t *host;
    mc_binding_t *bindings;
    size_t n_bindings;
} mc_worker_t;

/* A key whose fallback runs: its producer and the readers waiting for it. */
typedef struct {
    pw_port_watch_t watch;      /* first: the producer's port; gone() gets this pointer */
    pw_list_t link;             /* in the cache's fills */
    mc_host_t *host;
    pw_port_t *producer;
    uint64_t ticket;
    pw_list_t waiters;
    size_t key_len;
    unsigned char key[];
} mc_fill_t;

typedef struct {
    pw_watched_call_t call;     /* first */
    pw_list_t link;             /* in its fill's waiters */
    mc_host_t *host;
} mc_waiter_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

static mc_cache_t *cache_of(const pw_binding_call_t *c)
{
    return ((mc_binding_t *)c->binding)->cache;
}

static mc_host_t *host_of(const pw_binding_call_t *c)
{
    return ((mc_worker_t *)c->state)->host;
}

static void reply_empty(const pw_binding_call_t *c)
{
    pw_bytes_t f[1] = { pw_bytes_of("") };
    pw_port_reply(c->port, c->id, f, 1);
}

static void reply_hit(pw_port_t *port, uint32_t id, pw_bytes_t value)
{
    pw_bytes_t f[3] = { pw_bytes_of(""), pw_bytes_of("hit"), value };
    pw_port_reply(port, id, f, 3);
}

static void reply_produce(pw_port_t *port, uint32_t id, uint64_t ticket)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRIu64, ticket);
    pw_bytes_t f[3] = { pw_bytes_of(""), pw_bytes_of("produce"), pw_bytes_of(t) };
    pw_port_reply(port, id, f, 3);
}

static int key_ok(const pw_binding_call_t *c)
{
    if (c->f[2].len <= PW_MCACHE_MAX_KEY)
        return 1;
    pw_port_reply_error(c->port, c->id, "RangeError", "Key too large.");
    return 0;
}

/* ---- fills and waiters ---- */

static mc_fill_t *find_fill(mc_cache_t *cache, pw_bytes_t key)
{
    PW_LIST_FOR_EACH(node, &cache->fills) {
        mc_fill_t *f = PW_CONTAINER_OF(node, mc_fill_t, link);
        if (f->key_len == key.len && memcmp(f->key, key.base, key.len) == 0)
            return f;
    }
    return NULL;
}

static void fill_gone(pw_port_watch_t *watch);

/* A waiter that was answered leaves its fill and ends. */
static void end_waiter(mc_waiter_t *w)
{
    pw_list_remove(&w->link);
    pw_watched_call_end(&w->call);
}

static void free_fill(mc_fill_t *f)
{
    pw_list_remove(&f->link);
    pw_port_unwatch(f->producer, &f->watch);
    free(f);
}

/* The producer gave up (or died): the next waiter produces, or the key has no fill left. */
static void fill_failed(mc_fill_t *f)
{
    if (pw_list_empty(&f->waiters)) {
        free_fill(f);
        return;
    }
    mc_waiter_t *next = PW_CONTAINER_OF(f->waiters.next, mc_waiter_t, link);
    pw_port_unwatch(f->producer, &f->watch);
    f->producer = next->call.port;
    f->ticket = ++f->host->next_ticket;
    pw_port_watch(f->producer, &f->watch, fill_gone);
    reply_produce(next->call.port, next->call.id, f->ticket);
    end_waiter(next);
}

/* The value is there: every waiter gets it; the fill ends. */
static void fill_done(mc_fill_t *f, pw_bytes_t value)
{
    PW_LIST_FOR_EACH(node, &f->waiters) {
        mc_waiter_t *w = PW_CONTAINER_OF(node, mc_waiter_t, link);
        reply_hit(w->call.port, w->call.id, value);
        end_waiter(w);
    }
    free_fill(f);
}

static void fill_gone(pw_port_watch_t *watch)
{
    mc_fill_t *f = (mc_fill_t *)watch;
    mc_host_t *h = f->host;
    pthread_mutex_lock(&h->mu);
    fill_failed(f);
    pthread_mutex_unlock(&h->mu);
}

/* The waiter's isolate died: it leaves its fill's waiters (the call is freed after). */
static void waiter_cancel(pw_watched_call_t *call)
{
    mc_waiter_t *w = (mc_waiter_t *)call;
    mc_host_t *h = w->host;
    pthread_mutex_lock(&h->mu);
    pw_list_remove(&w->link);
    pthread_mutex_unlock(&h->mu);
}

static void start_fill(const pw_binding_call_t *c, mc_cache_t *cache)
{
    mc_host_t *h = host_of(c);
    mc_fill_t *f = calloc(1, sizeof *f + c->f[2].len);
    if (!f) {
        pw_port_reply_error(c->port, c->id, "Error", "memoryCache: out of memory");
        return;
    }
    memcpy(f->key, c->f[2].base, c->f[2].len);
    f->key_len = c->f[2].len;
    f->host = h;
    f->producer = c->port;
    f->ticket = ++h->next_ticket;
    pw_list_init(&f->waiters);
    pw_list_push_back(&cache->fills, &f->link);
    pw_port_watch(c->port, &f->watch, fill_gone);
    reply_produce(c->port, c->id, f->ticket);
}

static void wait_for(const pw_binding_call_t *c, mc_fill_t *f)
{
    mc_waiter_t *w = pw_watched_call_new(c, sizeof *w, waiter_cancel, "memoryCache: out of memory");
    if (!w)
        return;
    w->host = host_of(c);
    pw_list_push_back(&f->waiters, &w->link);
}

/* ---- the ops ---- */

/* Answers a hit, or returns 0 on a miss (-1 once answered with an error). */
static int answer_hit(const pw_binding_call_t *c, mc_cache_t *cache)
{
    pw_buf_t value;
    pw_buf_init(&value);
    int rc = cache->store->ops->get(cache->store, c->f[2], now_ms(), &value);
    if (rc == 1)
        reply_hit(c->port, c->id, (pw_bytes_t){ value.data, value.len });
    else if (rc < 0)
        pw_port_reply_error(c->port, c->id, "Error", "memoryCache: out of memory");
    pw_buf_free(&value);
    return rc == 0 ? 0 : -1;
}

/* mcache.get name key */
static void mc_get(const pw_binding_call_t *c)
{
    if (key_ok(c) && answer_hit(c, cache_of(c)) == 0) {
        pw_bytes_t f[2] = { pw_bytes_of(""), pw_bytes_of("miss") };
        pw_port_reply(c->port, c->id, f, 2);
    }
}

/* mcache.read name key wait */
static void mc_read(const pw_binding_call_t *c)
{
    mc_cache_t *cache = cache_of(c);
    mc_host_t *h = host_of(c);
    if (!key_ok(c))
        return;
    pthread_mutex_lock(&h->mu);
    if (answer_hit(c, cache) == 0) {
        mc_fill_t *f = find_fill(cache, c->f[2]);
        if (!pw_bytes_is(c->f[3], "1"))
            reply_produce(c->port, c->id, 0);
        else if (f)
            wait_for(c, f);
        else
            start_fill(c, cache);
    }
    pthread_mutex_unlock(&h->mu);
}

/* Parses EXPIRATION ("" none; else ms since the epoch). 0, or -1 once answered. */
static int parse_expiration(const pw_binding_call_t *c, pw_bytes_t b, int *has, double *out)
{
    char text[64];
    char *end;
    *has = b.len > 0;
    if (!*has)
        return 0;
    if (b.len >= sizeof text)
        return pw_port_reply_error(c->port, c->id, "TypeError", "Expiration time must be a number."), -1;
    memcpy(text, b.base, b.len);
    text[b.len] = '\0';
    *out = strtod(text, &end);
    if (*end)
        return pw_port_reply_error(c->port, c->id, "TypeError", "Expiration time must be a number."), -1;
    if (isnan(*out))
        return pw_port_reply_error(c->port, c->id, "TypeError", "Expiration time must not be NaN."), -1;
    return 0;
}

/* mcache.put name key value expiration ticket */
static void mc_put(const pw_binding_call_t *c)
{
    mc_cache_t *cache = cache_of(c);
    mc_host_t *h = host_of(c);
    int has;
    double expiration;
    if (!key_ok(c) || parse_expiration(c, c->f[4], &has, &expiration) < 0)
        return;
    pthread_mutex_lock(&h->mu);
    int rc = cache->store->ops->put(cache->store, c->f[2], c->f[3], has ? &expiration : NULL, now_ms());
    mc_fill_t *f = find_fill(cache, c->f[2]);
    if (f)
        fill_done(f, c->f[3]);
    pthread_mutex_unlock(&h->mu);
    if (rc < 0)
        pw_port_reply_error(c->port, c->id, "Error", "memoryCache: out of memory");
    else
        reply_empty(c);
}

/* mcache.fail name key ticket: the producer's fallback failed */
static void mc_fail(const pw_binding_call_t *c)
{
    mc_cache_t *cache = cache_of(c);
    mc_host_t *h = host_of(c);
    char t[24];
    if (!key_ok(c))
        return;
    pthread_mutex_lock(&h->mu);
    mc_fill_t *f = find_fill(cache, c->f[2]);
    if (f) {
        snprintf(t, sizeof t, "%" PRIu64, f->ticket);
        if (f->producer == c->port && pw_bytes_is(c->f[3], t))
            fill_failed(f);
    }
    pthread_mutex_unlock(&h->mu);
    reply_empty(c);
}

/* mcache.delete name key */
static void mc_delete(const pw_binding_call_t *c)
{
    mc_cache_t *cache = cache_of(c);
    if (!key_ok(c))
        return;
    cache->store->ops->remove(cache->store, c->f[2]);
    reply_empty(c);
}

static void *mc_resolve(const pw_binding_call_t *c)
{
    mc_worker_t *w = c->state;
    for (size_t i = 0; w && i < w->n_bindings; i++)
        if (pw_bytes_is(c->f[1], w->bindings[i].name))
            return &w->bindings[i];
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker has no %s binding named \"%.*s\"",
                        "memoryCache", (int)(c->f[1].len < 200 ? c->f[1].len : 200), c->f[1].base);
    return NULL;
}

/* ---- host and worker state ---- */

static int mc_open(const pw_binding_env_t *env, void **state, char *err, size_t err_len)
{
    mc_host_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    pthread_mutex_init(&h->mu, NULL);
    *state = h;
    return 0;
}

/* Ends a cache's fills (its workers are gone): their waiters are told. */
static void end_fills(mc_cache_t *cache)
{
    while (!pw_list_empty(&cache->fills)) {
        mc_fill_t *f = PW_CONTAINER_OF(cache->fills.next, mc_fill_t, link);
        PW_LIST_FOR_EACH(node, &f->waiters) {
            mc_waiter_t *w = PW_CONTAINER_OF(node, mc_waiter_t, link);
            pw_port_reply_error(w->call.port, w->call.id, "Error", "memoryCache: the cache was closed");
            end_waiter(w);
        }
        free_fill(f);
    }
}

static void free_cache(mc_cache_t *cache)
{
    end_fills(cache);
    cache->store->ops->close(cache->store);
    free(cache->id);
    free(cache);
}

static void mc_close(void *state)
{
    mc_host_t *h = state;
    if (!h)
        return;
    while (h->caches) {
        mc_cache_t *cache = h->caches;
        h->caches = cache->next;
        free_cache(cache);
    }
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* The cache a binding uses: its id's (shared), or one of its own; NULL when out of memory. */
static mc_cache_t *use_cache(mc_host_t *h, const pw_binding_t *b)
{
    char own[48];
    const char *id = b->value;
    if (!id[0]) {
        snprintf(own, sizeof own, "\n%" PRIu64, ++h->next_own);     /* no config id has a \n */
        id = own;
    }
    for (mc_cache_t *cache = h->caches; cache; cache = cache->next)
        if (strcmp(cache->id, id) == 0) {
            cache->users++;
            return cache;
        }
    mc_cache_t *cache = calloc(1, sizeof *cache);
    if (!cache || !(cache->id = strdup(id)) || pw_mcache_memory_open(&cache->store) < 0) {
        if (cache)
            free(cache->id);
        free(cache);
        return NULL;
    }
    pw_list_init(&cache->fills);
    cache->users = 1;
    cache->next = h->caches;
    h->caches = cache;
    return cache;
}

static void unuse_cache(mc_host_t *h, mc_cache_t *cache)
{
    if (--cache->users > 0)
        return;
    for (mc_cache_t **p = &h->caches; *p; p = &(*p)->next)
        if (*p == cache) {
            *p = cache->next;
            break;
        }
    free_cache(cache);
}

static void mc_detach(void *state)
{
    mc_worker_t *w = state;
    if (!w)
        return;
    pthread_mutex_lock(&w->host->mu);
    for (size_t i = 0; i < w->n_bindings; i++) {
        mc_binding_t *b = &w->bindings[i];
        b->cache->store->ops->suggest(b->cache->store, &b->limits, 0, now_ms());
        unuse_cache(w->host, b->cache);
    }
    pthread_mutex_unlock(&w->host->mu);
    free(w->bindings);
    free(w);
}

static int attach_binding(mc_host_t *h, const pw_binding_t *b, mc_binding_t *out)
{
    out->name = b->name;
    out->limits = (pw_mcache_limits_t){ b->cache_limits.max_keys, b->cache_limits.max_value_size,
                                        b->cache_limits.max_total_value_size };
    if (!(out->cache = use_cache(h, b)))
        return -1;
    if (out->cache->store->ops->suggest(out->cache->store, &out->limits, 1, now_ms()) < 0) {
        unuse_cache(h, out->cache);
        return -1;
    }
    return 0;
}

static int mc_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                     void **state, char *err, size_t err_len)
{
    const pw_worker_t *wc = &service->worker;
    mc_host_t *h = host_state;
    mc_worker_t *w = calloc(1, sizeof *w);
    if (w && !(w->bindings = calloc(wc->n_bindings ? wc->n_bindings : 1, sizeof *w->bindings))) {
        free(w);
        w = NULL;
    }
    *state = w;
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->host = h;
    int rc = 0;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; rc == 0 && i < wc->n_bindings; i++)
        if (wc->bindings[i].kind == PW_BINDING_MEMORY_CACHE) {
            rc = attach_binding(h, &wc->bindings[i], &w->bindings[w->n_bindings]);
            w->n_bindings += rc == 0;
        }
    pthread_mutex_unlock(&h->mu);
    if (rc < 0)
        snprintf(err, err_len, "out of memory");
    return rc;
}

static const pw_binding_op_t mc_ops[] = {
    { "mcache.get", 3, 3, "memoryCache get takes one key", 0, mc_get },
    { "mcache.read", 4, 4, "memoryCache read takes a key and whether it may wait", 0, mc_read },
    { "mcache.put", 6, 6, "memoryCache put takes key, value, expiration and ticket", 0, mc_put },
    { "mcache.fail", 4, 4, "memoryCache fail takes key and ticket", 0, mc_fail },
    { "mcache.delete", 3, 3, "memoryCache delete takes one key", 0, mc_delete },
};

static const pw_binding_group_t mc_groups[] = {
    { .prefix = "mcache.", .resolve = mc_resolve, .unknown_op = "unknown binding operation \"%.*s\"",
      .ops = mc_ops, .n_ops = sizeof mc_ops / sizeof mc_ops[0] },
};

const pw_binding_kind_impl_t pw_binding_memory_cache = {
    .name = "memoryCache", .open = mc_open, .close = mc_close, .attach = mc_attach,
    .detach = mc_detach, .groups = mc_groups, .n_groups = 1,
};
