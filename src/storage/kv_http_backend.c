/* kv_http_backend.c — KV operations over workerd's KV HTTP protocol (host process, loop
 * thread; see kv_http_backend.h). An operation builds its request (storage/kv_http.c), sends
 * it through the transport and, when the service answers, turns the answer into the same
 * fields the SQLite backend gives, so Python sees one API.
 * Invariant: a pending operation ends exactly once — answered (done() then freed), or
 * cancelled (the transport stopped, then freed without done()).
 */
#include "storage/kv_http_backend.h"
#include "wire/rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pw_kv_backend_t head;       /* first: the vtable's pointer */
    const char *service;
    const pw_kv_http_transport_t *transport;
    void *transport_arg;
} remote_t;

struct pw_kv_pending {
    pw_kv_http_exchange_t x;    /* first: answer() gets this pointer */
    remote_t *remote;
    pw_kv_op_t op;
    pw_kv_done_cb done;
    void *done_arg;
    pw_buf_t key_data;          /* a bulk get's keys, back to back */
    size_t key_len[PW_KV_MAX_BULK];
    size_t n_keys;
};

static void fail(pw_kv_done_cb done, void *arg, const char *name, const char *msg)
{
    pw_kv_result_t r = { .error_name = name, .error = msg };
    done(arg, &r);
}

static void pending_free(pw_kv_pending_t *p)
{
    pw_buf_free(&p->key_data);
    free(p);
}

static void transport_failed(pw_kv_pending_t *p, const char *why)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "KV %s failed: the KV service \"%s\" did not answer: %s",
             pw_kv_http_op_name(p->op), p->remote->service, why);
    fail(p->done, p->done_arg, "Error", msg);
}

/* The service answered: its status, headers and body become the operation's fields. */
static void answer_fields(pw_kv_pending_t *p, unsigned status, pw_bytes_t headers, pw_bytes_t body)
{
    static pw_bytes_t fields[PW_RPC_MAX_FIELDS];
    pw_bytes_t keys[PW_KV_MAX_BULK];
    size_t off = 0;
    for (size_t i = 0; i < p->n_keys; i++) {
        keys[i] = (pw_bytes_t){ p->key_data.data + off, p->key_len[i] };
        off += p->key_len[i];
    }
    char err[512];
    pw_buf_t out;
    pw_buf_init(&out);
    size_t n;
    if (pw_kv_http_answer(p->op, status, headers, body, keys, p->n_keys, &out, err, sizeof err) < 0) {
        fail(p->done, p->done_arg, "Error", err);
    } else {
        pw_frame_t frame = { .type = PW_FRAME_RPC_RESULT, .payload = out.data, .len = out.len };
        pw_kv_result_t r = { .fields = fields };
        if (pw_rpc_decode(&frame, fields, PW_RPC_MAX_FIELDS, &n) == 0) {
            r.n_fields = n;
            p->done(p->done_arg, &r);
        } else {
            fail(p->done, p->done_arg, "Error", "KV: internal error encoding the answer");
        }
    }
    pw_buf_free(&out);
}

static void on_answer(pw_kv_http_exchange_t *x, const char *error, unsigned status, pw_bytes_t headers,
                      pw_bytes_t body)
{
    pw_kv_pending_t *p = (pw_kv_pending_t *)x;
    if (error)
        transport_failed(p, error);
    else
        answer_fields(p, status, headers, body);
    pending_free(p);
}

static void send_request(remote_t *r, const pw_kv_http_request_t *req, const pw_kv_args_t *a,
                         pw_kv_done_cb done, void *arg, pw_kv_pending_t **pending)
{
    pw_kv_pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return fail(done, arg, "Error", "KV: out of memory");
    p->x.answer = on_answer;
    p->remote = r;
    p->op = req->op;
    p->done = done;
    p->done_arg = arg;
    pw_buf_init(&p->key_data);
    for (size_t i = 0; req->op == PW_KV_GET_MANY && i < a->n_keys && i < PW_KV_MAX_BULK; i++) {
        pw_buf_append(&p->key_data, a->keys[i].base, a->keys[i].len);
        p->key_len[p->n_keys++] = a->keys[i].len;
    }
    *pending = p;
    const char *why = "cannot start the request";
    if (r->transport->send(r->transport_arg, req, &p->x, &why) < 0) {
        transport_failed(p, why);
        pending_free(p);
    }
}

/* Sends the request built in req (built: what building it returned), then frees req. */
static void start(pw_kv_backend_t *b, pw_kv_http_request_t *req, int built, const pw_kv_args_t *a,
                  pw_kv_done_cb done, void *arg, pw_kv_pending_t **pending)
{
    *pending = NULL;
    if (built == -EINVAL)
        fail(done, arg, "TypeError", "KV metadata must be JSON text without line breaks");
    else if (built < 0)
        fail(done, arg, "Error", "KV: out of memory");
    else
        send_request((remote_t *)b, req, a, done, arg, pending);
    pw_kv_http_request_free(req);
}

static void http_get(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                     pw_kv_pending_t **pending)
{
    pw_kv_http_request_t req;
    start(b, &req, pw_kv_http_get(&req, a->keys[0], a->cache_ttl), a, done, arg, pending);
}

static void http_get_many(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                          pw_kv_pending_t **pending)
{
    pw_kv_http_request_t req;
    start(b, &req, pw_kv_http_get_many(&req, a->keys, a->n_keys), a, done, arg, pending);
}

static void http_put(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                     pw_kv_pending_t **pending)
{
    pw_kv_http_request_t req;
    int built = pw_kv_http_put(&req, a->keys[0], a->value, a->expiration_arg, a->expiration_ttl_arg,
                               a->metadata);
    start(b, &req, built, a, done, arg, pending);
}

static void http_delete(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                        pw_kv_pending_t **pending)
{
    pw_kv_http_request_t req;
    start(b, &req, pw_kv_http_delete(&req, a->keys[0]), a, done, arg, pending);
}

static void http_list(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                      pw_kv_pending_t **pending)
{
    pw_kv_http_request_t req;
    start(b, &req, pw_kv_http_list(&req, a->prefix, a->limit_arg, a->cursor), a, done, arg, pending);
}

static void http_cancel(pw_kv_pending_t *p)
{
    p->remote->transport->cancel(p->remote->transport_arg, &p->x);
    pending_free(p);
}

static void http_close(pw_kv_backend_t *b)
{
    remote_t *r = (remote_t *)b;
    if (!r)
        return;
    r->transport->free(r->transport_arg);
    free(r);
}

static const pw_kv_backend_ops_t http_ops = {
    .get = http_get, .get_many = http_get_many, .put = http_put, .delete = http_delete,
    .list = http_list, .cancel = http_cancel, .close = http_close,
};

int pw_kv_http_backend_create(const char *service, const pw_kv_http_transport_t *ops, void *transport,
                              pw_kv_backend_t **out)
{
    remote_t *r = calloc(1, sizeof *r);
    if (!r) {
        ops->free(transport);
        return -ENOMEM;
    }
    r->head.ops = &http_ops;
    r->head.subrequests = 1;
    r->service = service;
    r->transport = ops;
    r->transport_arg = transport;
    *out = &r->head;
    return 0;
}
