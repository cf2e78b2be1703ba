/* server.c — h2o glue (host process): accepting connections, turning an h2o request into a
 * REQUEST frame for the worker (handed over through its ops, http/call.h), and the answer
 * into the HTTP response. Every request gets its id (http/request_id.h) as it arrives, a
 * refused one too, for its access line. A REQUEST frame carries the connection's client and local
 * addresses. A request's state lives in h2o's per-request memory pool; its dispose hook cancels the call
 * if the client leaves first, so the worker never answers freed memory.
 * A streamed response is sent as the isolate produces it: h2o gets one batch of chunks at a
 * time, the next once its proceed() says the last was written, and the bytes written are
 * acknowledged to the isolate, whose flow-control window bounds what waits here.
 * An HTTP/1 client that closes its connection while its request waits for the worker is
 * found by a sweep (peer_gone.h): the call is cancelled and the request ends as 499.
 * Before a request is dispatched, the host checks its head and builds request.url
 * (request_head.h); a refused request is answered here and closes its connection, and
 * head_guard.h answers 431 for heads too large for h2o before h2o parses them.
 */
#include "http/server.h"
#include "base/list.h"
#include "base/log.h"
#include "http/address.h"
#include "http/head_guard.h"
#include "http/peer_gone.h"
#include "http/request_head.h"
#include "http/request_id.h"
#include "http/static_assets.h"
#include "http/static_handler.h"
#include "http/static_path.h"
#include "http/tls_server.h"
#include "http/ws_upgrade.h"

#include <arpa/inet.h>
#include <errno.h>
#include <h2o.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How often, and after how long a wait, requests are checked for a client that left. */
#define PEER_SWEEP_MS 250
#define PEER_CHECK_AFTER_NS (200u * 1000 * 1000)

typedef struct listener listener_t;
typedef struct http_call http_call_t;

struct pw_http_server {
    listener_t *listeners;
    size_t n_listeners;
    size_t inflight;
    int draining;
    int closing;
    int open_handles;
    pw_http_options_t opts;
    pw_list_t waiting;          /* every request in flight (http_call_t.link), newest first */
    uv_timer_t peer_sweep;      /* runs while requests are in flight */
    uv_prepare_t guard_rearm;   /* runs while head_guard.h has connections to look at */
};

typedef struct {
    h2o_handler_t super;
    listener_t *listener;
} worker_handler_t;

struct listener {
    pw_http_server_t *server;
    char *socket_name;
    const pw_http_worker_ops_t *ops;
    void *worker;               /* what ops->submit() gets */
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t tcp;
    int listening;
    SSL_CTX *ssl_ctx;           /* https sockets */
    int inherited_fd;           /* -S name=fd: the socket given, else -1 */
    char server_ip[INET6_ADDRSTRLEN];   /* the bound address, unless a wildcard ("") */
    uint32_t server_port;
    const pw_static_dir_t *files;       /* a disk service: requests go to pw_static_serve */
    int assets_first;           /* files are a worker's assets: they answer first, else the worker */
};

/* A streamed body on its way to the client. */
typedef struct {
    pw_buf_t pending;           /* chunks received, not yet given to h2o */
    pw_buf_t sending;           /* the batch h2o is writing (valid until proceed) */
    size_t bytes;               /* body bytes received so far (also for the access log) */
    size_t acked;               /* ... of which acknowledged to the isolate */
    int busy;                   /* h2o_send called, proceed not yet */
    int ended;                  /* END received */
    int aborted;                /* ... saying the body is incomplete */
    int finished;               /* the final h2o_send was made */
    uint64_t size;              /* the length a SIZED head announced, or UINT64_MAX */
} stream_t;

struct http_call {
    pw_call_t call;             /* first: the worker's runner hands this pointer back */
    h2o_req_t *req;
    listener_t *listener;
    uint64_t start_ns;
    h2o_generator_t generator;
    stream_t stream;
    h2o_iovec_t url;            /* request.url (pw_http_request_url) */
    h2o_iovec_t host;           /* the Host header the worker sees */
    pw_list_t link;             /* the server's `waiting` list */
    int files;                  /* answered from a disk service, not by a worker */
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 418: return "I'm a teapot";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* ---- request → frame ---- */

/* Dotted-quad text of an IPv4 address (inet_ntop formats it with sprintf: slower). */
static void ipv4_text(const struct in_addr *addr, char *out)
{
    const uint8_t *b = (const uint8_t *)&addr->s_addr;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100)
            *out++ = (char)('0' + v / 100);
        if (v >= 10)
            *out++ = (char)('0' + v / 10 % 10);
        *out++ = (char)('0' + v % 10);
        *out++ = i < 3 ? '.' : '\0';
    }
}

