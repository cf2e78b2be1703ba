/* static_dir.h — a disk service's directory as the host serves it (host process; after
 * pw_static_dir_open nothing in it changes, so every event loop may share one).
 *
 * Every path it takes comes from pw_static_path (static_path.h) and is opened with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from the directory's own descriptor: a
 * symlink is followed only while it stays inside (an absolute one never is); without openat2
 * (a kernel before 5.6) each segment is opened with O_NOFOLLOW and no symlink is followed.
 * Functions return 0 (or a descriptor) or -errno, as base/err.h says.
 */
#ifndef PW_STATIC_DIR_H
#define PW_STATIC_DIR_H

#include "base/buf.h"
#include "http/assets_files.h"
#include "http/assets_rules.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct pw_static_dir pw_static_dir_t;

/* Opens the directory of disk service `name` (`path` relative to the working directory, as
 * workerd resolves it). Returns 0, or -1 with workerd's message in err ("Directory named
 * \"x\" not found: path"). */
int pw_static_dir_open(const char *name, const char *path, int writable, int allow_dotfiles,
                       pw_static_dir_t **out, char *err, size_t err_len);
void pw_static_dir_free(pw_static_dir_t *dir);

/* Makes the directory answer as Cloudflare's static assets (wrangler's html_handling and
 * not_found_handling words; NULL: the default). Before the dir is shared. -EINVAL for a word
 * that is none of wrangler's. */
int pw_static_dir_set_assets(pw_static_dir_t *dir, const char *html, const char *not_found,
                             char *const *worker_first, size_t n_worker_first);
/* After pw_static_dir_set_assets: reads the directory's _redirects and _headers
 * (assets_files.h; recheck: read again when they change). 0, or -1 with "file:line: why". */
int pw_static_dir_load_rules_files(pw_static_dir_t *dir, int recheck, char *err, size_t err_len);
/* Those files' rules; NULL when not loaded (a plain disk service). */
pw_assets_files_t *pw_static_dir_rules_files(const pw_static_dir_t *dir);
/* Its assets rules, or NULL for a plain disk service. */
const pw_assets_rules_t *pw_static_dir_assets(const pw_static_dir_t *dir);
/* 1 when run_worker_first sends the decoded `path` to the worker before the assets. */
int pw_static_dir_worker_first(const pw_static_dir_t *dir, const char *path);

const char *pw_static_dir_name(const pw_static_dir_t *dir);
int pw_static_dir_writable(const pw_static_dir_t *dir);
int pw_static_dir_dotfiles(const pw_static_dir_t *dir);

/* Opens `rel` ("" = the directory itself) for reading, without blocking on a FIFO: a
 * descriptor (a file's or a directory's; the caller fstat()s and closes it) or -errno
 * (-EXDEV or -ELOOP for a symlink leading out). */
int pw_static_dir_open_file(const pw_static_dir_t *dir, const char *rel);

/* The JSON listing of an open directory, as workerd's disk service writes it:
 * [{"name":"a.txt","type":"file"},...] sorted by name; dot entries only with allowDotfiles;
 * types file, directory, symlink, blockDevice, characterDevice, namedPipe, socket, other. */
int pw_static_dir_list(const pw_static_dir_t *dir, int dir_fd, pw_buf_t *out);

/* PUT: replaces `rel` (at least one segment) with `data` atomically (a temporary file in the
 * same directory, renamed over it), creating missing parent directories. */
int pw_static_dir_write(const pw_static_dir_t *dir, const char *rel, const uint8_t *data, size_t len);

/* DELETE: removes `rel` (at least one segment): a file or symlink, or a directory with
 * everything in it (symlinks inside are removed, never followed). -ENOENT when absent. */
int pw_static_dir_remove(const pw_static_dir_t *dir, const char *rel);

/* Reads exactly len bytes at offset (a file shorter than that now: -EIO). */
int pw_static_read_at(int fd, void *buf, size_t len, uint64_t offset);

#endif
