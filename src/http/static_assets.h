/* static_assets.h — a disk service that answers as Cloudflare's static assets (host process,
 * any loop): opening one from its config, the asset a request path names under its
 * _redirects rules and assets_rules.h's rules, and whether the assets or the worker take a
 * request (assets first, as on Cloudflare, unless run_worker_first says otherwise).
 */
#ifndef PW_STATIC_ASSETS_H
#define PW_STATIC_ASSETS_H

#include "base/buf.h"
#include "config/config.h"
#include "http/assets_rules.h"
#include "http/static_dir.h"

/* Opens a disk service's directory, its assets rules applied when it has disk.assets (its
 * _redirects and _headers read too; recheck: read again when they change, for --watch).
 * Returns 0, or -1 with the message in err. */
int pw_static_dir_open_service(const pw_service_t *svc, int recheck, pw_static_dir_t **out,
                               char *err, size_t err_len);

/* Where a request goes among the assets: first the _redirects rules (assets_redirects.h),
 * then html_handling and not_found_handling for the path (a 200 rule's destination in its
 * place). */
typedef struct {
    int rule_status;            /* the matching _redirects rule's status; 0: none matched */
    char location[PW_ASSETS_PATH_MAX];  /* a 3xx rule's Location, as it is sent */
    pw_assets_intent_t intent;  /* without a 3xx rule: PW_ASSETS_NONE for a path refused by
                                 * static_path.h (an escape attempt) or naming no asset */
} pw_static_route_t;

/* The route of a URL path (still percent-encoded) with its query ("?..." or empty). */
void pw_static_assets_route(const pw_static_dir_t *dir, pw_bytes_t url_path, pw_bytes_t query,
                            pw_static_route_t *out);

/* Whether the assets answer this request before the worker: a GET or HEAD that no
 * runWorkerFirst pattern sends to the worker, and that a _redirects rule, an asset or
 * html_handling's redirect answers. */
int pw_static_assets_claim(const pw_static_dir_t *dir, pw_bytes_t method, pw_bytes_t url_path);

/* The host of an absolute URL ("example.com:8080"), empty for a path. */
pw_bytes_t pw_static_url_host(const char *url, size_t len);

/* The query of a URL ("?a=1", without any "#fragment"), empty when it has none. */
pw_bytes_t pw_static_url_query(const char *url, size_t len);

/* The location of a redirect: dest (decoded) percent-encoded per segment, then the query. */
int pw_static_assets_location(const char *dest, pw_bytes_t query, char *out, size_t out_len);

#endif
