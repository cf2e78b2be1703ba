/* workflows.c — the Workflows engine (host process, loop thread; see workflows.h).
 * The store is the truth: an instance is due when its wake time has come (a new instance, a
 * sleep that ended, a run to retry, or one left running by a previous host); one timer fires
 * at the earliest wake time and starts every due instance that is not already running here.
 * A run is a CALL of the class's `run` with the event; the SDK (python/pyworkerd/workflows.py)
 * answers {"outcome": "complete"|"suspended"|"errored", ...} and makes step calls meanwhile.
 * Invariant: at most one run of an instance is in flight, and only that run's step calls are
 * answered (others get "stop"); a step result is committed before its call is answered.
 */
#include "host/workflows.h"
#include "base/log.h"
#include "host/rpc.h"
#include "host/worker_call.h"
#include "storage/workflow.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MS 1000           /* a run whose worker could not take it is tried again after */
#define MAX_ID 100              /* Cloudflare's instance id limit */
#define MAX_PARAMS (1024 * 1024)
#define MAX_STEP_RESULT (1024 * 1024)
#define MAX_DUE 64              /* instances started per timer turn */
#define MAX_CRASHES 3           /* runs retried after their isolate died, per instance */
#define CRASH_RETRY_MS 500      /* ... after this, doubled at each crash */

typedef struct {
    const char *name;           /* the binding's name */
    const char *service;        /* the worker defining the class */
    const char *entrypoint;     /* the WorkflowEntrypoint class */
} workflow_t;

typedef struct run {
    struct run *next;
    pw_workflows_t *engine;
    const workflow_t *workflow;
    char *id;
    pw_worker_call_t *call;
} run_t;

/* How often runs of an instance ended with their isolate's death, this host run (a crash
 * loop ends the instance; a host restart starts counting again). */
typedef struct crash {
    struct crash *next;
    char *key;                  /* "<workflow>/<id>" */
    int count;
} crash_t;

struct pw_workflows {
    crash_t *crashes;
    uv_loop_t *loop;
    pw_wf_store_t *store;
    workflow_t *workflows;
    size_t n_workflows;
    run_t *runs;
    uv_timer_t timer;
    pw_workflows_lookup_cb lookup;
    void *lookup_arg;
};

