/* socket_tls.h — TLS for a worker's TCP sockets, done by the host with OpenSSL (host process,
 * the socket's loop thread): a client context per worker that trusts what its globalOutbound's
 * tlsOptions trust (as fetch() does: the system's CAs and/or trustedCertificates, the minimum
 * version), one SSL per socket over memory BIOs (host/binding_socket.c moves the bytes), and
 * the peer's certificate as the JSON of Python's SSLSocket.getpeercert().
 * Invariant: verification is on unless the worker's own SSLContext turned it off.
 */
#ifndef PW_SOCKET_TLS_H
#define PW_SOCKET_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "http/fetch_policy.h"

/* A client context trusting `tls`. NULL with a message in err. */
SSL_CTX *pw_socket_tls_ctx(const pw_fetch_tls_t *tls, char *err, size_t err_len);

/* A client SSL on fresh memory BIOs for `servername` (SNI unless an IP address; NULL/"": none):
 * verify_chain checks the chain against the context, check_host also the name. */
SSL *pw_socket_tls_new(SSL_CTX *ctx, const char *servername, int verify_chain, int check_host);

/* Why a handshake failed (rc from SSL_do_handshake), in OpenSSL's words with the verify
 * result when that was it. */
void pw_socket_tls_why(SSL *ssl, int rc, char *buf, size_t len);

/* The peer certificate as getpeercert()'s dict in JSON (subject, issuer, subjectAltName,
 * notBefore, notAfter, serialNumber); "{}" without one. malloc'd; NULL when out of memory. */
char *pw_socket_tls_peer_json(SSL *ssl);

#endif
