/* fetch.h — outbound HTTP (host process): libcurl's multi interface driven by the host's
 * libuv loop, so any number of transfers run without threads. A worker's fetch() runs under
 * its network policy (http/fetch_policy.h), checked before curl may connect, on redirects
 * too; the host's own requests (KV over HTTP to an `external` service) under none. Results go
 * to a callback: answering the isolate is the host's (host/binding_fetch.c).
 */
#ifndef PW_FETCH_H
#define PW_FETCH_H

#include <stddef.h>
#include <uv.h>

#include "http/fetch_policy.h"
#include "wire/frame.h"

typedef struct pw_fetch pw_fetch_t;

int pw_fetch_create(uv_loop_t *loop, pw_fetch_t **out);
/* Aborts fetches still running (their callers get no answer) and frees. */
void pw_fetch_free(pw_fetch_t *fetch);
/* Sets the total time a fetch may take, redirects included (default 30 s). */
void pw_fetch_set_timeout(pw_fetch_t *fetch, unsigned timeout_ms);

/* What a transfer ended with: error set (a message) or a response. Valid during the call. */
typedef struct {
    const char *error;
    long status;
    pw_bytes_t headers;         /* "name\nvalue\n"... of the final response */
    pw_bytes_t body;
    const char *url;            /* the final URL */
    int redirected;
} pw_fetch_result_t;

typedef void (*pw_fetch_done_cb)(void *arg, const pw_fetch_result_t *result);
typedef struct pw_fetch_transfer pw_fetch_transfer_t;

/* Starts a request made by the host itself (KV over HTTP to an `external` service): no
 * network policy (the address is the config's), redirects not followed. done() runs once,
 * unless pw_fetch_abort() comes first. Returns NULL when it cannot start (done not called). */
pw_fetch_transfer_t *pw_fetch_request(pw_fetch_t *fetch, const char *url, const char *method,
                                      pw_bytes_t header_lines, pw_bytes_t body,
                                      pw_fetch_done_cb done, void *arg);

/* A worker's fetch(), as its isolate sent it. Copied when the transfer starts. */
typedef struct {
    pw_bytes_t url;
    pw_bytes_t method;
    pw_bytes_t header_lines;    /* "name\nvalue\n"... */
    pw_bytes_t body;
    pw_bytes_t redirect;        /* "follow" (or empty), "manual", "error" */
} pw_fetch_args_t;

/* Starts a worker's fetch under policy. done() runs once, unless pw_fetch_abort() comes
 * first. Returns 0 and *out, or (done not called) -EPROTONOSUPPORT (not an http: or https:
 * URL), -EINVAL (bad method or headers), -ENOMEM, -EIO (curl refused the transfer). */
int pw_fetch_send(pw_fetch_t *fetch, const pw_fetch_policy_t *policy, const pw_fetch_args_t *args,
                  pw_fetch_done_cb done, void *arg, pw_fetch_transfer_t **out);

/* Stops a transfer at once: its connection is closed, done() is never called. */
void pw_fetch_abort(pw_fetch_transfer_t *transfer);

#endif
