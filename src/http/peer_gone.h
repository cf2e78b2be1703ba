/* peer_gone.h — finding out that an HTTP/1 client went away while its request waits for the
 * worker (host process). h2o 2.2 stops reading a connection while one of its requests is
 * handled, so it would only notice the close when the response is written. The server keeps
 * every accepted connection here by peer address, and asks the kernel (a non-blocking
 * MSG_PEEK) whether a waiting request's peer has closed or reset its side.
 */
#ifndef PW_PEER_GONE_H
#define PW_PEER_GONE_H

#include "base/list.h"
#include "http/read_park.h"
#include "http/write_now.h"

#include <sys/socket.h>
#include <uv.h>

/* An accepted connection: the libuv handle first, so a pointer to it is the handle's. */
typedef struct pw_accepted {
    uv_tcp_t tcp;
    pw_list_t link;             /* the registry of open connections */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    int fd;                     /* its descriptor, indexed (-1: not indexed) */
    pw_read_park_t park;        /* reads paused by h2o (http/read_park.h) */
    pw_write_now_t write;       /* a write done at once, its callback due (http/write_now.h) */
} pw_accepted_t;

/* Registers conn (accepted, not yet handed to h2o) under its peer address and descriptor. */
void pw_accepted_add(pw_accepted_t *conn, const struct sockaddr *peer, socklen_t peer_len);
/* The open accepted connection with descriptor fd, or whose handle is `handle` (NULL: none;
 * another stream, a closed one). This loop thread's only. */
pw_accepted_t *pw_accepted_by_fd(int fd);
pw_accepted_t *pw_accepted_of(uv_handle_t *handle);
/* libuv close callback for an accepted connection: unregisters and frees it. */
void pw_accepted_close_cb(uv_handle_t *handle);
/* 1 when the connection whose peer is `peer` has been closed or reset by that peer; 0 when
 * it is open, unknown, or has sent more data (a pipelined request is not a close). */
int pw_peer_gone(const struct sockaddr *peer, socklen_t peer_len);

#endif
