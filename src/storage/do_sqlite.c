/* do_sqlite.c — Durable Object storage on SQLite (host process, the main loop; see
 * do_sqlite.h). A store is one object's database with its key-value statements prepared; a
 * write batch is one savepoint (a transaction of its own, or nested in the object's open
 * storage.transaction). Answers are laid out as storage/do_backend.h says; values read from
 * SQLite are copied before the next statement runs. The host is the only process that opens an
 * object's database, so it holds it in exclusive locking mode: a commit takes no file locks
 * (measured: 6 fcntl calls per increment saved; bench/results/durable_objects.md).
 * Invariant: done() runs exactly once per operation, before the operation returns; a store
 * is freed only by release() (on disk) or with its backend (in memory).
 */
#include "storage/do_sqlite.h"
#include "storage/do_sql.h"
#include "storage/sqlite_db.h"
#include "wire/frame.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_GET, ST_PUT, ST_DELETE, ST_DELETE_ALL, ST_BATCH_BEGIN, ST_BATCH_END, N_ST };

static const char kv_schema[] =
    "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;";
static const char *const kv_statements[N_ST] = {
    "SELECT value FROM _cf_KV WHERE key = ?1",
    "INSERT OR REPLACE INTO _cf_KV (key, value) VALUES (?1, ?2)",
    "DELETE FROM _cf_KV WHERE key = ?1",
    "DELETE FROM _cf_KV",
    "SAVEPOINT pw_batch",       /* prepared once: a batch is the hot path (one per event) */
    "RELEASE pw_batch",
};

enum { AL_GET, AL_SET, AL_DELETE, AL_SCAN, N_AL };

static const char alarm_schema[] =
    "CREATE TABLE IF NOT EXISTS alarms (id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL) WITHOUT ROWID;";
static const char *const alarm_statements[N_AL] = {
    "SELECT at_ms FROM alarms WHERE id = ?1",
    "INSERT OR REPLACE INTO alarms (id, at_ms) VALUES (?1, ?2)",
    "DELETE FROM alarms WHERE id = ?1",
    "SELECT id, at_ms FROM alarms",
};

typedef struct sqlite_backend sqlite_backend_t;

typedef struct store store_t;

struct store {
    pw_do_store_t head;         /* first: the vtable's pointer */
    store_t *next;              /* the backend's open stores */
    sqlite_backend_t *b;
    char id[65];
    sqlite3 *db;
    sqlite3_stmt *st[N_ST];
    pw_do_sql_guard_t guard;    /* the object's own SQL (do_sql.h) */
    unsigned txn_depth;         /* storage.transaction savepoints open */
    int committed;              /* a transaction committed since pw_do_sqlite_take_commit */
};

struct sqlite_backend {
    pw_do_backend_t head;       /* first: the vtable's pointer */
    char *dir;                  /* NULL: in memory */
    sqlite3 *alarms;
    sqlite3_stmt *al[N_AL];
    store_t *stores;
};

/* ---- answering ---- */

static void answer(pw_do_done_cb done, void *arg, const pw_bytes_t *fields, size_t n)
{
    pw_do_result_t r = { .fields = fields, .n_fields = n };
    done(arg, &r);
}

static void fail(pw_do_done_cb done, void *arg, const char *name, const char *msg)
{
    pw_do_result_t r = { .error_name = name, .error = msg };
    done(arg, &r);
}

static pw_bytes_t buf_bytes(const pw_buf_t *b)
{
    return (pw_bytes_t){ b->data ? b->data : (const uint8_t *)"", b->len };
}

static void bind_text(sqlite3_stmt *st, int i, pw_bytes_t b)
{
    sqlite3_bind_text(st, i, b.len ? (const char *)b.base : "", (int)b.len, SQLITE_STATIC);
}

