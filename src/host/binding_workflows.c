/* binding_workflows.c — the Workflows binding kind (host process, loop thread): what
 * isolates ask of the Workflows engine (host/workflows.h). Two groups of ops: binding calls
 * from any worker with a workflow binding (wf.create, wf.get, wf.status, wf.pause, wf.resume,
 * wf.terminate, wf.restart, wf.event) and step calls from the isolate running an instance
 * (wf.step.get, wf.step.put, wf.sleep, wf.wait). The instances' state is the engine's store;
 * after a change the engine is woken to run what became due.
 * Invariant: only the run in flight of an instance gets answers to its step calls (others
 * get "stop"); a step result is committed before its call is answered.
 */
#include "host/binding.h"
#include "host/port.h"
#include "host/workflows.h"
#include "storage/workflow.h"

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

static pw_workflows_t *engine_of(const pw_binding_call_t *c)
{
    return ((const wf_worker_t *)c->state)->engine;
}

static pw_wf_store_t *store_of(const pw_binding_call_t *c)
{
    return pw_workflows_store(engine_of(c));
}

static void reply(const pw_binding_call_t *c, const char *a, pw_bytes_t b)
{
    pw_bytes_t f[3] = { pw_bytes_of(""), pw_bytes_of(a), b };
    pw_port_reply(c->port, c->id, f, b.base ? 3 : 2);
}

static void reply_store_error(const pw_binding_call_t *c)
{
    pw_port_reply_error(c->port, c->id, "Error", "workflow store: %s", pw_wf_store_error(store_of(c)));
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

/* wf.create binding id params */
static void wf_create(const pw_binding_call_t *c)
{
    const pw_workflow_t *w = c->binding;
    const pw_bytes_t *f = c->f;
    char fresh[37];
    pw_bytes_t iid = f[2];
    if (iid.len == 0) {
        new_id(fresh);
        iid = pw_bytes_of(fresh);
    }
    if (!id_ok(iid)) {
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
    int rc = pw_wf_instance_create(store_of(c), pw_bytes_of(w->name), iid, f[3], pw_workflows_now_ms());
    if (rc == -EEXIST)
        pw_port_reply_error(c->port, c->id, "Error", "instance.already_exists: an instance with id "
                            "\"%.*s\" already exists", (int)iid.len, iid.base);
    else if (rc < 0)
        reply_store_error(c);
    else
        reply(c, "", iid);
    if (rc >= 0)
        pw_workflows_wake(engine_of(c));
}

static void reply_status(const pw_binding_call_t *c, const pw_wf_instance_t *inst)
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
        pw_port_reply_error(c->port, c->id, "Error", "out of memory");
        return;
    }
    reply(c, "", pw_bytes_of(json));
    cJSON_free(json);
}

/* The instance f[2] of the call's workflow; 1, or 0 once the call is answered (not found). */
static int instance_load(const pw_binding_call_t *c, pw_wf_instance_t *inst)
{
    const pw_workflow_t *w = c->binding;
    pw_bytes_t iid = c->f[2];
    int rc = pw_wf_instance_get(store_of(c), pw_bytes_of(w->name), iid, inst);
    if (rc == 0)
        pw_port_reply_error(c->port, c->id, "Error", "instance.not_found: no instance \"%.*s\" in "
                            "workflow %s", (int)(iid.len < 120 ? iid.len : 120), iid.base, w->name);
    else if (rc < 0)
        reply_store_error(c);
    return rc == 1;
}

/* Sets the instance's status (NULL: leaves it as it is) and wake time in one transaction;
 * `restart` also forgets every step. */
static void instance_change(const pw_binding_call_t *c, const char *status, int64_t wake, int restart)
{
    const pw_workflow_t *w = c->binding;
    pw_wf_store_t *store = store_of(c);
    pw_bytes_t iid = c->f[2];
    int rc = status ? pw_wf_store_exec(store, "BEGIN") : 0;
    if (rc == 0 && status && restart)
        rc = pw_wf_steps_clear(store, pw_bytes_of(w->name), iid);
    if (rc == 0 && status)
        rc = pw_wf_instance_set(store, pw_bytes_of(w->name), iid, status, pw_bytes_of(""), pw_bytes_of(""), wake,
                                pw_workflows_now_ms());
    if (status)
        pw_wf_store_exec(store, rc == 0 ? "COMMIT" : "ROLLBACK");
    if (rc < 0)
        return reply_store_error(c);
    reply(c, "", (pw_bytes_t){ NULL, 0 });
    pw_workflows_wake(engine_of(c));
}

/* wf.status binding id */
static void wf_status(const pw_binding_call_t *c)
{
    pw_wf_instance_t inst;
    if (instance_load(c, &inst))
        reply_status(c, &inst);
}

