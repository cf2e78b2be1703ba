/* config.c — loads a workerd config into pw_config_t and checks it as workerd would (host
 * process, at start-up and on reload).
 *
 * capnp_eval.c turns the user's .capnp file into JSON; this file walks that JSON once, building
 * the structs and stopping at the first problem. Every key of every object is either understood
 * here, at its default value, or reported as "not supported by pyworkerd: <field path>": a
 * workerd feature pyworkerd does not implement must never be ignored silently. Messages use
 * workerd's wording, prefixed "service NAME: " for a worker's own problems and, when the
 * offending text occurs exactly once in the config file, "FILE:LINE: ".
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/capnp_eval.h"
#include "config/compat_flags.h"
#include "config/precheck.h"
#include "config/queue_options.h"

typedef struct {
    const pw_config_options_t *opts;
    const char *src;
    size_t src_len;
    pw_config_t *cfg;
    char *err;
    size_t err_len;
} ctx_t;

/* What to look for in the source text to name a line. */
typedef enum { LOC_NONE, LOC_STRING, LOC_FIELD } loc_kind_t;

typedef struct {
    loc_kind_t kind;
    const char *text;
} loc_t;

#define NO_LOC ((loc_t){ LOC_NONE, NULL })
#define AT_STRING(s) ((loc_t){ LOC_STRING, (s) })
#define AT_FIELD(s) ((loc_t){ LOC_FIELD, (s) })

/* ---- locating text in the config source ----------------------------------------------------- */

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Does the token at p match? A string literal equal to text, or the field name text followed
 * by '='. */
static int token_matches(const char *p, const char *end, loc_t loc, size_t text_len)
{
    if ((size_t)(end - p) < text_len + 1) return 0;
    if (loc.kind == LOC_STRING) {
        return p[0] == '"' && (size_t)(end - p) >= text_len + 2 &&
               memcmp(p + 1, loc.text, text_len) == 0 && p[text_len + 1] == '"';
    }
    if (memcmp(p, loc.text, text_len) != 0 || ident_char(p[text_len])) return 0;
    const char *q = p + text_len;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
    return q < end && *q == '=';
}

/* Line (1-based) of the only occurrence of loc outside comments, or 0. */
static int source_line(const ctx_t *c, loc_t loc)
{
    if (loc.kind == LOC_NONE || !loc.text || !c->src) return 0;
    size_t text_len = strlen(loc.text);
    const char *p = c->src, *end = c->src + c->src_len;
    int line = 1, found = 0, found_line = 0;
    while (p < end) {
        if (*p == '\n') {
            line++;
            p++;
        } else if (*p == '#') {
            while (p < end && *p != '\n') p++;
        } else if (*p == '"') {
            if (loc.kind == LOC_STRING && token_matches(p, end, loc, text_len)) {
                found++;
                found_line = line;
            }
            for (p++; p < end && *p != '"' && *p != '\n'; p++) {
                if (*p == '\\' && p + 1 < end) p++;
            }
            if (p < end && *p == '"') p++;
        } else if (loc.kind == LOC_FIELD && (p == c->src || !ident_char(p[-1])) &&
                   token_matches(p, end, loc, text_len)) {
            found++;
            found_line = line;
            p += text_len;
        } else {
            p++;
        }
    }
    return found == 1 ? found_line : 0;
}

/* ---- errors ----------------------------------------------------------------------------------- */

/* Writes "[FILE:LINE: ][service NAME: ]message" and returns -1. Tries loc, then loc2. */
static int fail2(ctx_t *c, loc_t loc, loc_t loc2, const char *service, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = source_line(c, loc);
    if (!line) line = source_line(c, loc2);
    char where[1200] = "";
    if (line) snprintf(where, sizeof where, "%s:%d: ", c->opts->config_path, line);
    if (service) {
        snprintf(c->err, c->err_len, "%sservice %s: %s", where, service, msg);
    } else {
        snprintf(c->err, c->err_len, "%s%s", where, msg);
    }
    return -1;
}

#define fail(c, loc, service, ...) fail2((c), (loc), NO_LOC, (service), __VA_ARGS__)

static int unsupported(ctx_t *c, loc_t loc, loc_t loc2, const char *service, const char *path)
{
    return fail2(c, loc, loc2, service, "not supported by pyworkerd: %s", path);
}

static int oom(ctx_t *c)
{
    snprintf(c->err, c->err_len, "out of memory while loading the config");
    return -1;
}

/* ---- small JSON helpers --------------------------------------------------------------------- */

static const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A value that means "not set": false, 0, "", [], or an object of such values. A null is a Void
 * union member and so is never "not set". */
static int json_is_default(const cJSON *v)
{
    if (cJSON_IsFalse(v)) return 1;
    if (cJSON_IsNumber(v)) return v->valuedouble == 0;
    if (cJSON_IsString(v)) return v->valuestring[0] == '\0';
    if (cJSON_IsArray(v)) return cJSON_GetArraySize(v) == 0;
    if (cJSON_IsObject(v)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, v) {
            if (!json_is_default(item)) return 0;
        }
        return 1;
    }
    return 0;
}

/* {"<member>": null}: a union set to the Void member `member`. */
static int json_is_void_member(const cJSON *v, const char *member)
{
    return cJSON_IsObject(v) && cJSON_GetArraySize(v) == 1 && v->child->string &&
           strcmp(v->child->string, member) == 0 && cJSON_IsNull(v->child);
}

static int key_in(const char *key, const char *const *keys)
{
    for (; *keys; keys++) {
        if (strcmp(key, *keys) == 0) return 1;
    }
    return 0;
}

/* Reports the first member of obj that is neither in `known` nor at its default value. */
static int reject_unknown(ctx_t *c, const cJSON *obj, const char *const *known,
                          const char *service, const char *prefix, loc_t loc2)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        if (key_in(item->string, known) || json_is_default(item)) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s%s", prefix, item->string);
        return unsupported(c, AT_FIELD(item->string), loc2, service, path);
    }
    return 0;
}

static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Decodes capnp's JSON for Data (an array of byte values) into a NUL-terminated buffer. */
static int json_bytes(const cJSON *v, char **out, size_t *out_len)
{
    if (cJSON_IsString(v)) {
        *out_len = strlen(v->valuestring);
        *out = dup_n(v->valuestring, *out_len);
        return *out ? 0 : -1;
    }
    if (!cJSON_IsArray(v)) return -1;
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    char *b = malloc(n + 1);
    if (!b) return -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, v) {
        if (!cJSON_IsNumber(item) || item->valuedouble < 0 || item->valuedouble > 255) {
            free(b);
            return -1;
        }
        b[i++] = (char)(unsigned char)item->valueint;
    }
    b[n] = '\0';
    *out = b;
    *out_len = n;
    return 0;
}

static int json_str_list(const cJSON *v, char ***out, size_t *n_out)
{
    size_t n = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 0, i = 0;
    *out = NULL;
    *n_out = 0;
    if (n == 0) return 0;
    char **list = calloc(n, sizeof *list);
    if (!list) return -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, v) {
        list[i] = strdup(cJSON_IsString(item) ? item->valuestring : "");
        if (!list[i]) {
            while (i > 0) free(list[--i]);
            free(list);
            return -1;
        }
        i++;
    }
    *out = list;
    *n_out = n;
    return 0;
}

/* The one union member of obj, i.e. its first key not in `fields`. */
static const cJSON *union_member(const cJSON *obj, const char *const *fields)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        if (!key_in(item->string, fields)) return item;
    }
    return NULL;
}

/* ---- service designators -------------------------------------------------------------------- */

/* Checks a ServiceDesignator that pyworkerd can route (a name, empty props, and an
 * entrypoint only where `entry_ok`). */
static int check_designator_ep(ctx_t *c, const cJSON *sd, const char *service, const char *path,
                               int entry_ok)
{
    char p[1024];
    const char *entry = json_str(sd, "entrypoint");
    if (entry && !entry_ok) {
        snprintf(p, sizeof p, "%s.entrypoint", path);
        return unsupported(c, AT_STRING(entry), NO_LOC, service, p);
    }
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(sd, "props");
    if (props && !json_is_void_member(props, "empty")) {
        snprintf(p, sizeof p, "%s.props", path);
        return unsupported(c, AT_FIELD("props"), NO_LOC, service, p);
    }
    static const char *const known[] = { "name", "entrypoint", "props", NULL };
    snprintf(p, sizeof p, "%s.", path);
    return reject_unknown(c, sd, known, service, p, NO_LOC);
}

static int check_designator(ctx_t *c, const cJSON *sd, const char *service, const char *path)
{
    return check_designator_ep(c, sd, service, path, 0);
}

static int service_defined(const ctx_t *c, const char *name)
{
    return pw_config_service(c->cfg, name) != NULL;
}

/* ---- workers -------------------------------------------------------------------------------- */

static int module_name_safe(const char *name)
{
    if (!name[0] || name[0] == '/' || strchr(name, '\\')) return 0;
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            return 0;
        }
        p += len + (slash ? 1 : 0);
    }
    return 1;
}

static const char *module_kind_name(pw_module_kind_t k)
{
    switch (k) {
    case PW_MODULE_PYTHON: return "pythonModule";
    case PW_MODULE_TEXT: return "text";
    case PW_MODULE_DATA: return "data";
    case PW_MODULE_JSON: return "json";
    case PW_MODULE_REQUIREMENT: return "pythonRequirement";
    }
    return "?";
}

