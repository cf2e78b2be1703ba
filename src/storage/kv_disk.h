/* kv_disk.h — the SQLite backend of KV namespaces (host process): a `disk` service's
 * namespace (storage/kv.h) behind the KV vtable (storage/kv_backend.h). Operations end before
 * they return. A service without `writable = true` refuses puts and deletes.
 */
#ifndef PW_KV_DISK_H
#define PW_KV_DISK_H

#include <stddef.h>

#include "storage/kv_backend.h"

/* Opens the namespace in `dir` (NULL: in memory) of the disk service named `service`.
 * Returns 0, or -1 with why in err. Freed by its ops->close. */
int pw_kv_disk_open(const char *dir, const char *service, int writable, pw_kv_backend_t **out,
                    char *err, size_t err_len);

#endif
