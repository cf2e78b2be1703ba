/* d1_backend.h — what stores a D1 database (host process): the vtable behind D1 bindings
 * (workerd's `wrapped` binding of "cloudflare-internal:d1-api"). host/binding_d1.c is the
 * one front: it decodes the isolate's statements (storage/d1_statements.h) and calls a backend
 * with them. Backends: SQLite in a disk service's directory (storage/d1_sqlite.h), later
 * PostgreSQL; no binding code knows which it has.
 *
 * A backend may be called from several host threads (one per event loop): it serialises its
 * own work (a mutex around its state); done() runs on the calling thread, exactly once,
 * unless cancel() comes first, and then never. An operation may end before it returns
 * (SQLite) or later (a network database).
 */
#ifndef PW_D1_BACKEND_H
#define PW_D1_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "storage/d1_statements.h"

/* Cloudflare's D1 limits (developers.cloudflare.com/d1/platform/limits/). */
#define PW_D1_MAX_PARAMS 100            /* bound parameters per query */
#define PW_D1_MAX_SQL_BYTES 100000      /* one SQL statement's length */
#define PW_D1_MAX_VALUE_BYTES 2000000   /* a string, BLOB or row */
#define PW_D1_MAX_COLUMNS 100           /* columns per table */
#define PW_D1_DEFAULT_QUERY_MS 30000    /* a query's (a batch's) longest run */

typedef struct {
    const pw_d1_statement_t *statements;
    size_t n;
    int batch;                  /* all in one transaction: all or nothing */
    int first_only;             /* first(): a read-only statement stops after its first row,
                                 * and the meta objects are left empty ({}) */
    unsigned limit_ms;          /* the run is stopped (and rolled back) after this long */
} pw_d1_query_t;

/* How an operation ended: an error (name and message, in D1's words: "D1_ERROR: ..."), or
 * the RPC_RESULT fields the SDK reads (the first ""):
 *   query  "", results, metas, bookmark — results: a JSON array, one object per statement:
 *          {"columns": [names], "rows": [[values]][, "blobs": true]}; values are JSON null,
 *          integers, reals, strings, and {"$blob": "<base64>"} for BLOBs (then "blobs" is
 *          true); metas: a JSON array of each statement's meta, D1's fields (duration,
 *          changes, last_row_id, changed_db, size_after, rows_read, rows_written, ...), apart
 *          so that first() and raw(), which return no meta, never parse it
 *   exec   "", count, duration (decimal text)
 *   dump   "", the database file's bytes
 * Valid during the done() call. */
typedef struct {
    const char *error_name;     /* NULL: success; "Error", "TypeError" */
    const char *error;
    const pw_bytes_t *fields;
    size_t n_fields;
} pw_d1_result_t;

typedef void (*pw_d1_done_cb)(void *arg, const pw_d1_result_t *result);
typedef struct pw_d1_pending pw_d1_pending_t;
typedef struct pw_d1_backend pw_d1_backend_t;

typedef struct {
    /* Runs the statements. *pending is set before done() can run (it may run before this
     * returns: then *pending must not be used). */
    void (*query)(pw_d1_backend_t *d1, const pw_d1_query_t *q, pw_d1_done_cb done, void *arg,
                  pw_d1_pending_t **pending);
    /* Runs every statement of `sql` (no parameters), each on its own. */
    void (*exec)(pw_d1_backend_t *d1, pw_bytes_t sql, unsigned limit_ms, pw_d1_done_cb done,
                 void *arg, pw_d1_pending_t **pending);
    /* The whole database as an SQLite file (at most max_bytes). */
    void (*dump)(pw_d1_backend_t *d1, size_t max_bytes, pw_d1_done_cb done, void *arg,
                 pw_d1_pending_t **pending);
    /* Stops an operation whose done() has not run; done() never runs. */
    void (*cancel)(pw_d1_pending_t *pending);
    void (*close)(pw_d1_backend_t *d1);
} pw_d1_backend_ops_t;

/* The head of every backend. */
struct pw_d1_backend {
    const pw_d1_backend_ops_t *ops;
};

#endif
