/* frame.h — the wire between the host and its isolates (and the control channel to the
 * zygote and templates). Used by the host and, through _pyworkerd, by the isolates.
 *
 * A frame is a 12-byte header — u32 payload length, u8 type, u8 flags, u16 reserved,
 * u32 request id, all little-endian — followed by the payload. Payload fields are u16/u32
 * integers and length-prefixed byte strings (u32 length + bytes). Decoders never trust a
 * frame: every length is checked against the frame's end before use.
 *
 * A REQUEST's payload is the request id (u64: the host's id for the logs, distinct from the
 * frame's id, which only pairs a request with its answer on one socket), method, url,
 * headers, body and, optionally, the connection it came in on: client IP (text), u32 client
 * port, server IP (text), u32 server port. A u64 is two u32s, the low half first.
 *
 * Streaming: a RESPONSE with PW_FRAME_FLAG_STREAM carries status and headers only; the body
 * follows as BODY_CHUNK frames (the payload is the data) and one END frame (u32: 0 complete,
 * 1 aborted). Flow control: the isolate keeps at most a window of unacknowledged chunk bytes
 * per stream; the host returns BODY_ACK (u32 bytes) as the client takes them. A streamed
 * RESPONSE that also has PW_FRAME_FLAG_SIZED carries, as its body, the whole body's length
 * (u64): a whole body too large for one frame, sent in chunks (the client gets that
 * Content-Length; the host ends the response as aborted if the chunks do not add up to it).
 *
 * Limits on what the host buffers: a frame from an isolate may announce at most
 * PW_FRAME_MAX_INLINE bytes of payload (RPC frames: PW_FRAME_MAX_RPC, room for a 32 MiB
 * body); a larger announcement is a protocol violation (pw_frame_parse_from_isolate). Frames
 * from the host may carry up to PW_FRAME_MAX_PAYLOAD (a 32 MiB request body and its headers).
 */
#ifndef PW_FRAME_H
#define PW_FRAME_H

#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>

#define PW_FRAME_HEADER_SIZE 12
#define PW_FRAME_MAX_PAYLOAD (64u * 1024 * 1024)   /* 32 MiB body limit + headers, with room */
/* Any frame from an isolate but RPC: a response's head and a body of up to
 * PW_FRAME_INLINE_BODY (larger bodies stream), a chunk, an END. */
#define PW_FRAME_MAX_INLINE (1024u * 1024)
/* An RPC frame from an isolate: a binding call with up to a 32 MiB body (fetch(), a KV value
 * of up to 25 MiB, a service call) and its other fields. */
#define PW_FRAME_MAX_RPC (33u * 1024 * 1024)
/* Bodies longer than this are sent as BODY_CHUNKs (of at most this size) by the isolate. */
#define PW_FRAME_INLINE_BODY (256u * 1024)

