/* test_do_id.c — Durable Object ids as the host checks them (host/do_id.c): a namespace's own
 * ids pass, lower-cased; a changed digit, another namespace's key, bad hex and a bad length
 * fail; and the verified-id memory never changes an answer (ids checked again, in either
 * order, colliding in one slot, or under another key after passing under one). */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include "unit.h"
#include "host/do_id.h"

/* An id of the namespace keyed by key: 16 bytes starting with `first`, then their HMAC. */
static void make_id(const uint8_t key[32], uint8_t first, uint8_t seed, char hex[PW_DO_ID_HEX + 1])
{
    uint8_t raw[32], mac[32];
    unsigned mac_len = sizeof mac;
    raw[0] = first;
    for (int i = 1; i < 16; i++)
        raw[i] = (uint8_t)(seed * 31 + i * 7);
    HMAC(EVP_sha256(), key, 32, raw, 16, mac, &mac_len);
    memcpy(raw + 16, mac, 16);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
}

static int check(const uint8_t key[32], const char *hex)
{
    char out[PW_DO_ID_HEX + 1];
    return pw_do_id_check(key, (pw_bytes_t){ (const uint8_t *)hex, strlen(hex) }, out);
}

static void flip_last_digit(char *hex)
{
    char *c = &hex[PW_DO_ID_HEX - 1];
    *c = *c == '0' ? '1' : '0';
}

TEST(own_id_passes_and_comes_back_lower_case)
{
    uint8_t key[32];
    char hex[PW_DO_ID_HEX + 1], upper[PW_DO_ID_HEX + 1], out[PW_DO_ID_HEX + 1];
    pw_do_id_key("counters", key);
    make_id(key, 0x41, 1, hex);
    for (int i = 0; i <= PW_DO_ID_HEX; i++)
        upper[i] = (char)toupper(hex[i]);
    CHECK(pw_do_id_check(key, (pw_bytes_t){ (const uint8_t *)upper, PW_DO_ID_HEX }, out) == 0);
    CHECK_STR(out, hex);
    CHECK(check(key, hex) == 0);
    CHECK(check(key, upper) == 0);
}

TEST(changed_digit_fails_before_and_after_the_id_was_verified)
{
    uint8_t key[32];
    char hex[PW_DO_ID_HEX + 1], bad[PW_DO_ID_HEX + 1];
    pw_do_id_key("counters", key);
    make_id(key, 0x42, 2, hex);
    memcpy(bad, hex, sizeof bad);
    flip_last_digit(bad);
    CHECK(check(key, bad) == -2);
    CHECK(check(key, hex) == 0);
    CHECK(check(key, bad) == -2);
    CHECK(check(key, hex) == 0);
}

TEST(other_namespaces_id_fails_even_after_passing_in_its_own)
{
    uint8_t counters[32], rooms[32];
    char hex[PW_DO_ID_HEX + 1];
    pw_do_id_key("counters", counters);
    pw_do_id_key("chat-rooms", rooms);
    make_id(counters, 0x43, 3, hex);
    CHECK(check(counters, hex) == 0);
    CHECK(check(rooms, hex) == -2);
    CHECK(check(counters, hex) == 0);
    CHECK(check(rooms, hex) == -2);
}

TEST(ids_sharing_a_slot_both_keep_passing)
{
    uint8_t key[32];
    char a[PW_DO_ID_HEX + 1], b[PW_DO_ID_HEX + 1], b_bad[PW_DO_ID_HEX + 1];
    pw_do_id_key("counters", key);
    make_id(key, 0x44, 4, a);       /* the same first byte: the same slot */
    make_id(key, 0x44, 5, b);
    memcpy(b_bad, b, sizeof b_bad);
    flip_last_digit(b_bad);
    for (int round = 0; round < 3; round++) {
        CHECK(check(key, a) == 0);
        CHECK(check(key, b) == 0);
        CHECK(check(key, b_bad) == -2);
    }
}

TEST(bad_hex_and_bad_length_fail_with_minus_one)
{
    uint8_t key[32];
    char hex[PW_DO_ID_HEX + 1];
    pw_do_id_key("counters", key);
    make_id(key, 0x45, 6, hex);
    hex[10] = 'g';
    CHECK(check(key, hex) == -1);
    CHECK(check(key, "abcd") == -1);
    CHECK(check(key, "") == -1);
}

int main(void)
{
    RUN(own_id_passes_and_comes_back_lower_case);
    RUN(changed_digit_fails_before_and_after_the_id_was_verified);
    RUN(other_namespaces_id_fails_even_after_passing_in_its_own);
    RUN(ids_sharing_a_slot_both_keep_passing);
    RUN(bad_hex_and_bad_length_fail_with_minus_one);
    return UNIT_DONE();
}
