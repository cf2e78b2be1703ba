/* pg_pool.c — PostgreSQL connections on the host's loop (host process, the owning loop's
 * thread; see pg_pool.h). Each connection is a small state machine driven by its socket's
 * uv_poll_t: DOWN → CONNECTING (PQconnectPoll) → IDLE → [PREPARING (PQsendPrepare, once per
 * statement and connection)] → BUSY (PQsendQueryPrepared, PQflush, PQconsumeInput) → IDLE.
 * Jobs wait in one FIFO list for an idle connection. A periodic tick reconnects connections
 * that are down, fails jobs that waited too long and drops connections whose statement hangs.
 * Callbacks never run inside pw_pg_run: failures found there are handed to a 0 ms timer.
 * Invariant: a connection has at most one job; a job is in exactly one place (the waiting
 * list, the failed list, or a connection) until its callback runs or it is cancelled.
 */
#include "storage/pg_pool.h"
#include "base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 200
#define RETRY_MS 250                /* a connection that is down tries again after */
#define CONNECT_MS 5000             /* a connection attempt taking longer is dropped */
#define ERROR_MAX 512

/* Type OIDs of the results we decode (pg_type.h). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23

typedef enum { C_DOWN, C_CONNECTING, C_IDLE, C_PREPARING, C_BUSY } conn_state_t;

typedef struct conn conn_t;

/* A socket's watcher; freed when its close completes (the connection may be gone by then). */
typedef struct {
    uv_poll_t handle;
    conn_t *conn;
} watcher_t;

struct conn {
    pw_pg_pool_t *pool;
    PGconn *pg;
    conn_state_t state;
    watcher_t *watcher;
    int fd, events;
    pw_pg_job_t *job;
    int sent;                   /* the job's statement left (a failure now is not retried) */
    PGresult *result;           /* the job's result while more are read */
    uint64_t prepared;          /* bit i: statement i is prepared on this connection */
    uint64_t since_ms;          /* the connection attempt's or the job's start; DOWN: when */
};

struct pw_pg_job {
    pw_pg_job_t *next;
    pw_pg_pool_t *pool;
    int stmt;
    int n;
    const char *values[PW_PG_MAX_PARAMS];
    int lengths[PW_PG_MAX_PARAMS];
    int formats[PW_PG_MAX_PARAMS];
    pw_pg_cb cb;                /* NULL: cancelled */
    void *arg;
    uint64_t queued_ms;
    conn_t *conn;               /* where it runs; NULL: a list */
    char data[];                /* the parameters' bytes */
};

typedef struct {
    pw_pg_job_t *head, *tail;
} job_list_t;

struct pw_pg_pool {
    uv_loop_t *loop;
    char *url;
    conn_t conns[PW_PG_POOL_SIZE];
    char *statements[PW_PG_MAX_STATEMENTS];
    int n_statements;
    job_list_t waiting, failed;
    uv_timer_t *tick, *kick;
    int was_up;                 /* for the log lines when it goes down and comes back */
    char last_error[ERROR_MAX];
};

struct pw_pg_result {
    pw_pg_status_t status;
    PGresult *res;
    const char *error;
};

/* ---- parameters ---- */

pw_pg_param_t pw_pg_bytes(pw_bytes_t b)
{
    return (pw_pg_param_t){ .data = b.base ? (const void *)b.base : "", .len = b.len, .binary = 1 };
}

pw_pg_param_t pw_pg_text(const char *s)
{
    return (pw_pg_param_t){ .data = s, .len = strlen(s) };
}

int pw_pg_bytea_array(const pw_bytes_t *items, size_t n, pw_buf_t *out)
{
    static const char digits[] = "0123456789abcdef";
    int rc = pw_buf_append(out, "{", 1);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = pw_buf_append(out, i ? ",\"\\\\x" : "\"\\\\x", i ? 5 : 4);
        for (size_t k = 0; rc == 0 && k < items[i].len; k++) {
            uint8_t c = items[i].base[k];
            char hex[2] = { digits[c >> 4], digits[c & 15] };
            rc = pw_buf_append(out, hex, 2);
        }
        if (rc == 0)
            rc = pw_buf_append(out, "\"", 1);
    }
    return rc == 0 ? pw_buf_append(out, "}", 1) : rc;
}

pw_pg_param_t pw_pg_int(int64_t v)
{
    pw_pg_param_t p = { 0 };
    p.len = (size_t)snprintf(p.num, sizeof p.num, "%" PRId64, v);
    return p;
}