enum {
    /* host -> isolate */
    PW_FRAME_REQUEST = 1,       /* request id, method, url, headers, body[, client ip, port,
                                 * server ip, port] */
    PW_FRAME_CANCEL = 2,        /* the client went away; no payload */
    PW_FRAME_RPC_RESULT = 3,    /* answer to an RPC frame (same id): fields (wire/rpc.h) */
    PW_FRAME_CALL = 4,          /* service binding: fields entrypoint, method, payload,
                                 * request id (8 bytes, a u64) */
    PW_FRAME_BODY_ACK = 5,      /* u32: streamed body bytes the client has taken */
    PW_FRAME_RETIRE = 6,        /* no payload: no more requests will come; finish what is in
                                 * flight, run shutdown hooks (ASGI lifespan) and exit */
    /* WebSockets (wire/ws_frames.h): the id is the socket's */
    PW_FRAME_WS_MESSAGE = 7,    /* a message for the isolate's socket (flag BINARY) */
    PW_FRAME_WS_CLOSE = 8,      /* u32 code, reason: the other end closed (1006: it vanished) */
    PW_FRAME_WS_ACK = 9,        /* u32: bytes of the isolate's messages the other end took */
    /* isolate -> host */
    PW_FRAME_RESPONSE = 16,     /* status, headers, body (empty when streaming) */
    PW_FRAME_BODY_CHUNK = 17,   /* the payload is the next piece of a streamed body */
    PW_FRAME_END = 18,          /* u32: 0 the streamed body is complete, 1 it was aborted */
    PW_FRAME_RPC = 20,          /* a binding call: fields op, args... (wire/rpc.h) */
    PW_FRAME_DOORBELL = 21,     /* no payload; the isolate's first frame, with its doorbell
                                 * eventfd passed beside it (wire/doorbell.h) */
    PW_FRAME_WS_SEND = 22,      /* a message from the isolate's socket (flag BINARY) */
    PW_FRAME_WS_SEND_CLOSE = 23,    /* u32 code, reason: the isolate closes its socket */
    PW_FRAME_WS_TAKEN = 24,     /* u32: bytes of the host's messages the isolate took */
    /* control: host <-> zygote / template (small payloads, fds passed beside them) */
    PW_FRAME_CTL_CREATE_TEMPLATE = 32,  /* host->zygote: spec path; fd: template control socket */
    PW_FRAME_CTL_TEMPLATE_READY = 33,   /* template->host: u32 pid */
    PW_FRAME_CTL_TEMPLATE_FAILED = 34,  /* template->host: error text (traceback) */
    PW_FRAME_CTL_SPAWN_ISOLATE = 35,    /* host->template: fd: isolate socket */
    PW_FRAME_CTL_ISOLATE_SPAWNED = 36,  /* template->host: u32 pid (0 = fork failed) */
    PW_FRAME_CTL_ISOLATE_EXITED = 37,   /* template->host: u32 pid, u32 wait status */
    PW_FRAME_CTL_GUARD_LISTENER = 38,   /* template->guard: fd: its seccomp fork listener */
};

/* Frame flags. */
#define PW_FRAME_FLAG_STREAM 0x01   /* RESPONSE: the body follows as BODY_CHUNK frames + END */
#define PW_FRAME_FLAG_SIZED 0x02    /* streamed RESPONSE: its body field is the length (u64) */
#define PW_FRAME_FLAG_WEBSOCKET 0x04    /* RESPONSE (status 101): the request's WebSocket is
                                         * accepted; the socket's id is the frame's id */
#define PW_FRAME_FLAG_BINARY 0x01   /* WS_MESSAGE / WS_SEND: binary (else UTF-8 text) */

/* Per-stream window of unacknowledged BODY_CHUNK bytes an isolate may have sent. */
#define PW_FRAME_STREAM_WINDOW (256u * 1024)

typedef struct {
    pw_bytes_t name;
    pw_bytes_t value;
} pw_header_t;

typedef struct {
    uint8_t type;
    uint8_t flags;
    uint32_t id;
    const uint8_t *payload;
    size_t len;
} pw_frame_t;

/* The connection a REQUEST came in on: the client's and the listening side's address. */
typedef struct {
    pw_bytes_t client_ip;       /* text, e.g. "127.0.0.1" or "::1" */
    uint32_t client_port;
    pw_bytes_t server_ip;
    uint32_t server_port;
} pw_peer_t;

/* Reads payload fields in order; `failed` sticks once any read runs past the end. */
typedef struct {
    const uint8_t *pos;
    const uint8_t *end;
    int failed;
} pw_cursor_t;

/* A decoded REQUEST or RESPONSE. Headers are read one by one with pw_headers_next(). */
typedef struct {
    uint32_t status;            /* RESPONSE only */
    uint8_t flags;              /* the frame's flags (PW_FRAME_FLAG_STREAM) */
    uint64_t request_id;        /* REQUEST only: the host's id for the logs */
    pw_bytes_t method;          /* REQUEST only */
    pw_bytes_t url;             /* REQUEST only */
    uint32_t n_headers;
    pw_cursor_t headers;        /* positioned at the next header */
    uint32_t headers_left;
    pw_bytes_t body;
    int has_peer;               /* REQUEST only: the frame carried its connection's addresses */
    pw_peer_t peer;
} pw_message_t;


