/* wrangler.c — runs the wrangler translator and loads what it prints (host process; see
 * wrangler.h). The translator is tools/wrangler/translate.py under pyworkerd's root, run as
 * `/usr/bin/python3.11 -S -E -s` (no site packages, no PYTHON* variables: the same program
 * whatever the user's environment), its stdout and stderr read to the end.
 * Invariant: a failed translation leaves nothing behind and its message names the user's file.
 */
#include "config/wrangler.h"

#include "base/buf.h"
#include "base/paths.h"
#include "config/child_output.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define PYTHON "/usr/bin/python3.11"
#define MAX_ARGS (16 + 4 * PW_WRANGLER_MAX_LIST)

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int pw_wrangler_is_file(const char *path)
{
    return path && (ends_with(path, ".toml") || ends_with(path, ".json") || ends_with(path, ".jsonc"));
}

/* ---- the translator's command line ---- */

typedef struct {
    char script[PATH_MAX];
    const char *argv[MAX_ARGS];
    size_t n;
} args_t;

static int args_start(args_t *a, const char *command, char *err, size_t err_len)
{
    char root[PATH_MAX];
    if (pw_paths_root(root, sizeof root) < 0 ||
        snprintf(a->script, sizeof a->script, "%s/tools/wrangler/translate.py", root) >= (int)sizeof a->script ||
        access(a->script, R_OK) < 0) {
        snprintf(err, err_len, "cannot find pyworkerd's wrangler translator "
                 "(tools/wrangler/translate.py; set PYWORKERD_HOME to the pyworkerd tree)");
        return -1;
    }
    a->n = 0;
    const char *head[] = { PYTHON, "-S", "-E", "-s", a->script, command };
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        a->argv[a->n++] = head[i];
    return 0;
}

static void args_add(args_t *a, const char *opt, const char *value)
{
    if (a->n + 3 >= MAX_ARGS)
        return;
    a->argv[a->n++] = opt;
    if (value)
        a->argv[a->n++] = value;
}

static int args_project(args_t *a, const pw_wrangler_options_t *w, const char *command,
                        char *err, size_t err_len)
{
    if (args_start(a, command, err, err_len) < 0)
        return -1;
    for (size_t i = 0; i < w->n_configs; i++)
        args_add(a, "--config", w->configs[i]);
    if (w->env)
        args_add(a, "--env", w->env);
    for (size_t i = 0; i < w->n_vars; i++)
        args_add(a, "--var", w->vars[i]);
    if (w->address)
        args_add(a, "--address", w->address);
    if (w->https)
        args_add(a, "--https", NULL);
    a->argv[a->n] = NULL;
    return 0;
}

/* ---- running it ---- */

/* Runs argv with stdout and stderr inherited; returns its exit status or -1. */
static int run_inherited(args_t *a)
{
    pid_t pid;
    a->argv[a->n] = NULL;
    int rc = posix_spawn(&pid, PYTHON, NULL, NULL, (char *const *)a->argv, environ);
    if (rc != 0) {
        fprintf(stderr, "cannot run %s: %s\n", PYTHON, strerror(rc));
        return -1;
    }
    return pw_child_wait(pid);
}

/* Runs argv, collecting stdout and stderr; returns its exit status or -1. */
static int run_captured(args_t *a, pw_buf_t *out, pw_buf_t *errs)
{
    pw_child_t child;
    int rc = pw_child_start(PYTHON, (char *const *)a->argv, 0, &child);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    pw_child_collect(&child, out, errs, 0, NULL, NULL);     /* a failure kills it */
    return pw_child_wait(child.pid);
}

/* ---- its answer ---- */

static char *dup_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return strdup(cJSON_IsString(v) ? v->valuestring : "");
}

/* The banner's table: "env.NAME (detail)   Kind" lines, the names padded to one width. */
static char *banner_table(const cJSON *rows)
{
    pw_buf_t b = { 0 };
    int width = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        const cJSON *n = cJSON_GetArrayItem(row, 0), *d = cJSON_GetArrayItem(row, 2);
        if (cJSON_IsString(n) && cJSON_IsString(d)) {
            int len = (int)(strlen(n->valuestring) + strlen(d->valuestring)) + 7;
            width = len > width ? len : width;
        }
    }
    cJSON_ArrayForEach(row, rows) {
        const cJSON *n = cJSON_GetArrayItem(row, 0), *k = cJSON_GetArrayItem(row, 1),
                    *d = cJSON_GetArrayItem(row, 2);
        if (!cJSON_IsString(n) || !cJSON_IsString(k) || !cJSON_IsString(d)) continue;
        char left[1024];
        snprintf(left, sizeof left, "env.%s (%s)", n->valuestring, d->valuestring);
        pw_buf_printf(&b, "  %-*s  %-22s local\n", width, left, k->valuestring);
    }
    if (pw_buf_append_text(&b, "", 0) < 0) {
        free(b.data);
        return NULL;
    }
    return (char *)b.data;
}

