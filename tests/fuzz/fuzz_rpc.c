/* fuzz_rpc.c — fuzz target: the host's whole handling of binding calls (host/rpc.c) — every
 * RPC frame an isolate may send, through argument checks, KV on SQLite (in memory), KV over
 * HTTP to a worker and to an external service (storage/kv_http_backend.c, host/kv_remote.c),
 * D1 on SQLite (in memory: statements, batches, exec, dump), service calls, fetch(), R2 on files and SQLite (its jobs run on libuv's pool: the target
 * waits for them after each call), memoryCache (one producer per key, its waiters), static files (host/binding_disk.c,
 * read-only on tests/fuzz), Queues
 * (host/binding_queue.c: sends, whose batches are delivered to the consumer as CALLs answered
 * from the tail) and Workflows (host/binding_workflows.c: binding calls, and step
 * calls of a run in flight — the loop turns after each call, so a created instance's run
 * starts and its CALL is pending) — through the binding-kind table (host/binding.c), with the
 * pool and http/fetch.c's transfers replaced by stubs defined here; binding calls answer
 * through the real port (host/port.c), writing into a buffer the target empties.
 * Input (structure-aware, so mutations reach the handlers rather than break the framing
 * that fuzz_frames covers): calls separated by 0x1d, each call's fields by 0x1e, encoded
 * here as RPC frames; after a 0x1c, the tail. Then the pending subrequests are either
 * answered with the tail's bytes or cancelled by "killing the isolate" (pw_port_close tells
 * the port's watchers); either way, once the isolate is gone, every hold on the port must be
 * released.
 */
#include "fuzz.h"
#include "host/rpc.h"
#include "host/worker_call.h"
#include "http/fetch.h"
#include "http/ws_client.h"
#include "wire/rpc.h"
#include "host/port.h"
#include "host/pool_pin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the host's error log: quiet (what a run logs is expected), FUZZ_LOG=1 shows it ---- */

