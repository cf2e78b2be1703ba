/* do_id.c — checking Durable Object ids (host process; see do_id.h), with OpenSSL's HMAC.
 * The host checks the same few ids over and over (every call to a busy object), and one HMAC
 * through OpenSSL 3 costs ~22,000 instructions, so each loop thread remembers the ids it has
 * verified. Invariant: a remembered id passed the HMAC under the key it is remembered with,
 * and a hit needs key and id both equal, so the answer is always the HMAC's. */
#include "host/do_id.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <string.h>

/* Direct-mapped on the id's first byte (random, or an HMAC of the name: spread evenly). */
#define VERIFIED_SLOTS 256

typedef struct {
    uint8_t key[32];
    uint8_t raw[32];
    bool used;
} verified_id_t;

static _Thread_local verified_id_t verified[VERIFIED_SLOTS];

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

static bool verified_before(const uint8_t key[32], const uint8_t raw[32])
{
    const verified_id_t *slot = &verified[raw[0]];
    return slot->used && memcmp(slot->raw, raw, 32) == 0 && memcmp(slot->key, key, 32) == 0;
}

/* The id's last 16 bytes are the HMAC of its first 16 under key; remembered when they are. */
static bool verify_and_remember(const uint8_t key[32], const uint8_t raw[32])
{
    uint8_t mac[32];
    unsigned mac_len = sizeof mac;
    if (!HMAC(EVP_sha256(), key, 32, raw, 16, mac, &mac_len) || memcmp(mac, raw + 16, 16) != 0)
        return false;
    verified_id_t *slot = &verified[raw[0]];
    memcpy(slot->key, key, 32);
    memcpy(slot->raw, raw, 32);
    slot->used = true;
    return true;
}

int pw_do_id_check(const uint8_t key[32], pw_bytes_t hex, char out[PW_DO_ID_HEX + 1])
{
    uint8_t raw[32];
    if (hex.len != PW_DO_ID_HEX)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int hi = hex_value(hex.base[2 * i]), lo = hex_value(hex.base[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        raw[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!verified_before(key, raw) && !verify_and_remember(key, raw))
        return -2;
    for (size_t i = 0; i < PW_DO_ID_HEX; i++)
        out[i] = (char)tolower(hex.base[i]);
    out[PW_DO_ID_HEX] = '\0';
    return 0;
}
