/* rpc_forward.c — binding calls run on the owner loop (host process; see rpc_forward.h).
 *
 * Each isolate of a loop that forwards gets one *link*, made at its first forwarded call and
 * kept until the isolate's port closes: on the owner it has a proxy port that stands for the
 * isolate for as long as the isolate lives — what a binding kind keeps per port (R2's open
 * bodies, held calls, watchers) works as it does for a local isolate, and the per-isolate limit
 * of calls held open counts them all. The link is shared by two threads, which touch only their
 * own fields and hand work over only through mailboxes (whose lock orders what each wrote
 * before posting); it counts references atomically: the home port's watch, the proxy, and one
 * per message in flight.
 *
 *   home:  pw_rpc_forward ──request──▶ owner: pw_rpc_handle on the proxy
 *   owner: proxy has replies ──replies──▶ home: pw_port_reply to the isolate
 *   home:  isolate gone ──close──▶ owner: proxy closed (its watchers cancel their work)
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
    int proxy_closed;
    pw_buf_t out;               /* the proxy's RPC_RESULT frames not yet sent home */
} link_t;

typedef struct {
    link_t *link;
    uint32_t id;
    size_t len;
    uint8_t payload[];
} request_t;

typedef struct {
    link_t *link;
    size_t len;
    uint8_t frames[];
} replies_t;

static void unref(link_t *link)
{
    if (__atomic_sub_fetch(&link->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        pw_buf_free(&link->out);
        free(link);
    }
}

static void ref(link_t *link)
{
    __atomic_add_fetch(&link->refs, 1, __ATOMIC_ACQ_REL);
}

/* Posts msg (holding a reference to its link) or, out of memory, drops both. */
static void post(pw_mailbox_t *box, pw_mail_cb fn, void *msg, link_t *link)
{
    ref(link);
    if (pw_mailbox_post(box, fn, msg) < 0) {
        pw_log_error("out of memory forwarding a binding call between host threads");
        free(msg);
        unref(link);
    }
}

/* ---- home thread ---- */

static void on_home_replies(void *arg, int closed)
{
    replies_t *msg = arg;
    link_t *link = msg->link;
    size_t at = 0, used;
    pw_frame_t frame;
    while (link->watching && at < msg->len &&
           pw_frame_parse(msg->frames + at, msg->len - at, &frame, &used) > 0) {
        pw_bytes_t f[PW_RPC_MAX_ARGS];
        size_t n;
        if (pw_rpc_decode(&frame, f, PW_RPC_MAX_ARGS, &n) == 0)
            pw_port_reply(link->port, frame.id, f, n);
        at += used;
    }
    free(msg);
    unref(link);
}

static void on_owner_close(void *arg, int closed);

static void on_port_gone(pw_port_watch_t *watch)
{
    link_t *link = PW_CONTAINER_OF(watch, link_t, watch);
    link->watching = 0;
    pw_port_unwatch(link->port, &link->watch);
    link_t **msg = malloc(sizeof *msg);
    if (msg) {
        *msg = link;
        post(link->fw.owner, on_owner_close, msg, link);
    }
    unref(link);                /* the watch's */
}

static link_t *link_of(const pw_rpc_forward_t *fw, void *target, pw_port_t *port)
{
    link_t *link = pw_port_forward(port);
    if (link)
        return link;
    if (!(link = calloc(1, sizeof *link)))
        return NULL;
    link->fw = *fw;
    link->target = target;
    link->port = port;
    link->refs = 1;             /* the watch */
    link->watching = 1;
    pw_port_watch(port, &link->watch, on_port_gone);
    pw_port_set_forward(port, link);
    return link;
}

/* ---- owner thread ---- */

static void on_proxy_queued(void *arg)
{
    link_t *link = arg;
    replies_t *msg = malloc(sizeof *msg + link->out.len);
    if (!msg) {
        pw_log_error("out of memory forwarding a binding call's answer between host threads");
        link->out.len = 0;
        return;
    }
    msg->link = link;
    msg->len = link->out.len;
    memcpy(msg->frames, link->out.data, link->out.len);
    link->out.len = 0;
    post(link->fw.home, on_home_replies, msg, link);
}

static void on_owner_request(void *arg, int closed)
{
    request_t *req = arg;
    link_t *link = req->link;
    if (!closed && !link->proxy_closed && !link->proxy &&
        (link->proxy = pw_port_create(&link->out, on_proxy_queued, link))) {
        ref(link);              /* the proxy's */
        pw_port_set_forward(link->proxy, link);     /* pw_rpc_forward_boxes() finds it */
    }
    if (!closed && !link->proxy_closed && link->proxy) {
        pw_frame_t frame = { .type = PW_FRAME_RPC, .id = req->id, .payload = req->payload,
                             .len = req->len };
        link->fw.handle(link->target, link->proxy, &frame);     /* decoded at home */
    } else if (!closed && !link->proxy_closed) {
        pw_bytes_t f[2] = { pw_bytes_of("Error"), pw_bytes_of("out of memory") };
        if (pw_rpc_put(&link->out, PW_FRAME_RPC_RESULT, req->id, f, 2) == 0)
            on_proxy_queued(link);
    }
    free(req);
    unref(link);
}

static void on_owner_close(void *arg, int closed)
{
    link_t **msg = arg, *link = *msg;
    free(msg);
    if (!link->proxy_closed) {
        link->proxy_closed = 1;
        if (link->proxy) {
            pw_port_close(link->proxy);
            unref(link);        /* the proxy's */
        }
    }
    unref(link);
}

int pw_rpc_forward(const pw_rpc_forward_t *fw, void *target, pw_port_t *port, const pw_frame_t *frame)
{
    link_t *link = link_of(fw, target, port);
    request_t *req = link ? malloc(sizeof *req + frame->len) : NULL;
    if (!req) {
        pw_port_reply_error(port, frame->id, "Error", "out of memory");
        return -ENOMEM;
    }
    req->link = link;
    req->id = frame->id;
    req->len = frame->len;
    memcpy(req->payload, frame->payload, frame->len);
    post(fw->owner, on_owner_request, req, link);
    return 0;
}

/* ---- work for the isolate's loop (host/ws_bridge.c) ---- */

typedef struct {
    link_t *link;
    void (*fn)(void *arg, pw_port_t *port);
    void *arg;
} home_run_t;

static link_t *proxy_link(pw_port_t *proxy)
{
    link_t *link = pw_port_forward(proxy);
    return link && link->proxy == proxy ? link : NULL;
}

int pw_rpc_forward_boxes(pw_port_t *proxy, pw_mailbox_t **home, pw_mailbox_t **owner)
{
    link_t *link = proxy_link(proxy);
    if (!link)
        return -1;
    *home = link->fw.home;
    *owner = link->fw.owner;
    return 0;
}

static void on_home_run(void *arg, int closed)
{
    home_run_t *run = arg;
    link_t *link = run->link;
    run->fn(run->arg, !closed && link->watching ? link->port : NULL);
    free(run);
    unref(link);
}

int pw_rpc_forward_home_run(pw_port_t *proxy, void (*fn)(void *arg, pw_port_t *port), void *arg)
{
    link_t *link = proxy_link(proxy);
    if (!link)
        return -EINVAL;
    home_run_t *run = malloc(sizeof *run);
    if (!run)
        return -ENOMEM;
    *run = (home_run_t){ link, fn, arg };
    ref(link);
    if (pw_mailbox_post(link->fw.home, on_home_run, run) < 0) {
        free(run);
        unref(link);
        return -ENOMEM;
    }
    return 0;
}
