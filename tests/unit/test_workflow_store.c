/* test_workflow_store.c — Workflow state in SQLite (storage/workflow.c): instances and their
 * scheduling, step results and sleeps, events, recovery of what a killed host left, and
 * persistence across reopening the file. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "unit.h"
#include "storage/workflow.h"

static pw_bytes_t B(const char *s) { pw_bytes_t b = { (const uint8_t *)s, strlen(s) }; return b; }
static int EQ(pw_bytes_t b, const char *s) { return b.len == strlen(s) && memcmp(b.base, s, b.len) == 0; }

static int due_count;
static void on_due(void *arg, pw_bytes_t workflow, pw_bytes_t id) { due_count++; }

static pw_wf_store_t *open_store(const char *dir)
{
    pw_wf_store_t *s = NULL;
    char err[256];
    CHECK(pw_wf_store_open(dir, &s, err, sizeof err) == 0);
    return s;
}

TEST(instances_are_created_once_and_scheduled)
{
    pw_wf_store_t *s = open_store(NULL);
    pw_wf_instance_t inst;
    CHECK(pw_wf_instance_create(s, B("W"), B("a"), B("{\"n\":1}"), 1000) == 0);
    CHECK(pw_wf_instance_create(s, B("W"), B("a"), B("{}"), 1000) == -EEXIST);
    CHECK(pw_wf_instance_create(s, B("V"), B("a"), B("{}"), 2000) == 0);    /* other workflow */
    CHECK(pw_wf_instance_get(s, B("W"), B("a"), &inst) == 1);
    CHECK(EQ(inst.status, "queued") && EQ(inst.params, "{\"n\":1}") && inst.wake_ms == 1000);
    CHECK(inst.created_ms == 1000 && inst.output.len == 0 && inst.error.len == 0);
    CHECK(pw_wf_instance_get(s, B("W"), B("b"), &inst) == 0);
    CHECK(pw_wf_next_wake(s) == 1000);
    due_count = 0;
    CHECK(pw_wf_instance_due(s, 1500, on_due, NULL) == 1 && due_count == 1);
    CHECK(pw_wf_instance_set(s, B("W"), B("a"), "complete", B("42"), B(""), -1, 1600) == 0);
    CHECK(pw_wf_instance_get(s, B("W"), B("a"), &inst) == 1);
    CHECK(EQ(inst.status, "complete") && EQ(inst.output, "42") && inst.wake_ms == -1);
    CHECK(pw_wf_next_wake(s) == 2000);
    CHECK(pw_wf_instance_due(s, 1999, on_due, NULL) == 0);
    pw_wf_store_close(s);
}

TEST(steps_sleeps_and_events)
{
    pw_wf_store_t *s = open_store(NULL);
    pw_bytes_t result, payload;
    int64_t wake, sent, seq, seq2;
    CHECK(pw_wf_step_get(s, B("W"), B("a"), B("fetch"), &result, &wake) == 0);
    CHECK(pw_wf_step_put(s, B("W"), B("a"), B("fetch"), B("{\"x\":1}"), -1) == 0);
    CHECK(pw_wf_step_get(s, B("W"), B("a"), B("fetch"), &result, &wake) == 1);
    CHECK(EQ(result, "{\"x\":1}") && wake == -1);
    CHECK(pw_wf_step_get(s, B("W"), B("b"), B("fetch"), &result, &wake) == 0);  /* per instance */
    CHECK(pw_wf_step_put(s, B("W"), B("a"), B("sleep:nap"), B(""), 5000) == 0);
    CHECK(pw_wf_step_get(s, B("W"), B("a"), B("sleep:nap"), &result, &wake) == 1);
    CHECK(result.len == 0 && wake == 5000);
    CHECK(pw_wf_event_first(s, B("W"), B("a"), B("go"), &payload, &sent, &seq) == 0);
    CHECK(pw_wf_event_add(s, B("W"), B("a"), B("go"), B("1"), 10) == 0);
    CHECK(pw_wf_event_add(s, B("W"), B("a"), B("go"), B("2"), 20) == 0);
    CHECK(pw_wf_event_first(s, B("W"), B("a"), B("stop"), &payload, &sent, &seq) == 0);
    CHECK(pw_wf_event_first(s, B("W"), B("a"), B("go"), &payload, &sent, &seq) == 1);
    CHECK(EQ(payload, "1") && sent == 10);
    CHECK(pw_wf_event_delete(s, seq) == 0);
    CHECK(pw_wf_event_first(s, B("W"), B("a"), B("go"), &payload, &sent, &seq2) == 1);
    CHECK(EQ(payload, "2") && seq2 > seq);
    pw_wf_store_close(s);
}

TEST(unfinished_instances_resume_after_reopening)
{
    char dir[] = "/tmp/pw-wf-unit-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    pw_wf_store_t *s = open_store(dir);
    pw_wf_instance_t inst;
    CHECK(pw_wf_instance_create(s, B("W"), B("run"), B("{}"), 100) == 0);
    CHECK(pw_wf_instance_create(s, B("W"), B("done"), B("{}"), 100) == 0);
    CHECK(pw_wf_instance_set(s, B("W"), B("run"), "running", B(""), B(""), -1, 200) == 0);
    CHECK(pw_wf_instance_set(s, B("W"), B("done"), "errored", B(""), B("Error: x"), -1, 200) == 0);
    CHECK(pw_wf_step_put(s, B("W"), B("run"), B("one"), B("1"), -1) == 0);
    pw_wf_store_close(s);       /* as if the host died here */
    s = open_store(dir);
    CHECK(pw_wf_next_wake(s) == -1);
    CHECK(pw_wf_store_recover(s, 300) == 0);
    CHECK(pw_wf_next_wake(s) == 300);
    due_count = 0;
    CHECK(pw_wf_instance_due(s, 300, on_due, NULL) == 1 && due_count == 1);
    CHECK(pw_wf_instance_get(s, B("W"), B("done"), &inst) == 1 && EQ(inst.error, "Error: x"));
    pw_bytes_t result;
    int64_t wake;
    CHECK(pw_wf_step_get(s, B("W"), B("run"), B("one"), &result, &wake) == 1 && EQ(result, "1"));
    pw_wf_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    RUN(instances_are_created_once_and_scheduled);
    RUN(steps_sleeps_and_events);
    RUN(unfinished_instances_resume_after_reopening);
    return UNIT_DONE();
}
