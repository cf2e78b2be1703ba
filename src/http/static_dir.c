/* static_dir.c — opening, listing, writing and removing files beneath a disk service's
 * directory (host process; see static_dir.h). The directory is held as an O_PATH descriptor
 * opened once; every later path is resolved from it by the kernel (openat2 RESOLVE_BENEATH),
 * or segment by segment with O_NOFOLLOW where openat2 is missing.
 * Invariant: no path reaches a system call as given except through open_beneath(), or as a
 * single segment (no '/') relative to a descriptor open_beneath() returned.
 */
#include "http/static_dir.h"
#include "base/err.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http/static_path.h"

#define MAX_REMOVE_DEPTH 512

struct pw_static_dir {
    char *name;
    int root;                   /* O_PATH | O_DIRECTORY */
    int writable;
    int allow_dotfiles;
    int assets;                 /* answers as Cloudflare's static assets (static_assets.h) */
    pw_assets_rules_t rules;
    char **worker_first;        /* run_worker_first patterns */
    size_t n_worker_first;
    char *path;                 /* as configured: names the rules files in errors */
    pw_assets_files_t *files;   /* _redirects and _headers; NULL: not loaded */
};

/* Without openat2: every segment opened with O_NOFOLLOW from the last one's directory. */
static int open_segments(int root, const char *rel, int flags, mode_t mode)
{
    char copy[PW_STATIC_PATH_MAX];
    if (strlen(rel) >= sizeof copy)
        return -ENAMETOOLONG;
    strcpy(copy, rel);
    int cur = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    char *seg = copy, *slash;
    while (cur >= 0 && (slash = strchr(seg, '/'))) {
        *slash = '\0';
        int next = openat(cur, seg, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(cur);
        cur = next;
        seg = slash + 1;
    }
    if (cur < 0)
        return -errno;
    int fd = openat(cur, seg[0] ? seg : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
    int saved = errno;
    close(cur);
    return fd >= 0 ? fd : -saved;
}

static int open_beneath(int root, const char *rel, int flags, mode_t mode)
{
    struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .mode = mode,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
    for (int attempt = 0; attempt < 8; attempt++) {
        long fd = syscall(SYS_openat2, root, rel[0] ? rel : ".", &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno == ENOSYS)
            return open_segments(root, rel, flags, mode);
        if (errno != EAGAIN && errno != EINTR)    /* EAGAIN: a rename raced a ".." */
            return -errno;
    }
    return -EAGAIN;
}

int pw_static_dir_open(const char *name, const char *path, int writable, int allow_dotfiles,
                       pw_static_dir_t **out, char *err, size_t err_len)
{
    pw_static_dir_t *dir = calloc(1, sizeof *dir);
    if (!dir || !(dir->name = strdup(name))) {
        free(dir);
        return pw_err_set(err, err_len, "out of memory");
    }
    dir->root = -1;
    if (!(dir->path = strdup(path))) {
        pw_static_dir_free(dir);
        return pw_err_set(err, err_len, "out of memory");
    }
    dir->root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir->root < 0) {
        int saved = errno;
        pw_static_dir_free(dir);
        return pw_err_set(err, err_len, "Directory named \"%s\" not found: %s (%s)", name, path,
                          strerror(saved));
    }
    dir->writable = writable;
    dir->allow_dotfiles = allow_dotfiles;
    *out = dir;
    return 0;
}

int pw_static_dir_set_assets(pw_static_dir_t *dir, const char *html, const char *not_found,
                             char *const *worker_first, size_t n_worker_first)
{
    int h = html ? pw_assets_html_handling(html) : PW_HTML_AUTO_TRAILING_SLASH;
    int nf = not_found ? pw_assets_not_found(not_found) : PW_NOT_FOUND_NONE;
    if (h < 0 || nf < 0)
        return -EINVAL;
    if (n_worker_first && !(dir->worker_first = calloc(n_worker_first, sizeof *dir->worker_first)))
        return -ENOMEM;
    for (; dir->n_worker_first < n_worker_first; dir->n_worker_first++)
        if (!(dir->worker_first[dir->n_worker_first] = strdup(worker_first[dir->n_worker_first])))
            return -ENOMEM;
    dir->assets = 1;
    dir->rules = (pw_assets_rules_t){ (pw_html_handling_t)h, (pw_not_found_t)nf };
    return 0;
}

const pw_assets_rules_t *pw_static_dir_assets(const pw_static_dir_t *dir)
{
    return dir->assets ? &dir->rules : NULL;
}

int pw_static_dir_load_rules_files(pw_static_dir_t *dir, int recheck, char *err, size_t err_len)
{
    return pw_assets_files_load(dir->root, dir->path, dir->rules.html == PW_HTML_NONE, recheck,
                                &dir->files, err, err_len);
}

pw_assets_files_t *pw_static_dir_rules_files(const pw_static_dir_t *dir)
{
    return dir->files;
}

int pw_static_dir_worker_first(const pw_static_dir_t *dir, const char *path)
{
    return pw_assets_worker_first((const char *const *)dir->worker_first, dir->n_worker_first, path);
}

void pw_static_dir_free(pw_static_dir_t *dir)
{
    if (!dir)
        return;
    if (dir->root >= 0)
        close(dir->root);
    for (size_t i = 0; i < dir->n_worker_first; i++)
        free(dir->worker_first[i]);
    free(dir->worker_first);
    pw_assets_files_free(dir->files);
    free(dir->path);
    free(dir->name);
    free(dir);
}

const char *pw_static_dir_name(const pw_static_dir_t *dir)
{
    return dir->name;
}

int pw_static_dir_writable(const pw_static_dir_t *dir)
{
    return dir->writable;
}

int pw_static_dir_dotfiles(const pw_static_dir_t *dir)
{
    return dir->allow_dotfiles;
}

int pw_static_dir_open_file(const pw_static_dir_t *dir, const char *rel)
{
    return open_beneath(dir->root, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
}

int pw_static_read_at(int fd, void *buf, size_t len, uint64_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;            /* the file shrank since its fstat */
        done += (size_t)n;
    }
    return 0;
}

/* ---- listing ---- */

static const char *entry_type(int dir_fd, const struct dirent *e)
{
    unsigned char t = e->d_type;
    struct stat st;
    if (t == DT_UNKNOWN && fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        t = S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK
            : S_ISBLK(st.st_mode) ? DT_BLK : S_ISCHR(st.st_mode) ? DT_CHR
            : S_ISFIFO(st.st_mode) ? DT_FIFO : S_ISSOCK(st.st_mode) ? DT_SOCK : DT_UNKNOWN;
    switch (t) {
    case DT_REG: return "file";
    case DT_DIR: return "directory";
    case DT_LNK: return "symlink";
    case DT_BLK: return "blockDevice";
    case DT_CHR: return "characterDevice";
    case DT_FIFO: return "namedPipe";
    case DT_SOCK: return "socket";
    default: return "other";
    }
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)a, "name")->valuestring,
                  cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)b, "name")->valuestring);
}

