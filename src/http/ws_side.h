/* ws_side.h — one side of a WebSocket the host relays (host process, loop thread): a client
 * connection (http/ws_conn.h), an isolate's socket (host/ws_isolate.h), a connection the host
 * opened for an isolate. A relayed socket is two sides linked to each other: what one side
 * receives it hands to its peer (message, close), and each side says when it has passed on
 * what its peer gave it (consumed), which is the flow control: a side stops taking more from
 * its own transport while PW_WS_WINDOW bytes it gave its peer are not consumed.
 * Rules: no op unlinks or frees a side synchronously, except `detached`, which may free the
 * side it is called on (never the caller); a side that ends calls pw_ws_unlink() and touches
 * its peer no more. All sides of a socket live on one loop thread.
 */
#ifndef PW_WS_SIDE_H
#define PW_WS_SIDE_H

#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pw_ws_side pw_ws_side_t;

typedef struct {
    /* A whole message from the peer's end, to pass on (the data is valid during the call). */
    void (*message)(pw_ws_side_t *side, int binary, const uint8_t *data, size_t len);
    /* The peer's end closed with code and reason (PW_WS_CLOSE_NO_STATUS: no code). */
    void (*close)(pw_ws_side_t *side, uint16_t code, pw_bytes_t reason);
    /* The peer passed on `bytes` of this side's messages: this side may take more. */
    void (*consumed)(pw_ws_side_t *side, size_t bytes);
    /* The peer is gone (after a close, or not: then as if closed with 1006). */
    void (*detached)(pw_ws_side_t *side);
} pw_ws_side_ops_t;

struct pw_ws_side {
    const pw_ws_side_ops_t *ops;
    pw_ws_side_t *peer;         /* NULL: not linked yet, or the peer is gone */
};

static inline void pw_ws_link(pw_ws_side_t *a, pw_ws_side_t *b)
{
    a->peer = b;
    b->peer = a;
}

/* `side` ends: its peer forgets it and is told (detached). */
static inline void pw_ws_unlink(pw_ws_side_t *side)
{
    pw_ws_side_t *peer = side->peer;
    if (!peer)
        return;
    side->peer = NULL;
    peer->peer = NULL;
    peer->ops->detached(peer);
}

#endif
