/* workflow_backend.h — what stores Workflow instances (host process, the main loop): the
 * vtable behind the engine (host/workflows.c) and its binding (host/binding_workflows.c).
 * Backends: SQLite under the persist directory (storage/workflow_sqlite.h, over the store of
 * storage/workflow.h) and PostgreSQL for a cluster (storage/pg_workflow.h), where an instance
 * is run by one node at a time: due() claims it with a lease that the node renews while the
 * run is in flight here, and another node takes it over when the lease lapses.
 * Every operation reports through its callback exactly once: SQLite before the call returns,
 * PostgreSQL later, from the loop (never blocking it); a write is durable when rc >= 0. Bytes
 * handed to a callback are valid during it only. After close() no callback runs.
 */
#ifndef PW_WORKFLOW_BACKEND_H
#define PW_WORKFLOW_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "storage/workflow.h"

/* rc of a store that cannot be reached now (PostgreSQL down): callers answer 503. */
#define PW_WF_UNAVAILABLE (-2)

typedef struct pw_wf_backend pw_wf_backend_t;

/* rc: >= 0 on success (as each operation says), -1 on failure (error() says why),
 * PW_WF_UNAVAILABLE, or -EEXIST (create). */
typedef void (*pw_wf_done_cb)(void *arg, int rc);
/* rc 1 with the instance, 0 when there is none. */
typedef void (*pw_wf_instance_cb)(void *arg, int rc, const pw_wf_instance_t *inst);
/* rc 1 with a step's result (len 0: a sleep's or a wait's row) and wake time (-1: none). */
typedef void (*pw_wf_step_cb)(void *arg, int rc, pw_bytes_t result, int64_t wake_ms);
/* rc 1 with the oldest event of a type: its payload, send time and sequence number. */
typedef void (*pw_wf_event_cb)(void *arg, int rc, pw_bytes_t payload, int64_t sent_ms, int64_t seq);
/* The earliest wake time, -1 when none. */
typedef void (*pw_wf_wake_cb)(void *arg, int64_t wake_ms);

typedef struct {
    /* A new instance, queued and due now; -EEXIST when the id is taken in that workflow. */
    void (*create)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t params,
                   int64_t now_ms, pw_wf_done_cb done, void *arg);
    void (*get)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_wf_instance_cb got, void *arg);
    /* Status, output and error (len 0: none) and the next run time (-1: none). */
    void (*set)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, const char *status,
                pw_bytes_t output, pw_bytes_t error, int64_t wake_ms, int64_t now_ms,
                pw_wf_done_cb done, void *arg);
    /* The instance is not to run (its run time cleared). */
    void (*unschedule)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_wf_done_cb done, void *arg);
    /* From the top: every step forgotten and the instance queued, due at wake_ms; one transaction. */
    void (*restart)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, int64_t wake_ms,
                    int64_t now_ms, pw_wf_done_cb done, void *arg);
    /* Up to max instances due at now_ms for this host (on a cluster: claimed, with a lease,
     * from those no live node holds, including those a dead node left running); each for cb,
     * then done with the count. */
    void (*due)(pw_wf_backend_t *b, int64_t now_ms, size_t max, pw_wf_due_cb cb,
                pw_wf_done_cb done, void *arg);
    void (*next_wake)(pw_wf_backend_t *b, pw_wf_wake_cb cb, void *arg);
    /* A run of the instance ended here: its lease is given up (no callback). */
    void (*release)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id);

    void (*step_get)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                     pw_wf_step_cb got, void *arg);
    /* A step's result (JSON) or a sleep's or a wait's end time (wake_ms >= 0, result empty). */
    void (*step_put)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                     pw_bytes_t result, int64_t wake_ms, pw_wf_done_cb done, void *arg);

    /* Keeps an event for the instance's wait_for_event; a waiting instance becomes due now.
     * rc 1: kept, 0: no such instance. */
    void (*event_send)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                       pw_bytes_t payload, int64_t now_ms, pw_wf_done_cb done, void *arg);
    void (*event_first)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t type,
                        pw_wf_event_cb got, void *arg);
    /* The event `seq` becomes the step's result and leaves the queue, in one transaction. */
    void (*event_take)(pw_wf_backend_t *b, pw_bytes_t workflow, pw_bytes_t id, pw_bytes_t step,
                       pw_bytes_t result, int64_t seq, pw_wf_done_cb done, void *arg);

    /* The last error, for a log line or an answer. */
    const char *(*error)(pw_wf_backend_t *b);
    /* Operations not finished are dropped (their callbacks never run). */
    void (*close)(pw_wf_backend_t *b);
} pw_wf_backend_ops_t;

/* The head of every backend. */
struct pw_wf_backend {
    const pw_wf_backend_ops_t *ops;
    /* How often the engine looks for due instances besides the wake times it knows, in ms;
     * 0: never (the store has no other writer). Shared stores have other writers. */
    int64_t poll_ms;
};

#endif
