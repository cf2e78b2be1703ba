/* workflow_sqlite.c — Workflows on SQLite behind the backend vtable (host process, loop
 * thread; see workflow_sqlite.h): each operation is one or two calls of the synchronous
 * store (storage/workflow.c), and its callback runs before the operation returns. The
 * operations that write twice (restart, event_take) are one transaction.
 * Invariant: every callback runs exactly once, inside the call.
 */
#include "storage/workflow_sqlite.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    pw_wf_backend_t base;       /* first: the vtable's functions get this pointer */
    pw_wf_store_t *store;
} wfs_t;

static pw_wf_store_t *store(pw_wf_backend_t *b)
{
    return ((wfs_t *)b)->store;
}

static void answer(pw_wf_done_cb done, void *arg, int rc)
{
    if (done)
        done(arg, rc);
}

static void s_create(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t params,
                     int64_t now_ms, pw_wf_done_cb done, void *arg)
{
    answer(done, arg, pw_wf_instance_create(store(b), workflow, id, params, now_ms));
}

static void s_get(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_wf_instance_cb got, void *arg)
{
    pw_wf_instance_t inst = { 0 };
    int rc = pw_wf_instance_get(store(b), workflow, id, &inst);
    got(arg, rc, &inst);
}

static void s_set(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, const char *status,
                  pw_bytes_t output, pw_bytes_t error, int64_t wake_ms, int64_t now_ms,
                  pw_wf_done_cb done, void *arg)
{
    answer(done, arg, pw_wf_instance_set(store(b), workflow, id, status, output, error, wake_ms, now_ms));
}

static void s_unschedule(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_wf_done_cb done, void *arg)
{
    answer(done, arg, pw_wf_instance_unschedule(store(b), workflow, id));
}

/* Runs BEGIN, then COMMIT when rc is 0, else ROLLBACK; returns rc or the commit's failure. */
static int commit_or_rollback(pw_wf_store_t *s, int rc)
{
    if (rc < 0) {
        pw_wf_store_exec(s, "ROLLBACK");
        return rc;
    }
    return pw_wf_store_exec(s, "COMMIT");
}

static void s_restart(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, int64_t wake_ms,
                      int64_t now_ms, pw_wf_done_cb done, void *arg)
{
    pw_wf_store_t *s = store(b);
    int rc = pw_wf_store_exec(s, "BEGIN");
    if (rc < 0)
        return answer(done, arg, rc);
    rc = pw_wf_steps_clear(s, workflow, id);
    if (rc == 0)
        rc = pw_wf_instance_set(s, workflow, id, "queued", pw_bytes_of(""), pw_bytes_of(""), wake_ms, now_ms);
    answer(done, arg, commit_or_rollback(s, rc));
}

static void s_due(pw_wf_backend_t *b, int64_t now_ms, size_t max, pw_wf_due_cb cb,
                  pw_wf_done_cb done, void *arg)
{
    (void)max;                  /* the engine takes what it can */
    answer(done, arg, pw_wf_instance_due(store(b), now_ms, cb, arg));
}

static void s_next_wake(pw_wf_backend_t *b, pw_wf_wake_cb cb, void *arg)
{
    cb(arg, pw_wf_next_wake(store(b)));
}

static void s_release(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id)
{
    (void)b;                    /* one host: nothing is leased */
    (void)workflow;
    (void)id;
}

static void s_step_get(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                       pw_wf_step_cb got, void *arg)
{
    pw_bytes_t result = { NULL, 0 };
    int64_t wake = -1;
    int rc = pw_wf_step_get(store(b), workflow, id, step, &result, &wake);
    got(arg, rc, result, wake);
}

static void s_step_put(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                       pw_bytes_t result, int64_t wake_ms, pw_wf_done_cb done, void *arg)
{
    answer(done, arg, pw_wf_step_put(store(b), workflow, id, step, result, wake_ms));
}

static void s_event_send(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                         pw_bytes_t payload, int64_t now_ms, pw_wf_done_cb done, void *arg)
{
    pw_wf_store_t *s = store(b);
    pw_wf_instance_t inst;
    int rc = pw_wf_instance_get(s, workflow, id, &inst);
    if (rc != 1)
        return answer(done, arg, rc);
    int waiting = pw_bytes_is(inst.status, "waiting");
    rc = pw_wf_event_add(s, workflow, id, type, payload, now_ms);
    if (rc >= 0 && waiting)
        rc = pw_wf_instance_set(s, workflow, id, "waiting", pw_bytes_of(""), pw_bytes_of(""), now_ms, now_ms);
    answer(done, arg, rc < 0 ? rc : 1);
}

static void s_event_first(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                          pw_wf_event_cb got, void *arg)
{
    pw_bytes_t payload = { NULL, 0 };
    int64_t sent = 0, seq = 0;
    int rc = pw_wf_event_first(store(b), workflow, id, type, &payload, &sent, &seq);
    got(arg, rc, payload, sent, seq);
}

static void s_event_take(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                         pw_bytes_t result, int64_t seq, pw_wf_done_cb done, void *arg)
{
    pw_wf_store_t *s = store(b);
    int rc = pw_wf_store_exec(s, "BEGIN");
    if (rc < 0)
        return answer(done, arg, rc);
    rc = pw_wf_step_put(s, workflow, id, step, result, -1);
    if (rc == 0)
        rc = pw_wf_event_delete(s, seq);
    answer(done, arg, commit_or_rollback(s, rc));
}

static const char *s_error(pw_wf_backend_t *b)
{
    return pw_wf_store_error(store(b));
}

static void s_close(pw_wf_backend_t *b)
{
    if (!b)
        return;
    pw_wf_store_close(store(b));
    free(b);
}

static const pw_wf_backend_ops_t ops = {
    .create = s_create, .get = s_get, .set = s_set, .unschedule = s_unschedule, .restart = s_restart,
    .due = s_due, .next_wake = s_next_wake, .release = s_release, .step_get = s_step_get,
    .step_put = s_step_put, .event_send = s_event_send, .event_first = s_event_first,
    .event_take = s_event_take, .error = s_error, .close = s_close,
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pw_wf_sqlite_open(const char *dir, pw_wf_backend_t **out, char *err, size_t err_len)
{
    wfs_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (pw_wf_store_open(dir, &w->store, err, err_len) < 0) {
        free(w);
        return -1;
    }
    w->base.ops = &ops;
    if (pw_wf_store_recover(w->store, wall_ms()) < 0)
        pw_log_error("workflows: cannot resume unfinished instances: %s", pw_wf_store_error(w->store));
    *out = &w->base;
    return 0;
}
