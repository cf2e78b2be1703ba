/* fence.h — fencing a process before a worker's top-level code runs in it (template and
 * probe processes). */
#ifndef PW_FENCE_H
#define PW_FENCE_H

#include <stddef.h>

/* Loads the template's own seccomp filter (sandbox.h) before the worker's top-level code
 * runs; notify_forks: forks go to the guard, whose listener is sent over ctl_fd. Returns 0,
 * or -1 with err set. */
int pw_template_fence(int ctl_fd, int notify_forks, char *err, size_t err_len);

#endif