static int module_kind(const char *member, pw_module_kind_t *kind)
{
    static const struct { const char *name; pw_module_kind_t kind; } kinds[] = {
        { "pythonModule", PW_MODULE_PYTHON }, { "text", PW_MODULE_TEXT },
        { "data", PW_MODULE_DATA }, { "json", PW_MODULE_JSON },
        { "pythonRequirement", PW_MODULE_REQUIREMENT },
        { "obsoletePythonRequirement", PW_MODULE_REQUIREMENT },
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(member, kinds[i].name) == 0) {
            *kind = kinds[i].kind;
            return 0;
        }
    }
    return -1;
}

/* Names end up in messages, paths and process titles: a name longer than `max` is refused
 * before anything quotes it. */
#define MAX_NAME 256
#define MAX_MODULE_NAME 1024

static int name_too_long(ctx_t *c, const char *what, const char *name, size_t max)
{
    size_t n = strlen(name);
    if (n <= max) return 0;
    fail(c, AT_STRING(name), NULL, "%s name %zu characters long; names have at most %zu.", what,
         n, max);
    return 1;
}

static int load_module(ctx_t *c, const char *svc, const cJSON *m, size_t index, pw_module_t *out)
{
    static const char *const fields[] = { "name", "namedExports", NULL };
    const char *name = json_str(m, "name");
    const cJSON *member = union_member(m, fields);
    char path[1024];
    if (!name) name = "";
    if (name_too_long(c, "a module", name, MAX_MODULE_NAME)) return -1;
    snprintf(path, sizeof path, "worker.modules[\"%s\"]", name);
    if (!member) return fail(c, AT_STRING(name), svc, "Module \"%s\" has no content.", name);
    pw_module_kind_t kind;
    if (module_kind(member->string, &kind) < 0) {
        if (index == 0) {
            return fail(c, AT_STRING(name), svc, "pyworkerd runs Python workers only: the main "
                        "(first) module must be a pythonModule, but \"%s\" is a %s.", name,
                        member->string);
        }
        snprintf(path + strlen(path), sizeof path - strlen(path), ".%s", member->string);
        return unsupported(c, AT_STRING(name), NO_LOC, svc, path);
    }
    if (index == 0 && kind != PW_MODULE_PYTHON) {
        return fail(c, AT_STRING(name), svc, "pyworkerd runs Python workers only: the main "
                    "(first) module must be a pythonModule, but \"%s\" is a %s module.", name,
                    module_kind_name(kind));
    }
    const cJSON *named = cJSON_GetObjectItemCaseSensitive(m, "namedExports");
    if (named && !json_is_default(named)) {
        snprintf(path + strlen(path), sizeof path - strlen(path), ".namedExports");
        return unsupported(c, AT_STRING(name), NO_LOC, svc, path);
    }
    if (!module_name_safe(name)) {
        return fail(c, AT_STRING(name), svc, "Module name \"%s\" is not allowed: module names "
                    "must be relative paths without \".\" or \"..\" components.", name);
    }
    out->name = strdup(name);
    out->kind = kind;
    if (!out->name) return oom(c);
    if (kind == PW_MODULE_DATA) {
        if (json_bytes(member, &out->content, &out->content_len) < 0) {
            return fail(c, AT_STRING(name), svc, "Module \"%s\": data is not bytes.", name);
        }
        return 0;
    }
    const char *text = cJSON_IsString(member) ? member->valuestring : "";
    out->content_len = strlen(text);
    out->content = dup_n(text, out->content_len);
    if (!out->content) return oom(c);
    if (kind == PW_MODULE_JSON) {
        cJSON *parsed = cJSON_Parse(text);
        if (!parsed) return fail(c, AT_STRING(name), svc, "Module \"%s\" is not valid JSON.", name);
        cJSON_Delete(parsed);
    }
    return 0;
}

static int load_modules(ctx_t *c, const char *svc, const cJSON *mods, pw_worker_t *w)
{
    size_t n = cJSON_IsArray(mods) ? (size_t)cJSON_GetArraySize(mods) : 0;
    if (n == 0) {
        return fail(c, AT_STRING(svc), svc, "Worker has no modules. pyworkerd runs Python "
                    "workers: give `modules` with a pythonModule first.");
    }
    w->modules = calloc(n, sizeof *w->modules);
    if (!w->modules) return oom(c);
    size_t i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, mods) {
        w->n_modules = i + 1;
        if (load_module(c, svc, m, i, &w->modules[i]) < 0) return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(w->modules[j].name, w->modules[i].name) == 0) {
                return fail(c, NO_LOC, svc, "Module \"%s\" is defined more than once.",
                            w->modules[i].name);
            }
        }
        i++;
    }
    return 0;
}

/* A `wrapped` binding's entrypoint (only "default") and its one inner binding's service
 * designator: 0 and *sd (NULL when innerBindings is not exactly one service binding), or -1
 * once reported. path is "worker.bindings[...].wrapped" (extended for the error). */
static int wrapped_inner_service(ctx_t *c, const char *svc, const cJSON *w, char *path, size_t path_len,
                                 const cJSON **sd)
{
    const char *entry = json_str(w, "entrypoint");
    if (entry && strcmp(entry, "default") != 0) {
        snprintf(path + strlen(path), path_len - strlen(path), ".entrypoint");
        return unsupported(c, AT_STRING(entry), NO_LOC, svc, path);
    }
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(w, "innerBindings");
    const cJSON *first = cJSON_GetArraySize(inner) == 1 ? cJSON_GetArrayItem(inner, 0) : NULL;
    *sd = first ? cJSON_GetObjectItemCaseSensitive(first, "service") : NULL;
    return 0;
}

/* A D1 binding: workerd's `wrapped` binding of PW_D1_MODULE, whose one inner binding is a
 * service binding to the `disk` service holding the database (checked to be a writable disk
 * service with the other references, check_worker_references). */
static int load_d1_binding(ctx_t *c, const char *svc, const char *name, const cJSON *w,
                           pw_binding_t *out)
{
    char path[1024];
    snprintf(path, sizeof path, "worker.bindings[\"%s\"].wrapped", name);
    const cJSON *sd;
    if (wrapped_inner_service(c, svc, w, path, sizeof path, &sd) < 0) return -1;
    const char *target = sd ? json_str(sd, "name") : NULL;
    if (!target) {
        return fail(c, AT_STRING(name), svc, "D1 binding \"%s\": innerBindings must hold exactly one "
                    "service binding naming the disk service that holds the database, e.g. "
                    "[(name = \"fetcher\", service = \"d1\")] with a service (name = \"d1\", disk = "
                    "(path = \"d1-data\", writable = true))", name);
    }
    snprintf(path + strlen(path), sizeof path - strlen(path), ".innerBindings[0].service");
    if (check_designator(c, sd, svc, path) < 0) return -1;
    out->kind = PW_BINDING_D1;
    out->value_len = strlen(target);
    out->value = dup_n(target, out->value_len);
    return out->value ? 0 : oom(c);
}

/* A `wrapped` binding: only workerd's Workflows module, whose one inner binding is a service
 * binding to the worker's WorkflowEntrypoint class (WORKERD-CONFIG.md §F). */
static int load_workflow_binding(ctx_t *c, const char *svc, const char *name, const cJSON *w,
                                 pw_binding_t *out)
{
    char path[1024];
    snprintf(path, sizeof path, "worker.bindings[\"%s\"].wrapped", name);
    const char *module = json_str(w, "moduleName");
    if (module && strcmp(module, PW_D1_MODULE) == 0) return load_d1_binding(c, svc, name, w, out);
    if (!module || strcmp(module, PW_WORKFLOWS_MODULE) != 0) {
        return fail2(c, module ? AT_STRING(module) : AT_STRING(name), NO_LOC, svc,
                     "not supported by pyworkerd: %s.moduleName \"%s\" (the wrapped bindings "
                     "pyworkerd offers are \"" PW_WORKFLOWS_MODULE "\" and \"" PW_D1_MODULE "\")",
                     path, module ? module : "");
    }
    const cJSON *sd;
    if (wrapped_inner_service(c, svc, w, path, sizeof path, &sd) < 0) return -1;
    const char *target = sd ? json_str(sd, "name") : NULL;
    const char *cls = sd ? json_str(sd, "entrypoint") : NULL;
    if (!target || !cls) {
        return fail(c, AT_STRING(name), svc, "Workflow binding \"%s\": innerBindings must hold "
                    "exactly one service binding naming the worker and its WorkflowEntrypoint class, "
                    "e.g. [(name = \"fetcher\", service = (name = \"main\", entrypoint = "
                    "\"MyWorkflow\"))]", name);
    }
    snprintf(path + strlen(path), sizeof path - strlen(path), ".innerBindings[0].service");
    if (check_designator_ep(c, sd, svc, path, 1) < 0) return -1;
    out->kind = PW_BINDING_WORKFLOW;
    out->value_len = strlen(target);
    out->value = dup_n(target, out->value_len);
    out->entrypoint = strdup(cls);
    return out->value && out->entrypoint ? 0 : oom(c);
}

/* An `r2Bucket` binding: a service designator without entrypoint or props, naming (checked
 * with the other references) a writable disk service. */
static int load_r2_binding(ctx_t *c, const char *svc, const char *name, const cJSON *member,
                           pw_binding_t *out)
{
    char path[1024];
    snprintf(path, sizeof path, "worker.bindings[\"%s\"].r2Bucket", name);
    if (check_designator(c, member, svc, path) < 0) return -1;
    const char *text = json_str(member, "name");
    out->kind = PW_BINDING_R2;
    out->value_len = strlen(text ? text : "");
    out->value = dup_n(text ? text : "", out->value_len);
    return out->value ? 0 : oom(c);
}

