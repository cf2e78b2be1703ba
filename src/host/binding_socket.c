/* binding_socket.c — TCP (and TLS) sockets of workers, made by the host (host process, the
 * isolate's own loop: per_loop). The isolate never touches the network: for each
 * socket.socket() it makes a Unix socketpair, passes one end to the host beside its
 * "socket.connect host port" call (python/channel.c pass_fd, host/port.h), and the host
 * resolves the name, checks every address against the worker's globalOutbound rules exactly
 * as fetch() does (host/outbound_policy.h; a hyperdrive binding's own address is allowed as
 * the config names it), connects, and relays bytes between the passed end and the TCP
 * connection. The isolate then reads and writes a real descriptor: blocking, non-blocking,
 * timeouts, select/selectors and asyncio work as the kernel does them.
 * "socket.starttls id servername verify check_host" turns the relay into TLS, done here with
 * OpenSSL (host/socket_tls.h); plaintext the isolate wrote before is sent first.
 * Backpressure: a side whose queued writes pass HIGH_WATER stops the other side's reads.
 * Invariant: every call is answered once; a socket is freed only after both its handles are
 * closed, and dies with its isolate (port watch).
 */
#include "host/binding.h"
#include "host/outbound_policy.h"
#include "host/port.h"
#include "host/socket_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIGH_WATER (256 * 1024)     /* queued bytes on one side that pause the other's reads */
#define MAX_SOCKETS 512             /* open sockets per worker and loop */
#define MAX_WAIT_MS 120000          /* the longest a connect or handshake may take */

typedef struct {
    pw_fetch_policy_t *policy;
    const pw_fetch_tls_t *tls;
    SSL_CTX *tls_ctx;           /* made on the first starttls */
    char **direct;              /* "host:port" of the worker's hyperdrive bindings */
    size_t n_direct;
    uv_loop_t *loop;
    uint32_t next_id;
    pw_list_t socks;
    size_t n_socks;
} sock_worker_t;

typedef struct {
    pw_port_watch_t watch;      /* first: gone() gets this pointer */
    pw_list_t link;             /* in the worker's socks */
    sock_worker_t *w;
    pw_port_t *port;
    uint32_t id;                /* the socket's id, for starttls */
    uint32_t call;              /* the connect or starttls call waiting for its answer; 0 none */
    uv_pipe_t local;            /* the isolate's end of the socketpair */
    uv_tcp_t remote;
    uv_timer_t timer;           /* the connect's or handshake's deadline */
    uv_getaddrinfo_t gai;
    uv_connect_t conn;
    uv_shutdown_t local_shut, remote_shut;
    struct addrinfo *addrs, *next;
    char host[256];
    int direct;                 /* a hyperdrive target: the rules do not apply */
    int gai_pending, closing, handles, relaying, denied;
    int local_eof, remote_eof, local_gone;
    SSL *ssl;
    int handshaking;
} host_sock_t;

typedef struct {
    uv_write_t req;
    host_sock_t *s;
    char data[];
} sock_write_t;

static void sock_close(host_sock_t *s);
static void local_read_start(host_sock_t *s);
static void remote_read_start(host_sock_t *s);

static void answer_error(host_sock_t *s, const char *name, const char *fmt, const char *what)
{
    if (s->call)
        pw_port_reply_error(s->port, s->call, name, fmt, what);
    s->call = 0;
    uv_timer_stop(&s->timer);
}

/* The call waits at most the worker's socket timeout (its field, in ms; "": MAX_WAIT_MS). */
static void on_deadline(uv_timer_t *t)
{
    host_sock_t *s = t->data;
    answer_error(s, "TimeoutError", "%s", s->handshaking ? "_ssl.c: The handshake operation timed out"
                                                         : "timed out");
    sock_close(s);
}

static void arm_deadline(host_sock_t *s, pw_bytes_t ms)
{
    char text[24];
    snprintf(text, sizeof text, "%.*s", (int)(ms.len < 23 ? ms.len : 23), (const char *)ms.base);
    unsigned long wait = ms.len ? strtoul(text, NULL, 10) : MAX_WAIT_MS;
    uv_timer_start(&s->timer, on_deadline, wait < MAX_WAIT_MS ? wait : MAX_WAIT_MS, 0);
}

