/* fuzz_ws.c — fuzz target: what the host decodes from a WebSocket peer (http/ws_codec.h).
 * The first byte picks the decoder: a server's reader (clients mask), a client's reader
 * (servers do not), or the head of a server's answer to the opening handshake; the rest is
 * the peer's bytes, read frame by frame until the reader fails or needs more, as
 * http/ws_conn.c reads a socket's buffer. Each message's text is checked as UTF-8 again.
 */
#include "fuzz.h"
#include "http/ws_codec.h"

#include <stdlib.h>
#include <string.h>

static volatile size_t sink;

static void read_frames(int server, uint8_t *data, size_t size)
{
    pw_ws_reader_t r;
    pw_ws_reader_init(&r, server, 4096);
    size_t off = 0;
    for (;;) {
        pw_ws_event_t ev;
        ssize_t n = pw_ws_read(&r, data + off, size - off, &ev);
        if (n <= 0) {
            sink += (size_t)-n;
            break;
        }
        off += (size_t)n;
        if (ev.opcode) {
            sink += ev.opcode + ev.code + ev.len;
            if (ev.opcode == PW_WS_OP_TEXT && !pw_utf8_valid(ev.data, ev.len))
                abort();    /* the reader let invalid text through */
            if (ev.len)
                sink += ev.data[0] + ev.data[ev.len - 1];
        }
    }
    pw_ws_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *copy = malloc(size);      /* the reader unmasks in place */
    memcpy(copy, data + 1, size - 1);
    if (data[0] % 3 == 2) {
        pw_ws_response_head_t head;
        ssize_t n = pw_ws_parse_response_head(copy, size - 1, &head);
        sink += (size_t)n + head.status;
        const pw_bytes_t *v = n > 0 ? pw_ws_response_header(&head, "sec-websocket-accept") : NULL;
        if (v && v->len)
            sink += v->base[0];
    } else {
        read_frames(data[0] % 3 == 0, copy, size - 1);
    }
    free(copy);
    return 0;
}

static void add_frame(fuzz_add_cb add, uint8_t kind, int fin, uint8_t op, const char *payload,
                      size_t len, int mask)
{
    uint8_t buf[256];
    static const uint8_t key[4] = { 1, 2, 3, 4 };
    buf[0] = kind;
    size_t hl = pw_ws_put_header(buf + 1, fin, op, len, mask ? key : NULL);
    memcpy(buf + 1 + hl, payload, len);
    if (mask)
        pw_ws_mask(buf + 1 + hl, len, key, 0);
    add(buf, 1 + hl + len);
}

void fuzz_seeds(fuzz_add_cb add)
{
    add_frame(add, 0, 1, PW_WS_OP_TEXT, "hello", 5, 1);
    add_frame(add, 0, 0, PW_WS_OP_TEXT, "h\xc3", 2, 1);
    add_frame(add, 0, 1, PW_WS_OP_BINARY, "\x00\x01\x02", 3, 1);
    add_frame(add, 0, 1, PW_WS_OP_CLOSE, "\x03\xe8" "bye", 5, 1);
    add_frame(add, 0, 1, PW_WS_OP_PING, "p", 1, 1);
    add_frame(add, 1, 1, PW_WS_OP_TEXT, "server text", 11, 0);
    add_frame(add, 1, 1, PW_WS_OP_CLOSE, "\x0f\xa0", 2, 0);
    static const char head[] = "\x02HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    add((const uint8_t *)head, sizeof head - 1);
    /* two frames: a fragment, a ping between, the end */
    uint8_t two[64] = { 0 };
    size_t n = 1;
    n += pw_ws_put_header(two + n, 0, PW_WS_OP_TEXT, 2, (const uint8_t *)"\0\0\0\0");
    memcpy(two + n, "ab", 2), n += 2;
    n += pw_ws_put_header(two + n, 1, PW_WS_OP_PING, 0, (const uint8_t *)"\0\0\0\0");
    n += pw_ws_put_header(two + n, 1, PW_WS_OP_CONTINUATION, 2, (const uint8_t *)"\0\0\0\0");
    memcpy(two + n, "cd", 2), n += 2;
    add(two, n);
}