/* The IP text and port of an address; an unknown family gives "" and 0. */
static pw_bytes_t address_text(const struct sockaddr_storage *sa, socklen_t len, char *out,
                               size_t out_len, uint32_t *port)
{
    const void *ip = NULL;
    *port = 0;
    if (len >= sizeof(struct sockaddr_in) && sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        ipv4_text(&in->sin_addr, out);
        *port = ntohs(in->sin_port);
        return (pw_bytes_t){ (const uint8_t *)out, strlen(out) };
    } else if (len >= sizeof(struct sockaddr_in6) && sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        ip = &in6->sin6_addr;
        *port = ntohs(in6->sin6_port);
    }
    if (!ip || !inet_ntop(sa->ss_family, ip, out, (socklen_t)out_len))
        out[0] = '\0';
    return (pw_bytes_t){ (const uint8_t *)out, strlen(out) };
}

/* The client's address (h2o caches it per connection) and the local address of the
 * connection `req` came in on: the listener's own unless it is bound to a wildcard. */
static void request_peer(h2o_req_t *req, const listener_t *l, pw_peer_t *peer, char *client,
                         char *server, size_t len)
{
    struct sockaddr_storage sa;
    socklen_t n = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&sa);
    peer->client_ip = address_text(&sa, n, client, len, &peer->client_port);
    if (l->server_ip[0]) {
        peer->server_ip = (pw_bytes_t){ (const uint8_t *)l->server_ip, strlen(l->server_ip) };
        peer->server_port = l->server_port;
        return;
    }
    n = req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&sa);
    peer->server_ip = address_text(&sa, n, server, len, &peer->server_port);
}

/* The worker sees the Host header (h2o keeps it apart, in input.authority), first. */
static size_t request_headers(http_call_t *hc, pw_header_t *headers)
{
    h2o_req_t *req = hc->req;
    size_t n = 0;
    if (h2o_find_header(&req->headers, H2O_TOKEN_HOST, -1) == -1)
        headers[n++] = (pw_header_t){ { (const uint8_t *)"host", 4 },
                                      { (const uint8_t *)hc->host.base, hc->host.len } };
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        headers[n].name = (pw_bytes_t){ (const uint8_t *)h->name->base, h->name->len };
        headers[n++].value = (pw_bytes_t){ (const uint8_t *)h->value.base, h->value.len };
    }
    if (req->upgrade.base)      /* h2o keeps it apart: a WebSocket handler looks for it */
        headers[n++] = (pw_header_t){ { (const uint8_t *)"upgrade", 7 },
                                      { (const uint8_t *)req->upgrade.base, req->upgrade.len } };
    return n;
}

static int encode_request(pw_call_t *call, pw_buf_t *out)
{
    http_call_t *hc = (http_call_t *)call;
    h2o_req_t *req = hc->req;
    pw_header_t stack[64];
    pw_header_t *headers = req->headers.size < 63 ? stack : malloc(sizeof(pw_header_t) * (req->headers.size + 2));
    if (!headers)
        return -1;
    size_t n = request_headers(hc, headers);
    h2o_iovec_t url = hc->url;
    pw_bytes_t method = { (const uint8_t *)req->input.method.base, req->input.method.len };
    pw_bytes_t body = { (const uint8_t *)req->entity.base, req->entity.base ? req->entity.len : 0 };
    pw_peer_t peer;
    char client[INET6_ADDRSTRLEN], server[INET6_ADDRSTRLEN];
    request_peer(req, hc->listener, &peer, client, server, sizeof client);
    int rc = pw_frame_put_request(out, call->id, call->request_id, method,
                                  (pw_bytes_t){ (const uint8_t *)url.base, url.len }, headers, n,
                                  body, &peer);
    if (headers != stack)
        free(headers);
    return rc;
}

/* ---- answer → response ---- */

static int is_managed_header(const char *name, size_t len)
{
    return h2o_lcstris(name, len, H2O_STRLIT("content-length")) ||
           h2o_lcstris(name, len, H2O_STRLIT("transfer-encoding")) ||
           h2o_lcstris(name, len, H2O_STRLIT("connection")) ||
           h2o_lcstris(name, len, H2O_STRLIT("keep-alive"));
}