/* ---- writes, with backpressure ---- */

static void on_written(uv_write_t *req, int status)
{
    sock_write_t *wr = (sock_write_t *)req;
    host_sock_t *s = wr->s;
    uv_stream_t *to = req->handle;
    free(wr);
    if (s->closing)
        return;
    if (status < 0) {
        sock_close(s);
        return;
    }
    if (uv_stream_get_write_queue_size(to) < HIGH_WATER / 2) {
        if (to == (uv_stream_t *)&s->remote && !s->local_eof && !s->handshaking)
            local_read_start(s);
        else if (to == (uv_stream_t *)&s->local && !s->remote_eof)
            remote_read_start(s);
    }
}

/* Writes at once what the socket takes (uv_try_write: no copy, no completion callback, and
 * none of the epoll_ctl(2) that a completed uv_write costs libuv's next poll: one a relay hop,
 * bench/sockets), and queues the rest, in order, behind it. */
static int queue_write(host_sock_t *s, uv_stream_t *to, const char *data, size_t len)
{
    uv_buf_t now = uv_buf_init((char *)data, (unsigned)len);
    int done = len ? uv_try_write(to, &now, 1) : 0;
    if (done < 0 && done != UV_EAGAIN)
        return done;
    if (done > 0) {
        data += done;
        len -= (size_t)done;
    }
    if (len == 0)
        return 0;
    sock_write_t *wr = malloc(sizeof *wr + len);
    if (!wr)
        return -ENOMEM;
    wr->s = s;
    memcpy(wr->data, data, len);
    uv_buf_t buf = uv_buf_init(wr->data, (unsigned)len);
    int rc = uv_write(&wr->req, to, &buf, 1, on_written);
    if (rc < 0) {
        free(wr);
        return rc;
    }
    if (uv_stream_get_write_queue_size(to) >= HIGH_WATER)
        uv_read_stop(to == (uv_stream_t *)&s->remote ? (uv_stream_t *)&s->local : (uv_stream_t *)&s->remote);
    return 0;
}

/* What OpenSSL has for the wire goes to the remote side. */
static int flush_tls(host_sock_t *s)
{
    char buf[16384];
    int n;
    BIO *wbio = SSL_get_wbio(s->ssl);
    while ((n = BIO_read(wbio, buf, sizeof buf)) > 0)
        if (queue_write(s, (uv_stream_t *)&s->remote, buf, (size_t)n) < 0)
            return -1;
    return 0;
}

static int to_remote(host_sock_t *s, const char *data, size_t len)
{
    if (!s->ssl)
        return queue_write(s, (uv_stream_t *)&s->remote, data, len);
    while (len > 0) {
        int n = SSL_write(s->ssl, data, (int)(len > 16384 ? 16384 : len));
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return flush_tls(s);
}

/* ---- reading each side ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    buf->base = malloc(65536);
    buf->len = buf->base ? 65536 : 0;
}

/* Whether the isolate closed its end (not only shut down its writes): both directions of the
 * host's end are shut then. */
static int isolate_closed(host_sock_t *s)
{
    struct pollfd pfd;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&s->local, &fd) < 0)
        return 1;
    pfd.fd = fd;
    pfd.events = POLLOUT;
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR));
}

static void on_remote_shut(uv_shutdown_t *req, int status)
{
    host_sock_t *s = req->data;
    if (!s->closing && (s->local_gone || s->remote_eof))
        sock_close(s);
}

static void local_ended(host_sock_t *s)
{
    s->local_eof = 1;
    s->local_gone = isolate_closed(s);
    uv_read_stop((uv_stream_t *)&s->local);
    if (s->ssl)
        SSL_shutdown(s->ssl), flush_tls(s);
    s->remote_shut.data = s;
    if (uv_shutdown(&s->remote_shut, (uv_stream_t *)&s->remote, on_remote_shut) < 0)
        sock_close(s);
}

static void on_local_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    host_sock_t *s = st->data;
    if (n > 0 && to_remote(s, buf->base, (size_t)n) < 0)
        n = UV_EIO;
    free(buf->base);
    if (n == UV_EOF)
        local_ended(s);
    else if (n < 0)
        sock_close(s);
}

