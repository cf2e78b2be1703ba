/* control_events.h — `--control-fd`: the JSON lines workerd writes for whoever started it
 * (host process), so a launcher that asked for port 0 learns the port.
 */
#ifndef PW_CONTROL_EVENTS_H
#define PW_CONTROL_EVENTS_H

#include "http/server.h"

/* Writes {"event":"listen","socket":NAME,"port":N} for every listener of server to fd
 * (nothing when fd < 0). A write error is logged, never fatal. */
void pw_control_report_listening(int fd, const pw_http_server_t *server);

#endif
