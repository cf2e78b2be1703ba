/* binding_queue.c — the queue binding kind (host process, loop thread): a producer's
 * `queue = "NAME"` binding sends messages into the host's queues (host/queues.h), whose
 * engine it opens. Two ops, one handler: queue.send (send(): one message) and
 * queue.send_batch (sendBatch(): 1 to 100), whose third field packs the messages, each
 *   content type (1 byte: 'j' json, 't' text, 'b' bytes, 'v' v8), delaySeconds (u32 LE;
 *   DELAY_UNSET: none given, so the binding's delivery_delay, pyworkerd.queueProducers),
 *   body length (u32 LE), body
 * (the isolate has already encoded each body for its content type). Every message is
 * checked against Cloudflare's limits before any is stored; the call is answered once the
 * store has them (durably), holding the isolate's port until then.
 */
#include "host/binding.h"
#include "host/port.h"
#include "host/queues.h"
#include "wire/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef pw_binding_caller_t queue_worker_t;    /* engine: NULL when no worker names a queue */

typedef struct {
    pw_queue_new_t msgs[PW_QUEUE_MAX_BATCH];
    char ids[PW_QUEUE_MAX_BATCH][PW_QUEUE_ID_LEN];
    size_t n;
    size_t bytes, largest;
} unpacked_t;

#define DELAY_UNSET 0xFFFFFFFFu

