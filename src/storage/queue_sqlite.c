/* queue_sqlite.c — queue messages in SQLite (host process, loop thread; see queue_sqlite.h
 * and queue_backend.h). One table: a row per message with its queue, id, body, content
 * type, send time, the time it becomes deliverable, its attempts and whether a delivery has
 * taken it. A send, a take and a settlement are each one transaction; statements are
 * prepared once. Every operation is done (its done() called) before it returns.
 * Invariant: every statement is reset before its next use (pw_sqlite_stmt), and a failed
 * transaction is rolled back before the call returns.
 */
#include "storage/queue_sqlite.h"
#include "storage/sqlite_db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ST_UNTAKE_ALL, ST_INSERT, ST_READY, ST_MARK_TAKEN, ST_COUNT_READY, ST_FIRST_VISIBLE,
    ST_DELETE, ST_RETRY, ST_RELEASE, ST_MOVE, ST_COUNT, ST_BEGIN, ST_COMMIT, ST_ROLLBACK, N_ST
};

static const char *const statements[N_ST] = {
    [ST_UNTAKE_ALL] = "UPDATE messages SET taken = 0 WHERE taken = 1",
    [ST_INSERT] = "INSERT INTO messages (queue, id, body, content_type, sent, visible, attempts, taken) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0)",
    [ST_READY] = "SELECT seq, id, body, content_type, sent, attempts FROM messages "
                 "WHERE queue = ?1 AND taken = 0 AND visible <= ?2 ORDER BY visible, seq LIMIT ?3",
    [ST_MARK_TAKEN] = "UPDATE messages SET taken = 1 WHERE seq = ?1",
    [ST_COUNT_READY] = "SELECT count(*) FROM (SELECT 1 FROM messages WHERE queue = ?1 AND taken = 0 "
                       "AND visible <= ?2 LIMIT ?3)",
    [ST_FIRST_VISIBLE] = "SELECT min(visible) FROM messages WHERE queue = ?1 AND taken = 0",
    [ST_DELETE] = "DELETE FROM messages WHERE seq = ?1",
    [ST_RETRY] = "UPDATE messages SET taken = 0, attempts = attempts + 1, visible = ?2 WHERE seq = ?1",
    [ST_RELEASE] = "UPDATE messages SET taken = 0, visible = ?2 WHERE seq = ?1",
    [ST_MOVE] = "UPDATE messages SET queue = ?2, taken = 0, attempts = 0, visible = ?3 WHERE seq = ?1",
    [ST_COUNT] = "SELECT count(*) FROM messages WHERE queue = ?1",
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

/* Exclusive locking: this host is the file's one user (a second host on the same persist
 * directory is refused at open instead of delivering the same messages), and no transaction
 * pays for taking and dropping the file's locks. */
static const char schema[] =
    "PRAGMA locking_mode=EXCLUSIVE;"
    "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "queue TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL, content_type TEXT NOT NULL, "
    "sent INTEGER NOT NULL, visible INTEGER NOT NULL, attempts INTEGER NOT NULL, "
    "taken INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, taken, visible, seq);";

typedef struct {
    pw_queue_backend_t base;    /* first: the vtable's functions get this pointer */
    sqlite3 *db;
    sqlite3_stmt *st[N_ST];
} queue_sqlite_t;

static queue_sqlite_t *self(pw_queue_backend_t *b)
{
    return (queue_sqlite_t *)b;
}

static sqlite3_stmt *stmt(queue_sqlite_t *q, int which)
{
    return pw_sqlite_stmt(q->st[which]);
}

static void bind_text(sqlite3_stmt *st, int i, pw_bytes_t b)
{
    sqlite3_bind_text(st, i, b.len ? (const char *)b.base : "", (int)b.len, SQLITE_STATIC);
}

static int exec(queue_sqlite_t *q, int which)
{
    return pw_sqlite_run(stmt(q, which)) == 0 ? 0 : -EIO;
}

/* Ends the transaction: COMMIT when rc is 0 (its failure is returned), else ROLLBACK. */
static int finish(queue_sqlite_t *q, int rc)
{
    if (rc == 0)
        rc = exec(q, ST_COMMIT);
    if (rc < 0)
        exec(q, ST_ROLLBACK);
    return rc < 0 ? -1 : 0;
}

static int send_now(pw_queue_backend_t *b, pw_bytes_t queue, const pw_queue_new_t *msgs, size_t n,
                    int64_t now_ms)
{
    queue_sqlite_t *q = self(b);
    int rc = exec(q, ST_BEGIN);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st = stmt(q, ST_INSERT);
        bind_text(st, 1, queue);
        bind_text(st, 2, msgs[i].id);
        pw_sqlite_bind_bytes(st, 3, msgs[i].body);
        bind_text(st, 4, msgs[i].content_type);
        sqlite3_bind_int64(st, 5, now_ms);
        sqlite3_bind_int64(st, 6, msgs[i].visible_ms);
        rc = pw_sqlite_run(st) == 0 ? 0 : -EIO;
    }
    return finish(q, rc);
}

