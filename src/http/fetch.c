/* fetch.c — outbound fetch() with libcurl multi on the host's libuv loop (host process;
 * see fetch.h). curl tells us which sockets to watch (uv_poll) and when to call it back
 * (one uv_timer); each finished transfer is answered through its isolate's port. The
 * policy check runs in curl's open-socket callback, i.e. on the resolved address of every
 * connection, so a DNS name or a redirect cannot reach a denied network.
 * Invariant: a transfer ends exactly once: done() then freed, or aborted (a worker's fetch is
 * aborted when its isolate dies) and freed without a callback.
 */
#include "http/fetch.h"
#include "base/log.h"
#include "wire/header_lines.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 30000
#define MAX_RESPONSE_BODY (32u * 1024 * 1024)
#define MAX_REDIRECTS 20

struct pw_fetch {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    unsigned timeout_ms;
};

typedef struct {
    uv_poll_t poll;
    curl_socket_t fd;
    pw_fetch_t *fetch;
} sock_t;

struct pw_fetch_transfer {
    pw_fetch_t *fetch;
    const pw_fetch_policy_t *policy;    /* NULL: any address (the host's own requests) */
    pw_fetch_done_cb done;
    void *done_arg;
    CURL *easy;
    struct curl_slist *req_headers;
    pw_buf_t headers;           /* "name\nvalue\n"... of the last response */
    pw_buf_t body;
    int denied;                 /* the policy refused an address */
    int too_large;
    int redirect_error;
    char error[CURL_ERROR_SIZE];
};
typedef struct pw_fetch_transfer transfer_t;

/* A worker's fetch(): the transfer and the RPC call it answers. */
typedef struct {
    pw_port_watch_t watch;      /* first: gone() gets this pointer */
    pw_port_t *port;
    uint32_t id;
    transfer_t *transfer;
} port_fetch_t;

/* ---- network policy ---- */

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
    pw_tls_client_t tls;        /* trusted_pem owned (the config may be reloaded) */
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

static int parse_rules(char **list, size_t n, rule_t **out, const char *svc, char *err, size_t err_len)
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

int pw_fetch_policy_create(const pw_service_t *network, pw_fetch_policy_t **out, char *err,
                           size_t err_len)
{
    pw_fetch_policy_t *p = calloc(1, sizeof *p);
    *out = p;
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (!network || network->kind != PW_SERVICE_NETWORK)
        return 0;
    p->tls = network->network_tls;
    p->tls.trusted_pem = NULL;
    if (network->network_tls.trusted_pem && !(p->tls.trusted_pem = strdup(network->network_tls.trusted_pem))) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    p->n_allow = network->n_network_allow;
    p->n_deny = network->n_network_deny;
    if (parse_rules(network->network_allow, p->n_allow, &p->allow, network->name, err, err_len) < 0 ||
        parse_rules(network->network_deny, p->n_deny, &p->deny, network->name, err, err_len) < 0)
        return -1;
    return 0;
}

void pw_fetch_policy_free(pw_fetch_policy_t *policy)
{
    if (!policy)
        return;
    free(policy->allow);
    free(policy->deny);
    free(policy->tls.trusted_pem);
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
    if (r->family == 0)
        return (r->cls & CLS_NETWORK) || (r->cls & cls);
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

/* ---- transfers ---- */

static pw_bytes_t S(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static void transfer_free(transfer_t *t)
{
    if (t->easy) {
        curl_multi_remove_handle(t->fetch->multi, t->easy);
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->req_headers);
    pw_buf_free(&t->headers);
    pw_buf_free(&t->body);
    free(t);
}

void pw_fetch_abort(pw_fetch_transfer_t *t)
{
    transfer_free(t);
}

static pw_bytes_t buf_bytes(const pw_buf_t *b)
{
    return (pw_bytes_t){ b->data ? b->data : (const uint8_t *)"", b->len };
}

/* Calls done() with what the transfer ended with, then frees it. */
static void transfer_finish(transfer_t *t, CURLcode code)
{
    char msg[CURL_ERROR_SIZE + 256];
    pw_fetch_result_t r = { .error = msg };
    if (t->denied) {
        snprintf(msg, sizeof msg, "Network connection lost: fetch() to this address is not "
                 "allowed by the worker's globalOutbound network service (allow/deny).");
    } else if (t->too_large) {
        snprintf(msg, sizeof msg, "fetch(): the response body is larger than 32 MiB.");
    } else if (code == CURLE_TOO_MANY_REDIRECTS) {
        snprintf(msg, sizeof msg, "fetch(): too many redirects.");
    } else if (code != CURLE_OK) {
        snprintf(msg, sizeof msg, "fetch() failed: %s%s%s", curl_easy_strerror(code),
                 t->error[0] ? ": " : "", t->error);
    } else {
        long redirects = 0;
        char *url = NULL;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_COUNT, &redirects);
        curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url);
        if (t->redirect_error && r.status >= 300 && r.status < 400) {
            snprintf(msg, sizeof msg, "fetch(): the response is a redirect and redirect is \"error\".");
        } else {
            r.error = NULL;
            r.headers = buf_bytes(&t->headers);
            r.body = buf_bytes(&t->body);
            r.url = url ? url : "";
            r.redirected = redirects != 0;
        }
    }
    t->done(t->done_arg, &r);
    transfer_free(t);
}

