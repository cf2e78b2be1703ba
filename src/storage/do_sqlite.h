/* do_sqlite.h — Durable Object storage on SQLite (host process, the main loop): the backend of
 * storage/do_backend.h. On a disk service each object is one database, `<dir>/<id>.sqlite`
 * (dir = the disk's path + "/" + the namespace's uniqueKey, workerd's layout), holding its
 * key-value pairs in the table _cf_KV beside the object's own SQL tables; the namespace's
 * alarms are in `<dir>/alarms.db`. In memory (durableObjectStorage = inMemory, or
 * --persist-dir=:memory:) every database is SQLite's :memory: one, kept for the life of the
 * process. Databases use WAL with synchronous=NORMAL (storage/sqlite_db.h): a committed write
 * survives kill -9 of the host. Every operation ends before it returns.
 */
#ifndef PW_DO_SQLITE_H
#define PW_DO_SQLITE_H

#include <stddef.h>

#include "base/buf.h"
#include "storage/do_backend.h"

/* The namespace's backend: dir NULL keeps everything in memory. Returns 0, or -1 with a
 * message in err. */
int pw_do_sqlite_open(const char *dir, pw_do_backend_t **out, char *err, size_t err_len);

/* A cluster node's hooks (host/do_cluster.h), for stores of this backend only. */
/* 1 once when a transaction committed since the last call and none is open now (the
 * database is at a commit point to ship); else 0. */
int pw_do_sqlite_take_commit(pw_do_store_t *store);
/* Appends the whole database (SQLite's file format) to out. Returns 0 or -ENOMEM. */
int pw_do_sqlite_image(pw_do_store_t *store, pw_buf_t *out);
/* Replaces object id_hex's database with `image` (len 0: an empty one), opening its store.
 * Returns 0, or -1 with a message in err. */
int pw_do_sqlite_restore(pw_do_backend_t *backend, const char *id_hex, pw_bytes_t image, char *err,
                         size_t err_len);

#endif
