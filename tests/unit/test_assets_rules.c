/* test_assets_rules.c — http/assets_rules.c: Cloudflare's html_handling and not_found_handling
 * on a fixed set of files (the examples of Cloudflare's "HTML handling" page: /file.html,
 * /folder/index.html, and both spellings of /both), each mode request by request. */
#include "unit.h"
#include "http/assets_rules.h"

static const char *const FILES[] = {
    "/index.html", "/file.html", "/folder/index.html", "/both.html", "/both/index.html",
    "/bin", "/docs/404.html", "/404.html", "/docs/guide/page.html", NULL,
};

static int exists(void *arg, const char *path)
{
    (void)arg;
    for (int i = 0; FILES[i]; i++)
        if (strcmp(FILES[i], path) == 0)
            return 1;
    return 0;
}

/* "200 /file.html", "307 /file", "404 /docs/404.html", or "none". */
static const char *answer(int html, int not_found, const char *path)
{
    static char out[PW_ASSETS_PATH_MAX + 8];
    pw_assets_rules_t rules = { html, not_found };
    pw_assets_intent_t in;
    pw_assets_intent(&rules, path, exists, NULL, &in);
    if (in.action == PW_ASSETS_NONE)
        return "none";
    snprintf(out, sizeof out, "%d %s", in.status, in.path);
    return out;
}

#define AUTO(path, want) CHECK_STR(answer(PW_HTML_AUTO_TRAILING_SLASH, PW_NOT_FOUND_NONE, path), want)
#define FORCE(path, want) CHECK_STR(answer(PW_HTML_FORCE_TRAILING_SLASH, PW_NOT_FOUND_NONE, path), want)
#define DROP(path, want) CHECK_STR(answer(PW_HTML_DROP_TRAILING_SLASH, PW_NOT_FOUND_NONE, path), want)
#define NONE_(path, want) CHECK_STR(answer(PW_HTML_NONE, PW_NOT_FOUND_NONE, path), want)

TEST(auto_trailing_slash_serves_files_bare_and_folders_with_a_slash)
{
    AUTO("/file", "200 /file.html");
    AUTO("/file.html", "307 /file");
    AUTO("/file/", "307 /file");
    AUTO("/folder", "307 /folder/");
    AUTO("/folder/", "200 /folder/index.html");
    AUTO("/folder/index.html", "307 /folder/");
    AUTO("/folder/index", "307 /folder/");
    AUTO("/folder.html", "307 /folder/");
    AUTO("/", "200 /index.html");
    AUTO("/index.html", "307 /");
    AUTO("/index", "307 /");
    AUTO("/bin", "200 /bin");
    AUTO("/bin/", "none");
    AUTO("/missing", "none");
    AUTO("/both", "200 /both.html");
    AUTO("/both/", "200 /both/index.html");
}

TEST(force_trailing_slash_puts_a_slash_after_every_page)
{
    FORCE("/file", "307 /file/");
    FORCE("/file/", "200 /file.html");
    FORCE("/file.html", "307 /file/");
    FORCE("/folder", "307 /folder/");
    FORCE("/folder/", "200 /folder/index.html");
    FORCE("/folder/index.html", "307 /folder/");
    FORCE("/both.html", "200 /both.html");
    FORCE("/bin", "200 /bin");
    FORCE("/", "200 /index.html");
    FORCE("/index.html", "307 /");
}

TEST(drop_trailing_slash_serves_every_page_without_one)
{
    DROP("/file", "200 /file.html");
    DROP("/file/", "307 /file");
    DROP("/folder", "200 /folder/index.html");
    DROP("/folder/", "307 /folder");
    DROP("/folder/index.html", "307 /folder");
    DROP("/both/index.html", "200 /both/index.html");
    DROP("/", "200 /index.html");
    DROP("/index.html", "307 /");
    DROP("/index", "307 /");
}

TEST(none_serves_exact_names_only)
{
    NONE_("/file.html", "200 /file.html");
    NONE_("/file", "none");
    NONE_("/folder/", "none");
    NONE_("/", "none");
}

TEST(not_found_handling_spa_and_nearest_404_page)
{
    CHECK_STR(answer(0, PW_NOT_FOUND_SPA, "/app/route/42"), "200 /index.html");
    CHECK_STR(answer(0, PW_NOT_FOUND_SPA, "/file"), "200 /file.html");
    CHECK_STR(answer(0, PW_NOT_FOUND_404_PAGE, "/docs/guide/nope"), "404 /docs/404.html");
    CHECK_STR(answer(0, PW_NOT_FOUND_404_PAGE, "/docs/nope"), "404 /docs/404.html");
    CHECK_STR(answer(0, PW_NOT_FOUND_404_PAGE, "/other/deep/nope"), "404 /404.html");
    CHECK_STR(answer(0, PW_NOT_FOUND_404_PAGE, "/docs/guide/page"), "200 /docs/guide/page.html");
}

TEST(words_map_to_modes_and_others_are_refused)
{
    CHECK(pw_assets_html_handling("auto-trailing-slash") == PW_HTML_AUTO_TRAILING_SLASH);
    CHECK(pw_assets_html_handling("none") == PW_HTML_NONE);
    CHECK(pw_assets_html_handling("slash") == -1);
    CHECK(pw_assets_not_found("404-page") == PW_NOT_FOUND_404_PAGE);
    CHECK(pw_assets_not_found("single-page-application") == PW_NOT_FOUND_SPA);
    CHECK(pw_assets_not_found("spa") == -1);
}

int main(void)
{
    RUN(auto_trailing_slash_serves_files_bare_and_folders_with_a_slash);
    RUN(force_trailing_slash_puts_a_slash_after_every_page);
    RUN(drop_trailing_slash_serves_every_page_without_one);
    RUN(none_serves_exact_names_only);
    RUN(not_found_handling_spa_and_nearest_404_page);
    RUN(words_map_to_modes_and_others_are_refused);
    return UNIT_DONE();
}
