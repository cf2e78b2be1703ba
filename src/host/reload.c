/* reload.c — --watch's rebuilds (host process). A burst of file changes (watch.c) loads the
 * config again, lays each worker out in a new generation directory of the runtime directory
 * and asks the zygote for its template without waiting; when a template is ready, a new pool
 * starts on it, the listeners switch to it, and the old pool drains (pw_pool_drain). Changes
 * during a rebuild start another one after it. Only the worker's inputs count as changes
 * (input_changed): the files the config loader read (the config, its imports and embeds),
 * any .py or .capnp file, requirements.txt, pyproject.toml and python_modules/ — not a log
 * file the server itself writes into the directory. Invariant: the running version is
 * replaced only by one whose template loaded.
 */
#include "host/reload.h"
#include "base/err.h"
#include "base/fd.h"
#include "base/list.h"
#include "base/log.h"
#include "host/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DRAINING 256
#define MAX_KEPT 1024

typedef struct rebuild rebuild_t;

struct rebuild {
    pw_reload_t *reload;
    pw_list_t link;             /* pw_reload.rebuilds */
    size_t old_index;           /* the service in the running config */
    size_t new_index;           /* the same service in the config being loaded */
    int fd;                     /* the new template's control socket */
    char spec_path[PATH_MAX];
    uv_poll_t poll;
};

struct pw_reload {
    pw_reload_options_t opts;
    pw_watch_t *watch;
    unsigned generation;
    pw_config_t *config;        /* being loaded; kept once a pool of it serves, else freed */
    int swapped;                /* a pool of `config` was swapped in */
    pw_config_t *kept[MAX_KEPT];    /* configs that pools (and their bindings) point into */
    size_t n_kept;
    pw_list_t rebuilds;         /* the templates being built (rebuild_t.link) */
    int again;                  /* files changed during a rebuild */
    int stopping;
    pw_pool_t *draining[MAX_DRAINING];
    char **inputs;              /* the last loaded config's inputs (pw_config_t.inputs) */
    size_t n_inputs;
};

static void inputs_free(pw_reload_t *reload)
{
    for (size_t i = 0; i < reload->n_inputs; i++)
        free(reload->inputs[i]);
    free(reload->inputs);
    reload->inputs = NULL;
    reload->n_inputs = 0;
}

/* Remembers config's inputs; keeps the previous list when out of memory. */
static void inputs_take(pw_reload_t *reload, const pw_config_t *config)
{
    char **copy = calloc(config->n_inputs ? config->n_inputs : 1, sizeof *copy);
    size_t n = 0;
    while (copy && n < config->n_inputs && (copy[n] = strdup(config->inputs[n])))
        n++;
    if (!copy || n < config->n_inputs) {
        while (copy && n > 0)
            free(copy[--n]);
        free(copy);
        return;
    }
    inputs_free(reload);
    reload->inputs = copy;
    reload->n_inputs = n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* watch.c's filter: is `path` (below the config's directory) one of the worker's inputs? */
static int input_changed(void *arg, const char *path)
{
    pw_reload_t *reload = arg;
    for (size_t i = 0; i < reload->n_inputs; i++)
        if (strcmp(reload->inputs[i], path) == 0)
            return 1;
    const char *dir = reload->opts.config->dir;
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0 || path[n] != '/')
        return 0;
    const char *rel = path + n + 1;
    return ends_with(rel, ".py") || ends_with(rel, ".capnp") || strcmp(rel, "requirements.txt") == 0 ||
           strcmp(rel, "pyproject.toml") == 0 || strcmp(rel, "python_modules") == 0 ||
           strncmp(rel, "python_modules/", 15) == 0;
}

static void reload_run(void *arg);

/* The config of a finished round: kept while pools may point into it, else freed. */
static void config_done(pw_reload_t *reload)
{
    if (reload->swapped && reload->n_kept < MAX_KEPT)
        reload->kept[reload->n_kept++] = reload->config;
    else if (!reload->swapped)
        pw_config_free(reload->config);
    reload->config = NULL;
    reload->swapped = 0;
}

static void on_pool_drained(void *arg, pw_pool_t *pool)
{
    pw_reload_t *reload = arg;
    for (size_t i = 0; i < MAX_DRAINING; i++)
        if (reload->draining[i] == pool)
            reload->draining[i] = NULL;
}

static void remember_draining(pw_reload_t *reload, pw_pool_t *pool)
{
    for (size_t i = 0; i < MAX_DRAINING; i++)
        if (!reload->draining[i]) {
            reload->draining[i] = pool;
            return;
        }
}

static void swap_in(pw_reload_t *reload, rebuild_t *rb)
{
    const pw_reload_options_t *o = &reload->opts;
    const char *name = o->config->services[rb->old_index].name;
    pw_pool_t *pool = NULL;
    pw_fd_set_nonblock(rb->fd, 0);      /* uv_poll made it non-blocking; the pool waits */
    if (o->create_pool(o->arg, reload->config, rb->new_index, rb->fd, rb->spec_path, &pool) < 0) {
        if (pool)
            pw_pool_close(pool);    /* it owns the template's socket: the template exits */
        pw_log_error("service %s: --watch: cannot start the new version's isolates; "
                     "still serving the previous version", name);
        return;
    }
    pw_pool_t *old = o->pools[rb->old_index];
    o->pools[rb->old_index] = pool;
    pw_http_server_replace_worker(o->http, old, pool);
    remember_draining(reload, old);
    reload->swapped = 1;
    pw_pool_drain(old, pool, on_pool_drained, reload);
    pw_log_error("service %s: --watch: reloaded; new requests go to the new version", name);
}

