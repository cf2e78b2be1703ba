/* ws_client.c — opening a WebSocket for a worker (host process, loop thread; see
 * ws_client.h). Stages: resolving (uv_getaddrinfo), connecting (uv_tcp_connect on a handle
 * of its own, wrapped in an h2o socket once connected), TLS, the handshake. The resolver's
 * request and the TCP handle are separate allocations that outlive an aborted client: their
 * callbacks find it gone (NULL back pointer) and only free themselves.
 */
#include "http/ws_client.h"
#include "http/ws_codec.h"
#include "base/list.h"
#include "http/peer_gone.h"

#include <curl/curl.h>
#include <errno.h>
#include <h2o.h>
#include <h2o/socket/uv-binding.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEAD (64u * 1024)
#define MAX_BODY (64u * 1024)

typedef struct {
    uv_getaddrinfo_t req;
    pw_ws_client_t *client;     /* NULL once the client is gone */
} resolve_t;

/* The outbound TCP handle. http/read_park.c takes any TCP stream for an accepted connection
 * when the magic at pw_accepted_t's offset says so: the handle sits in a zeroed
 * pw_accepted_t (magic 0), so that read is inside this allocation and says no. */
typedef struct {
    pw_accepted_t as_accepted;  /* first: .tcp is the handle */
    uv_connect_t connect;
    pw_ws_client_t *client;     /* NULL once the client is gone */
} tcp_t;

struct pw_ws_client {
    uv_loop_t *loop;
    const pw_fetch_policy_t *policy;
    SSL_CTX *tls;               /* wss: */
    char *host;                 /* for SNI and the certificate */
    char port[8];
    pw_buf_t request;           /* the handshake */
    char accept[29];            /* the Sec-WebSocket-Accept the server must answer */
    resolve_t *resolve;
    tcp_t *tcp;                 /* while connecting */
    h2o_socket_t *sock;         /* once connected */
    uv_timer_t timer;
    pw_ws_client_cb done;
    void *arg;
    int denied;                 /* an address was refused by the rules */
};

/* ---- the TLS context ---- */

static int add_pem(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    X509 *cert;
    while (bio && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        added += X509_STORE_add_cert(store, cert) == 1;
        X509_free(cert);
    }
    ERR_clear_error();
    BIO_free(bio);
    return added ? 0 : -1;
}

SSL_CTX *pw_ws_client_tls(const pw_fetch_tls_t *tls)
{
    static const int min_versions[] = {
        [PW_FETCH_TLS_MIN_DEFAULT] = TLS1_2_VERSION, [PW_FETCH_TLS_MIN_1_0] = TLS1_VERSION,
        [PW_FETCH_TLS_MIN_1_1] = TLS1_1_VERSION, [PW_FETCH_TLS_MIN_1_2] = TLS1_2_VERSION,
        [PW_FETCH_TLS_MIN_1_3] = TLS1_3_VERSION,
    };
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(ctx, min_versions[tls->min_version]);
    if ((tls->trust_system && SSL_CTX_set_default_verify_paths(ctx) != 1) ||
        (tls->trusted_pem && add_pem(ctx, tls->trusted_pem) < 0)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* ---- ending ---- */

static void on_timer_closed(uv_handle_t *handle)
{
    pw_ws_client_t *c = handle->data;
    free(c->host);
    pw_buf_free(&c->request);
    free(c);
}

static void on_tcp_closed(uv_handle_t *handle)
{
    free(handle->data);
}

/* Drops whatever is under way (the socket, unless it was handed to a connection) and frees. */
static void client_free(pw_ws_client_t *c)
{
    if (c->resolve) {
        c->resolve->client = NULL;
        uv_cancel((uv_req_t *)&c->resolve->req);
    }
    if (c->tcp) {
        c->tcp->client = NULL;
        uv_close((uv_handle_t *)&c->tcp->as_accepted.tcp, on_tcp_closed);
    }
    if (c->sock) {
        c->sock->data = NULL;
        h2o_socket_close(c->sock);
    }
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

void pw_ws_client_abort(pw_ws_client_t *c)
{
    client_free(c);
}

static void fail(pw_ws_client_t *c, const char *fmt, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail ? detail : "");
    pw_ws_client_result_t r = { .error = msg };
    c->done(c->arg, &r);
    client_free(c);
}

static void on_timeout(uv_timer_t *timer)
{
    fail(timer->data, "WebSocket connection failed: timed out%s", NULL);
}

/* ---- the answer ---- */

static int append_header_lines(pw_buf_t *out, const pw_ws_response_head_t *head)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < head->n_headers; i++) {
        size_t start = out->len;
        rc |= pw_buf_append(out, head->names[i].base, head->names[i].len);
        for (size_t k = start; rc == 0 && k < out->len; k++)
            out->data[k] = (uint8_t)(out->data[k] >= 'A' && out->data[k] <= 'Z' ? out->data[k] + 32 : out->data[k]);
        rc |= pw_buf_append(out, "\n", 1);
        rc |= pw_buf_append(out, head->values[i].base, head->values[i].len);
        rc |= pw_buf_append(out, "\n", 1);
    }
    return rc;
}