static void local_read_start(host_sock_t *s)
{
    if (!s->closing && !s->local_eof)
        uv_read_start((uv_stream_t *)&s->local, on_alloc, on_local_read);
}

static void on_local_shut(uv_shutdown_t *req, int status)
{
    host_sock_t *s = req->data;
    if (!s->closing && s->local_eof)
        sock_close(s);
}

static void remote_ended(host_sock_t *s)
{
    s->remote_eof = 1;
    uv_read_stop((uv_stream_t *)&s->remote);
    s->local_shut.data = s;
    if (uv_shutdown(&s->local_shut, (uv_stream_t *)&s->local, on_local_shut) < 0)
        sock_close(s);
}

static void handshake_step(host_sock_t *s);

/* TLS records from the remote side: the handshake's, then plaintext for the isolate. */
static int from_remote_tls(host_sock_t *s, const char *data, size_t len)
{
    BIO_write(SSL_get_rbio(s->ssl), data, (int)len);
    if (s->handshaking) {
        handshake_step(s);
        if (s->handshaking || s->closing)
            return 0;
    }
    char plain[16384];
    int n;
    while ((n = SSL_read(s->ssl, plain, sizeof plain)) > 0)
        if (queue_write(s, (uv_stream_t *)&s->local, plain, (size_t)n) < 0)
            return -1;
    int e = SSL_get_error(s->ssl, n);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 1;       /* close_notify: the end of the stream */
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? flush_tls(s) : -1;
}

static void on_remote_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    host_sock_t *s = st->data;
    int rc = 0;
    if (n > 0)
        rc = s->ssl ? from_remote_tls(s, buf->base, (size_t)n)
                    : queue_write(s, (uv_stream_t *)&s->local, buf->base, (size_t)n);
    free(buf->base);
    if (s->closing)
        return;
    if (n == UV_EOF && s->handshaking) {
        char why[300];
        pw_socket_tls_why(s->ssl, 0, why, sizeof why);
        answer_error(s, "Error", "%s", why);
        sock_close(s);
    } else if (n == UV_EOF || rc == 1) {
        remote_ended(s);
    } else if (n < 0 || rc < 0) {
        sock_close(s);
    }
}

static void remote_read_start(host_sock_t *s)
{
    if (!s->closing && !s->remote_eof)
        uv_read_start((uv_stream_t *)&s->remote, on_alloc, on_remote_read);
}

/* ---- the socket's life ---- */

static void on_handle_closed(uv_handle_t *h)
{
    host_sock_t *s = h->data;
    if (--s->handles > 0)
        return;
    if (s->ssl)
        SSL_free(s->ssl);
    if (s->addrs)
        uv_freeaddrinfo(s->addrs);
    pw_list_remove(&s->link);
    s->w->n_socks--;
    pw_port_unwatch(s->port, &s->watch);
    free(s);
}

