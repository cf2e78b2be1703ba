/* pg_queue.c — queue messages in PostgreSQL (host process, the pool's loop; see pg_queue.h and
 * queue_backend.h). Each operation is one prepared statement, so it is one transaction: a
 * send inserts its messages from arrays (all or none), a take updates the rows it locked with
 * SKIP LOCKED (rows another node is taking are passed over, not waited for), a settlement
 * deletes, delays or moves its rows from arrays. The seqs taken and not yet settled are kept
 * here, and a timer renews their lease while they are held.
 * Invariant: an operation's done() runs exactly once, from the loop, unless close() drops it.
 */
#include "storage/pg_queue.h"
#include "base/list.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ST_SEND, ST_TAKE, ST_DEPTH, ST_SETTLE, ST_RENEW, N_ST };

static const char *const statements[N_ST] = {
    [ST_SEND] = "INSERT INTO pw_queue (queue, id, body, content_type, sent_ms, visible_ms) "
                "SELECT $1, m.id, m.body, m.ct, $5::int8, m.visible "
                "FROM unnest($2::text[], $3::bytea[], $4::text[], $6::int8[]) AS m(id, body, ct, visible)",
    [ST_TAKE] = "WITH ready AS (SELECT seq, visible_ms AS was FROM pw_queue WHERE queue = $1 "
                "  AND visible_ms <= $2::int8 ORDER BY visible_ms, seq LIMIT $3::int8 FOR UPDATE SKIP LOCKED), "
                "taken AS (UPDATE pw_queue m SET visible_ms = $4::int8 FROM ready WHERE m.seq = ready.seq "
                "  RETURNING m.seq, m.id, m.body, m.content_type, m.sent_ms, m.attempts, ready.was) "
                "SELECT seq, id, body, content_type, sent_ms, attempts FROM taken ORDER BY was, seq",
    [ST_DEPTH] = "SELECT (SELECT count(*) FROM (SELECT 1 FROM pw_queue WHERE queue = $1 "
                 "  AND visible_ms <= $2::int8 LIMIT $3::int8) r), "
                 "(SELECT min(visible_ms) FROM pw_queue WHERE queue = $1)",
    [ST_SETTLE] = "WITH s AS (SELECT * FROM unnest($1::int8[], $2::int4[], $3::int8[]) AS s(seq, fate, visible)), "
                  "gone AS (DELETE FROM pw_queue q USING s WHERE q.seq = s.seq AND s.fate = 0 RETURNING 1), "
                  "moved AS (UPDATE pw_queue q SET "
                  "  visible_ms = CASE WHEN s.fate = 3 THEN $5::int8 ELSE s.visible END, "
                  "  attempts = CASE s.fate WHEN 1 THEN q.attempts + 1 WHEN 3 THEN 0 ELSE q.attempts END, "
                  "  queue = CASE WHEN s.fate = 3 THEN $4 ELSE q.queue END "
                  "  FROM s WHERE q.seq = s.seq AND s.fate <> 0 RETURNING 1) "
                  "SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM moved)",
    [ST_RENEW] = "UPDATE pw_queue SET visible_ms = $2::int8 WHERE seq = ANY ($1::int8[])",
};

typedef struct {
    pw_queue_backend_t base;    /* first: the vtable's functions get this pointer */
    pw_pg_pool_t *pool;
    int st[N_ST];
    pw_list_t ops;              /* operations in flight */
    pw_buf_t held;              /* int64_t seqs taken by this node and not settled: their leases */
    uv_timer_t renew;
    char error[512];
} pgq_t;

/* One statement in flight. */
typedef struct {
    pw_list_t link;
    pgq_t *q;
    pw_pg_job_t *job;
    pw_queue_done_cb done;      /* NULL: nobody waits (renewals, some settlements) */
    void *arg;
    pw_queue_msg_cb msg;        /* take */
    pw_queue_depth_t *depth;    /* depth */
} op_t;

