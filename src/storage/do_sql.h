/* do_sql.h — a Durable Object's own SQL (`ctx.storage.sql.exec`) on its SQLite database (host
 * process, the main loop; used by storage/do_sqlite.c). Statements run with an authorizer that
 * keeps the object's code out of what the runtime keeps there (tables named _cf_*), and away
 * from transactions (storage.transaction/transactionSync make those), ATTACH and PRAGMAs that
 * change the database; results are encoded as storage/do_backend.h's sql answer says.
 */
#ifndef PW_DO_SQL_H
#define PW_DO_SQL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* The authorizer's state, owned by the caller for as long as the connection: `active` while
 * the object's own SQL runs; `denied` (a static message, or NULL) says why it refused. */
typedef struct {
    int active;
    const char *denied;
} pw_do_sql_guard_t;

void pw_do_sql_authorizer(sqlite3 *db, pw_do_sql_guard_t *guard);

typedef struct {
    pw_buf_t columns;           /* the last statement's column names */
    pw_buf_t rows;              /* its rows */
    int64_t rows_read;
    int64_t rows_written;
} pw_do_sql_result_t;

/* Runs every statement of `query` with `bindings` (typed cells) consumed in order; the result
 * is the last statement's. Returns 0, or -1 with SQLite's message (or ours) in err. */
int pw_do_sql_exec(sqlite3 *db, pw_bytes_t query, pw_bytes_t bindings, pw_do_sql_result_t *out,
                   char *err, size_t err_len);

/* Appends one cell (type byte, u32 length, bytes). */
int pw_do_sql_put_cell(pw_buf_t *out, char type, const void *data, size_t len);

#endif
