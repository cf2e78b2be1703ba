/* zygote.h — the runtime zygote (zygote process): exec'd by the host with CPython
 * initialised and the SDK imported; forks a guard + worker template per CREATE_TEMPLATE
 * (DESIGN.md §1). */
#ifndef PW_ZYGOTE_H
#define PW_ZYGOTE_H

#include "isolate/child_args.h"

/* ctl_fd is its SOCK_SEQPACKET control socket to the host; trace turns PYTHON_TRACE lines
 * on; its templates start isolates the `snapshot` way. Returns the exit code. */
int pw_zygote_main(int ctl_fd, int trace, pw_snapshot_t snapshot);

#endif
