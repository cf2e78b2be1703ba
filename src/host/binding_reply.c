/* binding_reply.c — error answers to binding calls (host process, loop thread; see
 * binding_reply.h). The message is formatted into a bounded buffer: a long one is cut, never
 * refused.
 */
#include "host/binding_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static pw_bytes_t S(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

int pw_port_reply_error(pw_port_t *port, uint32_t id, const char *name, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pw_bytes_t f[2] = { S(name), S(msg) };
    return pw_port_reply(port, id, f, 2);
}
