/* memory_cache.h — the store behind workerd's memoryCache bindings (host process): one cache
 * per id, holding serialized values by key, bounded by limits (workerd's MemoryCacheLimits):
 * at most max_keys entries, no value over max_value_size bytes, at most max_total_value_size
 * bytes of values. A full cache evicts an expired entry first, else the least recently used
 * one. Every binding that uses a cache suggests its limits; the cache's effective limits are
 * the largest of each (a binding whose limits have a 0 suggests none), recomputed, and the
 * cache shrunk to fit, whenever a binding comes or goes.
 *
 * Behind one vtable (as kv_backend.h), so that a shared backend (memcached, for the cluster)
 * can implement the same calls; the in-memory one is pw_mcache_memory_open(). Every call is
 * thread-safe (a mutex per cache): the host's loops may share a cache by its id.
 * Times are milliseconds since the epoch, as JavaScript's Date.now(): an entry whose
 * expiration is before `now_ms` is gone.
 */
#ifndef PW_STORAGE_MEMORY_CACHE_H
#define PW_STORAGE_MEMORY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PW_MCACHE_MAX_KEY 2048      /* bytes: workerd's MAX_KEY_SIZE */

typedef struct {
    uint32_t max_keys;
    uint32_t max_value_size;
    uint64_t max_total_value_size;
} pw_mcache_limits_t;

typedef struct pw_mcache pw_mcache_t;

typedef struct {
    /* Appends the value of key to *value and marks it used: 1; 0 when absent or expired;
     * -ENOMEM. */
    int (*get)(pw_mcache_t *c, pw_bytes_t key, double now_ms, pw_buf_t *value);
    /* Stores value (expiration NULL: none). A value over the limit, or already expired, is
     * not stored and removes the key's old one (as workerd): returns 1 then; 0 when stored;
     * -ENOMEM. */
    int (*put)(pw_mcache_t *c, pw_bytes_t key, pw_bytes_t value, const double *expiration,
               double now_ms);
    void (*remove)(pw_mcache_t *c, pw_bytes_t key);
    /* A binding starts (add = 1) or stops (add = 0) using the cache with these limits. */
    int (*suggest)(pw_mcache_t *c, const pw_mcache_limits_t *limits, int add, double now_ms);
    /* Entries and the bytes of their values now (for tests and stats). */
    void (*usage)(pw_mcache_t *c, size_t *entries, uint64_t *bytes);
    void (*close)(pw_mcache_t *c);
} pw_mcache_ops_t;

struct pw_mcache {
    const pw_mcache_ops_t *ops;
};

/* A new, empty in-memory cache (no limits suggested yet: it holds nothing). 0 or -ENOMEM. */
int pw_mcache_memory_open(pw_mcache_t **out);

#endif