void __wrap_pw_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void __wrap_pw_log_error(const char *fmt, ...)
{
    const char *on = getenv("FUZZ_LOG");
    if (!on || strcmp(on, "1") != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("pyworkerd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- stubs: pools (service calls and KV to a worker) and fetch transfers ---- */

#define MAX_PENDING 4096
static pw_call_t *calls[MAX_PENDING];
static size_t n_calls;
static pw_fetch_transfer_t *transfers[MAX_PENDING];
static size_t n_transfers;

struct pw_fetch_transfer {
    pw_fetch_done_cb done;
    void *arg;
    int aborted;
};

void pw_pool_submit(pw_pool_t *pool, pw_call_t *call)
{
    if (n_calls == MAX_PENDING) {
        call->state = PW_CALL_DONE;
        call->respond(call, NULL, 503, "busy");     /* answered at once, as a closing pool does */
        return;
    }
    call->state = PW_CALL_QUEUED;
    calls[n_calls++] = call;
}

void pw_pool_cancel(pw_call_t *call)
{
    for (size_t i = 0; i < n_calls; i++)
        if (calls[i] == call)
            calls[i] = NULL;
    call->state = PW_CALL_DONE;
}

void pw_pool_ack(pw_call_t *call, size_t bytes) { (void)call; (void)bytes; }

/* Pins (Durable Objects): a pinned call is queued as any; its pin takes a fake isolate whose
 * port is the current input's, so that the object's own storage calls are accepted. */
static pw_port_t *current_port;
static int fake_isolate;
void pw_pool_pin_init(pw_pool_pin_t *pin, void (*lost)(pw_pool_pin_t *pin))
{
    pin->child = NULL;
    pin->lost = lost;
}
void pw_pool_submit_pinned(pw_pool_t *pool, pw_pool_pin_t *pin, pw_call_t *call)
{
    pin->child = (struct pw_child *)&fake_isolate;
    pw_pool_submit(pool, call);
}
void pw_pool_unpin(pw_pool_pin_t *pin) { pin->child = NULL; }
const pw_port_t *pw_pool_pin_port(const pw_pool_pin_t *pin) { return pin->child ? current_port : NULL; }

int pw_fetch_create(uv_loop_t *loop, pw_fetch_t **out) { *out = (pw_fetch_t *)&n_transfers; return 0; }
void pw_fetch_free(pw_fetch_t *fetch) { (void)fetch; }
void pw_fetch_set_timeout(pw_fetch_t *fetch, unsigned timeout_ms) { (void)fetch; (void)timeout_ms; }
static pw_fetch_transfer_t *transfer_add(pw_fetch_done_cb done, void *arg)
{
    if (n_transfers == MAX_PENDING)
        return NULL;
    pw_fetch_transfer_t *t = calloc(1, sizeof *t);
    t->done = done;
    t->arg = arg;
    transfers[n_transfers++] = t;
    return t;
}

int pw_fetch_send(pw_fetch_t *fetch, const pw_fetch_policy_t *policy, const pw_fetch_args_t *args,
                  pw_fetch_done_cb done, void *arg, pw_fetch_transfer_t **out)
{
    if (args->url.len < 7 || memcmp(args->url.base, "http", 4) != 0)
        return -EPROTONOSUPPORT;
    return (*out = transfer_add(done, arg)) ? 0 : -EIO;
}

pw_fetch_transfer_t *pw_fetch_request(pw_fetch_t *fetch, const char *url, const char *method,
                                      pw_bytes_t header_lines, pw_bytes_t body,
                                      pw_fetch_done_cb done, void *arg)
{
    return strncmp(url, "http://", 7) == 0 ? transfer_add(done, arg) : NULL;
}

void pw_fetch_abort(pw_fetch_transfer_t *t) { t->aborted = 1; }

/* outbound WebSockets (http/ws_client.c): every connection attempt is refused at once */
SSL_CTX *pw_ws_client_tls(const pw_fetch_tls_t *tls) { (void)tls; return NULL; }
int pw_ws_client_connect(uv_loop_t *loop, const pw_fetch_policy_t *policy, SSL_CTX *tls,
                         pw_bytes_t url, pw_bytes_t header_lines, pw_ws_client_cb done, void *arg,
                         pw_ws_client_t **out)
{
    return url.len > 5 && memcmp(url.base, "ws://", 5) == 0 ? -EINVAL : -EPROTONOSUPPORT;
}
void pw_ws_client_abort(pw_ws_client_t *client) { (void)client; }
pw_ws_side_t *pw_ws_conn_side(pw_ws_conn_t *conn) { (void)conn; return NULL; }

/* ---- the config: one worker with every kind of binding rpc.c serves ---- */

static pw_binding_t bindings[] = {
    { .name = "KV", .kind = PW_BINDING_KV, .value = "disk" },
    { .name = "RO", .kind = PW_BINDING_KV, .value = "readonly" },
    { .name = "WKV", .kind = PW_BINDING_KV, .value = "kvworker" },
    { .name = "XKV", .kind = PW_BINDING_KV, .value = "kvext" },
    { .name = "SVC", .kind = PW_BINDING_SERVICE, .value = "kvworker" },
    { .name = "GONE", .kind = PW_BINDING_SERVICE, .value = "stopped" },
    { .name = "T", .kind = PW_BINDING_TEXT, .value = "text" },
    { .name = "WF", .kind = PW_BINDING_WORKFLOW, .value = "main", .entrypoint = "Flow" },
    { .name = "DB", .kind = PW_BINDING_D1, .value = "disk" },
    { .name = "BK", .kind = PW_BINDING_R2, .value = "disk" },
    { .name = "MC", .kind = PW_BINDING_MEMORY_CACHE, .value = "shared",
      .cache_limits = { 2, 64, 100 } },
    { .name = "MC2", .kind = PW_BINDING_MEMORY_CACHE, .value = "",
      .cache_limits = { 0, 0, 0 } },
    { .name = "Q", .kind = PW_BINDING_QUEUE, .value = "jobs" },
    { .name = "ASSETS", .kind = PW_BINDING_DISK, .value = "files" },
    { .name = "BOX", .kind = PW_BINDING_DURABLE_OBJECT, .value = "main", .entrypoint = "Box",
      .unique_key = "fuzz" },
};
static pw_queue_consumer_t consumers[] = {
    { .queue = "jobs", .max_batch_size = 10, .max_retries = 2, .dead_letter_queue = "dlq" },
    { .queue = "dlq", .max_batch_size = 100, .max_retries = 100, .max_concurrency = 1 },
};
static pw_do_namespace_t do_namespaces[] = {
    { .class_name = "Box", .unique_key = "fuzz", .enable_sql = 1, .where = "" },
};
static pw_service_t services[] = {
    { .name = "main", .kind = PW_SERVICE_WORKER,
      .worker = { .bindings = bindings, .n_bindings = sizeof bindings / sizeof bindings[0],
                  .global_outbound = "internet", .do_namespaces = do_namespaces, .n_do_namespaces = 1,
                  .do_storage = PW_DO_STORAGE_MEMORY,
                  .options = { .queue_consumers = consumers, .n_queue_consumers = 2 } } },
    { .name = "disk", .kind = PW_SERVICE_DISK, .disk_path = "kv", .disk_writable = 1 },
    { .name = "readonly", .kind = PW_SERVICE_DISK, .disk_path = "ro" },
    { .name = "kvworker", .kind = PW_SERVICE_WORKER },
    { .name = "stopped", .kind = PW_SERVICE_WORKER },
    { .name = "kvext", .kind = PW_SERVICE_EXTERNAL, .external_address = "127.0.0.1:9" },
    { .name = "internet", .kind = PW_SERVICE_NETWORK },
    { .name = "files", .kind = PW_SERVICE_DISK, .disk_path = "tests/fuzz" },   /* read-only */
};
static pw_config_t config = { .services = services, .n_services = sizeof services / sizeof services[0] };

const pw_service_t *pw_config_service(const pw_config_t *c, const char *name)
{
    for (size_t i = 0; name && i < c->n_services; i++)
        if (strcmp(c->services[i].name, name) == 0)
            return &c->services[i];
    return NULL;
}

static pw_pool_t *lookup(void *arg, const char *service)
{
    return strcmp(service, "kvworker") == 0 || strcmp(service, "main") == 0 ? (pw_pool_t *)arg : NULL;
}

/* ---- the target ---- */

static pw_rpc_worker_t *worker;
static pw_rpc_host_t *host;

/* The host's state is freed at exit: R2's in-memory bucket removes its temporary directory. */
static void teardown(void)
{
    pw_rpc_host_free(host);
}

static void never(uv_timer_t *timer) { (void)timer; }

static void setup(void)
{
    static uv_timer_t keep_alive;   /* the engine's timer is unreferenced: this keeps the loop
                                     * turning in uv_run(), as the HTTP server does in serve */
    uv_timer_init(uv_default_loop(), &keep_alive);
    uv_timer_start(&keep_alive, never, 1u << 30, 0);
    static int pool_token;
    char err[1024];
    setenv("PYWORKERD_D1_QUERY_LIMIT_MS", "100", 1);    /* a mutated query may run forever */
    pw_rpc_options_t opts = { .persist_dir = ":memory:", .lookup = lookup, .lookup_arg = &pool_token };
    if (pw_rpc_host_create(uv_default_loop(), &config, &opts, &host) < 0 ||
        pw_rpc_worker_create(host, &services[0], &worker, err, sizeof err) < 0)
        abort();
    atexit(teardown);
}

/* Answers every pending subrequest from `tail`, or cancels them all through the port.
 * Returns 1 when the port was closed (the isolate died). */
static int settle(pw_port_t *port, const uint8_t *tail, size_t len)
{
    unsigned status = len ? (unsigned)(tail[0] % 6 == 0 ? 404 : tail[0] % 6 == 1 ? 500 : 200) : 200;
    pw_bytes_t body = { len > 1 ? tail + 1 : tail, len > 1 ? len - 1 : 0 };
    int closed = len && tail[0] & 0x80;
    if (closed)
        pw_port_close(port);    /* the isolate died: watchers cancel their work */
    for (size_t i = 0; i < n_calls; i++) {
        pw_call_t *c = calls[i];
        if (!c)
            continue;
        calls[i] = NULL;
        c->state = PW_CALL_DONE;
        if (status == 500) {
            c->respond(c, NULL, 502, "the isolate died");
        } else {
            pw_buf_t b;
            pw_buf_init(&b);
            pw_header_t h = { { (const uint8_t *)"cf-kv-metadata", 14 }, body };
            pw_frame_put_response(&b, c->id, status, &h, 1, body);
            pw_frame_t f;
            pw_message_t msg;
            size_t used;
            if (pw_frame_parse(b.data, b.len, &f, &used) == 1 && pw_message_decode_response(&f, &msg) == 0)
                c->respond(c, &msg, 0, NULL);
            else
                c->respond(c, NULL, 502, "bad");
            pw_buf_free(&b);
        }
    }
    n_calls = 0;
    for (size_t i = 0; i < n_transfers; i++) {
        pw_fetch_transfer_t *t = transfers[i];
        if (!t->aborted) {
            pw_fetch_result_t r = { .status = status, .headers = body, .body = body, .url = "" };
            if (status == 500)
                r.error = "fetch() failed: Couldn't connect to server";
            t->done(t->arg, &r);
        }
        free(t);
    }
    n_transfers = 0;
    return closed;
}

/* Encodes the fields of one call (separated by 0x1e) as an RPC frame and handles it. */
static void handle_call(pw_port_t *port, const uint8_t *p, size_t len, uint32_t id)
{
    pw_bytes_t f[PW_RPC_MAX_ARGS + 1];
    size_t n = 0;
    const uint8_t *end = p + len;
    while (n <= PW_RPC_MAX_ARGS) {
        const uint8_t *sep = memchr(p, 0x1e, (size_t)(end - p));
        f[n++] = (pw_bytes_t){ p, (size_t)((sep ? sep : end) - p) };
        if (!sep)
            break;
        p = sep + 1;
    }
    pw_buf_t b;
    pw_buf_init(&b);
    pw_frame_t frame;
    size_t used;
    if (pw_rpc_put(&b, PW_FRAME_RPC, id, f, n) == 0 && pw_frame_parse(b.data, b.len, &frame, &used) == 1)
        (void)pw_rpc_handle(worker, port, &frame);      /* < 0: the pool would kill it */
    pw_buf_free(&b);
}

/* The isolate's link buffer: what the port queued is dropped (fuzz_frames covers it). */
static void replies_queued(void *arg)
{
    pw_buf_t *out = arg;
    pw_buf_consume(out, out->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!worker)
        setup();
    pw_buf_t out;
    pw_buf_init(&out);
    pw_port_t *port = pw_port_create(&out, replies_queued, &out);
    if (!port)
        abort();
    current_port = port;
    const uint8_t *tail = memchr(data, 0x1c, size);
    size_t calls_len = tail ? (size_t)(tail - data) : size;
    const uint8_t *p = data, *end = data + calls_len;
    for (uint32_t id = 1; p < end; id++) {
        const uint8_t *sep = memchr(p, 0x1d, (size_t)(end - p));
        handle_call(port, p, (size_t)((sep ? sep : end) - p), id);
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);      /* due workflow runs start */
        while (uv_default_loop()->active_reqs.count)   /* R2 jobs on the thread pool end */
            uv_run(uv_default_loop(), UV_RUN_ONCE);
        p = sep ? sep + 1 : end;
    }
    pw_port_hold(port);     /* the target's own: the port outlives a close in settle() */
    int closed = tail ? settle(port, tail + 1, size - calls_len - 1) : settle(port, data, 0);
    if (!closed)
        pw_port_close(port);    /* R2 bodies left open, memoryCache producers: they end with it */
    if (pw_port_held(port) != 1)
        abort();    /* a hold or a watch was leaked (each watch holds the port) */
    pw_port_release(port);
    pw_buf_free(&out);
    return 0;
}

static void seed(fuzz_add_cb add, const char *const *fields, size_t n, const char *tail)
{
    pw_buf_t b;
    pw_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            pw_buf_append(&b, "\x1e", 1);
        pw_buf_append(&b, fields[i], strlen(fields[i]));
    }
    pw_buf_append(&b, "\x1c", 1);
    pw_buf_append(&b, tail, strlen(tail));
    add(b.data, b.len);
    pw_buf_free(&b);
}

#define SEED(tail, ...) do { \
        const char *const f_[] = { __VA_ARGS__ }; \
        seed(add, f_, sizeof f_ / sizeof f_[0], tail); \
    } while (0)

