/* sandbox.c — namespaces, mount tree, Landlock, rlimits and capabilities of a worker's
 * processes (template and isolate; see sandbox.h for the split). The template's step runs
 * once, before the worker's top-level code, so that even that code sees only the sandbox;
 * the isolate's step runs between fork() and PyOS_AfterFork_Child().
 * Invariant: the isolate step needs no file system access outside its new /tmp and allocates
 * nothing; everything it needs (Landlock's fds, BPF program, stash paths) is prepared here in the
 * template and inherited through fork.
 */
#include "isolate/sandbox.h"
#include "isolate/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NEW_ROOT "/proc"        /* any directory that holds no source: the tmpfs goes over it */
#define STASH "/.pyworkerd"     /* read-only copies of the sources that live under /tmp */
#define TMP_SIZE (32u << 20)
#define TMP_OPTIONS "size=32m,nr_inodes=4096,mode=1777"     /* size: TMP_SIZE */
#define MAX_STASH 16
#define OPEN_FILES 256
#define TEMPLATE_OPEN_FILES 1024
#define TEMPLATE_MEMORY_FACTOR 8                    /* × --memory-limit for top-level code */
#define TEMPLATE_MEMORY_MIN ((size_t)1 << 30)       /* but at least 1 GiB */

const char *const pw_sandbox_system_dirs[] = {
    "/usr/lib/python3/dist-packages",   /* Debian's packages, also when not on sys.path */
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
    "/usr/share/zoneinfo",
    "/etc/alternatives",                /* symlinks to the chosen BLAS, LAPACK, ... (numpy) */
    NULL,
};

static const char *const device_files[] = { "/dev/null", "/dev/zero", "/dev/urandom", NULL };

/* What the template prepares for its isolates. */
static struct {
    int ready;
    int landlock_abi;           /* 0: the kernel has no Landlock */
    int root_fd;                /* O_PATH descriptors the isolate's Landlock rules name */
    int device_fds[4];
    int statm_fd;               /* the template's /proc/self/statm, for RLIMIT_AS */
    size_t memory_limit;
    size_t template_size;       /* address space at the last fork */
    pw_seccomp_prog_t seccomp;
    size_t n_stash;
    char stash_from[MAX_STASH][PATH_MAX];   /* STASH/<i> */
    char stash_to[MAX_STASH][PATH_MAX];     /* the source's own path, under /tmp */
    int stash_is_dir[MAX_STASH];
} tpl = { .root_fd = -1, .statm_fd = -1 };

static int fail(char *err, size_t err_len, int errnum, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err, err_len, "sandbox: %s: %s", what, strerror(errnum));
    return -1;
}

/* ---- namespaces ---- */

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : -(n < 0 ? errno : EIO);
    close(fd);
    return rc;
}

int pw_sandbox_enter_namespaces(char *err, size_t err_len)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                CLONE_NEWUTS) < 0)
        return fail(err, err_len, errno, "cannot create namespaces (user, pid, mount, net, ipc, "
                    "uts); run with --no-sandbox where user namespaces are disabled");
    char map[64];
    int rc = write_text("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
    if (rc == 0)
        rc = write_text("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
    if (rc == 0)
        rc = write_text("/proc/self/gid_map", map);
    if (rc < 0)
        return fail(err, err_len, -rc, "cannot map the user namespace's root");
    if (sethostname("pyworkerd", 9) < 0)
        return fail(err, err_len, errno, "sethostname");
    return 0;
}

/* ---- mount tree ---- */

static int mkdirs(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        if (saved == '\0')
            return 0;
        *p = saved;
    }
}

/* The flags a read-only remount of a bind of `src` must keep (locked in a user namespace). */
static unsigned long kept_flags(const char *src)
{
    struct statvfs sv;
    unsigned long flags = 0;
    if (statvfs(src, &sv) < 0)
        return 0;
    if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    return flags;
}