static void check_done(pw_fetch_t *fetch)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(fetch->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        transfer_t *t;
        CURLcode code = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        transfer_finish(t, code);
    }
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    transfer_t *t = arg;
    size_t len = size * n;
    if (t->body.len + len > MAX_RESPONSE_BODY) {
        t->too_large = 1;
        return 0;
    }
    return pw_buf_append(&t->body, data, len) == 0 ? len : 0;
}

/* Keeps the headers of the last response only (redirects and 1xx come first). */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    transfer_t *t = arg;
    size_t len = size * n, end = len;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        t->headers.len = 0;
        t->body.len = 0;
        return len;
    }
    while (end > 0 && (data[end - 1] == '\r' || data[end - 1] == '\n'))
        end--;
    char *colon = memchr(data, ':', end);
    if (!colon || colon == data)
        return len;
    size_t name_len = (size_t)(colon - data);
    const char *value = colon + 1;
    while (value < data + end && (*value == ' ' || *value == '\t'))
        value++;
    pw_buf_append(&t->headers, data, name_len);
    pw_buf_append(&t->headers, "\n", 1);
    pw_buf_append(&t->headers, value, (size_t)(data + end - value));
    pw_buf_append(&t->headers, "\n", 1);
    return len;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    transfer_t *t = arg;
    if (t->policy && !pw_fetch_policy_allows(t->policy, &address->addr)) {
        t->denied = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static char *dup_bytes(pw_bytes_t b)
{
    char *s = malloc(b.len + 1);
    if (s) {
        memcpy(s, b.base, b.len);
        s[b.len] = '\0';
    }
    return s;
}

/* "name\nvalue\n"... (checked: wire/header_lines.h) -> curl's "name: value" list; an empty
 * value is written "name;", curl's way of sending it empty. */
static int set_request_headers(transfer_t *t, pw_bytes_t lines)
{
    pw_header_t hd;
    int rc;
    while ((rc = pw_header_lines_next(&lines, &hd)) == 1) {
        size_t nlen = hd.name.len, vlen = hd.value.len;
        char *h = malloc(nlen + vlen + 3);
        if (!h)
            return -1;
        memcpy(h, hd.name.base, nlen);
        memcpy(h + nlen, vlen ? ": " : ";", vlen ? 2 : 1);
        memcpy(h + nlen + (vlen ? 2 : 1), hd.value.base, vlen);
        h[nlen + (vlen ? 2 : 1) + vlen] = '\0';
        struct curl_slist *l = curl_slist_append(t->req_headers, h);
        free(h);
        if (!l)
            return -1;
        t->req_headers = l;
    }
    if (rc < 0)
        return -1;
    /* curl would add these on its own; fetch() sends what the worker gave. */
    struct curl_slist *l = curl_slist_append(t->req_headers, "Expect:");
    if (l)
        t->req_headers = l;
    return l ? 0 : -1;
}

/* Verification always on; which CAs are trusted is the network service's tlsOptions. */
static void set_tls(CURL *e, const pw_tls_client_t *tls)
{
    static const long min_versions[] = {
        [PW_TLS_MIN_DEFAULT] = CURL_SSLVERSION_DEFAULT, [PW_TLS_MIN_1_0] = CURL_SSLVERSION_TLSv1_0,
        [PW_TLS_MIN_1_1] = CURL_SSLVERSION_TLSv1_1, [PW_TLS_MIN_1_2] = CURL_SSLVERSION_TLSv1_2,
        [PW_TLS_MIN_1_3] = CURL_SSLVERSION_TLSv1_3,
    };
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, min_versions[tls->min_version]);
    if (!tls->trust_system) {
        curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    if (tls->trusted_pem) {
        struct curl_blob blob = { .data = tls->trusted_pem, .len = strlen(tls->trusted_pem),
                                  .flags = CURL_BLOB_NOCOPY };
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    }
}

static int configure(transfer_t *t, const pw_bytes_t *a)
{
    CURL *e = t->easy;
    char *url = dup_bytes(a[0]), *method = dup_bytes(a[1]);
    int rc = url && method ? 0 : -1;
    if (rc == 0 && (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        rc = -2;
    if (rc == 0 && (!pw_http_token_ok(a[1]) || memchr(a[0].base, '\0', a[0].len)))
        rc = -1;    /* a method that is no token could split the request line */
    if (rc == 0 && set_request_headers(t, a[2]) < 0)
        rc = -1;
    if (rc == 0) {
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_PRIVATE, t);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        static const pw_tls_client_t system_cas = { .trust_system = 1 };
        set_tls(e, t->policy ? &t->policy->tls : &system_cas);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t->fetch->timeout_ms);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->req_headers);
        curl_easy_setopt(e, CURLOPT_USERAGENT, NULL);
        int follow = a[4].len == 0 || (a[4].len == 6 && memcmp(a[4].base, "follow", 6) == 0);
        t->redirect_error = a[4].len == 5 && memcmp(a[4].base, "error", 5) == 0;
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
        curl_easy_setopt(e, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_301 | CURL_REDIR_POST_302);
        if (strcmp(method, "HEAD") == 0) {
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        } else if (strcmp(method, "GET") != 0 || a[3].len) {
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a[3].len);
            curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, a[3].len ? (const char *)a[3].base : "");
        }
    }
    free(url);
    free(method);
    return rc;
}