static int mark_taken(queue_sqlite_t *q, int64_t seq)
{
    sqlite3_stmt *st = stmt(q, ST_MARK_TAKEN);
    sqlite3_bind_int64(st, 1, seq);
    return pw_sqlite_run(st) == 0 ? 0 : -EIO;
}

static int take_now(pw_queue_backend_t *b, pw_bytes_t queue, int64_t now_ms, size_t max,
                    pw_queue_msg_cb cb, void *arg)
{
    queue_sqlite_t *q = self(b);
    if (exec(q, ST_BEGIN) < 0)
        return -1;
    sqlite3_stmt *st = stmt(q, ST_READY);
    bind_text(st, 1, queue);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, (int64_t)max);
    int n = 0, rc;
    int64_t seqs[256];
    while (n < (int)(sizeof seqs / sizeof seqs[0]) && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        pw_queue_msg_t m = { .seq = sqlite3_column_int64(st, 0), .id = pw_sqlite_column_bytes(st, 1),
                             .body = pw_sqlite_column_bytes(st, 2),
                             .content_type = pw_sqlite_column_bytes(st, 3),
                             .sent_ms = sqlite3_column_int64(st, 4),
                             .attempts = (unsigned)sqlite3_column_int64(st, 5) };
        seqs[n++] = m.seq;
        cb(arg, &m);
    }
    sqlite3_reset(st);
    int err = 0;
    for (int i = 0; !err && i < n; i++)
        err = mark_taken(q, seqs[i]);
    return finish(q, err) < 0 ? -1 : n;
}

static int64_t scalar(queue_sqlite_t *q, sqlite3_stmt *st, int64_t if_null)
{
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL
                ? sqlite3_column_int64(st, 0) : if_null;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? v : -2;
}

static int depth_now(pw_queue_backend_t *b, pw_bytes_t queue, int64_t now_ms, size_t max,
                     pw_queue_depth_t *out)
{
    queue_sqlite_t *q = self(b);
    sqlite3_stmt *st = stmt(q, ST_COUNT_READY);
    bind_text(st, 1, queue);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, (int64_t)max);
    int64_t ready = scalar(q, st, 0);
    st = stmt(q, ST_FIRST_VISIBLE);
    bind_text(st, 1, queue);
    int64_t first = scalar(q, st, -1);
    if (ready < 0 || first < -1)
        return -1;
    out->ready = (size_t)ready;
    out->first_visible_ms = first;
    return 0;
}

