/* r2_json.c — decoding the R2 binding's JSON arguments and encoding its answers (host
 * process, loop thread; see r2_json.h). Every member is looked up by name and its type
 * checked before use; unknown members are ignored, as JavaScript options are.
 * Invariant: a decode either fills everything it owns or clears it and says why.
 */
#include "host/r2_json.h"
#include "storage/r2_rules.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const http_fields[] = {
    "contentType", "contentLanguage", "contentDisposition", "contentEncoding", "cacheControl",
};

static int fail(char *err, size_t err_len, const char *msg)
{
    snprintf(err, err_len, "%s", msg);
    return -1;
}

/* The options object ("" or "null": none). Returns 0 with *root (NULL: none), or -1. */
static int parse_options(pw_bytes_t json, cJSON **root, char *err, size_t err_len)
{
    *root = NULL;
    if (json.len == 0)
        return 0;
    cJSON *j = cJSON_ParseWithLength((const char *)json.base, json.len);
    if (j && cJSON_IsNull(j)) {
        cJSON_Delete(j);
        return 0;
    }
    if (!cJSON_IsObject(j) && !cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return fail(err, err_len, "R2 options must be an object");
    }
    *root = j;
    return 0;
}

/* A whole number in [0, max], or -1. */
static int whole(const cJSON *n, double max, uint64_t *out)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > max ||
        n->valuedouble != floor(n->valuedouble))
        return -1;
    *out = (uint64_t)n->valuedouble;
    return 0;
}

static int64_t milliseconds(const cJSON *n, int *ok)
{
    *ok = cJSON_IsNumber(n) && isfinite(n->valuedouble) && fabs(n->valuedouble) < 9e15;
    return *ok ? (int64_t)n->valuedouble : 0;
}

/* ---- onlyIf ---- */

static int decode_etags(const cJSON *list, pw_r2_etag_t **out, size_t *n, char *err, size_t err_len)
{
    int count = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || count > 1000)
        return fail(err, err_len, "onlyIf etags must be a list of at most 1000 tags");
    if (count == 0)
        return 0;
    if (!(*out = calloc((size_t)count, sizeof **out)))
        return fail(err, err_len, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        pw_r2_etag_t *t = &(*out)[(*n)++];
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "type"));
        const char *value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "value"));
        if (!type || (strcmp(type, "wildcard") != 0 && !value))
            return fail(err, err_len, "onlyIf: an etag needs a type and a value");
        t->type = strcmp(type, "wildcard") == 0 ? PW_R2_ETAG_WILDCARD
                  : strcmp(type, "weak") == 0 ? PW_R2_ETAG_WEAK : PW_R2_ETAG_STRONG;
        if (value && !(t->value = strdup(value)))
            return fail(err, err_len, "out of memory");
    }
    return 0;
}

static int decode_cond(const cJSON *j, pw_r2_cond_t *c, char *err, size_t err_len)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "etagMatches");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(j, "etagDoesNotMatch");
    const cJSON *before = cJSON_GetObjectItemCaseSensitive(j, "uploadedBefore");
    const cJSON *after = cJSON_GetObjectItemCaseSensitive(j, "uploadedAfter");
    int ok = 1;
    if (!cJSON_IsObject(j))
        return fail(err, err_len, "onlyIf must be an object or Headers");
    if ((c->has_matches = m != NULL) && decode_etags(m, &c->matches, &c->n_matches, err, err_len) < 0)
        return -1;
    if ((c->has_not_matches = nm != NULL) &&
        decode_etags(nm, &c->not_matches, &c->n_not_matches, err, err_len) < 0)
        return -1;
    if ((c->has_before = before != NULL))
        c->uploaded_before_ms = milliseconds(before, &ok);
    if (ok && (c->has_after = after != NULL))
        c->uploaded_after_ms = milliseconds(after, &ok);
    if (!ok)
        return fail(err, err_len, "onlyIf: uploadedBefore and uploadedAfter must be dates");
    c->seconds_granularity = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "secondsGranularity"));
    return 0;
}

/* ---- put ---- */

