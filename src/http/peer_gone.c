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

void pw_accepted_add(pw_accepted_t *conn, const struct sockaddr *peer, socklen_t peer_len)
{
    conn->peer_len = peer_len <= sizeof conn->peer ? peer_len : 0;
    conn->fd = -1;
    conn->magic = PW_ACCEPTED_MAGIC;
    pw_read_park_init(&conn->park);
    memcpy(&conn->peer, peer, conn->peer_len);
    pw_list_push_front(accepted_list(), &conn->link);
}

void pw_accepted_close_cb(uv_handle_t *handle)
{
    pw_accepted_t *conn = (pw_accepted_t *)handle;
    pw_head_guard_forget(conn);
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
