/* binding_workflows.c — the Workflows binding kind (host process, loop thread): what
 * isolates ask of the Workflows engine (host/workflows.h). Two groups of ops: binding calls
 * from any worker with a workflow binding (wf.create, wf.get, wf.status, wf.pause, wf.resume,
 * wf.terminate, wf.restart, wf.event) and step calls from the isolate running an instance
 * (wf.step.get, wf.step.put, wf.sleep, wf.wait). The instances' state is the engine's store
 * (storage/workflow_backend.h), which answers later on PostgreSQL: a call holds its port and
 * goes on from the store's callbacks, answering once; after a change the engine is woken to
 * run what became due. A store that cannot be reached is StorageUnavailable (a 503).
 * Invariant: only the run in flight of an instance gets answers to its step calls (others
 * get "stop"); a step result is committed before its call is answered.
 */
#include "host/binding.h"
#include "host/port.h"
#include "host/workflows.h"
#include "storage/workflow_backend.h"
#include "wire/rpc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ID 100              /* Cloudflare's instance id limit */
#define MAX_PARAMS (1024 * 1024)
#define MAX_STEP_RESULT (1024 * 1024)
#define TIMED_OUT "{\"$pyworkerd:timeout\":true}"

typedef pw_binding_caller_t wf_worker_t;    /* engine: NULL when no worker has a workflow binding */

typedef struct wf_call wf_call_t;
typedef void (*wf_then_fn)(wf_call_t *w, const pw_wf_instance_t *inst);

/* A call the store answers later: its port held, its fields copied. */
struct wf_call {
    pw_port_t *port;
    uint32_t id;
    pw_workflows_t *engine;
    pw_wf_backend_t *store;
    const pw_workflow_t *workflow;  /* binding calls; step calls name theirs in f[1] */
    pw_bytes_t f[6];
    wf_then_fn then;            /* what follows the instance's load */
    int64_t now, ms;            /* the call's time; a sleep's or a wait's end */
    char fresh[37];             /* a new instance's generated id */
    char *json;                 /* an event taken, as its step's result */
    uint8_t copy[];             /* the fields' bytes */
};

static pw_workflows_t *engine_of(const pw_binding_call_t *c)
{
    return ((const wf_worker_t *)c->state)->engine;
}

static void reply(const pw_binding_call_t *c, const char *a, pw_bytes_t b)
{
    pw_bytes_t f[3] = { pw_bytes_of(""), pw_bytes_of(a), b };
    pw_port_reply(c->port, c->id, f, b.base ? 3 : 2);
}

/* The call, to answer later (NULL once it was answered: out of memory). */
static wf_call_t *call_new(const pw_binding_call_t *c)
{
    size_t total = 0, n = c->n < 6 ? c->n : 6;
    for (size_t i = 0; i < n; i++)
        total += c->f[i].len;
    wf_call_t *w = calloc(1, sizeof *w + total + 1);
    if (!w) {
        pw_port_reply_error(c->port, c->id, "Error", "workflows: out of memory");
        return NULL;
    }
    uint8_t *at = w->copy;
    for (size_t i = 0; i < n; i++) {
        if (c->f[i].len)
            memcpy(at, c->f[i].base, c->f[i].len);
        w->f[i] = (pw_bytes_t){ at, c->f[i].len };
        at += c->f[i].len;
    }
    w->port = c->port;
    w->id = c->id;
    w->engine = engine_of(c);
    w->store = pw_workflows_store(w->engine);
    w->workflow = c->binding;
    w->now = pw_workflows_now_ms();
    pw_port_hold(c->port);
    return w;
}

static void call_end(wf_call_t *w)
{
    pw_port_release(w->port);
    free(w->json);
    free(w);
}

static void call_reply(wf_call_t *w, const char *a, pw_bytes_t b)
{
    pw_bytes_t f[3] = { pw_bytes_of(""), pw_bytes_of(a), b };
    pw_port_reply(w->port, w->id, f, b.base ? 3 : 2);
    call_end(w);
}

/* The store failed: StorageUnavailable (a 503) while it cannot be reached. */
static void call_store_error(wf_call_t *w, int rc)
{
    pw_port_reply_error(w->port, w->id, rc == PW_WF_UNAVAILABLE ? PW_RPC_UNAVAILABLE : "Error",
                        "workflow store: %s", w->store->ops->error(w->store));
    call_end(w);
}

