/* buf.c — growable byte buffers (every process). See buf.h. */
#include "base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void pw_buf_init(pw_buf_t *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void pw_buf_free(pw_buf_t *buf)
{
    free(buf->data);
    pw_buf_init(buf);
}

/* Keeps text use's NUL after the last byte (there is room: consuming frees some). */
void pw_buf_consume(pw_buf_t *buf, size_t n)
{
    if (n >= buf->len) {
        buf->len = 0;
    } else {
        memmove(buf->data, buf->data + n, buf->len - n);
        buf->len -= n;
    }
    if (buf->data && buf->len < buf->cap)
        buf->data[buf->len] = '\0';
}

int pw_buf_grow(pw_buf_t *buf, size_t n)
{
    if (buf->cap - buf->len >= n)
        return 0;
    size_t cap = buf->cap ? buf->cap : 4096;
    while (cap - buf->len < n) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    uint8_t *data = realloc(buf->data, cap);
    if (!data)
        return -ENOMEM;
    buf->data = data;
    buf->cap = cap;
    return 0;
}

int pw_buf_reserve_exact(pw_buf_t *buf, size_t n)
{
    if (buf->cap - buf->len >= n)
        return 0;
    if (n > SIZE_MAX - buf->len)
        return -ENOMEM;
    uint8_t *data = realloc(buf->data, buf->len + n);
    if (!data)
        return -ENOMEM;
    buf->data = data;
    buf->cap = buf->len + n;
    return 0;
}

void pw_buf_shrink(pw_buf_t *buf, size_t keep)
{
    if (buf->cap <= keep || buf->len > keep)
        return;
    if (buf->len == 0) {
        pw_buf_free(buf);
        return;
    }
    uint8_t *data = realloc(buf->data, keep);
    if (data) {
        buf->data = data;
        buf->cap = keep;
    }
}

int pw_buf_append_text(pw_buf_t *buf, const char *text, size_t len)
{
    if (len == SIZE_MAX)
        return -ENOMEM;
    int rc = pw_buf_reserve(buf, len + 1);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

int pw_buf_printf(pw_buf_t *buf, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    int rc = n < 0 ? -EINVAL : pw_buf_reserve(buf, (size_t)n + 1);
    if (rc == 0) {
        vsnprintf((char *)buf->data + buf->len, (size_t)n + 1, fmt, again);
        buf->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

int pw_bytes_to_i64(pw_bytes_t b, int64_t *out)
{
    char text[32];
    if (b.len == 0 || b.len >= sizeof text)
        return -1;
    memcpy(text, b.base, b.len);
    text[b.len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || end == text)
        return -1;
    *out = v;
    return 0;
}
