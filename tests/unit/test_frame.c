/* test_frame.c — the frame codec: round trips, partial input, and hostile frames. */
#include <errno.h>
#include <stdlib.h>
#include "unit.h"
#include "wire/frame.h"

static pw_bytes_t B(const char *s) { pw_bytes_t b = { (const uint8_t *)s, strlen(s) }; return b; }

static int bytes_eq(pw_bytes_t b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.base, s, b.len) == 0;
}

TEST(request_round_trip_keeps_every_field)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    pw_header_t h[2] = { { B("Host"), B("example.com") }, { B("Set-Cookie"), B("a=1") } };
    CHECK(pw_frame_put_request(&buf, 7, 42, B("POST"), B("http://x/y?z"), h, 2, B("body!"), NULL) == 0);
    pw_frame_t f;
    size_t used;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
    CHECK(used == buf.len);
    CHECK(f.type == PW_FRAME_REQUEST && f.id == 7);
    pw_message_t m;
    CHECK(pw_message_decode_request(&f, &m) == 0);
    CHECK(m.request_id == 42);
    CHECK(bytes_eq(m.method, "POST") && bytes_eq(m.url, "http://x/y?z"));
    CHECK(m.n_headers == 2 && bytes_eq(m.body, "body!"));
    pw_header_t got;
    CHECK(pw_headers_next(&m, &got) == 1 && bytes_eq(got.name, "Host") && bytes_eq(got.value, "example.com"));
    CHECK(pw_headers_next(&m, &got) == 1 && bytes_eq(got.name, "Set-Cookie"));
    CHECK(pw_headers_next(&m, &got) == 0);
    CHECK(m.has_peer == 0);
    pw_buf_free(&buf);
}

TEST(request_carries_the_connection_addresses)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    pw_header_t h[1] = { { B("a"), B("b") } };
    pw_peer_t peer = { B("::1"), 51234, B("127.0.0.1"), 8080 };
    CHECK(pw_frame_put_request(&buf, 9, 9, B("GET"), B("http://x/"), h, 1, B(""), &peer) == 0);
    pw_frame_t f;
    size_t used;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
    pw_message_t m;
    CHECK(pw_message_decode_request(&f, &m) == 0);
    CHECK(m.has_peer == 1 && m.body.len == 0 && m.n_headers == 1);
    CHECK(bytes_eq(m.peer.client_ip, "::1") && m.peer.client_port == 51234);
    CHECK(bytes_eq(m.peer.server_ip, "127.0.0.1") && m.peer.server_port == 8080);
    pw_header_t got;
    CHECK(pw_headers_next(&m, &got) == 1 && bytes_eq(got.name, "a") && bytes_eq(got.value, "b"));
    /* every truncation fails cleanly, except the one that drops the whole address block */
    size_t without_peer = f.len - (4 + 3 + 4 + 4 + 9 + 4);
    for (size_t n = 0; n < f.len; n++) {
        pw_frame_t t = f;
        t.len = n;
        CHECK(pw_message_decode_request(&t, &m) == (n == without_peer ? 0 : -EBADMSG));
    }
    /* a port past 65535 is refused */
    buf.data[buf.len - 2] = 1;
    CHECK(pw_message_decode_request(&f, &m) == -EBADMSG);
    /* a response never has an address block */
    pw_buf_t rbuf;
    pw_buf_init(&rbuf);
    CHECK(pw_frame_put_response(&rbuf, 1, 200, NULL, 0, B("")) == 0);
    CHECK(pw_buf_append(&rbuf, buf.data + PW_FRAME_HEADER_SIZE + f.len - 28, 28) == 0);
    CHECK(pw_frame_parse(rbuf.data, rbuf.len, &f, &used) == 1);
    pw_frame_t r = f;
    r.len = rbuf.len - PW_FRAME_HEADER_SIZE;
    CHECK(pw_message_decode_response(&r, &m) == -EBADMSG);
    pw_buf_free(&rbuf);
    pw_buf_free(&buf);
}

