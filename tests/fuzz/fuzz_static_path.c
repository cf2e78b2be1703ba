/* fuzz_static_path.c — fuzz target: the URL a client asks a disk service for, as a file path
 * under its directory (http/static_path.c). Whatever the URL, an accepted path has no "." or
 * ".." segment, no empty segment, no NUL, does not start with '/', and (without
 * allowDotfiles) no segment starting with '.': it cannot name anything outside by itself.
 */
#include "fuzz.h"
#include "http/static_path.h"

#include <stdlib.h>
#include <string.h>

static void check_segments(const char *rel, int segments, int dotfiles)
{
    int seen = 0;
    if (rel[0] == '/')
        abort();
    for (const char *p = rel; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.') ||
            (!dotfiles && p[0] == '.'))
            abort();
        seen++;
        p += len + (slash ? 1 : 0);
        if (slash && !*p)
            abort();    /* a trailing '/' */
    }
    if (seen != segments)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[PW_STATIC_PATH_MAX];
    const char *path;
    size_t path_len;
    if (pw_static_url_path((const char *)data, size, &path, &path_len) < 0)
        return 0;
    int inside = path >= (const char *)data && path + path_len <= (const char *)data + size;
    if ((!inside && !(path_len == 1 && path[0] == '/')) || path_len == 0 || path[0] != '/')
        abort();    /* a slice of the URL, or "/" for a URL naming only its host */
    for (int dotfiles = 0; dotfiles < 2; dotfiles++) {
        int segments = pw_static_path(path, path_len, dotfiles, out, sizeof out);
        if (segments < 0)
            continue;
        if (strlen(out) >= sizeof out || memchr(out, '\0', strlen(out)))
            abort();
        check_segments(out, segments, dotfiles);
    }
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    static const char *const seeds[] = {
        "https://example.com/a/b.txt?x=1", "/", "/../etc/passwd", "/%2e%2e/%2E%2e/x",
        "/a%2Fb", "/a%00b", "/.env", "/.well-known/x", "//double//slash/", "http://h",
        "/caf%C3%A9", "/%", "/%2", "/a/./b", "x://y/..%2f..%2f",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}
