/* pg_workflow.c — Workflow instances in PostgreSQL (host process, the pool's loop; see
 * pg_workflow.h and workflow_backend.h). Each operation is one prepared statement, so one
 * transaction: a restart deletes the steps and queues the instance together, an event taken
 * becomes its step's result as it leaves pw_wf_events, and an event sent first updates (so
 * locks) its instance's row, making a waiting one due now: a wait that suspends the instance
 * concurrently either sees the event afterwards or is seen by it (host/binding_workflows.c
 * looks again after it suspended).
 * Invariant: an operation's callback runs exactly once, from the loop, unless close() drops it.
 */
#include "storage/pg_workflow.h"
#include "base/list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::int8"
#define KEY "workflow = $1::text AND id = $2::text"
#define STEP_KEY "workflow = $1::text AND instance = $2::text AND name = $3::bytea"
#define CLAIMABLE "(owner IS NULL OR owner = $2::text OR lease_ms < " NOW_MS ")"

enum {
    ST_CREATE, ST_GET, ST_SET, ST_UNSCHEDULE, ST_RESTART, ST_DUE, ST_NEXT, ST_RELEASE, ST_RENEW,
    ST_STEP_GET, ST_STEP_PUT, ST_EVENT_SEND, ST_EVENT_FIRST, ST_EVENT_TAKE, N_ST
};

static const char *const statements[N_ST] = {
    [ST_CREATE] = "INSERT INTO pw_wf_instances (workflow, id, params, status, created_ms, updated_ms, wake_ms) "
                  "VALUES ($1::text, $2::text, $3::bytea, 'queued', $4::int8, $4::int8, $4::int8) "
                  "ON CONFLICT DO NOTHING",
    [ST_GET] = "SELECT status, params, output, error, created_ms, wake_ms FROM pw_wf_instances WHERE " KEY,
    [ST_SET] = "UPDATE pw_wf_instances SET status = $3::text, output = $4::bytea, error = $5::bytea, "
               "wake_ms = $6::int8, updated_ms = $7::int8 WHERE " KEY,
    [ST_UNSCHEDULE] = "UPDATE pw_wf_instances SET wake_ms = NULL WHERE " KEY,
    [ST_RESTART] = "WITH gone AS (DELETE FROM pw_wf_steps WHERE workflow = $1::text AND instance = $2::text) "
                   "UPDATE pw_wf_instances SET status = 'queued', output = NULL, error = NULL, "
                   "wake_ms = $3::int8, updated_ms = $4::int8 WHERE " KEY,
    /* due at $1, or left queued or running by a node whose lease lapsed; $2 this node */
    [ST_DUE] = "WITH c AS (SELECT workflow, id FROM pw_wf_instances WHERE "
               "  ((wake_ms <= $1::int8 AND " CLAIMABLE ") OR "
               "   (wake_ms IS NULL AND status IN ('queued', 'running') AND lease_ms < " NOW_MS ")) "
               "  ORDER BY wake_ms NULLS FIRST LIMIT $3::int8 FOR UPDATE SKIP LOCKED) "
               "UPDATE pw_wf_instances i SET owner = $2::text, lease_ms = " NOW_MS " + $4::int8 "
               "FROM c WHERE i.workflow = c.workflow AND i.id = c.id RETURNING i.workflow, i.id",
    [ST_NEXT] = "SELECT min(wake_ms) FROM pw_wf_instances WHERE wake_ms IS NOT NULL AND "
                "(owner IS NULL OR owner = $1::text OR lease_ms < " NOW_MS ")",
    [ST_RELEASE] = "UPDATE pw_wf_instances SET owner = NULL, lease_ms = 0 WHERE " KEY " AND owner = $3::text",
    [ST_RENEW] = "UPDATE pw_wf_instances SET lease_ms = " NOW_MS " + $2::int8 WHERE owner = $1::text",
    [ST_STEP_GET] = "SELECT result, wake_ms FROM pw_wf_steps WHERE " STEP_KEY,
    [ST_STEP_PUT] = "INSERT INTO pw_wf_steps (workflow, instance, name, result, wake_ms) "
                    "VALUES ($1::text, $2::text, $3::bytea, $4::bytea, $5::int8) "
                    "ON CONFLICT (workflow, instance, name) DO UPDATE SET result = EXCLUDED.result, "
                    "wake_ms = EXCLUDED.wake_ms",
    [ST_EVENT_SEND] = "WITH i AS (UPDATE pw_wf_instances SET wake_ms = CASE WHEN status = 'waiting' "
                      "  THEN $5::int8 ELSE wake_ms END WHERE " KEY " RETURNING 1) "
                      "INSERT INTO pw_wf_events (workflow, instance, type, payload, sent_ms) "
                      "SELECT $1::text, $2::text, $3::bytea, $4::bytea, $5::int8 FROM i",
    [ST_EVENT_FIRST] = "SELECT payload, sent_ms, seq FROM pw_wf_events WHERE workflow = $1::text "
                       "AND instance = $2::text AND type = $3::bytea ORDER BY seq LIMIT 1",
    [ST_EVENT_TAKE] = "WITH gone AS (DELETE FROM pw_wf_events WHERE seq = $5::int8) "
                      "INSERT INTO pw_wf_steps (workflow, instance, name, result, wake_ms) "
                      "VALUES ($1::text, $2::text, $3::bytea, $4::bytea, NULL) "
                      "ON CONFLICT (workflow, instance, name) DO UPDATE SET result = EXCLUDED.result, "
                      "wake_ms = NULL",
};

