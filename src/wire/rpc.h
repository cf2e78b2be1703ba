/* rpc.h — field-list frames: RPC (isolate -> host: a binding call), RPC_RESULT (host ->
 * isolate: its answer) and CALL (host -> isolate: a service binding's call of an entry point).
 * Used by the host (host/rpc.c, host/pool.c) and by isolates (python/channel.c).
 *
 * The payload of such a frame is a u32 count followed by that many length-prefixed byte
 * strings. The frame's request id is the RPC call id chosen by the isolate; the host echoes
 * it in the RPC_RESULT. By convention field 0 of an RPC is the operation ("kv.get", ...),
 * field 0 of an RPC_RESULT is "" for success or an error name ("TypeError", "Error") with
 * the message in field 1. Decoding never trusts the count: it is checked against `max` and
 * the frame's end.
 */
#ifndef PW_WIRE_RPC_H
#define PW_WIRE_RPC_H

#include "wire/frame.h"

#define PW_RPC_MAX_FIELDS 4096      /* in a result: a KV list of 1000 keys x 3 fields, with room */
#define PW_RPC_MAX_ARGS 128         /* in an RPC: op, binding, 100 keys of a bulk get, with room */
/* The error name of a call that needs state the host cannot reach now (its PostgreSQL is
 * down): the isolate raises it as an Error, and a request it fails is answered 503. */
#define PW_RPC_UNAVAILABLE "StorageUnavailable"

/* Appends a frame of `type` with id and the n fields. Returns 0 or -errno. */
int pw_rpc_put(pw_buf_t *buf, uint8_t type, uint32_t id, const pw_bytes_t *fields, size_t n);
/* The field count a frame announces (unchecked), or 0 when it has none. */
size_t pw_rpc_count(const pw_frame_t *frame);
/* Decodes the fields of a frame into out[0..max); sets *n. Returns 0 or -EBADMSG. */
int pw_rpc_decode(const pw_frame_t *frame, pw_bytes_t *out, size_t max, size_t *n);

#endif
