/* queue_options.c — `pyworkerd.queueConsumers` and `pyworkerd.crons` of a worker, and the
 * checks across workers (host process, config loading; see queue_options.h). Limits are
 * Cloudflare's (Queues: batch size 100, batch timeout 60 s, 100 retries, delays up to 12
 * hours, concurrency 250). Messages name the field as written in the config.
 * Invariant: on failure nothing is left half-owned: o's lists are always freeable.
 */
#include "config/queue_options.h"
#include "config/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define MAX_CRONS 250

int pw_queue_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > PW_QUEUE_MAX_NAME)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return 0;
    return 1;
}

typedef struct {
    char *err;
    size_t err_len;
    const char **at;
    int *at_field;
} fail_t;

static int fail_at(const fail_t *f, const char *at, int field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(const fail_t *f, const char *at, int field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, f->err_len, fmt, ap);
    va_end(ap);
    *f->at = at;
    *f->at_field = field;
    return -1;
}

/* A number field of the consumer within [lo, hi]; absent: its default. */
static int read_number(const fail_t *f, const cJSON *cj, const char *field, unsigned def,
                       unsigned lo, unsigned hi, const char *unit, unsigned *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cj, field);
    double d = cJSON_IsNumber(v) ? v->valuedouble : def;
    if (d < lo || d > hi)
        return fail_at(f, field, 1, "pyworkerd.queueConsumers: %s is %.0f; it must be %u to %u%s",
                       field, d, lo, hi, unit);
    *out = (unsigned)d;
    return 0;
}

static int read_consumer(const fail_t *f, const cJSON *cj, pw_queue_consumer_t *q)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cj, "queue");
    const char *queue = cJSON_IsString(name) ? name->valuestring : "";
    if (!pw_queue_name_valid(queue))
        return fail_at(f, *queue ? queue : "queueConsumers", !*queue, "pyworkerd.queueConsumers: "
                       "queue \"%.80s\" is not a valid queue name (1 to %d lowercase letters, "
                       "digits, '-' or '_')", queue, PW_QUEUE_MAX_NAME);
    const cJSON *dlq = cJSON_GetObjectItemCaseSensitive(cj, "deadLetterQueue");
    const char *dead = cJSON_IsString(dlq) ? dlq->valuestring : "";
    if (*dead && !pw_queue_name_valid(dead))
        return fail_at(f, dead, 0, "pyworkerd.queueConsumers: deadLetterQueue \"%.80s\" is not a "
                       "valid queue name (1 to %d lowercase letters, digits, '-' or '_')", dead,
                       PW_QUEUE_MAX_NAME);
    if (strcmp(dead, queue) == 0)
        return fail_at(f, dead, 0, "pyworkerd.queueConsumers: queue \"%s\" cannot be its own "
                       "deadLetterQueue", queue);
    if (read_number(f, cj, "maxBatchSize", 10, 1, PW_QUEUE_MAX_BATCH, " messages", &q->max_batch_size) < 0 ||
        read_number(f, cj, "maxBatchTimeout", 5, 0, 60, " seconds", &q->max_batch_timeout_s) < 0 ||
        read_number(f, cj, "maxRetries", 3, 0, 100, "", &q->max_retries) < 0 ||
        read_number(f, cj, "retryDelay", 0, 0, PW_QUEUE_MAX_DELAY_S, " seconds", &q->retry_delay_s) < 0 ||
        read_number(f, cj, "maxConcurrency", 0, 0, 250, " (0: automatic)", &q->max_concurrency) < 0)
        return -1;
    q->queue = strdup(queue);
    q->dead_letter_queue = *dead ? strdup(dead) : NULL;
    if (!q->queue || (*dead && !q->dead_letter_queue))
        return fail_at(f, NULL, 0, "out of memory while loading the config");
    return 0;
}

static int load_consumers(const fail_t *f, const cJSON *list, pw_worker_options_t *o)
{
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0;
    if (n == 0)
        return 0;
    if (!(o->queue_consumers = calloc(n, sizeof *o->queue_consumers)))
        return fail_at(f, NULL, 0, "out of memory while loading the config");
    const cJSON *cj;
    cJSON_ArrayForEach(cj, list) {
        pw_queue_consumer_t *q = &o->queue_consumers[o->n_queue_consumers++];
        if (read_consumer(f, cj, q) < 0)
            return -1;
        for (size_t i = 0; i + 1 < o->n_queue_consumers; i++)
            if (strcmp(o->queue_consumers[i].queue, q->queue) == 0)
                return fail_at(f, q->queue, 0, "pyworkerd.queueConsumers: queue \"%s\" is listed "
                               "twice", q->queue);
    }
    return 0;
}

