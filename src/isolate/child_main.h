/* child_main.h — the modes the host execs below itself (zygote and cold isolate
 * processes), one dispatch for build/pyworkerd-isolate and the extension module. */
#ifndef PW_CHILD_MAIN_H
#define PW_CHILD_MAIN_H

#include "config/cli.h"

/* Runs cli's zygote or cold-isolate mode and returns its exit code; -1 for any other cmd. */
int pw_child_main(const pw_cli_t *cli);

#endif
