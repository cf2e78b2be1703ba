/* write_now.h — a response written to a client connection at once costs no epoll_ctl (host
 * process, each loop thread).
 *
 * libuv 1.44 finishes every uv_write, even one the socket took whole at once, through its
 * pending queue, and then "stops" watching for writability — which re-registers the descriptor
 * with epoll (an epoll_ctl MOD) although nothing changed: one system call per response. For
 * accepted connections the host provides uv_write itself: when nothing is queued, it writes with
 * uv_try_write, and when the socket took everything, the callback runs on the next turn of the
 * loop (as libuv's would); whatever the socket did not take goes to libuv's uv_write. uv_close is
 * provided too: a connection closed with its callback still due gets it first, with status 0
 * (the bytes were written), before the close callback — libuv's order. A write libuv refuses at
 * once (the stream stopped being writable: a reset seen by a parked read, http/read_park.h) gets
 * its callback the same way, with the error: h2o does not look at uv_write's return value and
 * would otherwise wait for it forever. Any other stream goes straight to libuv.
 */
#ifndef PW_WRITE_NOW_H
#define PW_WRITE_NOW_H

#include "http/due_list.h"

#include <uv.h>

/* An accepted connection's write completed at once, its callback not yet run (in
 * pw_accepted_t). */
typedef struct {
    uv_write_t *done;           /* NULL: none due */
    int status;                 /* ... its status: 0, or the error libuv refused it with */
    uv_close_cb close_cb;       /* the closer's, while uv_close waits to run `done` first */
    pw_due_t due;               /* the callback, to run next turn */
} pw_write_now_t;

#endif
