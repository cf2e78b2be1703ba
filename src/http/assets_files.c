/* assets_files.c — loading an assets directory's `_redirects` and `_headers` (host process;
 * see assets_files.h). Each file is opened beneath the directory's descriptor without
 * following a symlink, read whole (at most PW_ASSETS_RULES_FILE_MAX bytes) and parsed; what
 * identifies the version read (inode, size, change time) is kept for the recheck.
 * Invariant: the rules in use are replaced only by a version that parsed whole.
 */
#include "http/assets_files.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fd.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REDIRECTS "_redirects"
#define HEADERS "_headers"

typedef struct {
    int present;
    struct stat st;
} version_t;

struct pw_assets_files {
    int root;                   /* the caller's; not closed here */
    char *dir;
    int html_none;
    int recheck;
    pw_redirects_t *redirects;
    pw_header_rules_t *headers;
    version_t redirects_seen, headers_seen;
};

static void version_of(int root, const char *name, version_t *v)
{
    memset(v, 0, sizeof *v);
    v->present = fstatat(root, name, &v->st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int same_version(const version_t *a, const version_t *b)
{
    return a->present == b->present && (!a->present ||
           (a->st.st_ino == b->st.st_ino && a->st.st_size == b->st.st_size &&
            a->st.st_ctim.tv_sec == b->st.st_ctim.tv_sec && a->st.st_ctim.tv_nsec == b->st.st_ctim.tv_nsec &&
            a->st.st_mtim.tv_sec == b->st.st_mtim.tv_sec && a->st.st_mtim.tv_nsec == b->st.st_mtim.tv_nsec));
}

/* The text of dir/name into text (empty when there is no such file). 0, or -1 with err. */
static int read_rules_file(const pw_assets_files_t *f, const char *name, pw_buf_t *text,
                           char *err, size_t err_len)
{
    struct stat st;
    int fd = openat(f->root, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : pw_err_errno(err, err_len, errno, "%s/%s", f->dir, name);
    int rc = fstat(fd, &st) < 0 ? pw_err_errno(err, err_len, errno, "%s/%s", f->dir, name) : 0;
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = pw_err_set(err, err_len, "%s/%s is not a regular file", f->dir, name);
    if (rc == 0 && (uint64_t)st.st_size > PW_ASSETS_RULES_FILE_MAX)
        rc = pw_err_set(err, err_len, "%s/%s is over %u MiB", f->dir, name,
                        PW_ASSETS_RULES_FILE_MAX >> 20);
    if (rc == 0 && pw_fd_read_to_end(fd, text) < 0)
        rc = pw_err_errno(err, err_len, EIO, "%s/%s: reading failed", f->dir, name);
    close(fd);
    return rc;
}

/* Both files read and parsed into *r and *h; 0, or -1 with err (nothing returned). */
static int parse_both(const pw_assets_files_t *f, pw_redirects_t **r, pw_header_rules_t **h,
                      char *err, size_t err_len)
{
    pw_buf_t text = { 0 };
    char file[4200];
    *r = NULL;
    *h = NULL;
    snprintf(file, sizeof file, "%s/%s", f->dir, REDIRECTS);
    int rc = read_rules_file(f, REDIRECTS, &text, err, err_len);
    if (rc == 0 && text.len)
        rc = pw_redirects_parse((const char *)text.data, text.len, file, f->html_none, r, err, err_len);
    text.len = 0;
    snprintf(file, sizeof file, "%s/%s", f->dir, HEADERS);
    if (rc == 0)
        rc = read_rules_file(f, HEADERS, &text, err, err_len);
    if (rc == 0 && text.len)
        rc = pw_header_rules_parse((const char *)text.data, text.len, file, h, err, err_len);
    pw_buf_free(&text);
    if (rc < 0) {
        pw_redirects_free(*r);
        *r = NULL;
    }
    return rc;
}

int pw_assets_files_load(int root, const char *dir, int html_none, int recheck,
                         pw_assets_files_t **out, char *err, size_t err_len)
{
    pw_assets_files_t *f = calloc(1, sizeof *f);
    *out = NULL;
    if (!f || !(f->dir = strdup(dir))) {
        free(f);
        return pw_err_set(err, err_len, "out of memory");
    }
    f->root = root;
    f->html_none = html_none;
    f->recheck = recheck;
    version_of(root, REDIRECTS, &f->redirects_seen);
    version_of(root, HEADERS, &f->headers_seen);
    if (parse_both(f, &f->redirects, &f->headers, err, err_len) < 0) {
        pw_assets_files_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

void pw_assets_files_free(pw_assets_files_t *f)
{
    if (!f)
        return;
    pw_redirects_free(f->redirects);
    pw_header_rules_free(f->headers);
    free(f->dir);
    free(f);
}

void pw_assets_files_refresh(pw_assets_files_t *f)
{
    version_t r, h;
    char err[2048];
    if (!f || !f->recheck)
        return;
    version_of(f->root, REDIRECTS, &r);
    version_of(f->root, HEADERS, &h);
    if (same_version(&r, &f->redirects_seen) && same_version(&h, &f->headers_seen))
        return;
    f->redirects_seen = r;
    f->headers_seen = h;
    pw_redirects_t *redirects;
    pw_header_rules_t *headers;
    if (parse_both(f, &redirects, &headers, err, sizeof err) < 0) {
        pw_log_error("%s; the rules read before stay in use until it is fixed", err);
        return;
    }
    pw_redirects_free(f->redirects);
    pw_header_rules_free(f->headers);
    f->redirects = redirects;
    f->headers = headers;
    pw_log_info("%s: reloaded _redirects (%zu rules) and _headers (%zu rules)", f->dir,
                pw_redirects_count(redirects), pw_header_rules_count(headers));
}

const pw_redirects_t *pw_assets_files_redirects(const pw_assets_files_t *f)
{
    return f ? f->redirects : NULL;
}

const pw_header_rules_t *pw_assets_files_headers(const pw_assets_files_t *f)
{
    return f ? f->headers : NULL;
}

int pw_assets_files_hidden(const char *path)
{
    return path[0] == '/' && path[1] == '_' &&
           (strcmp(path, "/" REDIRECTS) == 0 || strcmp(path, "/" HEADERS) == 0);
}
