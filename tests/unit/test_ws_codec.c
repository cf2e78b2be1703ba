/* test_ws_codec.c — RFC 6455 framing (http/ws_codec.c): headers in their three length forms
 * and masked, what a reader accepts and what it fails the connection with (1002, 1007, 1009),
 * fragments with control frames between them, UTF-8 edge cases, the accept key of RFC 6455's
 * own example, and the head of a handshake's answer. */
#include "unit.h"
#include "http/ws_codec.h"

static const uint8_t KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* A frame into out: header, then the payload (masked with KEY when mask). */
static size_t frame(uint8_t *out, int fin, uint8_t op, const void *payload, size_t len, int mask)
{
    size_t hl = pw_ws_put_header(out, fin, op, len, mask ? KEY : NULL);
    memcpy(out + hl, payload, len);
    if (mask)
        pw_ws_mask(out + hl, len, KEY, 0);
    return hl + len;
}

TEST(headers_round_trip_in_every_length_form)
{
    static const uint64_t lengths[] = { 0, 125, 126, 65535, 65536, 1u << 20 };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        uint8_t buf[PW_WS_MAX_HEADER];
        size_t n = pw_ws_put_header(buf, 1, PW_WS_OP_BINARY, lengths[i], KEY);
        pw_ws_header_t h;
        CHECK(pw_ws_parse_header(buf, n, &h) == 1);
        CHECK(h.len == lengths[i] && h.header_len == n && h.masked && h.fin);
        CHECK(memcmp(h.mask, KEY, 4) == 0);
        CHECK(pw_ws_parse_header(buf, n - 1, &h) == 0);     /* one byte short: more needed */
    }
}

TEST(headers_that_break_the_protocol)
{
    pw_ws_header_t h;
    CHECK(pw_ws_parse_header((const uint8_t *)"\xc1\x80", 2, &h) == -PW_WS_CLOSE_PROTOCOL);  /* RSV1 */
    CHECK(pw_ws_parse_header((const uint8_t *)"\x83\x80", 2, &h) == -PW_WS_CLOSE_PROTOCOL);  /* opcode 3 */
    CHECK(pw_ws_parse_header((const uint8_t *)"\x09\x80", 2, &h) == -PW_WS_CLOSE_PROTOCOL);  /* ping, no FIN */
    CHECK(pw_ws_parse_header((const uint8_t *)"\x89\xfe\x00\x7e", 4, &h) == -PW_WS_CLOSE_PROTOCOL);
    CHECK(pw_ws_parse_header((const uint8_t *)"\x82\xfe\x00\x05", 4, &h) == -PW_WS_CLOSE_PROTOCOL);
    CHECK(pw_ws_parse_header((const uint8_t *)"\x82\xff\x80\0\0\0\0\0\0\0", 10, &h) == -PW_WS_CLOSE_PROTOCOL);
}

TEST(utf8_validation)
{
    CHECK(pw_utf8_valid((const uint8_t *)"plain ascii text, long enough for words", 39));
    CHECK(pw_utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x8e\x89", 9));
    CHECK(pw_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4));          /* U+10FFFF */
    CHECK(!pw_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));         /* above it */
    CHECK(!pw_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));             /* a surrogate */
    CHECK(!pw_utf8_valid((const uint8_t *)"\xc0\xaf", 2));                 /* overlong */
    CHECK(!pw_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));             /* overlong */
    CHECK(!pw_utf8_valid((const uint8_t *)"\xe2\x82", 2));                 /* cut short */
    CHECK(!pw_utf8_valid((const uint8_t *)"\xff", 1));
    uint32_t state = 0;                                                     /* split anywhere */
    CHECK(pw_utf8_feed(&state, (const uint8_t *)"ab\xf0\x9f", 4) == 0 && state != 0);
    CHECK(pw_utf8_feed(&state, (const uint8_t *)"\x8e\x89", 2) == 0 && state == 0);
}

TEST(a_reader_returns_whole_messages_and_control_frames)
{
    uint8_t buf[512];
    size_t n = 0;
    n += frame(buf + n, 0, PW_WS_OP_TEXT, "h\xc3", 2, 1);
    n += frame(buf + n, 1, PW_WS_OP_PING, "p", 1, 1);
    n += frame(buf + n, 0, PW_WS_OP_CONTINUATION, "\xa9", 1, 1);
    n += frame(buf + n, 1, PW_WS_OP_CONTINUATION, "!", 1, 1);
    n += frame(buf + n, 1, PW_WS_OP_CLOSE, "\x0f\xa1" "bye", 5, 1);
    pw_ws_reader_t r;
    pw_ws_reader_init(&r, 1, 1024);
    pw_ws_event_t ev;
    size_t off = 0;
    ssize_t used;
    CHECK((used = pw_ws_read(&r, buf + off, n - off, &ev)) > 0 && ev.opcode == 0);
    off += (size_t)used;
    CHECK((used = pw_ws_read(&r, buf + off, n - off, &ev)) > 0 && ev.opcode == PW_WS_OP_PING);
    CHECK(ev.len == 1 && ev.data[0] == 'p');
    off += (size_t)used;
    CHECK((used = pw_ws_read(&r, buf + off, n - off, &ev)) > 0 && ev.opcode == 0);
    off += (size_t)used;
    CHECK((used = pw_ws_read(&r, buf + off, n - off, &ev)) > 0 && ev.opcode == PW_WS_OP_TEXT);
    CHECK(ev.len == 4 && memcmp(ev.data, "h\xc3\xa9!", 4) == 0);
    off += (size_t)used;
    CHECK((used = pw_ws_read(&r, buf + off, n - off, &ev)) > 0 && ev.opcode == PW_WS_OP_CLOSE);
    CHECK(ev.code == 4001 && ev.len == 3 && memcmp(ev.data, "bye", 3) == 0);
    off += (size_t)used;
    CHECK(off == n && pw_ws_read(&r, buf + off, 0, &ev) == 0);
    pw_ws_reader_free(&r);
}

