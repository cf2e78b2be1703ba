/* binding_service.c — the service binding kind (host process, loop thread): svc.call runs an
 * entry point method of another worker (its fetch, or an RPC method of a named
 * WorkerEntrypoint) as a CALL frame in that worker's pool (host/worker_call.h), and answers
 * with its response. A fetch the target answers with a WebSocket (101) gives the caller a
 * socket of its own, linked to the target's (the answer's fifth field is its id).
 * Invariant: a call is answered once, when the target responds; when the calling isolate
 * dies first the target is told to stop (CANCEL) and nothing answers.
 */
#include "host/binding.h"
#include "host/port.h"
#include "host/watched_call.h"
#include "host/ws_isolate.h"
#include "host/worker_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const pw_binding_env_t *env;
    const pw_service_t *service;    /* the calling worker */
} svc_worker_t;

typedef struct {
    pw_watched_call_t rpc;      /* first */
    pw_worker_call_t *call;
} svc_call_t;

static void svc_done(void *arg, const pw_worker_answer_t *a)
{
    svc_call_t *sc = arg;
    if (a->error_status) {
        pw_watched_call_error(&sc->rpc, "Error", "%d %s", a->error_status, a->error_text);
    } else {
        char status[16], id[16] = "";
        uint32_t socket_id;
        /* a WebSocket the target accepted: a socket of the caller's, linked to the target's */
        pw_ws_side_t *side = a->ws ? pw_ws_isolate_open_new(sc->rpc.port, &socket_id) : NULL;
        if (side) {
            pw_ws_link(side, a->ws);
            snprintf(id, sizeof id, "%u", socket_id);
        }
        snprintf(status, sizeof status, "%u", a->ws && !side ? 502 : a->status);
        pw_bytes_t f[5] = { pw_bytes_of(""), pw_bytes_of(status), a->headers, a->body, pw_bytes_of(id) };
        pw_watched_call_reply(&sc->rpc, f, side ? 5 : 4);
    }
}

/* The calling isolate died: the target isolate is told to stop (CANCEL). */
static void svc_cancel(pw_watched_call_t *rpc)
{
    pw_worker_call_cancel(((svc_call_t *)rpc)->call);
}

/* svc.call method payload: the target's entry point method, answered with its response. */
static void svc_call(const pw_binding_call_t *c)
{
    const svc_worker_t *w = c->state;
    const pw_binding_t *b = c->binding;
    pw_pool_t *pool = w->env->lookup(w->env->lookup_arg, b->value);
    if (!pool) {
        pw_port_reply_error(c->port, c->id, "Error", "service \"%s\" is not running", b->value);
        return;
    }
    svc_call_t *sc = pw_watched_call_new(c, sizeof *sc, svc_cancel, "out of memory");
    if (!sc)
        return;
    const char *entry = b->entrypoint ? b->entrypoint : "";
    if (pw_worker_call(pool, entry, c->f[2], c->f[3], svc_done, sc, &sc->call) < 0)
        pw_watched_call_error(&sc->rpc, "Error", "service call too large");
}

static void *svc_resolve(const pw_binding_call_t *c)
{
    const svc_worker_t *w = c->state;
    const pw_worker_t *wc = &w->service->worker;
    pw_bytes_t name = c->f[1];
    for (size_t i = 0; i < wc->n_bindings; i++) {
        const pw_binding_t *b = &wc->bindings[i];
        if (b->kind == PW_BINDING_SERVICE && name.len == strlen(b->name) &&
            memcmp(name.base, b->name, name.len) == 0)
            return (void *)b;
    }
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker has no %s binding named \"%.*s\"",
                        "service", (int)(name.len < 200 ? name.len : 200), name.base);
    return NULL;
}

static int svc_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                      void **state, char *err, size_t err_len)
{
    svc_worker_t *w = calloc(1, sizeof *w);
    *state = w;
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->env = env;
    w->service = service;
    return 0;
}

static const pw_binding_op_t svc_ops[] = {
    { "svc.call", 4, 4, "svc.call takes method and payload", 1, svc_call },
};

/* Also the group of any op without a row or known prefix (host/binding.c). */
static const pw_binding_group_t svc_groups[] = {
    { .prefix = "svc.", .resolve = svc_resolve, .unknown_op = "unknown binding operation \"%.*s\"",
      .ops = svc_ops, .n_ops = 1 },
};

const pw_binding_kind_impl_t pw_binding_service = {
    .name = "service", .attach = svc_attach, .detach = free, .groups = svc_groups, .n_groups = 1,
    .per_loop = 1,
};
