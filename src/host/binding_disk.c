/* binding_disk.c — the disk binding kind (host process, loop thread): a service binding whose
 * service is a disk service (`env.ASSETS.fetch(request)`), answered by the host from the
 * directory, with no isolate: "disk.fetch" name payload, the payload being the request as a
 * service binding's fetch sends it (its JSON head, a newline, its body). The answer is
 * http/static_answer.h's, as for a socket serving the same service: "", status, headers, body.
 * The host opens each directory a binding names once, when it starts (a missing one is an
 * error then, as in workerd), and shares it between the workers binding it.
 * Invariant: a call is answered once, at once; a body over MAX_BODY is an error, not a
 * partial answer (an RPC answer is one frame).
 */
#include "host/binding.h"
#include "host/port.h"
#include "http/static_answer.h"
#include "http/static_assets.h"
#include "http/static_path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BODY (32u * 1024 * 1024)

typedef struct {
    const char *service;        /* the disk service's name (the config's) */
    pw_static_dir_t *dir;
} disk_dir_t;

typedef struct {
    disk_dir_t *dirs;
    size_t n;
} disk_host_t;

typedef struct {
    const disk_host_t *host;
    const pw_service_t *service;    /* the calling worker */
} disk_worker_t;

static pw_static_dir_t *dir_of(const disk_host_t *h, const char *service)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->dirs[i].service, service) == 0)
            return h->dirs[i].dir;
    return NULL;
}

static void disk_close(void *state)
{
    disk_host_t *h = state;
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        pw_static_dir_free(h->dirs[i].dir);
    free(h->dirs);
    free(h);
}

/* Opens the directory of the disk service binding b names, unless open already. */
static int open_target(disk_host_t *h, const pw_binding_env_t *env, const pw_binding_t *b,
                       const char *worker, char *err, size_t err_len)
{
    const pw_service_t *t = pw_config_service(env->config, b->value);
    if (!t || dir_of(h, t->name))
        return 0;
    disk_dir_t *grown = realloc(h->dirs, (h->n + 1) * sizeof *grown);
    if (!grown)
        return snprintf(err, err_len, "out of memory"), -1;
    h->dirs = grown;
    h->dirs[h->n] = (disk_dir_t){ .service = t->name };
    char why[2048];
    if (pw_static_dir_open_service(t, env->watch, &h->dirs[h->n].dir, why, sizeof why) < 0) {
        snprintf(err, err_len, "service %s: binding \"%s\": %s", worker, b->name, why);
        return -1;
    }
    h->n++;
    return 0;
}

static int disk_open(const pw_binding_env_t *env, void **state, char *err, size_t err_len)
{
    disk_host_t *h = calloc(1, sizeof *h);
    *state = h;
    if (!h)
        return snprintf(err, err_len, "out of memory"), -1;
    for (size_t i = 0; i < env->config->n_services; i++) {
        const pw_service_t *s = &env->config->services[i];
        for (size_t j = 0; s->kind == PW_SERVICE_WORKER && j < s->worker.n_bindings; j++) {
            const pw_binding_t *b = &s->worker.bindings[j];
            if (b->kind == PW_BINDING_DISK && open_target(h, env, b, s->name, err, err_len) < 0)
                return -1;
        }
    }
    return 0;
}

static int disk_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                       void **state, char *err, size_t err_len)
{
    disk_worker_t *w = calloc(1, sizeof *w);
    *state = w;
    if (!w)
        return snprintf(err, err_len, "out of memory"), -1;
    w->host = host_state;
    w->service = service;
    return 0;
}

/* ---- disk.fetch ---- */

static pw_bytes_t string_bytes(const cJSON *item)
{
    return cJSON_IsString(item) ? pw_bytes_of(item->valuestring) : (pw_bytes_t){ NULL, 0 };
}

/* The conditional and range headers the answer looks at, from [[name, value], ...]. */
static void read_headers(const cJSON *headers, pw_static_request_t *r)
{
    const cJSON *pair;
    cJSON_ArrayForEach(pair, headers) {
        const cJSON *name = cJSON_GetArrayItem(pair, 0);
        pw_bytes_t value = string_bytes(cJSON_GetArrayItem(pair, 1));
        if (!cJSON_IsString(name) || !value.base)
            continue;
        const char *n = name->valuestring;
        pw_bytes_t *slot = !strcasecmp(n, "range") ? &r->range
                           : !strcasecmp(n, "if-none-match") ? &r->if_none_match
                           : !strcasecmp(n, "if-modified-since") ? &r->if_modified_since
                           : !strcasecmp(n, "if-range") ? &r->if_range : NULL;
        if (slot && !slot->base)
            *slot = value;
    }
}

/* The payload: its JSON head (method, url, headers), a newline, the body. Returns the parsed
 * head (the request points into it and into the payload), or NULL when malformed. */
