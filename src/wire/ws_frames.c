/* ws_frames.c — encoder and decoder of the WebSocket frames between host and isolate (see
 * ws_frames.h). Runs in the host and, through _pyworkerd, in isolates. Pure functions over
 * byte buffers, fuzzed with the other frames (tests/fuzz/fuzz_frames.c).
 * Invariant: the decoder never reads outside the frame's payload.
 */
#include "wire/ws_frames.h"

#include <errno.h>

int pw_ws_frame_put_message(pw_buf_t *buf, uint8_t type, uint32_t id, int binary,
                            const void *data, size_t len)
{
    if (len > PW_WS_MAX_MESSAGE)
        return -EMSGSIZE;
    size_t start;
    int rc = pw_frame_begin(buf, type, id, &start);
    if (rc == 0)
        rc = pw_buf_append(buf, data, len);
    if (rc < 0) {
        buf->len = start;
        return rc;
    }
    buf->data[start + 5] = binary ? PW_FRAME_FLAG_BINARY : 0;
    return pw_frame_end(buf, start);
}

int pw_ws_frame_put_close(pw_buf_t *buf, uint8_t type, uint32_t id, uint16_t code,
                          pw_bytes_t reason)
{
    size_t start;
    int rc = pw_frame_begin(buf, type, id, &start);
    if (rc == 0)
        rc = pw_frame_put_u32(buf, code);
    if (rc == 0)
        rc = pw_frame_put_bytes(buf, reason.base,
                                reason.len > PW_WS_MAX_REASON ? PW_WS_MAX_REASON : reason.len);
    if (rc < 0) {
        buf->len = start;
        return rc;
    }
    return pw_frame_end(buf, start);
}

int pw_ws_frame_decode_close(const pw_frame_t *frame, uint16_t *code, pw_bytes_t *reason)
{
    pw_cursor_t cur;
    pw_cursor_init(&cur, frame->payload, frame->len);
    uint32_t c = pw_cursor_u32(&cur);
    *reason = pw_cursor_bytes(&cur);
    if (cur.failed || cur.pos != cur.end || c > 0xffff || reason->len > PW_WS_MAX_REASON)
        return -EBADMSG;
    *code = (uint16_t)c;
    return 0;
}