/* wf.get binding id */
static void wf_get(const pw_binding_call_t *c)
{
    pw_wf_instance_t inst;
    if (instance_load(c, &inst))
        reply(c, "", c->f[2]);
}

/* wf.terminate binding id */
static void wf_terminate(const pw_binding_call_t *c)
{
    pw_wf_instance_t inst;
    if (instance_load(c, &inst))
        instance_change(c, pw_workflows_status_final(inst.status) ? NULL : "terminated", -1, 0);
}

/* wf.pause binding id */
static void wf_pause(const pw_binding_call_t *c)
{
    pw_wf_instance_t inst;
    if (instance_load(c, &inst))
        instance_change(c, pw_workflows_status_final(inst.status) ? NULL : "paused", -1, 0);
}

/* wf.resume binding id */
static void wf_resume(const pw_binding_call_t *c)
{
    pw_wf_instance_t inst;
    if (instance_load(c, &inst))
        instance_change(c, pw_bytes_is(inst.status, "paused") ? "queued" : NULL, pw_workflows_now_ms(), 0);
}

/* wf.restart binding id: from the top, every step forgotten */
static void wf_restart(const pw_binding_call_t *c)
{
    pw_wf_instance_t inst;
    if (instance_load(c, &inst))
        instance_change(c, "queued", pw_workflows_now_ms(), 1);
}

/* wf.event binding id type payload: kept for the instance's wait_for_event; a waiting
 * instance runs again now (a wait for another type suspends it again). */
