/* capnp_eval.c — runs `capnp` on the user's config and returns the chosen Config as JSON
 * (host process, before any isolate exists). See capnp_eval.h for why a rewritten copy of the
 * file is evaluated. Invariant: every message shown to the user names the original file with
 * the original line and column, never the temporary copy.
 */
#include "config/capnp_eval.h"
#include "config/child_output.h"
#include "base/buf.h"
#include "base/fd.h"
#include "base/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_ARGS 80
#define MAX_MSG 300     /* bytes of one capnp message shown (capnp quotes whole names) */

/* ---- running capnp ----------------------------------------------------------------------- */

typedef struct {
    pw_buf_t out, err;
    int status;             /* exit code; 128+signal when killed */
} run_t;

static void run_free(run_t *r)
{
    free(r->out.data);
    free(r->err.data);
    memset(r, 0, sizeof *r);
}

/* capnp is stopped when it makes no progress (no output, no CPU time) for CAPNP_STALL_MS,
 * e.g. blocked reading a FIFO, or after CAPNP_MAX_MS in all. A large embed legitimately
 * takes capnp many seconds of CPU, so the bound is on stalling, not on working. */
#define CAPNP_STALL_MS 5000
#define CAPNP_MAX_MS 600000
#define CAPNP_TICK_MS 250

/* utime + stime of the child from /proc/PID/stat, or -1. */
static long long child_cpu_ticks(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = '\0';
    const char *p = strrchr(text, ')');     /* after "pid (comm)": field 3 is the state */
    unsigned long long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &utime, &stime) != 2) {
        return -1;
    }
    return (long long)(utime + stime);
}

/* capnp's progress: output, or CPU time spent since the last tick. */
typedef struct {
    long long start, progress, cpu;
} watch_t;

/* Stops capnp when it stalled for CAPNP_STALL_MS or ran CAPNP_MAX_MS in all. */
static int capnp_tick(void *arg, pid_t pid, int got_output)
{
    watch_t *w = arg;
    long long now = (long long)pw_clock_ms(), cpu_now = child_cpu_ticks(pid);
    if (got_output || cpu_now != w->cpu)
        w->progress = now;
    w->cpu = cpu_now;
    return now - w->progress > CAPNP_STALL_MS || now - w->start > CAPNP_MAX_MS;
}

/* capnp names files as it was given them or relative to the current directory: compare the
 * files themselves. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* kj warns when PWD names another directory than the real one (a parent that chdir'ed):
 * keep it true for the child. */
static void sync_pwd(void)
{
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd))
        setenv("PWD", cwd, 1);
}

/* Runs argv (argv[0] = "capnp", looked up on PATH) and collects stdout, stderr and status.
 * `config` names the user's file in messages. */
static int run_capnp(char *const argv[], const char *config, run_t *r, char *err, size_t err_len)
{
    sync_pwd();
    memset(r, 0, sizeof *r);
    pw_child_t child;
    int rc = pw_child_start(argv[0], argv, 1, &child);
    if (rc != 0) {
        snprintf(err, err_len, "Cannot run the Cap'n Proto compiler `capnp` (%s). pyworkerd needs "
                 "it on PATH to read .capnp configs (Debian: apt-get install capnproto).",
                 strerror(rc));
        return -1;
    }
    long long now = (long long)pw_clock_ms();
    watch_t w = { now, now, child_cpu_ticks(child.pid) };
    int drained = pw_child_collect(&child, &r->out, &r->err, CAPNP_TICK_MS, capnp_tick, &w);
    int saved = errno;
    if ((r->status = pw_child_wait(child.pid)) < 0) goto sys_error;
    errno = saved;
    if (drained == -2) {
        snprintf(err, err_len, "%s: capnp made no progress for %d seconds while reading the "
                 "config and was stopped (does it embed or import something that never ends, "
                 "such as a FIFO?).", config, CAPNP_STALL_MS / 1000);
        run_free(r);
        return -1;
    }
    if (drained < 0) goto sys_error;
    return 0;

sys_error:
    snprintf(err, err_len, "Cannot run the Cap'n Proto compiler `capnp`: %s", strerror(errno));
    run_free(r);
    return -1;
}

/* ---- capnp's diagnostics ------------------------------------------------------------------ */

/* One line of capnp's stderr: "FILE:LINE:COL[-END[:ENDCOL]]: error: MSG". */
typedef struct {
    char file[1024];
    int line, col, end_line, end_col;   /* end_line == 0: no range */
    int end_has_line;                   /* the range was printed as LINE:COL-ENDLINE:ENDCOL */
    const char *msg;                    /* after "error: " (points into the line) */
    int parsed;
} diag_t;

static int parse_int(const char **p)
{
    int v = 0;
    if (**p < '0' || **p > '9') return -1;
    while (**p >= '0' && **p <= '9') v = v * 10 + (*(*p)++ - '0');
    return v;
}

