/* binding_reply.h — the one way a binding call fails (host process): an RPC_RESULT whose first
 * field is the JavaScript error class and whose second is the message. Every binding kind
 * (host/binding_*.c) and the dispatcher (host/rpc.c) answer errors through it.
 * Same name and contract as host/port.h's pw_port_reply_error (the pool split): when both
 * trees meet, this file goes and callers include host/port.h.
 */
#ifndef PW_BINDING_REPLY_H
#define PW_BINDING_REPLY_H

#include <stdint.h>

#include "host/pool.h"

/* Answers RPC `id` with the error `name` ("Error", "TypeError"...) and a message formatted
 * from fmt (at most 1023 bytes). Returns what pw_port_reply returns. */
int pw_port_reply_error(pw_port_t *port, uint32_t id, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