/* httpMetadata: the known fields as strings, cacheExpiry as milliseconds; re-encoded. */
static int decode_http(const cJSON *j, char **out, char *err, size_t err_len)
{
    if (!cJSON_IsObject(j))
        return fail(err, err_len, "httpMetadata must be an object or Headers");
    cJSON *clean = cJSON_CreateObject();
    for (size_t i = 0; clean && i < sizeof http_fields / sizeof http_fields[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, http_fields[i]);
        if (v && !cJSON_IsString(v)) {
            cJSON_Delete(clean);
            snprintf(err, err_len, "httpMetadata.%s must be a string", http_fields[i]);
            return -1;
        }
        if (v)
            cJSON_AddStringToObject(clean, http_fields[i], v->valuestring);
    }
    const cJSON *expiry = cJSON_GetObjectItemCaseSensitive(j, "cacheExpiry");
    int ok = 1;
    int64_t ms = expiry ? milliseconds(expiry, &ok) : 0;
    if (expiry && ok)
        cJSON_AddNumberToObject(clean, "cacheExpiry", (double)ms);
    *out = ok && clean ? cJSON_PrintUnformatted(clean) : NULL;
    cJSON_Delete(clean);
    if (!ok)
        return fail(err, err_len, "httpMetadata.cacheExpiry must be a date");
    return *out ? 0 : fail(err, err_len, "out of memory");
}

static int decode_custom(const cJSON *j, char **out, uint64_t *size, char *err, size_t err_len)
{
    const cJSON *e;
    if (!cJSON_IsObject(j))
        return fail(err, err_len, "customMetadata must be an object of strings");
    cJSON_ArrayForEach(e, j) {
        if (!cJSON_IsString(e))
            return fail(err, err_len, "customMetadata values must be strings");
        *size += strlen(e->string) + strlen(e->valuestring);
    }
    return (*out = cJSON_PrintUnformatted(j)) ? 0 : fail(err, err_len, "out of memory");
}

static int hex_digit(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The one checksum a put may carry, as hex: md5, sha1, sha256, sha384 or sha512. */
static int decode_hash(const cJSON *j, pw_r2_put_opts_t *o, char *err, size_t err_len)
{
    for (int h = 0; h < PW_R2_N_HASHES; h++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, pw_r2_hash_field((pw_r2_hash_t)h));
        if (!v)
            continue;
        if (o->has_hash)
            return fail(err, err_len, "You cannot specify multiple hashing algorithms.");
        size_t want = 2 * pw_r2_hash_size((pw_r2_hash_t)h), len = v->valuestring ? strlen(v->valuestring) : 0;
        if (!cJSON_IsString(v) || len != want) {
            snprintf(err, err_len, "%s is %zu hex characters, not %zu", pw_r2_hash_label((pw_r2_hash_t)h),
                     want, len);
            return -1;
        }
        for (size_t i = 0; i < len; i += 2) {
            int hi = hex_digit(v->valuestring[i]), lo = hex_digit(v->valuestring[i + 1]);
            if (hi < 0 || lo < 0) {
                snprintf(err, err_len, "Provided %s wasn't a valid hex string", pw_r2_hash_label((pw_r2_hash_t)h));
                return -1;
            }
            o->digest[i / 2] = (uint8_t)(hi << 4 | lo);
        }
        o->has_hash = 1;
        o->hash = (pw_r2_hash_t)h;
        o->digest_len = len / 2;
    }
    return 0;
}

static int decode_put_members(const cJSON *j, pw_r2_put_args_t *a, char *err, size_t err_len)
{
    const cJSON *http = cJSON_GetObjectItemCaseSensitive(j, "httpMetadata");
    const cJSON *custom = cJSON_GetObjectItemCaseSensitive(j, "customMetadata");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "storageClass");
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(j, "onlyIf");
    if (http && decode_http(http, &a->http_metadata, err, err_len) < 0)
        return -1;
    if (custom && decode_custom(custom, &a->custom_metadata, &a->opts.custom_metadata_size, err, err_len) < 0)
        return -1;
    if (cls && (!cJSON_IsString(cls) || (strcmp(cls->valuestring, "Standard") != 0 &&
                                         strcmp(cls->valuestring, "InfrequentAccess") != 0)))
        return fail(err, err_len, "storageClass must be \"Standard\" or \"InfrequentAccess\"");
    if (cls && !(a->storage_class = strdup(cls->valuestring)))
        return fail(err, err_len, "out of memory");
    if (cond && decode_cond(cond, &a->cond, err, err_len) < 0)
        return -1;
    a->opts.cond = cond ? &a->cond : NULL;
    return decode_hash(j, &a->opts, err, err_len);
}

