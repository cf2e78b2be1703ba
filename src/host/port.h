/* port.h — an isolate's return path for binding calls (host process): how the reply to a
 * binding op (an RPC frame) gets back to the isolate that asked, at once or later.
 *
 * The isolate's child (host/child.h) creates the port when the isolate comes up and closes it
 * when the isolate dies. A binding call that answers later holds the port (or watches it):
 * the port outlives its isolate while held, and replies to an isolate that is gone are
 * dropped (-EPIPE). Replies are appended to the isolate's outgoing buffer; the child is told
 * (queued) so that it writes them on this loop turn.
 */
#ifndef PW_PORT_H
#define PW_PORT_H

#include "base/list.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/frame.h"

typedef struct pw_port pw_port_t;

/* Handles one RPC frame (a binding call) from an isolate; answers it with pw_port_reply(),
 * at once or later while holding the port. Returns 0, or a negative value when the frame
 * breaks the protocol (the isolate is then killed). */
typedef int (*pw_rpc_handler_cb)(void *arg, pw_port_t *port, const pw_frame_t *frame);

/* Called after a reply was appended to the isolate's outgoing buffer. */
typedef void (*pw_port_queued_cb)(void *arg);

/* A port writing to `out` (the isolate's link buffer). NULL when out of memory. */
pw_port_t *pw_port_create(pw_buf_t *out, pw_port_queued_cb queued, void *arg);
/* The isolate is gone: replies are dropped from now on, every watcher is told (gone()), and
 * the isolate's own hold is released (the port is freed once no binding call holds it). */
void pw_port_close(pw_port_t *port);

void pw_port_hold(pw_port_t *port);
void pw_port_release(pw_port_t *port);

/* A binding call that works on after its RPC frame (a fetch, a service call) watches its
 * port: when the isolate dies first, gone() runs once, on the loop thread, so the work can be
 * cancelled (transfer removed, subrequest cancelled) before anything calls back into it.
 * pw_port_watch holds the port; pw_port_unwatch (also from gone()) unlinks and releases it. */
typedef struct pw_port_watch pw_port_watch_t;
struct pw_port_watch {
    pw_list_t link;             /* in the port's watchers; unlinked: NULL */
    void (*gone)(pw_port_watch_t *watch);
};
void pw_port_watch(pw_port_t *port, pw_port_watch_t *watch, void (*gone)(pw_port_watch_t *watch));
void pw_port_unwatch(pw_port_t *port, pw_port_watch_t *watch);
/* The isolate's link to the loop that runs its stateful binding calls (host/rpc_forward.c);
 * NULL until its first forwarded call. */
void *pw_port_forward(const pw_port_t *port);
void pw_port_set_forward(pw_port_t *port, void *link);
/* Binding calls of this isolate currently held open (for the per-isolate limit). */
unsigned pw_port_held(const pw_port_t *port);
/* Queues an RPC_RESULT frame with id and fields. Returns 0, -EPIPE, or -errno. */
int pw_port_reply(pw_port_t *port, uint32_t id, const pw_bytes_t *fields, size_t n);
/* Answers a binding call with an error: the JavaScript error class `name` (TypeError, Error)
 * and a message formatted from fmt (at most 1023 bytes). The one way every binding fails. */
int pw_port_reply_error(pw_port_t *port, uint32_t id, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int pw_port_reply_verror(pw_port_t *port, uint32_t id, const char *name, const char *fmt,
                         va_list ap) __attribute__((format(printf, 4, 0)));

/* Descriptors the isolate passed on its link (host/link.h on_fd), oldest first, for the
 * binding call that follows them (a socket's connect, host/binding_socket.c). At most
 * PW_PORT_MAX_FDS wait; more are closed, as are those left when the port is freed. */
#define PW_PORT_MAX_FDS 8
void pw_port_give_fd(pw_port_t *port, int fd);
/* The oldest passed descriptor (the caller owns it), or -1. */
int pw_port_take_fd(pw_port_t *port);
/* Frames other than replies (a WebSocket's, host/ws_isolate.h): the isolate's outgoing buffer,
 * NULL once it is gone; pw_port_wrote() after appending to it. */
pw_buf_t *pw_port_out(pw_port_t *port);
void pw_port_wrote(pw_port_t *port);
/* The isolate's WebSockets (a pw_ws_table_t its child owns); NULL once it is gone. */
void pw_port_set_sockets(pw_port_t *port, void *sockets);
void *pw_port_sockets(const pw_port_t *port);

#endif
