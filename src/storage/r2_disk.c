/* r2_disk.c — an R2 bucket on a disk service (host process, libuv's pool threads; see
 * r2_disk.h). Bodies are blobs (storage/r2_blobs.h); rows of objects, multipart uploads and
 * their parts are in SQLite (synchronous=FULL: a commit is on the disk when it returns). A
 * put writes its blob first, then commits its row in one transaction with the onlyIf check,
 * then removes the blob(s) it replaced. One mutex guards the database: every statement runs
 * under it; blob I/O does not.
 * Invariant: a blob is removed only after the commit that stops referring to it, and a reader
 * opens its first blobs under the mutex, so a concurrent overwrite never cuts a read short.
 */
#include "storage/r2_disk.h"
#include "base/fd.h"
#include "base/log.h"
#include "storage/r2_blobs.h"
#include "storage/r2_rules.h"
#include "storage/sqlite_db.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EAGER_PARTS 32          /* a multipart object's first blobs opened by get() */
#define OBJECT_COLUMNS "key, blob, version, size, etag, uploaded, checksums, http_metadata, " \
                       "custom_metadata, storage_class"

enum {
    ST_HEAD, ST_PARTS_OF, ST_PUT, ST_DELETE, ST_DELETE_PARTS_OF, ST_LIST, ST_LIST_DELIMITED,
    ST_UPLOAD_NEW, ST_UPLOAD_GET, ST_UPLOAD_STATE, ST_PART_GET, ST_PART_PUT, ST_PARTS_OF_UPLOAD,
    ST_PART_LINK, ST_DELETE_UNLINKED, ST_DELETE_UPLOAD_PARTS, ST_BLOB_USED, ST_BEGIN, ST_COMMIT,
    ST_ROLLBACK, ST_COUNT
};

enum { UPLOAD_OPEN = 0, UPLOAD_COMPLETED = 1, UPLOAD_ABORTED = 2 };

static const char *const statements[ST_COUNT] = {
    [ST_HEAD] = "SELECT " OBJECT_COLUMNS " FROM objects WHERE key = ?1",
    [ST_PARTS_OF] = "SELECT blob, size FROM parts WHERE object_key = ?1 ORDER BY part_number",
    [ST_PUT] = "INSERT OR REPLACE INTO objects (" OBJECT_COLUMNS ", upload_id) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_DELETE] = "DELETE FROM objects WHERE key = ?1 RETURNING blob",
    [ST_DELETE_PARTS_OF] = "DELETE FROM parts WHERE object_key = ?1 RETURNING blob",
    [ST_LIST] = "SELECT " OBJECT_COLUMNS " FROM objects WHERE substr(key, 1, length(?1)) = ?1 "
                "AND key > ?2 ORDER BY key LIMIT ?3",
    /* Keys with the delimiter after the prefix are grouped by the prefix up to it; a group's
     * row is its last key, so that the next page starts after the whole group. */
    [ST_LIST_DELIMITED] =
        "SELECT max(key), blob, version, size, etag, uploaded, checksums, http_metadata, "
        "custom_metadata, storage_class, CASE WHEN instr(substr(key, length(?1) + 1), ?4) > 0 "
        "THEN substr(key, 1, length(?1) + instr(substr(key, length(?1) + 1), ?4) + length(?4) - 1) "
        "END AS group_prefix FROM objects WHERE substr(key, 1, length(?1)) = ?1 AND key > ?2 "
        "GROUP BY coalesce('p' || group_prefix, 'k' || key) ORDER BY max(key) LIMIT ?3",
    [ST_UPLOAD_NEW] = "INSERT INTO uploads (upload_id, key, http_metadata, custom_metadata, "
                      "storage_class, state) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
    [ST_UPLOAD_GET] = "SELECT http_metadata, custom_metadata, storage_class, state FROM uploads "
                      "WHERE upload_id = ?1 AND key = ?2",
    [ST_UPLOAD_STATE] = "UPDATE uploads SET state = ?2 WHERE upload_id = ?1",
    [ST_PART_GET] = "SELECT blob FROM parts WHERE upload_id = ?1 AND part_number = ?2",
    [ST_PART_PUT] = "INSERT OR REPLACE INTO parts (upload_id, part_number, blob, size, etag, md5) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_PARTS_OF_UPLOAD] = "SELECT size, etag, md5 FROM parts WHERE upload_id = ?1 AND part_number = ?2",
    [ST_PART_LINK] = "UPDATE parts SET object_key = ?3 WHERE upload_id = ?1 AND part_number = ?2",
    [ST_DELETE_UNLINKED] = "DELETE FROM parts WHERE upload_id = ?1 AND object_key IS NULL RETURNING blob",
    [ST_DELETE_UPLOAD_PARTS] = "DELETE FROM parts WHERE upload_id = ?1 RETURNING blob",
    [ST_BLOB_USED] = "SELECT 1 FROM objects WHERE blob = ?1 UNION ALL "
                     "SELECT 1 FROM parts WHERE blob = ?1 LIMIT 1",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

static const char schema[] =
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, blob TEXT, version TEXT NOT NULL, "
    "size INTEGER NOT NULL, etag TEXT NOT NULL, uploaded INTEGER NOT NULL, checksums TEXT NOT NULL, "
    "http_metadata TEXT NOT NULL, custom_metadata TEXT NOT NULL, storage_class TEXT NOT NULL, "
    "upload_id TEXT) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS objects_by_blob ON objects (blob);"
    "CREATE TABLE IF NOT EXISTS uploads (upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, "
    "http_metadata TEXT NOT NULL, custom_metadata TEXT NOT NULL, storage_class TEXT NOT NULL, "
    "state INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, "
    "blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, md5 TEXT NOT NULL, "
    "object_key TEXT, PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS parts_by_object ON parts (object_key);"
    "CREATE INDEX IF NOT EXISTS parts_by_blob ON parts (blob);";

typedef struct {
    pw_r2_backend_t head;       /* first: the vtable's pointer */
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    pw_r2_blobs_t *blobs;
} disk_t;

/* Blob ids a transaction stopped referring to: removed once it committed. */
typedef struct {
    char (*ids)[PW_R2_BLOB_ID_LEN + 1];
    size_t n, cap;
    int failed;
} garbage_t;

/* ---- small helpers ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sqlite3_stmt *stmt(disk_t *d, int which)
{
    return pw_sqlite_stmt(d->st[which]);
}

static void bind_text(sqlite3_stmt *s, int i, const char *text)
{
    sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
}

static const char *column_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

static pw_r2_code_t internal(disk_t *d, const char *what)
{
    pw_log_error("r2: %s: %s", what, d->db ? sqlite3_errmsg(d->db) : "failed");
    return PW_R2_INTERNAL;
}

static int exec(disk_t *d, int which)
{
    return pw_sqlite_run(stmt(d, which));
}

static void garbage_add(garbage_t *g, const char *id)
{
    if (!id || strlen(id) != PW_R2_BLOB_ID_LEN)
        return;
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 8;
        void *ids = realloc(g->ids, cap * sizeof *g->ids);
        if (!ids) {
            g->failed = 1;      /* the blob stays: swept at the next start */
            return;
        }
        g->ids = ids;
        g->cap = cap;
    }
    memcpy(g->ids[g->n++], id, PW_R2_BLOB_ID_LEN + 1);
}

