/* outbound_policy.c — a worker's globalOutbound rules as a fetch policy (host process; see
 * outbound_policy.h). */
#include "host/outbound_policy.h"

/* The rules of a network service, as the policy takes them. */
static pw_fetch_rules_t rules_of(const pw_service_t *net)
{
    static const pw_fetch_tls_min_t min_versions[] = {
        [PW_TLS_MIN_DEFAULT] = PW_FETCH_TLS_MIN_DEFAULT, [PW_TLS_MIN_1_0] = PW_FETCH_TLS_MIN_1_0,
        [PW_TLS_MIN_1_1] = PW_FETCH_TLS_MIN_1_1, [PW_TLS_MIN_1_2] = PW_FETCH_TLS_MIN_1_2,
        [PW_TLS_MIN_1_3] = PW_FETCH_TLS_MIN_1_3,
    };
    return (pw_fetch_rules_t){
        .name = net->name, .allow = net->network_allow, .n_allow = net->n_network_allow,
        .deny = net->network_deny, .n_deny = net->n_network_deny,
        .tls = { .trust_system = net->network_tls.trust_system,
                 .trusted_pem = net->network_tls.trusted_pem,
                 .min_version = min_versions[net->network_tls.min_version] },
    };
}

int pw_outbound_policy_create(const pw_config_t *config, const pw_service_t *service,
                              pw_fetch_policy_t **out, char *err, size_t err_len)
{
    const pw_service_t *net = pw_config_service(config, service->worker.global_outbound);
    pw_fetch_rules_t rules, *network = NULL;
    if (net && net->kind == PW_SERVICE_NETWORK) {
        rules = rules_of(net);
        network = &rules;
    }
    return pw_fetch_policy_create(network, out, err, err_len);
}
