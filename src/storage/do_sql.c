/* do_sql.c — a Durable Object's own SQL statements (host process, the main loop; see
 * do_sql.h). The authorizer is on only while the object's statements are prepared and run;
 * the runtime's own statements (its key-value table, savepoints) run without it.
 * Invariant: every prepared statement is finalized, on every path.
 */
#include "storage/do_sql.h"
#include "wire/frame.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESULT (32u * 1024 * 1024)  /* bytes of rows one exec may answer */

static const char txn_denied[] =
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of a SQL BEGIN TRANSACTION or SAVEPOINT "
    "statement. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing.";
static const char attach_denied[] = "ATTACH and DETACH are not allowed in a Durable Object's SQL.";
static const char reserved_denied[] =
    "access to tables whose names begin with \"_cf_\" is prohibited: SQLITE_AUTH";
static const char pragma_denied[] = "this PRAGMA is not allowed in a Durable Object's SQL: SQLITE_AUTH";

/* PRAGMAs that only read the schema or check the database. */
static const char *const allowed_pragmas[] = {
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_keys", "defer_foreign_keys", "foreign_key_check",
    "quick_check", "integrity_check", "optimize", "data_version", NULL,
};

static int reserved(const char *name)
{
    return name && strncasecmp(name, "_cf_", 4) == 0;
}

static int pragma_allowed(const char *name)
{
    for (size_t i = 0; name && allowed_pragmas[i]; i++)
        if (strcasecmp(name, allowed_pragmas[i]) == 0)
            return 1;
    return 0;
}

static int deny(pw_do_sql_guard_t *g, const char *why)
{
    g->denied = why;
    return SQLITE_DENY;
}

static int authorize(void *arg, int action, const char *a, const char *b, const char *db,
                     const char *trigger)
{
    pw_do_sql_guard_t *g = arg;
    (void)db;
    (void)trigger;
    if (!g->active)
        return SQLITE_OK;
    switch (action) {
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        return deny(g, txn_denied);
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return deny(g, attach_denied);
    case SQLITE_PRAGMA:
        return pragma_allowed(a) ? SQLITE_OK : deny(g, pragma_denied);
    case SQLITE_FUNCTION:
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    default:
        return reserved(a) || reserved(b) ? deny(g, reserved_denied) : SQLITE_OK;
    }
}

void pw_do_sql_authorizer(sqlite3 *db, pw_do_sql_guard_t *guard)
{
    guard->active = 0;
    guard->denied = NULL;
    sqlite3_set_authorizer(db, authorize, guard);
}

int pw_do_sql_put_cell(pw_buf_t *out, char type, const void *data, size_t len)
{
    uint8_t t = (uint8_t)type;
    int rc = pw_buf_append(out, &t, 1);
    return rc == 0 ? pw_frame_put_bytes(out, data, len) : rc;
}

/* ---- bindings: typed cells read in order ---- */

typedef struct {
    pw_bytes_t data;
    size_t off;
} cells_t;

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The next cell; 0 at the end, 1, or -1 when malformed. */
static int next_cell(cells_t *c, char *type, pw_bytes_t *value)
{
    if (c->off == c->data.len)
        return 0;
    if (c->data.len - c->off < 5)
        return -1;
    *type = (char)c->data.base[c->off];
    uint32_t len = get_le32(c->data.base + c->off + 1);
    if (len > c->data.len - c->off - 5)
        return -1;
    *value = (pw_bytes_t){ c->data.base + c->off + 5, len };
    c->off += 5 + len;
    return 1;
}

static int bind_cell(sqlite3_stmt *st, int i, char type, pw_bytes_t v)
{
    char num[64];
    if (type == 'n')
        return sqlite3_bind_null(st, i);
    if (type == 't')
        return sqlite3_bind_text(st, i, v.len ? (const char *)v.base : "", (int)v.len, SQLITE_TRANSIENT);
    if (type == 'b')
        return sqlite3_bind_blob(st, i, v.len ? (const void *)v.base : "", (int)v.len, SQLITE_TRANSIENT);
    if ((type != 'i' && type != 'f') || v.len == 0 || v.len >= sizeof num)
        return SQLITE_MISUSE;
    memcpy(num, v.base, v.len);
    num[v.len] = '\0';
    if (type == 'i')
        return sqlite3_bind_int64(st, i, strtoll(num, NULL, 10));
    return sqlite3_bind_double(st, i, strtod(num, NULL));
}

