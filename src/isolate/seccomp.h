/* seccomp.h — the system-call allowlists as classic BPF programs (template builds them;
 * templates and isolates load them). See seccomp.c. */
#ifndef PW_SECCOMP_H
#define PW_SECCOMP_H

/* The isolate's syscall allowlist as a classic BPF program, built once. */
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

/* The template's own filter, loaded before the worker's top-level code runs: the isolate's
 * allowlist plus what the template and a new isolate's setup need (seccomp.c says what);
 * no exec, no ptrace, no threads, no remount, no sockets but AF_UNIX pairs. notify_forks: a
 * fork is handed to the guard's decision (SECCOMP_RET_USER_NOTIF); otherwise refused. */
int pw_seccomp_build_template(pw_seccomp_prog_t *prog, int notify_forks);
/* Sets no_new_privs and loads it (freeing the program). Returns the notification listener's
 * fd when notify_forks, else 0; -errno on failure. */
int pw_seccomp_apply_template(pw_seccomp_prog_t *prog, int notify_forks);

#endif
