/* ws_isolate.c — an isolate's WebSockets (host process, loop thread; see ws_isolate.h).
 * The table is a hash of sockets by id (chained, doubled when it fills). A socket watches its
 * isolate's port: when the isolate dies, gone() unlinks it from its peer and frees it.
 * Invariant: a frame handler calls its peer's op last, or only ops that neither unlink nor
 * free (http/ws_side.h), before it may end its own socket.
 */
#include "host/ws_isolate.h"
#include "base/list.h"
#include "http/ws_codec.h"
#include "wire/ws_frames.h"

#include <stdlib.h>
#include <string.h>

typedef struct ws_end ws_end_t;

struct pw_ws_table {
    pw_list_t *buckets;
    size_t n_buckets;
    size_t count;
    uint32_t next_id;           /* for sockets the host opens */
    uint64_t *messages;
};

struct ws_end {
    pw_ws_side_t side;          /* first */
    pw_port_watch_t watch;
    pw_port_t *port;
    pw_ws_table_t *table;
    uint32_t id;
    pw_list_t link;             /* in its bucket */
    size_t in_flight;           /* the isolate's message bytes given to the peer, unconsumed */
    size_t to_ack;              /* ... consumed, not yet acknowledged to the isolate */
    int told_close;             /* the isolate was sent WS_CLOSE */
    int closed;                 /* the isolate sent WS_SEND_CLOSE */
    int paused;                 /* opened by the host, not yet accepted by the isolate */
    pw_buf_t held;              /* while paused: what the peer sent (bounded by its window) */
};

/* A held record: u8 kind (0 text, 1 binary, 2 close), u32 length, then the data (a close:
 * u16 code and the reason). */
enum { HELD_TEXT, HELD_BINARY, HELD_CLOSE };

static const pw_ws_side_ops_t end_ops;

/* ---- the table ---- */

pw_ws_table_t *pw_ws_table_new(uint64_t *messages)
{
    pw_ws_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->next_id = PW_WS_HOST_IDS;
    t->messages = messages;
    return t;
}

void pw_ws_table_free(pw_ws_table_t *table)
{
    if (!table)
        return;
    free(table->buckets);
    free(table);
}

size_t pw_ws_table_count(const pw_ws_table_t *table)
{
    return table ? table->count : 0;
}

static pw_list_t *bucket_of(const pw_ws_table_t *t, uint32_t id)
{
    return &t->buckets[(id * 2654435761u) & (t->n_buckets - 1)];
}

static ws_end_t *table_find(const pw_ws_table_t *t, uint32_t id)
{
    if (!t || !t->n_buckets)
        return NULL;
    pw_list_t *anchor = bucket_of(t, id);
    PW_LIST_FOR_EACH(node, anchor) {
        ws_end_t *end = PW_CONTAINER_OF(node, ws_end_t, link);
        if (end->id == id)
            return end;
    }
    return NULL;
}

/* Doubles the buckets (the first time: 16). Returns 0 or -1. */
static int table_grow(pw_ws_table_t *t)
{
    size_t n = t->n_buckets ? t->n_buckets * 2 : 16;
    pw_list_t *buckets = malloc(n * sizeof *buckets), *old = t->buckets;
    if (!buckets)
        return -1;
    for (size_t i = 0; i < n; i++)
        pw_list_init(&buckets[i]);
    size_t old_n = t->n_buckets;
    t->buckets = buckets;
    t->n_buckets = n;
    for (size_t i = 0; i < old_n; i++) {
        while (!pw_list_empty(&old[i])) {
            ws_end_t *end = PW_CONTAINER_OF(old[i].next, ws_end_t, link);
            pw_list_remove(&end->link);
            pw_list_push_back(bucket_of(t, end->id), &end->link);
        }
    }
    free(old);
    return 0;
}

static int table_add(pw_ws_table_t *t, ws_end_t *end)
{
    if (t->count >= t->n_buckets * 2 && table_grow(t) < 0 && !t->n_buckets)
        return -1;
    pw_list_push_back(bucket_of(t, end->id), &end->link);
    t->count++;
    return 0;
}

/* ---- a socket's life ---- */

static void end_free(ws_end_t *end)
{
    pw_buf_free(&end->held);
    pw_list_remove(&end->link);
    end->table->count--;
    pw_port_unwatch(end->port, &end->watch);
    free(end);
}

/* Done with this socket: the peer is told (detached) and forgets it. */
static void end_finish(ws_end_t *end)
{
    pw_ws_unlink(&end->side);
    end_free(end);
}

/* The isolate died: the peer sees its socket vanish. */
static void end_gone(pw_port_watch_t *watch)
{
    ws_end_t *end = PW_CONTAINER_OF(watch, ws_end_t, watch);
    end_finish(end);
}

