/* sources.c — walks the config file and the files it imports before `capnp` runs (host
 * process; see sources.h). Each file's text goes through precheck.c; each `embed` / `import`
 * is resolved the way capnp resolves it (relative to the file, or an absolute path searched in
 * the schema and -I directories, then "/" as the evaluated copy allows) and must be a regular
 * file inside an allowed root: the config's directory, an -I directory, or pyworkerd's schema.
 * Invariant: a file is opened here only after stat() said it is a regular file, so nothing
 * here blocks on a FIFO or reads a device.
 */
#include "config/sources.h"

#include "config/precheck.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ROOTS 66            /* the config's directory, the schema, up to 64 -I */
#define MAX_FILES 256           /* imported files walked */
#define MAX_DEPTH 16            /* imports of imports */

typedef struct {
    const pw_config_options_t *o;
    char *roots[MAX_ROOTS];     /* real paths */
    size_t n_roots;
    char *schema;               /* real path of pyworkerd's schema directory, or NULL */
    pw_config_inputs_t *inputs;
    size_t n_files;
    char *err;
    size_t err_len;
} walk_t;

static int fail_at(walk_t *w, const char *file, int line, int col, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) snprintf(w->err, w->err_len, "%s:%d:%d: %s", file, line, col, msg);
    else snprintf(w->err, w->err_len, "%s: %s", file, msg);
    return -1;
}

static int oom(walk_t *w)
{
    snprintf(w->err, w->err_len, "out of memory while checking the config's files");
    return -1;
}

/* 1 when path is root or below it. */
static int under(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n > 0 && root[n - 1] == '/') n--;           /* "/" itself */
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int inside_roots(const walk_t *w, const char *real)
{
    for (size_t i = 0; i < w->n_roots; i++) {
        if (under(real, w->roots[i])) return 1;
    }
    return 0;
}

/* Adds real to the inputs. Returns 1 when added, 0 when already there, -1 out of memory. */
static int inputs_add(pw_config_inputs_t *in, const char *real)
{
    for (size_t i = 0; i < in->n; i++) {
        if (strcmp(in->paths[i], real) == 0) return 0;
    }
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 8;
        char **p = realloc(in->paths, cap * sizeof *p);
        if (!p) return -1;
        in->paths = p;
        in->cap = cap;
    }
    if (!(in->paths[in->n] = strdup(real))) return -1;
    in->n++;
    return 1;
}

static void add_root(walk_t *w, const char *dir)
{
    char real[PATH_MAX];
    if (w->n_roots < MAX_ROOTS && dir && realpath(dir, real)) {
        w->roots[w->n_roots] = strdup(real);
        if (w->roots[w->n_roots]) w->n_roots++;
    }
}

/* The directory part of path ("." when it has none). */
static void dir_of(const char *path, char *out, size_t len)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(out, len, "%s", dirname(copy));
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Where capnp finds `ref`, named in `file`: 0 with out set, -1 when it exists nowhere (capnp
 * then names the missing file itself). */
static int resolve(const walk_t *w, const char *file, const char *ref, char *out, size_t len)
{
    if (ref[0] != '/') {
        char dir[PATH_MAX];
        dir_of(file, dir, sizeof dir);
        return snprintf(out, len, "%s/%s", dir, ref) < (int)len && exists(out) ? 0 : -1;
    }
    const pw_config_options_t *o = w->o;
    for (size_t i = 0; i <= o->n_import_paths; i++) {
        const char *dir = i == 0 ? o->schema_dir : o->import_paths[i - 1];
        if (dir && snprintf(out, len, "%s%s", dir, ref) < (int)len && exists(out)) return 0;
    }
    return snprintf(out, len, "%s", ref) < (int)len && exists(out) ? 0 : -1;
}

static int visit(walk_t *w, const char *file, const char *src, size_t len, int depth);

