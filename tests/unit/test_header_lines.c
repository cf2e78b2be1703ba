/* test_header_lines.c — header validity and "name\nvalue\n" lists (wire/header_lines.c):
 * one test per hole found while fuzzing what the host reads from isolates. */
#include <stdlib.h>
#include "unit.h"
#include "wire/header_lines.h"

static pw_bytes_t B(const char *s) { pw_bytes_t b = { (const uint8_t *)s, strlen(s) }; return b; }

TEST(lists_are_read_in_order_with_empty_values)
{
    pw_bytes_t rest = B("content-type\ntext/plain\nx-empty\n\n");
    pw_header_t h;
    CHECK(pw_header_lines_next(&rest, &h) == 1 && h.name.len == 12 && h.value.len == 10);
    CHECK(pw_header_lines_next(&rest, &h) == 1 && h.name.len == 7 && h.value.len == 0);
    CHECK(pw_header_lines_next(&rest, &h) == 0);
    pw_bytes_t v;
    CHECK(pw_header_lines_find(B("A\n1\nCF-KV-Metadata\n{}\n"), "cf-kv-metadata", &v) == 1 && v.len == 2);
    CHECK(pw_header_lines_find(B("A\n1\n"), "b", &v) == 0);
}

/* Was: a name holding ": " or a space reached curl as "a: b: c" — now the list is refused. */
TEST(names_must_be_tokens)
{
    pw_header_t h;
    pw_bytes_t rest = B("bad name\nv\n");
    CHECK(pw_header_lines_next(&rest, &h) == -1);
    rest = B("a: b\nc\n");
    CHECK(pw_header_lines_next(&rest, &h) == -1);
    rest = B("\nempty-name\n");
    CHECK(pw_header_lines_next(&rest, &h) == -1);
}

/* Was: only the first name+value bytes were checked for NUL, and a value ending in NUL was
 * cut short by curl silently; CR anywhere is refused too. */
TEST(values_without_cr_or_nul)
{
    pw_header_t h;
    static const uint8_t nul_at_end[] = { 'x', '\n', 'a', 'b', '\0', '\n' };
    pw_bytes_t rest = { nul_at_end, sizeof nul_at_end };
    CHECK(pw_header_lines_next(&rest, &h) == -1);
    rest = B("x\nab\rc\n");
    CHECK(pw_header_lines_next(&rest, &h) == -1);
    rest = B("x\nno final newline");
    CHECK(pw_header_lines_next(&rest, &h) == -1);
}

/* Was: an isolate's RESPONSE header went to the client unchecked, so "\r\n" in a value (or
 * a name) could split the HTTP response; host/pool.c now kills such an isolate. */
TEST(response_headers_are_checked)
{
    pw_header_t ok[1] = { { B("x-a"), B("fine value\twith tab") } };
    pw_header_t split[1] = { { B("x-a"), B("v\r\nset-cookie: evil=1") } };
    pw_header_t bad_name[1] = { { B("x a"), B("v") } };
    pw_header_t *cases[3] = { ok, split, bad_name };
    for (int i = 0; i < 3; i++) {
        pw_buf_t buf;
        pw_buf_init(&buf);
        CHECK(pw_frame_put_response(&buf, 1, 200, cases[i], 1, B("")) == 0);
        pw_frame_t f;
        pw_message_t msg;
        size_t used;
        CHECK(pw_frame_parse(buf.data, buf.len, &f, &used) == 1);
        CHECK(pw_message_decode_response(&f, &msg) == 0);
        CHECK(pw_message_headers_ok(&msg) == (i == 0));
        pw_header_t h;
        CHECK(pw_headers_next(&msg, &h) == 1);   /* the check leaves the message unread */
        pw_buf_free(&buf);
    }
}

/* Was: fetch()'s method went to curl's CUSTOMREQUEST as given: "GET /x HTTP/1.1\r\n..." */
TEST(methods_must_be_tokens)
{
    CHECK(pw_http_token_ok(B("GET")) && pw_http_token_ok(B("PROPFIND")));
    CHECK(!pw_http_token_ok(B("GET /x HTTP/1.1\r\nHost: y")));
    CHECK(!pw_http_token_ok(B("")));
}

int main(void)
{
    RUN(lists_are_read_in_order_with_empty_values);
    RUN(names_must_be_tokens);
    RUN(values_without_cr_or_nul);
    RUN(response_headers_are_checked);
    RUN(methods_must_be_tokens);
    return UNIT_DONE();
}
