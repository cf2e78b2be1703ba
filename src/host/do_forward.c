/* do_forward.c — sending a Durable Object event to the node that holds the object, and
 * serving the events other nodes send here (host process, the main loop; see do_forward.h).
 * Invariant: a forwarded event is routed with forwarded=1, so it runs here or is refused with
 * PW_DO_FORWARD_MOVED (the sender asks PostgreSQL again): an event never loops between nodes.
 */
#include "host/do_forward.h"
#include "base/log.h"
#include "host/cluster_call.h"
#include "host/cluster_port.h"
#include "host/do_id.h"
#include "wire/frame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pw_do_forward {
    pw_do_route_t *route;
    pw_fetch_transfer_t *transfer;
};

struct pw_do_forward_port {
    pw_do_cluster_t *c;
    pw_cluster_port_t *port;
};

/* ---- sending ---- */

static void answered(void *arg, const pw_fetch_result_t *res)
{
    pw_do_forward_t *f = arg;
    pw_do_route_t *r = f->route;
    free(f);
    if (res->error)
        return pw_do_route_answered(r, NULL, "Durable Object: the node holding it does not answer");
    char text[300];
    if (res->status != 200) {
        snprintf(text, sizeof text, "Durable Object: the node holding it answered %ld: %.*s",
                 res->status, (int)(res->body.len < 200 ? res->body.len : 200), res->body.base);
        pw_worker_answer_t a = { .error_status = 502, .error_text = text };
        return pw_do_route_answered(r, &a, NULL);
    }
    pw_cursor_t cur;
    pw_cursor_init(&cur, res->body.base, res->body.len);
    pw_worker_answer_t a = { .error_status = (int)pw_cursor_u32(&cur) };
    pw_bytes_t error_text = pw_cursor_bytes(&cur);
    a.status = pw_cursor_u32(&cur);
    a.headers = pw_cursor_bytes(&cur);
    a.body = pw_cursor_bytes(&cur);
    if (cur.failed) {
        a = (pw_worker_answer_t){ .error_status = 502, .error_text = "Durable Object: the node "
                                  "holding it sent a malformed answer" };
        return pw_do_route_answered(r, &a, NULL);
    }
    if (a.error_status == PW_DO_FORWARD_MOVED)
        return pw_do_route_answered(r, NULL, "Durable Object: it moved between nodes");
    snprintf(text, sizeof text, "%.*s", (int)(error_text.len < 290 ? error_text.len : 290), error_text.base);
    a.error_text = a.error_status ? text : NULL;
    pw_do_route_answered(r, &a, NULL);
}

int pw_do_forward_send(pw_do_cluster_t *c, pw_do_route_t *r, pw_bytes_t address, pw_do_object_t *obj,
                       pw_bytes_t name, pw_bytes_t method, pw_bytes_t payload, pw_do_forward_t **out)
{
    pw_do_ns_t *ns = pw_do_object_ns(obj);
    pw_bytes_t fields[6] = { pw_bytes_of(pw_do_ns_service(ns)), pw_bytes_of(pw_do_ns_class(ns)),
                             pw_bytes_of(pw_do_object_id(obj)), name, method, payload };
    pw_do_forward_t *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->route = r;
    f->transfer = pw_cluster_post(pw_do_cluster_fetch(c), pw_do_cluster_secret(c), address, "/do", fields, 6,
                                  answered, f);
    if (!f->transfer) {
        free(f);
        return -ENOMEM;
    }
    *out = f;
    return 0;
}

void pw_do_forward_cancel(pw_do_forward_t *f)
{
    if (!f)
        return;
    pw_fetch_abort(f->transfer);
    free(f);
}

/* ---- receiving ---- */

static void reply(pw_cluster_request_t *req, const pw_worker_answer_t *a)
{
    pw_buf_t out;
    pw_buf_init(&out);
    const char *text = a->error_text ? a->error_text : "";
    int bad = pw_frame_put_u32(&out, (uint32_t)a->error_status) < 0 ||
              pw_frame_put_bytes(&out, text, strlen(text)) < 0 || pw_frame_put_u32(&out, a->status) < 0 ||
              pw_cluster_put_fields(&out, &a->headers, 1) < 0 || pw_cluster_put_fields(&out, &a->body, 1) < 0;
    if (bad)
        pw_cluster_port_reply(req, 500, pw_bytes_of("out of memory"));
    else
        pw_cluster_port_reply(req, 200, (pw_bytes_t){ out.data, out.len });
    pw_buf_free(&out);
}

static void event_answered(void *arg, const pw_worker_answer_t *a)
{
    pw_cluster_request_t *req = arg;
    if (!a->error_status && (a->ws || a->status == 101)) {
        pw_worker_answer_t no = { .error_status = 501, .error_text = "a WebSocket to a Durable "
                                  "Object held by another node of the cluster is not supported: "
                                  "connect through the node that holds it" };
        return reply(req, &no);
    }
    reply(req, a);
}

static void refuse(pw_cluster_request_t *req, int status, const char *why)
{
    pw_cluster_port_reply(req, status, pw_bytes_of(why));
}

static void on_request(void *arg, pw_cluster_request_t *req, pw_bytes_t target, pw_bytes_t body)
{
    pw_do_forward_port_t *p = arg;
    char service[256], class_name[256], id[PW_DO_ID_HEX + 1];
    (void)target;
    pw_cursor_t cur;
    pw_cursor_init(&cur, body.base, body.len);
    pw_bytes_t f[6];
    for (int i = 0; i < 6; i++)
        f[i] = pw_cursor_bytes(&cur);
    if (cur.failed || f[0].len >= sizeof service || f[1].len >= sizeof class_name)
        return refuse(req, 400, "malformed event");
    snprintf(service, sizeof service, "%.*s", (int)f[0].len, f[0].base);
    snprintf(class_name, sizeof class_name, "%.*s", (int)f[1].len, f[1].base);
    pw_do_ns_t *ns = pw_do_ns_find(pw_do_cluster_host(p->c), service, class_name);
    if (!ns)
        return refuse(req, 404, "no such Durable Object class on this node");
    if (pw_do_id_check(pw_do_ns_key(ns), f[2], id) < 0)
        return refuse(req, 400, "bad Durable Object id");
    pw_do_object_t *obj = pw_do_object(ns, id, 1);
    if (!obj)
        return refuse(req, 500, "out of memory");
    if (f[3].len && f[3].base[0] == '=')
        pw_do_object_name(obj, (pw_bytes_t){ f[3].base + 1, f[3].len - 1 });
    pw_do_route_t *r = pw_do_route_new(p->c, obj, f[3], f[4], f[5], event_answered, req);
    if (!r)
        return refuse(req, 500, "out of memory");
    pw_do_route_start(r, 1);
}

int pw_do_forward_listen(pw_do_cluster_t *c, pw_cluster_port_t *port, pw_do_forward_port_t **out,
                         char *err, size_t err_len)
{
    pw_do_forward_port_t *p = calloc(1, sizeof *p);
    if (!p)
        return snprintf(err, err_len, "out of memory"), -1;
    p->c = c;
    p->port = port;
    if (pw_cluster_port_serve(port, "/do", on_request, p) < 0) {
        free(p);
        return snprintf(err, err_len, "the internal port serves too many paths"), -1;
    }
    *out = p;
    return 0;
}

void pw_do_forward_close(pw_do_forward_port_t *p)
{
    if (!p)
        return;
    pw_cluster_port_serve(p->port, "/do", NULL, NULL);
    free(p);
}
