/* pg_pool.h — a pool of PostgreSQL connections on a libuv loop (host process, the loop
 * that owns it: the main loop). The backends on PostgreSQL (storage/pg_kv.h, ...) send their
 * statements through it; nothing here blocks the loop: each connection is libpq's
 * asynchronous API with its socket watched by a uv_poll_t. Statements are registered once
 * (pw_pg_statement) and prepared on each connection the first time it runs them; parameters
 * go as text (numbers) or binary (bytes), results come back in binary.
 * When the server cannot be reached, work fails as PW_PG_UNAVAILABLE (callers answer 503)
 * and the pool keeps reconnecting on its own: no restart of the host is needed.
 * Invariant: a job's callback runs exactly once, from the loop (never inside pw_pg_run), unless
 * it is cancelled first, and then never.
 */
#ifndef PW_PG_POOL_H
#define PW_PG_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"

#define PW_PG_POOL_SIZE 4           /* connections per pool */
#define PW_PG_MAX_STATEMENTS 64
#define PW_PG_MAX_PARAMS 16
#define PW_PG_WAIT_MS 5000          /* a job waits this long for a connection, then fails */
#define PW_PG_QUERY_MS 15000        /* a statement running longer: its connection is dropped */

typedef struct pw_pg_pool pw_pg_pool_t;
typedef struct pw_pg_job pw_pg_job_t;

/* One parameter: bytes sent as binary (bytea), text (numbers, names), or NULL. */
typedef struct {
    const void *data;
    size_t len;
    int binary;
    int is_null;
    char num[24];               /* pw_pg_int's text */
} pw_pg_param_t;

pw_pg_param_t pw_pg_bytes(pw_bytes_t b);
pw_pg_param_t pw_pg_text(const char *s);
pw_pg_param_t pw_pg_int(int64_t v);
pw_pg_param_t pw_pg_null(void);

/* Appends the text form of a bytea[] holding the n items ({"\\x6b31","\\x6b32"}) to out, to
 * pass as a text parameter (not NUL-terminated: pw_pg_run copies len bytes). 0, or -ENOMEM. */
int pw_pg_bytea_array(const pw_bytes_t *items, size_t n, pw_buf_t *out);

typedef enum {
    PW_PG_OK = 0,
    PW_PG_ERROR = -1,           /* the statement failed (constraint, bad data...) */
    PW_PG_UNAVAILABLE = -2,     /* no connection to the server (down, restarting, unreachable) */
} pw_pg_status_t;

/* What a statement gave; valid during the callback only. */
typedef struct pw_pg_result pw_pg_result_t;

pw_pg_status_t pw_pg_status(const pw_pg_result_t *r);
const char *pw_pg_error(const pw_pg_result_t *r);       /* the server's or libpq's words */
const char *pw_pg_sqlstate(const pw_pg_result_t *r);    /* "" when none */
size_t pw_pg_rows(const pw_pg_result_t *r);
long pw_pg_affected(const pw_pg_result_t *r);           /* rows an INSERT/UPDATE/DELETE touched */
int pw_pg_is_null(const pw_pg_result_t *r, size_t row, int col);
pw_bytes_t pw_pg_value(const pw_pg_result_t *r, size_t row, int col);  /* bytea, text */
int64_t pw_pg_i64(const pw_pg_result_t *r, size_t row, int col);       /* int8, int4, bool */

typedef void (*pw_pg_cb)(void *arg, const pw_pg_result_t *r);

/* A pool of PW_PG_POOL_SIZE connections to `url` (libpq's connection URI or key=value
 * string), connecting now in the background. Returns 0, or -1 with a message in err. */
int pw_pg_pool_open(uv_loop_t *loop, const char *url, pw_pg_pool_t **out, char *err, size_t err_len);
/* Closes every connection; jobs not finished are cancelled (their callbacks never run). */
void pw_pg_pool_close(pw_pg_pool_t *p);

/* Registers a statement (its parameters typed with casts: $1::bytea, $2::int8) and returns
 * its handle (the same for the same text), or -1 when the table is full. Call before the loop runs statements. */
int pw_pg_statement(pw_pg_pool_t *p, const char *sql);

/* Runs statement `stmt` with n parameters (copied now) on a free connection; cb(arg, result)
 * runs later, from the loop. Returns the job (for pw_pg_cancel), or NULL when out of memory. */
pw_pg_job_t *pw_pg_run(pw_pg_pool_t *p, int stmt, const pw_pg_param_t *params, size_t n,
                       pw_pg_cb cb, void *arg);
/* The job's callback will not run. */
void pw_pg_cancel(pw_pg_job_t *job);

/* The loop the pool runs on. */
uv_loop_t *pw_pg_pool_loop(pw_pg_pool_t *p);

/* 1 while at least one connection is up. */
int pw_pg_pool_connected(const pw_pg_pool_t *p);

#endif
