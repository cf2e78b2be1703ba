/* request_id.h — the request id (host process): one per request the host sends to an isolate
 * (an HTTP request, a service binding's call, a workflow step, a test of `pyworkerd test`),
 * and per HTTP request the host refuses itself. The asker sets it in pw_call_t; the REQUEST or
 * CALL frame carries it to the isolate, and every log line about the request shows it as
 * "req=" and 16 hex digits (PW_LOG_REQUEST_ID, base/log.h): the access line, the worker's
 * print() and traceback lines, PYTHON_TRACE's "request dispatched"/"request finished".
 *
 * An id is a random 32-bit prefix drawn once per run plus a counter: the ids of one run are
 * distinct, in the order the requests came, and share their first 8 digits; another run (a
 * restart, a second server logging to the same place) draws another prefix.
 */
#ifndef PW_HTTP_REQUEST_ID_H
#define PW_HTTP_REQUEST_ID_H

#include <stdint.h>

/* The next id of this run; never 0. Loop thread only. */
uint64_t pw_request_id_next(void);
/* Sets the run's prefix now (before the host's loop threads start). */
void pw_request_id_init(void);

#endif
