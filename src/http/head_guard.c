/* head_guard.c — 431 for oversized request heads before h2o sees them (host process; see
 * head_guard.h). h2o's HTTP/1 read callback is static in libh2o: its address is learnt from
 * the first plain connection (h2o_accept installs it synchronously), and only a socket whose
 * read callback is that one is ever wrapped, so HTTP/2 and TLS handshakes are left alone.
 * A TLS connection is looked at in every prepare phase until its handshake is over (the
 * handshake's read callback, learnt the same way, is gone) and wrapped unless ALPN chose h2.
 * Connections are found by descriptor; a queued descriptor whose connection closed meanwhile
 * is skipped (or, reused, belongs to a new connection that is guarded anyway).
 */
#include "http/head_guard.h"
#include "http/request_head.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static h2o_socket_cb http1_reader;  /* h2o's reqread_on_read */
static h2o_socket_cb tls_handshake_reader;

/* Descriptors to look at in the next prepare phase. */
typedef struct {
    int *fds;
    size_t n, cap;
} fd_list_t;

static __thread fd_list_t queued;            /* an HTTP/1 request on it ended */
static __thread fd_list_t handshaking;       /* TLS, not yet known to be HTTP/1 or HTTP/2 */

#define REJECT_BODY "Request Header Fields Too Large: over 128 KiB of headers or more than 100 of them\n"
static const char REJECT_431[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\n"
    "Content-Length: 82\r\n"
    "\r\n" REJECT_BODY;
_Static_assert(sizeof REJECT_BODY - 1 == 82, "REJECT_431's Content-Length");

static void forward(h2o_socket_t *sock, const char *err)
{
    http1_reader(sock, err);
}

/* After the 431: drop whatever the client still sends until it closes (h2o then frees the
 * connection) or h2o's request timeout does, so that no unread data turns our close into a
 * reset that would destroy the 431 before the client reads it. */
static void discard_on_read(h2o_socket_t *sock, const char *err)
{
    if (err) {
        forward(sock, err);
        return;
    }
    h2o_buffer_consume(&sock->input, sock->input->size);
}

/* Plain connections are shut down for writing, so that the client sees the end at once; a
 * TLS one waits for the client to close it (Connection: close), or h2o's request timeout. */
static void on_reject_written(h2o_socket_t *sock, const char *err)
{
    int fd = h2o_socket_get_fd(sock);
    if (err || fd < 0 || (!sock->ssl && shutdown(fd, SHUT_WR) < 0)) {
        forward(sock, err ? err : h2o_socket_error_closed);
        return;
    }
    h2o_buffer_consume(&sock->input, sock->input->size);
    h2o_socket_read_start(sock, discard_on_read);
}

static void guarded_on_read(h2o_socket_t *sock, const char *err)
{
    pw_http_verdict_t why;
    if (err || pw_http_head_guard((const uint8_t *)sock->input->bytes, sock->input->size, &why) == 0) {
        forward(sock, err);
        return;
    }
    h2o_iovec_t resp = h2o_iovec_init(REJECT_431, sizeof REJECT_431 - 1);
    h2o_socket_read_stop(sock);
    h2o_socket_write(sock, &resp, 1, on_reject_written);
}

static void wrap(h2o_socket_t *sock)
{
    if (http1_reader && sock->_cb.read == http1_reader)
        sock->_cb.read = guarded_on_read;
}

static void fd_list_add(fd_list_t *list, int fd)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        int *grown = realloc(list->fds, cap * sizeof *grown);
        if (!grown)
            return;
        list->fds = grown;
        list->cap = cap;
    }
    list->fds[list->n++] = fd;
}

static int pending(void)
{
    return queued.n > 0 || handshaking.n > 0;
}

int pw_head_guard_request_done(h2o_socket_t *sock)
{
    int fd = sock ? h2o_socket_get_fd(sock) : -1;
    if (fd >= 0 && http1_reader)
        fd_list_add(&queued, fd);
    return pending();
}

/* The socket of the open connection on fd, or NULL. */
static h2o_socket_t *open_socket(int fd)
{
    pw_accepted_t *conn = pw_accepted_by_fd(fd);
    if (!conn || uv_is_closing((uv_handle_t *)&conn->tcp))
        return NULL;
    return conn->tcp.data;
}

/* 1 while the TLS connection on fd is still shaking hands (or gone quiet in between). Once
 * h2o runs HTTP/1 on it (ALPN chose no "h2"), its reader is h2o's HTTP/1 one: wrapped. */
static int still_handshaking(int fd)
{
    h2o_socket_t *sock = open_socket(fd);
    if (!sock)
        return 0;
    if (!sock->_cb.read || sock->_cb.read == tls_handshake_reader)
        return 1;
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    if (proto.len >= 2 && memcmp(proto.base, "h2", 2) == 0)
        return 0;
    if (!http1_reader)
        http1_reader = sock->_cb.read;
    wrap(sock);
    return 0;
}

int pw_head_guard_rearm(void)
{
    for (size_t i = 0; i < queued.n; i++) {
        h2o_socket_t *sock = open_socket(queued.fds[i]);
        if (sock)
            wrap(sock);
    }
    queued.n = 0;
    size_t kept = 0;
    for (size_t i = 0; i < handshaking.n; i++)
        if (still_handshaking(handshaking.fds[i]))
            handshaking.fds[kept++] = handshaking.fds[i];
    handshaking.n = kept;
    return pending();
}

int pw_head_guard_accepted(pw_accepted_t *conn, int tls)
{
    h2o_socket_t *sock = conn->tcp.data;
    if (uv_is_closing((uv_handle_t *)&conn->tcp) || !sock || !sock->_cb.read)
        return pending();
    if (tls) {
        if (!tls_handshake_reader)
            tls_handshake_reader = sock->_cb.read;
        if (sock->_cb.read == tls_handshake_reader && conn->fd >= 0)
            fd_list_add(&handshaking, conn->fd);
        return pending();
    }
    if (!http1_reader)
        http1_reader = sock->_cb.read;
    wrap(sock);
    return pending();
}

void pw_head_guard_forget(pw_accepted_t *conn)
{
}