/* The entries as cJSON objects, in a malloc'ed array (*n of them), unsorted. */
static int read_entries(const pw_static_dir_t *dir, DIR *d, cJSON ***items, size_t *n)
{
    size_t cap = 0;
    struct dirent *e;
    *items = NULL;
    *n = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            (e->d_name[0] == '.' && !dir->allow_dotfiles))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            cJSON **grown = realloc(*items, cap * sizeof *grown);
            if (!grown)
                return -ENOMEM;
            *items = grown;
        }
        cJSON *item = cJSON_CreateObject();
        if (!item)
            return -ENOMEM;
        (*items)[(*n)++] = item;
        if (!cJSON_AddStringToObject(item, "name", e->d_name) ||
            !cJSON_AddStringToObject(item, "type", entry_type(dirfd(d), e)))
            return -ENOMEM;
    }
    return 0;
}

int pw_static_dir_list(const pw_static_dir_t *dir, int dir_fd, pw_buf_t *out)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return -saved;
    }
    cJSON **items;
    size_t n;
    int rc = read_entries(dir, d, &items, &n);
    closedir(d);
    cJSON *list = rc == 0 ? cJSON_CreateArray() : NULL;
    if (list && n)        /* qsort of a NULL array, even empty, is undefined */
        qsort(items, n, sizeof *items, compare_names);
    for (size_t i = 0; i < n; i++) {
        if (list)
            cJSON_AddItemToArray(list, items[i]);
        else
            cJSON_Delete(items[i]);
    }
    free(items);
    char *text = list ? cJSON_PrintUnformatted(list) : NULL;
    cJSON_Delete(list);
    rc = text ? pw_buf_append(out, text, strlen(text)) : -ENOMEM;
    free(text);
    return rc;
}

