/* kv_common.c — the list cursor and the refusal of writes shared by the stored KV backends
 * (host process; see kv_common.h).
 */
#include "storage/kv_common.h"

#include <stdio.h>
#include <stdlib.h>

static int hex_value(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int pw_kv_cursor_decode(pw_bytes_t cursor, uint8_t *out, size_t *len)
{
    if (cursor.len % 2 || cursor.len / 2 > PW_KV_MAX_KEY)
        return -1;
    for (size_t i = 0; i < cursor.len; i += 2) {
        int hi = hex_value(cursor.base[i]), lo = hex_value(cursor.base[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *len = cursor.len / 2;
    return 0;
}

void pw_kv_cursor_encode(pw_bytes_t last, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = last.len < PW_KV_MAX_KEY ? last.len : PW_KV_MAX_KEY;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[last.base[i] >> 4];
        out[2 * i + 1] = digits[last.base[i] & 15];
    }
    out[2 * n] = '\0';
}

int pw_kv_refuse_writes(pw_kv_backend_t *kv, const char *service)
{
    if (asprintf(&kv->refuse_put, "KV PUT failed: 405 Method Not Allowed (disk service \"%s\" "
                 "is not writable: add writable = true)", service) < 0) {
        kv->refuse_put = NULL;
        return -1;
    }
    if (asprintf(&kv->refuse_delete, "KV DELETE failed: 405 Method Not Allowed (disk service "
                 "\"%s\" is not writable)", service) < 0) {
        kv->refuse_delete = NULL;
        return -1;
    }
    return 0;
}
