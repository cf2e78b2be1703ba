/* process.h — the three kinds of runtime process below the host (DESIGN.md §1):
 * the zygote (exec'd by the host: CPython initialised, SDK imported), a worker template
 * (forked from the zygote: the worker's modules imported) and an isolate (forked from a
 * template: serves requests). Each *_main runs the process and returns its exit code.
 */
#ifndef PW_PROCESS_H
#define PW_PROCESS_H

#include <stdint.h>

/* Zygote: ctl_fd is its SOCK_SEQPACKET control socket to the host; trace turns PYTHON_TRACE
 * lines on. */
int pw_zygote_main(int ctl_fd, int trace);

/* Template: ctl_fd is its own control socket to the host; spec_path the worker spec. */
int pw_template_main(int ctl_fd, const char *spec_path);

/* Isolate: fd is its request socket to the host. */
int pw_isolate_main(int fd);

/* When the template began forking this isolate (CLOCK_MONOTONIC ns, for PYTHON_TRACE). */
extern uint64_t pw_isolate_fork_ns;

#endif
