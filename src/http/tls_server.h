/* tls_server.h — the OpenSSL context of an https socket (host process): its certificate
 * chain and private key from the config's PEM text, a minimum TLS version, and ALPN offering
 * HTTP/2 then HTTP/1.1 (h2o picks the protocol the client chose).
 */
#ifndef PW_TLS_SERVER_H
#define PW_TLS_SERVER_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "config/config.h"

/* Returns a new context, or NULL with a message naming the socket in err. */
SSL_CTX *pw_tls_server_ctx(const char *socket_name, const char *certificate_chain_pem,
                           const char *private_key_pem, pw_tls_min_t min_version, char *err,
                           size_t err_len);

#endif
