/* do_sockets.c — a Durable Object's hibernatable WebSockets (host process, the main loop; see
 * do_sockets.h). Each socket is a side linked to its client's end; it counts references: its
 * place in the object's list, and each of its events in flight (their answers come back to
 * it after it may have ended). A message is reported consumed to the client's end when its
 * event has been answered, so a slow object slows its clients.
 * Invariant: a listed socket keeps its object (do_objects.c frees no object with sockets);
 * an ended socket touches neither its object nor its peer again.
 */
#include "host/do_sockets.h"
#include "base/log.h"
#include "host/do_state.h"
#include "http/ws_codec.h"
#include "wire/ws_frames.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pw_ws_side_t side;          /* first */
    pw_list_t link;             /* obj->sockets while listed */
    pw_do_object_t *obj;
    char id[PW_DO_WS_MAX_ID + 1];
    char *tags;                 /* a JSON array */
    char *att;                  /* JSON text; NULL: none */
    int64_t auto_ts;            /* the last auto-response (ms since the epoch); 0: none */
    unsigned refs;
    size_t unconsumed;          /* the object's bytes given to the client, not yet consumed */
    int listed, known, close_sent, close_received, close_event;
    int pending;                /* accepted, its fetch's answer not yet linked to a client */
    uint64_t accepted_ms;
    pw_buf_t held;              /* while pending: what the object sent (records) */
} sock_t;

typedef struct {
    sock_t *sock;
    size_t len;                 /* the message's bytes, consumed when answered */
    int close;                  /* a close event: the socket ends when it is answered */
    uint16_t code;
    char reason[PW_WS_MAX_REASON + 1];
} sock_event_t;

enum { REC_TEXT, REC_BINARY, REC_CLOSE };

static const pw_ws_side_ops_t sock_ops;
static void on_detached(pw_ws_side_t *side);
static const char disconnected[] = "WebSocket disconnected without sending Close frame.";

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- a socket's life ---- */

static void sock_unref(sock_t *s)
{
    if (--s->refs)
        return;
    free(s->tags);
    free(s->att);
    pw_buf_free(&s->held);
    free(s);
}

/* Out of the object's list, its client's end told (detached). */
static void sock_unlist(sock_t *s)
{
    pw_list_remove(&s->link);
    s->obj->n_sockets--;
    s->listed = 0;
    pw_ws_unlink(&s->side);
    sock_unref(s);
}

/* Done (the object may go with its last socket). */
static void sock_end(sock_t *s)
{
    if (!s->listed)
        return;
    pw_do_object_t *obj = s->obj;
    pw_do_object_hold(obj);
    sock_unlist(s);
    pw_do_object_unhold(obj);   /* may free it */
}

static sock_t *sock_find(pw_do_object_t *obj, pw_bytes_t id)
{
    PW_LIST_FOR_EACH(node, &obj->sockets) {
        sock_t *s = PW_CONTAINER_OF(node, sock_t, link);
        if (pw_bytes_is(id, s->id))
            return s;
    }
    return NULL;
}

size_t pw_do_socket_count(const pw_do_object_t *obj)
{
    return obj->n_sockets;
}

/* ---- events for the object ---- */

/* The head's fields every event has; tags and attachment when the instance lacks them. */
static cJSON *event_head(sock_t *s)
{
    cJSON *h = cJSON_CreateObject();
    if (!h)
        return NULL;
    cJSON_AddStringToObject(h, "sock", s->id);
    cJSON_AddNumberToObject(h, "ts", (double)s->auto_ts);
    if (!s->known) {
        cJSON_AddRawToObject(h, "tags", s->tags);
        cJSON_AddRawToObject(h, "att", s->att ? s->att : "null");
        s->known = 1;
    }
    return h;
}

static void event_done(void *arg, const pw_worker_answer_t *answer);

