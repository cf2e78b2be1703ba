/* kv.c — KV namespaces in SQLite (host process; see kv.h). One database per namespace, in
 * WAL mode with synchronous=NORMAL: a put is acknowledged once its transaction is in the
 * WAL file, i.e. in the kernel, so it survives the host being killed (kill -9, crash); only
 * a power loss or kernel crash can drop the last acknowledged puts, and never corrupts the
 * database. Statements are prepared once. Invariant: every statement is reset before its
 * next use, and the pointers handed out by pw_kv_get() stay valid until then.
 */
#include "storage/kv.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

struct pw_kv {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    unsigned writes;
};

int pw_kv_mkdirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    for (char *p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
        if (p)
            *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return -errno;
        if (!p)
            return 0;
        *p = '/';
    }
}

static int exec(pw_kv_t *kv, const char *sql)
{
    return sqlite3_exec(kv->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int pw_kv_open(const char *dir, pw_kv_t **out, char *err, size_t err_len)
{
    char path[4096];
    if (dir) {
        int rc = pw_kv_mkdirs(dir);
        if (rc < 0) {
            snprintf(err, err_len, "cannot create %s: %s", dir, strerror(-rc));
            return -1;
        }
        snprintf(path, sizeof path, "%s/kv.sqlite3", dir);
    }
    pw_kv_t *kv = calloc(1, sizeof *kv);
    if (!kv) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(dir ? path : ":memory:", &kv->db, flags, NULL) != SQLITE_OK ||
        exec(kv, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=2000;"
                 "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL, "
                 "expiration INTEGER, metadata BLOB) WITHOUT ROWID;") < 0)
        goto fail;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(kv->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &kv->st[i],
                               NULL) != SQLITE_OK)
            goto fail;
    *out = kv;
    return 0;
fail:
    snprintf(err, err_len, "%s: %s", dir ? path : ":memory:",
             kv->db ? sqlite3_errmsg(kv->db) : "cannot open");
    pw_kv_close(kv);
    return -1;
}

void pw_kv_close(pw_kv_t *kv)
{
    if (!kv)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(kv->st[i]);
    sqlite3_close(kv->db);
    free(kv);
}

const char *pw_kv_error(pw_kv_t *kv)
{
    return sqlite3_errmsg(kv->db);
}

static sqlite3_stmt *stmt(pw_kv_t *kv, int which)
{
    sqlite3_stmt *s = kv->st[which];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

static void bind_bytes(sqlite3_stmt *s, int i, pw_bytes_t b)
{
    sqlite3_bind_blob(s, i, b.len ? (const void *)b.base : "", (int)b.len, SQLITE_STATIC);
}

static pw_bytes_t column_bytes(sqlite3_stmt *s, int i)
{
    const void *p = sqlite3_column_blob(s, i);
    pw_bytes_t b = { p ? p : (const uint8_t *)"", (size_t)sqlite3_column_bytes(s, i) };
    return b;
}

int pw_kv_get(pw_kv_t *kv, pw_bytes_t key, int64_t now, pw_kv_entry_t *entry)
{
    sqlite3_stmt *s = stmt(kv, ST_GET);
    bind_bytes(s, 1, key);
    sqlite3_bind_int64(s, 2, now);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return -EIO;
    entry->value = column_bytes(s, 0);
    entry->metadata = column_bytes(s, 1);
    entry->expiration = sqlite3_column_int64(s, 2);
    return 1;
}

static int run(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static void maybe_purge(pw_kv_t *kv, int64_t now)
{
    if (++kv->writes % PURGE_EVERY != 0)
        return;
    sqlite3_stmt *s = stmt(kv, ST_PURGE);
    sqlite3_bind_int64(s, 1, now);
    run(s);
}

int pw_kv_put(pw_kv_t *kv, pw_bytes_t key, pw_bytes_t value, int64_t expiration, pw_bytes_t metadata,
              int64_t now)
{
    sqlite3_stmt *s = stmt(kv, ST_PUT);
    bind_bytes(s, 1, key);
    bind_bytes(s, 2, value);
    if (expiration > 0)
        sqlite3_bind_int64(s, 3, expiration);
    if (metadata.len)
        bind_bytes(s, 4, metadata);
    int rc = run(s);
    maybe_purge(kv, now);
    return rc;
}

int pw_kv_delete(pw_kv_t *kv, pw_bytes_t key)
{
    sqlite3_stmt *s = stmt(kv, ST_DELETE);
    bind_bytes(s, 1, key);
    return run(s);
}

static int has_prefix(pw_bytes_t key, pw_bytes_t prefix)
{
    return key.len >= prefix.len && memcmp(key.base, prefix.base, prefix.len) == 0;
}

int pw_kv_list(pw_kv_t *kv, pw_bytes_t prefix, pw_bytes_t after, unsigned limit, int64_t now,
               pw_kv_list_cb cb, void *arg, int *more)
{
    sqlite3_stmt *s = stmt(kv, ST_LIST);
    bind_bytes(s, 1, prefix);
    bind_bytes(s, 2, after);
    sqlite3_bind_int64(s, 3, now);
    int count = 0, rc;
    *more = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        pw_bytes_t key = column_bytes(s, 0);
        if (!has_prefix(key, prefix))
            break;
        if ((unsigned)count == limit) {
            *more = 1;
            break;
        }
        cb(arg, key, sqlite3_column_int64(s, 1), column_bytes(s, 2));
        count++;
    }
    int failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    sqlite3_reset(s);
    return failed ? -EIO : count;
}
