/* binding_websocket.c — the websocket binding kind (host process, loop thread): a worker's
 * outbound WebSockets, "ws.connect" url header_lines (js.WebSocket.new(url), fetch() with
 * Upgrade: websocket). The host connects under the worker's globalOutbound rules
 * (http/ws_client.h); a 101 becomes a socket of the isolate's (host/ws_isolate.h) linked to
 * the connection, and the call is answered "", status, headers, body, socket id (empty for
 * any other answer, which comes back as a plain response); a failure as a TypeError.
 * Invariant: a call is answered once; when the isolate dies first the connection attempt is
 * aborted and nothing answers.
 */
#include "host/binding.h"
#include "host/port.h"
#include "host/watched_call.h"
#include "host/ws_isolate.h"
#include "http/ws_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    uv_loop_t *loop;
    pw_fetch_policy_t *outbound;
    SSL_CTX *tls;               /* made on the first wss: connection */
} ws_worker_t;

typedef struct {
    pw_watched_call_t call;     /* first */
    pw_ws_client_t *client;
} ws_call_t;

static void connected(void *arg, const pw_ws_client_result_t *r)
{
    ws_call_t *wc = arg;
    if (r->error) {
        pw_watched_call_error(&wc->call, "TypeError", "%s", r->error);
    } else {
        char status[16], id[16] = "";
        uint32_t socket_id;
        pw_ws_side_t *side = r->conn ? pw_ws_isolate_open_new(wc->call.port, &socket_id) : NULL;
        if (side) {
            pw_ws_link(side, pw_ws_conn_side(r->conn));
            snprintf(id, sizeof id, "%u", socket_id);
        }
        snprintf(status, sizeof status, "%u", r->conn && !side ? 502 : r->status);
        pw_bytes_t f[5] = { pw_bytes_of(""), pw_bytes_of(status), r->headers, r->body, pw_bytes_of(id) };
        pw_watched_call_reply(&wc->call, f, 5);
    }
}

/* The isolate died: the attempt stops now. */
static void ws_cancel(pw_watched_call_t *call)
{
    pw_ws_client_abort(((ws_call_t *)call)->client);
}

static const char *start_error(int rc)
{
    switch (rc) {
    case -EPROTONOSUPPORT: return "WebSocket URL must start with ws://, wss://, http:// or https://.";
    case -EIO: return "WebSocket: the worker's TLS settings (tlsOptions) could not be loaded.";
    case -ENOMEM: return "out of memory";
    default: return "WebSocket: invalid URL or headers.";
    }
}

/* ws.connect url header_lines */
static void ws_connect(const pw_binding_call_t *c)
{
    ws_worker_t *w = c->state;
    if (!w->tls && pw_bytes_starts(c->f[1], "wss:") + pw_bytes_starts(c->f[1], "https:"))
        w->tls = pw_ws_client_tls(pw_fetch_policy_tls(w->outbound));
    /* watched before the attempt starts: connected() never runs before connect returns, and
     * an attempt that fails to start leaves nothing to cancel */
    ws_call_t *wc = pw_watched_call_new(c, sizeof *wc, ws_cancel, start_error(-ENOMEM));
    if (!wc)
        return;
    int rc = pw_ws_client_connect(w->loop, w->outbound, w->tls, c->f[1], c->f[2], connected, wc,
                                  &wc->client);
    if (rc < 0)
        pw_watched_call_error(&wc->call, rc == -ENOMEM ? "Error" : "TypeError", "%s", start_error(rc));
}

static void *ws_resolve(const pw_binding_call_t *c)
{
    return c->state;
}

static void ws_detach(void *state)
{
    ws_worker_t *w = state;
    if (w) {
        pw_fetch_policy_free(w->outbound);
        SSL_CTX_free(w->tls);
    }
    free(w);
}

static int ws_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                     void **state, char *err, size_t err_len)
{
    ws_worker_t *w = calloc(1, sizeof *w);
    *state = w;
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->loop = env->loop;
    return pw_binding_outbound_policy(env, service, &w->outbound, err, err_len);
}

static const pw_binding_op_t ws_ops[] = {
    { "ws.connect", 3, 3, "WebSocket: invalid URL or headers.", 1, ws_connect },
};

static const pw_binding_group_t ws_groups[] = {
    { .prefix = "ws.", .unnamed = 1, .resolve = ws_resolve, .unknown_op = "unknown WebSocket operation \"%.*s\"",
      .ops = ws_ops, .n_ops = 1 },
};

const pw_binding_kind_impl_t pw_binding_websocket = {
    .name = "websocket", .attach = ws_attach, .detach = ws_detach, .groups = ws_groups, .n_groups = 1,
    .per_loop = 1,
};
