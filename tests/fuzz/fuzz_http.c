/* fuzz_http.c — fuzz target: the host's own handling of a client's HTTP/1 request head
 * (http/request_head.c), from raw bytes to the REQUEST frame a worker gets, as server.c does:
 * the read-time guard, the head check, request.url (for http and https connections) and the
 * frame with the Host header. Whatever the input: verdicts are only the documented statuses,
 * a head the check accepts is never refused by the guard, every span lies inside the input,
 * and an accepted URL is printable ASCII (no byte a URL parser would decode into a lone
 * surrogate) that round-trips through the frame codec.
 */
#include "fuzz.h"
#include "http/request_head.h"
#include "wire/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_inside(const uint8_t *data, size_t size, pw_bytes_t s)
{
    if (s.len && (s.base < data || s.base + s.len > data + size))
        abort();
}

static void check_url(const char *url, size_t len, pw_bytes_t scheme)
{
    if (len < scheme.len + 4 || memcmp(url, scheme.base, scheme.len) != 0 ||
        memcmp(url + scheme.len, "://", 3) != 0)
        abort();
    for (size_t i = 0; i < len; i++)
        if ((uint8_t)url[i] <= 0x20 || (uint8_t)url[i] >= 0x7f)
            abort();
}

/* The REQUEST frame server.c would send, decoded again. */
static void round_trip(pw_bytes_t method, const char *url, size_t len, pw_bytes_t host)
{
    pw_buf_t buf;
    pw_buf_init(&buf);
    pw_header_t h = { { (const uint8_t *)"host", 4 }, host };
    pw_bytes_t u = { (const uint8_t *)url, len }, body = { NULL, 0 };
    if (pw_frame_put_request(&buf, 1, 0x0123456789abcdefull, method, u, &h, 1, body, NULL) == 0) {
        pw_frame_t frame;
        pw_message_t msg;
        size_t used;
        pw_header_t got;
        if (pw_frame_parse(buf.data, buf.len, &frame, &used) != 1 || pw_message_decode_request(&frame, &msg) != 0 ||
            msg.request_id != 0x0123456789abcdefull || msg.url.len != len || memcmp(msg.url.base, url, len) != 0 || !pw_headers_next(&msg, &got) ||
            got.value.len != host.len || (host.len && memcmp(got.value.base, host.base, host.len) != 0))
            abort();
    }
    pw_buf_free(&buf);
}

static void build_url(const uint8_t *data, size_t size, const pw_http_head_t *head, const char *scheme_text)
{
    pw_bytes_t scheme = { (const uint8_t *)scheme_text, strlen(scheme_text) }, authority;
    pw_http_verdict_t why;
    size_t max = pw_http_url_max(scheme.len, head->host.len, head->target.len), len = 0;
    char *url = malloc(max);
    int rc = pw_http_request_url(scheme, head->method, head->target, head->host, url, &len, &authority, &why);
    if (rc != why.status || (rc != 0 && rc != 400 && rc != 405) || (rc && !why.reason) || len > max)
        abort();
    if (rc == 0) {
        check_url(url, len, scheme);
        if (!(authority.len == 9 && memcmp(authority.base, "localhost", 9) == 0))
            check_inside(data, size, authority);
        round_trip(head->method, url, len, authority);
    }
    free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pw_http_verdict_t why;
    pw_http_head_t head;
    int guard = pw_http_head_guard(data, size, &why);
    if ((guard != 0 && guard != 431) || guard != why.status)
        abort();
    int rc = pw_http_head_check(data, size, &head, &why);
    if ((rc != 0 && rc != 400 && rc != 431) || rc != why.status || (rc && !why.reason))
        abort();
    if (rc != 0)
        return 0;
    if (guard != 0 || head.head_len > size || head.n_headers > PW_HTTP_MAX_HEADERS)
        abort();
    check_inside(data, size, head.method);
    check_inside(data, size, head.target);
    check_inside(data, size, head.host);
    build_url(data, size, &head, "http");
    build_url(data, size, &head, "https");
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    static const char *const seeds[] = {
        "GET / HTTP/1.1\r\nHost: good\r\n\r\n",
        "\r\nGET /p?q=1 HTTP/1.0\n\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 9\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n  folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: good\r\nHost: evil\r\n\r\n",
        "GET /p HTTP/1.1\r\nHost: good/evil?\r\n\r\n",
        "GET http://evil.example/p?x=1 HTTP/1.1\r\nHost: good\r\n\r\n",
        "GET HTTPS://evil.example HTTP/1.1\r\n\r\n",
        "GET http://user@evil/p HTTP/1.1\r\nHost: good\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: good\r\n\r\n",
        "CONNECT good:443 HTTP/1.1\r\nHost: good:443\r\n\r\n",
        "GET /caf\xc3\xa9/\xff\"<x>?q=\xfe'`{}# HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: \r\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
    /* 101 header lines, and a head over the size limit */
    static char many[4096], big[PW_HTTP_MAX_HEAD_BYTES + 64];
    size_t n = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= PW_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "X-%d: v\r\n", i);
    add((const uint8_t *)many, n);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memset(big + 19, 'a', sizeof big - 19);
    add((const uint8_t *)big, sizeof big);
}
