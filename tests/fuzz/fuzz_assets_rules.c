/* fuzz_assets_rules.c — fuzz target: an assets directory's `_redirects` and `_headers` as a
 * user may write them (http/assets_redirects.c, http/assets_headers.c, http/url_pattern.c).
 * The input is parsed as both files; what parses is then matched against paths and hosts
 * taken from the input itself, and every target and header value must come back whole
 * (NUL-terminated within its buffer) or be refused, never overflow.
 */
#include "fuzz.h"
#include "http/assets_headers.h"
#include "http/assets_redirects.h"

#include <stdlib.h>
#include <string.h>

static void try_redirects(const pw_redirects_t *r, const char *path, size_t len)
{
    pw_url_captures_t caps;
    char out[PW_REDIRECTS_MAX_LINE * 2];
    const pw_redirect_t *rule = pw_redirects_find(r, path, len, &caps);
    if (rule && pw_redirects_target(rule, &caps, (pw_bytes_t){ (const uint8_t *)"?q=1", 4 }, out,
                                    sizeof out) == 0 && strlen(out) >= sizeof out)
        abort();
}

static void try_headers(const pw_header_rules_t *h, const char *path, size_t len)
{
    pw_header_edits_t e;
    if (pw_header_rules_apply(h, "Sub.Example.test:8787", 21, path, len, &e) < 0)
        return;
    for (size_t i = 0; i < e.n_set; i++)
        if (!e.set[i].name[0] || !e.set[i].value)
            abort();
    pw_header_edits_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    const char *text = (const char *)data;
    pw_redirects_t *r = NULL;
    pw_header_rules_t *h = NULL;
    pw_redirects_parse(text, size, "_redirects", size & 1, &r, err, sizeof err);
    pw_header_rules_parse(text, size, "_headers", &h, err, sizeof err);
    /* the paths to try: each run of the input starting at a '/', up to white space */
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '/')
            continue;
        size_t n = 0;
        while (i + n < size && data[i + n] > ' ' && data[i + n] != '?')
            n++;
        char *path = strndup(text + i, n);
        if (!path)
            break;
        if (r)
            try_redirects(r, path, strlen(path));
        if (h)
            try_headers(h, path, strlen(path));
        free(path);
    }
    pw_redirects_free(r);
    pw_header_rules_free(h);
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    static const char *const seeds[] = {
        "/a /b 301\n/blog/* /news/:splat\n/u/:id /p/:id?x=:id 200\n# c\n/x /y#f\n",
        "/*\n  X-A: b\n  ! ETag\n/movies/:t\n  X-M: :t :splat\nhttps://:sub.example.test/*\n  X-S: :sub\n",
        "/:a:b:c:d/* https://e.com/:a/:b 302\n/only\n",
        "/a\n/b\n  : v\n  !\n",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}
