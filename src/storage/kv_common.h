/* kv_common.h — what every stored KV backend shares (host process): the list cursor (the
 * hex of the last key listed, so a backend resumes after it) and the refusal of writes to a
 * disk service that is not writable, in the same words whichever backend stores it.
 */
#ifndef PW_KV_COMMON_H
#define PW_KV_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "storage/kv_backend.h"

/* The key a cursor resumes after into out (room for PW_KV_MAX_KEY bytes). 0, or -1 when it
 * is not a cursor of ours. */
int pw_kv_cursor_decode(pw_bytes_t cursor, uint8_t *out, size_t *len);
/* The cursor after `last` into out (room for 2 * PW_KV_MAX_KEY + 1 bytes). */
void pw_kv_cursor_encode(pw_bytes_t last, char *out);

/* Sets kv->refuse_put and refuse_delete for a disk service without `writable = true`.
 * Returns 0, or -1 when out of memory. */
int pw_kv_refuse_writes(pw_kv_backend_t *kv, const char *service);

#endif
