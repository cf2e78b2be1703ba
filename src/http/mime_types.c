/* mime_types.c — the extension → Content-Type table (host process; see mime_types.h). The
 * table is sorted by extension and searched with bsearch; extensions compare without case.
 * Invariant: `types` stays sorted (tests/unit/test_static_files.c checks it).
 */
#include "http/mime_types.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *ext;
    const char *type;
} mime_t;

#define UTF8 "; charset=utf-8"

static const mime_t types[] = {
    { "7z", "application/x-7z-compressed" },
    { "aac", "audio/aac" },
    { "apng", "image/apng" },
    { "atom", "application/atom+xml" },
    { "avif", "image/avif" },
    { "bin", "application/octet-stream" },
    { "bmp", "image/bmp" },
    { "bz2", "application/x-bzip2" },
    { "cjs", "text/javascript" UTF8 },
    { "css", "text/css" UTF8 },
    { "csv", "text/csv" UTF8 },
    { "eot", "application/vnd.ms-fontobject" },
    { "epub", "application/epub+zip" },
    { "flac", "audio/flac" },
    { "gif", "image/gif" },
    { "gz", "application/gzip" },
    { "htm", "text/html" UTF8 },
    { "html", "text/html" UTF8 },
    { "ico", "image/x-icon" },
    { "ics", "text/calendar" UTF8 },
    { "jpeg", "image/jpeg" },
    { "jpg", "image/jpeg" },
    { "js", "text/javascript" UTF8 },
    { "json", "application/json" UTF8 },
    { "jsonld", "application/ld+json" UTF8 },
    { "map", "application/json" UTF8 },
    { "md", "text/markdown" UTF8 },
    { "mid", "audio/midi" },
    { "midi", "audio/midi" },
    { "mjs", "text/javascript" UTF8 },
    { "mp3", "audio/mpeg" },
    { "mp4", "video/mp4" },
    { "mpeg", "video/mpeg" },
    { "oga", "audio/ogg" },
    { "ogg", "audio/ogg" },
    { "ogv", "video/ogg" },
    { "opus", "audio/opus" },
    { "otf", "font/otf" },
    { "pdf", "application/pdf" },
    { "png", "image/png" },
    { "py", "text/x-python" UTF8 },
    { "rss", "application/rss+xml" },
    { "rtf", "application/rtf" },
    { "svg", "image/svg+xml" },
    { "tar", "application/x-tar" },
    { "tif", "image/tiff" },
    { "tiff", "image/tiff" },
    { "toml", "application/toml" UTF8 },
    { "ts", "video/mp2t" },
    { "ttf", "font/ttf" },
    { "txt", "text/plain" UTF8 },
    { "wasm", "application/wasm" },
    { "wav", "audio/wav" },
    { "weba", "audio/webm" },
    { "webm", "video/webm" },
    { "webmanifest", "application/manifest+json" },
    { "webp", "image/webp" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "xhtml", "application/xhtml+xml" UTF8 },
    { "xml", "application/xml" UTF8 },
    { "yaml", "application/yaml" UTF8 },
    { "yml", "application/yaml" UTF8 },
    { "zip", "application/zip" },
    { "zst", "application/zstd" },
};

static int compare(const void *key, const void *entry)
{
    return strcasecmp(key, ((const mime_t *)entry)->ext);
}

const char *pw_mime_type(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || !dot[1])
        return PW_MIME_DEFAULT;
    const mime_t *m = bsearch(dot + 1, types, sizeof types / sizeof types[0], sizeof types[0], compare);
    return m ? m->type : PW_MIME_DEFAULT;
}

const char *pw_mime_table_ext(size_t i)
{
    return i < sizeof types / sizeof types[0] ? types[i].ext : NULL;
}
