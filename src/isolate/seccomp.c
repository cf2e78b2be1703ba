/* seccomp.c — the system-call allowlists (template builds them): the isolate's, and the
 * template's own, which fences the worker's top-level code (template_filter below).
 * libseccomp compiles the rules once in the template (seccomp_export_bpf into a memfd, read
 * back as a BPF program); each isolate only patches its own pid into the program and loads it
 * with prctl(PR_SET_SECCOMP) — compiling per isolate would be the largest start cost
 * (DESIGN.md §9). Anything not listed fails with EPERM, so Python raises PermissionError.
 * Invariant: the list allows what CPython needs to compute, allocate, read its modules, use
 * /tmp and talk over inherited sockets; nothing that creates processes, threads, sockets,
 * mounts or namespaces, or signals another process.
 */
#include "isolate/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Stands for the isolate's pid in the compiled program until pw_seccomp_apply patches it. */
#define PID_PLACEHOLDER 0x5eccd00du

static const char *const allowed[] = {
    /* files and directories (Landlock and the read-only mounts decide where) */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "close", "close_range", "open", "openat", "openat2", "creat", "stat",
    "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir",
    "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat",
    "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "truncate", "ftruncate", "fallocate", "fsync", "fdatasync", "utime", "utimes", "utimensat",
    "futimesat", "flock", "fadvise64", "sendfile", "copy_file_range", "umask", "getxattr",
    "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
    /* descriptors, polling, inherited sockets */
    "fcntl", "dup", "dup2", "dup3", "pipe", "pipe2", "poll", "ppoll", "select", "pselect6",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    "eventfd", "eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    "sendmsg", "recvmsg", "sendto", "recvfrom", "sendmmsg", "recvmmsg", "shutdown",
    "getsockopt", "setsockopt", "getsockname", "getpeername",
    /* memory */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "mincore",
    /* signals and the process itself */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigsuspend", "sigaltstack", "pause", "alarm", "setitimer", "getitimer",
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
    "getresuid", "getresgid", "getpgrp", "getpgid", "getsid", "getpriority", "capget",
    "getrlimit", "getrusage", "times", "uname", "sysinfo", "sched_yield", "sched_getaffinity",
    "sched_getparam", "sched_getscheduler", "getcpu", "wait4", "waitid",
    "exit", "exit_group", "restart_syscall", "futex", "set_robust_list", "get_robust_list",
    "rseq", "set_tid_address",
    /* time and entropy */
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "getrandom",
    NULL,
};

static const unsigned long allowed_ioctls[] = {
    TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX,
};

static int add_plain_rules(scmp_filter_ctx ctx)
{
    for (const char *const *name = allowed; *name; name++) {
        int nr = seccomp_syscall_resolve_name(*name);
        if (nr == __NR_SCMP_ERROR)
            continue;   /* not on this architecture */
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int add_argument_rules(scmp_filter_ctx ctx)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof allowed_ioctls / sizeof allowed_ioctls[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_EQ, allowed_ioctls[i]));
    /* asyncio's self-pipe; no other socket can be created */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
                              SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
    return rc;
}

/* Reads the exported program back from the memfd it was written to. */
static int read_program(int fd, pw_seccomp_prog_t *prog)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
        size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
        return -EINVAL;
    struct sock_filter *insns = malloc((size_t)size);
    if (!insns)
        return -ENOMEM;
    if (pread(fd, insns, (size_t)size, 0) != size) {
        free(insns);
        return -EIO;
    }
    prog->filter = insns;
    prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    return 0;
}

static int find_pid_sites(pw_seccomp_prog_t *prog)
{
    struct sock_filter *insns = prog->filter;
    prog->n_pid_sites = 0;
    for (unsigned short i = 0; i < prog->len; i++) {
        if (BPF_CLASS(insns[i].code) != BPF_JMP || insns[i].k != PID_PLACEHOLDER)
            continue;
        if (prog->n_pid_sites == sizeof prog->pid_sites / sizeof prog->pid_sites[0])
            return -E2BIG;
        prog->pid_sites[prog->n_pid_sites++] = i;
    }
    return prog->n_pid_sites > 0 ? 0 : -ENOENT;
}

