/* pg_kv.c — KV operations on PostgreSQL (host process, the pool's loop; see pg_kv.h). Each
 * operation is one prepared statement; its answer is laid out from the result as
 * storage/kv_backend.h says, while the result is valid (during the pool's callback). A bulk
 * get is one statement over an array of keys; a listing reads one row more than asked to
 * know whether more follow, and bounds the prefix by its successor so the index does the work.
 * Invariant: an operation's done() runs exactly once, from the loop, unless cancelled.
 */
#include "storage/pg_kv.h"
#include "storage/kv_common.h"
#include "wire/rpc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PURGE_EVERY 1024        /* writes between purges of expired entries */

enum { ST_GET, ST_GET_MANY, ST_PUT, ST_DELETE, ST_LIST, ST_PURGE, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    [ST_GET] = "SELECT value, metadata, expiration FROM pw_kv WHERE namespace = $1 AND key = $2::bytea "
               "AND (expiration IS NULL OR expiration > $3::int8)",
    [ST_GET_MANY] = "SELECT key, value, metadata FROM pw_kv WHERE namespace = $1 "
                    "AND key = ANY ($2::bytea[]) AND (expiration IS NULL OR expiration > $3::int8)",
    [ST_PUT] = "INSERT INTO pw_kv (namespace, key, value, expiration, metadata) "
               "VALUES ($1, $2::bytea, $3::bytea, $4::int8, $5::bytea) ON CONFLICT (namespace, key) "
               "DO UPDATE SET value = EXCLUDED.value, expiration = EXCLUDED.expiration, "
               "metadata = EXCLUDED.metadata",
    [ST_DELETE] = "DELETE FROM pw_kv WHERE namespace = $1 AND key = $2::bytea",
    [ST_LIST] = "SELECT key, expiration, metadata FROM pw_kv WHERE namespace = $1 AND key >= $2::bytea "
                "AND key > $3::bytea AND ($4::bytea IS NULL OR key < $4::bytea) "
                "AND (expiration IS NULL OR expiration > $5::int8) ORDER BY key LIMIT $6::int8",
    [ST_PURGE] = "DELETE FROM pw_kv WHERE expiration IS NOT NULL AND expiration <= $1::int8",
};

typedef struct {
    pw_kv_backend_t head;       /* first: the vtable's pointer */
    pw_pg_pool_t *pool;
    char *ns;
    int st[ST_COUNT];
    unsigned writes;
} pgkv_t;

/* One operation in flight: its pw_kv_pending_t. */
typedef struct {
    pw_pg_job_t *job;
    pw_kv_done_cb done;
    void *arg;
    const char *what;           /* "GET", "PUT", "DELETE" for messages */
    unsigned limit;             /* list */
    size_t n_keys;              /* get_many: the keys asked, in order */
    pw_bytes_t keys[PW_KV_MAX_BULK];
    uint8_t key_data[];
} op_t;

static void answer(op_t *op, const pw_bytes_t *fields, size_t n)
{
    pw_kv_result_t r = { .fields = fields, .n_fields = n };
    op->done(op->arg, &r);
}

static void ok(op_t *op)
{
    pw_bytes_t f[1] = { pw_bytes_of("") };
    answer(op, f, 1);
}

/* A failed statement: 503 while PostgreSQL cannot be reached, else 500. 1 when it failed. */
static int failed(op_t *op, const pw_pg_result_t *r)
{
    pw_pg_status_t st = pw_pg_status(r);
    if (st == PW_PG_OK)
        return 0;
    char msg[1024];
    int down = st == PW_PG_UNAVAILABLE;
    snprintf(msg, sizeof msg, "KV %s failed: %s (PostgreSQL: %s)", op->what,
             down ? "503 Service Unavailable" : "500 Internal Server Error", pw_pg_error(r));
    pw_kv_result_t res = { .error_name = down ? PW_RPC_UNAVAILABLE : "Error", .error = msg };
    op->done(op->arg, &res);
    return 1;
}

static op_t *op_new(pw_kv_done_cb done, void *arg, const char *what, size_t extra)
{
    op_t *op = calloc(1, sizeof *op + extra);
    if (op)
        *op = (op_t){ .done = done, .arg = arg, .what = what };
    return op;
}

/* Starts statement `which`; the op is answered by `cb`. On failure to start, answers now. */
static void start(pgkv_t *kv, op_t *op, int which, const pw_pg_param_t *params, size_t n,
                  pw_pg_cb cb, pw_kv_done_cb done, void *arg, pw_kv_pending_t **pending)
{
    *pending = NULL;
    if (op && (op->job = pw_pg_run(kv->pool, kv->st[which], params, n, cb, op))) {
        *pending = (pw_kv_pending_t *)op;
        return;
    }
    free(op);
    pw_kv_result_t r = { .error_name = "Error", .error = "KV: out of memory" };
    done(arg, &r);
}

