/* mime_types.h — a file's Content-Type from its name's extension (host process; a constant
 * table, safe from any thread). Text types carry "; charset=utf-8", as Cloudflare's static
 * assets and nginx's usual configuration send them. An unknown or missing extension is
 * "application/octet-stream", what workerd's disk service sends for every file.
 */
#ifndef PW_MIME_TYPES_H
#define PW_MIME_TYPES_H

#include <stddef.h>

#define PW_MIME_DEFAULT "application/octet-stream"

/* The type for a path ("css/site.css" → "text/css; charset=utf-8"); never NULL. */
const char *pw_mime_type(const char *path);

/* The table's i-th extension, in its order, or NULL past its end (for its unit test). */
const char *pw_mime_table_ext(size_t i);

#endif