static void call_not_found(wf_call_t *w)
{
    pw_bytes_t iid = w->f[2];
    pw_port_reply_error(w->port, w->id, "Error", "instance.not_found: no instance \"%.*s\" in "
                        "workflow %s", (int)(iid.len < 120 ? iid.len : 120), iid.base, w->workflow->name);
    call_end(w);
}

/* A write's end: answered, and the engine woken to run what became due. */
static void written(void *arg, int rc)
{
    wf_call_t *w = arg;
    pw_workflows_t *engine = w->engine;
    if (rc < 0)
        return call_store_error(w, rc);
    call_reply(w, "", (pw_bytes_t){ NULL, 0 });
    pw_workflows_wake(engine);
}

/* ---- binding calls ---- */

static int id_ok(pw_bytes_t id)
{
    if (id.len == 0 || id.len > MAX_ID)
        return 0;
    for (size_t i = 0; i < id.len; i++) {
        uint8_t c = id.base[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (c == '-' && i > 0);
        if (!ok)
            return 0;
    }
    return 1;
}

/* Whether b is JSON text (empty: null). */
static int json_ok(pw_bytes_t b)
{
    if (b.len == 0)
        return 1;
    cJSON *parsed = cJSON_ParseWithLength((const char *)b.base, b.len);
    cJSON_Delete(parsed);
    return parsed != NULL;
}

/* A random UUID (v4) from the kernel. */
static void new_id(char out[37])
{
    uint8_t r[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, r, sizeof r) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)pw_workflows_now_ms() ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)(i * 37);
    }
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
}

static void created(void *arg, int rc)
{
    wf_call_t *w = arg;
    pw_bytes_t iid = w->f[2];
    pw_workflows_t *engine = w->engine;
    if (rc == -EEXIST) {
        pw_port_reply_error(w->port, w->id, "Error", "instance.already_exists: an instance with id "
                            "\"%.*s\" already exists", (int)iid.len, iid.base);
        return call_end(w);
    }
    if (rc < 0)
        return call_store_error(w, rc);
    call_reply(w, "", iid);
    pw_workflows_wake(engine);
}

/* wf.create binding id params */
static void wf_create(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    if (f[2].len && !id_ok(f[2])) {
        pw_port_reply_error(c->port, c->id, "TypeError", "Workflow instance ids must be 1 to %d "
                            "letters, digits, '_' or '-' (not first).", MAX_ID);
        return;
    }
    if (f[3].len > MAX_PARAMS) {
        pw_port_reply_error(c->port, c->id, "Error", "Workflow params are larger than 1 MiB.");
        return;
    }
    if (!json_ok(f[3])) {
        pw_port_reply_error(c->port, c->id, "TypeError", "Workflow params must be JSON.");
        return;
    }
    wf_call_t *w = call_new(c);
    if (!w)
        return;
    if (w->f[2].len == 0) {
        new_id(w->fresh);
        w->f[2] = pw_bytes_of(w->fresh);
    }
    w->store->ops->create(w->store, pw_bytes_of(w->workflow->name), w->f[2], w->f[3], w->now, created, w);
}

static void reply_status(wf_call_t *w, const pw_wf_instance_t *inst)
{
    cJSON *out = cJSON_CreateObject();
    char *status = strndup((const char *)inst->status.base, inst->status.len);
    cJSON_AddStringToObject(out, "status", status ? status : "unknown");
    free(status);
    if (inst->output.len)
        pw_workflows_json_raw(out, "output", inst->output);
    if (inst->error.len) {
        char *text = strndup((const char *)inst->error.base, inst->error.len);
        const char *sep = text ? strstr(text, ": ") : NULL;
        cJSON *e = cJSON_AddObjectToObject(out, "error");
        char *name = sep ? strndup(text, (size_t)(sep - text)) : NULL;
        cJSON_AddStringToObject(e, "name", name ? name : "Error");
        cJSON_AddStringToObject(e, "message", sep ? sep + 2 : text ? text : "");
        free(name);
        free(text);
    }
    char *json = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    if (!json) {
        pw_port_reply_error(w->port, w->id, "Error", "out of memory");
        return call_end(w);
    }
    call_reply(w, "", pw_bytes_of(json));
    cJSON_free(json);
}

