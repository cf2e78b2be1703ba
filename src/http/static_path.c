/* static_path.c — URL path → relative file path, refusing every way out of the directory
 * (host process; see static_path.h). Segments are decoded one at a time into `out`, then
 * judged as a whole: a rule is never applied to half-decoded text.
 * Invariant: what pw_static_path writes has no "." or ".." segment, no empty segment, no NUL,
 * and does not start with '/'.
 */
#include "http/static_path.h"

#include <string.h>

int pw_static_url_path(const char *url, size_t len, const char **path, size_t *path_len)
{
    const char *end = url + len, *p = url;
    const char *scheme_end = memchr(url, ':', len);
    if (scheme_end && end - scheme_end >= 3 && memcmp(scheme_end, "://", 3) == 0) {
        p = scheme_end + 3;
        while (p < end && *p != '/' && *p != '?' && *p != '#')
            p++;
        if (p == end || *p != '/') {    /* "https://host" or "https://host?q": the root */
            *path = "/";
            *path_len = 1;
            return 0;
        }
    }
    if (p == end || *p != '/')
        return -1;
    const char *stop = p;
    while (stop < end && *stop != '?' && *stop != '#')
        stop++;
    *path = p;
    *path_len = (size_t)(stop - p);
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one segment into out[0..room): its length, or -1 (malformed escape, no room). */
static int decode_segment(const char *s, size_t len, char *out, size_t room)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n == room)
            return -1;
        out[n++] = c;
    }
    return (int)n;
}

/* Whether a decoded segment may name something in the directory. */
static int segment_allowed(const char *seg, size_t len, int allow_dotfiles)
{
    if (memchr(seg, '/', len) || memchr(seg, '\0', len))
        return 0;
    if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        return 0;
    return allow_dotfiles || seg[0] != '.';
}

int pw_static_path(const char *path, size_t len, int allow_dotfiles, char *out, size_t out_len)
{
    size_t used = 0, i = 0;
    int segments = 0;
    if (out_len == 0 || len == 0 || path[0] != '/')
        return -1;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (i == start)
            break;
        size_t sep = segments ? 1 : 0;
        if (used + sep >= out_len)
            return -1;
        if (sep)
            out[used++] = '/';
        int n = decode_segment(path + start, i - start, out + used, out_len - 1 - used);
        if (n <= 0 || !segment_allowed(out + used, (size_t)n, allow_dotfiles))
            return -1;
        used += (size_t)n;
        segments++;
    }
    out[used] = '\0';
    return segments;
}