static void diag_parse(const char *line, diag_t *d)
{
    memset(d, 0, sizeof *d);
    d->msg = line;
    for (const char *c = strchr(line, ':'); c; c = strchr(c + 1, ':')) {
        const char *p = c + 1;
        int ln = parse_int(&p);
        if (ln < 0 || *p != ':') continue;
        p++;
        int col = parse_int(&p);
        if (col < 0) continue;
        int end = 0, end2 = -1;
        if (*p == '-') {
            p++;
            end = parse_int(&p);
            if (end < 0) continue;
            if (*p == ':' && p[1] >= '0' && p[1] <= '9') {
                p++;
                end2 = parse_int(&p);
            }
        }
        if (*p != ':') continue;
        p++;
        while (*p == ' ') p++;
        if (strncmp(p, "error: ", 7) == 0) p += 7;
        size_t flen = (size_t)(c - line);
        if (flen >= sizeof d->file) return;
        memcpy(d->file, line, flen);
        d->file[flen] = '\0';
        d->line = ln;
        d->col = col;
        if (end2 >= 0) {
            d->end_line = end;
            d->end_col = end2;
            d->end_has_line = 1;
        } else if (end > 0) {
            d->end_line = ln;
            d->end_col = end;
        }
        d->msg = p;
        d->parsed = 1;
        return;
    }
}

static int is_missing_id(const diag_t *d)
{
    return d->parsed && strncmp(d->msg, "File does not declare an ID.", 28) == 0;
}

/* Field name that a bare value stands for, when capnp rejected it as the given struct. */
static const char *shorthand_field(const diag_t *d)
{
    static const struct { const char *msg, *field; } shorthands[] = {
        { "Type mismatch; expected ServiceDesignator.", "name" },
        { "Type mismatch; expected DurableObjectNamespaceDesignator.", "className" },
    };
    if (!d->parsed || d->end_line == 0) return NULL;
    for (size_t i = 0; i < sizeof shorthands / sizeof shorthands[0]; i++) {
        if (strcmp(d->msg, shorthands[i].msg) == 0) return shorthands[i].field;
    }
    return NULL;
}

/* ---- the rewritten copy ------------------------------------------------------------------- */

/* Text inserted before original (line, col), in place of the `skip` original bytes there
 * (0: a pure insertion). Lines never change: insertions hold no newline and replace none. */
typedef struct {
    int line, col;
    int len;
    int skip;
    char *text;
} insert_t;

typedef struct {
    const char *path;           /* original, as given */
    char abs_path[4096];        /* the original, absolute: what capnp is given (kj refuses
                                 * "../" above the directory it started in) */
    char *src;
    size_t src_len;
    char tmp_dir[4096];         /* the private directory holding the copy; "" when none */
    char abs_dir[4096];         /* "DIR/" inserted before the copy's relative paths */
    char tmp_path[4096];        /* the copy; "" when none was written */
    insert_t *ins;
    size_t n_ins, cap_ins;
    size_t n_path_ins;          /* of those, absolutize_paths()'s (the copy's own needs) */
    int empty_embeds;           /* `embed "x"` of an empty file, replaced by "" in the copy */
    int paths_done;
    int add_id;
} source_t;

static int add_replace(source_t *s, int line, int col, int skip, const char *text)
{
    if (s->n_ins == s->cap_ins) {
        size_t cap = s->cap_ins ? s->cap_ins * 2 : 16;
        insert_t *ins = realloc(s->ins, cap * sizeof *ins);
        if (!ins) return -1;
        s->ins = ins;
        s->cap_ins = cap;
    }
    char *copy = strdup(text);
    if (!copy) return -1;
    insert_t *i = &s->ins[s->n_ins++];
    i->line = line;
    i->col = col;
    i->text = copy;
    i->len = (int)strlen(copy);
    i->skip = skip;
    return 0;
}

static int add_insert(source_t *s, int line, int col, const char *text)
{
    return add_replace(s, line, col, 0, text);
}

static void free_inserts(source_t *s)
{
    for (size_t i = 0; i < s->n_ins; i++) free(s->ins[i].text);
    free(s->ins);
    s->ins = NULL;
    s->n_ins = s->cap_ins = 0;
}

/* The copy lives in a private temporary directory, so relative `embed "x"` and `import "x"`
 * of the original are made absolute (DIR/ inserted after the quote; capnp then finds them
 * through the import path "/"). Comments and other strings are skipped. */
static int is_path_keyword(const char *src, const char *p, const char *end)
{
    static const char *const words[] = { "embed", "import" };
    if (p > src && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) return 0;
    for (size_t k = 0; k < 2; k++) {
        size_t n = strlen(words[k]);
        if ((size_t)(end - p) > n && strncmp(p, words[k], n) == 0 &&
            !(isalnum((unsigned char)p[n]) || p[n] == '_')) {
            return (int)n;
        }
    }
    return 0;
}

/* Whether `embed "<path>"` (the path's text as written, from `path` for `len` bytes, without
 * escapes) names an empty regular file, relative to `dir` unless absolute. Debian's capnp
 * 0.9.2 crashes (SIGSEGV) embedding an empty file into a Text field; "" means the same. */
