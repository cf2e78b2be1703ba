/* workflows.c — the Workflows engine (host process, loop thread; see workflows.h).
 * The store is the truth: an instance is due when its wake time has come (a new instance, a
 * sleep that ended, a run to retry, or one left running by a previous host); one timer fires
 * at the earliest wake time and starts every due instance that is not already running here.
 * A run is a CALL of the class's `run` with the event; the SDK
 * (python/pyworkerd/workflow_run.py) answers {"outcome": "complete"|"suspended"|"errored",
 * ...} and makes step calls meanwhile.
 * The store answers through callbacks (at once on SQLite, later on PostgreSQL, where due()
 * also claims the instances for this node: storage/workflow_backend.h); a run is in the list
 * from its start, so a second one of the same instance does not start here meanwhile.
 * Invariant: at most one run of an instance is in flight, and only that run's step calls are
 * answered (others get "stop"); a step result is committed before its call is answered.
 */
#include "host/workflows.h"
#include "base/log.h"
#include "host/worker_call.h"
#include "storage/pg_workflow.h"
#include "storage/workflow_sqlite.h"

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
    /* the run's answer, kept while the store is read after it (run_done) */
    int error_status;
    unsigned status;
    char *error_text;
    cJSON *answer;
    char *payload;              /* run()'s arguments, until the call is made */
} run_t;

/* How often runs of an instance ended with their isolate's death, this host run (a crash
 * loop ends the instance; a host restart starts counting again). */
typedef struct crash {
    struct crash *next;
    char *key;                  /* "<workflow>/<id>" */
    int count;
} crash_t;

typedef struct due due_t;

struct pw_workflows {
    crash_t *crashes;
    uv_loop_t *loop;
    pw_wf_backend_t *store;
    pw_workflow_t *workflows;
    size_t n_workflows;
    run_t *runs;
    uv_timer_t timer;
    int64_t min_delay_ms;       /* of the last schedule() */
    due_t *due;                 /* a due() in flight */
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

/* A run of the instance, in the list from now on: no second one starts here meanwhile. */
static run_t *run_new(pw_workflows_t *wf, const pw_workflow_t *w, pw_bytes_t id)
{
    run_t *run = calloc(1, sizeof *run);
    if (!run || !(run->id = strndup((const char *)id.base, id.len))) {
        free(run);
        return NULL;
    }
    run->engine = wf;
    run->workflow = w;
    run->next = wf->runs;
    wf->runs = run;
    return run;
}

static void run_unlink_free(run_t *run)
{
    for (run_t **p = &run->engine->runs; *p; p = &(*p)->next)
        if (*p == run) {
            *p = run->next;
            break;
        }
    free(run->error_text);
    cJSON_free(run->payload);
    cJSON_Delete(run->answer);
    free(run->id);
    free(run);
}

/* The run ended here (or never started): its lease is given up and it leaves the list. */
static void run_end(run_t *run)
{
    pw_wf_backend_t *store = run->engine->store;
    store->ops->release(store, pw_bytes_of(run->workflow->name), pw_bytes_of(run->id));
    run_unlink_free(run);
}

int pw_workflows_status_final(pw_bytes_t status)
{
    return pw_bytes_is(status, "complete") || pw_bytes_is(status, "errored") ||
           pw_bytes_is(status, "terminated");
}

static void status_saved(void *arg, int rc)
{
    pw_workflows_t *wf = arg;
    if (rc < 0)
        pw_log_error("workflows: cannot save an instance's status: %s", wf->store->ops->error(wf->store));
    schedule(wf, 0);
}

static void set_status(pw_workflows_t *wf, const run_t *run, const char *status, pw_bytes_t output,
                       pw_bytes_t error, int64_t wake)
{
    wf->store->ops->set(wf->store, pw_bytes_of(run->workflow->name), pw_bytes_of(run->id), status,
                        output, error, wake, pw_workflows_now_ms(), status_saved, wf);
}

/* The outcome the SDK returned: {"outcome", "output"?, "error"?: {"name", "message"}}. */
static void run_finished(pw_workflows_t *wf, run_t *run)
{
    const cJSON *answer = run->answer;
    const cJSON *outcome = cJSON_GetObjectItemCaseSensitive(answer, "outcome");
    const char *what = cJSON_IsString(outcome) ? outcome->valuestring : "";
    if (run->status == 200 && strcmp(what, "complete") == 0) {
        char *output = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(answer, "output"));
        set_status(wf, run, "complete", pw_bytes_of(output ? output : "null"), pw_bytes_of(""), -1);
        cJSON_free(output);
    } else if (run->status == 200 && strcmp(what, "suspended") == 0) {
        /* the sleep that suspended it already set its status and wake time */
    } else {
        const cJSON *e = run->status == 200 ? cJSON_GetObjectItemCaseSensitive(answer, "error") : answer;
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        char text[2048];
        snprintf(text, sizeof text, "%s: %s", cJSON_IsString(name) ? name->valuestring : "Error",
                 cJSON_IsString(msg) ? msg->valuestring : "the workflow's run() failed");
        set_status(wf, run, "errored", pw_bytes_of(""), pw_bytes_of(text), -1);
        pw_log_info("workflow %s instance %s: errored: %s", run->workflow->name, run->id, text);
    }
}