/* Steps a DELETE ... RETURNING blob to its end, collecting the blobs. */
static int collect(sqlite3_stmt *s, garbage_t *g)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (sqlite3_column_type(s, 0) != SQLITE_NULL)
            garbage_add(g, column_text(s, 0));
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void garbage_remove(disk_t *d, garbage_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        pw_r2_blobs_remove(d->blobs, g->ids[i]);
    free(g->ids);
}

/* Ends a transaction: COMMIT when ok, else ROLLBACK; the mutex is released. */
static pw_r2_code_t end_txn(disk_t *d, pw_r2_code_t code, const char *what)
{
    if (code == PW_R2_OK && exec(d, ST_COMMIT) < 0)
        code = internal(d, what);
    if (code != PW_R2_OK)
        exec(d, ST_ROLLBACK);
    pthread_mutex_unlock(&d->lock);
    return code;
}

static pw_r2_code_t begin_txn(disk_t *d, const char *what)
{
    pthread_mutex_lock(&d->lock);
    if (exec(d, ST_BEGIN) == 0)
        return PW_R2_OK;
    pw_r2_code_t code = internal(d, what);
    pthread_mutex_unlock(&d->lock);
    return code;
}

/* ---- objects' rows ---- */

static char *dup_or_empty_object(const char *json)
{
    return strdup(json && *json ? json : "{}");
}

/* The object of a row of OBJECT_COLUMNS; blob into blob (NULL: a multipart object). */
static int row_object(sqlite3_stmt *s, pw_r2_object_t *o, char *blob)
{
    memset(o, 0, sizeof *o);
    o->key = strdup(column_text(s, 0));
    if (blob)
        snprintf(blob, PW_R2_BLOB_ID_LEN + 1, "%s", sqlite3_column_type(s, 1) == SQLITE_NULL ? "" : column_text(s, 1));
    snprintf(o->version, sizeof o->version, "%s", column_text(s, 2));
    o->size = (uint64_t)sqlite3_column_int64(s, 3);
    snprintf(o->etag, sizeof o->etag, "%s", column_text(s, 4));
    o->uploaded_ms = sqlite3_column_int64(s, 5);
    o->checksums = dup_or_empty_object(column_text(s, 6));
    o->http_metadata = dup_or_empty_object(column_text(s, 7));
    o->custom_metadata = dup_or_empty_object(column_text(s, 8));
    snprintf(o->storage_class, sizeof o->storage_class, "%s", column_text(s, 9));
    if (o->key && o->checksums && o->http_metadata && o->custom_metadata)
        return 0;
    pw_r2_object_clear(o);
    return -1;
}

/* Looks the key up (mutex held): 1 with *o (and its blob id), 0 when missing, -1. */
static int find_object(disk_t *d, const char *key, pw_r2_object_t *o, char *blob)
{
    sqlite3_stmt *s = stmt(d, ST_HEAD);
    bind_text(s, 1, key);
    int rc = sqlite3_step(s);
    int found = rc == SQLITE_ROW ? (row_object(s, o, blob) == 0 ? 1 : -1) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(s);
    return found;
}

static pw_r2_code_t disk_head(pw_r2_backend_t *b, const char *key, pw_r2_object_t *out)
{
    disk_t *d = (disk_t *)b;
    pw_r2_code_t code = pw_r2_check_key(key);
    if (code != PW_R2_OK)
        return code;
    pthread_mutex_lock(&d->lock);
    int found = find_object(d, key, out, NULL);
    code = found == 1 ? PW_R2_OK : found == 0 ? PW_R2_NO_SUCH_KEY : internal(d, "head");
    pthread_mutex_unlock(&d->lock);
    return code;
}

/* ---- reading ---- */

typedef struct {
    char blob[PW_R2_BLOB_ID_LEN + 1];
    uint64_t size;
    int fd;                     /* -1 until opened */
} segment_t;

struct pw_r2_reader {
    disk_t *d;
    segment_t *segs;
    size_t n, cur;              /* the segment being read */
    uint64_t pos;               /* in it */
    uint64_t left;              /* bytes of the range still to read */
};

