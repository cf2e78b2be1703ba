/* child_main.c — the modes the host execs below itself (zygote and cold isolate processes):
 * one dispatch shared by build/pyworkerd-isolate (isolate_main.c) and the full pyworkerd
 * binary, which still runs them when pyworkerd-isolate is missing.
 */
#include "isolate/child_main.h"
#include "isolate/zygote.h"
#include "isolate/startmode.h"

int pw_child_main(const pw_cli_t *cli)
{
    switch (cli->cmd) {
    case PW_CMD_ZYGOTE:
        return pw_zygote_main(cli->zygote_fd, cli->zygote_trace, cli->snapshot);
    case PW_CMD_ISOLATE:
        return pw_cold_isolate_main(cli->zygote_fd, cli->isolate_spec, cli->zygote_trace,
                                    cli->isolate_since_ns);
    default:
        return -1;
    }
}
