/* paths.c — locating pyworkerd's schema/ and python/ directories (host and zygote).
 * The root is PYWORKERD_HOME when set, else the parent of the directory holding the binary.
 */
#include "config/paths.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pw_paths_root(char *out, size_t len)
{
    const char *home = getenv("PYWORKERD_HOME");
    if (home && *home)
        return snprintf(out, len, "%s", home) < (int)len ? 0 : -1;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *bindir = dirname(exe);       /* .../build */
    char *root = dirname(bindir);      /* ... */
    return snprintf(out, len, "%s", root) < (int)len ? 0 : -1;
}

static int under_root(const char *sub, char *out, size_t len)
{
    char root[PATH_MAX];
    if (pw_paths_root(root, sizeof root) < 0)
        return -1;
    if (snprintf(out, len, "%s/%s", root, sub) >= (int)len)
        return -1;
    return access(out, R_OK) == 0 ? 0 : -1;
}

int pw_paths_schema_dir(char *out, size_t len)
{
    return under_root("schema", out, len);
}

int pw_paths_isolate_binary(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (snprintf(out, len, "%s/pyworkerd-isolate", dirname(exe)) < (int)len &&
            access(out, X_OK) == 0)
            return 0;
    }
    return snprintf(out, len, "/proc/self/exe") < (int)len ? 0 : -1;
}

int pw_paths_python_dir(char *out, size_t len)
{
    return under_root("python", out, len);
}
