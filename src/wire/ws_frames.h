/* ws_frames.h — the frames of a WebSocket between the host and an isolate (host and child):
 * messages (WS_MESSAGE to the isolate, WS_SEND from it; PW_FRAME_FLAG_BINARY marks binary
 * ones, the others are UTF-8 text), closes (WS_CLOSE / WS_SEND_CLOSE: u32 code, reason) and
 * flow control (WS_ACK / WS_TAKEN: u32 bytes of messages the other side took). The frame's id
 * is the socket's: for a socket the isolate accepted, the id of the REQUEST it answered;
 * for one it opened (a service binding's or an outbound one), the id the host gave it.
 *
 * Flow control: each side may send messages while fewer than PW_WS_WINDOW bytes of its
 * messages are unacknowledged, so at most PW_WS_WINDOW + PW_WS_MAX_MESSAGE bytes of one
 * direction of one socket are ever in flight: a slow reader slows the writer. Acks come in
 * batches of PW_WS_ACK_BATCH bytes (a WS_TAKEN of 0 bytes is the isolate accepting a socket
 * the host opened for it).
 */
#ifndef PW_WS_FRAMES_H
#define PW_WS_FRAMES_H

#include "wire/frame.h"

#define PW_WS_MAX_MESSAGE (1024u * 1024)     /* Cloudflare's limit on one message */
#define PW_WS_WINDOW (256u * 1024)
#define PW_WS_MAX_REASON 123                 /* a close frame's reason (RFC 6455 §5.5) */
/* Acks are sent once this much was taken (each wakes the other side): less than the window,
 * so a writer waiting for acks always gets one. */
#define PW_WS_ACK_BATCH (PW_WS_WINDOW / 4)

/* A message frame (WS_MESSAGE or WS_SEND). Returns 0, -EMSGSIZE or -ENOMEM. */
int pw_ws_frame_put_message(pw_buf_t *buf, uint8_t type, uint32_t id, int binary,
                            const void *data, size_t len);
/* A close frame (WS_CLOSE or WS_SEND_CLOSE); the reason is cut to PW_WS_MAX_REASON bytes. */
int pw_ws_frame_put_close(pw_buf_t *buf, uint8_t type, uint32_t id, uint16_t code,
                          pw_bytes_t reason);
/* Decodes a close frame: 0, or -EBADMSG (a code above 0xffff, a reason too long, or bytes
 * outside the frame). */
int pw_ws_frame_decode_close(const pw_frame_t *frame, uint16_t *code, pw_bytes_t *reason);

#endif
