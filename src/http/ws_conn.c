/* ws_conn.c — a WebSocket connection over an h2o socket (host process, its loop thread; see
 * ws_conn.h). Input is read frame by frame from the socket's own buffer (whole frames only;
 * a message of one frame goes to the peer without a copy); output is encoded into `pending`
 * and written one batch at a time (h2o allows one write in flight), after which the peer is
 * told how many of its message bytes went out.
 * Invariant: once `ended`, nothing touches the socket or the peer; the memory goes when the
 * timer handle has closed.
 */
#include "http/ws_conn.h"
#include "http/ws_codec.h"
#include "wire/ws_frames.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

struct pw_ws_conn {
    pw_ws_side_t side;          /* first */
    h2o_socket_t *sock;         /* NULL until attached, and once ended */
    int client;
    pw_ws_reader_t reader;
    pw_buf_t pending;           /* frames waiting for the socket */
    pw_buf_t sending;           /* the batch being written */
    size_t pending_msg, sending_msg;    /* the peer's message bytes in each */
    size_t control;             /* control-frame bytes in pending (pongs) */
    size_t unconsumed;          /* bytes of messages given to the peer, not yet consumed */
    int writing;
    int reading;                /* h2o_socket_read_start in effect */
    int close_sent, close_received;
    int shutting;               /* close the socket once everything is written */
    int half_closed;            /* draining, our close written: shutdown(SHUT_WR) done */
    int draining;               /* failed: input is read and dropped until the peer's end (a
                                 * close with unread input would reset the connection and the
                                 * peer could lose our close frame) */
    int ended;
    int in_input;               /* read_input() runs: a peer that consumes at once (a Durable
                                 * Object's auto-response) must not start it again */
    uv_timer_t timer;           /* the close handshake's deadline */
};

static __thread size_t open_conns;

static const pw_ws_side_ops_t conn_ops;

size_t pw_ws_conn_count(void)
{
    return open_conns;
}

pw_ws_side_t *pw_ws_conn_side(pw_ws_conn_t *conn)
{
    return &conn->side;
}

pw_ws_conn_t *pw_ws_conn_new(uv_loop_t *loop, int client)
{
    pw_ws_conn_t *conn = calloc(1, sizeof *conn);
    if (!conn)
        return NULL;
    conn->side.ops = &conn_ops;
    conn->client = client;
    pw_ws_reader_init(&conn->reader, !client, PW_WS_MAX_MESSAGE);
    pw_buf_init(&conn->pending);
    pw_buf_init(&conn->sending);
    uv_timer_init(loop, &conn->timer);
    conn->timer.data = conn;
    open_conns++;
    return conn;
}

/* ---- ending ---- */

static void conn_free(uv_handle_t *handle)
{
    pw_ws_conn_t *conn = handle->data;
    pw_ws_reader_free(&conn->reader);
    pw_buf_free(&conn->pending);
    pw_buf_free(&conn->sending);
    free(conn);
}

/* The socket closes now; the peer is told (detached: it saw a close, or takes this as 1006). */
static void conn_end(pw_ws_conn_t *conn)
{
    if (conn->ended)
        return;
    conn->ended = 1;
    open_conns--;
    if (conn->sock) {
        conn->sock->data = NULL;
        h2o_socket_close(conn->sock);
        conn->sock = NULL;
    }
    pw_ws_unlink(&conn->side);
    uv_close((uv_handle_t *)&conn->timer, conn_free);
}

static void on_close_timeout(uv_timer_t *timer)
{
    conn_end(timer->data);
}

/* ---- writing ---- */

static void on_written(h2o_socket_t *sock, const char *err);

/* Writes what is pending, unless a write is in flight; ends a connection that is shutting
 * once everything is out. */
static void conn_flush(pw_ws_conn_t *conn)
{
    if (conn->ended || !conn->sock || conn->writing)
        return;
    if (conn->pending.len == 0) {
        if (conn->shutting)     /* on the next turn: a peer's op may have called us */
            uv_timer_start(&conn->timer, on_close_timeout, 0, 0);
        return;
    }
    pw_buf_t swap = conn->sending;
    conn->sending = conn->pending;
    conn->pending = swap;
    conn->pending.len = 0;
    conn->sending_msg = conn->pending_msg;
    conn->pending_msg = 0;
    conn->control = 0;
    conn->writing = 1;
    h2o_iovec_t vec = h2o_iovec_init(conn->sending.data, conn->sending.len);
    h2o_socket_write(conn->sock, &vec, 1, on_written);
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    pw_ws_conn_t *conn = sock->data;
    if (!conn)
        return;
    conn->writing = 0;
    if (err) {
        conn_end(conn);
        return;
    }
    size_t sent = conn->sending_msg;
    conn->sending.len = 0;
    conn->sending_msg = 0;
    pw_buf_shrink(&conn->sending, 64 * 1024);
    if (sent && conn->side.peer)
        conn->side.peer->ops->consumed(conn->side.peer, sent);
    if (conn->draining && conn->pending.len == 0 && !conn->half_closed) {
        int fd = h2o_socket_get_fd(sock);   /* our close is out: the peer sees our end */
        conn->half_closed = 1;
        if (fd >= 0)
            shutdown(fd, SHUT_WR);
    }
    conn_flush(conn);
}