/* Creates `path` (and its parents) as a directory or an empty file to mount on. */
static int make_mountpoint(const char *path, int is_dir)
{
    if (is_dir)
        return mkdirs(path, 0755);
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    int rc = mkdirs(parent, 0755);
    int fd = rc == 0 ? open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (rc == 0 && fd < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Bind-mounts src (a directory or a file) read-only at dst, creating dst. */
static int bind_ro(const char *src, const char *dst)
{
    struct stat st;
    if (stat(src, &st) < 0)
        return -errno;
    int rc = make_mountpoint(dst, S_ISDIR(st.st_mode));
    if (rc < 0)
        return rc;
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
        return -errno;
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | kept_flags(src);
    if (S_ISDIR(st.st_mode))
        flags |= MS_NODEV;
    return mount(NULL, dst, NULL, flags, NULL) < 0 ? -errno : 0;
}

static int is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0' || n == 1);
}

static int cmp_len(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
    return la < lb ? -1 : la > lb;
}

/* Absolute, existing, de-duplicated directories (or single files), parents first. */
static size_t collect_sources(const pw_sandbox_conf_t *conf, char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < conf->n_read_dirs + 16 && n < max; i++) {
        const char *dir = i < conf->n_read_dirs ? conf->read_dirs[i]
                                                : pw_sandbox_system_dirs[i - conf->n_read_dirs];
        if (!dir)
            break;
        /* mounted at the path Python uses, even when it goes through a symlink */
        struct stat st;
        if (dir[0] != '/' || strstr(dir, "/..") || strlen(dir) >= PATH_MAX - sizeof STASH ||
            stat(dir, &st) < 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
            continue;
        char *copy = strdup(dir);
        if (copy)
            out[n++] = copy;
    }
    qsort(out, n, sizeof *out, cmp_len);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int covered = 0;
        for (size_t j = 0; j < kept; j++)
            covered |= is_under(out[i], out[j]);
        if (covered)
            free(out[i]);
        else
            out[kept++] = out[i];
    }
    return kept;
}

static int bind_source(const char *src, char *err, size_t err_len)
{
    char dst[PATH_MAX];
    snprintf(dst, sizeof dst, NEW_ROOT "%s", src);
    int rc = bind_ro(src, dst);
    if (rc < 0)
        return fail(err, err_len, -rc, "cannot mount %s read-only", src);
    if (!is_under(src, "/tmp"))
        return 0;
    /* /tmp is replaced in each isolate: keep a copy elsewhere to mount again there */
    if (tpl.n_stash == MAX_STASH)
        return fail(err, err_len, E2BIG, "too many directories under /tmp");
    size_t i = tpl.n_stash++;
    snprintf(tpl.stash_from[i], PATH_MAX, STASH "/%zu", i);
    snprintf(tpl.stash_to[i], PATH_MAX, "%s", src);
    struct stat st;
    tpl.stash_is_dir[i] = stat(src, &st) == 0 && S_ISDIR(st.st_mode);
    snprintf(dst, sizeof dst, NEW_ROOT STASH "/%zu", i);
    rc = bind_ro(src, dst);
    return rc < 0 ? fail(err, err_len, -rc, "cannot mount %s read-only", src) : 0;
}

static int build_root(const pw_sandbox_conf_t *conf, char *err, size_t err_len)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(err, err_len, errno, "cannot make the mount tree private");
    if (mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0)
        return fail(err, err_len, errno, "cannot mount the new root");
    if (mkdirs(NEW_ROOT "/tmp", 01777) < 0 ||
        mount("tmpfs", NEW_ROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, TMP_OPTIONS) < 0)
        return fail(err, err_len, errno, "cannot mount /tmp");
    char *sources[64];
    size_t n = collect_sources(conf, sources, 64);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = bind_source(sources[i], err, err_len);
        free(sources[i]);
    }
    if (rc < 0)
        return rc;
    if (conf->session_dir && (rc = bind_ro(conf->session_dir, NEW_ROOT PW_SANDBOX_SESSION_DIR)) < 0)
        return fail(err, err_len, -rc, "cannot mount %s at " PW_SANDBOX_SESSION_DIR, conf->session_dir);
    for (const char *const *dev = device_files; *dev; dev++) {
        char dst[PATH_MAX];
        snprintf(dst, sizeof dst, NEW_ROOT "%s", *dev);
        int brc = bind_ro(*dev, dst);
        if (brc < 0)
            return fail(err, err_len, -brc, "cannot mount %s", *dev);
    }
    return 0;
}