static void reader_free(pw_r2_reader_t *r)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->segs[i].fd >= 0)
            close(r->segs[i].fd);
    if (r)
        free(r->segs);
    free(r);
}

static int add_segment(pw_r2_reader_t *r, const char *blob, uint64_t size)
{
    segment_t *segs = realloc(r->segs, (r->n + 1) * sizeof *segs);
    if (!segs)
        return -1;
    r->segs = segs;
    segment_t *s = &segs[r->n++];
    snprintf(s->blob, sizeof s->blob, "%s", blob);
    s->size = size;
    s->fd = -1;
    return 0;
}

/* The object's blobs, in order (mutex held): its one blob, or its parts'. */
static int load_segments(disk_t *d, pw_r2_reader_t *r, const char *key, const char *blob, uint64_t size)
{
    if (*blob)
        return add_segment(r, blob, size);
    sqlite3_stmt *s = stmt(d, ST_PARTS_OF);
    bind_text(s, 1, key);
    int rc = SQLITE_DONE, failed = 0;
    while (!failed && (rc = sqlite3_step(s)) == SQLITE_ROW)
        failed = add_segment(r, column_text(s, 0), (uint64_t)sqlite3_column_int64(s, 1)) < 0;
    sqlite3_reset(s);
    return failed || rc != SQLITE_DONE ? -1 : 0;
}

/* Positions the reader at `offset` of the object and opens its first blobs (mutex held). */
static int reader_start(pw_r2_reader_t *r, uint64_t offset, uint64_t length)
{
    r->left = length;
    while (r->cur < r->n && offset >= r->segs[r->cur].size) {
        offset -= r->segs[r->cur].size;
        r->cur++;
    }
    r->pos = offset;
    for (size_t i = r->cur; i < r->n && i < r->cur + EAGER_PARTS; i++)
        if ((r->segs[i].fd = pw_r2_blobs_open_read(r->d->blobs, r->segs[i].blob)) < 0)
            return -1;
    return 0;
}

static pw_r2_code_t open_reader(disk_t *d, const char *key, const char *blob, pw_r2_object_t *o,
                                uint64_t offset, pw_r2_reader_t **out)
{
    pw_r2_reader_t *r = calloc(1, sizeof *r);
    if (!r || (r->d = d, load_segments(d, r, key, blob, o->size) < 0) ||
        reader_start(r, offset, o->range_length) < 0) {
        reader_free(r);
        return internal(d, "get: cannot open the object's body");
    }
    *out = r;
    return PW_R2_OK;
}

static pw_r2_code_t disk_get(pw_r2_backend_t *b, const char *key, const pw_r2_cond_t *cond,
                             const pw_r2_range_t *range, pw_r2_object_t *out, pw_r2_reader_t **reader)
{
    disk_t *d = (disk_t *)b;
    char blob[PW_R2_BLOB_ID_LEN + 1];
    uint64_t offset, length;
    *reader = NULL;
    pw_r2_code_t code = pw_r2_check_key(key);
    if (code != PW_R2_OK)
        return code;
    pthread_mutex_lock(&d->lock);
    int found = find_object(d, key, out, blob);
    if (found != 1)
        code = found == 0 ? PW_R2_NO_SUCH_KEY : internal(d, "get");
    else if (!pw_r2_cond_holds(cond, out->etag, out->uploaded_ms))
        code = PW_R2_PRECONDITION_FAILED;
    else if ((code = pw_r2_range_resolve(range, out->size, &offset, &length)) == PW_R2_OK) {
        out->has_range = 1;
        out->range_offset = offset;
        out->range_length = length;
        code = open_reader(d, key, blob, out, offset, reader);
    }
    pthread_mutex_unlock(&d->lock);
    if (code != PW_R2_OK && code != PW_R2_PRECONDITION_FAILED && found == 1)
        pw_r2_object_clear(out);
    return code;
}

static long disk_read(pw_r2_reader_t *r, void *buf, size_t len)
{
    while (r->left && r->cur < r->n && r->pos >= r->segs[r->cur].size) {
        r->cur++;
        r->pos = 0;
    }
    if (r->left == 0 || r->cur >= r->n)
        return 0;
    segment_t *s = &r->segs[r->cur];
    if (s->fd < 0 && (s->fd = pw_r2_blobs_open_read(r->d->blobs, s->blob)) < 0)
        return -1;      /* a later part of an object replaced meanwhile */
    uint64_t want = s->size - r->pos;
    if (want > r->left)
        want = r->left;
    if (want > len)
        want = len;
    ssize_t n;
    do
        n = pread(s->fd, buf, want, (off_t)r->pos);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;      /* the blob is shorter than its row says */
    r->pos += (uint64_t)n;
    r->left -= (uint64_t)n;
    return n;
}

static void disk_close_reader(pw_r2_reader_t *r)
{
    reader_free(r);
}

/* ---- writing ---- */

struct pw_r2_writer {
    disk_t *d;
    char *key;
    char *upload_id;            /* a part: its upload; NULL: a put */
    unsigned part_number;
    char blob[PW_R2_BLOB_ID_LEN + 1];
    int fd;
    uint64_t size, max;
    pw_r2_digest_t *md5, *extra;
    pw_r2_hash_t extra_hash;
    uint8_t expected[64];
    char *http_metadata, *custom_metadata, *storage_class;
    int has_cond;
    pw_r2_cond_t cond;
};

