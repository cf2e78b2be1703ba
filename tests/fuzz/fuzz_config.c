/* fuzz_config.c — fuzz target: the config loader's own preprocessing (config/precheck.c):
 * the text checks run on every config and imported file before capnp (NUL, UTF-8, nesting,
 * word length, embed/import paths), the check of capnp's JSON output, the search for the
 * escape behind a JSON complaint, and the disk-path rule. Whatever the input: no crash, no
 * read outside it, a rejection has a line and a sentence, an accepted file held no NUL byte
 * and its embed/import paths hold none either.
 */
#include "fuzz.h"
#include "config/precheck.h"

#include <stdlib.h>
#include <string.h>

static int count_lines(const uint8_t *data, size_t size)
{
    int lines = 1;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    return lines;
}

static void check_source(const uint8_t *data, size_t size)
{
    pw_source_refs_t refs = { 0 };
    pw_precheck_error_t e;
    int rc = pw_precheck_source((const char *)data, size, &refs, &e);
    int lines = count_lines(data, size);
    if (rc == -1 && (e.line < 1 || e.line > lines || e.col < 1 || !e.msg[0])) abort();
    if (rc == 0 && memchr(data, 0, size)) abort();
    for (size_t i = 0; i < refs.n; i++) {
        const pw_source_ref_t *r = &refs.v[i];
        if (r->line < 1 || r->line > lines || r->col < 1) abort();
        if (r->kind != PW_REF_EMBED && r->kind != PW_REF_IMPORT) abort();
        if (strlen(r->path) >= 4096) abort();
    }
    pw_source_refs_free(&refs);
}

static void check_json(const uint8_t *data, size_t size)
{
    pw_precheck_error_t e;
    if (pw_precheck_json((const char *)data, size, &e) == 0) return;
    if (e.kind != PW_PRECHECK_NUL && e.kind != PW_PRECHECK_BAD_UTF8) abort();
    int col = 0;
    int line = pw_precheck_find_escape((const char *)data, size, &e, &col);
    if (line < 0 || line > count_lines(data, size) || (line > 0 && col < 1)) abort();
}

static void check_path(const uint8_t *data, size_t size)
{
    char *path = malloc(size + 1);
    if (!path) return;
    memcpy(path, data, size);
    path[size] = '\0';
    if (pw_precheck_path_climbs_out(path) && !strstr(path, "..")) abort();
    if (path[0] == '/' && pw_precheck_path_climbs_out(path)) abort();
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_source(data, size);
    check_json(data, size);
    check_path(data, size);
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    static const char *const seeds[] = {
        "using Workerd = import \"/workerd/workerd.capnp\";\n"
        "const config :Workerd.Config = (\n"
        "  services = [ (name = \"main\", worker = .w) ],\n"
        "  sockets = [ (name = \"http\", address = \"*:8080\", http = (), service = \"main\") ],\n"
        ");\n"
        "const w :Workerd.Worker = (\n"
        "  modules = [ (name = \"worker.py\", pythonModule = embed \"worker.py\") ],  # main\n"
        "  compatibilityDate = \"2024-01-01\",\n"
        "  bindings = [ (name = \"K\", text = \"a\\x00b\\\\\\\"\\777\"), (name = \"D\", data = 0x\"00ff\") ],\n"
        ");\n",
        "const x :Int32 = ((((((((((1))))))))));\nembed \"../a\" import \"b\\x2fc\"",
        "embed \"unterminated\nimport",
        "name = \"ma\xff\xfein\" # \xc3\xa9t\xc3\xa9\n",
        "{\"services\":[{\"name\":\"ma\\u0000in\",\"x\":\"\\\"\"}],\"k\":\"\xe2\x82\xac\"}",
        "{\"a\":\"\xc0\xaf\"}",
        "kv/../../outside",
        "./a/./../b/..",
        "/abs/../x",
        "",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
    static const uint8_t nul[] = { 'a', ' ', '=', ' ', '"', 'x', 0, 'y', '"' };
    add(nul, sizeof nul);
}
