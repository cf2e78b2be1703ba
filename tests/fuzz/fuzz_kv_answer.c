/* fuzz_kv_answer.c — fuzz target: the host's reading of a KV service's answer (a worker or
 * an external server; storage/kv_http.c), which it must never trust. Input layout: op (1
 * byte, mod 5), status (2 bytes LE), header-lines length (2 bytes LE), header lines, body.
 * A bulk get asks for keys "a", "b", "k1". Every produced field list must decode.
 */
#include "fuzz.h"
#include "storage/kv_http.h"
#include "wire/rpc.h"

#include <stdlib.h>
#include <string.h>

static void check_fields(const pw_buf_t *out)
{
    static pw_bytes_t fields[PW_RPC_MAX_FIELDS];
    pw_frame_t frame = { .type = PW_FRAME_RPC_RESULT, .payload = out->data, .len = out->len };
    size_t n;
    if (pw_rpc_decode(&frame, fields, PW_RPC_MAX_FIELDS, &n) < 0 || n == 0 || fields[0].len != 0)
        abort();    /* an answer the isolate could not read */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    pw_kv_op_t op = (pw_kv_op_t)(data[0] % 5);
    unsigned status = data[1] | (unsigned)data[2] << 8;
    size_t hlen = data[3] | (size_t)data[4] << 8;
    data += 5;
    size -= 5;
    if (hlen > size)
        hlen = size;
    pw_bytes_t headers = { data, hlen }, body = { data + hlen, size - hlen };
    pw_bytes_t keys[3] = { { (const uint8_t *)"a", 1 }, { (const uint8_t *)"b", 1 },
                           { (const uint8_t *)"k1", 2 } };
    pw_buf_t out;
    pw_buf_init(&out);
    char err[256];
    if (pw_kv_http_answer(op, status, headers, body, keys, 3, &out, err, sizeof err) == 0)
        check_fields(&out);
    else if (out.len != 0 || !memchr(err, '\0', sizeof err))
        abort();    /* a failure must leave nothing behind and say why */
    pw_buf_free(&out);
    return 0;
}

static void seed(fuzz_add_cb add, pw_kv_op_t op, unsigned status, const char *headers, const char *body)
{
    size_t hl = strlen(headers), bl = strlen(body);
    uint8_t *buf = malloc(5 + hl + bl);
    buf[0] = (uint8_t)op;
    buf[1] = (uint8_t)status;
    buf[2] = (uint8_t)(status >> 8);
    buf[3] = (uint8_t)hl;
    buf[4] = (uint8_t)(hl >> 8);
    memcpy(buf + 5, headers, hl);
    memcpy(buf + 5 + hl, body, bl);
    add(buf, 5 + hl + bl);
    free(buf);
}

void fuzz_seeds(fuzz_add_cb add)
{
    seed(add, PW_KV_GET, 200, "cf-kv-metadata\n{\"a\":[1,2]}\ncf-expiration\n1700000000\n", "value");
    seed(add, PW_KV_GET, 404, "", "Not Found");
    seed(add, PW_KV_GET, 500, "content-type\ntext/plain\n", "boom");
    seed(add, PW_KV_PUT, 200, "", "");
    seed(add, PW_KV_DELETE, 503, "", "");
    seed(add, PW_KV_GET_MANY, 200, "",
         "{\"a\":{\"value\":\"1\",\"metadata\":{\"x\":true}},\"b\":null,\"k1\":\"plain\"}");
    seed(add, PW_KV_GET_MANY, 200, "", "{\"a\":{\"value\":[1,{\"n\":null}]},\"b\":{\"value\":null}}");
    seed(add, PW_KV_LIST, 200, "",
         "{\"keys\":[{\"name\":\"a\",\"expiration\":1700000000,\"metadata\":{\"m\":1}},"
         "{\"name\":\"b\"}],\"list_complete\":false,\"cursor\":\"b\"}");
    seed(add, PW_KV_LIST, 200, "", "{\"keys\":[],\"list_complete\":true}");
    seed(add, PW_KV_LIST, 200, "", "{\"keys\":[{\"name\":\"x\",\"expiration\":1e300}],\"list_complete\":true}");
}
