/* socket_tls.c — host-side TLS of worker sockets (host process; see socket_tls.h). */
#include "host/socket_tls.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

static int add_pem(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    X509 *cert;
    int n = 0;
    if (!bio)
        return -1;
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_STORE_add_cert(store, cert);
        X509_free(cert);
        n++;
    }
    ERR_clear_error();      /* the end of the PEM text */
    BIO_free(bio);
    return n > 0 ? 0 : -1;
}

SSL_CTX *pw_socket_tls_ctx(const pw_fetch_tls_t *tls, char *err, size_t err_len)
{
    static const int versions[] = {
        [PW_FETCH_TLS_MIN_DEFAULT] = TLS1_2_VERSION, [PW_FETCH_TLS_MIN_1_0] = TLS1_VERSION,
        [PW_FETCH_TLS_MIN_1_1] = TLS1_1_VERSION, [PW_FETCH_TLS_MIN_1_2] = TLS1_2_VERSION,
        [PW_FETCH_TLS_MIN_1_3] = TLS1_3_VERSION,
    };
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, err_len, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, versions[tls->min_version]);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (tls->trust_system)
        SSL_CTX_set_default_verify_paths(ctx);
    if (tls->trusted_pem && add_pem(ctx, tls->trusted_pem) < 0) {
        snprintf(err, err_len, "tlsOptions.trustedCertificates: no certificate could be read");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int is_ip(const char *name)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

SSL *pw_socket_tls_new(SSL_CTX *ctx, const char *servername, int verify_chain, int check_host)
{
    SSL *ssl = SSL_new(ctx);
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    if (!ssl || !rbio || !wbio) {
        SSL_free(ssl);
        BIO_free(rbio);
        BIO_free(wbio);
        return NULL;
    }
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_connect_state(ssl);
    if (!verify_chain)
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    if (servername && *servername) {
        int ip = is_ip(servername);
        if (!ip)
            SSL_set_tlsext_host_name(ssl, servername);
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        if (check_host && verify_chain && ip)
            X509_VERIFY_PARAM_set1_ip_asc(param, servername);
        else if (check_host && verify_chain)
            SSL_set1_host(ssl, servername);
    }
    return ssl;
}

void pw_socket_tls_why(SSL *ssl, int rc, char *buf, size_t len)
{
    long verify = SSL_get_verify_result(ssl);
    unsigned long e = ERR_peek_error();
    if (verify != X509_V_OK) {
        snprintf(buf, len, "certificate verify failed: %s", X509_verify_cert_error_string(verify));
    } else if (e) {
        char reason[256];
        ERR_error_string_n(e, reason, sizeof reason);
        snprintf(buf, len, "TLS handshake failed: %s", reason);
    } else {
        snprintf(buf, len, "TLS handshake failed (the server closed the connection)");
    }
    (void)rc;
    ERR_clear_error();
}

/* An X509_NAME as getpeercert() gives it: ((("commonName", "x"),), ...). */
static cJSON *name_json(X509_NAME *name)
{
    cJSON *out = cJSON_CreateArray();
    for (int i = 0; name && i < X509_NAME_entry_count(name); i++) {
        X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        unsigned char *utf8 = NULL;
        if (ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e)) < 0)
            continue;
        cJSON *rdn = cJSON_CreateArray(), *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(OBJ_nid2ln(nid)));
        cJSON_AddItemToArray(pair, cJSON_CreateString((char *)utf8));
        cJSON_AddItemToArray(rdn, pair);
        cJSON_AddItemToArray(out, rdn);
        OPENSSL_free(utf8);
    }
    return out;
}

static void add_san(cJSON *list, const char *kind, const char *value)
{
    cJSON *pair = cJSON_CreateArray();
    cJSON_AddItemToArray(pair, cJSON_CreateString(kind));
    cJSON_AddItemToArray(pair, cJSON_CreateString(value));
    cJSON_AddItemToArray(list, pair);
}

static cJSON *san_json(X509 *cert)
{
    cJSON *out = cJSON_CreateArray();
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char text[INET6_ADDRSTRLEN];
        if (g->type == GEN_DNS) {
            add_san(out, "DNS", (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.iPAddress);
            if (inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress),
                          text, sizeof text))
                add_san(out, "IP Address", text);
        }
    }
    GENERAL_NAMES_free(names);
    return out;
}

static void add_time(cJSON *obj, const char *key, const ASN1_TIME *t)
{
    char text[64] = "";
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && ASN1_TIME_print(bio, t) > 0) {
        int n = BIO_read(bio, text, sizeof text - 1);
        text[n > 0 ? n : 0] = '\0';
    }
    BIO_free(bio);
    cJSON_AddStringToObject(obj, key, text);
}

char *pw_socket_tls_peer_json(SSL *ssl)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    cJSON *obj = cJSON_CreateObject();
    if (cert) {
        cJSON_AddItemToObject(obj, "subject", name_json(X509_get_subject_name(cert)));
        cJSON_AddItemToObject(obj, "issuer", name_json(X509_get_issuer_name(cert)));
        cJSON_AddItemToObject(obj, "subjectAltName", san_json(cert));
        add_time(obj, "notBefore", X509_get0_notBefore(cert));
        add_time(obj, "notAfter", X509_get0_notAfter(cert));
        X509_free(cert);
    }
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    return text;
}