static int read_text(const char *path, pw_buf_t *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = pw_buf_append_text(out, chunk, n);
    fclose(f);
    return rc < 0 ? -1 : pw_buf_append_text(out, "", 0);
}

/* Loads the translator's JSON answer into *out. */
static int load_answer(const char *text, const pw_config_options_t *base, pw_config_t **out,
                       pw_wrangler_info_t *info, char *err, size_t err_len)
{
    cJSON *root = cJSON_Parse(text);
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(root, "source");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsObject(config) || !cJSON_IsString(source) || !cJSON_IsArray(inputs)) {
        cJSON_Delete(root);
        snprintf(err, err_len, "the wrangler translator printed no config");
        return -1;
    }
    const char *paths[PW_WRANGLER_MAX_LIST * 64];
    size_t n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, inputs)
        if (cJSON_IsString(p) && n < sizeof paths / sizeof paths[0])
            paths[n++] = p->valuestring;
    char *json = cJSON_PrintUnformatted(config);
    pw_buf_t src = { 0 };
    pw_config_options_t opts = *base;
    opts.config_path = source->valuestring;
    int rc = -1;
    if (json && read_text(source->valuestring, &src) == 0) {
        pw_config_json_t in = { json, strlen(json), (const char *)src.data, src.len - 1, paths, n };
        rc = pw_config_load_json(&opts, &in, out, err, err_len);
    } else {
        snprintf(err, err_len, "%s: cannot read: %s", source->valuestring, strerror(errno));
    }
    if (rc == 0 && info) {
        info->name = dup_str(root, "name");
        info->source = strdup(source->valuestring);
        info->bindings = banner_table(cJSON_GetObjectItemCaseSensitive(root, "bindings"));
    }
    free(json);
    free(src.data);
    cJSON_Delete(root);
    return rc;
}

static void trim_newlines(char *s)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n')
        s[--n] = '\0';
}

int pw_wrangler_load(const pw_wrangler_options_t *w, const pw_config_options_t *opts,
                     pw_config_t **out, pw_wrangler_info_t *info, char *err, size_t err_len)
{
    args_t a;
    pw_buf_t text = { 0 }, errs = { 0 };
    *out = NULL;
    if (args_project(&a, w, "load", err, err_len) < 0)
        return -1;
    int status = run_captured(&a, &text, &errs);
    int rc = -1;
    if (status < 0) {
        snprintf(err, err_len, "cannot run %s for the wrangler translator: %s", PYTHON, strerror(errno));
    } else if (status != 0) {
        snprintf(err, err_len, "%s", errs.len ? pw_buf_text(&errs) : "the wrangler translator failed");
        trim_newlines(err);
    } else {
        if (errs.len)
            fputs(pw_buf_text(&errs), stderr);      /* its warnings */
        rc = text.len ? load_answer(pw_buf_text(&text), opts, out, info, err, err_len) : -1;
        if (!text.len)
            snprintf(err, err_len, "the wrangler translator printed nothing");
    }
    free(text.data);
    free(errs.data);
    return rc;
}

void pw_wrangler_info_free(pw_wrangler_info_t *info)
{
    if (!info) return;
    free(info->name);
    free(info->source);
    free(info->bindings);
    memset(info, 0, sizeof *info);
}

int pw_wrangler_print_config(const pw_wrangler_options_t *w)
{
    args_t a;
    char err[512];
    if (args_project(&a, w, "config", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int status = run_inherited(&a);
    return status < 0 ? 1 : status;
}

int pw_wrangler_d1(int argc, char **argv)
{
    args_t a;
    char err[512];
    if (args_start(&a, "d1", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if ((size_t)argc + a.n + 1 > MAX_ARGS) {
        fprintf(stderr, "pyworkerd d1: too many arguments\n");
        return 1;
    }
    for (int i = 0; i < argc; i++)
        args_add(&a, argv[i], NULL);
    int status = run_inherited(&a);
    return status < 0 ? 1 : status;
}

int pw_wrangler_init(const char *name)
{
    args_t a;
    char err[512];
    if (args_start(&a, "init", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    args_add(&a, name, NULL);
    int status = run_inherited(&a);
    return status < 0 ? 1 : status;
}
