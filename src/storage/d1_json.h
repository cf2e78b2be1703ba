/* d1_json.h — writing D1 results as the JSON the SDK reads (host process): the values of a
 * row (null, integers, reals, strings, BLOBs as {"$blob": base64}) and the text around them,
 * into one growing buffer. Shared by every D1 backend, so that they answer alike
 * (storage/d1_backend.h describes the layout). Integers are written exactly (Python reads
 * them back as int); reals always with a '.' or an exponent (read back as float); strings
 * are valid JSON even when the database holds invalid UTF-8 (those bytes become U+FFFD).
 * Errors are sticky: after a failed append every call does nothing and `failed` stays set.
 */
#ifndef PW_D1_JSON_H
#define PW_D1_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct {
    pw_buf_t buf;
    int failed;                 /* out of memory: the text is incomplete */
} pw_d1_json_t;

void pw_d1_json_init(pw_d1_json_t *j);
void pw_d1_json_free(pw_d1_json_t *j);
/* Appends text as is. */
void pw_d1_json_raw(pw_d1_json_t *j, const char *text);
void pw_d1_json_null(pw_d1_json_t *j);
void pw_d1_json_int(pw_d1_json_t *j, int64_t v);
void pw_d1_json_real(pw_d1_json_t *j, double v);
void pw_d1_json_bool(pw_d1_json_t *j, int v);
/* A JSON string of UTF-8 text (quoted and escaped). */
void pw_d1_json_string(pw_d1_json_t *j, pw_bytes_t text);
void pw_d1_json_blob(pw_d1_json_t *j, pw_bytes_t data);

#endif
