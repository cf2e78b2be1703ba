/* sandbox.h — the operating-system sandbox of a worker (DESIGN.md §5), in three steps so that a
 * new isolate pays only for what must be per process:
 *
 *   guard (guard.c, once): new user, pid, mount, net, ipc and uts namespaces, the template
 *   being pid 1 of the pid namespace;
 *
 *   template (once, before the worker's top-level code runs): a read-only mount tree holding
 *   only the directories Python imports from (plus the shared libraries extension modules
 *   load and /dev/null, /dev/zero, /dev/urandom) and a tmpfs /tmp; the seccomp filters are compiled (and what Landlock rules name opened),
 *   and the template's own filter is loaded before the top-level code runs;
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
    const char *session_dir;        /* the worker's directory, mounted read-only at
                                     * PW_SANDBOX_SESSION_DIR as well; NULL: not */
} pw_sandbox_conf_t;

/* Where workerd's Python workers find their bundle (the worker's modules, python_modules/):
 * the worker's directory is visible there too, so code written for workerd finds its files. */
#define PW_SANDBOX_SESSION_DIR "/session/metadata"

/* System directories mounted read-only in addition to conf->read_dirs (those that exist):
 * Debian's packages, the shared libraries of extension modules (and /etc/alternatives, which
 * some of them go through), the time zone database.
 * NULL-terminated. */
extern const char *const pw_sandbox_system_dirs[];

/* Template (already in the guard's namespaces): enters the new root and prepares the
 * isolate's layers. Returns 0, or -1 with err set. */
int pw_sandbox_template_enter(const pw_sandbox_conf_t *conf, char *err, size_t err_len);

/* Template, right before each fork of an isolate (reads the template's size). */
void pw_sandbox_before_fork(void);

/* Isolate, right after fork: applies the per-process layers. Returns 0, or -1 with err set
 * (the isolate must then exit without running Python). */
int pw_sandbox_isolate_enter(char *err, size_t err_len);

/* Guard (guard.c), before it forks the template: new user, pid, mount, net, ipc and uts
 * namespaces, the user namespace's root mapped to the caller's uid, hostname "pyworkerd".
 * The caller stays in its pid namespace; its next child is pid 1 of the new one. */
int pw_sandbox_enter_namespaces(char *err, size_t err_len);

#endif
