/* assets_files.h — an assets directory's `_redirects` and `_headers` (host process, the loop
 * that serves the directory): read and parsed when the directory is opened, a bad line being
 * an error then; with `recheck` (pyworkerd dev, --watch: one loop only) read again when either
 * file changed, checked with fstatat at each request; a version with an error is logged and
 * the rules in use stay. Neither file is itself an asset (pw_assets_files_hidden).
 */
#ifndef PW_ASSETS_FILES_H
#define PW_ASSETS_FILES_H

#include "http/assets_headers.h"
#include "http/assets_redirects.h"

#define PW_ASSETS_RULES_FILE_MAX (4u << 20)

typedef struct pw_assets_files pw_assets_files_t;

/* Reads them from the directory `root` (a descriptor, O_PATH is enough), named `dir` in
 * errors ("public/_redirects:3: ..."). Missing files are no rules. 0, or -1 with err. */
int pw_assets_files_load(int root, const char *dir, int html_none, int recheck,
                         pw_assets_files_t **out, char *err, size_t err_len);
void pw_assets_files_free(pw_assets_files_t *files);

/* With recheck: reads the files again when they changed since last read. */
void pw_assets_files_refresh(pw_assets_files_t *files);

/* The rules in use (NULL: none). Valid until the next refresh. */
const pw_redirects_t *pw_assets_files_redirects(const pw_assets_files_t *files);
const pw_header_rules_t *pw_assets_files_headers(const pw_assets_files_t *files);

/* 1 for "/_redirects" and "/_headers" (a decoded path from the directory's root). */
int pw_assets_files_hidden(const char *path);

#endif