/* Sends `method` with head and data; the head is freed. Returns 0 or -1 (out of memory). */
static int send_event(sock_t *s, const char *method, cJSON *head, const uint8_t *data, size_t len,
                      sock_event_t *se)
{
    char *text = head ? cJSON_PrintUnformatted(head) : NULL;
    cJSON_Delete(head);
    pw_buf_t payload;
    pw_buf_init(&payload);
    int rc = text ? 0 : -1;
    if (rc == 0)
        rc = pw_buf_append(&payload, text, strlen(text)) | pw_buf_append(&payload, "\n", 1) |
             pw_buf_append(&payload, data, len);
    free(text);
    if (rc == 0) {
        se->sock = s;
        s->refs++;
        rc = pw_do_event(s->obj, pw_bytes_of(method), (pw_bytes_t){ payload.data, payload.len },
                         event_done, se, NULL);
        if (rc < 0)
            s->refs--;
    }
    pw_buf_free(&payload);
    if (rc < 0) {
        pw_log_error("Durable Object %s: out of memory delivering a WebSocket event", s->obj->id);
        free(se);
    }
    return rc < 0 ? -1 : 0;
}

/* A close event was answered: unless the object closed, the client's close is returned
 * (workerd's auto-reply); then the socket ends. */
static void close_answered(sock_t *s, sock_event_t *se)
{
    s->close_event = 0;
    pw_ws_side_t *peer = s->side.peer;
    if (!s->close_sent && peer && se->code != PW_WS_CLOSE_ABNORMAL) {
        s->close_sent = 1;
        peer->ops->close(peer, se->code, pw_bytes_of(se->reason));
    }
    sock_end(s);
}

static void event_done(void *arg, const pw_worker_answer_t *answer)
{
    sock_event_t *se = arg;
    sock_t *s = se->sock;
    if (se->len && s->side.peer)
        s->side.peer->ops->consumed(s->side.peer, se->len);
    if (se->close)
        close_answered(s, se);
    sock_unref(s);
    free(se);
}

/* ---- the client's end (the side's ops) ---- */

static int is_auto_request(const pw_do_object_t *obj, int binary, const uint8_t *data, size_t len)
{
    return obj->has_auto && !binary && len == obj->auto_request.len &&
           (len == 0 || memcmp(data, obj->auto_request.data, len) == 0);
}

static void on_message(pw_ws_side_t *side, int binary, const uint8_t *data, size_t len)
{
    sock_t *s = (sock_t *)side;
    pw_ws_side_t *peer = side->peer;
    if (!s->listed || s->close_received) {
        if (peer)
            peer->ops->consumed(peer, len);
        return;
    }
    pw_do_object_t *obj = s->obj;
    if (is_auto_request(obj, binary, data, len)) {      /* answered here: the object sleeps on */
        s->auto_ts = pw_do_now_ms();
        if (!s->close_sent)
            peer->ops->message(peer, 0, obj->auto_response.data ? obj->auto_response.data
                                                                 : (const uint8_t *)"",
                               obj->auto_response.len);
        peer->ops->consumed(peer, len);
        return;
    }
    sock_event_t *se = calloc(1, sizeof *se);
    cJSON *head = se ? event_head(s) : NULL;
    if (head)
        cJSON_AddBoolToObject(head, "binary", binary);
    if (!se || send_event(s, "__ws_message__", head, data, len, se) < 0) {
        if (!se)
            cJSON_Delete(head);
        peer->ops->consumed(peer, len);
        return;
    }
    se->len = len;
}

/* A close (clean), 1006 (the client vanished), or a protocol error the client's end found
 * (1002, 1007, 1009: its close is already sent) becomes the object's event. */
static void report_close(sock_t *s, uint16_t code, pw_bytes_t reason, int clean)
{
    int error = code == PW_WS_CLOSE_PROTOCOL || code == PW_WS_CLOSE_BAD_DATA || code == PW_WS_CLOSE_TOO_BIG;
    s->close_received = 1;
    sock_event_t *se = calloc(1, sizeof *se);
    cJSON *head = se ? event_head(s) : NULL;
    if (!head) {
        free(se);
        sock_end(s);
        return;
    }
    se->close = 1;
    se->code = error ? PW_WS_CLOSE_ABNORMAL : code;    /* an error is not answered */
    size_t n = reason.len < PW_WS_MAX_REASON ? reason.len : PW_WS_MAX_REASON;
    memcpy(se->reason, reason.base, n);
    se->reason[n] = '\0';
    if (error) {
        cJSON_AddStringToObject(head, "message", se->reason);
    } else {
        cJSON_AddNumberToObject(head, "code", code);
        cJSON_AddStringToObject(head, "reason", se->reason);
        cJSON_AddBoolToObject(head, "clean", clean);
    }
    s->close_event = 1;
    if (send_event(s, error ? "__ws_error__" : "__ws_close__", head, NULL, 0, se) < 0) {
        s->close_event = 0;
        sock_end(s);
    }
}

