/* do_forward.h — Durable Object events between nodes (host process, the main loop): the
 * sending side (a POST of the event to the holder's internal port, with the cluster's secret)
 * and the receiving side (host/cluster_port.h: the event is routed here, never sent on, and
 * its answer goes back). Bodies are length-prefixed fields (wire/frame.h's u32 + bytes):
 *   request  /do: service, class, id, name, method, payload
 *   answer   200: error_status (u32), error_text, status (u32), headers, body
 * Only do_cluster.c uses it; the route functions at the end are do_cluster.c's, for it.
 */
#ifndef PW_DO_FORWARD_H
#define PW_DO_FORWARD_H

#include "host/cluster_port.h"
#include "host/do_cluster.h"
#include "http/fetch.h"

#define PW_DO_FORWARD_MOVED 421         /* error_status: the receiving node does not hold it */
#define PW_DO_FORWARD_TAKE "__take__"   /* an event that only takes the lease */

typedef struct pw_do_forward pw_do_forward_t;
typedef struct pw_do_forward_port pw_do_forward_port_t;

/* Sends route r's event to the node at address; its answer comes to pw_do_route_answered.
 * Returns 0, or -ENOMEM (nothing sent). */
int pw_do_forward_send(pw_do_cluster_t *c, pw_do_route_t *r, pw_bytes_t address, pw_do_object_t *obj,
                       pw_bytes_t name, pw_bytes_t method, pw_bytes_t payload, pw_do_forward_t **out);
/* NULL: nothing. The route is not told. */
void pw_do_forward_cancel(pw_do_forward_t *f);

/* Serves "/do" on the node's internal port. Returns 0, or -1 with a message in err. */
int pw_do_forward_listen(pw_do_cluster_t *c, pw_cluster_port_t *port, pw_do_forward_port_t **out,
                         char *err, size_t err_len);
void pw_do_forward_close(pw_do_forward_port_t *p);

/* do_cluster.c, for do_forward.c. */
pw_do_route_t *pw_do_route_new(pw_do_cluster_t *c, pw_do_object_t *obj, pw_bytes_t name,
                               pw_bytes_t method, pw_bytes_t payload, pw_worker_done_cb done, void *arg);
/* forwarded: from another node (an object held elsewhere answers PW_DO_FORWARD_MOVED). */
void pw_do_route_start(pw_do_route_t *r, int forwarded);
/* The holder answered (a), or retry_why: it could not be reached, ask again. */
void pw_do_route_answered(pw_do_route_t *r, const pw_worker_answer_t *a, const char *retry_why);
pw_do_host_t *pw_do_cluster_host(pw_do_cluster_t *c);
pw_fetch_t *pw_do_cluster_fetch(pw_do_cluster_t *c);
uv_loop_t *pw_do_cluster_loop(pw_do_cluster_t *c);
const char *pw_do_cluster_secret(pw_do_cluster_t *c);

#endif
