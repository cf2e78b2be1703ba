/* paths.c — locating pyworkerd's schema/ and python/ directories (host and zygote).
 * The root is PYWORKERD_HOME when set, else the parent of the directory holding the binary
 * (a child run by /usr/bin/python3.11 is told that directory: pw_paths_set_bin_dir).
 */
#include "base/paths.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char bin_dir_override[PATH_MAX];

void pw_paths_set_bin_dir(const char *dir)
{
    snprintf(bin_dir_override, sizeof bin_dir_override, "%s", dir);
}

int pw_paths_bin_dir(char *out, size_t len)
{
    if (bin_dir_override[0])
        return snprintf(out, len, "%s", bin_dir_override) < (int)len ? 0 : -1;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    return snprintf(out, len, "%s", dirname(exe)) < (int)len ? 0 : -1;
}

int pw_paths_root(char *out, size_t len)
{
    const char *home = getenv("PYWORKERD_HOME");
    if (home && *home)
        return snprintf(out, len, "%s", home) < (int)len ? 0 : -1;
    char bindir[PATH_MAX];                      /* .../build */
    if (pw_paths_bin_dir(bindir, sizeof bindir) < 0)
        return -1;
    return snprintf(out, len, "%s", dirname(bindir)) < (int)len ? 0 : -1;
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
    char bindir[PATH_MAX];
    if (pw_paths_bin_dir(bindir, sizeof bindir) < 0 ||
        snprintf(out, len, "%s/pyworkerd-isolate", bindir) >= (int)len)
        return -1;
    return access(out, X_OK) == 0 ? 0 : -1;
}

int pw_paths_python_dir(char *out, size_t len)
{
    return under_root("python", out, len);
}
