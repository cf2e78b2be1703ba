/* head_guard.c — 431 for oversized request heads before h2o sees them (host process; see
 * head_guard.h). h2o's HTTP/1 read callback is static in libh2o: its address is learnt from
 * the first plain connection (h2o_accept installs it synchronously), and only a socket whose
 * read callback is that one is ever wrapped, so HTTP/2 and TLS handshakes are left alone.
 * Connections are found by descriptor; a queued descriptor whose connection closed meanwhile
 * is skipped (or, reused, belongs to a new connection that is guarded anyway).
 */
#include "http/head_guard.h"
#include "http/request_head.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static h2o_socket_cb http1_reader;  /* h2o's reqread_on_read */
static pw_accepted_t **by_fd;
static size_t by_fd_len;
static int *queued;                 /* descriptors to re-arm at the next prepare phase */
static size_t n_queued, queued_cap;

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

static void on_reject_written(h2o_socket_t *sock, const char *err)
{
    int fd = h2o_socket_get_fd(sock);
    if (err || sock->ssl || fd < 0 || shutdown(fd, SHUT_WR) < 0) {
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

static void remember_fd(pw_accepted_t *conn)
{
    if (conn->fd < 0)
        return;
    size_t need = (size_t)conn->fd + 1;
    if (need > by_fd_len) {
        size_t len = need < 64 ? 64 : need * 2;
        pw_accepted_t **grown = realloc(by_fd, len * sizeof *grown);
        if (!grown)
            return;
        memset(grown + by_fd_len, 0, (len - by_fd_len) * sizeof *grown);
        by_fd = grown;
        by_fd_len = len;
    }
    by_fd[conn->fd] = conn;
}

void pw_head_guard_accepted(pw_accepted_t *conn, int tls)
{
    uv_os_fd_t fd;
    conn->fd = uv_fileno((uv_handle_t *)&conn->tcp, &fd) == 0 ? fd : -1;
    remember_fd(conn);
    h2o_socket_t *sock = conn->tcp.data;
    if (tls || uv_is_closing((uv_handle_t *)&conn->tcp) || !sock)
        return;
    if (!http1_reader && sock->_cb.read)
        http1_reader = sock->_cb.read;
    wrap(sock);
}

int pw_head_guard_request_done(h2o_socket_t *sock)
{
    int fd = sock ? h2o_socket_get_fd(sock) : -1;
    if (fd < 0 || !http1_reader)
        return n_queued > 0;
    if (n_queued == queued_cap) {
        size_t cap = queued_cap ? queued_cap * 2 : 64;
        int *grown = realloc(queued, cap * sizeof *grown);
        if (!grown)
            return n_queued > 0;
        queued = grown;
        queued_cap = cap;
    }
    queued[n_queued++] = fd;
    return 1;
}

void pw_head_guard_rearm(void)
{
    for (size_t i = 0; i < n_queued; i++) {
        int fd = queued[i];
        pw_accepted_t *conn = (size_t)fd < by_fd_len ? by_fd[fd] : NULL;
        if (conn && !uv_is_closing((uv_handle_t *)&conn->tcp) && conn->tcp.data)
            wrap(conn->tcp.data);
    }
    n_queued = 0;
}

void pw_head_guard_forget(pw_accepted_t *conn)
{
    if (conn->fd >= 0 && (size_t)conn->fd < by_fd_len && by_fd[conn->fd] == conn)
        by_fd[conn->fd] = NULL;
}