pw_pg_param_t pw_pg_null(void)
{
    return (pw_pg_param_t){ .is_null = 1 };
}

/* ---- results ---- */

pw_pg_status_t pw_pg_status(const pw_pg_result_t *r) { return r->status; }
const char *pw_pg_error(const pw_pg_result_t *r) { return r->error ? r->error : ""; }

const char *pw_pg_sqlstate(const pw_pg_result_t *r)
{
    const char *s = r->res ? PQresultErrorField(r->res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

size_t pw_pg_rows(const pw_pg_result_t *r)
{
    return r->res && r->status == PW_PG_OK ? (size_t)PQntuples(r->res) : 0;
}

long pw_pg_affected(const pw_pg_result_t *r)
{
    const char *n = r->res ? PQcmdTuples(r->res) : "";
    return *n ? strtol(n, NULL, 10) : 0;
}

int pw_pg_is_null(const pw_pg_result_t *r, size_t row, int col)
{
    return PQgetisnull(r->res, (int)row, col);
}

pw_bytes_t pw_pg_value(const pw_pg_result_t *r, size_t row, int col)
{
    return (pw_bytes_t){ (const uint8_t *)PQgetvalue(r->res, (int)row, col),
                         (size_t)PQgetlength(r->res, (int)row, col) };
}

int64_t pw_pg_i64(const pw_pg_result_t *r, size_t row, int col)
{
    if (PQgetisnull(r->res, (int)row, col))
        return 0;
    const uint8_t *v = (const uint8_t *)PQgetvalue(r->res, (int)row, col);
    size_t len = (size_t)PQgetlength(r->res, (int)row, col);
    Oid type = PQftype(r->res, col);
    if (type != OID_INT8 && type != OID_INT4 && type != OID_INT2 && type != OID_BOOL)
        return 0;
    uint64_t u = len && (v[0] & 0x80) ? UINT64_MAX : 0;    /* sign-extend the big-endian bytes */
    for (size_t i = 0; i < len && i < 8; i++)
        u = u << 8 | v[i];
    return (int64_t)u;
}

/* ---- job lists ---- */

static uint64_t now_ms(const pw_pg_pool_t *p)
{
    return uv_now(p->loop);
}

static void list_push(job_list_t *l, pw_pg_job_t *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static void list_push_front(job_list_t *l, pw_pg_job_t *j)
{
    j->next = l->head;
    l->head = j;
    if (!l->tail)
        l->tail = j;
}

static pw_pg_job_t *list_pop(job_list_t *l)
{
    pw_pg_job_t *j = l->head;
    if (j && !(l->head = j->next))
        l->tail = NULL;
    return j;
}

static int list_remove(job_list_t *l, pw_pg_job_t *j)
{
    pw_pg_job_t *prev = NULL;
    for (pw_pg_job_t *x = l->head; x; prev = x, x = x->next)
        if (x == j) {
            if (prev)
                prev->next = x->next;
            else
                l->head = x->next;
            if (l->tail == x)
                l->tail = prev;
            return 1;
        }
    return 0;
}

/* ---- finishing jobs ---- */

static void job_finish(pw_pg_job_t *j, pw_pg_status_t status, PGresult *res, const char *error)
{
    pw_pg_result_t r = { .status = status, .res = res, .error = error };
    if (j->cb)
        j->cb(j->arg, &r);
    free(j);
}

static void on_kick(uv_timer_t *t)
{
    pw_pg_pool_t *p = t->data;
    pw_pg_job_t *j;
    while ((j = list_pop(&p->failed)))
        job_finish(j, PW_PG_UNAVAILABLE, NULL, p->last_error);
}

/* Hands a job to the 0 ms timer, which fails it as unavailable (never inside pw_pg_run). */
static void job_defer_failure(pw_pg_pool_t *p, pw_pg_job_t *j)
{
    j->conn = NULL;
    list_push(&p->failed, j);
    uv_timer_start(p->kick, on_kick, 0, 0);
}

static int usable(const conn_t *c)
{
    return c->state != C_DOWN;
}

uv_loop_t *pw_pg_pool_loop(pw_pg_pool_t *p)
{
    return p->loop;
}

int pw_pg_pool_connected(const pw_pg_pool_t *p)
{
    for (size_t i = 0; i < PW_PG_POOL_SIZE; i++)
        if (p->conns[i].state >= C_IDLE)
            return 1;
    return 0;
}

/* No connection is up or on its way: waiting jobs fail now rather than wait. */
static void fail_waiting_if_all_down(pw_pg_pool_t *p)
{
    for (size_t i = 0; i < PW_PG_POOL_SIZE; i++)
        if (usable(&p->conns[i]))
            return;
    pw_pg_job_t *j;
    while ((j = list_pop(&p->waiting)))
        job_defer_failure(p, j);
}

static void note_up(pw_pg_pool_t *p)
{
    if (!p->was_up)
        pw_log_info("PostgreSQL: connected");
    else if (p->was_up < 0)
        pw_log_error("PostgreSQL: reachable again");
    p->was_up = 1;
}

static void note_down(pw_pg_pool_t *p, const char *why)
{
    snprintf(p->last_error, sizeof p->last_error, "%s", why && *why ? why : "connection lost");
    size_t len = strlen(p->last_error);
    while (len && (p->last_error[len - 1] == '\n' || p->last_error[len - 1] == ' '))
        p->last_error[--len] = '\0';
    if (p->was_up > 0 && !pw_pg_pool_connected(p)) {
        pw_log_error("PostgreSQL: unreachable (%s); state calls answer 503 until it is back",
                     p->last_error);
        p->was_up = -1;
    }
}

/* ---- the socket ---- */

static void on_poll(uv_poll_t *h, int status, int events);

static void free_watcher(uv_handle_t *h)
{
    free(h);
}

static void unwatch(conn_t *c)
{
    if (!c->watcher)
        return;
    uv_poll_stop(&c->watcher->handle);
    uv_close((uv_handle_t *)&c->watcher->handle, free_watcher);
    c->watcher = NULL;
    c->events = 0;
}

static void conn_down(conn_t *c, const char *why);

/* Watches the connection's socket for `events` (libpq may change the socket while it
 * connects). */
static void watch(conn_t *c, int events)
{
    int fd = PQsocket(c->pg);
    if (fd < 0)
        return conn_down(c, "no socket");
    if (c->watcher && c->fd != fd)
        unwatch(c);
    if (!c->watcher) {
        watcher_t *w = calloc(1, sizeof *w);
        if (!w || uv_poll_init(c->pool->loop, &w->handle, fd) < 0) {
            free(w);
            return conn_down(c, "cannot watch the connection's socket");
        }
        uv_unref((uv_handle_t *)&w->handle);   /* the host's shutdown does not wait for it */
        w->conn = c;
        w->handle.data = w;
        c->watcher = w;
        c->fd = fd;
        c->events = 0;
    }
    if (c->events != events && uv_poll_start(&c->watcher->handle, events, on_poll) == 0)
        c->events = events;
}

/* ---- connections ---- */

static void dispatch(pw_pg_pool_t *p);

static void conn_down(conn_t *c, const char *why)
{
    pw_pg_pool_t *p = c->pool;
    char text[ERROR_MAX];
    snprintf(text, sizeof text, "%s", why);
    unwatch(c);
    if (c->result)
        PQclear(c->result);
    c->result = NULL;
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    c->state = C_DOWN;
    c->since_ms = now_ms(p);
    c->prepared = 0;
    note_down(p, text);
    pw_pg_job_t *j = c->job;
    c->job = NULL;
    if (j && !c->sent) {            /* never reached the server: another connection runs it */
        j->conn = NULL;
        list_push_front(&p->waiting, j);
    } else if (j) {
        job_defer_failure(p, j);
    }
    fail_waiting_if_all_down(p);
    dispatch(p);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void conn_start(conn_t *c)
{
    pw_pg_pool_t *p = c->pool;
    c->since_ms = now_ms(p);
    c->pg = PQconnectStart(p->url);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD)
        return conn_down(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
    PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
    PQsetnonblocking(c->pg, 1);
    c->state = C_CONNECTING;
    watch(c, UV_WRITABLE);
}

static void connect_step(conn_t *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        return watch(c, UV_READABLE);
    case PGRES_POLLING_WRITING:
        return watch(c, UV_WRITABLE);
    case PGRES_POLLING_OK:
        c->state = C_IDLE;
        c->prepared = 0;
        note_up(c->pool);
        watch(c, UV_READABLE);
        return dispatch(c->pool);
    default:
        return conn_down(c, PQerrorMessage(c->pg));
    }
}

/* An idle connection's socket is readable: a notice, or the server closing it. */
static void idle_read(conn_t *c)
{
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD)
        return conn_down(c, PQerrorMessage(c->pg));
    PGnotify *n;
    while ((n = PQnotifies(c->pg)))
        PQfreemem(n);
}

/* ---- running a job ---- */

static void flush(conn_t *c)
{
    int rc = PQflush(c->pg);
    if (rc < 0)
        return conn_down(c, PQerrorMessage(c->pg));
    watch(c, rc == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

static void statement_name(int stmt, char out[16])
{
    snprintf(out, 16, "pw%d", stmt);
}

static void send_job(conn_t *c)
{
    pw_pg_job_t *j = c->job;
    char name[16];
    statement_name(j->stmt, name);
    int ok;
    if (!(c->prepared & (1ull << j->stmt))) {
        c->state = C_PREPARING;
        ok = PQsendPrepare(c->pg, name, c->pool->statements[j->stmt], 0, NULL);
    } else {
        c->state = C_BUSY;
        ok = PQsendQueryPrepared(c->pg, name, j->n, j->values, j->lengths, j->formats, 1);
        c->sent = ok;
    }
    if (!ok)
        return conn_down(c, PQerrorMessage(c->pg));
    flush(c);
}

/* How a finished statement's result reads: SQLSTATE class 08 (connection), 57P (shutdown)
 * and a connection gone bad are "unavailable". */
static pw_pg_status_t classify(conn_t *c, PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return PW_PG_OK;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(c->pg) == CONNECTION_BAD || !state || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P", 3) == 0)
        return PW_PG_UNAVAILABLE;
    return PW_PG_ERROR;
}

static void error_text(PGresult *res, conn_t *c, char *out, size_t len)
{
    const char *m = res ? PQresultErrorMessage(res) : "";
    snprintf(out, len, "%s", *m ? m : PQerrorMessage(c->pg));
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
}

/* The statement (or its preparation) ended with `res`. */
static void job_result(conn_t *c, PGresult *res)
{
    pw_pg_job_t *j = c->job;
    pw_pg_status_t st = classify(c, res);
    if (c->state == C_PREPARING && st == PW_PG_OK) {
        PQclear(res);
        c->prepared |= 1ull << j->stmt;
        return send_job(c);
    }
    char why[ERROR_MAX] = "";
    if (st != PW_PG_OK)
        error_text(res, c, why, sizeof why);
    if (st == PW_PG_UNAVAILABLE) {      /* the connection is gone: the job fails with it */
        PQclear(res);
        c->sent = 1;
        return conn_down(c, why);
    }
    c->job = NULL;
    c->state = C_IDLE;
    watch(c, UV_READABLE);
    job_finish(j, st, res, why);
    PQclear(res);
    dispatch(c->pool);
}

static void busy_read(conn_t *c)
{
    if (!PQconsumeInput(c->pg))
        return conn_down(c, PQerrorMessage(c->pg));
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            PGresult *res = c->result;
            c->result = NULL;
            return job_result(c, res);
        }
        if (!c->result || PQresultStatus(r) == PGRES_FATAL_ERROR) {
            if (c->result)
                PQclear(c->result);
            c->result = r;
        } else {
            PQclear(r);
        }
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    watcher_t *w = h->data;
    conn_t *c = w->conn;
    if (status < 0)
        events = UV_READABLE | UV_WRITABLE;    /* libpq finds out what is wrong */
    switch (c->state) {
    case C_CONNECTING:
        return connect_step(c);
    case C_IDLE:
        return idle_read(c);
    case C_PREPARING:
    case C_BUSY:
        if (events & UV_WRITABLE) {
            flush(c);
            if (c->watcher != w || !c->job)
                return;
        }
        if (events & UV_READABLE)
            busy_read(c);
        return;
    default:
        return;
    }
}

static void dispatch(pw_pg_pool_t *p)
{
    for (size_t i = 0; i < PW_PG_POOL_SIZE && p->waiting.head; i++) {
        conn_t *c = &p->conns[i];
        if (c->state != C_IDLE)
            continue;
        pw_pg_job_t *j = list_pop(&p->waiting);
        j->conn = c;
        c->job = j;
        c->sent = 0;
        c->since_ms = now_ms(p);
        send_job(c);
    }
}

/* ---- the tick: reconnecting, deadlines ---- */

static void expire_waiting(pw_pg_pool_t *p)
{
    uint64_t now = now_ms(p);
    while (p->waiting.head && now - p->waiting.head->queued_ms >= PW_PG_WAIT_MS) {
        snprintf(p->last_error, sizeof p->last_error, "no connection to PostgreSQL became free "
                 "within %d ms", PW_PG_WAIT_MS);
        job_defer_failure(p, list_pop(&p->waiting));
    }
}

static void on_tick(uv_timer_t *t)
{
    pw_pg_pool_t *p = t->data;
    uint64_t now = now_ms(p);
    for (size_t i = 0; i < PW_PG_POOL_SIZE; i++) {
        conn_t *c = &p->conns[i];
        if (c->state == C_DOWN && now - c->since_ms >= RETRY_MS)
            conn_start(c);
        else if (c->state == C_CONNECTING && now - c->since_ms >= CONNECT_MS)
            conn_down(c, "timed out connecting");
        else if ((c->state == C_BUSY || c->state == C_PREPARING) && now - c->since_ms >= PW_PG_QUERY_MS) {
            c->sent = 1;
            conn_down(c, "a statement took too long; its connection was dropped");
        }
    }
    expire_waiting(p);
}

/* ---- the pool ---- */

static uv_timer_t *new_timer(pw_pg_pool_t *p)
{
    uv_timer_t *t = calloc(1, sizeof *t);
    if (t) {
        uv_timer_init(p->loop, t);
        uv_unref((uv_handle_t *)t);
        t->data = p;
    }
    return t;
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

int pw_pg_pool_open(uv_loop_t *loop, const char *url, pw_pg_pool_t **out, char *err, size_t err_len)
{
    pw_pg_pool_t *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(url))) {
        free(p);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    p->loop = loop;
    p->tick = new_timer(p);
    p->kick = new_timer(p);
    if (!p->tick || !p->kick) {
        snprintf(err, err_len, "out of memory");
        pw_pg_pool_close(p);
        return -1;
    }
    uv_timer_start(p->tick, on_tick, TICK_MS, TICK_MS);
    for (size_t i = 0; i < PW_PG_POOL_SIZE; i++) {
        p->conns[i].pool = p;
        conn_start(&p->conns[i]);
    }
    *out = p;
    return 0;
}

static void drop_jobs(job_list_t *l)
{
    pw_pg_job_t *j;
    while ((j = list_pop(l)))
        free(j);
}

void pw_pg_pool_close(pw_pg_pool_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < PW_PG_POOL_SIZE; i++) {
        conn_t *c = &p->conns[i];
        unwatch(c);
        if (c->result)
            PQclear(c->result);
        if (c->pg)
            PQfinish(c->pg);
        free(c->job);
    }
    drop_jobs(&p->waiting);
    drop_jobs(&p->failed);
    for (uv_timer_t **t = (uv_timer_t *[]){ p->tick, p->kick, NULL }; *t; t++)
        uv_close((uv_handle_t *)*t, free_timer);
    for (int i = 0; i < p->n_statements; i++)
        free(p->statements[i]);
    free(p->url);
    free(p);
}

int pw_pg_statement(pw_pg_pool_t *p, const char *sql)
{
    for (int i = 0; i < p->n_statements; i++)
        if (strcmp(p->statements[i], sql) == 0)
            return i;
    if (p->n_statements == PW_PG_MAX_STATEMENTS || !(p->statements[p->n_statements] = strdup(sql)))
        return -1;
    return p->n_statements++;
}

pw_pg_job_t *pw_pg_run(pw_pg_pool_t *p, int stmt, const pw_pg_param_t *params, size_t n,
                       pw_pg_cb cb, void *arg)
{
    size_t bytes = 0;
    if (n > PW_PG_MAX_PARAMS || stmt < 0 || stmt >= p->n_statements)
        return NULL;
    for (size_t i = 0; i < n; i++)
        bytes += params[i].len + 1;     /* text parameters are read up to a NUL */
    pw_pg_job_t *j = calloc(1, sizeof *j + bytes);
    if (!j)
        return NULL;
    *j = (pw_pg_job_t){ .pool = p, .stmt = stmt, .n = (int)n, .cb = cb, .arg = arg,
                        .queued_ms = now_ms(p) };
    char *at = j->data;
    for (size_t i = 0; i < n; i++) {
        const pw_pg_param_t *x = &params[i];
        if (x->is_null)
            continue;
        memcpy(at, x->data ? x->data : x->num, x->len);
        j->values[i] = at;
        j->lengths[i] = (int)x->len;
        j->formats[i] = x->binary;
        at += x->len;
        *at++ = '\0';
    }
    list_push(&p->waiting, j);
    fail_waiting_if_all_down(p);
    dispatch(p);
    return j;
}

void pw_pg_cancel(pw_pg_job_t *j)
{
    if (!j)
        return;
    pw_pg_pool_t *p = j->pool;
    if (!j->conn && (list_remove(&p->waiting, j) || list_remove(&p->failed, j))) {
        free(j);
        return;
    }
    j->cb = NULL;               /* its connection finishes it and frees it */
}
