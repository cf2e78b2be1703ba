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
 */
#ifndef PW_CHILD_COMMAND_H
#define PW_CHILD_COMMAND_H

#include <limits.h>

#define PW_CHILD_MAX_ARGS 16

typedef struct {
    char program[PATH_MAX];             /* what to exec */
    char module_dir[PATH_MAX];          /* the extension module's directory, if used */
    char *argv[PW_CHILD_MAX_ARGS + 8];  /* NULL-terminated; points into this struct */
} pw_child_command_t;

/* Fills `cmd` to run pyworkerd's hidden mode `args` (NULL-terminated, e.g. "--zygote", FD,
 * ...; at most PW_CHILD_MAX_ARGS). Returns 0, or -1 when no program can be found. */
int pw_child_command(pw_child_command_t *cmd, char *const *args);

/* The interpreter that runs the extension module: Debian's /usr/bin/python3.11. (In that
 * child, _pyworkerd.child_main(module_dir, args) records where pyworkerd's files are, since
 * /proc/self/exe is the interpreter: pw_paths_set_bin_dir.) */
extern const char pw_child_python[];

#endif
