/* watch.h — --watch: noticing that a worker's files or its config changed (host process).
 * Watches a directory and all its subdirectories, also ones created later (up to 1024
 * directories; not __pycache__ or hidden ones; python_modules/ last) with inotify through
 * libuv, and calls back once per burst of changes to files the caller wants (a log file
 * written inside the directory is no change).
 */
#ifndef PW_WATCH_H
#define PW_WATCH_H

#include <uv.h>

typedef struct pw_watch pw_watch_t;

/* Starts watching dir; on_change(arg) runs on the loop PW_WATCH_SETTLE_MS after the last
 * change of a burst of changes to files for which wanted(arg, path) returns 1 (path: dir's
 * path as given, then "/" and the file's path below it). A new directory counts when a file
 * below it is wanted. wanted NULL: every file. Returns 0 or -errno. */
/* 50 ms: an editor's save (a write, or a new file renamed over the old) is one burst well
 * within it; a longer burst (a checkout) may start a second rebuild, which reload.c runs
 * after the first. It was 150 ms: a tenth of the 1 s an edit may take to be served. */
#define PW_WATCH_SETTLE_MS 50
int pw_watch_start(uv_loop_t *loop, const char *dir, int (*wanted)(void *arg, const char *path),
                   void (*on_change)(void *arg), void *arg, pw_watch_t **out);
/* Stops watching; the watch is freed once libuv has closed its handles. */
void pw_watch_stop(pw_watch_t *watch);

#endif
