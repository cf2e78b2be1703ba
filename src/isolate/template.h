/* template.h — a worker template (template process): forked from the zygote (through its
 * guard), the worker's modules imported; forks isolates on the host's request. */
#ifndef PW_TEMPLATE_H
#define PW_TEMPLATE_H

#include "isolate/child_args.h"

/* ctl_fd is its own control socket to the host; spec_path the worker spec. Returns the
 * exit code. */
int pw_template_main(int ctl_fd, const char *spec_path, pw_snapshot_t snapshot);

#endif