/* The request id is a whole u64, low half first, ahead of the method; the frame's own id is
 * separate; a payload too short for it is refused. */
TEST(request_carries_the_request_id_apart_from_the_frame_id)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    uint64_t rid = 0x8badf00d00000001ull;
    CHECK(pw_frame_put_request(&buf, 3, rid, B("GET"), B("http://x/"), NULL, 0, B(""), NULL) == 0);
    const uint8_t *p = buf.data + PW_FRAME_HEADER_SIZE;
    CHECK(p[0] == 0x01 && p[3] == 0x00 && p[4] == 0x0d && p[7] == 0x8b);
    pw_frame_t f;
    size_t used;
    pw_message_t m;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1 && f.id == 3);
    CHECK(pw_message_decode_request(&f, &m) == 0);
    CHECK(m.request_id == rid && bytes_eq(m.method, "GET") && bytes_eq(m.url, "http://x/"));
    for (size_t n = 0; n < 8; n++) {
        pw_frame_t t = f;
        t.len = n;
        CHECK(pw_message_decode_request(&t, &m) == -EBADMSG);
    }
    /* a response has none */
    pw_buf_t rbuf;
    pw_buf_init(&rbuf);
    CHECK(pw_frame_put_response(&rbuf, 3, 200, NULL, 0, B("")) == 0);
    CHECK(pw_frame_parse(rbuf.data, rbuf.len, &f, &used) == 1);
    m.request_id = 5;
    CHECK(pw_message_decode_response(&f, &m) == 0 && m.request_id == 0);
    pw_buf_free(&rbuf);
    pw_buf_free(&buf);
}

TEST(u64_fields_round_trip)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    CHECK(pw_frame_put_u64(&buf, 0xfedcba9876543210ull) == 0 && pw_frame_put_u64(&buf, 0) == 0);
    CHECK(buf.len == 16);
    pw_cursor_t cur;
    pw_cursor_init(&cur, buf.data, buf.len);
    CHECK(pw_cursor_u64(&cur) == 0xfedcba9876543210ull && pw_cursor_u64(&cur) == 0 && !cur.failed);
    CHECK(pw_cursor_u64(&cur) == 0 && cur.failed);
    pw_cursor_init(&cur, buf.data, 7);
    pw_cursor_u64(&cur);
    CHECK(cur.failed);
    pw_buf_free(&buf);
}

TEST(response_round_trip_with_empty_body)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    CHECK(pw_frame_put_response(&buf, 42, 404, NULL, 0, B("")) == 0);
    pw_frame_t f;
    size_t used;
    pw_message_t m;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
    CHECK(pw_message_decode_response(&f, &m) == 0);
    CHECK(m.status == 404 && m.n_headers == 0 && m.body.len == 0 && m.body.base != NULL);
    pw_buf_free(&buf);
}

TEST(partial_frames_ask_for_more)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    CHECK(pw_frame_put_response(&buf, 1, 200, NULL, 0, B("hello")) == 0);
    pw_frame_t f;
    size_t used;
    for (size_t n = 0; n < buf.len; n++)
        CHECK(pw_frame_parse(buf.data, n, &f, &used) == 0);
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
    pw_buf_free(&buf);
}

TEST(several_frames_in_one_buffer_parse_in_order)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    for (uint32_t i = 1; i <= 3; i++)
        CHECK(pw_frame_put_empty(&buf, PW_FRAME_CANCEL, i) == 0);
    size_t off = 0, used;
    pw_frame_t f;
    for (uint32_t i = 1; i <= 3; i++) {
        CHECK(pw_frame_parse(buf.data + off, buf.len - off, &f, &used) == 1);
        CHECK(f.id == i && f.type == PW_FRAME_CANCEL && f.len == 0);
        off += used;
    }
    CHECK(off == buf.len);
    pw_buf_free(&buf);
}

