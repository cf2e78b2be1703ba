/* port.c — an isolate's return path for binding calls (host process); see port.h.
 * A port counts one hold for its isolate (until pw_port_close) plus one per binding call that
 * holds or watches it; the last release frees it. Invariant: once closed, nothing is written
 * to `out` (the isolate's buffer may already be freed).
 */
#include "host/port.h"
#include "wire/rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pw_port {
    pw_buf_t *out;              /* the isolate's outgoing frames; NULL once it is gone */
    pw_port_queued_cb queued;
    void *queued_arg;
    unsigned refs;              /* the isolate's own, plus one per binding call held open */
    pw_list_t watchers;         /* binding calls to cancel when the isolate dies (their link) */
    void *forward;              /* host/rpc_forward.c's link, or NULL */
    int fds[PW_PORT_MAX_FDS];   /* passed descriptors, oldest first (pw_port_give_fd) */
    unsigned n_fds;
    void *sockets;              /* the isolate's WebSockets (host/ws_isolate.h) */
};

pw_port_t *pw_port_create(pw_buf_t *out, pw_port_queued_cb queued, void *arg)
{
    pw_port_t *port = calloc(1, sizeof *port);
    if (!port)
        return NULL;
    port->out = out;
    port->queued = queued;
    port->queued_arg = arg;
    port->refs = 1;
    pw_list_init(&port->watchers);
    return port;
}

/* Every watcher is unlinked, then told (it unwatches, releasing its hold); the isolate's own
 * hold keeps the port alive while they do, and goes last. */
void pw_port_close(pw_port_t *port)
{
    port->out = NULL;
    port->sockets = NULL;
    while (!pw_list_empty(&port->watchers)) {   /* one at a time: gone() may unlink others */
        pw_port_watch_t *w = PW_CONTAINER_OF(port->watchers.next, pw_port_watch_t, link);
        pw_list_remove(&w->link);
        w->gone(w);
    }
    pw_port_release(port);
}

void pw_port_hold(pw_port_t *port)
{
    port->refs++;
}

void pw_port_release(pw_port_t *port)
{
    if (--port->refs != 0)
        return;
    while (port->n_fds > 0)
        close(port->fds[--port->n_fds]);
    free(port);
}

void pw_port_watch(pw_port_t *port, pw_port_watch_t *watch, void (*gone)(pw_port_watch_t *watch))
{
    port->refs++;
    watch->gone = gone;
    pw_list_push_back(&port->watchers, &watch->link);
}

void pw_port_unwatch(pw_port_t *port, pw_port_watch_t *watch)
{
    pw_list_remove(&watch->link);
    pw_port_release(port);
}

void *pw_port_forward(const pw_port_t *port)
{
    return port->forward;
}

void pw_port_set_forward(pw_port_t *port, void *link)
{
    port->forward = link;
}

unsigned pw_port_held(const pw_port_t *port)
{
    return port->refs - (port->out ? 1 : 0);
}

int pw_port_reply(pw_port_t *port, uint32_t id, const pw_bytes_t *fields, size_t n)
{
    if (!port->out)
        return -EPIPE;
    int rc = pw_rpc_put(port->out, PW_FRAME_RPC_RESULT, id, fields, n);
    if (rc == 0)
        port->queued(port->queued_arg);
    return rc;
}

int pw_port_reply_verror(pw_port_t *port, uint32_t id, const char *name, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pw_bytes_t f[2] = { { (const uint8_t *)name, strlen(name) }, { (const uint8_t *)msg, strlen(msg) } };
    return pw_port_reply(port, id, f, 2);
}

int pw_port_reply_error(pw_port_t *port, uint32_t id, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pw_port_reply_verror(port, id, name, fmt, ap);
    va_end(ap);
    return rc;
}

void pw_port_give_fd(pw_port_t *port, int fd)
{
    if (port->n_fds == PW_PORT_MAX_FDS || !port->out) {
        close(fd);
        return;
    }
    port->fds[port->n_fds++] = fd;
}

int pw_port_take_fd(pw_port_t *port)
{
    if (port->n_fds == 0)
        return -1;
    int fd = port->fds[0];
    memmove(port->fds, port->fds + 1, --port->n_fds * sizeof port->fds[0]);
    return fd;
}

pw_buf_t *pw_port_out(pw_port_t *port)
{
    return port->out;
}

void pw_port_wrote(pw_port_t *port)
{
    if (port->out)
        port->queued(port->queued_arg);
}

void pw_port_set_sockets(pw_port_t *port, void *sockets)
{
    port->sockets = sockets;
}

void *pw_port_sockets(const pw_port_t *port)
{
    return port->sockets;
}
