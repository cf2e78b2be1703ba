/* isolate.c — an isolate (isolate process): forked from a worker template with the
 * worker already imported, it serves requests on its socket until the host closes it.
 * The sandbox (DESIGN.md §5) will be applied here, before any user code runs again. In the
 * baseline start type (startmode.c) it imports the worker first; a cold isolate comes here
 * after starting CPython and importing the worker.
 */
#include "isolate/process.h"
#include "host/log.h"
#include "python/embed.h"

#include <stdio.h>

#include <stdlib.h>
#include <unistd.h>

uint64_t pw_isolate_fork_ns;
const char *pw_isolate_load_spec;

/* Baseline start type: import the worker here, after the fork (and the sandbox). */
static int load_worker(const char *spec_path)
{
    uint64_t start = pw_trace_clock();
    char *error_text = NULL;
    if (pw_python_load_worker(spec_path, &error_text) < 0) {
        fprintf(stderr, "pyworkerd: isolate %d: the worker failed to load:\n%s\n", (int)getpid(),
                error_text);
        free(error_text);
        return -1;
    }
    PW_TRACE(start, "worker loaded");
    return 0;
}

int pw_isolate_main(int fd)
{
    if (pw_isolate_load_spec && load_worker(pw_isolate_load_spec) < 0)
        return 1;
    PW_TRACE(pw_isolate_fork_ns, "isolate prepared (since fork)");
    int rc = pw_python_serve(fd);
    fflush(stdout);
    fflush(stderr);
    return rc == 0 ? 0 : 1;
}
