/* fuzz_queue_answer.c — fuzz target: a consumer's answer to a delivered batch
 * (host/queue_answer.c), which comes from the worker's code and is not trusted. Whatever
 * the bytes, every message gets a verdict; a retry's delay is -1 (the consumer's default)
 * or within 0..the limit; a failed outcome retries every message not acknowledged.
 */
#include "fuzz.h"
#include "host/queue_answer.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DELAY 86400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ids[] = { "m0", "m1", "m2", "0123456789abcdef0123456789abcdef" };
    pw_queue_verdict_t v[4];
    memset(v, 0xaa, sizeof v);
    int ok = pw_queue_answer_parse((pw_bytes_t){ data, size }, ids, 4, MAX_DELAY, v);
    if (ok != 0 && ok != 1)
        abort();
    for (size_t i = 0; i < 4; i++)
        if ((v[i].retry != 0 && v[i].retry != 1) || v[i].delay_s < -1 || v[i].delay_s > MAX_DELAY)
            abort();
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    static const char *const seeds[] = {
        "{\"outcome\":\"ok\",\"ackAll\":false,\"retryBatch\":{\"retry\":false},\"explicitAcks\":[\"m0\"],"
        "\"retryMessages\":[{\"msgId\":\"m1\",\"delaySeconds\":7}]}",
        "{\"outcome\":\"exception\",\"ackAll\":true,\"retryBatch\":{\"retry\":false}}",
        "{\"outcome\":\"ok\",\"retryBatch\":{\"retry\":true,\"delaySeconds\":1e300}}",
        "{\"outcome\":\"ok\",\"retryMessages\":[{\"msgId\":\"m2\",\"delaySeconds\":-5},{\"msgId\":7}]}",
        "{\"outcome\":\"ok\",\"explicitAcks\":\"m0\",\"retryMessages\":{}}",
        "[1,2,3]", "null", "", "{\"outcome\":",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}