/* A MemoryCacheLimits number: capnp's JSON writes a UInt64 as a string. -1: neither. */
static int json_u64(const cJSON *obj, const char *key, uint64_t max, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char *end = NULL;
    if (!v) {
        *out = 0;
        return 0;
    }
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= (double)max) {
        *out = (uint64_t)v->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(v) || !isdigit((unsigned char)v->valuestring[0]))
        return -1;
    errno = 0;
    unsigned long long n = strtoull(v->valuestring, &end, 10);
    if (errno || *end || n > max)
        return -1;
    *out = n;
    return 0;
}

/* A `memoryCache` binding (workerd's in-memory cache): an optional id and required limits. */
static int load_memory_cache_binding(ctx_t *c, const char *svc, const char *name, const cJSON *mc,
                                     pw_binding_t *out)
{
    const cJSON *limits = cJSON_GetObjectItemCaseSensitive(mc, "limits");
    uint64_t keys, value, total;
    if (!cJSON_IsObject(limits)) {
        return fail(c, AT_STRING(name), svc, "MemoryCache bindings must specify limits. Please "
                    "update the binding in the worker configuration and try again.");
    }
    if (json_u64(limits, "maxKeys", UINT32_MAX, &keys) < 0 ||
        json_u64(limits, "maxValueSize", UINT32_MAX, &value) < 0 ||
        json_u64(limits, "maxTotalValueSize", UINT64_MAX, &total) < 0) {
        return fail(c, AT_STRING(name), svc, "worker.bindings[\"%s\"].memoryCache.limits: maxKeys "
                    "and maxValueSize must be UInt32 and maxTotalValueSize a UInt64.", name);
    }
    const char *id = json_str(mc, "id");
    out->kind = PW_BINDING_MEMORY_CACHE;
    out->cache_limits.max_keys = (uint32_t)keys;
    out->cache_limits.max_value_size = (uint32_t)value;
    out->cache_limits.max_total_value_size = total;
    out->value_len = id ? strlen(id) : 0;
    out->value = dup_n(id ? id : "", out->value_len);
    return out->value ? 0 : oom(c);
}

/* `queue = "NAME"`: a queue of the host's (host/queues.h), named by the designator. */
static int load_queue_binding(ctx_t *c, const char *svc, const char *name, const cJSON *sd,
                              pw_binding_t *out)
{
    char path[1024];
    snprintf(path, sizeof path, "worker.bindings[\"%s\"].queue", name);
    if (check_designator(c, sd, svc, path) < 0) return -1;
    const char *queue = json_str(sd, "name");
    if (!queue || !pw_queue_name_valid(queue)) {
        return fail2(c, queue && *queue ? AT_STRING(queue) : AT_STRING(name), NO_LOC, svc,
                     "Queue binding \"%s\": \"%s\" is not a valid queue name (1 to %d lowercase "
                     "letters, digits, '-' or '_')", name, queue ? queue : "", PW_QUEUE_MAX_NAME);
    }
    out->kind = PW_BINDING_QUEUE;
    out->value_len = strlen(queue);
    out->value = dup_n(queue, out->value_len);
    return out->value ? 0 : oom(c);
}

/* ---- Durable Objects ------------------------------------------------------------------------ */

static int refers_to_missing(ctx_t *c, const char *svc, const char *what, const char *target);

/* A durableObjectNamespace binding: `"Cls"` (this worker's class) or (className, serviceName). */
static int load_do_binding(ctx_t *c, const char *svc, const char *name, const cJSON *d,
                           pw_binding_t *out)
{
    static const char *const known[] = { "className", "serviceName", NULL };
    char path[1024];
    snprintf(path, sizeof path, "worker.bindings[\"%s\"].durableObjectNamespace.", name);
    if (reject_unknown(c, d, known, svc, path, AT_STRING(name)) < 0) return -1;
    const char *cls = json_str(d, "className");
    const char *target = json_str(d, "serviceName");
    if (!cls || !cls[0]) {
        return fail(c, AT_STRING(name), svc, "Durable Object binding \"%s\" names no className.",
                    name);
    }
    out->kind = PW_BINDING_DURABLE_OBJECT;
    out->value = strdup(target && target[0] ? target : svc);
    out->value_len = out->value ? strlen(out->value) : 0;
    out->entrypoint = strdup(cls);
    return out->value && out->entrypoint ? 0 : oom(c);
}

static int load_do_namespace(ctx_t *c, const char *svc, const cJSON *nj, pw_do_namespace_t *ns)
{
    static const char *const known[] = { "className", "uniqueKey", "preventEviction", "enableSql",
                                         NULL };
    const char *cls = json_str(nj, "className");
    const char *key = json_str(nj, "uniqueKey");
    if (!cls || !cls[0]) {
        return fail(c, AT_FIELD("durableObjectNamespaces"), svc, "A Durable Object namespace "
                    "has no className.");
    }
    if (cJSON_GetObjectItemCaseSensitive(nj, "ephemeralLocal")) {
        return unsupported(c, AT_FIELD("ephemeralLocal"), AT_STRING(cls), svc,
                           "worker.durableObjectNamespaces.ephemeralLocal (give a uniqueKey)");
    }
    char path[512];
    snprintf(path, sizeof path, "worker.durableObjectNamespaces[\"%.200s\"].", cls);
    if (reject_unknown(c, nj, known, svc, path, AT_STRING(cls)) < 0) return -1;
    if (!key || !key[0]) {
        return fail2(c, AT_STRING(cls), AT_FIELD("durableObjectNamespaces"), svc, "Durable Object "
                     "namespace \"%s\" has no uniqueKey.", cls);
    }
    if (strchr(key, '/') || strcmp(key, ".") == 0 || strcmp(key, "..") == 0 || strlen(key) > 200) {
        return fail(c, AT_STRING(key), svc, "Durable Object namespace \"%s\": uniqueKey \"%.200s\" "
                    "names its storage directory: it must not contain \"/\", be \".\" or \"..\", or "
                    "be longer than 200 characters.", cls, key);
    }
    ns->prevent_eviction = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(nj, "preventEviction"));
    ns->enable_sql = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(nj, "enableSql"));
    ns->class_name = strdup(cls);
    ns->unique_key = strdup(key);
    char where[1200] = "";
    int line = source_line(c, AT_STRING(cls));
    if (!line) line = source_line(c, AT_FIELD("durableObjectNamespaces"));
    if (line) snprintf(where, sizeof where, "%s:%d: ", c->opts->config_path, line);
    ns->where = strdup(where);
    return ns->class_name && ns->unique_key && ns->where ? 0 : oom(c);
}

/* durableObjectStorage (none, inMemory, localDisk) and durableObjectNamespaces. */
static int load_do_config(ctx_t *c, const char *svc, const cJSON *wj, pw_worker_t *w)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(wj, "durableObjectStorage");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(wj, "durableObjectNamespaces");
    const char *disk = st ? json_str(st, "localDisk") : NULL;
    if (disk) {
        w->do_storage = PW_DO_STORAGE_DISK;
        if (!(w->do_storage_disk = strdup(disk))) return oom(c);
    } else if (st && json_is_void_member(st, "inMemory")) {
        w->do_storage = PW_DO_STORAGE_MEMORY;
    } else if (st && !json_is_void_member(st, "none")) {
        return unsupported(c, AT_FIELD("durableObjectStorage"), NO_LOC, svc,
                           "worker.durableObjectStorage (none, inMemory or localDisk)");
    }
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0, i = 0;
    if (n && w->do_storage == PW_DO_STORAGE_NONE) {
        return fail2(c, AT_FIELD("durableObjectNamespaces"), AT_STRING(svc), svc, "Worker service "
                     "\"%s\" implements durable object classes but has `durableObjectStorage` set "
                     "to `none`.", svc);
    }
    if (n && !(w->do_namespaces = calloc(n, sizeof *w->do_namespaces))) return oom(c);
    const cJSON *nj;
    cJSON_ArrayForEach(nj, list) {
        w->n_do_namespaces = i + 1;
        if (load_do_namespace(c, svc, nj, &w->do_namespaces[i]) < 0) return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(w->do_namespaces[j].class_name, w->do_namespaces[i].class_name) == 0) {
                return fail2(c, AT_STRING(w->do_namespaces[i].class_name),
                             AT_FIELD("durableObjectNamespaces"), svc, "Durable Object class \"%s\" "
                             "is named by more than one namespace.", w->do_namespaces[i].class_name);
            }
        }
        i++;
    }
    return 0;
}

/* The namespace `cls` of worker service t, or NULL. */
static const pw_do_namespace_t *do_namespace_of(const pw_service_t *t, const char *cls)
{
    for (size_t i = 0; t && t->kind == PW_SERVICE_WORKER && i < t->worker.n_do_namespaces; i++) {
        if (strcmp(t->worker.do_namespaces[i].class_name, cls) == 0) return &t->worker.do_namespaces[i];
    }
    return NULL;
}

/* A Durable Object binding names a namespace that exists (as workerd words it); the binding
 * learns its uniqueKey. */
static int check_do_binding(ctx_t *c, const pw_service_t *s, pw_binding_t *b)
{
    char what[1024];
    snprintf(what, sizeof what, "Worker \"%s\"'s binding \"%s\"", s->name, b->name);
    const pw_service_t *t = pw_config_service(c->cfg, b->value);
    if (!t) return refers_to_missing(c, s->name, what, b->value);
    const pw_do_namespace_t *ns = do_namespace_of(t, b->entrypoint);
    if (!ns && t == s) {
        return fail(c, AT_STRING(b->entrypoint), s->name, "%s refers to a Durable Object namespace "
                    "named \"%s\", but no such Durable Object namespace is defined by this Worker.",
                    what, b->entrypoint);
    }
    if (!ns) {
        return fail(c, AT_STRING(b->entrypoint), s->name, "%s refers to a Durable Object namespace "
                    "named \"%s\" in service \"%s\", but no such Durable Object namespace is defined "
                    "by that service.", what, b->entrypoint, t->name);
    }
    b->unique_key = strdup(ns->unique_key);
    return b->unique_key ? 0 : oom(c);
}

