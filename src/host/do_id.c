/* do_id.c — checking Durable Object ids (host process; see do_id.h), with OpenSSL's HMAC. */
#include "host/do_id.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>

void pw_do_id_key(const char *unique_key, uint8_t key[32])
{
    SHA256((const unsigned char *)unique_key, strlen(unique_key), key);
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (uint8_t)tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int pw_do_id_check(const uint8_t key[32], pw_bytes_t hex, char out[PW_DO_ID_HEX + 1])
{
    uint8_t raw[32], mac[32];
    unsigned mac_len = sizeof mac;
    if (hex.len != PW_DO_ID_HEX)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int hi = hex_value(hex.base[2 * i]), lo = hex_value(hex.base[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        raw[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!HMAC(EVP_sha256(), key, 32, raw, 16, mac, &mac_len) || memcmp(mac, raw + 16, 16) != 0)
        return -2;
    for (size_t i = 0; i < PW_DO_ID_HEX; i++)
        out[i] = (char)tolower(hex.base[i]);
    out[PW_DO_ID_HEX] = '\0';
    return 0;
}
