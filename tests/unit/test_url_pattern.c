/* test_url_pattern.c — http/url_pattern.c: Cloudflare's `_redirects` / `_headers` patterns:
 * splats, placeholders in the path and in the host, greedy captures, the checks, filling a
 * destination, and the step budget on a pattern made to backtrack. */
#include "unit.h"
#include "http/url_pattern.h"

/* "name=value,..." of a match, or "no". */
static const char *caps_of(const char *pattern, const char *subject)
{
    static char out[512];
    pw_url_captures_t caps;
    if (!pw_url_pattern_match(pattern, subject, strlen(subject), &caps))
        return "no";
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < caps.n; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%.*s=%.*s", i ? "," : "",
                              (int)caps.at[i].name_len, caps.at[i].name, (int)caps.at[i].len,
                              caps.at[i].value);
    return out;
}

static const char *filled(const char *pattern, const char *subject, const char *tmpl)
{
    static char out[512];
    pw_url_captures_t caps;
    if (!pw_url_pattern_match(pattern, subject, strlen(subject), &caps))
        return "no";
    return pw_url_pattern_fill(tmpl, &caps, out, sizeof out) == 0 ? out : "too long";
}

TEST(literal_patterns_match_only_themselves)
{
    CHECK_STR(caps_of("/about", "/about"), "");
    CHECK_STR(caps_of("/about", "/about/"), "no");
    CHECK_STR(caps_of("/About", "/about"), "no");
    CHECK_STR(caps_of("/a.b", "/axb"), "no");
    CHECK(!pw_url_pattern_dynamic("/about"));
    CHECK(pw_url_pattern_dynamic("/blog/*"));
    CHECK(pw_url_pattern_dynamic("/u/:id"));
    CHECK(!pw_url_pattern_dynamic("/time/12:30"));      /* ':' then a digit is no placeholder */
}

TEST(a_splat_takes_any_run_slashes_included)
{
    CHECK_STR(caps_of("/blog/*", "/blog/2024/01/post"), "splat=2024/01/post");
    CHECK_STR(caps_of("/blog/*", "/blog/"), "splat=");
    CHECK_STR(caps_of("/blog/*", "/blog"), "no");
    CHECK_STR(caps_of("/*.html", "/a/b.html"), "splat=a/b");
    CHECK_STR(caps_of("/*/x", "/a/x/x"), "splat=a/x");     /* greedy, as the regex */
}

TEST(a_placeholder_takes_one_segment)
{
    CHECK_STR(caps_of("/users/:id", "/users/42"), "id=42");
    CHECK_STR(caps_of("/users/:id", "/users/42/edit"), "no");
    CHECK_STR(caps_of("/users/:id", "/users/"), "no");
    CHECK_STR(caps_of("/:year/:month/*", "/2024/05/a/b"), "year=2024,month=05,splat=a/b");
    CHECK_STR(caps_of("/f/:name.json", "/f/data.v2.json"), "name=data.v2");
}

TEST(host_placeholders_stop_at_dots_and_hosts_match_in_any_case)
{
    CHECK_STR(caps_of("https://:sub.example.com/*", "https://blog.example.com/x"), "sub=blog,splat=x");
    CHECK_STR(caps_of("https://:sub.example.com/*", "https://a.b.example.com/x"), "no");
    CHECK_STR(caps_of("https://Example.COM/a", "https://example.com/a"), "");
    CHECK_STR(caps_of("https://example.com/A", "https://example.com/a"), "no");
}

TEST(checks_refuse_two_splats_and_a_name_twice)
{
    char err[256];
    CHECK(pw_url_pattern_check("/a/*/b/:x", err, sizeof err) == 0);
    CHECK(pw_url_pattern_check("/*/*", err, sizeof err) < 0);
    CHECK(strstr(err, "more than one '*'") != NULL);
    CHECK(pw_url_pattern_check("/:id/:id", err, sizeof err) < 0);
    CHECK(strstr(err, ":id used twice") != NULL);
    CHECK(pw_url_pattern_check("/:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p/:q", err, sizeof err) < 0);
}

TEST(fill_replaces_known_placeholders_and_leaves_others)
{
    CHECK_STR(filled("/blog/*", "/blog/a/b", "/news/:splat"), "/news/a/b");
    CHECK_STR(filled("/u/:id", "/u/7", "/users/:id?from=:id#:nope"), "/users/7?from=7#:nope");
    CHECK_STR(filled("/u/:id", "/u/7", "/x/:id_2"), "/x/:id_2");     /* a longer name is another */
    CHECK_STR(filled("/t/:t", "/t/9", "at 12:30 :t"), "at 12:30 9");
    char small[4];
    pw_url_captures_t caps = { .n = 0 };
    CHECK(pw_url_pattern_fill("/abcdef", &caps, small, sizeof small) < 0);
}

TEST(a_pattern_made_to_backtrack_gives_up_within_its_budget)
{
    char subject[4001];
    memset(subject, 'a', 4000);
    subject[0] = '/';
    subject[4000] = '\0';
    pw_url_captures_t caps;
    /* ten placeholders back to back over 4,000 characters then a slash that never comes */
    CHECK(pw_url_pattern_match("/:a:b:c:d:e:f:g:h:i:j/", subject, 4000, &caps) == 0);
    CHECK(pw_url_pattern_match("/*", subject, 4000, &caps) == 1);
}

int main(void)
{
    RUN(literal_patterns_match_only_themselves);
    RUN(a_splat_takes_any_run_slashes_included);
    RUN(a_placeholder_takes_one_segment);
    RUN(host_placeholders_stop_at_dots_and_hosts_match_in_any_case);
    RUN(checks_refuse_two_splats_and_a_name_twice);
    RUN(fill_replaces_known_placeholders_and_leaves_others);
    RUN(a_pattern_made_to_backtrack_gives_up_within_its_budget);
    return UNIT_DONE();
}
