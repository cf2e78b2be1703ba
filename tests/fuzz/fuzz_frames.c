/* fuzz_frames.c — fuzz target: what the host decodes from an isolate's socket. The input is
 * a byte stream cut into frames by pw_frame_parse_from_isolate exactly as host/pool.c does
 * (pw_frame_missing as host/link.c sizes its reads); each frame is
 * then decoded the way the host would: RESPONSE (status, every header, body), BODY_CHUNK /
 * END / BODY_ACK (u32), RPC (the field list of a binding call) and RPC_RESULT / CALL (field
 * lists the isolate end decodes with the same code), and header lines of a fetch() call.
 */
#include "fuzz.h"
#include "wire/frame.h"
#include "wire/header_lines.h"
#include "wire/rpc.h"
#include "wire/ws_frames.h"

#include <string.h>

static volatile size_t sink;

static void touch(pw_bytes_t b)
{
    if (b.len)
        sink += b.base[0] + b.base[b.len - 1];
}

static void decode_fields(const pw_frame_t *frame, size_t max)
{
    static pw_bytes_t fields[PW_RPC_MAX_FIELDS];
    size_t n;
    sink += pw_rpc_count(frame);
    if (pw_rpc_decode(frame, fields, max, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        touch(fields[i]);
    if (n >= 4) {   /* a fetch() call's headers field */
        pw_header_t h;
        pw_bytes_t rest = fields[3];
        while (pw_header_lines_next(&rest, &h) == 1) {
            touch(h.name);
            touch(h.value);
        }
    }
}

static void decode_message(const pw_frame_t *frame)
{
    pw_message_t msg;
    int rc = frame->type == PW_FRAME_REQUEST ? pw_message_decode_request(frame, &msg)
                                             : pw_message_decode_response(frame, &msg);
    if (rc < 0)
        return;
    sink += pw_message_headers_ok(&msg);
    uint64_t size;
    if (pw_message_stream_size(&msg, &size) == 0)
        sink += (size_t)size;
    pw_header_t h;
    while (pw_headers_next(&msg, &h)) {
        touch(h.name);
        touch(h.value);
    }
    touch(msg.body);
    touch(msg.method);
    touch(msg.url);
    sink += (size_t)msg.request_id;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pw_frame_t frame;
    size_t used;
    while (pw_frame_parse_from_isolate(data, size, &frame, &used) == 1) {
        sink += pw_frame_missing(data, size);
        uint32_t v;
        switch (frame.type) {
        case PW_FRAME_RESPONSE: case PW_FRAME_REQUEST:
            decode_message(&frame);
            break;
        case PW_FRAME_END: case PW_FRAME_BODY_ACK:
            if (pw_frame_decode_u32(&frame, &v) == 0)
                sink += v;
            break;
        case PW_FRAME_RPC:
            decode_fields(&frame, PW_RPC_MAX_ARGS);
            break;
        case PW_FRAME_RPC_RESULT: case PW_FRAME_CALL:
            decode_fields(&frame, PW_RPC_MAX_FIELDS);
            break;
        case PW_FRAME_WS_SEND_CLOSE: case PW_FRAME_WS_CLOSE: {
            uint16_t code;
            pw_bytes_t reason;
            if (pw_ws_frame_decode_close(&frame, &code, &reason) == 0) {
                sink += code;
                touch(reason);
            }
            break;
        }
        case PW_FRAME_WS_TAKEN: case PW_FRAME_WS_ACK:
            if (pw_frame_decode_u32(&frame, &v) == 0)
                sink += v;
            break;
        default:
            touch((pw_bytes_t){ frame.payload, frame.len });
        }
        data += used;
        size -= used;
    }
    return 0;
}

static pw_bytes_t B(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

void fuzz_seeds(fuzz_add_cb add)
{
    pw_buf_t b;
    pw_header_t headers[2] = { { B("content-type"), B("text/plain") }, { B("x-a"), B("1") } };
    pw_bytes_t fetch[6] = { B("fetch"), B("https://example.com/"), B("GET"),
                            B("accept\n*/*\nx-b\n\n"), B(""), B("follow") };
    pw_bytes_t kv_put[7] = { B("kv.put"), B("KV"), B("key"), B("value"), B(""), B("120"), B("{\"m\":1}") };
    pw_bytes_t kv_get_many[5] = { B("kv.get_many"), B("KV"), B("a"), B("b"), B("c") };
    pw_bytes_t svc[4] = { B("svc.call"), B("AUTH"), B("fetch"), B("{\"method\":\"GET\"}\nbody") };
    pw_bytes_t result[4] = { B(""), B("1"), B("cursor"), B("name") };

    pw_buf_init(&b);
    pw_frame_put_response(&b, 1, 200, headers, 2, B("hello"));
    add(b.data, b.len);
    b.len = 0;
    pw_ws_frame_put_message(&b, PW_FRAME_WS_SEND, 9, 0, "text", 4);
    pw_ws_frame_put_message(&b, PW_FRAME_WS_SEND, 9, 1, "\x00\x01", 2);
    pw_frame_put_u32_frame(&b, PW_FRAME_WS_TAKEN, 9, 4);
    pw_ws_frame_put_close(&b, PW_FRAME_WS_SEND_CLOSE, 9, 4000, B("bye"));
    add(b.data, b.len);
    b.len = 0;
    pw_frame_put_response_start(&b, 2, 200, headers, 1);
    pw_frame_put_chunk(&b, 2, "chunk", 5);
    pw_frame_put_u32_frame(&b, PW_FRAME_END, 2, 0);
    add(b.data, b.len);
    b.len = 0;
    pw_frame_put_response_start_sized(&b, 3, 200, headers, 2, 10);
    pw_frame_put_chunk(&b, 3, "0123456789", 10);
    pw_frame_put_u32_frame(&b, PW_FRAME_END, 3, 0);
    add(b.data, b.len);
    b.len = 0;
    pw_rpc_put(&b, PW_FRAME_RPC, 3, fetch, 6);
    add(b.data, b.len);
    b.len = 0;
    pw_rpc_put(&b, PW_FRAME_RPC, 4, kv_put, 7);
    pw_rpc_put(&b, PW_FRAME_RPC, 5, kv_get_many, 5);
    add(b.data, b.len);
    b.len = 0;
    pw_rpc_put(&b, PW_FRAME_RPC, 6, svc, 4);
    pw_rpc_put(&b, PW_FRAME_RPC_RESULT, 6, result, 4);
    add(b.data, b.len);
    b.len = 0;
    pw_frame_put_request(&b, 7, 0x1234abcd00000007ull, B("POST"), B("/x"), headers, 2, B("body"), NULL);
    pw_peer_t peer = { B("127.0.0.1"), 5555, B("::1"), 8080 };
    pw_frame_put_request(&b, 8, 8, B("GET"), B("/p"), headers, 2, B(""), &peer);
    pw_frame_put_u32_frame(&b, PW_FRAME_BODY_ACK, 7, 4096);
    add(b.data, b.len);
    pw_buf_free(&b);
}
