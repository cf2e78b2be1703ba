/* guard.h — the guard process that stands between the host and a worker template (guard.c
 * says how and why). The zygote forks it for each CREATE_TEMPLATE; the host's template control
 * socket is its host_fd, and the host sees no difference from talking to the template itself.
 */
#ifndef PW_GUARD_H
#define PW_GUARD_H

#include "isolate/child_args.h"

/* Runs the guard (and forks the template below it); returns the process's exit code. */
int pw_guard_main(int host_fd, const char *spec_path, pw_snapshot_t snapshot);

#endif
