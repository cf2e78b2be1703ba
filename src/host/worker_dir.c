/* worker_dir.c — laying out a worker's modules and spec on disk for its template (host
 * process). Module names come from the user's config: they are checked to stay inside the
 * worker's directory (no absolute paths, no "..").
 *
 * The runtime directory holds binding values (secrets) in the specs: it is 0700, its files
 * 0600, and it is named pyworkerd-<host pid>-XXXXXX with a .lock file the host holds an
 * flock on while it runs. A host that crashed leaves it behind; the next start removes every
 * such directory of this user whose lock nobody holds and whose pid is gone (stale_dir()).
 */
#include "host/worker_dir.h"
#include "base/fd.h"
#include "config/compat_flags.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME ".lock"

static int lock_fd = -1;        /* this host's lock on its runtime directory */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 ? 0 : 0;    /* best effort: keep going */
}

/* The pid in "pyworkerd-<pid>-XXXXXX", or 0 when name is not such a name. */
static long runtime_dir_pid(const char *name)
{
    static const char prefix[] = "pyworkerd-";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return 0;
    char *end;
    long pid = strtol(name + sizeof prefix - 1, &end, 10);
    if (pid <= 0 || end == name + sizeof prefix - 1 || *end != '-' || strlen(end + 1) != 6)
        return 0;
    return pid;
}

/* A runtime directory left by a host that is gone: ours by name, a real directory (not a
 * link) owned by this user and private, its host's pid not alive and its lock free. */
static int stale_dir(int parent_fd, const char *name)
{
    long pid = runtime_dir_pid(name);
    struct stat st;
    if (!pid || pid == getpid() || fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0)
        return 0;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
        return 0;
    char lock[NAME_MAX + 16];
    snprintf(lock, sizeof lock, "%s/%s", name, LOCK_NAME);
    int fd = openat(parent_fd, lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT;     /* crashed before it took the lock */
    int free_lock = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return free_lock;
}

/* Removes the stale runtime directories of dead hosts in tmp (best effort). */
static void remove_stale_dirs(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[PATH_MAX];
        if (stale_dir(dirfd(d), e->d_name) &&
            snprintf(path, sizeof path, "%s/%s", tmp, e->d_name) < (int)sizeof path)
            nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

/* Creates dir/.lock and holds an flock on it for the host's life (close-on-exec: the
 * zygote, an exec'd child, does not inherit it). */
static int take_lock(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    lock_fd = fd;
    return 0;
}

int pw_runtime_dir_create(char *out, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    remove_stale_dirs(tmp);
    if (snprintf(out, len, "%s/pyworkerd-%ld-XXXXXX", tmp, (long)getpid()) >= (int)len)
        return -ENAMETOOLONG;
    if (!mkdtemp(out))
        return -errno;
    int rc = take_lock(out);
    if (rc < 0)
        pw_runtime_dir_remove(out);
    return rc;
}

void pw_runtime_dir_remove(const char *path)
{
    if (path && *path)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (lock_fd >= 0)
        close(lock_fd);
    lock_fd = -1;
}

static int name_is_safe(const char *name)
{
    if (!*name || name[0] == '/')
        return 0;
    for (const char *seg = name; seg; ) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        seg = slash ? slash + 1 : NULL;
    }
    return 1;
}

static int mkdirs_for(char *path)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -errno;
    }
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = pw_fd_write_all(fd, data, len);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return close(fd) < 0 ? -errno : 0;
}

