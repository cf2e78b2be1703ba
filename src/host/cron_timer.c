/* cron_timer.c — running Cron Triggers on the host's loop (host process, loop thread; see
 * cron_timer.h). Each schedule knows its next fire time on the cron clock; retries of failed
 * runs wait in a list with theirs; one uv timer is armed for the earliest of all. The cron
 * clock is the wall clock, sped up for tests: start + (now - start) * speed.
 * Invariant: every run in flight is in `runs` until its done() or pw_cron_timer_stop, and
 * nothing runs after stop.
 */
#include "host/cron_timer.h"
#include "base/log.h"
#include "config/cron.h"
#include "host/worker_call.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RETRIES 3
#define RETRY_DELAY_MS 10000    /* cron clock time before the first retry; doubled each time */

typedef struct {
    const char *service;
    const char *text;           /* as written in the config */
    pw_cron_t cron;
    int64_t next_ms;            /* cron clock */
} trigger_t;

typedef struct run {
    struct run *next;
    pw_cron_timer_t *timer;
    const trigger_t *trigger;
    int64_t scheduled_ms;
    int attempt;                /* 0: the first */
    int64_t due_ms;             /* a retry waiting: when (cron clock); -1: in flight */
    pw_worker_call_t *call;
    void *claim;                /* asking the cluster whether this node runs it */
} run_t;

struct pw_cron_timer {
    uv_timer_t handle;          /* first: closing it frees the whole struct */
    trigger_t *triggers;
    size_t n_triggers;
    run_t *runs;                /* in flight, and retries waiting */
    unsigned speed;
    int64_t start_real_ms, start_clock_ms;
    pw_cron_lookup_cb lookup;
    void *lookup_arg;
    int stopped;
    pw_cron_claim_t claim;      /* claim.claim NULL: one node, every tick is ours */
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t clock_now(const pw_cron_timer_t *t)
{
    return t->start_clock_ms + (wall_ms() - t->start_real_ms) * (int64_t)t->speed;
}

static void arm(pw_cron_timer_t *t);

/* ---- runs ---- */

static void run_unlink_free(run_t *r)
{
    for (run_t **p = &r->timer->runs; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    free(r);
}

static void start_run(run_t *r);

/* {"outcome": "ok"|..., "noRetry": bool}: 1 when the run should be retried. */
static int failed_and_retryable(const pw_worker_answer_t *a, const char **outcome)
{
    if (a->error_status) {
        *outcome = a->error_text ? a->error_text : "failed";
        return 1;
    }
    cJSON *answer = cJSON_ParseWithLength((const char *)a->body.base, a->body.len);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(answer, "outcome");
    int ok = a->status == 200 && cJSON_IsString(o) && strcmp(o->valuestring, "ok") == 0;
    int no_retry = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "noRetry"));
    *outcome = ok ? "ok" : no_retry ? "exception (noRetry)" : "exception";
    cJSON_Delete(answer);
    return !ok && !no_retry;
}

static void run_done(void *arg, const pw_worker_answer_t *a)
{
    run_t *r = arg;
    pw_cron_timer_t *t = r->timer;
    const char *outcome;
    int retry = failed_and_retryable(a, &outcome) && r->attempt < MAX_RETRIES;
    r->call = NULL;
    if (strcmp(outcome, "ok") == 0)
        pw_log_info("cron \"%s\" of %s: ok", r->trigger->text, r->trigger->service);
    else
        pw_log_error("cron \"%s\" of %s: scheduled() failed: %s%s", r->trigger->text,
                     r->trigger->service, outcome, retry ? "; it will run again" : "");
    if (!retry || t->stopped) {
        run_unlink_free(r);
        return;
    }
    r->due_ms = clock_now(t) + ((int64_t)RETRY_DELAY_MS << r->attempt);
    r->attempt++;
    arm(t);
}

static void start_run(run_t *r)
{
    pw_cron_timer_t *t = r->timer;
    pw_pool_t *pool = t->lookup(t->lookup_arg, r->trigger->service);
    char payload[PW_CRON_MAX_TEXT * 2 + 64];
    cJSON *event = cJSON_CreateObject();
    cJSON_AddStringToObject(event, "cron", r->trigger->text);
    cJSON_AddNumberToObject(event, "scheduledTime", (double)r->scheduled_ms);
    int ok = event && cJSON_PrintPreallocated(event, payload, sizeof payload, 0);
    cJSON_Delete(event);
    r->due_ms = -1;
    if (!pool || !ok) {
        pw_log_error("cron \"%s\" of %s: the worker is not running; this tick is skipped",
                     r->trigger->text, r->trigger->service);
        run_unlink_free(r);
        return;
    }
    if (pw_worker_call(pool, "", pw_bytes_of("__scheduled__"), pw_bytes_of(payload), run_done, r,
                       &r->call) < 0)
        run_unlink_free(r);
}

static void claimed(void *arg, int won)
{
    run_t *r = arg;
    r->claim = NULL;
    if (won > 0)
        return start_run(r);
    if (won < 0)
        pw_log_error("cron \"%s\" of %s: cannot tell whether another node runs this tick (the "
                     "cluster's state is unreachable); skipped", r->trigger->text, r->trigger->service);
    else
        pw_log_info("cron \"%s\" of %s: this tick runs on another node", r->trigger->text,
                    r->trigger->service);
    run_unlink_free(r);
}

