/* fetch_policy.h — where outbound fetch() may connect, and how it trusts TLS servers (host
 * process): workerd's `network` service as plain data (allow/deny lists of "public",
 * "private", "local", "network" and CIDRs; tlsOptions), checked by http/fetch.c on the
 * resolved address of every connection, redirects included. The host fills the rules from
 * its config (host/binding_fetch.c); nothing here knows the config.
 */
#ifndef PW_FETCH_POLICY_H
#define PW_FETCH_POLICY_H

#include <stddef.h>
#include <sys/socket.h>

typedef enum {
    PW_FETCH_TLS_MIN_DEFAULT, PW_FETCH_TLS_MIN_1_0, PW_FETCH_TLS_MIN_1_1, PW_FETCH_TLS_MIN_1_2,
    PW_FETCH_TLS_MIN_1_3,
} pw_fetch_tls_min_t;

/* How outbound TLS verifies servers. */
typedef struct {
    int trust_system;           /* the system's CA store */
    const char *trusted_pem;    /* more trusted CAs, concatenated PEM; NULL when none */
    pw_fetch_tls_min_t min_version;
} pw_fetch_tls_t;

typedef struct {
    const char *name;           /* the network service's, for messages */
    char *const *allow;
    size_t n_allow;
    char *const *deny;
    size_t n_deny;
    pw_fetch_tls_t tls;
} pw_fetch_rules_t;

typedef struct pw_fetch_policy pw_fetch_policy_t;

/* The policy of `rules` (NULL: nothing is allowed), which it copies. Returns 0, or -1 with a
 * message in err (an allow/deny entry that is neither a known name nor a CIDR); *out is set
 * either way and freed with pw_fetch_policy_free. */
int pw_fetch_policy_create(const pw_fetch_rules_t *rules, pw_fetch_policy_t **out, char *err,
                           size_t err_len);
void pw_fetch_policy_free(pw_fetch_policy_t *policy);
/* 1 when the policy allows connecting to addr, else 0. */
int pw_fetch_policy_allows(const pw_fetch_policy_t *policy, const struct sockaddr *addr);
const pw_fetch_tls_t *pw_fetch_policy_tls(const pw_fetch_policy_t *policy);

#endif
