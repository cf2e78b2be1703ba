/* frame.c — encoder and decoder for the frames described in frame.h. Runs in the host (for
 * every request and response) and in isolates (through _pyworkerd). Pure functions over
 * byte buffers: no I/O, no globals, so it is unit-tested and fuzzed on its own.
 * Invariant: a decoder never reads outside [payload, payload + len).
 */
#include "wire/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int pw_frame_begin(pw_buf_t *buf, uint8_t type, uint32_t id, size_t *start)
{
    *start = buf->len;      /* also on failure: a caller rolling back goes back to here */
    int rc = pw_buf_reserve(buf, PW_FRAME_HEADER_SIZE);
    if (rc < 0)
        return rc;
    uint8_t *h = buf->data + buf->len;
    put_le32(h, 0);
    h[4] = type;
    h[5] = 0;
    h[6] = 0;
    h[7] = 0;
    put_le32(h + 8, id);
    buf->len += PW_FRAME_HEADER_SIZE;
    return 0;
}

int pw_frame_put_u32(pw_buf_t *buf, uint32_t value)
{
    uint8_t b[4];
    put_le32(b, value);
    return pw_buf_append(buf, b, 4);
}

int pw_frame_put_u64(pw_buf_t *buf, uint64_t value)
{
    uint8_t b[8];
    put_le32(b, (uint32_t)value);
    put_le32(b + 4, (uint32_t)(value >> 32));
    return pw_buf_append(buf, b, 8);
}

int pw_frame_put_bytes(pw_buf_t *buf, const void *data, size_t len)
{
    if (len > PW_FRAME_MAX_PAYLOAD)
        return -EMSGSIZE;
    int rc = pw_buf_reserve(buf, 4 + len);
    if (rc < 0)
        return rc;
    put_le32(buf->data + buf->len, (uint32_t)len);
    buf->len += 4;
    return pw_buf_append(buf, data, len);
}

int pw_frame_end(pw_buf_t *buf, size_t start)
{
    size_t payload = buf->len - start - PW_FRAME_HEADER_SIZE;
    if (payload > PW_FRAME_MAX_PAYLOAD) {
        buf->len = start;
        return -EMSGSIZE;
    }
    put_le32(buf->data + start, (uint32_t)payload);
    return 0;
}

static int put_headers_and_body(pw_buf_t *buf, const pw_header_t *headers, size_t n_headers,
                                pw_bytes_t body)
{
    int rc = pw_frame_put_u32(buf, (uint32_t)n_headers);
    for (size_t i = 0; rc == 0 && i < n_headers; i++) {
        rc = pw_frame_put_bytes(buf, headers[i].name.base, headers[i].name.len);
        if (rc == 0)
            rc = pw_frame_put_bytes(buf, headers[i].value.base, headers[i].value.len);
    }
    if (rc == 0)
        rc = pw_frame_put_bytes(buf, body.base, body.len);
    return rc;
}

/* Closes the frame begun at `start`, or drops it when a field failed (rc < 0). */
static int end_or_roll_back(pw_buf_t *buf, size_t start, int rc)
{
    if (rc == 0)
        return pw_frame_end(buf, start);
    buf->len = start;
    return rc;
}

static int put_peer(pw_buf_t *buf, const pw_peer_t *peer)
{
    int rc = pw_frame_put_bytes(buf, peer->client_ip.base, peer->client_ip.len);
    if (rc == 0)
        rc = pw_frame_put_u32(buf, peer->client_port);
    if (rc == 0)
        rc = pw_frame_put_bytes(buf, peer->server_ip.base, peer->server_ip.len);
    if (rc == 0)
        rc = pw_frame_put_u32(buf, peer->server_port);
    return rc;
}

int pw_frame_put_request(pw_buf_t *buf, uint32_t id, uint64_t request_id, pw_bytes_t method,
                         pw_bytes_t url, const pw_header_t *headers, size_t n_headers,
                         pw_bytes_t body, const pw_peer_t *peer)
{
    size_t start;
    int rc = pw_frame_begin(buf, PW_FRAME_REQUEST, id, &start);
    if (rc == 0)
        rc = pw_frame_put_u64(buf, request_id);
    if (rc == 0)
        rc = pw_frame_put_bytes(buf, method.base, method.len);
    if (rc == 0)
        rc = pw_frame_put_bytes(buf, url.base, url.len);
    if (rc == 0)
        rc = put_headers_and_body(buf, headers, n_headers, body);
    if (rc == 0 && peer)
        rc = put_peer(buf, peer);
    return end_or_roll_back(buf, start, rc);
}