int pw_r2_decode_put(pw_bytes_t json, pw_r2_put_args_t *a, char *err, size_t err_len)
{
    cJSON *j;
    memset(a, 0, sizeof *a);
    if (parse_options(json, &j, err, err_len) < 0)
        return -1;
    int rc = j ? decode_put_members(j, a, err, err_len) : 0;
    cJSON_Delete(j);
    if (rc < 0) {
        pw_r2_put_args_clear(a);
        return -1;
    }
    a->opts.http_metadata = a->http_metadata;
    a->opts.custom_metadata = a->custom_metadata;
    a->opts.storage_class = a->storage_class;
    return 0;
}

void pw_r2_put_args_clear(pw_r2_put_args_t *a)
{
    pw_r2_cond_clear(&a->cond);
    free(a->http_metadata);
    free(a->custom_metadata);
    free(a->storage_class);
    memset(a, 0, sizeof *a);
}

/* ---- get ---- */

static int decode_range(const cJSON *j, pw_r2_range_t *r, char *err, size_t err_len)
{
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "offset");
    const cJSON *len = cJSON_GetObjectItemCaseSensitive(j, "length");
    const cJSON *suffix = cJSON_GetObjectItemCaseSensitive(j, "suffix");
    if (!cJSON_IsObject(j))
        return fail(err, err_len, "range must be an object or Headers");
    if ((r->has_offset = off && !cJSON_IsNull(off)) && whole(off, 9e15, &r->offset) < 0)
        return fail(err, err_len, "Invalid range. Starting offset must be a whole number >= 0.");
    if ((r->has_length = len && !cJSON_IsNull(len)) && whole(len, 9e15, &r->length) < 0)
        return fail(err, err_len, "Invalid range. Length must be a whole number >= 0.");
    if ((r->has_suffix = suffix && !cJSON_IsNull(suffix)) && whole(suffix, 9e15, &r->suffix) < 0)
        return fail(err, err_len, "Invalid suffix. Suffix must be a whole number >= 0.");
    if (r->has_suffix && (r->has_offset || r->has_length))
        return fail(err, err_len, r->has_offset ? "Suffix is incompatible with offset."
                                                : "Suffix is incompatible with length.");
    return 0;
}

int pw_r2_decode_get(pw_bytes_t json, pw_r2_get_args_t *a, char *err, size_t err_len)
{
    cJSON *j;
    memset(a, 0, sizeof *a);
    if (parse_options(json, &j, err, err_len) < 0)
        return -1;
    const cJSON *range = cJSON_GetObjectItemCaseSensitive(j, "range");
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(j, "onlyIf");
    int rc = 0;
    if (range && decode_range(range, &a->range, err, err_len) < 0)
        rc = -1;
    if (rc == 0 && (a->has_cond = cond != NULL) && decode_cond(cond, &a->cond, err, err_len) < 0)
        rc = -1;
    cJSON_Delete(j);
    if (rc < 0)
        pw_r2_get_args_clear(a);
    return rc;
}

void pw_r2_get_args_clear(pw_r2_get_args_t *a)
{
    pw_r2_cond_clear(&a->cond);
    memset(a, 0, sizeof *a);
}

/* ---- list ---- */

static int string_member(const cJSON *j, const char *name, char **out, char *err, size_t err_len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v)) {
        snprintf(err, err_len, "list(): %s must be a string", name);
        return -1;
    }
    return (*out = strdup(v->valuestring)) ? 0 : fail(err, err_len, "out of memory");
}

