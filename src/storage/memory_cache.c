/* memory_cache.c — the in-memory backend of storage/memory_cache.h (host process, any thread):
 * a chained hash table of entries, an LRU list (least recently used first), the sum of the
 * values' sizes, and the limits every binding suggested. Eviction takes the entry that expires
 * first when it has expired, else the least recently used one (workerd's order).
 * Invariant: every field below `mu` is read and written with `mu` held; `total` is the sum of
 * the stored values' sizes and `n_entries` their count.
 */
#include "storage/memory_cache.h"
#include "base/list.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;         /* in its bucket */
    pw_list_t lru;
    uint64_t hash;
    int has_expiration;
    double expiration;
    size_t key_len, value_len;
    unsigned char *value;
    unsigned char key[];
} entry_t;

typedef struct {
    pw_mcache_t base;
    pthread_mutex_t mu;
    entry_t **buckets;
    size_t n_buckets;           /* a power of two */
    size_t n_entries;
    size_t n_expiring;          /* entries with an expiration */
    uint64_t total;
    pw_list_t lru;              /* front: least recently used */
    pw_mcache_limits_t *suggested;
    size_t n_suggested, cap_suggested;
    pw_mcache_limits_t limits;  /* the effective ones */
} mem_t;

#define FIRST_BUCKETS 16

static uint64_t hash_key(pw_bytes_t key)
{
    uint64_t h = 1469598103934665603ull;           /* FNV-1a */
    for (size_t i = 0; i < key.len; i++)
        h = (h ^ key.base[i]) * 1099511628211ull;
    return h;
}

static entry_t **slot_of(mem_t *m, pw_bytes_t key, uint64_t h)
{
    entry_t **slot = &m->buckets[h & (m->n_buckets - 1)];
    while (*slot && !((*slot)->hash == h && (*slot)->key_len == key.len &&
                      memcmp((*slot)->key, key.base, key.len) == 0))
        slot = &(*slot)->next;
    return slot;
}

static int expired(const entry_t *e, double now_ms)
{
    return e->has_expiration && e->expiration < now_ms;
}

static void unlink_entry(mem_t *m, entry_t **slot)
{
    entry_t *e = *slot;
    *slot = e->next;
    pw_list_remove(&e->lru);
    m->n_entries--;
    m->n_expiring -= e->has_expiration;
    m->total -= e->value_len;
    free(e->value);
    free(e);
}

static void remove_key(mem_t *m, pw_bytes_t key)
{
    entry_t **slot = slot_of(m, key, hash_key(key));
    if (*slot)
        unlink_entry(m, slot);
}

static void remove_entry(mem_t *m, entry_t *e)
{
    pw_bytes_t key = { e->key, e->key_len };
    remove_key(m, key);
}

/* The entry that expires first, or NULL when none has an expiration. */
static entry_t *first_to_expire(mem_t *m)
{
    entry_t *first = NULL;
    if (m->n_expiring == 0)
        return NULL;
    PW_LIST_FOR_EACH(node, &m->lru) {
        entry_t *e = PW_CONTAINER_OF(node, entry_t, lru);
        if (e->has_expiration && (!first || e->expiration < first->expiration))
            first = e;
    }
    return first;
}

/* Evicts one entry (the cache is not empty). */
static void evict_one(mem_t *m, double now_ms)
{
    entry_t *e = first_to_expire(m);
    if (!e || !expired(e, now_ms))
        e = PW_CONTAINER_OF(m->lru.next, entry_t, lru);
    remove_entry(m, e);
}

static int grow_table(mem_t *m)
{
    size_t n = m->n_buckets * 2;
    entry_t **buckets = calloc(n, sizeof *buckets);
    if (!buckets)
        return -ENOMEM;
    for (size_t i = 0; i < m->n_buckets; i++)
        for (entry_t *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = buckets[e->hash & (n - 1)];
            buckets[e->hash & (n - 1)] = e;
        }
    free(m->buckets);
    m->buckets = buckets;
    m->n_buckets = n;
    return 0;
}

