/* r2_json.h — the R2 binding's arguments and answers as the isolate sends and reads them
 * (host process, loop thread): options arrive as JSON (put's httpMetadata, customMetadata,
 * checksum, storageClass and onlyIf; get's range and onlyIf; list's options; a multipart
 * upload's parts; delete's keys) and are decoded here into storage/r2_backend.h's
 * structures, every field's type checked, since nothing from an isolate is trusted; objects
 * and listings go back as JSON. A decoding error is a message in Cloudflare's words for a
 * TypeError.
 * Invariant: what a decode fills borrows nothing from its input (it owns its copies).
 */
#ifndef PW_R2_JSON_H
#define PW_R2_JSON_H

#include <stddef.h>

#include "base/buf.h"
#include "storage/r2_backend.h"

/* put's or createMultipartUpload's options, with the strings they point to. */
typedef struct {
    pw_r2_put_opts_t opts;
    pw_r2_cond_t cond;
    char *http_metadata, *custom_metadata, *storage_class;
} pw_r2_put_args_t;

typedef struct {
    pw_r2_cond_t cond;
    int has_cond;
    pw_r2_range_t range;
} pw_r2_get_args_t;

typedef struct {
    pw_r2_list_opts_t opts;
    char *prefix, *delimiter, *cursor, *start_after;
} pw_r2_list_args_t;

/* Each returns 0, or -1 with a TypeError's message in err (the args are then cleared). */
int pw_r2_decode_put(pw_bytes_t json, pw_r2_put_args_t *out, char *err, size_t err_len);
int pw_r2_decode_get(pw_bytes_t json, pw_r2_get_args_t *out, char *err, size_t err_len);
int pw_r2_decode_list(pw_bytes_t json, pw_r2_list_args_t *out, char *err, size_t err_len);
/* [{"partNumber": n, "etag": "..."}...]: parts and their etags (one allocation: free(*parts)). */
int pw_r2_decode_parts(pw_bytes_t json, pw_r2_part_ref_t **parts, size_t *n, char *err, size_t err_len);
/* ["key", ...]: 1..PW_R2_MAX_DELETE keys (one allocation: free(*keys)). */
int pw_r2_decode_keys(pw_bytes_t json, char ***keys, size_t *n, char *err, size_t err_len);
/* A key or id field as a C string (NULL: it holds a NUL byte, or out of memory). */
char *pw_r2_field_string(pw_bytes_t b);

void pw_r2_put_args_clear(pw_r2_put_args_t *a);
void pw_r2_get_args_clear(pw_r2_get_args_t *a);
void pw_r2_list_args_clear(pw_r2_list_args_t *a);

/* An object as the SDK reads it: {"key", "version", "size", "etag", "httpEtag", "uploaded",
 * "httpMetadata"?, "customMetadata"?, "checksums", "storageClass", "range"?}. Returns a
 * malloc'd string, or NULL. */
char *pw_r2_encode_object(const pw_r2_object_t *o);
/* {"objects": [...], "delimitedPrefixes": [...], "truncated": bool, "cursor"?}. */
char *pw_r2_encode_listing(const pw_r2_listing_t *l);

#endif
