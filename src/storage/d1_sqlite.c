/* d1_sqlite.c — D1 databases in SQLite (host process, any loop thread; see d1_sqlite.h).
 * One connection per database, shared by every binding naming its disk service; all of its
 * state is in one struct behind the D1 vtable and a mutex, so that several event loops may
 * call it. Each operation takes the mutex, runs its statements, writes the answer
 * (storage/d1_json.h) and calls done() after releasing it.
 *
 * What a worker's SQL may not do, as on Cloudflare's D1: open or end transactions itself
 * (batch() is the transaction), ATTACH another file (also VACUUM INTO), run a PRAGMA outside
 * D1's list, exceed D1's limits (bound parameters, statement and value lengths, columns), run
 * longer than the call's time limit (a progress handler stops it; the statement, or the
 * batch, is rolled back). Statements are cached by their text (prepared once).
 * The file is locked for as long as the host runs (locking_mode=EXCLUSIVE): no statement makes
 * a locking system call, and another process (a second pyworkerd) cannot open it meanwhile.
 * Invariant: the connection is never left inside a transaction between operations.
 */
#include "storage/d1_sqlite.h"
#include "storage/d1_json.h"
#include "storage/sqlite_db.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_SLOTS 32
#define PROGRESS_OPS 4000               /* VM steps between two looks at the clock */
#define MAX_RESULT_BYTES (32u * 1024 * 1024)
#define ERR_MAX 1024

enum { OWN_BEGIN, OWN_COMMIT, OWN_ROLLBACK, OWN_PAGES, OWN_SCHEMA, OWN_COUNT };

static const char *const own_sql[OWN_COUNT] = {
    [OWN_BEGIN] = "BEGIN IMMEDIATE",
    [OWN_COMMIT] = "COMMIT",
    [OWN_ROLLBACK] = "ROLLBACK",
    [OWN_PAGES] = "PRAGMA page_count",
    [OWN_SCHEMA] = "PRAGMA schema_version",
};

/* The PRAGMAs Cloudflare's D1 lets a query run (developers.cloudflare.com/d1/sql-api/sql-statements/). */
static const char *const allowed_pragmas[] = {
    "table_list", "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_key_check", "foreign_keys", "defer_foreign_keys",
    "legacy_alter_table", "recursive_triggers", "reverse_unordered_selects",
    "case_sensitive_like", "ignore_check_constraints", "quick_check", "integrity_check",
    "optimize", "analysis_limit", "collation_list", "function_list", "pragma_list",
    "module_list", "compile_options", "data_version", "freelist_count", "page_count",
    "page_size", "max_page_count", "schema_version", "user_version", "encoding",
};

typedef struct {
    char *sql;                  /* NULL: free slot */
    size_t len;
    sqlite3_stmt *st;
    uint64_t used;              /* LRU tick */
} cached_t;

typedef struct {
    pw_d1_backend_t head;       /* first: the vtable's pointer */
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *own[OWN_COUNT];
    cached_t cache[CACHE_SLOTS];
    uint64_t tick;
    int internal;               /* its own statements run: transactions are allowed */
    uint64_t deadline_ns;       /* monotonic; the progress handler stops a query past it */
    int timed_out;
    unsigned limit_ms;          /* of the operation running */
    int64_t page_size;
    int64_t size;               /* bytes, after the last write */
    uint64_t version;           /* bumped by every change: sessions' bookmarks */
    uint32_t epoch;             /* when it was opened (unix seconds) */
} d1_t;

/* What one operation collects: its answer, or its error. */
typedef struct {
    pw_d1_json_t out;           /* the statements' columns and rows */
    pw_d1_json_t meta;          /* their meta objects */
    char error[ERR_MAX];        /* "": none */
} run_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the guards: authorizer, progress handler, limits ---- */

