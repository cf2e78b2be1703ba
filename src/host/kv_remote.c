/* kv_remote.c — KV operations sent to a worker or external service over workerd's KV HTTP
 * protocol (host process; see kv_remote.h). Runs on the loop thread.
 * Invariant: a pending operation ends exactly once — answered (then freed), or cancelled by
 * its isolate's death (transport stopped, then freed) — and only then releases its port.
 */
#include "host/kv_remote.h"
#include "host/worker_call.h"
#include "wire/rpc.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pw_port_watch_t watch;      /* first: gone() gets this pointer */
    pw_port_t *port;
    uint32_t id;
    pw_kv_op_t op;
    const char *service;        /* config memory: outlives every operation */
    pw_buf_t key_data;          /* a bulk get's keys, back to back */
    size_t key_len[PW_RPC_MAX_ARGS];
    size_t n_keys;
    pw_worker_call_t *call;     /* the transport in use: one of these */
    pw_fetch_transfer_t *transfer;
} pending_t;

static pw_bytes_t S(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static void reply_error(pw_port_t *port, uint32_t id, const char *msg)
{
    pw_bytes_t f[2] = { S("Error"), S(msg) };
    pw_port_reply(port, id, f, 2);
}

static void pending_free(pending_t *p)
{
    pw_port_unwatch(p->port, &p->watch);
    pw_buf_free(&p->key_data);
    free(p);
}

/* The service answered: its status, headers and body become the isolate's RPC_RESULT. */
static void answer(pending_t *p, unsigned status, pw_bytes_t headers, pw_bytes_t body)
{
    static pw_bytes_t fields[PW_RPC_MAX_FIELDS];
    pw_bytes_t keys[PW_RPC_MAX_ARGS];
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
        reply_error(p->port, p->id, err);
    } else {
        pw_frame_t frame = { .type = PW_FRAME_RPC_RESULT, .id = p->id, .payload = out.data, .len = out.len };
        if (pw_rpc_decode(&frame, fields, PW_RPC_MAX_FIELDS, &n) == 0)
            pw_port_reply(p->port, p->id, fields, n);
        else
            reply_error(p->port, p->id, "KV: internal error encoding the answer");
    }
    pw_buf_free(&out);
}

static void transport_failed(pending_t *p, const char *why)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "KV %s failed: the KV service \"%s\" did not answer: %s",
             pw_kv_http_op_name(p->op), p->service, why);
    reply_error(p->port, p->id, msg);
}

/* ---- a worker service ---- */

static void on_worker_answer(void *arg, const pw_worker_answer_t *a)
{
    pending_t *p = arg;
    if (a->error_status) {
        char why[512];
        snprintf(why, sizeof why, "%d %s", a->error_status, a->error_text ? a->error_text : "");
        why[strcspn(why, "\n")] = '\0';
        transport_failed(p, why);
    } else {
        answer(p, a->status, a->headers, a->body);
    }
    pending_free(p);
}

/* The calling isolate died: the request stops (the worker gets CANCEL, curl closes its
 * connection) and nothing calls back. */
static void on_gone(pw_port_watch_t *watch)
{
    pending_t *p = (pending_t *)watch;
    if (p->call)
        pw_worker_call_cancel(p->call);
    else if (p->transfer)
        pw_fetch_abort(p->transfer);
    pending_free(p);
}