/* The caller's delivery_delay for binding b (0 when it sets none). */
static uint32_t default_delay(const pw_binding_call_t *c)
{
    const queue_worker_t *w = c->state;
    const pw_worker_options_t *o = &w->caller->worker.options;
    for (size_t i = 0; i < o->n_queue_producers; i++)
        if (strcmp(o->queue_producers[i].binding, ((const pw_binding_t *)c->binding)->name) == 0)
            return o->queue_producers[i].delivery_delay_s;
    return 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char *content_type(uint8_t code)
{
    switch (code) {
    case 'j': return "json";
    case 't': return "text";
    case 'b': return "bytes";
    case 'v': return "v8";
    default: return NULL;
    }
}

/* Splits the packed messages; 0, or -1 once the call is answered with the reason. */
static int unpack(const pw_binding_call_t *c, pw_bytes_t packed, int batch, unpacked_t *u)
{
    const char *what = batch ? "sendBatch" : "send";
    const uint8_t *p = packed.base, *end = packed.base + packed.len;
    int64_t now = pw_queues_now_ms();
    while (p < end) {
        const char *type = end - p >= 9 ? content_type(p[0]) : NULL;
        uint32_t delay = type ? le32(p + 1) : 0, len = type ? le32(p + 5) : 0;
        if (delay == DELAY_UNSET)
            delay = default_delay(c);
        if (!type || (size_t)(end - p - 9) < len) {
            pw_port_reply_error(c->port, c->id, "TypeError", "Queue %s: malformed messages", what);
            return -1;
        }
        if (u->n == PW_QUEUE_MAX_BATCH) {
            size_t count = u->n + 1;
            for (const uint8_t *q = p + 9 + len; end - q >= 9 && (size_t)(end - q - 9) >= le32(q + 5);
                 q += 9 + le32(q + 5))
                count++;
            pw_port_reply_error(c->port, c->id, "Error", "Queue sendBatch failed: batch message count "
                                "of %zu exceeds limit of %d", count, PW_QUEUE_MAX_BATCH);
            return -1;
        }
        if (delay > PW_QUEUE_MAX_DELAY_S) {
            pw_port_reply_error(c->port, c->id, "Error", "Queue %s failed: message delay of %u "
                                "seconds exceeds limit of %d", what, delay, PW_QUEUE_MAX_DELAY_S);
            return -1;
        }
        u->msgs[u->n++] = (pw_queue_new_t){ .body = { p + 9, len }, .content_type = pw_bytes_of(type),
                                            .visible_ms = now + (int64_t)delay * 1000 };
        u->bytes += len;
        if (len > u->largest)
            u->largest = len;
        p += 9 + len;
    }
    return 0;
}

/* Cloudflare's size limits; 0, or -1 once the call is answered. */
static int check_sizes(const pw_binding_call_t *c, int batch, const unpacked_t *u)
{
    if (u->n == 0) {
        pw_port_reply_error(c->port, c->id, "TypeError", "sendBatch() requires at least one message");
        return -1;
    }
    if (!batch && u->n > 1) {
        pw_port_reply_error(c->port, c->id, "TypeError", "Queue send: one message at a time");
        return -1;
    }
    if (!batch && u->largest > PW_QUEUE_MAX_MESSAGE) {
        pw_port_reply_error(c->port, c->id, "Error", "Queue send failed: message length of %zu "
                            "bytes exceeds limit of %d", u->largest, PW_QUEUE_MAX_MESSAGE);
        return -1;
    }
    if (u->largest > PW_QUEUE_MAX_MESSAGE) {
        pw_port_reply_error(c->port, c->id, "Error", "Queue sendBatch failed: message in batch has "
                            "length %zu bytes which exceeds single message size limit of %d",
                            u->largest, PW_QUEUE_MAX_MESSAGE);
        return -1;
    }
    if (u->bytes > PW_QUEUE_MAX_SEND) {
        pw_port_reply_error(c->port, c->id, "Error", "Queue sendBatch failed: batch size of %zu bytes "
                            "exceeds limit of %d", u->bytes, PW_QUEUE_MAX_SEND);
        return -1;
    }
    return 0;
}

/* A send the store has not finished: where its answer goes. */
typedef struct {
    pw_port_t *port;
    uint32_t id;
    int batch;
} sending_t;

static void sent(void *arg, const char *error, int unavailable)
{
    sending_t *s = arg;
    if (error)
        pw_port_reply_error(s->port, s->id, unavailable ? PW_RPC_UNAVAILABLE : "Error", "Queue %s failed: %s",
                            s->batch ? "sendBatch" : "send", error);
    else
        pw_port_reply(s->port, s->id, &(pw_bytes_t){ (const uint8_t *)"", 0 }, 1);
    pw_port_release(s->port);
    free(s);
}

static void send_messages(const pw_binding_call_t *c, int batch)
{
    const queue_worker_t *w = c->state;
    const pw_binding_t *b = c->binding;
    unpacked_t *u = calloc(1, sizeof *u);
    if (!u) {
        pw_port_reply_error(c->port, c->id, "Error", "out of memory");
        return;
    }
    sending_t *s = NULL;
    if (unpack(c, c->f[2], batch, u) == 0 && check_sizes(c, batch, u) == 0) {
        if (!(s = malloc(sizeof *s)))
            pw_port_reply_error(c->port, c->id, "Error", "out of memory");
    }
    if (s) {
        *s = (sending_t){ c->port, c->id, batch };
        pw_port_hold(c->port);      /* sent() releases it */
        pw_queues_send(w->engine, pw_bytes_of(b->value), u->msgs, u->n, u->ids, sent, s);
    }
    free(u);
}

/* queue.send binding packed */
static void queue_send(const pw_binding_call_t *c)
{
    send_messages(c, 0);
}

/* queue.send_batch binding packed */
static void queue_send_batch(const pw_binding_call_t *c)
{
    send_messages(c, 1);
}

/* The caller's queue binding named f[1]. */
static void *queue_resolve(const pw_binding_call_t *c)
{
    const queue_worker_t *w = c->state;
    pw_bytes_t name = c->f[1];
    for (size_t i = 0; w->engine && i < w->caller->worker.n_bindings; i++) {
        const pw_binding_t *b = &w->caller->worker.bindings[i];
        if (b->kind == PW_BINDING_QUEUE && pw_bytes_is(name, b->name))
            return (void *)b;
    }
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker has no queue binding named "
                        "\"%.*s\"", (int)(name.len < 100 ? name.len : 100), name.base);
    return NULL;
}

/* ---- the kind ---- */

static int queue_open(const pw_binding_env_t *env, void **state, char *err, size_t err_len)
{
    return pw_queues_create(env->loop, env->config, pw_binding_state_dir(env), env->pg, env->lookup,
                            env->lookup_arg, (pw_queues_t **)state, err, err_len);
}

static void queue_close(void *state)
{
    pw_queues_free(state);
}

static const pw_binding_op_t queue_ops[] = {
    { "queue.send", 3, 3, "Queue send takes one packed message", 0, queue_send },
    { "queue.send_batch", 3, 3, "Queue sendBatch takes packed messages", 0, queue_send_batch },
};

static const pw_binding_group_t queue_groups[] = {
    { .prefix = "queue.", .resolve = queue_resolve, .unknown_op = "unknown queue operation \"%.*s\"",
      .ops = queue_ops, .n_ops = sizeof queue_ops / sizeof queue_ops[0] },
};

const pw_binding_kind_impl_t pw_binding_queue = {
    .name = "queue", .open = queue_open, .close = queue_close, .attach = pw_binding_attach_caller,
    .detach = free, .groups = queue_groups, .n_groups = 1,
};
