/* watch.c — the file watcher behind --watch (host process): one uv_fs_event per directory
 * of the whole tree (Linux has no recursive inotify; a directory created later is added when
 * its parent reports it), at most MAX_DIRS of them, a settle timer so that an editor's burst of writes,
 * renames and deletes triggers one rebuild, and a filter for files no rebuild needs
 * (editor swap and backup files, bytecode). Invariant: callbacks run on the host's loop only.
 */
#include "host/watch.h"

#include "host/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DIRS 1024

struct pw_watch {
    uv_loop_t *loop;
    uv_fs_event_t *events[MAX_DIRS];
    size_t n_events;
    int warned_full;
    uv_timer_t settle;
    void (*on_change)(void *arg);
    void *arg;
    int open_handles;
};

static int ignored_name(const char *name)
{
    size_t len = strlen(name);
    return name[0] == '.' || (len && name[len - 1] == '~') ||
           (len > 4 && (strcmp(name + len - 4, ".swp") == 0 || strcmp(name + len - 4, ".pyc") == 0)) ||
           strstr(name, "___jb_") != NULL || strcmp(name, "4913") == 0;   /* vim's write probe */
}

static int ignored_dir(const char *name)
{
    return name[0] == '.' || strcmp(name, "__pycache__") == 0 || strcmp(name, "python_modules") == 0 ||
           strcmp(name, "node_modules") == 0;
}

static int watch_dir(pw_watch_t *watch, const char *dir);
static int rewatch_below(pw_watch_t *watch, uv_fs_event_t *ev, const char *dir);

static uv_fs_event_t *find_watch(pw_watch_t *watch, const char *dir)
{
    for (size_t i = 0; i < watch->n_events; i++) {
        char path[PATH_MAX];
        size_t len = sizeof path;
        if (uv_fs_event_getpath(watch->events[i], path, &len) == 0 && strcmp(path, dir) == 0)
            return watch->events[i];
    }
    return NULL;
}

/* A directory that appeared (created, or moved in) under a watched one joins the watch; one
 * that was deleted and made again (a checkout) is watched again, as is everything below it. */
static void watch_if_new_dir(pw_watch_t *watch, uv_fs_event_t *handle, const char *filename)
{
    char parent[PATH_MAX], path[PATH_MAX];
    size_t len = sizeof parent;
    struct stat st;
    if (ignored_dir(filename) || uv_fs_event_getpath(handle, parent, &len) < 0 ||
        snprintf(path, sizeof path, "%s/%s", parent, filename) >= (int)sizeof path ||
        stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return;
    int rc = watch_dir(watch, path);
    if (rc < 0)
        pw_log_error("--watch: cannot watch %s: %s", path, uv_strerror(rc));
}

static void on_settled(uv_timer_t *timer)
{
    pw_watch_t *watch = timer->data;
    watch->on_change(watch->arg);
}

static void on_event(uv_fs_event_t *handle, const char *filename, int events, int status)
{
    pw_watch_t *watch = handle->data;
    if (status < 0 || (filename && ignored_name(filename)))
        return;
    if (filename && (events & UV_RENAME))
        watch_if_new_dir(watch, handle, filename);
    uv_timer_start(&watch->settle, on_settled, PW_WATCH_SETTLE_MS, 0);
}

/* Watches dir and every directory below it (depth first), up to MAX_DIRS in all; a path
 * already watched is watched anew (its directory may be a new one under the same name). */
static int watch_dir(pw_watch_t *watch, const char *dir)
{
    uv_fs_event_t *known = find_watch(watch, dir);
    if (known) {
        uv_fs_event_stop(known);
        return rewatch_below(watch, known, dir);
    }
    if (watch->n_events >= MAX_DIRS) {
        if (!watch->warned_full)
            pw_log_error("--watch: more than %d directories; changes under %s and any further "
                         "ones are not noticed", MAX_DIRS, dir);
        watch->warned_full = 1;
        return 0;
    }
    uv_fs_event_t *ev = calloc(1, sizeof *ev);
    int rc = ev ? uv_fs_event_init(watch->loop, ev) : UV_ENOMEM;
    if (rc < 0) {
        free(ev);
        return rc;
    }
    ev->data = watch;
    watch->events[watch->n_events++] = ev;
    watch->open_handles++;
    return rewatch_below(watch, ev, dir);
}

/* Starts `ev` on dir, then watches its subdirectories. */
static int rewatch_below(pw_watch_t *watch, uv_fs_event_t *ev, const char *dir)
{
    int rc = uv_fs_event_start(ev, on_event, dir, 0);
    if (rc < 0)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && rc == 0) {
        char path[PATH_MAX];
        if (e->d_type != DT_DIR || ignored_dir(e->d_name))
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            rc = watch_dir(watch, path);
    }
    closedir(d);
    return rc;
}

int pw_watch_start(uv_loop_t *loop, const char *dir, void (*on_change)(void *arg), void *arg,
                   pw_watch_t **out)
{
    pw_watch_t *watch = calloc(1, sizeof *watch);
    if (!watch)
        return -ENOMEM;
    watch->loop = loop;
    watch->on_change = on_change;
    watch->arg = arg;
    uv_timer_init(loop, &watch->settle);
    watch->settle.data = watch;
    watch->open_handles = 1;
    *out = watch;
    return watch_dir(watch, dir);
}

static void on_closed(uv_handle_t *handle)
{
    pw_watch_t *watch = handle->data;
    if (handle != (uv_handle_t *)&watch->settle)
        free(handle);
    if (--watch->open_handles == 0)
        free(watch);
}

void pw_watch_stop(pw_watch_t *watch)
{
    if (!watch)
        return;
    for (size_t i = 0; i < watch->n_events; i++) {
        uv_fs_event_stop(watch->events[i]);
        uv_close((uv_handle_t *)watch->events[i], on_closed);
    }
    uv_close((uv_handle_t *)&watch->settle, on_closed);
}
