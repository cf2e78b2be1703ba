/* rpc_forward.c — a binding call run on the owner loop (host process; see rpc_forward.h).
 *
 * A forwarded call is one object shared by two threads, which touch only their own fields and
 * hand it over only through mailboxes (whose lock orders what each wrote before posting). It
 * counts its references atomically: the isolate's port watch (home thread), the proxy port
 * (owner thread), and one per message in flight; the last one frees it.
 *
 *   home:  forward ──request──▶ owner: proxy port, pw_rpc_handle
 *   owner: proxy reply ──reply──▶ home: pw_port_reply to the isolate, unwatch
 *          └──close──▶ owner (next turn, after the handler is done with the port): close proxy
 *   home:  isolate gone ──cancel──▶ owner: close proxy (its watchers cancel their work)
 */
#include "host/rpc_forward.h"
#include "base/log.h"
#include "wire/rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pw_rpc_forward_t fw;
    void *target;
    unsigned refs;              /* atomic */
    /* home thread */
    pw_port_t *port;
    pw_port_watch_t watch;
    int watching;
    /* owner thread */
    pw_port_t *proxy;
    int replied;                /* the proxy took its one reply */
    int proxy_closed;
    pw_buf_t reply;             /* the proxy's RPC_RESULT, read by home after the reply message */
    /* set before the request is posted, read-only after */
    uint32_t id;
    size_t len;
    uint8_t payload[];
} fwd_call_t;

static void unref(fwd_call_t *c)
{
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        pw_buf_free(&c->reply);
        free(c);
    }
}

static void post(pw_mailbox_t *box, pw_mail_cb fn, fwd_call_t *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
    if (pw_mailbox_post(box, fn, c) < 0) {
        pw_log_error("out of memory forwarding a binding call between host threads");
        unref(c);
    }
}

/* ---- owner thread ---- */

static void close_proxy(fwd_call_t *c)
{
    if (!c->proxy || c->proxy_closed)
        return;
    c->proxy_closed = 1;
    pw_port_close(c->proxy);
    unref(c);                   /* the proxy's reference */
}

static void on_close_mail(void *arg, int closed)
{
    fwd_call_t *c = arg;
    close_proxy(c);
    unref(c);
}

static void on_home_reply(void *arg, int closed);

/* The handler answered on the proxy: the reply goes home; the proxy closes on the next turn,
 * once the handler has finished with it (it may still unwatch or release it now). */
static void on_proxy_queued(void *arg)
{
    fwd_call_t *c = arg;
    if (c->replied)
        return;
    c->replied = 1;
    post(c->fw.home, on_home_reply, c);
    post(c->fw.owner, on_close_mail, c);
}

static void on_owner_request(void *arg, int closed)
{
    fwd_call_t *c = arg;
    pw_frame_t frame = { .type = PW_FRAME_RPC, .id = c->id, .payload = c->payload, .len = c->len };
    if (!closed)
        c->proxy = pw_port_create(&c->reply, on_proxy_queued, c);
    if (c->proxy) {
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
        c->fw.handle(c->target, c->proxy, &frame);      /* the frame decoded at home */
    } else {
        pw_bytes_t f[2] = { pw_bytes_of("Error"), pw_bytes_of("the server is shutting down") };
        if (pw_rpc_put(&c->reply, PW_FRAME_RPC_RESULT, c->id, f, 2) == 0)
            post(c->fw.home, on_home_reply, c);
    }
    unref(c);
}

static void on_owner_cancel(void *arg, int closed)
{
    fwd_call_t *c = arg;
    close_proxy(c);
    unref(c);
}

/* ---- home thread ---- */

static void stop_watching(fwd_call_t *c)
{
    if (!c->watching)
        return;
    c->watching = 0;
    pw_port_unwatch(c->port, &c->watch);
    unref(c);
}

static void on_home_reply(void *arg, int closed)
{
    fwd_call_t *c = arg;
    pw_frame_t frame;
    size_t used;
    pw_bytes_t f[PW_RPC_MAX_ARGS];
    size_t n;
    if (c->watching && pw_frame_parse(c->reply.data, c->reply.len, &frame, &used) > 0 &&
        pw_rpc_decode(&frame, f, PW_RPC_MAX_ARGS, &n) == 0)
        pw_port_reply(c->port, c->id, f, n);
    stop_watching(c);
    unref(c);
}

static void on_port_gone(pw_port_watch_t *watch)
{
    fwd_call_t *c = PW_CONTAINER_OF(watch, fwd_call_t, watch);
    stop_watching(c);
    post(c->fw.owner, on_owner_cancel, c);
}

int pw_rpc_forward(const pw_rpc_forward_t *fw, void *target, pw_port_t *port, const pw_frame_t *frame)
{
    fwd_call_t *c = calloc(1, sizeof *c + frame->len);
    if (!c) {
        pw_port_reply_error(port, frame->id, "Error", "out of memory");
        return -ENOMEM;
    }
    c->fw = *fw;
    c->target = target;
    c->port = port;
    c->id = frame->id;
    c->len = frame->len;
    memcpy(c->payload, frame->payload, frame->len);
    c->refs = 1;                /* the watch */
    c->watching = 1;
    pw_port_watch(port, &c->watch, on_port_gone);
    post(fw->owner, on_owner_request, c);
    return 0;
}