static void writer_free(pw_r2_writer_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        pw_r2_blobs_discard(w->d->blobs, w->fd, w->blob);
    pw_r2_digest_free(w->md5);
    pw_r2_digest_free(w->extra);
    free(w->key);
    free(w->upload_id);
    free(w->http_metadata);
    free(w->custom_metadata);
    free(w->storage_class);
    pw_r2_cond_clear(&w->cond);
    free(w);
}

/* A writer with its blob file and md5 (and the put's own checksum). */
static pw_r2_code_t writer_new(disk_t *d, const char *key, const pw_r2_put_opts_t *o, pw_r2_writer_t **out)
{
    pw_r2_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return PW_R2_INTERNAL;
    w->d = d;
    w->fd = -1;
    int ok = (w->key = strdup(key)) && (w->md5 = pw_r2_digest_new(PW_R2_MD5));
    if (ok && o) {
        ok = (w->http_metadata = dup_or_empty_object(o->http_metadata)) &&
             (w->custom_metadata = dup_or_empty_object(o->custom_metadata)) &&
             (w->storage_class = strdup(o->storage_class ? o->storage_class : "Standard")) &&
             (!o->cond || pw_r2_cond_copy(o->cond, &w->cond) == 0) &&
             (!o->has_hash || (w->extra = pw_r2_digest_new(o->hash)));
        w->has_cond = o->cond != NULL;
        w->extra_hash = o->hash;
        memcpy(w->expected, o->digest, sizeof w->expected);
    }
    if (ok && (w->fd = pw_r2_blobs_create(d->blobs, w->blob)) < 0) {
        pw_log_error("r2: cannot create a blob: %s", strerror(-w->fd));
        ok = 0;
    }
    if (!ok) {
        writer_free(w);
        return PW_R2_INTERNAL;
    }
    *out = w;
    return PW_R2_OK;
}

static pw_r2_code_t disk_begin_put(pw_r2_backend_t *b, const char *key, const pw_r2_put_opts_t *o,
                                   pw_r2_writer_t **w)
{
    pw_r2_code_t code = pw_r2_check_key(key);
    if (code == PW_R2_OK && o->custom_metadata_size > PW_R2_MAX_CUSTOM_METADATA)
        code = PW_R2_METADATA_TOO_LARGE;
    if (code == PW_R2_OK && (code = writer_new((disk_t *)b, key, o, w)) == PW_R2_OK)
        (*w)->max = PW_R2_MAX_PUT;
    return code;
}

/* The state of upload_id for key (mutex held): UPLOAD_*, or -1 when there is none. */
static int upload_state(disk_t *d, const char *upload_id, const char *key, pw_r2_put_opts_t *meta)
{
    sqlite3_stmt *s = stmt(d, ST_UPLOAD_GET);
    bind_text(s, 1, upload_id);
    bind_text(s, 2, key);
    int state = -1;
    if (sqlite3_step(s) == SQLITE_ROW) {
        state = sqlite3_column_int(s, 3);
        if (meta) {
            meta->http_metadata = strdup(column_text(s, 0));
            meta->custom_metadata = strdup(column_text(s, 1));
            meta->storage_class = strdup(column_text(s, 2));
        }
    }
    sqlite3_reset(s);
    return state;
}

static pw_r2_code_t disk_begin_part(pw_r2_backend_t *b, const char *key, const char *upload_id,
                                    unsigned part_number, pw_r2_writer_t **w)
{
    disk_t *d = (disk_t *)b;
    pw_r2_code_t code = pw_r2_check_key(key);
    if (code != PW_R2_OK)
        return code;
    pthread_mutex_lock(&d->lock);
    int state = upload_state(d, upload_id, key, NULL);
    pthread_mutex_unlock(&d->lock);
    if (state != UPLOAD_OPEN)
        return PW_R2_NO_SUCH_UPLOAD;
    if ((code = writer_new(d, key, NULL, w)) != PW_R2_OK)
        return code;
    if (!((*w)->upload_id = strdup(upload_id))) {
        writer_free(*w);
        return PW_R2_INTERNAL;
    }
    (*w)->part_number = part_number;
    (*w)->max = PW_R2_MAX_PART;
    return PW_R2_OK;
}

static pw_r2_code_t disk_write(pw_r2_writer_t *w, const void *data, size_t len)
{
    if (len > w->max - w->size)
        return PW_R2_ENTITY_TOO_LARGE;
    if (pw_r2_digest_update(w->md5, data, len) < 0 || (w->extra && pw_r2_digest_update(w->extra, data, len) < 0))
        return internal(w->d, "put: hashing");
    int rc = pw_fd_write_all(w->fd, data, len);
    if (rc < 0) {
        pw_log_error("r2: writing a blob: %s", strerror(-rc));
        return PW_R2_INTERNAL;
    }
    w->size += len;
    return PW_R2_OK;
}

/* md5 hex of the body into md5_hex; checks the put's own checksum. Makes the blob whole. */
static pw_r2_code_t seal(pw_r2_writer_t *w, char md5_hex[33], char *checksums, size_t checksums_len)
{
    uint8_t md5[16], extra[64];
    int failed = pw_r2_digest_final(w->md5, md5) < 0;
    w->md5 = NULL;
    pw_r2_hex(md5, sizeof md5, md5_hex);
    snprintf(checksums, checksums_len, "{\"md5\":\"%s\"", md5_hex);
    if (w->extra) {
        failed |= pw_r2_digest_final(w->extra, extra) < 0;
        w->extra = NULL;
        size_t n = pw_r2_hash_size(w->extra_hash);
        if (!failed && memcmp(extra, w->expected, n) != 0)
            return PW_R2_BAD_DIGEST;
        if (w->extra_hash != PW_R2_MD5) {
            char hex[129];
            pw_r2_hex(extra, n, hex);
            snprintf(checksums + strlen(checksums), checksums_len - strlen(checksums), ",\"%s\":\"%s\"",
                     pw_r2_hash_field(w->extra_hash), hex);
        }
    }
    snprintf(checksums + strlen(checksums), checksums_len - strlen(checksums), "}");
    if (failed)
        return internal(w->d, "put: hashing");
    int rc = pw_r2_blobs_commit(w->d->blobs, w->fd, w->blob);
    w->fd = -1;
    if (rc < 0) {
        pw_log_error("r2: cannot store a blob: %s", strerror(-rc));
        return PW_R2_INTERNAL;
    }
    return PW_R2_OK;
}

