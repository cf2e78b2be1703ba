/* d1_cluster.c — a D1 database held by one node of the cluster (host process, the main loop;
 * see d1_cluster.h). An operation is encoded once into fields (name, kind, flags, number,
 * body) and runs from them, here or on the holder's internal port, so both paths are one.
 * An operation's way: held here → run on the SQLite in memory, answer (held back while a
 * save is pending: the output gate); not held → the lease is asked for (one request per
 * database at a time; other operations wait), then either the image is restored from
 * PostgreSQL and the operation runs, or it goes to the holder. A holder that does not answer,
 * or that no longer holds it (421), is asked again until its lease must have expired.
 * Invariant: an operation forwarded here runs here or answers 421: it is never sent on.
 */
#include "host/d1_cluster.h"
#include "base/list.h"
#include "base/log.h"
#include "host/cluster_call.h"
#include "host/cluster_leases.h"
#include "host/cluster_port.h"
#include "host/cluster_ship.h"
#include "storage/d1_sqlite.h"
#include "storage/pg_d1.h"
#include "wire/frame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOVED 421               /* the answer of a node that does not hold the database */
#define MAX_RESULT_FIELDS 8

enum { F_NAME, F_KIND, F_FLAGS, F_NUMBER, F_BODY, N_FIELDS };

struct pw_d1_cluster {
    uv_loop_t *loop;
    pw_cluster_leases_t *leases;
    pw_pg_d1_t *pg;
    pw_fetch_t *fetch;
    char *secret;
    pw_cluster_port_t *port;
    pw_list_t dbs;              /* db_t.link */
};

typedef struct {
    pw_d1_backend_t head;       /* first: the vtable's pointer */
    pw_ship_t ship;
    pw_d1_cluster_t *c;
    pw_list_t link;             /* c->dbs */
    char *name;
    pw_d1_backend_t *inner;     /* SQLite in memory */
    pw_lease_t lease;
    pw_list_t waiting;          /* operations waiting for another one's lease request */
} db_t;

/* One operation on its way: the backend's pending. */
typedef struct pw_d1_pending {
    pw_list_t link;             /* db->waiting */
    db_t *db;
    pw_buf_t req;               /* the encoded fields */
    pw_bytes_t f[N_FIELDS];     /* into req */
    pw_d1_done_cb done;
    void *arg;
    int forwarded;              /* from another node: never sent on */
    int asking;                 /* this one asks for the lease */
    int cancelled;              /* its caller is gone; a held answer frees it */
    uint64_t started, sent, version;
    pw_pg_job_t *job;
    pw_fetch_transfer_t *transfer;
    uv_timer_t *retry;
    pw_buf_t answer;            /* an answer held back by the output gate, encoded */
    pw_cluster_request_t *from; /* forwarded: the request to reply to */
} op_t;

static void op_run(op_t *op);

/* ---- results as bytes: u32 moved, error_name, error, u32 n, fields ---- */

static int encode_result(pw_buf_t *out, uint32_t moved, const pw_d1_result_t *r)
{
    const char *name = r && r->error_name ? r->error_name : "", *error = r && r->error ? r->error : "";
    size_t n = r ? r->n_fields : 0;
    if (pw_frame_put_u32(out, moved) < 0 || pw_frame_put_bytes(out, name, strlen(name)) < 0 ||
        pw_frame_put_bytes(out, error, strlen(error)) < 0 || pw_frame_put_u32(out, (uint32_t)n) < 0)
        return -ENOMEM;
    return n ? pw_cluster_put_fields(out, r->fields, n) : 0;
}