static void on_close(pw_ws_side_t *side, uint16_t code, pw_bytes_t reason)
{
    sock_t *s = (sock_t *)side;
    if (s->listed && !s->close_received)
        report_close(s, code, reason, 1);
}

static void on_consumed(pw_ws_side_t *side, size_t bytes)
{
    sock_t *s = (sock_t *)side;
    s->unconsumed = bytes > s->unconsumed ? 0 : s->unconsumed - bytes;
}

/* The client's end is gone: the object hears 1006, unless a close event already went. */
static void on_detached(pw_ws_side_t *side)
{
    sock_t *s = (sock_t *)side;
    if (!s->listed)
        return;
    if (!s->close_received)
        report_close(s, PW_WS_CLOSE_ABNORMAL, pw_bytes_of(disconnected), 0);
    else if (!s->close_event)
        sock_end(s);
}

static const pw_ws_side_ops_t sock_ops = {
    .message = on_message, .close = on_close, .consumed = on_consumed, .detached = on_detached,
};

/* ---- accepting ---- */

static int id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > PW_DO_WS_MAX_ID)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') || id[i] == '-'))
            return 0;
    return 1;
}

static int tags_ok(const cJSON *tags)
{
    if (!cJSON_IsArray(tags) || cJSON_GetArraySize(tags) > PW_DO_WS_MAX_TAGS)
        return 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
        if (!cJSON_IsString(t) || strlen(t->valuestring) > PW_DO_WS_MAX_TAG * 4)
            return 0;
    return 1;
}

int pw_do_socket_accept(pw_do_object_t *obj, pw_bytes_t id, pw_bytes_t tags_json, char *err,
                        size_t err_len)
{
    char sid[PW_DO_WS_MAX_ID + 1];
    if (id.len > PW_DO_WS_MAX_ID)
        return snprintf(err, err_len, "a malformed hibernatable WebSocket id"), -1;
    memcpy(sid, id.base, id.len);
    sid[id.len] = '\0';
    cJSON *tags = cJSON_ParseWithLength((const char *)tags_json.base, tags_json.len);
    int ok = id_ok(sid) && tags && tags_ok(tags);
    cJSON_Delete(tags);
    if (!ok)
        return snprintf(err, err_len, "a malformed hibernatable WebSocket"), -1;
    if (obj->n_sockets >= PW_DO_WS_MAX_SOCKETS)
        return snprintf(err, err_len, "only %d websockets can be accepted on a single Durable Object "
                        "instance", PW_DO_WS_MAX_SOCKETS), -1;
    if (sock_find(obj, id))
        return snprintf(err, err_len, "this WebSocket was already accepted"), -1;
    sock_t *s = calloc(1, sizeof *s);
    if (s && !(s->tags = malloc(tags_json.len + 1))) {
        free(s);
        s = NULL;
    }
    if (!s)
        return snprintf(err, err_len, "out of memory"), -1;
    memcpy(s->tags, tags_json.base, tags_json.len);
    s->tags[tags_json.len] = '\0';
    s->side.ops = &sock_ops;
    s->obj = obj;
    memcpy(s->id, sid, sizeof sid);
    s->refs = 1;
    s->listed = s->known = s->pending = 1;
    s->accepted_ms = uv_now(obj->ns->host->opts.loop);
    pw_buf_init(&s->held);
    pw_list_push_back(&obj->sockets, &s->link);
    obj->n_sockets++;
    return 0;
}

pw_ws_side_t *pw_do_socket_claim(pw_do_object_t *obj, pw_bytes_t body, char *err, size_t err_len)
{
    cJSON *head = cJSON_ParseWithLength((const char *)body.base, body.len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(head, "sock");
    sock_t *s = cJSON_IsString(id) ? sock_find(obj, pw_bytes_of(id->valuestring)) : NULL;
    cJSON_Delete(head);
    if (!s || !s->pending) {
        snprintf(err, err_len, "the Durable Object answered with a WebSocket it did not accept");
        return NULL;
    }
    s->pending = 0;
    return &s->side;
}

static int hold(sock_t *s, uint8_t kind, const void *a, size_t a_len, const void *b, size_t b_len)
{
    size_t n = a_len + b_len;
    uint8_t head[5] = { kind, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24) };
    if (s->held.len + 5 + n > PW_DO_WS_MAX_HELD)
        return -1;
    return pw_buf_append(&s->held, head, 5) | pw_buf_append(&s->held, a, a_len) |
           pw_buf_append(&s->held, b, b_len);
}

