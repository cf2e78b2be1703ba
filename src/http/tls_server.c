/* tls_server.c — building an https socket's SSL_CTX from PEM text (host process; see
 * tls_server.h). The first certificate of the chain is the server's; the rest are sent as
 * intermediates. OpenSSL's own reason is put in the message when a PEM does not load.
 */
#include "http/tls_server.h"

#include <h2o.h>
#include <h2o/http2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>

static void ssl_error(char *err, size_t err_len, const char *socket_name, const char *what)
{
    char reason[256];
    unsigned long code = ERR_get_error();
    ERR_error_string_n(code, reason, sizeof reason);
    ERR_clear_error();
    snprintf(err, err_len, "Socket \"%s\": %s: %s", socket_name, what,
             code ? reason : "no PEM data found");
}

static int use_chain(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *cert = bio ? PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL) : NULL;
    int ok = cert && SSL_CTX_use_certificate(ctx, cert) == 1;
    X509_free(cert);
    while (ok) {
        X509 *extra = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!extra) {
            ERR_clear_error();  /* the end of the chain */
            break;
        }
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            ok = 0;
        }
    }
    BIO_free(bio);
    return ok;
}

static int use_key(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    int ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    BIO_free(bio);
    return ok;
}

static int min_proto(pw_tls_min_t v)
{
    switch (v) {
    case PW_TLS_MIN_1_0: return TLS1_VERSION;
    case PW_TLS_MIN_1_1: return TLS1_1_VERSION;
    case PW_TLS_MIN_1_3: return TLS1_3_VERSION;
    default: return TLS1_2_VERSION;
    }
}

SSL_CTX *pw_tls_server_ctx(const char *socket_name, const char *certificate_chain_pem,
                           const char *private_key_pem, pw_tls_min_t min_version, char *err,
                           size_t err_len)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_error(err, err_len, socket_name, "cannot make a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, min_proto(min_version));
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (!use_chain(ctx, certificate_chain_pem)) {
        ssl_error(err, err_len, socket_name, "tlsOptions.keypair.certificateChain");
    } else if (!use_key(ctx, private_key_pem)) {
        ssl_error(err, err_len, socket_name, "tlsOptions.keypair.privateKey");
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error(err, err_len, socket_name, "the private key does not match the certificate");
    } else {
        h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}