int pw_frame_put_response(pw_buf_t *buf, uint32_t id, uint32_t status,
                          const pw_header_t *headers, size_t n_headers, pw_bytes_t body)
{
    size_t start;
    int rc = pw_frame_begin(buf, PW_FRAME_RESPONSE, id, &start);
    if (rc == 0)
        rc = pw_frame_put_u32(buf, status);
    if (rc == 0)
        rc = put_headers_and_body(buf, headers, n_headers, body);
    return end_or_roll_back(buf, start, rc);
}

int pw_frame_put_response_start(pw_buf_t *buf, uint32_t id, uint32_t status,
                                const pw_header_t *headers, size_t n_headers)
{
    size_t start = buf->len;
    int rc = pw_frame_put_response(buf, id, status, headers, n_headers, (pw_bytes_t){ NULL, 0 });
    if (rc == 0)
        buf->data[start + 5] = PW_FRAME_FLAG_STREAM;
    return rc;
}

int pw_frame_put_response_start_sized(pw_buf_t *buf, uint32_t id, uint32_t status,
                                      const pw_header_t *headers, size_t n_headers, uint64_t size)
{
    uint8_t b[8];
    put_le32(b, (uint32_t)size);
    put_le32(b + 4, (uint32_t)(size >> 32));
    size_t start = buf->len;
    int rc = pw_frame_put_response(buf, id, status, headers, n_headers, (pw_bytes_t){ b, 8 });
    if (rc == 0)
        buf->data[start + 5] = PW_FRAME_FLAG_STREAM | PW_FRAME_FLAG_SIZED;
    return rc;
}

int pw_message_stream_size(const pw_message_t *msg, uint64_t *size)
{
    if (!(msg->flags & PW_FRAME_FLAG_STREAM) || !(msg->flags & PW_FRAME_FLAG_SIZED) ||
        msg->body.len != 8)
        return -EBADMSG;
    *size = (uint64_t)get_le32(msg->body.base) | (uint64_t)get_le32(msg->body.base + 4) << 32;
    return 0;
}

int pw_frame_put_chunk(pw_buf_t *buf, uint32_t id, const void *data, size_t len)
{
    size_t start = buf->len;
    if (len > PW_FRAME_MAX_PAYLOAD)
        return -EMSGSIZE;
    int rc = pw_frame_begin(buf, PW_FRAME_BODY_CHUNK, id, &start);
    if (rc == 0)
        rc = pw_buf_append(buf, data, len);
    if (rc == 0)
        return pw_frame_end(buf, start);
    buf->len = start;
    return rc;
}

int pw_frame_put_u32_frame(pw_buf_t *buf, uint8_t type, uint32_t id, uint32_t value)
{
    size_t start = buf->len;
    int rc = pw_frame_begin(buf, type, id, &start);
    if (rc == 0)
        rc = pw_frame_put_u32(buf, value);
    if (rc == 0)
        return pw_frame_end(buf, start);
    buf->len = start;
    return rc;
}

int pw_frame_decode_u32(const pw_frame_t *frame, uint32_t *value)
{
    if (frame->len != 4)
        return -EBADMSG;
    *value = get_le32(frame->payload);
    return 0;
}

int pw_frame_put_empty(pw_buf_t *buf, uint8_t type, uint32_t id)
{
    size_t start;
    int rc = pw_frame_begin(buf, type, id, &start);
    return rc < 0 ? rc : pw_frame_end(buf, start);
}

int pw_frame_parse(const uint8_t *data, size_t len, pw_frame_t *frame, size_t *consumed)
{
    if (len < PW_FRAME_HEADER_SIZE)
        return 0;
    uint32_t payload = get_le32(data);
    if (payload > PW_FRAME_MAX_PAYLOAD)
        return -EMSGSIZE;
    if (len - PW_FRAME_HEADER_SIZE < payload)
        return 0;
    frame->type = data[4];
    frame->flags = data[5];
    frame->id = get_le32(data + 8);
    frame->payload = data + PW_FRAME_HEADER_SIZE;
    frame->len = payload;
    *consumed = PW_FRAME_HEADER_SIZE + (size_t)payload;
    return 1;
}

size_t pw_frame_max_from_isolate(uint8_t type)
{
    return type == PW_FRAME_RPC ? PW_FRAME_MAX_RPC : PW_FRAME_MAX_INLINE;
}

int pw_frame_parse_from_isolate(const uint8_t *data, size_t len, pw_frame_t *frame,
                                size_t *consumed)
{
    if (len >= PW_FRAME_HEADER_SIZE && get_le32(data) > pw_frame_max_from_isolate(data[4]))
        return -EMSGSIZE;
    return pw_frame_parse(data, len, frame, consumed);
}

