/* queue_answer.c — a consumer's answer to a batch, message by message (host process, loop
 * thread; see queue_answer.h). The JSON is parsed once; ids are matched against the
 * batch's own (an id the batch does not hold is ignored).
 * Invariant: every verdict is written, whatever the answer holds.
 */
#include "host/queue_answer.h"

#include <cJSON.h>
#include <string.h>

static int index_of(const char *id, const char *const *ids, size_t n)
{
    for (size_t i = 0; id && i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return (int)i;
    return -1;
}

/* A delaySeconds member of obj, clamped; -1 when absent or not a number. */
static int64_t delay_of(const cJSON *obj, int64_t max_delay_s)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(obj, "delaySeconds");
    if (!cJSON_IsNumber(d) || d->valuedouble != d->valuedouble)
        return -1;
    if (d->valuedouble <= 0)
        return 0;
    return d->valuedouble >= (double)max_delay_s ? max_delay_s : (int64_t)d->valuedouble;
}

#define MAX_MESSAGES 256

static void mark_retries(const cJSON *list, const char *const *ids, size_t n, int64_t max_delay_s,
                         pw_queue_verdict_t *v, const uint8_t *done)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, (cJSON_IsArray(list) ? list : NULL)) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "msgId");
        int i = index_of(cJSON_IsString(id) ? id->valuestring : NULL, ids, n);
        if (i >= 0 && !done[i])
            v[i] = (pw_queue_verdict_t){ 1, delay_of(item, max_delay_s) };
    }
}

int pw_queue_answer_parse(pw_bytes_t answer, const char *const *ids, size_t n,
                          int64_t max_delay_s, pw_queue_verdict_t *v)
{
    uint8_t done[MAX_MESSAGES] = { 0 };     /* explicitly acknowledged */
    size_t matched = n < MAX_MESSAGES ? n : MAX_MESSAGES;
    cJSON *root = cJSON_ParseWithLength((const char *)answer.base, answer.len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = NULL;
    }
    const cJSON *outcome = cJSON_GetObjectItemCaseSensitive(root, "outcome");
    int ok = cJSON_IsString(outcome) && strcmp(outcome->valuestring, "ok") == 0;
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(root, "retryBatch");
    int retry_all = !ok || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(batch, "retry"));
    int ack_all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "ackAll")) &&
                  !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(batch, "retry"));
    int64_t batch_delay = delay_of(batch, max_delay_s);
    const cJSON *acks = cJSON_GetObjectItemCaseSensitive(root, "explicitAcks"), *item;
    cJSON_ArrayForEach(item, (cJSON_IsArray(acks) ? acks : NULL)) {
        int i = index_of(cJSON_IsString(item) ? item->valuestring : NULL, ids, matched);
        if (i >= 0)
            done[i] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (i < matched && ack_all)
            done[i] = 1;
        v[i] = (pw_queue_verdict_t){ !(i < matched && done[i]) && retry_all, batch_delay };
    }
    mark_retries(cJSON_GetObjectItemCaseSensitive(root, "retryMessages"), ids, matched,
                 max_delay_s, v, done);
    cJSON_Delete(root);
    return ok;
}
