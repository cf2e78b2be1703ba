/* d1_statements.c — decoding (and, for a cluster, encoding again) the statement list of a D1 binding call (host process; see
 * d1_statements.h). Every read is bounds-checked against the field; a statement's values are
 * walked once here to validate them, then again by the backend as it binds them.
 */
#include "storage/d1_statements.h"

#include <errno.h>
#include <string.h>

static int take(pw_bytes_t *in, size_t n, const uint8_t **out)
{
    if (in->len < n)
        return -EBADMSG;
    *out = in->base;
    in->base += n;
    in->len -= n;
    return 0;
}

static int take_u32(pw_bytes_t *in, uint32_t *out)
{
    const uint8_t *p;
    if (take(in, 4, &p) < 0)
        return -EBADMSG;
    *out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return 0;
}

static int take_u64(pw_bytes_t *in, uint64_t *out)
{
    uint32_t lo, hi;
    if (take_u32(in, &lo) < 0 || take_u32(in, &hi) < 0)
        return -EBADMSG;
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}

int pw_d1_value_next(pw_bytes_t *params, pw_d1_value_t *out)
{
    const uint8_t *type;
    uint64_t bits;
    uint32_t len;
    if (take(params, 1, &type) < 0)
        return -EBADMSG;
    memset(out, 0, sizeof *out);
    out->type = (pw_d1_type_t)*type;
    switch (*type) {
    case PW_D1_NULL:
        return 0;
    case PW_D1_INT:
        if (take_u64(params, &bits) < 0)
            return -EBADMSG;
        out->i = (int64_t)bits;
        return 0;
    case PW_D1_REAL:
        if (take_u64(params, &bits) < 0)
            return -EBADMSG;
        memcpy(&out->f, &bits, sizeof out->f);
        return 0;
    case PW_D1_TEXT:
    case PW_D1_BLOB:
        if (take_u32(params, &len) < 0 || take(params, len, &out->bytes.base) < 0)
            return -EBADMSG;
        out->bytes.len = len;
        return 0;
    }
    return -EBADMSG;
}

/* One statement: its header, its SQL and its values (checked, not kept). */
static int decode_statement(pw_bytes_t *in, pw_d1_statement_t *out)
{
    uint32_t sql_len, n_params;
    if (take_u32(in, &sql_len) < 0 || take_u32(in, &n_params) < 0 ||
        take(in, sql_len, &out->sql.base) < 0)
        return -EBADMSG;
    out->sql.len = sql_len;
    out->n_params = n_params;
    out->params = *in;
    for (uint32_t i = 0; i < n_params; i++) {
        pw_d1_value_t v;
        if (pw_d1_value_next(in, &v) < 0)
            return -EBADMSG;
    }
    out->params.len = (size_t)(in->base - out->params.base);
    return 0;
}

size_t pw_d1_statements_count(pw_bytes_t field)
{
    uint32_t count;
    if (take_u32(&field, &count) < 0 || count > field.len / 8)
        return 0;                   /* each statement takes at least its 8-byte header */
    return count;
}

int pw_d1_statements_decode(pw_bytes_t field, pw_d1_statement_t *out, size_t max, size_t *n)
{
    uint32_t count;
    *n = 0;
    if (take_u32(&field, &count) < 0 || count > max)
        return -EBADMSG;
    for (uint32_t i = 0; i < count; i++)
        if (decode_statement(&field, &out[i]) < 0)
            return -EBADMSG;
    if (field.len != 0)
        return -EBADMSG;
    *n = count;
    return 0;
}

static int put_u32(pw_buf_t *out, size_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    return pw_buf_append(out, b, 4);
}

int pw_d1_statements_encode(const pw_d1_statement_t *statements, size_t n, pw_buf_t *out)
{
    int rc = put_u32(out, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const pw_d1_statement_t *s = &statements[i];
        rc = put_u32(out, s->sql.len) < 0 || put_u32(out, s->n_params) < 0 ||
             pw_buf_append(out, s->sql.base, s->sql.len) < 0 ||
             pw_buf_append(out, s->params.base, s->params.len) < 0 ? -ENOMEM : 0;
    }
    return rc < 0 ? -ENOMEM : 0;
}