/* Decodes into r (pointing into `in` and the caller's arrays). Returns moved, or -1. */
static int decode_result(pw_bytes_t in, pw_d1_result_t *r, pw_bytes_t *fields, char *name, size_t name_len,
                         char *error, size_t error_len)
{
    pw_cursor_t cur;
    pw_cursor_init(&cur, in.base, in.len);
    uint32_t moved = pw_cursor_u32(&cur);
    pw_bytes_t n_text = pw_cursor_bytes(&cur), e_text = pw_cursor_bytes(&cur);
    uint32_t n = pw_cursor_u32(&cur);
    for (uint32_t i = 0; !cur.failed && i < n && i < MAX_RESULT_FIELDS; i++)
        fields[i] = pw_cursor_bytes(&cur);
    if (cur.failed || n > MAX_RESULT_FIELDS)
        return -1;
    snprintf(name, name_len, "%.*s", (int)n_text.len, n_text.base);
    snprintf(error, error_len, "%.*s", (int)(e_text.len < 2000 ? e_text.len : 2000), e_text.base);
    *r = (pw_d1_result_t){ .error_name = name[0] ? name : NULL, .error = error, .fields = fields,
                           .n_fields = n };
    return (int)moved;
}

/* ---- ending an operation ---- */

static void op_free(op_t *op)
{
    if (pw_list_linked(&op->link))
        pw_list_remove(&op->link);
    pw_lease_retry_free(op->retry);
    pw_buf_free(&op->req);
    pw_buf_free(&op->answer);
    free(op);
}

static void wake_waiting(db_t *db)
{
    db->lease.acquiring = 0;
    pw_list_t again = PW_LIST_INIT(again);
    while (!pw_list_empty(&db->waiting)) {
        pw_list_t *n = db->waiting.next;
        pw_list_remove(n);
        pw_list_push_back(&again, n);
    }
    while (!pw_list_empty(&again)) {
        op_t *w = PW_CONTAINER_OF(again.next, op_t, link);
        pw_list_remove(&w->link);
        pw_list_init(&w->link);
        op_run(w);
    }
}

static void stop_asking(op_t *op)
{
    if (op->asking) {
        op->asking = 0;
        wake_waiting(op->db);
    }
}

/* Answers the caller (a forwarded one: its node, with moved) and frees op. */
static void op_end(op_t *op, uint32_t moved, const pw_d1_result_t *r)
{
    stop_asking(op);
    if (op->from) {
        pw_buf_t out;
        pw_buf_init(&out);
        if (encode_result(&out, moved, r) < 0)
            pw_cluster_port_reply(op->from, 500, pw_bytes_of("out of memory"));
        else
            pw_cluster_port_reply(op->from, 200, (pw_bytes_t){ out.data, out.len });
        pw_buf_free(&out);
    } else {
        op->done(op->arg, r);
    }
    op_free(op);
}

static void op_fail(op_t *op, const char *error)
{
    pw_d1_result_t r = { .error_name = "Error", .error = error };
    op_end(op, 0, &r);
}

static void on_retry(uv_timer_t *t)
{
    op_run(t->data);
}

/* Asks again shortly, while the holder's lease may still run; then gives up. */
static void op_retry(op_t *op, const char *why)
{
    stop_asking(op);
    int rc = pw_lease_retry(op->db->c->leases, &op->retry, op->started, on_retry, op);
    if (rc != 0)
        op_fail(op, rc > 0 ? why : "D1_ERROR: out of memory");
}

/* ---- running here ---- */

/* The output gate let the held answer go (error: the write is not kept). */
static void released(void *arg, const char *error)
{
    op_t *op = arg;
    char name[64], text[2048];
    pw_bytes_t fields[MAX_RESULT_FIELDS];
    pw_d1_result_t r;
    if (op->cancelled)
        return op_free(op);
    if (error)
        return op_fail(op, error);
    if (decode_result((pw_bytes_t){ op->answer.data, op->answer.len }, &r, fields, name, sizeof name, text,
                      sizeof text) < 0)
        return op_fail(op, "D1_ERROR: out of memory");
    op_end(op, 0, &r);
}

