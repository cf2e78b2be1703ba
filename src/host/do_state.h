/* do_state.h — the inside of the host's Durable Objects (host process, the main loop), shared
 * by the files that make them: do_objects.c (namespaces, objects, events, eviction) and
 * do_alarm.c (alarms). Nothing else includes it; do_objects.h is the contract.
 */
#ifndef PW_DO_STATE_H
#define PW_DO_STATE_H

#include "base/list.h"
#include "host/cluster_leases.h"
#include "host/do_objects.h"
#include "host/do_sockets.h"
#include "host/pool_pin.h"

struct pw_do_host {
    pw_do_host_options_t opts;
    pw_do_ns_t *namespaces;
    pw_list_t active;           /* objects in memory (pw_do_object.active_link) */
    pw_list_t alarms;           /* objects with an alarm, soonest first (alarm_link) */
    uv_timer_t sweep;           /* evicts idle objects */
    uv_timer_t alarm_timer;     /* the soonest alarm */
    int open_timers;
    int closing;
};

struct pw_do_ns {
    pw_do_ns_t *next;
    pw_do_host_t *host;
    char *service;              /* the worker defining the class */
    char *class_name;
    uint8_t key[32];            /* SHA-256 of the uniqueKey (host/do_id.h) */
    int enable_sql;
    int prevent_eviction;
    pw_do_backend_t *backend;
    pw_do_object_t **buckets;   /* objects by id (a hash table) */
    size_t n_buckets, n_objects;
};

struct pw_do_object {
    pw_do_object_t *hnext;      /* in its bucket */
    pw_do_ns_t *ns;
    char id[65];
    char *name;                 /* idFromName's name, once known */
    pw_pool_pin_t pin;          /* the isolate holding it (first: pin_lost finds the object) */
    pw_do_store_t *store;       /* open while it is in memory */
    pw_list_t active_link;      /* host->active while in memory */
    unsigned inflight;          /* events sent and not answered */
    pw_list_t waiting;          /* events not sent yet (pw_do_event.link) */
    int evicting;               /* EVICT sent, not answered */
    int moving;                 /* its isolate died or retires: events wait for inflight 0 */
    int broken;                 /* a write failed: answers are errors until it leaves memory */
    unsigned holds;             /* code running on it: it is not freed meanwhile */
    uint64_t last_event_ms;
    /* alarm */
    pw_list_t alarm_link;       /* host->alarms while alarm_due */
    int64_t alarm_ms;           /* stored time (ms since the epoch); 0: none */
    int64_t alarm_due;          /* when it runs next (a retry: later than alarm_ms) */
    int64_t alarm_fired;        /* alarm_ms of the run in flight */
    unsigned alarm_retries;
    int alarm_running;
    /* hibernatable WebSockets (host/do_sockets.h) */
    pw_list_t sockets;
    size_t n_sockets;
    int has_auto;               /* setWebSocketAutoResponse */
    pw_buf_t auto_request, auto_response;
    /* a cluster (host/do_cluster.h) */
    pw_lease_t lease;           /* this node's view of its lease */
    void *ship;                 /* its commits on their way to PostgreSQL (do_cluster.c); NULL: none */
};

/* do_objects.c, for do_alarm.c: an internal event (no caller). */
int pw_do_event_internal(pw_do_object_t *obj, const char *method, pw_bytes_t payload,
                         pw_worker_done_cb done, void *arg);

/* do_alarm.c, for do_objects.c. */
void pw_do_alarms_init(pw_do_host_t *host);
void pw_do_alarms_close(pw_do_host_t *host, uv_close_cb closed);
void pw_do_alarm_queue(pw_do_object_t *obj);    /* (re)places obj by alarm_due */
void pw_do_alarm_load(pw_do_ns_t *ns);          /* the namespace's stored alarms */
int64_t pw_do_now_ms(void);

#endif
