/* rpc_forward.h — binding calls of one host loop run on another (host process). With
 * --threads N each loop thread has its own isolates, HTTP listeners, outbound HTTP client and
 * service routing, but a binding kind that keeps state (KV, Workflows, and the kinds after them:
 * one owner per object) lives on the main loop only. A call of such a kind from an isolate of
 * another loop is forwarded: its RPC frame is copied to the main loop, run there through the
 * owner's bindings of the same worker exactly as a local call (every check included), through a
 * proxy port that stands for the isolate there while it lives, and the RPC_RESULT comes back
 * to the isolate's port. When the isolate dies, its work on the owner is cancelled as a local
 * isolate's would be (the proxy port closes).
 */
#ifndef PW_RPC_FORWARD_H
#define PW_RPC_FORWARD_H

#include "host/mailbox.h"
#include "host/port.h"

/* Runs a copied frame on the owner: the pw_rpc_handler_cb of the owner's bindings. */
typedef struct {
    pw_mailbox_t *owner;        /* the owner loop's mailbox */
    pw_mailbox_t *home;         /* this loop's mailbox (replies come back here) */
    pw_rpc_handler_cb handle;   /* the owner's pw_rpc_handle */
} pw_rpc_forward_t;

/* Forwards `frame` (an RPC frame from an isolate of this loop, already known to decode) to run
 * on the owner with `target` (the owner's pw_rpc_worker_t of the same worker). The reply goes
 * to `port`, which is watched until it closes. Returns 0 or -ENOMEM (the call then answered
 * with an error). */
int pw_rpc_forward(const pw_rpc_forward_t *fw, void *target, pw_port_t *port, const pw_frame_t *frame);

/* On the owner loop, for a proxy port: the mailboxes of the isolate's loop (home) and of the
 * owner. Returns 0, or -1 when `port` is not a proxy. */
int pw_rpc_forward_boxes(pw_port_t *proxy, pw_mailbox_t **home, pw_mailbox_t **owner);
/* On the owner loop, for a proxy port: runs fn(arg, port) on the isolate's loop with the
 * isolate's port there (NULL when the isolate is gone), before the replies queued after this
 * call reach it. Returns 0, or -ENOMEM / -EINVAL (not a proxy): fn is not called. */
int pw_rpc_forward_home_run(pw_port_t *proxy, void (*fn)(void *arg, pw_port_t *port), void *arg);

#endif