/* ---- get ---- */

static void got(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    if (!failed(op, r) && pw_pg_rows(r) == 0)
        ok(op);
    else if (pw_pg_status(r) == PW_PG_OK) {
        char exp[24] = "";
        if (!pw_pg_is_null(r, 0, 2))
            snprintf(exp, sizeof exp, "%" PRId64, pw_pg_i64(r, 0, 2));
        pw_bytes_t out[4] = { pw_bytes_of(""), pw_pg_value(r, 0, 0), pw_pg_value(r, 0, 1),
                              pw_bytes_of(exp) };
        answer(op, out, 4);
    }
    free(op);
}

static void pg_get(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                   pw_kv_pending_t **pending)
{
    pgkv_t *kv = (pgkv_t *)b;
    pw_pg_param_t p[3] = { pw_pg_text(kv->ns), pw_pg_bytes(a->keys[0]), pw_pg_int(a->now) };
    start(kv, op_new(done, arg, "GET", 0), ST_GET, p, 3, got, done, arg, pending);
}

/* ---- bulk get ---- */

static void got_many(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    if (failed(op, r)) {
        free(op);
        return;
    }
    pw_bytes_t out[1 + 3 * PW_KV_MAX_BULK];
    out[0] = pw_bytes_of("");
    size_t rows = pw_pg_rows(r);
    for (size_t i = 0; i < op->n_keys; i++) {
        out[1 + 3 * i] = out[2 + 3 * i] = out[3 + 3 * i] = pw_bytes_of("");
        for (size_t row = 0; row < rows; row++)
            if (pw_bytes_equal(pw_pg_value(r, row, 0), op->keys[i])) {
                out[1 + 3 * i] = pw_bytes_of("1");
                out[2 + 3 * i] = pw_pg_value(r, row, 1);
                out[3 + 3 * i] = pw_pg_value(r, row, 2);
                break;
            }
    }
    answer(op, out, 1 + 3 * op->n_keys);
    free(op);
}

static void pg_get_many(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                        pw_kv_pending_t **pending)
{
    pgkv_t *kv = (pgkv_t *)b;
    size_t bytes = 0;
    for (size_t i = 0; i < a->n_keys; i++)
        bytes += a->keys[i].len;
    op_t *op = op_new(done, arg, "GET", bytes);
    pw_buf_t array;
    pw_buf_init(&array);
    if (op && pw_pg_bytea_array(a->keys, a->n_keys, &array) == 0 && pw_buf_append(&array, "", 1) == 0) {
        uint8_t *at = op->key_data;
        op->n_keys = a->n_keys;
        for (size_t i = 0; i < a->n_keys; i++) {
            memcpy(at, a->keys[i].base, a->keys[i].len);
            op->keys[i] = (pw_bytes_t){ at, a->keys[i].len };
            at += a->keys[i].len;
        }
    } else {
        free(op);
        op = NULL;
    }
    pw_pg_param_t p[3] = { pw_pg_text(kv->ns), pw_pg_text(op ? (const char *)array.data : ""),
                           pw_pg_int(a->now) };
    start(kv, op, ST_GET_MANY, p, 3, got_many, done, arg, pending);
    pw_buf_free(&array);
}

/* ---- put, delete ---- */

static void written(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    if (!failed(op, r))
        ok(op);
    free(op);
}

static void ignore_result(void *arg, const pw_pg_result_t *r)
{
    (void)arg;
    (void)r;
}

static void maybe_purge(pgkv_t *kv, int64_t now)
{
    if (++kv->writes % PURGE_EVERY != 0)
        return;
    pw_pg_param_t p[1] = { pw_pg_int(now) };
    pw_pg_run(kv->pool, kv->st[ST_PURGE], p, 1, ignore_result, NULL);
}

static void pg_put(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                   pw_kv_pending_t **pending)
{
    pgkv_t *kv = (pgkv_t *)b;
    pw_pg_param_t p[5] = { pw_pg_text(kv->ns), pw_pg_bytes(a->keys[0]), pw_pg_bytes(a->value),
                           a->expiration > 0 ? pw_pg_int(a->expiration) : pw_pg_null(),
                           a->metadata.len ? pw_pg_bytes(a->metadata) : pw_pg_null() };
    start(kv, op_new(done, arg, "PUT", 0), ST_PUT, p, 5, written, done, arg, pending);
    maybe_purge(kv, a->now);
}

static void pg_delete(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                      pw_kv_pending_t **pending)
{
    pgkv_t *kv = (pgkv_t *)b;
    pw_pg_param_t p[2] = { pw_pg_text(kv->ns), pw_pg_bytes(a->keys[0]) };
    start(kv, op_new(done, arg, "DELETE", 0), ST_DELETE, p, 2, written, done, arg, pending);
}

