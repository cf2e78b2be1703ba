/* disk_dir.h — where the host keeps a `disk` service's stores (host process): the SQLite
 * files of KV namespaces and D1 databases bound to it. Its path, relocated under
 * --persist-dir when relative; none (in memory) with --persist-dir=:memory:.
 */
#ifndef PW_DISK_DIR_H
#define PW_DISK_DIR_H

#include <stddef.h>

#include "config/config.h"

/* The directory (disk->disk_path itself, or written into buf), or NULL for in memory.
 * persist_dir: the host's --persist-dir, or NULL. */
const char *pw_disk_store_dir(const char *persist_dir, const pw_service_t *disk, char *buf, size_t len);

#endif
