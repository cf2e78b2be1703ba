/* do_id.h — Durable Object ids as workerd makes them (host process): 32 bytes shown as 64 hex
 * digits, the first 16 random (newUniqueId) or an HMAC-SHA256 of the name (idFromName), the
 * last 16 an HMAC of the first 16, both keyed with SHA-256(uniqueKey). The SDK makes ids in
 * the isolate (python/pyworkerd/durable_objects.py, the same computation); the host checks
 * every id an isolate sends, so that one namespace's ids never name another's objects.
 */
#ifndef PW_DO_ID_H
#define PW_DO_ID_H

#include <stdint.h>

#include "base/buf.h"

#define PW_DO_ID_HEX 64

/* key = SHA-256(unique_key). */
void pw_do_id_key(const char *unique_key, uint8_t key[32]);
/* Checks `hex` against the namespace's key; on success copies it, lower-cased and
 * NUL-terminated, into out. Returns 0; -1: not 64 hex digits; -2: not this namespace's. */
int pw_do_id_check(const uint8_t key[32], pw_bytes_t hex, char out[PW_DO_ID_HEX + 1]);

#endif
