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
#include "host/pool.h"
#include "host/pool_ops.h"
#include "host/reload.h"
#include "host/rpc.h"
#include "host/supervisor.h"
#include "host/test_runner.h"
#include "host/worker_dir.h"
#include "http/server.h"
#include "http/static_handler.h"

#include <errno.h>
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
    if (pw_config_load(&opts, out, err, sizeof err) < 0) {
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

static pw_scale_t scale_of(const pw_cli_t *cli)
{
    return (pw_scale_t){ .min = (size_t)cli->isolates, .max = (size_t)cli->max_isolates,
                         .spare = (size_t)cli->spare_isolates,
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
                                          (unsigned)cli->cpu_limit_ms) };
    if (pw_worker_dir_write(dir, &config->services[index], &settings, spec_path, spec_path_len,
                            err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int create_pool(host_t *host, const pw_config_t *config, size_t index, int template_fd,
                       const char *spec_path, pw_pool_t **out)
{
    const pw_service_t *service = &config->services[index];
    const pw_cli_t *cli = host->cli;
    char err[4096];
    pw_rpc_worker_t *rpc;
    if (pw_rpc_worker_create(host->rpc, service, &rpc, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        close(template_fd);
        return -1;
    }
    const pw_worker_options_t *own = &service->worker.options;
    pw_scale_t scale = scale_of(cli);
    scale.min = or_default(own->min_isolates, (unsigned)scale.min);
    scale.max = or_default(own->max_isolates, (unsigned)scale.max);
    pw_pool_options_t opts = {
        .rpc = pw_rpc_handle, .rpc_arg = rpc, .name = service->name, .template_fd = template_fd,
        .isolates = (int)scale.min, .scale = scale,
        .cpu_limit_ms = or_default(own->cpu_limit_ms, (unsigned)cli->cpu_limit_ms),
        .request_timeout_ms = or_default(own->request_timeout_ms,
                                         (unsigned)(cli->request_timeout_s * 1000)),
        .max_concurrent = or_default(own->max_concurrent, (unsigned)cli->max_concurrent),
        .retire_timeout_ms = (unsigned)(cli->drain_timeout_s * 1000),
        .zygote = &host->zygote, .spec_path = spec_path,
    };
    if (pw_pool_create(host->loop, &opts, out) < 0) {
        fprintf(stderr, "service %s: cannot start its isolates\n", service->name);
        return -1;
    }
    return 0;
}

static int start_worker(host_t *host, size_t index)
{
    const pw_service_t *service = &host->config->services[index];
    char spec_path[PATH_MAX];
    if (write_spec(host, host->config, index, host->runtime_dir, spec_path, sizeof spec_path) < 0)
        return -1;
    int template_fd;
    static char err[PW_ERR_TEXT_MAX];
    if (pw_zygote_create_template(&host->zygote, service->name, spec_path, &template_fd,
                                  err, sizeof err) < 0) {
        if (pw_supervisor_stop_signal())        /* not the worker's failure */
            return -1;
        fprintf(stderr, "service %s: the worker failed to load:\n%s", service->name, err);
        if (err[0] && err[strlen(err) - 1] != '\n')
            fputc('\n', stderr);
        return -1;
    }
    pw_log_info("service %s: worker template ready", service->name);
    return create_pool(host, host->config, index, template_fd, spec_path, &host->pools[index]);
}

static pw_pool_t *pool_of(host_t *host, const char *service_name);

static pw_pool_t *lookup_pool(void *arg, const char *service_name)
{
    return pool_of(arg, service_name);
}

static int start_workers(host_t *host)
{
    pw_rpc_options_t rpc_opts = { .persist_dir = host->cli->persist_dir, .lookup = lookup_pool,
                                  .lookup_arg = host };
    if (pw_rpc_host_create(host->loop, host->config, &rpc_opts, &host->rpc) < 0)
        return -1;
    pw_rpc_set_fetch_timeout(host->rpc, (unsigned)(host->cli->fetch_timeout_s * 1000));
    host->pools = calloc(host->config->n_services ? host->config->n_services : 1, sizeof *host->pools);
    if (!host->pools)
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
    if (pw_static_dir_open(svc->name, svc->disk_path, svc->disk_writable, svc->disk_allow_dotfiles,
                           &host->socket_dirs[i], err, sizeof err) < 0) {
        fprintf(stderr, "socket %s: %s\n", spec->socket_name, err);
        return -1;
    }
    spec->ops = &pw_static_files_ops;
    spec->worker = host->socket_dirs[i];
    spec->files = host->socket_dirs[i];
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
                               .on_idle = on_idle, .on_idle_arg = host };
    char err[1024];
    int rc = pw_http_server_start(host->loop, specs, n, &opts, &host->http, err, sizeof err);
    free(specs);
    if (rc < 0)
        fprintf(stderr, "%s\n", err);
    else
        pw_control_report_listening(host->cli->control_fd, host->http);
    return rc;
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
    pw_zygote_unwatch(&host->zygote);
    pw_reload_stop(host->reload);
    if (host->http)
        pw_http_server_close(host->http);
    host->http = NULL;
    for (size_t i = 0; i < host->config->n_services; i++)
        if (host->pools[i])
            pw_pool_close(host->pools[i]);
}

static void stop_now(host_t *host)
{
    host->stopping = 3;
    close_everything(host);
    uv_stop(host->loop);
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

/* Every pool retires its isolates (ASGI lifespan shutdown and other hooks run). */
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
    on_pool_retired(host, NULL);
}

static void on_idle(void *arg)
{
    host_t *host = arg;
    if (host->stopping == 1) {
        pw_log_info("all requests finished; retiring the isolates");
        retire_isolates(host);
    }
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
        uv_stop(host->loop);
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
    host_t host = { .cli = cli, .loop = uv_default_loop() };
    pw_log_set_verbose(cli->verbose);
    const char *trace = getenv("PYTHON_TRACE");
    if (trace && *trace && strcmp(trace, "0") != 0)
        pw_trace_enable();
    signal(SIGPIPE, SIG_IGN);
    keep_freed_heap();
    keep_fds_from_children(cli);
    if (load_config(&host) < 0)
        return 1;
    int rc = pw_runtime_dir_create(host.runtime_dir, sizeof host.runtime_dir);
    if (rc < 0) {
        pw_log_error("cannot create a runtime directory: %s", strerror(-rc));
        return 1;
    }
    host.zygote.snapshot = cli->snapshot;
    host.zygote.ctl_fd = -1;
    host.zygote.loop = host.loop;
    int testing = cli->cmd == PW_CMD_TEST;
    /* A stop signal while templates load (their top level may take a minute) ends the wait:
     * the host stops at once and takes its children along (pw_zygote_stop). */
    pw_supervisor_catch_stop_signals();
    int ok = pw_zygote_start(&host.zygote) == 0 && start_workers(&host) == 0 &&
             (testing ? start_tests(&host) : start_http(&host)) == 0;
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
    pw_log_flush();
    pw_child_log_drain_all();
    pw_zygote_stop(&host.zygote);
    pw_rpc_host_free(host.rpc);
    pw_reload_free(host.reload);
    pw_runtime_dir_remove(host.runtime_dir);
    for (size_t i = 0; host.socket_dirs && i < host.config->n_sockets; i++)
        pw_static_dir_free(host.socket_dirs[i]);
    free(host.socket_dirs);
    pw_config_free(host.config);
    free(host.pools);
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
        say_ignored(&cli);
        return serve(&cli);
    default:
        fprintf(stderr, "%s\n", cli.output);
        return 1;
    }
}
