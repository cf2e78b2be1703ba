/* workflow.h — durable state of Workflow instances in SQLite (host process): one row per
 * instance (its params, status, output or error, and when the engine should run it next) and
 * one row per completed step (its JSON result, or for a sleep the time it ends). The SQLite
 * backend of Workflows (storage/workflow_sqlite.c) is the only user; every call is short and
 * synchronous, on the loop thread. A write is committed when the call returns 0, so it survives kill -9 of the host.
 * Errors are negative errno-style values; pw_wf_store_error() says more.
 */
#ifndef PW_WORKFLOW_STORE_H
#define PW_WORKFLOW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "wire/frame.h"

typedef struct pw_wf_store pw_wf_store_t;

/* What pw_wf_instance_get() returns; the bytes stay valid until the next call on the store. */
typedef struct {
    pw_bytes_t status;          /* queued running waiting paused complete errored terminated */
    pw_bytes_t params;          /* JSON */
    pw_bytes_t output;          /* JSON, len 0: none */
    pw_bytes_t error;           /* message, len 0: none */
    int64_t created_ms;
    int64_t wake_ms;            /* -1: not scheduled */
} pw_wf_instance_t;

/* Called for each due instance: its workflow name and id. */
typedef void (*pw_wf_due_cb)(void *arg, pw_bytes_t workflow, pw_bytes_t id);

/* Opens (creating) `dir`/workflows.sqlite3, or an in-memory store when dir is NULL. Returns
 * 0, or -1 with a message in err. */
int pw_wf_store_open(const char *dir, pw_wf_store_t **out, char *err, size_t err_len);
void pw_wf_store_close(pw_wf_store_t *s);
const char *pw_wf_store_error(pw_wf_store_t *s);

/* A new instance, queued and due now. -EEXIST when the id is taken in that workflow. */
int pw_wf_instance_create(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t params,
                          int64_t now_ms);
/* 1 and *out when the instance exists, 0 when not. */
int pw_wf_instance_get(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_wf_instance_t *out);
/* Sets status, output and error (len 0: NULL) and the next run time (wake_ms -1: none). */
int pw_wf_instance_set(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, const char *status,
                       pw_bytes_t output, pw_bytes_t error, int64_t wake_ms, int64_t now_ms);
/* Clears the instance's run time (it is not to run). */
int pw_wf_instance_unschedule(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id);
/* Calls cb for each instance whose run time has come (wake_ms <= now_ms). Returns the count. */
int pw_wf_instance_due(pw_wf_store_t *s, int64_t now_ms, pw_wf_due_cb cb, void *arg);
/* At start: instances a previous host left queued or running become due at now_ms. */
int pw_wf_store_recover(pw_wf_store_t *s, int64_t now_ms);
/* The earliest scheduled run time, or -1 when none. */
int64_t pw_wf_next_wake(pw_wf_store_t *s);

/* 1 with the step's result and wake time (-1: not a sleep) when it completed before, 0 when
 * not. The bytes stay valid until the next call on the store. */
int pw_wf_step_get(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                   pw_bytes_t *result, int64_t *wake_ms);
/* Records a step's result (JSON) or a sleep's end time (wake_ms >= 0). */
int pw_wf_step_put(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                   pw_bytes_t result, int64_t wake_ms);

/* Forgets every step of the instance (restart). */
int pw_wf_steps_clear(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id);

/* Events sent to an instance (send_event), kept until a wait_for_event step takes one. */
int pw_wf_event_add(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                    pw_bytes_t payload, int64_t now_ms);
/* 1 with the oldest event of `type` (its payload JSON, send time and sequence number, valid
 * until the next call on the store) when there is one, 0 when not. */
int pw_wf_event_first(pw_wf_store_t *s, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                      pw_bytes_t *payload, int64_t *sent_ms, int64_t *seq);
int pw_wf_event_delete(pw_wf_store_t *s, int64_t seq);
/* A transaction around several writes: "BEGIN" ... "COMMIT" (or "ROLLBACK"). */
int pw_wf_store_exec(pw_wf_store_t *s, const char *sql);

#endif