/* Closes both sides (once any name resolution is over); frees the socket when they are. */
static void sock_close(host_sock_t *s)
{
    if (s->closing && s->handles == 0)
        return;
    if (!s->closing)
        answer_error(s, "Error", "%s", "connection closed");
    s->closing = 1;
    if (s->gai_pending || uv_is_closing((uv_handle_t *)&s->local))
        return;
    uv_close((uv_handle_t *)&s->local, on_handle_closed);
    uv_close((uv_handle_t *)&s->remote, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}

/* The isolate died: its sockets go with it (nothing answers). */
static void sock_gone(pw_port_watch_t *watch)
{
    host_sock_t *s = (host_sock_t *)watch;
    s->call = 0;
    sock_close(s);
}

static void address_text(const struct sockaddr *sa, char *ip, size_t ip_len, char *port, size_t port_len)
{
    const void *addr = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                                 : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    unsigned p = ntohs(sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                                 : ((const struct sockaddr_in *)sa)->sin_port);
    if (!inet_ntop(sa->sa_family, addr, ip, (socklen_t)ip_len))
        snprintf(ip, ip_len, "?");
    snprintf(port, port_len, "%u", p);
}

/* Connected: answer (peer ip, port, local ip, port, id) and start relaying. */
static void connected(host_sock_t *s)
{
    struct sockaddr_storage peer, local;
    int plen = sizeof peer, llen = sizeof local;
    char pip[64] = "", pport[8] = "0", lip[64] = "", lport[8] = "0", id[16];
    if (uv_tcp_getpeername(&s->remote, (struct sockaddr *)&peer, &plen) == 0)
        address_text((struct sockaddr *)&peer, pip, sizeof pip, pport, sizeof pport);
    if (uv_tcp_getsockname(&s->remote, (struct sockaddr *)&local, &llen) == 0)
        address_text((struct sockaddr *)&local, lip, sizeof lip, lport, sizeof lport);
    snprintf(id, sizeof id, "%u", s->id);
    pw_bytes_t f[6] = { pw_bytes_of(""), pw_bytes_of(pip), pw_bytes_of(pport), pw_bytes_of(lip),
                        pw_bytes_of(lport), pw_bytes_of(id) };
    pw_port_reply(s->port, s->call, f, 6);
    s->call = 0;
    uv_timer_stop(&s->timer);
    s->relaying = 1;
    uv_tcp_nodelay(&s->remote, 1);
    local_read_start(s);
    remote_read_start(s);
}

static void on_connect(uv_connect_t *req, int status)
{
    host_sock_t *s = req->data;
    if (s->closing)
        return;
    if (status == 0) {
        connected(s);
        return;
    }
    char what[400];
    snprintf(what, sizeof what, "connect(): cannot connect to %s: %s", s->host, uv_strerror(status));
    answer_error(s, status == UV_ECONNREFUSED ? "ConnectionRefusedError" : "Error", "%s", what);
    sock_close(s);
}

/* Whether the worker may reach `addr`: its rules, or a hyperdrive binding's own address. */
static int allowed(const host_sock_t *s, const struct sockaddr *addr)
{
    return s->direct || pw_fetch_policy_allows(s->w->policy, addr);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    host_sock_t *s = req->data;
    s->gai_pending = 0;
    s->addrs = res;
    if (s->closing) {
        sock_close(s);
        return;
    }
    char what[400];
    if (status < 0) {
        snprintf(what, sizeof what, "connect(): cannot resolve %s: %s", s->host, uv_strerror(status));
        answer_error(s, "socket.gaierror", "%s", what);
        sock_close(s);
        return;
    }
    const struct addrinfo *ai = res;
    while (ai && !allowed(s, ai->ai_addr))
        ai = ai->ai_next;
    if (!ai) {
        char ip[64], port[8];
        address_text(res->ai_addr, ip, sizeof ip, port, sizeof port);
        snprintf(what, sizeof what, "connect(): %s (%s) is not allowed by the worker's globalOutbound "
                 "network rules", s->host, ip);
        answer_error(s, "PermissionError", "%s", what);
        sock_close(s);
        return;
    }
    s->conn.data = s;
    int rc = uv_tcp_connect(&s->conn, &s->remote, ai->ai_addr, on_connect);
    if (rc < 0)
        on_connect(&s->conn, rc);
}

/* ---- the ops ---- */

static int is_direct(const sock_worker_t *w, pw_bytes_t host, pw_bytes_t port)
{
    char target[300];
    snprintf(target, sizeof target, "%.*s:%.*s", (int)host.len, (const char *)host.base,
             (int)port.len, (const char *)port.base);
    for (size_t i = 0; i < w->n_direct; i++)
        if (strcmp(w->direct[i], target) == 0)
            return 1;
    return 0;
}

/* The passed descriptor, checked to be a Unix stream socket; -1 when it is not there. */
static int take_local(pw_port_t *port)
{
    int fd = pw_port_take_fd(port), domain = 0, type = 0;
    socklen_t len = sizeof domain;
    if (fd < 0)
        return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX ||
        (len = sizeof type, getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len)) < 0 || type != SOCK_STREAM) {
        close(fd);
        return -1;
    }
    return fd;
}

static host_sock_t *sock_new(sock_worker_t *w, const pw_binding_call_t *c, int fd)
{
    host_sock_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->w = w;
    s->port = c->port;
    s->call = c->id;
    s->id = ++w->next_id ? w->next_id : ++w->next_id;
    if (uv_pipe_init(w->loop, &s->local, 0) < 0 || uv_pipe_open(&s->local, fd) < 0 ||
        uv_tcp_init(w->loop, &s->remote) < 0 || uv_timer_init(w->loop, &s->timer) < 0) {
        free(s);
        return NULL;
    }
    s->local.data = s->remote.data = s->timer.data = s;
    s->handles = 3;
    pw_list_push_back(&w->socks, &s->link);
    w->n_socks++;
    pw_port_watch(c->port, &s->watch, sock_gone);
    return s;
}