static int embeds_empty_file(const char *dir, const char *path, size_t len)
{
    char full[8192];
    if (memchr(path, '\\', len)) return 0;
    int n = snprintf(full, sizeof full, "%s%.*s", path[0] == '/' ? "" : dir, (int)len, path);
    struct stat st;
    return n > 0 && (size_t)n < sizeof full && stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
           st.st_size == 0;
}

static int absolutize_paths(source_t *s, const char *dir)
{
    const char *p = s->src, *end = s->src + s->src_len;
    int line = 1, col = 1, want_path = 0, kw_line = 0, kw_col = 0, kw_embed = 0;
    const char *kw_at = NULL;
    while (p < end) {
        int kw = 0;
        if (*p == '#') {
            while (p < end && *p != '\n') { p++; col++; }
            continue;
        }
        if (*p == '"') {
            const char *open = p;
            int open_col = col;
            for (p++, col++; p < end && *p != '"' && *p != '\n'; p++, col++) {
                if (*p == '\\' && p + 1 < end) { p++; col++; }
            }
            size_t path_len = (size_t)(p - open - 1);
            if (want_path && kw_embed && kw_line == line && p < end && *p == '"' && path_len > 0 &&
                embeds_empty_file(dir, open + 1, path_len)) {
                if (add_replace(s, kw_line, kw_col, (int)(p + 1 - kw_at), "\"\"") < 0) return -1;
                s->empty_embeds++;
            } else if (want_path && open + 1 < end && open[1] != '/' &&
                       add_insert(s, line, open_col + 1, dir) < 0) {
                return -1;
            }
            want_path = 0;
        } else if ((kw = is_path_keyword(s->src, p, end)) > 0) {
            want_path = 1;
            kw_embed = *p == 'e';
            kw_line = line;
            kw_col = col;
            kw_at = p;
            p += kw - 1;
            col += kw - 1;
        } else if (!isspace((unsigned char)*p)) {
            want_path = 0;
        }
        if (p < end && *p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
        p++;
    }
    return 0;
}

static int insert_cmp(const void *a, const void *b)
{
    const insert_t *x = a, *y = b;
    if (x->line != y->line) return x->line - y->line;
    return x->col - y->col;
}

/* Maps a column of the copy back to the original's on `line`. */
static int map_col_upto(const source_t *s, size_t n_ins, int line, int col)
{
    int shift = 0;
    for (size_t i = 0; i < n_ins; i++) {
        const insert_t *in = &s->ins[i];
        if (in->line != line) continue;
        int start = in->col + shift;
        if (col >= start + in->len) {
            shift += in->len - in->skip;
        } else if (col >= start) {
            return in->col;
        } else {
            break;
        }
    }
    return col - shift;
}

static int map_col(const source_t *s, int line, int col)
{
    return map_col_upto(s, s->n_ins, line, col);
}

/* Builds the copy's text: the original plus the insertions, plus an ID when needed. */
static int build_copy(const source_t *s, pw_buf_t *out)
{
    int line = 1, col = 1;
    size_t next = 0;
    for (size_t i = 0; i <= s->src_len; i++) {
        size_t skip = 0;
        while (next < s->n_ins && s->ins[next].line == line && s->ins[next].col == col) {
            if (pw_buf_append_text(out, s->ins[next].text, (size_t)s->ins[next].len) < 0) return -1;
            skip += (size_t)s->ins[next].skip;
            next++;
        }
        if (skip) {             /* replaced bytes: on this line (they hold no newline) */
            i += skip - 1;
            col += (int)skip;
            continue;
        }
        while (next < s->n_ins && (s->ins[next].line < line ||
                                   (s->ins[next].line == line && s->ins[next].col < col))) {
            next++;     /* past the end of its line: cannot happen with capnp's positions */
        }
        if (i == s->src_len) break;
        if (pw_buf_append_text(out, &s->src[i], 1) < 0) return -1;
        if (s->src[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (s->add_id) {
        /* A random ID, as `capnp id` would make: the high bit set. */
        unsigned long long id = ((unsigned long long)getpid() << 32) ^ (unsigned long long)time(NULL)
                                ^ (unsigned long long)(size_t)s ^ 0x9e3779b97f4a7c15ull;
        id |= 1ull << 63;
        if (pw_buf_printf(out, "\n@0x%016llx;\n", id) < 0) return -1;
    }
    return 0;
}

/* "DIR/" of the original file, absolute, for absolutize_paths(). */
static int original_dir(const source_t *s, char *out, size_t out_len)
{
    char *real = realpath(s->path, NULL);
    if (!real) return -1;
    char *slash = strrchr(real, '/');
    slash[1] = '\0';
    int n = snprintf(out, out_len, "%s", real);
    free(real);
    return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

/* Makes the private directory and names the copy in it after the original. */
static int make_copy_path(source_t *s, char *err, size_t err_len)
{
    const char *tmpdir = getenv("TMPDIR");
    const char *slash = strrchr(s->path, '/');
    const char *base = slash ? slash + 1 : s->path;
    int n = snprintf(s->tmp_dir, sizeof s->tmp_dir, "%s/pyworkerd-config-XXXXXX",
                     tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (n < 0 || (size_t)n >= sizeof s->tmp_dir || !mkdtemp(s->tmp_dir)) {
        snprintf(err, err_len, "%s: cannot make a temporary directory for a copy of the config "
                 "(needed to evaluate it with capnp): %s", s->path, strerror(errno));
        s->tmp_dir[0] = '\0';
        return -1;
    }
    n = snprintf(s->tmp_path, sizeof s->tmp_path, "%s/%s", s->tmp_dir, base);
    if (n < 0 || (size_t)n >= sizeof s->tmp_path) {
        snprintf(err, err_len, "%s: path too long", s->path);
        s->tmp_path[0] = '\0';
        return -1;
    }
    return 0;
}

/* The copy's own changes: relative paths made absolute, empty embeds replaced. Once. */
static int prepare_paths(source_t *s, char *err, size_t err_len)
{
    if (s->paths_done) return 0;
    if (original_dir(s, s->abs_dir, sizeof s->abs_dir) < 0) {
        snprintf(err, err_len, "%s: cannot resolve its directory: %s", s->path, strerror(errno));
        return -1;
    }
    if (absolutize_paths(s, s->abs_dir) < 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    s->n_path_ins = s->n_ins;
    s->paths_done = 1;
    return 0;
}

static int write_copy(source_t *s, char *err, size_t err_len)
{
    if (prepare_paths(s, err, err_len) < 0) return -1;
    if (s->n_ins > 0) qsort(s->ins, s->n_ins, sizeof *s->ins, insert_cmp);
    if (s->tmp_path[0])
        unlink(s->tmp_path);    /* written again, with more fixes, in the same directory */
    else if (make_copy_path(s, err, err_len) < 0)
        return -1;
    pw_buf_t text = { 0 };
    if (build_copy(s, &text) < 0) {
        free(text.data);
        snprintf(err, err_len, "out of memory");
        s->tmp_path[0] = '\0';
        return -1;
    }
    int fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "%s: cannot write a temporary copy of the config "
                 "(needed to evaluate it with capnp): %s", s->path, strerror(errno));
        s->tmp_path[0] = '\0';
        free(text.data);
        return -1;
    }
    int rc = pw_fd_write_all(fd, pw_buf_text(&text), text.len);
    int saved = errno;
    free(text.data);
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc < 0) {
        snprintf(err, err_len, "%s: cannot write a temporary copy of the config: %s",
                 s->path, strerror(saved));
        unlink(s->tmp_path);
        s->tmp_path[0] = '\0';
        return -1;
    }
    return 0;
}

static const char *eval_path(const source_t *s)
{
    return s->tmp_path[0] ? s->tmp_path : s->abs_path;
}

/* ---- reporting ---------------------------------------------------------------------------- */

/* capnp's message, with the directory the copy's paths gained taken out again. */
static void append_msg(pw_buf_t *out, const char *msg, const char *added_dir)
{
    size_t n = strlen(added_dir);
    const char *hit;
    while (n > 0 && (hit = strstr(msg, added_dir)) != NULL) {
        pw_buf_append_text(out, msg, (size_t)(hit - msg));
        msg = hit + n;
    }
    pw_buf_append_text(out, msg, strlen(msg));
}

static void append_diag(pw_buf_t *out, const source_t *s, const diag_t *d, const char *raw_line)
{
    if (out->len > 0) pw_buf_append_text(out, "\n", 1);
    if (!d->parsed) {
        pw_buf_append_text(out, raw_line, strlen(raw_line));
        return;
    }
    int ours = s->tmp_path[0] && same_file(d->file, s->tmp_path);
    const char *file = ours || strcmp(d->file, s->abs_path) == 0 ? s->path : d->file;
    int col = ours ? map_col(s, d->line, d->col) : d->col;
    pw_buf_printf(out, "%s:%d:%d", file, d->line, col);
    if (d->end_line) {
        int end_col = ours ? map_col(s, d->end_line, d->end_col) : d->end_col;
        if (d->end_has_line) {
            pw_buf_printf(out, "-%d:%d", d->end_line, end_col);
        } else {
            pw_buf_printf(out, "-%d", end_col);
        }
    }
    pw_buf_printf(out, ": ");
    char msg[MAX_MSG + 8];
    snprintf(msg, sizeof msg, "%s", d->msg);
    if (strlen(d->msg) > MAX_MSG) strcpy(msg + MAX_MSG, "...");
    append_msg(out, msg, ours ? s->abs_dir : "");
    if (!ours && shorthand_field(d)) {
        pw_buf_printf(out, " (pyworkerd reads a bare string as (%s = \"...\") only in the main "
                   "config file; write it out in full here)", shorthand_field(d));
    }
}

/* capnp's own crash report (kj): "*** Uncaught exception ***" or "*** Received signal #11:
 * Segmentation fault", "kj/FILE.c++:LINE: failed: MSG" and "stack: ADDRS". */
typedef struct {
    char what[256];         /* the failure or the signal, "" when capnp did not crash */
} crash_t;

static int crash_line(const char *line, crash_t *c)
{
    static const char signal_mark[] = "*** Received signal #";
    if (strncmp(line, signal_mark, sizeof signal_mark - 1) == 0) {
        const char *name = strstr(line, ": ");
        snprintf(c->what, sizeof c->what, "crashed (%.200s)", name ? name + 2 : line + 4);
        return 1;
    }
    if (strncmp(line, "*** ", 4) == 0 || strncmp(line, "stack: ", 7) == 0) return 1;
    const char *failed = strncmp(line, "kj/", 3) == 0 ? strstr(line, ": failed: ") : NULL;
    if (failed) {
        if (!c->what[0]) snprintf(c->what, sizeof c->what, "failed: %.200s", failed + 10);
        return 1;
    }
    return 0;
}

/* Collects capnp's stderr as the user's error, dropping the tolerated "no ID" messages and
 * capnp's own "Try 'capnp eval --help'" hints; a crash of capnp's becomes one line. Returns
 * the number of real errors. */
static int collect_errors(const source_t *s, const char *stderr_text, pw_buf_t *out)
{
    int n = 0;
    crash_t crash = { "" };
    const char *p = stderr_text ? stderr_text : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len);
        if (!line) return n + 1;
        diag_t d;
        diag_parse(line, &d);
        if (len > 0 && !d.parsed && crash_line(line, &crash)) {
            /* reported once, below */
        } else if (len > 0 && !is_missing_id(&d) && strncmp(line, "Try 'capnp", 10) != 0) {
            append_diag(out, s, &d, line);
            n++;
        }
        free(line);
        p += len + (nl ? 1 : 0);
    }
    if (crash.what[0]) {
        if (out->len > 0) pw_buf_append_text(out, "\n", 1);
        pw_buf_printf(out, "%s: the Cap'n Proto compiler %s while reading the config.", s->path,
                   crash.what);
        n++;
    }
    return n;
}

static int report(const source_t *s, const run_t *r, const char *what, char *err, size_t err_len)
{
    pw_buf_t out = { 0 };
    int n = collect_errors(s, (const char *)r->err.data, &out);
    if (n == 0 && r->status > 128) {
        pw_buf_printf(&out, "%s: the Cap'n Proto compiler crashed (signal %d) while reading the "
                   "config.", s->path, r->status - 128);
        n = 1;
    }
    if (n == 0) {
        if (r->status == 0 || !what) {
            free(out.data);
            return 0;
        }
        pw_buf_printf(&out, "capnp %s failed (exit status %d) without a message.", what, r->status);
    }
    snprintf(err, err_len, "%s", out.data ? pw_buf_text(&out) : "capnp failed");
    free(out.data);
    return -1;
}

/* ---- the two capnp commands --------------------------------------------------------------- */

typedef struct {
    char *args[MAX_ARGS];
    int n;
    char *owned[MAX_ARGS];
    int n_owned;
} argv_t;

static int argv_push(argv_t *a, const char *s)
{
    if (a->n + 1 >= MAX_ARGS) return -1;
    a->args[a->n++] = (char *)s;
    a->args[a->n] = NULL;
    return 0;
}

static int argv_push_import(argv_t *a, const char *dir)
{
    if (a->n_owned >= MAX_ARGS) return -1;
    char *s = malloc(strlen(dir) + 3);
    if (!s) return -1;
    sprintf(s, "-I%s", dir);
    a->owned[a->n_owned++] = s;
    return argv_push(a, s);
}

static void argv_free(argv_t *a)
{
    for (int i = 0; i < a->n_owned; i++) free(a->owned[i]);
}

/* The copy's absolute embeds and imports are found through "/", searched last. */
static int capnp_argv(const pw_config_options_t *o, argv_t *a, const char *cmd, int is_copy)
{
    memset(a, 0, sizeof *a);
    if (argv_push(a, "capnp") < 0 || argv_push(a, cmd) < 0) return -1;
    if (argv_push_import(a, o->schema_dir) < 0) return -1;
    for (size_t i = 0; i < o->n_import_paths; i++) {
        if (argv_push_import(a, o->import_paths[i]) < 0) return -1;
    }
    return is_copy ? argv_push(a, "-I/") : 0;
}

static int run_compile(const pw_config_options_t *o, const char *path, int is_copy, run_t *r,
                       char *err, size_t err_len)
{
    argv_t a;
    int rc = -1;
    if (capnp_argv(o, &a, "compile", is_copy) < 0 || argv_push(&a, "-ocapnp") < 0 ||
        argv_push(&a, path) < 0) {
        snprintf(err, err_len, "Too many import paths.");
    } else {
        rc = run_capnp(a.args, o->config_path, r, err, err_len);
    }
    argv_free(&a);
    return rc;
}

static int run_eval(const pw_config_options_t *o, const char *path, int is_copy, const char *name,
                    run_t *r, char *err, size_t err_len)
{
    argv_t a;
    int rc = -1;
    if (capnp_argv(o, &a, "eval", is_copy) < 0 || argv_push(&a, "-ojson") < 0 ||
        argv_push(&a, "--short") < 0 || argv_push(&a, path) < 0 || argv_push(&a, name) < 0) {
        snprintf(err, err_len, "Too many import paths.");
    } else {
        rc = run_capnp(a.args, o->config_path, r, err, err_len);
    }
    argv_free(&a);
    return rc;
}

/* ---- choosing the constant ---------------------------------------------------------------- */

/* A declaration of the file, from `capnp compile -ocapnp`'s listing. */
typedef struct {
    char name[512];     /* qualified: "config", "Outer.inner" */
    int is_const;
    int is_config;      /* a const of pyworkerd's (workerd's) Config type */
} decl_t;

typedef struct {
    decl_t *v;
    size_t n, cap;
} decls_t;

static int is_config_type(const char *type, size_t len)
{
    /* capnpc-capnp prints an imported type as: import "/workerd/workerd.capnp".Config */
    static const char suffix[] = "workerd.capnp\".Config";
    size_t sl = sizeof suffix - 1;
    return len >= sl + 8 && strncmp(type, "import \"", 8) == 0 &&
           strncmp(type + len - sl, suffix, sl) == 0;
}

static int decls_add(decls_t *d, const char *scope, const char *name, size_t name_len,
                     int is_const, int is_config)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        decl_t *v = realloc(d->v, cap * sizeof *v);
        if (!v) return -1;
        d->v = v;
        d->cap = cap;
    }
    decl_t *x = &d->v[d->n++];
    snprintf(x->name, sizeof x->name, "%s%s%.*s", scope, scope[0] ? "." : "", (int)name_len, name);
    x->is_const = is_const;
    x->is_config = is_config;
    return 0;
}