/* Several calls written readably: '|' separates fields (0x1e), '^' calls (0x1d), '~' starts
 * the tail (0x1c), whose first byte 'b' answers the pending calls 200 with the rest. */
static void seed_raw(fuzz_add_cb add, const char *text)
{
    size_t len = strlen(text);
    uint8_t *data = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        data[i] = text[i] == '|' ? 0x1e : text[i] == '^' ? 0x1d : text[i] == '~' ? 0x1c : (uint8_t)text[i];
    add(data, len);
    free(data);
}

static void workflow_seeds(fuzz_add_cb add)
{
    seed_raw(add, "wf.create|WF|a|{\"x\":1}^wf.step.get|WF|a|one^wf.step.put|WF|a|one|[1,2]^"
                  "wf.step.get|WF|a|one^wf.sleep|WF|a|nap|for|1000^wf.status|WF|a"
                  "~b{\"outcome\":\"suspended\"}");
    seed_raw(add, "wf.create|WF||null^wf.sleep|WF|b|nap|until|0^wf.wait|WF|b|w|go|0^"
                  "wf.event|WF|b|go|{}~b{\"outcome\":\"complete\",\"output\":{\"a\":[1]}}");
    seed_raw(add, "wf.create|WF|c|{}^wf.event|WF|c|go|7^wf.wait|WF|c|w|go|5000^wf.pause|WF|c^"
                  "wf.resume|WF|c^wf.restart|WF|c^wf.terminate|WF|c^wf.get|WF|c"
                  "~b{\"outcome\":\"errored\",\"error\":{\"name\":\"E\",\"message\":\"m\"}}");
    seed_raw(add, "wf.create|WF|d|{}^wf.step.put|NOPE|d|k|v^wf.status|NOPE|d^wf.status|WF|missing"
                  "~a");
}

