/* test_static_files.c — serving a disk service's files (http/static_path.c, byte_range.c,
 * mime_types.c, http_date.c, static_dir.c, static_answer.c): URL paths to file paths with
 * every escape refused, Range parsing as workerd's kj parser does it, and the answers to
 * conditional, ranged and writing requests on a real temporary directory. */
#include "unit.h"
#include "http/byte_range.h"
#include "http/http_date.h"
#include "http/mime_types.h"
#include "http/static_answer.h"
#include "http/static_assets.h"
#include "http/static_dir.h"
#include "http/static_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static pw_bytes_t B(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static const pw_bytes_t NONE = { NULL, 0 };

/* Whether a body (not NUL-terminated) holds `text`. */
static int body_has(const pw_buf_t *body, const char *text)
{
    return body->data && memmem(body->data, body->len, text, strlen(text)) != NULL;
}

/* ---- URL paths ---- */

static int path_of(const char *url_path, int dotfiles, char *out)
{
    return pw_static_path(url_path, strlen(url_path), dotfiles, out, PW_STATIC_PATH_MAX);
}

TEST(url_paths_become_relative_file_paths)
{
    char out[PW_STATIC_PATH_MAX];
    CHECK(path_of("/", 0, out) == 0 && out[0] == '\0');
    CHECK(path_of("/a.txt", 0, out) == 1);
    CHECK_STR(out, "a.txt");
    CHECK(path_of("/css//site.css/", 0, out) == 2);
    CHECK_STR(out, "css/site.css");
    CHECK(path_of("/caf%C3%A9%20menu.txt", 0, out) == 1);
    CHECK_STR(out, "caf\xc3\xa9 menu.txt");
    CHECK(path_of("/a%5Cb", 0, out) == 1);         /* a backslash is a name's byte on Linux */
    CHECK_STR(out, "a\\b");
    CHECK(path_of("/..a/b..", 1, out) == 2);        /* only whole "." and ".." segments */
    CHECK_STR(out, "..a/b..");
}

TEST(every_escape_is_refused)
{
    static const char *const refused[] = {
        "/..", "/../etc/passwd", "/a/../../b", "/a/..", "/.", "/./a",
        "/%2e%2e/etc/passwd", "/%2E%2E", "/.%2e/x", "/%2e./x", "/%2e",
        "/a%2Fb", "/%2F%2Fetc%2Fpasswd", "/..%2F..%2Fetc", "/a%2f..%2f..%2fb",
        "/a%00b", "/%00", "/a.txt%00.png",
        "/%zz", "/%2", "/a%", "/%g0",
        "", "a.txt", "etc/passwd",
    };
    char out[PW_STATIC_PATH_MAX];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int rc = path_of(refused[i], 1, out);
        if (rc >= 0)
            fprintf(stderr, "  \"%s\" was allowed as \"%s\"\n", refused[i], out);
        CHECK(rc < 0);
    }
}

TEST(dotfiles_only_with_allow_dotfiles)
{
    char out[PW_STATIC_PATH_MAX];
    CHECK(path_of("/.env", 0, out) < 0);
    CHECK(path_of("/.git/config", 0, out) < 0);
    CHECK(path_of("/a/%2Egit", 0, out) < 0);
    CHECK(path_of("/.well-known/x", 1, out) == 2);
    CHECK_STR(out, ".well-known/x");
}

TEST(too_long_paths_are_refused)
{
    char long_path[PW_STATIC_PATH_MAX + 8], out[64];
    long_path[0] = '/';
    memset(long_path + 1, 'a', sizeof long_path - 2);
    long_path[sizeof long_path - 1] = '\0';
    CHECK(pw_static_path(long_path, strlen(long_path), 0, out, sizeof out) < 0);
    CHECK(pw_static_path("/abc", 4, 0, out, 3) < 0);    /* no room for the NUL */
    CHECK(pw_static_path("/abc", 4, 0, out, 4) == 1);
}

TEST(urls_give_their_path)
{
    const char *p;
    size_t n;
    CHECK(pw_static_url_path("https://example.com/a/b?x=1#f", 29, &p, &n) == 0 && n == 4 &&
          memcmp(p, "/a/b", 4) == 0);
    CHECK(pw_static_url_path("http://h:8080", 13, &p, &n) == 0 && n == 1 && p[0] == '/');
    CHECK(pw_static_url_path("http://h?q=/x", 13, &p, &n) == 0 && n == 1 && p[0] == '/');
    CHECK(pw_static_url_path("/x.css?v=2", 10, &p, &n) == 0 && n == 6);
    CHECK(pw_static_url_path("x.css", 5, &p, &n) < 0);
    CHECK(pw_static_url_path("", 0, &p, &n) < 0);
}