/* ---- list ---- */

/* The smallest key above every key starting with prefix: prefix with its last byte below 0xff
 * incremented and what follows dropped. 0 when there is none (empty, or all 0xff). */
static size_t prefix_end(pw_bytes_t prefix, uint8_t *out)
{
    size_t n = prefix.len;
    while (n && prefix.base[n - 1] == 0xff)
        n--;
    if (n == 0)
        return 0;
    memcpy(out, prefix.base, n);
    out[n - 1]++;
    return n;
}

/* "", complete, cursor, then (name, expiration, metadata) per key. */
static void listed(void *arg, const pw_pg_result_t *r)
{
    op_t *op = arg;
    if (failed(op, r)) {
        free(op);
        return;
    }
    static pw_bytes_t out[3 + 3 * PW_KV_MAX_LIST];
    static char exps[PW_KV_MAX_LIST][24];
    char cursor[2 * PW_KV_MAX_KEY + 1] = "";
    size_t rows = pw_pg_rows(r);
    int more = rows > op->limit;
    size_t n = more ? op->limit : rows;
    if (more && n)
        pw_kv_cursor_encode(pw_pg_value(r, n - 1, 0), cursor);
    out[0] = pw_bytes_of("");
    out[1] = pw_bytes_of(more ? "" : "1");
    out[2] = pw_bytes_of(cursor);
    for (size_t i = 0; i < n; i++) {
        exps[i][0] = '\0';
        if (!pw_pg_is_null(r, i, 1))
            snprintf(exps[i], sizeof exps[i], "%" PRId64, pw_pg_i64(r, i, 1));
        out[3 + 3 * i] = pw_pg_value(r, i, 0);
        out[4 + 3 * i] = pw_bytes_of(exps[i]);
        out[5 + 3 * i] = pw_pg_value(r, i, 2);
    }
    answer(op, out, 3 + 3 * n);
    free(op);
}

static void pg_list(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                    pw_kv_pending_t **pending)
{
    pgkv_t *kv = (pgkv_t *)b;
    uint8_t after[PW_KV_MAX_KEY], end[PW_KV_MAX_KEY];
    size_t after_len = 0;
    *pending = NULL;
    if (pw_kv_cursor_decode(a->cursor, after, &after_len) < 0) {
        pw_kv_result_t r = { .error_name = "Error", .error = "KV GET failed: 400 Invalid cursor." };
        done(arg, &r);
        return;
    }
    size_t end_len = prefix_end(a->prefix, end);
    op_t *op = op_new(done, arg, "GET", 0);
    if (op)
        op->limit = a->limit;
    pw_pg_param_t p[6] = { pw_pg_text(kv->ns), pw_pg_bytes(a->prefix),
                           pw_pg_bytes((pw_bytes_t){ after, after_len }),
                           end_len ? pw_pg_bytes((pw_bytes_t){ end, end_len }) : pw_pg_null(),
                           pw_pg_int(a->now), pw_pg_int((int64_t)a->limit + 1) };
    start(kv, op, ST_LIST, p, 6, listed, done, arg, pending);
}

/* ---- the backend ---- */

static void pg_cancel(pw_kv_pending_t *pending)
{
    op_t *op = (op_t *)pending;
    if (!op)
        return;
    pw_pg_cancel(op->job);
    free(op);
}

static void pg_close(pw_kv_backend_t *b)
{
    pgkv_t *kv = (pgkv_t *)b;
    if (!kv)
        return;
    free(kv->ns);
    free(kv->head.refuse_put);
    free(kv->head.refuse_delete);
    free(kv);
}

static const pw_kv_backend_ops_t pg_ops = {
    .get = pg_get, .get_many = pg_get_many, .put = pg_put, .delete = pg_delete,
    .list = pg_list, .cancel = pg_cancel, .close = pg_close,
};

int pw_kv_pg_open(pw_pg_pool_t *pool, const char *service, int writable, pw_kv_backend_t **out,
                  char *err, size_t err_len)
{
    pgkv_t *kv = calloc(1, sizeof *kv);
    if (!kv || !(kv->ns = strdup(service)) || (!writable && pw_kv_refuse_writes(&kv->head, service) < 0)) {
        pg_close(kv ? &kv->head : NULL);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    kv->head.ops = &pg_ops;
    kv->head.subrequests = 0;
    kv->pool = pool;
    for (int i = 0; i < ST_COUNT; i++)
        if ((kv->st[i] = pw_pg_statement(pool, statements[i])) < 0) {
            pg_close(&kv->head);
            snprintf(err, err_len, "too many PostgreSQL statements");
            return -1;
        }
    *out = &kv->head;
    return 0;
}
