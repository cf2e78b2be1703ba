/* cluster_port.c — the internal port's HTTP/1.1 server (host process, the main loop; see
 * cluster_port.h): libuv TCP, a head read up to its blank line (checked by
 * http/request_head.h), then Content-Length bytes of body; the secret is compared in constant
 * time before anything else is looked at.
 * Invariant: a connection is freed only when it is closed and has no request waiting for its
 * reply (the reply then finds it marked closed and sends nothing).
 */
#include "host/cluster_port.h"
#include "base/list.h"
#include "base/log.h"
#include "http/request_head.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BODY (64u * 1024 * 1024)

typedef struct {
    const char *path;           /* NULL: a free slot */
    pw_cluster_port_cb handle;
    void *arg;
} route_t;

struct pw_cluster_port {
    uv_tcp_t tcp;               /* first: handle->data-free casts */
    char *secret;
    route_t routes[PW_CLUSTER_PORT_PATHS];
    pw_list_t conns;            /* connections open (pw_cluster_request.link) */
};

struct pw_cluster_request {
    uv_tcp_t tcp;               /* first */
    pw_cluster_port_t *port;
    pw_list_t link;             /* port->conns until closed */
    pw_buf_t in;
    int busy;                   /* a request waits for its reply */
    int closed;                 /* uv_close called */
    int handle_gone;            /* ... and its callback ran */
    int pumping, reading;
    size_t used;                /* bytes of `in` the request in hand takes */
};

typedef struct {
    uv_write_t req;
    pw_buf_t out;
} write_t;

int pw_cluster_address_parse(const char *address, struct sockaddr_storage *out)
{
    const char *colon = strrchr(address, ':');
    char host[256];
    if (!colon || (size_t)(colon - address) >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
    int port = atoi(colon + 1);
    if (port <= 0 || port > 65535)
        return -1;
    if (strcmp(host, "*") == 0 || !host[0])
        snprintf(host, sizeof host, "0.0.0.0");
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0)
        return 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0 ? 0 : -1;
}

static void conn_free_if_done(pw_cluster_request_t *c)
{
    if (c->busy || !c->handle_gone)
        return;                 /* the reply, or libuv's close callback, frees it */
    pw_buf_free(&c->in);
    free(c);
}

static void conn_freed(uv_handle_t *h)
{
    pw_cluster_request_t *c = (pw_cluster_request_t *)h;
    c->handle_gone = 1;
    conn_free_if_done(c);
}

static void conn_close(pw_cluster_request_t *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    pw_list_remove(&c->link);
    uv_close((uv_handle_t *)&c->tcp, conn_freed);
}

static void written(uv_write_t *w, int status)
{
    write_t *wr = (write_t *)w;
    (void)status;
    pw_buf_free(&wr->out);
    free(wr);
}

static void send_answer(pw_cluster_request_t *c, int status, pw_bytes_t body)
{
    write_t *wr = calloc(1, sizeof *wr);
    if (!wr)
        return conn_close(c);
    pw_buf_init(&wr->out);
    if (pw_buf_printf(&wr->out, "HTTP/1.1 %d %s\r\ncontent-type: application/octet-stream\r\n"
                      "content-length: %zu\r\n\r\n", status, status == 200 ? "OK" : "Error",
                      body.len) < 0 || pw_buf_append(&wr->out, body.base, body.len) < 0) {
        pw_buf_free(&wr->out);
        free(wr);
        return conn_close(c);
    }
    uv_buf_t b = uv_buf_init((char *)wr->out.data, (unsigned)wr->out.len);
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, written) < 0) {
        pw_buf_free(&wr->out);
        free(wr);
        conn_close(c);
    }
}

/* The value of header `name` in the head (NULL base: absent). */
static pw_bytes_t header(pw_bytes_t head, const char *name)
{
    size_t n = strlen(name);
    const uint8_t *p = head.base, *end = head.base + head.len;
    while (p < end) {
        const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > n && strncasecmp((const char *)p, name, n) == 0 && p[n] == ':') {
            const uint8_t *v = p + n + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            return (pw_bytes_t){ v, (size_t)(ve - v) };
        }
        p = eol + 1;
    }
    return (pw_bytes_t){ NULL, 0 };
}

/* Constant time: how long the comparison takes says nothing of the secret. */
static int secret_ok(const char *secret, pw_bytes_t given)
{
    size_t n = strlen(secret);
    unsigned diff = given.len != n;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)secret[i] ^ (i < given.len ? given.base[i] : 0u);
    return given.base && diff == 0;
}

static void refuse(pw_cluster_request_t *c, int status, const char *why)
{
    send_answer(c, status, pw_bytes_of(why));
    conn_close(c);
}

static const route_t *route_of(const pw_cluster_port_t *p, pw_bytes_t target)
{
    for (size_t i = 0; i < PW_CLUSTER_PORT_PATHS; i++)
        if (p->routes[i].path && p->routes[i].handle && pw_bytes_is(target, p->routes[i].path))
            return &p->routes[i];
    return NULL;
}

int pw_cluster_port_serve(pw_cluster_port_t *p, const char *path, pw_cluster_port_cb handle, void *arg)
{
    route_t *free_slot = NULL;
    for (size_t i = 0; i < PW_CLUSTER_PORT_PATHS; i++) {
        if (p->routes[i].path && strcmp(p->routes[i].path, path) == 0) {
            p->routes[i].handle = handle;
            p->routes[i].arg = arg;
            return 0;
        }
        if (!p->routes[i].path && !free_slot)
            free_slot = &p->routes[i];
    }
    if (!free_slot)
        return -1;
    *free_slot = (route_t){ path, handle, arg };
    return 0;
}