/* After the run's answer: the instance as stored now decides what follows. */
static void run_settle(void *arg, int found, const pw_wf_instance_t *inst)
{
    run_t *run = arg;
    pw_workflows_t *wf = run->engine;
    int still_ours = found == 1 && (pw_bytes_is(inst->status, "running") || pw_bytes_is(inst->status, "waiting"));
    int crashes = still_ours && run->error_status == 502 ? crash_count(run) : 0;
    if (found < 0)
        pw_log_error("workflow %s instance %s: cannot read it after its run: %s (it runs again "
                     "when it is due)", run->workflow->name, run->id, wf->store->ops->error(wf->store));
    if (still_ours && run->error_status == 503) {
        set_status(wf, run, "running", pw_bytes_of(""), pw_bytes_of(""), pw_workflows_now_ms() + RETRY_MS);    /* try again */
    } else if (crashes > 0 && crashes <= MAX_CRASHES) {
        /* the isolate died (a crash, a memory or CPU limit): run again, saved steps kept */
        int64_t delay = (int64_t)CRASH_RETRY_MS << (crashes - 1);
        pw_log_error("workflow %s instance %s: its isolate died during the run (%s); running it "
                     "again in %lld ms (%d of %d)", run->workflow->name, run->id,
                     run->error_text ? run->error_text : "502", (long long)delay, crashes, MAX_CRASHES);
        set_status(wf, run, "running", pw_bytes_of(""), pw_bytes_of(""), pw_workflows_now_ms() + delay);
    } else if (still_ours && run->error_status) {
        char text[1024];
        snprintf(text, sizeof text, "Error: %s", run->error_text ? run->error_text : "the run failed");
        set_status(wf, run, "errored", pw_bytes_of(""), pw_bytes_of(text), -1);
        pw_log_error("workflow %s instance %s: errored: %s", run->workflow->name, run->id, text);
    } else if (still_ours) {
        run_finished(wf, run);
    }
    run_end(run);
    schedule(wf, 0);
}

static void run_done(void *arg, const pw_worker_answer_t *a)
{
    run_t *run = arg;
    pw_workflows_t *wf = run->engine;
    run->call = NULL;
    run->error_status = a->error_status;
    run->status = a->status;
    run->error_text = a->error_text ? strdup(a->error_text) : NULL;
    run->answer = cJSON_ParseWithLength((const char *)a->body.base, a->body.len);
    wf->store->ops->get(wf->store, pw_bytes_of(run->workflow->name), pw_bytes_of(run->id), run_settle, run);
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

/* Marked running: calls the class's run(event) in its worker's pool. */
static void run_marked(void *arg, int rc)
{
    run_t *run = arg;
    pw_workflows_t *wf = run->engine;
    pw_pool_t *pool = rc < 0 ? NULL : wf->lookup(wf->lookup_arg, run->workflow->service);
    char *payload = run->payload;
    run->payload = NULL;
    if (rc < 0)         /* still due: looked at again */
        pw_log_error("workflow %s instance %s: cannot mark it running: %s", run->workflow->name,
                     run->id, wf->store->ops->error(wf->store));
    if (!pool || pw_worker_call(pool, run->workflow->entrypoint, pw_bytes_of("run"), pw_bytes_of(payload),
                                run_done, run, &run->call) < 0) {
        if (rc >= 0)
            set_status(wf, run, "running", pw_bytes_of(""), pw_bytes_of(""), pw_workflows_now_ms() + RETRY_MS);
        run_end(run);
        schedule(wf, RETRY_MS);
    }
    cJSON_free(payload);
}

/* The instance as stored in hand: marked running (the step calls of its run check that),
 * then run. */
static void run_call(run_t *run, const pw_wf_instance_t *inst)
{
    pw_workflows_t *wf = run->engine;
    cJSON *args = cJSON_CreateArray();
    cJSON_AddItemToArray(args, event_json(run, inst));
    run->payload = cJSON_PrintUnformatted(args);
    cJSON_Delete(args);
    if (!run->payload) {
        run_end(run);
        schedule(wf, RETRY_MS);
        return;
    }
    wf->store->ops->set(wf->store, pw_bytes_of(run->workflow->name), pw_bytes_of(run->id), "running",
                        pw_bytes_of(""), pw_bytes_of(""), -1, pw_workflows_now_ms(), run_marked, run);
}

static void run_loaded(void *arg, int found, const pw_wf_instance_t *inst)
{
    run_t *run = arg;
    pw_wf_backend_t *store = run->engine->store;
    pw_bytes_t name = pw_bytes_of(run->workflow->name), id = pw_bytes_of(run->id);
    if (found != 1) {
        run_end(run);
    } else if (pw_workflows_status_final(inst->status) || pw_bytes_is(inst->status, "paused")) {
        store->ops->unschedule(store, name, id, NULL, NULL);     /* nothing to run */
        run_end(run);
    } else {
        run_call(run, inst);
    }
}

static void run_start(pw_workflows_t *wf, const pw_workflow_t *w, pw_bytes_t id)
{
    if (run_find(wf, pw_bytes_of(w->name), id))
        return;
    run_t *run = run_new(wf, w, id);
    if (run)
        wf->store->ops->get(wf->store, pw_bytes_of(w->name), id, run_loaded, run);
}

/* ---- the timer ---- */

struct due {
    pw_workflows_t *engine;
    char *names[MAX_DUE], *ids[MAX_DUE];
    size_t n;
    int busy;                   /* a due instance is running here already */
};

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

static void due_free(due_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->names[i]);
        free(d->ids[i]);
    }
    free(d);
}