/* Parses one listing line: `<indent>const NAME @0x… :TYPE = …;` or
 * `<indent>struct|enum|interface|annotation NAME @0x…`. */
static int parse_listing_line(const char *line, size_t len, char scopes[][512], decls_t *d)
{
    size_t indent = 0;
    while (indent < len && line[indent] == ' ') indent++;
    size_t level = indent / 2;
    if (level >= 16) return 0;
    static const char *kinds[] = { "const ", "struct ", "enum ", "interface ", "annotation " };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t kl = strlen(kinds[k]);
        if (len - indent < kl || strncmp(line + indent, kinds[k], kl) != 0) continue;
        const char *name = line + indent + kl;
        const char *end = name;
        while (end < line + len && *end != ' ' && *end != '(') end++;
        const char *at = strstr(end, " @0x");
        if (!at || at >= line + len || end == name) return 0;
        char scope[512] = "";
        for (size_t i = 0, sl = 0; i < level; i++) {
            size_t part = strlen(scopes[i]);
            if (sl + part + 2 > sizeof scope) break;
            if (sl) scope[sl++] = '.';
            memcpy(scope + sl, scopes[i], part + 1);
            sl += part;
        }
        int is_config = 0;
        if (k == 0) {
            const char *type = strstr(at, " :");
            const char *eq = type ? strstr(type, " = ") : NULL;
            if (type && eq && eq < line + len) is_config = is_config_type(type + 2, (size_t)(eq - type - 2));
        } else {
            snprintf(scopes[level], 512, "%.*s", (int)(end - name), name);
        }
        return decls_add(d, scope, name, (size_t)(end - name), k == 0, is_config);
    }
    return 0;
}

