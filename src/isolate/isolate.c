/* isolate.c — an isolate (isolate process): forked from a worker template with the
 * worker already imported, it serves requests on its socket until the host closes it.
 * The sandbox (DESIGN.md §5) will be applied here, before any user code runs again. In the
 * baseline start type (startmode.c) it imports the worker first; a cold isolate comes here
 * after starting CPython and importing the worker.
 */
#include "isolate/isolate.h"
#include "base/err.h"
#include "base/log.h"
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
    static char err[PW_ERR_TEXT_MAX];
    if (pw_python_load_worker(spec_path, err, sizeof err) < 0) {
        pw_log_error("isolate %d: the worker failed to load:\n%s", (int)getpid(), err);
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
