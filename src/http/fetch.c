/* fetch.c — outbound HTTP with libcurl multi on the host's libuv loop (host process; see
 * fetch.h). curl tells us which sockets to watch (uv_poll) and when to call it back (one
 * uv_timer); each finished transfer calls its done(). The policy check
 * (http/fetch_policy.h) runs in curl's open-socket callback, i.e. on the resolved address of
 * every connection, so a DNS name or a redirect cannot reach a denied network.
 * Invariant: a transfer ends exactly once: done() then freed, or aborted (a worker's fetch is
 * aborted when its isolate dies) and freed without a callback.
 */
#include "http/fetch.h"
#include "wire/header_lines.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
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

/* ---- transfers ---- */

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
static void set_tls(CURL *e, const pw_fetch_tls_t *tls)
{
    static const long min_versions[] = {
        [PW_FETCH_TLS_MIN_DEFAULT] = CURL_SSLVERSION_DEFAULT,
        [PW_FETCH_TLS_MIN_1_0] = CURL_SSLVERSION_TLSv1_0, [PW_FETCH_TLS_MIN_1_1] = CURL_SSLVERSION_TLSv1_1,
        [PW_FETCH_TLS_MIN_1_2] = CURL_SSLVERSION_TLSv1_2, [PW_FETCH_TLS_MIN_1_3] = CURL_SSLVERSION_TLSv1_3,
    };
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, min_versions[tls->min_version]);
    if (!tls->trust_system) {
        curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    if (tls->trusted_pem) {
        struct curl_blob blob = { .data = (void *)tls->trusted_pem, .len = strlen(tls->trusted_pem),
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
        static const pw_fetch_tls_t system_cas = { .trust_system = 1 };
        set_tls(e, t->policy ? pw_fetch_policy_tls(t->policy) : &system_cas);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t->fetch->timeout_ms);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->req_headers);
        curl_easy_setopt(e, CURLOPT_USERAGENT, NULL);
        int follow = a[4].len == 0 || pw_bytes_is(a[4], "follow");
        t->redirect_error = pw_bytes_is(a[4], "error");
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

static int multi_ready(pw_fetch_t *fetch);

static transfer_t *transfer_new(pw_fetch_t *fetch, const pw_fetch_policy_t *policy,
                                pw_fetch_done_cb done, void *arg)
{
    if (multi_ready(fetch) < 0)
        return NULL;
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

int pw_fetch_send(pw_fetch_t *fetch, const pw_fetch_policy_t *policy, const pw_fetch_args_t *args,
                  pw_fetch_done_cb done, void *arg, pw_fetch_transfer_t **out)
{
    transfer_t *t = transfer_new(fetch, policy, done, arg);
    if (!t)
        return -ENOMEM;
    pw_bytes_t a[5] = { args->url, args->method, args->header_lines, args->body, args->redirect };
    int rc = configure(t, a);
    if (rc == 0 && curl_multi_add_handle(fetch->multi, t->easy) != CURLM_OK)
        rc = -EIO;
    if (rc < 0) {
        transfer_free(t);
        return rc == -2 ? -EPROTONOSUPPORT : rc == -1 ? -EINVAL : rc;
    }
    *out = t;
    return 0;
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void curl_start(void)
{
    curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* The multi handle is made at the first transfer, not with the client: that first call
 * loads libcurl (http/curl_lazy.c), which a server that never fetches never maps. */
static int multi_ready(pw_fetch_t *fetch)
{
    if (fetch->multi)
        return 0;
    pthread_once(&curl_once, curl_start);
    if (!curl_ready || !(fetch->multi = curl_multi_init()))
        return -EIO;
    curl_multi_setopt(fetch->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(fetch->multi, CURLMOPT_SOCKETDATA, fetch);
    curl_multi_setopt(fetch->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(fetch->multi, CURLMOPT_TIMERDATA, fetch);
    return 0;
}

int pw_fetch_create(uv_loop_t *loop, pw_fetch_t **out)
{
    pw_fetch_t *fetch = calloc(1, sizeof *fetch);
    if (!fetch)
        return -ENOMEM;
    fetch->loop = loop;
    fetch->timeout_ms = DEFAULT_TIMEOUT_MS;
    uv_timer_init(loop, &fetch->timer);
    fetch->timer.data = fetch;
    uv_unref((uv_handle_t *)&fetch->timer);
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
    if (fetch->multi)
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