static void add_response_headers(h2o_req_t *req, pw_message_t *msg)
{
    pw_header_t h;
    while (pw_headers_next(msg, &h)) {
        if (is_managed_header((const char *)h.name.base, h.name.len))
            continue;
        h2o_iovec_t name = h2o_strdup(&req->pool, (const char *)h.name.base, h.name.len);
        h2o_strtolower(name.base, name.len);
        h2o_iovec_t value = h2o_strdup(&req->pool, (const char *)h.value.base, h.value.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL,
                              value.base, value.len);
    }
}

static int response_has_no_body(h2o_req_t *req)
{
    return h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")) ||
           req->res.status == 204 || req->res.status == 304;
}

static void log_access(http_call_t *hc, size_t body_len)
{
    h2o_req_t *req = hc->req;
    if (hc->listener->server->opts.access_log)
        pw_log_access(hc->listener->ops->name(hc->listener->worker), req->input.method.base,
                      req->input.method.len, req->input.path.base, req->input.path.len,
                      req->res.status, body_len, uv_hrtime() - hc->start_ns, hc->call.request_id);
}

/* ---- streamed responses ---- */

/* Gives h2o everything received since its last write, or finishes the response. */
static void stream_send(http_call_t *hc)
{
    stream_t *st = &hc->stream;
    if (st->busy || st->finished || (st->pending.len == 0 && !st->ended))
        return;
    pw_buf_t swap = st->sending;
    st->sending = st->pending;
    st->pending = swap;
    st->pending.len = 0;
    h2o_send_state_t state = !st->ended ? H2O_SEND_STATE_IN_PROGRESS
                             : st->aborted ? H2O_SEND_STATE_ERROR : H2O_SEND_STATE_FINAL;
    h2o_iovec_t vec = h2o_iovec_init(st->sending.data, st->sending.len);
    if (state == H2O_SEND_STATE_IN_PROGRESS) {
        st->busy = 1;
    } else {
        st->finished = 1;
        log_access(hc, st->bytes);
    }
    h2o_send(hc->req, &vec, vec.len ? 1 : 0, state);
}

static void stream_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    http_call_t *hc = H2O_STRUCT_FROM_MEMBER(http_call_t, generator, generator);
    stream_t *st = &hc->stream;
    st->busy = 0;
    hc->listener->ops->ack(&hc->call, st->sending.len);
    st->acked += st->sending.len;
    st->sending.len = 0;
    stream_send(hc);
}

/* Returns -1 when the isolate ignored its window (it may only send while what we have not
 * acknowledged is below it), so that a broken isolate cannot fill the host's memory. */
static int stream_chunk(pw_call_t *call, const uint8_t *data, size_t len)
{
    http_call_t *hc = (http_call_t *)call;
    stream_t *st = &hc->stream;
    if (st->finished || len == 0)
        return 0;
    if (st->bytes - st->acked >= PW_FRAME_STREAM_WINDOW)
        return -1;
    if (len > st->size - st->bytes) {     /* past its announced length: cut it there */
        pw_log_error("service %s: a response streamed past its length; aborting it",
                     hc->listener->ops->name(hc->listener->worker));
        st->ended = st->aborted = 1;
        len = 0;
    }
    st->bytes += len;
    if (pw_buf_append(&st->pending, data, len) < 0) {
        pw_log_error("service %s: out of memory streaming a response; aborting it",
                     hc->listener->ops->name(hc->listener->worker));
        st->ended = st->aborted = 1;
        st->pending.len = 0;
    }
    stream_send(hc);
    return 0;
}

static void stream_end(pw_call_t *call, int aborted)
{
    http_call_t *hc = (http_call_t *)call;
    hc->stream.ended = 1;
    hc->stream.aborted |= aborted || (hc->stream.size != UINT64_MAX &&
                                      hc->stream.bytes != hc->stream.size);
    stream_send(hc);
}

/* The head of a streamed response: status and headers now, the body as it comes. */
static void stream_start(http_call_t *hc, pw_message_t *msg)
{
    h2o_req_t *req = hc->req;
    req->res.status = (int)msg->status;
    req->res.reason = reason_phrase(req->res.status);
    add_response_headers(req, msg);
    if (pw_message_stream_size(msg, &hc->stream.size) == 0 && hc->stream.size < SIZE_MAX)
        req->res.content_length = (size_t)hc->stream.size;     /* a whole body, in chunks */
    else
        hc->stream.size = UINT64_MAX;
    hc->generator.proceed = stream_proceed;
    hc->generator.stop = NULL;
    h2o_start_response(req, &hc->generator);
    if (response_has_no_body(req)) {
        hc->stream.ended = 1;   /* later chunks are dropped; the dispose hook cancels */
        stream_send(hc);
    }
}

