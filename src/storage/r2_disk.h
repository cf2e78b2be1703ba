/* r2_disk.h — the files-and-SQLite backend of R2 buckets (host process, any thread): a
 * `disk` service's bucket behind the R2 vtable (storage/r2_backend.h). Object bodies are files
 * under <dir>/r2-blobs/, named by random ids (a key never becomes a path), and their metadata
 * rows are in <dir>/r2.sqlite3; a multipart object is its parts' files, read in order.
 */
#ifndef PW_R2_DISK_H
#define PW_R2_DISK_H

#include <stddef.h>

#include "storage/r2_backend.h"

/* Opens the bucket in `dir` (NULL: nothing persisted — metadata in memory, bodies in a
 * private temporary directory removed at close), removing what an interrupted write left.
 * Returns 0, or -1 with why in err. Freed by its ops->close. */
int pw_r2_disk_open(const char *dir, pw_r2_backend_t **out, char *err, size_t err_len);

#endif