static cJSON *read_request(pw_bytes_t payload, pw_static_request_t *r)
{
    const uint8_t *nl = memchr(payload.base, '\n', payload.len);
    if (!nl)
        return NULL;
    cJSON *head = cJSON_ParseWithLength((const char *)payload.base, (size_t)(nl - payload.base));
    pw_bytes_t method = string_bytes(cJSON_GetObjectItemCaseSensitive(head, "method"));
    pw_bytes_t url = string_bytes(cJSON_GetObjectItemCaseSensitive(head, "url"));
    const char *path;
    size_t path_len;
    memset(r, 0, sizeof *r);
    if (!method.base || !url.base ||
        pw_static_url_path((const char *)url.base, url.len, &path, &path_len) < 0) {
        cJSON_Delete(head);
        return NULL;
    }
    r->method = method;
    r->host = pw_static_url_host((const char *)url.base, url.len);
    r->path = (pw_bytes_t){ (const uint8_t *)path, path_len };
    r->query = pw_static_url_query((const char *)url.base, url.len);
    r->body = (pw_bytes_t){ nl + 1, payload.len - (size_t)(nl + 1 - payload.base) };
    read_headers(cJSON_GetObjectItemCaseSensitive(head, "headers"), r);
    return head;
}

/* "name\nvalue\n" lines of the answer's headers, Content-Length included (as workerd sets it
 * for a worker calling its disk service). */
static int header_lines(const pw_static_answer_t *a, pw_buf_t *out)
{
    pw_static_header_t h;
    size_t cursor = 0;
    int rc = 0;
    while (rc == 0 && pw_static_answer_header(a, &cursor, &h))
        rc = pw_buf_printf(out, "%s\n%s\n", h.name, h.value);
    if (rc == 0 && a->status != 204 && a->status != 304)
        rc = pw_buf_printf(out, "content-length\n%" PRIu64 "\n", a->length);
    return rc;
}

/* The answer's body: its text, or the file's span read into `file`. */
static int answer_body(const pw_static_answer_t *a, pw_buf_t *file, pw_bytes_t *body)
{
    *body = (pw_bytes_t){ a->text.data, a->text.len };
    if (a->no_body) {
        body->len = 0;
        return 0;
    }
    if (a->fd < 0)
        return 0;
    if (a->length > MAX_BODY)
        return -EFBIG;
    int rc = pw_buf_reserve_exact(file, (size_t)a->length);
    if (rc == 0)
        rc = pw_static_read_at(a->fd, file->data, (size_t)a->length, a->offset);
    *body = (pw_bytes_t){ file->data, (size_t)a->length };
    return rc;
}

static void reply_answer(const pw_binding_call_t *c, const pw_static_answer_t *a)
{
    pw_buf_t headers = { 0 }, file = { 0 };
    pw_bytes_t body;
    int rc = answer_body(a, &file, &body);
    if (rc == -EFBIG) {
        pw_port_reply_error(c->port, c->id, "Error", "disk service \"%s\": the answer's body is "
                            "%" PRIu64 " bytes, over the %u MiB a service binding's fetch() "
                            "returns; ask for part of it with a Range header",
                            pw_static_dir_name(c->binding), a->length, MAX_BODY >> 20);
    } else if (rc < 0 || header_lines(a, &headers) < 0) {
        pw_port_reply_error(c->port, c->id, "Error", "disk service \"%s\": cannot read the file: %s",
                            pw_static_dir_name(c->binding), strerror(-rc));
    } else {
        char status[16];
        snprintf(status, sizeof status, "%d", a->status);
        pw_bytes_t f[4] = { pw_bytes_of(""), pw_bytes_of(status),
                            { headers.data, headers.len }, body };
        pw_port_reply(c->port, c->id, f, 4);
    }
    pw_buf_free(&headers);
    pw_buf_free(&file);
}

/* disk.fetch name payload */
static void disk_fetch(const pw_binding_call_t *c)
{
    pw_static_request_t req;
    pw_static_answer_t a;
    cJSON *head = read_request(c->f[2], &req);
    if (!head) {
        pw_port_reply_error(c->port, c->id, "TypeError", "disk.fetch: the request is malformed "
                            "(its URL must be absolute or start with '/')");
        return;
    }
    pw_static_answer(c->binding, &req, &a);
    reply_answer(c, &a);
    pw_static_answer_free(&a);
    cJSON_Delete(head);
}

static void *disk_resolve(const pw_binding_call_t *c)
{
    const disk_worker_t *w = c->state;
    const pw_worker_t *wc = &w->service->worker;
    pw_bytes_t name = c->f[1];
    for (size_t i = 0; i < wc->n_bindings; i++) {
        const pw_binding_t *b = &wc->bindings[i];
        pw_static_dir_t *dir = b->kind == PW_BINDING_DISK && pw_bytes_is(name, b->name)
                               ? dir_of(w->host, b->value) : NULL;
        if (dir)
            return dir;
    }
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker has no %s binding named \"%.*s\"",
                        "disk service", (int)(name.len < 200 ? name.len : 200), name.base);
    return NULL;
}

static const pw_binding_op_t disk_ops[] = {
    { "disk.fetch", 3, 3, "disk.fetch takes a binding name and a request", 0, disk_fetch },
};

static const pw_binding_group_t disk_groups[] = {
    { .prefix = "disk.", .resolve = disk_resolve, .unknown_op = "unknown disk operation \"%.*s\"",
      .ops = disk_ops, .n_ops = 1 },
};

const pw_binding_kind_impl_t pw_binding_disk = {
    .name = "disk", .open = disk_open, .close = disk_close, .attach = disk_attach,
    .detach = free, .groups = disk_groups, .n_groups = 1,
};