/* ---- whole responses ---- */

static void respond_error(http_call_t *hc, int status, const char *text);

/* The worker accepted the request's WebSocket: 101 and the connection is the socket's
 * (http/ws_upgrade.h); a request that cannot be upgraded is answered with an error. */
static void respond_websocket(http_call_t *hc, pw_message_t *msg)
{
    const char *why = "";
    int status = hc->call.ws ? pw_ws_upgrade(hc->req, msg, hc->call.ws, &why) : 502;
    if (status == 0) {
        log_access(hc, 0);
        return;
    }
    pw_log_error("service %s: request " PW_LOG_REQUEST_ID ": %s",
                 hc->listener->ops->name(hc->listener->worker), hc->call.request_id, why);
    char text[256];
    snprintf(text, sizeof text, "%s: %s\n", reason_phrase(status), why);
    respond_error(hc, status, text);
}

static void respond(pw_call_t *call, pw_message_t *msg, int error_status, const char *error_text)
{
    http_call_t *hc = (http_call_t *)call;
    h2o_req_t *req = hc->req;
    h2o_iovec_t body;
    if (msg && (msg->flags & PW_FRAME_FLAG_STREAM)) {
        stream_start(hc, msg);
        return;
    }
    if (msg && (msg->flags & PW_FRAME_FLAG_WEBSOCKET)) {
        respond_websocket(hc, msg);
        return;
    }
    if (msg && msg->status < 200) {
        respond_error(hc, 502, "Bad Gateway: the worker answered with an informational status "
                               "(101 needs a WebSocket).\n");
        return;
    }
    if (msg) {
        req->res.status = (int)msg->status;
        add_response_headers(req, msg);
        body = h2o_strdup(&req->pool, (const char *)msg->body.base, msg->body.len);
    } else {
        req->res.status = error_status;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/plain; charset=utf-8"));
        if (call->retry_after_s) {
            char *value = h2o_mem_alloc_pool(&req->pool, 16);
            int len = snprintf(value, 16, "%u", call->retry_after_s);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, value,
                           (size_t)len);
        }
        body = h2o_strdup(&req->pool, error_text, strlen(error_text));
    }
    req->res.reason = reason_phrase(req->res.status);
    req->res.content_length = body.len;
    int no_body = response_has_no_body(req);
    log_access(hc, body.len);   /* first: a client that got its answer finds it logged */
    h2o_start_response(req, &hc->generator);
    h2o_send(req, &body, no_body ? 0 : 1, H2O_SEND_STATE_FINAL);
}

static void respond_error(http_call_t *hc, int status, const char *text)
{
    respond(&hc->call, NULL, status, text);
}

/* ---- clients that leave while their request waits (HTTP/1) ---- */

static void on_peer_sweep(uv_timer_t *timer);

static void waiting_add(pw_http_server_t *server, http_call_t *hc)
{
    pw_list_push_front(&server->waiting, &hc->link);
    if (!uv_is_active((uv_handle_t *)&server->peer_sweep))
        uv_timer_start(&server->peer_sweep, on_peer_sweep, PEER_SWEEP_MS, PEER_SWEEP_MS);
}

static void waiting_remove(pw_http_server_t *server, http_call_t *hc)
{
    pw_list_remove(&hc->link);
    if (pw_list_empty(&server->waiting))
        uv_timer_stop(&server->peer_sweep);
}

static int client_left(http_call_t *hc, uint64_t now)
{
    h2o_req_t *req = hc->req;
    struct sockaddr_storage peer;
    if (req->version >= 0x200 || now - hc->start_ns < PEER_CHECK_AFTER_NS ||
        (hc->call.state != PW_CALL_QUEUED && hc->call.state != PW_CALL_SENT))
        return 0;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&peer);
    return pw_peer_gone((struct sockaddr *)&peer, len);
}

