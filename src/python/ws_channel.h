/* ws_channel.h — the isolate's end of its WebSocket frames (isolate process): frames from the
 * host as Python lists, and the frames Python sends, encoded into the channel's output
 * buffer (wire/ws_frames.h). channel.c's methods call these; Python sees them as
 * Channel.ws_send(), ws_close(), ws_taken() and send_websocket_response().
 */
#ifndef PW_WS_CHANNEL_H
#define PW_WS_CHANNEL_H

#include "python/module.h"
#include "base/buf.h"
#include "wire/frame.h"

/* Whether a frame from the host is a WebSocket's (WS_MESSAGE, WS_CLOSE, WS_ACK). */
int pw_ws_channel_is_event(uint8_t type);
/* [id, 0, str|bytes, its size in bytes] for a message, [id, 1, (code, reason)] for a close, [id, 2, bytes] for
 * an ack; NULL with an exception for a malformed frame. */
PyObject *pw_ws_channel_event(const pw_frame_t *frame);

/* ws_send(id, data): a str is sent as text, a bytes-like object as binary. */
PyObject *pw_ws_channel_send(pw_buf_t *out, PyObject *args);
/* ws_close(id, code, reason) */
PyObject *pw_ws_channel_close(pw_buf_t *out, PyObject *args);
/* ws_taken(id, bytes) */
PyObject *pw_ws_channel_taken(pw_buf_t *out, PyObject *args);
/* send_websocket_response(id, headers[, existing]): 101 accepting the request's WebSocket;
 * with `existing`, the isolate's socket of that id (from fetch() or a service binding) is
 * handed to the client instead. */
PyObject *pw_ws_channel_response(pw_buf_t *out, PyObject *args);

#endif