static pgq_t *self(pw_queue_backend_t *b)
{
    return (pgq_t *)b;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pw_pg_param_t text_of(pw_bytes_t b)
{
    return (pw_pg_param_t){ .data = b.len ? (const void *)b.base : "", .len = b.len };
}

static pw_pg_param_t text_buf(const pw_buf_t *b)
{
    return (pw_pg_param_t){ .data = b->len ? (const void *)b->data : "", .len = b->len };
}

/* ---- the seqs this node holds ---- */

static int64_t *held(pgq_t *q, size_t *n)
{
    *n = q->held.len / sizeof(int64_t);
    return (int64_t *)q->held.data;
}

static int held_add(pgq_t *q, int64_t seq)
{
    return pw_buf_append(&q->held, &seq, sizeof seq);
}

static void held_remove(pgq_t *q, int64_t seq)
{
    size_t n;
    int64_t *v = held(q, &n);
    for (size_t i = 0; i < n; i++)
        if (v[i] == seq) {
            v[i] = v[n - 1];
            q->held.len -= sizeof seq;
            return;
        }
}

/* ---- operations ---- */

static void finish(op_t *op, int rc)
{
    pw_list_remove(&op->link);
    if (op->done)
        op->done(op->arg, rc);
    free(op);
}

/* 1 (and the op finished with -1) when the statement failed. */
static int failed(op_t *op, const pw_pg_result_t *r)
{
    if (pw_pg_status(r) == PW_PG_OK)
        return 0;
    int down = pw_pg_status(r) == PW_PG_UNAVAILABLE;
    snprintf(op->q->error, sizeof op->q->error, "%s(PostgreSQL: %s)",
             down ? "503 Service Unavailable " : "", pw_pg_error(r));
    finish(op, down ? PW_QUEUE_UNAVAILABLE : -1);
    return 1;
}

/* Starts statement `which` for an op; when it cannot start, done(arg, -1) runs now. */
static void start(pgq_t *q, int which, const pw_pg_param_t *p, size_t n, pw_pg_cb cb, op_t *op,
                  pw_queue_done_cb done, void *arg)
{
    if (op) {
        op->q = q;
        op->done = done;
        op->arg = arg;
        pw_list_push_back(&q->ops, &op->link);
        if ((op->job = pw_pg_run(q->pool, q->st[which], p, n, cb, op)))
            return;
        pw_list_remove(&op->link);
        free(op);
    }
    snprintf(q->error, sizeof q->error, "out of memory");
    if (done)
        done(arg, -1);
}

static void counted(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    if (!failed(op, r))
        finish(op, 0);
}

static int append_num(pw_buf_t *out, size_t i, int64_t v)
{
    return pw_buf_printf(out, "%s%" PRId64, i ? "," : "{", v);
}

/* {"id1","id2"}: ids and content types are hex and plain words, no quoting needed. */
static int append_word(pw_buf_t *out, size_t i, pw_bytes_t w)
{
    return pw_buf_printf(out, "%s\"%.*s\"", i ? "," : "{", (int)w.len, (const char *)w.base);
}

static void q_send(pw_queue_backend_t *b, pw_bytes_t queue, const pw_queue_new_t *msgs, size_t n,
                   int64_t now_ms, pw_queue_done_cb done, void *arg)
{
    pgq_t *q = self(b);
    pw_buf_t ids, bodies, types, visible;
    pw_buf_init(&ids);
    pw_buf_init(&bodies);
    pw_buf_init(&types);
    pw_buf_init(&visible);
    pw_bytes_t *body = calloc(n ? n : 1, sizeof *body);
    int rc = body && n ? 0 : -EINVAL;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        body[i] = msgs[i].body;
        rc = append_word(&ids, i, msgs[i].id) | append_word(&types, i, msgs[i].content_type) |
             append_num(&visible, i, msgs[i].visible_ms);
    }
    if (rc == 0)
        rc = pw_pg_bytea_array(body, n, &bodies) | pw_buf_append(&ids, "}", 1) |
             pw_buf_append(&types, "}", 1) | pw_buf_append(&visible, "}", 1);
    pw_pg_param_t p[6] = { text_of(queue), text_buf(&ids), text_buf(&bodies), text_buf(&types),
                           pw_pg_int(now_ms), text_buf(&visible) };
    start(q, ST_SEND, p, 6, counted, rc == 0 ? calloc(1, sizeof(op_t)) : NULL, done, arg);
    free(body);
    pw_buf_free(&ids);
    pw_buf_free(&bodies);
    pw_buf_free(&types);
    pw_buf_free(&visible);
}

static void taken(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    if (failed(op, r))
        return;
    size_t n = pw_pg_rows(r);
    for (size_t i = 0; i < n; i++) {
        pw_queue_msg_t m = { .seq = pw_pg_i64(r, i, 0), .id = pw_pg_value(r, i, 1),
                             .body = pw_pg_value(r, i, 2), .content_type = pw_pg_value(r, i, 3),
                             .sent_ms = pw_pg_i64(r, i, 4), .attempts = (unsigned)pw_pg_i64(r, i, 5) };
        held_add(op->q, m.seq);     /* out of memory: its lease is not renewed (delivered again) */
        op->msg(op->arg, &m);
    }
    finish(op, (int)n);
}

static void q_take(pw_queue_backend_t *b, pw_bytes_t queue, int64_t now_ms, size_t max,
                   pw_queue_msg_cb cb, pw_queue_done_cb done, void *arg)
{
    pgq_t *q = self(b);
    op_t *op = calloc(1, sizeof *op);
    if (op)
        op->msg = cb;
    pw_pg_param_t p[4] = { text_of(queue), pw_pg_int(now_ms), pw_pg_int((int64_t)max),
                           pw_pg_int(now_ms + PW_PG_QUEUE_LEASE_MS) };
    start(q, ST_TAKE, p, 4, taken, op, done, arg);
}

static void measured(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    if (failed(op, r))
        return;
    op->depth->ready = (size_t)pw_pg_i64(r, 0, 0);
    op->depth->first_visible_ms = pw_pg_is_null(r, 0, 1) ? -1 : pw_pg_i64(r, 0, 1);
    finish(op, 0);
}