static void r2_seeds(fuzz_add_cb add)
{
    seed_raw(add, "r2.put|BK|k|{\"httpMetadata\":{\"contentType\":\"a\",\"cacheExpiry\":5},"
                  "\"customMetadata\":{\"x\":\"y\"},\"md5\":\"00000000000000000000000000000000\"}|v|^"
                  "r2.put|BK|k|{\"onlyIf\":{\"etagMatches\":[{\"type\":\"strong\",\"value\":\"e\"}],"
                  "\"uploadedAfter\":1}}|value|^r2.head|BK|k^r2.get|BK|k|{\"range\":{\"suffix\":2}}^"
                  "r2.list|BK|{\"prefix\":\"\",\"delimiter\":\"/\",\"limit\":1,\"include\":[\"httpMetadata\"]}^"
                  "r2.delete|BK|[\"k\",\"z\"]~a");
    seed_raw(add, "r2.put|BK|s||first|1^r2.write|BK|1|more|1^r2.write|BK|1|last|^r2.write|BK|1|x|^"
                  "r2.get|BK|s|{\"range\":{\"offset\":1,\"length\":3}}^r2.read|BK|1^r2.close|BK|1~a");
    seed_raw(add, "r2.mpu.create|BK|m|{\"storageClass\":\"Standard\"}^r2.mpu.part|BK|m|x|1|data|^"
                  "r2.mpu.complete|BK|m|x|[{\"partNumber\":1,\"etag\":\"e\"}]^r2.mpu.abort|BK|m|x^"
                  "r2.list|BK|{\"cursor\":\"6b\",\"startAfter\":\"a\"}^r2.get|BK|m|{\"onlyIf\":"
                  "{\"etagDoesNotMatch\":[{\"type\":\"wildcard\"}]}}~\x80");
    static const uint8_t nul_key[] = "r2.get\x1e" "BK\x1e" "a\0b\x1e{}\x1c" "a";
    add(nul_key, sizeof nul_key - 1);       /* a NUL in a key: refused, the job freed once */
}