static int pivot(char *err, size_t err_len)
{
    if (chdir(NEW_ROOT) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        return fail(err, err_len, errno, "cannot switch to the new root");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return fail(err, err_len, errno, "cannot make the new root read-only");
    return 0;
}

/* ---- Landlock (second fence on the file system; also scopes signals and abstract sockets) */

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

struct ll_ruleset_attr { uint64_t handled_access_fs, handled_access_net, scoped; };
struct ll_path_beneath { uint64_t allowed_access; int32_t parent_fd; } __attribute__((packed));

enum {
    LL_EXECUTE = 1 << 0, LL_WRITE_FILE = 1 << 1, LL_READ_FILE = 1 << 2, LL_READ_DIR = 1 << 3,
    LL_TRUNCATE = 1 << 14, LL_IOCTL_DEV = 1 << 15,
};

static uint64_t fs_rights(int abi)
{
    uint64_t all = (1ull << 13) - 1;            /* ABI 1: execute .. make_sym */
    if (abi >= 2) all |= 1ull << 13;            /* refer */
    if (abi >= 3) all |= LL_TRUNCATE;
    if (abi >= 5) all |= LL_IOCTL_DEV;
    return all;
}

static int add_path_rule(int ruleset, int fd, uint64_t access)
{
    struct ll_path_beneath rule = { .allowed_access = access, .parent_fd = fd };
    return syscall(SYS_landlock_add_rule, ruleset, 1 /* PATH_BENEATH */, &rule, 0) < 0 ? -errno : 0;
}

/* Template: opens what the rules name. A rule on /tmp must name the isolate's own tmpfs
 * (Landlock does not see through a mount to the directory it covers), so the ruleset itself
 * is built in each isolate: a few system calls. */
static int prepare_landlock(char *err, size_t err_len)
{
    int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* VERSION */);
    if (abi < 1)
        return 0;   /* kernel without Landlock: the other layers still apply */
    tpl.root_fd = open("/", O_PATH | O_CLOEXEC);
    if (tpl.root_fd < 0)
        return fail(err, err_len, errno, "cannot open / for Landlock");
    for (size_t i = 0; device_files[i]; i++)
        if ((tpl.device_fds[i] = open(device_files[i], O_PATH | O_CLOEXEC)) < 0)
            return fail(err, err_len, errno, "cannot open %s for Landlock", device_files[i]);
    tpl.landlock_abi = abi;
    return 0;
}

/* Isolate: read everything mounted; write only under its /tmp; no TCP; no signals or
 * abstract unix sockets beyond its own Landlock domain. */
static int apply_landlock(void)
{
    int abi = tpl.landlock_abi;
    uint64_t all = fs_rights(abi);
    struct ll_ruleset_attr attr = { .handled_access_fs = all };
    size_t size = sizeof attr.handled_access_fs;
    if (abi >= 4) {
        attr.handled_access_net = 3;            /* bind_tcp, connect_tcp */
        size += sizeof attr.handled_access_net;
    }
    if (abi >= 6) {
        attr.scoped = 3;                        /* abstract unix sockets, signals */
        size += sizeof attr.scoped;
    }
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0)
        return -errno;
    uint64_t file_rw = LL_READ_FILE | LL_WRITE_FILE | (abi >= 3 ? LL_TRUNCATE : 0);
    int tmp_fd = open("/tmp", O_PATH | O_CLOEXEC);
    int rc = tmp_fd < 0 ? -errno : add_path_rule(ruleset, tmp_fd, all & ~(uint64_t)LL_EXECUTE);
    if (rc == 0)
        rc = add_path_rule(ruleset, tpl.root_fd, LL_READ_FILE | LL_READ_DIR);
    for (size_t i = 0; rc == 0 && device_files[i]; i++)
        rc = add_path_rule(ruleset, tpl.device_fds[i], file_rw);
    if (rc == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
        rc = -errno;
    close(ruleset);
    if (tmp_fd >= 0)
        close(tmp_fd);
    close(tpl.root_fd);
    for (size_t i = 0; device_files[i]; i++)
        close(tpl.device_fds[i]);
    return rc;
}

/* ---- template ---- */

static int set_limit(int resource, rlim_t value);

