/* watched_call.h — a binding call that answers later (host process, loop thread): the
 * skeleton the kinds kv, d1, memoryCache, Durable Object stubs, service bindings, fetch and
 * ws.connect share. The call keeps the isolate's port and the RPC frame's id, watches the
 * port so that the isolate's death cancels the work (the kind's cancel()), and answers
 * RPC_RESULT once. A kind's call struct has a pw_watched_call_t as its first member and adds
 * what its backend needs (the backend, its pending handle).
 * Invariant: a watched call ends exactly once — answered (reply/error/result), ended without
 * an answer (end), or cancelled because its isolate died — and is freed then; nothing
 * touches it afterwards.
 */
#ifndef PW_WATCHED_CALL_H
#define PW_WATCHED_CALL_H

#include "host/binding.h"
#include "host/port.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pw_watched_call pw_watched_call_t;
/* The isolate died before the answer: stop the work (the call is freed right after). */
typedef void (*pw_watched_cancel_fn)(pw_watched_call_t *call);

struct pw_watched_call {
    pw_port_watch_t watch;          /* first: the port's gone() gets this pointer */
    pw_port_t *port;
    uint32_t id;                    /* the RPC frame's, which the answer carries */
    pw_watched_cancel_fn cancel;
};

/* A zeroed call of `size` bytes (a kind's struct that starts with a pw_watched_call_t)
 * answering c later, its port watched. NULL once c was answered with the error "Error"
 * `out_of_memory` (the kind's own text, e.g. "KV: out of memory"). */
void *pw_watched_call_new(const pw_binding_call_t *c, size_t size, pw_watched_cancel_fn cancel,
                          const char *out_of_memory);

/* Answers with fields, and ends the call. */
void pw_watched_call_reply(pw_watched_call_t *call, const pw_bytes_t *fields, size_t n);
/* Answers with an error (as pw_port_reply_error), and ends the call. */
void pw_watched_call_error(pw_watched_call_t *call, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A backend's result: error_name set → that error with the text `error`, else the fields. */
void pw_watched_call_result(pw_watched_call_t *call, const char *error_name, const char *error,
                            const pw_bytes_t *fields, size_t n);
/* Ends the call without answering (it was answered otherwise). */
void pw_watched_call_end(pw_watched_call_t *call);

#endif