/* socket.connect host port family ("4", "6" or "") timeout_ms ("": the longest) */
static void socket_connect(const pw_binding_call_t *c)
{
    sock_worker_t *w = c->state;
    const pw_bytes_t *f = c->f;
    int fd = take_local(c->port);
    if (fd < 0) {
        pw_port_reply_error(c->port, c->id, "TypeError", "socket.connect: no socket was passed");
        return;
    }
    const char *bad = w->n_socks >= MAX_SOCKETS ? "connect(): too many open sockets"
                      : f[1].len == 0 || f[1].len >= 256 ? "connect(): invalid host name"
                      : f[2].len == 0 || f[2].len > 5 ? "connect(): invalid port" : NULL;
    if (bad) {
        close(fd);
        pw_port_reply_error(c->port, c->id, "Error", "%s", bad);
        return;
    }
    host_sock_t *s = sock_new(w, c, fd);
    if (!s) {
        close(fd);
        pw_port_reply_error(c->port, c->id, "Error", "out of memory");
        return;
    }
    memcpy(s->host, f[1].base, f[1].len);
    char port[8];
    snprintf(port, sizeof port, "%.*s", (int)f[2].len, (const char *)f[2].base);
    s->direct = is_direct(w, f[1], f[2]);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
    hints.ai_family = f[3].len == 1 && f[3].base[0] == '6' ? AF_INET6 : f[3].len == 1 ? AF_INET : AF_UNSPEC;
    s->gai.data = s;
    s->gai_pending = 1;
    arm_deadline(s, f[4]);
    int rc = uv_getaddrinfo(w->loop, &s->gai, on_resolved, s->host, port, &hints);
    if (rc < 0) {
        s->gai_pending = 0;
        answer_error(s, "Error", "connect(): %s", uv_strerror(rc));
        sock_close(s);
    }
}

static host_sock_t *find_sock(sock_worker_t *w, pw_port_t *port, pw_bytes_t id)
{
    char text[16];
    snprintf(text, sizeof text, "%.*s", (int)(id.len < 15 ? id.len : 15), (const char *)id.base);
    uint32_t want = (uint32_t)strtoul(text, NULL, 10);
    for (pw_list_t *l = w->socks.next; l != &w->socks; l = l->next) {
        host_sock_t *s = PW_CONTAINER_OF(l, host_sock_t, link);
        if (s->id == want && s->port == port && !s->closing)
            return s;
    }
    return NULL;
}

static void handshake_done(host_sock_t *s)
{
    char *cert = pw_socket_tls_peer_json(s->ssl);
    const char *cipher = SSL_get_cipher_name(s->ssl);
    char bits[16];
    snprintf(bits, sizeof bits, "%d", SSL_get_cipher_bits(s->ssl, NULL));
    pw_bytes_t f[5] = { pw_bytes_of(""), pw_bytes_of(SSL_get_version(s->ssl)),
                        pw_bytes_of(cipher ? cipher : ""), pw_bytes_of(bits),
                        pw_bytes_of(cert ? cert : "{}") };
    pw_port_reply(s->port, s->call, f, 5);
    free(cert);
    s->call = 0;
    uv_timer_stop(&s->timer);
    s->handshaking = 0;
    local_read_start(s);
}

static void handshake_step(host_sock_t *s)
{
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) {
        if (flush_tls(s) < 0)
            sock_close(s);
        else
            handshake_done(s);
        return;
    }
    int e = SSL_get_error(s->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (flush_tls(s) < 0)
            sock_close(s);
        return;
    }
    char why[300];
    pw_socket_tls_why(s->ssl, rc, why, sizeof why);
    flush_tls(s);       /* the alert */
    answer_error(s, "ssl.SSLCertVerificationError", "%s", why);
    sock_close(s);
}

