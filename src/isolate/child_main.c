/* child_main.c — the modes the host execs below itself (zygote and cold isolate processes):
 * one dispatch shared by build/pyworkerd-isolate (isolate_main.c) and the extension module's
 * child_main() (python/module.c), each after parsing its argv with isolate/child_args.h.
 */
#include "isolate/child_main.h"
#include "isolate/startmode.h"
#include "isolate/zygote.h"

int pw_child_main(const pw_child_args_t *args)
{
    switch (args->mode) {
    case PW_CHILD_ZYGOTE:
        return pw_zygote_main(args->fd, args->trace, args->snapshot);
    case PW_CHILD_ISOLATE:
        return pw_cold_isolate_main(args->fd, args->spec_path, args->trace, args->since_ns);
    default:
        return -1;
    }
}