static void memory_cache_seeds(fuzz_add_cb add)
{
    seed_raw(add, "mcache.read|MC|k|1^mcache.read|MC|k|1^mcache.read|MC|k|1^mcache.fail|MC|k|1^"
                  "mcache.put|MC|k|{\"v\":1}||2^mcache.get|MC|k^mcache.delete|MC|k~a");
    seed_raw(add, "mcache.read|MC|a|0^mcache.put|MC|a|x|1e15|0^mcache.put|MC|b|y|nan|0^"
                  "mcache.put|MC|c|z|5|0^mcache.get|MC|a^mcache.read|MC2|a|1^mcache.get|NOPE|a~a");
    seed_raw(add, "mcache.read|MC|k|1^mcache.read|MC|k|1~a");
}

/* queue.send / queue.send_batch with packed messages (type, delay u32, length u32, body),
 * then `tail` (a consumer's answer). */
static void queue_seed(fuzz_add_cb add, const char *op, const char *types, uint8_t delay,
                       const char *tail)
{
    pw_buf_t b;
    pw_buf_init(&b);
    pw_buf_append(&b, op, strlen(op));
    pw_buf_append(&b, "\x1eQ\x1e", 3);
    for (const char *t = types; *t; t++) {
        const char *body = *t == 't' ? "hello" : *t == 'b' ? "\x01\x02" : "{\"n\":1}";
        uint8_t head[9] = { (uint8_t)*t, delay, 0, 0, 0, (uint8_t)strlen(body), 0, 0, 0 };
        pw_buf_append(&b, head, sizeof head);
        pw_buf_append(&b, body, strlen(body));
    }
    pw_buf_append(&b, "\x1c", 1);
    pw_buf_append(&b, tail, strlen(tail));
    add(b.data, b.len);
    pw_buf_free(&b);
}