/* The blobs an object's row refers to (mutex held, in a transaction): its own, or its parts'. */
static int collect_object_blobs(disk_t *d, const char *key, const char *blob, garbage_t *g)
{
    if (*blob) {
        garbage_add(g, blob);
        return 0;
    }
    sqlite3_stmt *s = stmt(d, ST_DELETE_PARTS_OF);
    bind_text(s, 1, key);
    return collect(s, g);
}

/* Writes the row of o (mutex held, in a transaction); blob "" for a multipart object. */
static int put_row(disk_t *d, const pw_r2_object_t *o, const char *blob, const char *upload_id)
{
    sqlite3_stmt *s = stmt(d, ST_PUT);
    bind_text(s, 1, o->key);
    if (*blob)
        bind_text(s, 2, blob);
    bind_text(s, 3, o->version);
    sqlite3_bind_int64(s, 4, (int64_t)o->size);
    bind_text(s, 5, o->etag);
    sqlite3_bind_int64(s, 6, o->uploaded_ms);
    bind_text(s, 7, o->checksums);
    bind_text(s, 8, o->http_metadata);
    bind_text(s, 9, o->custom_metadata);
    bind_text(s, 10, o->storage_class);
    if (upload_id)
        bind_text(s, 11, upload_id);
    return pw_sqlite_run(s);
}

/* Replaces the key's object by o (mutex held, in a transaction), if the put's condition holds. */
static pw_r2_code_t replace_object(disk_t *d, const pw_r2_cond_t *cond, const pw_r2_object_t *o,
                                   const char *blob, const char *upload_id, garbage_t *g)
{
    pw_r2_object_t old;
    char old_blob[PW_R2_BLOB_ID_LEN + 1] = "";
    int found = find_object(d, o->key, &old, old_blob);
    if (found < 0)
        return internal(d, "put");
    int holds = pw_r2_cond_holds(cond, found ? old.etag : NULL, found ? old.uploaded_ms : 0);
    if (found)
        pw_r2_object_clear(&old);
    if (!holds)
        return PW_R2_PRECONDITION_FAILED;
    if ((found && collect_object_blobs(d, o->key, old_blob, g) < 0) || put_row(d, o, blob, upload_id) < 0)
        return internal(d, "put");
    return PW_R2_OK;
}

static pw_r2_code_t new_object(pw_r2_object_t *o, const char *key, uint64_t size, const char *etag,
                               const char *checksums, const char *http, const char *custom,
                               const char *storage_class)
{
    memset(o, 0, sizeof *o);
    o->size = size;
    o->uploaded_ms = now_ms();
    snprintf(o->etag, sizeof o->etag, "%s", etag);
    snprintf(o->storage_class, sizeof o->storage_class, "%s", storage_class);
    if (pw_r2_random_hex(o->version, 16) == 0 && (o->key = strdup(key)) && (o->checksums = strdup(checksums)) &&
        (o->http_metadata = dup_or_empty_object(http)) && (o->custom_metadata = dup_or_empty_object(custom)))
        return PW_R2_OK;
    pw_r2_object_clear(o);
    return PW_R2_INTERNAL;
}

static pw_r2_code_t finish_put(pw_r2_writer_t *w, pw_r2_object_t *out)
{
    disk_t *d = w->d;
    char md5[33], checksums[300];
    garbage_t g = { 0 };
    pw_r2_code_t code = seal(w, md5, checksums, sizeof checksums);
    if (code == PW_R2_OK)
        code = new_object(out, w->key, w->size, md5, checksums, w->http_metadata, w->custom_metadata,
                          w->storage_class);
    if (code != PW_R2_OK)
        return code;
    if ((code = begin_txn(d, "put")) == PW_R2_OK)
        code = end_txn(d, replace_object(d, w->has_cond ? &w->cond : NULL, out, w->blob, NULL, &g), "put");
    if (code != PW_R2_OK) {
        pw_r2_blobs_remove(d->blobs, w->blob);
        pw_r2_object_clear(out);
        free(g.ids);
    } else {
        garbage_remove(d, &g);
    }
    return code;
}

static pw_r2_code_t store_part(disk_t *d, pw_r2_writer_t *w, const char *md5, const char *etag, garbage_t *g)
{
    if (upload_state(d, w->upload_id, w->key, NULL) != UPLOAD_OPEN)
        return PW_R2_NO_SUCH_UPLOAD;
    sqlite3_stmt *s = stmt(d, ST_PART_GET);
    bind_text(s, 1, w->upload_id);
    sqlite3_bind_int(s, 2, (int)w->part_number);
    if (sqlite3_step(s) == SQLITE_ROW)
        garbage_add(g, column_text(s, 0));
    sqlite3_reset(s);
    s = stmt(d, ST_PART_PUT);
    bind_text(s, 1, w->upload_id);
    sqlite3_bind_int(s, 2, (int)w->part_number);
    bind_text(s, 3, w->blob);
    sqlite3_bind_int64(s, 4, (int64_t)w->size);
    bind_text(s, 5, etag);
    bind_text(s, 6, md5);
    return pw_sqlite_run(s) == 0 ? PW_R2_OK : internal(d, "uploadPart");
}

