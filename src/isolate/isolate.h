/* isolate.h — an isolate (isolate process): forked from a template, serves requests. */
#ifndef PW_ISOLATE_H
#define PW_ISOLATE_H

#include <stdint.h>

/* fd is its request socket to the host. Returns the exit code. */
int pw_isolate_main(int fd);

/* When the template began forking this isolate (CLOCK_MONOTONIC ns, for PYTHON_TRACE). */
extern uint64_t pw_isolate_fork_ns;
/* Baseline start type: the spec of the worker the isolate imports before serving; NULL
 * when it was forked from a template that already did. */
extern const char *pw_isolate_load_spec;

#endif