/* Durable Objects: one field list with binary fields (a write batch). */
static void seed_do(fuzz_add_cb add, const pw_bytes_t *fields, size_t n, const char *tail)
{
    pw_buf_t b;
    pw_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            pw_buf_append(&b, "\x1e", 1);
        pw_buf_append(&b, fields[i].base, fields[i].len);
    }
    pw_buf_append(&b, "\x1c", 1);
    pw_buf_append(&b, tail, strlen(tail));
    add(b.data, b.len);
    pw_buf_free(&b);
}

/* A D1 call: its fields (0x1e between them) and then the statement list, built here since
 * it is binary (lengths little-endian; none of them 0x1c..0x1e). */
static void seed_d1(fuzz_add_cb add, const char *head, size_t n, const char *const *sql,
                    const char *params, size_t params_len)
{
    pw_buf_t b;
    pw_buf_init(&b);
    pw_buf_append(&b, head, strlen(head));
    uint8_t count[4] = { (uint8_t)n, 0, 0, 0 };
    pw_buf_append(&b, count, 4);
    for (size_t i = 0; i < n; i++) {
        uint8_t lens[8] = { (uint8_t)strlen(sql[i]), 0, 0, 0, params_len ? 2 : 0, 0, 0, 0 };
        pw_buf_append(&b, lens, 8);
        pw_buf_append(&b, sql[i], strlen(sql[i]));
        pw_buf_append(&b, params, params_len);
    }
    add(b.data, b.len);
    pw_buf_free(&b);
}

static void queue_seeds(fuzz_add_cb add)
{
    queue_seed(add, "queue.send", "j", 0, "b{\"outcome\":\"ok\"}");
    queue_seed(add, "queue.send_batch", "jtbv", 0, "b{\"outcome\":\"exception\"}");
    queue_seed(add, "queue.send_batch", "jjjjjjjjjjjj", 0,
               "b{\"outcome\":\"ok\",\"retryBatch\":{\"retry\":true,\"delaySeconds\":0}}");
    queue_seed(add, "queue.send_batch", "tt", 5, "\x81");
    queue_seed(add, "queue.send", "x", 0, "");
    queue_seed(add, "queue.nope", "j", 0, "");
    seed_raw(add, "queue.send|NOPE|x~a");
}