typedef struct {
    pw_wf_backend_t base;       /* first: the vtable's functions get this pointer */
    pw_pg_pool_t *pool;
    int st[N_ST];
    char node[128];
    pw_list_t ops;              /* operations in flight */
    uv_timer_t renew;
    char error[512];
} pgwf_t;

typedef void (*read_fn)(void *op, const pw_pg_result_t *r);

/* One statement in flight. */
typedef struct {
    pw_list_t link;
    pgwf_t *w;
    pw_pg_job_t *job;
    read_fn read;               /* turns the rows into the callback's arguments */
    void *cb;                   /* the operation's callback (NULL: nobody waits) */
    void *arg;
    pw_wf_due_cb each;          /* due */
} op_t;

static pgwf_t *self(pw_wf_backend_t *b)
{
    return (pgwf_t *)b;
}

static pw_pg_param_t text_of(pw_bytes_t b)
{
    return (pw_pg_param_t){ .data = b.len ? (const void *)b.base : "", .len = b.len };
}

static pw_pg_param_t bytes_or_null(pw_bytes_t b)
{
    return b.len ? pw_pg_bytes(b) : pw_pg_null();
}

static pw_pg_param_t time_or_null(int64_t ms)
{
    return ms >= 0 ? pw_pg_int(ms) : pw_pg_null();
}

static int64_t time_at(const pw_pg_result_t *r, size_t row, int col)
{
    return pw_pg_is_null(r, row, col) ? -1 : pw_pg_i64(r, row, col);
}

/* ---- operations ---- */

/* The op's rc when its statement failed (0 when it did not), its error kept for error(). */
static int failure(op_t *op, const pw_pg_result_t *r)
{
    pw_pg_status_t st = pw_pg_status(r);
    if (st == PW_PG_OK)
        return 0;
    int down = st == PW_PG_UNAVAILABLE;
    snprintf(op->w->error, sizeof op->w->error, "%s(PostgreSQL: %s)",
             down ? "503 Service Unavailable " : "", pw_pg_error(r));
    return down ? PW_WF_UNAVAILABLE : -1;
}

static void finished(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    pw_list_remove(&op->link);
    op->read(op, r);
    free(op);
}

/* Starts statement `which`; when it cannot start, fail(op) answers now (out of memory). */
static void start(pgwf_t *w, int which, const pw_pg_param_t *p, size_t n, read_fn read, void *cb,
                  void *arg, pw_wf_due_cb each)
{
    op_t *op = calloc(1, sizeof *op);
    if (op) {
        *op = (op_t){ .w = w, .read = read, .cb = cb, .arg = arg, .each = each };
        pw_list_push_back(&w->ops, &op->link);
        if ((op->job = pw_pg_run(w->pool, w->st[which], p, n, finished, op)))
            return;
        pw_list_remove(&op->link);
    }
    snprintf(w->error, sizeof w->error, "out of memory");
    op_t failed = { .w = w, .cb = cb, .arg = arg };
    read(&failed, NULL);
    free(op);
}

/* rc of a statement's end: its failure, or how many rows it changed. Without a result
 * (NULL: it never ran) -1. */
static int counted_rc(op_t *op, const pw_pg_result_t *r)
{
    if (!r)
        return -1;
    int rc = failure(op, r);
    return rc ? rc : (int)pw_pg_affected(r);
}

static void read_done(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    int rc = counted_rc(op, r);
    if (op->cb)
        ((pw_wf_done_cb)op->cb)(op->arg, rc < 0 ? rc : 0);
}

static void read_created(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    int rc = counted_rc(op, r);
    ((pw_wf_done_cb)op->cb)(op->arg, rc < 0 ? rc : rc == 0 ? -EEXIST : 0);
}

static void read_sent(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    int rc = counted_rc(op, r);
    ((pw_wf_done_cb)op->cb)(op->arg, rc < 0 ? rc : rc > 0);
}

