/* r2_rules.h — R2's rules that every bucket backend applies alike (host process, any
 * thread: nothing here has state): its error messages, object names, conditional requests
 * (onlyIf: etags and upload times, as RFC 7232 and R2 compare them), ranges, checksums and
 * the etag of a multipart object. Backends (storage/r2_disk.h) call these; the binding's
 * front (host/binding_r2.c) words errors with pw_r2_error_text().
 */
#ifndef PW_R2_RULES_H
#define PW_R2_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "storage/r2_backend.h"

/* R2's message for code ("The specified object name is not valid."). */
const char *pw_r2_error_text(pw_r2_code_t code);

/* A deep copy of a condition (into a zeroed *out): 0, or -1 when out of memory. */
int pw_r2_cond_copy(const pw_r2_cond_t *c, pw_r2_cond_t *out);

/* PW_R2_OK, or PW_R2_INVALID_OBJECT_NAME for an empty key or one longer than PW_R2_MAX_KEY. */
pw_r2_code_t pw_r2_check_key(const char *key);

/* Whether cond (NULL: none) holds for an object with etag and upload time; for a missing
 * object (etag NULL) it holds unless it asks for a match or a modification. */
int pw_r2_cond_holds(const pw_r2_cond_t *cond, const char *etag, int64_t uploaded_ms);

/* The bytes a range selects of an object of `size`: PW_R2_OK with *offset and *length, or
 * PW_R2_INVALID_RANGE. A range without any part selects the whole object. */
pw_r2_code_t pw_r2_range_resolve(const pw_r2_range_t *range, uint64_t size, uint64_t *offset,
                                 uint64_t *length);

/* The name of a checksum as R2's messages and objects spell it ("SHA-256", "sha256"). */
const char *pw_r2_hash_label(pw_r2_hash_t h);
const char *pw_r2_hash_field(pw_r2_hash_t h);
size_t pw_r2_hash_size(pw_r2_hash_t h);

/* A running checksum of a body (OpenSSL's EVP). */
typedef struct pw_r2_digest pw_r2_digest_t;
pw_r2_digest_t *pw_r2_digest_new(pw_r2_hash_t h);
int pw_r2_digest_update(pw_r2_digest_t *d, const void *data, size_t len);
/* Writes the digest (pw_r2_hash_size bytes) and frees d; -1 on a failure. */
int pw_r2_digest_final(pw_r2_digest_t *d, uint8_t *out);
void pw_r2_digest_free(pw_r2_digest_t *d);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void pw_r2_hex(const uint8_t *data, size_t n, char *out);
/* `n` random bytes as hex (version, upload and blob ids): 0, or -1. */
int pw_r2_random_hex(char *out, size_t n);

/* The etag of a multipart object: the md5 of its parts' md5s (hex, in order), "-<parts>". */
int pw_r2_multipart_etag(const char *const *md5_hex, size_t n, char out[48]);

#endif
