/* fuzz_byte_range.c — fuzz target: the Range header a client sends for a static file
 * (http/byte_range.c). Input: one byte choosing the file's size, then the header value.
 * Whatever the value, a part lies inside the file, and the parser reads only the value.
 */
#include "fuzz.h"
#include "http/byte_range.h"

#include <stdlib.h>
#include <string.h>

static const uint64_t sizes[] = { 0, 1, 2, 10, 1000, 1u << 20, UINT64_MAX, UINT64_MAX / 2 + 1 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint64_t file_size = sizes[data[0] % (sizeof sizes / sizeof sizes[0])];
    pw_byte_range_t r = { 0, 0 };
    pw_range_result_t got = pw_byte_range_parse((const char *)data + 1, size - 1, file_size, &r);
    if (got != PW_RANGE_WHOLE && got != PW_RANGE_PART && got != PW_RANGE_UNSATISFIABLE)
        abort();
    if (got == PW_RANGE_PART && (r.first > r.last || r.last >= file_size))
        abort();
    if (got == PW_RANGE_PART && r.first == 0 && r.last == file_size - 1)
        abort();    /* the whole file is a 200, never a 206 */
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    static const char *const seeds[] = {
        "\x03" "bytes=0-4", "\x03" "bytes=-3", "\x03" "bytes=5-", "\x04" "bytes=1-2,5-9,-1",
        "\x03" "Bytes = 1 - 2 ", "\x06" "bytes=0-18446744073709551615", "\x07" "bytes=-1",
        "\x03" "bytes=18446744073709551616-", "\x00" "bytes=0-0", "\x03" "items=0-1",
        "\x03" "bytes=", "\x03" "bytes=4-2", "\x03" "bytes=,", "\x05" "bytes=0-0,-0,1-",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]) + (seeds[i][0] == 0 ? 10 : 0));
}
