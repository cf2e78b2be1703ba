/* test_assets_redirects.c — http/assets_redirects.c: the `_redirects` file as Cloudflare
 * documents it: statuses, comments, splats and placeholders, static rules before dynamic
 * ones, the query kept or replaced, 200 rewrites, the limits, and each error with its line. */
#include "unit.h"
#include "http/assets_redirects.h"

#include <stdlib.h>

static pw_redirects_t *parse(const char *text, char *err, size_t len)
{
    pw_redirects_t *r = NULL;
    err[0] = '\0';
    if (pw_redirects_parse(text, strlen(text), "public/_redirects", 0, &r, err, len) < 0)
        return NULL;
    return r;
}

/* "301 /new?q" for a request path and query, or "none". */
static const char *route(const pw_redirects_t *r, const char *path, const char *query)
{
    static char out[PW_REDIRECTS_MAX_LINE * 4];
    pw_url_captures_t caps;
    const pw_redirect_t *rule = pw_redirects_find(r, path, strlen(path), &caps);
    if (!rule)
        return "none";
    char target[PW_REDIRECTS_MAX_LINE * 3];
    pw_bytes_t q = { (const uint8_t *)query, strlen(query) };
    if (pw_redirects_target(rule, &caps, q, target, sizeof target) < 0)
        return "too long";
    snprintf(out, sizeof out, "%d %s", rule->status, target);
    return out;
}

static const char *error_of(const char *text)
{
    static char err[1024];
    pw_redirects_t *r = parse(text, err, sizeof err);
    pw_redirects_free(r);
    return r ? "ok" : err;
}

TEST(lines_statuses_and_comments)
{
    char err[512];
    pw_redirects_t *r = parse("# comment\n\n/home301 / 301\n  /home302   /  302  \n/default /d\n"
                              "/see /s 303\n/temp /t 307\n/perm /p 308 # why\r\n"
                              "/ext https://example.com/x 301\n/bare https://example.com\n"
                              "/bare-q https://example.com?own#f\n", err, sizeof err);
    CHECK(r != NULL);
    CHECK_STR(route(r, "/home301", ""), "301 /");
    CHECK_STR(route(r, "/home302", ""), "302 /");
    CHECK_STR(route(r, "/default", ""), "302 /d");
    CHECK_STR(route(r, "/see", ""), "303 /s");
    CHECK_STR(route(r, "/temp", ""), "307 /t");
    CHECK_STR(route(r, "/perm", ""), "308 /p");
    CHECK_STR(route(r, "/ext", "?a=1"), "301 https://example.com/x?a=1");
    CHECK_STR(route(r, "/bare", "?a=1"), "302 https://example.com/?a=1");
    CHECK_STR(route(r, "/bare-q", "?a=1"), "302 https://example.com/?own#f");
    CHECK_STR(route(r, "/nothing", ""), "none");
    CHECK(pw_redirects_count(r) == 9);
    pw_redirects_free(r);
}

TEST(the_query_is_kept_unless_the_destination_has_one)
{
    char err[512];
    pw_redirects_t *r = parse("/a /b\n/q /b?x=1\n/f /b#top\n/e /b?\n", err, sizeof err);
    CHECK_STR(route(r, "/a", "?k=v"), "302 /b?k=v");
    CHECK_STR(route(r, "/q", "?k=v"), "302 /b?x=1");
    CHECK_STR(route(r, "/f", "?k=v"), "302 /b?k=v#top");
    CHECK_STR(route(r, "/e", "?k=v"), "302 /b?k=v");
    CHECK_STR(route(r, "/a", ""), "302 /b");
    pw_redirects_free(r);
}

TEST(splats_placeholders_and_rewrites)
{
    char err[512];
    pw_redirects_t *r = parse("/blog/* /news/:splat 301\n/users/:id /people/:id/profile\n"
                              "/app/* /app.html 200\n/shop/:item /shop/:item//details 200\n", err,
                              sizeof err);
    CHECK(r != NULL);
    CHECK_STR(route(r, "/blog/2024/post", "?q"), "301 /news/2024/post?q");
    CHECK_STR(route(r, "/users/7", ""), "302 /people/7/profile");
    CHECK_STR(route(r, "/users/7/x", ""), "none");
    CHECK_STR(route(r, "/app/settings", "?q"), "200 /app.html");      /* a rewrite: a path only */
    CHECK_STR(route(r, "/shop/hat", ""), "200 /shop/hat/details");     /* slashes collapsed */
    pw_redirects_free(r);
}

TEST(static_rules_win_over_dynamic_and_the_topmost_over_the_rest)
{
    char err[512];
    pw_redirects_t *r = parse("/b/special /one\n/b/special /two\n/b/* /any\n/b/late /late\n", err,
                              sizeof err);
    CHECK_STR(route(r, "/b/special", ""), "302 /one");
    CHECK_STR(route(r, "/b/other", ""), "302 /any");
    CHECK_STR(route(r, "/b/late", ""), "302 /any");  /* after a dynamic rule: dynamic, in order */
    pw_redirects_free(r);
    r = parse("/x/:p /first\n/x/* /second\n", err, sizeof err);
    CHECK_STR(route(r, "/x/y", ""), "302 /first");
    pw_redirects_free(r);
}

