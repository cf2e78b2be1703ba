/* watched_call.c — a binding call that answers later (host process, loop thread): its
 * allocation, the watch on the isolate's port, the one answer; see watched_call.h.
 * Invariant: the watch is taken before the kind starts its work and dropped only in end(),
 * so that an isolate dying at any point after new() cancels the work exactly once.
 */
#include "host/watched_call.h"

#include <stdarg.h>
#include <stdlib.h>

static void watched_gone(pw_port_watch_t *watch)
{
    pw_watched_call_t *call = (pw_watched_call_t *)watch;
    call->cancel(call);
    pw_watched_call_end(call);
}

void *pw_watched_call_new(const pw_binding_call_t *c, size_t size, pw_watched_cancel_fn cancel,
                          const char *out_of_memory)
{
    pw_watched_call_t *call = calloc(1, size < sizeof *call ? sizeof *call : size);
    if (!call) {
        pw_port_reply_error(c->port, c->id, "Error", "%s", out_of_memory);
        return NULL;
    }
    call->port = c->port;
    call->id = c->id;
    call->cancel = cancel;
    pw_port_watch(c->port, &call->watch, watched_gone);
    return call;
}

void pw_watched_call_end(pw_watched_call_t *call)
{
    pw_port_unwatch(call->port, &call->watch);
    free(call);
}

void pw_watched_call_reply(pw_watched_call_t *call, const pw_bytes_t *fields, size_t n)
{
    pw_port_reply(call->port, call->id, fields, n);
    pw_watched_call_end(call);
}

void pw_watched_call_error(pw_watched_call_t *call, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_port_reply_verror(call->port, call->id, name, fmt, ap);
    va_end(ap);
    pw_watched_call_end(call);
}

void pw_watched_call_result(pw_watched_call_t *call, const char *error_name, const char *error,
                            const pw_bytes_t *fields, size_t n)
{
    if (error_name)
        pw_watched_call_error(call, error_name, "%s", error);
    else
        pw_watched_call_reply(call, fields, n);
}