static int load_producers(const fail_t *f, const cJSON *list, pw_worker_options_t *o)
{
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0;
    if (n == 0)
        return 0;
    if (!(o->queue_producers = calloc(n, sizeof *o->queue_producers)))
        return fail_at(f, NULL, 0, "out of memory while loading the config");
    const cJSON *pj;
    cJSON_ArrayForEach(pj, list) {
        pw_queue_producer_t *p = &o->queue_producers[o->n_queue_producers++];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(pj, "binding");
        if (!cJSON_IsString(name) || !*name->valuestring)
            return fail_at(f, "queueProducers", 1, "pyworkerd.queueProducers: each needs a binding");
        if (read_number(f, pj, "deliveryDelay", 0, 0, PW_QUEUE_MAX_DELAY_S, " seconds",
                        &p->delivery_delay_s) < 0)
            return -1;
        if (!(p->binding = strdup(name->valuestring)))
            return fail_at(f, NULL, 0, "out of memory while loading the config");
    }
    return 0;
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int load_crons(const fail_t *f, const cJSON *list, pw_worker_options_t *o)
{
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0;
    if (n == 0)
        return 0;
    if (n > MAX_CRONS)
        return fail_at(f, "crons", 1, "pyworkerd.crons: %zu schedules; at most %d", n, MAX_CRONS);
    if (!(o->crons = calloc(n, sizeof *o->crons)))
        return fail_at(f, NULL, 0, "out of memory while loading the config");
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        const char *text = cJSON_IsString(item) ? item->valuestring : "";
        pw_cron_t cron;
        char why[256];
        if (pw_cron_parse(text, &cron, why, sizeof why) < 0)
            return fail_at(f, text, 0, "pyworkerd.crons: \"%.80s\" is not a valid cron expression: "
                           "%s", text, why);
        if (pw_cron_next(&cron, now_ms()) < 0)
            return fail_at(f, text, 0, "pyworkerd.crons: \"%.80s\" never fires (no such date in "
                           "the next five years)", text);
        if (!(o->crons[o->n_crons++] = strdup(text)))
            return fail_at(f, NULL, 0, "out of memory while loading the config");
    }
    return 0;
}

int pw_queue_options_load(const cJSON *ext, pw_worker_options_t *o, char *err, size_t err_len,
                          const char **at, int *at_field)
{
    fail_t f = { err, err_len, at, at_field };
    if (!ext)
        return 0;
    if (load_consumers(&f, cJSON_GetObjectItemCaseSensitive(ext, "queueConsumers"), o) < 0 ||
        load_producers(&f, cJSON_GetObjectItemCaseSensitive(ext, "queueProducers"), o) < 0)
        return -1;
    return load_crons(&f, cJSON_GetObjectItemCaseSensitive(ext, "crons"), o);
}

void pw_queue_options_free(pw_worker_options_t *o)
{
    for (size_t i = 0; i < o->n_queue_consumers; i++) {
        free(o->queue_consumers[i].queue);
        free(o->queue_consumers[i].dead_letter_queue);
    }
    free(o->queue_consumers);
    for (size_t i = 0; i < o->n_queue_producers; i++)
        free(o->queue_producers[i].binding);
    free(o->queue_producers);
    o->queue_producers = NULL;
    o->n_queue_producers = 0;
    for (size_t i = 0; i < o->n_crons; i++)
        free(o->crons[i]);
    free(o->crons);
    o->queue_consumers = NULL;
    o->crons = NULL;
    o->n_queue_consumers = o->n_crons = 0;
}

/* ---- across workers ---- */

/* The worker (other than `skip`) consuming `queue`, or NULL. */
static const pw_service_t *consumer_of(const pw_config_t *config, const char *queue,
                                       const pw_service_t *skip)
{
    for (size_t i = 0; i < config->n_services; i++) {
        const pw_service_t *s = &config->services[i];
        const pw_worker_options_t *o = &s->worker.options;
        for (size_t j = 0; s != skip && s->kind == PW_SERVICE_WORKER && j < o->n_queue_consumers; j++)
            if (strcmp(o->queue_consumers[j].queue, queue) == 0)
                return s;
    }
    return NULL;
}

static int check_worker(const pw_config_t *config, const pw_service_t *s, char *err,
                        size_t err_len, const char **at)
{
    const pw_worker_t *w = &s->worker;
    for (size_t j = 0; j < w->options.n_queue_consumers; j++) {
        const char *queue = w->options.queue_consumers[j].queue;
        const pw_service_t *other = consumer_of(config, queue, s);
        if (other && other < s) {
            *at = queue;
            snprintf(err, err_len, "queue \"%s\" has two consumers, workers \"%s\" and \"%s\" (a "
                     "queue has one consumer)", queue, other->name, s->name);
            return -1;
        }
    }
    for (size_t j = 0; j < w->n_bindings; j++) {
        const pw_binding_t *b = &w->bindings[j];
        if (b->kind != PW_BINDING_QUEUE || !pw_config_service(config, b->value))
            continue;
        *at = b->name;
        snprintf(err, err_len, "not supported by pyworkerd: worker.bindings[\"%s\"].queue naming "
                 "service \"%s\" (a queue binding names one of pyworkerd's queues, which are not "
                 "services: give the queue a name no service has)", b->name, b->value);
        return -1;
    }
    return 0;
}

int pw_queue_options_check(const pw_config_t *config, char *err, size_t err_len,
                           const char **service, const char **at)
{
    for (size_t i = 0; i < config->n_services; i++) {
        const pw_service_t *s = &config->services[i];
        *service = s->name;
        if (s->kind == PW_SERVICE_WORKER && check_worker(config, s, err, err_len, at) < 0)
            return -1;
    }
    return 0;
}