/* Appends one frame (masked in the client role). Returns 0 or -ENOMEM. */
static int queue_frame(pw_ws_conn_t *conn, uint8_t opcode, const uint8_t *data, size_t len)
{
    uint8_t header[PW_WS_MAX_HEADER], mask[4];
    if (conn->client && RAND_bytes(mask, 4) != 1)
        memset(mask, 0x5a, 4);
    size_t hl = pw_ws_put_header(header, 1, opcode, len, conn->client ? mask : NULL);
    size_t start = conn->pending.len;
    if (pw_buf_reserve(&conn->pending, hl + len) < 0)
        return -1;
    pw_buf_append(&conn->pending, header, hl);
    pw_buf_append(&conn->pending, data, len);
    if (conn->client)
        pw_ws_mask(conn->pending.data + start + hl, len, mask, 0);
    return 0;
}

/* Our close frame: code (none for 1005; 1006 and other codes a frame may not carry become
 * 1011) and reason. */
static void send_close(pw_ws_conn_t *conn, uint16_t code, pw_bytes_t reason)
{
    uint8_t payload[2 + PW_WS_MAX_REASON];
    size_t len = 0;
    if (code != PW_WS_CLOSE_NO_STATUS) {
        if (!pw_ws_close_code_ok(code))
            code = PW_WS_CLOSE_INTERNAL, reason.len = 0;
        size_t n = reason.len > PW_WS_MAX_REASON ? PW_WS_MAX_REASON : reason.len;
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        memcpy(payload + 2, reason.base, n);
        len = 2 + n;
    }
    conn->close_sent = 1;
    if (queue_frame(conn, PW_WS_OP_CLOSE, payload, len) < 0)
        conn->shutting = 1;
}

/* Closes from our end: the close frame, then the socket once the other end's close came
 * (or at the deadline). */
static void conn_close(pw_ws_conn_t *conn, uint16_t code, pw_bytes_t reason)
{
    if (conn->close_sent || conn->ended)
        return;
    send_close(conn, code, reason);
    if (conn->close_received)
        conn->shutting = 1;
    else
        uv_timer_start(&conn->timer, on_close_timeout, PW_WS_CLOSE_TIMEOUT_MS, 0);
    conn_flush(conn);
}

/* ---- reading ---- */

static void read_input(pw_ws_conn_t *conn);

static void on_read(h2o_socket_t *sock, const char *err)
{
    pw_ws_conn_t *conn = sock->data;
    if (!conn)
        return;
    if (err) {
        conn_end(conn);
        return;
    }
    read_input(conn);
}

/* Reading runs while the peer keeps up and no close came in. */
static void update_reading(pw_ws_conn_t *conn)
{
    if (conn->ended || !conn->sock)
        return;
    int want = conn->draining || (!conn->close_received && conn->unconsumed < PW_WS_WINDOW &&
                                  conn->control < PW_WS_CONTROL_BACKLOG);
    if (want && !conn->reading)
        h2o_socket_read_start(conn->sock, on_read);
    else if (!want && conn->reading)
        h2o_socket_read_stop(conn->sock);
    conn->reading = want;
}

/* Bad input: our close with its code; the peer sees the same code. */
static void conn_fail(pw_ws_conn_t *conn, uint16_t code)
{
    static const char *const reasons[] = { [0] = "protocol error", [1] = "invalid UTF-8",
                                           [2] = "message too big", [3] = "internal error" };
    const char *why = code == PW_WS_CLOSE_BAD_DATA ? reasons[1] : code == PW_WS_CLOSE_TOO_BIG ? reasons[2]
                      : code == PW_WS_CLOSE_PROTOCOL ? reasons[0] : reasons[3];
    conn->close_received = 1;   /* nothing more is read */
    if (conn->side.peer)
        conn->side.peer->ops->close(conn->side.peer, code, pw_bytes_of(why));
    if (!conn->close_sent)
        send_close(conn, code, pw_bytes_of(why));
    conn->draining = 1;         /* until the peer closes, or the close timeout */
    uv_timer_start(&conn->timer, on_close_timeout, PW_WS_CLOSE_TIMEOUT_MS, 0);
    conn_flush(conn);
}

static void on_close_frame(pw_ws_conn_t *conn, const pw_ws_event_t *ev)
{
    conn->close_received = 1;
    pw_bytes_t reason = { ev->data, ev->len };
    if (conn->close_sent) {             /* the answer to ours: done */
        if (conn->side.peer)
            conn->side.peer->ops->close(conn->side.peer, ev->code, reason);
        conn->shutting = 1;
        conn_flush(conn);
    } else if (conn->side.peer) {       /* the peer answers (its close comes back to us) */
        conn->side.peer->ops->close(conn->side.peer, ev->code, reason);
    } else {
        conn_close(conn, ev->code, reason);
    }
}