static transfer_t *transfer_new(pw_fetch_t *fetch, const pw_fetch_policy_t *policy,
                                pw_fetch_done_cb done, void *arg)
{
    transfer_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fetch = fetch;
    t->policy = policy;
    t->done = done;
    t->done_arg = arg;
    pw_buf_init(&t->headers);
    pw_buf_init(&t->body);
    if (!(t->easy = curl_easy_init())) {
        free(t);
        return NULL;
    }
    return t;
}

pw_fetch_transfer_t *pw_fetch_request(pw_fetch_t *fetch, const char *url, const char *method,
                                      pw_bytes_t header_lines, pw_bytes_t body,
                                      pw_fetch_done_cb done, void *arg)
{
    transfer_t *t = transfer_new(fetch, NULL, done, arg);
    if (!t)
        return NULL;
    pw_bytes_t a[5] = { { (const uint8_t *)url, strlen(url) },
                        { (const uint8_t *)method, strlen(method) }, header_lines, body,
                        { (const uint8_t *)"manual", 6 } };
    if (configure(t, a) < 0 || curl_multi_add_handle(fetch->multi, t->easy) != CURLM_OK) {
        transfer_free(t);
        return NULL;
    }
    return t;
}

static void port_fetch_reply_error(pw_port_t *port, uint32_t id, const char *msg)
{
    pw_bytes_t f[2] = { S("TypeError"), S(msg) };
    pw_port_reply(port, id, f, 2);
}

static void port_fetch_done(void *arg, const pw_fetch_result_t *r)
{
    port_fetch_t *pf = arg;
    if (r->error) {
        port_fetch_reply_error(pf->port, pf->id, r->error);
    } else {
        char st[16];
        snprintf(st, sizeof st, "%ld", r->status);
        pw_bytes_t f[6] = { S(""), S(st), r->headers, r->body, S(r->url),
                            S(r->redirected ? "1" : "") };
        pw_port_reply(pf->port, pf->id, f, 6);
    }
    pw_port_unwatch(pf->port, &pf->watch);
    free(pf);
}

