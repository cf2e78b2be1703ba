/* queues.c — the host's queue engine: sending, batching, delivery and settling (host
 * process, loop thread; see queues.h). The store is the truth; the engine keeps per
 * consumer only its batches in flight and when it next needs to look (one timer for all,
 * at the earliest such time). A delivered batch is a CALL of the consumer's "__queue__"
 * with one line of JSON describing the messages, column by column, then their bodies back
 * to back (python/pyworkerd/queues.py decode_batch reads it):
 *   {"queue": Q, "ids": [...], "timestamps": [ms...], "attempts": [...],
 *    "types": "jtbv..." (json, text, bytes, v8), "sizes": [...]}\n
 * The store's operations end later (PostgreSQL) or at once (SQLite): a consumer has at most
 * one look (depth, then take) in flight, and a look that ends inside pump() only asks for
 * another round of it.
 * Invariant: a taken message is settled exactly once by this host (answer, failure or
 * release), or left taken for the next host when this one stops first.
 */
#include "host/queues.h"
#include "base/log.h"
#include "host/queue_answer.h"
#include "host/worker_call.h"
#include "storage/pg_queue.h"
#include "storage/queue_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AUTO_CONCURRENCY 8      /* batches in flight for max_concurrency = 0 */
#define NO_WORKER_RETRY_MS 1000 /* the consumer's pool is not up: look again after */
#define UNAVAILABLE_DELAY_MS 1000   /* a 503 (pool closing...): messages come back after */
#define STORE_RETRY_MS 1000

typedef struct consumer consumer_t;

typedef struct batch {
    struct batch *next;
    consumer_t *consumer;
    pw_worker_call_t *call;
    size_t n;
    int64_t seq[PW_QUEUE_MAX_BATCH];
    unsigned attempts[PW_QUEUE_MAX_BATCH];
    char ids[PW_QUEUE_MAX_BATCH][PW_QUEUE_ID_LEN + 1];
    int64_t sent_ms[PW_QUEUE_MAX_BATCH];
    size_t sizes[PW_QUEUE_MAX_BATCH];
    char types[PW_QUEUE_MAX_BATCH + 1];
    pw_buf_t head, bodies;      /* the CALL's payload while it is built */
    int failed;                 /* building it ran out of memory */
} batch_t;

struct consumer {
    pw_queues_t *engine;
    const pw_queue_consumer_t *cfg;
    const char *service;        /* the consuming worker */
    unsigned concurrency;
    unsigned in_flight;
    batch_t *batches;
    int64_t wake_ms;            /* when to look again; -1: on the next send or answer */
    int pumping, pump_again;    /* a pump in progress (a call may end inside it) */
    int looking;                /* a depth or take of the store in flight */
    pw_queue_depth_t depth;     /* the look's answer */
};

struct pw_queues {
    uv_loop_t *loop;
    pw_queue_backend_t *store;
    consumer_t *consumers;
    size_t n_consumers;
    pw_queues_lookup_cb lookup;
    void *lookup_arg;
    uv_timer_t timer;
    char id_prefix[17];         /* random per host run; ids are prefix + counter, in hex */
    uint64_t id_counter;
};

int64_t pw_queues_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void schedule(pw_queues_t *q);
static void pump(consumer_t *c);
static void pump_queue_named(pw_queues_t *q, const char *queue);

/* ---- ids ---- */

static void make_prefix(pw_queues_t *q)
{
    uint8_t r[8];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, r, sizeof r) : -1;
    if (fd >= 0)
        close(fd);
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof r; i++)
        v = v << 8 | (got == (ssize_t)sizeof r ? r[i] : 0);
    if (got != (ssize_t)sizeof r)
        v = (uint64_t)pw_queues_now_ms() * 2654435761u ^ (uint64_t)getpid();
    snprintf(q->id_prefix, sizeof q->id_prefix, "%016llx", (unsigned long long)v);
}

