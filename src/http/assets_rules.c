/* assets_rules.c — which asset answers a path, as Cloudflare's static assets decide it (host
 * process; see assets_rules.h). Each html_handling mode is a list of cases on the path's
 * ending ("/index", "/index.html", "/", ".html"), then the common tail (the exact file, then
 * the page's other spellings), then not_found_handling. A redirect is taken only when the
 * destination, routed again without redirects, serves the very same file, so no rule can
 * redirect in a loop or to a different page.
 * Invariant: paths are built in bounded buffers; one too long is "no such file".
 */
#include "http/assets_rules.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const pw_assets_rules_t *rules;
    pw_assets_exists_fn exists;
    void *arg;
    int no_redirects;               /* routing a redirect's destination */
    pw_assets_intent_t *out;
} route_t;

static int route(route_t *r, const char *path);

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* `path` less its last `drop` bytes, then `add`, into buf; 0, or -1 when it does not fit. */
static int respell(char *buf, const char *path, size_t drop, const char *add)
{
    size_t keep = strlen(path) - drop;
    int n = snprintf(buf, PW_ASSETS_PATH_MAX, "%.*s%s", (int)keep, path, add);
    return n < 0 || n >= PW_ASSETS_PATH_MAX ? -1 : 0;
}

static int file_exists(route_t *r, const char *path)
{
    return path[0] == '/' && !ends_with(path, "/") && r->exists(r->arg, path);
}

static int serve(route_t *r, const char *file, int status)
{
    r->out->action = PW_ASSETS_SERVE;
    r->out->status = status;
    snprintf(r->out->path, sizeof r->out->path, "%s", file);
    return 1;
}

/* Serves path[..-drop] + add when that file exists. */
static int serve_as(route_t *r, const char *path, size_t drop, const char *add)
{
    char file[PW_ASSETS_PATH_MAX];
    return respell(file, path, drop, add) == 0 && file_exists(r, file) && serve(r, file, 200);
}

/* Redirects to dest = path[..-dest_drop] + dest_add when file = path[..-file_drop] + file_add
 * exists, dest is no file itself, and dest routed again serves exactly that file. */
static int redirect_as(route_t *r, const char *path, size_t file_drop, const char *file_add,
                       size_t dest_drop, const char *dest_add)
{
    char file[PW_ASSETS_PATH_MAX], dest[PW_ASSETS_PATH_MAX];
    if (r->no_redirects || respell(file, path, file_drop, file_add) < 0 ||
        respell(dest, path, dest_drop, dest_add) < 0 || dest[0] != '/' ||
        !file_exists(r, file) || file_exists(r, dest))
        return 0;
    pw_assets_intent_t again = { 0 };
    route_t inner = { r->rules, r->exists, r->arg, 1, &again };
    if (!route(&inner, dest) || again.action != PW_ASSETS_SERVE || strcmp(again.path, file) != 0)
        return 0;
    r->out->action = PW_ASSETS_REDIRECT;
    r->out->status = 307;
    snprintf(r->out->path, sizeof r->out->path, "%s", dest);
    return 1;
}

#define IDX_HTML (sizeof "/index.html" - 1)
#define IDX (sizeof "/index" - 1)
#define HTML (sizeof ".html" - 1)

/* ---- the modes ---- */

static int auto_trailing_slash(route_t *r, const char *p)
{
    if (ends_with(p, "/index")) {
        if (file_exists(r, p))
            return serve(r, p, 200);
        if (redirect_as(r, p, 0, ".html", IDX - 1, "") || redirect_as(r, p, IDX, ".html", IDX, ""))
            return 1;
    } else if (ends_with(p, "/index.html")) {
        if (redirect_as(r, p, 0, "", IDX_HTML - 1, "") ||
            redirect_as(r, p, IDX_HTML, ".html", IDX_HTML, ""))
            return 1;
    } else if (ends_with(p, "/")) {
        if (serve_as(r, p, 0, "index.html") || redirect_as(r, p, 1, ".html", 1, ""))
            return 1;
    } else if (ends_with(p, ".html")) {
        if (redirect_as(r, p, 0, "", HTML, "") || redirect_as(r, p, HTML, "/index.html", HTML, "/"))
            return 1;
    }
    return serve_as(r, p, 0, "") || serve_as(r, p, 0, ".html") ||
           redirect_as(r, p, 0, "/index.html", 0, "/");
}

static int force_trailing_slash(route_t *r, const char *p)
{
    if (ends_with(p, "/index")) {
        if (file_exists(r, p))
            return serve(r, p, 200);
        if (redirect_as(r, p, 0, ".html", IDX - 1, "") || redirect_as(r, p, IDX, ".html", IDX - 1, ""))
            return 1;
    } else if (ends_with(p, "/index.html")) {
        if (redirect_as(r, p, 0, "", IDX_HTML - 1, "") ||
            redirect_as(r, p, IDX_HTML, ".html", IDX_HTML - 1, ""))
            return 1;
    } else if (ends_with(p, "/")) {
        if (serve_as(r, p, 0, "index.html") || serve_as(r, p, 1, ".html"))
            return 1;
    } else if (ends_with(p, ".html")) {
        if (redirect_as(r, p, 0, "", HTML, "/") || serve_as(r, p, 0, "") ||
            redirect_as(r, p, HTML, "/index.html", HTML, "/"))
            return 1;
    }
    return serve_as(r, p, 0, "") || redirect_as(r, p, 0, ".html", 0, "/") ||
           redirect_as(r, p, 0, "/index.html", 0, "/");
}