static int parse_listing(const char *text, decls_t *d)
{
    char scopes[16][512];
    const char *p = text ? text : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (parse_listing_line(p, len, scopes, d) < 0) return -1;
        p += len + (nl ? 1 : 0);
    }
    return 0;
}

static const decl_t *decls_find(const decls_t *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->v[i].name, name) == 0) return &d->v[i];
    }
    return NULL;
}

static int choose_named(const decls_t *d, const char *name, char **out, char *err, size_t err_len)
{
    const decl_t *x = decls_find(d, name);
    const char *dot = strrchr(name, '.');
    if (!x && dot) {
        char parent[512];
        snprintf(parent, sizeof parent, "%.*s", (int)(dot - name), name);
        if (!decls_find(d, parent)) {
            const char *first_dot = strchr(name, '.');
            snprintf(err, err_len, "%s: No such constant is defined in the config file (the parent "
                     "scope '%.*s' does not exist).", name, (int)(first_dot - name), name);
            return -1;
        }
    }
    if (!x) {
        snprintf(err, err_len, "%s: No such constant is defined in the config file.", name);
        return -1;
    }
    if (!x->is_const) {
        snprintf(err, err_len, "%s: Symbol is not a constant.", name);
        return -1;
    }
    if (!x->is_config) {
        snprintf(err, err_len, "%s: Constant is not of type 'Config'.", name);
        return -1;
    }
    *out = strdup(name);
    return *out ? 0 : -1;
}

