/* call.h — one HTTP request on its way to a worker's isolate (host process): the caller's
 * callbacks, the call's state, and the lists it waits in (the pool's queue, an isolate's
 * calls in flight). Calls live in memory the caller owns (h2o's request pool).
 * Invariant: a call is answered exactly once (a streamed answer also ended exactly once).
 */
#ifndef PW_CALL_H
#define PW_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "wire/frame.h"

typedef struct pw_call pw_call_t;
typedef struct pw_child pw_child_t;

/* Appends this call's REQUEST frame (with id call->id) to out; returns 0 or -errno. */
typedef int (*pw_call_encode_cb)(pw_call_t *call, pw_buf_t *out);
/* Delivers the answer exactly once: the isolate's response, or (response == NULL) an error
 * status with a plain-text explanation. */
typedef void (*pw_call_respond_cb)(pw_call_t *call, pw_message_t *response, int error_status,
                                   const char *error_text);
/* A streamed answer (respond() got a response with PW_FRAME_FLAG_STREAM): the call stays in
 * flight (PW_CALL_STREAMING) and gets chunk() for each piece of the body, then end() exactly
 * once; aborted != 0 when the worker failed or its isolate died mid-stream. The caller
 * returns each chunk's bytes with pw_pool_ack() once the client has taken them; chunk()
 * returns -1 when the isolate sent more than its flow-control window (it is then killed). */
typedef int (*pw_call_chunk_cb)(pw_call_t *call, const uint8_t *data, size_t len);
typedef void (*pw_call_end_cb)(pw_call_t *call, int aborted);

enum { PW_CALL_NEW, PW_CALL_QUEUED, PW_CALL_SENT, PW_CALL_DONE, PW_CALL_STREAMING };

struct pw_call {
    pw_call_t *prev, *next;     /* in the pool's queue or the isolate's in-flight list */
    uint32_t id;
    int state;
    uint64_t start_ms;          /* loop time of pw_pool_submit, for --request-timeout */
    pw_child_t *isolate;
    pw_call_encode_cb encode;
    pw_call_respond_cb respond;
    pw_call_chunk_cb chunk;
    pw_call_end_cb end;
    uint64_t trace_ns;          /* PYTHON_TRACE: when submitted, then when dispatched */
    unsigned retry_after_s;     /* with an error status: a Retry-After header; 0: none */
};

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
