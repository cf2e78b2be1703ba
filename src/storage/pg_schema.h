/* pg_schema.h — pyworkerd's tables in PostgreSQL, created and migrated when the host starts
 * (host process, before its loop runs: this one blocks). The schema is versioned: a table
 * pw_schema holds the version a database is at, and each step in pg_schema.c takes it one
 * version further, in one transaction under an advisory lock, so that several nodes starting
 * together migrate once. A database newer than this binary is refused (say which, and what to do).
 * The same check is the start's proof that the server can be reached: a bad URL or an
 * unreachable server is a clear error before anything listens.
 */
#ifndef PW_PG_SCHEMA_H
#define PW_PG_SCHEMA_H

#include <stddef.h>

/* The version this binary creates. */
#define PW_PG_SCHEMA_VERSION 5

/* Connects to `url`, brings the schema to PW_PG_SCHEMA_VERSION and disconnects. Returns the
 * version it found before (0: a new database), or -1 with a message in err. */
int pw_pg_schema_migrate(const char *url, char *err, size_t err_len);

/* The URL with any password replaced by "***", for messages. */
void pw_pg_url_redact(const char *url, char *out, size_t len);

#endif