static int choose_default(const decls_t *d, char **out, char *err, size_t err_len)
{
    size_t n = 0;
    const decl_t *only = NULL;
    for (size_t i = 0; i < d->n; i++) {
        if (d->v[i].is_config && !strchr(d->v[i].name, '.')) {
            n++;
            only = &d->v[i];
        }
    }
    if (n == 0) {
        snprintf(err, err_len,
                 "The config file does not define any top-level constants of type 'Config'.");
        return -1;
    }
    if (n > 1) {
        pw_buf_t names = { 0 };
        for (size_t i = 0; i < d->n; i++) {
            if (d->v[i].is_config && !strchr(d->v[i].name, '.')) {
                pw_buf_printf(&names, "%s%s", names.len ? ", " : "", d->v[i].name);
            }
        }
        snprintf(err, err_len, "The config file defines multiple top-level constants of type "
                 "'Config', so you must specify which one to use. The options are: %s",
                 pw_buf_text(&names));
        free(names.data);
        return -1;
    }
    *out = strdup(only->name);
    return *out ? 0 : -1;
}

/* Fallback when capnp cannot list the constants (it refuses to when an imported file has no
 * ID): top-level `const NAME :TYPE` and `struct|enum|interface NAME` of the source text, with
 * Config recognised by the type's last component. */
