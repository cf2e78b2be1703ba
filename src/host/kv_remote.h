/* kv_remote.h — KV namespaces served by another service (host process): a `kvNamespace`
 * binding naming a worker or an `external` service. This is the host's half of the HTTP
 * backend (storage/kv_http_backend.h): its transports. A request goes into the worker's pool
 * as a fetch() call (no network hop), or with libcurl to the external address.
 */
#ifndef PW_KV_REMOTE_H
#define PW_KV_REMOTE_H

#include "host/binding.h"
#include "storage/kv_backend.h"

/* The backend of a namespace held by `service` (a worker: its pool found through lookup at
 * each request; else an external service, reached with fetch). Returns 0 or -ENOMEM. */
int pw_kv_remote_open(const pw_service_t *service, pw_binding_lookup_cb lookup, void *lookup_arg,
                      pw_fetch_t *fetch, pw_kv_backend_t **out);

#endif