static int is_101_for_us(pw_ws_client_t *c, const pw_ws_response_head_t *head)
{
    const pw_bytes_t *accept = pw_ws_response_header(head, "sec-websocket-accept");
    const pw_bytes_t *upgrade = pw_ws_response_header(head, "upgrade");
    return accept && accept->len == 28 && memcmp(accept->base, c->accept, 28) == 0 && upgrade &&
           upgrade->len == 9 && strncasecmp((const char *)upgrade->base, "websocket", 9) == 0;
}

/* The head is in: a 101 becomes the connection, anything else a response. */
static void answered(pw_ws_client_t *c, const pw_ws_response_head_t *head, size_t head_len)
{
    pw_buf_t lines;
    pw_buf_init(&lines);
    if (append_header_lines(&lines, head) < 0) {
        pw_buf_free(&lines);
        fail(c, "WebSocket connection failed: out of memory%s", NULL);
        return;
    }
    pw_ws_client_result_t r = { .status = head->status,
                                .headers = { lines.data ? lines.data : (const uint8_t *)"", lines.len } };
    if (head->status == 101 && !is_101_for_us(c, head)) {
        pw_buf_free(&lines);
        fail(c, "WebSocket connection failed: the server's 101 has no valid Sec-WebSocket-Accept%s", NULL);
        return;
    }
    h2o_socket_t *sock = c->sock;
    h2o_socket_read_stop(sock);
    if (head->status == 101 && !(r.conn = pw_ws_conn_new(c->loop, 1))) {
        pw_buf_free(&lines);
        fail(c, "WebSocket connection failed: out of memory%s", NULL);
        return;
    }
    if (!r.conn) {
        size_t body = sock->input->size - head_len;
        r.body = (pw_bytes_t){ (const uint8_t *)sock->input->bytes + head_len, body > MAX_BODY ? MAX_BODY : body };
    }
    c->done(c->arg, &r);
    pw_buf_free(&lines);
    if (r.conn) {
        c->sock = NULL;         /* the connection's now */
        pw_ws_conn_attach(r.conn, sock, head_len);
        pw_ws_side_t *side = pw_ws_conn_side(r.conn);
        if (!side->peer)
            side->ops->detached(side);
    }
    client_free(c);
}

/* Whether a non-101 answer's body is all there (its Content-Length, at most MAX_BODY). */
static int body_complete(const pw_ws_response_head_t *head, size_t have)
{
    const pw_bytes_t *length = pw_ws_response_header(head, "content-length");
    if (head->status == 101 || !length)
        return 1;
    size_t want = 0;
    for (size_t i = 0; i < length->len && want <= MAX_BODY; i++)
        want = want * 10 + (size_t)(length->base[i] >= '0' && length->base[i] <= '9' ? length->base[i] - '0' : 0);
    return have >= (want > MAX_BODY ? MAX_BODY : want);
}

static void on_head_read(h2o_socket_t *sock, const char *err)
{
    pw_ws_client_t *c = sock->data;
    if (!c)
        return;
    pw_ws_response_head_t head;
    ssize_t n = pw_ws_parse_response_head((const uint8_t *)sock->input->bytes, sock->input->size, &head);
    if (n < 0) {
        fail(c, "WebSocket connection failed: the server's answer is not HTTP%s", NULL);
    } else if (n > 0 && (err || body_complete(&head, sock->input->size - (size_t)n))) {
        answered(c, &head, (size_t)n);
    } else if (err) {
        fail(c, "WebSocket connection failed: the server closed the connection%s", NULL);
    } else if (sock->input->size > MAX_HEAD + MAX_BODY) {
        fail(c, "WebSocket connection failed: the server's answer is too large%s", NULL);
    }
}

