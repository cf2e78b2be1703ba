/* kv_http.c — workerd's KV HTTP protocol: requests out, answers in (host process; see
 * kv_http.h). Pure functions over byte buffers, unit-tested in tests/unit/test_kv_http.c and
 * fuzzed in tests/fuzz/. JSON answers (bulk get, list) are parsed with cJSON and re-emitted
 * in the SQLite backend's field layout: values as bytes, metadata as compact JSON text.
 * Invariant: nothing from the answer is used before its type and size are checked.
 */
#include "storage/kv_http.h"
#include "wire/header_lines.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_HOST "https://fake-host"
#define MAX_LIST_KEYS 1000

static const char *const op_names[] = {
    [PW_KV_GET] = "GET", [PW_KV_GET_MANY] = "GET_BULK", [PW_KV_PUT] = "PUT",
    [PW_KV_DELETE] = "DELETE", [PW_KV_LIST] = "LIST",
};

const char *pw_kv_http_op_name(pw_kv_op_t op)
{
    return op <= PW_KV_LIST ? op_names[op] : "?";
}

/* ---- requests ---- */

int pw_kv_http_pct_encode(pw_buf_t *out, pw_bytes_t in)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.base[i];
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
        char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
        if (pw_buf_append(out, plain ? (const char *)&in.base[i] : esc, plain ? 1 : 3) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int add_param(pw_buf_t *t, int *first, const char *name, pw_bytes_t value)
{
    int rc = pw_buf_append(t, *first ? "?" : "&", 1);
    *first = 0;
    if (rc == 0)
        rc = pw_buf_append(t, name, strlen(name));
    if (rc == 0)
        rc = pw_buf_append(t, "=", 1);
    return rc == 0 ? pw_kv_http_pct_encode(t, value) : rc;
}

static void add_header(pw_kv_http_request_t *req, const char *name, pw_bytes_t value)
{
    req->headers[req->n_headers++] = (pw_header_t){ pw_bytes_of(name), value };
}

/* Takes the target built in t (NUL-terminated here) and derives url and the FLPROD header. */
static int finish_target(pw_kv_http_request_t *req, pw_buf_t *t)
{
    if (pw_buf_append(t, "", 1) < 0)
        return -ENOMEM;
    req->target = (char *)t->data;
    pw_buf_init(t);
    size_t len = strlen(FAKE_HOST) + strlen(req->target) + 1;
    if (!(req->url = malloc(len)))
        return -ENOMEM;
    snprintf(req->url, len, "%s%s", FAKE_HOST, req->target);
    add_header(req, "CF-KV-FLPROD-405", pw_bytes_of(req->url));
    return 0;
}

static int key_target(pw_kv_http_request_t *req, pw_kv_op_t op, const char *method, pw_bytes_t key,
                      pw_buf_t *t)
{
    memset(req, 0, sizeof *req);
    req->op = op;
    req->method = method;
    pw_buf_init(t);
    int rc = pw_buf_append(t, "/", 1);
    if (rc == 0)
        rc = pw_kv_http_pct_encode(t, key);
    if (rc == 0)
        rc = pw_buf_append(t, "?urlencoded=true", 16);
    return rc;
}

int pw_kv_http_get(pw_kv_http_request_t *req, pw_bytes_t key, pw_bytes_t cache_ttl)
{
    pw_buf_t t;
    int first = 0;
    int rc = key_target(req, PW_KV_GET, "GET", key, &t);
    if (rc == 0 && cache_ttl.len)
        rc = add_param(&t, &first, "cache_ttl", cache_ttl);
    if (rc == 0)
        rc = finish_target(req, &t);
    pw_buf_free(&t);
    return rc;
}

int pw_kv_http_delete(pw_kv_http_request_t *req, pw_bytes_t key)
{
    pw_buf_t t;
    int rc = key_target(req, PW_KV_DELETE, "DELETE", key, &t);
    if (rc == 0)
        rc = finish_target(req, &t);
    pw_buf_free(&t);
    return rc;
}

int pw_kv_http_put(pw_kv_http_request_t *req, pw_bytes_t key, pw_bytes_t value,
                   pw_bytes_t expiration, pw_bytes_t expiration_ttl, pw_bytes_t metadata)
{
    pw_buf_t t;
    int first = 0;
    int rc = key_target(req, PW_KV_PUT, "PUT", key, &t);
    if (rc == 0 && expiration.len)
        rc = add_param(&t, &first, "expiration", expiration);
    if (rc == 0 && expiration_ttl.len)
        rc = add_param(&t, &first, "expiration_ttl", expiration_ttl);
    if (rc == 0)
        rc = finish_target(req, &t);
    pw_buf_free(&t);
    if (rc == 0 && metadata.len) {
        /* a header value: no line breaks or NULs (JSON text never needs them raw) */
        for (size_t i = 0; i < metadata.len; i++)
            if (metadata.base[i] == '\r' || metadata.base[i] == '\n' || metadata.base[i] == '\0')
                return -EINVAL;
        add_header(req, "CF-KV-Metadata", metadata);
    }
    req->body = value;
    return rc;
}

int pw_kv_http_list(pw_kv_http_request_t *req, pw_bytes_t prefix, pw_bytes_t limit, pw_bytes_t cursor)
{
    pw_buf_t t;
    int first = 1;
    memset(req, 0, sizeof *req);
    req->op = PW_KV_LIST;
    req->method = "GET";
    pw_buf_init(&t);
    int rc = pw_buf_append(&t, "/", 1);
    if (rc == 0 && limit.len)
        rc = add_param(&t, &first, "key_count_limit", limit);
    if (rc == 0 && prefix.len)
        rc = add_param(&t, &first, "prefix", prefix);
    if (rc == 0 && cursor.len)
        rc = add_param(&t, &first, "cursor", cursor);
    if (rc == 0)
        rc = finish_target(req, &t);
    pw_buf_free(&t);
    return rc;
}

int pw_kv_http_get_many(pw_kv_http_request_t *req, const pw_bytes_t *keys, size_t n)
{
    memset(req, 0, sizeof *req);
    req->op = PW_KV_GET_MANY;
    req->method = "POST";
    pw_buf_t t;
    pw_buf_init(&t);
    int rc = pw_buf_append(&t, "/bulk/get", 9);
    if (rc == 0)
        rc = finish_target(req, &t);
    pw_buf_free(&t);
    if (rc < 0)
        return rc;
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "keys");
    for (size_t i = 0; list && i < n; i++) {
        char *k = strndup((const char *)keys[i].base, keys[i].len);
        cJSON *item = k ? cJSON_CreateString(k) : NULL;
        free(k);
        if (!item || !cJSON_AddItemToArray(list, item)) {
            cJSON_Delete(item);
            list = NULL;
        }
    }
    if (list && (!cJSON_AddStringToObject(root, "type", "text") ||
                 !cJSON_AddTrueToObject(root, "withMetadata")))
        list = NULL;
    req->owned_body = list ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!req->owned_body)
        return -ENOMEM;
    req->body = pw_bytes_of(req->owned_body);
    add_header(req, "Content-Type", pw_bytes_of("application/json"));
    return 0;
}