static void ran_here(void *arg, const pw_d1_result_t *r)
{
    op_t *op = arg;
    db_t *db = op->db;
    int wrote = pw_d1_sqlite_version(db->inner) != op->version;
    if (!wrote && !pw_ship_busy(&db->ship))
        return op_end(op, 0, r);
    if (encode_result(&op->answer, 0, r) < 0)
        return op_fail(op, "D1_ERROR: out of memory");
    if (wrote)
        pw_ship_commit(&db->ship, released, op);
    else
        pw_ship_gate(&db->ship, released, op);
}

static void run_query(op_t *op, unsigned limit_ms)
{
    pw_d1_pending_t *ignored;
    size_t max = pw_d1_statements_count(op->f[F_BODY]), n;
    pw_d1_statement_t *statements = calloc(max ? max : 1, sizeof *statements);
    if (!statements)
        return op_fail(op, "D1_ERROR: out of memory");
    if (pw_d1_statements_decode(op->f[F_BODY], statements, max, &n) < 0) {
        free(statements);
        return op_fail(op, "D1_ERROR: malformed statements from another node");
    }
    pw_d1_query_t q = { .statements = statements, .n = n, .batch = memchr(op->f[F_FLAGS].base, 'b',
                        op->f[F_FLAGS].len) != NULL, .first_only = memchr(op->f[F_FLAGS].base, 'f',
                        op->f[F_FLAGS].len) != NULL, .limit_ms = limit_ms };
    op->db->inner->ops->query(op->db->inner, &q, ran_here, op, &ignored);
    free(statements);
}

static void run_here(op_t *op)
{
    pw_d1_backend_t *inner = op->db->inner;
    pw_d1_pending_t *ignored;
    int64_t number = 0;
    pw_bytes_to_i64(op->f[F_NUMBER], &number);
    op->version = pw_d1_sqlite_version(inner);
    if (pw_bytes_is(op->f[F_KIND], "query"))
        run_query(op, (unsigned)number);
    else if (pw_bytes_is(op->f[F_KIND], "exec"))
        inner->ops->exec(inner, op->f[F_BODY], (unsigned)number, ran_here, op, &ignored);
    else if (pw_bytes_is(op->f[F_KIND], "dump"))
        inner->ops->dump(inner, (size_t)number, ran_here, op, &ignored);
    else
        op_fail(op, "D1_ERROR: unknown operation from another node");
}

/* ---- going to the holder ---- */

static void forward_answered(void *arg, const pw_fetch_result_t *res)
{
    op_t *op = arg;
    char name[64], text[2048], why[300];
    pw_bytes_t fields[MAX_RESULT_FIELDS];
    pw_d1_result_t r;
    op->transfer = NULL;
    if (res->error) {
        pw_lease_holder(&op->db->lease, (pw_bytes_t){ NULL, 0 });
        return op_retry(op, "D1_ERROR: the node holding the database does not answer");
    }
    if (res->status != 200) {
        snprintf(why, sizeof why, "D1_ERROR: the node holding the database answered %ld: %.*s", res->status,
                 (int)(res->body.len < 200 ? res->body.len : 200), res->body.base);
        return op_fail(op, why);
    }
    int moved = decode_result(res->body, &r, fields, name, sizeof name, text, sizeof text);
    if (moved < 0)
        return op_fail(op, "D1_ERROR: the node holding the database sent a malformed answer");
    if (moved) {
        pw_lease_holder(&op->db->lease, (pw_bytes_t){ NULL, 0 });
        return op_retry(op, "D1_ERROR: the database moved between nodes");
    }
    op_end(op, 0, &r);
}

static void forward(op_t *op, pw_bytes_t address)
{
    pw_d1_cluster_t *c = op->db->c;
    op->transfer = pw_cluster_post(c->fetch, c->secret, address, "/d1", op->f, N_FIELDS, forward_answered, op);
    if (!op->transfer)
        op_fail(op, "D1_ERROR: out of memory");
}

/* ---- taking the lease ---- */