static int scan_source(const source_t *s, decls_t *d)
{
    const char *p = s->src, *end = s->src + s->src_len;
    int depth = 0;
    while (p < end) {
        if (*p == '#') {
            while (p < end && *p != '\n') p++;
        } else if (*p == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\' && p + 1 < end) p++;
            }
            p++;
        } else if (*p == '(' || *p == '[' || *p == '{') {
            depth++;
            p++;
        } else if (*p == ')' || *p == ']' || *p == '}') {
            depth--;
            p++;
        } else if (depth == 0 && (p == s->src || !isalnum((unsigned char)p[-1]))) {
            static const char *kinds[] = { "const", "struct", "enum", "interface" };
            size_t k, kl = 0;
            for (k = 0; k < 4; k++) {
                kl = strlen(kinds[k]);
                if ((size_t)(end - p) > kl && strncmp(p, kinds[k], kl) == 0 && isspace((unsigned char)p[kl])) break;
            }
            if (k == 4) {
                p++;
                continue;
            }
            const char *name = p + kl;
            while (name < end && isspace((unsigned char)*name)) name++;
            const char *ne = name;
            while (ne < end && (isalnum((unsigned char)*ne) || *ne == '_')) ne++;
            int is_config = 0;
            if (k == 0) {
                const char *t = ne;
                while (t < end && (isspace((unsigned char)*t) || *t == ':')) t++;
                const char *te = t;
                while (te < end && (isalnum((unsigned char)*te) || *te == '_' || *te == '.')) te++;
                is_config = te - t >= 6 && strncmp(te - 6, "Config", 6) == 0 &&
                            (te - t == 6 || te[-7] == '.');
            }
            if (ne > name && decls_add(d, "", name, (size_t)(ne - name), k == 0, is_config) < 0) {
                return -1;
            }
            p = ne;
        } else {
            p++;
        }
    }
    return 0;
}

/* ---- the whole evaluation ----------------------------------------------------------------- */

static int read_file(const char *path, char **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    pw_buf_t b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (pw_buf_append_text(&b, chunk, n) < 0) {
            fclose(f);
            free(b.data);
            return -1;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b.data);
        return -1;
    }
    if (!b.data && pw_buf_append_text(&b, "", 0) < 0) return -1;
    *out = (char *)b.data;
    *out_len = b.len;
    return 0;
}

/* path made absolute, lexically (capnp resolves "../" lexically too). */
static int absolute_path(const char *path, char *out, size_t len)
{
    char cwd[PATH_MAX];
    if (path[0] == '/') return snprintf(out, len, "%s", path) < (int)len ? 0 : -1;
    if (!getcwd(cwd, sizeof cwd)) return -1;
    return snprintf(out, len, "%s/%s", cwd, path) < (int)len ? 0 : -1;
}