static ssize_t read_one(int expect_masked, size_t max, uint8_t *buf, size_t n)
{
    pw_ws_reader_t r;
    pw_ws_event_t ev;
    pw_ws_reader_init(&r, expect_masked, max);
    ssize_t rc;
    size_t off = 0;
    while ((rc = pw_ws_read(&r, buf + off, n - off, &ev)) > 0)
        off += (size_t)rc;
    pw_ws_reader_free(&r);
    return rc;
}

TEST(a_reader_fails_the_connection_with_the_right_code)
{
    uint8_t buf[2048];
    CHECK(read_one(1, 1024, buf, frame(buf, 1, PW_WS_OP_TEXT, "x", 1, 0)) == -PW_WS_CLOSE_PROTOCOL);
    CHECK(read_one(0, 1024, buf, frame(buf, 1, PW_WS_OP_TEXT, "x", 1, 1)) == -PW_WS_CLOSE_PROTOCOL);
    CHECK(read_one(1, 1024, buf, frame(buf, 1, PW_WS_OP_CONTINUATION, "x", 1, 1)) == -PW_WS_CLOSE_PROTOCOL);
    CHECK(read_one(1, 1024, buf, frame(buf, 1, PW_WS_OP_TEXT, "\xc3\x28", 2, 1)) == -PW_WS_CLOSE_BAD_DATA);
    CHECK(read_one(1, 4, buf, frame(buf, 1, PW_WS_OP_BINARY, "12345", 5, 1)) == -PW_WS_CLOSE_TOO_BIG);
    CHECK(read_one(1, 1024, buf, frame(buf, 1, PW_WS_OP_CLOSE, "\x03\xee", 2, 1)) == -PW_WS_CLOSE_PROTOCOL);
    CHECK(read_one(1, 1024, buf, frame(buf, 1, PW_WS_OP_CLOSE, "\x03", 1, 1)) == -PW_WS_CLOSE_PROTOCOL);
    CHECK(read_one(1, 1024, buf, frame(buf, 1, PW_WS_OP_CLOSE, "\x03\xe8\xff", 3, 1)) == -PW_WS_CLOSE_BAD_DATA);
    size_t n = frame(buf, 0, PW_WS_OP_BINARY, "1234", 4, 1);     /* fragments past the limit */
    n += frame(buf + n, 1, PW_WS_OP_CONTINUATION, "5", 1, 1);
    CHECK(read_one(1, 4, buf, n) == -PW_WS_CLOSE_TOO_BIG);
    n = frame(buf, 0, PW_WS_OP_TEXT, "a", 1, 1);                 /* a new message inside one */
    n += frame(buf + n, 1, PW_WS_OP_TEXT, "b", 1, 1);
    CHECK(read_one(1, 1024, buf, n) == -PW_WS_CLOSE_PROTOCOL);
    /* a header announcing more than the limit fails before its payload arrives */
    uint8_t big[PW_WS_MAX_HEADER];
    size_t hl = pw_ws_put_header(big, 1, PW_WS_OP_BINARY, 1u << 30, KEY);
    CHECK(read_one(1, 1024, big, hl) == -PW_WS_CLOSE_TOO_BIG);
}

TEST(close_codes_a_frame_may_carry)
{
    CHECK(pw_ws_close_code_ok(1000) && pw_ws_close_code_ok(1011) && pw_ws_close_code_ok(4999));
    CHECK(!pw_ws_close_code_ok(1004) && !pw_ws_close_code_ok(1005) && !pw_ws_close_code_ok(1006));
    CHECK(!pw_ws_close_code_ok(1015) && !pw_ws_close_code_ok(999) && !pw_ws_close_code_ok(5000));
}

TEST(accept_key_of_the_rfc_example)
{
    char out[29];
    pw_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
    CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(response_heads)
{
    static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Sec-WebSocket-Accept:  abc \r\n\r\nframes";
    pw_ws_response_head_t head;
    CHECK(pw_ws_parse_response_head((const uint8_t *)ok, sizeof ok - 1, &head) == (ssize_t)(sizeof ok - 7));
    CHECK(head.status == 101 && head.n_headers == 2);
    const pw_bytes_t *v = pw_ws_response_header(&head, "sec-websocket-accept");
    CHECK(v && v->len == 3 && memcmp(v->base, "abc", 3) == 0);
    CHECK(pw_ws_parse_response_head((const uint8_t *)ok, 40, &head) == 0);
    CHECK(pw_ws_parse_response_head((const uint8_t *)"HTTP/2 200\r\n\r\n", 14, &head) == -1);
    CHECK(pw_ws_parse_response_head((const uint8_t *)"HTTP/1.1 2x0 OK\r\n\r\n", 19, &head) == -1);
    CHECK(pw_ws_parse_response_head((const uint8_t *)"HTTP/1.1 404\r\nbad header\r\n\r\n", 28, &head) == -1);
}

int main(void)
{
    RUN(headers_round_trip_in_every_length_form);
    RUN(headers_that_break_the_protocol);
    RUN(utf8_validation);
    RUN(a_reader_returns_whole_messages_and_control_frames);
    RUN(a_reader_fails_the_connection_with_the_right_code);
    RUN(close_codes_a_frame_may_carry);
    RUN(accept_key_of_the_rfc_example);
    RUN(response_heads);
    return UNIT_DONE();
}
