/* static_assets.c — a disk service as Cloudflare's static assets (host process, any loop; see
 * static_assets.h). The URL path, as sent, meets the directory's _redirects rules first
 * (assets_files.h); then it (or a 200 rule's destination) is checked and decoded by
 * static_path.c (escapes refused there) and routed by assets_rules.c, whose `exists` opens
 * each candidate beneath the directory (static_dir.c, openat2 RESOLVE_BENEATH) and keeps it
 * only if it is a regular file other than _redirects and _headers.
 * Invariant: no candidate path reaches the file system but through pw_static_dir_open_file.
 */
#include "http/static_assets.h"
#include "base/err.h"
#include "http/static_path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pw_static_dir_open_service(const pw_service_t *svc, int recheck, pw_static_dir_t **out,
                               char *err, size_t err_len)
{
    if (pw_static_dir_open(svc->name, svc->disk_path, svc->disk_writable, svc->disk_allow_dotfiles,
                           out, err, err_len) < 0)
        return -1;
    if (!svc->disk_assets)
        return 0;
    int rc = pw_static_dir_set_assets(*out, svc->assets_html_handling, svc->assets_not_found_handling,
                                      svc->assets_worker_first, svc->n_assets_worker_first);
    if (rc == 0 && pw_static_dir_load_rules_files(*out, recheck, err, err_len) == 0)
        return 0;
    pw_static_dir_free(*out);
    *out = NULL;
    if (rc == 0)
        return -1;                  /* err: "public/_redirects:3: why" */
    return pw_err_set(err, err_len, "service %s: disk.assets: %s", svc->name, rc == -EINVAL
                      ? "htmlHandling or notFoundHandling is none of wrangler's words"
                      : "out of memory");
}

/* A regular file among the assets; the rules files are none. */
static int regular_file(void *arg, const char *path)
{
    struct stat st;
    if (pw_assets_files_hidden(path))
        return 0;
    int fd = pw_static_dir_open_file(arg, path + 1);
    int yes = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (fd >= 0)
        close(fd);
    return yes;
}

/* "/" + the checked, decoded path, with the URL's trailing slash kept; -1 when refused. */
static int decoded_path(const pw_static_dir_t *dir, pw_bytes_t url_path, char *out, size_t len)
{
    int segments = pw_static_path((const char *)url_path.base, url_path.len,
                                  pw_static_dir_dotfiles(dir), out + 1, len - 2);
    if (segments < 0)
        return -1;
    out[0] = '/';
    size_t n = strlen(out);
    if (segments > 0 && url_path.len > 1 && url_path.base[url_path.len - 1] == '/') {
        out[n] = '/';
        out[n + 1] = '\0';
    }
    return 0;
}

/* html_handling and not_found_handling for a URL path (still percent-encoded). */
static void path_intent(const pw_static_dir_t *dir, const char *url_path, size_t len,
                        pw_assets_intent_t *out)
{
    char path[PW_STATIC_PATH_MAX + 2];
    memset(out, 0, sizeof *out);
    if (decoded_path(dir, (pw_bytes_t){ (const uint8_t *)url_path, len }, path, sizeof path) < 0)
        return;
    pw_assets_intent(pw_static_dir_assets(dir), path, regular_file, (void *)dir, out);
}

void pw_static_assets_route(const pw_static_dir_t *dir, pw_bytes_t url_path, pw_bytes_t query,
                            pw_static_route_t *out)
{
    pw_assets_files_t *files = pw_static_dir_rules_files(dir);
    pw_url_captures_t caps;
    pw_assets_files_refresh(files);
    const pw_redirect_t *rule = pw_redirects_find(pw_assets_files_redirects(files),
                                                  (const char *)url_path.base, url_path.len, &caps);
    out->rule_status = 0;
    out->location[0] = '\0';
    if (rule && pw_redirects_target(rule, &caps, query, out->location, sizeof out->location) == 0)
        out->rule_status = rule->status;
    if (out->rule_status == 200)
        path_intent(dir, out->location, strlen(out->location), &out->intent);
    else if (out->rule_status)
        memset(&out->intent, 0, sizeof out->intent);
    else
        path_intent(dir, (const char *)url_path.base, url_path.len, &out->intent);
}

int pw_static_assets_claim(const pw_static_dir_t *dir, pw_bytes_t method, pw_bytes_t url_path)
{
    char path[PW_STATIC_PATH_MAX + 2];
    if (!pw_bytes_is(method, "GET") && !pw_bytes_is(method, "HEAD"))
        return 0;
    if (decoded_path(dir, url_path, path, sizeof path) < 0 || pw_static_dir_worker_first(dir, path))
        return 0;
    pw_static_route_t route;
    pw_static_assets_route(dir, url_path, (pw_bytes_t){ (const uint8_t *)"", 0 }, &route);
    return route.rule_status != 0 || route.intent.action != PW_ASSETS_NONE;
}

static int unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-_.!~*'()", c) != NULL;
}

pw_bytes_t pw_static_url_host(const char *url, size_t len)
{
    size_t i = 0;
    while (i < len && url[i] != ':' && url[i] != '/')
        i++;                                /* the scheme */
    if (i + 3 > len || url[i] != ':' || url[i + 1] != '/' || url[i + 2] != '/')
        return (pw_bytes_t){ (const uint8_t *)"", 0 };
    size_t start = i + 3, end = start;
    while (end < len && url[end] != '/' && url[end] != '?' && url[end] != '#')
        end++;
    return (pw_bytes_t){ (const uint8_t *)url + start, end - start };
}

pw_bytes_t pw_static_url_query(const char *url, size_t len)
{
    const char *q = memchr(url, '?', len);
    if (!q)
        return (pw_bytes_t){ (const uint8_t *)"", 0 };
    const char *hash = memchr(q, '#', len - (size_t)(q - url));
    return (pw_bytes_t){ (const uint8_t *)q, (size_t)((hash ? hash : url + len) - q) };
}

int pw_static_assets_location(const char *dest, pw_bytes_t query, char *out, size_t out_len)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)dest; *p; p++) {
        if (n + 4 >= out_len)
            return -ENAMETOOLONG;
        if (*p == '/' || unreserved(*p))
            out[n++] = (char)*p;
        else
            n += (size_t)snprintf(out + n, out_len - n, "%%%02X", *p);
    }
    if (n + query.len + 1 > out_len)
        return -ENAMETOOLONG;
    memcpy(out + n, query.base, query.len);
    out[n + query.len] = '\0';
    return 0;
}
