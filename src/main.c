/* main.c — pyworkerd's entry point (host process; the zygote and cold isolates run another
 * program: isolate_main.c, or Python with the extension module). Parses the command line,
 * loads the config, lays out each Python worker's files, starts the runtime zygote and one
 * template + isolate pool per worker, serves HTTP until SIGTERM/SIGINT, then drains in-flight
 * requests, retires every isolate (it runs its shutdown hooks and exits; all bounded by
 * --drain-timeout) and exits 0. Only this file decides to exit.
 */
#include "base/err.h"
#include "base/fd.h"
#include "base/log.h"
#include "base/paths.h"
#include "config/cli.h"
#include "config/config.h"
#include "host/child_log.h"
#include "host/control_events.h"
#include "host/cron_timer.h"
#include "host/dev.h"
#include "host/cluster.h"
#include "host/loop_templates.h"
#include "host/pool.h"
#include "host/pool_ops.h"
#include "host/reload.h"
#include "host/mailbox.h"
#include "host/rpc.h"
#include "host/shard.h"
#include "host/supervisor.h"
#include "host/test_runner.h"
#include "host/worker_dir.h"
#include "http/request_id.h"
#include "http/server.h"
#include "http/static_assets.h"
#include "http/static_handler.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_REQUEST_BODY (32u * 1024 * 1024)

typedef struct {
    const pw_cli_t *cli;
    pw_config_t *config;
    uv_loop_t *loop;
    char runtime_dir[PATH_MAX];
    pw_zygote_t zygote;
    pw_pool_t **pools;          /* one per service; NULL for non-worker services */
    pw_rpc_host_t *rpc;         /* bindings: KV stores, service routing, outbound fetch */
    pw_http_server_t *http;
    pw_static_dir_t **socket_dirs;  /* per socket: the disk service it serves, or NULL */
    pw_reload_t *reload;        /* --watch */
    uv_signal_t sigterm, sigint;
    uv_check_t log_flush;       /* writes the access lines of each loop turn at once */
    uv_timer_t drain_timer;
    int stopping;               /* 1: requests finishing, 2: isolates retiring, 3: closed */
    int exit_code;              /* `pyworkerd test`: its verdict */
    pw_test_target_t *test_targets;
    size_t pools_retiring;
    char **spec_paths;          /* per service: its worker's spec file (NULL: not a worker) */
    pw_loop_templates_t templates;  /* every loop's templates, until its pools take them */
    /* --threads: the other loops (host/shard.h), and how many have not yet done the step of
     * shutting down under way */
    size_t n_loops;             /* 1 + n_shards: what the isolate counts are shared over */
    pw_mailbox_t *box;          /* the main loop's: shards' messages and forwarded calls */
    pw_shard_t **shards;
    size_t n_shards;
    size_t loops_busy;          /* draining: loops with requests in flight */
    size_t shards_running;      /* stopping: shards whose thread has not yet ended */
    int serving;                /* the main loop's handles are up (watch_signals) */
    pw_cron_timer_t *cron;      /* Cron Triggers (serve only) */
    pw_cluster_t *cluster;      /* --storage postgresql://...: state in PostgreSQL */
    pw_cluster_info_t node;     /* this node of it, for the bindings */
} host_t;

