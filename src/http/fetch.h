/* fetch.h — outbound HTTP for workers' fetch() (host process): libcurl's multi interface
 * driven by the host's libuv loop, so any number of fetches run without threads. Every
 * connection's address is checked against the worker's network policy (workerd's `network`
 * service: allow/deny lists of "public", "private", "local", "network" and CIDRs) before
 * curl may connect, on redirects too. Answers go back to the isolate as RPC_RESULT frames.
 */
#ifndef PW_FETCH_H
#define PW_FETCH_H

#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "host/pool.h"

typedef struct pw_fetch pw_fetch_t;
typedef struct pw_fetch_policy pw_fetch_policy_t;

int pw_fetch_create(uv_loop_t *loop, pw_fetch_t **out);
/* Aborts fetches still running (their isolates get no answer) and frees. */
void pw_fetch_free(pw_fetch_t *fetch);
/* Sets the total time a fetch may take, redirects included (default 30 s). */
void pw_fetch_set_timeout(pw_fetch_t *fetch, unsigned timeout_ms);

/* The policy of a network service (NULL: nothing is allowed). Returns 0, or -1 with a
 * message in err (an allow/deny entry that is neither a known name nor a CIDR). */
int pw_fetch_policy_create(const pw_service_t *network, pw_fetch_policy_t **out, char *err,
                           size_t err_len);
void pw_fetch_policy_free(pw_fetch_policy_t *policy);
/* 1 when the policy allows connecting to addr, else 0. */
int pw_fetch_policy_allows(const pw_fetch_policy_t *policy, const struct sockaddr *addr);

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
/* Stops a transfer at once: its connection is closed, done() is never called. */
void pw_fetch_abort(pw_fetch_transfer_t *transfer);

/* Starts a fetch for RPC call `id` of port. args: url, method, headers ("name\nvalue\n"...),
 * body, redirect mode ("follow", "manual", "error"). The answer fields: "", status, headers,
 * body, final url, "1" when redirected; or an error name and message. Copies what it keeps.
 * The fetch watches the port: when the isolate dies first, the transfer is aborted. */
void pw_fetch_start(pw_fetch_t *fetch, const pw_fetch_policy_t *policy, pw_port_t *port,
                    uint32_t id, const pw_bytes_t *args, size_t n);

#endif