int pw_frame_begin(pw_buf_t *buf, uint8_t type, uint32_t id, size_t *start);
int pw_frame_put_u32(pw_buf_t *buf, uint32_t value);
int pw_frame_put_u64(pw_buf_t *buf, uint64_t value);
int pw_frame_put_bytes(pw_buf_t *buf, const void *data, size_t len);
int pw_frame_end(pw_buf_t *buf, size_t start);

/* Whole messages in one call. `peer` may be NULL (a request that came in on no connection). */
int pw_frame_put_request(pw_buf_t *buf, uint32_t id, uint64_t request_id, pw_bytes_t method,
                         pw_bytes_t url, const pw_header_t *headers, size_t n_headers,
                         pw_bytes_t body, const pw_peer_t *peer);
int pw_frame_put_response(pw_buf_t *buf, uint32_t id, uint32_t status,
                          const pw_header_t *headers, size_t n_headers, pw_bytes_t body);
int pw_frame_put_empty(pw_buf_t *buf, uint8_t type, uint32_t id);
/* Streaming: a RESPONSE with PW_FRAME_FLAG_STREAM and no body, then chunks, then END. */
int pw_frame_put_response_start(pw_buf_t *buf, uint32_t id, uint32_t status,
                                const pw_header_t *headers, size_t n_headers);
/* The same, with PW_FRAME_FLAG_SIZED: the chunks will add up to `size` bytes. */
int pw_frame_put_response_start_sized(pw_buf_t *buf, uint32_t id, uint32_t status,
                                      const pw_header_t *headers, size_t n_headers, uint64_t size);
/* The length a SIZED streamed RESPONSE announces; 0, or -EBADMSG when it has none. */
int pw_message_stream_size(const pw_message_t *msg, uint64_t *size);
int pw_frame_put_chunk(pw_buf_t *buf, uint32_t id, const void *data, size_t len);
/* A frame whose whole payload is one u32 (END, BODY_ACK). */
int pw_frame_put_u32_frame(pw_buf_t *buf, uint8_t type, uint32_t id, uint32_t value);
/* Reads the u32 payload of an END or BODY_ACK frame; 0 or -EBADMSG. */
int pw_frame_decode_u32(const pw_frame_t *frame, uint32_t *value);

/* Parses the frame at the start of data. Returns 1 and fills *frame (with *consumed set to
 * its whole size) when a complete frame is there, 0 when more bytes are needed, -EMSGSIZE
 * when the announced payload is larger than PW_FRAME_MAX_PAYLOAD. */
int pw_frame_parse(const uint8_t *data, size_t len, pw_frame_t *frame, size_t *consumed);

/* Announced payload limit for a frame of `type` from an isolate (see the top). */
size_t pw_frame_max_from_isolate(uint8_t type);
/* pw_frame_parse for bytes from an isolate: -EMSGSIZE as soon as a header announces more
 * than pw_frame_max_from_isolate() of its type. */
int pw_frame_parse_from_isolate(const uint8_t *data, size_t len, pw_frame_t *frame,
                                size_t *consumed);
/* Bytes still missing of the incomplete frame at the start of data (0 when complete or
 * when not even its header is there). The caller has checked the header (parse). */
size_t pw_frame_missing(const uint8_t *data, size_t len);

void pw_cursor_init(pw_cursor_t *cur, const uint8_t *data, size_t len);
uint32_t pw_cursor_u32(pw_cursor_t *cur);
uint64_t pw_cursor_u64(pw_cursor_t *cur);
pw_bytes_t pw_cursor_bytes(pw_cursor_t *cur);

/* Decodes a REQUEST / RESPONSE frame and checks every header and the body lie inside it.
 * Returns 0 or -EBADMSG. */
int pw_message_decode_request(const pw_frame_t *frame, pw_message_t *msg);
int pw_message_decode_response(const pw_frame_t *frame, pw_message_t *msg);
/* Returns 1 and fills *header while headers remain, 0 after the last. Only valid on a
 * message that decoded successfully. */
int pw_headers_next(pw_message_t *msg, pw_header_t *header);

#endif
