/* static_handler.c — sends a disk service's answer with h2o (host process, the listener's
 * loop; see static_handler.h). The answer (static_answer.h) is copied into the request's
 * memory pool with the state of its body. A small file is one read and one send. A larger
 * one goes out as the client takes it, the next part only when h2o's proceed() says the last
 * was written, so a slow client holds at most one piece of memory, never the file:
 *  - plain HTTP/1: h2o writes the head, then at each proceed() (h2o's write is complete and
 *    none is queued) sendfile() puts as much of the file as the socket takes straight into
 *    it, zero-copy, as nginx does; when the socket is full, one pread() piece goes through
 *    h2o, whose write waits for room, and sendfile() resumes after it;
 *  - TLS and HTTP/2 (h2o encrypts and frames the bytes itself): pread() pieces of CHUNK bytes.
 * Invariant: the descriptor and the piece buffer are released by the pool's disposal of
 * `send_t` (the request's end, a client gone included), and only there; sendfile() is
 * called only from proceed(), never while h2o has a write in flight on the socket.
 */
#include "http/static_handler.h"
#include "base/log.h"
#include "http/static_answer.h"
#include "http/static_assets.h"
#include "http/static_path.h"

#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <uv.h>

#define CHUNK (64u * 1024)
#define PROBE (4u * 1024)
#define SMALL (64u * 1024)      /* sent in one piece from the request's pool */

typedef struct {
    h2o_generator_t generator;
    h2o_req_t *req;
    pw_static_answer_t answer;
    pw_static_serve_t how;
    const char *service;
    uint64_t sent;
    char *piece;                /* CHUNK bytes (malloc) while streaming */
    int socket_fd;              /* plain HTTP/1: the connection's socket for sendfile; else -1 */
    int corked;                 /* TCP_CORK set: the head waits for the body's first bytes */
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

static void send_failed(send_t *s)
{
    pw_log_error("service %s: reading a file to send failed (it changed while sent?); "
                 "response cut short", s->service);
    log_done(s);
    h2o_send(s->req, NULL, 0, H2O_SEND_STATE_ERROR);
}

/* Sends n bytes at data; the last ones end the response. */
static void send_bytes(send_t *s, char *data, size_t n)
{
    s->sent += n;
    h2o_iovec_t vec = h2o_iovec_init(data, n);
    if (s->sent == s->answer.length)
        send_final(s, &vec, 1);
    else
        h2o_send(s->req, &vec, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* The next piece of the file, read into the buffer. Between sendfile() calls it is only a
 * PROBE: h2o's write of it waits until the socket has room again. */
static void send_piece(send_t *s)
{
    pw_static_answer_t *a = &s->answer;
    uint64_t left = a->length - s->sent, most = s->socket_fd >= 0 ? PROBE : CHUNK;
    size_t n = left < most ? (size_t)left : (size_t)most;
    if (pw_static_read_at(a->fd, s->piece, n, a->offset + s->sent) < 0) {
        send_failed(s);
        return;
    }
    send_bytes(s, s->piece, n);
}

/* As much of the rest as the socket takes now, by sendfile(): 0, or -1 when the connection
 * failed or the file ended early (it shrank since its fstat). */
static int send_direct(send_t *s)
{
    pw_static_answer_t *a = &s->answer;
    off_t at = (off_t)(a->offset + s->sent);
    ssize_t n;
    do
        n = sendfile(s->socket_fd, a->fd, &at, (size_t)(a->length - s->sent));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? 0 : -1;
    if (n == 0)
        return -1;
    s->sent += (uint64_t)n;
    return 0;
}

/* The head and the first sendfile() leave in full packets, as nginx's tcp_nopush does; the
 * cork is taken off at once after (TCP_NODELAY sends what it held). */
static void cork(send_t *s, int on)
{
    if (setsockopt(s->socket_fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0)
        s->corked = on;
}

static void on_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    send_t *s = H2O_STRUCT_FROM_MEMBER(send_t, generator, generator);
    int rc = s->socket_fd >= 0 ? send_direct(s) : 0;
    if (s->corked)
        cork(s, 0);
    if (rc < 0)
        send_failed(s);
    else if (s->sent == s->answer.length)
        send_final(s, NULL, 0);
    else
        send_piece(s);
}

/* The socket of a plain HTTP/1 connection, which sendfile() may write to; else -1. */
static int direct_socket(h2o_req_t *req)
{
    h2o_socket_t *sock;
    if (req->version >= 0x200 || !req->conn->callbacks->get_socket ||
        !(sock = req->conn->callbacks->get_socket(req->conn)) || sock->ssl)
        return -1;
    return h2o_socket_get_fd(sock);
}

/* A file's bytes: one piece from the pool when small, else streamed (see the top). */
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
    s->socket_fd = direct_socket(s->req);
    if (s->socket_fd >= 0) {
        cork(s, 1);
        h2o_send(s->req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);   /* the head; then on_proceed */
    } else
        send_piece(s);
}

static void add_headers(h2o_req_t *req, const pw_static_answer_t *a)
{
    pw_static_header_t h;
    size_t cursor = 0;
    while (pw_static_answer_header(a, &cursor, &h))
        h2o_add_header_by_str(&req->pool, &req->res.headers, h.name, strlen(h.name), 1, NULL,
                              h.value, strlen(h.value));
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
        .host = pw_static_url_host(url.base, url.len),
        .path = { (const uint8_t *)path, path_len },
        .query = pw_static_url_query(url.base, url.len),
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
    s->socket_fd = -1;
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