static void next_id(pw_queues_t *q, char out[PW_QUEUE_ID_LEN])
{
    char text[PW_QUEUE_ID_LEN + 1];
    snprintf(text, sizeof text, "%s%016llx", q->id_prefix, (unsigned long long)++q->id_counter);
    memcpy(out, text, PW_QUEUE_ID_LEN);
}

/* ---- consumers ---- */

static consumer_t *consumer_of(pw_queues_t *q, pw_bytes_t queue)
{
    for (size_t i = 0; i < q->n_consumers; i++)
        if (pw_bytes_is(queue, q->consumers[i].cfg->queue))
            return &q->consumers[i];
    return NULL;
}

static size_t count_consumers(const pw_config_t *config, int *has_queues)
{
    size_t n = 0;
    for (size_t i = 0; i < config->n_services; i++) {
        const pw_service_t *s = &config->services[i];
        if (s->kind != PW_SERVICE_WORKER)
            continue;
        n += s->worker.options.n_queue_consumers;
        for (size_t j = 0; j < s->worker.n_bindings; j++)
            *has_queues |= s->worker.bindings[j].kind == PW_BINDING_QUEUE;
    }
    *has_queues |= n > 0;
    return n;
}

static void add_consumers(pw_queues_t *q, const pw_config_t *config)
{
    for (size_t i = 0; i < config->n_services; i++) {
        const pw_service_t *s = &config->services[i];
        for (size_t j = 0; s->kind == PW_SERVICE_WORKER && j < s->worker.options.n_queue_consumers; j++) {
            const pw_queue_consumer_t *cfg = &s->worker.options.queue_consumers[j];
            q->consumers[q->n_consumers++] = (consumer_t){
                .engine = q, .cfg = cfg, .service = s->name, .wake_ms = 0,
                .concurrency = cfg->max_concurrency ? cfg->max_concurrency : AUTO_CONCURRENCY,
            };
        }
    }
}

/* ---- settling a batch ---- */

static void batch_unlink_free(batch_t *b)
{
    consumer_t *c = b->consumer;
    for (batch_t **p = &c->batches; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            break;
        }
    c->in_flight--;
    pw_buf_free(&b->head);
    pw_buf_free(&b->bodies);
    free(b);
}

static void settled(void *arg, int rc)
{
    consumer_t *c = arg;
    pw_queues_t *q = c->engine;
    if (rc < 0)
        pw_log_error("queue %s: cannot settle a batch (its messages will be delivered again after "
                     "a restart or their visibility timeout): %s", c->cfg->queue, q->store->ops->error(q->store));
    if (c->cfg->dead_letter_queue)
        pump_queue_named(q, c->cfg->dead_letter_queue);
}

static void settle(batch_t *b, pw_queue_settle_t *s)
{
    consumer_t *c = b->consumer;
    pw_queues_t *q = c->engine;
    const char *dlq = c->cfg->dead_letter_queue;
    q->store->ops->settle(q->store, s, b->n, pw_bytes_of(dlq ? dlq : ""), pw_queues_now_ms(), settled, c);
}

/* The fate of a message the consumer did not finish: retried after `delay_s` (-1: the
 * consumer's retry_delay), or past max_retries dead-lettered or dropped (*gone counts it,
 * *example is one of their ids). */
static pw_queue_settle_t retry_or_give_up(batch_t *b, size_t i, int64_t delay_s, int64_t now,
                                          size_t *gone, const char **example)
{
    const pw_queue_consumer_t *cfg = b->consumer->cfg;
    if (b->attempts[i] < cfg->max_retries) {
        int64_t d = delay_s >= 0 ? delay_s : (int64_t)cfg->retry_delay_s;
        return (pw_queue_settle_t){ b->seq[i], PW_QUEUE_RETRY, now + d * 1000 };
    }
    ++*gone;
    *example = b->ids[i];
    return (pw_queue_settle_t){ b->seq[i], cfg->dead_letter_queue ? PW_QUEUE_DEAD : PW_QUEUE_ACK, 0 };
}