static ws_end_t *end_new(pw_port_t *port, uint32_t id)
{
    pw_ws_table_t *t = pw_port_sockets(port);
    ws_end_t *end = t ? calloc(1, sizeof *end) : NULL;
    if (!end)
        return NULL;
    end->side.ops = &end_ops;
    end->port = port;
    end->table = t;
    end->id = id;
    if (table_add(t, end) < 0) {
        free(end);
        return NULL;
    }
    pw_port_watch(port, &end->watch, end_gone);
    return end;
}

pw_ws_side_t *pw_ws_isolate_open(pw_port_t *port, uint32_t id)
{
    ws_end_t *end = end_new(port, id);
    return end ? &end->side : NULL;
}

pw_ws_side_t *pw_ws_isolate_open_new(pw_port_t *port, uint32_t *id)
{
    pw_ws_table_t *t = pw_port_sockets(port);
    if (!t)
        return NULL;
    do {
        if (++t->next_id < PW_WS_HOST_IDS || t->next_id >= PW_WS_BRIDGE_IDS)
            t->next_id = PW_WS_HOST_IDS;
    } while (table_find(t, t->next_id));
    *id = t->next_id;
    ws_end_t *end = end_new(port, *id);
    if (!end)
        return NULL;
    end->paused = 1;
    return &end->side;
}

pw_ws_side_t *pw_ws_isolate_open_held(pw_port_t *port, uint32_t id)
{
    if (table_find(pw_port_sockets(port), id))
        return NULL;
    ws_end_t *end = end_new(port, id);
    if (!end)
        return NULL;
    end->paused = 1;
    return &end->side;
}

static int hold(ws_end_t *end, uint8_t kind, const void *a, size_t a_len, const void *b, size_t b_len)
{
    uint8_t head[5] = { kind, (uint8_t)(a_len + b_len), (uint8_t)((a_len + b_len) >> 8),
                        (uint8_t)((a_len + b_len) >> 16), (uint8_t)((a_len + b_len) >> 24) };
    return pw_buf_append(&end->held, head, 5) | pw_buf_append(&end->held, a, a_len) |
           pw_buf_append(&end->held, b, b_len);
}

void pw_ws_replay(const pw_buf_t *held, pw_ws_side_t *to)
{
    for (size_t off = 0; to && off + 5 <= held->len;) {
        const uint8_t *r = held->data + off;
        size_t len = (size_t)r[1] | (size_t)r[2] << 8 | (size_t)r[3] << 16 | (size_t)r[4] << 24;
        if (r[0] == HELD_CLOSE && len >= 2)
            to->ops->close(to, (uint16_t)(r[5] | r[6] << 8), (pw_bytes_t){ r + 7, len - 2 });
        else if (r[0] != HELD_CLOSE)
            to->ops->message(to, r[0] == HELD_BINARY, r + 5, len);
        off += 5 + len;
    }
}

pw_ws_side_t *pw_ws_isolate_splice(pw_port_t *port, uint32_t id, pw_buf_t *held)
{
    ws_end_t *end = table_find(pw_port_sockets(port), id);
    pw_ws_side_t *peer = end ? end->side.peer : NULL;
    if (!peer)
        return NULL;
    end->side.peer = peer->peer = NULL;     /* unlinked without a word: the peer goes on */
    *held = end->held;
    pw_buf_init(&end->held);
    end_free(end);
    return peer;
}

/* ---- to the isolate ---- */

static void tell_close(ws_end_t *end, uint16_t code, pw_bytes_t reason)
{
    pw_buf_t *out = pw_port_out(end->port);
    if (end->told_close || !out)
        return;
    end->told_close = 1;
    if (end->paused) {
        uint8_t c[2] = { (uint8_t)code, (uint8_t)(code >> 8) };
        hold(end, HELD_CLOSE, c, 2, reason.base, reason.len);
        return;
    }
    if (pw_ws_frame_put_close(out, PW_FRAME_WS_CLOSE, end->id, code, reason) == 0)
        pw_port_wrote(end->port);
}

void pw_ws_isolate_refuse(pw_ws_side_t *side, uint16_t code, const char *reason)
{
    ws_end_t *end = (ws_end_t *)side;
    tell_close(end, code, pw_bytes_of(reason));
    end_finish(end);
}