static int bind_all(sqlite3_stmt *st, cells_t *cells, char *err, size_t err_len)
{
    int n = sqlite3_bind_parameter_count(st);
    for (int i = 1; i <= n; i++) {
        char type;
        pw_bytes_t v;
        int rc = next_cell(cells, &type, &v);
        if (rc == 0) {
            snprintf(err, err_len, "Wrong number of parameter bindings for SQL query.");
            return -1;
        }
        if (rc < 0 || bind_cell(st, i, type, v) != SQLITE_OK) {
            snprintf(err, err_len, "a parameter binding could not be decoded");
            return -1;
        }
    }
    return 0;
}

/* ---- results ---- */

static int put_columns(sqlite3_stmt *st, pw_buf_t *out)
{
    int n = sqlite3_column_count(st);
    out->len = 0;
    int rc = pw_frame_put_u32(out, (uint32_t)n);
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        rc = pw_frame_put_bytes(out, name ? name : "", name ? strlen(name) : 0);
    }
    return rc;
}

static int put_row(sqlite3_stmt *st, pw_buf_t *out)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < sqlite3_column_count(st); i++) {
        char num[64];
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            snprintf(num, sizeof num, "%" PRId64, (int64_t)sqlite3_column_int64(st, i));
            rc = pw_do_sql_put_cell(out, 'i', num, strlen(num));
            break;
        case SQLITE_FLOAT:
            snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, i));
            rc = pw_do_sql_put_cell(out, 'f', num, strlen(num));
            break;
        case SQLITE_TEXT:
            rc = pw_do_sql_put_cell(out, 't', sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
            break;
        case SQLITE_BLOB:
            rc = pw_do_sql_put_cell(out, 'b', sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
            break;
        default:
            rc = pw_do_sql_put_cell(out, 'n', "", 0);
        }
    }
    return rc;
}

/* Steps one prepared statement to its end, its rows into out. */
static int run_statement(sqlite3 *db, sqlite3_stmt *st, pw_do_sql_result_t *out, char *err, size_t err_len)
{
    out->rows.len = 0;
    if (put_columns(st, &out->columns) < 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->rows_read++;
        if (put_row(st, &out->rows) < 0 || out->rows.len > MAX_RESULT) {
            snprintf(err, err_len, "the result of this SQL query is larger than %u MiB",
                     MAX_RESULT >> 20);
            return -1;
        }
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, err_len, "%s: SQLITE_ERROR", sqlite3_errmsg(db));
        return -1;
    }
    out->rows_read += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
    if (!sqlite3_stmt_readonly(st))
        out->rows_written += sqlite3_changes(db);
    return 0;
}

int pw_do_sql_exec(sqlite3 *db, pw_bytes_t query, pw_bytes_t bindings, pw_do_sql_result_t *out,
                   char *err, size_t err_len)
{
    const char *sql = query.len ? (const char *)query.base : "";
    const char *end = sql + query.len;
    cells_t cells = { bindings, 0 };
    pw_buf_init(&out->columns);
    pw_buf_init(&out->rows);
    out->rows_read = out->rows_written = 0;
    if (pw_frame_put_u32(&out->columns, 0) < 0)
        return snprintf(err, err_len, "out of memory"), -1;
    while (sql < end) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        if (sqlite3_prepare_v2(db, sql, (int)(end - sql), &st, &tail) != SQLITE_OK) {
            snprintf(err, err_len, "%s: SQLITE_ERROR", sqlite3_errmsg(db));
            return -1;
        }
        sql = tail && tail > sql ? tail : end;
        if (!st)
            continue;   /* only whitespace or a comment */
        int rc = bind_all(st, &cells, err, err_len);
        if (rc == 0)
            rc = run_statement(db, st, out, err, err_len);
        sqlite3_finalize(st);
        if (rc < 0)
            return -1;
    }
    if (cells.off != cells.data.len) {
        snprintf(err, err_len, "Wrong number of parameter bindings for SQL query.");
        return -1;
    }
    return 0;
}