static int pragma_allowed(const char *name)
{
    for (size_t i = 0; name && i < sizeof allowed_pragmas / sizeof allowed_pragmas[0]; i++)
        if (sqlite3_stricmp(name, allowed_pragmas[i]) == 0)
            return 1;
    return 0;
}

static int authorize(void *arg, int action, const char *a, const char *b, const char *db,
                     const char *trigger)
{
    d1_t *d = arg;
    (void)db;
    (void)trigger;
    switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return SQLITE_DENY;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        return d->internal ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_PRAGMA:
        /* a PRAGMA that sets a value (b) is allowed only where D1 allows it at all */
        return d->internal || pragma_allowed(a) ? SQLITE_OK : SQLITE_DENY;
    default:
        (void)b;
        return SQLITE_OK;
    }
}

static int progress(void *arg)
{
    d1_t *d = arg;
    if (now_ns() < d->deadline_ns)
        return 0;
    d->timed_out = 1;
    return 1;
}

static void set_limits(sqlite3 *db)
{
    sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, PW_D1_MAX_PARAMS);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, PW_D1_MAX_SQL_BYTES);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, PW_D1_MAX_VALUE_BYTES);
    sqlite3_limit(db, SQLITE_LIMIT_COLUMN, PW_D1_MAX_COLUMNS);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
}

static void begin_operation(d1_t *d, unsigned limit_ms)
{
    pthread_mutex_lock(&d->lock);
    d->limit_ms = limit_ms;
    d->timed_out = 0;
    d->deadline_ns = now_ns() + (uint64_t)limit_ms * 1000000u;
}

static void end_operation(d1_t *d)
{
    pthread_mutex_unlock(&d->lock);
}

/* ---- errors, in D1's words ---- */

static const char *code_name(int rc)
{
    static const char *const names[] = {
        [SQLITE_ERROR] = "SQLITE_ERROR", [SQLITE_INTERNAL] = "SQLITE_INTERNAL",
        [SQLITE_PERM] = "SQLITE_PERM", [SQLITE_ABORT] = "SQLITE_ABORT",
        [SQLITE_BUSY] = "SQLITE_BUSY", [SQLITE_LOCKED] = "SQLITE_LOCKED",
        [SQLITE_NOMEM] = "SQLITE_NOMEM", [SQLITE_READONLY] = "SQLITE_READONLY",
        [SQLITE_INTERRUPT] = "SQLITE_INTERRUPT", [SQLITE_IOERR] = "SQLITE_IOERR",
        [SQLITE_CORRUPT] = "SQLITE_CORRUPT", [SQLITE_FULL] = "SQLITE_FULL",
        [SQLITE_CANTOPEN] = "SQLITE_CANTOPEN", [SQLITE_SCHEMA] = "SQLITE_SCHEMA",
        [SQLITE_TOOBIG] = "SQLITE_TOOBIG", [SQLITE_CONSTRAINT] = "SQLITE_CONSTRAINT",
        [SQLITE_MISMATCH] = "SQLITE_MISMATCH", [SQLITE_MISUSE] = "SQLITE_MISUSE",
        [SQLITE_AUTH] = "SQLITE_AUTH", [SQLITE_RANGE] = "SQLITE_RANGE",
    };
    rc &= 0xff;
    return rc > 0 && rc < (int)(sizeof names / sizeof names[0]) && names[rc] ? names[rc] : "SQLITE_ERROR";
}

/* "<sqlite's message>[ at offset N]: SQLITE_<CODE>", or the time limit's message. */
static void sqlite_error(d1_t *d, int rc, char *err)
{
    if (d->timed_out || (rc & 0xff) == SQLITE_INTERRUPT) {
        snprintf(err, ERR_MAX, "D1 DB storage operation exceeded timeout which caused object to "
                 "be reset. (pyworkerd stopped the query after its limit of %u ms and rolled it "
                 "back)", d->limit_ms);
        return;
    }
    int offset = sqlite3_error_offset(d->db);
    if (offset >= 0)
        snprintf(err, ERR_MAX, "%s at offset %d: %s", sqlite3_errmsg(d->db), offset, code_name(rc));
    else
        snprintf(err, ERR_MAX, "%s: %s", sqlite3_errmsg(d->db), code_name(rc));
}

