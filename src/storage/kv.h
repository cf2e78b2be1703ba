/* kv.h — a KV namespace stored in SQLite (host process): the `disk`-service store of
 * `kvNamespace` bindings, behind the KV vtable through storage/kv_disk.c. Keys and values are
 * bytes; keys sort by their bytes (as Cloudflare KV lists them); an entry may carry an
 * expiration (unix seconds) and metadata (JSON text). Expired entries are never returned and
 * are purged now and then. Calls are synchronous and short (an indexed lookup, or one
 * committed write): they run on the host's loop thread. Errors are negative errno-style
 * values; pw_kv_error() says more.
 */
#ifndef PW_KV_H
#define PW_KV_H

#include <stddef.h>
#include <stdint.h>

#include "wire/frame.h"

typedef struct pw_kv pw_kv_t;

typedef struct {
    pw_bytes_t value;
    pw_bytes_t metadata;        /* JSON text; len 0: none */
    int64_t expiration;         /* unix seconds; 0: none */
} pw_kv_entry_t;

/* Called for each listed key, in order. */
typedef void (*pw_kv_list_cb)(void *arg, pw_bytes_t key, int64_t expiration, pw_bytes_t metadata);

/* Opens (creating) `dir`/kv.sqlite3, or an in-memory namespace when dir is NULL. Returns 0,
 * or -1 with a message in err. */
int pw_kv_open(const char *dir, pw_kv_t **out, char *err, size_t err_len);
void pw_kv_close(pw_kv_t *kv);
const char *pw_kv_error(pw_kv_t *kv);

/* 1 and *entry (valid until the next call on kv) when the key holds a live value, 0 when not. */
int pw_kv_get(pw_kv_t *kv, pw_bytes_t key, int64_t now, pw_kv_entry_t *entry);
/* Stores value; expiration 0 = never; metadata len 0 = none. Committed when it returns 0. */
int pw_kv_put(pw_kv_t *kv, pw_bytes_t key, pw_bytes_t value, int64_t expiration, pw_bytes_t metadata,
              int64_t now);
int pw_kv_delete(pw_kv_t *kv, pw_bytes_t key);
/* Lists up to `limit` live keys starting with prefix and greater than `after` (len 0: from
 * the start). Returns the number listed, and *more = 1 when further keys match. */
int pw_kv_list(pw_kv_t *kv, pw_bytes_t prefix, pw_bytes_t after, unsigned limit, int64_t now,
               pw_kv_list_cb cb, void *arg, int *more);

#endif
