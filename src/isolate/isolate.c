/* isolate.c — an isolate (isolate process): forked from a worker template with the
 * worker already imported, it serves requests on its socket until the host closes it.
 * The sandbox (DESIGN.md §5) will be applied here, before any user code runs again.
 */
#include "isolate/process.h"
#include "host/log.h"
#include "python/embed.h"

#include <stdio.h>

uint64_t pw_isolate_fork_ns;

int pw_isolate_main(int fd)
{
    PW_TRACE(pw_isolate_fork_ns, "isolate prepared (since fork)");
    int rc = pw_python_serve(fd);
    fflush(stdout);
    fflush(stderr);
    return rc == 0 ? 0 : 1;
}
