/* binding_fetch.c — the fetch binding kind (host process, loop thread): a worker's outbound
 * fetch() ("fetch" url method headers body redirect). Each worker's policy comes from the
 * network service its globalOutbound names (allow/deny, tlsOptions), handed to the HTTP
 * client (http/fetch.h) as plain rules; the transfer's result is the call's answer:
 * "", status, headers, body, final url, "1" when redirected; or an error.
 * Invariant: a fetch is answered once, when its transfer ends; when the isolate dies first
 * the transfer is aborted and nothing answers.
 */
#include "host/binding.h"
#include "host/outbound_policy.h"
#include "host/port.h"
#include "host/watched_call.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pw_fetch_t *fetch;
    pw_fetch_policy_t *outbound;
} fetch_worker_t;

/* A worker's fetch(): the transfer and the RPC call it answers. */
typedef struct {
    pw_watched_call_t call;     /* first */
    pw_fetch_transfer_t *transfer;
} port_fetch_t;

static void fetch_done(void *arg, const pw_fetch_result_t *r)
{
    port_fetch_t *pf = arg;
    if (r->error) {
        pw_watched_call_error(&pf->call, "TypeError", "%s", r->error);
    } else {
        char st[16];
        snprintf(st, sizeof st, "%ld", r->status);
        pw_bytes_t f[6] = { pw_bytes_of(""), pw_bytes_of(st), r->headers, r->body, pw_bytes_of(r->url), pw_bytes_of(r->redirected ? "1" : "") };
        pw_watched_call_reply(&pf->call, f, 6);
    }
}

/* The isolate died: the transfer stops now (curl closes its connection). */
static void fetch_cancel(pw_watched_call_t *call)
{
    pw_fetch_abort(((port_fetch_t *)call)->transfer);
}

static const char *start_error(int rc)
{
    switch (rc) {
    case -EPROTONOSUPPORT: return "Fetch API cannot load: the URL must start with http:// or https://.";
    case -EIO: return "fetch(): cannot start the transfer.";
    default: return "fetch(): invalid request (headers or arguments).";
    }
}

/* fetch url method headers body redirect */
static void fetch_call(const pw_binding_call_t *c)
{
    const fetch_worker_t *w = c->state;
    const pw_bytes_t *f = c->f;
    /* watched before the transfer starts: pw_fetch_send never calls fetch_done before it
     * returns, and a start that fails leaves nothing to cancel */
    port_fetch_t *pf = pw_watched_call_new(c, sizeof *pf, fetch_cancel, "out of memory");
    if (!pf)
        return;
    pw_fetch_args_t args = { f[1], f[2], f[3], f[4], f[5] };
    int rc = pw_fetch_send(w->fetch, w->outbound, &args, fetch_done, pf, &pf->transfer);
    if (rc == -ENOMEM)
        pw_watched_call_error(&pf->call, "Error", "out of memory");
    else if (rc < 0)
        pw_watched_call_error(&pf->call, "TypeError", "%s", start_error(rc));
}

static void *fetch_resolve(const pw_binding_call_t *c)
{
    return c->state;            /* no binding to find: the worker's outbound policy */
}

static void fetch_detach(void *state)
{
    fetch_worker_t *w = state;
    if (w)
        pw_fetch_policy_free(w->outbound);
    free(w);
}

/* The worker's policy: its globalOutbound network service's rules (none: nothing allowed). */
static int fetch_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                        void **state, char *err, size_t err_len)
{
    fetch_worker_t *w = calloc(1, sizeof *w);
    *state = w;
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->fetch = env->fetch;
    return pw_outbound_policy_create(env->config, service, &w->outbound, err, err_len);
}

int pw_binding_outbound_policy(const pw_binding_env_t *env, const pw_service_t *service,
                               pw_fetch_policy_t **out, char *err, size_t err_len)
{
    return pw_outbound_policy_create(env->config, service, out, err, err_len);
}

static const pw_binding_op_t fetch_ops[] = {
    { "fetch", 6, 6, "fetch(): invalid request (headers or arguments).", 1, fetch_call },
};

static const pw_binding_group_t fetch_groups[] = {
    { .unnamed = 1, .resolve = fetch_resolve, .ops = fetch_ops, .n_ops = 1 },
};

const pw_binding_kind_impl_t pw_binding_fetch = {
    .name = "fetch", .attach = fetch_attach, .detach = fetch_detach, .groups = fetch_groups, .n_groups = 1,
    .per_loop = 1,
};