/* The template's address space now (its /proc/self/statm, opened before the pivot), or 0. */
static size_t address_space(void)
{
    char buf[128];
    ssize_t n = tpl.statm_fd >= 0 ? pread(tpl.statm_fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtoull(buf, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

/* The top-level code's own limits: hard limits, which it cannot raise again (raising one
 * needs CAP_SYS_RESOURCE in the machine's user namespace). */
static int template_rlimits(size_t memory_limit)
{
    int rc = set_limit(RLIMIT_NOFILE, TEMPLATE_OPEN_FILES);
    if (rc == 0) rc = set_limit(RLIMIT_CORE, 0);
    if (rc == 0) rc = set_limit(RLIMIT_MEMLOCK, 0);
    if (rc == 0) rc = set_limit(RLIMIT_MSGQUEUE, 0);
#if !defined(__SANITIZE_ADDRESS__)
    /* what top-level code may add: imports need more than a request does */
    size_t size = address_space();
    size_t allowance = memory_limit * TEMPLATE_MEMORY_FACTOR;
    if (allowance < TEMPLATE_MEMORY_MIN)
        allowance = TEMPLATE_MEMORY_MIN;
    if (rc == 0 && memory_limit && size)
        rc = set_limit(RLIMIT_AS, (rlim_t)(size + allowance));
#endif
    return rc;
}

int pw_sandbox_template_enter(const pw_sandbox_conf_t *conf, char *err, size_t err_len)
{
    tpl.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (build_root(conf, err, err_len) < 0 || pivot(err, err_len) < 0 ||
        prepare_landlock(err, err_len) < 0)
        return -1;
    int rc = pw_seccomp_build(&tpl.seccomp);
    if (rc < 0)
        return fail(err, err_len, -rc, "cannot build the seccomp filter");
    if ((rc = template_rlimits(conf->memory_limit)) < 0)
        return fail(err, err_len, -rc, "cannot set the template's resource limits");
    tpl.memory_limit = conf->memory_limit;
    tpl.ready = 1;
    return 0;
}

void pw_sandbox_before_fork(void)
{
    size_t size = address_space();
    if (size)
        tpl.template_size = size;
}

/* ---- isolate ---- */

static int private_tmp(void)
{
    if (unshare(CLONE_NEWNS) < 0)
        return -errno;
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, TMP_OPTIONS) < 0)
        return -errno;
    for (size_t i = 0; i < tpl.n_stash; i++) {
        int rc = make_mountpoint(tpl.stash_to[i], tpl.stash_is_dir[i]);
        if (rc < 0)
            return rc;
        /* a bind of a read-only mount is read-only */
        if (mount(tpl.stash_from[i], tpl.stash_to[i], NULL, MS_BIND, NULL) < 0)
            return -errno;
    }
    return 0;
}

static int set_limit(int resource, rlim_t value)
{
    struct rlimit rl = { value, value };
    return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

#if !defined(__SANITIZE_ADDRESS__)
/* The template's hard limits bind its isolates too: never ask for more (EPERM). */
static rlim_t below_hard_limit(int resource, rlim_t wanted)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
        return wanted;
    return wanted < rl.rlim_max ? wanted : rl.rlim_max;
}
#endif

static int apply_rlimits(void)
{
    int rc = set_limit(RLIMIT_NOFILE, OPEN_FILES);
    if (rc == 0) rc = set_limit(RLIMIT_NPROC, 0);
    if (rc == 0) rc = set_limit(RLIMIT_CORE, 0);
    if (rc == 0) rc = set_limit(RLIMIT_MEMLOCK, 0);
    if (rc == 0) rc = set_limit(RLIMIT_MSGQUEUE, 0);
    /* no file it writes grows past the size of its /tmp: EFBIG (SIGXFSZ is ignored: python/embed.c) */
    if (rc == 0) rc = set_limit(RLIMIT_FSIZE, TMP_SIZE);
#if !defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer reserves terabytes of address space: no RLIMIT_AS under it */
    if (rc == 0 && tpl.memory_limit && tpl.template_size)
        rc = set_limit(RLIMIT_AS, below_hard_limit(RLIMIT_AS,
                                                   (rlim_t)(tpl.template_size + tpl.memory_limit)));
#endif
    return rc;
}

static int drop_capabilities(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

int pw_sandbox_isolate_enter(char *err, size_t err_len)
{
    if (!tpl.ready)
        return 0;
    if (tpl.statm_fd >= 0)
        close(tpl.statm_fd);
    int rc = private_tmp();
    if (rc < 0)
        return fail(err, err_len, -rc, "cannot mount the isolate's /tmp");
    if ((rc = apply_rlimits()) < 0)
        return fail(err, err_len, -rc, "cannot set resource limits");
    if ((rc = drop_capabilities()) < 0)
        return fail(err, err_len, -rc, "cannot drop capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return fail(err, err_len, errno, "cannot set no_new_privs");
    if (tpl.landlock_abi && (rc = apply_landlock()) < 0)
        return fail(err, err_len, -rc, "cannot enforce the Landlock ruleset");
    if ((rc = pw_seccomp_apply(&tpl.seccomp, getpid())) < 0)
        return fail(err, err_len, -rc, "cannot load the seccomp filter");
    return 0;
}
