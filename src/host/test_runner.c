/* test_runner.c — `pyworkerd test` (host process; see test_runner.h). One step at a time on
 * the loop: ask a worker which entry points have a test handler (CALL "__tests__"), then run
 * each that the filter selects (CALL "__test__"); a failure's traceback is in the log, from
 * the isolate, as for any uncaught exception.
 */
#include "host/test_runner.h"
#include "base/log.h"
#include "host/worker_call.h"

#include <cJSON.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
    const pw_test_target_t *targets;
    size_t n_targets, target;       /* the worker being tested */
    char pattern[3][256];           /* const, service, entry point globs */
    char **entrypoints;             /* of the current worker, with a test handler */
    size_t n_entrypoints, next;
    uint64_t started_ns;
    int passed, failed;
    pw_tests_done_cb done;
    void *arg;
} run_t;

static void next_worker(run_t *r);
static void next_test(run_t *r);

static void split_filter(run_t *r, const char *const_name, const char *filter)
{
    char parts[3][256] = { "*", "*", "*" };
    int n = 0;
    for (const char *p = filter ? filter : "*"; n < 3; n++) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(parts[n], sizeof parts[n], "%.*s", (int)len, p);
        if (!colon)
            break;
        p = colon + 1;
    }
    /* "svc" / "svc:ep" / "const:svc:ep" */
    snprintf(r->pattern[0], sizeof r->pattern[0], "%s", n == 2 ? parts[0] : "*");
    snprintf(r->pattern[1], sizeof r->pattern[1], "%s", n == 2 ? parts[1] : parts[0]);
    snprintf(r->pattern[2], sizeof r->pattern[2], "%s", n == 2 ? parts[2] : n == 1 ? parts[1] : "*");
    if (n == 2 && fnmatch(r->pattern[0], const_name ? const_name : "config", 0) != 0)
        snprintf(r->pattern[1], sizeof r->pattern[1], "%s", "");    /* nothing matches */
}

static void finish_run(run_t *r)
{
    if (r->passed == 0 && r->failed == 0)
        fprintf(stderr, "No tests found!\n");
    else if (r->failed > 0)
        fprintf(stderr, "Tests failed! (%d passed, %d failed)\n", r->passed, r->failed);
    fflush(stderr);
    int code = r->passed > 0 && r->failed == 0 ? 0 : 1;
    pw_tests_done_cb done = r->done;
    void *arg = r->arg;
    free(r);
    done(arg, code);
}

static void free_entrypoints(run_t *r)
{
    for (size_t i = 0; i < r->n_entrypoints; i++)
        free(r->entrypoints[i]);
    free(r->entrypoints);
    r->entrypoints = NULL;
    r->n_entrypoints = r->next = 0;
}

/* "svc" for the default entry point, "svc:Name" for a named one. */
static void test_label(const run_t *r, const char *entrypoint, char *out, size_t len)
{
    const char *service = r->targets[r->target].service;
    if (*entrypoint)
        snprintf(out, len, "%s:%s", service, entrypoint);
    else
        snprintf(out, len, "%s", service);
}

static void on_test_done(void *arg, const pw_worker_answer_t *answer)
{
    run_t *r = arg;
    char label[600];
    test_label(r, r->entrypoints[r->next], label, sizeof label);
    double ms = (double)(uv_hrtime() - r->started_ns) / 1e6;
    int ok = !answer->error_status && answer->status == 200;
    fprintf(stderr, "[ %s ] %s (%.0f ms)%s%s\n", ok ? "PASS" : "FAIL", label, ms,
            answer->error_status ? ": " : "", answer->error_status ? answer->error_text : "");
    if (ok)
        r->passed++;
    else
        r->failed++;
    r->next++;
    next_test(r);
}

static void next_test(run_t *r)
{
    while (r->next < r->n_entrypoints) {
        const char *ep = r->entrypoints[r->next];
        if (fnmatch(r->pattern[2], *ep ? ep : "default", 0) == 0)
            break;
        r->next++;
    }
    if (r->next >= r->n_entrypoints) {
        free_entrypoints(r);
        r->target++;
        next_worker(r);
        return;
    }
    char label[600];
    test_label(r, r->entrypoints[r->next], label, sizeof label);
    fprintf(stderr, "[ TEST ] %s\n", label);
    fflush(stderr);
    r->started_ns = uv_hrtime();
    pw_worker_call_t *handle;
    pw_bytes_t method = { (const uint8_t *)"__test__", 8 };
    if (pw_worker_call(r->targets[r->target].pool, r->entrypoints[r->next], method,
                       (pw_bytes_t){ (const uint8_t *)"", 0 }, on_test_done, r, &handle) < 0) {
        pw_worker_answer_t oom = { .error_status = 500, .error_text = "out of memory" };
        on_test_done(r, &oom);
    }
}

/* The worker's answer to "__tests__": a JSON list of entry point names ("" = default). */
static int read_entrypoints(run_t *r, const pw_worker_answer_t *answer)
{
    if (answer->error_status || answer->status != 200)
        return -1;
    cJSON *list = cJSON_ParseWithLength((const char *)answer->body.base, answer->body.len);
    int is_list = cJSON_IsArray(list);
    size_t n = is_list ? (size_t)cJSON_GetArraySize(list) : 0;
    r->entrypoints = n ? calloc(n, sizeof *r->entrypoints) : NULL;
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        if (cJSON_IsString(item) && r->entrypoints)
            r->entrypoints[r->n_entrypoints++] = strdup(item->valuestring);
    }
    cJSON_Delete(list);
    return is_list ? 0 : -1;
}

static void on_list_done(void *arg, const pw_worker_answer_t *answer)
{
    run_t *r = arg;
    if (read_entrypoints(r, answer) < 0) {
        fprintf(stderr, "[ FAIL ] %s: cannot list its tests: %s\n", r->targets[r->target].service,
                answer->error_status ? answer->error_text : "the worker's answer was not a list");
        r->failed++;
        free_entrypoints(r);
        r->target++;
        next_worker(r);
        return;
    }
    next_test(r);
}

static void next_worker(run_t *r)
{
    while (r->target < r->n_targets && fnmatch(r->pattern[1], r->targets[r->target].service, 0) != 0)
        r->target++;
    if (r->target >= r->n_targets) {
        finish_run(r);
        return;
    }
    pw_worker_call_t *handle;
    pw_bytes_t method = { (const uint8_t *)"__tests__", 9 };
    if (pw_worker_call(r->targets[r->target].pool, "", method, (pw_bytes_t){ (const uint8_t *)"", 0 },
                       on_list_done, r, &handle) < 0) {
        pw_worker_answer_t oom = { .error_status = 500, .error_text = "out of memory" };
        on_list_done(r, &oom);
    }
}

void pw_tests_run(const pw_test_target_t *targets, size_t n, const char *const_name,
                  const char *filter, pw_tests_done_cb done, void *arg)
{
    run_t *r = calloc(1, sizeof *r);
    if (!r) {
        done(arg, 1);
        return;
    }
    r->targets = targets;
    r->n_targets = n;
    r->done = done;
    r->arg = arg;
    split_filter(r, const_name, filter);
    next_worker(r);
}