/* The CALL payload of a fetch: {"method", "url", "headers": [[name, value]...]} "\n" body. */
static int fetch_payload(const pw_kv_http_request_t *req, pw_buf_t *out)
{
    cJSON *head = cJSON_CreateObject(), *headers = cJSON_AddArrayToObject(head, "headers");
    int ok = headers && cJSON_AddStringToObject(head, "method", req->method) &&
             cJSON_AddStringToObject(head, "url", req->url);
    for (size_t i = 0; ok && i < req->n_headers; i++) {
        char *name = strndup((const char *)req->headers[i].name.base, req->headers[i].name.len);
        char *value = strndup((const char *)req->headers[i].value.base, req->headers[i].value.len);
        const char *pair[2] = { name, value };
        cJSON *item = name && value ? cJSON_CreateStringArray(pair, 2) : NULL;
        ok = item && cJSON_AddItemToArray(headers, item);
        free(name);
        free(value);
    }
    char *text = ok ? cJSON_PrintUnformatted(head) : NULL;
    cJSON_Delete(head);
    int rc = text ? 0 : -1;
    rc = rc ? rc : pw_buf_append(out, text, strlen(text));
    rc = rc ? rc : pw_buf_append(out, "\n", 1);
    rc = rc ? rc : pw_buf_append(out, req->body.base, req->body.len);
    free(text);
    return rc;
}

static void send_to_worker(pending_t *p, pw_pool_t *pool, const pw_kv_http_request_t *req)
{
    pw_buf_t payload;
    pw_buf_init(&payload);
    if (fetch_payload(req, &payload) < 0) {
        transport_failed(p, "out of memory");
        pending_free(p);
    } else {
        pw_bytes_t body = { payload.data, payload.len };
        if (pw_worker_call(pool, "", (pw_bytes_t){ (const uint8_t *)"fetch", 5 }, body,
                           on_worker_answer, p, &p->call) < 0) {
            transport_failed(p, "out of memory");
            pending_free(p);
        }
    }
    pw_buf_free(&payload);
}

/* ---- an external service ---- */

static void on_external_answer(void *arg, const pw_fetch_result_t *r)
{
    pending_t *p = arg;
    if (r->error)
        transport_failed(p, r->error);
    else
        answer(p, (unsigned)r->status, r->headers, r->body);
    pending_free(p);
}

static void send_external(pending_t *p, const pw_kv_remote_t *remote, const pw_kv_http_request_t *req)
{
    pw_buf_t lines, url;
    pw_buf_init(&lines);
    pw_buf_init(&url);
    int rc = pw_buf_append(&lines, "Host\nfake-host\n", 15);
    for (size_t i = 0; rc == 0 && i < req->n_headers; i++) {
        rc |= pw_buf_append(&lines, req->headers[i].name.base, req->headers[i].name.len);
        rc |= pw_buf_append(&lines, "\n", 1);
        rc |= pw_buf_append(&lines, req->headers[i].value.base, req->headers[i].value.len);
        rc |= pw_buf_append(&lines, "\n", 1);
    }
    rc |= pw_buf_append(&url, "http://", 7);
    rc |= pw_buf_append(&url, remote->address, strlen(remote->address));
    rc |= pw_buf_append(&url, req->target, strlen(req->target) + 1);
    if (rc == 0)
        p->transfer = pw_fetch_request(remote->fetch, (const char *)url.data, req->method,
                                       (pw_bytes_t){ lines.data, lines.len }, req->body,
                                       on_external_answer, p);
    if (!p->transfer) {
        transport_failed(p, "cannot start the request");
        pending_free(p);
    }
    pw_buf_free(&lines);
    pw_buf_free(&url);
}

void pw_kv_remote_send(const pw_kv_remote_t *remote, const pw_kv_http_request_t *req,
                       const pw_bytes_t *keys, size_t n_keys, pw_port_t *port, uint32_t id)
{
    pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return reply_error(port, id, "KV: out of memory");
    p->port = port;
    p->id = id;
    p->op = req->op;
    p->service = remote->service;
    pw_buf_init(&p->key_data);
    for (size_t i = 0; i < n_keys && i < PW_RPC_MAX_ARGS; i++) {
        pw_buf_append(&p->key_data, keys[i].base, keys[i].len);
        p->key_len[p->n_keys++] = keys[i].len;
    }
    pw_port_watch(port, &p->watch, on_gone);    /* pending_free unwatches */
    if (remote->pool) {
        send_to_worker(p, remote->pool, req);
    } else if (remote->fetch) {
        send_external(p, remote, req);
    } else {
        transport_failed(p, "the service is not running");
        pending_free(p);
    }
}
