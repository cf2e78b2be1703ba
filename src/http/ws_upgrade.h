/* ws_upgrade.h — the server side of the WebSocket opening handshake (host process, the loop
 * thread of the request's connection): when a worker answers an upgrade request with its
 * WebSocket (a RESPONSE with PW_FRAME_FLAG_WEBSOCKET), the request is checked (HTTP/1.1,
 * Upgrade: websocket, a Sec-WebSocket-Key, version 13), the 101 is written with the worker's
 * headers (Sec-WebSocket-Protocol...) and Sec-WebSocket-Accept, and h2o hands over the
 * socket, which becomes a WebSocket connection (http/ws_conn.h) linked to the isolate's side.
 */
#ifndef PW_WS_UPGRADE_H
#define PW_WS_UPGRADE_H

#include "http/ws_side.h"
#include "wire/frame.h"

#include <h2o.h>

/* Upgrades req; its connection becomes a WebSocket linked to `isolate`. Returns 0, or the
 * status to answer instead (400 with *why: not a WebSocket request; 500: out of memory),
 * with `isolate` left unlinked. */
int pw_ws_upgrade(h2o_req_t *req, pw_message_t *response, pw_ws_side_t *isolate, const char **why);
/* Whether req asks for a WebSocket (Upgrade: websocket). */
int pw_ws_is_upgrade(const h2o_req_t *req);

#endif