/* One whole request in c->in? Handles it and returns 1; 0: more bytes needed. */
static int take_request(pw_cluster_request_t *c)
{
    pw_http_verdict_t why;
    pw_http_head_t h;
    if (c->in.len == 0)
        return 0;
    const uint8_t *end = c->in.len >= 4 ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
    if (!end) {
        if (pw_http_head_guard(c->in.data, c->in.len, &why))
            refuse(c, why.status, why.reason);
        return 0;
    }
    if (pw_http_head_check(c->in.data, (size_t)(end + 4 - c->in.data), &h, &why))
        return refuse(c, why.status, why.reason), 0;
    pw_bytes_t head = { c->in.data, h.head_len };
    if (!secret_ok(c->port->secret, header(head, "x-pyworkerd-secret")))
        return refuse(c, 401, "the cluster's internal port needs the cluster's secret"), 0;
    if (header(head, "transfer-encoding").base)
        return refuse(c, 411, "a Content-Length body only"), 0;
    pw_bytes_t cl = header(head, "content-length");
    int64_t body_len = 0;
    if (cl.base && (pw_bytes_to_i64(cl, &body_len) < 0 || body_len < 0 || body_len > MAX_BODY))
        return refuse(c, 413, "bad Content-Length"), 0;
    if (c->in.len - h.head_len < (size_t)body_len) {
        pw_bytes_t expect = header(head, "expect");
        if (expect.base && expect.len && c->in.len == h.head_len + 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
            uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        }
        return 0;
    }
    c->busy = 1;
    c->used = h.head_len + (size_t)body_len;
    const route_t *r = route_of(c->port, h.target);
    if (r)
        r->handle(r->arg, c, h.target, (pw_bytes_t){ c->in.data + h.head_len, (size_t)body_len });
    else
        pw_cluster_port_reply(c, 404, pw_bytes_of("no such path on the internal port"));
    return 1;
}

static void alloc_in(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

/* Handles the whole requests in hand, then reads on only while none waits for its reply. */
static void pump(pw_cluster_request_t *c)
{
    if (c->pumping)
        return;
    c->pumping = 1;
    while (!c->closed && !c->busy && take_request(c))
        ;
    c->pumping = 0;
    if (c->closed)
        return;
    if (c->busy && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    } else if (!c->busy && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_in, on_read) < 0)
            return conn_close(c);
        c->reading = 1;
    }
}

static void alloc_in(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    pw_cluster_request_t *c = (pw_cluster_request_t *)h;
    (void)suggested;
    if (pw_buf_reserve(&c->in, 65536) < 0) {
        *b = uv_buf_init(NULL, 0);
        return;
    }
    *b = uv_buf_init((char *)c->in.data + c->in.len, 65536);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    pw_cluster_request_t *c = (pw_cluster_request_t *)s;
    (void)b;
    if (n < 0)
        return conn_close(c);
    c->in.len += (size_t)n;
    pump(c);
}

void pw_cluster_port_reply(pw_cluster_request_t *c, int status, pw_bytes_t body)
{
    c->busy = 0;
    if (c->closed)
        return conn_free_if_done(c);
    send_answer(c, status, body);
    pw_buf_consume(&c->in, c->used);
    c->used = 0;
    pump(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    pw_cluster_port_t *p = (pw_cluster_port_t *)server;
    pw_cluster_request_t *c = status < 0 ? NULL : calloc(1, sizeof *c);
    if (!c)
        return;
    c->port = p;
    pw_list_push_back(&p->conns, &c->link);
    pw_buf_init(&c->in);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0)
        return conn_close(c);
    uv_tcp_nodelay(&c->tcp, 1);
    pump(c);
}

int pw_cluster_port_start(uv_loop_t *loop, const char *address, const char *secret,
                          pw_cluster_port_t **out, char *err, size_t err_len)
{
    struct sockaddr_storage sa;
    if (pw_cluster_address_parse(address, &sa) < 0)
        return snprintf(err, err_len, "--cluster-address %s: not host:port", address), -1;
    pw_cluster_port_t *p = calloc(1, sizeof *p);
    if (!p || !(p->secret = strdup(secret))) {
        free(p);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    pw_list_init(&p->conns);
    uv_tcp_init(loop, &p->tcp);
    int rc = uv_tcp_bind(&p->tcp, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&p->tcp, 128, on_connection);
    if (rc < 0) {
        snprintf(err, err_len, "--cluster-address %s: cannot listen: %s", address, uv_strerror(rc));
        pw_cluster_port_close(p);
        return -1;
    }
    *out = p;
    return 0;
}

static void port_freed(uv_handle_t *h)
{
    pw_cluster_port_t *p = (pw_cluster_port_t *)h;
    free(p->secret);
    free(p);
}

/* Its connections close too; a request still waiting for its reply keeps its memory until then. */
void pw_cluster_port_close(pw_cluster_port_t *p)
{
    if (!p)
        return;
    while (!pw_list_empty(&p->conns))
        conn_close(PW_CONTAINER_OF(p->conns.next, pw_cluster_request_t, link));
    uv_close((uv_handle_t *)&p->tcp, port_freed);
}