/* ---- connecting ---- */

static void on_request_written(h2o_socket_t *sock, const char *err)
{
    pw_ws_client_t *c = sock->data;
    if (!c)
        return;
    if (err) {
        fail(c, "WebSocket connection failed: %s", err);
        return;
    }
    h2o_socket_read_start(sock, on_head_read);
}

static void send_handshake(pw_ws_client_t *c)
{
    h2o_iovec_t vec = h2o_iovec_init(c->request.data, c->request.len);
    h2o_socket_write(c->sock, &vec, 1, on_request_written);
}

static void on_tls(h2o_socket_t *sock, const char *err)
{
    pw_ws_client_t *c = sock->data;
    if (!c)
        return;
    if (err) {
        fail(c, "WebSocket connection failed: TLS: %s", err);
        return;
    }
    send_handshake(c);
}

static void on_sock_closed(uv_handle_t *handle)
{
    free(PW_CONTAINER_OF(handle, tcp_t, as_accepted.tcp));
}

static void on_connected(uv_connect_t *req, int status)
{
    tcp_t *t = PW_CONTAINER_OF(req, tcp_t, connect);
    pw_ws_client_t *c = t->client;
    if (!c)
        return;                 /* aborted: the handle is closing */
    if (status < 0) {
        fail(c, "WebSocket connection failed: %s", uv_strerror(status));
        return;
    }
    c->tcp = NULL;
    c->sock = h2o_uv_socket_create((uv_stream_t *)&t->as_accepted.tcp, on_sock_closed);
    c->sock->data = c;
    if (c->tls)
        h2o_socket_ssl_handshake(c->sock, c->tls, c->host, on_tls);
    else
        send_handshake(c);
}