static void on_rebuild_closed(uv_handle_t *handle)
{
    free(handle->data);
}

/* After its poll handle was closed (rb itself is freed by the close callback). */
static void rebuild_done(rebuild_t *rb)
{
    pw_reload_t *reload = rb->reload;
    pw_list_remove(&rb->link);
    if (!pw_list_empty(&reload->rebuilds) || reload->stopping)
        return;
    config_done(reload);
    if (reload->again) {
        reload->again = 0;
        reload_run(reload);
    }
}

static void on_template_readable(uv_poll_t *poll, int status, int events)
{
    rebuild_t *rb = poll->data;
    pw_reload_t *reload = rb->reload;
    /* Closed first: closing a poll handle drops its descriptor from epoll, which must happen
     * before the new pool polls the same descriptor. */
    uv_close((uv_handle_t *)poll, on_rebuild_closed);
    static char err[PW_ERR_TEXT_MAX];
    if (pw_zygote_template_result(rb->fd, err, sizeof err) < 0) {
        pw_log_error("service %s: --watch: the new version failed to load; still serving the "
                     "previous version:\n%s", reload->opts.config->services[rb->old_index].name,
                     err);
    } else {
        swap_in(reload, rb);
    }
    rebuild_done(rb);
}

/* Index of the running worker service called `name`, or -1. */
static long running_index(pw_reload_t *reload, const char *name)
{
    const pw_config_t *running = reload->opts.config;
    for (size_t i = 0; i < running->n_services; i++)
        if (strcmp(running->services[i].name, name) == 0 && reload->opts.pools[i])
            return (long)i;
    return -1;
}

static void rebuild_start(pw_reload_t *reload, const char *dir, size_t new_index, size_t old_index)
{
    const pw_reload_options_t *o = &reload->opts;
    const char *name = reload->config->services[new_index].name;
    char spec_path[PATH_MAX];
    static char err[PW_ERR_TEXT_MAX];
    int fd;
    if (o->write_spec(o->arg, reload->config, new_index, dir, spec_path, sizeof spec_path) < 0)
        return;
    if (pw_zygote_request_template(o->zygote, o->loop, name, spec_path, &fd, err, sizeof err) < 0) {
        pw_log_error("service %s: --watch: %s", name, err);
        return;
    }
    rebuild_t *rb = calloc(1, sizeof *rb);
    if (!rb || uv_poll_init(o->loop, &rb->poll, fd) < 0) {
        free(rb);
        close(fd);
        return;
    }
    rb->reload = reload;
    rb->old_index = old_index;
    rb->new_index = new_index;
    rb->fd = fd;
    snprintf(rb->spec_path, sizeof rb->spec_path, "%s", spec_path);
    rb->poll.data = rb;
    pw_list_push_front(&reload->rebuilds, &rb->link);
    uv_poll_start(&rb->poll, UV_READABLE | UV_DISCONNECT, on_template_readable);
}

static void reload_run(void *arg)
{
    pw_reload_t *reload = arg;
    if (!pw_list_empty(&reload->rebuilds)) {
        reload->again = 1;
        return;
    }
    pw_log_error("--watch: files changed; loading the new version");
    pw_config_t *config;
    if (reload->opts.load_config(reload->opts.arg, &config) < 0) {
        pw_log_error("--watch: the config has errors (above); still serving the previous version");
        return;
    }
    inputs_take(reload, config);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/gen-%u", reload->opts.runtime_dir, ++reload->generation);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        pw_log_error("--watch: cannot create %s: %s", dir, strerror(errno));
        pw_config_free(config);
        return;
    }
    reload->config = config;
    for (size_t j = 0; j < config->n_services; j++) {
        if (config->services[j].kind != PW_SERVICE_WORKER)
            continue;
        long i = running_index(reload, config->services[j].name);
        if (i < 0)
            pw_log_error("--watch: service %s is new; restart pyworkerd to serve it", config->services[j].name);
        else
            rebuild_start(reload, dir, j, (size_t)i);
    }
    if (pw_list_empty(&reload->rebuilds))
        config_done(reload);
}

int pw_reload_start(const pw_reload_options_t *opts, pw_reload_t **out)
{
    pw_reload_t *reload = calloc(1, sizeof *reload);
    if (!reload)
        return -ENOMEM;
    reload->opts = *opts;
    pw_list_init(&reload->rebuilds);
    inputs_take(reload, opts->config);
    *out = reload;
    return pw_watch_start(opts->loop, opts->config->dir, input_changed, reload_run, reload,
                          &reload->watch);
}

void pw_reload_stop(pw_reload_t *reload)
{
    if (!reload)
        return;
    reload->stopping = 1;
    pw_watch_stop(reload->watch);
    PW_LIST_FOR_EACH(node, &reload->rebuilds) {
        rebuild_t *rb = PW_CONTAINER_OF(node, rebuild_t, link);
        pw_list_remove(&rb->link);
        uv_close((uv_handle_t *)&rb->poll, on_rebuild_closed);
        close(rb->fd);      /* the template exits */
    }
    for (size_t i = 0; i < MAX_DRAINING; i++)
        if (reload->draining[i]) {
            pw_pool_t *pool = reload->draining[i];
            reload->draining[i] = NULL;
            pw_pool_close(pool);
        }
}

void pw_reload_free(pw_reload_t *reload)
{
    if (!reload)
        return;
    for (size_t i = 0; i < reload->n_kept; i++)
        pw_config_free(reload->kept[i]);
    pw_config_free(reload->config);
    inputs_free(reload);
    free(reload);
}