static void instance_loaded(void *arg, int rc, const pw_wf_instance_t *inst)
{
    wf_call_t *w = arg;
    if (rc == 0)
        call_not_found(w);
    else if (rc < 0)
        call_store_error(w, rc);
    else
        w->then(w, inst);
}

/* Loads the instance f[2] of the call's workflow, then runs `then` with it (a missing one and
 * a store error are answered here). */
static void instance_load(const pw_binding_call_t *c, wf_then_fn then)
{
    wf_call_t *w = call_new(c);
    if (!w)
        return;
    w->then = then;
    w->store->ops->get(w->store, pw_bytes_of(w->workflow->name), w->f[2], instance_loaded, w);
}

/* Sets the instance's status (NULL: leaves it as it is) and wake time; `restart` also
 * forgets every step, in the same transaction. */
static void instance_change(wf_call_t *w, const char *status, int64_t wake, int restart)
{
    pw_bytes_t name = pw_bytes_of(w->workflow->name);
    if (!status)
        written(w, 0);
    else if (restart)
        w->store->ops->restart(w->store, name, w->f[2], wake, w->now, written, w);
    else
        w->store->ops->set(w->store, name, w->f[2], status, pw_bytes_of(""), pw_bytes_of(""), wake,
                           w->now, written, w);
}

static void status_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    reply_status(w, inst);
}

static void get_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    (void)inst;
    call_reply(w, "", w->f[2]);
}

static void terminate_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    instance_change(w, pw_workflows_status_final(inst->status) ? NULL : "terminated", -1, 0);
}

static void pause_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    instance_change(w, pw_workflows_status_final(inst->status) ? NULL : "paused", -1, 0);
}

static void resume_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    instance_change(w, pw_bytes_is(inst->status, "paused") ? "queued" : NULL, w->now, 0);
}

static void restart_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    (void)inst;
    instance_change(w, "queued", w->now, 1);
}

/* wf.status binding id */
static void wf_status(const pw_binding_call_t *c)
{
    instance_load(c, status_then);
}

/* wf.get binding id */
static void wf_get(const pw_binding_call_t *c)
{
    instance_load(c, get_then);
}

/* wf.terminate binding id */
static void wf_terminate(const pw_binding_call_t *c)
{
    instance_load(c, terminate_then);
}

/* wf.pause binding id */
static void wf_pause(const pw_binding_call_t *c)
{
    instance_load(c, pause_then);
}

/* wf.resume binding id */
static void wf_resume(const pw_binding_call_t *c)
{
    instance_load(c, resume_then);
}

/* wf.restart binding id: from the top, every step forgotten */
static void wf_restart(const pw_binding_call_t *c)
{
    instance_load(c, restart_then);
}

static void event_sent(void *arg, int rc)
{
    wf_call_t *w = arg;
    if (rc == 0)
        call_not_found(w);
    else
        written(w, rc);
}

/* wf.event binding id type payload: kept for the instance's wait_for_event; a waiting
 * instance runs again now (a wait for another type suspends it again). */
static void wf_send_event(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    if (f[3].len == 0 || f[4].len > MAX_PARAMS || !json_ok(f[4])) {
        pw_port_reply_error(c->port, c->id, "TypeError", "send_event() takes {\"type\": non-empty "
                            "text, \"payload\": up to 1 MiB of JSON}");
        return;
    }
    wf_call_t *w = call_new(c);
    if (w)
        w->store->ops->event_send(w->store, pw_bytes_of(w->workflow->name), w->f[2], w->f[3],
                                  w->f[4], w->now, event_sent, w);
}

/* The workflow of the caller's binding f[1]. */
static void *wf_resolve(const pw_binding_call_t *c)
{
    const wf_worker_t *w = c->state;
    pw_bytes_t name = c->f[1];
    if (!w->engine || c->n < 3) {
        pw_port_reply_error(c->port, c->id, "TypeError", "bad workflow call");
        return NULL;
    }
    for (size_t i = 0; i < w->caller->worker.n_bindings; i++) {
        const pw_binding_t *b = &w->caller->worker.bindings[i];
        const pw_workflow_t *wf = b->kind == PW_BINDING_WORKFLOW && pw_bytes_is(name, b->name)
                                  ? pw_workflows_find(w->engine, name) : NULL;
        if (wf)
            return (void *)wf;
    }
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker has no workflow binding named "
                        "\"%.*s\"", (int)(name.len < 100 ? name.len : 100), name.base);
    return NULL;
}

