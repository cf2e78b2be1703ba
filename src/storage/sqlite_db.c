/* sqlite_db.c — opening the stores' SQLite databases and the small helpers every statement
 * uses (host process; see sqlite_db.h).
 */
#include "storage/sqlite_db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char pragmas[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                              "PRAGMA busy_timeout=2000;";

static int mkdirs(const char *dir)
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

/* Opens with `first` run before the usual pragmas ("" for none). */
static int sqlite_open(const char *dir, const char *file, const char *first, const char *schema,
                       const char *const *statements, int n, sqlite3 **db, sqlite3_stmt **st,
                       char *err, size_t err_len)
{
    char path[4096];
    *db = NULL;
    for (int i = 0; i < n; i++)
        st[i] = NULL;
    if (dir) {
        int rc = mkdirs(dir);
        if (rc < 0) {
            snprintf(err, err_len, "cannot create %s: %s", dir, strerror(-rc));
            return -1;
        }
        snprintf(path, sizeof path, "%s/%s", dir, file);
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int ok = sqlite3_open_v2(dir ? path : ":memory:", db, flags, NULL) == SQLITE_OK &&
             sqlite3_exec(*db, first, NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_exec(*db, pragmas, NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_exec(*db, schema, NULL, NULL, NULL) == SQLITE_OK;
    for (int i = 0; ok && i < n; i++)
        ok = sqlite3_prepare_v3(*db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i],
                                NULL) == SQLITE_OK;
    if (ok)
        return 0;
    snprintf(err, err_len, "%s: %s", dir ? path : ":memory:", *db ? sqlite3_errmsg(*db) : "cannot open");
    pw_sqlite_close(*db, st, n);
    *db = NULL;
    return -1;
}

int pw_sqlite_open(const char *dir, const char *file, const char *schema,
                   const char *const *statements, int n, sqlite3 **db, sqlite3_stmt **st,
                   char *err, size_t err_len)
{
    return sqlite_open(dir, file, "", schema, statements, n, db, st, err, err_len);
}

int pw_sqlite_open_exclusive(const char *dir, const char *file, const char *schema,
                             const char *const *statements, int n, sqlite3 **db, sqlite3_stmt **st,
                             char *err, size_t err_len)
{
    return sqlite_open(dir, file, "PRAGMA locking_mode=EXCLUSIVE;", schema, statements, n, db, st,
                       err, err_len);
}

void pw_sqlite_close(sqlite3 *db, sqlite3_stmt **st, int n)
{
    for (int i = 0; i < n; i++)
        sqlite3_finalize(st[i]);
    sqlite3_close(db);
}

sqlite3_stmt *pw_sqlite_stmt(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int pw_sqlite_run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return -EEXIST;
    return rc == SQLITE_DONE ? 0 : -EIO;
}

void pw_sqlite_bind_bytes(sqlite3_stmt *st, int i, pw_bytes_t b)
{
    sqlite3_bind_blob(st, i, b.len ? (const void *)b.base : "", (int)b.len, SQLITE_STATIC);
}

pw_bytes_t pw_sqlite_column_bytes(sqlite3_stmt *st, int i)
{
    const void *p = sqlite3_column_blob(st, i);
    return (pw_bytes_t){ p ? p : (const uint8_t *)"", (size_t)sqlite3_column_bytes(st, i) };
}

int pw_sqlite_image(sqlite3 *db, pw_buf_t *out)
{
    sqlite3_int64 size = 0;
    unsigned char *image = sqlite3_serialize(db, "main", &size, 0);
    if (!image)
        return -ENOMEM;
    int rc = pw_buf_append(out, image, (size_t)size);
    sqlite3_free(image);
    return rc;
}

/* A private database holding `image` (empty: an empty database). */
static sqlite3 *image_db(pw_bytes_t image)
{
    sqlite3 *src = NULL;
    if (sqlite3_open(":memory:", &src) != SQLITE_OK) {
        sqlite3_close(src);
        return NULL;
    }
    if (!image.len)
        return src;
    unsigned char *copy = sqlite3_malloc64(image.len);
    if (!copy) {
        sqlite3_close(src);
        return NULL;
    }
    memcpy(copy, image.base, image.len);
    if (sqlite3_deserialize(src, "main", copy, (sqlite3_int64)image.len, (sqlite3_int64)image.len,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) != SQLITE_OK) {
        sqlite3_close(src);
        return NULL;
    }
    return src;
}

int pw_sqlite_load_image(sqlite3 *db, pw_bytes_t image)
{
    sqlite3 *src = image_db(image);
    sqlite3_backup *bk = src ? sqlite3_backup_init(db, "main", src, "main") : NULL;
    int rc = bk ? sqlite3_backup_step(bk, -1) : SQLITE_NOMEM;
    if (bk)
        sqlite3_backup_finish(bk);
    sqlite3_close(src);
    return rc;
}
