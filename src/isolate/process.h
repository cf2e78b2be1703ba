/* process.h — the three kinds of runtime process below the host (DESIGN.md §1):
 * the zygote (exec'd by the host: CPython initialised, SDK imported), a worker template
 * (forked from the zygote: the worker's modules imported) and an isolate (forked from a
 * template: serves requests). Each *_main runs the process and returns its exit code.
 */
#ifndef PW_PROCESS_H
#define PW_PROCESS_H

#include <stdint.h>
#include "isolate/child_args.h"

/* Zygote: ctl_fd is its SOCK_SEQPACKET control socket to the host; trace turns PYTHON_TRACE
 * lines on; its templates start isolates the `snapshot` way. */
int pw_zygote_main(int ctl_fd, int trace, pw_snapshot_t snapshot);

/* Template: ctl_fd is its own control socket to the host; spec_path the worker spec. */
int pw_template_main(int ctl_fd, const char *spec_path, pw_snapshot_t snapshot);

/* What the guard needs of the worker spec: whether it asks for the sandbox, and its CPU
 * limit (which bounds the top-level code). Returns 0, or -1 when it cannot be read. */
int pw_template_guard_settings(const char *spec_path, int *sandbox, unsigned *cpu_limit_ms);
/* Loads the template's own seccomp filter (sandbox.h) before the worker's top-level code
 * runs; notify_forks: forks go to the guard, whose listener is sent over ctl_fd. Returns 0,
 * or -1 with err set. */
int pw_template_fence(int ctl_fd, int notify_forks, char *err, size_t err_len);

/* Names this process (ps, PYTHON_TRACE role) prefix + the service's name. */
void pw_process_name(const char *prefix, const char *spec_path);

/* Isolate: fd is its request socket to the host. */
int pw_isolate_main(int fd);

/* When the template began forking this isolate (CLOCK_MONOTONIC ns, for PYTHON_TRACE). */
extern uint64_t pw_isolate_fork_ns;
/* Baseline start type: the spec of the worker the isolate imports before serving; NULL
 * when it was forked from a template that already did. */
extern const char *pw_isolate_load_spec;

/* startmode.c: the baseline and cold start types (see there). */
/* Loads the worker in a throwaway child (fenced like a template when `fence`). */
int pw_startmode_probe_worker(const char *spec_path, int fence, char **error_text);
/* Starts a cold isolate serving on isolate_fd, with stdio_fd (when >= 0) as its fds 1 and 2;
 * returns its pid or -errno. */
int pw_startmode_spawn_cold(int isolate_fd, int stdio_fd, const char *spec_path);
int pw_cold_isolate_main(int fd, const char *spec_path, int trace, uint64_t since_ns);

/* Runs the zygote or cold-isolate mode `args` names and returns its exit code. */
int pw_child_main(const pw_child_args_t *args);

#endif