/* ---- step calls from a running instance ---- */

/* The instance is still "running" (not terminated, paused or restarted meanwhile): the step
 * goes on; else the call is answered "stop". */
static void step_loaded(void *arg, int rc, const pw_wf_instance_t *inst)
{
    wf_call_t *w = arg;
    if (rc < 0)
        call_store_error(w, rc);
    else if (rc == 0 || !pw_bytes_is(inst->status, "running"))
        call_reply(w, "stop", (pw_bytes_t){ NULL, 0 });
    else
        w->then(w, inst);
}

static void step_begin(const pw_binding_call_t *c, wf_then_fn then, int64_t ms)
{
    wf_call_t *w = call_new(c);
    if (!w)
        return;
    w->then = then;
    w->ms = ms;
    w->store->ops->get(w->store, w->f[1], w->f[2], step_loaded, w);
}

static void step_found(void *arg, int rc, pw_bytes_t result, int64_t wake)
{
    wf_call_t *w = arg;
    (void)wake;
    if (rc < 0)
        return call_store_error(w, rc);
    if (rc == 0 || result.len == 0)     /* none, or a sleep's or a wait's row */
        return call_reply(w, "missing", (pw_bytes_t){ NULL, 0 });
    call_reply(w, "found", result);
}

static void step_get_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    (void)inst;
    w->store->ops->step_get(w->store, w->f[1], w->f[2], w->f[3], step_found, w);
}

/* wf.step.get workflow id step -> "found" result | "missing" */
static void step_get(const pw_binding_call_t *c)
{
    step_begin(c, step_get_then, 0);
}

static void step_saved(void *arg, int rc)
{
    wf_call_t *w = arg;
    if (rc < 0)
        return call_store_error(w, rc);
    call_reply(w, "saved", (pw_bytes_t){ NULL, 0 });
}

static void step_put_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    (void)inst;
    pw_bytes_t result = w->f[4].len ? w->f[4] : pw_bytes_of("null");
    w->store->ops->step_put(w->store, w->f[1], w->f[2], w->f[3], result, -1, step_saved, w);
}

/* wf.step.put workflow id step result -> "saved", once committed */
static void step_put(const pw_binding_call_t *c)
{
    if (c->f[4].len > MAX_STEP_RESULT) {
        pw_port_reply_error(c->port, c->id, "Error", "A step's result is larger than 1 MiB.");
        return;
    }
    step_begin(c, step_put_then, 0);
}

/* The instance waits (status "waiting") until w->ms: the run must end ("suspend"). */
static void suspended(void *arg, int rc)
{
    wf_call_t *w = arg;
    if (rc < 0)
        return call_store_error(w, rc);
    call_reply(w, "suspend", (pw_bytes_t){ NULL, 0 });
}

/* The sleep's end (w->ms) is stored: "done" when it has come, else the instance waits. */
static void sleep_stored(void *arg, int rc)
{
    wf_call_t *w = arg;
    if (rc < 0)
        return call_store_error(w, rc);
    if (w->ms <= w->now)
        return call_reply(w, "done", (pw_bytes_t){ NULL, 0 });
    w->store->ops->set(w->store, w->f[1], w->f[2], "waiting", pw_bytes_of(""), pw_bytes_of(""), w->ms,
                       w->now, suspended, w);
}

/* A sleep seen before keeps its end; a new one stores it (w->ms: its duration or date). */
static void sleep_found(void *arg, int rc, pw_bytes_t result, int64_t wake)
{
    wf_call_t *w = arg;
    (void)result;
    if (rc < 0)
        return call_store_error(w, rc);
    if (rc == 1) {
        w->ms = wake;
        return sleep_stored(w, 0);
    }
    w->ms = pw_bytes_is(w->f[4], "for") ? w->now + (w->ms > 0 ? w->ms : 0) : w->ms;
    w->store->ops->step_put(w->store, w->f[1], w->f[2], w->f[3], pw_bytes_of(""), w->ms, sleep_stored, w);
}

static void sleep_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    (void)inst;
    w->store->ops->step_get(w->store, w->f[1], w->f[2], w->f[3], sleep_found, w);
}

