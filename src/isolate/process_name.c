/* process_name.c — what a runtime process below the host is called in `ps` and in its
 * PYTHON_TRACE lines (guard, template, isolate processes): a prefix and the service's name.
 */
#include "isolate/process_name.h"
#include "base/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

/* The service's name, as the spec's directory: <runtime dir>/<service>/<spec file>. */
void pw_process_name(const char *prefix, const char *spec_path)
{
    char name[64];
    const char *end = strrchr(spec_path, '/');
    const char *start = end;
    while (start && start > spec_path && start[-1] != '/')
        start--;
    int len = (start && end) ? (int)(end - start) : 0;
    snprintf(name, sizeof name, "%s%.*s", prefix, len, start ? start : "");
    prctl(PR_SET_NAME, name, 0, 0, 0);    /* best effort: only `ps` and logs read it */
    pw_trace_set_role(name + 3);          /* "tpl:main", "iso:main" */
}