TEST(oversized_length_is_rejected)
{
    uint8_t h[PW_FRAME_HEADER_SIZE] = { 0xff, 0xff, 0xff, 0xff, PW_FRAME_RESPONSE };
    pw_frame_t f;
    size_t used;
    CHECK(pw_frame_parse(h, sizeof h, &f, &used) == -EMSGSIZE);
}

TEST(lying_inner_lengths_are_rejected)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    pw_header_t h[1] = { { B("a"), B("b") } };
    CHECK(pw_frame_put_response(&buf, 1, 200, h, 1, B("xyz")) == 0);
    pw_frame_t f;
    size_t used;
    pw_message_t m;
    /* header count far beyond what the frame holds */
    buf.data[PW_FRAME_HEADER_SIZE + 4] = 0xff;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
    CHECK(pw_message_decode_response(&f, &m) == -EBADMSG);
    buf.data[PW_FRAME_HEADER_SIZE + 4] = 1;
    /* body length past the end */
    buf.data[buf.len - 3 - 4] = 200;
    CHECK(pw_message_decode_response(&f, &m) == -EBADMSG);
    buf.data[buf.len - 3 - 4] = 3;
    CHECK(pw_message_decode_response(&f, &m) == 0);
    /* every truncation of the payload fails cleanly */
    for (size_t n = 0; n < f.len; n++) {
        pw_frame_t t = f;
        t.len = n;
        CHECK(pw_message_decode_response(&t, &m) == -EBADMSG);
    }
    /* a request frame is not a response */
    CHECK(pw_message_decode_request(&f, &m) == -EBADMSG);
    pw_buf_free(&buf);
}

TEST(random_bytes_never_crash_the_decoder)
{
    uint8_t data[256];
    srand(1);
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof data);
        for (size_t i = 0; i < n; i++)
            data[i] = (uint8_t)rand();
        if (n >= 4) { data[0] = (uint8_t)(n - PW_FRAME_HEADER_SIZE); data[1] = data[2] = data[3] = 0; }
        if (n >= 5) data[4] = (round & 1) ? PW_FRAME_RESPONSE : PW_FRAME_REQUEST;
        pw_frame_t f;
        size_t used;
        pw_message_t m;
        if (pw_frame_parse(data, n, &f, &used) == 1) {
            int rc = f.type == PW_FRAME_REQUEST ? pw_message_decode_request(&f, &m)
                                                : pw_message_decode_response(&f, &m);
            pw_header_t h;
            if (rc == 0)
                while (pw_headers_next(&m, &h))
                    CHECK(h.name.base >= f.payload && h.value.base + h.value.len <= f.payload + f.len);
        }
    }
}

TEST(buffer_consume_keeps_the_tail)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    CHECK(pw_buf_append(&buf, "abcdef", 6) == 0);
    pw_buf_consume(&buf, 2);
    CHECK(buf.len == 4 && memcmp(buf.data, "cdef", 4) == 0);
    pw_buf_consume(&buf, 10);
    CHECK(buf.len == 0);
    pw_buf_free(&buf);
}

TEST(streamed_response_is_start_chunks_and_end)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    pw_header_t h[1] = { { B("content-type"), B("text/plain") } };
    CHECK(pw_frame_put_response_start(&buf, 9, 200, h, 1) == 0);
    CHECK(pw_frame_put_chunk(&buf, 9, "first", 5) == 0);
    CHECK(pw_frame_put_chunk(&buf, 9, "", 0) == 0);
    CHECK(pw_frame_put_u32_frame(&buf, PW_FRAME_END, 9, 0) == 0);
    pw_frame_t f;
    size_t used, off = 0;
    pw_message_t m;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
    CHECK(f.type == PW_FRAME_RESPONSE && f.flags == PW_FRAME_FLAG_STREAM && f.id == 9);
    CHECK(pw_message_decode_response(&f, &m) == 0);
    CHECK(m.status == 200 && m.n_headers == 1 && m.body.len == 0 && (m.flags & PW_FRAME_FLAG_STREAM));
    off += used;
    CHECK(pw_frame_parse(buf.data + off, buf.len - off, &f, &used) == 1);
    CHECK(f.type == PW_FRAME_BODY_CHUNK && f.len == 5 && memcmp(f.payload, "first", 5) == 0);
    off += used;
    CHECK(pw_frame_parse(buf.data + off, buf.len - off, &f, &used) == 1);
    CHECK(f.type == PW_FRAME_BODY_CHUNK && f.len == 0);
    off += used;
    uint32_t v = 7;
    CHECK(pw_frame_parse(buf.data + off, buf.len - off, &f, &used) == 1);
    CHECK(f.type == PW_FRAME_END && pw_frame_decode_u32(&f, &v) == 0 && v == 0);
    CHECK(off + used == buf.len);
    pw_buf_free(&buf);
}

