/* r2_blobs.c — the files of R2 object bodies (host process, any thread; see r2_blobs.h).
 * Nothing here is shared between calls but the root's path, fixed at open: concurrent
 * writers and readers each have their own descriptors.
 * Invariant: a name under the root is <2 hex>/<32 hex>[.tmp], and only this file makes one.
 */
#include "storage/r2_blobs.h"
#include "storage/r2_rules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pw_r2_blobs {
    char root[4096];
    int temporary;              /* made by open: removed with everything in it at close */
};

int pw_r2_blobs_open(const char *root, pw_r2_blobs_t **out, char *err, size_t err_len)
{
    pw_r2_blobs_t *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (!root) {
        const char *tmp = getenv("TMPDIR");
        snprintf(b->root, sizeof b->root, "%s/pyworkerd-r2-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        b->temporary = 1;
        if (!mkdtemp(b->root)) {
            snprintf(err, err_len, "cannot create a temporary directory: %s", strerror(errno));
            free(b);
            return -1;
        }
    } else if (snprintf(b->root, sizeof b->root, "%s", root) >= (int)sizeof b->root ||
               (mkdir(b->root, 0700) < 0 && errno != EEXIST)) {
        snprintf(err, err_len, "cannot create %s: %s", root, strerror(errno ? errno : ENAMETOOLONG));
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

/* <root>/<id's first two digits>[/<id><suffix>] */
static void path_of(const pw_r2_blobs_t *b, const char *id, const char *suffix, char *out, size_t len)
{
    if (suffix)
        snprintf(out, len, "%s/%.2s/%s%s", b->root, id, id, suffix);
    else
        snprintf(out, len, "%s/%.2s", b->root, id);
}

int pw_r2_blobs_create(pw_r2_blobs_t *b, char *id)
{
    char dir[4200], path[4200];
    if (pw_r2_random_hex(id, PW_R2_BLOB_ID_LEN / 2) < 0)
        return -EIO;
    path_of(b, id, NULL, dir, sizeof dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    path_of(b, id, ".tmp", path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int pw_r2_blobs_commit(pw_r2_blobs_t *b, int fd, const char *id)
{
    char tmp[4200], path[4200], dir[4200];
    path_of(b, id, ".tmp", tmp, sizeof tmp);
    path_of(b, id, "", path, sizeof path);
    path_of(b, id, NULL, dir, sizeof dir);
    int rc = fsync(fd) < 0 ? -errno : 0;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc == 0)
        rc = fsync_dir(dir);
    if (rc < 0) {
        unlink(tmp);
        unlink(path);
    }
    return rc;
}

void pw_r2_blobs_discard(pw_r2_blobs_t *b, int fd, const char *id)
{
    char tmp[4200];
    path_of(b, id, ".tmp", tmp, sizeof tmp);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
}

int pw_r2_blobs_open_read(pw_r2_blobs_t *b, const char *id)
{
    char path[4200];
    path_of(b, id, "", path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void pw_r2_blobs_remove(pw_r2_blobs_t *b, const char *id)
{
    char path[4200];
    path_of(b, id, "", path, sizeof path);
    unlink(path);
}

/* ---- sweeping ---- */

static int is_blob_name(const char *name, int *tmp)
{
    size_t len = strlen(name);
    *tmp = len == PW_R2_BLOB_ID_LEN + 4 && strcmp(name + PW_R2_BLOB_ID_LEN, ".tmp") == 0;
    if (len != PW_R2_BLOB_ID_LEN && !*tmp)
        return 0;
    for (size_t i = 0; i < PW_R2_BLOB_ID_LEN; i++)
        if (!name[i] || !strchr("0123456789abcdef", name[i]))
            return 0;
    return 1;
}

/* Removes the blob files of one fan-out directory that should go (all of them: everything). */
static void sweep_dir(pw_r2_blobs_t *b, const char *dir, int everything,
                      int (*in_use)(void *arg, const char *id), void *arg)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[8800], id[PW_R2_BLOB_ID_LEN + 1];
    while (d && (e = readdir(d))) {
        int tmp;
        if (!is_blob_name(e->d_name, &tmp))
            continue;
        memcpy(id, e->d_name, PW_R2_BLOB_ID_LEN);
        id[PW_R2_BLOB_ID_LEN] = '\0';
        if (everything || tmp || !in_use(arg, id)) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
}

static void walk(pw_r2_blobs_t *b, int everything, int (*in_use)(void *arg, const char *id), void *arg)
{
    DIR *root = opendir(b->root);
    struct dirent *e;
    char dir[4400];
    while (root && (e = readdir(root))) {
        if (strlen(e->d_name) != 2 || !strchr("0123456789abcdef", e->d_name[0]) ||
            !strchr("0123456789abcdef", e->d_name[1]))
            continue;
        snprintf(dir, sizeof dir, "%s/%s", b->root, e->d_name);
        sweep_dir(b, dir, everything, in_use, arg);
        if (everything)
            rmdir(dir);
    }
    if (root)
        closedir(root);
}

void pw_r2_blobs_sweep(pw_r2_blobs_t *b, int (*in_use)(void *arg, const char *id), void *arg)
{
    walk(b, 0, in_use, arg);
}

void pw_r2_blobs_close(pw_r2_blobs_t *b)
{
    if (!b)
        return;
    if (b->temporary) {
        walk(b, 1, NULL, NULL);
        rmdir(b->root);
    }
    free(b);
}
