/* test_kv_http.c — workerd's KV HTTP protocol (storage/kv_http.c): the requests built for
 * each operation and how a service's answers become the SQLite backend's fields. */
#include <errno.h>
#include <stdlib.h>
#include "unit.h"
#include "storage/kv_http.h"
#include "wire/rpc.h"

static pw_bytes_t B(const char *s) { pw_bytes_t b = { (const uint8_t *)s, strlen(s) }; return b; }
static pw_bytes_t NONE = { (const uint8_t *)"", 0 };

static int header_is(const pw_kv_http_request_t *r, const char *name, const char *value)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].name.len == strlen(name) && memcmp(r->headers[i].name.base, name, strlen(name)) == 0)
            return r->headers[i].value.len == strlen(value) &&
                   memcmp(r->headers[i].value.base, value, strlen(value)) == 0;
    return 0;
}

TEST(requests_follow_the_protocol)
{
    pw_kv_http_request_t r;
    CHECK(pw_kv_http_get(&r, B("a b/\xc3\xa9"), NONE) == 0);
    CHECK_STR(r.method, "GET");
    CHECK_STR(r.target, "/a%20b%2F%C3%A9?urlencoded=true");
    CHECK(header_is(&r, "CF-KV-FLPROD-405", "https://fake-host/a%20b%2F%C3%A9?urlencoded=true"));
    pw_kv_http_request_free(&r);
    CHECK(pw_kv_http_get(&r, B("k"), B("300")) == 0);
    CHECK_STR(r.target, "/k?urlencoded=true&cache_ttl=300");
    pw_kv_http_request_free(&r);
    CHECK(pw_kv_http_put(&r, B("k"), B("v"), B("1700000000"), B("120"), B("{\"m\":1}")) == 0);
    CHECK_STR(r.target, "/k?urlencoded=true&expiration=1700000000&expiration_ttl=120");
    CHECK(header_is(&r, "CF-KV-Metadata", "{\"m\":1}") && r.body.len == 1);
    pw_kv_http_request_free(&r);
    CHECK(pw_kv_http_put(&r, B("k"), B("v"), NONE, NONE, B("{\"a\":\"x\"}\r\nX-Evil: 1")) == -EINVAL);
    pw_kv_http_request_free(&r);
    CHECK(pw_kv_http_delete(&r, B("k")) == 0);
    CHECK_STR(r.method, "DELETE");
    pw_kv_http_request_free(&r);
    CHECK(pw_kv_http_list(&r, B("p&q"), B("10"), B("c")) == 0);
    CHECK_STR(r.target, "/?key_count_limit=10&prefix=p%26q&cursor=c");
    pw_kv_http_request_free(&r);
    pw_bytes_t keys[2] = { B("a"), B("\"q\"") };
    CHECK(pw_kv_http_get_many(&r, keys, 2) == 0);
    CHECK_STR(r.method, "POST");
    CHECK_STR(r.target, "/bulk/get");
    CHECK_STR(r.owned_body, "{\"keys\":[\"a\",\"\\\"q\\\"\"],\"type\":\"text\",\"withMetadata\":true}");
    pw_kv_http_request_free(&r);
}

/* Runs pw_kv_http_answer and decodes its fields; returns their count, or -1 (err set). */
static int answer(pw_kv_op_t op, unsigned status, const char *headers, const char *body,
                  pw_bytes_t *fields, char *err)
{
    pw_buf_t out;
    pw_buf_init(&out);
    pw_bytes_t keys[2] = { B("a"), B("b") };
    int rc = pw_kv_http_answer(op, status, B(headers), B(body), keys, 2, &out, err, 256);
    static uint8_t copy[4096];
    size_t n = 0;
    if (rc == 0) {
        memcpy(copy, out.data, out.len);
        pw_frame_t f = { .payload = copy, .len = out.len };
        rc = pw_rpc_decode(&f, fields, 64, &n) == 0 ? (int)n : -2;
    }
    pw_buf_free(&out);
    return rc;
}

static int field_is(pw_bytes_t f, const char *s)
{
    return f.len == strlen(s) && memcmp(f.base, s, f.len) == 0;
}

TEST(answers_become_sqlite_fields)
{
    pw_bytes_t f[64];
    char err[256];
    CHECK(answer(PW_KV_GET, 200, "cf-kv-metadata\n{\"x\":1}\n", "val", f, err) == 4);
    CHECK(field_is(f[0], "") && field_is(f[1], "val") && field_is(f[2], "{\"x\":1}"));
    CHECK(answer(PW_KV_GET, 404, "", "Not Found", f, err) == 1);
    CHECK(answer(PW_KV_GET, 410, "", "", f, err) == 1);
    CHECK(answer(PW_KV_GET, 500, "", "", f, err) == -1);
    CHECK_STR(err, "KV GET failed: 500 Internal Server Error");
    CHECK(answer(PW_KV_PUT, 503, "", "", f, err) == -1);
    CHECK_STR(err, "KV PUT failed: 503 Service Unavailable");
    CHECK(answer(PW_KV_DELETE, 204, "", "", f, err) == 1);
    CHECK(answer(PW_KV_GET_MANY, 200, "", "{\"a\":{\"value\":\"1\",\"metadata\":{\"m\":2}},\"b\":null}", f, err) == 7);
    CHECK(field_is(f[1], "1") && field_is(f[2], "1") && field_is(f[3], "{\"m\":2}"));
    CHECK(field_is(f[4], "") && field_is(f[5], "") && field_is(f[6], ""));
    CHECK(answer(PW_KV_LIST, 200, "", "{\"keys\":[{\"name\":\"a\",\"expiration\":1700000000,"
                 "\"metadata\":[1]},{\"name\":\"b\"}],\"list_complete\":false,\"cursor\":\"cur\"}", f, err) == 9);
    CHECK(field_is(f[1], "") && field_is(f[2], "cur"));
    CHECK(field_is(f[3], "a") && field_is(f[4], "1700000000") && field_is(f[5], "[1]"));
    CHECK(field_is(f[6], "b") && field_is(f[7], "") && field_is(f[8], ""));
}

TEST(bad_answers_are_errors)
{
    pw_bytes_t f[64];
    char err[256];
    CHECK(answer(PW_KV_LIST, 200, "", "not json", f, err) == -1);
    CHECK(strstr(err, "KV LIST failed: the KV service's answer is invalid") != NULL);
    CHECK(answer(PW_KV_LIST, 200, "", "{\"keys\":{},\"list_complete\":true}", f, err) == -1);
    CHECK(answer(PW_KV_LIST, 200, "", "{\"keys\":[{\"name\":1}],\"list_complete\":true}", f, err) == -1);
    CHECK(answer(PW_KV_LIST, 200, "", "{\"keys\":[{\"name\":\"a\",\"expiration\":-5}],\"list_complete\":true}", f, err) == -1);
    CHECK(answer(PW_KV_GET_MANY, 200, "", "[1,2]", f, err) == -1);
}

int main(void)
{
    RUN(requests_follow_the_protocol);
    RUN(answers_become_sqlite_fields);
    RUN(bad_answers_are_errors);
    return UNIT_DONE();
}
