/* shard.c — a host event loop on a thread of its own (host process; see shard.h). Everything a
 * shard owns is created, used and closed on its thread; the main loop talks to it only through
 * its mailbox, and it answers through the main loop's.
 */
#include "host/shard.h"
#include "base/log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pw_shard {
    pw_shard_options_t opts;
    pthread_t thread;
    uv_loop_t loop;
    pw_mailbox_t *box;
    pw_rpc_host_t *rpc;
    pw_pool_t **pools;          /* per service; NULL for other services */
    pw_http_server_t *http;
    uv_check_t log_flush;
    size_t pools_retiring;
    int stopped;
    /* the start handshake with the main thread */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int start_state;            /* 0 starting, 1 serving, -1 failed */
    char err[1024];
};

/* ---- telling the main loop ---- */

static void tell_idle(void *arg, int closed)
{
    pw_shard_t *shard = arg;
    shard->opts.on_idle(shard->opts.arg, shard);
}

static void tell_retired(void *arg, int closed)
{
    pw_shard_t *shard = arg;
    shard->opts.on_retired(shard->opts.arg, shard);
}

static void tell_exited(void *arg, int closed)
{
    pw_shard_t *shard = arg;
    shard->opts.on_exited(shard->opts.arg, shard);
}

static void tell_main(pw_shard_t *shard, pw_mail_cb fn)
{
    if (pw_mailbox_post(shard->opts.owner_mailbox, fn, shard) < 0)
        pw_log_error("host thread %zu: out of memory telling the main loop", shard->opts.index);
}

/* ---- setup, on the shard's thread ---- */

static pw_pool_t *lookup_pool(void *arg, const char *service)
{
    pw_shard_t *shard = arg;
    for (size_t i = 0; i < shard->opts.config->n_services; i++)
        if (strcmp(shard->opts.config->services[i].name, service) == 0)
            return shard->pools[i];
    return NULL;
}

static int start_rpc(pw_shard_t *shard)
{
    pw_rpc_options_t ro = { .persist_dir = shard->opts.persist_dir, .lookup = lookup_pool,
                            .lookup_arg = shard, .owner = shard->opts.owner_rpc,
                            .owner_mailbox = shard->opts.owner_mailbox, .mailbox = shard->box };
    if (pw_rpc_host_create(&shard->loop, shard->opts.config, &ro, &shard->rpc) < 0)
        return snprintf(shard->err, sizeof shard->err, "cannot open the bindings"), -1;
    pw_rpc_set_fetch_timeout(shard->rpc, shard->opts.fetch_timeout_ms);
    return 0;
}

static int start_pools(pw_shard_t *shard)
{
    const pw_config_t *config = shard->opts.config;
    int failed = 0;
    for (size_t i = 0; i < config->n_services; i++) {
        pw_pool_options_t o = shard->opts.pools[i];
        if (!o.name)
            continue;
        pw_rpc_worker_t *rpc;
        if (failed || pw_rpc_worker_create(shard->rpc, &config->services[i], &rpc, shard->err,
                                           sizeof shard->err) < 0) {
            close(o.template_fd);       /* the template exits */
            failed = 1;
            continue;
        }
        o.rpc = pw_rpc_handle;
        o.rpc_arg = rpc;
        if (pw_pool_create(&shard->loop, &o, &shard->pools[i]) < 0) {
            snprintf(shard->err, sizeof shard->err, "service %s: cannot start its isolates", o.name);
            failed = 1;
        }
    }
    return failed ? -1 : 0;
}

static void on_http_idle(void *arg)
{
    pw_shard_t *shard = arg;
    tell_main(shard, tell_idle);
}