/* ---- its own statements ---- */

static int own_step(d1_t *d, int which, int64_t *value)
{
    sqlite3_stmt *st = pw_sqlite_stmt(d->own[which]);
    d->internal = 1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && value)
        *value = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    d->internal = 0;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : rc;
}

/* Rolls back whatever is open, whatever the deadline says. */
static void rollback(d1_t *d)
{
    uint64_t deadline = d->deadline_ns;
    int timed_out = d->timed_out;
    d->deadline_ns = UINT64_MAX;
    if (!sqlite3_get_autocommit(d->db))
        own_step(d, OWN_ROLLBACK, NULL);
    d->deadline_ns = deadline;
    d->timed_out = timed_out;
}

static int64_t schema_version(d1_t *d)
{
    int64_t v = 0;
    own_step(d, OWN_SCHEMA, &v);
    return v;
}

static void update_size(d1_t *d)
{
    int64_t pages = 0;
    if (own_step(d, OWN_PAGES, &pages) == 0)
        d->size = pages * d->page_size;
}

/* ---- the statement cache ---- */

static void cache_drop(cached_t *c)
{
    sqlite3_finalize(c->st);
    free(c->sql);
    memset(c, 0, sizeof *c);
}

static sqlite3_stmt *cache_find(d1_t *d, pw_bytes_t sql)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        cached_t *c = &d->cache[i];
        if (c->sql && c->len == sql.len && memcmp(c->sql, sql.base, sql.len) == 0) {
            c->used = ++d->tick;
            return pw_sqlite_stmt(c->st);
        }
    }
    return NULL;
}

/* Keeps st for sql, in a free slot or the least recently used one's. */
static void cache_add(d1_t *d, pw_bytes_t sql, sqlite3_stmt *st)
{
    cached_t *slot = &d->cache[0];
    for (size_t i = 0; i < CACHE_SLOTS && slot->sql; i++)
        if (!d->cache[i].sql || d->cache[i].used < slot->used)
            slot = &d->cache[i];
    char *copy = malloc(sql.len + 1);
    if (!copy) {
        sqlite3_finalize(st);
        return;
    }
    if (slot->sql)
        cache_drop(slot);
    memcpy(copy, sql.base, sql.len);
    copy[sql.len] = '\0';
    *slot = (cached_t){ copy, sql.len, st, ++d->tick };
}

/* ---- one statement ---- */

/* What a statement did, for its meta. */
typedef struct {
    uint64_t started_ns;
    int64_t changes;
    int64_t rows_read;
    int changed_db;
    int bound;                  /* a statement took the values */
} effect_t;

/* Binds the statement's values. Returns 1 when it took them, 0 when it takes none (in a
 * query of several statements, another may; a single one must take them all), -1 with the
 * error. */
static int bind_values(d1_t *d, sqlite3_stmt *st, const pw_d1_statement_t *s, int single, char *err)
{
    int wanted = sqlite3_bind_parameter_count(st);
    if (wanted == 0 && !single)
        return 0;
    if ((size_t)wanted != s->n_params) {
        snprintf(err, ERR_MAX, "Wrong number of parameter bindings for SQL query.");
        return -1;
    }
    pw_bytes_t params = s->params;
    for (int i = 1; i <= wanted; i++) {
        pw_d1_value_t v;
        int rc = SQLITE_OK;
        pw_d1_value_next(&params, &v);      /* checked when decoded */
        if (v.type == PW_D1_INT)
            rc = sqlite3_bind_int64(st, i, v.i);
        else if (v.type == PW_D1_REAL)
            rc = sqlite3_bind_double(st, i, v.f);
        else if (v.type == PW_D1_TEXT)
            rc = sqlite3_bind_text(st, i, (const char *)v.bytes.base, (int)v.bytes.len, SQLITE_STATIC);
        else if (v.type == PW_D1_BLOB)
            rc = sqlite3_bind_blob(st, i, v.bytes.len ? (const void *)v.bytes.base : "", (int)v.bytes.len,
                                   SQLITE_STATIC);
        if (rc != SQLITE_OK) {
            sqlite_error(d, rc, err);
            return -1;
        }
    }
    return 1;
}