/* The worker stops on the request (CANCEL); h2o ends it and closes the connection. */
static void abandon(http_call_t *hc)
{
    hc->listener->ops->cancel(&hc->call);
    hc->req->res.status = 499;
    log_access(hc, 0);
    h2o_send_error_generic(hc->req, 499, "Client Closed Request", "",
                           H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
}

static void on_peer_sweep(uv_timer_t *timer)
{
    pw_http_server_t *server = timer->data;
    uint64_t now = uv_hrtime();
    PW_LIST_FOR_EACH(node, &server->waiting) {
        http_call_t *hc = PW_CONTAINER_OF(node, http_call_t, link);
        if (client_left(hc, now))
            abandon(hc);
    }
}

static void on_guard_rearm(uv_prepare_t *handle)
{
    if (!pw_head_guard_rearm())
        uv_prepare_stop(handle);
}

static void guard_rearm_soon(pw_http_server_t *server)
{
    if (!server->closing && !uv_is_active((uv_handle_t *)&server->guard_rearm))
        uv_prepare_start(&server->guard_rearm, on_guard_rearm);
}

/* The next head on this HTTP/1 connection is guarded again (head_guard.h). */
static void guard_next_head(pw_http_server_t *server, h2o_req_t *req)
{
    if (req->version >= 0x200 || !req->http1_is_persistent || !req->conn->callbacks->get_socket)
        return;
    if (pw_head_guard_request_done(req->conn->callbacks->get_socket(req->conn)))
        guard_rearm_soon(server);
}

static void on_request_disposed(void *ptr)
{
    http_call_t *hc = ptr;
    pw_http_server_t *server = hc->listener->server;
    guard_next_head(server, hc->req);
    if (!hc->start_ns)
        return;                 /* refused: never submitted */
    if (!hc->files) {
        waiting_remove(server, hc);
        if (hc->call.state != PW_CALL_DONE)
            hc->listener->ops->cancel(&hc->call);
        pw_buf_free(&hc->stream.pending);
        pw_buf_free(&hc->stream.sending);
    }
    server->inflight--;
    if (server->draining && server->inflight == 0 && server->opts.on_idle)
        server->opts.on_idle(server->opts.on_idle_arg);
}

static pw_bytes_t span(h2o_iovec_t v)
{
    return (pw_bytes_t){ (const uint8_t *)v.base, v.len };
}

/* Answers a refused request (and closes its connection, which may hold more of it). */
static void refuse(h2o_req_t *req, listener_t *l, const pw_http_verdict_t *why, uint64_t request_id)
{
    const char *phrase = reason_phrase(why->status);
    size_t len = strlen(phrase) + strlen(why->reason) + 4;
    char *body = h2o_mem_alloc_pool(&req->pool, len);
    snprintf(body, len, "%s: %s\n", phrase, why->reason);
    if (why->status == 405)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"));
    if (l->server->opts.access_log)
        pw_log_access(l->ops->name(l->worker), req->input.method.base, req->input.method.len,
                      req->input.path.base, req->input.path.len, why->status, 0, 0, request_id);
    h2o_send_error_generic(req, why->status, phrase, body,
                           H2O_SEND_ERROR_KEEP_HEADERS | H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
}

static size_t request_header_bytes(const h2o_req_t *req)
{
    size_t total = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        total += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    return total;
}

/* An HTTP/1 request's raw head, still at the start of the connection's input buffer (h2o
 * consumes it only once the response is written); of an HTTP/2 request, the size of what
 * h2o decoded. */
static int check_head(h2o_req_t *req, pw_http_verdict_t *why)
{
    h2o_socket_t *sock;
    pw_http_head_t head;
    why->status = 0;
    if (req->version >= 0x200) {
        if (request_header_bytes(req) <= PW_HTTP_MAX_HEADER_BYTES)
            return 0;
        why->reason = "request headers over 128 KiB";
        return why->status = 431;
    }
    if (!req->conn->callbacks->get_socket || !(sock = req->conn->callbacks->get_socket(req->conn)) ||
        !sock->input)
        return 0;
    return pw_http_head_check((const uint8_t *)sock->input->bytes, sock->input->size, &head, why);
}

/* The host's checks, then request.url and the Host header into hc; 0 or the status refused. */
static int admit(http_call_t *hc, pw_http_verdict_t *why)
{
    h2o_req_t *req = hc->req;
    h2o_iovec_t scheme = req->input.scheme ? req->input.scheme->name : h2o_iovec_init(H2O_STRLIT("http"));
    pw_bytes_t authority;
    size_t len;
    if (check_head(req, why) != 0)
        return why->status;
    char *url = h2o_mem_alloc_pool(&req->pool, pw_http_url_max(scheme.len, req->input.authority.len,
                                                                req->input.path.len));
    if (pw_http_request_url(span(scheme), span(req->input.method), span(req->input.path),
                            span(req->input.authority), url, &len, &authority, why) != 0)
        return why->status;
    hc->url = h2o_iovec_init(url, len);
    hc->host = h2o_iovec_init((char *)authority.base, authority.len);
    return 0;
}

/* A disk service's request: answered by the host from the directory (static_handler.h). */
static void serve_files(http_call_t *hc)
{
    listener_t *l = hc->listener;
    hc->files = 1;
    hc->start_ns = uv_hrtime();
    l->server->inflight++;
    pw_static_serve_t how = { .access_log = l->server->opts.access_log,
                              .request_id = hc->call.request_id, .start_ns = hc->start_ns };
    pw_static_serve(l->files, hc->req, hc->url, &how);
}

/* A worker's assets before the worker, as on Cloudflare (static_assets.h). */
static int assets_claim(listener_t *l, http_call_t *hc)
{
    const char *path;
    size_t len;
    if (pw_static_url_path(hc->url.base, hc->url.len, &path, &len) < 0)
        return 0;
    pw_bytes_t method = { (const uint8_t *)hc->req->input.method.base, hc->req->input.method.len };
    return pw_static_assets_claim(l->files, method, (pw_bytes_t){ (const uint8_t *)path, len });
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    listener_t *l = ((worker_handler_t *)self)->listener;
    http_call_t *hc = h2o_mem_alloc_shared(&req->pool, sizeof *hc, on_request_disposed);
    memset(hc, 0, sizeof *hc);
    hc->req = req;
    hc->listener = l;
    hc->call.request_id = pw_request_id_next();
    pw_http_verdict_t why;
    if (admit(hc, &why) != 0) {
        refuse(req, l, &why, hc->call.request_id);
        return 0;
    }
    if (l->files && (!l->assets_first || assets_claim(l, hc))) {
        serve_files(hc);
        return 0;
    }
    hc->start_ns = uv_hrtime();
    hc->call.state = PW_CALL_NEW;
    hc->call.encode = encode_request;
    hc->call.respond = respond;
    hc->call.chunk = stream_chunk;
    hc->call.end = stream_end;
    l->server->inflight++;
    waiting_add(l->server, hc);
    l->ops->submit(l->worker, &hc->call);
    return 0;
}

/* ---- listeners ---- */

static void on_accept(uv_stream_t *listener_stream, int status)
{
    listener_t *l = listener_stream->data;
    if (status < 0)
        return;
    pw_accepted_t *conn = calloc(1, sizeof *conn);
    if (!conn)
        return;
    uv_tcp_init(listener_stream->loop, &conn->tcp);
    if (uv_accept(listener_stream, (uv_stream_t *)&conn->tcp) != 0) {
        uv_close((uv_handle_t *)&conn->tcp, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&conn->tcp, pw_accepted_close_cb);
    /* h2o keeps the peer address it reads here: requests' client addresses reuse it */
    struct sockaddr_storage peer;
    socklen_t peer_len = h2o_socket_getpeername(sock, (struct sockaddr *)&peer);
    pw_accepted_add(conn, (struct sockaddr *)&peer, peer_len);
    h2o_accept(&l->accept_ctx, sock);
    if (pw_head_guard_accepted(conn, l->ssl_ctx != NULL))
        guard_rearm_soon(l->server);
}

static void listener_configure(listener_t *l, uv_loop_t *loop, size_t max_body)
{
    h2o_config_init(&l->config);
    l->config.server_name = h2o_iovec_init(H2O_STRLIT("pyworkerd"));
    l->config.max_request_entity_size = max_body;
    h2o_hostconf_t *host = h2o_config_register_host(&l->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    worker_handler_t *handler = (worker_handler_t *)h2o_create_handler(path, sizeof *handler);
    handler->super.on_req = on_req;
    handler->listener = l;
    h2o_context_init(&l->ctx, loop, &l->config);
    l->accept_ctx.ctx = &l->ctx;
    l->accept_ctx.hosts = l->config.hosts;
}

/* The listener's address for REQUEST frames, unless it is a wildcard (0.0.0.0, ::), whose
 * connections each have their own local address. */
static void remember_bound_address(listener_t *l)
{
    struct sockaddr_storage sa;
    int len = sizeof sa;
    l->server_ip[0] = '\0';
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&sa, &len) < 0)
        return;
    if (sa.ss_family == AF_INET && ((struct sockaddr_in *)&sa)->sin_addr.s_addr == htonl(INADDR_ANY))
        return;
    if (sa.ss_family == AF_INET6 &&
        memcmp(&((struct sockaddr_in6 *)&sa)->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0)
        return;
    address_text(&sa, (socklen_t)len, l->server_ip, sizeof l->server_ip, &l->server_port);
}

static int listener_tls(listener_t *l, const pw_socket_t *socket, char *err, size_t err_len)
{
    if (!socket || !socket->https)
        return 0;
    l->ssl_ctx = pw_tls_server_ctx(socket->name, socket->tls_certificate_chain,
                                   socket->tls_private_key, socket->tls_min_version, err, err_len);
    if (!l->ssl_ctx)
        return -1;
    l->accept_ctx.ssl_ctx = l->ssl_ctx;
    return 0;
}

static void listener_init_handle(listener_t *l, uv_loop_t *loop)
{
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    l->server->open_handles++;
}

/* Starts accepting once the handle is bound or opened (rc: how that went). */
static int listener_listen(listener_t *l, int rc)
{
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_accept);
    if (rc == 0) {
        l->listening = 1;
        remember_bound_address(l);
    }
    return rc;
}

/* -S name=fd: a listening socket inherited from whoever started pyworkerd. */
static int listener_adopt(listener_t *l, uv_loop_t *loop, int fd, char *err, size_t err_len)
{
    int listening = 0;
    socklen_t len = sizeof listening;
    listener_init_handle(l, loop);
    int rc = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ? uv_translate_sys_error(errno)
             : !listening ? UV_EINVAL : uv_tcp_open(&l->tcp, fd);
    if ((rc = listener_listen(l, rc)) < 0) {
        snprintf(err, err_len, "socket %s: file descriptor %d is not a listening TCP socket: %s",
                 l->socket_name, fd, uv_strerror(rc));
        return -1;
    }
    l->inherited_fd = fd;
    return 0;
}

/* Whether plain bind() finds the address taken: SO_REUSEPORT would otherwise let this host
 * join another process's sockets on it (one of the same user with --threads) instead of
 * failing. Port 0 is never taken. */
static int address_taken(const struct sockaddr *addr, socklen_t len)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;
    if (fd < 0)
        return 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, addr, len) < 0 && errno == EADDRINUSE)
        rc = UV_EADDRINUSE;
    close(fd);
    return rc;
}

