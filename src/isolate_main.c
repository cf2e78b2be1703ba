/* isolate_main.c — entry point of build/pyworkerd-isolate (zygote and cold isolate
 * processes): the binary the runtime zygote and cold isolates run when /usr/bin/python3.11
 * cannot run them with build/pyext/_pyworkerd.so (isolate/child_command.c; the sanitizer
 * build). It links only what Python's side needs (CPython, cJSON, libseccomp) and none of the
 * host's libraries (h2o, libuv, OpenSSL, curl, SQLite): each library's mappings are copied by
 * every fork of a template and loaded by every cold start, so fewer of them make both faster.
 * It takes only the hidden child modes (isolate/child_args.h); build/pyworkerd runs none.
 */
#include "isolate/child_args.h"
#include "isolate/child_main.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    pw_child_args_t args;
    char err[1024];
    int rc = pw_child_args_parse(argc, argv, &args, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (rc > 0) {
        fprintf(stderr, "pyworkerd-isolate runs only as pyworkerd's zygote or cold isolate; "
                        "run pyworkerd instead\n");
        return 1;
    }
    return pw_child_main(&args);
}