/* Plaintext the isolate wrote before asking for TLS goes out first, as it was. */
static int drain_local(host_sock_t *s)
{
    uv_os_fd_t fd;
    char buf[65536];
    if (uv_fileno((uv_handle_t *)&s->local, &fd) < 0)
        return -1;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0 && queue_write(s, (uv_stream_t *)&s->remote, buf, (size_t)n) == 0)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    }
}

/* socket.starttls id servername verify check_host ("1"/"") timeout_ms */
static void socket_starttls(const pw_binding_call_t *c)
{
    sock_worker_t *w = c->state;
    const pw_bytes_t *f = c->f;
    host_sock_t *s = find_sock(w, c->port, f[1]);
    char err[256], name[256];
    if (!s || !s->relaying || s->ssl || s->call) {
        pw_port_reply_error(c->port, c->id, "Error", "startTls(): the socket is %s",
                            s && s->ssl ? "already secure" : "not open");
        return;
    }
    if (!w->tls_ctx && !(w->tls_ctx = pw_socket_tls_ctx(w->tls, err, sizeof err))) {
        pw_port_reply_error(c->port, c->id, "Error", "startTls(): %s", err);
        return;
    }
    snprintf(name, sizeof name, "%.*s", (int)(f[2].len < 255 ? f[2].len : 255), (const char *)f[2].base);
    uv_read_stop((uv_stream_t *)&s->local);
    s->call = c->id;
    if (drain_local(s) < 0 || !(s->ssl = pw_socket_tls_new(w->tls_ctx, name, f[3].len > 0, f[4].len > 0))) {
        answer_error(s, "Error", "%s", "startTls(): the connection failed");
        sock_close(s);
        return;
    }
    s->handshaking = 1;
    arm_deadline(s, f[5]);
    handshake_step(s);
}

static void *socket_resolve(const pw_binding_call_t *c)
{
    return c->state;
}

/* ---- per worker ---- */

static void socket_detach(void *state)
{
    sock_worker_t *w = state;
    if (!w)
        return;
    pw_fetch_policy_free(w->policy);
    SSL_CTX_free(w->tls_ctx);
    for (size_t i = 0; i < w->n_direct; i++)
        free(w->direct[i]);
    free(w->direct);
    free(w);
}

/* The "host:port" a hyperdrive binding leads to (its designated external service). */
static int add_direct(sock_worker_t *w, const pw_binding_env_t *env, const pw_binding_t *b)
{
    const pw_service_t *target = pw_config_service(env->config, b->entrypoint);
    if (!target || !target->external_address)
        return 0;
    char **grown = realloc(w->direct, (w->n_direct + 1) * sizeof *grown);
    if (!grown)
        return -1;
    w->direct = grown;
    if (!(w->direct[w->n_direct] = strdup(target->external_address)))
        return -1;
    w->n_direct++;
    return 0;
}

static int socket_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                         void **state, char *err, size_t err_len)
{
    sock_worker_t *w = calloc(1, sizeof *w);
    *state = w;
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->loop = env->loop;
    pw_list_init(&w->socks);
    if (pw_outbound_policy_create(env->config, service, &w->policy, err, err_len) < 0)
        return -1;
    w->tls = pw_fetch_policy_tls(w->policy);
    for (size_t i = 0; i < service->worker.n_bindings; i++)
        if (service->worker.bindings[i].kind == PW_BINDING_HYPERDRIVE &&
            add_direct(w, env, &service->worker.bindings[i]) < 0) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
    return 0;
}

static const pw_binding_op_t socket_ops[] = {
    { "socket.connect", 5, 5, "socket.connect: expected host, port, family and timeout", 1,
      socket_connect },
    { "socket.starttls", 6, 6, "socket.starttls: expected id, servername, verify, check_host and "
      "timeout", 0, socket_starttls },
};

static const pw_binding_group_t socket_groups[] = {
    { .prefix = "socket.", .unnamed = 1, .resolve = socket_resolve,
      .unknown_op = "unknown socket operation \"%.*s\"", .ops = socket_ops, .n_ops = 2 },
};

const pw_binding_kind_impl_t pw_binding_socket = {
    .name = "socket", .attach = socket_attach, .detach = socket_detach, .groups = socket_groups,
    .n_groups = 1, .per_loop = 1,
};