/* wf.sleep workflow id step for|until ms -> "done" | "suspend" (the run must end; the instance
 * waits until its wake time) */
static void step_sleep(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    int64_t ms;
    if (pw_bytes_to_i64(f[5], &ms) < 0 || !(pw_bytes_is(f[4], "for") || pw_bytes_is(f[4], "until"))) {
        pw_port_reply_error(c->port, c->id, "TypeError", "wf.sleep takes for|until and milliseconds");
        return;
    }
    step_begin(c, sleep_then, ms);
}

static void event_taken(void *arg, int rc)
{
    wf_call_t *w = arg;
    if (rc < 0)
        return call_store_error(w, rc);
    call_reply(w, "found", pw_bytes_of(w->json));
}

/* The event becomes the step's result ({"payload", "timestamp", "type"}) and leaves the queue,
 * in one transaction. */
static void take_event(wf_call_t *w, pw_bytes_t payload, int64_t sent, int64_t seq)
{
    cJSON *event = cJSON_CreateObject();
    pw_workflows_json_raw(event, "payload", payload);
    pw_workflows_json_date(event, "timestamp", sent);
    char *type = strndup((const char *)w->f[4].base, w->f[4].len);
    cJSON_AddStringToObject(event, "type", type ? type : "");
    free(type);
    char *json = cJSON_PrintUnformatted(event);
    cJSON_Delete(event);
    w->json = json ? strdup(json) : NULL;
    cJSON_free(json);
    if (!w->json) {
        pw_port_reply_error(w->port, w->id, "Error", "workflows: out of memory");
        return call_end(w);
    }
    w->store->ops->event_take(w->store, w->f[1], w->f[2], w->f[3], pw_bytes_of(w->json), seq, event_taken, w);
}

static void wait_timed_out(void *arg, int rc)
{
    wf_call_t *w = arg;
    if (rc < 0)
        return call_store_error(w, rc);
    call_reply(w, "timeout", (pw_bytes_t){ NULL, 0 });
}

/* After the instance was set waiting: an event that came meanwhile (sent from another node
 * between the look and the suspension) makes it due now. */
static void wait_rechecked(void *arg, int rc, pw_bytes_t payload, int64_t sent, int64_t seq)
{
    wf_call_t *w = arg;
    (void)payload;
    (void)sent;
    (void)seq;
    if (rc < 0)
        return call_store_error(w, rc);
    if (rc == 0)
        return call_reply(w, "suspend", (pw_bytes_t){ NULL, 0 });
    w->store->ops->set(w->store, w->f[1], w->f[2], "waiting", pw_bytes_of(""), pw_bytes_of(""), w->now,
                       w->now, suspended, w);
}

static void wait_suspended(void *arg, int rc)
{
    wf_call_t *w = arg;
    if (rc < 0)
        return call_store_error(w, rc);
    w->store->ops->event_first(w->store, w->f[1], w->f[2], w->f[4], wait_rechecked, w);
}

/* The oldest event of the type, if any, is the step's result; else the wait times out at its
 * deadline (w->ms) or suspends the run until then. */
static void wait_looked(void *arg, int rc, pw_bytes_t payload, int64_t sent, int64_t seq)
{
    wf_call_t *w = arg;
    if (rc < 0)
        return call_store_error(w, rc);
    if (rc == 1)
        return take_event(w, payload, sent, seq);
    if (w->now >= w->ms)
        w->store->ops->step_put(w->store, w->f[1], w->f[2], w->f[3], pw_bytes_of(TIMED_OUT), w->ms,
                                wait_timed_out, w);
    else
        w->store->ops->set(w->store, w->f[1], w->f[2], "waiting", pw_bytes_of(""), pw_bytes_of(""),
                           w->ms, w->now, wait_suspended, w);
}

static void wait_started(void *arg, int rc)
{
    wf_call_t *w = arg;
    if (rc < 0)
        return call_store_error(w, rc);
    w->store->ops->event_first(w->store, w->f[1], w->f[2], w->f[4], wait_looked, w);
}