size_t pw_frame_missing(const uint8_t *data, size_t len)
{
    if (len < PW_FRAME_HEADER_SIZE)
        return 0;
    size_t whole = PW_FRAME_HEADER_SIZE + (size_t)get_le32(data);
    return whole > len ? whole - len : 0;
}

void pw_cursor_init(pw_cursor_t *cur, const uint8_t *data, size_t len)
{
    cur->pos = data;
    cur->end = data + len;
    cur->failed = 0;
}

uint32_t pw_cursor_u32(pw_cursor_t *cur)
{
    if (cur->failed || (size_t)(cur->end - cur->pos) < 4) {
        cur->failed = 1;
        return 0;
    }
    uint32_t v = get_le32(cur->pos);
    cur->pos += 4;
    return v;
}

uint64_t pw_cursor_u64(pw_cursor_t *cur)
{
    uint64_t low = pw_cursor_u32(cur);
    return low | (uint64_t)pw_cursor_u32(cur) << 32;
}

pw_bytes_t pw_cursor_bytes(pw_cursor_t *cur)
{
    pw_bytes_t out = { NULL, 0 };
    uint32_t len = pw_cursor_u32(cur);
    if (cur->failed)
        return out;
    if ((size_t)(cur->end - cur->pos) < len) {
        cur->failed = 1;
        return out;
    }
    out.base = cur->pos;
    out.len = len;
    cur->pos += len;
    return out;
}

/* The optional connection addresses after a REQUEST's body. */
static int decode_peer(pw_cursor_t *cur, pw_message_t *msg)
{
    pw_peer_t *p = &msg->peer;
    p->client_ip = pw_cursor_bytes(cur);
    p->client_port = pw_cursor_u32(cur);
    p->server_ip = pw_cursor_bytes(cur);
    p->server_port = pw_cursor_u32(cur);
    if (cur->failed || cur->pos != cur->end || p->client_port > 65535 || p->server_port > 65535)
        return -EBADMSG;
    msg->has_peer = 1;
    return 0;
}

/* Walks the headers once to check them, then reads the body (and, when `peer_allowed`, the
 * connection's addresses if present); leaves msg->headers at the first header for
 * pw_headers_next(). */
static int decode_headers_and_body(pw_cursor_t *cur, pw_message_t *msg, int peer_allowed)
{
    msg->n_headers = pw_cursor_u32(cur);
    if (cur->failed || msg->n_headers > (size_t)(cur->end - cur->pos) / 8)
        return -EBADMSG;
    msg->headers = *cur;
    msg->headers_left = msg->n_headers;
    for (uint32_t i = 0; i < msg->n_headers; i++) {
        pw_cursor_bytes(cur);
        pw_cursor_bytes(cur);
    }
    msg->body = pw_cursor_bytes(cur);
    msg->has_peer = 0;
    if (!cur->failed && cur->pos != cur->end && peer_allowed && decode_peer(cur, msg) < 0)
        return -EBADMSG;
    if (cur->failed || cur->pos != cur->end)
        return -EBADMSG;
    if (!msg->body.base)
        msg->body.base = (const uint8_t *)"";
    return 0;
}

int pw_message_decode_request(const pw_frame_t *frame, pw_message_t *msg)
{
    pw_cursor_t cur;
    if (frame->type != PW_FRAME_REQUEST)
        return -EBADMSG;
    pw_cursor_init(&cur, frame->payload, frame->len);
    msg->status = 0;
    msg->flags = frame->flags;
    msg->request_id = pw_cursor_u64(&cur);
    msg->method = pw_cursor_bytes(&cur);
    msg->url = pw_cursor_bytes(&cur);
    return decode_headers_and_body(&cur, msg, 1);
}

int pw_message_decode_response(const pw_frame_t *frame, pw_message_t *msg)
{
    pw_cursor_t cur;
    if (frame->type != PW_FRAME_RESPONSE)
        return -EBADMSG;
    pw_cursor_init(&cur, frame->payload, frame->len);
    msg->status = pw_cursor_u32(&cur);
    msg->flags = frame->flags;
    msg->request_id = 0;
    msg->method.base = NULL;
    msg->method.len = 0;
    msg->url = msg->method;
    return decode_headers_and_body(&cur, msg, 0);
}

int pw_headers_next(pw_message_t *msg, pw_header_t *header)
{
    if (msg->headers_left == 0)
        return 0;
    msg->headers_left--;
    header->name = pw_cursor_bytes(&msg->headers);
    header->value = pw_cursor_bytes(&msg->headers);
    return 1;
}
