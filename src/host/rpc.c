/* rpc.c — dispatching binding calls from isolates (host process; see rpc.h). Runs on the
 * host's loop thread: a frame is decoded, its op routed through the binding-kind table
 * (host/binding.h), and the checks every call shares run before the op's handler — the
 * binding's name, the binding itself (the kind's resolve), the per-isolate limit of calls in
 * flight, the field count. The kinds answer, at once or later.
 * Invariant: every RPC frame gets exactly one RPC_RESULT unless its isolate is gone, and a
 * frame that does not decode is a protocol violation (the isolate is killed).
 */
#include "host/rpc.h"
#include "base/log.h"
#include "host/port.h"
#include "host/rpc_forward.h"
#include "wire/rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pw_rpc_worker {
    pw_rpc_worker_t *next;
    pw_rpc_host_t *host;
    const char *service;
    pw_rpc_worker_t *owner;     /* a loop thread's: the owner loop's bindings of this worker */
    void *states[PW_BINDING_MAX_KINDS];     /* each kind's state for this worker */
};

struct pw_rpc_host {
    pw_binding_env_t env;
    void *states[PW_BINDING_MAX_KINDS];     /* each kind's state for the host */
    pw_rpc_worker_t *workers;
    pw_rpc_host_t *owner;       /* NULL: this is the owner (the main loop) */
    pw_rpc_forward_t forward;   /* with an owner: how calls of its kinds get there */
};

/* Whether this host runs calls of kind k itself (else they are forwarded to the owner). */
static int runs_kind(const pw_rpc_host_t *host, size_t k)
{
    return !host->owner || pw_binding_kind_at(k)->per_loop;
}

/* ---- dispatch ---- */

/* The checks every call shares, in this order; 0 when the handler may run. */
static int call_checks(const pw_binding_route_t *r, pw_binding_call_t *c)
{
    const pw_binding_group_t *g = r->group;
    pw_bytes_t op = c->f[0];
    if (!g->unnamed && c->n < 2)
        return pw_port_reply_error(c->port, c->id, "TypeError", "binding call without a binding name"), -1;
    if (!(c->binding = g->resolve(c)))
        return -1;
    if (!r->op)
        return pw_port_reply_error(c->port, c->id, "TypeError", g->unknown_op,
                                   (int)(op.len < 64 ? op.len : 64), op.base), -1;
    if (r->op->holds && pw_port_held(c->port) >= PW_BINDING_MAX_HELD)
        return pw_port_reply_error(c->port, c->id, "Error", "Too many subrequests in flight (%d).",
                                   PW_BINDING_MAX_HELD), -1;
    if (c->n < r->op->min_fields || c->n > r->op->max_fields) {
        if (r->op->arity_error)
            pw_port_reply_error(c->port, c->id, "TypeError", "%s", r->op->arity_error);
        else
            pw_port_reply_error(c->port, c->id, "TypeError", g->unknown_op,
                                (int)(op.len < 64 ? op.len : 64), op.base);
        return -1;
    }
    return 0;
}

int pw_rpc_handle(void *arg, pw_port_t *port, const pw_frame_t *frame)
{
    pw_rpc_worker_t *w = arg;
    pw_bytes_t f[PW_RPC_MAX_ARGS];
    size_t n;
    if (pw_rpc_decode(frame, f, PW_RPC_MAX_ARGS, &n) < 0 || n < 1)
        return -EBADMSG;
    pw_binding_route_t r;
    pw_binding_route(f[0], &r);
    if (!runs_kind(w->host, r.kind)) {
        pw_rpc_forward(&w->host->forward, w->owner, port, frame);     /* answered either way */
        return 0;
    }
    pw_binding_call_t c = { .state = w->states[r.kind], .port = port, .id = frame->id, .f = f, .n = n };
    if (call_checks(&r, &c) == 0)
        r.op->handler(&c);
    return 0;
}

/* ---- setup ---- */

static void worker_free(pw_rpc_worker_t *w)
{
    for (size_t k = 0; k < pw_binding_kind_count(); k++)
        if (runs_kind(w->host, k) && pw_binding_kind_at(k)->detach)
            pw_binding_kind_at(k)->detach(w->states[k]);
    free(w);
}

void pw_rpc_host_free(pw_rpc_host_t *host)
{
    if (!host)
        return;
    while (host->workers) {
        pw_rpc_worker_t *w = host->workers;
        host->workers = w->next;
        worker_free(w);
    }
    for (size_t k = pw_binding_kind_count(); k-- > 0;)
        if (runs_kind(host, k) && pw_binding_kind_at(k)->close)
            pw_binding_kind_at(k)->close(host->states[k]);
    pw_fetch_free(host->env.fetch);
    free(host);
}

int pw_rpc_host_create(uv_loop_t *loop, const pw_config_t *config, const pw_rpc_options_t *opts,
                       pw_rpc_host_t **out)
{
    pw_rpc_host_t *host = calloc(1, sizeof *host);
    if (!host)
        return -ENOMEM;
    host->env = (pw_binding_env_t){ .loop = loop, .config = config, .persist_dir = opts->persist_dir,
                                    .lookup = opts->lookup, .lookup_arg = opts->lookup_arg,
                                    .do_idle_timeout_ms = opts->do_idle_timeout_ms,
                                    .pg = opts->pg, .cluster = opts->cluster,
                                    .watch = opts->watch };
    host->owner = opts->owner;
    if (opts->owner)
        host->forward = (pw_rpc_forward_t){ .owner = opts->owner_mailbox, .home = opts->mailbox,
                                            .handle = pw_rpc_handle };
    pw_binding_index();
    int rc = pw_fetch_create(loop, &host->env.fetch);
    if (rc < 0) {
        free(host);
        return rc;
    }
    char err[2048];
    for (size_t k = 0; k < pw_binding_kind_count(); k++) {
        const pw_binding_kind_impl_t *kind = pw_binding_kind_at(k);
        if (runs_kind(host, k) && kind->open && kind->open(&host->env, &host->states[k], err, sizeof err) < 0) {
            pw_log_error("%s", err);
            pw_rpc_host_free(host);
            return -EINVAL;
        }
    }
    *out = host;
    return 0;
}

void pw_rpc_set_fetch_timeout(pw_rpc_host_t *host, unsigned timeout_ms)
{
    pw_fetch_set_timeout(host->env.fetch, timeout_ms);
}

int pw_rpc_worker_create(pw_rpc_host_t *host, const pw_service_t *service, pw_rpc_worker_t **out,
                         char *err, size_t err_len)
{
    pw_rpc_worker_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->next = host->workers;        /* freed with the host, even when attaching fails */
    host->workers = w;
    w->host = host;
    w->service = service->name;
    for (pw_rpc_worker_t *o = host->owner ? host->owner->workers : NULL; o; o = o->next)
        if (strcmp(o->service, service->name) == 0)
            w->owner = o;
    if (host->owner && !w->owner) {
        snprintf(err, err_len, "service %s: its bindings are not open on the main loop", service->name);
        return -1;
    }
    for (size_t k = 0; k < pw_binding_kind_count(); k++) {
        const pw_binding_kind_impl_t *kind = pw_binding_kind_at(k);
        if (runs_kind(host, k) && kind->attach && kind->attach(host->states[k], &host->env, service, &w->states[k], err,
                                         err_len) < 0)
            return -1;
    }
    *out = w;
    return 0;
}