/* A wait ended before answers as it did; a new one stores its deadline (w->ms: its timeout). */
static void wait_found(void *arg, int rc, pw_bytes_t result, int64_t deadline)
{
    wf_call_t *w = arg;
    if (rc < 0)
        return call_store_error(w, rc);
    if (rc == 1 && result.len)
        return call_reply(w, pw_bytes_is(result, TIMED_OUT) ? "timeout" : "found", result);
    if (rc == 1) {
        w->ms = deadline;
        return wait_started(w, 0);
    }
    w->ms = w->now + (w->ms > 0 ? w->ms : 0);
    w->store->ops->step_put(w->store, w->f[1], w->f[2], w->f[3], pw_bytes_of(""), w->ms, wait_started, w);
}

static void wait_then(wf_call_t *w, const pw_wf_instance_t *inst)
{
    (void)inst;
    w->store->ops->step_get(w->store, w->f[1], w->f[2], w->f[3], wait_found, w);
}

/* wf.wait workflow id step type timeout_ms -> "found" event | "timeout" | "suspend" (the run
 * must end; it runs again when an event comes or at the deadline) */
static void step_wait(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    int64_t timeout;
    if (pw_bytes_to_i64(f[5], &timeout) < 0 || f[4].len == 0) {
        pw_port_reply_error(c->port, c->id, "TypeError", "wf.wait takes a type and milliseconds");
        return;
    }
    step_begin(c, wait_then, timeout);
}

/* The workflow f[1] that the caller runs, when instance f[2] has a run in flight here (the
 * step then checks that it is still "running"); else the call is answered. */
static void *step_resolve(const pw_binding_call_t *c)
{
    const wf_worker_t *w = c->state;
    const pw_bytes_t *f = c->f;
    if (!w->engine || c->n < 3) {
        pw_port_reply_error(c->port, c->id, "TypeError", "bad workflow call");
        return NULL;
    }
    const pw_workflow_t *wf = pw_workflows_find(w->engine, f[1]);
    if (!wf || strcmp(wf->service, w->caller->name) != 0) {
        pw_port_reply_error(c->port, c->id, "TypeError", "this worker runs no workflow named \"%.*s\"",
                            (int)(f[1].len < 100 ? f[1].len : 100), f[1].base);
        return NULL;
    }
    if (!pw_workflows_running(w->engine, f[1], f[2])) {
        reply(c, "stop", (pw_bytes_t){ NULL, 0 });
        return NULL;
    }
    return (void *)wf;
}

/* ---- the kind ---- */

static int wf_open(const pw_binding_env_t *env, void **state, char *err, size_t err_len)
{
    return pw_workflows_create(env->loop, env->config, pw_binding_state_dir(env), env->pg,
                               env->cluster ? env->cluster->node_id : NULL, env->lookup,
                               env->lookup_arg, (pw_workflows_t **)state, err, err_len);
}

static void wf_close(void *state)
{
    pw_workflows_free(state);
}

static const pw_binding_op_t wf_ops[] = {
    { "wf.create", 4, 4, NULL, 0, wf_create },
    { "wf.event", 5, 5, NULL, 0, wf_send_event },
    { "wf.status", 3, 3, NULL, 0, wf_status },
    { "wf.get", 3, 3, NULL, 0, wf_get },
    { "wf.pause", 3, 3, NULL, 0, wf_pause },
    { "wf.resume", 3, 3, NULL, 0, wf_resume },
    { "wf.terminate", 3, 3, NULL, 0, wf_terminate },
    { "wf.restart", 3, 3, NULL, 0, wf_restart },
};

static const pw_binding_op_t step_ops[] = {
    { "wf.step.get", 4, 4, NULL, 0, step_get },
    { "wf.step.put", 5, 5, NULL, 0, step_put },
    { "wf.sleep", 6, 6, NULL, 0, step_sleep },
    { "wf.wait", 6, 6, NULL, 0, step_wait },
};

static const pw_binding_group_t wf_groups[] = {
    { .prefix = "wf.", .resolve = wf_resolve, .unknown_op = "unknown workflow operation \"%.*s\"",
      .ops = wf_ops, .n_ops = sizeof wf_ops / sizeof wf_ops[0] },
    { .prefix = "wf.step.", .resolve = step_resolve, .unknown_op = "bad workflow step call",
      .ops = step_ops, .n_ops = sizeof step_ops / sizeof step_ops[0] },
};

const pw_binding_kind_impl_t pw_binding_workflows = {
    .name = "workflows", .open = wf_open, .close = wf_close, .attach = pw_binding_attach_caller,
    .detach = free,
    .groups = wf_groups, .n_groups = 2,
};
