/* child_args.h — the command line of pyworkerd's hidden child modes, parsed by the child
 * itself (the zygote and cold isolate processes: isolate_main.c, or the extension module's
 * child_main() under /usr/bin/python3.11). The host (for the zygote, host/supervisor.c) and a
 * template (for a cold isolate, isolate/startmode.c) build it, through isolate/child_command.h:
 *   pyworkerd --zygote FD [--snapshot=package|baseline|none] [--trace]
 *   pyworkerd --isolate FD SPEC [--since=NS] [--trace]
 * (argv[0] is not looked at; the flags after FD or SPEC come in any order, and each mode
 * accepts the other's, which it ignores).
 */
#ifndef PW_CHILD_ARGS_H
#define PW_CHILD_ARGS_H

#include "wire/start_type.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PW_CHILD_ZYGOTE,        /* the runtime zygote, exec'd by the host */
    PW_CHILD_ISOLATE,       /* a cold isolate, spawned by a template in --no-snapshot mode */
} pw_child_mode_t;

typedef struct {
    pw_child_mode_t mode;
    int fd;                 /* the zygote's control socket, or the cold isolate's request socket */
    int trace;              /* --trace: the host writes PYTHON_TRACE lines */
    pw_snapshot_t snapshot; /* zygote: how its templates start isolates */
    const char *spec_path;  /* cold isolate: the worker's spec.json (points into argv) */
    uint64_t since_ns;      /* cold isolate: --since, when it was asked for (CLOCK_MONOTONIC) */
} pw_child_args_t;

/* Returns 0; 1 when argv[1] names no child mode; or -1 with a usage error (in the host's
 * format: "pyworkerd: <detail>\nTry ...") in err. */
int pw_child_args_parse(int argc, char **argv, pw_child_args_t *args, char *err, size_t err_len);

#endif
