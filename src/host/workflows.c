/* workflows.c — the Workflows engine (host process, loop thread; see workflows.h).
 * The store is the truth: an instance is due when its wake time has come (a new instance, a
 * sleep that ended, a run to retry, or one left running by a previous host); one timer fires
 * at the earliest wake time and starts every due instance that is not already running here.
 * A run is a CALL of the class's `run` with the event; the SDK
 * (python/pyworkerd/workflow_run.py) answers {"outcome": "complete"|"suspended"|"errored",
 * ...} and makes step calls meanwhile.
 * Invariant: at most one run of an instance is in flight, and only that run's step calls are
 * answered (others get "stop"); a step result is committed before its call is answered.
 */
#include "host/workflows.h"
#include "base/log.h"
#include "host/worker_call.h"
#include "storage/workflow.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_MS 1000           /* a run whose worker could not take it is tried again after */
#define MAX_DUE 64              /* instances started per timer turn */
#define MAX_CRASHES 3           /* runs retried after their isolate died, per instance */
#define CRASH_RETRY_MS 500      /* ... after this, doubled at each crash */

typedef struct run {
    struct run *next;
    pw_workflows_t *engine;
    const pw_workflow_t *workflow;
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
    pw_workflow_t *workflows;
    size_t n_workflows;
    run_t *runs;
    uv_timer_t timer;
    pw_workflows_lookup_cb lookup;
    void *lookup_arg;
};

int64_t pw_workflows_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the workflows of the config ---- */

static const pw_workflow_t *workflow_named(const pw_workflows_t *wf, pw_bytes_t name)
{
    for (size_t i = 0; i < wf->n_workflows; i++)
        if (pw_bytes_is(name, wf->workflows[i].name))
            return &wf->workflows[i];
    return NULL;
}

/* Adds a binding's workflow; the same name bound elsewhere must lead to the same class. */
static int add_workflow(pw_workflows_t *wf, const pw_binding_t *b, char *err, size_t err_len)
{
    const pw_workflow_t *known = workflow_named(wf, pw_bytes_of(b->name));
    if (known && (strcmp(known->service, b->value) || strcmp(known->entrypoint, b->entrypoint))) {
        snprintf(err, err_len, "workflow binding \"%s\" names both %s.%s and %s.%s: give each "
                 "workflow its own binding name", b->name, known->service, known->entrypoint,
                 b->value, b->entrypoint);
        return -1;
    }
    if (!known)
        wf->workflows[wf->n_workflows++] = (pw_workflow_t){ b->name, b->value, b->entrypoint };
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
        if (pw_bytes_is(workflow, r->workflow->name) && pw_bytes_is(id, r->id))
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

int pw_workflows_status_final(pw_bytes_t status)
{
    return pw_bytes_is(status, "complete") || pw_bytes_is(status, "errored") ||
           pw_bytes_is(status, "terminated");
}

static void set_status(pw_workflows_t *wf, const run_t *run, const char *status, pw_bytes_t output,
                       pw_bytes_t error, int64_t wake)
{
    pw_bytes_t name = pw_bytes_of(run->workflow->name), id = pw_bytes_of(run->id);
    if (pw_wf_instance_set(wf->store, name, id, status, output, error, wake, pw_workflows_now_ms()) < 0)
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
        set_status(wf, run, "complete", pw_bytes_of(output ? output : "null"), pw_bytes_of(""), -1);
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
        set_status(wf, run, "errored", pw_bytes_of(""), pw_bytes_of(text), -1);
        pw_log_info("workflow %s instance %s: errored: %s", run->workflow->name, run->id, text);
    }
    cJSON_Delete(answer);
}

static void run_done(void *arg, const pw_worker_answer_t *a)
{
    run_t *run = arg;
    pw_workflows_t *wf = run->engine;
    pw_wf_instance_t inst;
    int found = pw_wf_instance_get(wf->store, pw_bytes_of(run->workflow->name), pw_bytes_of(run->id), &inst);
    int still_ours = found == 1 && (pw_bytes_is(inst.status, "running") || pw_bytes_is(inst.status, "waiting"));
    int crashes = still_ours && a->error_status == 502 ? crash_count(run) : 0;
    if (still_ours && a->error_status == 503) {
        set_status(wf, run, "running", pw_bytes_of(""), pw_bytes_of(""), pw_workflows_now_ms() + RETRY_MS);    /* try again */
    } else if (crashes > 0 && crashes <= MAX_CRASHES) {
        /* the isolate died (a crash, a memory or CPU limit): run again, saved steps kept */
        int64_t delay = (int64_t)CRASH_RETRY_MS << (crashes - 1);
        pw_log_error("workflow %s instance %s: its isolate died during the run (%s); running it "
                     "again in %lld ms (%d of %d)", run->workflow->name, run->id,
                     a->error_text ? a->error_text : "502", (long long)delay, crashes, MAX_CRASHES);
        set_status(wf, run, "running", pw_bytes_of(""), pw_bytes_of(""), pw_workflows_now_ms() + delay);
    } else if (still_ours && a->error_status) {
        char text[1024];
        snprintf(text, sizeof text, "Error: %s", a->error_text ? a->error_text : "the run failed");
        set_status(wf, run, "errored", pw_bytes_of(""), pw_bytes_of(text), -1);
        pw_log_error("workflow %s instance %s: errored: %s", run->workflow->name, run->id, text);
    } else if (still_ours) {
        run_finished(wf, run, a);
    }
    run_unlink_free(run);
    schedule(wf, 0);
}