/* ---- Range ---- */

static pw_range_result_t range(const char *value, uint64_t size, pw_byte_range_t *r)
{
    return pw_byte_range_parse(value, strlen(value), size, r);
}

TEST(single_ranges_are_parts)
{
    pw_byte_range_t r;
    CHECK(range("bytes=0-0", 10, &r) == PW_RANGE_PART && r.first == 0 && r.last == 0);
    CHECK(range("bytes=2-4", 10, &r) == PW_RANGE_PART && r.first == 2 && r.last == 4);
    CHECK(range("bytes=5-", 10, &r) == PW_RANGE_PART && r.first == 5 && r.last == 9);
    CHECK(range("bytes=-3", 10, &r) == PW_RANGE_PART && r.first == 7 && r.last == 9);
    CHECK(range("bytes=8-100", 10, &r) == PW_RANGE_PART && r.first == 8 && r.last == 9);
    CHECK(range(" Bytes = 1 - 2 ", 10, &r) == PW_RANGE_PART && r.first == 1 && r.last == 2);
    CHECK(range("bytes=20-30,1-2", 10, &r) == PW_RANGE_PART && r.first == 1 && r.last == 2);
    CHECK(range("bytes=0-18446744073709551615", 10, &r) == PW_RANGE_WHOLE);
}

TEST(whole_file_answers)
{
    pw_byte_range_t r;
    CHECK(range("bytes=0-", 10, &r) == PW_RANGE_WHOLE);
    CHECK(range("bytes=0-9", 10, &r) == PW_RANGE_WHOLE);
    CHECK(range("bytes=-10", 10, &r) == PW_RANGE_WHOLE);
    CHECK(range("bytes=-99", 10, &r) == PW_RANGE_WHOLE);
    CHECK(range("bytes=0-1,3-4", 10, &r) == PW_RANGE_WHOLE);  /* several: workerd sends all */
    CHECK(range("items=0-1", 10, &r) == PW_RANGE_WHOLE);      /* another unit: ignored */
    CHECK(range("bytes=0-1", 0, &r) == PW_RANGE_WHOLE);       /* an empty file */
}

TEST(unsatisfiable_and_malformed_ranges_are_416)
{
    static const char *const bad[] = {
        "bytes=10-", "bytes=10-20", "bytes=-0", "bytes=4-2", "bytes=", "bytes", "bytes=a-b",
        "bytes=1-2,", "bytes=,1-2", "bytes=1-2;x", "bytes=--1", "bytes=1--2",
        "bytes=18446744073709551616-", "bytes=-18446744073709551616", "=0-1", "",
    };
    pw_byte_range_t r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pw_range_result_t got = range(bad[i], 10, &r);
        if (got != PW_RANGE_UNSATISFIABLE)
            fprintf(stderr, "  \"%s\" gave %d\n", bad[i], (int)got);
        CHECK(got == PW_RANGE_UNSATISFIABLE);
    }
    static const char nul[] = "bytes=1\0-2";
    CHECK(pw_byte_range_parse(nul, sizeof nul - 1, 10, &r) == PW_RANGE_UNSATISFIABLE);
}

/* ---- content types, dates, ETags ---- */

TEST(the_content_type_table_is_sorted_and_found)
{
    for (size_t i = 1; pw_mime_table_ext(i); i++)
        CHECK(strcasecmp(pw_mime_table_ext(i - 1), pw_mime_table_ext(i)) < 0);
    CHECK_STR(pw_mime_type("index.html"), "text/html; charset=utf-8");
    CHECK_STR(pw_mime_type("a/b/APP.JS"), "text/javascript; charset=utf-8");
    CHECK_STR(pw_mime_type("logo.svg"), "image/svg+xml");
    CHECK_STR(pw_mime_type("x.woff2"), "font/woff2");
    CHECK_STR(pw_mime_type("archive.tar.gz"), "application/gzip");
    CHECK_STR(pw_mime_type("README"), PW_MIME_DEFAULT);
    CHECK_STR(pw_mime_type(".bashrc"), PW_MIME_DEFAULT);
    CHECK_STR(pw_mime_type("x."), PW_MIME_DEFAULT);
    CHECK_STR(pw_mime_type("dir.d/file"), PW_MIME_DEFAULT);
}