static void loaded(void *arg, const pw_pg_result_t *res)
{
    op_t *op = arg;
    db_t *db = op->db;
    char err[512];
    op->job = NULL;
    if (pw_pg_status(res) != PW_PG_OK)
        return op_fail(op, "D1_ERROR: the database's state in PostgreSQL cannot be read now");
    pw_bytes_t image = pw_pg_rows(res) ? pw_pg_value(res, 0, 0) : (pw_bytes_t){ NULL, 0 };
    if (pw_d1_sqlite_restore(db->inner, image, err, sizeof err) < 0) {
        pw_log_error("cluster: D1 database %s: %s", db->name, err);
        return op_fail(op, "D1_ERROR: the database could not be restored");
    }
    pw_lease_taken(db->c->leases, &db->lease, op->sent);
    stop_asking(op);
    op_run(op);
}

static void acquired(void *arg, const pw_pg_result_t *res)
{
    op_t *op = arg;
    db_t *db = op->db;
    op->job = NULL;
    if (pw_pg_status(res) != PW_PG_OK)
        return op_fail(op, "D1_ERROR: the cluster's state (PostgreSQL) is unreachable");
    if (pw_pg_rows(res) == 0)
        return op_retry(op, "D1_ERROR: the database's lease could not be settled");
    if (pw_bytes_is(pw_pg_value(res, 0, 0), pw_cluster_leases_node(db->c->leases))) {
        pw_lease_holder(&db->lease, (pw_bytes_t){ NULL, 0 });
        if (pw_lease_memory_current(&db->lease, res, pw_cluster_leases_node(db->c->leases))) {
            pw_lease_taken(db->c->leases, &db->lease, op->sent);      /* it only lapsed here */
            stop_asking(op);
            return op_run(op);
        }
        if (!(op->job = pw_pg_d1_load(db->c->pg, db->name, loaded, op)))
            op_fail(op, "D1_ERROR: out of memory");
        return;
    }
    stop_asking(op);
    if (op->forwarded)
        return op_end(op, MOVED, NULL);
    if (pw_pg_is_null(res, 0, 1))
        return op_retry(op, "D1_ERROR: the database is held by a node with no --cluster-address");
    pw_lease_holder(&db->lease, pw_pg_value(res, 0, 1));
    forward(op, pw_pg_value(res, 0, 1));
}

static void ask_lease(op_t *op)
{
    db_t *db = op->db;
    db->lease.acquiring = 1;
    op->asking = 1;
    op->sent = pw_cluster_leases_now(db->c->leases);
    if (!(op->job = pw_pg_lease_acquire(pw_cluster_leases_pg(db->c->leases), PW_LEASE_D1, db->name, acquired,
                                        op)))
        op_fail(op, "D1_ERROR: out of memory");
}

static void op_run(op_t *op)
{
    db_t *db = op->db;
    if (pw_lease_held(db->c->leases, &db->lease))
        run_here(op);
    else if (db->lease.holder && !op->forwarded)    /* sent where it was; a refusal asks again */
        forward(op, pw_bytes_of(db->lease.holder));
    else if (db->lease.acquiring)
        pw_list_push_back(&db->waiting, &op->link);
    else
        ask_lease(op);
}

/* ---- operations: the backend's vtable ---- */

/* A new operation of db with its fields (number: the time limit, or dump's size limit). */
static op_t *op_new(db_t *db, const char *kind, const char *flags, uint64_t number, pw_bytes_t body)
{
    op_t *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    char number_text[24];
    snprintf(number_text, sizeof number_text, "%llu", (unsigned long long)number);
    pw_bytes_t f[N_FIELDS] = { pw_bytes_of(db->name), pw_bytes_of(kind), pw_bytes_of(flags),
                               pw_bytes_of(number_text), body };
    pw_buf_init(&op->req);
    pw_buf_init(&op->answer);
    pw_list_init(&op->link);
    if (pw_cluster_put_fields(&op->req, f, N_FIELDS) < 0) {
        pw_buf_free(&op->req);
        free(op);
        return NULL;
    }
    pw_cursor_t cur;
    pw_cursor_init(&cur, op->req.data, op->req.len);
    for (int i = 0; i < N_FIELDS; i++)
        op->f[i] = pw_cursor_bytes(&cur);
    op->db = db;
    op->started = pw_cluster_leases_now(db->c->leases);
    return op;
}