static int check_inputs(const pw_config_options_t *o, char *err, size_t err_len)
{
    struct stat st;
    if (!o->config_path || stat(o->config_path, &st) < 0) {
        snprintf(err, err_len, "%s: No such file.", o->config_path ? o->config_path : "(none)");
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: Config path is not a file.", o->config_path);
        return -1;
    }
    for (size_t i = 0; i < o->n_import_paths; i++) {
        if (stat(o->import_paths[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, err_len, "%s: No such directory.", o->import_paths[i]);
            return -1;
        }
    }
    char schema[4096];
    snprintf(schema, sizeof schema, "%s/workerd/workerd.capnp", o->schema_dir ? o->schema_dir : ".");
    if (!o->schema_dir || stat(schema, &st) < 0) {
        snprintf(err, err_len, "pyworkerd's config schema is missing: %s (reinstall pyworkerd or "
                 "set PYWORKERD_HOME).", schema);
        return -1;
    }
    return 0;
}

/* Decides from the first compile which fixes the copy needs. Returns 1 when a copy is needed. */
static int plan_copy(source_t *s, const run_t *r)
{
    const char *p = pw_buf_text(&r->err);
    size_t n_before = s->n_ins;     /* sorted: what the compiled copy, if any, was built with */
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len);
        if (!line) return -1;
        diag_t d;
        diag_parse(line, &d);
        int of_copy = d.parsed && s->tmp_path[0] && same_file(d.file, s->tmp_path);
        if (of_copy) {          /* the copy was compiled first (empty embeds): its columns */
            d.col = map_col_upto(s, n_before, d.line, d.col);
            if (d.end_line)
                d.end_col = map_col_upto(s, n_before, d.end_line, d.end_col);
        }
        if (d.parsed && (of_copy || same_file(d.file, s->path))) {
            const char *field = shorthand_field(&d);
            if (is_missing_id(&d)) {
                s->add_id = 1;
            } else if (field) {
                char open[24];
                snprintf(open, sizeof open, "(%s = ", field);
                if (add_insert(s, d.line, d.col, open) < 0 ||
                    add_insert(s, d.end_line, d.end_col, ")") < 0) {
                    free(line);
                    return -1;
                }
            }
        }
        free(line);
        p += len + (nl ? 1 : 0);
    }
    return s->add_id || s->n_ins > s->n_path_ins;
}

/* Runs the compile (on the original, then on a fixed copy if needed) that lists constants. */
static int list_constants(const pw_config_options_t *o, source_t *s, decls_t *decls,
                          char *err, size_t err_len)
{
    run_t r;
    if (prepare_paths(s, err, err_len) < 0) return -1;
    if (s->empty_embeds) {      /* the original would crash capnp: the copy from the start */
        if (write_copy(s, err, err_len) < 0) return -1;
        if (run_compile(o, s->tmp_path, 1, &r, err, err_len) < 0) return -1;
    } else if (run_compile(o, s->abs_path, 0, &r, err, err_len) < 0) {
        return -1;
    }
    int need = plan_copy(s, &r);
    if (need < 0) {
        run_free(&r);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (need) {
        run_free(&r);
        if (write_copy(s, err, err_len) < 0) return -1;
        if (run_compile(o, s->tmp_path, 1, &r, err, err_len) < 0) return -1;
    }
    int rc = report(s, &r, r.out.len > 0 ? "compile" : NULL, err, err_len);
    if (rc == 0 && r.out.len == 0) {
        rc = scan_source(s, decls);     /* only "no ID" complaints about imported files */
        if (rc < 0) snprintf(err, err_len, "out of memory");
    } else if (rc == 0 && parse_listing((const char *)r.out.data, decls) < 0) {
        snprintf(err, err_len, "out of memory");
        rc = -1;
    }
    run_free(&r);
    return rc;
}

int pw_capnp_eval_config(const pw_config_options_t *o, pw_capnp_config_t *out,
                         char *err, size_t err_len)
{
    source_t s = { .path = o->config_path };
    decls_t decls = { 0 };
    run_t r = { 0 };
    char *name = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (check_inputs(o, err, err_len) < 0) return -1;
    if (read_file(o->config_path, &s.src, &s.src_len) < 0) {
        snprintf(err, err_len, "%s: cannot read: %s", o->config_path, strerror(errno));
        return -1;
    }
    if (absolute_path(o->config_path, s.abs_path, sizeof s.abs_path) < 0) {
        snprintf(err, err_len, "%s: path too long", o->config_path);
        goto done;
    }
    if (pw_config_sources_check(o, s.src, s.src_len, &out->inputs, err, err_len) < 0) goto done;
    if (list_constants(o, &s, &decls, err, err_len) < 0) goto done;
    if (o->const_name ? choose_named(&decls, o->const_name, &name, err, err_len)
                      : choose_default(&decls, &name, err, err_len)) {
        goto done;
    }
    if (run_eval(o, eval_path(&s), s.tmp_path[0] != '\0', name, &r, err, err_len) < 0) goto done;
    if (report(&s, &r, NULL, err, err_len) < 0) goto done;
    if (!r.out.data || r.out.len == 0) {
        snprintf(err, err_len, "capnp eval printed nothing for '%s' (exit status %d).", name,
                 r.status);
        goto done;
    }
    out->json = (char *)r.out.data;
    out->json_len = r.out.len;
    r.out.data = NULL;
    out->source = s.src;
    out->source_len = s.src_len;
    s.src = NULL;
    out->const_name = name;
    name = NULL;
    rc = 0;
done:
    if (rc < 0) pw_config_inputs_free(&out->inputs);
    if (s.tmp_path[0]) unlink(s.tmp_path);
    if (s.tmp_dir[0]) rmdir(s.tmp_dir);
    run_free(&r);
    free(s.src);
    free_inserts(&s);
    free(decls.v);
    free(name);
    return rc;
}

void pw_capnp_config_free(pw_capnp_config_t *c)
{
    if (!c) return;
    free(c->json);
    free(c->source);
    free(c->const_name);
    pw_config_inputs_free(&c->inputs);
    memset(c, 0, sizeof *c);
}