static void q_depth(pw_queue_backend_t *b, pw_bytes_t queue, int64_t now_ms, size_t max,
                    pw_queue_depth_t *out, pw_queue_done_cb done, void *arg)
{
    pgq_t *q = self(b);
    op_t *op = calloc(1, sizeof *op);
    if (op)
        op->depth = out;
    pw_pg_param_t p[3] = { text_of(queue), pw_pg_int(now_ms), pw_pg_int((int64_t)max) };
    start(q, ST_DEPTH, p, 3, measured, op, done, arg);
}

static void q_settle(pw_queue_backend_t *b, const pw_queue_settle_t *s, size_t n,
                     pw_bytes_t dead_letter, int64_t now_ms, pw_queue_done_cb done, void *arg)
{
    pgq_t *q = self(b);
    pw_buf_t seqs, fates, visible;
    pw_buf_init(&seqs);
    pw_buf_init(&fates);
    pw_buf_init(&visible);
    int rc = n ? 0 : -EINVAL;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((unsigned)s[i].fate > PW_QUEUE_DEAD || (s[i].fate == PW_QUEUE_DEAD && dead_letter.len == 0))
            rc = -EINVAL;
        else
            rc = append_num(&seqs, i, s[i].seq) | append_num(&fates, i, (int64_t)s[i].fate) |
                 append_num(&visible, i, s[i].visible_ms);
    }
    if (rc == 0)
        rc = pw_buf_append(&seqs, "}", 1) | pw_buf_append(&fates, "}", 1) | pw_buf_append(&visible, "}", 1);
    for (size_t i = 0; rc == 0 && i < n; i++)
        held_remove(q, s[i].seq);
    pw_pg_param_t p[5] = { text_buf(&seqs), text_buf(&fates), text_buf(&visible), text_of(dead_letter),
                           pw_pg_int(now_ms) };
    if (rc == -EINVAL) {
        snprintf(q->error, sizeof q->error, "a settlement names no message, an unknown fate or no "
                 "dead-letter queue");
        if (done)
            done(arg, -1);
    } else
        start(q, ST_SETTLE, p, 5, counted, rc == 0 ? calloc(1, sizeof(op_t)) : NULL, done, arg);
    pw_buf_free(&seqs);
    pw_buf_free(&fates);
    pw_buf_free(&visible);
}

/* ---- leases ---- */

static void on_renew(uv_timer_t *timer)
{
    pgq_t *q = timer->data;
    size_t n;
    const int64_t *v = held(q, &n);
    if (n == 0)
        return;
    pw_buf_t seqs;
    pw_buf_init(&seqs);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = append_num(&seqs, i, v[i]);
    if (rc == 0 && pw_buf_append(&seqs, "}", 1) == 0) {
        pw_pg_param_t p[2] = { text_buf(&seqs), pw_pg_int(wall_ms() + PW_PG_QUEUE_LEASE_MS) };
        start(q, ST_RENEW, p, 2, counted, calloc(1, sizeof(op_t)), NULL, NULL);
    }
    pw_buf_free(&seqs);
}

static const char *q_error(pw_queue_backend_t *b)
{
    return self(b)->error;
}

static void free_after_close(uv_handle_t *handle)
{
    pgq_t *q = handle->data;
    pw_buf_free(&q->held);
    free(q);
}

static void q_close(pw_queue_backend_t *b)
{
    if (!b)
        return;
    pgq_t *q = self(b);
    while (!pw_list_empty(&q->ops)) {
        op_t *op = PW_CONTAINER_OF(q->ops.next, op_t, link);
        pw_pg_cancel(op->job);
        pw_list_remove(&op->link);
        free(op);
    }
    uv_timer_stop(&q->renew);
    uv_close((uv_handle_t *)&q->renew, free_after_close);  /* freed if the loop runs again */
}

static const pw_queue_backend_ops_t ops = {
    .send = q_send, .take = q_take, .depth = q_depth, .settle = q_settle, .error = q_error,
    .close = q_close,
};

int pw_pg_queue_open(pw_pg_pool_t *pool, pw_queue_backend_t **out, char *err, size_t err_len)
{
    pgq_t *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    q->base = (pw_queue_backend_t){ .ops = &ops, .poll_ms = PW_PG_QUEUE_POLL_MS };
    q->pool = pool;
    pw_list_init(&q->ops);
    for (int i = 0; i < N_ST; i++)
        if ((q->st[i] = pw_pg_statement(pool, statements[i])) < 0) {
            snprintf(err, err_len, "queues: too many PostgreSQL statements");
            free(q);
            return -1;
        }
    uv_timer_init(pw_pg_pool_loop(pool), &q->renew);
    uv_unref((uv_handle_t *)&q->renew);
    q->renew.data = q;
    uv_timer_start(&q->renew, on_renew, PW_PG_QUEUE_RENEW_MS, PW_PG_QUEUE_RENEW_MS);
    *out = &q->base;
    return 0;
}