void pw_kv_http_request_free(pw_kv_http_request_t *req)
{
    free(req->target);
    free(req->url);
    free(req->owned_body);
    memset(req, 0, sizeof *req);
}

/* ---- answers ---- */

static const char *reason(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "Unexpected Status" : status < 500 ? "Client Error" : "Server Error";
    }
}

static int put_field(pw_buf_t *out, pw_bytes_t b)
{
    return pw_frame_put_bytes(out, b.len ? b.base : (const uint8_t *)"", b.len);
}

static int put_str(pw_buf_t *out, const char *s)
{
    return put_field(out, pw_bytes_of(s));
}

/* The value of header `name` in "name\nvalue\n" lines; len 0 if absent. */
static pw_bytes_t find_header(pw_bytes_t lines, const char *name)
{
    pw_bytes_t value = { (const uint8_t *)"", 0 };
    pw_header_lines_find(lines, name, &value);
    return value;
}

/* Appends JSON `item` as a field: a string's text, or null/absent as "", else compact JSON. */
static int put_json(pw_buf_t *out, const cJSON *item, int strings_raw)
{
    if (!item || cJSON_IsNull(item))
        return put_str(out, "");
    if (strings_raw && cJSON_IsString(item))
        return put_str(out, item->valuestring);
    char *text = cJSON_PrintUnformatted(item);
    if (!text)
        return -ENOMEM;
    int rc = put_str(out, text);
    free(text);
    return rc;
}

static int answer_get(unsigned status, pw_bytes_t headers, pw_bytes_t body, pw_buf_t *out)
{
    if (status == 404 || status == 410)
        return pw_frame_put_u32(out, 1) || put_str(out, "") ? -ENOMEM : 0;
    pw_bytes_t meta = find_header(headers, "CF-KV-Metadata");
    pw_bytes_t exp = find_header(headers, "CF-Expiration");
    for (size_t i = 0; i < exp.len; i++)
        if (exp.base[i] < '0' || exp.base[i] > '9' || i >= 18)
            exp.len = 0;
    int rc = pw_frame_put_u32(out, 4);
    rc = rc ? rc : put_str(out, "");
    rc = rc ? rc : put_field(out, body);
    rc = rc ? rc : put_field(out, meta);
    return rc ? rc : put_field(out, exp);
}

