/* do_sockets.h — a Durable Object's hibernatable WebSockets (host process, the main loop):
 * sockets the object accepted with ctx.acceptWebSocket(ws, tags). The host, not the isolate,
 * holds each one (a side, http/ws_side.h, linked to the client's end), with its tags, its
 * attachment and the object's auto-response, so that the object may leave memory (evicted,
 * or its isolate retired) while its sockets stay open. A message from the client becomes an
 * event of the object ("__ws_message__", woken or rebuilt as any event), a close
 * "__ws_close__", a protocol error "__ws_error__"; the object's sends and closes are
 * "dos.ws*" binding calls (python/pyworkerd/do_websockets.py). A message equal to the
 * auto-response's request is answered here, without an event.
 * Event payloads: a JSON head ({"sock", "ts", "binary" | "code", "reason", "clean" |
 * "message", and "tags", "att" when the instance in memory has not seen the socket yet}),
 * a newline, the message.
 * Invariant: a socket is in its object's list from its accept until both closes were
 * exchanged (or its client vanished, or its object's isolate died: closed with 1011).
 */
#ifndef PW_DO_SOCKETS_H
#define PW_DO_SOCKETS_H

#include "base/buf.h"
#include "http/ws_side.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pw_do_object pw_do_object_t;

#define PW_DO_WS_MAX_TAGS 10
#define PW_DO_WS_MAX_TAG 256
#define PW_DO_WS_MAX_ATTACHMENT (16u * 1024)    /* workerd's MAX_ATTACHMENT_SIZE */
#define PW_DO_WS_MAX_AUTO 2048                  /* an auto-response's request or response */
#define PW_DO_WS_MAX_SOCKETS 32768              /* workerd's ACTIVE_CONNECTION_LIMIT */
#define PW_DO_WS_MAX_ID 64
#define PW_DO_WS_MAX_HELD (4u * 1024 * 1024)    /* sent before the socket reached its client */
#define PW_DO_WS_PENDING_MS 30000
/* The header that marks an object's fetch answer as a hibernatable WebSocket (first line). */
#define PW_DO_WS_MARK "x-pyworkerd-hibernate\n1\n"

/* ctx.acceptWebSocket(ws, tags): the socket `id` (made by the isolate), pending until the
 * object's fetch answers with it; what the object sends meanwhile is held. 0, or -1 with err. */
int pw_do_socket_accept(pw_do_object_t *obj, pw_bytes_t id, pw_bytes_t tags_json, char *err,
                        size_t err_len);
/* The object's 101 answer marked PW_DO_WS_MARK: its body, {"sock": id}, names a pending socket,
 * whose side is returned to link to the asker, then pw_do_socket_start(). NULL with err. */
pw_ws_side_t *pw_do_socket_claim(pw_do_object_t *obj, pw_bytes_t body, char *err, size_t err_len);
/* After linking (or not: then the object hears 1006): passes on what was held. */
void pw_do_socket_start(pw_ws_side_t *side);
/* A socket accepted by a fetch that did not return it: it goes, without an event. */
void pw_do_socket_drop(pw_do_object_t *obj, pw_bytes_t id);
/* Sockets pending for PW_DO_WS_PENDING_MS (their fetch's caller went away) end (1006). */
void pw_do_sockets_sweep(pw_do_object_t *obj, uint64_t now);

/* The object's calls (its isolate holds it). Return 0, or -1 with err. */
int pw_do_socket_send(pw_do_object_t *obj, pw_bytes_t sock, int binary, pw_bytes_t data,
                      char *err, size_t err_len);
int pw_do_socket_close(pw_do_object_t *obj, pw_bytes_t sock, uint16_t code, pw_bytes_t reason,
                       char *err, size_t err_len);
/* has 0: no attachment. The attachment is JSON text (an RPC value). */
int pw_do_socket_attach(pw_do_object_t *obj, pw_bytes_t sock, int has, pw_bytes_t json,
                        char *err, size_t err_len);
/* has 0: none. */
int pw_do_socket_auto_response(pw_do_object_t *obj, int has, pw_bytes_t request, pw_bytes_t response,
                               char *err, size_t err_len);
/* {"auto": [request, response] | null, "sockets": [{"sock", "tags", "att", "ts"}...]}, for the
 * instance to rebuild its view (malloc'd; NULL when out of memory). */
char *pw_do_socket_list(pw_do_object_t *obj);
size_t pw_do_socket_count(const pw_do_object_t *obj);

/* The object left memory: its next instance has not seen any socket. */
void pw_do_sockets_forget(pw_do_object_t *obj);
/* Every socket closes with code and reason (the object's isolate died) and goes. */
void pw_do_sockets_reset(pw_do_object_t *obj, uint16_t code, const char *reason);
/* Shutdown: every socket goes (its client's end is told). */
void pw_do_sockets_free(pw_do_object_t *obj);

#endif
