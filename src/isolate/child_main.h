/* child_main.h — the modes the host execs below itself (zygote and cold isolate
 * processes), one dispatch for build/pyworkerd-isolate and the extension module. */
#ifndef PW_CHILD_MAIN_H
#define PW_CHILD_MAIN_H

#include "isolate/child_args.h"

/* Runs the zygote or cold-isolate mode `args` names and returns its exit code. */
int pw_child_main(const pw_child_args_t *args);

#endif