/* Starts every instance found due (claimed for this host). */
static void due_found(void *arg, int rc)
{
    due_t *d = arg;
    pw_workflows_t *wf = d->engine;
    wf->due = NULL;
    if (rc < 0)
        pw_log_error("workflows: cannot read the store: %s", wf->store->ops->error(wf->store));
    for (size_t i = 0; i < d->n; i++) {
        const pw_workflow_t *w = d->names[i] ? workflow_named(wf, pw_bytes_of(d->names[i])) : NULL;
        if (w && d->ids[i])
            run_start(wf, w, pw_bytes_of(d->ids[i]));
        else if (d->names[i] && d->ids[i])     /* its binding left the config: park it */
            wf->store->ops->unschedule(wf->store, pw_bytes_of(d->names[i]), pw_bytes_of(d->ids[i]), NULL, NULL);
    }
    int64_t again = d->busy ? 20 : rc < 0 ? RETRY_MS : 0;
    due_free(d);
    schedule(wf, again);
}

static void on_timer(uv_timer_t *timer)
{
    pw_workflows_t *wf = timer->data;
    if (wf->due)                /* the last look has not answered: it schedules the next */
        return;
    due_t *d = calloc(1, sizeof *d);
    if (!d) {
        schedule(wf, RETRY_MS);
        return;
    }
    d->engine = wf;
    wf->due = d;
    wf->store->ops->due(wf->store, pw_workflows_now_ms(), MAX_DUE, collect_due, due_found, d);
}

/* The earliest wake time is known: the timer is armed for it (or, on a shared store, for the
 * next look at what other nodes changed, whichever comes first). */
static void wake_known(void *arg, int64_t next)
{
    pw_workflows_t *wf = arg;
    int64_t poll = wf->store->poll_ms, delay = next - pw_workflows_now_ms();
    if (next < 0 && poll <= 0) {
        uv_timer_stop(&wf->timer);
        return;
    }
    if (poll > 0 && (next < 0 || delay > poll))
        delay = poll;
    int64_t min_delay = wf->min_delay_ms;
    uv_timer_start(&wf->timer, on_timer, (uint64_t)(delay > min_delay ? delay : min_delay), 0);
}

/* Arms the timer for the earliest wake time, at least min_delay_ms from now. */
static void schedule(pw_workflows_t *wf, int64_t min_delay_ms)
{
    wf->min_delay_ms = min_delay_ms;
    wf->store->ops->next_wake(wf->store, wake_known, wf);
}

/* ---- for the binding calls (host/binding_workflows.c) ---- */

const pw_workflow_t *pw_workflows_find(const pw_workflows_t *wf, pw_bytes_t name)
{
    return workflow_named(wf, name);
}

pw_wf_backend_t *pw_workflows_store(pw_workflows_t *wf)
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

static int store_open(pw_workflows_t *wf, const char *dir, pw_pg_pool_t *pg, const char *node_id,
                      char *err, size_t err_len)
{
    char why[1024];
    if ((pg ? pw_pg_workflow_open(pg, node_id, &wf->store, why, sizeof why)
            : pw_wf_sqlite_open(dir, &wf->store, why, sizeof why)) == 0)
        return 0;
    snprintf(err, err_len, "workflows: cannot open their store: %s (--persist-dir=DIR chooses "
             "where it is kept)", why);
    return -1;
}

int pw_workflows_create(uv_loop_t *loop, const pw_config_t *config, const char *dir,
                        pw_pg_pool_t *pg, const char *node_id, pw_workflows_lookup_cb lookup,
                        void *lookup_arg, pw_workflows_t **out, char *err, size_t err_len)
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
    if (add_workflows(wf, config, err, err_len) < 0 || store_open(wf, dir, pg, node_id, err, err_len) < 0) {
        free(wf->workflows);
        free(wf);
        return -1;
    }
    uv_timer_init(loop, &wf->timer);
    uv_unref((uv_handle_t *)&wf->timer);
    wf->timer.data = wf;
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
    wf->store->ops->close(wf->store);     /* first: no store callback runs after this */
    wf->store = NULL;
    if (wf->due)
        due_free(wf->due);
    while (wf->runs)            /* the pools are closed: their calls ended or are gone */
        run_unlink_free(wf->runs);
    crashes_free(wf);
    free(wf->workflows);
    uv_timer_stop(&wf->timer);
    uv_close((uv_handle_t *)&wf->timer, free_after_close);  /* wf is freed if the loop runs again */
}