/* The isolate's own rules beyond the plain list. */
static int add_isolate_rules(scmp_filter_ctx ctx)
{
    int rc = add_argument_rules(ctx);
    /* signals only to itself: the placeholder becomes the isolate's pid */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                              SCMP_A0_32(SCMP_CMP_EQ, PID_PLACEHOLDER));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tkill), 1,
                              SCMP_A0_32(SCMP_CMP_EQ, PID_PLACEHOLDER));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0_32(SCMP_CMP_EQ, PID_PLACEHOLDER));
    /* reading limits is fine, raising them is not */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0));
    return rc;
}

/* What the template itself does after the worker's top-level code ran, and what an isolate
 * does before its own filter is loaded (sandbox.c: its /tmp, limits, capabilities, Landlock,
 * seccomp). Signals are not limited here: the template is pid 1 of its own pid namespace,
 * where no other process of the machine has a pid. Mounts are limited to the two kinds the
 * isolate makes (a fresh tmpfs, a bind of a read-only mount): never a remount, so nothing
 * mounted read-only can become writable. A fork goes to the guard (guard.c), which allows
 * one per isolate the host asked for; threads and vfork are refused. */
static int add_template_rules(scmp_filter_ctx ctx, int clone_action)
{
    static const char *const extra[] = {
        "capset", "prctl", "seccomp", "setrlimit", "prlimit64", "kill", "tkill", "tgkill",
        "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", NULL,
    };
    int rc = add_argument_rules(ctx);
    for (const char *const *name = extra; rc == 0 && *name; name++) {
        int nr = seccomp_syscall_resolve_name(*name);
        if (nr != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1,
                              SCMP_A0_64(SCMP_CMP_EQ, CLONE_NEWNS));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mount), 1,
                              SCMP_A3_64(SCMP_CMP_EQ, MS_NOSUID | MS_NODEV | MS_NOEXEC));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mount), 1,
                              SCMP_A3_64(SCMP_CMP_EQ, MS_BIND));
    if (rc == 0 && clone_action != (int)SCMP_ACT_ERRNO(EPERM))    /* else: the default */
        rc = seccomp_rule_add(ctx, (uint32_t)clone_action, SCMP_SYS(clone), 0);
    /* glibc falls back to clone(2) when clone3 is missing */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    return rc;
}

enum { FILTER_ISOLATE, FILTER_TEMPLATE_NOTIFY, FILTER_TEMPLATE_DENY };

static int build(pw_seccomp_prog_t *prog, int kind)
{
    memset(prog, 0, sizeof *prog);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx)
        return -ENOMEM;
    /* a binary tree instead of a chain: fewer instructions per call, and the kernel runs the
     * filter for every syscall number when it is attached (its cache), so a faster start */
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc == 0)
        rc = add_plain_rules(ctx);
    if (rc == 0)
        rc = kind == FILTER_ISOLATE ? add_isolate_rules(ctx)
             : add_template_rules(ctx, kind == FILTER_TEMPLATE_NOTIFY ? (int)SCMP_ACT_NOTIFY
                                                                       : (int)SCMP_ACT_ERRNO(EPERM));
    int fd = rc == 0 ? memfd_create("pw-seccomp", MFD_CLOEXEC) : -1;
    if (rc == 0 && fd < 0)
        rc = -errno;
    if (rc == 0)
        rc = seccomp_export_bpf(ctx, fd);
    if (rc == 0)
        rc = read_program(fd, prog);
    if (rc == 0 && kind == FILTER_ISOLATE)
        rc = find_pid_sites(prog);
    if (fd >= 0)
        close(fd);
    seccomp_release(ctx);
    return rc;
}

int pw_seccomp_apply(pw_seccomp_prog_t *prog, int pid)
{
    struct sock_filter *insns = prog->filter;
    for (unsigned short i = 0; i < prog->n_pid_sites; i++)
        insns[prog->pid_sites[i]].k = (unsigned)pid;
    struct sock_fprog fprog = { .len = prog->len, .filter = insns };
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0 ? -errno : 0;
}

int pw_seccomp_build(pw_seccomp_prog_t *prog)
{
    return build(prog, FILTER_ISOLATE);
}

int pw_seccomp_build_template(pw_seccomp_prog_t *prog, int notify_forks)
{
    return build(prog, notify_forks ? FILTER_TEMPLATE_NOTIFY : FILTER_TEMPLATE_DENY);
}

int pw_seccomp_apply_template(pw_seccomp_prog_t *prog, int notify_forks)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    struct sock_fprog fprog = { .len = prog->len, .filter = prog->filter };
    unsigned flags = notify_forks ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
    free(prog->filter);
    prog->filter = NULL;
    return rc < 0 ? -errno : (int)rc;
}
