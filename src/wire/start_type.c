/* start_type.c — start types by name (host and zygote processes). See start_type.h. */
#include "wire/start_type.h"

#include <string.h>

static const char *const names[] = { "package", "baseline", "none" };

const char *pw_snapshot_name(pw_snapshot_t snapshot)
{
    return (unsigned)snapshot < 3 ? names[snapshot] : names[0];
}

int pw_snapshot_parse(const char *name, pw_snapshot_t *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (pw_snapshot_t)i;
            return 0;
        }
    return -1;
}