static int load_config_file(const pw_cli_t *cli, pw_config_t **out)
{
    char schema_dir[PATH_MAX], err[16384];
    if (pw_paths_schema_dir(schema_dir, sizeof schema_dir) < 0) {
        pw_log_error("cannot find pyworkerd's schema/ directory next to the binary "
                     "(set PYWORKERD_HOME to the pyworkerd tree)");
        return -1;
    }
    pw_config_options_t opts = {
        .config_path = cli->config_path,
        .const_name = cli->const_name,
        .import_paths = cli->import_paths,
        .n_import_paths = cli->n_import_paths,
        .schema_dir = schema_dir,
        .socket_overrides = cli->socket_overrides,
        .n_socket_overrides = cli->n_socket_overrides,
        .socket_fds = cli->socket_fds,
        .n_socket_fds = cli->n_socket_fds,
        .directory_overrides = cli->directory_overrides,
        .n_directory_overrides = cli->n_directory_overrides,
        .external_overrides = cli->external_overrides,
        .n_external_overrides = cli->n_external_overrides,
        .default_compat_date = cli->compat_date,
    };
    if ((pw_dev_is_wrangler(cli) ? pw_dev_load_config(cli, &opts, out, err, sizeof err)
                                 : pw_config_load(&opts, out, err, sizeof err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int load_config(host_t *host)
{
    return load_config_file(host->cli, &host->config);
}

/* A worker's own `pyworkerd = (...)` value when it set one, else the flag's. */
static unsigned or_default(unsigned own, unsigned flag)
{
    return own ? own : flag;
}

/* An isolate count given for the whole host, for one of n loops: its share, rounded up, at
 * least one where the count is (0 stays 0: scale to zero, or no limit). */
static size_t per_loop(size_t total, size_t n_loops)
{
    return total ? (total + n_loops - 1) / n_loops : 0;
}

static pw_scale_t scale_of(const pw_cli_t *cli, size_t n_loops)
{
    return (pw_scale_t){ .min = per_loop((size_t)cli->isolates, n_loops),
                         .max = per_loop((size_t)cli->max_isolates, n_loops),
                         .spare = per_loop((size_t)cli->spare_isolates, n_loops),
                         .idle_timeout_ms = (uint64_t)(cli->idle_timeout_s * 1000) };
}

/* Lays out service `index` of `config` under `dir` (the runtime dir, or a --watch generation). */
static int write_spec(host_t *host, const pw_config_t *config, size_t index, const char *dir,
                      char *spec_path, size_t spec_path_len)
{
    char err[4096];
    const pw_cli_t *cli = host->cli;
    /* A cold isolate is a new exec of pyworkerd, which the template's mount tree does not
     * hold: --no-snapshot (a benchmark mode) runs without the sandbox. */
    pw_worker_settings_t settings = { .config_dir = config->dir,
                                      .sandbox = cli->sandbox && cli->snapshot != PW_SNAPSHOT_NONE,
                                      .memory_limit_mib = or_default(
                                          config->services[index].worker.options.memory_limit_mib,
                                          (unsigned)cli->memory_limit_mib),
                                      .cpu_limit_ms = or_default(
                                          config->services[index].worker.options.cpu_limit_ms,
                                          (unsigned)cli->cpu_limit_ms),
                                      .test_scheduled = cli->test_scheduled,
                                      .testing = cli->cmd == PW_CMD_TEST };
    if (pw_worker_dir_write(dir, &config->services[index], &settings, spec_path, spec_path_len,
                            err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

/* A worker's pool on one of the host's loops (its bindings set by the caller). */
static pw_pool_options_t pool_options(host_t *host, const pw_service_t *service, int template_fd,
                                      const char *spec_path)
{
    const pw_cli_t *cli = host->cli;
    const pw_worker_options_t *own = &service->worker.options;
    pw_scale_t scale = scale_of(cli, host->n_loops);
    scale.min = own->min_isolates ? per_loop(own->min_isolates, host->n_loops) : scale.min;
    scale.max = own->max_isolates ? per_loop(own->max_isolates, host->n_loops) : scale.max;
    return (pw_pool_options_t){
        .name = service->name, .template_fd = template_fd,
        .isolates = (int)scale.min, .scale = scale,
        .cpu_limit_ms = or_default(own->cpu_limit_ms, (unsigned)cli->cpu_limit_ms),
        .request_timeout_ms = or_default(own->request_timeout_ms,
                                         (unsigned)(cli->request_timeout_s * 1000)),
        .max_concurrent = or_default(own->max_concurrent, (unsigned)cli->max_concurrent),
        .retire_timeout_ms = (unsigned)(cli->drain_timeout_s * 1000),
        .zygote = &host->zygote, .spec_path = spec_path,
    };
}

static int create_pool(host_t *host, const pw_config_t *config, size_t index, int template_fd,
                       const char *spec_path, pw_pool_t **out)
{
    const pw_service_t *service = &config->services[index];
    char err[4096];
    pw_rpc_worker_t *rpc;
    if (pw_rpc_worker_create(host->rpc, service, &rpc, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        close(template_fd);
        return -1;
    }
    pw_pool_options_t opts = pool_options(host, service, template_fd, spec_path);
    opts.rpc = pw_rpc_handle;
    opts.rpc_arg = rpc;
    if (pw_pool_create(host->loop, &opts, out) < 0) {
        fprintf(stderr, "service %s: cannot start its isolates\n", service->name);
        return -1;
    }
    return 0;
}

static int write_specs(host_t *host)
{
    for (size_t i = 0; i < host->config->n_services; i++) {
        char spec_path[PATH_MAX];
        if (host->config->services[i].kind != PW_SERVICE_WORKER)
            continue;
        if (write_spec(host, host->config, i, host->runtime_dir, spec_path, sizeof spec_path) < 0 ||
            !(host->spec_paths[i] = strdup(spec_path)))
            return -1;
    }
    return 0;
}

/* Every loop's templates of every worker, forked at once: the shards' load beside the main
 * loop's (host/loop_templates.h). */
static int load_templates(host_t *host)
{
    static char err[PW_ERR_TEXT_MAX + 256];
    if (pw_loop_templates_load(&host->templates, &host->zygote, host->config, host->spec_paths,
                               host->n_loops, err, sizeof err) == 0)
        return 0;
    if (pw_supervisor_stop_signal())        /* not the worker's failure */
        return -1;
    fputs(err, stderr);
    if (err[0] && err[strlen(err) - 1] != '\n')
        fputc('\n', stderr);
    return -1;
}

static int start_worker(host_t *host, size_t index)
{
    pw_log_info("service %s: worker template ready", host->config->services[index].name);
    return create_pool(host, host->config, index, pw_loop_templates_take(&host->templates, 0, index),
                       host->spec_paths[index], &host->pools[index]);
}

static pw_pool_t *pool_of(host_t *host, const char *service_name);

static pw_pool_t *lookup_pool(void *arg, const char *service_name)
{
    return pool_of(arg, service_name);
}

static int start_workers(host_t *host)
{
    pw_rpc_options_t rpc_opts = { .persist_dir = host->cli->persist_dir, .lookup = lookup_pool,
                                  .do_idle_timeout_ms = (unsigned)(host->cli->do_idle_timeout_s * 1000),
                                  .lookup_arg = host, .pg = pw_cluster_pool(host->cluster),
                                  .cluster = host->cluster ? &host->node : NULL,
                                  .watch = host->cli->watch };
    if (pw_rpc_host_create(host->loop, host->config, &rpc_opts, &host->rpc) < 0)
        return -1;
    pw_rpc_set_fetch_timeout(host->rpc, (unsigned)(host->cli->fetch_timeout_s * 1000));
    host->pools = calloc(host->config->n_services ? host->config->n_services : 1, sizeof *host->pools);
    host->spec_paths = calloc(host->config->n_services + 1, sizeof *host->spec_paths);
    if (!host->pools || !host->spec_paths || write_specs(host) < 0 || load_templates(host) < 0)
        return -1;
    for (size_t i = 0; i < host->config->n_services; i++)
        if (host->config->services[i].kind == PW_SERVICE_WORKER && start_worker(host, i) < 0)
            return -1;
    return 0;
}

static pw_pool_t *pool_of(host_t *host, const char *service_name)
{
    for (size_t i = 0; i < host->config->n_services; i++)
        if (strcmp(host->config->services[i].name, service_name) == 0)
            return host->pools[i];
    return NULL;
}

static void on_idle(void *arg);

/* A socket whose service is a disk service: the host serves its directory itself. */
static int serve_disk(host_t *host, size_t i, pw_listener_spec_t *spec)
{
    const pw_service_t *svc = pw_config_service(host->config, host->config->sockets[i].service);
    char err[PATH_MAX + 256];
    if (!svc || svc->kind != PW_SERVICE_DISK)
        return 0;
    if (pw_static_dir_open_service(svc, host->cli->watch, &host->socket_dirs[i], err, sizeof err) < 0) {
        fprintf(stderr, "socket %s: %s\n", spec->socket_name, err);
        return -1;
    }
    spec->files = host->socket_dirs[i];
    if (svc->assets_worker) {           /* a worker's assets: they answer first, then the worker */
        spec->worker = pool_of(host, svc->assets_worker);
        if (!spec->worker)
            fprintf(stderr, "socket %s: disk.assets.worker \"%s\" is not a Python worker\n",
                    spec->socket_name, svc->assets_worker);
        return spec->worker ? 0 : -1;
    }
    spec->ops = &pw_static_files_ops;
    spec->worker = host->socket_dirs[i];
    return 0;
}

static int start_http(host_t *host)
{
    size_t n = host->config->n_sockets;
    pw_listener_spec_t *specs = calloc(n ? n : 1, sizeof *specs);
    host->socket_dirs = calloc(n ? n : 1, sizeof *host->socket_dirs);
    if (!specs || !host->socket_dirs) {
        free(specs);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const pw_socket_t *s = &host->config->sockets[i];
        specs[i] = (pw_listener_spec_t){ .socket_name = s->name, .address = s->address,
                                         .ops = &pw_pool_worker_ops,
                                         .worker = pool_of(host, s->service), .socket = s };
        if (!specs[i].worker && serve_disk(host, i, &specs[i]) < 0) {
            free(specs);
            return -1;
        }
        if (!specs[i].worker) {
            fprintf(stderr, "socket %s: not supported by pyworkerd yet: serving service \"%s\", "
                    "which is not a Python worker\n", s->name, s->service);
            free(specs);
            return -1;
        }
    }
    pw_http_options_t opts = { .max_request_body = MAX_REQUEST_BODY, .access_log = host->cli->access_log,
                               .on_idle = on_idle, .on_idle_arg = host,
                               .reuse_port = host->n_loops > 1 };
    char err[1024];
    int rc = pw_http_server_start(host->loop, specs, n, &opts, &host->http, err, sizeof err);
    free(specs);
    if (rc < 0)
        fprintf(stderr, "%s\n", err);
    return rc;
}

/* ---- --threads: the other loops ---- */

static void on_shard_idle(void *arg, pw_shard_t *shard);
static void on_shard_retired(void *arg, pw_shard_t *shard);
static void on_shard_exited(void *arg, pw_shard_t *shard);

/* Shard k's pools: each worker with a template of its own (loaded with the main loop's). */
static pw_pool_options_t *shard_pools(host_t *host, size_t k)
{
    const pw_config_t *config = host->config;
    pw_pool_options_t *pools = calloc(config->n_services + 1, sizeof *pools);
    for (size_t i = 0; pools && i < config->n_services; i++)
        if (host->spec_paths[i])
            pools[i] = pool_options(host, &config->services[i],
                                    pw_loop_templates_take(&host->templates, k, i), host->spec_paths[i]);
    return pools;
}

static size_t service_index(host_t *host, const char *name)
{
    for (size_t i = 0; i < host->config->n_services; i++)
        if (strcmp(host->config->services[i].name, name) == 0)
            return i;
    return 0;
}

static int start_shard(host_t *host, size_t k, const pw_listener_spec_t *specs,
                       const size_t *worker_index, size_t n)
{
    pw_pool_options_t *pools = shard_pools(host, k);
    if (!pools)
        return -1;
    pw_shard_options_t opts = {
        .index = k, .config = host->config, .pools = pools, .owner_rpc = host->rpc,
        .owner_mailbox = host->box, .persist_dir = host->cli->persist_dir,
        .fetch_timeout_ms = (unsigned)(host->cli->fetch_timeout_s * 1000),
        .listeners = specs, .worker_index = worker_index, .n_listeners = n,
        .http = { .max_request_body = MAX_REQUEST_BODY, .access_log = host->cli->access_log },
        .on_idle = on_shard_idle, .on_retired = on_shard_retired, .on_exited = on_shard_exited,
        .arg = host,
    };
    char err[1024];
    int rc = pw_shard_start(&opts, &host->shards[host->n_shards], err, sizeof err);
    free(pools);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    host->n_shards++;
    host->shards_running++;
    return 0;
}

static int start_shards(host_t *host)
{
    size_t n = host->config->n_sockets;
    pw_listener_spec_t *specs = calloc(n + 1, sizeof *specs);
    pw_http_share_t *shares = calloc(n + 1, sizeof *shares);
    size_t *worker_index = calloc(n + 1, sizeof *worker_index);
    host->shards = calloc(host->n_loops, sizeof *host->shards);
    int rc = specs && shares && worker_index && host->shards ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const pw_socket_t *s = &host->config->sockets[i];
        rc = pw_http_server_share(host->http, i, &shares[i]);
        specs[i] = (pw_listener_spec_t){ .socket_name = s->name, .address = s->address,
                                         .ops = &pw_pool_worker_ops, .socket = s, .share = &shares[i] };
        worker_index[i] = service_index(host, s->service);
        const pw_service_t *svc = pw_config_service(host->config, s->service);
        if (host->socket_dirs && host->socket_dirs[i]) {  /* files: every loop serves the one dir */
            specs[i].files = host->socket_dirs[i];
            if (svc && svc->assets_worker) {            /* ... before the worker */
                worker_index[i] = service_index(host, svc->assets_worker);
                continue;
            }
            specs[i].ops = &pw_static_files_ops;
            specs[i].worker = host->socket_dirs[i];
            worker_index[i] = SIZE_MAX;
        }
    }
    for (size_t k = 1; rc == 0 && k < host->n_loops; k++)
        rc = start_shard(host, k, specs, worker_index, n);
    free(specs);
    free(shares);
    free(worker_index);
    if (rc == 0 && host->n_shards)
        pw_log_info("serving on %zu host threads", host->n_loops);
    return rc;
}

static void report_listening(host_t *host)
{
    pw_control_report_listening(host->cli->control_fd, host->http);
}

/* Inherited descriptors (--control-fd, -S) must not reach the zygote and its isolates. */
static void keep_fds_from_children(const pw_cli_t *cli)
{
    if (cli->control_fd >= 0)
        pw_fd_set_cloexec(cli->control_fd, 1);
    for (size_t i = 0; i < cli->n_socket_fds; i++)
        pw_fd_set_cloexec(atoi(cli->socket_fds[i].address), 1);
}

/* ---- --watch ---- */

static int reload_load_config(void *arg, pw_config_t **out)
{
    host_t *host = arg;
    return load_config_file(host->cli, out);
}

static int reload_write_spec(void *arg, const pw_config_t *config, size_t index, const char *dir,
                             char *spec_path, size_t len)
{
    return write_spec(arg, config, index, dir, spec_path, len);
}

static int reload_create_pool(void *arg, const pw_config_t *config, size_t index, int template_fd,
                              const char *spec_path, pw_pool_t **out)
{
    return create_pool(arg, config, index, template_fd, spec_path, out);
}

/* ---- --storage: a node of a cluster ---- */

static int open_cluster(host_t *host)
{
    char err[2048];
    const pw_cli_t *cli = host->cli;
    if (!cli->storage)
        return 0;
    const char *secret = cli->cluster_secret ? cli->cluster_secret : getenv("PYWORKERD_CLUSTER_SECRET");
    if (cli->cluster_address && (!secret || !*secret)) {
        fprintf(stderr, "--cluster-address needs the cluster's shared secret: give --cluster-secret "
                "or set PYWORKERD_CLUSTER_SECRET\n");
        return -1;
    }
    pw_cluster_options_t opts = { .url = cli->storage, .internal_address = cli->cluster_address,
                                  .secret = secret, .lease_ms = (unsigned)(cli->do_lease_s * 1000) };
    if (pw_cluster_open(host->loop, &opts, &host->cluster, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    host->node = (pw_cluster_info_t){ .node_id = pw_cluster_node_id(host->cluster), .secret = secret,
                                      .leases = pw_cluster_leases(host->cluster),
                                      .port = pw_cluster_port(host->cluster) };
    return 0;
}

/* ---- Cron Triggers ---- */

static int start_cron(host_t *host)
{
    char err[1024];
    int rc = pw_cron_timer_start(host->loop, host->config, (unsigned)host->cli->test_cron_speed,
                                 lookup_pool, host, &host->cron, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "%s\n", err);
    pw_cluster_claim_cron(host->cluster, host->cron);
    return rc;
}

static void start_watch(host_t *host)
{
    pw_reload_options_t opts = {
        .loop = host->loop, .zygote = &host->zygote, .runtime_dir = host->runtime_dir,
        .config = host->config, .pools = host->pools, .http = host->http, .arg = host,
        .load_config = reload_load_config, .write_spec = reload_write_spec,
        .create_pool = reload_create_pool,
    };
    int rc = pw_reload_start(&opts, &host->reload);
    if (rc < 0)
        pw_log_error("--watch: cannot watch %s: %s", host->config->dir, strerror(-rc));
}

/* ---- shutdown ---- */

static void close_everything(host_t *host)
{
    uv_timer_stop(&host->drain_timer);
    uv_close((uv_handle_t *)&host->drain_timer, NULL);
    uv_close((uv_handle_t *)&host->sigterm, NULL);
    uv_close((uv_handle_t *)&host->sigint, NULL);
    uv_close((uv_handle_t *)&host->log_flush, NULL);
    if (host->box)
        pw_mailbox_close(host->box);
    host->box = NULL;
    pw_zygote_unwatch(&host->zygote);
    pw_cron_timer_stop(host->cron);
    pw_reload_stop(host->reload);
    if (host->http)
        pw_http_server_close(host->http);
    host->http = NULL;
    for (size_t i = 0; i < host->config->n_services; i++)
        if (host->pools[i])
            pw_pool_close(host->pools[i]);
}

static void finish_stop(host_t *host)
{
    close_everything(host);
    uv_stop(host->loop);
}

/* The shards stop first (each closes its isolates and listeners, then its thread ends:
 * on_shard_exited), then the main loop. */
static void stop_now(host_t *host)
{
    if (host->stopping == 3)
        return;
    host->stopping = 3;
    if (host->shards_running == 0) {
        if (host->serving)
            finish_stop(host);
        return;
    }
    for (size_t i = 0; i < host->n_shards; i++)
        pw_shard_stop(host->shards[i]);
}

static void on_shard_exited(void *arg, pw_shard_t *shard)
{
    host_t *host = arg;
    if (--host->shards_running == 0 && host->stopping == 3 && host->serving)
        finish_stop(host);
}

static void on_pool_retired(void *arg, pw_pool_t *pool)
{
    host_t *host = arg;
    for (size_t i = 0; i < host->config->n_services; i++)
        if (host->pools[i] == pool)
            host->pools[i] = NULL;      /* it closes itself */
    if (--host->pools_retiring == 0 && host->stopping == 2) {
        pw_log_info("all isolates exited; stopping");
        stop_now(host);
    }
}

static void on_shard_retired(void *arg, pw_shard_t *shard)
{
    on_pool_retired(arg, NULL);
}

/* Every pool of every loop retires its isolates (ASGI lifespan shutdown and other hooks run). */
static void retire_isolates(host_t *host)
{
    host->stopping = 2;
    pw_reload_stop(host->reload);
    host->reload = NULL;
    host->pools_retiring = 1;       /* held until every pool was asked */
    for (size_t i = 0; i < host->config->n_services; i++)
        if (host->pools[i]) {
            host->pools_retiring++;
            pw_pool_drain(host->pools[i], NULL, on_pool_retired, host);
        }
    for (size_t i = 0; i < host->n_shards; i++) {
        host->pools_retiring++;
        pw_shard_retire(host->shards[i]);
    }
    on_pool_retired(host, NULL);
}

/* A loop has no request in flight left (the main loop's server, or a shard's). */
static void loop_idle(host_t *host)
{
    if (host->stopping == 1 && host->loops_busy > 0 && --host->loops_busy == 0) {
        pw_log_info("all requests finished; retiring the isolates");
        retire_isolates(host);
    }
}

static void on_idle(void *arg)
{
    loop_idle(arg);
}

static void on_shard_idle(void *arg, pw_shard_t *shard)
{
    loop_idle(arg);
}

static void on_drain_timeout(uv_timer_t *timer)
{
    host_t *host = timer->data;
    if (host->stopping == 1)
        pw_log_error("%zu request(s) still running after %.1f s; stopping anyway",
                     pw_http_server_inflight(host->http), host->cli->drain_timeout_s);
    else
        pw_log_error("isolates still running after %.1f s; killing them", host->cli->drain_timeout_s);
    stop_now(host);
}

static void on_stop_signal(uv_signal_t *signal, int signum)
{
    host_t *host = signal->data;
    if (host->stopping) {
        pw_log_error("second signal: stopping now");
        if (host->stopping == 3)
            uv_stop(host->loop);
        else
            stop_now(host);
        return;
    }
    host->stopping = 1;
    if (!host->http) {              /* pyworkerd test: no requests to finish */
        retire_isolates(host);
        return;
    }
    pw_log_info("%s: no longer accepting connections; finishing %zu request(s)",
                strsignal(signum), pw_http_server_inflight(host->http));
    uv_timer_start(&host->drain_timer, on_drain_timeout, (uint64_t)(host->cli->drain_timeout_s * 1000), 0);
    host->loops_busy = 1 + host->n_shards;
    for (size_t i = 0; i < host->n_shards; i++)
        pw_shard_drain(host->shards[i]);
    pw_http_server_drain(host->http);
}

static void on_log_flush(uv_check_t *check)
{
    pw_log_flush();
}

static void watch_signals(host_t *host)
{
    uv_check_init(host->loop, &host->log_flush);
    uv_check_start(&host->log_flush, on_log_flush);
    uv_signal_init(host->loop, &host->sigterm);
    uv_signal_init(host->loop, &host->sigint);
    uv_timer_init(host->loop, &host->drain_timer);
    host->sigterm.data = host->sigint.data = host->drain_timer.data = host;
    uv_signal_start(&host->sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&host->sigint, on_stop_signal, SIGINT);
    host->serving = 1;
}

/* ---- pyworkerd test ---- */

static void on_tests_done(void *arg, int exit_code)
{
    host_t *host = arg;
    host->exit_code = exit_code;
    host->stopping = 1;
    retire_isolates(host);          /* their shutdown hooks run; then the loop ends */
}

static int start_tests(host_t *host)
{
    size_t n = 0;
    host->test_targets = calloc(host->config->n_services + 1, sizeof *host->test_targets);
    if (!host->test_targets)
        return -1;
    for (size_t i = 0; i < host->config->n_services; i++)
        if (host->pools[i])
            host->test_targets[n++] = (pw_test_target_t){ host->config->services[i].name, host->pools[i] };
    pw_tests_run(host->test_targets, n, host->config->const_name, host->cli->test_filter,
                 on_tests_done, host);
    return 0;
}

/* --threads' default: half the CPUs this process may run on, at least one. Under load each
 * host loop needs a core, and the isolates it feeds about as much again plus the kernel's
 * network work (bench/results/threads.md: on 2 CPUs a second loop costs the hello path more
 * than it gives). */
static size_t default_threads(void)
{
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                            : sysconf(_SC_NPROCESSORS_ONLN);
    return cpus >= 4 ? (size_t)cpus / 2 : 1;
}

/* glibc gives freed heap memory back to the kernel (brk) whenever more than 128 KiB is free at
 * its top: h2o's per-request pools made the host shrink and regrow its heap every few dozen
 * requests, each time faulting the pages in again — half the host's CPU per request for a
 * small static file on this VM (bench/results/assets.md). Keeping up to 16 MiB of freed heap
 * ends that; allocations of 128 KiB and more are still mmap'ed and unmapped when freed. */
static void keep_freed_heap(void)
{
    mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

static int serve(const pw_cli_t *cli)
{
    host_t host = { .cli = cli, .loop = uv_default_loop(), .n_loops = 1 };
    pw_log_set_verbose(cli->verbose);
    const char *trace = getenv("PYTHON_TRACE");
    if (trace && *trace && strcmp(trace, "0") != 0)
        pw_trace_enable();
    signal(SIGPIPE, SIG_IGN);
    keep_freed_heap();
    keep_fds_from_children(cli);
    host.zygote.snapshot = cli->snapshot;
    host.zygote.ctl_fd = -1;
    host.zygote.loop = host.loop;
    /* A stop signal while templates load (their top level may take a minute) ends the wait:
     * the host stops at once and takes its children along (pw_zygote_stop). The zygote
     * starts CPython and imports the SDK while the config is read (capnp, or the wrangler
     * translator): neither waits for the other (bench/results/dev-startup.md). */
    pw_supervisor_catch_stop_signals();
    int zygote_rc = pw_zygote_start(&host.zygote);
    if (load_config(&host) < 0) {
        pw_zygote_stop(&host.zygote);
        return 1;
    }
    int rc = pw_runtime_dir_create(host.runtime_dir, sizeof host.runtime_dir);
    if (rc < 0) {
        pw_log_error("cannot create a runtime directory: %s", strerror(-rc));
        pw_zygote_stop(&host.zygote);
        return 1;
    }
    int testing = cli->cmd == PW_CMD_TEST;
    size_t threads = cli->threads ? (size_t)cli->threads : default_threads();
    if (threads > 1 && (testing || cli->watch)) {
        if (cli->threads > 1)
            pw_log_error("--threads %d: %s runs one host loop", cli->threads,
                         testing ? "pyworkerd test" : "--watch");
    } else {
        host.n_loops = threads;
    }
    pw_request_id_init();
    host.box = pw_mailbox_create(host.loop);
    int ok = host.box && zygote_rc == 0 && open_cluster(&host) == 0 && start_workers(&host) == 0 &&
             (testing ? start_tests(&host) == 0
                      : start_http(&host) == 0 && start_shards(&host) == 0 && start_cron(&host) == 0);
    if (ok && !testing)
        report_listening(&host);
    if (ok && cli->cmd == PW_CMD_DEV)
        pw_dev_banner(cli, host.http);
    int early_stop = pw_supervisor_stop_signal();
    if (early_stop) {
        pw_log_error("%s while starting; stopping", strsignal(early_stop));
        ok = 0;
    } else if (ok) {
        watch_signals(&host);
        pw_zygote_watch(&host.zygote, host.loop);
        if (cli->watch)
            start_watch(&host);
        pw_log_info("ready");
        if (pw_supervisor_stop_signal())    /* caught before libuv took the signal over */
            on_stop_signal(&host.sigterm, pw_supervisor_stop_signal());
        uv_run(host.loop, UV_RUN_DEFAULT);
    }
    if (!ok && host.shards_running) {      /* a later shard failed to start: stop the others */
        stop_now(&host);
        while (host.shards_running)
            uv_run(host.loop, UV_RUN_ONCE);
    }
    for (size_t i = 0; i < host.n_shards; i++)
        pw_shard_join(host.shards[i]);
    pw_log_flush();
    pw_child_log_drain_all();
    pw_zygote_stop(&host.zygote);
    pw_cron_timer_free(host.cron);
    pw_rpc_host_free(host.rpc);
    pw_cluster_close(host.cluster);
    pw_reload_free(host.reload);
    pw_runtime_dir_remove(host.runtime_dir);
    for (size_t i = 0; host.spec_paths && i < host.config->n_services; i++)
        free(host.spec_paths[i]);
    free(host.spec_paths);
    pw_loop_templates_free(&host.templates);
    for (size_t i = 0; host.socket_dirs && i < host.config->n_sockets; i++)
        pw_static_dir_free(host.socket_dirs[i]);
    free(host.socket_dirs);
    pw_config_free(host.config);
    pw_dev_free();
    free(host.pools);
    free(host.shards);
    free(host.test_targets);
    if (early_stop)
        return testing ? 1 : 0;     /* serve stopped as asked; tests did not run */
    return ok ? host.exit_code : 1;
}

/* workerd's Python and autogate options mean nothing here: one line each. */
static void say_ignored(const pw_cli_t *cli)
{
    for (size_t i = 0; i < cli->n_ignored; i++)
        pw_log_error("--%s: ignored (a workerd option for its Pyodide bundle, snapshot files or "
                     "autogates, which pyworkerd does not have)", cli->ignored[i]);
}

int main(int argc, char **argv)
{
    pw_cli_t cli;
    if (pw_cli_parse(argc, argv, &cli) < 0) {
        fprintf(stderr, "%s\n", cli.output);
        return 1;
    }
    switch (cli.cmd) {
    case PW_CMD_HELP:
    case PW_CMD_VERSION:
        printf("%s\n", cli.output);
        return 0;
    case PW_CMD_SERVE:
    case PW_CMD_TEST:
    case PW_CMD_DEV:
        say_ignored(&cli);
        if (pw_dev_is_wrangler(&cli) && pw_dev_prepare(&cli) < 0)
            return 1;
        return serve(&cli);
    case PW_CMD_CONFIG:
        return pw_wrangler_print_config(&cli.wrangler);
    case PW_CMD_INIT:
        return pw_wrangler_init(cli.config_path);
    case PW_CMD_D1:
        return pw_wrangler_d1(cli.d1_argc, cli.d1_argv);
    default:
        fprintf(stderr, "%s\n", cli.output);
        return 1;
    }
}
