/* do_objects.h — the host's Durable Objects (host process, the main loop only): namespaces,
 * the objects in them, and the events delivered to each.
 *
 * One live instance per id: an object is in memory in at most one isolate, the one its pin
 * holds (host/pool_pin.h), of the main loop's pool of the worker that defines its class.
 * Every event (a stub's fetch or RPC method, an alarm, an eviction) is a CALL frame pinned to
 * that isolate; the isolate keeps the instance (python/pyworkerd/do_runtime.py). When the
 * isolate dies or retires, the object's events still on it finish (or fail) there and new
 * ones wait; then the object is rebuilt on its next event, in whichever isolate the pool
 * picks. An object with no event for the idle timeout leaves memory (an EVICT event drops the
 * instance); its storage stays.
 * Storage calls from the object's isolate reach its store (storage/do_backend.h) only from
 * that isolate (pw_do_object_store checks the caller's port).
 * Invariant: no locks: everything here runs on the main loop (binding kinds that keep state
 * are not per_loop; other loops forward their calls, host/rpc_forward.h).
 */
#ifndef PW_DO_OBJECTS_H
#define PW_DO_OBJECTS_H

#include <stdint.h>
#include <uv.h>

#include "host/binding.h"
#include "host/cluster_leases.h"
#include "host/worker_call.h"
#include "storage/do_backend.h"

typedef struct pw_do_host pw_do_host_t;
typedef struct pw_do_ns pw_do_ns_t;
typedef struct pw_do_object pw_do_object_t;
typedef struct pw_do_event pw_do_event_t;

#define PW_DO_DEFAULT_IDLE_MS 70000    /* Cloudflare evicts after 70-140 s without events */
#define PW_DO_ALARM_RETRIES 6
#define PW_DO_ALARM_BACKOFF_MS 2000    /* the first retry's delay; doubled for each next one */

typedef struct {
    uv_loop_t *loop;
    pw_binding_lookup_cb lookup;        /* the main loop's pool of a worker */
    void *lookup_arg;
    uint64_t idle_timeout_ms;           /* 0: PW_DO_DEFAULT_IDLE_MS */
} pw_do_host_options_t;

int pw_do_host_create(const pw_do_host_options_t *opts, pw_do_host_t **out);
/* Frees the objects and namespaces (closing their backends); the timers' memory goes once
 * the loop runs again. */
void pw_do_host_free(pw_do_host_t *host);

/* Adds a namespace (its backend now belongs to it) and schedules its stored alarms. */
pw_do_ns_t *pw_do_ns_add(pw_do_host_t *host, const char *service, const pw_do_namespace_t *config,
                         pw_do_backend_t *backend);
pw_do_ns_t *pw_do_ns_find(pw_do_host_t *host, const char *service, const char *class_name);
const uint8_t *pw_do_ns_key(const pw_do_ns_t *ns);
int pw_do_ns_sql_enabled(const pw_do_ns_t *ns);
const char *pw_do_ns_service(const pw_do_ns_t *ns);
const char *pw_do_ns_class(const pw_do_ns_t *ns);
pw_do_backend_t *pw_do_ns_backend(const pw_do_ns_t *ns);
pw_do_ns_t *pw_do_object_ns(const pw_do_object_t *obj);
const char *pw_do_object_id(const pw_do_object_t *obj);
/* A cluster's bookkeeping of the object's lease (host/do_cluster.c, host/cluster_leases.h). */
pw_lease_t *pw_do_object_lease(pw_do_object_t *obj);
/* ... and its commits on their way to PostgreSQL (NULL: none). */
void **pw_do_object_ship(pw_do_object_t *obj);
/* A cluster took the object's lease again after it had lapsed here (another node may have
 * run it meanwhile): an instance still in memory is stale, so it is reset (its events in
 * flight answer errors, it leaves memory, the next event builds it anew from the restored
 * storage). Nothing happens to an object not in memory. */
void pw_do_object_reset_stale(pw_do_object_t *obj);

/* The object with this (checked) id, made when `create`; NULL when absent or out of memory. */
pw_do_object_t *pw_do_object(pw_do_ns_t *ns, const char *id_hex, int create);
/* Code will use obj after the loop turns: it is not freed meanwhile. unhold may free it. */
void pw_do_object_hold(pw_do_object_t *obj);
void pw_do_object_unhold(pw_do_object_t *obj);
/* Remembers the name an id was made from (idFromName), for the instance's ctx.id.name. */
void pw_do_object_name(pw_do_object_t *obj, pw_bytes_t name);

/* Delivers an event: `method` ("fetch", an RPC method, "__alarm__") with its payload. The
 * answer comes to done() exactly once (an error_status when it could not be delivered or
 * its isolate died), unless pw_do_event_cancel() comes first. Returns 0 or -ENOMEM (done not
 * called). */
int pw_do_event(pw_do_object_t *obj, pw_bytes_t method, pw_bytes_t payload, pw_worker_done_cb done,
                void *arg, pw_do_event_t **handle);
/* The caller is gone: its event is withdrawn (the isolate gets CANCEL). */
void pw_do_event_cancel(pw_do_event_t *ev);

/* The object's store, when the isolate behind `port` holds the object in memory; else NULL. */
pw_do_store_t *pw_do_object_store(pw_do_object_t *obj, const pw_port_t *port);
/* A write of the object failed: the answers of its events in flight become errors (the
 * output gate), then the object leaves memory. */
void pw_do_object_write_failed(pw_do_object_t *obj);

/* Alarms (host/do_alarm.c): at_ms 0 deletes. Returns 0, or -1 with a message in err. */
int pw_do_object_set_alarm(pw_do_object_t *obj, int64_t at_ms, char *err, size_t err_len);
int64_t pw_do_object_alarm(const pw_do_object_t *obj);

#endif