static void write_value(run_t *r, sqlite3_stmt *st, int i, int *blobs)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return pw_d1_json_int(&r->out, sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return pw_d1_json_real(&r->out, sqlite3_column_double(st, i));
    case SQLITE_TEXT: {
        const unsigned char *t = sqlite3_column_text(st, i);
        return pw_d1_json_string(&r->out, (pw_bytes_t){ t ? t : (const uint8_t *)"",
                                                        (size_t)sqlite3_column_bytes(st, i) });
    }
    case SQLITE_BLOB:
        *blobs = 1;
        return pw_d1_json_blob(&r->out, pw_sqlite_column_bytes(st, i));
    default:
        return pw_d1_json_null(&r->out);
    }
}

static void write_columns(run_t *r, sqlite3_stmt *st)
{
    pw_d1_json_raw(&r->out, "{\"columns\":[");
    for (int i = 0; i < sqlite3_column_count(st); i++) {
        const char *name = sqlite3_column_name(st, i);
        if (i)
            pw_d1_json_raw(&r->out, ",");
        pw_d1_json_string(&r->out, pw_bytes_of(name ? name : ""));
    }
    pw_d1_json_raw(&r->out, "],\"rows\":[");
}

/* Steps st to its end, writing its rows (only the first with first_only). Returns the
 * SQLite code it ended with. */
static int step_rows(run_t *r, sqlite3_stmt *st, int first_only, int64_t *rows, int *blobs)
{
    int columns = sqlite3_column_count(st), readonly = sqlite3_stmt_readonly(st), rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!first_only || *rows == 0) {
            pw_d1_json_raw(&r->out, *rows ? ",[" : "[");
            for (int i = 0; i < columns && r->out.buf.len <= MAX_RESULT_BYTES; i++) {
                if (i)
                    pw_d1_json_raw(&r->out, ",");
                write_value(r, st, i, blobs);   /* a value is at most 2 MB: the check holds */
            }
            pw_d1_json_raw(&r->out, "]");
        }
        ++*rows;
        if ((first_only && readonly) || r->out.buf.len > MAX_RESULT_BYTES)
            break;
    }
    return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

static void write_meta(d1_t *d, run_t *r, const effect_t *e)
{
    double ms = (double)(now_ns() - e->started_ns) / 1e6;
    pw_d1_json_t *m = &r->meta;
    pw_d1_json_raw(m, "{\"served_by\":\"pyworkerd\",\"served_by_region\":\"local\","
                   "\"served_by_primary\":true,\"timings\":{\"sql_duration_ms\":");
    pw_d1_json_real(m, ms);
    pw_d1_json_raw(m, "},\"duration\":");
    pw_d1_json_real(m, ms);
    pw_d1_json_raw(m, ",\"changes\":");
    pw_d1_json_int(m, e->changes);
    pw_d1_json_raw(m, ",\"last_row_id\":");
    pw_d1_json_int(m, sqlite3_last_insert_rowid(d->db));
    pw_d1_json_raw(m, ",\"changed_db\":");
    pw_d1_json_bool(m, e->changed_db);
    pw_d1_json_raw(m, ",\"size_after\":");
    pw_d1_json_int(m, d->size);
    pw_d1_json_raw(m, ",\"rows_read\":");
    pw_d1_json_int(m, e->rows_read);
    pw_d1_json_raw(m, ",\"rows_written\":");
    pw_d1_json_int(m, e->changes);
    pw_d1_json_raw(m, ",\"total_attempts\":1}");
}

