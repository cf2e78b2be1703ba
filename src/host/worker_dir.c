/* worker_dir.c — laying out a worker's modules and spec on disk for its template (host
 * process). Module names come from the user's config: they are checked to stay inside the
 * worker's directory (no absolute paths, no "..").
 */
#include "host/worker_dir.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pw_runtime_dir_create(char *out, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (snprintf(out, len, "%s/pyworkerd-XXXXXX", tmp) >= (int)len)
        return -ENAMETOOLONG;
    return mkdtemp(out) ? 0 : -errno;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 ? 0 : 0;    /* best effort: keep going */
}

void pw_runtime_dir_remove(const char *path)
{
    if (path && *path)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
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
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        p += n;
        len -= (size_t)n;
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

static cJSON *binding_json(const pw_binding_t *b)
{
    static const char *const types[] = { "text", "data", "json", "env", "kv", "service", "workflow" };
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "name", b->name);
    cJSON_AddStringToObject(obj, "type", types[b->kind]);
    if (b->kind == PW_BINDING_KV || b->kind == PW_BINDING_SERVICE || b->kind == PW_BINDING_WORKFLOW) {
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
    cJSON_AddStringToObject(spec, "main_module", w->modules[0].name);
    cJSON_AddStringToObject(spec, "compat_date", w->compat_date);
    cJSON *flags = cJSON_AddArrayToObject(spec, "compat_flags");
    for (size_t i = 0; i < w->n_compat_flags; i++)
        cJSON_AddItemToArray(flags, cJSON_CreateString(w->compat_flags[i]));
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