void pw_do_socket_start(pw_ws_side_t *side)
{
    sock_t *s = (sock_t *)side;
    pw_buf_t held = s->held;
    pw_buf_init(&s->held);
    if (!side->peer) {          /* nobody took it: as if its client vanished */
        pw_buf_free(&held);
        on_detached(side);
        return;
    }
    for (size_t off = 0; side->peer && off + 5 <= held.len;) {
        const uint8_t *r = held.data + off;
        size_t len = le32(r + 1);
        pw_ws_side_t *peer = side->peer;
        if (r[0] == REC_CLOSE) {
            peer->ops->close(peer, (uint16_t)(r[5] | r[6] << 8), (pw_bytes_t){ r + 7, len - 2 });
        } else {
            s->unconsumed += len;
            peer->ops->message(peer, r[0] == REC_BINARY, r + 5, len);
        }
        off += 5 + len;
    }
    pw_buf_free(&held);
}

void pw_do_socket_drop(pw_do_object_t *obj, pw_bytes_t id)
{
    sock_t *s = sock_find(obj, id);
    if (s && s->pending)
        sock_end(s);
}

void pw_do_sockets_sweep(pw_do_object_t *obj, uint64_t now)
{
    pw_do_object_hold(obj);
    for (pw_list_t *node = obj->sockets.next, *next; node != &obj->sockets; node = next) {
        next = node->next;
        sock_t *s = PW_CONTAINER_OF(node, sock_t, link);
        if (s->pending && now - s->accepted_ms > PW_DO_WS_PENDING_MS) {
            s->pending = 0;     /* its fetch's caller went away: the object hears 1006 */
            pw_buf_free(&s->held);
            on_detached(&s->side);
        }
    }
    pw_do_object_unhold(obj);
}

/* ---- the object's calls ---- */

static sock_t *sock_or_error(pw_do_object_t *obj, pw_bytes_t id, char *err, size_t err_len)
{
    sock_t *s = sock_find(obj, id);
    if (!s)
        snprintf(err, err_len, "WebSocket is closed");
    return s;
}

int pw_do_socket_send(pw_do_object_t *obj, pw_bytes_t id, int binary, pw_bytes_t data, char *err,
                      size_t err_len)
{
    sock_t *s = sock_or_error(obj, id, err, err_len);
    if (!s)
        return -1;
    if (s->close_sent)
        return snprintf(err, err_len, "Can't call WebSocket send() after close()."), -1;
    if (data.len > PW_WS_MAX_MESSAGE)
        return snprintf(err, err_len, "WebSocket message too large"), -1;
    if (!binary && !pw_utf8_valid(data.base, data.len))
        return snprintf(err, err_len, "a WebSocket text message must be UTF-8"), -1;
    pw_ws_side_t *peer = s->side.peer;
    if (s->pending && hold(s, binary ? REC_BINARY : REC_TEXT, data.base, data.len, NULL, 0) < 0)
        return snprintf(err, err_len, "too much sent on a WebSocket not yet returned in a Response"), -1;
    if (peer) {
        s->unconsumed += data.len;
        peer->ops->message(peer, binary, data.base, data.len);
    }
    return 0;
}

int pw_do_socket_close(pw_do_object_t *obj, pw_bytes_t id, uint16_t code, pw_bytes_t reason,
                       char *err, size_t err_len)
{
    sock_t *s = sock_or_error(obj, id, err, err_len);
    if (!s || s->close_sent)
        return s ? 0 : -1;
    if (reason.len > PW_WS_MAX_REASON)
        return snprintf(err, err_len, "The WebSocket close reason is longer than 123 bytes."), -1;
    s->close_sent = 1;
    if (s->pending) {
        uint8_t c[2] = { (uint8_t)code, (uint8_t)(code >> 8) };
        return hold(s, REC_CLOSE, c, 2, reason.base, reason.len) < 0 ? -1 : 0;
    }
    pw_ws_side_t *peer = s->side.peer;
    if (peer)
        peer->ops->close(peer, code, reason);
    if (!peer || (s->close_received && !s->close_event))
        sock_end(s);
    return 0;
}