static int drop_trailing_slash(route_t *r, const char *p)
{
    int root_index = strcmp(p, "/index") == 0 || strcmp(p, "/index.html") == 0;
    if (ends_with(p, "/index")) {
        if (file_exists(r, p))
            return serve(r, p, 200);
        if (root_index ? redirect_as(r, "/", 0, "index.html", 0, "")
                       : (redirect_as(r, p, IDX, ".html", IDX, "") ||
                          redirect_as(r, p, 0, ".html", IDX, "")))
            return 1;
    } else if (ends_with(p, "/index.html")) {
        if (root_index ? redirect_as(r, "/", 0, "index.html", 0, "")
                       : (redirect_as(r, p, 0, "", IDX_HTML, "") || serve_as(r, p, 0, "") ||
                          redirect_as(r, p, IDX_HTML, ".html", IDX_HTML, "")))
            return 1;
    } else if (ends_with(p, "/")) {
        if (strcmp(p, "/") == 0 ? serve_as(r, p, 0, "index.html")
                                : (redirect_as(r, p, 1, ".html", 1, "") ||
                                   redirect_as(r, p, 0, "index.html", 1, "")))
            return 1;
    } else if (ends_with(p, ".html")) {
        if (redirect_as(r, p, 0, "", HTML, "") || redirect_as(r, p, HTML, "/index.html", HTML, ""))
            return 1;
    }
    return serve_as(r, p, 0, "") || serve_as(r, p, 0, ".html") || serve_as(r, p, 0, "/index.html");
}

/* not_found_handling: /index.html (200), or the nearest 404.html going up (404). */
static int not_found(route_t *r, const char *p)
{
    if (r->rules->not_found == PW_NOT_FOUND_SPA)
        return file_exists(r, "/index.html") && serve(r, "/index.html", 200);
    if (r->rules->not_found != PW_NOT_FOUND_404_PAGE)
        return 0;
    char file[PW_ASSETS_PATH_MAX];
    for (size_t len = strlen(p); len > 0;) {
        while (len > 0 && p[len - 1] != '/')
            len--;
        if (len == 0)
            break;
        len--;                              /* the directory: p[0..len) */
        int n = snprintf(file, sizeof file, "%.*s/404.html", (int)len, p);
        if (n > 0 && n < (int)sizeof file && file_exists(r, file))
            return serve(r, file, 404);
    }
    return 0;
}

static int route(route_t *r, const char *path)
{
    int found;
    switch (r->rules->html) {
    case PW_HTML_FORCE_TRAILING_SLASH: found = force_trailing_slash(r, path); break;
    case PW_HTML_DROP_TRAILING_SLASH: found = drop_trailing_slash(r, path); break;
    case PW_HTML_NONE: found = serve_as(r, path, 0, ""); break;
    default: found = auto_trailing_slash(r, path); break;
    }
    return found || not_found(r, path);
}

void pw_assets_intent(const pw_assets_rules_t *rules, const char *path, pw_assets_exists_fn exists,
                      void *arg, pw_assets_intent_t *out)
{
    memset(out, 0, sizeof *out);
    route_t r = { rules, exists, arg, 0, out };
    if (path[0] != '/' || !route(&r, path))
        out->action = PW_ASSETS_NONE;
}

static int glob_matches(const char *pattern, const char *s)
{
    for (; *pattern; pattern++, s++) {
        if (*pattern == '*') {
            for (const char *rest = s;; rest++) {
                if (glob_matches(pattern + 1, rest))
                    return 1;
                if (!*rest)
                    return 0;
            }
        }
        if (*s != *pattern)
            return 0;
    }
    return *s == '\0';
}

int pw_assets_worker_first(const char *const *patterns, size_t n, const char *path)
{
    int included = 0;
    for (size_t i = 0; i < n; i++) {
        if (patterns[i][0] == '!' && glob_matches(patterns[i] + 1, path))
            return 0;
        if (patterns[i][0] != '!' && glob_matches(patterns[i], path))
            included = 1;
    }
    return included;
}

int pw_assets_html_handling(const char *words)
{
    static const char *const names[] = { "auto-trailing-slash", "force-trailing-slash",
                                         "drop-trailing-slash", "none" };
    for (int i = 0; i < 4; i++)
        if (strcmp(words, names[i]) == 0)
            return i;
    return -1;
}

int pw_assets_not_found(const char *words)
{
    static const char *const names[] = { "none", "single-page-application", "404-page" };
    for (int i = 0; i < 3; i++)
        if (strcmp(words, names[i]) == 0)
            return i;
    return -1;
}
