/* kv_backend.h — what stores a KV namespace (host process): the vtable behind `kvNamespace`
 * bindings. host/binding_kv.c is the one front: it checks every argument against
 * Cloudflare's limits (key, value and metadata sizes, expiration rules) and calls a backend
 * only with checked arguments. Backends: SQLite on a disk service (storage/kv_disk.h),
 * workerd's KV HTTP protocol to a worker or external service (storage/kv_http_backend.h),
 * later PostgreSQL. An operation may end before it returns (SQLite) or later (HTTP); either
 * way done() runs exactly once, unless cancel() comes first, and then never.
 */
#ifndef PW_KV_BACKEND_H
#define PW_KV_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "wire/frame.h"

#define PW_KV_MAX_KEY 512
#define PW_KV_MAX_VALUE (25u * 1024 * 1024)
#define PW_KV_MAX_METADATA 1024
#define PW_KV_MIN_TTL 60
#define PW_KV_MAX_BULK 100
#define PW_KV_MAX_LIST 1000

/* One operation's arguments, checked by the front; bytes are borrowed during the call.
 * The options are also passed as the caller gave them: a backend that forwards the call
 * (HTTP) passes those on; one that stores it uses the decoded values. */
typedef struct {
    const pw_bytes_t *keys;     /* get, put, delete: one; get_many: 1..PW_KV_MAX_BULK */
    size_t n_keys;
    int64_t now;                /* unix seconds */
    pw_bytes_t cache_ttl;       /* get: as given; len 0: none */
    pw_bytes_t value;           /* put */
    pw_bytes_t metadata;        /* put: JSON text; len 0: none */
    int64_t expiration;         /* put: unix seconds, from either option; 0: never */
    pw_bytes_t expiration_arg;  /* put: as given; len 0: none */
    pw_bytes_t expiration_ttl_arg;
    pw_bytes_t prefix;          /* list */
    pw_bytes_t limit_arg;       /* list: as given; len 0: the default */
    unsigned limit;             /* list: 1..PW_KV_MAX_LIST */
    pw_bytes_t cursor;          /* list: from a previous answer; len 0: from the start */
} pw_kv_args_t;

/* How an operation ended: an error (name and message), or the RPC_RESULT fields the SDK
 * reads (the first ""):
 *   get       "" | "", value, metadata, expiration ("" when none)
 *   get_many  "", then per key: found ("1" or ""), value, metadata
 *   put, delete  ""
 *   list      "", complete ("1" or ""), cursor, then per key: name, expiration, metadata
 * Valid during the done() call. */
typedef struct {
    const char *error_name;     /* NULL: success; "Error", "TypeError" */
    const char *error;
    const pw_bytes_t *fields;
    size_t n_fields;
} pw_kv_result_t;

typedef void (*pw_kv_done_cb)(void *arg, const pw_kv_result_t *result);
typedef struct pw_kv_pending pw_kv_pending_t;
typedef struct pw_kv_backend pw_kv_backend_t;

/* Starts an operation. *pending is set before anything can call done() (it may run before
 * this returns: then *pending must not be used). */
typedef void (*pw_kv_op_fn)(pw_kv_backend_t *kv, const pw_kv_args_t *args, pw_kv_done_cb done,
                            void *arg, pw_kv_pending_t **pending);

typedef struct {
    pw_kv_op_fn get, get_many, put, delete, list;
    /* Stops an operation whose done() has not run; done() never runs. */
    void (*cancel)(pw_kv_pending_t *pending);
    void (*close)(pw_kv_backend_t *kv);
} pw_kv_backend_ops_t;

/* The head of every backend. */
struct pw_kv_backend {
    const pw_kv_backend_ops_t *ops;
    int subrequests;            /* its operations are subrequests: answered later, and counted
                                 * against the isolate's limit of calls in flight */
    char *refuse_put;           /* NULL, or why writes are refused (the whole message) */
    char *refuse_delete;
};

#endif
