/* queue_answer.h — what a consumer's answer to a delivered batch means for each message
 * (host process). The isolate answers the `__queue__` CALL with workerd's queue event result
 * as JSON: {"outcome": "ok"|"exception"|..., "ackAll": bool, "retryBatch": {"retry": bool,
 * "delaySeconds": n}, "explicitAcks": [id...], "retryMessages": [{"msgId": id,
 * "delaySeconds": n}...]}. The answer comes from the worker's code and is not trusted: any
 * shape decodes to a verdict, and one that is not the above fails the whole batch.
 * The rules (workerd's and wrangler's): an explicitly acknowledged message is done; after a
 * failed outcome, retryAll() or its own retry() a message is retried (its own delay, else
 * the batch's, else the consumer's retry_delay); every other message is done.
 */
#ifndef PW_QUEUE_ANSWER_H
#define PW_QUEUE_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct {
    int retry;                  /* 0: done (acknowledged) */
    int64_t delay_s;            /* retry: its delay in seconds; -1: the consumer's retry_delay */
} pw_queue_verdict_t;

/* Decodes `answer` for the batch's n messages (ids[i] is message i's id) into verdicts[n].
 * Returns 1 when the outcome was "ok", 0 when the batch failed (every message not
 * explicitly acknowledged is retried). Delays are clamped to 0..max_delay_s. */
int pw_queue_answer_parse(pw_bytes_t answer, const char *const *ids, size_t n,
                          int64_t max_delay_s, pw_queue_verdict_t *verdicts);

#endif
