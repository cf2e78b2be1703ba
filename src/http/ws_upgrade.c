/* ws_upgrade.c — answering a WebSocket upgrade with 101 and taking over the socket (host
 * process; see ws_upgrade.h). h2o 2.2 writes the 101 (h2o_http1_upgrade), disposes of the
 * request and hands the socket to on_upgraded with the size of the request head still in
 * its input buffer; whatever follows it is the client's first frames.
 */
#include "http/ws_upgrade.h"
#include "http/ws_codec.h"
#include "http/ws_conn.h"

#include <h2o/http1.h>

#include <string.h>

int pw_ws_is_upgrade(const h2o_req_t *req)
{
    return req->upgrade.base && h2o_lcstris(req->upgrade.base, req->upgrade.len, H2O_STRLIT("websocket"));
}

static const h2o_iovec_t *find_header(const h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i < 0 ? NULL : &req->headers.entries[i].value;
}

/* The request's Sec-WebSocket-Key, or NULL with *why. */
static const h2o_iovec_t *handshake_key(const h2o_req_t *req, const char **why)
{
    if (req->version != 0x101 || !pw_ws_is_upgrade(req)) {
        *why = "the worker returned a WebSocket for a request that did not contain the header "
               "\"Upgrade: websocket\" (over HTTP/1.1)";
        return NULL;
    }
    const h2o_iovec_t *version = find_header(req, H2O_STRLIT("sec-websocket-version"));
    if (!version || !h2o_memis(version->base, version->len, H2O_STRLIT("13"))) {
        *why = "WebSocket upgrade without \"Sec-WebSocket-Version: 13\"";
        return NULL;
    }
    const h2o_iovec_t *key = find_header(req, H2O_STRLIT("sec-websocket-key"));
    if (!key || key->len != 24) {
        *why = "WebSocket upgrade without a valid Sec-WebSocket-Key";
        return NULL;
    }
    return key;
}

static int is_handshake_header(const char *name, size_t len)
{
    return h2o_lcstris(name, len, H2O_STRLIT("content-length")) ||
           h2o_lcstris(name, len, H2O_STRLIT("transfer-encoding")) ||
           h2o_lcstris(name, len, H2O_STRLIT("connection")) ||
           h2o_lcstris(name, len, H2O_STRLIT("keep-alive")) ||
           h2o_lcstris(name, len, H2O_STRLIT("upgrade")) ||
           h2o_lcstris(name, len, H2O_STRLIT("sec-websocket-accept"));
}

/* The worker's headers (Sec-WebSocket-Protocol, cookies...), then the handshake's own. */
static void add_headers(h2o_req_t *req, pw_message_t *response, const h2o_iovec_t *key)
{
    pw_header_t h;
    while (pw_headers_next(response, &h)) {
        if (is_handshake_header((const char *)h.name.base, h.name.len))
            continue;
        h2o_iovec_t name = h2o_strdup(&req->pool, (const char *)h.name.base, h.name.len);
        h2o_strtolower(name.base, name.len);
        h2o_iovec_t value = h2o_strdup(&req->pool, (const char *)h.value.base, h.value.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL,
                              value.base, value.len);
    }
    char *accept = h2o_mem_alloc_pool(&req->pool, 29);
    pw_ws_accept_key(key->base, key->len, accept);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-accept"), 0, NULL,
                          accept, 28);
}

static void on_upgraded(void *data, h2o_socket_t *sock, size_t reqsize)
{
    pw_ws_conn_attach(data, sock, reqsize);
}

int pw_ws_upgrade(h2o_req_t *req, pw_message_t *response, pw_ws_side_t *isolate, const char **why)
{
    const h2o_iovec_t *key = handshake_key(req, why);
    if (!key)
        return 400;
    pw_ws_conn_t *conn = pw_ws_conn_new(req->conn->ctx->loop, 0);
    if (!conn) {
        *why = "out of memory";
        return 500;
    }
    pw_ws_link(pw_ws_conn_side(conn), isolate);
    req->res.status = 101;
    req->res.reason = "Switching Protocols";
    req->res.content_length = SIZE_MAX;
    req->http1_is_persistent = 0;   /* no next request on this connection (head_guard.h) */
    add_headers(req, response, key);
    h2o_http1_upgrade(req, NULL, 0, on_upgraded, conn);
    return 0;
}