TEST(sources_drop_their_query_and_fragment_and_gain_a_slash)
{
    char err[512];
    pw_redirects_t *r = parse("/a?x=1 /b\nc#frag /d\n", err, sizeof err);
    CHECK_STR(route(r, "/a", ""), "302 /b");
    CHECK_STR(route(r, "/c", ""), "302 /d");
    pw_redirects_free(r);
}

TEST(each_bad_line_is_an_error_with_its_line)
{
    CHECK_STR(error_of("/a /b\n/only-one\n"),
              "public/_redirects:2: expected \"source destination [status]\", got one word");
    CHECK(strstr(error_of("/a /b 302 extra\n"), "_redirects:1: expected") != NULL);
    CHECK(strstr(error_of("\n\n/a /b 404\n"), "_redirects:3: the status 404 is none of") != NULL);
    CHECK(strstr(error_of("/a /b abc\n"), "the status abc") != NULL);
    CHECK(strstr(error_of("/a b\n"), "_redirects:1: the destination b is neither") != NULL);
    CHECK(strstr(error_of("/a http://x.com/\n"), "neither a path") != NULL);
    CHECK(strstr(error_of("/a https://x.com/ 200\n"), "a 200 rule rewrites") != NULL);
    CHECK(strstr(error_of("https://x.com/a /b\n"), "is not a path") != NULL);
    CHECK(strstr(error_of("/*/* /b\n"), "_redirects:1: more than one '*'") != NULL);
    CHECK(strstr(error_of("/* /index.html\n"), "_redirects:1: this rule loops") != NULL);
    CHECK(strstr(error_of("/docs/ /docs/index 301\n"), "this rule loops") != NULL);
    CHECK_STR(error_of("/a /b # a comment after the rule\n"), "ok");
}

TEST(html_handling_none_allows_the_root_to_index)
{
    pw_redirects_t *r = NULL;
    char err[256];
    CHECK(pw_redirects_parse("/ /index.html 200\n", 18, "f", 1, &r, err, sizeof err) == 0);
    pw_redirects_free(r);
}

/* n lines "/s<i> /d" (static) or "/d<i>/" then a star and " /d" (dynamic). */
static char *many(int n, int dynamic)
{
    char *text = malloc((size_t)n * 32 + 1), *p = text;
    for (int i = 0; i < n; i++)
        p += sprintf(p, dynamic ? "/d%d/* /d\n" : "/s%d /d\n", i);
    return text;
}

TEST(the_limits_are_cloudflares)
{
    char *text = many(PW_REDIRECTS_MAX_STATIC, 0);
    CHECK_STR(error_of(text), "ok");
    free(text);
    text = many(PW_REDIRECTS_MAX_STATIC + 1, 0);
    CHECK(strstr(error_of(text), "_redirects:2001: more than 2,000 static rules") != NULL);
    free(text);
    text = many(PW_REDIRECTS_MAX_DYNAMIC, 1);
    CHECK_STR(error_of(text), "ok");
    free(text);
    text = many(PW_REDIRECTS_MAX_DYNAMIC + 1, 1);
    CHECK(strstr(error_of(text), "_redirects:101: more than 100 dynamic rules") != NULL);
    free(text);
    char line[1100];
    memset(line, 'a', sizeof line - 1);
    line[0] = '/';
    memcpy(line + 990, " /b", 3);
    line[1001] = '\0';           /* 1,001 characters */
    CHECK(strstr(error_of(line), "_redirects:1: the line is longer than 1,000") != NULL);
    line[1000] = '\0';
    CHECK_STR(error_of(line), "ok");
}

TEST(many_static_rules_are_found_by_exact_path)
{
    char *text = many(PW_REDIRECTS_MAX_STATIC, 0), err[256];
    pw_redirects_t *r = parse(text, err, sizeof err);
    CHECK_STR(route(r, "/s1999", ""), "302 /d");
    CHECK_STR(route(r, "/s0", ""), "302 /d");
    CHECK_STR(route(r, "/s2000", ""), "none");
    CHECK_STR(route(r, "/s", ""), "none");
    pw_redirects_free(r);
    free(text);
}

int main(void)
{
    RUN(lines_statuses_and_comments);
    RUN(the_query_is_kept_unless_the_destination_has_one);
    RUN(splats_placeholders_and_rewrites);
    RUN(static_rules_win_over_dynamic_and_the_topmost_over_the_rest);
    RUN(sources_drop_their_query_and_fragment_and_gain_a_slash);
    RUN(each_bad_line_is_an_error_with_its_line);
    RUN(html_handling_none_allows_the_root_to_index);
    RUN(the_limits_are_cloudflares);
    RUN(many_static_rules_are_found_by_exact_path);
    return UNIT_DONE();
}