/* One line for the messages of a batch that ran out of retries. */
static void log_given_up(const batch_t *b, size_t gone, const char *example)
{
    const pw_queue_consumer_t *cfg = b->consumer->cfg;
    if (gone == 0)
        return;
    if (cfg->dead_letter_queue)
        pw_log_error("queue %s: %zu message(s) (e.g. %s) failed %u time(s); moved to dead-letter "
                     "queue %s", cfg->queue, gone, example, cfg->max_retries + 1, cfg->dead_letter_queue);
    else
        pw_log_error("queue %s: %zu message(s) (e.g. %s) failed %u time(s) and have no "
                     "dead-letter queue; dropped", cfg->queue, gone, example, cfg->max_retries + 1);
}

/* The consumer answered: each message by its verdict. */
static void settle_answer(batch_t *b, pw_bytes_t body)
{
    const char *ids[PW_QUEUE_MAX_BATCH];
    pw_queue_verdict_t v[PW_QUEUE_MAX_BATCH];
    pw_queue_settle_t s[PW_QUEUE_MAX_BATCH];
    for (size_t i = 0; i < b->n; i++)
        ids[i] = b->ids[i];
    int ok = pw_queue_answer_parse(body, ids, b->n, PW_QUEUE_MAX_DELAY_S, v);
    if (!ok)    /* the isolate logged why */
        pw_log_info("queue %s: the consumer's queue() failed; the batch of %zu is retried",
                    b->consumer->cfg->queue, b->n);
    int64_t now = pw_queues_now_ms();
    size_t gone = 0;
    const char *example = NULL;
    for (size_t i = 0; i < b->n; i++)
        s[i] = v[i].retry ? retry_or_give_up(b, i, v[i].delay_s, now, &gone, &example)
                          : (pw_queue_settle_t){ b->seq[i], PW_QUEUE_ACK, 0 };
    log_given_up(b, gone, example);
    settle(b, s);
}

/* The call failed before any answer: a 503 gives the messages back as they were; anything
 * else (the isolate died, a timeout) counts as a failed delivery. */
static void settle_failure(batch_t *b, int status, const char *why)
{
    pw_queue_settle_t s[PW_QUEUE_MAX_BATCH];
    int64_t now = pw_queues_now_ms();
    int unavailable = status == 503;
    size_t gone = 0;
    const char *example = NULL;
    pw_log_error("queue %s: delivering a batch of %zu to %s failed (%d %s); %s",
                 b->consumer->cfg->queue, b->n, b->consumer->service, status, why ? why : "",
                 unavailable ? "it will be delivered again" : "it will be retried");
    for (size_t i = 0; i < b->n; i++)
        s[i] = unavailable ? (pw_queue_settle_t){ b->seq[i], PW_QUEUE_RELEASE, now + UNAVAILABLE_DELAY_MS }
                           : retry_or_give_up(b, i, -1, now, &gone, &example);
    log_given_up(b, gone, example);
    settle(b, s);
}

static void batch_done(void *arg, const pw_worker_answer_t *a)
{
    batch_t *b = arg;
    consumer_t *c = b->consumer;
    if (a->error_status)
        settle_failure(b, a->error_status, a->error_text);
    else if (a->status != 200)
        settle_failure(b, (int)a->status, "the consumer's answer");
    else
        settle_answer(b, a->body);
    batch_unlink_free(b);
    pump(c);
}

/* ---- delivering ---- */

static void add_message(void *arg, const pw_queue_msg_t *m)
{
    batch_t *b = arg;
    if (b->n == PW_QUEUE_MAX_BATCH)
        return;
    size_t i = b->n++;
    b->seq[i] = m->seq;
    b->attempts[i] = m->attempts;
    snprintf(b->ids[i], sizeof b->ids[i], "%.*s", (int)(m->id.len < PW_QUEUE_ID_LEN ? m->id.len
             : PW_QUEUE_ID_LEN), (const char *)m->id.base);
    b->types[i] = pw_bytes_is(m->content_type, "text") ? 't' : pw_bytes_is(m->content_type, "bytes") ? 'b'
                  : pw_bytes_is(m->content_type, "v8") ? 'v' : 'j';
    b->sent_ms[i] = m->sent_ms;
    b->sizes[i] = m->body.len;
    b->failed |= pw_buf_append(&b->bodies, m->body.base, m->body.len) < 0;
}

