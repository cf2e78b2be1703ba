/* address.c — socket address parsing for listeners (host process). "*" means every IPv4
 * interface; names are resolved once, at start, with getaddrinfo.
 */
#include "http/address.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int split_host_port(const char *address, int default_port, char *host, size_t host_len,
                           int *port)
{
    const char *colon;
    if (address[0] == '[') {
        const char *end = strchr(address, ']');
        if (!end || (size_t)(end - address - 1) >= host_len)
            return -1;
        memcpy(host, address + 1, (size_t)(end - address - 1));
        host[end - address - 1] = '\0';
        colon = end[1] == ':' ? end + 1 : NULL;
        if (end[1] && !colon)
            return -1;
    } else {
        colon = strrchr(address, ':');
        size_t n = colon ? (size_t)(colon - address) : strlen(address);
        if (n >= host_len)
            return -1;
        memcpy(host, address, n);
        host[n] = '\0';
    }
    *port = default_port;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || p < 0 || p > 65535)
            return -1;
        *port = (int)p;
    }
    return host[0] ? 0 : -1;
}

int pw_address_parse(const char *address, int default_port, struct sockaddr_storage *out,
                     char *err, size_t err_len)
{
    char host[256], port_text[8];
    int port;
    if (split_host_port(address, default_port, host, sizeof host, &port) < 0) {
        snprintf(err, err_len, "invalid socket address \"%s\" (expected host:port, *:port or [v6]:port)", address);
        return -1;
    }
    snprintf(port_text, sizeof port_text, "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(strcmp(host, "*") == 0 ? "0.0.0.0" : host, port_text, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, err_len, "cannot resolve socket address \"%s\": %s", address, gai_strerror(rc));
        return -1;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}