static pw_bytes_t S(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static int bytes_eq(pw_bytes_t b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.base, s, b.len) == 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(pw_port_t *port, uint32_t id, const char *a, pw_bytes_t b)
{
    pw_bytes_t f[3] = { S(""), S(a), b };
    pw_port_reply(port, id, f, b.base ? 3 : 2);
}

/* ---- the workflows of the config ---- */

static const workflow_t *workflow_named(const pw_workflows_t *wf, pw_bytes_t name)
{
    for (size_t i = 0; i < wf->n_workflows; i++)
        if (bytes_eq(name, wf->workflows[i].name))
            return &wf->workflows[i];
    return NULL;
}

/* Adds a binding's workflow; the same name bound elsewhere must lead to the same class. */
static int add_workflow(pw_workflows_t *wf, const pw_binding_t *b, char *err, size_t err_len)
{
    const workflow_t *known = workflow_named(wf, S(b->name));
    if (known && (strcmp(known->service, b->value) || strcmp(known->entrypoint, b->entrypoint))) {
        snprintf(err, err_len, "workflow binding \"%s\" names both %s.%s and %s.%s: give each "
                 "workflow its own binding name", b->name, known->service, known->entrypoint,
                 b->value, b->entrypoint);
        return -1;
    }
    if (!known)
        wf->workflows[wf->n_workflows++] = (workflow_t){ b->name, b->value, b->entrypoint };
    return 0;
}

static size_t count_bindings(const pw_config_t *config)
{
    size_t n = 0;
    for (size_t i = 0; i < config->n_services; i++) {
        const pw_service_t *s = &config->services[i];
        for (size_t j = 0; s->kind == PW_SERVICE_WORKER && j < s->worker.n_bindings; j++)
            n += s->worker.bindings[j].kind == PW_BINDING_WORKFLOW;
    }
    return n;
}

static int add_workflows(pw_workflows_t *wf, const pw_config_t *config, char *err, size_t err_len)
{
    for (size_t i = 0; i < config->n_services; i++) {
        const pw_service_t *s = &config->services[i];
        for (size_t j = 0; s->kind == PW_SERVICE_WORKER && j < s->worker.n_bindings; j++) {
            const pw_binding_t *b = &s->worker.bindings[j];
            if (b->kind == PW_BINDING_WORKFLOW && add_workflow(wf, b, err, err_len) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- runs ---- */

static void schedule(pw_workflows_t *wf, int64_t delay_ms);

static run_t *run_find(pw_workflows_t *wf, pw_bytes_t workflow, pw_bytes_t id)
{
    for (run_t *r = wf->runs; r; r = r->next)
        if (bytes_eq(workflow, r->workflow->name) && bytes_eq(id, r->id))
            return r;
    return NULL;
}

/* Counts one more crash of `run`'s instance; returns the count (0 when out of memory). */
static int crash_count(run_t *run)
{
    char key[512];
    snprintf(key, sizeof key, "%s/%s", run->workflow->name, run->id);
    crash_t *c = run->engine->crashes;
    while (c && strcmp(c->key, key) != 0)
        c = c->next;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c || !(c->key = strdup(key))) {
            free(c);
            return 0;
        }
        c->next = run->engine->crashes;
        run->engine->crashes = c;
    }
    return ++c->count;
}

static void crashes_free(pw_workflows_t *wf)
{
    while (wf->crashes) {
        crash_t *next = wf->crashes->next;
        free(wf->crashes->key);
        free(wf->crashes);
        wf->crashes = next;
    }
}

static void run_unlink_free(run_t *run)
{
    for (run_t **p = &run->engine->runs; *p; p = &(*p)->next)
        if (*p == run) {
            *p = run->next;
            break;
        }
    free(run->id);
    free(run);
}

static int is_final(pw_bytes_t status)
{
    return bytes_eq(status, "complete") || bytes_eq(status, "errored") ||
           bytes_eq(status, "terminated");
}

static void set_status(pw_workflows_t *wf, const run_t *run, const char *status, pw_bytes_t output,
                       pw_bytes_t error, int64_t wake)
{
    pw_bytes_t name = S(run->workflow->name), id = S(run->id);
    if (pw_wf_instance_set(wf->store, name, id, status, output, error, wake, now_ms()) < 0)
        pw_log_error("workflow %s instance %s: cannot save its status: %s", run->workflow->name,
                     run->id, pw_wf_store_error(wf->store));
}

/* The outcome the SDK returned: {"outcome", "output"?, "error"?: {"name", "message"}}. */
static void run_finished(pw_workflows_t *wf, run_t *run, const pw_worker_answer_t *a)
{
    cJSON *answer = cJSON_ParseWithLength((const char *)a->body.base, a->body.len);
    const cJSON *outcome = cJSON_GetObjectItemCaseSensitive(answer, "outcome");
    const char *what = cJSON_IsString(outcome) ? outcome->valuestring : "";
    if (a->status == 200 && strcmp(what, "complete") == 0) {
        char *output = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(answer, "output"));
        set_status(wf, run, "complete", S(output ? output : "null"), S(""), -1);
        cJSON_free(output);
    } else if (a->status == 200 && strcmp(what, "suspended") == 0) {
        /* the sleep that suspended it already set its status and wake time */
    } else {
        const cJSON *e = a->status == 200 ? cJSON_GetObjectItemCaseSensitive(answer, "error") : answer;
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        char text[2048];
        snprintf(text, sizeof text, "%s: %s", cJSON_IsString(name) ? name->valuestring : "Error",
                 cJSON_IsString(msg) ? msg->valuestring : "the workflow's run() failed");
        set_status(wf, run, "errored", S(""), S(text), -1);
        pw_log_info("workflow %s instance %s: errored: %s", run->workflow->name, run->id, text);
    }
    cJSON_Delete(answer);
}

static void run_done(void *arg, const pw_worker_answer_t *a)
{
    run_t *run = arg;
    pw_workflows_t *wf = run->engine;
    pw_wf_instance_t inst;
    int found = pw_wf_instance_get(wf->store, S(run->workflow->name), S(run->id), &inst);
    int still_ours = found == 1 && (bytes_eq(inst.status, "running") || bytes_eq(inst.status, "waiting"));
    int crashes = still_ours && a->error_status == 502 ? crash_count(run) : 0;
    if (still_ours && a->error_status == 503) {
        set_status(wf, run, "running", S(""), S(""), now_ms() + RETRY_MS);    /* try again */
    } else if (crashes > 0 && crashes <= MAX_CRASHES) {
        /* the isolate died (a crash, a memory or CPU limit): run again, saved steps kept */
        int64_t delay = (int64_t)CRASH_RETRY_MS << (crashes - 1);
        pw_log_error("workflow %s instance %s: its isolate died during the run (%s); running it "
                     "again in %lld ms (%d of %d)", run->workflow->name, run->id,
                     a->error_text ? a->error_text : "502", (long long)delay, crashes, MAX_CRASHES);
        set_status(wf, run, "running", S(""), S(""), now_ms() + delay);
    } else if (still_ours && a->error_status) {
        char text[1024];
        snprintf(text, sizeof text, "Error: %s", a->error_text ? a->error_text : "the run failed");
        set_status(wf, run, "errored", S(""), S(text), -1);
        pw_log_error("workflow %s instance %s: errored: %s", run->workflow->name, run->id, text);
    } else if (still_ours) {
        run_finished(wf, run, a);
    }
    run_unlink_free(run);
    schedule(wf, 0);
}

/* Adds name: {"$pyworkerd:date": "<UTC ISO time of ms>"} (a datetime for the SDK). */
static void add_date(cJSON *obj, const char *name, int64_t ms)
{
    char stamp[40];
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t len = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + len, sizeof stamp - len, ".%03d", (int)(ms % 1000));
    cJSON *date = cJSON_AddObjectToObject(obj, name);
    cJSON_AddStringToObject(date, "$pyworkerd:date", stamp);
}

/* Adds name: the JSON text in b (null when empty). */
static void add_raw(cJSON *obj, const char *name, pw_bytes_t b)
{
    char *raw = strndup((const char *)b.base, b.len);
    cJSON_AddItemToObject(obj, name, cJSON_CreateRaw(raw && *raw ? raw : "null"));
    free(raw);
}

static cJSON *event_json(const run_t *run, const pw_wf_instance_t *inst)
{
    cJSON *event = cJSON_CreateObject();
    add_date(event, "timestamp", inst->created_ms);
    add_raw(event, "payload", inst->params);
    cJSON_AddStringToObject(event, "instanceId", run->id);
    cJSON_AddStringToObject(event, "workflowName", run->workflow->name);
    return event;
}

/* Calls the class's run(event) in its worker's pool. */
static void run_start(pw_workflows_t *wf, const workflow_t *w, pw_bytes_t id)
{
    pw_wf_instance_t inst;
    if (run_find(wf, S(w->name), id) || pw_wf_instance_get(wf->store, S(w->name), id, &inst) != 1)
        return;
    if (is_final(inst.status) || bytes_eq(inst.status, "paused")) {
        pw_wf_instance_unschedule(wf->store, S(w->name), id);     /* nothing to run */
        return;
    }
    run_t *run = calloc(1, sizeof *run);
    char *payload = NULL;
    if (!run || !(run->id = strndup((const char *)id.base, id.len))) {
        free(run);
        return;
    }
    run->engine = wf;
    run->workflow = w;
    cJSON *args = cJSON_CreateArray();
    cJSON_AddItemToArray(args, event_json(run, &inst));
    payload = cJSON_PrintUnformatted(args);
    cJSON_Delete(args);
    pw_pool_t *pool = wf->lookup(wf->lookup_arg, w->service);
    int64_t retry = now_ms() + RETRY_MS;
    if (!pool || !payload) {
        set_status(wf, run, "running", S(""), S(""), retry);
        free(run->id);
        free(run);
        cJSON_free(payload);
        return;
    }
    set_status(wf, run, "running", S(""), S(""), -1);
    run->next = wf->runs;
    wf->runs = run;
    if (pw_worker_call(pool, w->entrypoint, S("run"), S(payload), run_done, run, &run->call) < 0) {
        set_status(wf, run, "running", S(""), S(""), retry);
        run_unlink_free(run);
    }
    cJSON_free(payload);
}

/* ---- the timer ---- */

typedef struct {
    pw_workflows_t *engine;
    char *names[MAX_DUE], *ids[MAX_DUE];
    size_t n;
    int busy;                   /* a due instance is running here already */
} due_t;

static void collect_due(void *arg, pw_bytes_t workflow, pw_bytes_t id)
{
    due_t *d = arg;
    if (run_find(d->engine, workflow, id)) {
        d->busy = 1;
        return;
    }
    if (d->n == MAX_DUE)
        return;
    d->names[d->n] = strndup((const char *)workflow.base, workflow.len);
    d->ids[d->n] = strndup((const char *)id.base, id.len);
    d->n++;
}

static void on_timer(uv_timer_t *timer)
{
    pw_workflows_t *wf = timer->data;
    due_t due = { .engine = wf };
    if (pw_wf_instance_due(wf->store, now_ms(), collect_due, &due) < 0)
        pw_log_error("workflows: cannot read the store: %s", pw_wf_store_error(wf->store));
    for (size_t i = 0; i < due.n; i++) {
        const workflow_t *w = due.names[i] ? workflow_named(wf, S(due.names[i])) : NULL;
        if (w && due.ids[i])
            run_start(wf, w, S(due.ids[i]));
        else if (due.names[i] && due.ids[i])     /* its binding left the config: park it */
            pw_wf_instance_unschedule(wf->store, S(due.names[i]), S(due.ids[i]));
        free(due.names[i]);
        free(due.ids[i]);
    }
    schedule(wf, due.busy ? 20 : 0);
}

/* Arms the timer for the earliest wake time, at least min_delay_ms from now. */
static void schedule(pw_workflows_t *wf, int64_t min_delay_ms)
{
    int64_t next = pw_wf_next_wake(wf->store);
    if (next < 0) {
        uv_timer_stop(&wf->timer);
        return;
    }
    int64_t delay = next - now_ms();
    uv_timer_start(&wf->timer, on_timer, (uint64_t)(delay > min_delay_ms ? delay : min_delay_ms), 0);
}

/* ---- binding calls: wf.create, wf.get, wf.status, wf.pause, wf.resume, wf.terminate,
 * wf.restart, wf.event ---- */

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
        uint64_t t = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
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
static void wf_create(pw_workflows_t *wf, const workflow_t *w, pw_port_t *port, uint32_t id,
                      const pw_bytes_t *f, size_t n)
{
    char fresh[37];
    pw_bytes_t iid = f[2];
    if (iid.len == 0) {
        new_id(fresh);
        iid = S(fresh);
    }
    if (!id_ok(iid))
        return pw_rpc_reply_error(port, id, "TypeError", "Workflow instance ids must be 1 to %d "
                                  "letters, digits, '_' or '-' (not first).", MAX_ID);
    if (f[3].len > MAX_PARAMS)
        return pw_rpc_reply_error(port, id, "Error", "Workflow params are larger than 1 MiB.");
    if (!json_ok(f[3]))
        return pw_rpc_reply_error(port, id, "TypeError", "Workflow params must be JSON.");
    int rc = pw_wf_instance_create(wf->store, S(w->name), iid, f[3], now_ms());
    if (rc == -EEXIST)
        return pw_rpc_reply_error(port, id, "Error", "instance.already_exists: an instance with id "
                                  "\"%.*s\" already exists", (int)iid.len, iid.base);
    if (rc < 0)
        return pw_rpc_reply_error(port, id, "Error", "workflow store: %s", pw_wf_store_error(wf->store));
    reply(port, id, "", iid);
    schedule(wf, 0);
}

static void reply_status(pw_port_t *port, uint32_t id, const pw_wf_instance_t *inst)
{
    cJSON *out = cJSON_CreateObject();
    char *status = strndup((const char *)inst->status.base, inst->status.len);
    cJSON_AddStringToObject(out, "status", status ? status : "unknown");
    free(status);
    if (inst->output.len)
        add_raw(out, "output", inst->output);
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
    if (!json)
        return pw_rpc_reply_error(port, id, "Error", "out of memory");
    reply(port, id, "", S(json));
    cJSON_free(json);
}

/* wf.status / wf.get / wf.pause / wf.resume / wf.terminate / wf.restart binding id */
static void wf_instance_op(pw_workflows_t *wf, const workflow_t *w, pw_bytes_t op, pw_port_t *port,
                           uint32_t id, pw_bytes_t iid)
{
    pw_wf_instance_t inst;
    int rc = pw_wf_instance_get(wf->store, S(w->name), iid, &inst);
    if (rc == 0)
        return pw_rpc_reply_error(port, id, "Error", "instance.not_found: no instance \"%.*s\" in "
                                  "workflow %s", (int)(iid.len < 120 ? iid.len : 120), iid.base, w->name);
    if (rc < 0)
        return pw_rpc_reply_error(port, id, "Error", "workflow store: %s", pw_wf_store_error(wf->store));
    if (bytes_eq(op, "wf.status"))
        return reply_status(port, id, &inst);
    if (bytes_eq(op, "wf.get"))
        return reply(port, id, "", iid);
    const char *status = NULL;
    int64_t wake = -1;
    if (bytes_eq(op, "wf.terminate") && !is_final(inst.status))
        status = "terminated";
    else if (bytes_eq(op, "wf.pause") && !is_final(inst.status))
        status = "paused";
    else if (bytes_eq(op, "wf.resume") && bytes_eq(inst.status, "paused"))
        status = "queued", wake = now_ms();
    else if (bytes_eq(op, "wf.restart"))    /* from the top, every step forgotten */
        status = "queued", wake = now_ms();
    rc = status ? pw_wf_store_exec(wf->store, "BEGIN") : 0;
    if (rc == 0 && status && bytes_eq(op, "wf.restart"))
        rc = pw_wf_steps_clear(wf->store, S(w->name), iid);
    if (rc == 0 && status)
        rc = pw_wf_instance_set(wf->store, S(w->name), iid, status, S(""), S(""), wake, now_ms());
    if (status)
        pw_wf_store_exec(wf->store, rc == 0 ? "COMMIT" : "ROLLBACK");
    if (rc < 0)
        return pw_rpc_reply_error(port, id, "Error", "workflow store: %s", pw_wf_store_error(wf->store));
    reply(port, id, "", (pw_bytes_t){ NULL, 0 });
    schedule(wf, 0);
}

/* wf.event binding id type payload: kept for the instance's wait_for_event; a waiting
 * instance runs again now (a wait for another type suspends it again). */
static void wf_send_event(pw_workflows_t *wf, const workflow_t *w, pw_port_t *port, uint32_t id,
                          const pw_bytes_t *f)
{
    pw_wf_instance_t inst;
    int64_t now = now_ms();
    if (f[3].len == 0 || f[4].len > MAX_PARAMS || !json_ok(f[4]))
        return pw_rpc_reply_error(port, id, "TypeError", "send_event() takes {\"type\": non-empty "
                                  "text, \"payload\": up to 1 MiB of JSON}");
    int rc = pw_wf_instance_get(wf->store, S(w->name), f[2], &inst);
    if (rc == 0)
        return pw_rpc_reply_error(port, id, "Error", "instance.not_found: no instance \"%.*s\" in "
                                  "workflow %s", (int)(f[2].len < 120 ? f[2].len : 120), f[2].base, w->name);
    int waiting = rc == 1 && bytes_eq(inst.status, "waiting");
    if (rc == 1)
        rc = pw_wf_event_add(wf->store, S(w->name), f[2], f[3], f[4], now);
    if (rc >= 0 && waiting)
        rc = pw_wf_instance_set(wf->store, S(w->name), f[2], "waiting", S(""), S(""), now, now);
    if (rc < 0)
        return pw_rpc_reply_error(port, id, "Error", "workflow store: %s", pw_wf_store_error(wf->store));
    reply(port, id, "", (pw_bytes_t){ NULL, 0 });
    schedule(wf, 0);
}

static const workflow_t *caller_binding(pw_workflows_t *wf, const pw_service_t *caller, pw_bytes_t name)
{
    for (size_t i = 0; i < caller->worker.n_bindings; i++) {
        const pw_binding_t *b = &caller->worker.bindings[i];
        if (b->kind == PW_BINDING_WORKFLOW && bytes_eq(name, b->name))
            return workflow_named(wf, name);
    }
    return NULL;
}

/* ---- step calls from a running instance: wf.step.get, wf.step.put, wf.sleep, wf.wait ---- */

/* wf.step.get workflow id step -> "found" result | "missing" */
static void step_get(pw_workflows_t *wf, pw_port_t *port, uint32_t id, const pw_bytes_t *f)
{
    pw_bytes_t result;
    int64_t wake;
    int rc = pw_wf_step_get(wf->store, f[1], f[2], f[3], &result, &wake);
    if (rc < 0)
        return pw_rpc_reply_error(port, id, "Error", "workflow store: %s", pw_wf_store_error(wf->store));
    if (rc == 0 || result.len == 0)     /* none, or a sleep's or a wait's row */
        return reply(port, id, "missing", (pw_bytes_t){ NULL, 0 });
    reply(port, id, "found", result);
}

/* wf.step.put workflow id step result -> "saved", once committed */
static void step_put(pw_workflows_t *wf, pw_port_t *port, uint32_t id, const pw_bytes_t *f)
{
    if (f[4].len > MAX_STEP_RESULT)
        return pw_rpc_reply_error(port, id, "Error", "A step's result is larger than 1 MiB.");
    if (pw_wf_step_put(wf->store, f[1], f[2], f[3], f[4].len ? f[4] : S("null"), -1) < 0)
        return pw_rpc_reply_error(port, id, "Error", "workflow store: %s", pw_wf_store_error(wf->store));
    reply(port, id, "saved", (pw_bytes_t){ NULL, 0 });
}

static int parse_ms(pw_bytes_t b, int64_t *out)
{
    char text[32];
    if (b.len == 0 || b.len >= sizeof text)
        return -1;
    memcpy(text, b.base, b.len);
    text[b.len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* wf.sleep workflow id step for|until ms -> "done" | "suspend" (the run must end; the instance
 * waits until its wake time) */
static void step_sleep(pw_workflows_t *wf, pw_port_t *port, uint32_t id, const pw_bytes_t *f)
{
    int64_t ms, wake, now = now_ms();
    pw_bytes_t result;
    if (parse_ms(f[5], &ms) < 0 || !(bytes_eq(f[4], "for") || bytes_eq(f[4], "until")))
        return pw_rpc_reply_error(port, id, "TypeError", "wf.sleep takes for|until and milliseconds");
    int rc = pw_wf_step_get(wf->store, f[1], f[2], f[3], &result, &wake);
    if (rc == 0) {
        wake = bytes_eq(f[4], "for") ? now + (ms > 0 ? ms : 0) : ms;
        rc = pw_wf_step_put(wf->store, f[1], f[2], f[3], S(""), wake);
    }
    if (rc >= 0 && wake > now)
        rc = pw_wf_instance_set(wf->store, f[1], f[2], "waiting", S(""), S(""), wake, now);
    if (rc < 0)
        return pw_rpc_reply_error(port, id, "Error", "workflow store: %s", pw_wf_store_error(wf->store));
    reply(port, id, wake > now ? "suspend" : "done", (pw_bytes_t){ NULL, 0 });
}

#define TIMED_OUT "{\"$pyworkerd:timeout\":true}"

/* The event becomes the step's result ({"payload", "timestamp", "type"}) and leaves the queue,
 * in one transaction. */
static void take_event(pw_workflows_t *wf, pw_port_t *port, uint32_t id, const pw_bytes_t *f,
                       pw_bytes_t payload, int64_t sent, int64_t seq)
{
    cJSON *event = cJSON_CreateObject();
    add_raw(event, "payload", payload);
    add_date(event, "timestamp", sent);
    char *type = strndup((const char *)f[4].base, f[4].len);
    cJSON_AddStringToObject(event, "type", type ? type : "");
    free(type);
    char *json = cJSON_PrintUnformatted(event);
    cJSON_Delete(event);
    int rc = json ? pw_wf_store_exec(wf->store, "BEGIN") : -ENOMEM;
    if (rc == 0 && (pw_wf_step_put(wf->store, f[1], f[2], f[3], S(json), -1) < 0 ||
                    pw_wf_event_delete(wf->store, seq) < 0))
        rc = -EIO;
    if (rc == 0)
        rc = pw_wf_store_exec(wf->store, "COMMIT");
    else if (json)
        pw_wf_store_exec(wf->store, "ROLLBACK");
    if (rc < 0)
        pw_rpc_reply_error(port, id, "Error", "workflow store: %s", pw_wf_store_error(wf->store));
    else
        reply(port, id, "found", S(json));
    cJSON_free(json);
}

/* wf.wait workflow id step type timeout_ms -> "found" event | "timeout" | "suspend" (the run
 * must end; it runs again when an event comes or at the deadline) */
static void step_wait(pw_workflows_t *wf, pw_port_t *port, uint32_t id, const pw_bytes_t *f)
{
    int64_t timeout, deadline, now = now_ms(), sent, seq;
    pw_bytes_t result, payload;
    if (parse_ms(f[5], &timeout) < 0 || f[4].len == 0)
        return pw_rpc_reply_error(port, id, "TypeError", "wf.wait takes a type and milliseconds");
    int rc = pw_wf_step_get(wf->store, f[1], f[2], f[3], &result, &deadline);
    if (rc == 1 && result.len)
        return reply(port, id, bytes_eq(result, TIMED_OUT) ? "timeout" : "found", result);
    if (rc == 0) {
        deadline = now + (timeout > 0 ? timeout : 0);
        rc = pw_wf_step_put(wf->store, f[1], f[2], f[3], S(""), deadline);
    }
    if (rc >= 0)
        rc = pw_wf_event_first(wf->store, f[1], f[2], f[4], &payload, &sent, &seq);
    if (rc == 1)
        return take_event(wf, port, id, f, payload, sent, seq);
    int timed_out = rc == 0 && now >= deadline;
    if (timed_out)
        rc = pw_wf_step_put(wf->store, f[1], f[2], f[3], S(TIMED_OUT), deadline);
    else if (rc == 0)
        rc = pw_wf_instance_set(wf->store, f[1], f[2], "waiting", S(""), S(""), deadline, now);
    if (rc < 0)
        return pw_rpc_reply_error(port, id, "Error", "workflow store: %s", pw_wf_store_error(wf->store));
    reply(port, id, timed_out ? "timeout" : "suspend", (pw_bytes_t){ NULL, 0 });
}

static void step_call(pw_workflows_t *wf, const pw_service_t *caller, pw_bytes_t op, pw_port_t *port,
                      uint32_t id, const pw_bytes_t *f, size_t n)
{
    const workflow_t *w = workflow_named(wf, f[1]);
    if (!w || strcmp(w->service, caller->name) != 0)
        return pw_rpc_reply_error(port, id, "TypeError", "this worker runs no workflow named "
                                  "\"%.*s\"", (int)(f[1].len < 100 ? f[1].len : 100), f[1].base);
    pw_wf_instance_t inst;
    if (!run_find(wf, f[1], f[2]) || pw_wf_instance_get(wf->store, f[1], f[2], &inst) != 1 ||
        !bytes_eq(inst.status, "running"))
        return reply(port, id, "stop", (pw_bytes_t){ NULL, 0 });   /* terminated, paused, or stale */
    if (bytes_eq(op, "wf.step.get") && n == 4)
        step_get(wf, port, id, f);
    else if (bytes_eq(op, "wf.step.put") && n == 5)
        step_put(wf, port, id, f);
    else if (bytes_eq(op, "wf.sleep") && n == 6)
        step_sleep(wf, port, id, f);
    else if (bytes_eq(op, "wf.wait") && n == 6)
        step_wait(wf, port, id, f);
    else
        pw_rpc_reply_error(port, id, "TypeError", "bad workflow step call");
}

void pw_workflows_handle(pw_workflows_t *wf, const pw_service_t *caller, pw_port_t *port,
                         uint32_t id, const pw_bytes_t *f, size_t n)
{
    pw_bytes_t op = f[0];
    if (!wf || n < 3)
        return pw_rpc_reply_error(port, id, "TypeError", "bad workflow call");
    if ((op.len > 8 && memcmp(op.base, "wf.step.", 8) == 0) || bytes_eq(op, "wf.sleep") ||
        bytes_eq(op, "wf.wait"))
        return step_call(wf, caller, op, port, id, f, n);
    const workflow_t *w = caller_binding(wf, caller, f[1]);
    if (!w)
        return pw_rpc_reply_error(port, id, "TypeError", "this worker has no workflow binding named "
                                  "\"%.*s\"", (int)(f[1].len < 100 ? f[1].len : 100), f[1].base);
    if (bytes_eq(op, "wf.create") && n == 4)
        return wf_create(wf, w, port, id, f, n);
    if (bytes_eq(op, "wf.event") && n == 5)
        return wf_send_event(wf, w, port, id, f);
    if (n == 3 && (bytes_eq(op, "wf.status") || bytes_eq(op, "wf.get") || bytes_eq(op, "wf.pause") ||
                   bytes_eq(op, "wf.resume") || bytes_eq(op, "wf.terminate") ||
                   bytes_eq(op, "wf.restart")))
        return wf_instance_op(wf, w, op, port, id, f[2]);
    pw_rpc_reply_error(port, id, "TypeError", "unknown workflow operation \"%.*s\"",
                       (int)(op.len < 64 ? op.len : 64), op.base);
}

/* ---- setup ---- */

int pw_workflows_create(uv_loop_t *loop, const pw_config_t *config, const char *dir,
                        pw_workflows_lookup_cb lookup, void *lookup_arg, pw_workflows_t **out,
                        char *err, size_t err_len)
{
    *out = NULL;
    size_t n = count_bindings(config);
    if (n == 0)
        return 0;
    pw_workflows_t *wf = calloc(1, sizeof *wf);
    if (!wf || !(wf->workflows = calloc(n, sizeof *wf->workflows))) {
        free(wf);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    wf->loop = loop;
    wf->lookup = lookup;
    wf->lookup_arg = lookup_arg;
    char why[1024];
    if (add_workflows(wf, config, err, err_len) < 0 ||
        (pw_wf_store_open(dir, &wf->store, why, sizeof why) < 0 &&
         snprintf(err, err_len, "workflows: cannot open their store: %s (--persist-dir=DIR chooses "
                  "where it is kept)", why) > 0)) {
        free(wf->workflows);
        free(wf);
        return -1;
    }
    uv_timer_init(loop, &wf->timer);
    uv_unref((uv_handle_t *)&wf->timer);
    wf->timer.data = wf;
    if (pw_wf_store_recover(wf->store, now_ms()) < 0)
        pw_log_error("workflows: cannot resume unfinished instances: %s", pw_wf_store_error(wf->store));
    schedule(wf, 0);
    *out = wf;
    return 0;
}

static void free_after_close(uv_handle_t *handle)
{
    free(handle->data);
}

void pw_workflows_free(pw_workflows_t *wf)
{
    if (!wf)
        return;
    while (wf->runs)            /* the pools are closed: their calls ended or are gone */
        run_unlink_free(wf->runs);
    crashes_free(wf);
    pw_wf_store_close(wf->store);
    free(wf->workflows);
    wf->store = NULL;
    uv_timer_stop(&wf->timer);
    uv_close((uv_handle_t *)&wf->timer, free_after_close);  /* wf is freed if the loop runs again */
}
