/* do_backend.h — what stores Durable Objects' state (host process, the main loop): the vtable
 * behind host/binding_do.c, which checks every argument against Cloudflare's limits before a
 * backend sees it. One backend per namespace (a class's uniqueKey), one store per object in
 * it (a key-value table, SQL, transactions) and, per namespace, the objects' alarms.
 * Backends: SQLite (storage/do_sqlite.h: a database per object on a disk service, or in
 * memory), later PostgreSQL for a cluster.
 *
 * An operation may end before it returns (SQLite) or later (a remote database); done() runs
 * exactly once either way, and the operations of one store end in the order they were
 * started (a write, then a read, sees the write). The front holds its caller's port until
 * done() runs, so a backend never needs to cancel.
 */
#ifndef PW_DO_BACKEND_H
#define PW_DO_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PW_DO_MAX_KEY 2048              /* bytes of a key (Cloudflare's limit) */
#define PW_DO_MAX_VALUE (2u * 1024 * 1024)  /* bytes of a value (SQLite-backed objects) */
#define PW_DO_MAX_KEYS 128              /* keys of one get/delete, entries of one put */
#define PW_DO_LIST_PAGE (1024u * 1024)  /* bytes of one list answer; the SDK asks for more */

/* One write of a batch. */
typedef enum { PW_DO_PUT = 'p', PW_DO_DELETE = 'd', PW_DO_DELETE_ALL = 'D' } pw_do_write_op_t;

typedef struct {
    pw_do_write_op_t op;
    pw_bytes_t key;             /* put, delete */
    pw_bytes_t value;           /* put: the SDK's encoding of the value */
} pw_do_write_t;

/* list's range: each bound is optional (has_*). */
typedef struct {
    int has_start, has_start_after, has_end, has_prefix;
    pw_bytes_t start, start_after, end, prefix;
    int reverse;
    int64_t limit;              /* <= 0: none */
} pw_do_list_t;

/* How an operation ended: an error (its JavaScript class and message), or the RPC_RESULT
 * fields after the leading "" (valid during the done() call):
 *   get       per key: found ("1" or ""), value
 *   write     per delete, in order: "1" when the key existed, else ""
 *   list      more ("1": the page is full, ask again after its last key), then one field of
 *             records: u32 key length, key, u32 value length, value (little-endian)
 *   sql       columns (u32 count, then u32 length + name each), rows (cells, row after row:
 *             a type byte 'n' null, 'i' integer, 'f' real, 't' text, 'b' blob, then u32
 *             length + the value; integers and reals as decimal text), rows read, rows written
 *   txn, alarm_set  nothing
 *   size      the database's size in bytes, as decimal text
 */
typedef struct {
    const char *error_name;     /* NULL: success; "Error", "TypeError" */
    const char *error;
    const pw_bytes_t *fields;
    size_t n_fields;
} pw_do_result_t;

typedef void (*pw_do_done_cb)(void *arg, const pw_do_result_t *result);

typedef struct pw_do_backend pw_do_backend_t;
typedef struct pw_do_store pw_do_store_t;

/* Transactions (storage.transaction / transactionSync): nested, each a savepoint. */
typedef enum { PW_DO_TXN_BEGIN, PW_DO_TXN_COMMIT, PW_DO_TXN_ROLLBACK } pw_do_txn_t;

/* Called by alarm_scan for each object that has an alarm. */
typedef void (*pw_do_alarm_cb)(void *arg, const char *id_hex, int64_t at_ms);

typedef struct {
    /* The store of object id_hex (64 hex digits, checked by the front), opened or created.
     * Returns 0, or -1 with a message in err. */
    int (*open)(pw_do_backend_t *b, const char *id_hex, pw_do_store_t **out, char *err, size_t err_len);
    /* The object left memory: the store may be closed (its data stays). */
    void (*release)(pw_do_store_t *s);
    void (*get)(pw_do_store_t *s, const pw_bytes_t *keys, size_t n, pw_do_done_cb done, void *arg);
    /* All writes in one transaction: every one or none. */
    void (*write)(pw_do_store_t *s, const pw_do_write_t *writes, size_t n, pw_do_done_cb done, void *arg);
    void (*list)(pw_do_store_t *s, const pw_do_list_t *range, pw_do_done_cb done, void *arg);
    /* One or more statements; `bindings` as the rows of sql's answer (one row). */
    void (*sql)(pw_do_store_t *s, pw_bytes_t query, pw_bytes_t bindings, pw_do_done_cb done, void *arg);
    void (*txn)(pw_do_store_t *s, pw_do_txn_t op, pw_do_done_cb done, void *arg);
    void (*size)(pw_do_store_t *s, pw_do_done_cb done, void *arg);
    /* Alarms of the namespace: at_ms 0 deletes. alarm_get sets *at_ms (0: none). Return 0 or
     * -1 with a message in err. */
    int (*alarm_set)(pw_do_backend_t *b, const char *id_hex, int64_t at_ms, char *err, size_t err_len);
    int (*alarm_get)(pw_do_backend_t *b, const char *id_hex, int64_t *at_ms);
    /* Every alarm of the namespace (at start-up). */
    int (*alarm_scan)(pw_do_backend_t *b, pw_do_alarm_cb cb, void *arg);
    void (*close)(pw_do_backend_t *b);
} pw_do_backend_ops_t;

/* The head of every backend. */
struct pw_do_backend {
    const pw_do_backend_ops_t *ops;
};

/* The head of every store: its backend runs its operations. */
struct pw_do_store {
    pw_do_backend_t *backend;
};

#endif