static pw_r2_code_t finish_part(pw_r2_writer_t *w, char part_etag[48])
{
    disk_t *d = w->d;
    char md5[33], checksums[300];
    garbage_t g = { 0 };
    pw_r2_code_t code = seal(w, md5, checksums, sizeof checksums);
    if (code == PW_R2_OK && pw_r2_random_hex(part_etag, 16) < 0)
        code = PW_R2_INTERNAL;
    if (code != PW_R2_OK)
        return code;
    if ((code = begin_txn(d, "uploadPart")) == PW_R2_OK)
        code = end_txn(d, store_part(d, w, md5, part_etag, &g), "uploadPart");
    if (code != PW_R2_OK) {
        pw_r2_blobs_remove(d->blobs, w->blob);
        free(g.ids);
    } else {
        garbage_remove(d, &g);
    }
    return code;
}

static pw_r2_code_t disk_finish(pw_r2_writer_t *w, pw_r2_object_t *out, char part_etag[48])
{
    pw_r2_code_t code = w->upload_id ? finish_part(w, part_etag) : finish_put(w, out);
    writer_free(w);
    return code;
}

static void disk_abort(pw_r2_writer_t *w)
{
    writer_free(w);
}

/* ---- deleting and listing ---- */

static pw_r2_code_t delete_keys(disk_t *d, const char *const *keys, size_t n, garbage_t *g)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *s = stmt(d, ST_DELETE);
        bind_text(s, 1, keys[i]);
        int rc = sqlite3_step(s);
        int multipart = rc == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_NULL;
        if (rc == SQLITE_ROW && !multipart)
            garbage_add(g, column_text(s, 0));
        while (rc == SQLITE_ROW)
            rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE || (multipart && collect_object_blobs(d, keys[i], "", g) < 0))
            return internal(d, "delete");
    }
    return PW_R2_OK;
}

static pw_r2_code_t disk_delete(pw_r2_backend_t *b, const char *const *keys, size_t n)
{
    disk_t *d = (disk_t *)b;
    garbage_t g = { 0 };
    for (size_t i = 0; i < n; i++)
        if (pw_r2_check_key(keys[i]) != PW_R2_OK)
            return PW_R2_INVALID_OBJECT_NAME;
    pw_r2_code_t code = begin_txn(d, "delete");
    if (code == PW_R2_OK)
        code = end_txn(d, delete_keys(d, keys, n, &g), "delete");
    if (code == PW_R2_OK)
        garbage_remove(d, &g);
    else
        free(g.ids);
    return code;
}

static int cursor_decode(const char *cursor, char *out, size_t len)
{
    size_t n = strlen(cursor);
    if (n % 2 || n / 2 >= len)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        unsigned v;
        if (!strchr("0123456789abcdef", cursor[i]) || !strchr("0123456789abcdef", cursor[i + 1]) ||
            sscanf(cursor + i, "%2x", &v) != 1 || v == 0)
            return -1;
        out[i / 2] = (char)v;
    }
    out[n / 2] = '\0';
    return 0;
}

/* Keeps the metadata the listing asked for; the rest is NULL (unknown to the caller). */
static void trim_metadata(pw_r2_object_t *o, const pw_r2_list_opts_t *opts)
{
    if (!opts->http_metadata) {
        free(o->http_metadata);
        o->http_metadata = NULL;
    }
    if (!opts->custom_metadata) {
        free(o->custom_metadata);
        o->custom_metadata = NULL;
    }
}

static int listing_add(pw_r2_listing_t *l, sqlite3_stmt *s, const pw_r2_list_opts_t *opts, int delimited)
{
    if (delimited && sqlite3_column_type(s, 10) != SQLITE_NULL) {
        char **p = realloc(l->prefixes, (l->n_prefixes + 1) * sizeof *p);
        if (!p)
            return -1;
        l->prefixes = p;
        return (p[l->n_prefixes] = strdup(column_text(s, 10))) ? (l->n_prefixes++, 0) : -1;
    }
    pw_r2_object_t *o = realloc(l->objects, (l->n_objects + 1) * sizeof *o);
    if (!o)
        return -1;
    l->objects = o;
    if (row_object(s, &o[l->n_objects], NULL) < 0)
        return -1;
    trim_metadata(&o[l->n_objects++], opts);
    return 0;
}

/* Runs the listing query (mutex held); `last` gets the row's key of the limit-th entry. */
static pw_r2_code_t run_listing(disk_t *d, const pw_r2_list_opts_t *opts, const char *after,
                                pw_r2_listing_t *out, char *last, size_t last_len)
{
    int delimited = opts->delimiter && *opts->delimiter;
    sqlite3_stmt *s = stmt(d, delimited ? ST_LIST_DELIMITED : ST_LIST);
    bind_text(s, 1, opts->prefix ? opts->prefix : "");
    bind_text(s, 2, after);
    sqlite3_bind_int(s, 3, (int)opts->limit + 1);
    if (delimited)
        bind_text(s, 4, opts->delimiter);
    int rc = SQLITE_DONE, rows = 0, failed = 0;
    while (!failed && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (++rows > (int)opts->limit) {
            out->truncated = 1;
            break;
        }
        snprintf(last, last_len, "%s", column_text(s, 0));
        failed = listing_add(out, s, opts, delimited) < 0;
    }
    sqlite3_reset(s);
    return failed || (rc != SQLITE_ROW && rc != SQLITE_DONE) ? internal(d, "list") : PW_R2_OK;
}