/* The batch's header line (see the top of this file), then its bodies. */
static int build_payload(batch_t *b, const char *queue, pw_buf_t *out)
{
    int rc = pw_buf_printf(out, "{\"queue\":\"%s\",\"ids\":[", queue);
    for (size_t i = 0; rc == 0 && i < b->n; i++)
        rc = pw_buf_printf(out, "%s\"%s\"", i ? "," : "", b->ids[i]);
    for (size_t i = 0; rc == 0 && i < b->n; i++)
        rc = pw_buf_printf(out, "%s%lld", i ? "," : "],\"timestamps\":[", (long long)b->sent_ms[i]);
    for (size_t i = 0; rc == 0 && i < b->n; i++)
        rc = pw_buf_printf(out, "%s%u", i ? "," : "],\"attempts\":[", b->attempts[i] + 1);
    if (rc == 0)
        rc = pw_buf_printf(out, "],\"types\":\"%.*s\"", (int)b->n, b->types);
    for (size_t i = 0; rc == 0 && i < b->n; i++)
        rc = pw_buf_printf(out, "%s%zu", i ? "," : ",\"sizes\":[", b->sizes[i]);
    if (rc == 0)
        rc = pw_buf_printf(out, "]}\n");
    return rc == 0 ? pw_buf_append(out, b->bodies.data, b->bodies.len) : rc;
}

static void run_pump(consumer_t *c);

/* The look ended: `again` asks for another round (a batch went out). */
static void look_done(consumer_t *c, int again)
{
    c->looking = 0;
    c->pump_again |= again;
    run_pump(c);
}

/* Calls the consumer with the batch the store gave. */
static int call_consumer(batch_t *b, pw_pool_t *pool)
{
    consumer_t *c = b->consumer;
    b->failed |= build_payload(b, c->cfg->queue, &b->head) < 0;
    pw_buf_free(&b->bodies);
    pw_buf_t payload = b->head;     /* the call copies it; done() may free b before it returns */
    pw_buf_init(&b->head);
    int rc = b->failed ? -ENOMEM : pw_worker_call(pool, "", pw_bytes_of("__queue__"),
                                                  (pw_bytes_t){ payload.data, payload.len },
                                                  batch_done, b, &b->call);
    pw_buf_free(&payload);
    if (rc < 0) {
        settle_failure(b, 503, "out of memory");
        batch_unlink_free(b);
        return -1;
    }
    return 0;
}

static void taken(void *arg, int n)
{
    batch_t *b = arg;
    consumer_t *c = b->consumer;
    pw_queues_t *q = c->engine;
    int64_t now = pw_queues_now_ms();
    if (n <= 0 || b->n == 0) {
        if (n < 0)
            pw_log_error("queue %s: cannot read the store: %s", c->cfg->queue, q->store->ops->error(q->store));
        batch_unlink_free(b);
        c->wake_ms = now + (n < 0 ? STORE_RETRY_MS : q->store->poll_ms ? q->store->poll_ms : STORE_RETRY_MS);
        look_done(c, 0);
        return;
    }
    pw_pool_t *pool = q->lookup(q->lookup_arg, c->service);
    if (!pool) {    /* gone while the store answered: the messages come back at once */
        pw_queue_settle_t s[PW_QUEUE_MAX_BATCH];
        for (size_t i = 0; i < b->n; i++)
            s[i] = (pw_queue_settle_t){ b->seq[i], PW_QUEUE_RELEASE, now };
        settle(b, s);
        batch_unlink_free(b);
        c->wake_ms = now + NO_WORKER_RETRY_MS;
        look_done(c, 0);
        return;
    }
    int rc = call_consumer(b, pool);
    if (rc < 0)
        c->wake_ms = now + STORE_RETRY_MS;
    look_done(c, rc == 0);
}