static int settle_one(queue_sqlite_t *q, const pw_queue_settle_t *s, pw_bytes_t dead_letter,
                      int64_t now_ms)
{
    static const int which[] = { [PW_QUEUE_ACK] = ST_DELETE, [PW_QUEUE_RETRY] = ST_RETRY,
                                 [PW_QUEUE_RELEASE] = ST_RELEASE, [PW_QUEUE_DEAD] = ST_MOVE };
    if ((unsigned)s->fate > PW_QUEUE_DEAD || (s->fate == PW_QUEUE_DEAD && dead_letter.len == 0))
        return -EINVAL;
    sqlite3_stmt *st = stmt(q, which[s->fate]);
    sqlite3_bind_int64(st, 1, s->seq);
    if (s->fate == PW_QUEUE_RETRY || s->fate == PW_QUEUE_RELEASE)
        sqlite3_bind_int64(st, 2, s->visible_ms);
    if (s->fate == PW_QUEUE_DEAD) {
        bind_text(st, 2, dead_letter);
        sqlite3_bind_int64(st, 3, now_ms);
    }
    return pw_sqlite_run(st) == 0 ? 0 : -EIO;
}

static int settle_now(pw_queue_backend_t *b, const pw_queue_settle_t *s, size_t n,
                      pw_bytes_t dead_letter, int64_t now_ms)
{
    queue_sqlite_t *q = self(b);
    int rc = exec(q, ST_BEGIN);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = settle_one(q, &s[i], dead_letter, now_ms);
    return finish(q, rc);
}

int64_t pw_queue_sqlite_count(pw_queue_backend_t *b, pw_bytes_t queue)
{
    queue_sqlite_t *q = self(b);
    sqlite3_stmt *st = stmt(q, ST_COUNT);
    bind_text(st, 1, queue);
    int64_t n = scalar(q, st, 0);
    return n < 0 ? -1 : n;
}

/* ---- the vtable: each operation is done before it returns ---- */

static void q_send(pw_queue_backend_t *b, pw_bytes_t queue, const pw_queue_new_t *msgs, size_t n,
                   int64_t now_ms, pw_queue_done_cb done, void *arg)
{
    done(arg, send_now(b, queue, msgs, n, now_ms));
}

static void q_take(pw_queue_backend_t *b, pw_bytes_t queue, int64_t now_ms, size_t max,
                   pw_queue_msg_cb cb, pw_queue_done_cb done, void *arg)
{
    done(arg, take_now(b, queue, now_ms, max, cb, arg));
}

static void q_depth(pw_queue_backend_t *b, pw_bytes_t queue, int64_t now_ms, size_t max,
                    pw_queue_depth_t *out, pw_queue_done_cb done, void *arg)
{
    done(arg, depth_now(b, queue, now_ms, max, out));
}

static void q_settle(pw_queue_backend_t *b, const pw_queue_settle_t *s, size_t n,
                     pw_bytes_t dead_letter, int64_t now_ms, pw_queue_done_cb done, void *arg)
{
    int rc = settle_now(b, s, n, dead_letter, now_ms);
    if (done)
        done(arg, rc);
}

static const char *q_error(pw_queue_backend_t *b)
{
    return sqlite3_errmsg(self(b)->db);
}

static void q_close(pw_queue_backend_t *b)
{
    if (!b)
        return;
    queue_sqlite_t *q = self(b);
    pw_sqlite_close(q->db, q->st, N_ST);
    free(q);
}

static const pw_queue_backend_ops_t ops = {
    .send = q_send, .take = q_take, .depth = q_depth, .settle = q_settle,
    .error = q_error, .close = q_close,
};

int pw_queue_sqlite_open(const char *dir, pw_queue_backend_t **out, char *err, size_t err_len)
{
    queue_sqlite_t *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    q->base.ops = &ops;
    if (pw_sqlite_open(dir, "queues.sqlite3", schema, statements, N_ST, &q->db, q->st, err,
                       err_len) < 0) {
        free(q);
        return -1;
    }
    if (exec(q, ST_UNTAKE_ALL) < 0) {
        snprintf(err, err_len, "queues.sqlite3: %s", sqlite3_errmsg(q->db));
        q_close(&q->base);
        return -1;
    }
    *out = &q->base;
    return 0;
}
