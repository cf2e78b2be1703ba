/* do_cluster.h — Durable Objects across the nodes of a cluster (host process, the main loop;
 * with --storage postgresql://). One live instance per object in the whole cluster: a node
 * runs an object only while it holds the object's lease in PostgreSQL (storage/pg_do.h),
 * taken on the object's first event and renewed for all of the node's objects every quarter
 * of the lease time (--durable-object-lease, default 10 s). An event for an object another
 * node holds is forwarded to that node's internal port (host/cluster_port.h) and its answer
 * comes back; when that node is dead the event waits until the lease expires, then this node
 * takes the object. Taking an object restores its SQLite database (and alarm) from
 * PostgreSQL; every committed transaction is shipped there (the whole database image) before
 * the answers that follow it leave (the output gate). Alarms are kept there too, and a node
 * takes the objects whose holder died with an alarm due, so the alarm fires.
 * Not across nodes: WebSocket upgrades of an object held by another node (refused with 501).
 */
#ifndef PW_DO_CLUSTER_H
#define PW_DO_CLUSTER_H

#include "host/binding.h"
#include "host/do_objects.h"

typedef struct pw_do_cluster pw_do_cluster_t;
typedef struct pw_do_route pw_do_route_t;

/* Starts the lease renewal and (env->cluster_address) the internal port. Returns 0, or -1
 * with a message in err. */
int pw_do_cluster_open(const pw_binding_env_t *env, pw_do_host_t *host, pw_do_cluster_t **out,
                       char *err, size_t err_len);
void pw_do_cluster_close(pw_do_cluster_t *c);

/* The namespace's backend for a cluster node: `inner` (SQLite in memory, now owned by it)
 * with its alarms also kept in PostgreSQL. NULL when out of memory (inner closed). */
pw_do_backend_t *pw_do_cluster_backend(pw_do_cluster_t *c, pw_do_backend_t *inner,
                                       const char *service, const char *class_name);

/* Delivers an event as pw_do_event does, here or on the node holding the object; `name` as
 * do.call's ("" or "=" + idFromName's name). done() runs once unless cancelled first. Returns
 * 0 or -ENOMEM (done not called). */
int pw_do_cluster_event(pw_do_cluster_t *c, pw_do_object_t *obj, pw_bytes_t name, pw_bytes_t method,
                        pw_bytes_t payload, pw_worker_done_cb done, void *arg, pw_do_route_t **handle);
void pw_do_cluster_cancel(pw_do_route_t *route);

typedef void (*pw_do_saved_cb)(void *arg, const char *error);
/* After a storage operation of obj: when a transaction committed, ships the database and
 * returns 1 (saved() runs once, error NULL when PostgreSQL has it); else returns 0. */
int pw_do_cluster_persist(pw_do_cluster_t *c, pw_do_object_t *obj, pw_do_store_t *store,
                          pw_do_saved_cb saved, void *arg);

#endif
