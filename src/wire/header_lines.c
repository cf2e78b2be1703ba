/* header_lines.c — reading "name\nvalue\n" header lists (host process; see header_lines.h).
 * Pure functions over byte buffers, unit-tested in tests/unit/test_header_lines.c and
 * fuzzed in tests/fuzz/. Invariant: never reads outside the list.
 */
#include "wire/header_lines.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar. */
static int is_token_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int pw_http_token_ok(pw_bytes_t b)
{
    if (b.len == 0)
        return 0;
    for (size_t i = 0; i < b.len; i++)
        if (!is_token_char(b.base[i]))
            return 0;
    return 1;
}

int pw_header_value_ok(pw_bytes_t b)
{
    return !memchr(b.base, '\r', b.len) && !memchr(b.base, '\n', b.len) && !memchr(b.base, '\0', b.len);
}

int pw_message_headers_ok(const pw_message_t *msg)
{
    pw_message_t walk = *msg;
    pw_header_t h;
    while (pw_headers_next(&walk, &h))
        if (!pw_http_token_ok(h.name) || !pw_header_value_ok(h.value))
            return 0;
    return 1;
}

int pw_header_lines_next(pw_bytes_t *rest, pw_header_t *header)
{
    if (rest->len == 0)
        return 0;
    const uint8_t *p = rest->base, *end = rest->base + rest->len;
    const uint8_t *nl = memchr(p, '\n', rest->len);
    const uint8_t *nl2 = nl ? memchr(nl + 1, '\n', (size_t)(end - nl - 1)) : NULL;
    if (!nl2)
        return -1;
    header->name = (pw_bytes_t){ p, (size_t)(nl - p) };
    header->value = (pw_bytes_t){ nl + 1, (size_t)(nl2 - nl - 1) };
    if (!pw_http_token_ok(header->name) || !pw_header_value_ok(header->value))
        return -1;
    rest->base = nl2 + 1;
    rest->len = (size_t)(end - nl2 - 1);
    return 1;
}

int pw_header_lines_find(pw_bytes_t lines, const char *name, pw_bytes_t *value)
{
    size_t len = strlen(name);
    pw_header_t h;
    while (pw_header_lines_next(&lines, &h) == 1)
        if (h.name.len == len && strncasecmp((const char *)h.name.base, name, len) == 0) {
            *value = h.value;
            return 1;
        }
    return 0;
}