static void end_message(pw_ws_side_t *side, int binary, const uint8_t *data, size_t len)
{
    ws_end_t *end = (ws_end_t *)side;
    pw_buf_t *out = pw_port_out(end->port);
    if (!out || end->told_close)
        return;
    if (end->paused) {
        hold(end, binary ? HELD_BINARY : HELD_TEXT, data, len, NULL, 0);
        return;
    }
    if (pw_ws_frame_put_message(out, PW_FRAME_WS_MESSAGE, end->id, binary, data, len) == 0) {
        (*end->table->messages)++;
        pw_port_wrote(end->port);
    }
}

static void end_close(pw_ws_side_t *side, uint16_t code, pw_bytes_t reason)
{
    tell_close((ws_end_t *)side, code, reason);
}

static void end_consumed(pw_ws_side_t *side, size_t bytes)
{
    ws_end_t *end = (ws_end_t *)side;
    pw_buf_t *out = pw_port_out(end->port);
    end->in_flight = bytes > end->in_flight ? 0 : end->in_flight - bytes;
    end->to_ack += bytes;
    /* acknowledged in batches (a wake-up of the isolate each): it only waits for acks once
     * PW_WS_WINDOW is unacknowledged, and less than a batch is ever held back here */
    if (end->to_ack < PW_WS_ACK_BATCH || !out)
        return;
    if (pw_frame_put_u32_frame(out, PW_FRAME_WS_ACK, end->id,
                               end->to_ack > UINT32_MAX ? UINT32_MAX : (uint32_t)end->to_ack) == 0)
        pw_port_wrote(end->port);
    end->to_ack = 0;
}

/* The peer is gone: unless it closed first, the isolate sees 1006 (abnormal closure). */
static void end_detached(pw_ws_side_t *side)
{
    ws_end_t *end = (ws_end_t *)side;
    tell_close(end, PW_WS_CLOSE_ABNORMAL, pw_bytes_of(""));
    end_free(end);
}

static const pw_ws_side_ops_t end_ops = {
    .message = end_message, .close = end_close, .consumed = end_consumed,
    .detached = end_detached,
};

/* ---- from the isolate ---- */

/* The isolate accepted a socket the host opened for it: what was held is delivered. */
static void resume(ws_end_t *end)
{
    pw_buf_t held = end->held;
    int told = end->told_close;
    pw_buf_init(&end->held);
    end->paused = 0;
    end->told_close = 0;
    pw_ws_replay(&held, &end->side);
    end->told_close |= told;
    pw_buf_free(&held);
}

int pw_ws_is_isolate_frame(uint8_t type)
{
    return type == PW_FRAME_WS_SEND || type == PW_FRAME_WS_SEND_CLOSE || type == PW_FRAME_WS_TAKEN;
}

static int on_send(ws_end_t *end, const pw_frame_t *frame, const char **why)
{
    int binary = frame->flags & PW_FRAME_FLAG_BINARY;
    if (end->in_flight >= PW_WS_WINDOW) {
        *why = "it sent WebSocket messages past its flow-control window";
        return -1;
    }
    if (!binary && !pw_utf8_valid(frame->payload, frame->len)) {
        *why = "it sent a WebSocket text message that is not UTF-8";
        return -1;
    }
    pw_ws_side_t *peer = end->side.peer;
    if (end->closed || !peer) {         /* nobody to take it: taken at once */
        end_consumed(&end->side, frame->len);
        return 0;
    }
    end->in_flight += frame->len;
    peer->ops->message(peer, binary, frame->payload, frame->len);
    return 0;
}

static int on_close(ws_end_t *end, const pw_frame_t *frame, const char **why)
{
    uint16_t code;
    pw_bytes_t reason;
    if (pw_ws_frame_decode_close(frame, &code, &reason) < 0) {
        *why = "it sent a malformed WebSocket close";
        return -1;
    }
    if (end->closed)
        return 0;
    end->closed = 1;
    pw_ws_side_t *peer = end->side.peer;
    if (peer)
        peer->ops->close(peer, code, reason);
    if (end->told_close || !end->side.peer)
        end_finish(end);    /* both closes exchanged (or nobody to wait for) */
    return 0;
}

int pw_ws_isolate_frame(pw_port_t *port, const pw_frame_t *frame, const char **why)
{
    uint32_t taken;
    ws_end_t *end = table_find(pw_port_sockets(port), frame->id);
    if (frame->type == PW_FRAME_WS_TAKEN) {
        if (pw_frame_decode_u32(frame, &taken) < 0) {
            *why = "it sent a malformed frame";
            return -1;
        }
        if (end && end->paused && taken == 0)
            resume(end);
        else if (end && end->side.peer)
            end->side.peer->ops->consumed(end->side.peer, taken);
        return 0;
    }
    if (!end)
        return 0;           /* a socket that ended meanwhile */
    return frame->type == PW_FRAME_WS_SEND ? on_send(end, frame, why) : on_close(end, frame, why);
}