/* Runs `sql` (no user code: the authorizer stays off). */
static int exec(store_t *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Runs one of the store's prepared statements that return no rows. */
static int run(store_t *s, int which)
{
    return pw_sqlite_run(s->st[which]) == 0 ? 0 : -1;
}

/* ---- stores ---- */

static void store_free(store_t *s)
{
    pw_sqlite_close(s->db, s->st, N_ST);
    free(s);
}

static int on_commit(void *arg)
{
    ((store_t *)arg)->committed = 1;
    return 0;
}

static int store_open(pw_do_backend_t *head, const char *id_hex, pw_do_store_t **out, char *err,
                      size_t err_len)
{
    sqlite_backend_t *b = (sqlite_backend_t *)head;
    for (store_t *s = b->stores; s; s = s->next)
        if (strcmp(s->id, id_hex) == 0)
            return *out = &s->head, 0;
    store_t *s = calloc(1, sizeof *s);
    if (!s)
        return snprintf(err, err_len, "out of memory"), -1;
    char file[80];
    snprintf(s->id, sizeof s->id, "%s", id_hex);
    snprintf(file, sizeof file, "%s.sqlite", id_hex);
    if (pw_sqlite_open_exclusive(b->dir, file, kv_schema, kv_statements, N_ST, &s->db, s->st, err,
                                 err_len) < 0) {
        free(s);
        return -1;
    }
    pw_do_sql_authorizer(s->db, &s->guard);
    sqlite3_commit_hook(s->db, on_commit, s);
    s->b = b;
    s->head.backend = head;
    s->next = b->stores;
    b->stores = s;
    *out = &s->head;
    return 0;
}

/* On disk the database closes (reopened on the object's next event); in memory it is the
 * object's storage and stays. */
static void store_release(pw_do_store_t *store)
{
    store_t *s = (store_t *)store;
    sqlite_backend_t *b = s->b;
    if (!b->dir)
        return;
    if (s->txn_depth)
        exec(s, "ROLLBACK");
    for (store_t **p = &b->stores; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    store_free(s);
}

/* ---- key-value operations ---- */

static void kv_get(pw_do_store_t *store, const pw_bytes_t *keys, size_t n, pw_do_done_cb done, void *arg)
{
    store_t *s = (store_t *)store;
    pw_buf_t data;
    pw_buf_init(&data);
    size_t ends[PW_DO_MAX_KEYS];    /* where each value ends in data; SIZE_MAX: not found */
    size_t starts[PW_DO_MAX_KEYS];
    int rc = SQLITE_DONE;
    for (size_t i = 0; i < n && i < PW_DO_MAX_KEYS; i++) {
        sqlite3_stmt *st = pw_sqlite_stmt(s->st[ST_GET]);
        bind_text(st, 1, keys[i]);
        rc = sqlite3_step(st);
        starts[i] = data.len;
        ends[i] = SIZE_MAX;
        if (rc == SQLITE_ROW) {
            pw_bytes_t v = pw_sqlite_column_bytes(st, 0);
            if (pw_buf_append(&data, v.base, v.len) < 0)
                rc = SQLITE_NOMEM;
            else
                ends[i] = data.len;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        pw_buf_free(&data);
        return fail(done, arg, "Error", sqlite3_errmsg(s->db));
    }
    pw_bytes_t out[2 * PW_DO_MAX_KEYS];
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = pw_bytes_of(ends[i] == SIZE_MAX ? "" : "1");
        out[2 * i + 1] = ends[i] == SIZE_MAX ? pw_bytes_of("")
                                             : (pw_bytes_t){ data.data + starts[i], ends[i] - starts[i] };
    }
    answer(done, arg, out, 2 * n);
    pw_buf_free(&data);
}

/* One write; *existed for a delete. Returns an SQLite code. */
static int write_one(store_t *s, const pw_do_write_t *w, int *existed)
{
    sqlite3_stmt *st;
    int rc;
    switch (w->op) {
    case PW_DO_PUT:
        st = pw_sqlite_stmt(s->st[ST_PUT]);
        bind_text(st, 1, w->key);
        pw_sqlite_bind_bytes(st, 2, w->value);
        break;
    case PW_DO_DELETE:
        st = pw_sqlite_stmt(s->st[ST_DELETE]);
        bind_text(st, 1, w->key);
        break;
    default:
        st = pw_sqlite_stmt(s->st[ST_DELETE_ALL]);
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    *existed = rc == SQLITE_DONE && sqlite3_changes(s->db) > 0;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void kv_write(pw_do_store_t *store, const pw_do_write_t *writes, size_t n, pw_do_done_cb done, void *arg)
{
    store_t *s = (store_t *)store;
    pw_bytes_t *out = calloc(n ? n : 1, sizeof *out);
    size_t n_out = 0;
    if (!out)
        return fail(done, arg, "Error", "out of memory");
    int rc = run(s, ST_BATCH_BEGIN) == 0 ? SQLITE_OK : SQLITE_ERROR;
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        int existed = 0;
        rc = write_one(s, &writes[i], &existed);
        if (writes[i].op == PW_DO_DELETE)
            out[n_out++] = pw_bytes_of(existed ? "1" : "");
    }
    if (rc == SQLITE_OK && run(s, ST_BATCH_END) == 0) {
        answer(done, arg, out, n_out);
    } else {
        char msg[512];
        snprintf(msg, sizeof msg, "Durable Object storage write failed: %s", sqlite3_errmsg(s->db));
        exec(s, "ROLLBACK TO pw_batch");
        exec(s, "RELEASE pw_batch");
        fail(done, arg, "Error", msg);
    }
    free(out);
}

/* The smallest string above every string with prefix p: p with its trailing 0xff bytes
 * dropped and its last byte incremented; empty (no bound) when p is all 0xff. */
static size_t prefix_upper(pw_bytes_t p, uint8_t *out)
{
    size_t n = p.len;
    while (n > 0 && p.base[n - 1] == 0xff)
        n--;
    memcpy(out, p.base, n);
    if (n > 0)
        out[n - 1]++;
    return n;
}

/* The list's statement, with only the bounds it has. */
static sqlite3_stmt *list_statement(store_t *s, const pw_do_list_t *r, uint8_t *upper, size_t *upper_len)
{
    char sql[512] = "SELECT key, value FROM _cf_KV WHERE 1";
    if (r->has_start)
        strcat(sql, " AND key >= ?1");
    if (r->has_start_after)
        strcat(sql, " AND key > ?2");
    if (r->has_end)
        strcat(sql, " AND key < ?3");
    if (r->has_prefix) {
        strcat(sql, " AND key >= ?4");
        *upper_len = prefix_upper(r->prefix, upper);
        if (*upper_len)
            strcat(sql, " AND key < ?5");
    }
    strcat(sql, r->reverse ? " ORDER BY key DESC" : " ORDER BY key");
    if (r->limit > 0)
        strcat(sql, " LIMIT ?6");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    bind_text(st, 1, r->start);
    bind_text(st, 2, r->start_after);
    bind_text(st, 3, r->end);
    bind_text(st, 4, r->prefix);
    bind_text(st, 5, (pw_bytes_t){ upper, *upper_len });
    sqlite3_bind_int64(st, 6, r->limit);
    return st;
}

static void kv_list(pw_do_store_t *store, const pw_do_list_t *r, pw_do_done_cb done, void *arg)
{
    store_t *s = (store_t *)store;
    uint8_t upper[PW_DO_MAX_KEY];
    size_t upper_len = 0;
    if (r->has_prefix && r->prefix.len > sizeof upper)
        return answer(done, arg, (pw_bytes_t[]){ pw_bytes_of(""), pw_bytes_of("") }, 2);
    sqlite3_stmt *st = list_statement(s, r, upper, &upper_len);
    if (!st)
        return fail(done, arg, "Error", sqlite3_errmsg(s->db));
    pw_buf_t page;
    pw_buf_init(&page);
    int rc, full = 0;
    while (!full && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        pw_bytes_t key = pw_sqlite_column_bytes(st, 0), value = pw_sqlite_column_bytes(st, 1);
        if (pw_frame_put_bytes(&page, key.base, key.len) < 0 ||
            pw_frame_put_bytes(&page, value.base, value.len) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        full = page.len >= PW_DO_LIST_PAGE;
    }
    if (full || rc == SQLITE_DONE) {
        pw_bytes_t out[2] = { pw_bytes_of(full ? "1" : ""), buf_bytes(&page) };
        answer(done, arg, out, 2);
    } else {
        fail(done, arg, "Error", sqlite3_errmsg(s->db));
    }
    sqlite3_finalize(st);
    pw_buf_free(&page);
}

/* ---- SQL, transactions, size ---- */

static void sql_exec(pw_do_store_t *store, pw_bytes_t query, pw_bytes_t bindings, pw_do_done_cb done, void *arg)
{
    store_t *s = (store_t *)store;
    pw_do_sql_result_t r;
    char err[1024], n_read[24], n_written[24];
    s->guard.active = 1;
    s->guard.denied = NULL;
    int rc = pw_do_sql_exec(s->db, query, bindings, &r, err, sizeof err);
    s->guard.active = 0;
    if (rc < 0) {
        fail(done, arg, "Error", s->guard.denied ? s->guard.denied : err);
    } else {
        snprintf(n_read, sizeof n_read, "%" PRId64, r.rows_read);
        snprintf(n_written, sizeof n_written, "%" PRId64, r.rows_written);
        pw_bytes_t out[4] = { buf_bytes(&r.columns), buf_bytes(&r.rows), pw_bytes_of(n_read),
                              pw_bytes_of(n_written) };
        answer(done, arg, out, 4);
    }
    pw_buf_free(&r.columns);
    pw_buf_free(&r.rows);
}

static void txn(pw_do_store_t *store, pw_do_txn_t op, pw_do_done_cb done, void *arg)
{
    store_t *s = (store_t *)store;
    char sql[160];
    if (op != PW_DO_TXN_BEGIN && s->txn_depth == 0)
        return fail(done, arg, "Error", "no transaction is open");
    if (op == PW_DO_TXN_BEGIN)
        snprintf(sql, sizeof sql, "SAVEPOINT pw_txn_%u", s->txn_depth + 1);
    else if (op == PW_DO_TXN_COMMIT)
        snprintf(sql, sizeof sql, "RELEASE pw_txn_%u", s->txn_depth);
    else
        snprintf(sql, sizeof sql, "ROLLBACK TO pw_txn_%u; RELEASE pw_txn_%u", s->txn_depth, s->txn_depth);
    if (exec(s, sql) < 0)
        return fail(done, arg, "Error", sqlite3_errmsg(s->db));
    s->txn_depth += op == PW_DO_TXN_BEGIN ? 1 : -1;
    answer(done, arg, NULL, 0);
}

static void db_size(pw_do_store_t *store, pw_do_done_cb done, void *arg)
{
    store_t *s = (store_t *)store;
    sqlite3_stmt *st = NULL;
    int64_t size = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
                           -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        size = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, size);
    pw_bytes_t out[1] = { pw_bytes_of(text) };
    answer(done, arg, out, 1);
}

/* ---- alarms ---- */

static int alarm_set(pw_do_backend_t *head, const char *id_hex, int64_t at_ms, char *err, size_t err_len)
{
    sqlite_backend_t *b = (sqlite_backend_t *)head;
    sqlite3_stmt *st = pw_sqlite_stmt(b->al[at_ms ? AL_SET : AL_DELETE]);
    sqlite3_bind_text(st, 1, id_hex, -1, SQLITE_STATIC);
    if (at_ms)
        sqlite3_bind_int64(st, 2, at_ms);
    if (pw_sqlite_run(st) == 0)
        return 0;
    snprintf(err, err_len, "Durable Object alarm could not be stored: %s", sqlite3_errmsg(b->alarms));
    return -1;
}

static int alarm_get(pw_do_backend_t *head, const char *id_hex, int64_t *at_ms)
{
    sqlite_backend_t *b = (sqlite_backend_t *)head;
    sqlite3_stmt *st = pw_sqlite_stmt(b->al[AL_GET]);
    sqlite3_bind_text(st, 1, id_hex, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *at_ms = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int alarm_scan(pw_do_backend_t *head, pw_do_alarm_cb cb, void *arg)
{
    sqlite_backend_t *b = (sqlite_backend_t *)head;
    sqlite3_stmt *st = pw_sqlite_stmt(b->al[AL_SCAN]);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (id && strlen(id) == 64)
            cb(arg, id, sqlite3_column_int64(st, 1));
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void backend_close(pw_do_backend_t *head)
{
    sqlite_backend_t *b = (sqlite_backend_t *)head;
    while (b->stores) {
        store_t *s = b->stores;
        b->stores = s->next;
        store_free(s);
    }
    pw_sqlite_close(b->alarms, b->al, N_AL);
    free(b->dir);
    free(b);
}

static const pw_do_backend_ops_t sqlite_ops = {
    .open = store_open, .release = store_release, .get = kv_get, .write = kv_write, .list = kv_list,
    .sql = sql_exec, .txn = txn, .size = db_size, .alarm_set = alarm_set, .alarm_get = alarm_get,
    .alarm_scan = alarm_scan, .close = backend_close,
};

/* ---- the whole database as bytes (a cluster ships it to PostgreSQL: host/do_cluster.h) ---- */

int pw_do_sqlite_take_commit(pw_do_store_t *store)
{
    store_t *s = (store_t *)store;
    if (!s->committed || s->txn_depth || !sqlite3_get_autocommit(s->db))
        return 0;
    s->committed = 0;
    return 1;
}

int pw_do_sqlite_image(pw_do_store_t *store, pw_buf_t *out)
{
    return pw_sqlite_image(((store_t *)store)->db, out);
}

int pw_do_sqlite_restore(pw_do_backend_t *backend, const char *id_hex, pw_bytes_t image, char *err,
                         size_t err_len)
{
    pw_do_store_t *head;
    if (store_open(backend, id_hex, &head, err, err_len) < 0)
        return -1;
    store_t *s = (store_t *)head;
    if (s->txn_depth)
        exec(s, "ROLLBACK");
    s->txn_depth = 0;
    if (pw_sqlite_load_image(s->db, image) != SQLITE_DONE || exec(s, kv_schema) < 0)
        return snprintf(err, err_len, "restoring Durable Object %s failed: %s", id_hex,
                        sqlite3_errmsg(s->db)), -1;
    s->committed = 0;
    return 0;
}

int pw_do_sqlite_open(const char *dir, pw_do_backend_t **out, char *err, size_t err_len)
{
    sqlite_backend_t *b = calloc(1, sizeof *b);
    if (!b || (dir && !(b->dir = strdup(dir)))) {
        free(b);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    b->head.ops = &sqlite_ops;
    if (pw_sqlite_open(dir, "alarms.db", alarm_schema, alarm_statements, N_AL, &b->alarms, b->al,
                       err, err_len) < 0) {
        free(b->dir);
        free(b);
        return -1;
    }
    *out = &b->head;
    return 0;
}