/* The isolate died: the transfer stops now (curl closes its connection). */
static void port_fetch_gone(pw_port_watch_t *watch)
{
    port_fetch_t *pf = (port_fetch_t *)watch;
    pw_fetch_abort(pf->transfer);
    pw_port_unwatch(pf->port, &pf->watch);
    free(pf);
}

void pw_fetch_start(pw_fetch_t *fetch, const pw_fetch_policy_t *policy, pw_port_t *port,
                    uint32_t id, const pw_bytes_t *args, size_t n)
{
    port_fetch_t *pf = calloc(1, sizeof *pf);
    transfer_t *t = pf ? transfer_new(fetch, policy, port_fetch_done, pf) : NULL;
    if (!t) {
        free(pf);
        pw_bytes_t f[2] = { S("Error"), S("out of memory") };
        pw_port_reply(port, id, f, 2);
        return;
    }
    pf->port = port;
    pf->id = id;
    pf->transfer = t;
    int rc = n == 5 ? configure(t, args) : -1;
    if (rc == -2)
        port_fetch_reply_error(port, id, "Fetch API cannot load: the URL must start with http:// or https://.");
    else if (rc < 0)
        port_fetch_reply_error(port, id, "fetch(): invalid request (headers or arguments).");
    else if (curl_multi_add_handle(fetch->multi, t->easy) != CURLM_OK)
        port_fetch_reply_error(port, id, "fetch(): cannot start the transfer.");
    else {
        pw_port_watch(port, &pf->watch, port_fetch_gone);
        return;
    }
    transfer_free(t);
    free(pf);
}

/* ---- curl multi on libuv ---- */

static void on_poll(uv_poll_t *poll, int status, int events)
{
    sock_t *s = poll->data;
    int flags = status < 0 ? CURL_CSELECT_ERR
                           : (events & UV_READABLE ? CURL_CSELECT_IN : 0) |
                             (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
    int running;
    pw_fetch_t *fetch = s->fetch;
    curl_multi_socket_action(fetch->multi, s->fd, flags, &running);
    check_done(fetch);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sock_arg)
{
    pw_fetch_t *fetch = arg;
    sock_t *s = sock_arg;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, (uv_close_cb)free);
            curl_multi_assign(fetch->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || uv_poll_init_socket(fetch->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->fetch = fetch;
        s->poll.data = s;
        curl_multi_assign(fetch->multi, fd, s);
    }
    int events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *timer)
{
    pw_fetch_t *fetch = timer->data;
    int running;
    curl_multi_socket_action(fetch->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(fetch);
}

static int on_timer(CURLM *multi, long timeout_ms, void *arg)
{
    pw_fetch_t *fetch = arg;
    if (timeout_ms < 0)
        uv_timer_stop(&fetch->timer);
    else
        uv_timer_start(&fetch->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

int pw_fetch_create(uv_loop_t *loop, pw_fetch_t **out)
{
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -EIO;
        curl_ready = 1;
    }
    pw_fetch_t *fetch = calloc(1, sizeof *fetch);
    if (!fetch || !(fetch->multi = curl_multi_init())) {
        free(fetch);
        return -ENOMEM;
    }
    fetch->loop = loop;
    fetch->timeout_ms = DEFAULT_TIMEOUT_MS;
    uv_timer_init(loop, &fetch->timer);
    fetch->timer.data = fetch;
    uv_unref((uv_handle_t *)&fetch->timer);
    curl_multi_setopt(fetch->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(fetch->multi, CURLMOPT_SOCKETDATA, fetch);
    curl_multi_setopt(fetch->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(fetch->multi, CURLMOPT_TIMERDATA, fetch);
    *out = fetch;
    return 0;
}

void pw_fetch_set_timeout(pw_fetch_t *fetch, unsigned timeout_ms)
{
    fetch->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
}

static void on_fetch_closed(uv_handle_t *handle)
{
    pw_fetch_t *fetch = handle->data;
    curl_multi_cleanup(fetch->multi);
    free(fetch);
}

void pw_fetch_free(pw_fetch_t *fetch)
{
    if (!fetch)
        return;
    /* transfers still running are left to the process exit: their isolates are gone */
    uv_timer_stop(&fetch->timer);
    uv_close((uv_handle_t *)&fetch->timer, on_fetch_closed);
}