TEST(plain_response_has_no_stream_flag)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    CHECK(pw_frame_put_response(&buf, 1, 200, NULL, 0, B("x")) == 0);
    pw_frame_t f;
    size_t used;
    pw_message_t m;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
    CHECK(pw_message_decode_response(&f, &m) == 0 && m.flags == 0);
    pw_buf_free(&buf);
}

TEST(u32_frames_round_trip_and_wrong_sizes_are_rejected)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    CHECK(pw_frame_put_u32_frame(&buf, PW_FRAME_BODY_ACK, 3, 65536) == 0);
    pw_frame_t f;
    size_t used;
    uint32_t v = 0;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
    CHECK(f.type == PW_FRAME_BODY_ACK && f.id == 3 && pw_frame_decode_u32(&f, &v) == 0 && v == 65536);
    f.len = 3;
    CHECK(pw_frame_decode_u32(&f, &v) == -EBADMSG);
    f.len = 5;
    CHECK(pw_frame_decode_u32(&f, &v) == -EBADMSG);
    pw_buf_free(&buf);
}

TEST(chunk_larger_than_the_frame_limit_is_refused)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    CHECK(pw_frame_put_chunk(&buf, 1, "", (size_t)PW_FRAME_MAX_PAYLOAD + 1) == -EMSGSIZE);
    CHECK(buf.len == 0);
    pw_buf_free(&buf);
}

/* Issue 13 item 8: what the host accepts from an isolate is capped per type, at the header. */
TEST(isolate_frames_are_capped_by_type_at_the_header)
{
    uint8_t h[PW_FRAME_HEADER_SIZE] = { 0 };
    pw_frame_t frame;
    size_t used;
    uint32_t sizes[] = { PW_FRAME_MAX_INLINE + 1, PW_FRAME_MAX_RPC + 1, 60u << 20 };
    for (size_t i = 0; i < 3; i++) {
        memcpy(h, &sizes[i], 4);        /* little-endian host */
        h[4] = PW_FRAME_RESPONSE;
        CHECK(pw_frame_parse_from_isolate(h, sizeof h, &frame, &used) == -EMSGSIZE);
        h[4] = PW_FRAME_BODY_CHUNK;
        CHECK(pw_frame_parse_from_isolate(h, sizeof h, &frame, &used) == -EMSGSIZE);
        h[4] = PW_FRAME_RPC;
        CHECK(pw_frame_parse_from_isolate(h, sizeof h, &frame, &used) ==
              (sizes[i] > PW_FRAME_MAX_RPC ? -EMSGSIZE : 0));
        CHECK(pw_frame_parse(h, sizeof h, &frame, &used) == 0);   /* the host's own: 64 MiB */
    }
    uint32_t ok = PW_FRAME_MAX_INLINE;
    memcpy(h, &ok, 4);
    h[4] = PW_FRAME_RESPONSE;
    CHECK(pw_frame_parse_from_isolate(h, sizeof h, &frame, &used) == 0);
    CHECK(pw_frame_missing(h, sizeof h) == PW_FRAME_MAX_INLINE);
    CHECK(pw_frame_missing(h, 5) == 0);
    CHECK(pw_frame_max_from_isolate(PW_FRAME_RPC) == PW_FRAME_MAX_RPC);
    CHECK(pw_frame_max_from_isolate(PW_FRAME_END) == PW_FRAME_MAX_INLINE);
}