/* libuv 1.44 cannot set SO_REUSEPORT: the socket is made and bound here, then opened by
 * libuv. Returns 0 or a libuv error. */
static int bind_reuse_port(listener_t *l, const struct sockaddr *addr, int probe)
{
    socklen_t len = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int rc = probe ? address_taken(addr, len) : 0, one = 1, v6only = 0;
    if (rc < 0)
        return rc;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        (addr->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0) ||
        bind(fd, addr, len) < 0) {
        rc = uv_translate_sys_error(errno);
        close(fd);
        return rc;
    }
    if ((rc = uv_tcp_open(&l->tcp, fd)) < 0)
        close(fd);
    return rc;
}

/* --threads: this loop's listener beside another loop's (pw_http_server_share). */
static int listener_join(listener_t *l, uv_loop_t *loop, const pw_http_share_t *share, char *err,
                         size_t err_len)
{
    listener_init_handle(l, loop);
    int rc;
    if (share->fd >= 0) {
        int fd = dup(share->fd);
        rc = fd < 0 ? uv_translate_sys_error(errno) : uv_tcp_open(&l->tcp, fd);
        if (rc < 0 && fd >= 0)
            close(fd);
    } else {
        rc = bind_reuse_port(l, (const struct sockaddr *)&share->addr, 0);
    }
    if ((rc = listener_listen(l, rc)) < 0) {
        snprintf(err, err_len, "socket %s: cannot listen beside the main loop: %s", l->socket_name,
                 uv_strerror(rc));
        return -1;
    }
    return 0;
}