/* Runs one prepared statement: binds, steps, writes its columns and rows. */
static int run_prepared(d1_t *d, run_t *r, sqlite3_stmt *st, const pw_d1_statement_t *s,
                        int first_only, int single, effect_t *e)
{
    int bound = bind_values(d, st, s, single, r->error);
    if (bound < 0)
        return -1;
    e->bound |= bound;
    int readonly = sqlite3_stmt_readonly(st);
    int64_t total = sqlite3_total_changes64(d->db), schema = readonly ? 0 : schema_version(d);
    int64_t rows = 0;
    int blobs = 0;
    write_columns(r, st);
    int rc = step_rows(r, st, first_only, &rows, &blobs);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        sqlite_error(d, rc, r->error);
        return -1;
    }
    if (r->out.buf.len > MAX_RESULT_BYTES) {
        snprintf(r->error, ERR_MAX, "the results are larger than pyworkerd's limit of %u MiB: "
                 "SQLITE_TOOBIG", MAX_RESULT_BYTES >> 20);
        return -1;
    }
    pw_d1_json_raw(&r->out, blobs ? "],\"blobs\":true}" : "]}");
    e->changes += readonly ? 0 : sqlite3_total_changes64(d->db) - total;
    e->rows_read += rows + sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    if (!readonly && (sqlite3_total_changes64(d->db) != total || schema_version(d) != schema))
        e->changed_db = 1;
    return 0;
}

/* Prepares the next statement of `sql` (advancing it). 0 and *st (NULL at the end; *cached
 * when it belongs to the cache), or -1 with the error. */
static int prepare_next(d1_t *d, run_t *r, pw_bytes_t *sql, int whole, sqlite3_stmt **st, int *cached)
{
    const char *tail = NULL;
    *cached = 0;
    if (whole && (*st = cache_find(d, *sql))) {
        *cached = 1;
        sql->base += sql->len;
        sql->len = 0;
        return 0;
    }
    int rc = sqlite3_prepare_v3(d->db, (const char *)sql->base, (int)sql->len, SQLITE_PREPARE_PERSISTENT,
                                st, &tail);
    if (rc != SQLITE_OK) {
        sqlite_error(d, rc, r->error);
        return -1;
    }
    size_t used = tail ? (size_t)((const uint8_t *)tail - sql->base) : sql->len;
    if (used == 0 || used > sql->len)
        used = sql->len;            /* a NUL byte ends the text */
    sql->base += used;
    sql->len -= used;
    return 0;
}