/* The first address the rules allow; NULL when none is. */
static const struct addrinfo *allowed_address(pw_ws_client_t *c, const struct addrinfo *list)
{
    for (const struct addrinfo *a = list; a; a = a->ai_next) {
        if (pw_fetch_policy_allows(c->policy, a->ai_addr))
            return a;
        c->denied = 1;
    }
    return NULL;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    resolve_t *r = PW_CONTAINER_OF(req, resolve_t, req);
    pw_ws_client_t *c = r->client;
    free(r);
    if (!c) {
        uv_freeaddrinfo(res);
        return;
    }
    c->resolve = NULL;
    const struct addrinfo *a = status < 0 ? NULL : allowed_address(c, res);
    tcp_t *t = a ? calloc(1, sizeof *t) : NULL;
    if (!t) {
        uv_freeaddrinfo(res);
        if (c->denied)
            fail(c, "Network connection lost: a WebSocket to this address is not allowed by the "
                    "worker's globalOutbound network service (allow/deny).%s", NULL);
        else
            fail(c, "WebSocket connection failed: %s", status < 0 ? uv_strerror(status) : "out of memory");
        return;
    }
    t->client = c;
    uv_tcp_init(c->loop, &t->as_accepted.tcp);
    t->as_accepted.tcp.data = t;
    c->tcp = t;
    int rc = uv_tcp_connect(&t->connect, &t->as_accepted.tcp, a->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    if (rc < 0)
        fail(c, "WebSocket connection failed: %s", uv_strerror(rc));
}

/* ---- the request ---- */

/* The worker's headers, less those of the handshake itself; 0, or -EINVAL for a header that
 * could split the request. */
static int add_worker_headers(pw_buf_t *out, pw_bytes_t lines)
{
    static const char *const own[] = { "host", "upgrade", "connection", "sec-websocket-key",
                                       "sec-websocket-version", "sec-websocket-extensions",
                                       "content-length", "transfer-encoding" };
    const uint8_t *p = lines.base, *end = lines.base + lines.len;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p)), *vl;
        if (!nl || !(vl = memchr(nl + 1, '\n', (size_t)(end - nl - 1))))
            return -EINVAL;
        pw_bytes_t name = { p, (size_t)(nl - p) }, value = { nl + 1, (size_t)(vl - nl - 1) };
        p = vl + 1;
        if (!name.len || memchr(value.base, '\r', value.len) || memchr(value.base, '\0', value.len))
            return -EINVAL;
        for (size_t i = 0; i < name.len; i++)
            if (name.base[i] <= ' ' || name.base[i] >= 127 || name.base[i] == ':')
                return -EINVAL;
        int skip = 0;
        for (size_t i = 0; i < sizeof own / sizeof *own; i++)
            skip |= name.len == strlen(own[i]) && strncasecmp((const char *)name.base, own[i], name.len) == 0;
        if (skip)
            continue;
        if (pw_buf_append(out, name.base, name.len) < 0 || pw_buf_append(out, ": ", 2) < 0 ||
            pw_buf_append(out, value.base, value.len) < 0 || pw_buf_append(out, "\r\n", 2) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int build_request(pw_ws_client_t *c, const char *path, const char *query, pw_bytes_t lines)
{
    unsigned char nonce[16];
    char key[25];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return -ENOMEM;
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
    pw_ws_accept_key(key, 24, c->accept);
    int ipv6 = strchr(c->host, ':') != NULL;
    int default_port = strcmp(c->port, c->tls ? "443" : "80") == 0;
    char head[2048];
    int n = snprintf(head, sizeof head, "GET %s%s%s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                     path, query ? "?" : "", query ? query : "", ipv6 ? "[" : "", c->host, ipv6 ? "]" : "",
                     default_port ? "" : ":", default_port ? "" : c->port, key);
    if (n < 0 || (size_t)n >= sizeof head)
        return -EINVAL;
    int rc = pw_buf_append(&c->request, head, (size_t)n);
    if (rc == 0)
        rc = add_worker_headers(&c->request, lines);
    return rc == 0 ? pw_buf_append(&c->request, "\r\n", 2) : rc;
}

/* Scheme, host, port, path and query of url, through libcurl's parser. */
static int parse_url(pw_ws_client_t *c, pw_bytes_t url, pw_bytes_t lines)
{
    char *text = strndup((const char *)url.base, url.len), *scheme = NULL, *host = NULL,
         *port = NULL, *path = NULL, *query = NULL;
    CURLU *u = curl_url();
    int rc = text && u && !memchr(url.base, '\0', url.len) ? 0 : -EINVAL;
    if (rc == 0 && curl_url_set(u, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        rc = -EINVAL;
    if (rc == 0 && (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
                    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
                    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK))
        rc = -EINVAL;
    if (rc == 0 && strcmp(scheme, "ws") && strcmp(scheme, "wss") && strcmp(scheme, "http") &&
        strcmp(scheme, "https"))
        rc = -EPROTONOSUPPORT;
    if (rc == 0) {
        int tls = !strcmp(scheme, "wss") || !strcmp(scheme, "https");
        curl_url_get(u, CURLUPART_QUERY, &query, 0);
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
            port = NULL;
        snprintf(c->port, sizeof c->port, "%s", port ? port : tls ? "443" : "80");
        size_t hl = strlen(host);          /* [::1] -> ::1 */
        c->host = host[0] == '[' && hl > 2 ? strndup(host + 1, hl - 2) : strdup(host);
        if (!tls)
            c->tls = NULL;
        rc = !c->host ? -ENOMEM : tls && !c->tls ? -EIO : build_request(c, path, query, lines);
    }
    curl_free(scheme), curl_free(host), curl_free(port), curl_free(path), curl_free(query);
    curl_url_cleanup(u);
    free(text);
    return rc;
}

int pw_ws_client_connect(uv_loop_t *loop, const pw_fetch_policy_t *policy, SSL_CTX *tls,
                         pw_bytes_t url, pw_bytes_t header_lines, pw_ws_client_cb done, void *arg,
                         pw_ws_client_t **out)
{
    pw_ws_client_t *c = calloc(1, sizeof *c);
    resolve_t *r = calloc(1, sizeof *r);
    int rc = c && r ? 0 : -ENOMEM;
    if (rc == 0) {
        c->loop = loop;
        c->policy = policy;
        c->tls = tls;
        c->done = done;
        c->arg = arg;
        pw_buf_init(&c->request);
        rc = parse_url(c, url, header_lines);
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    if (rc == 0) {
        r->client = c;
        rc = uv_getaddrinfo(loop, &r->req, on_resolved, c->host, c->port, &hints) < 0 ? -EINVAL : 0;
    }
    if (rc < 0) {
        if (c) {
            free(c->host);
            pw_buf_free(&c->request);
        }
        free(c);
        free(r);
        return rc;
    }
    c->resolve = r;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_timeout, PW_WS_CLIENT_TIMEOUT_MS, 0);
    *out = c;
    return 0;
}
