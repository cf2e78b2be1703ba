/* ws_client.h — WebSockets the host opens for a worker (host process, loop thread): js's
 * `new WebSocket(url)` and fetch() with `Upgrade: websocket`. The URL's host is resolved, and
 * the first address the worker's network rules allow (http/fetch_policy.h, as for fetch()) is
 * connected to; wss: TLS, its certificate verified under the rules' tlsOptions. The opening
 * handshake is sent with the worker's headers (protocols, cookies...), and its answer read:
 * a 101 with the right Sec-WebSocket-Accept becomes a WebSocket connection (http/ws_conn.h,
 * client role) handed to done(); any other answer comes back as a response (status, headers,
 * up to MAX_BODY of body). The whole takes at most PW_WS_CLIENT_TIMEOUT_MS.
 */
#ifndef PW_WS_CLIENT_H
#define PW_WS_CLIENT_H

#include "http/fetch_policy.h"
#include "http/ws_conn.h"

#include <openssl/ssl.h>
#include <uv.h>

#define PW_WS_CLIENT_TIMEOUT_MS 30000

typedef struct pw_ws_client pw_ws_client_t;

/* How it went (valid during done()). */
typedef struct {
    const char *error;          /* a message, or NULL */
    unsigned status;            /* the server's status (101: conn is the socket) */
    pw_bytes_t headers;         /* "name\nvalue\n"..., names lower-case */
    pw_bytes_t body;            /* a non-101 answer's body */
    pw_ws_conn_t *conn;         /* 101: link it during done(); unlinked, it is closed (1001) */
} pw_ws_client_result_t;

typedef void (*pw_ws_client_cb)(void *arg, const pw_ws_client_result_t *result);

/* The TLS context of wss: connections under `tls`; NULL when out of memory or the PEM is
 * bad. Free with SSL_CTX_free. */
SSL_CTX *pw_ws_client_tls(const pw_fetch_tls_t *tls);

/* Starts connecting to url (ws:, wss:, http: or https:) under policy, with the worker's
 * header_lines ("name\nvalue\n"...). done() runs once, unless pw_ws_client_abort() comes
 * first. Returns 0, or -EPROTONOSUPPORT (another scheme), -EINVAL (a bad URL or header), -ENOMEM
 * (done not called). */
int pw_ws_client_connect(uv_loop_t *loop, const pw_fetch_policy_t *policy, SSL_CTX *tls,
                         pw_bytes_t url, pw_bytes_t header_lines, pw_ws_client_cb done, void *arg,
                         pw_ws_client_t **out);
/* Stops it: done() is never called. */
void pw_ws_client_abort(pw_ws_client_t *client);

#endif