static int start_http(pw_shard_t *shard)
{
    size_t n = shard->opts.n_listeners;
    pw_listener_spec_t *specs = calloc(n ? n : 1, sizeof *specs);
    if (!specs)
        return snprintf(shard->err, sizeof shard->err, "out of memory"), -1;
    for (size_t i = 0; i < n; i++) {
        specs[i] = shard->opts.listeners[i];
        if (shard->opts.worker_index[i] != SIZE_MAX)    /* else a disk service's files */
            specs[i].worker = shard->pools[shard->opts.worker_index[i]];
    }
    pw_http_options_t http = shard->opts.http;
    http.on_idle = on_http_idle;
    http.on_idle_arg = shard;
    int rc = pw_http_server_start(&shard->loop, specs, n, &http, &shard->http, shard->err,
                                  sizeof shard->err);
    free(specs);
    return rc;
}

static void on_log_flush(uv_check_t *check)
{
    pw_log_flush();
}

/* ---- shutdown, on the shard's thread ---- */

static void close_serving(pw_shard_t *shard)
{
    if (shard->http)
        pw_http_server_close(shard->http);
    shard->http = NULL;
    for (size_t i = 0; i < shard->opts.config->n_services; i++)
        if (shard->pools[i])
            pw_pool_close(shard->pools[i]);
    memset(shard->pools, 0, shard->opts.config->n_services * sizeof *shard->pools);
}

static void on_final(void *arg, int closed);

/* On the main loop: every forwarded call of this shard was cancelled before this ran (the
 * mailbox keeps order), so the main loop posts nothing to it after `final`. */
static void on_barrier(void *arg, int closed)
{
    pw_shard_t *shard = arg;
    if (pw_mailbox_post(shard->box, on_final, shard) < 0)
        pw_log_error("host thread %zu: out of memory stopping it", shard->opts.index);
}

static void on_final(void *arg, int closed)
{
    pw_shard_t *shard = arg;
    uv_close((uv_handle_t *)&shard->log_flush, NULL);
    pw_mailbox_close(shard->box);
    shard->box = NULL;
    uv_stop(&shard->loop);      /* h2o's contexts keep handles of their own */
}

/* Isolates closed (their binding calls on the main loop cancelled), then the barrier. */
static void stop_on_thread(pw_shard_t *shard)
{
    if (shard->stopped)
        return;
    shard->stopped = 1;
    close_serving(shard);
    if (pw_mailbox_post(shard->opts.owner_mailbox, on_barrier, shard) < 0)
        on_final(shard, 0);
}

/* What is left once the shard stopped: its bindings. The loop is not run or closed again: h2o's
 * contexts keep handles of their own inside the listeners, which the server has freed by now
 * (closing them by walking the loop touched freed memory: ASan, test_threads); the thread
 * ends and the process exits soon after. */
static void finish_on_thread(pw_shard_t *shard)
{
    pw_rpc_host_free(shard->rpc);
    shard->rpc = NULL;
    pw_log_flush();
}

/* ---- messages from the main loop ---- */

static void on_drain(void *arg, int closed)
{
    pw_shard_t *shard = arg;
    if (shard->http)
        pw_http_server_drain(shard->http);      /* on_http_idle, maybe at once */
    else
        tell_main(shard, tell_idle);
}

static void on_pool_retired(void *arg, pw_pool_t *pool)
{
    pw_shard_t *shard = arg;
    for (size_t i = 0; i < shard->opts.config->n_services; i++)
        if (shard->pools[i] == pool)
            shard->pools[i] = NULL;     /* it closes itself */
    if (--shard->pools_retiring == 0)
        tell_main(shard, tell_retired);
}

static void on_retire(void *arg, int closed)
{
    pw_shard_t *shard = arg;
    shard->pools_retiring = 1;          /* held until every pool was asked */
    for (size_t i = 0; i < shard->opts.config->n_services; i++)
        if (shard->pools[i]) {
            shard->pools_retiring++;
            pw_pool_drain(shard->pools[i], NULL, on_pool_retired, shard);
        }
    on_pool_retired(shard, NULL);
}

static void on_stop(void *arg, int closed)
{
    stop_on_thread(arg);
}