static void wf_send_event(const pw_binding_call_t *c)
{
    const pw_workflow_t *w = c->binding;
    const pw_bytes_t *f = c->f;
    pw_wf_store_t *store = store_of(c);
    pw_wf_instance_t inst;
    int64_t now = pw_workflows_now_ms();
    if (f[3].len == 0 || f[4].len > MAX_PARAMS || !json_ok(f[4])) {
        pw_port_reply_error(c->port, c->id, "TypeError", "send_event() takes {\"type\": non-empty "
                            "text, \"payload\": up to 1 MiB of JSON}");
        return;
    }
    int rc = pw_wf_instance_get(store, pw_bytes_of(w->name), f[2], &inst);
    if (rc == 0) {
        pw_port_reply_error(c->port, c->id, "Error", "instance.not_found: no instance \"%.*s\" in "
                            "workflow %s", (int)(f[2].len < 120 ? f[2].len : 120), f[2].base, w->name);
        return;
    }
    int waiting = rc == 1 && pw_bytes_is(inst.status, "waiting");
    if (rc == 1)
        rc = pw_wf_event_add(store, pw_bytes_of(w->name), f[2], f[3], f[4], now);
    if (rc >= 0 && waiting)
        rc = pw_wf_instance_set(store, pw_bytes_of(w->name), f[2], "waiting", pw_bytes_of(""), pw_bytes_of(""), now, now);
    if (rc < 0)
        return reply_store_error(c);
    reply(c, "", (pw_bytes_t){ NULL, 0 });
    pw_workflows_wake(engine_of(c));
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

/* wf.step.get workflow id step -> "found" result | "missing" */
static void step_get(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    pw_bytes_t result;
    int64_t wake;
    int rc = pw_wf_step_get(store_of(c), f[1], f[2], f[3], &result, &wake);
    if (rc < 0)
        return reply_store_error(c);
    if (rc == 0 || result.len == 0)     /* none, or a sleep's or a wait's row */
        return reply(c, "missing", (pw_bytes_t){ NULL, 0 });
    reply(c, "found", result);
}

/* wf.step.put workflow id step result -> "saved", once committed */
static void step_put(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    if (f[4].len > MAX_STEP_RESULT) {
        pw_port_reply_error(c->port, c->id, "Error", "A step's result is larger than 1 MiB.");
        return;
    }
    if (pw_wf_step_put(store_of(c), f[1], f[2], f[3], f[4].len ? f[4] : pw_bytes_of("null"), -1) < 0)
        return reply_store_error(c);
    reply(c, "saved", (pw_bytes_t){ NULL, 0 });
}


/* wf.sleep workflow id step for|until ms -> "done" | "suspend" (the run must end; the instance
 * waits until its wake time) */
static void step_sleep(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    pw_wf_store_t *store = store_of(c);
    int64_t ms, wake, now = pw_workflows_now_ms();
    pw_bytes_t result;
    if (pw_bytes_to_i64(f[5], &ms) < 0 || !(pw_bytes_is(f[4], "for") || pw_bytes_is(f[4], "until"))) {
        pw_port_reply_error(c->port, c->id, "TypeError", "wf.sleep takes for|until and milliseconds");
        return;
    }
    int rc = pw_wf_step_get(store, f[1], f[2], f[3], &result, &wake);
    if (rc == 0) {
        wake = pw_bytes_is(f[4], "for") ? now + (ms > 0 ? ms : 0) : ms;
        rc = pw_wf_step_put(store, f[1], f[2], f[3], pw_bytes_of(""), wake);
    }
    if (rc >= 0 && wake > now)
        rc = pw_wf_instance_set(store, f[1], f[2], "waiting", pw_bytes_of(""), pw_bytes_of(""), wake, now);
    if (rc < 0)
        return reply_store_error(c);
    reply(c, wake > now ? "suspend" : "done", (pw_bytes_t){ NULL, 0 });
}

/* The event becomes the step's result ({"payload", "timestamp", "type"}) and leaves the queue,
 * in one transaction. */
static void take_event(const pw_binding_call_t *c, pw_bytes_t payload, int64_t sent, int64_t seq)
{
    const pw_bytes_t *f = c->f;
    pw_wf_store_t *store = store_of(c);
    cJSON *event = cJSON_CreateObject();
    pw_workflows_json_raw(event, "payload", payload);
    pw_workflows_json_date(event, "timestamp", sent);
    char *type = strndup((const char *)f[4].base, f[4].len);
    cJSON_AddStringToObject(event, "type", type ? type : "");
    free(type);
    char *json = cJSON_PrintUnformatted(event);
    cJSON_Delete(event);
    int rc = json ? pw_wf_store_exec(store, "BEGIN") : -ENOMEM;
    if (rc == 0 && (pw_wf_step_put(store, f[1], f[2], f[3], pw_bytes_of(json), -1) < 0 ||
                    pw_wf_event_delete(store, seq) < 0))
        rc = -EIO;
    if (rc == 0)
        rc = pw_wf_store_exec(store, "COMMIT");
    else if (json)
        pw_wf_store_exec(store, "ROLLBACK");
    if (rc < 0)
        reply_store_error(c);
    else
        reply(c, "found", pw_bytes_of(json));
    cJSON_free(json);
}

/* wf.wait workflow id step type timeout_ms -> "found" event | "timeout" | "suspend" (the run
 * must end; it runs again when an event comes or at the deadline) */
static void step_wait(const pw_binding_call_t *c)
{
    const pw_bytes_t *f = c->f;
    pw_wf_store_t *store = store_of(c);
    int64_t timeout, deadline, now = pw_workflows_now_ms(), sent, seq;
    pw_bytes_t result, payload;
    if (pw_bytes_to_i64(f[5], &timeout) < 0 || f[4].len == 0) {
        pw_port_reply_error(c->port, c->id, "TypeError", "wf.wait takes a type and milliseconds");
        return;
    }
    int rc = pw_wf_step_get(store, f[1], f[2], f[3], &result, &deadline);
    if (rc == 1 && result.len)
        return reply(c, pw_bytes_is(result, TIMED_OUT) ? "timeout" : "found", result);
    if (rc == 0) {
        deadline = now + (timeout > 0 ? timeout : 0);
        rc = pw_wf_step_put(store, f[1], f[2], f[3], pw_bytes_of(""), deadline);
    }
    if (rc >= 0)
        rc = pw_wf_event_first(store, f[1], f[2], f[4], &payload, &sent, &seq);
    if (rc == 1)
        return take_event(c, payload, sent, seq);
    int timed_out = rc == 0 && now >= deadline;
    if (timed_out)
        rc = pw_wf_step_put(store, f[1], f[2], f[3], pw_bytes_of(TIMED_OUT), deadline);
    else if (rc == 0)
        rc = pw_wf_instance_set(store, f[1], f[2], "waiting", pw_bytes_of(""), pw_bytes_of(""), deadline, now);
    if (rc < 0)
        return reply_store_error(c);
    reply(c, timed_out ? "timeout" : "suspend", (pw_bytes_t){ NULL, 0 });
}

/* The workflow f[1] that the caller runs, when instance f[2] has a run in flight here that
 * is still "running"; else the call is answered "stop" (terminated, paused, or stale). */
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
    pw_wf_instance_t inst;
    if (!pw_workflows_running(w->engine, f[1], f[2]) ||
        pw_wf_instance_get(pw_workflows_store(w->engine), f[1], f[2], &inst) != 1 ||
        !pw_bytes_is(inst.status, "running")) {
        reply(c, "stop", (pw_bytes_t){ NULL, 0 });
        return NULL;
    }
    return (void *)wf;
}

/* ---- the kind ---- */

static int wf_open(const pw_binding_env_t *env, void **state, char *err, size_t err_len)
{
    return pw_workflows_create(env->loop, env->config, pw_binding_state_dir(env), env->lookup,
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