static int listener_bind(listener_t *l, uv_loop_t *loop, const char *address, char *err, size_t err_len)
{
    struct sockaddr_storage addr;
    if (pw_address_parse(address, l->ssl_ctx ? 443 : 80, &addr, err, err_len) < 0)
        return -1;
    listener_init_handle(l, loop);
    int rc = listener_listen(l, l->server->opts.reuse_port
                                    ? bind_reuse_port(l, (const struct sockaddr *)&addr, 1)
                                    : uv_tcp_bind(&l->tcp, (const struct sockaddr *)&addr, 0));
    if (rc < 0) {
        snprintf(err, err_len, "socket %s: cannot listen on %s: %s", l->socket_name, address, uv_strerror(rc));
        return -1;
    }
    return 0;
}

int pw_http_server_start(uv_loop_t *loop, const pw_listener_spec_t *specs, size_t n,
                         const pw_http_options_t *opts, pw_http_server_t **out, char *err,
                         size_t err_len)
{
    pw_http_server_t *server = calloc(1, sizeof *server);
    listener_t *listeners = calloc(n ? n : 1, sizeof *listeners);
    if (!server || !listeners) {
        free(server);
        free(listeners);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    pw_list_init(&server->waiting);
    server->listeners = listeners;
    server->n_listeners = n;
    server->opts = *opts;
    *out = server;
    uv_timer_init(loop, &server->peer_sweep);
    uv_unref((uv_handle_t *)&server->peer_sweep);
    server->peer_sweep.data = server;
    server->open_handles++;
    uv_prepare_init(loop, &server->guard_rearm);
    uv_unref((uv_handle_t *)&server->guard_rearm);
    server->guard_rearm.data = server;
    server->open_handles++;
    for (size_t i = 0; i < n; i++) {
        listener_t *l = &listeners[i];
        l->server = server;
        l->socket_name = strdup(specs[i].socket_name);
        l->ops = specs[i].ops;
        l->worker = specs[i].worker;
        l->inherited_fd = -1;
        l->files = specs[i].files;
        l->assets_first = specs[i].files && specs[i].ops != &pw_static_files_ops;
        listener_configure(l, loop, opts->max_request_body);
        int fd = specs[i].socket ? specs[i].socket->listen_fd : -1;
        if (listener_tls(l, specs[i].socket, err, err_len) < 0 ||
            (specs[i].share ? listener_join(l, loop, specs[i].share, err, err_len)
             : fd >= 0      ? listener_adopt(l, loop, fd, err, err_len)
                            : listener_bind(l, loop, specs[i].address, err, err_len)) < 0)
            return -1;
        if (!specs[i].share)
            pw_log_info("socket %s: listening on %s%s", l->socket_name,
                        fd >= 0 ? "an inherited socket" : specs[i].address, l->ssl_ctx ? " (https)" : "");
    }
    return 0;
}

static void server_free(pw_http_server_t *server)
{
    for (size_t i = 0; i < server->n_listeners; i++) {
        free(server->listeners[i].socket_name);
        if (server->listeners[i].ssl_ctx)
            SSL_CTX_free(server->listeners[i].ssl_ctx);
    }
    free(server->listeners);
    free(server);
}

static void handle_closed(pw_http_server_t *server)
{
    if (--server->open_handles == 0 && server->closing)
        server_free(server);
}

static void on_listener_closed(uv_handle_t *handle)
{
    listener_t *l = handle->data;
    handle_closed(l->server);
}

static void on_sweep_closed(uv_handle_t *handle)
{
    handle_closed(handle->data);
}

static void close_listeners(pw_http_server_t *server)
{
    for (size_t i = 0; i < server->n_listeners; i++) {
        listener_t *l = &server->listeners[i];
        if (l->tcp.data && !uv_is_closing((uv_handle_t *)&l->tcp))
            uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        l->listening = 0;
    }
}

void pw_http_server_drain(pw_http_server_t *server)
{
    if (server->draining)
        return;
    server->draining = 1;
    close_listeners(server);
    if (server->inflight == 0 && server->opts.on_idle)
        server->opts.on_idle(server->opts.on_idle_arg);
}

int pw_http_server_port(const pw_http_server_t *server, size_t i, const char **socket_name)
{
    struct sockaddr_storage addr;
    int len = (int)sizeof addr;
    const listener_t *l = &server->listeners[i];
    *socket_name = l->socket_name;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    if (addr.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return -1;
}

int pw_http_server_share(const pw_http_server_t *server, size_t i, pw_http_share_t *out)
{
    const listener_t *l = &server->listeners[i];
    int len = (int)sizeof out->addr;
    out->fd = l->inherited_fd;
    if (out->fd >= 0)
        return 0;
    return uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&out->addr, &len) == 0 ? 0 : -1;
}

size_t pw_http_server_listeners(const pw_http_server_t *server)
{
    return server->n_listeners;
}

size_t pw_http_server_inflight(const pw_http_server_t *server)
{
    return server->inflight;
}

void pw_http_server_close(pw_http_server_t *server)
{
    server->closing = 1;
    if (server->open_handles == 0) {
        server_free(server);
        return;
    }
    if (!uv_is_closing((uv_handle_t *)&server->peer_sweep))
        uv_close((uv_handle_t *)&server->peer_sweep, on_sweep_closed);
    if (!uv_is_closing((uv_handle_t *)&server->guard_rearm))
        uv_close((uv_handle_t *)&server->guard_rearm, on_sweep_closed);
    close_listeners(server);
}

void pw_http_server_replace_worker(pw_http_server_t *server, void *old, void *replacement)
{
    for (size_t i = 0; i < server->n_listeners; i++)
        if (server->listeners[i].worker == old)
            server->listeners[i].worker = replacement;
}
