/* address.h — parsing workerd socket addresses ("*:8080", "127.0.0.1:8080", "[::1]:8080",
 * "localhost:8080", "host" → default port) into a sockaddr (host process).
 */
#ifndef PW_ADDRESS_H
#define PW_ADDRESS_H

#include <stddef.h>
#include <sys/socket.h>

int pw_address_parse(const char *address, int default_port, struct sockaddr_storage *out,
                     char *err, size_t err_len);

#endif
