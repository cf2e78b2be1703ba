/* ws_bridge.c — sockets for isolates of other loops (host process; see ws_bridge.h). */
#include "host/ws_bridge.h"
#include "host/ws_isolate.h"

pw_ws_side_t *pw_ws_bridge_open(pw_port_t *port, uint32_t *id)
{
    return pw_ws_isolate_open_new(port, id);
}
