/* kv_remote.c — the transports of KV over workerd's HTTP protocol (host process, loop
 * thread; see kv_remote.h): a request as a CALL of a worker's fetch entry point, or as a
 * libcurl transfer to an external service. storage/kv_http_backend.c builds the requests,
 * reads the answers and keeps the pending operations.
 * Invariant: an exchange is answered at most once, and never after it was cancelled.
 */
#include "host/kv_remote.h"
#include "host/worker_call.h"
#include "storage/kv_http_backend.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *service;        /* config memory: outlives every exchange */
    pw_binding_lookup_cb lookup;
    void *lookup_arg;
} worker_transport_t;

typedef struct {
    pw_fetch_t *fetch;
    const char *address;        /* "host:port" */
} external_transport_t;

/* ---- a worker service ---- */

static void on_worker_answer(void *arg, const pw_worker_answer_t *a)
{
    pw_kv_http_exchange_t *x = arg;
    pw_bytes_t none = { (const uint8_t *)"", 0 };
    if (a->error_status) {
        char why[512];
        snprintf(why, sizeof why, "%d %s", a->error_status, a->error_text ? a->error_text : "");
        why[strcspn(why, "\n")] = '\0';
        x->answer(x, why, 0, none, none);
    } else {
        x->answer(x, NULL, a->status, a->headers, a->body);
    }
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

static int worker_send(void *transport, const pw_kv_http_request_t *req, pw_kv_http_exchange_t *x,
                       const char **why)
{
    worker_transport_t *w = transport;
    pw_pool_t *pool = w->lookup(w->lookup_arg, w->service);
    if (!pool) {
        *why = "the service is not running";
        return -1;
    }
    pw_buf_t payload;
    pw_buf_init(&payload);
    int rc = fetch_payload(req, &payload);
    if (rc == 0)
        rc = pw_worker_call(pool, "", (pw_bytes_t){ (const uint8_t *)"fetch", 5 },
                            (pw_bytes_t){ payload.data, payload.len }, on_worker_answer, x,
                            (pw_worker_call_t **)&x->handle);
    pw_buf_free(&payload);
    if (rc < 0)
        *why = "out of memory";
    return rc < 0 ? -1 : 0;
}

/* The calling isolate died: the worker gets CANCEL and nothing calls back. */
static void worker_cancel(void *transport, pw_kv_http_exchange_t *x)
{
    pw_worker_call_cancel(x->handle);
}

static const pw_kv_http_transport_t worker_transport = {
    .send = worker_send, .cancel = worker_cancel, .free = free,
};

/* ---- an external service ---- */

static void on_external_answer(void *arg, const pw_fetch_result_t *r)
{
    pw_kv_http_exchange_t *x = arg;
    x->answer(x, r->error, (unsigned)r->status, r->headers, r->body);
}

static int external_send(void *transport, const pw_kv_http_request_t *req, pw_kv_http_exchange_t *x,
                         const char **why)
{
    external_transport_t *e = transport;
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
    rc |= pw_buf_append(&url, e->address, strlen(e->address));
    rc |= pw_buf_append(&url, req->target, strlen(req->target) + 1);
    x->handle = NULL;
    if (rc == 0)
        x->handle = pw_fetch_request(e->fetch, (const char *)url.data, req->method,
                                     (pw_bytes_t){ lines.data, lines.len }, req->body,
                                     on_external_answer, x);
    pw_buf_free(&lines);
    pw_buf_free(&url);
    if (!x->handle)
        *why = "cannot start the request";
    return x->handle ? 0 : -1;
}

/* The calling isolate died: curl closes the connection and nothing calls back. */
static void external_cancel(void *transport, pw_kv_http_exchange_t *x)
{
    pw_fetch_abort(x->handle);
}

static const pw_kv_http_transport_t external_transport = {
    .send = external_send, .cancel = external_cancel, .free = free,
};

int pw_kv_remote_open(const pw_service_t *service, pw_binding_lookup_cb lookup, void *lookup_arg,
                      pw_fetch_t *fetch, pw_kv_backend_t **out)
{
    if (service->kind == PW_SERVICE_WORKER) {
        worker_transport_t *w = calloc(1, sizeof *w);
        if (!w)
            return -ENOMEM;
        *w = (worker_transport_t){ service->name, lookup, lookup_arg };
        return pw_kv_http_backend_create(service->name, &worker_transport, w, out);
    }
    external_transport_t *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    *e = (external_transport_t){ fetch, service->external_address };
    return pw_kv_http_backend_create(service->name, &external_transport, e, out);
}
