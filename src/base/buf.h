/* buf.h — byte slices and growable byte buffers, the bottom layer's memory for every
 * process (host, zygote, templates, isolates): frames are built in them, config text and
 * child output are gathered in them. Nothing here knows a frame, a request or a process.
 */
#ifndef PW_BASE_BUF_H
#define PW_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A slice of bytes owned by someone else. */
typedef struct {
    const uint8_t *base;
    size_t len;
} pw_bytes_t;

/* A growable buffer; all-zero is an empty one. Functions returning int give 0 or -ENOMEM. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} pw_buf_t;

/* A C string as a slice (without its NUL). */
static inline pw_bytes_t pw_bytes_of(const char *text)
{
    return (pw_bytes_t){ (const uint8_t *)text, strlen(text) };
}

/* Whether a slice holds exactly the C string `text` / starts with it. */
static inline int pw_bytes_is(pw_bytes_t b, const char *text)
{
    size_t n = strlen(text);
    return b.len == n && (n == 0 || memcmp(b.base, text, n) == 0);
}

static inline int pw_bytes_starts(pw_bytes_t b, const char *prefix)
{
    size_t n = strlen(prefix);
    return b.len >= n && (n == 0 || memcmp(b.base, prefix, n) == 0);
}

/* Whether `b` starts with the slice `prefix` (an empty prefix: always; its base may be NULL). */
static inline int pw_bytes_has_prefix(pw_bytes_t b, pw_bytes_t prefix)
{
    return b.len >= prefix.len && (prefix.len == 0 || memcmp(b.base, prefix.base, prefix.len) == 0);
}

static inline int pw_bytes_equal(pw_bytes_t a, pw_bytes_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

/* A slice holding a whole decimal integer (strtoll's syntax: sign, leading blanks): 0 with
 * *out, or -1 (empty, not a number, trailing bytes, out of range). */
int pw_bytes_to_i64(pw_bytes_t b, int64_t *out);

void pw_buf_init(pw_buf_t *buf);
void pw_buf_free(pw_buf_t *buf);
/* Drops the first n bytes. */
void pw_buf_consume(pw_buf_t *buf, size_t n);
/* Room for n more bytes (capacity doubles). The check and the copy are inline: frames are
 * built field by field on every request's path; growing is not. */
int pw_buf_grow(pw_buf_t *buf, size_t n);
static inline int pw_buf_reserve(pw_buf_t *buf, size_t n)
{
    return buf->cap - buf->len >= n ? 0 : pw_buf_grow(buf, n);
}

static inline int pw_buf_append(pw_buf_t *buf, const void *data, size_t len)
{
    int rc = pw_buf_reserve(buf, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return 0;
}
/* Room for exactly n more bytes (for a body whose size is known). */
int pw_buf_reserve_exact(pw_buf_t *buf, size_t n);
/* Gives memory back down to `keep` bytes of capacity when the buffer holds no more. */
void pw_buf_shrink(pw_buf_t *buf, size_t keep);

/* Text use: these keep a NUL after the last byte (not counted in len), so pw_buf_text()
 * is a C string. */
int pw_buf_append_text(pw_buf_t *buf, const char *text, size_t len);
int pw_buf_printf(pw_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The buffer as a C string ("" when empty). Valid after the text functions above. */
static inline const char *pw_buf_text(const pw_buf_t *buf)
{
    return buf->data ? (const char *)buf->data : "";
}

#endif
