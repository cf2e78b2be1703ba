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

/* A list of calls (base/list.h, through pw_call_t.link), oldest first. */
#define PW_CALL_OF(node) PW_CONTAINER_OF(node, pw_call_t, link)
static inline void pw_call_list_init(pw_list_t *head) { pw_list_init(head); }
static inline int pw_call_list_empty(const pw_list_t *head) { return pw_list_empty(head); }
static inline void pw_call_list_push(pw_list_t *head, pw_call_t *call) { pw_list_push_back(head, &call->link); }
static inline pw_call_t *pw_call_list_first(const pw_list_t *head) { return PW_CALL_OF(head->next); }
/* Unlinks the call (no-op when it is on no list). */
static inline void pw_call_list_remove(pw_call_t *call) { pw_list_remove(&call->link); }

/* Answers the call with an error status and text (it is done). */
void pw_call_fail(pw_call_t *call, int status, const char *text);
/* The same with a Retry-After header (seconds). */
void pw_call_fail_retry(pw_call_t *call, int status, const char *text, unsigned retry_after_s);
/* Answers every call of the list with an error status and text. */
void pw_call_list_fail(pw_list_t *head, int status, const char *text);

#endif
