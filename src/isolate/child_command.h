/* child_command.h — the command line that starts a Python child process of pyworkerd: the
 * runtime zygote (exec'd by the host) and a cold isolate (spawned by its template).
 *
 * Preferred: Debian's own interpreter, /usr/bin/python3.11, importing _pyworkerd (the
 * isolate side of pyworkerd built as an extension module, build/pyext/_pyworkerd.so) whose
 * child_main() runs the same code that build/pyworkerd-isolate's main() does. That binary
 * is statically linked, profile-guided and link-time optimised by Debian; the same
 * interpreter through libpython3.11.so runs Python code ~20 % slower (position-independent
 * code; bench/results/asgi.md). Fallback, when the module was not built (the sanitizer
 * build) or the interpreter is missing: build/pyworkerd-isolate (build/pyworkerd runs no
 * child mode). The child parses these arguments with isolate/child_args.h.
 * Header-only: the host (for the zygote) and a template (for cold isolates) both build this
 * command line, and each side of the build links only its own folders (ARCHITECTURE.md).
 */
#ifndef PW_CHILD_COMMAND_H
#define PW_CHILD_COMMAND_H

#include "base/paths.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#define PW_CHILD_MAX_ARGS 16

typedef struct {
    char program[PATH_MAX];             /* what to exec */
    char module_dir[PATH_MAX];          /* the extension module's directory, if used */
    char *argv[PW_CHILD_MAX_ARGS + 8];  /* NULL-terminated; points into this struct */
} pw_child_command_t;

/* The interpreter that runs the extension module: Debian's /usr/bin/python3.11. (In that
 * child, _pyworkerd.child_main(module_dir, args) records where pyworkerd's files are, since
 * /proc/self/exe is the interpreter: pw_paths_set_bin_dir.) */
#define PW_CHILD_PYTHON "/usr/bin/python3.11"

/* The interpreter's flags: isolated (no PYTHON* variables, no user site, no script directory
 * on sys.path), no site import (packages.py decides what is importable), no bytecode
 * written. argv[0] is the full path: with no PATH in the environment, Python finds
 * sys.executable from it. The code puts the module's directory on sys.path only for the
 * import. */
static char *const pw_child_python_prefix[] = {
    (char *)PW_CHILD_PYTHON, "-I", "-S", "-B", "-c",
    "import sys; sys.path.insert(0, sys.argv[1]); import _pyworkerd; del sys.path[0]; "
    "sys.exit(_pyworkerd.child_main(sys.argv[1], sys.argv[2:]))",
    NULL,
};

static inline int pw_child_find_module(pw_child_command_t *cmd)
{
    char dir[PATH_MAX], module[PATH_MAX + 32];
    if (pw_paths_bin_dir(dir, sizeof dir) < 0)
        return -1;
    if (snprintf(cmd->module_dir, sizeof cmd->module_dir, "%s/pyext", dir) >= (int)sizeof cmd->module_dir)
        return -1;
    snprintf(module, sizeof module, "%s/_pyworkerd.so", cmd->module_dir);
    if (access(module, R_OK) < 0 || access(PW_CHILD_PYTHON, X_OK) < 0)
        return -1;
    return snprintf(cmd->program, sizeof cmd->program, "%s", PW_CHILD_PYTHON) < (int)sizeof cmd->program
               ? 0 : -1;
}

/* Fills `cmd` to run pyworkerd's hidden mode `args` (NULL-terminated, e.g. "--zygote", FD,
 * ...; at most PW_CHILD_MAX_ARGS). Returns 0, or -1 when no program can be found. */
static inline int pw_child_command(pw_child_command_t *cmd, char *const *args)
{
    size_t n = 0;
    if (pw_child_find_module(cmd) == 0) {
        for (char *const *p = pw_child_python_prefix; *p; p++)
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

#endif