TEST(http_dates_round_trip)
{
    char text[PW_HTTP_DATE_LEN + 1];
    time_t t;
    pw_http_date_format(784111777, text);
    CHECK_STR(text, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(pw_http_date_parse(text, strlen(text), &t) == 0 && t == 784111777);
    CHECK(pw_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t) < 0);
    CHECK(pw_http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", 29, &t) < 0);
    CHECK(pw_http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", 29, &t) < 0);
    CHECK(pw_http_date_parse("Sun, 36 Nov 1994 08:49:37 GMT", 29, &t) < 0);
    CHECK(pw_http_date_parse("garbage", 7, &t) < 0);
}

TEST(if_none_match_compares_weakly)
{
    const char *etag = "\"abc-1\"";
    CHECK(pw_static_etag_matches(B("\"abc-1\""), etag));
    CHECK(pw_static_etag_matches(B("W/\"abc-1\""), etag));
    CHECK(pw_static_etag_matches(B("\"x\", \"abc-1\""), etag));
    CHECK(pw_static_etag_matches(B("*"), etag));
    CHECK(!pw_static_etag_matches(B("\"abc\""), etag));
    CHECK(!pw_static_etag_matches(B("abc-1"), etag));
    CHECK(!pw_static_etag_matches(B("\"abc-1"), etag));
    CHECK(!pw_static_etag_matches(B(""), etag));
}

/* ---- a real directory ---- */

static char root[64], outside[64];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void make_tree(void)
{
    char path[256];
    strcpy(root, "/tmp/pw-static-XXXXXX");
    strcpy(outside, "/tmp/pw-outside-XXXXXX");
    if (!mkdtemp(root) || !mkdtemp(outside))
        abort();
    write_file(outside, "secret.txt", "secret");
    write_file(root, "a.txt", "0123456789");
    write_file(root, ".env", "KEY=1");
    snprintf(path, sizeof path, "%s/site", root);
    mkdir(path, 0777);
    write_file(path, "index.html", "<h1>site</h1>");
    snprintf(path, sizeof path, "%s/empty", root);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/fifo", root);
    mkfifo(path, 0666);
    snprintf(path, sizeof path, "%s/inside", root);
    CHECK(symlink("a.txt", path) == 0);
    snprintf(path, sizeof path, "%s/site/up", root);
    CHECK(symlink("../a.txt", path) == 0);                /* relative, stays inside */
    snprintf(path, sizeof path, "%s/out", root);
    CHECK(symlink("../../../../../../../tmp", path) == 0);  /* leads out */
    char target[256];
    snprintf(target, sizeof target, "%s/secret.txt", outside);
    snprintf(path, sizeof path, "%s/abs", root);
    CHECK(symlink(target, path) == 0);                     /* absolute */
    snprintf(path, sizeof path, "%s/a.txt", root);
    snprintf(target, sizeof target, "%s/abs-inside", root);
    CHECK(symlink(path, target) == 0);                     /* absolute, even pointing inside */
}

static void remove_tree(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", root, outside);
    CHECK(system(cmd) == 0);
}

static pw_static_dir_t *open_dir(int writable, int dotfiles)
{
    pw_static_dir_t *dir = NULL;
    char err[256];
    CHECK(pw_static_dir_open("files", root, writable, dotfiles, &dir, err, sizeof err) == 0);
    return dir;
}

static void answer(pw_static_dir_t *dir, const char *method, const char *path, pw_static_answer_t *a)
{
    pw_static_request_t r = { .method = B(method), .path = B(path) };
    pw_static_answer(dir, &r, a);
}

TEST(symlinks_are_followed_only_inside)
{
    pw_static_dir_t *dir = open_dir(0, 0);
    static const char *const inside[] = { "inside", "site/up", "site/../a.txt" };
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        int fd = pw_static_dir_open_file(dir, inside[i]);
        CHECK(fd >= 0);
        if (fd >= 0)
            close(fd);
    }
    CHECK(pw_static_dir_open_file(dir, "out/passwd") < 0);
    CHECK(pw_static_dir_open_file(dir, "abs") < 0);
    CHECK(pw_static_dir_open_file(dir, "abs-inside") < 0);
    pw_static_answer_t a;
    answer(dir, "GET", "/out/", &a);
    CHECK(a.status == 404);
    pw_static_answer_free(&a);
    answer(dir, "GET", "/abs", &a);
    CHECK(a.status == 404);
    pw_static_answer_free(&a);
    pw_static_dir_free(dir);
}

TEST(a_missing_directory_is_workerds_error)
{
    pw_static_dir_t *dir = NULL;
    char err[256];
    CHECK(pw_static_dir_open("static", "/nonexistent/public", 0, 0, &dir, err, sizeof err) < 0);
    CHECK(strstr(err, "Directory named \"static\" not found: /nonexistent/public") == err);
}

TEST(files_directories_and_special_files)
{
    pw_static_dir_t *dir = open_dir(0, 0);
    pw_static_answer_t a;
    answer(dir, "GET", "/a.txt", &a);
    CHECK(a.status == 200 && a.fd >= 0 && a.length == 10 && a.offset == 0 && a.etag[0] == '"');
    CHECK_STR(a.content_type, "text/plain; charset=utf-8");
    pw_static_answer_free(&a);
    answer(dir, "GET", "/site", &a);                    /* index.html */
    CHECK(a.status == 200 && a.fd >= 0 && a.length == 13);
    CHECK_STR(a.content_type, "text/html; charset=utf-8");
    pw_static_answer_free(&a);
    answer(dir, "GET", "/empty/", &a);                  /* no index: workerd's listing */
    CHECK(a.status == 200 && a.fd < 0 && a.text.len == 2 && !memcmp(a.text.data, "[]", 2));
    pw_static_answer_free(&a);
    answer(dir, "GET", "/", &a);
    CHECK(a.status == 200 && body_has(&a.text, "{\"name\":\"a.txt\",\"type\":\"file\"}"));
    CHECK(body_has(&a.text, "{\"name\":\"inside\",\"type\":\"symlink\"}"));
    CHECK(!body_has(&a.text, ".env"));
    pw_static_answer_free(&a);
    answer(dir, "GET", "/fifo", &a);                    /* not opened for reading: 406 */
    CHECK(a.status == 406);
    pw_static_answer_free(&a);
    answer(dir, "GET", "/.env", &a);
    CHECK(a.status == 404);
    pw_static_answer_free(&a);
    answer(dir, "HEAD", "/a.txt", &a);
    CHECK(a.status == 200 && a.no_body && a.length == 10);
    pw_static_answer_free(&a);
    answer(dir, "POST", "/a.txt", &a);
    CHECK(a.status == 501);
    pw_static_answer_free(&a);
    pw_static_dir_free(dir);
    dir = open_dir(0, 1);
    answer(dir, "GET", "/.env", &a);
    CHECK(a.status == 200 && a.length == 5);
    pw_static_answer_free(&a);
    answer(dir, "GET", "/", &a);
    CHECK(body_has(&a.text, "\".env\""));
    pw_static_answer_free(&a);
    pw_static_dir_free(dir);
}

TEST(conditional_and_ranged_reads)
{
    pw_static_dir_t *dir = open_dir(0, 0);
    pw_static_answer_t a;
    answer(dir, "GET", "/a.txt", &a);
    char etag[48], date[PW_HTTP_DATE_LEN + 1];
    strcpy(etag, a.etag);
    strcpy(date, a.last_modified);
    pw_static_answer_free(&a);
    pw_static_request_t r = { .method = B("GET"), .path = B("/a.txt"), .if_none_match = B(etag) };
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 304 && a.no_body);
    pw_static_answer_free(&a);
    r.if_none_match = B("\"other\"");
    r.if_modified_since = B(date);                  /* ignored: If-None-Match is there */
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 200);
    pw_static_answer_free(&a);
    r.if_none_match = NONE;
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 304);
    pw_static_answer_free(&a);
    r.if_modified_since = B("Thu, 01 Jan 1970 00:00:00 GMT");
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 200);
    pw_static_answer_free(&a);
    r = (pw_static_request_t){ .method = B("GET"), .path = B("/a.txt"), .range = B("bytes=2-4") };
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 206 && a.offset == 2 && a.length == 3);
    CHECK_STR(a.content_range, "bytes 2-4/10");
    pw_static_answer_free(&a);
    r.if_range = B("\"stale\"");                    /* If-Range naming another version */
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 200 && a.length == 10);
    pw_static_answer_free(&a);
    r.if_range = B(etag);
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 206);
    pw_static_answer_free(&a);
    r.if_range = B(date);
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 206);
    pw_static_answer_free(&a);
    r = (pw_static_request_t){ .method = B("GET"), .path = B("/a.txt"), .range = B("bytes=10-") };
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 416 && a.fd < 0);
    CHECK_STR(a.content_range, "bytes */10");
    pw_static_answer_free(&a);
    r.method = B("HEAD");                            /* HEAD ignores Range, as workerd */
    pw_static_answer(dir, &r, &a);
    CHECK(a.status == 200 && a.length == 10 && a.no_body);
    pw_static_answer_free(&a);
    pw_static_dir_free(dir);
}