/* localDisk names a writable disk service (workerd's messages). */
static int check_do_storage(ctx_t *c, const pw_service_t *s)
{
    const char *disk = s->worker.do_storage_disk;
    if (s->worker.do_storage != PW_DO_STORAGE_DISK) return 0;
    const pw_service_t *t = pw_config_service(c->cfg, disk);
    if (!t) {
        return fail2(c, AT_STRING(disk), AT_FIELD("durableObjectStorage"), s->name, "durableObjectStorage config refers to a service "
                    "\"%s\", but no such service is defined.", disk);
    }
    if (t->kind != PW_SERVICE_DISK) {
        return fail2(c, AT_STRING(disk), AT_FIELD("durableObjectStorage"), s->name, "durableObjectStorage config refers to the service "
                    "\"%s\", but that service is not a local disk service.", disk);
    }
    if (!t->disk_writable) {
        return fail2(c, AT_STRING(disk), AT_FIELD("durableObjectStorage"), s->name, "durableObjectStorage config refers to the disk "
                    "service \"%s\", but that service is defined read-only.", disk);
    }
    return 0;
}

/* A `hyperdrive` binding (workerd's): a designator naming an external tcp service, and the
 * database's name, user, password and scheme. Its value is made once the services are known
 * (hyperdrive_value). */
static int load_hyperdrive_binding(ctx_t *c, const char *svc, const char *name, const cJSON *hd,
                                   pw_binding_t *out)
{
    char path[1024];
    snprintf(path, sizeof path, "worker.bindings[\"%s\"].hyperdrive.designator", name);
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(hd, "designator");
    const char *target = sd ? json_str(sd, "name") : NULL;
    if (!target || (check_designator(c, sd, svc, path) < 0)) {
        return target ? -1 : fail(c, AT_STRING(name), svc, "%s: the name of an external service "
                                  "(the database) is required", path);
    }
    cJSON *v = cJSON_CreateObject();
    static const char *const keys[] = { "database", "user", "password", "scheme" };
    for (size_t i = 0; v && i < 4; i++) {
        const char *text = json_str(hd, keys[i]);
        cJSON_AddStringToObject(v, keys[i], text ? text : (i == 3 ? "postgresql" : ""));
    }
    out->kind = PW_BINDING_HYPERDRIVE;
    out->entrypoint = strdup(target);
    out->value = v ? cJSON_PrintUnformatted(v) : NULL;
    cJSON_Delete(v);
    if (!out->value || !out->entrypoint) return oom(c);
    out->value_len = strlen(out->value);
    return 0;
}

/* The binding's value with the designated service's host and port added. */
static int hyperdrive_value(ctx_t *c, const pw_service_t *s, pw_binding_t *b)
{
    const pw_service_t *t = pw_config_service(c->cfg, b->entrypoint);
    if (!t || t->kind != PW_SERVICE_EXTERNAL) {
        return fail(c, AT_STRING(b->name), s->name, "Worker \"%s\"'s binding \"%s\": "
                    "hyperdrive.designator names \"%s\", which is not an external service (e.g. "
                    "(name = \"%s\", external = (address = \"127.0.0.1:5432\", tcp = ())))",
                    s->name, b->name, b->entrypoint, b->entrypoint);
    }
    const char *addr = t->external_address, *colon = strrchr(addr, ':');
    cJSON *v = cJSON_Parse(b->value);
    if (!v) return oom(c);
    char host[256];
    size_t hl = colon ? (size_t)(colon - addr) : strlen(addr);
    if (hl >= sizeof host) hl = sizeof host - 1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    cJSON_AddStringToObject(v, "host", host);
    cJSON_AddNumberToObject(v, "port", colon ? atoi(colon + 1) : 5432);
    free(b->value);
    b->value = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    if (!b->value) return oom(c);
    b->value_len = strlen(b->value);
    return 0;
}

static int load_binding(ctx_t *c, const char *svc, const cJSON *b, pw_binding_t *out)
{
    static const char *const fields[] = { "name", NULL };
    const char *name = json_str(b, "name");
    const cJSON *member = union_member(b, fields);
    if (!name) name = "";
    if (name_too_long(c, "a binding", name, MAX_NAME)) return -1;
    if (!member || strcmp(member->string, "unspecified") == 0) {
        return fail(c, AT_STRING(name), svc, "Worker \"%s\"'s binding \"%s\" does not specify any "
                    "binding value.", svc, name);
    }
    out->name = strdup(name);
    if (!out->name) return oom(c);
    const char *m = member->string;
    if (strcmp(m, "data") == 0) {
        out->kind = PW_BINDING_DATA;
        if (json_bytes(member, &out->value, &out->value_len) < 0) {
            return fail(c, AT_STRING(name), svc, "Binding \"%s\": data is not bytes.", name);
        }
        return 0;
    }
    const char *text = cJSON_IsString(member) ? member->valuestring : "";
    if (strcmp(m, "text") == 0) {
        out->kind = PW_BINDING_TEXT;
    } else if (strcmp(m, "json") == 0) {
        out->kind = PW_BINDING_JSON;
        cJSON *parsed = cJSON_Parse(text);
        if (!parsed) {
            return fail(c, AT_STRING(name), svc, "Worker \"%s\"'s binding \"%s\" is not valid JSON.",
                        svc, name);
        }
        cJSON_Delete(parsed);
    } else if (strcmp(m, "fromEnvironment") == 0) {
        out->kind = PW_BINDING_FROM_ENV;
        text = getenv(text);
        if (!text) return 0;
    } else if (strcmp(m, "kvNamespace") == 0 || strcmp(m, "service") == 0) {
        char path[1024];
        int kv = m[0] == 'k';
        snprintf(path, sizeof path, "worker.bindings[\"%s\"].%s", name, m);
        if (check_designator_ep(c, member, svc, path, !kv) < 0) return -1;
        out->kind = kv ? PW_BINDING_KV : PW_BINDING_SERVICE;
        text = json_str(member, "name");
        const char *entry = json_str(member, "entrypoint");
        if (!text) text = "";
        if (entry && !(out->entrypoint = strdup(entry))) return oom(c);
    } else if (strcmp(m, "wrapped") == 0) {
        return load_workflow_binding(c, svc, name, member, out);
    } else if (strcmp(m, "r2Bucket") == 0) {
        return load_r2_binding(c, svc, name, member, out);
    } else if (strcmp(m, "memoryCache") == 0) {
        return load_memory_cache_binding(c, svc, name, member, out);
    } else if (strcmp(m, "queue") == 0) {
        return load_queue_binding(c, svc, name, member, out);
    } else if (strcmp(m, "durableObjectNamespace") == 0) {
        return load_do_binding(c, svc, name, member, out);
    } else if (strcmp(m, "hyperdrive") == 0) {
        return load_hyperdrive_binding(c, svc, name, member, out);
    } else {
        char path[1024];
        snprintf(path, sizeof path, "worker.bindings[\"%s\"].%s", name, m);
        return unsupported(c, AT_STRING(name), AT_FIELD(m), svc, path);
    }
    out->value_len = strlen(text);
    out->value = dup_n(text, out->value_len);
    return out->value ? 0 : oom(c);
}

static int load_bindings(ctx_t *c, const char *svc, const cJSON *list, pw_worker_t *w)
{
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0, i = 0;
    if (n == 0) return 0;
    w->bindings = calloc(n, sizeof *w->bindings);
    if (!w->bindings) return oom(c);
    const cJSON *b;
    cJSON_ArrayForEach(b, list) {
        w->n_bindings = i + 1;
        if (load_binding(c, svc, b, &w->bindings[i]) < 0) return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(w->bindings[j].name, w->bindings[i].name) == 0) {
                return fail(c, AT_FIELD("bindings"), svc, "Worker \"%s\" defines the binding \"%s\" "
                            "more than once.", svc, w->bindings[i].name);
            }
        }
        i++;
    }
    return 0;
}

/* Everything a Worker may hold that pyworkerd does not do (yet) is rejected here. */
static int check_worker_fields(ctx_t *c, const char *svc, const cJSON *wj)
{
    static const char *const known[] = {
        "modules", "compatibilityDate", "compatibilityFlags", "bindings", "globalOutbound",
        "durableObjectStorage", "containerEngine", "pyworkerd", "durableObjectNamespaces", NULL,
    };
    static const char *const void_unions[][2] = {
        { "containerEngine", "none" },
    };
    const cJSON *member = cJSON_GetObjectItemCaseSensitive(wj, "serviceWorkerScript");
    if (member) return unsupported(c, AT_FIELD("serviceWorkerScript"), NO_LOC, svc,
                                   "worker.serviceWorkerScript (pyworkerd runs Python workers only)");
    if ((member = cJSON_GetObjectItemCaseSensitive(wj, "inherit"))) {
        return unsupported(c, AT_FIELD("inherit"), NO_LOC, svc, "worker.inherit");
    }
    for (size_t i = 0; i < sizeof void_unions / sizeof void_unions[0]; i++) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(wj, void_unions[i][0]);
        if (u && !json_is_void_member(u, void_unions[i][1])) {
            char path[256];
            snprintf(path, sizeof path, "worker.%s.%s", void_unions[i][0],
                     u->child && u->child->string ? u->child->string : "?");
            return unsupported(c, AT_FIELD(u->child && u->child->string ? u->child->string : ""),
                               AT_FIELD(void_unions[i][0]), svc, path);
        }
    }
    const cJSON *outbound = cJSON_GetObjectItemCaseSensitive(wj, "globalOutbound");
    if (outbound) {
        const char *target = json_str(outbound, "name");
        if (!target) {
            return unsupported(c, AT_FIELD("globalOutbound"), NO_LOC, svc,
                               "worker.globalOutbound without a service name");
        }
        if (check_designator(c, outbound, svc, "worker.globalOutbound") < 0) return -1;
    }
    return reject_unknown(c, wj, known, svc, "worker.", NO_LOC);
}

