/* cluster_port.h — a node's internal port (host process, the main loop): the HTTP/1.1 server
 * other nodes of the cluster forward calls to, one path per kind of thing a node holds under a
 * lease (host/do_cluster.h: "/do", host/d1_cluster.h: "/d1"; another path gets 404). Every
 * request must carry the cluster's shared secret in `x-pyworkerd-secret`; one without it (or
 * with another) gets 401 and reaches nothing. Requests are POSTs with a Content-Length body
 * (no chunked bodies: only pyworkerd nodes speak to it); answers carry a Content-Length.
 * Connections are kept alive; one request at a time per connection, as curl sends them.
 */
#ifndef PW_CLUSTER_PORT_H
#define PW_CLUSTER_PORT_H

#include <stddef.h>
#include <uv.h>

#include "base/buf.h"

typedef struct pw_cluster_port pw_cluster_port_t;
typedef struct pw_cluster_request pw_cluster_request_t;

/* An authenticated request: its target ("/do") and body, valid until the reply. */
typedef void (*pw_cluster_port_cb)(void *arg, pw_cluster_request_t *req, pw_bytes_t target,
                                   pw_bytes_t body);

#define PW_CLUSTER_PORT_PATHS 4

/* Listens on address ("host:port", "*:port"). Returns 0, or -1 with a message in err. */
int pw_cluster_port_start(uv_loop_t *loop, const char *address, const char *secret,
                          pw_cluster_port_t **out, char *err, size_t err_len);
/* Requests for `path` (a literal, kept) go to handle (NULL: no longer). Returns 0, or -1 when
 * PW_CLUSTER_PORT_PATHS paths are served already. */
int pw_cluster_port_serve(pw_cluster_port_t *p, const char *path, pw_cluster_port_cb handle, void *arg);
/* Answers req exactly once (its connection may be gone: then nothing is sent). */
void pw_cluster_port_reply(pw_cluster_request_t *req, int status, pw_bytes_t body);
void pw_cluster_port_close(pw_cluster_port_t *p);

/* The address split: 0, or -1 when it is not host:port. */
int pw_cluster_address_parse(const char *address, struct sockaddr_storage *out);

#endif
