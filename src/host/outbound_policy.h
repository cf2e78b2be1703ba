/* outbound_policy.h — a worker's outbound network rules (host process): the network service
 * its globalOutbound names (allow/deny, tlsOptions) as an http/fetch_policy.h policy, shared by
 * the kinds that connect out for it: fetch() (binding_fetch.c) and TCP sockets
 * (binding_socket.c), so that both are judged by the same rules.
 */
#ifndef PW_OUTBOUND_POLICY_H
#define PW_OUTBOUND_POLICY_H

#include "config/config.h"
#include "http/fetch_policy.h"

/* The policy of `service`'s globalOutbound (no network service: nothing is allowed). Returns 0,
 * or -1 with a message in err; *out is set either way (pw_fetch_policy_free). */
int pw_outbound_policy_create(const pw_config_t *config, const pw_service_t *service,
                              pw_fetch_policy_t **out, char *err, size_t err_len);

#endif