/* A whole body sent in chunks announces its length; a plain streamed head has none. */
TEST(sized_stream_head_carries_the_body_length)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    pw_header_t h = { B("x-a"), B("1") };
    CHECK(pw_frame_put_response_start_sized(&buf, 9, 200, &h, 1, 5000000000ull) == 0);
    pw_frame_t frame;
    size_t used;
    CHECK(pw_frame_parse_from_isolate(buf.data, buf.len, &frame, &used) == 1);
    pw_message_t msg;
    CHECK(pw_message_decode_response(&frame, &msg) == 0);
    CHECK(msg.flags == (PW_FRAME_FLAG_STREAM | PW_FRAME_FLAG_SIZED));
    uint64_t size = 0;
    CHECK(pw_message_stream_size(&msg, &size) == 0 && size == 5000000000ull);
    buf.len = 0;
    CHECK(pw_frame_put_response_start(&buf, 9, 200, &h, 1) == 0);
    CHECK(pw_frame_parse(buf.data, buf.len, &frame, &used) == 1);
    CHECK(pw_message_decode_response(&frame, &msg) == 0);
    CHECK(pw_message_stream_size(&msg, &size) == -EBADMSG);
    pw_buf_free(&buf);
}

TEST(exact_reserve_and_shrink)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    CHECK(pw_buf_append(&buf, "abc", 3) == 0);
    CHECK(pw_buf_reserve_exact(&buf, 3u << 20) == 0);
    CHECK(buf.cap == 3 + (3u << 20));
    buf.len = 10;
    pw_buf_shrink(&buf, 4096);
    CHECK(buf.cap == 4096 && buf.len == 10 && memcmp(buf.data, "abc", 3) == 0);
    buf.len = 0;
    pw_buf_shrink(&buf, 1024);
    CHECK(buf.cap == 0 && buf.data == NULL);
    pw_buf_free(&buf);
}

/* A frame that cannot begin (no memory) still says where it would have begun, so that a
 * caller rolling back (buf->len = start) goes back there, not to an uninitialised value. */
TEST(frame_begin_failure_sets_start)
{
    pw_buf_t full = { NULL, SIZE_MAX - 4, SIZE_MAX - 4 };   /* cannot grow: no allocation tried */
    size_t start = 123;
    CHECK(pw_frame_begin(&full, PW_FRAME_REQUEST, 1, &start) == -ENOMEM);
    CHECK(start == SIZE_MAX - 4);
    CHECK(full.len == SIZE_MAX - 4);
}

int main(void)
{
    RUN(frame_begin_failure_sets_start);
    RUN(request_round_trip_keeps_every_field);
    RUN(request_carries_the_connection_addresses);
    RUN(request_carries_the_request_id_apart_from_the_frame_id);
    RUN(u64_fields_round_trip);
    RUN(response_round_trip_with_empty_body);
    RUN(partial_frames_ask_for_more);
    RUN(several_frames_in_one_buffer_parse_in_order);
    RUN(oversized_length_is_rejected);
    RUN(lying_inner_lengths_are_rejected);
    RUN(random_bytes_never_crash_the_decoder);
    RUN(buffer_consume_keeps_the_tail);
    RUN(streamed_response_is_start_chunks_and_end);
    RUN(plain_response_has_no_stream_flag);
    RUN(u32_frames_round_trip_and_wrong_sizes_are_rejected);
    RUN(chunk_larger_than_the_frame_limit_is_refused);
    RUN(isolate_frames_are_capped_by_type_at_the_header);
    RUN(sized_stream_head_carries_the_body_length);
    RUN(exact_reserve_and_shrink);
    return UNIT_DONE();
}