static void start(op_t *op, pw_d1_done_cb done, void *arg, pw_d1_pending_t **pending)
{
    op->done = done;
    op->arg = arg;
    *pending = op;
    op_run(op);
}

static void out_of_memory(pw_d1_done_cb done, void *arg, pw_d1_pending_t **pending)
{
    pw_d1_result_t r = { .error_name = "Error", .error = "D1_ERROR: out of memory" };
    *pending = NULL;
    done(arg, &r);
}

static void db_query(pw_d1_backend_t *b, const pw_d1_query_t *q, pw_d1_done_cb done, void *arg,
                     pw_d1_pending_t **pending)
{
    pw_buf_t body;
    pw_buf_init(&body);
    char flags[3] = { q->batch ? 'b' : '-', q->first_only ? 'f' : '-', '\0' };
    op_t *op = pw_d1_statements_encode(q->statements, q->n, &body) < 0 ? NULL :
        op_new((db_t *)b, "query", flags, q->limit_ms, (pw_bytes_t){ body.data, body.len });
    pw_buf_free(&body);
    if (!op)
        return out_of_memory(done, arg, pending);
    start(op, done, arg, pending);
}

static void db_exec(pw_d1_backend_t *b, pw_bytes_t sql, unsigned limit_ms, pw_d1_done_cb done, void *arg,
                    pw_d1_pending_t **pending)
{
    op_t *op = op_new((db_t *)b, "exec", "", limit_ms, sql);
    if (!op)
        return out_of_memory(done, arg, pending);
    start(op, done, arg, pending);
}

static void db_dump(pw_d1_backend_t *b, size_t max_bytes, pw_d1_done_cb done, void *arg,
                    pw_d1_pending_t **pending)
{
    op_t *op = op_new((db_t *)b, "dump", "", max_bytes, pw_bytes_of(""));
    if (!op)
        return out_of_memory(done, arg, pending);
    start(op, done, arg, pending);
}

static void db_cancel(pw_d1_pending_t *op)
{
    if (!op)
        return;
    if (op->answer.len) {       /* held by the output gate: released() frees it */
        op->cancelled = 1;
        return;
    }
    pw_pg_cancel(op->job);
    pw_fetch_abort(op->transfer);
    stop_asking(op);
    op_free(op);
}

static void db_close(pw_d1_backend_t *b)
{
    db_t *db = (db_t *)b;
    pw_list_remove(&db->link);
    db->inner->ops->close(db->inner);
    pw_lease_free(&db->lease);
    free(db->name);
    free(db);
}

static const pw_d1_backend_ops_t db_ops = {
    .query = db_query, .exec = db_exec, .dump = db_dump, .cancel = db_cancel, .close = db_close,
};

/* ---- shipping the image (host/cluster_ship.h) ---- */

static pw_pg_job_t *db_save(pw_ship_t *sh, pw_pg_cb cb, void *cb_arg)
{
    db_t *db = PW_CONTAINER_OF(sh, db_t, ship);
    pw_buf_t image;
    pw_buf_init(&image);
    pw_pg_job_t *job = pw_d1_sqlite_image(db->inner, &image) < 0 ? NULL :
        pw_pg_d1_save(db->c->pg, db->name, (pw_bytes_t){ image.data, image.len }, cb, cb_arg);
    pw_buf_free(&image);
    return job;
}

/* The next operation restores what PostgreSQL has. */
static void db_lost(pw_ship_t *sh)
{
    PW_CONTAINER_OF(sh, db_t, ship)->lease.until = 0;
}

static void db_idle(pw_ship_t *sh)
{
    (void)sh;                   /* the database lives as long as the host */
}