static pw_r2_code_t disk_list(pw_r2_backend_t *b, const pw_r2_list_opts_t *opts, pw_r2_listing_t *out)
{
    disk_t *d = (disk_t *)b;
    char after[PW_R2_MAX_KEY + 1] = "", last[PW_R2_MAX_KEY + 1] = "";
    memset(out, 0, sizeof *out);
    if (opts->start_after)
        snprintf(after, sizeof after, "%s", opts->start_after);
    if (opts->cursor && *opts->cursor) {
        char from_cursor[PW_R2_MAX_KEY + 1];
        if (cursor_decode(opts->cursor, from_cursor, sizeof from_cursor) < 0)
            return PW_R2_INVALID_ARGUMENT;
        if (strcmp(from_cursor, after) > 0)
            snprintf(after, sizeof after, "%s", from_cursor);
    }
    pthread_mutex_lock(&d->lock);
    pw_r2_code_t code = run_listing(d, opts, after, out, last, sizeof last);
    pthread_mutex_unlock(&d->lock);
    if (code == PW_R2_OK && out->truncated && (out->cursor = malloc(2 * strlen(last) + 1)))
        pw_r2_hex((const uint8_t *)last, strlen(last), out->cursor);
    if (code == PW_R2_OK && out->truncated && !out->cursor)
        code = PW_R2_INTERNAL;
    if (code != PW_R2_OK)
        pw_r2_listing_clear(out);
    return code;
}

/* ---- multipart uploads ---- */

static pw_r2_code_t disk_create_upload(pw_r2_backend_t *b, const char *key, const pw_r2_put_opts_t *o,
                                       char upload_id[65])
{
    disk_t *d = (disk_t *)b;
    pw_r2_code_t code = pw_r2_check_key(key);
    if (code != PW_R2_OK)
        return code;
    if (o->custom_metadata_size > PW_R2_MAX_CUSTOM_METADATA)
        return PW_R2_METADATA_TOO_LARGE;
    if (pw_r2_random_hex(upload_id, 32) < 0)
        return PW_R2_INTERNAL;
    pthread_mutex_lock(&d->lock);
    sqlite3_stmt *s = stmt(d, ST_UPLOAD_NEW);
    bind_text(s, 1, upload_id);
    bind_text(s, 2, key);
    bind_text(s, 3, o->http_metadata && *o->http_metadata ? o->http_metadata : "{}");
    bind_text(s, 4, o->custom_metadata && *o->custom_metadata ? o->custom_metadata : "{}");
    bind_text(s, 5, o->storage_class ? o->storage_class : "Standard");
    code = pw_sqlite_run(s) == 0 ? PW_R2_OK : internal(d, "createMultipartUpload");
    pthread_mutex_unlock(&d->lock);
    return code;
}

typedef struct {
    unsigned number;
    uint64_t size;
    char md5[33];
} part_row_t;

static int by_number(const void *a, const void *b)
{
    unsigned x = ((const part_row_t *)a)->number, y = ((const part_row_t *)b)->number;
    return (x > y) - (x < y);
}

/* The chosen parts' rows (mutex held), checked as R2 checks them. */
static pw_r2_code_t chosen_parts(disk_t *d, const char *upload_id, const pw_r2_part_ref_t *refs,
                                 size_t n, part_row_t *rows)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (refs[j].part_number == refs[i].part_number)
                return PW_R2_INVALID_PART;
        sqlite3_stmt *s = stmt(d, ST_PARTS_OF_UPLOAD);
        bind_text(s, 1, upload_id);
        sqlite3_bind_int(s, 2, (int)refs[i].part_number);
        int found = sqlite3_step(s) == SQLITE_ROW && strcmp(column_text(s, 1), refs[i].etag) == 0;
        if (found) {
            rows[i] = (part_row_t){ refs[i].part_number, (uint64_t)sqlite3_column_int64(s, 0), "" };
            snprintf(rows[i].md5, sizeof rows[i].md5, "%s", column_text(s, 2));
        }
        sqlite3_reset(s);
        if (!found)
            return PW_R2_INVALID_PART;
    }
    for (size_t i = 0; i + 1 < n; i++)
        if (rows[i].size < PW_R2_MIN_PART)
            return PW_R2_ENTITY_TOO_SMALL;
    qsort(rows, n, sizeof *rows, by_number);
    for (size_t i = 0; i + 1 < n; i++)
        if (rows[i].size != rows[0].size)
            return PW_R2_BAD_UPLOAD;
    return n > 1 && rows[n - 1].size > rows[0].size ? PW_R2_BAD_UPLOAD : PW_R2_OK;
}

