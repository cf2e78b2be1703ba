/* sqlite_db.h — the SQLite plumbing shared by the stores (host process): KV namespaces
 * (storage/kv.c) and Workflow state (storage/workflow.c). A database is opened in WAL mode
 * with synchronous=NORMAL (a committed write is in the kernel before the call returns, so it
 * survives kill -9 of the host), its schema applied and its statements prepared once.
 * Invariant: a statement is reset (pw_sqlite_stmt) before each use, and bytes read from a row
 * stay valid until then.
 */
#ifndef PW_SQLITE_DB_H
#define PW_SQLITE_DB_H

#include <sqlite3.h>
#include <stddef.h>

#include "base/buf.h"

/* Opens (creating) `dir`/`file` (mkdir -p dir), or an in-memory database when dir is NULL;
 * runs `schema` and prepares the n statements into st[]. Returns 0, or -1 with a message in
 * err (the database is then closed). */
int pw_sqlite_open(const char *dir, const char *file, const char *schema,
                   const char *const *statements, int n, sqlite3 **db, sqlite3_stmt **st,
                   char *err, size_t err_len);
/* The same, with the file locked by this connection for as long as it is open
 * (locking_mode=EXCLUSIVE, set before WAL starts: its index lives in the process's memory),
 * so that no statement makes a locking system call; another process cannot use the file
 * meanwhile. */
int pw_sqlite_open_exclusive(const char *dir, const char *file, const char *schema,
                             const char *const *statements, int n, sqlite3 **db, sqlite3_stmt **st,
                             char *err, size_t err_len);
void pw_sqlite_close(sqlite3 *db, sqlite3_stmt **st, int n);
/* The statement, reset and with its bindings cleared. */
sqlite3_stmt *pw_sqlite_stmt(sqlite3_stmt *st);
/* Steps a write and resets it: 0, -EEXIST (a constraint failed) or -EIO. */
int pw_sqlite_run(sqlite3_stmt *st);
/* Binds b as a blob (an empty one when b is empty). */
void pw_sqlite_bind_bytes(sqlite3_stmt *st, int i, pw_bytes_t b);
/* A column's bytes ("" for NULL). */
pw_bytes_t pw_sqlite_column_bytes(sqlite3_stmt *st, int i);

/* Whole databases as bytes, SQLite's file format (a cluster keeps them in PostgreSQL:
 * host/do_cluster.h, host/d1_cluster.h). */
/* Appends db's main database to out. Returns 0 or -ENOMEM. */
int pw_sqlite_image(sqlite3 *db, pw_buf_t *out);
/* Replaces db's main database with `image` (len 0: an empty one); no transaction may be open.
 * Returns SQLITE_DONE, or SQLite's error code. */
int pw_sqlite_load_image(sqlite3 *db, pw_bytes_t image);

#endif
