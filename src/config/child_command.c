/* child_command.c — builds the command line of pyworkerd's Python child processes (host,
 * for the zygote; template, for cold isolates): see child_command.h for the choice.
 */
#include "config/child_command.h"
#include "config/paths.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char pw_child_python[] = "/usr/bin/python3.11";

/* The interpreter's flags: isolated (no PYTHON* variables, no user site, no script directory
 * on sys.path), no site import (packages.py decides what is importable), no bytecode
 * written. argv[0] is the full path: with no PATH in the environment, Python finds
 * sys.executable from it. The code puts the module's directory on sys.path only for the
 * import. */
static char *const python_prefix[] = {
    (char *)pw_child_python, "-I", "-S", "-B", "-c",
    "import sys; sys.path.insert(0, sys.argv[1]); import _pyworkerd; del sys.path[0]; "
    "sys.exit(_pyworkerd.child_main(sys.argv[1], sys.argv[2:]))",
    NULL,
};

static int find_module(pw_child_command_t *cmd)
{
    char dir[PATH_MAX], module[PATH_MAX + 32];
    if (pw_paths_bin_dir(dir, sizeof dir) < 0)
        return -1;
    if (snprintf(cmd->module_dir, sizeof cmd->module_dir, "%s/pyext", dir) >= (int)sizeof cmd->module_dir)
        return -1;
    snprintf(module, sizeof module, "%s/_pyworkerd.so", cmd->module_dir);
    if (access(module, R_OK) < 0 || access(pw_child_python, X_OK) < 0)
        return -1;
    return snprintf(cmd->program, sizeof cmd->program, "%s", pw_child_python) < (int)sizeof cmd->program
               ? 0 : -1;
}

int pw_child_command(pw_child_command_t *cmd, char *const *args)
{
    size_t n = 0;
    if (find_module(cmd) == 0) {
        for (char *const *p = python_prefix; *p; p++)
            cmd->argv[n++] = *p;
        cmd->argv[n++] = cmd->module_dir;
    } else {
        cmd->module_dir[0] = '\0';
        if (pw_paths_isolate_binary(cmd->program, sizeof cmd->program) < 0)
            return -1;
    }
    cmd->argv[n++] = "pyworkerd";
    for (size_t i = 0; args[i] && i < PW_CHILD_MAX_ARGS; i++)
        cmd->argv[n++] = args[i];
    cmd->argv[n] = NULL;
    return 0;
}
