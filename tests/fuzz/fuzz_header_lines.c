/* fuzz_header_lines.c — fuzz target: "name\nvalue\n" header lists from isolates (fetch()
 * request headers; wire/header_lines.c). Whatever the input, an accepted header has a token
 * name and a value without CR, LF or NUL, and the walk stays inside the input.
 */
#include "fuzz.h"
#include "wire/header_lines.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pw_bytes_t rest = { data, size }, value;
    pw_header_t h;
    while (pw_header_lines_next(&rest, &h) == 1) {
        if (h.name.len == 0 || memchr(h.name.base, '\n', h.name.len) || memchr(h.name.base, ':', h.name.len) ||
            memchr(h.value.base, '\r', h.value.len) || memchr(h.value.base, '\n', h.value.len) ||
            memchr(h.value.base, '\0', h.value.len))
            abort();
    }
    pw_header_lines_find((pw_bytes_t){ data, size }, "cf-kv-metadata", &value);
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    static const char *const seeds[] = {
        "content-type\ntext/plain\nx-a\n\n",
        "CF-KV-Metadata\n{\"a\":1}\n",
        "bad name\nv\n",
        "x\nvalue with \r inside\n",
        "x\n",
        "",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}
