/* test_precheck.c — config/precheck.c: the config text checks run before capnp (NUL, UTF-8,
 * nesting, long words), the embed/import paths they list, the check of capnp's JSON and the
 * disk-path rule. Pure functions: no files, no capnp.
 */
#include <errno.h>
#include <stdlib.h>

#include "unit.h"
#include "config/precheck.h"

static int scan(const char *src, size_t len, pw_source_refs_t *refs, pw_precheck_error_t *e)
{
    memset(refs, 0, sizeof *refs);
    return pw_precheck_source(src, len, refs, e);
}

TEST(lists_embeds_and_imports_with_their_positions)
{
    const char *src = "using W = import \"/workerd/workerd.capnp\";\n"
                      "# embed \"commented.py\"\n"
                      "const m = (x = embed \"a/b.py\", y = \"embed\", z = embed \"c\\x2fd\");\n";
    pw_source_refs_t refs;
    pw_precheck_error_t e;
    CHECK(scan(src, strlen(src), &refs, &e) == 0);
    CHECK(refs.n == 3);
    if (refs.n == 3) {
        CHECK(refs.v[0].kind == PW_REF_IMPORT);
        CHECK_STR(refs.v[0].path, "/workerd/workerd.capnp");
        CHECK(refs.v[0].line == 1 && refs.v[0].col == 18);
        CHECK(refs.v[1].kind == PW_REF_EMBED);
        CHECK_STR(refs.v[1].path, "a/b.py");
        CHECK(refs.v[1].line == 3 && refs.v[1].col == 22);
        CHECK_STR(refs.v[2].path, "c/d");
    }
    pw_source_refs_free(&refs);
}

TEST(rejects_nul_bad_utf8_deep_nesting_and_long_words)
{
    pw_source_refs_t refs;
    pw_precheck_error_t e;
    CHECK(scan("a\nb = \"x\0y\"", 11, &refs, &e) == -1);
    CHECK(e.line == 2 && e.col == 7 && strstr(e.msg, "NUL byte"));
    pw_source_refs_free(&refs);
    CHECK(scan("x = \"\xc3\xa9\xff\"", 9, &refs, &e) == -1);
    CHECK(e.line == 1 && e.col == 7 && strstr(e.msg, "0xFF"));
    pw_source_refs_free(&refs);
    char deep[200];
    memset(deep, '(', sizeof deep);
    CHECK(scan(deep, sizeof deep, &refs, &e) == -1);
    CHECK(e.col == PW_PRECHECK_MAX_NESTING + 1 && strstr(e.msg, "nested more than 64"));
    pw_source_refs_free(&refs);
    char ok[PW_PRECHECK_MAX_NESTING * 2];
    memset(ok, '[', PW_PRECHECK_MAX_NESTING);
    memset(ok + PW_PRECHECK_MAX_NESTING, ']', PW_PRECHECK_MAX_NESTING);
    CHECK(scan(ok, sizeof ok, &refs, &e) == 0);
    pw_source_refs_free(&refs);
    char word[PW_PRECHECK_MAX_WORD + 2];
    memset(word, 'a', sizeof word - 1);
    word[sizeof word - 1] = '\0';
    CHECK(scan(word, strlen(word), &refs, &e) == -1);
    CHECK(strstr(e.msg, "257 characters long") != NULL);
    pw_source_refs_free(&refs);
}

TEST(json_text_must_be_utf8_without_nul_and_the_escape_is_found)
{
    pw_precheck_error_t e;
    const char *good = "{\"a\":\"caf\xc3\xa9 \\\\u0000 \\\"\",\"b\":[0,255]}";
    CHECK(pw_precheck_json(good, strlen(good), &e) == 0);
    const char *nul = "{\"name\":\"ma\\u0000in\"}";
    CHECK(pw_precheck_json(nul, strlen(nul), &e) == -1 && e.kind == PW_PRECHECK_NUL);
    const char *src = "a = \"fine\";\nb = (name = \"ma\\x00in\");\n";
    int col = 0;
    CHECK(pw_precheck_find_escape(src, strlen(src), &e, &col) == 2 && col == 13);
    const char *bad = "{\"name\":\"ma\xffin\"}";
    CHECK(pw_precheck_json(bad, strlen(bad), &e) == -1 && e.kind == PW_PRECHECK_BAD_UTF8);
    const char *src2 = "a = \"\\xc3\\xa9\";\nb = \"\\377\";\n";
    CHECK(pw_precheck_find_escape(src2, strlen(src2), &e, &col) == 2 && col == 5);
}

TEST(disk_paths_climbing_out)
{
    CHECK(pw_precheck_path_climbs_out("../x") == 1);
    CHECK(pw_precheck_path_climbs_out("a/../../x") == 1);
    CHECK(pw_precheck_path_climbs_out("./a/./../..") == 1);
    CHECK(pw_precheck_path_climbs_out("a/../b") == 0);
    CHECK(pw_precheck_path_climbs_out("kv-data") == 0);
    CHECK(pw_precheck_path_climbs_out("a//b/../..") == 0);
    CHECK(pw_precheck_path_climbs_out("/var/../../x") == 0);     /* absolute: the operator's */
    CHECK(pw_precheck_path_climbs_out("..a/b") == 0);
}

int main(void)
{
    RUN(lists_embeds_and_imports_with_their_positions);
    RUN(rejects_nul_bad_utf8_deep_nesting_and_long_words);
    RUN(json_text_must_be_utf8_without_nul_and_the_escape_is_found);
    RUN(disk_paths_climbing_out);
    return UNIT_DONE();
}
