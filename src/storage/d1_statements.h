/* d1_statements.h — the statement list a D1 binding call carries (host process; the SDK,
 * pyworkerd/d1.py, writes it in Python). One RPC field holds every statement of a call, so a
 * batch of any size is one field, and values keep their exact types (a 64-bit integer is
 * never squeezed through a double, a BLOB is never escaped):
 *
 *   statements := u32 count, statement*count
 *   statement  := u32 sql_len, u32 n_params, sql bytes, value*n_params
 *   value      := 'n' | 'i' i64 | 'f' f64 | 't' u32 len, bytes | 'b' u32 len, bytes
 *
 * Integers are little-endian. Decoding checks every length against the field's end before
 * anything is used: the bytes come from an untrusted isolate.
 */
#ifndef PW_D1_STATEMENTS_H
#define PW_D1_STATEMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef enum {
    PW_D1_NULL = 'n',
    PW_D1_INT = 'i',
    PW_D1_REAL = 'f',
    PW_D1_TEXT = 't',
    PW_D1_BLOB = 'b',
} pw_d1_type_t;

typedef struct {
    pw_d1_type_t type;
    int64_t i;
    double f;
    pw_bytes_t bytes;           /* TEXT (UTF-8) and BLOB; borrowed from the field */
} pw_d1_value_t;

typedef struct {
    pw_bytes_t sql;             /* borrowed from the field */
    size_t n_params;
    pw_bytes_t params;          /* the encoded values, already checked: read them with
                                 * pw_d1_value_next */
} pw_d1_statement_t;

/* The number of statements `field` announces, checked against its size (0 when it cannot
 * hold them): what to allocate before pw_d1_statements_decode. */
size_t pw_d1_statements_count(pw_bytes_t field);

/* Decodes every statement of `field` into out[0..max); sets *n. Returns 0, or -EBADMSG
 * when the field is malformed (truncated, trailing bytes, an unknown value type, more
 * statements than max). */
int pw_d1_statements_decode(pw_bytes_t field, pw_d1_statement_t *out, size_t max, size_t *n);

/* Appends statements[0..n) to out in the field's format (what a cluster node forwards to the
 * database's holder, host/d1_cluster.h). Returns 0 or -ENOMEM. */
int pw_d1_statements_encode(const pw_d1_statement_t *statements, size_t n, pw_buf_t *out);

/* Reads the next value of a decoded statement's params (advancing *params). Returns 0, or
 * -EBADMSG at the end. */
int pw_d1_value_next(pw_bytes_t *params, pw_d1_value_t *out);

#endif
