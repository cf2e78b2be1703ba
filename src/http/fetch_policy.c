/* fetch_policy.c — the network rules of outbound fetch() (host process; see fetch_policy.h).
 * Rules are parsed once, when a worker's bindings are set up; pw_fetch_policy_allows() runs
 * in curl's open-socket callback for every connection, so it only compares bytes.
 * Invariant: an address is judged by the host it reaches (an IPv6 form of an IPv4 address is
 * judged as that IPv4 address), and deny wins over allow.
 */
#include "http/fetch_policy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int family;                 /* AF_INET / AF_INET6; 0: a named class */
    uint8_t addr[16];
    unsigned bits;
    int cls;                    /* CLS_* when family == 0 */
} rule_t;

enum { CLS_PUBLIC = 1, CLS_PRIVATE = 2, CLS_LOCAL = 4, CLS_NETWORK = 8 };

struct pw_fetch_policy {
    rule_t *allow, *deny;
    size_t n_allow, n_deny;
    pw_fetch_tls_t tls;         /* trusted_pem owned (the config may be reloaded) */
};

static int parse_rule(const char *text, rule_t *r)
{
    static const struct { const char *name; int cls; } names[] = {
        { "public", CLS_PUBLIC }, { "private", CLS_PRIVATE }, { "local", CLS_LOCAL },
        { "network", CLS_NETWORK }, { "unix", 0 }, { "unix-abstract", 0 },
    };
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i].name) == 0) {
            r->cls = names[i].cls;
            return 0;
        }
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    if (len >= sizeof addr)
        return -1;
    memcpy(addr, text, len);
    addr[len] = '\0';
    r->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(r->family, addr, r->addr) != 1)
        return -1;
    unsigned max = r->family == AF_INET ? 32 : 128;
    char *end;
    r->bits = slash ? (unsigned)strtoul(slash + 1, &end, 10) : max;
    if ((slash && (*end || end == slash + 1)) || r->bits > max)
        return -1;
    return 0;
}

static int parse_rules(char *const *list, size_t n, rule_t **out, const char *svc, char *err, size_t err_len)
{
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (parse_rule(list[i], &(*out)[i]) < 0) {
            snprintf(err, err_len, "service %s: network rule \"%s\" is neither public, private, "
                     "local, network, unix, unix-abstract nor a CIDR", svc, list[i]);
            return -1;
        }
    return 0;
}

int pw_fetch_policy_create(const pw_fetch_rules_t *rules, pw_fetch_policy_t **out, char *err,
                           size_t err_len)
{
    pw_fetch_policy_t *p = calloc(1, sizeof *p);
    *out = p;
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (!rules)
        return 0;
    p->tls = rules->tls;
    p->tls.trusted_pem = NULL;
    if (rules->tls.trusted_pem && !(p->tls.trusted_pem = strdup(rules->tls.trusted_pem))) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    p->n_allow = rules->n_allow;
    p->n_deny = rules->n_deny;
    if (parse_rules(rules->allow, p->n_allow, &p->allow, rules->name, err, err_len) < 0 ||
        parse_rules(rules->deny, p->n_deny, &p->deny, rules->name, err, err_len) < 0)
        return -1;
    return 0;
}

const pw_fetch_tls_t *pw_fetch_policy_tls(const pw_fetch_policy_t *policy)
{
    return &policy->tls;
}

void pw_fetch_policy_free(pw_fetch_policy_t *policy)
{
    if (!policy)
        return;
    free(policy->allow);
    free(policy->deny);
    free((char *)policy->tls.trusted_pem);
    free(policy);
}

static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

static int in_cidr(const uint8_t *ip, int family, const char *cidr)
{
    rule_t r;
    return parse_rule(cidr, &r) == 0 && r.family == family && prefix_match(ip, r.addr, r.bits);
}

/* The class of an address: local (loopback), private (RFC 1918, link-local, CGNAT, ULA) or
 * public. IPv6 addresses that carry an IPv4 one (carries_ipv4) are classed as it. */
static int address_class(int family, const uint8_t *ip)
{
    static const char *const local4[] = { "127.0.0.0/8", "0.0.0.0/8", NULL };
    static const char *const private4[] = { "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                            "169.254.0.0/16", "100.64.0.0/10", NULL };
    static const char *const local6[] = { "::1/128", "::/128", NULL };
    static const char *const private6[] = { "fc00::/7", "fe80::/10", NULL };
    const char *const *local = family == AF_INET ? local4 : local6;
    const char *const *priv = family == AF_INET ? private4 : private6;
    for (; *local; local++)
        if (in_cidr(ip, family, *local))
            return CLS_LOCAL;
    for (; *priv; priv++)
        if (in_cidr(ip, family, *priv))
            return CLS_PRIVATE;
    return CLS_PUBLIC;
}

static int rule_matches(const rule_t *r, int family, const uint8_t *ip, int cls)
{
    if (r->family == 0)     /* "private" is a superset of "local" (workerd.capnp) */
        return (r->cls & CLS_NETWORK) || (r->cls & cls) || ((r->cls & CLS_PRIVATE) && cls == CLS_LOCAL);
    return r->family == family && prefix_match(ip, r->addr, r->bits);
}

static int rules_match(const rule_t *rules, size_t n, int family, const uint8_t *ip, int cls)
{
    for (size_t i = 0; i < n; i++)
        if (rule_matches(&rules[i], family, ip, cls))
            return 1;
    return 0;
}

/* An IPv6 address that carries an IPv4 one in its last 32 bits, and reaches that IPv4
 * host: IPv4-mapped (::ffff:a.b.c.d), the NAT64 well-known prefix (64:ff9b::a.b.c.d, RFC
 * 6052) and the deprecated IPv4-compatible form (::a.b.c.d; not :: and ::1 themselves). */
static int carries_ipv4(const uint8_t *a6)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t zeros[12] = { 0 };
    if (memcmp(a6, mapped, 12) == 0 || memcmp(a6, nat64, 12) == 0)
        return 1;
    return memcmp(a6, zeros, 12) == 0 && (a6[12] | a6[13] | a6[14] || a6[15] > 1);
}

int pw_fetch_policy_allows(const pw_fetch_policy_t *policy, const struct sockaddr *addr)
{
    uint8_t ip[16];
    int family = addr->sa_family;
    if (family == AF_INET) {
        memcpy(ip, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    } else if (family == AF_INET6) {
        const uint8_t *a6 = (const uint8_t *)&((const struct sockaddr_in6 *)addr)->sin6_addr;
        if (carries_ipv4(a6)) {
            family = AF_INET;       /* judged, and matched by rules, as the IPv4 it reaches */
            memcpy(ip, a6 + 12, 4);
        } else {
            memcpy(ip, a6, 16);
        }
    } else {
        return 0;
    }
    int cls = address_class(family, ip);
    return rules_match(policy->allow, policy->n_allow, family, ip, cls) &&
           !rules_match(policy->deny, policy->n_deny, family, ip, cls);
}