/* Adds name: {"$pyworkerd:date": "<UTC ISO time of ms>"} (a datetime for the SDK). */
void pw_workflows_json_date(cJSON *obj, const char *name, int64_t ms)
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
void pw_workflows_json_raw(cJSON *obj, const char *name, pw_bytes_t b)
{
    char *raw = strndup((const char *)b.base, b.len);
    cJSON_AddItemToObject(obj, name, cJSON_CreateRaw(raw && *raw ? raw : "null"));
    free(raw);
}

static cJSON *event_json(const run_t *run, const pw_wf_instance_t *inst)
{
    cJSON *event = cJSON_CreateObject();
    pw_workflows_json_date(event, "timestamp", inst->created_ms);
    pw_workflows_json_raw(event, "payload", inst->params);
    cJSON_AddStringToObject(event, "instanceId", run->id);
    cJSON_AddStringToObject(event, "workflowName", run->workflow->name);
    return event;
}

/* Calls the class's run(event) in its worker's pool. */
static void run_start(pw_workflows_t *wf, const pw_workflow_t *w, pw_bytes_t id)
{
    pw_wf_instance_t inst;
    if (run_find(wf, pw_bytes_of(w->name), id) || pw_wf_instance_get(wf->store, pw_bytes_of(w->name), id, &inst) != 1)
        return;
    if (pw_workflows_status_final(inst.status) || pw_bytes_is(inst.status, "paused")) {
        pw_wf_instance_unschedule(wf->store, pw_bytes_of(w->name), id);     /* nothing to run */
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
    int64_t retry = pw_workflows_now_ms() + RETRY_MS;
    if (!pool || !payload) {
        set_status(wf, run, "running", pw_bytes_of(""), pw_bytes_of(""), retry);
        free(run->id);
        free(run);
        cJSON_free(payload);
        return;
    }
    set_status(wf, run, "running", pw_bytes_of(""), pw_bytes_of(""), -1);
    run->next = wf->runs;
    wf->runs = run;
    if (pw_worker_call(pool, w->entrypoint, pw_bytes_of("run"), pw_bytes_of(payload), run_done, run, &run->call) < 0) {
        set_status(wf, run, "running", pw_bytes_of(""), pw_bytes_of(""), retry);
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
    if (pw_wf_instance_due(wf->store, pw_workflows_now_ms(), collect_due, &due) < 0)
        pw_log_error("workflows: cannot read the store: %s", pw_wf_store_error(wf->store));
    for (size_t i = 0; i < due.n; i++) {
        const pw_workflow_t *w = due.names[i] ? workflow_named(wf, pw_bytes_of(due.names[i])) : NULL;
        if (w && due.ids[i])
            run_start(wf, w, pw_bytes_of(due.ids[i]));
        else if (due.names[i] && due.ids[i])     /* its binding left the config: park it */
            pw_wf_instance_unschedule(wf->store, pw_bytes_of(due.names[i]), pw_bytes_of(due.ids[i]));
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
    int64_t delay = next - pw_workflows_now_ms();
    uv_timer_start(&wf->timer, on_timer, (uint64_t)(delay > min_delay_ms ? delay : min_delay_ms), 0);
}

/* ---- for the binding calls (host/binding_workflows.c) ---- */

const pw_workflow_t *pw_workflows_find(const pw_workflows_t *wf, pw_bytes_t name)
{
    return workflow_named(wf, name);
}

pw_wf_store_t *pw_workflows_store(pw_workflows_t *wf)
{
    return wf->store;
}

int pw_workflows_running(pw_workflows_t *wf, pw_bytes_t workflow, pw_bytes_t id)
{
    return run_find(wf, workflow, id) != NULL;
}

void pw_workflows_wake(pw_workflows_t *wf)
{
    schedule(wf, 0);
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
    if (pw_wf_store_recover(wf->store, pw_workflows_now_ms()) < 0)
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
