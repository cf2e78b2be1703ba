/* isolate_main.c — entry point of build/pyworkerd-isolate (zygote and cold isolate
 * processes): the binary the runtime zygote and cold isolates run when /usr/bin/python3.11
 * cannot run them with build/pyext/_pyworkerd.so (isolate/child_command.c; the sanitizer
 * build). It links only what Python's side needs (CPython, cJSON, libseccomp) and none of the
 * host's libraries (h2o, libuv, OpenSSL, curl, SQLite): each library's mappings are copied by
 * every fork of a template and loaded by every cold start, so fewer of them make both faster.
 * The full pyworkerd binary still accepts the same arguments.
 */
#include "config/cli.h"
#include "isolate/child_main.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    pw_cli_t cli;
    if (pw_cli_parse(argc, argv, &cli) < 0) {
        fprintf(stderr, "%s\n", cli.output);
        return 1;
    }
    int rc = pw_child_main(&cli);
    if (rc < 0) {
        fprintf(stderr, "pyworkerd-isolate runs only as pyworkerd's zygote or cold isolate; "
                        "run pyworkerd instead\n");
        return 1;
    }
    return rc;
}
