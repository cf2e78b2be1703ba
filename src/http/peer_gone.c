/* peer_gone.c — the registry of accepted connections by peer address and the kernel check of
 * whether a peer has gone (host process; see peer_gone.h). The registry is a list: it is only
 * searched for requests that have waited a while, a few times a second at most.
 */
#include "http/peer_gone.h"
#include "http/head_guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static __thread pw_list_t accepted_anchor;  /* all open accepted connections of this loop thread */

static pw_list_t *accepted_list(void)
{
    return pw_list_lazy(&accepted_anchor);
}

/* The same connections by descriptor, for the hooks that get only a libuv handle or an fd. */
static __thread pw_accepted_t **by_fd;
static __thread size_t by_fd_len;

static void index_fd(pw_accepted_t *conn)
{
    uv_os_fd_t fd;
    conn->fd = uv_fileno((uv_handle_t *)&conn->tcp, &fd) == 0 ? fd : -1;
    if (conn->fd < 0)
        return;
    size_t need = (size_t)conn->fd + 1;
    if (need > by_fd_len) {
        size_t len = need < 64 ? 64 : need * 2;
        pw_accepted_t **grown = realloc(by_fd, len * sizeof *grown);
        if (!grown) {
            conn->fd = -1;          /* not indexed: an ordinary stream to the hooks */
            return;
        }
        memset(grown + by_fd_len, 0, (len - by_fd_len) * sizeof *grown);
        by_fd = grown;
        by_fd_len = len;
    }
    by_fd[conn->fd] = conn;
}

pw_accepted_t *pw_accepted_by_fd(int fd)
{
    return fd >= 0 && (size_t)fd < by_fd_len ? by_fd[fd] : NULL;
}

pw_accepted_t *pw_accepted_of(uv_handle_t *handle)
{
    uv_os_fd_t fd;
    if (!handle || handle->type != UV_TCP || uv_fileno(handle, &fd) != 0)
        return NULL;
    pw_accepted_t *conn = pw_accepted_by_fd(fd);
    return conn && (uv_handle_t *)&conn->tcp == handle ? conn : NULL;
}

void pw_accepted_add(pw_accepted_t *conn, const struct sockaddr *peer, socklen_t peer_len)
{
    conn->peer_len = peer_len <= sizeof conn->peer ? peer_len : 0;
    index_fd(conn);
    pw_read_park_init(&conn->park);
    memcpy(&conn->peer, peer, conn->peer_len);
    pw_list_push_front(accepted_list(), &conn->link);
}

void pw_accepted_close_cb(uv_handle_t *handle)
{
    pw_accepted_t *conn = (pw_accepted_t *)handle;
    pw_head_guard_forget(conn);
    if (pw_accepted_by_fd(conn->fd) == conn)
        by_fd[conn->fd] = NULL;
    pw_read_park_forget(&conn->park);
    pw_list_remove(&conn->link);
    free(conn);
}

static pw_accepted_t *find(const struct sockaddr *peer, socklen_t peer_len)
{
    PW_LIST_FOR_EACH(node, accepted_list()) {
        pw_accepted_t *c = PW_CONTAINER_OF(node, pw_accepted_t, link);
        if (c->peer_len == peer_len && memcmp(&c->peer, peer, peer_len) == 0)
            return c;
    }
    return NULL;
}

int pw_peer_gone(const struct sockaddr *peer, socklen_t peer_len)
{
    pw_accepted_t *conn = peer_len ? find(peer, peer_len) : NULL;
    uv_os_fd_t fd;
    if (!conn || uv_fileno((uv_handle_t *)&conn->tcp, &fd) != 0)
        return 0;
    if (pw_read_park_holds_data(&conn->park))
        return 0;               /* read while parked: a pipelined request, as unread data was */
    if (pw_read_park_saw_end(&conn->park))
        return 1;
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return 1;               /* orderly close (FIN) */
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}