TEST(writes_only_when_writable)
{
    pw_static_dir_t *ro = open_dir(0, 0), *rw = open_dir(1, 0);
    pw_static_answer_t a;
    pw_static_request_t put = { .method = B("PUT"), .path = B("/new/deep/file.txt"), .body = B("data") };
    pw_static_answer(ro, &put, &a);
    CHECK(a.status == 405 && a.allow);
    pw_static_answer_free(&a);
    pw_static_answer(rw, &put, &a);
    CHECK(a.status == 204);
    pw_static_answer_free(&a);
    answer(rw, "GET", "/new/deep/file.txt", &a);
    CHECK(a.status == 200 && a.length == 4);
    pw_static_answer_free(&a);
    put.path = B("/new/deep/file.txt");
    put.body = B("replaced!");
    pw_static_answer(rw, &put, &a);
    CHECK(a.status == 204);
    pw_static_answer_free(&a);
    answer(rw, "GET", "/new/deep/file.txt", &a);
    CHECK(a.status == 200 && a.length == 9);
    pw_static_answer_free(&a);
    static const char *const refused[] = { "/", "/.env", "/../x", "/%2e%2e/x", "/a%2Fb" };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        put.path = B(refused[i]);
        pw_static_answer(rw, &put, &a);
        CHECK(a.status == 403);
        pw_static_answer_free(&a);
    }
    put.path = B("/out/escaped.txt");                  /* through a symlink leading out */
    pw_static_answer(rw, &put, &a);
    CHECK(a.status == 403);
    pw_static_answer_free(&a);
    answer(rw, "DELETE", "/new", &a);
    CHECK(a.status == 204);
    pw_static_answer_free(&a);
    answer(rw, "DELETE", "/new", &a);
    CHECK(a.status == 404);
    pw_static_answer_free(&a);
    answer(rw, "DELETE", "/out", &a);                   /* the symlink itself, not /tmp */
    CHECK(a.status == 204);
    pw_static_answer_free(&a);
    answer(ro, "DELETE", "/a.txt", &a);
    CHECK(a.status == 405);
    pw_static_answer_free(&a);
    char path[256];
    snprintf(path, sizeof path, "%s/secret.txt", outside);
    CHECK(access(path, F_OK) == 0);
    CHECK(access("/tmp", F_OK) == 0);
    pw_static_dir_free(ro);
    pw_static_dir_free(rw);
}