static char *base64(const char *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    const unsigned char *in = (const unsigned char *)data;
    char *o = out;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? alphabet[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static const char *module_type(pw_module_kind_t kind)
{
    switch (kind) {
    case PW_MODULE_PYTHON: return "python";
    case PW_MODULE_TEXT: return "text";
    case PW_MODULE_DATA: return "data";
    case PW_MODULE_JSON: return "json";
    case PW_MODULE_REQUIREMENT: return "requirement";
    }
    return "data";
}

/* A Durable Object binding: the isolate derives ids from the namespace's uniqueKey (as
 * workerd does) and names the binding in its calls. */
static void add_do_binding(cJSON *obj, const pw_binding_t *b)
{
    cJSON_AddStringToObject(obj, "class", b->entrypoint);
    cJSON_AddStringToObject(obj, "unique_key", b->unique_key ? b->unique_key : "");
}

/* "durable_objects": the classes this worker implements, [{"class", "enable_sql"}]. */
static void add_do_namespaces(cJSON *spec, const pw_worker_t *w)
{
    cJSON *list = cJSON_AddArrayToObject(spec, "durable_objects");
    for (size_t i = 0; i < w->n_do_namespaces; i++) {
        cJSON *ns = cJSON_CreateObject();
        cJSON_AddStringToObject(ns, "class", w->do_namespaces[i].class_name);
        cJSON_AddBoolToObject(ns, "enable_sql", w->do_namespaces[i].enable_sql);
        cJSON_AddStringToObject(ns, "where", w->do_namespaces[i].where);
        cJSON_AddItemToArray(list, ns);
    }
}

static cJSON *binding_json(const pw_binding_t *b)
{
    static const char *const types[] = { "text", "data", "json", "env", "kv", "service", "workflow",
                                         "r2", "memory_cache", "queue", "disk",
                                         "durable_object", "d1" };
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "name", b->name);
    cJSON_AddStringToObject(obj, "type", types[b->kind]);
    if (b->kind == PW_BINDING_DURABLE_OBJECT) {
        add_do_binding(obj, b);
    } else if (b->kind == PW_BINDING_KV || b->kind == PW_BINDING_SERVICE || b->kind == PW_BINDING_WORKFLOW ||
        b->kind == PW_BINDING_R2 || b->kind == PW_BINDING_MEMORY_CACHE ||
        b->kind == PW_BINDING_QUEUE || b->kind == PW_BINDING_DISK ||
        b->kind == PW_BINDING_D1) {
        /* the isolate only names the binding in its calls; the host knows where it leads */
    } else if (!b->value) {
        cJSON_AddNullToObject(obj, "value");
    } else if (b->kind == PW_BINDING_DATA) {
        char *encoded = base64(b->value, b->value_len);
        cJSON_AddStringToObject(obj, "value", encoded ? encoded : "");
        free(encoded);
    } else {
        cJSON_AddStringToObject(obj, "value", b->value);
    }
    return obj;
}

/* "compat_enabled": every flag workerd knows (by its enable name) -> whether it is on for this
 * worker (its date and flags): the SDK's `_cloudflare_compat_flags` module. */
static void add_compat_enabled(cJSON *spec, const pw_worker_t *w)
{
    cJSON *enabled = cJSON_AddObjectToObject(spec, "compat_enabled");
    const pw_compat_flag_t *f;
    for (size_t i = 0; (f = pw_compat_flag_at(i)) != NULL; i++) {
        if (f->enable_flag)
            cJSON_AddBoolToObject(enabled, f->enable_flag,
                                  pw_compat_flag_on(f, w->compat_date, w->compat_flags, w->n_compat_flags));
    }
}

static char *spec_json(const pw_service_t *service, const pw_worker_settings_t *settings,
                       const char *dir)
{
    const pw_worker_t *w = &service->worker;
    cJSON *spec = cJSON_CreateObject();
    cJSON_AddStringToObject(spec, "service", service->name);
    cJSON_AddStringToObject(spec, "dir", dir);
    cJSON_AddStringToObject(spec, "config_dir", settings->config_dir);
    cJSON_AddBoolToObject(spec, "sandbox", settings->sandbox);
    cJSON_AddNumberToObject(spec, "memory_limit_mib", settings->memory_limit_mib);
    cJSON_AddNumberToObject(spec, "cpu_limit_ms", settings->cpu_limit_ms);
    if (settings->test_scheduled)
        cJSON_AddTrueToObject(spec, "test_scheduled");
    if (settings->testing)
        cJSON_AddTrueToObject(spec, "testing");
    cJSON_AddStringToObject(spec, "main_module", w->modules[0].name);
    cJSON_AddStringToObject(spec, "compat_date", w->compat_date);
    cJSON *flags = cJSON_AddArrayToObject(spec, "compat_flags");
    for (size_t i = 0; i < w->n_compat_flags; i++)
        cJSON_AddItemToArray(flags, cJSON_CreateString(w->compat_flags[i]));
    add_compat_enabled(spec, w);
    cJSON *modules = cJSON_AddArrayToObject(spec, "modules");
    for (size_t i = 0; i < w->n_modules; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", w->modules[i].name);
        cJSON_AddStringToObject(m, "type", module_type(w->modules[i].kind));
        if (w->modules[i].kind == PW_MODULE_REQUIREMENT)
            cJSON_AddStringToObject(m, "value", w->modules[i].content);
        cJSON_AddItemToArray(modules, m);
    }
    cJSON *bindings = cJSON_AddArrayToObject(spec, "bindings");
    for (size_t i = 0; i < w->n_bindings; i++)
        cJSON_AddItemToArray(bindings, binding_json(&w->bindings[i]));
    add_do_namespaces(spec, w);
    char *text = cJSON_PrintUnformatted(spec);
    cJSON_Delete(spec);
    return text;
}

int pw_worker_dir_write(const char *runtime_dir, const pw_service_t *service,
                        const pw_worker_settings_t *settings, char *spec_path,
                        size_t spec_path_len, char *err, size_t err_len)
{
    char dir[4096], path[8192];
    if (!name_is_safe(service->name) || strchr(service->name, '/')) {
        snprintf(err, err_len, "service %s: the name cannot be used as a directory name", service->name);
        return -1;
    }
    snprintf(dir, sizeof dir, "%s/%s", runtime_dir, service->name);
    if (mkdir(dir, 0700) < 0) {
        snprintf(err, err_len, "service %s: cannot create %s: %s", service->name, dir, strerror(errno));
        return -1;
    }
    const pw_worker_t *w = &service->worker;
    for (size_t i = 0; i < w->n_modules; i++) {
        const pw_module_t *m = &w->modules[i];
        if (m->kind == PW_MODULE_REQUIREMENT)
            continue;   /* a package name, resolved by the template, not a file */
        if (!name_is_safe(m->name)) {
            snprintf(err, err_len, "service %s: module name \"%s\" must be a relative path "
                     "without \".\" or \"..\" parts", service->name, m->name);
            return -1;
        }
        snprintf(path, sizeof path, "%s/%s", dir, m->name);
        int rc = mkdirs_for(path);
        if (rc == 0)
            rc = write_file(path, m->content, m->content_len);
        if (rc < 0) {
            snprintf(err, err_len, "service %s: cannot write module %s: %s", service->name,
                     m->name, strerror(-rc));
            return -1;
        }
    }
    char *spec = spec_json(service, settings, dir);
    snprintf(spec_path, spec_path_len, "%s/.pyworkerd-spec.json", dir);
    int rc = spec ? write_file(spec_path, spec, strlen(spec)) : -ENOMEM;
    free(spec);
    if (rc < 0) {
        snprintf(err, err_len, "service %s: cannot write %s: %s", service->name, spec_path, strerror(-rc));
        return -1;
    }
    return 0;
}
