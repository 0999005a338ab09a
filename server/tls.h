/*
 * tls.h — the server's TLS settings from --ssl_config_file, checked with OpenSSL at start.
 *
 * The file is TensorFlow Serving's SSLConfig in protobuf text format, so existing files carry
 * over:
 *     server_key: "-----BEGIN PRIVATE KEY-----\n..."
 *     server_cert: "-----BEGIN CERTIFICATE-----\n..."
 *     custom_ca: "-----BEGIN CERTIFICATE-----\n..."   (optional: CA for client certificates)
 *     client_verify: true                             (optional: require client certificates)
 * Strings take C escapes, adjacent strings concatenate, '#' starts a comment. Ours, for keys
 * mounted as files (Kubernetes secrets): server_key_file, server_cert_file, custom_ca_file
 * name files holding the PEM instead (relative to the config file's directory).
 *
 * srv_tls_load refuses, with a message naming the file and the field, anything a TLS stack
 * would fail on later: unreadable PEM, a key that does not match the certificate, a
 * certificate not valid now, client_verify without custom_ca. The PEM texts are then handed
 * unchanged to libmicrohttpd (REST) and grpc core (gRPC).
 */
#ifndef ORCHARD_SRV_TLS_H
#define ORCHARD_SRV_TLS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_tls srv_tls;

/* Parses and checks `path`. 0 on success (*out owned by the caller), else -1 with msg set. */
int srv_tls_load(const char *path, srv_tls **out, char *msg, size_t cap);
/* The same from text already read; `path` is for messages and relative *_file names. */
int srv_tls_parse(const char *text, size_t len, const char *path, srv_tls **out, char *msg,
                  size_t cap);
void srv_tls_free(srv_tls *t);

const char *srv_tls_key_pem(const srv_tls *t);
const char *srv_tls_cert_pem(const srv_tls *t);
const char *srv_tls_ca_pem(const srv_tls *t); /* NULL without custom_ca */
bool srv_tls_client_verify(const srv_tls *t);
/* The server certificate's subject and expiry, for the start-up log line. */
const char *srv_tls_summary(const srv_tls *t);

#endif
