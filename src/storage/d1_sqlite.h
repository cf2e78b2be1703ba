/* d1_sqlite.h — a D1 database in SQLite (host process): the backend of D1 bindings naming a
 * `disk` service, behind storage/d1_backend.h. The database is the file d1.sqlite3 in the
 * service's directory, in WAL mode with synchronous=NORMAL (a write acknowledged to the
 * worker is in the kernel, so it survives kill -9 of the host). Statements run on the
 * calling thread under the database's mutex, bounded in time by a progress handler.
 */
#ifndef PW_D1_SQLITE_H
#define PW_D1_SQLITE_H

#include <stddef.h>

#include "storage/d1_backend.h"

#define PW_D1_SQLITE_FILE "d1.sqlite3"

/* Opens (creating) `dir`/d1.sqlite3, or an in-memory database when dir is NULL. Returns 0,
 * or -1 with a message in err. */
int pw_d1_sqlite_open(const char *dir, pw_d1_backend_t **out, char *err, size_t err_len);

/* A cluster node's hooks (host/d1_cluster.h), for databases of this backend only. */
/* A number that changes with every write (compare two readings to see whether one ran). */
uint64_t pw_d1_sqlite_version(pw_d1_backend_t *d1);
/* Appends the whole database (SQLite's file format) to out. Returns 0 or -ENOMEM. */
int pw_d1_sqlite_image(pw_d1_backend_t *d1, pw_buf_t *out);
/* Replaces the database with `image` (len 0: an empty one). Returns 0, or -1 with a message
 * in err. */
int pw_d1_sqlite_restore(pw_d1_backend_t *d1, pw_bytes_t image, char *err, size_t err_len);

#endif