int pw_do_socket_attach(pw_do_object_t *obj, pw_bytes_t id, int has, pw_bytes_t json, char *err,
                        size_t err_len)
{
    sock_t *s = sock_or_error(obj, id, err, err_len);
    if (!s)
        return -1;
    if (has && json.len > PW_DO_WS_MAX_ATTACHMENT)
        return snprintf(err, err_len, "A WebSocket 'attachment' cannot be larger than %u bytes.'attachment' "
                        "was %zu bytes.", PW_DO_WS_MAX_ATTACHMENT, json.len), -1;
    cJSON *value = has ? cJSON_ParseWithLength((const char *)json.base, json.len) : NULL;
    if (has && !value)
        return snprintf(err, err_len, "a malformed WebSocket attachment"), -1;
    char *text = value ? cJSON_PrintUnformatted(value) : NULL;
    cJSON_Delete(value);
    if (has && !text)
        return snprintf(err, err_len, "out of memory"), -1;
    free(s->att);
    s->att = text;
    return 0;
}

static int buf_set(pw_buf_t *b, pw_bytes_t v)
{
    b->len = 0;
    return pw_buf_append(b, v.base, v.len);
}

int pw_do_socket_auto_response(pw_do_object_t *obj, int has, pw_bytes_t request, pw_bytes_t response,
                               char *err, size_t err_len)
{
    obj->has_auto = 0;
    if (!has)
        return 0;
    if (request.len > PW_DO_WS_MAX_AUTO || response.len > PW_DO_WS_MAX_AUTO)
        return snprintf(err, err_len, "%s cannot be larger than %d bytes.",
                        request.len > PW_DO_WS_MAX_AUTO ? "Request" : "Response", PW_DO_WS_MAX_AUTO), -1;
    if (buf_set(&obj->auto_request, request) < 0 || buf_set(&obj->auto_response, response) < 0)
        return snprintf(err, err_len, "out of memory"), -1;
    obj->has_auto = 1;
    return 0;
}

static cJSON *buf_string(const pw_buf_t *b)
{
    char *text = malloc(b->len + 1);
    if (!text)
        return NULL;
    if (b->len)
        memcpy(text, b->data, b->len);
    text[b->len] = '\0';
    cJSON *s = cJSON_CreateString(text);
    free(text);
    return s;
}

char *pw_do_socket_list(pw_do_object_t *obj)
{
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "sockets");
    cJSON *pair = obj->has_auto ? cJSON_AddArrayToObject(root, "auto") : cJSON_AddNullToObject(root, "auto");
    if (obj->has_auto && pair) {
        cJSON_AddItemToArray(pair, buf_string(&obj->auto_request));
        cJSON_AddItemToArray(pair, buf_string(&obj->auto_response));
    }
    PW_LIST_FOR_EACH(node, &obj->sockets) {
        sock_t *s = PW_CONTAINER_OF(node, sock_t, link);
        cJSON *item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "sock", s->id);
        cJSON_AddRawToObject(item, "tags", s->tags);
        cJSON_AddRawToObject(item, "att", s->att ? s->att : "null");
        cJSON_AddNumberToObject(item, "ts", (double)s->auto_ts);
        cJSON_AddBoolToObject(item, "closing", s->close_sent || s->close_received);
        s->known = 1;
    }
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* ---- the object's life ---- */

void pw_do_sockets_forget(pw_do_object_t *obj)
{
    PW_LIST_FOR_EACH(node, &obj->sockets)
        PW_CONTAINER_OF(node, sock_t, link)->known = 0;
}

void pw_do_sockets_reset(pw_do_object_t *obj, uint16_t code, const char *reason)
{
    pw_do_object_hold(obj);
    while (!pw_list_empty(&obj->sockets)) {
        sock_t *s = PW_CONTAINER_OF(obj->sockets.next, sock_t, link);
        pw_ws_side_t *peer = s->side.peer;
        if (peer && !s->close_sent) {
            s->close_sent = 1;
            peer->ops->close(peer, code, pw_bytes_of(reason));
        }
        sock_end(s);
    }
    pw_do_object_unhold(obj);
}

void pw_do_sockets_free(pw_do_object_t *obj)
{
    while (!pw_list_empty(&obj->sockets))
        sock_unlist(PW_CONTAINER_OF(obj->sockets.next, sock_t, link));
}
