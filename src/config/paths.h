/* paths.h — where pyworkerd's own files are, found from the binary's location
 * (build/pyworkerd → the tree above it): the schema for configs and the Python SDK.
 * PYWORKERD_HOME overrides the root. Used by the host and the zygote.
 */
#ifndef PW_PATHS_H
#define PW_PATHS_H

#include <stddef.h>

/* Each returns 0, or -1 when the path does not fit or cannot be found. */
int pw_paths_root(char *out, size_t len);
int pw_paths_schema_dir(char *out, size_t len);
int pw_paths_python_dir(char *out, size_t len);
/* The zygote's binary: pyworkerd-isolate next to this one (isolate_main.c), else this one. */
int pw_paths_isolate_binary(char *out, size_t len);

#endif