static void fire(pw_cron_timer_t *t, const trigger_t *trigger, int64_t scheduled_ms)
{
    run_t *r = calloc(1, sizeof *r);
    if (!r)
        return;
    *r = (run_t){ .next = t->runs, .timer = t, .trigger = trigger, .scheduled_ms = scheduled_ms,
                  .due_ms = -1 };
    t->runs = r;
    if (!t->claim.claim)
        return start_run(r);
    if (!(r->claim = t->claim.claim(t->claim.arg, trigger->service, trigger->text, scheduled_ms,
                                    claimed, r)))
        claimed(r, -1);
}

/* ---- the timer ---- */

static void on_timer(uv_timer_t *handle)
{
    pw_cron_timer_t *t = (pw_cron_timer_t *)handle;
    int64_t now = clock_now(t);
    for (size_t i = 0; i < t->n_triggers; i++) {
        trigger_t *tr = &t->triggers[i];
        if (tr->next_ms < 0 || tr->next_ms > now)
            continue;
        int64_t tick = tr->next_ms, next;
        while ((next = pw_cron_next(&tr->cron, tick)) >= 0 && next <= now)
            tick = next;        /* behind: only the latest tick fires */
        tr->next_ms = next;
        fire(t, tr, tick);
    }
    for (run_t *r = t->runs, *next; r; r = next) {
        next = r->next;         /* start_run may free r */
        if (r->due_ms >= 0 && r->due_ms <= now)
            start_run(r);
    }
    arm(t);
}

static void arm(pw_cron_timer_t *t)
{
    int64_t first = -1;
    for (size_t i = 0; i < t->n_triggers; i++)
        if (t->triggers[i].next_ms >= 0 && (first < 0 || t->triggers[i].next_ms < first))
            first = t->triggers[i].next_ms;
    for (run_t *r = t->runs; r; r = r->next)
        if (r->due_ms >= 0 && (first < 0 || r->due_ms < first))
            first = r->due_ms;
    if (first < 0 || t->stopped) {
        uv_timer_stop(&t->handle);
        return;
    }
    int64_t wait = first - clock_now(t);
    int64_t real = wait <= 0 ? 0 : (wait + t->speed - 1) / t->speed;
    uv_timer_start(&t->handle, on_timer, (uint64_t)real, 0);
}

/* ---- setup ---- */

static size_t count_triggers(const pw_config_t *config)
{
    size_t n = 0;
    for (size_t i = 0; i < config->n_services; i++)
        if (config->services[i].kind == PW_SERVICE_WORKER)
            n += config->services[i].worker.options.n_crons;
    return n;
}

static int add_triggers(pw_cron_timer_t *t, const pw_config_t *config, char *err, size_t err_len)
{
    int64_t now = clock_now(t);
    for (size_t i = 0; i < config->n_services; i++) {
        const pw_service_t *s = &config->services[i];
        for (size_t j = 0; s->kind == PW_SERVICE_WORKER && j < s->worker.options.n_crons; j++) {
            trigger_t *tr = &t->triggers[t->n_triggers++];
            char why[256];
            tr->service = s->name;
            tr->text = s->worker.options.crons[j];
            if (pw_cron_parse(tr->text, &tr->cron, why, sizeof why) < 0) {
                snprintf(err, err_len, "service %s: cron \"%s\": %s", s->name, tr->text, why);
                return -1;
            }
            tr->next_ms = pw_cron_next(&tr->cron, now);
        }
    }
    return 0;
}

int pw_cron_timer_start(uv_loop_t *loop, const pw_config_t *config, unsigned speed,
                        pw_cron_lookup_cb lookup, void *lookup_arg, pw_cron_timer_t **out,
                        char *err, size_t err_len)
{
    *out = NULL;
    size_t n = count_triggers(config);
    if (n == 0)
        return 0;
    pw_cron_timer_t *t = calloc(1, sizeof *t);
    if (!t || !(t->triggers = calloc(n, sizeof *t->triggers))) {
        free(t);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    t->speed = speed ? speed : 1;
    t->start_real_ms = t->start_clock_ms = wall_ms();
    t->lookup = lookup;
    t->lookup_arg = lookup_arg;
    if (add_triggers(t, config, err, err_len) < 0) {
        free(t->triggers);
        free(t);
        return -1;
    }
    uv_timer_init(loop, &t->handle);
    uv_unref((uv_handle_t *)&t->handle);
    arm(t);
    *out = t;
    return 0;
}

void pw_cron_timer_set_claim(pw_cron_timer_t *t, const pw_cron_claim_t *claim)
{
    if (!t)
        return;
    t->claim = *claim;
    if (t->speed > 1) {         /* every node's fast clock: the same, from today's 00:00 UTC */
        int64_t wall = wall_ms();
        t->start_real_ms = t->start_clock_ms = wall - wall % 86400000;
        int64_t now = clock_now(t);
        for (size_t i = 0; i < t->n_triggers; i++)
            t->triggers[i].next_ms = pw_cron_next(&t->triggers[i].cron, now);
        arm(t);
    }
}

void pw_cron_timer_stop(pw_cron_timer_t *t)
{
    if (!t || t->stopped)
        return;
    t->stopped = 1;
    uv_timer_stop(&t->handle);
    while (t->runs) {
        if (t->runs->call)
            pw_worker_call_cancel(t->runs->call);
        if (t->runs->claim)
            t->claim.cancel(t->runs->claim);
        run_unlink_free(t->runs);
    }
}

static void free_after_close(uv_handle_t *handle)
{
    pw_cron_timer_t *t = (pw_cron_timer_t *)handle;
    free(t->triggers);
    free(t);
}

void pw_cron_timer_free(pw_cron_timer_t *t)
{
    if (!t)
        return;
    pw_cron_timer_stop(t);
    uv_close((uv_handle_t *)&t->handle, free_after_close);
}
