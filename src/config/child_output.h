/* child_output.h — running a helper program while the config is read and collecting what it
 * prints (host process, before any loop runs): `capnp eval` for .capnp configs
 * (config/capnp_eval.c), python3 for wrangler projects (config/wrangler.c).
 * Invariant: the caller's child is reaped exactly once, by pw_child_wait; a child whose
 * reading was stopped (tick) is killed first, so the wait never blocks on it.
 */
#ifndef PW_CONFIG_CHILD_OUTPUT_H
#define PW_CONFIG_CHILD_OUTPUT_H

#include "base/buf.h"

#include <sys/types.h>

/* A started child whose stdout and stderr are the read ends out_fd and err_fd. */
typedef struct {
    pid_t pid;
    int out_fd, err_fd;
} pw_child_t;

/* Starts argv with stdout and stderr on pipes: `program` is run as is, or looked up on PATH
 * when search_path is set. Returns 0, or a positive errno (the pipes' or posix_spawn's). */
int pw_child_start(const char *program, char *const argv[], int search_path, pw_child_t *child);

/* After each wait of at most tick_ms (or output): nonzero stops the reading. */
typedef int (*pw_child_tick_fn)(void *arg, pid_t pid, int got_output);

/* Reads both pipes to their ends into out and err, then closes them. tick may be NULL (no
 * limit; tick_ms ignored). Returns 0, -1 (a system error, errno set) or -2 (tick stopped it);
 * on -1 and -2 the child was killed. */
int pw_child_collect(pw_child_t *child, pw_buf_t *out, pw_buf_t *err, int tick_ms,
                     pw_child_tick_fn tick, void *arg);

/* Waits for the child: its exit status (128 + the signal that killed it), or -1. */
int pw_child_wait(pid_t pid);

#endif
