/* ws_bridge.h — a socket for an isolate that may live on another host loop (host process).
 * A binding call answered with a WebSocket (a Durable Object's fetch) gives the calling
 * isolate a socket of its own, linked to the answer's side. With --threads N a stateful
 * kind's calls run on the main loop through a proxy port (host/rpc_forward.h) while the
 * isolate lives on its own loop, and sides may only be linked on one loop (http/ws_side.h):
 * then the socket is made on the isolate's loop and joined to a side on this loop by a
 * bridge, two halves that pass messages, closes, consumed bytes and their end through the
 * loops' mailboxes, in order.
 * Invariant: each half is touched only on its own loop; the bridge is freed when both halves
 * have ended and no message between them is in flight.
 */
#ifndef PW_WS_BRIDGE_H
#define PW_WS_BRIDGE_H

#include "host/port.h"
#include "http/ws_side.h"

#include <stdint.h>

/* A new socket of the isolate behind `port` (its id in *id, for the binding call's answer),
 * as a side on this loop to link; it holds what it is sent until the isolate accepts it.
 * NULL when out of memory or the isolate is gone. */
pw_ws_side_t *pw_ws_bridge_open(pw_port_t *port, uint32_t *id);

#endif