static void on_event(pw_ws_conn_t *conn, const pw_ws_event_t *ev)
{
    switch (ev->opcode) {
    case PW_WS_OP_TEXT:
    case PW_WS_OP_BINARY:
        if (conn->close_sent || !conn->side.peer)
            return;                     /* after our close, data is dropped */
        conn->unconsumed += ev->len;
        conn->side.peer->ops->message(conn->side.peer, ev->opcode == PW_WS_OP_BINARY, ev->data,
                                      ev->len);
        return;
    case PW_WS_OP_PING:
        if (!conn->close_sent && queue_frame(conn, PW_WS_OP_PONG, ev->data, ev->len) == 0) {
            conn->control += ev->len + 2;
            conn_flush(conn);
        }
        return;
    case PW_WS_OP_CLOSE:
        on_close_frame(conn, ev);
        return;
    default:
        return;                         /* a pong */
    }
}

static void read_input(pw_ws_conn_t *conn)
{
    h2o_buffer_t *in = conn->sock->input;
    size_t off = 0;
    if (conn->draining) {
        h2o_buffer_consume(&conn->sock->input, in->size);
        update_reading(conn);
        return;
    }
    conn->in_input = 1;
    while (!conn->ended && !conn->close_received && conn->unconsumed < PW_WS_WINDOW) {
        pw_ws_event_t ev;
        ssize_t n = pw_ws_read(&conn->reader, (uint8_t *)in->bytes + off, in->size - off, &ev);
        if (n < 0) {
            conn_fail(conn, (uint16_t)-n);
            break;
        }
        if (n == 0)
            break;
        off += (size_t)n;
        if (ev.opcode)
            on_event(conn, &ev);
    }
    conn->in_input = 0;
    if (conn->ended)
        return;
    h2o_buffer_consume(&conn->sock->input, off);
    update_reading(conn);
}

void pw_ws_conn_attach(pw_ws_conn_t *conn, h2o_socket_t *sock, size_t consumed)
{
    if (!sock) {
        conn_end(conn);
        return;
    }
    conn->sock = sock;
    sock->data = conn;
    h2o_buffer_consume(&sock->input, consumed);
    if (conn->ended) {          /* cannot happen: ended conns are never attached */
        return;
    }
    if (conn->close_sent && !conn->shutting && !uv_is_active((uv_handle_t *)&conn->timer))
        uv_timer_start(&conn->timer, on_close_timeout, PW_WS_CLOSE_TIMEOUT_MS, 0);
    read_input(conn);
    conn_flush(conn);
}

/* ---- the side's ops (from the peer) ---- */

static void side_message(pw_ws_side_t *side, int binary, const uint8_t *data, size_t len)
{
    pw_ws_conn_t *conn = (pw_ws_conn_t *)side;
    if (conn->close_sent || conn->ended || queue_frame(conn, binary ? PW_WS_OP_BINARY : PW_WS_OP_TEXT,
                                                       data, len) < 0) {
        if (side->peer)
            side->peer->ops->consumed(side->peer, len);     /* dropped: not held against it */
        return;
    }
    conn->pending_msg += len;
    conn_flush(conn);
}

static void side_close(pw_ws_side_t *side, uint16_t code, pw_bytes_t reason)
{
    pw_ws_conn_t *conn = (pw_ws_conn_t *)side;
    if (code == PW_WS_CLOSE_ABNORMAL)
        code = PW_WS_CLOSE_INTERNAL;
    conn_close(conn, code, reason);
}

static void side_consumed(pw_ws_side_t *side, size_t bytes)
{
    pw_ws_conn_t *conn = (pw_ws_conn_t *)side;
    conn->unconsumed = bytes > conn->unconsumed ? 0 : conn->unconsumed - bytes;
    if (conn->ended || !conn->sock || conn->unconsumed >= PW_WS_WINDOW || conn->in_input)
        return;                 /* (reading already: its loop goes on) */
    if (conn->sock->input->size && !conn->close_received)
        read_input(conn);       /* frames that waited in the socket's buffer */
    else
        update_reading(conn);
}

/* The peer is gone: close with 1011 (or 1001 going away, as a client); the socket closes as
 * soon as the close is written. */
static void side_detached(pw_ws_side_t *side)
{
    pw_ws_conn_t *conn = (pw_ws_conn_t *)side;
    if (!conn->close_sent)
        send_close(conn, conn->client ? PW_WS_CLOSE_GOING_AWAY : PW_WS_CLOSE_INTERNAL,
                   pw_bytes_of(""));
    conn->shutting = !conn->draining;   /* a failed connection ends with its peer's end */
    conn_flush(conn);
}

static const pw_ws_side_ops_t conn_ops = {
    .message = side_message, .close = side_close, .consumed = side_consumed,
    .detached = side_detached,
};