#define DO_ID "3b6a9a0a0498aac6d9dd63969f33bae1c4ffd0744f0bfb7811ef55783960ac67"   /* "a" */

static void do_seeds(fuzz_add_cb add)
{
    static const uint8_t batch[] = { 'p', 1, 0, 0, 0, 'k', 1, 0, 0, 0, '1', 'd', 1, 0, 0, 0, 'k', 0, 0, 0, 0,
                                     'a', 0, 0, 0, 0, 3, 0, 0, 0, '9', '9', '9', 'D', 0, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t cells[] = { 'i', 1, 0, 0, 0, '7', 't', 2, 0, 0, 0, 'h', 'i', 'n', 0, 0, 0, 0 };
    seed_raw(add, "do.call|BOX|" DO_ID "|=a|fetch|{\"method\":\"GET\",\"url\":\"https://x/\",\"headers\":[]}\n"
                  "^dos.get|Box|" DO_ID "|k|j^dos.list|Box|" DO_ID "|=a||=z|=k|1|5^dos.size|Box|" DO_ID
                  "^dos.alarm|Box|" DO_ID "^dos.txn|Box|" DO_ID "|begin^dos.txn|Box|" DO_ID "|rollback~b");
    seed_raw(add, "do.call|BOX|" DO_ID "||method|[1]^do.call|BOX|" DO_ID "||__evict__|^"
                  "do.call|BOX|00|=x|m|[]^dos.get|Nope|" DO_ID "|k~\x82");
    pw_bytes_t write[] = { pw_bytes_of("do.call"), pw_bytes_of("BOX"), pw_bytes_of(DO_ID), pw_bytes_of(""),
                           pw_bytes_of("m"), pw_bytes_of("[]") };
    seed_do(add, write, 6, "");
    pw_bytes_t w2[] = { pw_bytes_of("dos.write"), pw_bytes_of("Box"), pw_bytes_of(DO_ID),
                        { batch, sizeof batch } };
    seed_do(add, w2, 4, "b");
    pw_bytes_t sql[] = { pw_bytes_of("dos.sql"), pw_bytes_of("Box"), pw_bytes_of(DO_ID),
                         pw_bytes_of("CREATE TABLE IF NOT EXISTS t(a, b, c); INSERT INTO t VALUES (?, ?, ?); "
                                     "SELECT * FROM t"), { cells, sizeof cells } };
    seed_do(add, sql, 5, "b");
    /* hibernatable WebSockets (host/do_sockets.h): accept, send while pending, attach, auto, list, drop */
    seed_raw(add, "dos.wsaccept|Box|" DO_ID "|ab12|[\"red\"]^dos.wssend|Box|" DO_ID "|ab12|0|hi"
                  "^dos.wssend|Box|" DO_ID "|ab12|1|\xff^dos.wsattach|Box|" DO_ID "|ab12|={\"n\":1}"
                  "^dos.wsauto|Box|" DO_ID "|=ping|pong^dos.wslist|Box|" DO_ID
                  "^dos.wsclose|Box|" DO_ID "|ab12|4000|bye^dos.wsdrop|Box|" DO_ID "|ab12~b");
    seed_raw(add, "dos.wsaccept|Box|" DO_ID "|AB!|[1]^dos.wsclose|Box|" DO_ID "|x|99|^"
                  "dos.wsattach|Box|" DO_ID "|x|={^dos.wsauto|Box|" DO_ID "||~b");
}

static void d1_seeds(fuzz_add_cb add)
{
    static const char *const create[] = { "CREATE TABLE t (k PRIMARY KEY, v)" };
    static const char *const insert[] = { "INSERT INTO t VALUES (?, ?)" };
    static const char *const pair[] = { "INSERT INTO t VALUES (?, ?) RETURNING *", "SELECT * FROM t" };
    static const char *const bad[] = { "BEGIN; ATTACH 'x' AS y" };
    static const char values[] = "t\x01\0\0\0ai\x07\0\0\0\0\0\0\0";   /* 'a', 7 */
    static const char blob[] = "b\x02\0\0\0\x00\xff" "f\0\0\0\0\0\0\xf0\x3f";   /* bytes, 1.0 */
    seed_d1(add, "d1.query\x1e" "DB\x1e" "all\x1e", 1, create, "", 0);
    seed_d1(add, "d1.query\x1e" "DB\x1e" "first\x1e", 1, insert, values, sizeof values - 1);
    seed_d1(add, "d1.batch\x1e" "DB\x1e", 2, pair, blob, sizeof blob - 1);
    seed_d1(add, "d1.query\x1e" "DB\x1e" "all\x1e", 1, bad, "", 0);
    seed_raw(add, "d1.exec|DB|CREATE TABLE u (x);\nINSERT INTO u VALUES (1);\nSELEC 1^d1.dump|DB~a");
    seed_raw(add, "d1.query|DB|all|x^d1.batch|NOPE|^d1.nope|DB~a");
}

void fuzz_seeds(fuzz_add_cb add)
{
    d1_seeds(add);
    workflow_seeds(add);
    r2_seeds(add);
    memory_cache_seeds(add);
    queue_seeds(add);
    do_seeds(add);
    for (int i = 0; i < 3; i++) {
        const char *kv = i == 0 ? "KV" : i == 1 ? "WKV" : "XKV";
        SEED("", "kv.put", kv, "key", "value", "", "120", "{\"m\":1}");
        SEED("\x02value", "kv.get", kv, "key");
        SEED("\x01", "kv.get", kv, "key");
        SEED("\x82", "kv.get", kv, "key", "300");
        SEED("\x02{\"a\":{\"value\":\"1\"},\"b\":null}", "kv.get_many", kv, "a", "b");
        SEED("\x02{\"keys\":[{\"name\":\"a\"}],\"list_complete\":false,\"cursor\":\"6162\"}",
             "kv.list", kv, "p", "10", "6162");
        SEED("", "kv.delete", kv, "key");
    }
    SEED("", "kv.put", "RO", "key", "value", "", "", "");
    SEED("\x02", "svc.call", "SVC", "fetch", "{\"method\":\"GET\",\"url\":\"/\",\"headers\":[]}\n");
    SEED("", "ws.connect", "ws://example.com/chat", "sec-websocket-protocol\nchat\n");
    SEED("", "ws.connect", "ftp://example.com/", "");
    SEED("\x82", "svc.call", "SVC", "method", "[1,2]");
    SEED("", "svc.call", "GONE", "fetch", "");
    SEED("", "fetch", "https://example.com/", "GET", "", "", "follow");
    SEED("", "kv.get", "T", "x");
    SEED("", "disk.fetch", "ASSETS", "{\"method\":\"GET\",\"url\":\"https://h/fuzz.h\",\"headers\":"
         "[[\"Range\",\"bytes=1-5\"],[\"if-none-match\",\"\\\"x\\\"\"]]}\n");
    SEED("", "disk.fetch", "ASSETS", "{\"method\":\"HEAD\",\"url\":\"/\",\"headers\":[]}\n");
    SEED("", "disk.fetch", "ASSETS", "{\"method\":\"GET\",\"url\":\"/%2e%2e/Makefile\",\"headers\":[]}\n");
    SEED("", "disk.fetch", "ASSETS", "{\"method\":\"PUT\",\"url\":\"/x\",\"headers\":[]}\nbody");
    SEED("", "disk.fetch", "NOPE", "{}\n");
    SEED("", "socket.connect", "127.0.0.1", "9", "4", "");     /* no descriptor was passed */
    SEED("", "socket.connect", "", "99999999", "6", "10");
    SEED("", "socket.starttls", "1", "localhost", "1", "1", "100");
    SEED("", "socket.nope", "x");
}