/* rc of a one-row query: 1 with the row, 0 without, or the failure. */
static int row_rc(op_t *op, const pw_pg_result_t *r)
{
    if (!r)
        return -1;
    int rc = failure(op, r);
    return rc ? rc : pw_pg_rows(r) > 0;
}

static void read_instance(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    pw_wf_instance_t inst = { 0 };
    int rc = row_rc(op, r);
    if (rc == 1)
        inst = (pw_wf_instance_t){ .status = pw_pg_value(r, 0, 0), .params = pw_pg_value(r, 0, 1),
                                   .output = pw_pg_value(r, 0, 2), .error = pw_pg_value(r, 0, 3),
                                   .created_ms = pw_pg_i64(r, 0, 4), .wake_ms = time_at(r, 0, 5) };
    ((pw_wf_instance_cb)op->cb)(op->arg, rc, &inst);
}

static void read_step(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    int rc = row_rc(op, r);
    pw_bytes_t result = rc == 1 ? pw_pg_value(r, 0, 0) : (pw_bytes_t){ NULL, 0 };
    ((pw_wf_step_cb)op->cb)(op->arg, rc, result, rc == 1 ? time_at(r, 0, 1) : -1);
}

static void read_event(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    int rc = row_rc(op, r);
    pw_bytes_t payload = rc == 1 ? pw_pg_value(r, 0, 0) : (pw_bytes_t){ NULL, 0 };
    ((pw_wf_event_cb)op->cb)(op->arg, rc, payload, rc == 1 ? pw_pg_i64(r, 0, 1) : 0,
                             rc == 1 ? pw_pg_i64(r, 0, 2) : 0);
}

static void read_due(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    int rc = row_rc(op, r);
    size_t n = rc >= 0 ? pw_pg_rows(r) : 0;
    for (size_t i = 0; i < n; i++)
        op->each(op->arg, pw_pg_value(r, i, 0), pw_pg_value(r, i, 1));
    ((pw_wf_done_cb)op->cb)(op->arg, rc < 0 ? rc : (int)n);
}

static void read_wake(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    int rc = row_rc(op, r);
    ((pw_wf_wake_cb)op->cb)(op->arg, rc == 1 ? time_at(r, 0, 0) : -1);
}

/* ---- the vtable ---- */

static void p_create(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t params,
                     int64_t now_ms, pw_wf_done_cb done, void *arg)
{
    pw_pg_param_t p[4] = { text_of(workflow), text_of(id), pw_pg_bytes(params), pw_pg_int(now_ms) };
    start(self(b), ST_CREATE, p, 4, read_created, done, arg, NULL);
}

static void p_get(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_wf_instance_cb got, void *arg)
{
    pw_pg_param_t p[2] = { text_of(workflow), text_of(id) };
    start(self(b), ST_GET, p, 2, read_instance, got, arg, NULL);
}

static void p_set(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, const char *status,
                  pw_bytes_t output, pw_bytes_t error, int64_t wake_ms, int64_t now_ms,
                  pw_wf_done_cb done, void *arg)
{
    pw_pg_param_t p[7] = { text_of(workflow), text_of(id), pw_pg_text(status), bytes_or_null(output),
                           bytes_or_null(error), time_or_null(wake_ms), pw_pg_int(now_ms) };
    start(self(b), ST_SET, p, 7, read_done, done, arg, NULL);
}

static void p_unschedule(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_wf_done_cb done, void *arg)
{
    pw_pg_param_t p[2] = { text_of(workflow), text_of(id) };
    start(self(b), ST_UNSCHEDULE, p, 2, read_done, done, arg, NULL);
}

static void p_restart(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, int64_t wake_ms,
                      int64_t now_ms, pw_wf_done_cb done, void *arg)
{
    pw_pg_param_t p[4] = { text_of(workflow), text_of(id), time_or_null(wake_ms), pw_pg_int(now_ms) };
    start(self(b), ST_RESTART, p, 4, read_done, done, arg, NULL);
}

static void p_due(pw_wf_backend_t *b, int64_t now_ms, size_t max, pw_wf_due_cb cb,
                  pw_wf_done_cb done, void *arg)
{
    pgwf_t *w = self(b);
    pw_pg_param_t p[4] = { pw_pg_int(now_ms), pw_pg_text(w->node), pw_pg_int((int64_t)max),
                           pw_pg_int(PW_PG_WF_LEASE_MS) };
    start(w, ST_DUE, p, 4, read_due, done, arg, cb);
}

static void p_next_wake(pw_wf_backend_t *b, pw_wf_wake_cb cb, void *arg)
{
    pgwf_t *w = self(b);
    pw_pg_param_t p[1] = { pw_pg_text(w->node) };
    start(w, ST_NEXT, p, 1, read_wake, cb, arg, NULL);
}

