/* workflow.c — Workflow instances and step results in SQLite (host process; see workflow.h).
 * One database for all workflows, opened as KV's (storage/sqlite_db.c: WAL, synchronous=NORMAL):
 * a committed write is in the WAL file, in the kernel, before the call returns, so a step
 * result the isolate was told is saved survives kill -9 of the host. Statements are prepared
 * once.
 * Invariant: every statement is reset before its next use, and the bytes handed out stay
 * valid until then.
 */
#include "storage/workflow.h"
#include "storage/sqlite_db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ST_RECOVER, ST_CREATE, ST_GET, ST_SET, ST_UNSCHEDULE, ST_DUE, ST_NEXT, ST_STEP_GET, ST_STEP_PUT,
    ST_STEPS_CLEAR, ST_EVENT_ADD, ST_EVENT_FIRST, ST_EVENT_DELETE, ST_COUNT
};

static const char *const statements[ST_COUNT] = {
    [ST_RECOVER] = "UPDATE instances SET wake = ?1 WHERE wake IS NULL AND status IN ('queued', 'running')",
    [ST_CREATE] = "INSERT INTO instances (workflow, id, params, status, created, updated, wake) "
                  "VALUES (?1, ?2, ?3, 'queued', ?4, ?4, ?4)",
    [ST_GET] = "SELECT status, params, output, error, created, wake FROM instances "
               "WHERE workflow = ?1 AND id = ?2",
    [ST_SET] = "UPDATE instances SET status = ?3, output = ?4, error = ?5, wake = ?6, updated = ?7 "
               "WHERE workflow = ?1 AND id = ?2",
    [ST_UNSCHEDULE] = "UPDATE instances SET wake = NULL WHERE workflow = ?1 AND id = ?2",
    [ST_DUE] = "SELECT workflow, id FROM instances WHERE wake IS NOT NULL AND wake <= ?1 "
               "ORDER BY wake",
    [ST_NEXT] = "SELECT min(wake) FROM instances WHERE wake IS NOT NULL",
    [ST_STEP_GET] = "SELECT result, wake FROM steps WHERE workflow = ?1 AND instance = ?2 AND name = ?3",
    [ST_STEP_PUT] = "INSERT OR REPLACE INTO steps (workflow, instance, name, result, wake) "
                    "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_STEPS_CLEAR] = "DELETE FROM steps WHERE workflow = ?1 AND instance = ?2",
    [ST_EVENT_ADD] = "INSERT INTO events (workflow, instance, type, payload, sent) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_EVENT_FIRST] = "SELECT payload, sent, seq FROM events WHERE workflow = ?1 AND instance = ?2 "
                       "AND type = ?3 ORDER BY seq LIMIT 1",
    [ST_EVENT_DELETE] = "DELETE FROM events WHERE seq = ?1",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS instances (workflow TEXT NOT NULL, id TEXT NOT NULL, "
    "params BLOB NOT NULL, status TEXT NOT NULL, output BLOB, error BLOB, created INTEGER NOT NULL, "
    "updated INTEGER NOT NULL, wake INTEGER, PRIMARY KEY (workflow, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS instances_wake ON instances (wake) WHERE wake IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS steps (workflow TEXT NOT NULL, instance TEXT NOT NULL, "
    "name TEXT NOT NULL, result BLOB, wake INTEGER, PRIMARY KEY (workflow, instance, name)) "
    "WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "workflow TEXT NOT NULL, instance TEXT NOT NULL, type TEXT NOT NULL, payload BLOB, "
    "sent INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_instance ON events (workflow, instance, type, seq);";

struct pw_wf_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

int pw_wf_store_open(const char *dir, pw_wf_store_t **out, char *err, size_t err_len)
{
    pw_wf_store_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (pw_sqlite_open(dir, "workflows.sqlite3", schema, statements, ST_COUNT, &s->db, s->st, err,
                       err_len) < 0) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void pw_wf_store_close(pw_wf_store_t *s)
{
    if (!s)
        return;
    pw_sqlite_close(s->db, s->st, ST_COUNT);
    free(s);
}

const char *pw_wf_store_error(pw_wf_store_t *s)
{
    return sqlite3_errmsg(s->db);
}

static sqlite3_stmt *stmt(pw_wf_store_t *s, int which)
{
    return pw_sqlite_stmt(s->st[which]);
}

static void bind_text(sqlite3_stmt *st, int i, pw_bytes_t b)
{
    sqlite3_bind_text(st, i, b.len ? (const char *)b.base : "", (int)b.len, SQLITE_STATIC);
}

/* Binds b, or NULL when it is empty. */
static void bind_blob_or_null(sqlite3_stmt *st, int i, pw_bytes_t b)
{
    if (b.len)
        sqlite3_bind_blob(st, i, b.base, (int)b.len, SQLITE_STATIC);
}

static void bind_time_or_null(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms >= 0)
        sqlite3_bind_int64(st, i, ms);
}

static int64_t column_time(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

/* Statement `which`, its first two parameters bound to an instance's key. */
static sqlite3_stmt *instance_stmt(pw_wf_store_t *s, int which, pw_bytes_t workflow, pw_bytes_t id)
{
    sqlite3_stmt *st = stmt(s, which);
    bind_text(st, 1, workflow);
    bind_text(st, 2, id);
    return st;
}

/* Steps a single-row query: 1 with the row to read, 0 when there is none, -EIO on error. */
static int step_row(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

int pw_wf_instance_create(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t params,
                          int64_t now_ms)
{
    sqlite3_stmt *st = instance_stmt(s, ST_CREATE, workflow, id);
    pw_sqlite_bind_bytes(st, 3, params);
    sqlite3_bind_int64(st, 4, now_ms);
    return pw_sqlite_run(st);
}

int pw_wf_instance_get(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_wf_instance_t *out)
{
    sqlite3_stmt *st = instance_stmt(s, ST_GET, workflow, id);
    int rc = step_row(st);
    if (rc <= 0)
        return rc;
    out->status = pw_sqlite_column_bytes(st, 0);
    out->params = pw_sqlite_column_bytes(st, 1);
    out->output = pw_sqlite_column_bytes(st, 2);
    out->error = pw_sqlite_column_bytes(st, 3);
    out->created_ms = sqlite3_column_int64(st, 4);
    out->wake_ms = column_time(st, 5);
    return 1;
}

int pw_wf_instance_set(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, const char *status,
                       pw_bytes_t output, pw_bytes_t error, int64_t wake_ms, int64_t now_ms)
{
    sqlite3_stmt *st = instance_stmt(s, ST_SET, workflow, id);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    bind_blob_or_null(st, 4, output);
    bind_blob_or_null(st, 5, error);
    bind_time_or_null(st, 6, wake_ms);
    sqlite3_bind_int64(st, 7, now_ms);
    return pw_sqlite_run(st);
}

int pw_wf_instance_unschedule(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id)
{
    sqlite3_stmt *st = instance_stmt(s, ST_UNSCHEDULE, workflow, id);
    return pw_sqlite_run(st);
}

int pw_wf_instance_due(pw_wf_store_t *s, int64_t now_ms, pw_wf_due_cb cb, void *arg)
{
    sqlite3_stmt *st = stmt(s, ST_DUE);
    sqlite3_bind_int64(st, 1, now_ms);
    int count = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cb(arg, pw_sqlite_column_bytes(st, 0), pw_sqlite_column_bytes(st, 1));
        count++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? count : -EIO;
}

int pw_wf_store_recover(pw_wf_store_t *s, int64_t now_ms)
{
    sqlite3_stmt *st = stmt(s, ST_RECOVER);
    sqlite3_bind_int64(st, 1, now_ms);
    return pw_sqlite_run(st);
}

int64_t pw_wf_next_wake(pw_wf_store_t *s)
{
    sqlite3_stmt *st = stmt(s, ST_NEXT);
    int64_t wake = sqlite3_step(st) == SQLITE_ROW ? column_time(st, 0) : -1;
    sqlite3_reset(st);
    return wake;
}

int pw_wf_step_get(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                   pw_bytes_t *result, int64_t *wake_ms)
{
    sqlite3_stmt *st = instance_stmt(s, ST_STEP_GET, workflow, id);
    bind_text(st, 3, step);
    int rc = step_row(st);
    if (rc <= 0)
        return rc;
    *result = pw_sqlite_column_bytes(st, 0);
    *wake_ms = column_time(st, 1);
    return 1;
}

int pw_wf_step_put(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                   pw_bytes_t result, int64_t wake_ms)
{
    sqlite3_stmt *st = instance_stmt(s, ST_STEP_PUT, workflow, id);
    bind_text(st, 3, step);
    bind_blob_or_null(st, 4, result);
    bind_time_or_null(st, 5, wake_ms);
    return pw_sqlite_run(st);
}

int pw_wf_steps_clear(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id)
{
    sqlite3_stmt *st = instance_stmt(s, ST_STEPS_CLEAR, workflow, id);
    return pw_sqlite_run(st);
}

int pw_wf_event_add(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                    pw_bytes_t payload, int64_t now_ms)
{
    sqlite3_stmt *st = instance_stmt(s, ST_EVENT_ADD, workflow, id);
    bind_text(st, 3, type);
    bind_blob_or_null(st, 4, payload);
    sqlite3_bind_int64(st, 5, now_ms);
    return pw_sqlite_run(st);
}

int pw_wf_event_first(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                      pw_bytes_t *payload, int64_t *sent_ms, int64_t *seq)
{
    sqlite3_stmt *st = instance_stmt(s, ST_EVENT_FIRST, workflow, id);
    bind_text(st, 3, type);
    int rc = step_row(st);
    if (rc <= 0)
        return rc;
    *payload = pw_sqlite_column_bytes(st, 0);
    *sent_ms = sqlite3_column_int64(st, 1);
    *seq = sqlite3_column_int64(st, 2);
    return 1;
}

int pw_wf_event_delete(pw_wf_store_t *s, int64_t seq)
{
    sqlite3_stmt *st = stmt(s, ST_EVENT_DELETE);
    sqlite3_bind_int64(st, 1, seq);
    return pw_sqlite_run(st);
}

int pw_wf_store_exec(pw_wf_store_t *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}
