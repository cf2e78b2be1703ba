/* test_assets_headers.c — http/assets_headers.c: the `_headers` file as Cloudflare documents
 * it: patterns with splats, placeholders and hosts, several matching rules merged (values
 * joined with ", "), "! Name" removing, the limits, and each error with its line. */
#include "unit.h"
#include "http/assets_headers.h"

#include <stdlib.h>

static pw_header_rules_t *parse(const char *text)
{
    pw_header_rules_t *r = NULL;
    char err[512];
    if (pw_header_rules_parse(text, strlen(text), "public/_headers", &r, err, sizeof err) < 0)
        fprintf(stderr, "  parse: %s\n", err);
    return r;
}

/* "set a=1;b=2 drop c,d" for a request. */
static const char *edits(const pw_header_rules_t *r, const char *host, const char *path)
{
    static char out[2048];
    pw_header_edits_t e;
    if (pw_header_rules_apply(r, host, strlen(host), path, strlen(path), &e) < 0)
        return "oom";
    size_t n = (size_t)snprintf(out, sizeof out, "set ");
    for (size_t i = 0; i < e.n_set; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s=%s", i ? ";" : "", e.set[i].name,
                              e.set[i].value);
    n += (size_t)snprintf(out + n, sizeof out - n, " drop ");
    for (size_t i = 0; i < e.n_drop; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "," : "", e.drop[i]);
    pw_header_edits_free(&e);
    return out;
}

static const char *error_of(const char *text)
{
    static char err[1024];
    pw_header_rules_t *r = NULL;
    if (pw_header_rules_parse(text, strlen(text), "public/_headers", &r, err, sizeof err) == 0) {
        pw_header_rules_free(r);
        return "ok";
    }
    return err;
}

TEST(a_rule_sets_headers_on_matching_paths_only)
{
    pw_header_rules_t *r = parse("# security\n/secure/page\n  X-Frame-Options: DENY\n"
                                 "  X-Content-Type-Options: nosniff\n");
    CHECK_STR(edits(r, "a.test", "/secure/page"),
              "set x-frame-options=DENY;x-content-type-options=nosniff drop x-frame-options,x-content-type-options");
    CHECK_STR(edits(r, "a.test", "/other"), "set  drop ");
    pw_header_rules_free(r);
}

TEST(matching_rules_merge_and_repeated_names_join)
{
    pw_header_rules_t *r = parse("/*\n  Cache-Control: no-cache\n  Link: </a.css>\n  Link: </b.js>\n"
                                 "/static/*\n  Cache-Control: max-age=31536000\n  X-Robots-Tag: nosnippet\n");
    CHECK_STR(edits(r, "", "/static/app.js"),
              "set cache-control=no-cache, max-age=31536000;link=</a.css>, </b.js>;x-robots-tag=nosnippet "
              "drop cache-control,link,x-robots-tag");
    pw_header_rules_free(r);
}

TEST(detach_removes_a_header_whoever_set_it)
{
    pw_header_rules_t *r = parse("/*\n  X-Robots-Tag: noindex\n/public/*\n  ! X-Robots-Tag\n  ! ETag\n"
                                 "/public/again\n  X-Robots-Tag: all\n");
    CHECK_STR(edits(r, "", "/public/x"), "set  drop x-robots-tag,etag");
    CHECK_STR(edits(r, "", "/public/again"), "set x-robots-tag=all drop x-robots-tag,etag");
    pw_header_rules_free(r);
}

TEST(placeholders_fill_values_and_hosts_are_matched)
{
    pw_header_rules_t *r = parse("/movies/:title\n  x-movie-name: You are watching \":title\"\n"
                                 "https://:project.example.dev/*\n  X-Robots-Tag: noindex :project :splat\n"
                                 "https://www.example.com/*\n  X-Host: www\n");
    CHECK_STR(edits(r, "a.test", "/movies/Up"), "set x-movie-name=You are watching \"Up\" drop x-movie-name");
    CHECK_STR(edits(r, "demo.example.dev:8787", "/x/y"),
              "set x-robots-tag=noindex demo x/y drop x-robots-tag");
    CHECK_STR(edits(r, "WWW.example.com", "/"), "set x-host=www drop x-host");
    CHECK_STR(edits(r, "example.com", "/"), "set  drop ");
    pw_header_rules_free(r);
}

TEST(each_bad_line_is_an_error_with_its_line)
{
    CHECK_STR(error_of("  X-A: b\n"), "public/_headers:1: a header comes before any URL pattern: X-A: b");
    CHECK(strstr(error_of("/a\n  just words\n"), "_headers:2: expected \"Name: value\" or \"! Name\"") != NULL);
    CHECK(strstr(error_of("/a\n  Bad Name: v\n"), "_headers:2: a header name cannot hold spaces") != NULL);
    CHECK(strstr(error_of("/a\n  : v\n"), "_headers:2: no header name") != NULL);
    CHECK(strstr(error_of("/a\n  X-A:\n"), "_headers:2: no header value") != NULL);
    CHECK(strstr(error_of("/a\n/b\n  X: y\n"), "_headers:1: no headers under /a") != NULL);
    CHECK(strstr(error_of("/a\n  X: y\n/b\n"), "_headers:3: no headers under /b") != NULL);
    CHECK(strstr(error_of("http://x.com/a\n  X: y\n"), "_headers:1: a URL pattern is a path") != NULL);
    CHECK(strstr(error_of("https://x.com:8443/a\n  X: y\n"), "a port in a URL pattern") != NULL);
    CHECK(strstr(error_of("/*/*\n  X: y\n"), "_headers:1: more than one '*'") != NULL);
    CHECK(strstr(error_of("/a\n  !\n"), "names no header") != NULL);
    CHECK(strstr(error_of("/a\n  X(y): v\n"), "_headers:2: a header name holds a character") != NULL);
    CHECK(strstr(error_of("/a\n  X: v\x01w\n"), "_headers:2: a header value holds a control") != NULL);
    CHECK(strstr(error_of("/a\n  X: v\rw\n"), "a header value holds a control") != NULL);
    CHECK_STR(error_of("/a\n  !X-Gone\n  X: https://example.com/\n"), "ok");
}

TEST(the_limits_are_cloudflares)
{
    char *text = malloc(200 * 32), *p = text;
    for (int i = 0; i < PW_HEADERS_MAX_RULES; i++)
        p += sprintf(p, "/r%d\n  X: %d\n", i, i);
    CHECK_STR(error_of(text), "ok");
    sprintf(p, "/r100\n  X: 100\n");
    CHECK(strstr(error_of(text), "_headers:201: more than 100 rules") != NULL);
    free(text);
    char line[2100] = "/a\n  X: ";
    size_t n = strlen(line);
    memset(line + n, 'v', 2000 - 5);      /* "  X: " and 1,995 v: trimmed, 1,998 characters */
    line[n + 1995] = '\0';
    CHECK_STR(error_of(line), "ok");
    memset(line + n, 'v', 2000);
    line[n + 2000] = '\0';
    CHECK(strstr(error_of(line), "_headers:2: the line is longer than 2,000") != NULL);
}

int main(void)
{
    RUN(a_rule_sets_headers_on_matching_paths_only);
    RUN(matching_rules_merge_and_repeated_names_join);
    RUN(detach_removes_a_header_whoever_set_it);
    RUN(placeholders_fill_values_and_hosts_are_matched);
    RUN(each_bad_line_is_an_error_with_its_line);
    RUN(the_limits_are_cloudflares);
    return UNIT_DONE();
}
