/* test_fetch_policy.c — fetch()'s network rules (http/fetch_policy.c): the class of an address
 * (local, private, public) and IPv6 forms that reach an IPv4 host, which are judged as the
 * IPv4 address they carry (IPv4-mapped, NAT64 64:ff9b::/96, IPv4-compatible ::a.b.c.d). */
#include "unit.h"
#include "http/fetch_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static pw_fetch_policy_t *policy_of(char **allow, size_t n_allow, char **deny, size_t n_deny)
{
    pw_fetch_rules_t network = { .name = "internet", .allow = allow, .n_allow = n_allow,
                                 .deny = deny, .n_deny = n_deny };
    pw_fetch_policy_t *policy = NULL;
    char err[256];
    CHECK(pw_fetch_policy_create(&network, &policy, err, sizeof err) == 0);
    return policy;
}

static int allows(const pw_fetch_policy_t *policy, const char *text)
{
    struct sockaddr_in in4 = { .sin_family = AF_INET };
    struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
    if (inet_pton(AF_INET, text, &in4.sin_addr) == 1)
        return pw_fetch_policy_allows(policy, (struct sockaddr *)&in4);
    CHECK(inet_pton(AF_INET6, text, &in6.sin6_addr) == 1);
    return pw_fetch_policy_allows(policy, (struct sockaddr *)&in6);
}

TEST(public_only_refuses_local_and_private_addresses)
{
    char *allow[] = { "public" };
    pw_fetch_policy_t *p = policy_of(allow, 1, NULL, 0);
    CHECK(allows(p, "93.184.216.34"));
    CHECK(allows(p, "2606:2800:220:1::1"));
    CHECK(!allows(p, "127.0.0.1"));
    CHECK(!allows(p, "10.1.2.3"));
    CHECK(!allows(p, "169.254.169.254"));
    CHECK(!allows(p, "::1"));
    CHECK(!allows(p, "fd00::1"));
    pw_fetch_policy_free(p);
}

/* workerd.capnp: "private" is a superset of "local" (workerd's own sockets test connects to
 * 127.x with allow = ["private"]). */
TEST(private_includes_local_addresses)
{
    char *allow[] = { "private" };
    pw_fetch_policy_t *p = policy_of(allow, 1, NULL, 0);
    CHECK(allows(p, "127.0.0.1"));
    CHECK(allows(p, "::1"));
    CHECK(allows(p, "10.1.2.3"));
    CHECK(!allows(p, "93.184.216.34"));
    pw_fetch_policy_free(p);
}

TEST(ipv6_forms_of_an_ipv4_address_are_judged_as_it)
{
    char *allow[] = { "public" };
    pw_fetch_policy_t *p = policy_of(allow, 1, NULL, 0);
    const char *const hidden_local[] = {
        "::ffff:127.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::7f00:1", "::127.0.0.1",
        "::ffff:10.0.0.1", "64:ff9b::10.0.0.1", "::10.0.0.1", "64:ff9b::169.254.169.254",
        "::192.168.1.1",
    };
    for (size_t i = 0; i < sizeof hidden_local / sizeof hidden_local[0]; i++) {
        if (allows(p, hidden_local[i]))
            fprintf(stderr, "  allowed: %s\n", hidden_local[i]);
        CHECK(!allows(p, hidden_local[i]));
    }
    CHECK(allows(p, "64:ff9b::93.184.216.34"));     /* a public host through NAT64 */
    CHECK(allows(p, "::ffff:93.184.216.34"));
    pw_fetch_policy_free(p);
}

TEST(cidr_rules_match_the_carried_ipv4_address)
{
    char *allow[] = { "public", "local" };
    char *deny[] = { "127.0.0.0/8" };
    pw_fetch_policy_t *p = policy_of(allow, 2, deny, 1);
    CHECK(!allows(p, "127.0.0.1"));
    CHECK(!allows(p, "64:ff9b::127.0.0.1"));
    CHECK(!allows(p, "::127.0.0.1"));
    CHECK(allows(p, "::1"));                        /* loopback, but not 127/8 */
    pw_fetch_policy_free(p);
}

int main(void)
{
    RUN(public_only_refuses_local_and_private_addresses);
    RUN(private_includes_local_addresses);
    RUN(ipv6_forms_of_an_ipv4_address_are_judged_as_it);
    RUN(cidr_rules_match_the_carried_ipv4_address);
    return UNIT_DONE();
}