/* Takes up to a batch of deliverable messages; taken() calls the consumer with them. */
static void deliver(consumer_t *c)
{
    pw_queues_t *q = c->engine;
    batch_t *b = calloc(1, sizeof *b);
    if (!b) {
        c->wake_ms = pw_queues_now_ms() + STORE_RETRY_MS;
        look_done(c, 0);
        return;
    }
    b->consumer = c;
    pw_buf_init(&b->head);
    pw_buf_init(&b->bodies);
    b->next = c->batches;
    c->batches = b;
    c->in_flight++;
    q->store->ops->take(q->store, pw_bytes_of(c->cfg->queue), pw_queues_now_ms(),
                        c->cfg->max_batch_size, add_message, taken, b);
}

/* When a queue with nothing ready is worth another look. */
static int64_t next_look(const consumer_t *c, int64_t now)
{
    int64_t poll = c->engine->store->poll_ms;
    int64_t at = c->depth.first_visible_ms;
    if (at < 0)
        return poll ? now + poll : -1;              /* empty: a send (or the poll) wakes it */
    if (c->depth.ready == 0 && at <= now)
        at = now + STORE_RETRY_MS;                  /* visible yet not ready: taken elsewhere */
    return poll && at > now + poll ? now + poll : at;
}

/* What is waiting decides: a batch now, or when to look again. */
static void looked(void *arg, int rc)
{
    consumer_t *c = arg;
    pw_queues_t *q = c->engine;
    int64_t now = pw_queues_now_ms();
    if (rc < 0) {
        pw_log_error("queue %s: cannot read the store: %s", c->cfg->queue, q->store->ops->error(q->store));
        c->wake_ms = now + STORE_RETRY_MS;
        look_done(c, 0);
        return;
    }
    const pw_queue_depth_t *d = &c->depth;
    int64_t due = d->first_visible_ms + (int64_t)c->cfg->max_batch_timeout_s * 1000;
    if (d->first_visible_ms < 0 || d->ready == 0 || (d->ready < c->cfg->max_batch_size && now < due)) {
        c->wake_ms = d->ready == 0 ? next_look(c, now) : due;  /* a partial batch waits for more */
        look_done(c, 0);
        return;
    }
    if (!q->lookup(q->lookup_arg, c->service)) {
        c->wake_ms = now + NO_WORKER_RETRY_MS;
        look_done(c, 0);
        return;
    }
    deliver(c);
}

/* One look at the store, within the consumer's concurrency. */
static void look(consumer_t *c)
{
    pw_queues_t *q = c->engine;
    c->wake_ms = -1;
    if (c->in_flight >= c->concurrency)
        return;                                     /* an answer pumps again */
    c->looking = 1;
    q->store->ops->depth(q->store, pw_bytes_of(c->cfg->queue), pw_queues_now_ms(),
                         c->cfg->max_batch_size, &c->depth, looked, c);
}

/* Looks until nothing more can go out now; a look that ends inside (SQLite) or a call that
 * ends inside (a pool answering 503 at once) only asks for another round. */
static void run_pump(consumer_t *c)
{
    if (c->pumping || c->looking)
        return;
    c->pumping = 1;
    while (c->pump_again && !c->looking) {
        c->pump_again = 0;
        look(c);
    }
    c->pumping = 0;
    schedule(c->engine);
}

static void pump(consumer_t *c)
{
    c->pump_again = 1;
    run_pump(c);
}

static void pump_queue_named(pw_queues_t *q, const char *queue)
{
    consumer_t *c = consumer_of(q, pw_bytes_of(queue));
    if (c)
        pump(c);
}

/* ---- the timer ---- */

static void on_timer(uv_timer_t *timer)
{
    pw_queues_t *q = timer->data;
    int64_t now = pw_queues_now_ms();
    for (size_t i = 0; i < q->n_consumers; i++)
        if (q->consumers[i].wake_ms >= 0 && q->consumers[i].wake_ms <= now)
            pump(&q->consumers[i]);
    schedule(q);
}