static void p_release(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id)
{
    pgwf_t *w = self(b);
    pw_pg_param_t p[3] = { text_of(workflow), text_of(id), pw_pg_text(w->node) };
    start(w, ST_RELEASE, p, 3, read_done, NULL, NULL, NULL);   /* failed: it lapses */
}

static void p_step_get(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                       pw_wf_step_cb got, void *arg)
{
    pw_pg_param_t p[3] = { text_of(workflow), text_of(id), pw_pg_bytes(step) };
    start(self(b), ST_STEP_GET, p, 3, read_step, got, arg, NULL);
}

static void p_step_put(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                       pw_bytes_t result, int64_t wake_ms, pw_wf_done_cb done, void *arg)
{
    pw_pg_param_t p[5] = { text_of(workflow), text_of(id), pw_pg_bytes(step), bytes_or_null(result),
                           time_or_null(wake_ms) };
    start(self(b), ST_STEP_PUT, p, 5, read_done, done, arg, NULL);
}

static void p_event_send(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                         pw_bytes_t payload, int64_t now_ms, pw_wf_done_cb done, void *arg)
{
    pw_pg_param_t p[5] = { text_of(workflow), text_of(id), pw_pg_bytes(type), bytes_or_null(payload),
                           pw_pg_int(now_ms) };
    start(self(b), ST_EVENT_SEND, p, 5, read_sent, done, arg, NULL);
}

static void p_event_first(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                          pw_wf_event_cb got, void *arg)
{
    pw_pg_param_t p[3] = { text_of(workflow), text_of(id), pw_pg_bytes(type) };
    start(self(b), ST_EVENT_FIRST, p, 3, read_event, got, arg, NULL);
}

static void p_event_take(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                         pw_bytes_t result, int64_t seq, pw_wf_done_cb done, void *arg)
{
    pw_pg_param_t p[5] = { text_of(workflow), text_of(id), pw_pg_bytes(step), pw_pg_bytes(result),
                           pw_pg_int(seq) };
    start(self(b), ST_EVENT_TAKE, p, 5, read_done, done, arg, NULL);
}

static const char *p_error(pw_wf_backend_t *b)
{
    return self(b)->error;
}

/* ---- leases ---- */

static void on_renew(uv_timer_t *timer)
{
    pgwf_t *w = timer->data;
    pw_pg_param_t p[2] = { pw_pg_text(w->node), pw_pg_int(PW_PG_WF_LEASE_MS) };
    start(w, ST_RENEW, p, 2, read_done, NULL, NULL, NULL);
}

static void free_after_close(uv_handle_t *handle)
{
    free(handle->data);
}

static void p_close(pw_wf_backend_t *b)
{
    if (!b)
        return;
    pgwf_t *w = self(b);
    while (!pw_list_empty(&w->ops)) {
        op_t *op = PW_CONTAINER_OF(w->ops.next, op_t, link);
        pw_pg_cancel(op->job);
        pw_list_remove(&op->link);
        free(op);
    }
    uv_timer_stop(&w->renew);
    uv_close((uv_handle_t *)&w->renew, free_after_close);  /* freed if the loop runs again */
}

static const pw_wf_backend_ops_t ops = {
    .create = p_create, .get = p_get, .set = p_set, .unschedule = p_unschedule, .restart = p_restart,
    .due = p_due, .next_wake = p_next_wake, .release = p_release, .step_get = p_step_get,
    .step_put = p_step_put, .event_send = p_event_send, .event_first = p_event_first,
    .event_take = p_event_take, .error = p_error, .close = p_close,
};

int pw_pg_workflow_open(pw_pg_pool_t *pool, const char *node_id, pw_wf_backend_t **out, char *err,
                        size_t err_len)
{
    pgwf_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->base = (pw_wf_backend_t){ .ops = &ops, .poll_ms = PW_PG_WF_POLL_MS };
    w->pool = pool;
    snprintf(w->node, sizeof w->node, "%s", node_id ? node_id : "");
    pw_list_init(&w->ops);
    for (int i = 0; i < N_ST; i++)
        if ((w->st[i] = pw_pg_statement(pool, statements[i])) < 0) {
            snprintf(err, err_len, "workflows: too many PostgreSQL statements");
            free(w);
            return -1;
        }
    uv_timer_init(pw_pg_pool_loop(pool), &w->renew);
    uv_unref((uv_handle_t *)&w->renew);
    w->renew.data = w;
    uv_timer_start(&w->renew, on_renew, PW_PG_WF_RENEW_MS, PW_PG_WF_RENEW_MS);
    *out = &w->base;
    return 0;
}