static int decode_include(const cJSON *inc, pw_r2_list_opts_t *o, char *err, size_t err_len)
{
    const cJSON *e;
    if (!cJSON_IsArray(inc))
        return fail(err, err_len, "list(): include must be a list");
    cJSON_ArrayForEach(e, inc) {
        const char *name = cJSON_GetStringValue(e);
        if (name && strcmp(name, "httpMetadata") == 0)
            o->http_metadata = 1;
        else if (name && strcmp(name, "customMetadata") == 0)
            o->custom_metadata = 1;
        else {
            snprintf(err, err_len, "Unsupported include value %s", name ? name : "(not a string)");
            return -1;
        }
    }
    return 0;
}

static int decode_list_members(const cJSON *j, pw_r2_list_args_t *a, char *err, size_t err_len)
{
    const cJSON *limit = cJSON_GetObjectItemCaseSensitive(j, "limit");
    const cJSON *include = cJSON_GetObjectItemCaseSensitive(j, "include");
    uint64_t n;
    if (string_member(j, "prefix", &a->prefix, err, err_len) < 0 ||
        string_member(j, "delimiter", &a->delimiter, err, err_len) < 0 ||
        string_member(j, "cursor", &a->cursor, err, err_len) < 0 ||
        string_member(j, "startAfter", &a->start_after, err, err_len) < 0)
        return -1;
    if (limit && !cJSON_IsNull(limit))      /* out of range: 0, answered by the front */
        a->opts.limit = whole(limit, PW_R2_MAX_LIST, &n) == 0 && n >= 1 ? (unsigned)n : 0;
    if (include && !cJSON_IsNull(include) && decode_include(include, &a->opts, err, err_len) < 0)
        return -1;
    return 0;
}

int pw_r2_decode_list(pw_bytes_t json, pw_r2_list_args_t *a, char *err, size_t err_len)
{
    cJSON *j;
    memset(a, 0, sizeof *a);
    a->opts.limit = PW_R2_MAX_LIST;
    if (parse_options(json, &j, err, err_len) < 0)
        return -1;
    int rc = j ? decode_list_members(j, a, err, err_len) : 0;
    cJSON_Delete(j);
    if (rc < 0) {
        pw_r2_list_args_clear(a);
        return -1;
    }
    a->opts.prefix = a->prefix;
    a->opts.delimiter = a->delimiter;
    a->opts.cursor = a->cursor;
    a->opts.start_after = a->start_after;
    return 0;
}

void pw_r2_list_args_clear(pw_r2_list_args_t *a)
{
    free(a->prefix);
    free(a->delimiter);
    free(a->cursor);
    free(a->start_after);
    memset(a, 0, sizeof *a);
}

/* ---- parts and keys ---- */

int pw_r2_decode_parts(pw_bytes_t json, pw_r2_part_ref_t **parts, size_t *n, char *err, size_t err_len)
{
    cJSON *j = cJSON_ParseWithLength((const char *)json.base, json.len);
    int count = cJSON_GetArraySize(j);
    size_t bytes = 0;
    const cJSON *e;
    *parts = NULL;
    *n = 0;
    if (!cJSON_IsArray(j) || count > PW_R2_MAX_PARTS) {
        cJSON_Delete(j);
        return fail(err, err_len, "complete() takes a list of at most 10000 uploaded parts");
    }
    cJSON_ArrayForEach(e, j) {
        const char *etag = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "etag"));
        bytes += etag ? strlen(etag) + 1 : 0;
    }
    if (!(*parts = malloc((size_t)count * sizeof **parts + bytes + 1))) {
        cJSON_Delete(j);
        return fail(err, err_len, "out of memory");
    }
    char *strings = (char *)(*parts + count);
    cJSON_ArrayForEach(e, j) {
        uint64_t number;
        const char *etag = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "etag"));
        if (!etag || whole(cJSON_GetObjectItemCaseSensitive(e, "partNumber"), 1e9, &number) < 0 ||
            number < 1 || number > PW_R2_MAX_PARTS) {
            free(*parts);
            *parts = NULL;
            cJSON_Delete(j);
            return fail(err, err_len, "Part number must be between 1 and 10000 (inclusive), each part "
                        "with its etag.");
        }
        (*parts)[*n] = (pw_r2_part_ref_t){ (unsigned)number, strcpy(strings, etag) };
        strings += strlen(etag) + 1;
        (*n)++;
    }
    cJSON_Delete(j);
    return 0;
}