static void schedule(pw_queues_t *q)
{
    int64_t next = -1;
    for (size_t i = 0; i < q->n_consumers; i++) {
        int64_t w = q->consumers[i].wake_ms;
        if (w >= 0 && (next < 0 || w < next))
            next = w;
    }
    if (next < 0) {
        uv_timer_stop(&q->timer);
        return;
    }
    int64_t delay = next - pw_queues_now_ms();
    uv_timer_start(&q->timer, on_timer, (uint64_t)(delay > 0 ? delay : 0), 0);
}

/* ---- sending ---- */

typedef struct {
    consumer_t *consumer;       /* of the queue sent to; NULL: none on this host */
    pw_queues_sent_cb sent;
    void *arg;
    pw_queues_t *engine;
} sending_t;

static void stored(void *arg, int rc)
{
    sending_t *s = arg;
    pw_queue_backend_t *store = s->engine->store;
    s->sent(s->arg, rc < 0 ? store->ops->error(store) : NULL, rc == PW_QUEUE_UNAVAILABLE);
    if (rc == 0 && s->consumer)
        pump(s->consumer);
    free(s);
}

void pw_queues_send(pw_queues_t *q, pw_bytes_t queue, pw_queue_new_t *msgs, size_t n,
                    char (*id_space)[PW_QUEUE_ID_LEN], pw_queues_sent_cb sent, void *arg)
{
    sending_t *s = malloc(sizeof *s);
    if (!s) {
        sent(arg, "out of memory", 0);
        return;
    }
    *s = (sending_t){ consumer_of(q, queue), sent, arg, q };
    for (size_t i = 0; i < n; i++) {
        next_id(q, id_space[i]);
        msgs[i].id = (pw_bytes_t){ (const uint8_t *)id_space[i], PW_QUEUE_ID_LEN };
    }
    q->store->ops->send(q->store, queue, msgs, n, pw_queues_now_ms(), stored, s);
}

/* ---- setup ---- */

int pw_queues_create(uv_loop_t *loop, const pw_config_t *config, const char *dir,
                     pw_pg_pool_t *pg, pw_queues_lookup_cb lookup, void *lookup_arg, pw_queues_t **out, char *err,
                     size_t err_len)
{
    *out = NULL;
    int has_queues = 0;
    size_t n = count_consumers(config, &has_queues);
    if (!has_queues)
        return 0;
    pw_queues_t *q = calloc(1, sizeof *q);
    if (!q || !(q->consumers = calloc(n ? n : 1, sizeof *q->consumers))) {
        free(q);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    char why[1024];
    if ((pg ? pw_pg_queue_open(pg, &q->store, why, sizeof why)
            : pw_queue_sqlite_open(dir, &q->store, why, sizeof why)) < 0) {
        snprintf(err, err_len, "queues: cannot open their store: %s (--persist-dir=DIR chooses "
                 "where it is kept)", why);
        free(q->consumers);
        free(q);
        return -1;
    }
    q->loop = loop;
    q->lookup = lookup;
    q->lookup_arg = lookup_arg;
    make_prefix(q);
    add_consumers(q, config);
    uv_timer_init(loop, &q->timer);
    uv_unref((uv_handle_t *)&q->timer);
    q->timer.data = q;
    schedule(q);                /* every consumer looks once the loop runs (wake_ms 0) */
    *out = q;
    return 0;
}

static void free_after_close(uv_handle_t *handle)
{
    free(handle->data);
}

void pw_queues_free(pw_queues_t *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n_consumers; i++)
        while (q->consumers[i].batches)     /* pools are closed: left taken for the next host */
            batch_unlink_free(q->consumers[i].batches);
    q->store->ops->close(q->store);
    free(q->consumers);
    uv_timer_stop(&q->timer);
    uv_close((uv_handle_t *)&q->timer, free_after_close);  /* q is freed if the loop runs again */
}
