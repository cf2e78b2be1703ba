/* control_events.c — writing `--control-fd` events (host process; see control_events.h). */
#include "host/control_events.h"
#include "base/fd.h"
#include "base/log.h"

#include <cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *listen_event(const char *socket_name, int port)
{
    cJSON *event = cJSON_CreateObject();
    char *text = NULL;
    if (event && cJSON_AddStringToObject(event, "event", "listen") &&
        cJSON_AddStringToObject(event, "socket", socket_name) &&
        cJSON_AddNumberToObject(event, "port", port)) {
        text = cJSON_PrintUnformatted(event);
    }
    cJSON_Delete(event);
    return text;
}

static int write_line(int fd, const char *text)
{
    size_t len = strlen(text);
    char *line = malloc(len + 1);
    if (!line)
        return -1;
    memcpy(line, text, len);
    line[len++] = '\n';
    int rc = pw_fd_write_all(fd, line, len) < 0 ? -1 : 0;
    free(line);
    return rc;
}

void pw_control_report_listening(int fd, const pw_http_server_t *server)
{
    for (size_t i = 0; fd >= 0 && i < pw_http_server_listeners(server); i++) {
        const char *name;
        int port = pw_http_server_port(server, i, &name);
        char *text = port >= 0 ? listen_event(name, port) : NULL;
        if (text && write_line(fd, text) < 0)
            pw_log_error("--control-fd %d: %s", fd, strerror(errno));
        free(text);
    }
}