/* The `pyworkerd = (...)` extension: per-worker limits and pool sizes. */
static int load_worker_options(ctx_t *c, const char *svc, const cJSON *wj, pw_worker_options_t *o)
{
    static const char *const known[] = {
        "memoryLimitMib", "cpuLimitMs", "requestTimeoutMs", "maxConcurrentRequests",
        "minIsolates", "maxIsolates", "queueConsumers", "crons", "queueProducers", NULL,
    };
    unsigned *const fields[] = {
        &o->memory_limit_mib, &o->cpu_limit_ms, &o->request_timeout_ms, &o->max_concurrent,
        &o->min_isolates, &o->max_isolates,
    };
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(wj, "pyworkerd");
    if (!ext) return 0;
    if (reject_unknown(c, ext, known, svc, "worker.pyworkerd.", NO_LOC) < 0) return -1;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ext, known[i]);
        if (cJSON_IsNumber(v) && v->valuedouble > 0) *fields[i] = (unsigned)v->valuedouble;
    }
    char msg[1024];
    const char *at = NULL;
    int at_field = 0;
    if (pw_queue_options_load(ext, o, msg, sizeof msg, &at, &at_field) < 0) {
        return fail2(c, at_field ? AT_FIELD(at) : AT_STRING(at), AT_FIELD("pyworkerd"), svc,
                     "%s", msg);
    }
    if (o->max_isolates && o->min_isolates > o->max_isolates) {
        return fail2(c, AT_FIELD("maxIsolates"), AT_STRING(svc), svc,
                     "pyworkerd.minIsolates (%u) is larger than pyworkerd.maxIsolates (%u).",
                     o->min_isolates, o->max_isolates);
    }
    return 0;
}

static int load_worker(ctx_t *c, const char *svc, const cJSON *wj, pw_worker_t *w)
{
    if (check_worker_fields(c, svc, wj) < 0) return -1;
    if (load_worker_options(c, svc, wj, &w->options) < 0) return -1;
    if (load_do_config(c, svc, wj, w) < 0) return -1;
    const char *outbound = json_str(cJSON_GetObjectItemCaseSensitive(wj, "globalOutbound"), "name");
    if (!(w->global_outbound = strdup(outbound ? outbound : "internet"))) return oom(c);
    if (load_modules(c, svc, cJSON_GetObjectItemCaseSensitive(wj, "modules"), w) < 0) return -1;
    const char *date = json_str(wj, "compatibilityDate");
    if (!date)
        date = c->opts->default_compat_date;    /* --compat-date, as workerd's */
    if (date && !(w->compat_date = strdup(date))) return oom(c);
    if (json_str_list(cJSON_GetObjectItemCaseSensitive(wj, "compatibilityFlags"), &w->compat_flags,
                      &w->n_compat_flags) < 0) {
        return oom(c);
    }
    char msg[1024];
    if (pw_compat_check(date, w->compat_flags, w->n_compat_flags, c->opts->today, msg,
                        sizeof msg) < 0) {
        /* Name the flag or the date in the source when the message ends with it. */
        const char *colon = strrchr(msg, ':');
        const char *subject = colon && colon[1] == ' ' && !strchr(colon, '"') ? colon + 2 : date;
        return fail2(c, AT_STRING(subject), AT_STRING(svc), svc, "%s", msg);
    }
    int python = pw_worker_has_flag(w, "python_workers") ||
                 pw_worker_has_flag(w, "python_workers_development");
    if (!python) {
        return fail2(c, AT_FIELD("compatibilityFlags"), AT_STRING(w->modules[0].name), svc,
                     "The python_workers compatibility flag is required to use Python.");
    }
    return load_bindings(c, svc, cJSON_GetObjectItemCaseSensitive(wj, "bindings"), w);
}

/* ---- other services ------------------------------------------------------------------------- */

static int check_http_options(ctx_t *c, const cJSON *http, const char *svc, const char *path)
{
    const char *style = json_str(http, "style");
    char p[1024];
    if (style && strcmp(style, "host") != 0) {
        snprintf(p, sizeof p, "%s.style = %s", path, style);
        return unsupported(c, AT_FIELD("style"), NO_LOC, svc, p);
    }
    static const char *const known[] = { "style", NULL };
    snprintf(p, sizeof p, "%s.", path);
    return reject_unknown(c, http, known, svc, p, NO_LOC);
}

/* The value given on the command line for `name` (the last one wins), or NULL. */
static const char *cli_override(const pw_socket_override_t *list, size_t n, const char *name)
{
    const char *value = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, name) == 0) value = list[i].address;
    }
    return value;
}

/* trustedCertificates as one PEM text (curl reads a bundle). */
static int join_pems(const cJSON *list, char **out)
{
    size_t len = 1;
    const cJSON *pem;
    *out = NULL;
    cJSON_ArrayForEach(pem, list) {
        if (cJSON_IsString(pem)) len += strlen(pem->valuestring) + 1;
    }
    if (len == 1) return 0;
    char *all = malloc(len), *p = all;
    if (!all) return -1;
    cJSON_ArrayForEach(pem, list) {
        if (!cJSON_IsString(pem)) continue;
        size_t n = strlen(pem->valuestring);
        memcpy(p, pem->valuestring, n);
        p += n;
        *p++ = '\n';
    }
    *p = '\0';
    *out = all;
    return 0;
}

/* tlsOptions.minVersion (absent: the default). Returns 0, or -1 for a version below TLS 1.0
 * (ssl3), which pyworkerd does not offer. */
static int tls_min_version(const cJSON *tls, pw_tls_min_t *out)
{
    static const char *const versions[] = { "goodDefault", "tls1Dot0", "tls1Dot1", "tls1Dot2",
                                            "tls1Dot3", NULL };
    const char *min = json_str(tls, "minVersion");
    size_t i = 0;
    while (min && versions[i] && strcmp(versions[i], min) != 0) i++;
    if (min && !versions[i]) return -1;
    *out = min ? (pw_tls_min_t)i : PW_TLS_MIN_DEFAULT;
    return 0;
}

/* A network service's tlsOptions: what a client needs (no keypair, no client-cert checks). */
static int load_tls_client(ctx_t *c, const char *svc, const cJSON *tj, pw_tls_client_t *tls)
{
    static const char *const known[] = { "trustBrowserCas", "trustedCertificates", "minVersion",
                                         NULL };
    tls->trust_system = 1;
    tls->min_version = PW_TLS_MIN_DEFAULT;
    if (!tj) return 0;
    if (reject_unknown(c, tj, known, svc, "network.tlsOptions.", NO_LOC) < 0) return -1;
    tls->trust_system = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tj, "trustBrowserCas"));
    if (tls_min_version(tj, &tls->min_version) < 0) {
        return unsupported(c, AT_FIELD("minVersion"), NO_LOC, svc,
                           "network.tlsOptions.minVersion (below TLS 1.0)");
    }
    if (join_pems(cJSON_GetObjectItemCaseSensitive(tj, "trustedCertificates"),
                  &tls->trusted_pem) < 0) {
        return oom(c);
    }
    return 0;
}

static int load_network(ctx_t *c, const char *svc, const cJSON *nj, pw_service_t *s)
{
    static const char *const known[] = { "allow", "deny", "tlsOptions", NULL };
    if (reject_unknown(c, nj, known, svc, "network.", NO_LOC) < 0) return -1;
    if (load_tls_client(c, svc, cJSON_GetObjectItemCaseSensitive(nj, "tlsOptions"),
                        &s->network_tls) < 0) {
        return -1;
    }
    const cJSON *allow = cJSON_GetObjectItemCaseSensitive(nj, "allow");
    if (allow) {
        if (json_str_list(allow, &s->network_allow, &s->n_network_allow) < 0) return oom(c);
    } else {
        s->network_allow = calloc(1, sizeof *s->network_allow);
        if (!s->network_allow || !(s->network_allow[0] = strdup("public"))) return oom(c);
        s->n_network_allow = 1;
    }
    if (json_str_list(cJSON_GetObjectItemCaseSensitive(nj, "deny"), &s->network_deny,
                      &s->n_network_deny) < 0) {
        return oom(c);
    }
    return 0;
}

static int load_external(ctx_t *c, const char *svc, const cJSON *ej, pw_service_t *s)
{
    static const char *const fields[] = { "address", NULL };
    const cJSON *proto = union_member(ej, fields);
    if (proto && strcmp(proto->string, "tcp") == 0)
        s->external_tcp = 1;
    else if (proto && strcmp(proto->string, "http") != 0) {
        char path[256];
        snprintf(path, sizeof path, "external.%s", proto->string);
        return unsupported(c, AT_FIELD(proto->string), NO_LOC, svc, path);
    }
    if (proto && !s->external_tcp && check_http_options(c, proto, svc, "external.http") < 0) return -1;
    const char *addr = cli_override(c->opts->external_overrides, c->opts->n_external_overrides, svc);
    if (!addr) addr = json_str(ej, "address");
    if (!addr) {
        return fail(c, AT_STRING(svc), NULL, "External service \"%s\" has no address in the "
                    "config, so must be specified on the command line with `--external-addr`.", svc);
    }
    s->external_address = strdup(addr);
    return s->external_address ? 0 : oom(c);
}