static const pw_ship_ops_t ship_ops = { .what = "D1_ERROR", .save = db_save, .lost = db_lost,
                                        .idle = db_idle };

int pw_d1_cluster_database(pw_d1_cluster_t *c, const char *name, pw_d1_backend_t **out, char *err,
                           size_t err_len)
{
    db_t *db = calloc(1, sizeof *db);
    if (!db || !(db->name = strdup(name))) {
        free(db);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    if (pw_d1_sqlite_open(NULL, &db->inner, err, err_len) < 0) {
        free(db->name);
        free(db);
        return -1;
    }
    db->head.ops = &db_ops;
    db->c = c;
    pw_ship_init(&db->ship, &ship_ops);
    pw_list_init(&db->waiting);
    pw_list_push_back(&c->dbs, &db->link);
    *out = &db->head;
    return 0;
}

/* ---- operations from other nodes ---- */

static void on_request(void *arg, pw_cluster_request_t *req, pw_bytes_t target, pw_bytes_t body)
{
    pw_d1_cluster_t *c = arg;
    pw_cursor_t cur;
    pw_bytes_t f[N_FIELDS];
    (void)target;
    pw_cursor_init(&cur, body.base, body.len);
    for (int i = 0; i < N_FIELDS; i++)
        f[i] = pw_cursor_bytes(&cur);
    if (cur.failed || cur.pos != cur.end)
        return pw_cluster_port_reply(req, 400, pw_bytes_of("malformed D1 operation"));
    db_t *db = NULL;
    for (pw_list_t *n = c->dbs.next; n != &c->dbs && !db; n = n->next)
        if (pw_bytes_is(f[F_NAME], PW_CONTAINER_OF(n, db_t, link)->name))
            db = PW_CONTAINER_OF(n, db_t, link);
    if (!db)
        return pw_cluster_port_reply(req, 404, pw_bytes_of("no such D1 database on this node"));
    char flags[8];
    snprintf(flags, sizeof flags, "%.*s", (int)(f[F_FLAGS].len < 7 ? f[F_FLAGS].len : 7), f[F_FLAGS].base);
    char kind[8];
    snprintf(kind, sizeof kind, "%.*s", (int)(f[F_KIND].len < 7 ? f[F_KIND].len : 7), f[F_KIND].base);
    int64_t number = 0;
    if (pw_bytes_to_i64(f[F_NUMBER], &number) < 0 || number < 0)
        return pw_cluster_port_reply(req, 400, pw_bytes_of("malformed D1 operation"));
    op_t *op = op_new(db, kind, flags, (uint64_t)number, f[F_BODY]);
    if (!op)
        return pw_cluster_port_reply(req, 500, pw_bytes_of("out of memory"));
    op->forwarded = 1;
    op->from = req;
    op_run(op);
}

int pw_d1_cluster_open(const pw_binding_env_t *env, pw_d1_cluster_t **out, char *err, size_t err_len)
{
    pw_d1_cluster_t *c = calloc(1, sizeof *c);
    if (!c || !(c->secret = strdup(env->cluster->secret ? env->cluster->secret : "")) ||
        !(c->pg = pw_pg_d1_open(env->pg, env->cluster->node_id))) {
        if (c)
            free(c->secret);
        free(c);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    c->loop = env->loop;
    c->leases = env->cluster->leases;
    c->fetch = env->fetch;
    c->port = env->cluster->port;
    pw_list_init(&c->dbs);
    if (c->port && pw_cluster_port_serve(c->port, "/d1", on_request, c) < 0) {
        pw_d1_cluster_close(c);
        return snprintf(err, err_len, "the internal port serves too many paths"), -1;
    }
    *out = c;
    return 0;
}

void pw_d1_cluster_close(pw_d1_cluster_t *c)
{
    if (!c)
        return;
    if (c->port)
        pw_cluster_port_serve(c->port, "/d1", NULL, NULL);
    pw_pg_d1_close(c->pg);
    free(c->secret);
    free(c);
}