/* Reads an imported file (a regular file: checked by the caller) and visits it. */
static int visit_import(walk_t *w, const char *path, int depth)
{
    if (depth > MAX_DEPTH || ++w->n_files > MAX_FILES) return 0;   /* capnp copes with the rest */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);     /* never waits on a FIFO */
    struct stat st;
    FILE *f = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return 0;                                                   /* capnp reports it */
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *bigger = realloc(text, cap = cap ? cap * 2 : 65536);
            if (!bigger) {
                free(text);
                fclose(f);
                return oom(w);
            }
            text = bigger;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        if (n == 0) break;
        len += n;
    }
    fclose(f);
    int rc = visit(w, path, text, len, depth);
    free(text);
    return rc;
}

static int check_ref(walk_t *w, const char *file, const pw_source_ref_t *ref, int depth)
{
    const char *what = ref->kind == PW_REF_EMBED ? "embed" : "import";
    char found[PATH_MAX], real[PATH_MAX];
    struct stat st;
    if (resolve(w, file, ref->path, found, sizeof found) < 0 || !realpath(found, real) ||
        stat(real, &st) < 0) {
        return 0;
    }
    if (!inside_roots(w, real)) {
        return fail_at(w, file, ref->line, ref->col, "%s \"%.300s\" is outside the config's "
                       "directory; embeds and imports must name files inside it (or inside an "
                       "-I directory).", what, ref->path);
    }
    if (S_ISDIR(st.st_mode)) {
        return fail_at(w, file, ref->line, ref->col, "%s \"%.300s\" names a directory, not a "
                       "file.", what, ref->path);
    }
    if (!S_ISREG(st.st_mode)) {
        return fail_at(w, file, ref->line, ref->col, "%s \"%.300s\" is not a regular file (a "
                       "FIFO, socket or device); a config can only read files.", what, ref->path);
    }
    if (w->schema && under(real, w->schema)) return 0;     /* pyworkerd's own, not an input */
    int added = inputs_add(w->inputs, real);
    if (added < 0) return oom(w);
    return added && ref->kind == PW_REF_IMPORT ? visit_import(w, found, depth + 1) : 0;
}

static int visit(walk_t *w, const char *file, const char *src, size_t len, int depth)
{
    pw_source_refs_t refs = { 0 };
    pw_precheck_error_t e;
    int rc = pw_precheck_source(src, len, &refs, &e);
    if (rc == -ENOMEM) {
        rc = oom(w);
    } else if (rc < 0) {
        rc = fail_at(w, file, e.line, e.col, "%s", e.msg);
    }
    for (size_t i = 0; rc == 0 && i < refs.n; i++) rc = check_ref(w, file, &refs.v[i], depth);
    pw_source_refs_free(&refs);
    return rc;
}

int pw_config_sources_check(const pw_config_options_t *o, const char *src, size_t len,
                            pw_config_inputs_t *inputs, char *err, size_t err_len)
{
    walk_t w = { .o = o, .inputs = inputs, .err = err, .err_len = err_len };
    char dir[PATH_MAX], real[PATH_MAX];
    dir_of(o->config_path, dir, sizeof dir);
    add_root(&w, dir);
    add_root(&w, o->schema_dir);
    if (w.n_roots == 2) w.schema = w.roots[1];
    for (size_t i = 0; i < o->n_import_paths; i++) add_root(&w, o->import_paths[i]);
    int rc = 0;
    if (realpath(o->config_path, real) && inputs_add(inputs, real) < 0) rc = oom(&w);
    if (rc == 0) rc = visit(&w, o->config_path, src, len, 0);
    for (size_t i = 0; i < w.n_roots; i++) free(w.roots[i]);
    return rc;
}

void pw_config_inputs_free(pw_config_inputs_t *inputs)
{
    for (size_t i = 0; i < inputs->n; i++) free(inputs->paths[i]);
    free(inputs->paths);
    memset(inputs, 0, sizeof *inputs);
}
