/* static_handler.c — sends a disk service's answer with h2o (host process, the listener's
 * loop; see static_handler.h). The answer (static_answer.h) is copied into the request's
 * memory pool with the state of its body; a file's body goes out as pread() pieces of at most
 * CHUNK bytes, the next one read only when h2o's proceed() says the last was written, so a
 * slow client holds one piece of memory, never the file. A small file is one read and one send.
 * Invariant: the file descriptor and the piece buffer are released by the pool's disposal
 * of `send_t` (the request's end, a client gone included), and only there.
 */
#include "http/static_handler.h"
#include "base/log.h"
#include "http/static_answer.h"
#include "http/static_path.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define CHUNK (256u * 1024)
#define SMALL (64u * 1024)      /* sent in one piece from the request's pool */

typedef struct {
    h2o_generator_t generator;
    h2o_req_t *req;
    pw_static_answer_t answer;
    pw_static_serve_t how;
    const char *service;
    uint64_t sent;
    char *piece;                /* CHUNK bytes (malloc) while streaming */
} send_t;

static const char *files_name(const void *worker)
{
    return pw_static_dir_name(worker);
}

const pw_http_worker_ops_t pw_static_files_ops = { .name = files_name };

static void send_dispose(void *ptr)
{
    send_t *s = ptr;
    pw_static_answer_free(&s->answer);
    free(s->piece);
}

static void log_done(send_t *s)
{
    h2o_req_t *req = s->req;
    if (s->how.access_log)
        pw_log_access(s->service, req->input.method.base, req->input.method.len,
                      req->input.path.base, req->input.path.len, req->res.status, s->sent,
                      uv_hrtime() - s->how.start_ns, s->how.request_id);
}

static void send_final(send_t *s, h2o_iovec_t *bufs, size_t n)
{
    log_done(s);
    h2o_send(s->req, bufs, n, H2O_SEND_STATE_FINAL);
}

/* The next piece of the file: read now, sent at once; the last one ends the response. */
static void send_piece(send_t *s)
{
    pw_static_answer_t *a = &s->answer;
    uint64_t left = a->length - s->sent;
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    if (pw_static_read_at(a->fd, s->piece, n, a->offset + s->sent) < 0) {
        pw_log_error("service %s: reading a file to send failed (it changed while sent?); "
                     "response cut short", s->service);
        log_done(s);
        h2o_send(s->req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    s->sent += n;
    h2o_iovec_t vec = h2o_iovec_init(s->piece, n);
    if (s->sent == a->length)
        send_final(s, &vec, 1);
    else
        h2o_send(s->req, &vec, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void on_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    send_piece(H2O_STRUCT_FROM_MEMBER(send_t, generator, generator));
}

/* A file's bytes: one piece from the pool when small, else streamed. */
static void send_file(send_t *s)
{
    pw_static_answer_t *a = &s->answer;
    if (a->length <= SMALL) {
        char *data = h2o_mem_alloc_pool(&s->req->pool, a->length ? a->length : 1);
        if (pw_static_read_at(a->fd, data, (size_t)a->length, a->offset) < 0) {
            log_done(s);
            h2o_send(s->req, NULL, 0, H2O_SEND_STATE_ERROR);
            return;
        }
        s->sent = a->length;
        h2o_iovec_t vec = h2o_iovec_init(data, (size_t)a->length);
        send_final(s, &vec, 1);
        return;
    }
    if (!(s->piece = malloc(CHUNK))) {
        log_done(s);
        h2o_send(s->req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    send_piece(s);
}

static void add_headers(h2o_req_t *req, const pw_static_answer_t *a)
{
    pw_static_header_t h[PW_STATIC_MAX_HEADERS];
    size_t n = pw_static_answer_headers(a, h);
    for (size_t i = 0; i < n; i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, h[i].name, strlen(h[i].name), 1, NULL,
                              h[i].value, strlen(h[i].value));
}

static pw_bytes_t header_value(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    if (i < 0)
        return (pw_bytes_t){ NULL, 0 };
    h2o_iovec_t v = req->headers.entries[i].value;
    return (pw_bytes_t){ (const uint8_t *)(v.base ? v.base : ""), v.len };
}

static void read_request(h2o_req_t *req, h2o_iovec_t url, pw_static_request_t *r)
{
    const char *path;
    size_t path_len;
    if (pw_static_url_path(url.base, url.len, &path, &path_len) < 0) {
        path = "";              /* refused by pw_static_path */
        path_len = 0;
    }
    *r = (pw_static_request_t){
        .method = { (const uint8_t *)req->input.method.base, req->input.method.len },
        .path = { (const uint8_t *)path, path_len },
        .range = header_value(req, H2O_TOKEN_RANGE),
        .if_none_match = header_value(req, H2O_TOKEN_IF_NONE_MATCH),
        .if_modified_since = header_value(req, H2O_TOKEN_IF_MODIFIED_SINCE),
        .if_range = header_value(req, H2O_TOKEN_IF_RANGE),
        .body = { (const uint8_t *)req->entity.base, req->entity.base ? req->entity.len : 0 },
    };
}

void pw_static_serve(const pw_static_dir_t *dir, h2o_req_t *req, h2o_iovec_t url,
                     const pw_static_serve_t *how)
{
    pw_static_request_t r;
    send_t *s = h2o_mem_alloc_shared(&req->pool, sizeof *s, send_dispose);
    memset(s, 0, sizeof *s);
    s->req = req;
    s->how = *how;
    s->service = pw_static_dir_name(dir);
    s->generator.proceed = on_proceed;
    read_request(req, url, &r);
    pw_static_answer(dir, &r, &s->answer);
    pw_static_answer_t *a = &s->answer;
    req->res.status = a->status;
    req->res.reason = pw_static_reason(a->status);
    add_headers(req, a);
    req->res.content_length = (size_t)a->length;
    h2o_start_response(req, &s->generator);
    if (a->no_body) {
        send_final(s, NULL, 0);
    } else if (a->fd >= 0) {
        send_file(s);
    } else {
        s->sent = a->text.len;
        h2o_iovec_t vec = h2o_iovec_init(a->text.data, a->text.len);
        send_final(s, &vec, a->text.len ? 1 : 0);
    }
}
