/* header_lines.h — HTTP header validity, and the "name\nvalue\n"... header lists that
 * binding calls carry (fetch() request headers from isolates; response headers handed back
 * to them). Used by the host (host/pool.c, http/fetch.c, storage/kv_http.c). Nothing from an
 * isolate is trusted: a name (or method) must be an HTTP token and a value free of CR, LF
 * and NUL — else a header could split the HTTP message it is written into.
 */
#ifndef PW_HEADER_LINES_H
#define PW_HEADER_LINES_H

#include "wire/frame.h"

/* 1 when b is an RFC 9110 token (a header name, a method), else 0. */
int pw_http_token_ok(pw_bytes_t b);
/* 1 when b holds no CR, LF or NUL, else 0. */
int pw_header_value_ok(pw_bytes_t b);
/* 1 when every header of a decoded message has a token name and a clean value. */
int pw_message_headers_ok(const pw_message_t *msg);

/* Reads the next header from *rest (advancing it). Returns 1 and fills *header, 0 at the
 * end, -1 when the list is malformed (a missing newline, a bad name or value). */
int pw_header_lines_next(pw_bytes_t *rest, pw_header_t *header);
/* The value of the first header named `name` (ASCII case-insensitive); 0 when absent or the
 * list is malformed before it. */
int pw_header_lines_find(pw_bytes_t lines, const char *name, pw_bytes_t *value);

#endif
