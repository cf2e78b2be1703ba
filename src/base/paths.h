/* paths.h — where pyworkerd's own files are, found from the binary's location
 * (build/pyworkerd → the tree above it): the schema for configs and the Python SDK.
 * PYWORKERD_HOME overrides the root. Used by the host and the zygote.
 */
#ifndef PW_PATHS_H
#define PW_PATHS_H

#include <stddef.h>

/* Each returns 0, or -1 when the path does not fit or cannot be found. */
int pw_paths_root(char *out, size_t len);
/* The directory of pyworkerd's binaries (build/): this process's own, or the one set. */
int pw_paths_bin_dir(char *out, size_t len);
void pw_paths_set_bin_dir(const char *dir);
int pw_paths_schema_dir(char *out, size_t len);
int pw_paths_python_dir(char *out, size_t len);
/* The embedding binary: pyworkerd-isolate next to this one (isolate_main.c); -1 when it is
 * missing (pyworkerd itself runs no child mode). */
int pw_paths_isolate_binary(char *out, size_t len);

#endif
