/* r2_rules.c — R2's rules shared by every bucket backend (host process, any thread; see
 * r2_rules.h): messages, names, conditions, ranges, checksums, multipart etags, and freeing
 * the structures of storage/r2_backend.h.
 * Invariant: nothing here keeps state between calls.
 */
#include "storage/r2_rules.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

const char *pw_r2_error_text(pw_r2_code_t code)
{
    switch (code) {
    case PW_R2_OK: return "OK";
    case PW_R2_NO_SUCH_KEY: return "The specified key does not exist.";
    case PW_R2_ENTITY_TOO_SMALL:
        return "Your proposed upload is smaller than the minimum allowed object size.";
    case PW_R2_METADATA_TOO_LARGE: return "Your metadata headers exceed the maximum allowed metadata size.";
    case PW_R2_INVALID_OBJECT_NAME: return "The specified object name is not valid.";
    case PW_R2_INVALID_MAX_KEYS: return "MaxKeys params must be positive integer <= 1000.";
    case PW_R2_NO_SUCH_UPLOAD: return "The specified multipart upload does not exist.";
    case PW_R2_INVALID_PART: return "One or more of the specified parts could not be found.";
    case PW_R2_INVALID_ARGUMENT: return "Invalid argument.";
    case PW_R2_PRECONDITION_FAILED: return "At least one of the pre-conditions you specified did not hold.";
    case PW_R2_BAD_DIGEST: return "The checksum you specified did not match what we received.";
    case PW_R2_INVALID_RANGE: return "The requested range is not satisfiable";
    case PW_R2_BAD_UPLOAD: return "There was a problem with the multipart upload.";
    case PW_R2_ENTITY_TOO_LARGE: return "Your proposed upload exceeds the maximum allowed object size.";
    case PW_R2_INTERNAL: break;
    }
    return "We encountered an internal error. Please try again.";
}

pw_r2_code_t pw_r2_check_key(const char *key)
{
    size_t len = strlen(key);
    return len == 0 || len > PW_R2_MAX_KEY ? PW_R2_INVALID_OBJECT_NAME : PW_R2_OK;
}

/* ---- conditions ---- */

/* Whether etag is among the condition's tags; a weak tag counts only in a weak comparison. */
static int includes_etag(const pw_r2_etag_t *tags, size_t n, const char *etag, int weak)
{
    for (size_t i = 0; i < n; i++) {
        if (tags[i].type == PW_R2_ETAG_WILDCARD)
            return 1;
        if (tags[i].value && strcmp(tags[i].value, etag) == 0 &&
            (tags[i].type == PW_R2_ETAG_STRONG || weak))
            return 1;
    }
    return 0;
}

static int64_t granular(const pw_r2_cond_t *c, int64_t ms)
{
    return c->seconds_granularity ? ms - ((ms % 1000) + 1000) % 1000 : ms;
}

int pw_r2_cond_holds(const pw_r2_cond_t *c, const char *etag, int64_t uploaded_ms)
{
    if (!c)
        return 1;
    if (!etag)
        return !c->has_matches && !c->has_after;
    int if_match = !c->has_matches || includes_etag(c->matches, c->n_matches, etag, 0);
    int if_none_match = !c->has_not_matches || !includes_etag(c->not_matches, c->n_not_matches, etag, 1);
    int64_t modified = granular(c, uploaded_ms);
    int if_modified_since = !c->has_after || granular(c, c->uploaded_after_ms) < modified ||
                            (c->has_not_matches && if_none_match);
    int if_unmodified_since = !c->has_before || modified < granular(c, c->uploaded_before_ms) ||
                              (c->has_matches && if_match);
    return if_match && if_none_match && if_modified_since && if_unmodified_since;
}

/* ---- ranges ---- */

pw_r2_code_t pw_r2_range_resolve(const pw_r2_range_t *r, uint64_t size, uint64_t *offset,
                                 uint64_t *length)
{
    if (!r || (!r->has_offset && !r->has_length && !r->has_suffix)) {
        *offset = 0;
        *length = size;
        return PW_R2_OK;
    }
    uint64_t off = r->has_offset ? r->offset : 0, len;
    if (r->has_suffix) {
        if (r->suffix == 0)
            return PW_R2_INVALID_RANGE;
        len = r->suffix < size ? r->suffix : size;
        off = size - len;
    } else {
        if (off > size)
            return PW_R2_INVALID_RANGE;
        len = r->has_length ? r->length : size - off;
    }
    if (len == 0)
        return PW_R2_INVALID_RANGE;
    *offset = off;
    *length = len < size - off ? len : size - off;
    return PW_R2_OK;
}

/* ---- checksums ---- */

static const struct {
    const char *label, *field;
    size_t size;
} hashes[PW_R2_N_HASHES] = {
    [PW_R2_MD5] = { "MD5", "md5", 16 },
    [PW_R2_SHA1] = { "SHA-1", "sha1", 20 },
    [PW_R2_SHA256] = { "SHA-256", "sha256", 32 },
    [PW_R2_SHA384] = { "SHA-384", "sha384", 48 },
    [PW_R2_SHA512] = { "SHA-512", "sha512", 64 },
};

