/* ws_codec.h — RFC 6455 framing (host process): frame headers, masking, UTF-8 validation of
 * text, the opening handshake's accept key, and a reader that turns the bytes of one
 * connection into whole messages and control frames. Pure functions over byte buffers (no
 * I/O, no globals): unit-tested (tests/unit/test_ws_codec.c) and fuzzed
 * (tests/fuzz/fuzz_ws.c) on their own. Used by the host's WebSocket connections, server
 * side and client side (http/ws_conn.h).
 * Invariant: the reader never reads outside the bytes it is given, and never accepts a
 * message larger than its limit or a text message that is not UTF-8.
 */
#ifndef PW_WS_CODEC_H
#define PW_WS_CODEC_H

#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    PW_WS_OP_CONTINUATION = 0, PW_WS_OP_TEXT = 1, PW_WS_OP_BINARY = 2,
    PW_WS_OP_CLOSE = 8, PW_WS_OP_PING = 9, PW_WS_OP_PONG = 10,
};

/* Close codes (RFC 6455 §7.4.1) the host itself uses. */
enum {
    PW_WS_CLOSE_NORMAL = 1000, PW_WS_CLOSE_GOING_AWAY = 1001, PW_WS_CLOSE_PROTOCOL = 1002,
    PW_WS_CLOSE_NO_STATUS = 1005, PW_WS_CLOSE_ABNORMAL = 1006, PW_WS_CLOSE_BAD_DATA = 1007,
    PW_WS_CLOSE_TOO_BIG = 1009, PW_WS_CLOSE_INTERNAL = 1011,
};

#define PW_WS_MAX_HEADER 14

typedef struct {
    int fin;
    uint8_t opcode;
    int masked;
    uint8_t mask[4];
    uint64_t len;               /* payload bytes */
    size_t header_len;
} pw_ws_header_t;

/* The frame header at data: 1 (filled), 0 (more bytes needed) or -PW_WS_CLOSE_PROTOCOL
 * (reserved bits, an unknown opcode, a fragmented or over-125-byte control frame, a length
 * not in its shortest form or with its top bit set). */
int pw_ws_parse_header(const uint8_t *data, size_t len, pw_ws_header_t *h);
/* Writes a frame header (unmasked when mask is NULL) into out (PW_WS_MAX_HEADER bytes);
 * returns its length. */
size_t pw_ws_put_header(uint8_t *out, int fin, uint8_t opcode, uint64_t len, const uint8_t *mask);
/* XORs data with the mask, `offset` bytes into the payload. */
void pw_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);

/* Incremental UTF-8 validation (RFC 3629: no overlongs, surrogates or code points above
 * U+10FFFF): *state starts at 0; returns 0 while valid so far, -1 at the first invalid byte.
 * The text is whole and valid when it returned 0 and *state is back to 0. */
int pw_utf8_feed(uint32_t *state, const uint8_t *data, size_t len);
int pw_utf8_valid(const uint8_t *data, size_t len);

/* Whether a close frame may carry code (1000-1003, 1007-1014, 3000-4999). */
int pw_ws_close_code_ok(unsigned code);
/* The Sec-WebSocket-Accept value of a Sec-WebSocket-Key (28 characters and a NUL). */
void pw_ws_accept_key(const char *key, size_t key_len, char out[29]);

/* What a connection's reader found: a whole message, or a control frame. */
typedef struct {
    uint8_t opcode;             /* TEXT, BINARY, CLOSE, PING or PONG; 0: nothing yet */
    const uint8_t *data;        /* the payload, unmasked (valid until the next read) */
    size_t len;
    uint16_t code;              /* CLOSE: its code (PW_WS_CLOSE_NO_STATUS when it has none) */
} pw_ws_event_t;

typedef struct {
    int expect_masked;          /* a server's reader: clients must mask, servers must not */
    size_t max_message;
    uint8_t opcode;             /* of the fragmented message being assembled; 0: none */
    pw_buf_t message;           /* its fragments so far */
    uint32_t utf8;              /* pw_utf8_feed's state over a text message */
} pw_ws_reader_t;

void pw_ws_reader_init(pw_ws_reader_t *r, int expect_masked, size_t max_message);
void pw_ws_reader_free(pw_ws_reader_t *r);
/* Reads at most one frame from data (unmasked in place). Returns the bytes it used (0:
 * the frame is incomplete), with *ev filled when that frame completed a message or was a
 * control frame (ev->opcode != 0); or -code, the close code the connection must fail with
 * (1002 protocol, 1007 invalid UTF-8 or close payload, 1009 a message over max_message). */
ssize_t pw_ws_read(pw_ws_reader_t *r, uint8_t *data, size_t len, pw_ws_event_t *ev);

/* The head of the server's answer to a client's opening handshake (or of any HTTP/1.1
 * response): status and headers, pointing into data. */
#define PW_WS_MAX_RESPONSE_HEADERS 64
typedef struct {
    unsigned status;
    size_t n_headers;
    pw_bytes_t names[PW_WS_MAX_RESPONSE_HEADERS];
    pw_bytes_t values[PW_WS_MAX_RESPONSE_HEADERS];  /* leading and trailing blanks cut */
} pw_ws_response_head_t;

/* Parses "HTTP/1.x NNN reason CRLF (name: value CRLF)* CRLF" at data. Returns the head's
 * length, 0 when it is not complete yet, -1 when it is malformed (or has too many headers). */
ssize_t pw_ws_parse_response_head(const uint8_t *data, size_t len, pw_ws_response_head_t *head);
/* The value of header `name` (case-insensitive), or NULL. */
const pw_bytes_t *pw_ws_response_header(const pw_ws_response_head_t *head, const char *name);

#endif
