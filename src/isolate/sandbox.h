/* sandbox.h — the operating-system sandbox of a worker (DESIGN.md §5), in two steps so that a
 * new isolate pays only for what must be per process:
 *
 *   template (once, before the worker's top-level code runs): new user, mount, net, ipc and
 *   uts namespaces; a read-only mount tree holding only the directories Python imports from
 *   (plus the shared libraries extension modules load and /dev/null, /dev/zero, /dev/urandom)
 *   and a tmpfs /tmp; the seccomp filter is compiled (and what Landlock rules name opened).
 *
 *   isolate (right after fork, before Python runs again): a private mount namespace with its
 *   own in-memory /tmp, rlimits (address space, files, processes, core), all capabilities
 *   dropped, no_new_privs, a Landlock ruleset, and the seccomp allowlist (patched with the
 *   isolate's pid, so that it may signal only itself).
 *
 * Everything here is raw system calls: no Python, no allocation in the isolate step.
 */
#ifndef PW_SANDBOX_H
#define PW_SANDBOX_H

#include <stddef.h>

typedef struct {
    const char *const *read_dirs;   /* host directories (or files) Python reads from: sys.path,
                                     * the worker's directory, requirement files; mounted
                                     * read-only at the same paths (missing ones skipped) */
    size_t n_read_dirs;
    size_t memory_limit;            /* bytes of address space an isolate may add; 0: none */
} pw_sandbox_conf_t;

/* System directories mounted read-only in addition to conf->read_dirs (those that exist):
 * Debian's packages, the shared libraries of extension modules (and /etc/alternatives, which
 * some of them go through), the time zone database.
 * NULL-terminated. */
extern const char *const pw_sandbox_system_dirs[];

/* Template: enters the namespaces and the new root. Returns 0, or -1 with err set. */
int pw_sandbox_template_enter(const pw_sandbox_conf_t *conf, char *err, size_t err_len);

/* Template, right before each fork of an isolate (reads the template's size). */
void pw_sandbox_before_fork(void);

/* Isolate, right after fork: applies the per-process layers. Returns 0, or -1 with err set
 * (the isolate must then exit without running Python). */
int pw_sandbox_isolate_enter(char *err, size_t err_len);

/* seccomp.c: the isolate's syscall allowlist as a classic BPF program, built once. */
typedef struct {
    void *filter;                   /* struct sock_filter[len] */
    unsigned short len;
    unsigned short n_pid_sites;     /* instructions comparing with the isolate's pid */
    unsigned short pid_sites[16];
} pw_seccomp_prog_t;

/* Template: compiles the allowlist with libseccomp. Returns 0 or -errno. */
int pw_seccomp_build(pw_seccomp_prog_t *prog);
/* Isolate: writes `pid` into the program and loads it (no_new_privs must be set). */
int pw_seccomp_apply(pw_seccomp_prog_t *prog, int pid);

#endif
