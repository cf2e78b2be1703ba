/* ws_bridge.c — sockets for isolates of other loops (host process; see ws_bridge.h).
 *
 *   owner loop:  answer's side ◀──▶ near half ══mail══▶ far half ◀──▶ isolate's socket  :home loop
 *
 * Each half is a side on its own loop. What its local peer gives it (message, close,
 * consumed) is copied into a mail posted to the other half's mailbox, which hands it to its
 * own local peer; a local peer that goes (detached) ends its half and mails DETACHED, which
 * ends the other half (its peer is told). The bridge counts references atomically: each half
 * until it ends, and each mail in flight. The far half is made on the home loop by a job
 * posted before the call's reply (pw_rpc_forward_home_run), so it exists before the isolate
 * learns the socket's id, and before any mail for it arrives (one mailbox, in order).
 */
#include "host/ws_bridge.h"
#include "base/log.h"
#include "host/mailbox.h"
#include "host/rpc_forward.h"
#include "host/ws_isolate.h"

#include <stdlib.h>
#include <string.h>

typedef struct bridge bridge_t;

typedef struct {
    pw_ws_side_t side;          /* first */
    bridge_t *bridge;
    pw_mailbox_t *box;          /* this half's loop */
    int ended;
} half_t;

struct bridge {
    half_t near, far;
    uint32_t id;                /* the isolate's socket */
    unsigned refs;              /* atomic */
};

enum { MAIL_TEXT, MAIL_BINARY, MAIL_CLOSE, MAIL_CONSUMED, MAIL_DETACHED };

typedef struct {
    half_t *to;
    int kind;
    uint16_t code;
    size_t len;                 /* data's, or the bytes consumed */
    uint8_t data[];
} mail_t;

static unsigned next_id;        /* atomic: bridge ids, PW_WS_BRIDGE_IDS and up */

static void bridge_unref(bridge_t *b)
{
    if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(b);
}

static half_t *other(half_t *h)
{
    return h == &h->bridge->near ? &h->bridge->far : &h->bridge->near;
}

static void on_mail(void *arg, int closed);

/* Mails the other half (a reference for the mail). */
static void mail(half_t *from, int kind, uint16_t code, const void *data, size_t len, size_t count)
{
    half_t *to = other(from);
    mail_t *m = malloc(sizeof *m + len);
    if (!m) {
        pw_log_error("out of memory passing a WebSocket message between host threads");
        return;
    }
    *m = (mail_t){ .to = to, .kind = kind, .code = code, .len = data ? len : count };
    if (len)
        memcpy(m->data, data, len);
    __atomic_add_fetch(&from->bridge->refs, 1, __ATOMIC_ACQ_REL);
    if (pw_mailbox_post(to->box, on_mail, m) < 0) {
        free(m);
        bridge_unref(from->bridge);
    }
}

/* This half is done: its local peer is told (unless it is the one that left). */
static void half_end(half_t *h)
{
    if (h->ended)
        return;
    h->ended = 1;
    pw_ws_unlink(&h->side);
    bridge_unref(h->bridge);
}

static void on_mail(void *arg, int closed)
{
    mail_t *m = arg;
    half_t *h = m->to;
    bridge_t *b = h->bridge;
    pw_ws_side_t *peer = h->ended || closed ? NULL : h->side.peer;
    if (m->kind == MAIL_DETACHED || (closed && !h->ended))
        half_end(h);
    else if (peer && (m->kind == MAIL_TEXT || m->kind == MAIL_BINARY))
        peer->ops->message(peer, m->kind == MAIL_BINARY, m->data, m->len);
    else if (peer && m->kind == MAIL_CLOSE)
        peer->ops->close(peer, m->code, (pw_bytes_t){ m->data, m->len });
    else if (peer && m->kind == MAIL_CONSUMED)
        peer->ops->consumed(peer, m->len);
    free(m);
    bridge_unref(b);
}

/* ---- a half's ops (from its local peer) ---- */

static void half_message(pw_ws_side_t *side, int binary, const uint8_t *data, size_t len)
{
    mail((half_t *)side, binary ? MAIL_BINARY : MAIL_TEXT, 0, data, len, 0);
}

static void half_close(pw_ws_side_t *side, uint16_t code, pw_bytes_t reason)
{
    mail((half_t *)side, MAIL_CLOSE, code, reason.base, reason.len, 0);
}

static void half_consumed(pw_ws_side_t *side, size_t bytes)
{
    mail((half_t *)side, MAIL_CONSUMED, 0, NULL, 0, bytes);
}

static void half_detached(pw_ws_side_t *side)
{
    half_t *h = (half_t *)side;
    if (h->ended)
        return;
    mail(h, MAIL_DETACHED, 0, NULL, 0, 0);
    half_end(h);
}

static const pw_ws_side_ops_t half_ops = {
    .message = half_message, .close = half_close, .consumed = half_consumed,
    .detached = half_detached,
};

/* ---- opening ---- */

/* On the home loop: the isolate's socket, linked to the far half. */
static void far_open(void *arg, pw_port_t *port)
{
    bridge_t *b = arg;
    pw_ws_side_t *socket = port ? pw_ws_isolate_open_held(port, b->id) : NULL;
    if (socket) {
        pw_ws_link(socket, &b->far.side);
    } else {                    /* the isolate is gone: the near half's peer is told */
        mail(&b->far, MAIL_DETACHED, 0, NULL, 0, 0);
        half_end(&b->far);
    }
    bridge_unref(b);            /* the job's */
}

pw_ws_side_t *pw_ws_bridge_open(pw_port_t *port, uint32_t *id)
{
    pw_mailbox_t *home, *owner;
    if (pw_port_sockets(port) || pw_rpc_forward_boxes(port, &home, &owner) < 0)
        return pw_ws_isolate_open_new(port, id);
    bridge_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->id = PW_WS_BRIDGE_IDS | (__atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED) & 0x3fffffffu);
    b->near = (half_t){ .side.ops = &half_ops, .bridge = b, .box = owner };
    b->far = (half_t){ .side.ops = &half_ops, .bridge = b, .box = home };
    b->refs = 3;                /* two halves, the job */
    if (pw_rpc_forward_home_run(port, far_open, b) < 0) {
        free(b);
        return NULL;
    }
    *id = b->id;
    return &b->near.side;
}
