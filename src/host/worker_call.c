/* worker_call.c — host-made calls into a worker's pool, answers collected whole (host
 * process; see worker_call.h). Runs on the loop thread. A streamed answer's chunks are
 * appended and acknowledged at once (the body is bounded by the isolate's 32 MiB limit).
 * Invariant: a call is freed exactly once — after done(), or by pw_worker_call_cancel().
 */
#include "host/worker_call.h"
#include "http/request_id.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (32u * 1024 * 1024)

struct pw_worker_call {
    pw_call_t call;             /* first: the pool hands this pointer back */
    pw_buf_t fields;            /* entrypoint, method, payload, request id: a ready CALL payload */
    pw_worker_done_cb done;
    void *arg;
    unsigned status;
    int too_large;              /* a streamed body went past MAX_BODY */
    pw_buf_t headers;
    pw_buf_t body;
    pw_ws_side_t *ws;           /* a WebSocket answer's socket (the isolate's end) */
};

/* The CALL's last field: the request id, as 8 bytes (a u64, wire/frame.h). */
static int put_request_id(pw_buf_t *fields, uint64_t request_id)
{
    int rc = pw_frame_put_u32(fields, 8);
    return rc == 0 ? pw_frame_put_u64(fields, request_id) : rc;
}

static int encode(pw_call_t *call, pw_buf_t *out)
{
    pw_worker_call_t *wc = (pw_worker_call_t *)call;
    size_t start;
    int rc = pw_frame_begin(out, PW_FRAME_CALL, call->id, &start);
    if (rc == 0)
        rc = pw_buf_append(out, wc->fields.data, wc->fields.len);
    if (rc == 0)
        return pw_frame_end(out, start);
    out->len = start;
    return rc;
}

static void call_free(pw_worker_call_t *wc)
{
    pw_buf_free(&wc->fields);
    pw_buf_free(&wc->headers);
    pw_buf_free(&wc->body);
    free(wc);
}

static pw_bytes_t buf_bytes(const pw_buf_t *b)
{
    return (pw_bytes_t){ b->data ? b->data : (const uint8_t *)"", b->len };
}

static void finish(pw_worker_call_t *wc, int error_status, const char *error_text)
{
    pw_worker_answer_t a = { .error_status = error_status, .error_text = error_text,
                             .status = wc->status, .headers = buf_bytes(&wc->headers),
                             .body = buf_bytes(&wc->body), .ws = wc->ws };
    wc->done(wc->arg, &a);
    call_free(wc);
}

static void respond(pw_call_t *call, pw_message_t *msg, int error_status, const char *error_text)
{
    pw_worker_call_t *wc = (pw_worker_call_t *)call;
    if (!msg)
        return finish(wc, error_status, error_text);
    wc->status = msg->status;
    pw_header_t h;
    int rc = 0;
    while (rc == 0 && pw_headers_next(msg, &h)) {
        rc |= pw_buf_append(&wc->headers, h.name.base, h.name.len);
        rc |= pw_buf_append(&wc->headers, "\n", 1);
        rc |= pw_buf_append(&wc->headers, h.value.base, h.value.len);
        rc |= pw_buf_append(&wc->headers, "\n", 1);
    }
    if (msg->flags & PW_FRAME_FLAG_STREAM)
        return;     /* chunks and END follow (a SIZED head's body is the length) */
    if (msg->flags & PW_FRAME_FLAG_WEBSOCKET)
        wc->ws = call->ws;      /* the body is empty: the socket is the answer */
    if (rc == 0)
        rc = pw_buf_append(&wc->body, msg->body.base, msg->body.len);
    if (rc < 0)
        return finish(wc, 500, "out of memory");
    finish(wc, 0, NULL);
}

static int chunk(pw_call_t *call, const uint8_t *data, size_t len)
{
    pw_worker_call_t *wc = (pw_worker_call_t *)call;
    pw_pool_ack(call, len);
    if (wc->too_large || wc->body.len + len > MAX_BODY || pw_buf_append(&wc->body, data, len) < 0)
        wc->too_large = 1;  /* the rest is dropped; end() reports it */
    return 0;
}

static void end(pw_call_t *call, int aborted)
{
    pw_worker_call_t *wc = (pw_worker_call_t *)call;
    if (aborted)
        return finish(wc, 502, "the worker's streamed response was aborted");
    if (wc->too_large)
        return finish(wc, 502, "the worker's streamed response is larger than 32 MiB");
    finish(wc, 0, NULL);
}

int pw_worker_call(pw_pool_t *pool, const char *entrypoint, pw_bytes_t method, pw_bytes_t payload,
                   pw_worker_done_cb done, void *arg, pw_worker_call_t **handle)
{
    return pw_worker_call_pinned(pool, NULL, entrypoint, method, payload, done, arg, handle);
}

int pw_worker_call_pinned(pw_pool_t *pool, pw_pool_pin_t *pin, const char *entrypoint,
                          pw_bytes_t method, pw_bytes_t payload, pw_worker_done_cb done, void *arg,
                          pw_worker_call_t **handle)
{
    pw_worker_call_t *wc = calloc(1, sizeof *wc);
    if (!wc)
        return -ENOMEM;
    pw_buf_init(&wc->fields);
    pw_buf_init(&wc->headers);
    pw_buf_init(&wc->body);
    wc->call.request_id = pw_request_id_next();
    pw_bytes_t f[3] = { { (const uint8_t *)entrypoint, strlen(entrypoint) }, method, payload };
    int rc = pw_frame_put_u32(&wc->fields, 4);
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = pw_frame_put_bytes(&wc->fields, f[i].base, f[i].len);
    if (rc == 0)
        rc = put_request_id(&wc->fields, wc->call.request_id);
    if (rc < 0) {
        call_free(wc);
        return -ENOMEM;
    }
    wc->done = done;
    wc->arg = arg;
    wc->call.state = PW_CALL_NEW;
    wc->call.encode = encode;
    wc->call.respond = respond;
    wc->call.chunk = chunk;
    wc->call.end = end;
    *handle = wc;
    if (pin)
        pw_pool_submit_pinned(pool, pin, &wc->call);
    else
        pw_pool_submit(pool, &wc->call);
    return 0;
}

void pw_worker_call_cancel(pw_worker_call_t *wc)
{
    pw_pool_cancel(&wc->call);
    call_free(wc);
}
