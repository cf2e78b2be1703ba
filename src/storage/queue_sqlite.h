/* queue_sqlite.h — the queues' messages in SQLite (host process): the backend of
 * storage/queue_backend.h that pyworkerd uses on one machine. One database for every queue,
 * `dir`/queues.sqlite3, opened as the other stores are (storage/sqlite_db.h: WAL,
 * synchronous=NORMAL, so a committed send survives kill -9 of the host).
 */
#ifndef PW_QUEUE_SQLITE_H
#define PW_QUEUE_SQLITE_H

#include <stddef.h>

#include "storage/queue_backend.h"

/* Opens (creating) `dir`/queues.sqlite3, or an in-memory store when dir is NULL; messages
 * a previous host had taken become deliverable again. Returns 0, or -1 with a message in
 * err. */
int pw_queue_sqlite_open(const char *dir, pw_queue_backend_t **out, char *err, size_t err_len);
/* Messages stored in `queue`, taken or not (tests, logs), or -1. */
int64_t pw_queue_sqlite_count(pw_queue_backend_t *b, pw_bytes_t queue);

#endif
