/* d1_json.c — the JSON writer of D1 results (host process; see d1_json.h). Strings are
 * escaped byte by byte with a fast path for runs that need no escaping; UTF-8 is validated
 * as it goes (overlong forms, surrogates and truncated sequences become U+FFFD).
 */
#include "storage/d1_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void pw_d1_json_init(pw_d1_json_t *j)
{
    pw_buf_init(&j->buf);
    j->failed = 0;
}

void pw_d1_json_free(pw_d1_json_t *j)
{
    pw_buf_free(&j->buf);
}

static void put(pw_d1_json_t *j, const void *data, size_t len)
{
    if (!j->failed && pw_buf_append(&j->buf, data, len) < 0)
        j->failed = 1;
}

void pw_d1_json_raw(pw_d1_json_t *j, const char *text)
{
    put(j, text, strlen(text));
}

void pw_d1_json_null(pw_d1_json_t *j)
{
    put(j, "null", 4);
}

void pw_d1_json_bool(pw_d1_json_t *j, int v)
{
    pw_d1_json_raw(j, v ? "true" : "false");
}

void pw_d1_json_int(pw_d1_json_t *j, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRId64, v);
    put(j, text, (size_t)n);
}

void pw_d1_json_real(pw_d1_json_t *j, double v)
{
    char text[40];
    if (isnan(v))
        return pw_d1_json_null(j);
    if (isinf(v))
        return pw_d1_json_raw(j, v > 0 ? "Infinity" : "-Infinity");    /* Python's json reads these */
    int n = snprintf(text, sizeof text, "%.17g", v);
    if (!strpbrk(text, ".eE"))
        n += snprintf(text + n, sizeof text - (size_t)n, ".0");
    put(j, text, (size_t)n);
}

/* The length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_sequence(const uint8_t *p, size_t left)
{
    uint8_t c = p[0];
    size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
        return 0;                   /* overlong, or a surrogate */
    if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
        return 0;                   /* overlong, or above U+10FFFF */
    return n;
}

static void escape_byte(pw_d1_json_t *j, uint8_t c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
    const char *two = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                    : c == '\t' ? "\\t" : NULL;
    if (two)
        put(j, two, 2);
    else
        put(j, esc, 6);
}

void pw_d1_json_string(pw_d1_json_t *j, pw_bytes_t text)
{
    const uint8_t *p = text.base, *end = text.base + text.len;
    put(j, "\"", 1);
    while (p < end) {
        const uint8_t *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        put(j, run, (size_t)(p - run));
        if (p == end)
            break;
        if (*p < 0x80) {
            escape_byte(j, *p++);
            continue;
        }
        size_t n = utf8_sequence(p, (size_t)(end - p));
        if (n) {
            put(j, p, n);
            p += n;
        } else {
            put(j, "\\ufffd", 6);
            p++;
        }
    }
    put(j, "\"", 1);
}

void pw_d1_json_blob(pw_d1_json_t *j, pw_bytes_t data)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pw_d1_json_raw(j, "{\"$blob\":\"");
    size_t i = 0;
    for (; i + 3 <= data.len; i += 3) {
        uint32_t v = (uint32_t)data.base[i] << 16 | (uint32_t)data.base[i + 1] << 8 | data.base[i + 2];
        char out[4] = { b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63] };
        put(j, out, 4);
    }
    if (i < data.len) {
        uint32_t v = (uint32_t)data.base[i] << 16 | (i + 1 < data.len ? (uint32_t)data.base[i + 1] << 8 : 0);
        char out[4] = { b64[v >> 18], b64[(v >> 12) & 63], i + 1 < data.len ? b64[(v >> 6) & 63] : '=', '=' };
        put(j, out, 4);
    }
    pw_d1_json_raw(j, "\"}");
}
