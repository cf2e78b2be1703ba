/* call.h — the host's side of a call (host process): the lists a call waits in (the pool's
 * queue, an isolate's calls in flight) and answering it with an error. The call itself —
 * the asker's callbacks and its state — is http/call.h's pw_call_t. Calls live in memory
 * the caller owns (h2o's request pool).
 * Invariant: a call is answered exactly once (a streamed answer also ended exactly once).
 */
#ifndef PW_CALL_H
#define PW_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "http/call.h"

typedef struct pw_child pw_child_t;

/* A list of calls: a circular doubly-linked list whose sentinel is a call. */
void pw_call_list_init(pw_call_t *head);
int pw_call_list_empty(const pw_call_t *head);
void pw_call_list_push(pw_call_t *head, pw_call_t *call);
/* Unlinks the call (it then forms a list of its own). */
void pw_call_list_remove(pw_call_t *call);

/* Answers the call with an error status and text (it is done). */
void pw_call_fail(pw_call_t *call, int status, const char *text);
/* The same with a Retry-After header (seconds). */
void pw_call_fail_retry(pw_call_t *call, int status, const char *text, unsigned retry_after_s);
/* Answers every call of the list with an error status and text. */
void pw_call_list_fail(pw_call_t *head, int status, const char *text);

#endif
