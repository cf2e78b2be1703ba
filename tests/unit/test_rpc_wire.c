/* test_rpc_wire.c — the field-list codec of RPC, RPC_RESULT and CALL frames. */
#include <errno.h>
#include <stdlib.h>
#include "unit.h"
#include "wire/rpc.h"

static pw_bytes_t B(const char *s) { pw_bytes_t b = { (const uint8_t *)s, strlen(s) }; return b; }

TEST(fields_round_trip_including_empty_ones)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    pw_bytes_t in[3] = { B("kv.get"), B(""), B("key") };
    CHECK(pw_rpc_put(&buf, PW_FRAME_RPC, 9, in, 3) == 0);
    pw_frame_t f;
    size_t used, n = 0;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1 && f.type == PW_FRAME_RPC && f.id == 9);
    pw_bytes_t out[4];
    CHECK(pw_rpc_decode(&f, out, 4, &n) == 0 && n == 3);
    CHECK(out[0].len == 6 && memcmp(out[0].base, "kv.get", 6) == 0);
    CHECK(out[1].len == 0 && out[1].base != NULL);
    CHECK(out[2].len == 3 && memcmp(out[2].base, "key", 3) == 0);
    pw_buf_free(&buf);
}

TEST(more_fields_than_max_is_rejected)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    pw_bytes_t in[3] = { B("a"), B("b"), B("c") };
    CHECK(pw_rpc_put(&buf, PW_FRAME_RPC, 1, in, 3) == 0);
    pw_frame_t f;
    size_t used, n = 0;
    CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
    pw_bytes_t out[2];
    CHECK(pw_rpc_decode(&f, out, 2, &n) == -EBADMSG);
    pw_buf_free(&buf);
}

TEST(hostile_counts_and_lengths_are_rejected)
{
    /* count says 1000 fields, payload holds 4 bytes */
    uint8_t p1[] = { 0xe8, 0x03, 0, 0 };
    pw_frame_t f = { .type = PW_FRAME_RPC, .payload = p1, .len = sizeof p1 };
    static pw_bytes_t out[PW_RPC_MAX_FIELDS];
    size_t n;
    CHECK(pw_rpc_decode(&f, out, PW_RPC_MAX_FIELDS, &n) == -EBADMSG);
    /* one field whose length runs past the end */
    uint8_t p2[] = { 1, 0, 0, 0, 0xff, 0xff, 0, 0, 'x' };
    f.payload = p2;
    f.len = sizeof p2;
    CHECK(pw_rpc_decode(&f, out, PW_RPC_MAX_FIELDS, &n) == -EBADMSG);
    /* trailing garbage after the last field */
    uint8_t p3[] = { 1, 0, 0, 0, 1, 0, 0, 0, 'x', 'y' };
    f.payload = p3;
    f.len = sizeof p3;
    CHECK(pw_rpc_decode(&f, out, PW_RPC_MAX_FIELDS, &n) == -EBADMSG);
    /* empty payload */
    f.len = 0;
    CHECK(pw_rpc_decode(&f, out, PW_RPC_MAX_FIELDS, &n) == -EBADMSG);
}

int main(void)
{
    RUN(fields_round_trip_including_empty_ones);
    RUN(more_fields_than_max_is_rejected);
    RUN(hostile_counts_and_lengths_are_rejected);
    return UNIT_DONE();
}
