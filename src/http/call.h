/* call.h — one request to a worker while it is in flight (host process): the contract
 * between whatever asks (an HTTP listener, a service binding, a workflow step, the test
 * runner) and what runs it (the host's pool, host/pool.h). The asker owns the memory and
 * fills in the callbacks; the runner fills in the rest. http/ defines it so that the HTTP
 * server needs nothing of the host: its listeners hand calls to a pw_http_worker_ops_t.
 */
#ifndef PW_HTTP_CALL_H
#define PW_HTTP_CALL_H

#include "base/buf.h"
#include "base/list.h"
#include "http/ws_side.h"
#include "wire/frame.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pw_call pw_call_t;

/* Appends this call's REQUEST (or CALL) frame, with id call->id and call->request_id, to
 * out; returns 0 or -errno. */
typedef int (*pw_call_encode_cb)(pw_call_t *call, pw_buf_t *out);
/* Delivers the answer exactly once: the isolate's response, or (response == NULL) an error
 * status with a plain-text explanation. */
typedef void (*pw_call_respond_cb)(pw_call_t *call, pw_message_t *response, int error_status,
                                   const char *error_text);
/* A streamed answer (respond() got a response with PW_FRAME_FLAG_STREAM): the call stays in
 * flight (PW_CALL_STREAMING) and gets chunk() for each piece of the body, then end() exactly
 * once; aborted != 0 when the worker failed or its isolate died mid-stream. The caller
 * returns each chunk's bytes with the runner's ack once the client has taken them; chunk()
 * returns -1 when the isolate sent more than its flow-control window (it is then killed). */
typedef int (*pw_call_chunk_cb)(pw_call_t *call, const uint8_t *data, size_t len);
typedef void (*pw_call_end_cb)(pw_call_t *call, int aborted);

enum { PW_CALL_NEW, PW_CALL_QUEUED, PW_CALL_SENT, PW_CALL_DONE, PW_CALL_STREAMING };

struct pw_call {
    pw_list_t link;             /* the runner's: in its queue or an isolate's in-flight list */
    uint32_t id;                /* the runner's: pairs the frame with its answer */
    uint64_t request_id;        /* the asker's: the id on its log lines (http/request_id.h) */
    int state;
    uint64_t start_ms;          /* loop time it was submitted, for --request-timeout */
    struct pw_child *isolate;   /* the runner's: the isolate it was sent to (host/child.h) */
    pw_call_encode_cb encode;
    pw_call_respond_cb respond;
    pw_call_chunk_cb chunk;
    pw_call_end_cb end;
    uint64_t trace_ns;          /* PYTHON_TRACE: when submitted, then when dispatched */
    unsigned retry_after_s;     /* with an error status: a Retry-After header; 0: none */
    struct pw_pool_pin *pin;    /* the runner's: the isolate it must reach (host/pool_pin.h) */
    /* A response with PW_FRAME_FLAG_WEBSOCKET: the isolate's end of the socket, for respond()
     * to link to its own (left unlinked, the isolate is told the socket closed). */
    pw_ws_side_t *ws;
};

/* What a listener routes its requests to (in the host: a worker's pool). `worker` is the
 * runner's own object; the server only passes it back. */
typedef struct {
    void (*submit)(void *worker, pw_call_t *call);
    /* Withdraws a call the asker is about to free before it was answered. */
    void (*cancel)(pw_call_t *call);
    /* Returns `bytes` of a streamed body's window once the client took them. */
    void (*ack)(pw_call_t *call, size_t bytes);
    /* The worker's name, for the access log and errors. */
    const char *(*name)(const void *worker);
} pw_http_worker_ops_t;

#endif
