/* watch.c — the file watcher behind --watch (host process): one uv_fs_event per directory
 * of the whole tree (Linux has no recursive inotify; a directory created later is added when
 * its parent reports it), at most MAX_DIRS of them, a settle timer so that an editor's burst of writes,
 * renames and deletes triggers one rebuild, and two filters: names no rebuild needs (editor
 * swap and backup files, bytecode) and the caller's `wanted` (the worker's inputs, so that a
 * log file inside the tree is no change). Invariant: callbacks run on the host's loop only.
 */
#include "host/watch.h"

#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DIRS 1024
#define MAX_SCAN 4096       /* entries looked at below a new directory */

struct pw_watch {
    uv_loop_t *loop;
    uv_fs_event_t *events[MAX_DIRS];
    size_t n_events;
    int warned_full;
    uv_timer_t settle;
    int (*wanted)(void *arg, const char *path);
    void (*on_change)(void *arg);
    void *arg;
    int open_handles;
};

static int ignored_name(const char *name)
{
    size_t len = strlen(name);
    int local_vars = strncmp(name, ".dev.vars", 9) == 0 || strncmp(name, ".env", 4) == 0;
    return (name[0] == '.' && !local_vars) || (len && name[len - 1] == '~') ||
           (len > 4 && (strcmp(name + len - 4, ".swp") == 0 || strcmp(name + len - 4, ".pyc") == 0)) ||
           strstr(name, "___jb_") != NULL || strcmp(name, "4913") == 0;   /* vim's write probe */
}

static int ignored_dir(const char *name)
{
    return name[0] == '.' || strcmp(name, "__pycache__") == 0 || strcmp(name, "node_modules") == 0;
}

static int wanted_file(pw_watch_t *watch, const char *path)
{
    return !watch->wanted || watch->wanted(watch->arg, path);
}

/* Does dir (new to the watch) hold a wanted file, at any depth? Bounded by *budget entries. */
static int holds_wanted(pw_watch_t *watch, const char *dir, int *budget)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) && (*budget)-- > 0) {
        char path[PATH_MAX];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        if (e->d_type == DT_DIR)
            found = !ignored_dir(e->d_name) && holds_wanted(watch, path, budget);
        else
            found = !ignored_name(e->d_name) && wanted_file(watch, path);
    }
    closedir(d);
    return found;
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
 * that was deleted and made again (a checkout) is watched again, as is everything below it.
 * Returns 1 when path is such a directory holding a wanted file. */
static int watch_if_new_dir(pw_watch_t *watch, const char *filename, const char *path)
{
    struct stat st;
    if (ignored_dir(filename) || stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    int rc = watch_dir(watch, path);
    if (rc < 0)
        pw_log_error("--watch: cannot watch %s: %s", path, uv_strerror(rc));
    int budget = MAX_SCAN;
    return holds_wanted(watch, path, &budget);
}

static void on_settled(uv_timer_t *timer)
{
    pw_watch_t *watch = timer->data;
    watch->on_change(watch->arg);
}

/* A change counts when its file is wanted, or it is a new directory holding one; a change
 * libuv reports without a name (the watched directory itself) always counts. */
static int change_counts(pw_watch_t *watch, uv_fs_event_t *handle, const char *filename,
                         int events)
{
    char dir[PATH_MAX], path[PATH_MAX];
    size_t len = sizeof dir;
    if (!filename)
        return 1;
    if (ignored_name(filename) || uv_fs_event_getpath(handle, dir, &len) < 0 ||
        snprintf(path, sizeof path, "%s/%s", dir, filename) >= (int)sizeof path)
        return 0;
    if ((events & UV_RENAME) && watch_if_new_dir(watch, filename, path))
        return 1;
    return wanted_file(watch, path);
}

static void on_event(uv_fs_event_t *handle, const char *filename, int events, int status)
{
    pw_watch_t *watch = handle->data;
    if (status < 0 || !change_counts(watch, handle, filename, events))
        return;
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

/* Watches dir's subdirectories: python_modules/ (vendored packages, often many directories)
 * after the others, so that it cannot use up MAX_DIRS before the worker's own. */
static int watch_subdirs(pw_watch_t *watch, const char *dir, int vendored)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && rc == 0) {
        char path[PATH_MAX];
        if (e->d_type != DT_DIR || ignored_dir(e->d_name) ||
            (strcmp(e->d_name, "python_modules") == 0) != vendored)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            rc = watch_dir(watch, path);
    }
    closedir(d);
    return rc;
}

/* Starts `ev` on dir, then watches its subdirectories. */
static int rewatch_below(pw_watch_t *watch, uv_fs_event_t *ev, const char *dir)
{
    int rc = uv_fs_event_start(ev, on_event, dir, 0);
    if (rc == 0)
        rc = watch_subdirs(watch, dir, 0);
    return rc == 0 ? watch_subdirs(watch, dir, 1) : rc;
}

int pw_watch_start(uv_loop_t *loop, const char *dir, int (*wanted)(void *arg, const char *path),
                   void (*on_change)(void *arg), void *arg, pw_watch_t **out)
{
    pw_watch_t *watch = calloc(1, sizeof *watch);
    if (!watch)
        return -ENOMEM;
    watch->loop = loop;
    watch->wanted = wanted;
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
