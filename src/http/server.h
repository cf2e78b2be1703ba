/* server.h — the HTTP front of the host (host process): h2o on the host's libuv loop, one
 * listener per configured socket, each routing every request to one worker through the
 * worker's ops (http/call.h): the server knows nothing of pools or isolates.
 */
#ifndef PW_SERVER_H
#define PW_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include <sys/socket.h>
#include "http/call.h"
#include "http/static_dir.h"

typedef struct pw_http_server pw_http_server_t;

typedef struct {
    const char *socket_name;
    const char *address;        /* "*:8080", "127.0.0.1:8080", "[::1]:8080", "host:port" */
    const pw_http_worker_ops_t *ops;    /* how to hand it requests */
    void *worker;               /* the worker it routes to */
    const pw_socket_t *socket;  /* https and its keypair (NULL: plain http) */
    /* --threads: another loop's listener this one joins (pw_http_server_share); NULL: none */
    const struct pw_http_share *share;
    const pw_static_dir_t *files;   /* a disk service the host serves itself (static_handler.h:
                                     * ops = pw_static_files_ops, worker = files); NULL: a worker.
                                     * With a worker's ops: its assets, answering first
                                     * (static_assets.h), the worker taking the rest */
} pw_listener_spec_t;

/* What a listener of another loop thread needs to accept on the same socket: the bound
 * address to bind beside it (SO_REUSEPORT: the kernel spreads connections over the loops), or
 * the descriptor of an inherited socket (-S), whose one accept queue the loops share. */
typedef struct pw_http_share {
    struct sockaddr_storage addr;
    int fd;                     /* >= 0: an inherited socket, to dup */
} pw_http_share_t;

typedef struct {
    size_t max_request_body;    /* bytes; larger bodies get 413 */
    int access_log;
    void (*on_idle)(void *arg); /* called when draining and the last request is done */
    void *on_idle_arg;
    int reuse_port;             /* bind with SO_REUSEPORT (other loop threads join it) */
} pw_http_options_t;

/* Binds every listener and starts accepting. Returns 0, or -1 with a message in err. */
int pw_http_server_start(uv_loop_t *loop, const pw_listener_spec_t *listeners, size_t n,
                         const pw_http_options_t *opts, pw_http_server_t **out, char *err,
                         size_t err_len);
/* Listener i's socket, for another loop's listener to join (opts.reuse_port). Returns 0 or -1. */
int pw_http_server_share(const pw_http_server_t *server, size_t i, pw_http_share_t *out);
/* Stops accepting connections; requests in flight go on. on_idle fires once none is left. */
void pw_http_server_drain(pw_http_server_t *server);
size_t pw_http_server_inflight(const pw_http_server_t *server);
size_t pw_http_server_listeners(const pw_http_server_t *server);
/* The port listener i is bound to (port 0 in the config: the one the kernel chose), or -1;
 * its socket's name in *socket_name. */
int pw_http_server_port(const pw_http_server_t *server, size_t i, const char **socket_name);
/* --watch: listeners that route to `old` route new requests to `replacement` from now on. */
void pw_http_server_replace_worker(pw_http_server_t *server, void *old, void *replacement);
/* Closes the listeners' handles; the server is freed once libuv has closed them. */
void pw_http_server_close(pw_http_server_t *server);

#endif
