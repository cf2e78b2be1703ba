/* watch.c — the file watcher behind --watch (host process): one uv_fs_event per directory
 * (Linux has no recursive inotify), a settle timer so that an editor's burst of writes,
 * renames and deletes triggers one rebuild, and a filter for files no rebuild needs
 * (editor swap and backup files, bytecode). Invariant: callbacks run on the host's loop only.
 */
#include "host/watch.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIRS 64
#define MAX_DEPTH 2

struct pw_watch {
    uv_fs_event_t events[MAX_DIRS];
    size_t n_events;
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
    uv_timer_start(&watch->settle, on_settled, PW_WATCH_SETTLE_MS, 0);
}

static int watch_dir(pw_watch_t *watch, uv_loop_t *loop, const char *dir, int depth)
{
    if (watch->n_events >= MAX_DIRS)
        return 0;
    uv_fs_event_t *ev = &watch->events[watch->n_events];
    int rc = uv_fs_event_init(loop, ev);
    if (rc < 0)
        return rc;
    ev->data = watch;
    watch->n_events++;
    watch->open_handles++;
    rc = uv_fs_event_start(ev, on_event, dir, 0);
    if (rc < 0 || depth >= MAX_DEPTH)
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
            rc = watch_dir(watch, loop, path, depth + 1);
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
    watch->on_change = on_change;
    watch->arg = arg;
    uv_timer_init(loop, &watch->settle);
    watch->settle.data = watch;
    watch->open_handles = 1;
    *out = watch;
    return watch_dir(watch, loop, dir, 0);
}

static void on_closed(uv_handle_t *handle)
{
    pw_watch_t *watch = handle->data;
    if (--watch->open_handles == 0)
        free(watch);
}

void pw_watch_stop(pw_watch_t *watch)
{
    if (!watch)
        return;
    for (size_t i = 0; i < watch->n_events; i++) {
        uv_fs_event_stop(&watch->events[i]);
        uv_close((uv_handle_t *)&watch->events[i], on_closed);
    }
    uv_close((uv_handle_t *)&watch->settle, on_closed);
}