static void post_to_shard(pw_shard_t *shard, pw_mail_cb fn)
{
    if (shard->box && pw_mailbox_post(shard->box, fn, shard) < 0)
        pw_log_error("host thread %zu: out of memory", shard->opts.index);
}

void pw_shard_drain(pw_shard_t *shard)
{
    post_to_shard(shard, on_drain);
}

void pw_shard_retire(pw_shard_t *shard)
{
    post_to_shard(shard, on_retire);
}

void pw_shard_stop(pw_shard_t *shard)
{
    post_to_shard(shard, on_stop);
}

size_t pw_shard_index(const pw_shard_t *shard)
{
    return shard->opts.index;
}

/* ---- the thread ---- */

static void say_started(pw_shard_t *shard, int state)
{
    pthread_mutex_lock(&shard->lock);
    shard->start_state = state;
    pthread_cond_signal(&shard->cond);
    pthread_mutex_unlock(&shard->lock);
}

static int start_on_thread(pw_shard_t *shard)
{
    if (uv_loop_init(&shard->loop) < 0)
        return snprintf(shard->err, sizeof shard->err, "cannot create an event loop"), -1;
    if (!(shard->box = pw_mailbox_create(&shard->loop)))
        return snprintf(shard->err, sizeof shard->err, "out of memory"), -1;
    uv_check_init(&shard->loop, &shard->log_flush);
    uv_check_start(&shard->log_flush, on_log_flush);
    uv_unref((uv_handle_t *)&shard->log_flush);
    return start_rpc(shard) < 0 || start_pools(shard) < 0 || start_http(shard) < 0 ? -1 : 0;
}

static void *shard_main(void *arg)
{
    pw_shard_t *shard = arg;
    char name[16];
    snprintf(name, sizeof name, "pw-loop-%zu", shard->opts.index);
    pthread_setname_np(pthread_self(), name);
    if (start_on_thread(shard) < 0) {
        if (shard->box) {                 /* nothing was forwarded yet: no barrier needed */
            close_serving(shard);
            on_final(shard, 0);
            finish_on_thread(shard);
        }
        say_started(shard, -1);
        return NULL;
    }
    say_started(shard, 1);
    uv_run(&shard->loop, UV_RUN_DEFAULT);
    finish_on_thread(shard);
    tell_main(shard, tell_exited);
    return NULL;
}

int pw_shard_start(const pw_shard_options_t *opts, pw_shard_t **out, char *err, size_t err_len)
{
    *out = NULL;
    pw_shard_t *shard = calloc(1, sizeof *shard);
    if (shard)
        shard->pools = calloc(opts->config->n_services + 1, sizeof *shard->pools);
    if (!shard || !shard->pools) {
        free(shard);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    shard->opts = *opts;
    pthread_mutex_init(&shard->lock, NULL);
    pthread_cond_init(&shard->cond, NULL);
    if (pthread_create(&shard->thread, NULL, shard_main, shard) != 0) {
        snprintf(err, err_len, "cannot start host thread %zu", opts->index);
        free(shard->pools);
        free(shard);
        return -1;
    }
    pthread_mutex_lock(&shard->lock);
    while (shard->start_state == 0)
        pthread_cond_wait(&shard->cond, &shard->lock);
    pthread_mutex_unlock(&shard->lock);
    if (shard->start_state < 0) {
        snprintf(err, err_len, "host thread %zu: %s", opts->index, shard->err);
        pthread_join(shard->thread, NULL);
        free(shard->pools);
        free(shard);
        return -1;
    }
    *out = shard;
    return 0;
}

void pw_shard_join(pw_shard_t *shard)
{
    if (!shard)
        return;
    pthread_join(shard->thread, NULL);
    pthread_mutex_destroy(&shard->lock);
    pthread_cond_destroy(&shard->cond);
    free(shard->pools);
    free(shard);
}