static int mem_get(pw_mcache_t *c, pw_bytes_t key, double now_ms, pw_buf_t *value)
{
    mem_t *m = (mem_t *)c;
    pthread_mutex_lock(&m->mu);
    entry_t **slot = slot_of(m, key, hash_key(key));
    int rc = 0;
    if (*slot && expired(*slot, now_ms)) {
        unlink_entry(m, slot);
    } else if (*slot) {
        entry_t *e = *slot;
        pw_list_remove(&e->lru);
        pw_list_push_back(&m->lru, &e->lru);
        rc = pw_buf_append(value, e->value, e->value_len) < 0 ? -ENOMEM : 1;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static entry_t *new_entry(pw_bytes_t key, uint64_t h, pw_bytes_t value, const double *expiration)
{
    entry_t *e = calloc(1, sizeof *e + key.len);
    unsigned char *copy = malloc(value.len ? value.len : 1);
    if (!e || !copy) {
        free(e);
        free(copy);
        return NULL;
    }
    memcpy(e->key, key.base, key.len);
    if (value.len)
        memcpy(copy, value.base, value.len);
    e->key_len = key.len;
    e->hash = h;
    e->value = copy;
    e->value_len = value.len;
    e->has_expiration = expiration != NULL;
    e->expiration = expiration ? *expiration : 0;
    return e;
}

/* Makes room for a new value of `size` bytes (and, when `new_key`, one more key). */
static void make_room(mem_t *m, size_t size, int new_key, double now_ms)
{
    if (new_key && m->n_entries >= m->limits.max_keys && m->n_entries > 0)
        evict_one(m, now_ms);
    while (m->n_entries > 0 && m->total + size > m->limits.max_total_value_size)
        evict_one(m, now_ms);
}

static int put_locked(mem_t *m, pw_bytes_t key, pw_bytes_t value, const double *expiration,
                      double now_ms)
{
    if (value.len > m->limits.max_value_size || (expiration && *expiration < now_ms) ||
        m->limits.max_keys == 0) {
        remove_key(m, key);
        return 1;
    }
    uint64_t h = hash_key(key);
    entry_t *e = new_entry(key, h, value, expiration);
    if (!e)
        return -ENOMEM;
    remove_key(m, key);
    make_room(m, value.len, 1, now_ms);
    if (m->n_entries >= m->n_buckets && grow_table(m) < 0) {
        free(e->value);
        free(e);
        return -ENOMEM;
    }
    entry_t **slot = &m->buckets[h & (m->n_buckets - 1)];
    e->next = *slot;
    *slot = e;
    pw_list_push_back(&m->lru, &e->lru);
    m->n_entries++;
    m->n_expiring += e->has_expiration;
    m->total += value.len;
    return 0;
}

static int mem_put(pw_mcache_t *c, pw_bytes_t key, pw_bytes_t value, const double *expiration,
                   double now_ms)
{
    mem_t *m = (mem_t *)c;
    pthread_mutex_lock(&m->mu);
    int rc = put_locked(m, key, value, expiration, now_ms);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void mem_remove(pw_mcache_t *c, pw_bytes_t key)
{
    mem_t *m = (mem_t *)c;
    pthread_mutex_lock(&m->mu);
    remove_key(m, key);
    pthread_mutex_unlock(&m->mu);
}

/* workerd's Limits::normalize(): a 0 anywhere suggests nothing; no value over the total. */
static pw_mcache_limits_t normalized(pw_mcache_limits_t l)
{
    if (l.max_keys == 0 || l.max_value_size == 0 || l.max_total_value_size == 0)
        return (pw_mcache_limits_t){ 0, 0, 0 };
    if (l.max_value_size > l.max_total_value_size)
        l.max_value_size = (uint32_t)l.max_total_value_size;
    return l;
}

/* The effective limits from the suggestions; the entries shrunk to fit them. */
static void resize(mem_t *m, double now_ms)
{
    pw_mcache_limits_t eff = { 0, 0, 0 };
    for (size_t i = 0; i < m->n_suggested; i++) {
        pw_mcache_limits_t l = normalized(m->suggested[i]);
        if (l.max_keys > eff.max_keys) eff.max_keys = l.max_keys;
        if (l.max_value_size > eff.max_value_size) eff.max_value_size = l.max_value_size;
        if (l.max_total_value_size > eff.max_total_value_size) eff.max_total_value_size = l.max_total_value_size;
    }
    m->limits = eff;
    PW_LIST_FOR_EACH(node, &m->lru) {
        entry_t *e = PW_CONTAINER_OF(node, entry_t, lru);
        if (e->value_len > eff.max_value_size)
            remove_entry(m, e);
    }
    while (m->n_entries > 0 && (m->n_entries > eff.max_keys || m->total > eff.max_total_value_size))
        evict_one(m, now_ms);
}

static int add_suggestion(mem_t *m, const pw_mcache_limits_t *limits)
{
    if (m->n_suggested == m->cap_suggested) {
        size_t cap = m->cap_suggested ? m->cap_suggested * 2 : 4;
        pw_mcache_limits_t *grown = realloc(m->suggested, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        m->suggested = grown;
        m->cap_suggested = cap;
    }
    m->suggested[m->n_suggested++] = *limits;
    return 0;
}

static void drop_suggestion(mem_t *m, const pw_mcache_limits_t *limits)
{
    for (size_t i = 0; i < m->n_suggested; i++)
        if (memcmp(&m->suggested[i], limits, sizeof *limits) == 0) {
            m->suggested[i] = m->suggested[--m->n_suggested];
            return;
        }
}

static int mem_suggest(pw_mcache_t *c, const pw_mcache_limits_t *limits, int add, double now_ms)
{
    mem_t *m = (mem_t *)c;
    pw_mcache_limits_t l = *limits;
    pthread_mutex_lock(&m->mu);
    int rc = 0;
    if (add)
        rc = add_suggestion(m, &l);
    else
        drop_suggestion(m, &l);
    if (rc == 0)
        resize(m, now_ms);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void mem_usage(pw_mcache_t *c, size_t *entries, uint64_t *bytes)
{
    mem_t *m = (mem_t *)c;
    pthread_mutex_lock(&m->mu);
    *entries = m->n_entries;
    *bytes = m->total;
    pthread_mutex_unlock(&m->mu);
}

static void mem_close(pw_mcache_t *c)
{
    mem_t *m = (mem_t *)c;
    if (!m)
        return;
    while (!pw_list_empty(&m->lru))
        remove_entry(m, PW_CONTAINER_OF(m->lru.next, entry_t, lru));
    pthread_mutex_destroy(&m->mu);
    free(m->buckets);
    free(m->suggested);
    free(m);
}

static const pw_mcache_ops_t mem_ops = {
    .get = mem_get, .put = mem_put, .remove = mem_remove, .suggest = mem_suggest,
    .usage = mem_usage, .close = mem_close,
};

int pw_mcache_memory_open(pw_mcache_t **out)
{
    mem_t *m = calloc(1, sizeof *m);
    if (m && !(m->buckets = calloc(FIRST_BUCKETS, sizeof *m->buckets))) {
        free(m);
        m = NULL;
    }
    if (!m)
        return -ENOMEM;
    m->base.ops = &mem_ops;
    m->n_buckets = FIRST_BUCKETS;
    pw_list_init(&m->lru);
    pthread_mutex_init(&m->mu, NULL);
    *out = &m->base;
    return 0;
}