/* 1 when nothing but blanks and comments follows. */
static int only_blanks_follow(d1_t *d, pw_bytes_t rest)
{
    sqlite3_stmt *st = NULL;
    if (rest.len == 0)
        return 1;
    if (sqlite3_prepare_v2(d->db, (const char *)rest.base, (int)rest.len, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_finalize(st);
    return st == NULL;
}

/* Runs a statement's SQL: usually one statement (cached); several run in turn, and the
 * last one's rows are the answer. Writes {"columns", "rows", ["blobs",] "meta"}. */
static int run_statement(d1_t *d, run_t *r, const pw_d1_statement_t *s, int first_only)
{
    effect_t e = { .started_ns = now_ns() };
    pw_bytes_t sql = s->sql;
    size_t mark = r->out.buf.len;
    int ran = 0;
    while (sql.len) {
        pw_bytes_t before = sql;
        sqlite3_stmt *st = NULL;
        int cached;
        if (prepare_next(d, r, &sql, ran == 0, &st, &cached) < 0)
            return -1;
        if (!st)
            break;
        int single = cached || (ran == 0 && only_blanks_follow(d, sql));
        if (single && !cached) {
            cache_add(d, before, st);
            cached = 1;
        }
        r->out.buf.len = mark;          /* only the last statement's rows are kept */
        int rc = run_prepared(d, r, st, s, first_only, single, &e);
        if (!cached)
            sqlite3_finalize(st);
        if (rc < 0)
            return -1;
        ran++;
    }
    if (!ran) {
        snprintf(r->error, ERR_MAX, "No SQL statements detected.");
        return -1;
    }
    if (s->n_params && !e.bound) {
        snprintf(r->error, ERR_MAX, "Wrong number of parameter bindings for SQL query.");
        return -1;
    }
    if (e.changed_db) {
        update_size(d);
        d->version++;
    }
    if (first_only)
        pw_d1_json_raw(&r->meta, "{}");     /* first() returns no meta */
    else
        write_meta(d, r, &e);
    return 0;
}

/* ---- the operations ---- */

static void answer_error(pw_d1_done_cb done, void *arg, const char *prefix, const char *error)
{
    char msg[ERR_MAX + 32];
    snprintf(msg, sizeof msg, "%s: %s", prefix, error);
    pw_d1_result_t res = { .error_name = "Error", .error = msg };
    done(arg, &res);
}

static void answer(pw_d1_done_cb done, void *arg, const pw_bytes_t *fields, size_t n)
{
    pw_d1_result_t res = { .fields = fields, .n_fields = n };
    done(arg, &res);
}

static int run_statements(d1_t *d, run_t *r, const pw_d1_query_t *q)
{
    int rc;
    if (q->batch && (rc = own_step(d, OWN_BEGIN, NULL)) != 0) {
        sqlite_error(d, rc, r->error);
        return -1;
    }
    pw_d1_json_raw(&r->out, "[");
    pw_d1_json_raw(&r->meta, "[");
    for (size_t i = 0; i < q->n; i++) {
        if (i) {
            pw_d1_json_raw(&r->out, ",");
            pw_d1_json_raw(&r->meta, ",");
        }
        if (run_statement(d, r, &q->statements[i], q->first_only) < 0) {
            rollback(d);
            return -1;
        }
    }
    pw_d1_json_raw(&r->out, "]");
    pw_d1_json_raw(&r->meta, "]");
    if (q->batch && (rc = own_step(d, OWN_COMMIT, NULL)) != 0) {
        sqlite_error(d, rc, r->error);
        rollback(d);
        return -1;
    }
    return 0;
}

static void d1_query(pw_d1_backend_t *b, const pw_d1_query_t *q, pw_d1_done_cb done, void *arg,
                     pw_d1_pending_t **pending)
{
    d1_t *d = (d1_t *)b;
    run_t *r = malloc(sizeof *r);
    *pending = NULL;
    if (!r)
        return answer_error(done, arg, "D1_ERROR", "out of memory");
    pw_d1_json_init(&r->out);
    pw_d1_json_init(&r->meta);
    r->error[0] = '\0';
    begin_operation(d, q->limit_ms);
    int rc = run_statements(d, r, q);
    char bookmark[40];
    snprintf(bookmark, sizeof bookmark, "%08" PRIx32 "-%016" PRIx64, d->epoch, d->version);
    end_operation(d);
    if (rc == 0 && (r->out.failed || r->meta.failed))
        snprintf(r->error, ERR_MAX, "out of memory: SQLITE_NOMEM");
    if (r->error[0]) {
        answer_error(done, arg, "D1_ERROR", r->error);
    } else {
        pw_bytes_t f[4] = { pw_bytes_of(""), { r->out.buf.data, r->out.buf.len },
                            { r->meta.buf.data, r->meta.buf.len }, pw_bytes_of(bookmark) };
        answer(done, arg, f, 4);
    }
    pw_d1_json_free(&r->out);
    pw_d1_json_free(&r->meta);
    free(r);
}

/* The 1-based line of `at` in `sql`. */
static unsigned line_of(pw_bytes_t sql, const uint8_t *at)
{
    unsigned line = 1;
    for (const uint8_t *p = sql.base; p < at; p++)
        line += *p == '\n';
    return line;
}

/* exec(): every statement of sql in turn, each committed on its own; stops at the first
 * error, which names the statement's line. Returns the count, or -1 with the error. */
static long run_exec(d1_t *d, pw_bytes_t sql, char *err)
{
    pw_bytes_t rest = sql;
    long count = 0;
    while (rest.len) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        const uint8_t *start = rest.base;
        int rc = sqlite3_prepare_v2(d->db, (const char *)rest.base, (int)rest.len, &st, &tail);
        size_t used = tail ? (size_t)((const uint8_t *)tail - rest.base) : rest.len;
        if (used == 0 || used > rest.len)
            used = rest.len;
        rest.base += used;
        rest.len -= used;
        if (rc == SQLITE_OK && !st)
            break;
        while (start < rest.base && (*start == ' ' || *start == '\n' || *start == '\t' || *start == '\r'))
            start++;
        if (rc == SQLITE_OK) {
            while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                ;
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        if (rc != SQLITE_OK) {
            char why[ERR_MAX];
            sqlite_error(d, rc, why);
            why[ERR_MAX / 2] = '\0';         /* room for the line and the statement */
            sqlite3_finalize(st);
            const uint8_t *end = rest.base;     /* a statement that did not parse: its line */
            if (rc != SQLITE_OK && !st)
                for (end = start; end < sql.base + sql.len && *end != '\n'; end++)
                    ;
            int shown = (int)(end - start < 200 ? end - start : 200);
            snprintf(err, ERR_MAX, "Error in line %u: %.*s: %.500s", line_of(sql, start), shown,
                     (const char *)start, why);
            return -1;
        }
        sqlite3_finalize(st);
        count++;
    }
    return count;
}

static void d1_exec(pw_d1_backend_t *b, pw_bytes_t sql, unsigned limit_ms, pw_d1_done_cb done,
                    void *arg, pw_d1_pending_t **pending)
{
    d1_t *d = (d1_t *)b;
    char err[ERR_MAX], count_text[24], duration_text[40];
    uint64_t started = now_ns();
    *pending = NULL;
    begin_operation(d, limit_ms);
    int64_t total = sqlite3_total_changes64(d->db);
    long count = run_exec(d, sql, err);
    rollback(d);                    /* never left open */
    if (sqlite3_total_changes64(d->db) != total || count > 0) {
        update_size(d);
        d->version++;
    }
    end_operation(d);
    if (count < 0)
        return answer_error(done, arg, "D1_EXEC_ERROR", err);
    snprintf(count_text, sizeof count_text, "%ld", count);
    snprintf(duration_text, sizeof duration_text, "%.3f", (double)(now_ns() - started) / 1e6);
    pw_bytes_t f[3] = { pw_bytes_of(""), pw_bytes_of(count_text), pw_bytes_of(duration_text) };
    answer(done, arg, f, 3);
}

static void d1_dump(pw_d1_backend_t *b, size_t max_bytes, pw_d1_done_cb done, void *arg,
                    pw_d1_pending_t **pending)
{
    d1_t *d = (d1_t *)b;
    sqlite3_int64 size = 0;
    *pending = NULL;
    begin_operation(d, PW_D1_DEFAULT_QUERY_MS);
    unsigned char *data = sqlite3_serialize(d->db, "main", &size, 0);
    end_operation(d);
    if (!data)
        return answer_error(done, arg, "D1_DUMP_ERROR", "cannot read the database");
    if ((uint64_t)size > max_bytes) {
        char why[160];
        snprintf(why, sizeof why, "the database (%lld bytes) is larger than pyworkerd's dump limit "
                 "of %zu bytes", (long long)size, max_bytes);
        sqlite3_free(data);
        return answer_error(done, arg, "D1_DUMP_ERROR", why);
    }
    pw_bytes_t f[2] = { pw_bytes_of(""), { data, (size_t)size } };
    answer(done, arg, f, 2);
    sqlite3_free(data);
}

static void d1_cancel(pw_d1_pending_t *pending)
{
    (void)pending;              /* nothing is ever pending: every operation ends before it returns */
}

static void d1_close(pw_d1_backend_t *b)
{
    d1_t *d = (d1_t *)b;
    if (!d)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (d->cache[i].sql)
            cache_drop(&d->cache[i]);
    pw_sqlite_close(d->db, d->own, OWN_COUNT);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* ---- the whole database as bytes (a cluster ships it to PostgreSQL: host/d1_cluster.h) ---- */

uint64_t pw_d1_sqlite_version(pw_d1_backend_t *b)
{
    d1_t *d = (d1_t *)b;
    pthread_mutex_lock(&d->lock);
    uint64_t v = d->version;
    pthread_mutex_unlock(&d->lock);
    return v;
}

int pw_d1_sqlite_image(pw_d1_backend_t *b, pw_buf_t *out)
{
    d1_t *d = (d1_t *)b;
    pthread_mutex_lock(&d->lock);
    int rc = pw_sqlite_image(d->db, out);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int pw_d1_sqlite_restore(pw_d1_backend_t *b, pw_bytes_t image, char *err, size_t err_len)
{
    d1_t *d = (d1_t *)b;
    begin_operation(d, PW_D1_DEFAULT_QUERY_MS);
    rollback(d);
    for (size_t i = 0; i < CACHE_SLOTS; i++)    /* prepared against the old schema */
        if (d->cache[i].sql)
            cache_drop(&d->cache[i]);
    d->internal = 1;
    int rc = pw_sqlite_load_image(d->db, image);
    d->internal = 0;
    if (rc == SQLITE_DONE) {
        update_size(d);
        d->version++;
    } else {
        snprintf(err, err_len, "restoring the D1 database failed: %s", sqlite3_errstr(rc));
    }
    end_operation(d);
    return rc == SQLITE_DONE ? 0 : -1;
}

static const pw_d1_backend_ops_t sqlite_ops = {
    .query = d1_query, .exec = d1_exec, .dump = d1_dump, .cancel = d1_cancel, .close = d1_close,
};

int pw_d1_sqlite_open(const char *dir, pw_d1_backend_t **out, char *err, size_t err_len)
{
    d1_t *d = calloc(1, sizeof *d);
    if (!d || pthread_mutex_init(&d->lock, NULL) != 0) {
        free(d);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    d->head.ops = &sqlite_ops;
    if (pw_sqlite_open_exclusive(dir, PW_D1_SQLITE_FILE, "PRAGMA foreign_keys=ON;", own_sql, OWN_COUNT,
                                 &d->db, d->own, err, err_len) < 0) {
        if (strstr(err, "database is locked") && strlen(err) + 48 < err_len)
            strcat(err, " (is another pyworkerd serving this database?)");
        pthread_mutex_destroy(&d->lock);
        free(d);
        return -1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        d->page_size = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    int64_t pages = 0;
    int rc = own_step(d, OWN_PAGES, &pages);    /* the first read takes the file's lock */
    if (rc != 0) {
        snprintf(err, err_len, "%s/%s: %s (is another pyworkerd serving this database?)", dir ? dir : "",
                 PW_D1_SQLITE_FILE, sqlite3_errstr(rc));
        d1_close(&d->head);
        return -1;
    }
    d->size = pages * d->page_size;
    set_limits(d->db);
    sqlite3_set_authorizer(d->db, authorize, d);
    sqlite3_progress_handler(d->db, PROGRESS_OPS, progress, d);
    d->deadline_ns = UINT64_MAX;
    d->epoch = (uint32_t)time(NULL);
    *out = &d->head;
    return 0;
}