/* disk.assets: copied as given; http/static_dir.c checks the words when it opens the dir. */
static int load_assets(ctx_t *c, const char *svc, const cJSON *aj, pw_service_t *s)
{
    static const char *const known[] = { "htmlHandling", "notFoundHandling", "worker",
                                         "runWorkerFirst", NULL };
    if (reject_unknown(c, aj, known, svc, "disk.assets.", NO_LOC) < 0) return -1;
    const char *html = json_str(aj, "htmlHandling"), *nf = json_str(aj, "notFoundHandling");
    const char *worker = json_str(aj, "worker");
    s->disk_assets = 1;
    if ((html && !(s->assets_html_handling = strdup(html))) ||
        (nf && !(s->assets_not_found_handling = strdup(nf))) ||
        (worker && !(s->assets_worker = strdup(worker))) ||
        json_str_list(cJSON_GetObjectItemCaseSensitive(aj, "runWorkerFirst"),
                      &s->assets_worker_first, &s->n_assets_worker_first) < 0)
        return oom(c);
    return 0;
}

static int load_disk(ctx_t *c, const char *svc, const cJSON *dj, pw_service_t *s)
{
    static const char *const known[] = { "path", "writable", "allowDotfiles", "assets", NULL };
    if (reject_unknown(c, dj, known, svc, "disk.", NO_LOC) < 0) return -1;
    const char *path = cli_override(c->opts->directory_overrides, c->opts->n_directory_overrides, svc);
    if (!path) path = json_str(dj, "path");
    if (!path) {
        return fail(c, AT_STRING(svc), NULL, "Directory \"%s\" has no path in the config, so "
                    "must be specified on the command line with `--directory-path`.", svc);
    }
    if (!cli_override(c->opts->directory_overrides, c->opts->n_directory_overrides, svc) &&
        pw_precheck_path_climbs_out(path)) {
        return fail(c, AT_STRING(path), svc, "disk path \"%.300s\" climbs out of the directory "
                    "it is relative to (--persist-dir, or the working directory) with \"..\"; "
                    "give a path inside it, or an absolute one.", path);
    }
    s->disk_path = strdup(path);
    s->disk_writable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dj, "writable"));
    s->disk_allow_dotfiles = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dj, "allowDotfiles"));
    const cJSON *aj = cJSON_GetObjectItemCaseSensitive(dj, "assets");
    if (aj && load_assets(c, svc, aj, s) < 0)
        return -1;
    return s->disk_path ? 0 : oom(c);
}

static int load_service(ctx_t *c, const cJSON *sj, pw_service_t *s)
{
    static const char *const fields[] = { "name", NULL };
    const char *name = json_str(sj, "name");
    if (!name) name = "";
    if (name_too_long(c, "a service", name, MAX_NAME)) return -1;
    if (!(s->name = strdup(name))) return oom(c);
    const cJSON *kind = union_member(sj, fields);
    if (!kind || strcmp(kind->string, "unspecified") == 0) {
        return fail(c, AT_STRING(name), NULL, "Service named \"%s\" does not specify what to "
                    "serve.", name);
    }
    if (strcmp(kind->string, "worker") == 0) {
        s->kind = PW_SERVICE_WORKER;
        return load_worker(c, name, kind, &s->worker);
    }
    if (strcmp(kind->string, "network") == 0) {
        s->kind = PW_SERVICE_NETWORK;
        return load_network(c, name, kind, s);
    }
    if (strcmp(kind->string, "external") == 0) {
        s->kind = PW_SERVICE_EXTERNAL;
        return load_external(c, name, kind, s);
    }
    if (strcmp(kind->string, "disk") == 0) {
        s->kind = PW_SERVICE_DISK;
        return load_disk(c, name, kind, s);
    }
    return unsupported(c, AT_STRING(name), NO_LOC, name, kind->string);
}

/* workerd implies a service "internet" (public network) unless the config defines one. */
static int add_implied_internet(ctx_t *c)
{
    if (service_defined(c, "internet")) return 0;
    pw_service_t *s = &c->cfg->services[c->cfg->n_services];
    memset(s, 0, sizeof *s);
    s->kind = PW_SERVICE_NETWORK;
    s->network_tls.trust_system = 1;    /* tlsOptions = (trustBrowserCas = true) */
    s->name = strdup("internet");
    s->network_allow = calloc(1, sizeof *s->network_allow);
    c->cfg->n_services++;
    if (!s->name || !s->network_allow || !(s->network_allow[0] = strdup("public"))) return oom(c);
    s->n_network_allow = 1;
    return 0;
}

static int load_services(ctx_t *c, const cJSON *list)
{
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0, i = 0;
    c->cfg->services = calloc(n + 1, sizeof *c->cfg->services);     /* + implied "internet" */
    if (!c->cfg->services) return oom(c);
    const cJSON *sj;
    cJSON_ArrayForEach(sj, list) {
        const char *name = json_str(sj, "name");
        if (name && name_too_long(c, "a service", name, MAX_NAME)) return -1;
        if (name && service_defined(c, name)) {
            return fail(c, NO_LOC, NULL, "Config defines multiple services named \"%s\".", name);
        }
        c->cfg->n_services = i + 1;
        if (load_service(c, sj, &c->cfg->services[i]) < 0) return -1;
        i++;
    }
    return add_implied_internet(c);
}

/* ---- sockets -------------------------------------------------------------------------------- */

static const char *socket_override(const ctx_t *c, const char *name)
{
    return cli_override(c->opts->socket_overrides, c->opts->n_socket_overrides, name);
}

/* https = (options = HttpOptions, tlsOptions = (keypair = (...), minVersion = ...)). */
static int load_https(ctx_t *c, const char *name, const cJSON *hj, pw_socket_t *s)
{
    static const char *const known[] = { "options", "tlsOptions", NULL };
    static const char *const tls_known[] = { "keypair", "minVersion", NULL };
    char path[1024];
    snprintf(path, sizeof path, "sockets[\"%s\"].https.", name);
    if (reject_unknown(c, hj, known, NULL, path, AT_STRING(name)) < 0) return -1;
    const cJSON *options = cJSON_GetObjectItemCaseSensitive(hj, "options");
    snprintf(path, sizeof path, "sockets[\"%s\"].https.options", name);
    if (options && check_http_options(c, options, NULL, path) < 0) return -1;
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(hj, "tlsOptions");
    snprintf(path, sizeof path, "sockets[\"%s\"].https.tlsOptions.", name);
    if (tls && reject_unknown(c, tls, tls_known, NULL, path, AT_STRING(name)) < 0) return -1;
    const cJSON *keypair = cJSON_GetObjectItemCaseSensitive(tls, "keypair");
    const char *chain = json_str(keypair, "certificateChain");
    const char *key = json_str(keypair, "privateKey");
    if (!chain || !key || !*chain || !*key) {
        return fail(c, AT_STRING(name), NULL, "Socket \"%s\" is https but has no "
                    "tlsOptions.keypair (privateKey and certificateChain, PEM).", name);
    }
    if (tls_min_version(tls, &s->tls_min_version) < 0) {
        snprintf(path, sizeof path, "sockets[\"%s\"].https.tlsOptions.minVersion = %s", name,
                 json_str(tls, "minVersion"));
        return unsupported(c, AT_FIELD("minVersion"), AT_STRING(name), NULL, path);
    }
    s->https = 1;
    s->tls_certificate_chain = strdup(chain);
    s->tls_private_key = strdup(key);
    return s->tls_certificate_chain && s->tls_private_key ? 0 : oom(c);
}

/* The form http/address.c accepts: "host:port", "*:port", "[v6]:port" or "host" (default
 * port), the port 0-65535; a dotted number must be an IPv4 address. Checked here so that a
 * bad address is a config error with its line, before any worker starts. */
static int address_ok(const char *addr)
{
    const char *colon, *host = addr, *host_end;
    if (addr[0] == '[') {
        host_end = strchr(addr, ']');
        if (!host_end || host_end == addr + 1) return 0;
        host++;
        colon = host_end[1] == ':' ? host_end + 1 : NULL;
        if (host_end[1] && !colon) return 0;
    } else {
        colon = strrchr(addr, ':');
        host_end = colon ? colon : addr + strlen(addr);
        if (host_end == addr) return 0;
    }
    if (colon) {
        const char *p = colon + 1;
        long port = 0;
        if (!*p || strlen(p) > 5) return 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9') return 0;
            port = port * 10 + (*p - '0');
        }
        if (port > 65535) return 0;
    }
    size_t n = (size_t)(host_end - host);
    if (n >= 256 || strspn(host, "0123456789.") < n || addr[0] == '[') return 1;
    char ip[256];
    unsigned char bin[4];
    memcpy(ip, host, n);
    ip[n] = '\0';
    return inet_pton(AF_INET, ip, bin) == 1;
}

