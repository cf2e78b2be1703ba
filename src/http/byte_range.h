/* byte_range.h — the `Range` request header (RFC 9110 §14.2) as a static file server reads
 * it (host process; a pure function, no h2o: tests/fuzz/fuzz_byte_range.c calls it as it is).
 *
 * workerd's disk service (kj::tryParseHttpRangeHeader) answers a single satisfiable range
 * with 206, serves the whole file for several ranges or one covering everything, and 416 for
 * a malformed or unsatisfiable `bytes=` value. A unit other than `bytes` is ignored (RFC 9110
 * says it must be), and so is any range of an empty file.
 */
#ifndef PW_BYTE_RANGE_H
#define PW_BYTE_RANGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PW_RANGE_WHOLE,             /* no usable range: send everything (200) */
    PW_RANGE_PART,              /* one range: send *out (206) */
    PW_RANGE_UNSATISFIABLE,     /* 416, Content-Range: bytes * / size */
} pw_range_result_t;

typedef struct {
    uint64_t first, last;       /* inclusive; first <= last < size */
} pw_byte_range_t;

/* Reads the header value (not NUL-terminated, any bytes) against a file of `size` bytes. */
pw_range_result_t pw_byte_range_parse(const char *value, size_t len, uint64_t size,
                                      pw_byte_range_t *out);

#endif
