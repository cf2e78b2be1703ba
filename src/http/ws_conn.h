/* ws_conn.h — one WebSocket connection over an h2o socket (host process, the loop thread
 * that owns the socket): a client's connection upgraded by the HTTP server, or one the host
 * opened for an isolate (client role: it masks what it sends). It is a side of a relayed
 * socket (http/ws_side.h): messages it reads (reassembled, UTF-8 checked, at most
 * PW_WS_MAX_MESSAGE bytes) go to its peer; its peer's messages are written as frames. It
 * answers pings itself, runs the close handshake (closing the TCP connection once both
 * closes are exchanged, or PW_WS_CLOSE_TIMEOUT_MS after sending its own), and fails the
 * connection with 1002/1007/1009 on bad input. Flow control: reading stops while the peer
 * has not consumed PW_WS_WINDOW bytes; what waits to be written is bounded by the peer's
 * window (and control frames by PW_WS_CONTROL_BACKLOG).
 */
#ifndef PW_WS_CONN_H
#define PW_WS_CONN_H

#include "http/ws_side.h"

#include <h2o.h>
#include <stddef.h>

#define PW_WS_CLOSE_TIMEOUT_MS 5000
#define PW_WS_CONTROL_BACKLOG (64u * 1024)

typedef struct pw_ws_conn pw_ws_conn_t;

/* A connection waiting for its socket (the 101 or the handshake still being written).
 * client: the client role. NULL when out of memory. */
pw_ws_conn_t *pw_ws_conn_new(uv_loop_t *loop, int client);
pw_ws_side_t *pw_ws_conn_side(pw_ws_conn_t *conn);
/* The socket is the connection's now; its first `consumed` input bytes were the handshake.
 * sock NULL: it never came (the connection ends, its peer is told). */
void pw_ws_conn_attach(pw_ws_conn_t *conn, h2o_socket_t *sock, size_t consumed);
/* Connections open on this loop thread (for tests and the logs). */
size_t pw_ws_conn_count(void);

#endif