static int answer_get_many(const cJSON *root, const pw_bytes_t *keys, size_t n, pw_buf_t *out,
                           const char **why)
{
    if (!cJSON_IsObject(root)) {
        *why = "the answer is not a JSON object";
        return -1;
    }
    int rc = pw_frame_put_u32(out, (uint32_t)(1 + 3 * n));
    rc = rc ? rc : put_str(out, "");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *k = strndup((const char *)keys[i].base, keys[i].len);
        const cJSON *entry = k ? cJSON_GetObjectItemCaseSensitive(root, k) : NULL;
        free(k);
        const cJSON *value = entry, *meta = NULL;
        if (cJSON_IsObject(entry) && cJSON_GetObjectItemCaseSensitive(entry, "value")) {
            value = cJSON_GetObjectItemCaseSensitive(entry, "value");
            meta = cJSON_GetObjectItemCaseSensitive(entry, "metadata");
        }
        int found = value && !cJSON_IsNull(value);
        rc = put_str(out, found ? "1" : "");
        rc = rc ? rc : put_json(out, found ? value : NULL, 1);
        rc = rc ? rc : put_json(out, found ? meta : NULL, 0);
    }
    return rc;
}

static int answer_list(const cJSON *root, pw_buf_t *out, const char **why)
{
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
    const cJSON *complete = cJSON_GetObjectItemCaseSensitive(root, "list_complete");
    const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(root, "cursor");
    int n = cJSON_GetArraySize(keys);
    if (!cJSON_IsArray(keys) || !cJSON_IsBool(complete) || (cursor && !cJSON_IsString(cursor) &&
                                                           !cJSON_IsNull(cursor))) {
        *why = "the answer is not {\"keys\": [...], \"list_complete\": bool, \"cursor\"?: string}";
        return -1;
    }
    if (n > MAX_LIST_KEYS) {
        *why = "the answer lists more than 1000 keys";
        return -1;
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) {
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(k, "expiration");
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(k, "name")) ||
            (exp && !cJSON_IsNull(exp) && (!cJSON_IsNumber(exp) || !(exp->valuedouble >= 0) ||
                                           exp->valuedouble > 9e15))) {
            *why = "a listed key is not {\"name\": string, \"expiration\"?: number, \"metadata\"?: ...}";
            return -1;
        }
    }
    int more = cJSON_IsFalse(complete);
    int rc = pw_frame_put_u32(out, (uint32_t)(3 + 3 * n));
    rc = rc ? rc : put_str(out, "");
    rc = rc ? rc : put_str(out, more ? "" : "1");
    rc = rc ? rc : put_json(out, more ? cursor : NULL, 1);
    cJSON_ArrayForEach(k, keys) {
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(k, "expiration");
        char text[24] = "";
        if (cJSON_IsNumber(exp) && exp->valuedouble >= 1)
            snprintf(text, sizeof text, "%" PRId64, (int64_t)exp->valuedouble);
        rc = rc ? rc : put_str(out, cJSON_GetObjectItemCaseSensitive(k, "name")->valuestring);
        rc = rc ? rc : put_str(out, text);
        rc = rc ? rc : put_json(out, cJSON_GetObjectItemCaseSensitive(k, "metadata"), 0);
    }
    return rc;
}

int pw_kv_http_answer(pw_kv_op_t op, unsigned status, pw_bytes_t headers, pw_bytes_t body,
                      const pw_bytes_t *keys, size_t n_keys, pw_buf_t *out, char *err, size_t err_len)
{
    const char *name = pw_kv_http_op_name(op);
    size_t start = out->len;
    if (op == PW_KV_GET && (status == 404 || status == 410 || (status >= 200 && status < 300)))
        return answer_get(status, headers, body, out) == 0 ? 0 : (out->len = start, -1);
    if (status < 200 || status >= 300) {
        snprintf(err, err_len, "KV %s failed: %u %s", name, status, reason(status));
        return -1;
    }
    if (op == PW_KV_PUT || op == PW_KV_DELETE)
        return pw_frame_put_u32(out, 1) || put_str(out, "") ? (out->len = start, -1) : 0;
    const char *why = "out of memory";
    cJSON *root = cJSON_ParseWithLength((const char *)body.base, body.len);
    int rc = -1;
    if (!root)
        why = "the answer is not JSON";
    else if (op == PW_KV_GET_MANY)
        rc = answer_get_many(root, keys, n_keys, out, &why);
    else if (op == PW_KV_LIST)
        rc = answer_list(root, out, &why);
    cJSON_Delete(root);
    if (rc != 0) {
        out->len = start;
        snprintf(err, err_len, "KV %s failed: the KV service's answer is invalid: %s", name, why);
        return -1;
    }
    return 0;
}