static int load_socket(ctx_t *c, const cJSON *sj, pw_socket_t *s)
{
    static const char *const fields[] = { "name", "address", "service", NULL };
    const char *name = json_str(sj, "name");
    char path[1024];
    if (!name) name = "";
    if (name_too_long(c, "a socket", name, MAX_NAME)) return -1;
    if (!(s->name = strdup(name))) return oom(c);
    snprintf(path, sizeof path, "sockets[\"%s\"]", name);
    const cJSON *proto = union_member(sj, fields);
    if (proto && strcmp(proto->string, "https") == 0) {
        if (load_https(c, name, proto, s) < 0) return -1;
    } else if (proto && strcmp(proto->string, "http") != 0) {
        snprintf(path + strlen(path), sizeof path - strlen(path), ".%s", proto->string);
        return unsupported(c, AT_FIELD(proto->string), AT_STRING(name), NULL, path);
    } else {
        snprintf(path + strlen(path), sizeof path - strlen(path), ".http");
        if (proto && check_http_options(c, proto, NULL, path) < 0) return -1;
    }
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(sj, "service");
    const char *target = json_str(sd, "name");
    char ctx[1024];
    snprintf(ctx, sizeof ctx, "Socket \"%s\"", name);
    if (!target || !service_defined(c, target)) {
        return fail2(c, AT_STRING(target ? target : ""), AT_STRING(name), NULL,
                     "%s refers to a service \"%s\", but no such service is defined.", ctx,
                     target ? target : "");
    }
    snprintf(path, sizeof path, "sockets[\"%s\"].service", name);
    if (check_designator(c, sd, NULL, path) < 0) return -1;
    if (!(s->service = strdup(target))) return oom(c);
    const char *fd = cli_override(c->opts->socket_fds, c->opts->n_socket_fds, name);
    s->listen_fd = fd ? atoi(fd) : -1;
    const char *addr = socket_override(c, name);
    if (!addr) addr = json_str(sj, "address");
    if (fd) return 0;
    if (!addr) {
        return fail(c, AT_STRING(name), NULL, "Socket \"%s\" has no address in the config, so "
                    "must be specified on the command line with `--socket-addr`.", name);
    }
    if (!address_ok(addr)) {
        return fail2(c, AT_STRING(addr), AT_STRING(name), NULL, "Socket \"%s\" has an invalid "
                     "address \"%.300s\"%s (expected host:port, *:port or [v6]:port).", name, addr,
                     socket_override(c, name) ? ", given on the command line" : "");
    }
    s->address = strdup(addr);
    return s->address ? 0 : oom(c);
}

static int check_socket_names(ctx_t *c, const pw_socket_override_t *list, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        int found = 0;
        for (size_t j = 0; j < c->cfg->n_sockets; j++) found |= !strcmp(c->cfg->sockets[j].name, list[k].name);
        if (!found) {
            return fail(c, NO_LOC, NULL, "Config did not define any socket named \"%s\" to match "
                        "the override provided on the command line.", list[k].name);
        }
    }
    return 0;
}

/* -d / -e name services of their kind, as workerd checks. */
static int check_service_overrides(ctx_t *c, const pw_socket_override_t *list, size_t n,
                                   pw_service_kind_t kind, const char *what)
{
    for (size_t k = 0; k < n; k++) {
        const pw_service_t *s = NULL;
        for (size_t j = 0; j < c->cfg->n_services && !s; j++) {
            if (c->cfg->services[j].name && strcmp(c->cfg->services[j].name, list[k].name) == 0) s = &c->cfg->services[j];
        }
        if (!s || s->kind != kind) {
            return fail(c, NO_LOC, NULL, "Config did not define any %s service named \"%s\" to "
                        "match the override provided on the command line.", what, list[k].name);
        }
    }
    return 0;
}

static int load_sockets(ctx_t *c, const cJSON *list)
{
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0, i = 0;
    if (n > 0 && !(c->cfg->sockets = calloc(n, sizeof *c->cfg->sockets))) return oom(c);
    const cJSON *sj;
    cJSON_ArrayForEach(sj, list) {
        c->cfg->n_sockets = i + 1;
        if (load_socket(c, sj, &c->cfg->sockets[i]) < 0) return -1;
        i++;
    }
    if (check_socket_names(c, c->opts->socket_overrides, c->opts->n_socket_overrides) < 0 ||
        check_socket_names(c, c->opts->socket_fds, c->opts->n_socket_fds) < 0) {
        return -1;
    }
    return 0;
}

/* ---- references between services ---------------------------------------------------------- */

static int refers_to_missing(ctx_t *c, const char *svc, const char *what, const char *target)
{
    return fail(c, AT_STRING(target), svc, "%s refers to a service \"%s\", but no such service "
                "is defined.", what, target);
}

/* An R2 bucket is kept on a writable disk service (objects as files, metadata in SQLite). */
static int check_r2_target(ctx_t *c, const pw_service_t *s, const pw_binding_t *b, const pw_service_t *t)
{
    if (t->kind != PW_SERVICE_DISK) {
        return fail(c, AT_STRING(b->name), s->name, "not supported by pyworkerd: "
                    "worker.bindings[\"%s\"].r2Bucket naming service \"%s\", which is not a disk "
                    "service (pyworkerd keeps a bucket in a writable disk service)", b->name, t->name);
    }
    if (!t->disk_writable) {
        return fail(c, AT_STRING(b->name), s->name, "worker.bindings[\"%s\"].r2Bucket names disk "
                    "service \"%s\", which is not writable: add writable = true to it", b->name,
                    t->name);
    }
    return 0;
}

/* A D1 binding's database lives in a writable disk service. */
static int check_d1_disk(ctx_t *c, const pw_service_t *s, const pw_binding_t *b, const pw_service_t *t)
{
    if (t->kind != PW_SERVICE_DISK) {
        return fail2(c, AT_STRING(b->value), AT_STRING(b->name), s->name, "not supported by pyworkerd: "
                     "worker.bindings[\"%s\"].wrapped.innerBindings[0].service naming service \"%s\", "
                     "which is not a disk service (a D1 database is a SQLite file in a writable disk "
                     "service)", b->name, t->name);
    }
    if (!t->disk_writable) {
        return fail2(c, AT_STRING(b->value), AT_STRING(b->name), s->name, "D1 binding \"%s\": disk "
                     "service \"%s\" is not writable (a D1 database is written to: add writable = "
                     "true to its disk)", b->name, t->name);
    }
    return 0;
}

/* A worker's bindings and globalOutbound name services that exist and that pyworkerd can
 * serve them from: KV on a disk service (SQLite) or a worker / external service (workerd's KV
 * HTTP protocol), service bindings to Python workers, fetch() through a network service. */
static int check_worker_references(ctx_t *c, const pw_service_t *s)
{
    char what[1024];
    const pw_worker_t *w = &s->worker;
    if (check_do_storage(c, s) < 0) return -1;
    for (size_t i = 0; i < w->n_bindings; i++) {
        const pw_binding_t *b = &w->bindings[i];
        if (b->kind == PW_BINDING_DURABLE_OBJECT && check_do_binding(c, s, (pw_binding_t *)b) < 0)
            return -1;
        if (b->kind == PW_BINDING_HYPERDRIVE && hyperdrive_value(c, s, (pw_binding_t *)b) < 0)
            return -1;
        if (b->kind != PW_BINDING_KV && b->kind != PW_BINDING_SERVICE &&
            b->kind != PW_BINDING_WORKFLOW && b->kind != PW_BINDING_R2 &&
            b->kind != PW_BINDING_D1) continue;
        snprintf(what, sizeof what, "Worker \"%s\"'s binding \"%s\"", s->name, b->name);
        const pw_service_t *t = pw_config_service(c->cfg, b->value);
        if (!t) return refers_to_missing(c, s->name, what, b->value);
        if (b->kind == PW_BINDING_KV && t->kind == PW_SERVICE_NETWORK) {
            return fail(c, AT_STRING(b->name), s->name, "not supported by pyworkerd: "
                        "worker.bindings[\"%s\"].kvNamespace naming service \"%s\", which is a "
                        "network service (name a disk, worker or external service)", b->name,
                        t->name);
        }
        if (b->kind == PW_BINDING_WORKFLOW && t->kind != PW_SERVICE_WORKER) {
            return fail(c, AT_STRING(b->name), s->name, "not supported by pyworkerd: "
                        "worker.bindings[\"%s\"].wrapped naming service \"%s\", which is not a "
                        "Python worker (a Workflow runs in the worker defining its class)", b->name,
                        t->name);
        }
        if (b->kind == PW_BINDING_R2 && check_r2_target(c, s, b, t) < 0) return -1;
        if (b->kind == PW_BINDING_D1 && check_d1_disk(c, s, b, t) < 0) return -1;
        if (b->kind == PW_BINDING_SERVICE && t->kind != PW_SERVICE_WORKER) {
            return fail(c, AT_STRING(b->name), s->name, "not supported by pyworkerd: "
                        "worker.bindings[\"%s\"].service naming service \"%s\", which is not a "
                        "Python worker", b->name, t->name);
        }
    }
    snprintf(what, sizeof what, "Worker \"%s\"'s globalOutbound", s->name);
    const pw_service_t *t = pw_config_service(c->cfg, w->global_outbound);
    if (!t) return refers_to_missing(c, s->name, what, w->global_outbound);
    if (t->kind != PW_SERVICE_NETWORK) {
        return fail(c, AT_STRING(w->global_outbound), s->name, "not supported by pyworkerd: "
                    "worker.globalOutbound naming service \"%s\", which is not a network service",
                    t->name);
    }
    return 0;
}

/* A service binding to a disk service is answered by the host from its directory
 * (PW_BINDING_DISK); a disk service has no entrypoints. */
static int mark_disk_bindings(ctx_t *c)
{
    for (size_t i = 0; i < c->cfg->n_services; i++) {
        pw_service_t *s = &c->cfg->services[i];
        for (size_t j = 0; s->kind == PW_SERVICE_WORKER && j < s->worker.n_bindings; j++) {
            pw_binding_t *b = &s->worker.bindings[j];
            const pw_service_t *t = b->kind == PW_BINDING_SERVICE ? pw_config_service(c->cfg, b->value)
                                                                   : NULL;
            if (!t || t->kind != PW_SERVICE_DISK) continue;
            if (b->entrypoint) {
                return fail(c, AT_STRING(b->entrypoint), s->name, "Worker \"%s\"'s binding \"%s\" "
                            "refers to service \"%s\" with a named entrypoint \"%s\", but \"%s\" is "
                            "a disk service, so does not have any named entrypoints.", s->name,
                            b->name, t->name, b->entrypoint, t->name);
            }
            b->kind = PW_BINDING_DISK;
        }
    }
    return 0;
}

