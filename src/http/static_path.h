/* static_path.h — from a request's URL to the file it names under a served directory (host
 * process; pure functions, no file system: tests/unit/test_static_path.c calls them as they are).
 *
 * The first line of defence against path escapes: every segment is percent-decoded on its
 * own and refused when it is "." or ".." (typed or encoded), holds a '/' or NUL once decoded
 * (%2F, %00), has a malformed escape, or starts with '.' without allowDotfiles (workerd's
 * disk service). The second line is the kernel's: static_dir.c opens the result with
 * openat2(RESOLVE_BENEATH), so a symlink cannot lead out either.
 */
#ifndef PW_STATIC_PATH_H
#define PW_STATIC_PATH_H

#include <stddef.h>

#define PW_STATIC_PATH_MAX 4096

/* The path of a URL ("scheme://authority/path?query#f" or "/path?query"): sets *path and
 * *path_len to the part before '?' or '#'. Returns 0, or -1 when the URL has no such path. */
int pw_static_url_path(const char *url, size_t len, const char **path, size_t *path_len);

/* The URL path (percent-encoded, starting with '/') as a path relative to the directory:
 * "" for the directory itself, "a/b" for "/a/b", "/a/b/" or "/a//b". Returns the number of
 * segments (0 for the directory), or -1 when refused (see above) or longer than out_len - 1. */
int pw_static_path(const char *path, size_t len, int allow_dotfiles, char *out, size_t out_len);

#endif