int pw_r2_decode_keys(pw_bytes_t json, char ***keys, size_t *n, char *err, size_t err_len)
{
    cJSON *j = cJSON_ParseWithLength((const char *)json.base, json.len);
    int count = cJSON_GetArraySize(j);
    size_t bytes = 0;
    const cJSON *e;
    *keys = NULL;
    *n = 0;
    cJSON_ArrayForEach(e, j) {
        if (!cJSON_IsString(e)) {
            cJSON_Delete(j);
            return fail(err, err_len, "delete() takes a key or a list of keys (strings)");
        }
        bytes += strlen(e->valuestring) + 1;
    }
    if (!cJSON_IsArray(j) || count > PW_R2_MAX_DELETE) {
        cJSON_Delete(j);
        return fail(err, err_len, "delete() takes a key or a list of at most 1000 keys");
    }
    if (count == 0 || !(*keys = malloc((size_t)count * sizeof **keys + bytes + 1))) {
        cJSON_Delete(j);
        return fail(err, err_len, count ? "out of memory" : "delete() takes at least one key");
    }
    char *strings = (char *)(*keys + count);
    cJSON_ArrayForEach(e, j) {
        (*keys)[(*n)++] = strcpy(strings, e->valuestring);
        strings += strlen(e->valuestring) + 1;
    }
    cJSON_Delete(j);
    return 0;
}

char *pw_r2_field_string(pw_bytes_t b)
{
    if (memchr(b.base, '\0', b.len))
        return NULL;
    char *s = malloc(b.len + 1);
    if (s) {
        memcpy(s, b.base, b.len);
        s[b.len] = '\0';
    }
    return s;
}

/* ---- answers ---- */

static void add_json(cJSON *obj, const char *name, const char *text)
{
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    if (v)
        cJSON_AddItemToObject(obj, name, v);
}

static cJSON *object_json(const pw_r2_object_t *o)
{
    cJSON *j = cJSON_CreateObject();
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", o->etag);
    cJSON_AddStringToObject(j, "key", o->key ? o->key : "");
    cJSON_AddStringToObject(j, "version", o->version);
    cJSON_AddNumberToObject(j, "size", (double)o->size);
    cJSON_AddStringToObject(j, "etag", o->etag);
    cJSON_AddStringToObject(j, "httpEtag", quoted);
    cJSON_AddNumberToObject(j, "uploaded", (double)o->uploaded_ms);
    add_json(j, "httpMetadata", o->http_metadata);
    add_json(j, "customMetadata", o->custom_metadata);
    add_json(j, "checksums", o->checksums);
    cJSON_AddStringToObject(j, "storageClass", o->storage_class[0] ? o->storage_class : "Standard");
    if (o->has_range) {
        cJSON *r = cJSON_AddObjectToObject(j, "range");
        cJSON_AddNumberToObject(r, "offset", (double)o->range_offset);
        cJSON_AddNumberToObject(r, "length", (double)o->range_length);
    }
    return j;
}

char *pw_r2_encode_object(const pw_r2_object_t *o)
{
    cJSON *j = object_json(o);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return text;
}

char *pw_r2_encode_listing(const pw_r2_listing_t *l)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *objects = cJSON_AddArrayToObject(j, "objects");
    cJSON *prefixes = cJSON_AddArrayToObject(j, "delimitedPrefixes");
    for (size_t i = 0; objects && i < l->n_objects; i++)
        cJSON_AddItemToArray(objects, object_json(&l->objects[i]));
    for (size_t i = 0; prefixes && i < l->n_prefixes; i++)
        cJSON_AddItemToArray(prefixes, cJSON_CreateString(l->prefixes[i]));
    cJSON_AddBoolToObject(j, "truncated", l->truncated);
    if (l->cursor)
        cJSON_AddStringToObject(j, "cursor", l->cursor);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return text;
}
