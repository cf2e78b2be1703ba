/* rpc.c — encoder and decoder of the field-list frames described in rpc.h (host and
 * isolates). Pure functions over byte buffers, unit-tested in tests/unit/test_rpc_wire.c.
 * Invariant: a decoder never reads outside the frame and never writes past out[max - 1].
 */
#include "wire/rpc.h"

#include <errno.h>

int pw_rpc_put(pw_buf_t *buf, uint8_t type, uint32_t id, const pw_bytes_t *fields, size_t n)
{
    size_t start;
    int rc = pw_frame_begin(buf, type, id, &start);
    if (rc == 0)
        rc = pw_frame_put_u32(buf, (uint32_t)n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = pw_frame_put_bytes(buf, fields[i].base, fields[i].len);
    if (rc == 0)
        return pw_frame_end(buf, start);
    buf->len = start;
    return rc;
}

size_t pw_rpc_count(const pw_frame_t *frame)
{
    pw_cursor_t cur;
    pw_cursor_init(&cur, frame->payload, frame->len);
    return pw_cursor_u32(&cur);
}

int pw_rpc_decode(const pw_frame_t *frame, pw_bytes_t *out, size_t max, size_t *n)
{
    pw_cursor_t cur;
    pw_cursor_init(&cur, frame->payload, frame->len);
    uint32_t count = pw_cursor_u32(&cur);
    if (cur.failed || count > max || count > (size_t)(cur.end - cur.pos) / 4)
        return -EBADMSG;
    for (uint32_t i = 0; i < count; i++) {
        out[i] = pw_cursor_bytes(&cur);
        if (!out[i].base)
            out[i].base = (const uint8_t *)"";
    }
    if (cur.failed || cur.pos != cur.end)
        return -EBADMSG;
    *n = count;
    return 0;
}