static int check_references(ctx_t *c)
{
    for (size_t i = 0; i < c->cfg->n_services; i++) {
        const pw_service_t *s = &c->cfg->services[i];
        if (s->kind == PW_SERVICE_WORKER && check_worker_references(c, s) < 0) return -1;
    }
    char msg[1024];
    const char *svc = NULL, *at = NULL;
    if (pw_queue_options_check(c->cfg, msg, sizeof msg, &svc, &at) < 0) {
        return fail(c, AT_STRING(at), svc, "%s", msg);
    }
    return 0;
}

/* ---- the whole config ----------------------------------------------------------------------- */

static int check_top_level(ctx_t *c, const cJSON *root)
{
    static const char *const known[] = { "services", "sockets", "autogates", "logging", NULL };
    /* autogates switch workerd-internal rollouts; none of them changes a Python worker. */
    static const char *const none[] = { NULL };
    if (!cJSON_IsObject(root)) {
        snprintf(c->err, c->err_len, "capnp printed a Config that is not a JSON object.");
        return -1;
    }
    const cJSON *logging = cJSON_GetObjectItemCaseSensitive(root, "logging");
    if (logging && reject_unknown(c, logging, none, NULL, "logging.", NO_LOC) < 0) return -1;
    return reject_unknown(c, root, known, NULL, "", NO_LOC);
}

static int load_json(ctx_t *c, const char *json)
{
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        snprintf(c->err, c->err_len, "Cannot read capnp's JSON output for the config.");
        return -1;
    }
    int rc = check_top_level(c, root);
    if (rc == 0) rc = load_services(c, cJSON_GetObjectItemCaseSensitive(root, "services"));
    if (rc == 0) rc = mark_disk_bindings(c);
    if (rc == 0) rc = check_references(c);
    if (rc == 0) rc = load_sockets(c, cJSON_GetObjectItemCaseSensitive(root, "sockets"));
    if (rc == 0) rc = check_service_overrides(c, c->opts->directory_overrides,
                                              c->opts->n_directory_overrides, PW_SERVICE_DISK, "disk");
    if (rc == 0) rc = check_service_overrides(c, c->opts->external_overrides,
                                              c->opts->n_external_overrides, PW_SERVICE_EXTERNAL,
                                              "external");
    cJSON_Delete(root);
    return rc;
}

/* The absolute directory holding the config file (malloc'ed), or NULL when out of memory. */
static char *config_dir(const char *config_path)
{
    char *copy = strdup(config_path);
    if (!copy) return NULL;
    const char *parent = dirname(copy);
    char *dir = realpath(parent, NULL);
    if (!dir) dir = strdup(parent);     /* realpath failed after capnp read the file: keep it */
    free(copy);
    return dir;
}

/* capnp's JSON holds only text C strings and the isolates can carry: no NUL (cJSON would cut
 * the string there, making "ma\0in" the name "ma"), only UTF-8. */
static int check_json_text(ctx_t *c, const pw_capnp_config_t *ev)
{
    pw_precheck_error_t e;
    if (pw_precheck_json(ev->json, ev->json_len, &e) == 0) return 0;
    int col = 0;
    int line = pw_precheck_find_escape(ev->source, ev->source_len, &e, &col);
    if (line > 0) {
        snprintf(c->err, c->err_len, "%s:%d:%d: %s", c->opts->config_path, line, col, e.msg);
    } else {
        snprintf(c->err, c->err_len, "%s: %s", c->opts->config_path, e.msg);
    }
    return -1;
}

/* The inputs found by the loader move into the config. */
static void take_inputs(pw_config_t *cfg, pw_capnp_config_t *ev)
{
    cfg->inputs = ev->inputs.paths;
    cfg->n_inputs = ev->inputs.n;
    memset(&ev->inputs, 0, sizeof ev->inputs);
}

/* Checks an evaluated config (ev: capnp's JSON, or a translated wrangler project's) and
 * takes what it needs from it; ev is freed. */
static int load_evaluated(const pw_config_options_t *opts, pw_capnp_config_t *ev_in,
                          pw_config_t **out, char *err, size_t err_len);

int pw_config_load(const pw_config_options_t *opts, pw_config_t **out, char *err, size_t err_len)
{
    pw_capnp_config_t ev;
    *out = NULL;
    if (err_len > 0) err[0] = '\0';
    if (pw_capnp_eval_config(opts, &ev, err, err_len) < 0) return -1;
    return load_evaluated(opts, &ev, out, err, err_len);
}

int pw_config_load_json(const pw_config_options_t *opts, const pw_config_json_t *in,
                        pw_config_t **out, char *err, size_t err_len)
{
    pw_capnp_config_t ev = { 0 };
    *out = NULL;
    if (err_len > 0) err[0] = '\0';
    ev.json = malloc(in->json_len + 1);
    ev.source = malloc(in->source_len + 1);
    ev.const_name = strdup("config");
    ev.json_len = in->json_len;
    ev.source_len = in->source_len;
    int rc = ev.json && ev.source && ev.const_name ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < in->n_inputs; i++) {
        char **paths = realloc(ev.inputs.paths, (i + 1) * sizeof *paths);
        if (!paths || !(paths[i] = strdup(in->inputs[i]))) {
            if (paths) ev.inputs.paths = paths;
            rc = -1;
            break;
        }
        ev.inputs.paths = paths;
        ev.inputs.n = ev.inputs.cap = i + 1;
    }
    if (rc < 0) {
        pw_capnp_config_free(&ev);
        snprintf(err, err_len, "out of memory while loading the config");
        return -1;
    }
    memcpy(ev.json, in->json, in->json_len);
    ev.json[in->json_len] = '\0';
    memcpy(ev.source, in->source, in->source_len);
    ev.source[in->source_len] = '\0';
    return load_evaluated(opts, &ev, out, err, err_len);
}

static int load_evaluated(const pw_config_options_t *opts, pw_capnp_config_t *ev_in,
                          pw_config_t **out, char *err, size_t err_len)
{
    pw_capnp_config_t ev = *ev_in;
    ctx_t c = { .opts = opts, .src = ev.source, .src_len = ev.source_len,
                .err = err, .err_len = err_len };
    c.cfg = calloc(1, sizeof *c.cfg);
    int rc = c.cfg ? check_json_text(&c, &ev) : oom(&c);
    if (rc == 0) take_inputs(c.cfg, &ev);
    if (rc == 0) rc = load_json(&c, ev.json);
    if (rc == 0 && !(c.cfg->dir = config_dir(opts->config_path))) rc = oom(&c);
    if (rc == 0 && !(c.cfg->const_name = strdup(ev.const_name ? ev.const_name : ""))) rc = oom(&c);
    pw_capnp_config_free(&ev);
    if (rc < 0) {
        pw_config_free(c.cfg);
        return -1;
    }
    *out = c.cfg;
    return 0;
}

/* ---- lookups and freeing -------------------------------------------------------------------- */

const pw_service_t *pw_config_service(const pw_config_t *config, const char *name)
{
    for (size_t i = 0; config && name && i < config->n_services; i++) {
        if (config->services[i].name && strcmp(config->services[i].name, name) == 0) {
            return &config->services[i];
        }
    }
    return NULL;
}

int pw_worker_has_flag(const pw_worker_t *worker, const char *flag)
{
    for (size_t i = 0; worker && i < worker->n_compat_flags; i++) {
        if (strcmp(worker->compat_flags[i], flag) == 0) return 1;
    }
    return 0;
}

static void free_strs(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
}

static void free_worker(pw_worker_t *w)
{
    for (size_t i = 0; i < w->n_modules; i++) {
        free(w->modules[i].name);
        free(w->modules[i].content);
    }
    free(w->modules);
    free(w->compat_date);
    free_strs(w->compat_flags, w->n_compat_flags);
    for (size_t i = 0; i < w->n_bindings; i++) {
        free(w->bindings[i].name);
        free(w->bindings[i].value);
        free(w->bindings[i].entrypoint);
        free(w->bindings[i].unique_key);
    }
    free(w->bindings);
    for (size_t i = 0; i < w->n_do_namespaces; i++) {
        free(w->do_namespaces[i].class_name);
        free(w->do_namespaces[i].unique_key);
        free(w->do_namespaces[i].where);
    }
    free(w->do_namespaces);
    free(w->do_storage_disk);
    free(w->global_outbound);
    pw_queue_options_free(&w->options);
}

void pw_config_free(pw_config_t *config)
{
    if (!config) return;
    for (size_t i = 0; i < config->n_services; i++) {
        pw_service_t *s = &config->services[i];
        free(s->name);
        free_worker(&s->worker);
        free_strs(s->network_allow, s->n_network_allow);
        free_strs(s->network_deny, s->n_network_deny);
        free(s->network_tls.trusted_pem);
        free(s->external_address);
        free(s->disk_path);
        free(s->assets_html_handling);
        free(s->assets_not_found_handling);
        free(s->assets_worker);
        free_strs(s->assets_worker_first, s->n_assets_worker_first);
    }
    free(config->services);
    for (size_t i = 0; i < config->n_sockets; i++) {
        free(config->sockets[i].name);
        free(config->sockets[i].address);
        free(config->sockets[i].service);
        free(config->sockets[i].tls_certificate_chain);
        free(config->sockets[i].tls_private_key);
    }
    free(config->sockets);
    free_strs(config->inputs, config->n_inputs);
    free(config->dir);
    free(config->const_name);
    free(config);
}