const char *pw_r2_hash_label(pw_r2_hash_t h)
{
    return hashes[h].label;
}

const char *pw_r2_hash_field(pw_r2_hash_t h)
{
    return hashes[h].field;
}

size_t pw_r2_hash_size(pw_r2_hash_t h)
{
    return hashes[h].size;
}

struct pw_r2_digest {
    EVP_MD_CTX *ctx;
};

static const EVP_MD *evp_of(pw_r2_hash_t h)
{
    switch (h) {
    case PW_R2_MD5: return EVP_md5();
    case PW_R2_SHA1: return EVP_sha1();
    case PW_R2_SHA256: return EVP_sha256();
    case PW_R2_SHA384: return EVP_sha384();
    default: return EVP_sha512();
    }
}

pw_r2_digest_t *pw_r2_digest_new(pw_r2_hash_t h)
{
    pw_r2_digest_t *d = calloc(1, sizeof *d);
    if (d && (d->ctx = EVP_MD_CTX_new()) && EVP_DigestInit_ex(d->ctx, evp_of(h), NULL) == 1)
        return d;
    pw_r2_digest_free(d);
    return NULL;
}

int pw_r2_digest_update(pw_r2_digest_t *d, const void *data, size_t len)
{
    return EVP_DigestUpdate(d->ctx, data, len) == 1 ? 0 : -1;
}

int pw_r2_digest_final(pw_r2_digest_t *d, uint8_t *out)
{
    unsigned n = 0;
    int rc = EVP_DigestFinal_ex(d->ctx, out, &n) == 1 ? 0 : -1;
    pw_r2_digest_free(d);
    return rc;
}

void pw_r2_digest_free(pw_r2_digest_t *d)
{
    if (d)
        EVP_MD_CTX_free(d->ctx);
    free(d);
}

void pw_r2_hex(const uint8_t *data, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * n] = '\0';
}

int pw_r2_random_hex(char *out, size_t n)
{
    uint8_t raw[64];
    if (n > sizeof raw || getrandom(raw, n, 0) != (ssize_t)n)
        return -1;
    pw_r2_hex(raw, n, out);
    return 0;
}

static int unhex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return hex[2 * n] == '\0' ? 0 : -1;
}

int pw_r2_multipart_etag(const char *const *md5_hex, size_t n, char out[48])
{
    pw_r2_digest_t *d = pw_r2_digest_new(PW_R2_MD5);
    uint8_t part[16], sum[16];
    if (!d)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (unhex(md5_hex[i], part, sizeof part) < 0 || pw_r2_digest_update(d, part, sizeof part) < 0) {
            pw_r2_digest_free(d);
            return -1;
        }
    if (pw_r2_digest_final(d, sum) < 0)
        return -1;
    pw_r2_hex(sum, sizeof sum, out);
    snprintf(out + 32, 16, "-%u", (unsigned)(n % 1000000u));
    return 0;
}

/* ---- freeing ---- */

void pw_r2_object_clear(pw_r2_object_t *o)
{
    free(o->key);
    free(o->http_metadata);
    free(o->custom_metadata);
    free(o->checksums);
    memset(o, 0, sizeof *o);
}

static void etags_free(pw_r2_etag_t *tags, size_t n)
{
    for (size_t i = 0; tags && i < n; i++)
        free(tags[i].value);
    free(tags);
}

static int etags_copy(const pw_r2_etag_t *from, size_t n, pw_r2_etag_t **to)
{
    if (n == 0)
        return 0;
    if (!(*to = calloc(n, sizeof **to)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        (*to)[i].type = from[i].type;
        if (from[i].value && !((*to)[i].value = strdup(from[i].value)))
            return -1;
    }
    return 0;
}

int pw_r2_cond_copy(const pw_r2_cond_t *c, pw_r2_cond_t *out)
{
    *out = *c;
    out->matches = out->not_matches = NULL;
    if (etags_copy(c->matches, c->n_matches, &out->matches) < 0 ||
        etags_copy(c->not_matches, c->n_not_matches, &out->not_matches) < 0) {
        pw_r2_cond_clear(out);
        return -1;
    }
    return 0;
}

void pw_r2_cond_clear(pw_r2_cond_t *c)
{
    etags_free(c->matches, c->n_matches);
    etags_free(c->not_matches, c->n_not_matches);
    memset(c, 0, sizeof *c);
}

void pw_r2_listing_clear(pw_r2_listing_t *l)
{
    for (size_t i = 0; i < l->n_objects; i++)
        pw_r2_object_clear(&l->objects[i]);
    for (size_t i = 0; i < l->n_prefixes; i++)
        free(l->prefixes[i]);
    free(l->objects);
    free(l->prefixes);
    free(l->cursor);
    memset(l, 0, sizeof *l);
}
