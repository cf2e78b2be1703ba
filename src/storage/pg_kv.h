/* pg_kv.h — the PostgreSQL backend of KV namespaces (host process, the pool's loop): with
 * `--storage postgresql://...` a disk service's namespace is its rows of table pw_kv
 * (storage/pg_schema.h), shared by every node on that database. Same semantics as the SQLite
 * backend (storage/kv_disk.h): keys sort by their bytes, expired entries are never returned
 * and are purged now and then, a put is committed when it is answered. Operations are answered
 * later, from the loop (storage/pg_pool.h); while PostgreSQL is unreachable they fail with
 * PW_RPC_UNAVAILABLE (a 503 for the request).
 */
#ifndef PW_PG_KV_H
#define PW_PG_KV_H

#include <stddef.h>

#include "storage/kv_backend.h"
#include "storage/pg_pool.h"

/* The namespace of disk service `service` on `pool`. Returns 0, or -1 with why in err. Freed
 * by its ops->close (the pool stays). */
int pw_kv_pg_open(pw_pg_pool_t *pool, const char *service, int writable, pw_kv_backend_t **out,
                  char *err, size_t err_len);

#endif
