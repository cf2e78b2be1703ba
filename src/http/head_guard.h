/* head_guard.h — header limits enforced before h2o parses a request head (host process).
 * h2o 2.2 answers 400 past 100 header lines and resets the connection past ~408 KiB of
 * head; pyworkerd answers 431 with Connection: close instead, then closes the connection
 * after draining what the client still sends (bounded by h2o's request timeout). It does so
 * by putting itself in front of h2o's HTTP/1 read callback (pw_http_head_guard on the bytes
 * buffered so far) each time h2o starts reading a head: at accept for plain connections,
 * once the handshake is over for TLS ones, and in the loop's next prepare phase after every
 * HTTP/1 request that keeps its connection. Not guarded: bytes h2o parses from its buffer
 * before that prepare phase (a pipelined head, data sent with the last handshake flight):
 * h2o's own limits (400) apply to them, and on_req applies the same limits to heads h2o
 * accepted (pw_http_head_check).
 */
#ifndef PW_HEAD_GUARD_H
#define PW_HEAD_GUARD_H

#include <h2o.h>

#include "http/peer_gone.h"

/* A connection just handed to h2o_accept (plain: guarded from now on). Returns 1 when
 * something waits for pw_head_guard_rearm. */
int pw_head_guard_accepted(pw_accepted_t *conn, int tls);
/* An HTTP/1 request on sock is over and its connection stays open: guard the next head from
 * the next call of pw_head_guard_rearm. Returns 1 when something waits for that call. */
int pw_head_guard_request_done(h2o_socket_t *sock);
/* Run from a uv_prepare handle while the functions above or this one return 1. */
int pw_head_guard_rearm(void);
/* The connection's handle is closed (peer_gone.c's close callback). */
void pw_head_guard_forget(pw_accepted_t *conn);

#endif
