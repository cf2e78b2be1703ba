/* kv.c — KV namespaces in SQLite (host process; see kv.h). One database per namespace, in
 * WAL mode with synchronous=NORMAL: a put is acknowledged once its transaction is in the
 * WAL file, i.e. in the kernel, so it survives the host being killed (kill -9, crash); only
 * a power loss or kernel crash can drop the last acknowledged puts, and never corrupts the
 * database (opened by storage/sqlite_db.c). Statements are prepared once. Invariant: every
 * statement is reset before its next use, and the pointers handed out by pw_kv_get() stay
 * valid until then.
 */
#include "storage/kv.h"
#include "storage/sqlite_db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PURGE_EVERY 1024        /* writes between purges of expired entries */

enum { ST_GET, ST_PUT, ST_DELETE, ST_LIST, ST_PURGE, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    [ST_GET] = "SELECT value, metadata, expiration FROM kv WHERE key = ?1 "
               "AND (expiration IS NULL OR expiration > ?2)",
    [ST_PUT] = "INSERT OR REPLACE INTO kv (key, value, expiration, metadata) VALUES (?1, ?2, ?3, ?4)",
    [ST_DELETE] = "DELETE FROM kv WHERE key = ?1",
    [ST_LIST] = "SELECT key, expiration, metadata FROM kv WHERE key >= ?1 AND key > ?2 "
                "AND (expiration IS NULL OR expiration > ?3) ORDER BY key",
    [ST_PURGE] = "DELETE FROM kv WHERE expiration IS NOT NULL AND expiration <= ?1",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL, "
    "expiration INTEGER, metadata BLOB) WITHOUT ROWID;";

struct pw_kv {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    unsigned writes;
};

int pw_kv_open(const char *dir, pw_kv_t **out, char *err, size_t err_len)
{
    pw_kv_t *kv = calloc(1, sizeof *kv);
    if (!kv) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (pw_sqlite_open(dir, "kv.sqlite3", schema, statements, ST_COUNT, &kv->db, kv->st, err,
                       err_len) < 0) {
        free(kv);
        return -1;
    }
    *out = kv;
    return 0;
}

void pw_kv_close(pw_kv_t *kv)
{
    if (!kv)
        return;
    pw_sqlite_close(kv->db, kv->st, ST_COUNT);
    free(kv);
}

const char *pw_kv_error(pw_kv_t *kv)
{
    return sqlite3_errmsg(kv->db);
}

static sqlite3_stmt *stmt(pw_kv_t *kv, int which)
{
    return pw_sqlite_stmt(kv->st[which]);
}

int pw_kv_get(pw_kv_t *kv, pw_bytes_t key, int64_t now, pw_kv_entry_t *entry)
{
    sqlite3_stmt *s = stmt(kv, ST_GET);
    pw_sqlite_bind_bytes(s, 1, key);
    sqlite3_bind_int64(s, 2, now);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return -EIO;
    entry->value = pw_sqlite_column_bytes(s, 0);
    entry->metadata = pw_sqlite_column_bytes(s, 1);
    entry->expiration = sqlite3_column_int64(s, 2);
    return 1;
}

static void maybe_purge(pw_kv_t *kv, int64_t now)
{
    if (++kv->writes % PURGE_EVERY != 0)
        return;
    sqlite3_stmt *s = stmt(kv, ST_PURGE);
    sqlite3_bind_int64(s, 1, now);
    pw_sqlite_run(s);
}

int pw_kv_put(pw_kv_t *kv, pw_bytes_t key, pw_bytes_t value, int64_t expiration, pw_bytes_t metadata,
              int64_t now)
{
    sqlite3_stmt *s = stmt(kv, ST_PUT);
    pw_sqlite_bind_bytes(s, 1, key);
    pw_sqlite_bind_bytes(s, 2, value);
    if (expiration > 0)
        sqlite3_bind_int64(s, 3, expiration);
    if (metadata.len)
        pw_sqlite_bind_bytes(s, 4, metadata);
    int rc = pw_sqlite_run(s);
    maybe_purge(kv, now);
    return rc;
}

int pw_kv_delete(pw_kv_t *kv, pw_bytes_t key)
{
    sqlite3_stmt *s = stmt(kv, ST_DELETE);
    pw_sqlite_bind_bytes(s, 1, key);
    return pw_sqlite_run(s);
}


int pw_kv_list(pw_kv_t *kv, pw_bytes_t prefix, pw_bytes_t after, unsigned limit, int64_t now,
               pw_kv_list_cb cb, void *arg, int *more)
{
    sqlite3_stmt *s = stmt(kv, ST_LIST);
    pw_sqlite_bind_bytes(s, 1, prefix);
    pw_sqlite_bind_bytes(s, 2, after);
    sqlite3_bind_int64(s, 3, now);
    int count = 0, rc;
    *more = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        pw_bytes_t key = pw_sqlite_column_bytes(s, 0);
        if (!pw_bytes_has_prefix(key, prefix))
            break;
        if ((unsigned)count == limit) {
            *more = 1;
            break;
        }
        cb(arg, key, sqlite3_column_int64(s, 1), pw_sqlite_column_bytes(s, 2));
        count++;
    }
    int failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    sqlite3_reset(s);
    return failed ? -EIO : count;
}
