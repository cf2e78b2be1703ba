/* pq_lazy.c — libpq's functions that pyworkerd calls, loading libpq.so.5 at the first one
 * (host process; base/lazy_lib.h says why): only a host given --storage postgresql://...
 * maps libpq and the LDAP, Kerberos, SASL and GSSAPI libraries it needs. The binary does not
 * link libpq; these definitions are the ones pg_pool.c, pg_schema.c and pg_leases.c call. Only functions
 * listed here may be called: a new one is a link error until it is added.
 */
#include <libpq-fe.h>

#include "base/lazy_lib.h"

static pw_lazy_lib_t pq = PW_LAZY_LIB("libpq.so.5");
static char not_loaded[] = "libpq.so.5 cannot be loaded\n";

PW_LAZY_FN(pq, PGconn *, PQconnectStart, (const char *info), (info), NULL)
PW_LAZY_FN(pq, PGconn *, PQconnectdb, (const char *info), (info), NULL)
PW_LAZY_FN(pq, PGconn *, PQconnectdbParams,
           (const char *const *keys, const char *const *values, int expand_dbname),
           (keys, values, expand_dbname), NULL)
PW_LAZY_FN(pq, PostgresPollingStatusType, PQconnectPoll, (PGconn *c), (c), PGRES_POLLING_FAILED)
PW_LAZY_FN(pq, ConnStatusType, PQstatus, (const PGconn *c), (c), CONNECTION_BAD)
PW_LAZY_FN(pq, char *, PQerrorMessage, (const PGconn *c), (c), not_loaded)
PW_LAZY_FN(pq, int, PQsocket, (const PGconn *c), (c), -1)
PW_LAZY_FN(pq, int, PQsetnonblocking, (PGconn *c, int on), (c, on), -1)
PW_LAZY_FN(pq, PQnoticeProcessor, PQsetNoticeProcessor, (PGconn *c, PQnoticeProcessor p, void *a),
           (c, p, a), NULL)
PW_LAZY_VOID_FN(pq, PQfinish, (PGconn *c), (c))
PW_LAZY_FN(pq, PGresult *, PQexec, (PGconn *c, const char *q), (c, q), NULL)
PW_LAZY_FN(pq, PGresult *, PQexecParams,
           (PGconn *c, const char *q, int n, const Oid *types, const char *const *values,
            const int *lengths, const int *formats, int result_format),
           (c, q, n, types, values, lengths, formats, result_format), NULL)
PW_LAZY_FN(pq, int, PQsendPrepare,
           (PGconn *c, const char *name, const char *q, int n, const Oid *types),
           (c, name, q, n, types), 0)
PW_LAZY_FN(pq, int, PQsendQueryPrepared,
           (PGconn *c, const char *name, int n, const char *const *values, const int *lengths,
            const int *formats, int result_format),
           (c, name, n, values, lengths, formats, result_format), 0)
PW_LAZY_FN(pq, PGresult *, PQgetResult, (PGconn *c), (c), NULL)
PW_LAZY_FN(pq, int, PQconsumeInput, (PGconn *c), (c), 0)
PW_LAZY_FN(pq, int, PQisBusy, (PGconn *c), (c), 0)
PW_LAZY_FN(pq, int, PQflush, (PGconn *c), (c), -1)
PW_LAZY_FN(pq, PGnotify *, PQnotifies, (PGconn *c), (c), NULL)
PW_LAZY_FN(pq, ExecStatusType, PQresultStatus, (const PGresult *r), (r), PGRES_FATAL_ERROR)
PW_LAZY_FN(pq, char *, PQresultErrorMessage, (const PGresult *r), (r), not_loaded)
PW_LAZY_FN(pq, char *, PQresultErrorField, (const PGresult *r, int field), (r, field), NULL)
PW_LAZY_FN(pq, int, PQntuples, (const PGresult *r), (r), 0)
PW_LAZY_FN(pq, Oid, PQftype, (const PGresult *r, int field), (r, field), 0)
PW_LAZY_FN(pq, char *, PQcmdTuples, (PGresult *r), (r), not_loaded + sizeof not_loaded - 1)
PW_LAZY_FN(pq, char *, PQgetvalue, (const PGresult *r, int row, int field), (r, row, field), NULL)
PW_LAZY_FN(pq, int, PQgetlength, (const PGresult *r, int row, int field), (r, row, field), 0)
PW_LAZY_FN(pq, int, PQgetisnull, (const PGresult *r, int row, int field), (r, row, field), 1)
PW_LAZY_VOID_FN(pq, PQclear, (PGresult *r), (r))
PW_LAZY_VOID_FN(pq, PQfreemem, (void *p), (p))