/* The object of the chosen parts (mutex held, in a transaction). */
static pw_r2_code_t assemble(disk_t *d, const char *key, const char *upload_id, const pw_r2_part_ref_t *refs,
                             size_t n, pw_r2_object_t *out, garbage_t *g)
{
    pw_r2_put_opts_t meta = { 0 };
    int state = upload_state(d, upload_id, key, &meta);
    part_row_t *rows = calloc(n ? n : 1, sizeof *rows);
    const char **md5s = calloc(n ? n : 1, sizeof *md5s);
    pw_r2_code_t code = state != UPLOAD_OPEN ? PW_R2_NO_SUCH_UPLOAD
                        : !rows || !md5s ? PW_R2_INTERNAL : chosen_parts(d, upload_id, refs, n, rows);
    uint64_t size = 0;
    char etag[48];
    for (size_t i = 0; code == PW_R2_OK && i < n; i++) {
        size += rows[i].size;
        md5s[i] = rows[i].md5;
    }
    if (code == PW_R2_OK && pw_r2_multipart_etag(md5s, n, etag) < 0)
        code = PW_R2_INTERNAL;
    if (code == PW_R2_OK)
        code = new_object(out, key, size, etag, "{}", meta.http_metadata, meta.custom_metadata,
                          meta.storage_class ? meta.storage_class : "Standard");
    if (code == PW_R2_OK && (code = replace_object(d, NULL, out, "", upload_id, g)) == PW_R2_OK) {
        for (size_t i = 0; i < n && code == PW_R2_OK; i++) {
            sqlite3_stmt *s = stmt(d, ST_PART_LINK);
            bind_text(s, 1, upload_id);
            sqlite3_bind_int(s, 2, (int)rows[i].number);
            bind_text(s, 3, key);
            code = pw_sqlite_run(s) == 0 ? PW_R2_OK : internal(d, "completeMultipartUpload");
        }
        sqlite3_stmt *s = stmt(d, ST_DELETE_UNLINKED);
        bind_text(s, 1, upload_id);
        if (code == PW_R2_OK && collect(s, g) < 0)
            code = internal(d, "completeMultipartUpload");
        s = stmt(d, ST_UPLOAD_STATE);
        bind_text(s, 1, upload_id);
        sqlite3_bind_int(s, 2, UPLOAD_COMPLETED);
        if (code == PW_R2_OK && pw_sqlite_run(s) < 0)
            code = internal(d, "completeMultipartUpload");
    }
    if (code != PW_R2_OK && out->key)
        pw_r2_object_clear(out);
    free(rows);
    free(md5s);
    free((char *)meta.http_metadata);
    free((char *)meta.custom_metadata);
    free((char *)meta.storage_class);
    return code;
}

static pw_r2_code_t disk_complete_upload(pw_r2_backend_t *b, const char *key, const char *upload_id,
                                         const pw_r2_part_ref_t *parts, size_t n, pw_r2_object_t *out)
{
    disk_t *d = (disk_t *)b;
    garbage_t g = { 0 };
    memset(out, 0, sizeof *out);
    pw_r2_code_t code = pw_r2_check_key(key);
    if (code == PW_R2_OK && (code = begin_txn(d, "completeMultipartUpload")) == PW_R2_OK)
        code = end_txn(d, assemble(d, key, upload_id, parts, n, out, &g), "completeMultipartUpload");
    if (code == PW_R2_OK)
        garbage_remove(d, &g);
    else
        free(g.ids);
    return code;
}

static pw_r2_code_t drop_upload(disk_t *d, const char *key, const char *upload_id, garbage_t *g)
{
    int state = upload_state(d, upload_id, key, NULL);
    if (state < 0)
        return PW_R2_NO_SUCH_UPLOAD;
    if (state != UPLOAD_OPEN)
        return PW_R2_OK;        /* aborting twice, or after completing: nothing to do */
    sqlite3_stmt *s = stmt(d, ST_DELETE_UPLOAD_PARTS);
    bind_text(s, 1, upload_id);
    if (collect(s, g) < 0)
        return internal(d, "abortMultipartUpload");
    s = stmt(d, ST_UPLOAD_STATE);
    bind_text(s, 1, upload_id);
    sqlite3_bind_int(s, 2, UPLOAD_ABORTED);
    return pw_sqlite_run(s) == 0 ? PW_R2_OK : internal(d, "abortMultipartUpload");
}

static pw_r2_code_t disk_abort_upload(pw_r2_backend_t *b, const char *key, const char *upload_id)
{
    disk_t *d = (disk_t *)b;
    garbage_t g = { 0 };
    pw_r2_code_t code = pw_r2_check_key(key);
    if (code == PW_R2_OK && (code = begin_txn(d, "abortMultipartUpload")) == PW_R2_OK)
        code = end_txn(d, drop_upload(d, key, upload_id, &g), "abortMultipartUpload");
    if (code == PW_R2_OK)
        garbage_remove(d, &g);
    else
        free(g.ids);
    return code;
}

/* ---- opening ---- */

static void disk_close(pw_r2_backend_t *b)
{
    disk_t *d = (disk_t *)b;
    if (!d)
        return;
    pw_sqlite_close(d->db, d->st, ST_COUNT);
    pw_r2_blobs_close(d->blobs);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static int blob_in_use(void *arg, const char *id)
{
    disk_t *d = arg;
    sqlite3_stmt *s = stmt(d, ST_BLOB_USED);
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc != SQLITE_DONE;   /* kept unless surely unused */
}

static const pw_r2_backend_ops_t disk_ops = {
    .head = disk_head, .get = disk_get, .read = disk_read, .close_reader = disk_close_reader,
    .begin_put = disk_begin_put, .begin_part = disk_begin_part, .write = disk_write,
    .finish = disk_finish, .abort = disk_abort, .delete = disk_delete, .list = disk_list,
    .create_upload = disk_create_upload, .complete_upload = disk_complete_upload,
    .abort_upload = disk_abort_upload, .close = disk_close,
};

int pw_r2_disk_open(const char *dir, pw_r2_backend_t **out, char *err, size_t err_len)
{
    disk_t *d = calloc(1, sizeof *d);
    char blobs[4200];
    if (!d) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    d->head.ops = &disk_ops;
    pthread_mutex_init(&d->lock, NULL);
    if (dir)
        snprintf(blobs, sizeof blobs, "%s/r2-blobs", dir);
    if (pw_sqlite_open(dir, "r2.sqlite3", schema, statements, ST_COUNT, &d->db, d->st, err, err_len) < 0 ||
        pw_r2_blobs_open(dir ? blobs : NULL, &d->blobs, err, err_len) < 0) {
        disk_close(&d->head);
        return -1;
    }
    pw_r2_blobs_sweep(d->blobs, blob_in_use, d);
    *out = &d->head;
    return 0;
}
