/* ws_codec.c — RFC 6455 framing: headers, masking, UTF-8, the accept key and the message
 * reader (host process; see ws_codec.h). Pure functions; the reader's only state is its
 * pw_ws_reader_t. A frame is used only once it is whole in the caller's bytes (at most
 * max_message plus a header: the caller's buffer is bounded by the same limit).
 */
#include "http/ws_codec.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

/* ---- frame headers ---- */

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int opcode_known(uint8_t op)
{
    return op <= PW_WS_OP_BINARY || (op >= PW_WS_OP_CLOSE && op <= PW_WS_OP_PONG);
}

int pw_ws_parse_header(const uint8_t *data, size_t len, pw_ws_header_t *h)
{
    if (len < 2)
        return 0;
    if (data[0] & 0x70)
        return -PW_WS_CLOSE_PROTOCOL;               /* no extension was negotiated */
    h->fin = data[0] >> 7;
    h->opcode = data[0] & 0x0f;
    h->masked = data[1] >> 7;
    h->len = data[1] & 0x7f;
    h->header_len = 2;
    if (!opcode_known(h->opcode))
        return -PW_WS_CLOSE_PROTOCOL;
    if (h->len == 126) {
        if (len < 4)
            return 0;
        h->len = get_be(data + 2, 2);
        h->header_len = 4;
        if (h->len < 126)
            return -PW_WS_CLOSE_PROTOCOL;
    } else if (h->len == 127) {
        if (len < 10)
            return 0;
        h->len = get_be(data + 2, 8);
        h->header_len = 10;
        if (h->len >> 63 || h->len <= 0xffff)
            return -PW_WS_CLOSE_PROTOCOL;
    }
    if (h->opcode >= PW_WS_OP_CLOSE && (!h->fin || h->len > 125))
        return -PW_WS_CLOSE_PROTOCOL;
    if (h->masked) {
        if (len < h->header_len + 4)
            return 0;
        memcpy(h->mask, data + h->header_len, 4);
        h->header_len += 4;
    }
    return 1;
}

size_t pw_ws_put_header(uint8_t *out, int fin, uint8_t opcode, uint64_t len, const uint8_t *mask)
{
    size_t n = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
    } else if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        out[1] |= 0x80;
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void pw_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset)
{
    size_t i = 0;
    if ((offset & 3) == 0 && len >= 8) {
        uint8_t m8[8];
        for (int k = 0; k < 8; k++)
            m8[k] = mask[k & 3];
        uint64_t m;
        memcpy(&m, m8, 8);
        for (; i + 8 <= len; i += 8) {
            uint64_t v;
            memcpy(&v, data + i, 8);
            v ^= m;
            memcpy(data + i, &v, 8);
        }
    }
    for (; i < len; i++)
        data[i] ^= mask[(offset + i) & 3];
}

/* ---- UTF-8 ---- */

/* state: 0 between characters, else (bytes still needed << 16 | lowest << 8 | highest
 * allowed value of the next byte). */
int pw_utf8_feed(uint32_t *state, const uint8_t *data, size_t len)
{
    uint32_t need = *state >> 16;
    uint8_t lo = (uint8_t)(*state >> 8), hi = (uint8_t)*state;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (need) {
            if (c < lo || c > hi)
                return -1;
            need--;
            lo = 0x80;
            hi = 0xbf;
            continue;
        }
        if (c < 0x80) {
            while (i + 8 < len) {               /* ASCII runs, eight bytes at a time */
                uint64_t v;
                memcpy(&v, data + i + 1, 8);
                if (v & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            continue;
        }
        lo = 0x80;
        hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c == 0xe0)
            need = 2, lo = 0xa0;
        else if (c == 0xed)
            need = 2, hi = 0x9f;                /* no surrogates */
        else if (c >= 0xe1 && c <= 0xef)
            need = 2;
        else if (c == 0xf0)
            need = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            need = 3;
        else if (c == 0xf4)
            need = 3, hi = 0x8f;                /* nothing above U+10FFFF */
        else
            return -1;
    }
    *state = need ? need << 16 | (uint32_t)lo << 8 | hi : 0;
    return 0;
}

int pw_utf8_valid(const uint8_t *data, size_t len)
{
    uint32_t state = 0;
    return pw_utf8_feed(&state, data, len) == 0 && state == 0;
}

/* ---- the handshake and close codes ---- */

int pw_ws_close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

void pw_ws_accept_key(const char *key, size_t key_len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, key, key_len) != 1 ||
        EVP_DigestUpdate(ctx, guid, sizeof guid - 1) != 1 || EVP_DigestFinal_ex(ctx, digest, &n) != 1)
        n = 0;
    EVP_MD_CTX_free(ctx);
    if (n != 20) {
        memset(out, 0, 29);     /* out of memory: a key no client accepts */
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
}

/* ---- the reader ---- */

void pw_ws_reader_init(pw_ws_reader_t *r, int expect_masked, size_t max_message)
{
    memset(r, 0, sizeof *r);
    r->expect_masked = expect_masked;
    r->max_message = max_message;
    pw_buf_init(&r->message);
}

void pw_ws_reader_free(pw_ws_reader_t *r)
{
    pw_buf_free(&r->message);
}

