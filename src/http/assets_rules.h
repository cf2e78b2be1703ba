/* assets_rules.h — Cloudflare's routing of a request to a static asset (host process; pure:
 * the file system is reached only through the caller's `exists`, so tests/unit calls it as
 * it is). Given a decoded URL path ("/a/b.html"), assets.html_handling and
 * assets.not_found_handling, it says which file answers and with which status, or which path
 * to redirect to (307: "/page.html" → "/page", "/dir/index.html" → "/dir/", ...), or that no
 * asset answers (the worker is called, or 404). The rules are those Cloudflare documents for
 * Workers static assets (html-handling, not-found-handling) and its asset worker applies.
 */
#ifndef PW_ASSETS_RULES_H
#define PW_ASSETS_RULES_H

#include <stddef.h>

#define PW_ASSETS_PATH_MAX 4200

typedef enum {
    PW_HTML_AUTO_TRAILING_SLASH,    /* the default */
    PW_HTML_FORCE_TRAILING_SLASH,
    PW_HTML_DROP_TRAILING_SLASH,
    PW_HTML_NONE,
} pw_html_handling_t;

typedef enum {
    PW_NOT_FOUND_NONE,              /* the default: no asset (404, or the worker) */
    PW_NOT_FOUND_SPA,               /* single-page-application: /index.html, 200 */
    PW_NOT_FOUND_404_PAGE,          /* 404-page: the nearest 404.html above, 404 */
} pw_not_found_t;

typedef struct {
    pw_html_handling_t html;
    pw_not_found_t not_found;
} pw_assets_rules_t;

typedef enum { PW_ASSETS_NONE, PW_ASSETS_SERVE, PW_ASSETS_REDIRECT } pw_assets_action_t;

typedef struct {
    pw_assets_action_t action;
    int status;                     /* SERVE: 200, or 404 for a 404 page */
    char path[PW_ASSETS_PATH_MAX];  /* SERVE: the file ("/a/b.html"); REDIRECT: where to (decoded) */
} pw_assets_intent_t;

/* 1 when `path` (decoded, from '/') names a regular file among the assets, else 0. */
typedef int (*pw_assets_exists_fn)(void *arg, const char *path);

/* The intent for `path` (decoded, starting with '/'). */
void pw_assets_intent(const pw_assets_rules_t *rules, const char *path, pw_assets_exists_fn exists,
                      void *arg, pw_assets_intent_t *out);

/* run_worker_first's list form: 1 when a pattern matches `path` and no "!pattern" does; a star
 * matches any run of characters, slashes included (e.g. "/api/" then a star). */
int pw_assets_worker_first(const char *const *patterns, size_t n, const char *path);

/* wrangler's words ("auto-trailing-slash", "single-page-application", ...) → the enum; -1 if
 * not one of them. */
int pw_assets_html_handling(const char *words);
int pw_assets_not_found(const char *words);

#endif
