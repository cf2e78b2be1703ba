/* workflows.h — the Workflows engine (host process): durable instances of a worker's
 * WorkflowEntrypoint classes, reached through `wrapped` bindings of PW_WORKFLOWS_MODULE.
 * Binding calls (create, get, status, pause, resume, terminate) from any worker with the
 * binding, and step calls (step results, sleeps) from the isolate running an instance, are
 * host/binding_workflows.c's: they change the store and wake the engine. An instance runs as
 * a CALL of its class's `run` in its worker's pool; when it sleeps it is suspended (the call
 * returns) and called again when due, replaying its completed steps from storage
 * (storage/workflow_backend.h: SQLite, or PostgreSQL with --storage, where each instance runs
 * on one node at a time under a lease and another node takes over the runs of a node that
 * died). Instances left unfinished by a previous host resume at start.
 */
#ifndef PW_WORKFLOWS_H
#define PW_WORKFLOWS_H

#include <stddef.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "host/pool.h"
#include "storage/pg_pool.h"
#include "storage/workflow_backend.h"

typedef struct pw_workflows pw_workflows_t;

/* A workflow: a binding name that leads to one WorkflowEntrypoint class. */
typedef struct {
    const char *name;           /* the binding's name */
    const char *service;        /* the worker defining the class */
    const char *entrypoint;     /* the WorkflowEntrypoint class */
} pw_workflow_t;
typedef pw_pool_t *(*pw_workflows_lookup_cb)(void *arg, const char *service);

/* The engine of every workflow binding in config; *out = NULL when there is none. Its store is
 * PostgreSQL on `pg` as node `node_id` when pg is not NULL, else `dir`/workflows.sqlite3 (dir
 * NULL: in memory). Unfinished instances are resumed once the loop runs. Returns 0, or -1
 * with a message in err. */
int pw_workflows_create(uv_loop_t *loop, const pw_config_t *config, const char *dir,
                        pw_pg_pool_t *pg, const char *node_id, pw_workflows_lookup_cb lookup,
                        void *lookup_arg, pw_workflows_t **out, char *err, size_t err_len);
void pw_workflows_free(pw_workflows_t *wf);

/* The workflow bound as `name`, or NULL. */
const pw_workflow_t *pw_workflows_find(const pw_workflows_t *wf, pw_bytes_t name);
/* The instances' store, for binding calls to read and change. */
pw_wf_backend_t *pw_workflows_store(pw_workflows_t *wf);
/* 1 when a run of instance `id` of `workflow` is in flight here. */
int pw_workflows_running(pw_workflows_t *wf, pw_bytes_t workflow, pw_bytes_t id);
/* The store changed (an instance created, resumed, sent an event...): runs what is due. */
void pw_workflows_wake(pw_workflows_t *wf);

/* 1 for a status no run follows: complete, errored, terminated. */
int pw_workflows_status_final(pw_bytes_t status);
/* The wall clock in milliseconds (the store's times). */
int64_t pw_workflows_now_ms(void);
/* Adds name: {"$pyworkerd:date": "<UTC ISO time of ms>"} (a datetime for the SDK). */
void pw_workflows_json_date(cJSON *obj, const char *name, int64_t ms);
/* Adds name: the JSON text in json (null when empty). */
void pw_workflows_json_raw(cJSON *obj, const char *name, pw_bytes_t json);

#endif