static const char *host_of(const char *url)
{
    static char out[256];
    pw_bytes_t h = pw_static_url_host(url, strlen(url));
    snprintf(out, sizeof out, "%.*s", (int)h.len, (const char *)h.base);
    return out;
}

TEST(the_host_of_a_url_for_headers_rules)
{
    CHECK_STR(host_of("http://example.com:8787/a?b#c"), "example.com:8787");
    CHECK_STR(host_of("https://x.test"), "x.test");
    CHECK_STR(host_of("https://x.test?q=/"), "x.test");
    CHECK_STR(host_of("/just/a/path"), "");
    CHECK_STR(host_of("http:/one-slash"), "");
    CHECK_STR(host_of("noscheme"), "");
}

int main(void)
{
    RUN(url_paths_become_relative_file_paths);
    RUN(every_escape_is_refused);
    RUN(dotfiles_only_with_allow_dotfiles);
    RUN(too_long_paths_are_refused);
    RUN(urls_give_their_path);
    RUN(single_ranges_are_parts);
    RUN(whole_file_answers);
    RUN(unsatisfiable_and_malformed_ranges_are_416);
    RUN(the_content_type_table_is_sorted_and_found);
    RUN(http_dates_round_trip);
    RUN(if_none_match_compares_weakly);
    make_tree();
    RUN(symlinks_are_followed_only_inside);
    RUN(a_missing_directory_is_workerds_error);
    RUN(files_directories_and_special_files);
    RUN(conditional_and_ranged_reads);
    RUN(writes_only_when_writable);
    RUN(the_host_of_a_url_for_headers_rules);
    remove_tree();
    return UNIT_DONE();
}
