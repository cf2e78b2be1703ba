/* r2_blobs.h — the files holding R2 object bodies (host process, any thread): a directory
 * of blobs named by random hex ids, fanned out by their first two digits
 * (<root>/ab/abcdef...). A blob is written as <id>.tmp, fsync'd and renamed to <id>, so a
 * blob without the suffix is always whole; what a crash leaves (.tmp files, blobs no
 * metadata refers to) is removed by pw_r2_blobs_sweep() at the next start.
 * Invariant: ids are the only names; nothing a client sends is ever part of a path.
 */
#ifndef PW_R2_BLOBS_H
#define PW_R2_BLOBS_H

#include <stddef.h>

#define PW_R2_BLOB_ID_LEN 32            /* hex digits */

typedef struct pw_r2_blobs pw_r2_blobs_t;

/* The blobs under `root` (created), or in a new private temporary directory when root is
 * NULL (removed with its blobs by pw_r2_blobs_close). Returns 0, or -1 with why in err. */
int pw_r2_blobs_open(const char *root, pw_r2_blobs_t **out, char *err, size_t err_len);
void pw_r2_blobs_close(pw_r2_blobs_t *b);

/* A new blob being written: a fresh id in `id` (PW_R2_BLOB_ID_LEN + 1 bytes) and the
 * descriptor of its .tmp file. Returns the descriptor or -errno. */
int pw_r2_blobs_create(pw_r2_blobs_t *b, char *id);
/* Makes the blob whole: fsyncs and closes fd, renames <id>.tmp to <id> and fsyncs its
 * directory. 0 or -errno (the .tmp file is then removed). */
int pw_r2_blobs_commit(pw_r2_blobs_t *b, int fd, const char *id);
/* Drops a blob being written (closes fd, removes <id>.tmp). */
void pw_r2_blobs_discard(pw_r2_blobs_t *b, int fd, const char *id);
/* A descriptor reading the whole blob, or -errno. */
int pw_r2_blobs_open_read(pw_r2_blobs_t *b, const char *id);
void pw_r2_blobs_remove(pw_r2_blobs_t *b, const char *id);

/* Removes every .tmp file, and every blob for which in_use(arg, id) is 0. */
void pw_r2_blobs_sweep(pw_r2_blobs_t *b, int (*in_use)(void *arg, const char *id), void *arg);

#endif