/* ---- writing ---- */

/* Splits rel into its parent ("" for the top) and its last segment, in place. */
static const char *split_last(char *rel, const char **parent)
{
    char *slash = strrchr(rel, '/');
    if (!slash) {
        *parent = "";
        return rel;
    }
    *slash = '\0';
    *parent = rel;
    return slash + 1;
}

/* Creates each missing directory of `parent` and opens it (O_PATH): a descriptor or -errno. */
static int make_parents(int root, const char *parent)
{
    char prefix[PW_STATIC_PATH_MAX];
    int cur = open_beneath(root, "", O_PATH | O_DIRECTORY, 0);
    for (const char *p = parent; cur >= 0 && *p;) {
        const char *slash = strchr(p, '/');
        size_t end = slash ? (size_t)(slash - parent) : strlen(parent);
        memcpy(prefix, parent, end);
        prefix[end] = '\0';
        if (mkdirat(cur, prefix + (p - parent), 0777) < 0 && errno != EEXIST) {
            int saved = errno;
            close(cur);
            return -saved;
        }
        close(cur);
        cur = open_beneath(root, prefix, O_PATH | O_DIRECTORY, 0);
        p = slash ? slash + 1 : parent + end;
    }
    return cur;
}

static int write_temp(int dir_fd, char *tmp_name, size_t tmp_len, const uint8_t *data, size_t len)
{
    uint8_t r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return -EIO;
    snprintf(tmp_name, tmp_len, ".pyworkerd-put-%02x%02x%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    int fd = openat(dir_fd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return -errno;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            unlinkat(dir_fd, tmp_name, 0);
            return -saved;
        }
        done += (size_t)n;
    }
    if (close(fd) < 0) {
        int saved = errno;
        unlinkat(dir_fd, tmp_name, 0);
        return -saved;
    }
    return 0;
}

int pw_static_dir_write(const pw_static_dir_t *dir, const char *rel, const uint8_t *data, size_t len)
{
    char copy[PW_STATIC_PATH_MAX], tmp[64];
    const char *parent;
    if (!rel[0] || strlen(rel) >= sizeof copy)
        return -EINVAL;
    strcpy(copy, rel);
    const char *name = split_last(copy, &parent);
    int parent_fd = make_parents(dir->root, parent);
    if (parent_fd < 0)
        return parent_fd;
    int rc = write_temp(parent_fd, tmp, sizeof tmp, data, len);
    if (rc == 0 && renameat(parent_fd, tmp, parent_fd, name) < 0) {
        rc = -errno;
        unlinkat(parent_fd, tmp, 0);
    }
    close(parent_fd);
    return rc;
}

/* ---- removing ---- */

static int remove_tree(int parent_fd, const char *name, int depth);

static int remove_entries(int fd, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        int is_dir = e->d_type == DT_DIR ||
                     (e->d_type == DT_UNKNOWN && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISDIR(st.st_mode));
        if (is_dir)
            rc = remove_tree(dirfd(d), e->d_name, depth + 1);
        else if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
            rc = -errno;
    }
    closedir(d);
    return rc;
}

static int remove_tree(int parent_fd, const char *name, int depth)
{
    if (depth > MAX_REMOVE_DEPTH)
        return -ELOOP;
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = remove_entries(fd, depth);
    if (rc == 0 && unlinkat(parent_fd, name, AT_REMOVEDIR) < 0)
        rc = -errno;
    return rc;
}

int pw_static_dir_remove(const pw_static_dir_t *dir, const char *rel)
{
    char copy[PW_STATIC_PATH_MAX];
    const char *parent;
    struct stat st;
    if (!rel[0] || strlen(rel) >= sizeof copy)
        return -EINVAL;
    strcpy(copy, rel);
    const char *name = split_last(copy, &parent);
    int parent_fd = open_beneath(dir->root, parent, O_PATH | O_DIRECTORY, 0);
    if (parent_fd < 0)
        return parent_fd;
    int rc = 0;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        rc = -errno;
    else if (S_ISDIR(st.st_mode))
        rc = remove_tree(parent_fd, name, 0);
    else if (unlinkat(parent_fd, name, 0) < 0)
        rc = -errno;
    close(parent_fd);
    return rc;
}
