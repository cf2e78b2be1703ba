/* read_park.h — a client connection stays registered with epoll while h2o pauses reading it
 * (host process, each loop thread).
 *
 * h2o 2.2 stops reading an HTTP/1 connection while one of its requests is handled and starts
 * again once the response is written. libuv 1.44 drops the descriptor's epoll registration from
 * its books on uv_read_stop but not from the kernel, so every restart costs an epoll_ctl(ADD)
 * that fails with EEXIST and an epoll_ctl(MOD): two system calls per request on a keep-alive
 * connection, a quarter of the host's time on the hello path. The host therefore provides
 * uv_read_stop and uv_read_start itself (they come before libuv's in symbol lookup: the
 * binary exports its symbols, -rdynamic) and, for accepted connections, *parks* a paused read
 * instead of stopping it: libuv keeps reading into a buffer of the connection's own, which goes
 * to h2o, in order, when it reads again. A keep-alive client sends nothing while it waits for
 * its response, so parking costs nothing there; a pipelining client's next requests are held
 * (at most PW_READ_PARK_MAX bytes, then the read really stops, as before), and an end of
 * stream or error seen while parked stops the read and is handed on after the data.
 * Any other stream, and a closing one, goes straight to libuv.
 */
#ifndef PW_READ_PARK_H
#define PW_READ_PARK_H

#include "base/buf.h"
#include "base/list.h"
#include "http/due_list.h"

#include <uv.h>

#define PW_READ_PARK_MAX (64u * 1024)

/* An accepted connection's read state (inside pw_accepted_t). */
typedef struct {
    int state;                  /* read_park.c's: reading, parked, stopped, delivering */
    uv_alloc_cb alloc_cb;       /* h2o's, while parked, stopped or delivering */
    uv_read_cb read_cb;
    pw_buf_t held;              /* bytes read while parked, not yet given to h2o */
    size_t given;               /* ... of which given */
    ssize_t status;             /* an end of stream or error read while parked (0: none) */
    pw_due_t due;               /* held bytes (or the end) to hand over next turn */
} pw_read_park_t;

/* Marks a newly accepted connection's handle as one whose reads may be parked. */
void pw_read_park_init(pw_read_park_t *park);
/* The connection closes: what it held is dropped. */
void pw_read_park_forget(pw_read_park_t *park);
/* Whether the connection holds bytes its peer sent (a pipelined request) or saw its end. */
int pw_read_park_holds_data(const pw_read_park_t *park);
int pw_read_park_saw_end(const pw_read_park_t *park);

#endif
