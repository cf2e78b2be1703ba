/* test_request_id.c — request ids (http/request_id.h): never 0, distinct and in order within
 * a run, and shown on log lines as "req=" and 16 hex digits. */
#include <inttypes.h>
#include <stdio.h>
#include "unit.h"
#include "base/log.h"
#include "http/request_id.h"

TEST(ids_are_nonzero_consecutive_and_share_the_run_prefix)
{
    uint64_t first = pw_request_id_next();
    CHECK(first != 0);
    uint64_t prev = first;
    for (int i = 0; i < 1000; i++) {
        uint64_t id = pw_request_id_next();
        CHECK(id == prev + 1);
        prev = id;
    }
    CHECK(prev >> 32 == first >> 32);   /* the counter starts at 1: no carry so soon */
    CHECK((first & 0xffffffffu) == 1);
}

TEST(an_id_is_shown_as_req_and_16_hex_digits)
{
    char text[32];
    snprintf(text, sizeof text, PW_LOG_REQUEST_ID, (uint64_t)0xab00000001ull);
    CHECK_STR(text, "req=000000ab00000001");
}

int main(void)
{
    RUN(ids_are_nonzero_consecutive_and_share_the_run_prefix);
    RUN(an_id_is_shown_as_req_and_16_hex_digits);
    return UNIT_DONE();
}
