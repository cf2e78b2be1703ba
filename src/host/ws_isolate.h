/* ws_isolate.h — an isolate's WebSockets as the host sees them (host process, loop thread):
 * each socket of an isolate is a side (http/ws_side.h) whose transport is the isolate's link:
 * messages and closes from the peer become WS_MESSAGE / WS_CLOSE frames, what the peer
 * consumed becomes WS_ACK, and the isolate's WS_SEND / WS_SEND_CLOSE / WS_TAKEN frames go to
 * the peer (wire/ws_frames.h). The isolate's sockets are found by id in its table, which its
 * child owns. A socket ends when the isolate has both sent and been told a close, when its
 * peer goes, or when the isolate dies (its port closes: the peer sees 1006 / 1011).
 * The isolate may have at most PW_WS_WINDOW bytes of its messages unconsumed (more is a
 * protocol violation: it is killed); text it sends must be UTF-8.
 */
#ifndef PW_WS_ISOLATE_H
#define PW_WS_ISOLATE_H

#include "host/port.h"
#include "http/ws_side.h"
#include "wire/frame.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pw_ws_table pw_ws_table_t;

/* An isolate's table; `messages` counts the messages delivered to it (each one, like a
 * request, brings CPU time: host/limits.h). NULL when out of memory. */
pw_ws_table_t *pw_ws_table_new(uint64_t *messages);
/* Frees the table (after the port closed: its sockets are gone). */
void pw_ws_table_free(pw_ws_table_t *table);
size_t pw_ws_table_count(const pw_ws_table_t *table);

/* The isolate's socket `id` (the request it accepted it for), to link to its peer. NULL when
 * out of memory or the isolate is gone. */
pw_ws_side_t *pw_ws_isolate_open(pw_port_t *port, uint32_t id);
/* A socket the host opens for the isolate (a service binding's, an outbound one), with a
 * new id (*id, above PW_WS_HOST_IDS, apart from request ids). It holds what its peer sends
 * until the isolate accepts it (WS_TAKEN of 0 bytes), or hands it on with the socket
 * (pw_ws_isolate_splice). */
#define PW_WS_HOST_IDS 0x80000000u
pw_ws_side_t *pw_ws_isolate_open_new(pw_port_t *port, uint32_t *id);
/* The same with an id chosen by the caller (a bridge's, host/ws_bridge.h: ids from
 * PW_WS_BRIDGE_IDS up); NULL when taken, out of memory or the isolate is gone. */
#define PW_WS_BRIDGE_IDS 0xC0000000u
pw_ws_side_t *pw_ws_isolate_open_held(pw_port_t *port, uint32_t id);
/* A socket whose peer never came: the isolate is told it closed (code, reason) and it goes. */
void pw_ws_isolate_refuse(pw_ws_side_t *side, uint16_t code, const char *reason);

/* The isolate returns its socket `id` in a response (it proxies a socket it got from a
 * service binding or fetch()): the socket leaves the isolate and its peer is returned, to
 * be linked to the response's asker. NULL when there is no such socket or it has no peer. */
pw_ws_side_t *pw_ws_isolate_splice(pw_port_t *port, uint32_t id, pw_buf_t *held);
/* Passes on, in order, what a socket held (pw_ws_isolate_splice) to `to`. */
void pw_ws_replay(const pw_buf_t *held, pw_ws_side_t *to);

/* Handles a WS_SEND, WS_SEND_CLOSE or WS_TAKEN frame from the isolate behind port. Returns 0,
 * or -1 with *why when it broke the protocol. Frames for sockets already gone are dropped. */
int pw_ws_isolate_frame(pw_port_t *port, const pw_frame_t *frame, const char **why);
int pw_ws_is_isolate_frame(uint8_t type);

#endif