static ssize_t control_event(const pw_ws_header_t *h, const uint8_t *payload, pw_ws_event_t *ev)
{
    ev->opcode = h->opcode;
    ev->data = payload;
    ev->len = (size_t)h->len;
    if (h->opcode != PW_WS_OP_CLOSE)
        return 0;
    ev->code = PW_WS_CLOSE_NO_STATUS;
    if (h->len == 0)
        return 0;
    if (h->len == 1)
        return -PW_WS_CLOSE_PROTOCOL;
    ev->code = (uint16_t)get_be(payload, 2);
    ev->data = payload + 2;
    ev->len = (size_t)h->len - 2;
    if (!pw_ws_close_code_ok(ev->code))
        return -PW_WS_CLOSE_PROTOCOL;
    return pw_utf8_valid(ev->data, ev->len) ? 0 : -PW_WS_CLOSE_BAD_DATA;
}

/* A data frame's payload: the whole message, or a fragment of one. */
static ssize_t data_event(pw_ws_reader_t *r, const pw_ws_header_t *h, const uint8_t *payload,
                          pw_ws_event_t *ev)
{
    uint8_t op = r->opcode ? r->opcode : h->opcode;
    size_t len = (size_t)h->len;
    if (op == PW_WS_OP_TEXT && pw_utf8_feed(&r->utf8, payload, len) < 0)
        return -PW_WS_CLOSE_BAD_DATA;
    if (h->fin && !r->opcode) {                 /* a whole message in one frame: no copy */
        if (r->utf8)
            return -PW_WS_CLOSE_BAD_DATA;
        *ev = (pw_ws_event_t){ .opcode = op, .data = payload, .len = len };
        return 0;
    }
    if (pw_buf_append(&r->message, payload, len) < 0)
        return -PW_WS_CLOSE_INTERNAL;
    r->opcode = op;
    if (!h->fin)
        return 0;
    if (r->utf8)
        return -PW_WS_CLOSE_BAD_DATA;
    *ev = (pw_ws_event_t){ .opcode = op, .data = r->message.data, .len = r->message.len };
    r->opcode = 0;                              /* the buffer is reset on the next read */
    return 0;
}

/* Checks a data frame against the message being assembled and the size limit. */
static int frame_fits(const pw_ws_reader_t *r, const pw_ws_header_t *h)
{
    if ((h->opcode == PW_WS_OP_CONTINUATION) != (r->opcode != 0))
        return -PW_WS_CLOSE_PROTOCOL;           /* a continuation of nothing, or a new message
                                                 * inside a fragmented one */
    size_t so_far = r->opcode ? r->message.len : 0;
    return h->len > r->max_message - so_far ? -PW_WS_CLOSE_TOO_BIG : 0;
}

ssize_t pw_ws_read(pw_ws_reader_t *r, uint8_t *data, size_t len, pw_ws_event_t *ev)
{
    pw_ws_header_t h;
    ev->opcode = 0;
    if (!r->opcode && r->message.len) {         /* the last event's message was used */
        r->message.len = 0;
        pw_buf_shrink(&r->message, 64 * 1024);
    }
    int rc = pw_ws_parse_header(data, len, &h);
    if (rc <= 0)
        return rc;
    if (h.masked != r->expect_masked)
        return -PW_WS_CLOSE_PROTOCOL;
    if (h.opcode < PW_WS_OP_CLOSE && (rc = frame_fits(r, &h)) < 0)
        return rc;
    if (len - h.header_len < h.len)
        return 0;
    uint8_t *payload = data + h.header_len;
    if (h.masked)
        pw_ws_mask(payload, (size_t)h.len, h.mask, 0);
    ssize_t done = h.opcode >= PW_WS_OP_CLOSE ? control_event(&h, payload, ev)
                                              : data_event(r, &h, payload, ev);
    if (done < 0) {
        ev->opcode = 0;
        return done;
    }
    if (r->utf8 && !r->opcode)
        r->utf8 = 0;
    return (ssize_t)(h.header_len + h.len);
}

/* ---- a handshake's response head ---- */

static const uint8_t *find_crlf(const uint8_t *p, const uint8_t *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

static pw_bytes_t trimmed(const uint8_t *p, const uint8_t *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return (pw_bytes_t){ p, (size_t)(end - p) };
}

static int status_line(const uint8_t *p, const uint8_t *eol, unsigned *status)
{
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return -1;
    unsigned v = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (eol - p > 12 && p[12] != ' ')
        return -1;
    *status = v;
    return 0;
}

ssize_t pw_ws_parse_response_head(const uint8_t *data, size_t len, pw_ws_response_head_t *head)
{
    const uint8_t *p = data, *end = data + len, *eol = find_crlf(p, end);
    head->n_headers = 0;
    if (!eol)
        return 0;
    if (status_line(p, eol, &head->status) < 0)
        return -1;
    for (p = eol + 2;; p = eol + 2) {
        if (!(eol = find_crlf(p, end)))
            return 0;
        if (eol == p)
            return (ssize_t)(eol + 2 - data);
        const uint8_t *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p || head->n_headers == PW_WS_MAX_RESPONSE_HEADERS)
            return -1;
        for (const uint8_t *c = p; c < colon; c++)
            if (*c <= ' ' || *c >= 127)
                return -1;
        head->names[head->n_headers] = (pw_bytes_t){ p, (size_t)(colon - p) };
        head->values[head->n_headers++] = trimmed(colon + 1, eol);
    }
}

const pw_bytes_t *pw_ws_response_header(const pw_ws_response_head_t *head, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < head->n_headers; i++)
        if (head->names[i].len == n && strncasecmp((const char *)head->names[i].base, name, n) == 0)
            return &head->values[i];
    return NULL;
}
