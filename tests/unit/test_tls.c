/*
 * test_tls.c — --ssl_config_file (tls.c): TF Serving's SSLConfig text format and the OpenSSL
 * checks made at start.
 *
 * Keys and certificates are made here with OpenSSL (P-256 keys; a CA, a server certificate it
 * signs, self-signed ones valid in the past or the future), written as real files in a
 * temporary directory when a case needs files, so every check meets what a user would give.
 */
#include "tls.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static EVP_PKEY *new_key(void) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  cr_assert(k, "EVP_EC_gen failed");
  return k;
}

/* A certificate for `key` named cn, signed by (issuer, ikey) or self-signed, valid from
 * now + from_s to now + until_s. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, long from_s,
                      long until_s, bool ca) {
  X509 *x = X509_new();
  cr_assert(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(rand() & 0x7fffffff) + 1);
  X509_gmtime_adj(X509_getm_notBefore(x), from_s);
  X509_gmtime_adj(X509_getm_notAfter(x), until_s);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  if (ca) {
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  cr_assert(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
  return x;
}

static char *bio_string(BIO *b) {
  char *data;
  long n = BIO_get_mem_data(b, &data);
  char *s = malloc((size_t)n + 1);
  memcpy(s, data, (size_t)n);
  s[n] = 0;
  BIO_free(b);
  return s;
}

static char *key_pem(EVP_PKEY *k) {
  BIO *b = BIO_new(BIO_s_mem());
  cr_assert(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
  return bio_string(b);
}

static char *cert_pem(X509 *x) {
  BIO *b = BIO_new(BIO_s_mem());
  cr_assert(PEM_write_bio_X509(b, x) == 1);
  return bio_string(b);
}

/* The PEM as one text-format string literal, newlines escaped. */
static char *quoted(const char *pem) {
  char *q = malloc(strlen(pem) * 2 + 3), *o = q;
  *o++ = '"';
  for (const char *p = pem; *p; p++) {
    if (*p == '\n') {
      *o++ = '\\';
      *o++ = 'n';
    } else {
      *o++ = *p;
    }
  }
  *o++ = '"';
  *o = 0;
  return q;
}

typedef struct pki {
  EVP_PKEY *ca_key, *key, *other_key;
  X509 *ca, *cert;
  char *ca_pem, *key_pem, *cert_pem, *other_key_pem;
} pki;

static pki make_pki(void) {
  pki p = {0};
  p.ca_key = new_key();
  p.key = new_key();
  p.other_key = new_key();
  p.ca = new_cert(p.ca_key, "orchard test CA", NULL, NULL, -3600, 86400, true);
  p.cert = new_cert(p.key, "localhost", p.ca, p.ca_key, -3600, 86400, false);
  p.ca_pem = cert_pem(p.ca);
  p.cert_pem = cert_pem(p.cert);
  p.key_pem = key_pem(p.key);
  p.other_key_pem = key_pem(p.other_key);
  return p;
}

static void free_pki(pki *p) {
  EVP_PKEY_free(p->ca_key);
  EVP_PKEY_free(p->key);
  EVP_PKEY_free(p->other_key);
  X509_free(p->ca);
  X509_free(p->cert);
  free(p->ca_pem);
  free(p->cert_pem);
  free(p->key_pem);
  free(p->other_key_pem);
}

/* A config of `key`, `cert`, optional `ca` and a trailing extra text. */
static char *config(const char *key, const char *cert, const char *ca, const char *extra) {
  char *qk = quoted(key), *qc = quoted(cert), *qa = ca ? quoted(ca) : NULL;
  size_t n = strlen(qk) + strlen(qc) + (qa ? strlen(qa) : 0) + strlen(extra) + 128;
  char *s = malloc(n);
  snprintf(s, n, "# orchard test\nserver_key: %s\nserver_cert: %s\n%s%s%s%s", qk, qc,
           qa ? "custom_ca: " : "", qa ? qa : "", qa ? "\n" : "", extra);
  free(qk);
  free(qc);
  free(qa);
  return s;
}

static void expect_error(const char *text, const char *want1, const char *want2) {
  srv_tls *t = NULL;
  char msg[1024] = "";
  int rc = srv_tls_parse(text, strlen(text), "ssl.cfg", &t, msg, sizeof msg);
  cr_assert_eq(rc, -1, "accepted: %s", text);
  cr_assert_null(t);
  cr_assert(strstr(msg, "ssl.cfg"), "message names no file: %s", msg);
  cr_assert(strstr(msg, want1), "message lacks '%s': %s", want1, msg);
  if (want2)
    cr_assert(strstr(msg, want2), "message lacks '%s': %s", want2, msg);
}

Test(tls, a_valid_config_gives_the_pem_back_unchanged) {
  pki p = make_pki();
  char *text = config(p.key_pem, p.cert_pem, p.ca_pem, "client_verify: true\n");
  srv_tls *t = NULL;
  char msg[1024] = "";
  cr_assert_eq(srv_tls_parse(text, strlen(text), "ssl.cfg", &t, msg, sizeof msg), 0, "%s", msg);
  cr_assert_str_eq(srv_tls_key_pem(t), p.key_pem);
  cr_assert_str_eq(srv_tls_cert_pem(t), p.cert_pem);
  cr_assert_str_eq(srv_tls_ca_pem(t), p.ca_pem);
  cr_assert(srv_tls_client_verify(t));
  cr_assert(strstr(srv_tls_summary(t), "CN=localhost"), "%s", srv_tls_summary(t));
  cr_assert(strstr(srv_tls_summary(t), "client certificates required"));
  srv_tls_free(t);
  free(text);

  /* No CA, no client_verify: server TLS only. Adjacent strings concatenate. */
  char *qk = quoted(p.key_pem), *qc = quoted(p.cert_pem);
  size_t half = strlen(qc) / 2;
  while (qc[half - 1] == '\\') /* never split a "\n" escape */
    half++;
  size_t n = strlen(qk) + strlen(qc) + 64;
  text = malloc(n);
  snprintf(text, n, "server_key: %s\nserver_cert: %.*s\"\n  \"%s", qk, (int)half, qc, qc + half);
  cr_assert_eq(srv_tls_parse(text, strlen(text), "ssl.cfg", &t, msg, sizeof msg), 0, "%s", msg);
  cr_assert_str_eq(srv_tls_cert_pem(t), p.cert_pem);
  cr_assert_null(srv_tls_ca_pem(t));
  cr_assert_not(srv_tls_client_verify(t));
  srv_tls_free(t);
  free(text);
  free(qk);
  free(qc);
  free_pki(&p);
}

Test(tls, pem_pasted_with_real_newlines_is_accepted) {
  pki p = make_pki();
  size_t n = strlen(p.key_pem) + strlen(p.cert_pem) + 64;
  char *text = malloc(n);
  snprintf(text, n, "server_key: \"%s\"\nserver_cert: '%s'\n", p.key_pem, p.cert_pem);
  srv_tls *t = NULL;
  char msg[1024] = "";
  cr_assert_eq(srv_tls_parse(text, strlen(text), "ssl.cfg", &t, msg, sizeof msg), 0, "%s", msg);
  cr_assert_str_eq(srv_tls_key_pem(t), p.key_pem);
  srv_tls_free(t);
  free(text);
  free_pki(&p);
}

Test(tls, key_and_certificate_files_relative_to_the_config) {
  pki p = make_pki();
  char dir[] = "/tmp/orchard-tls-XXXXXX";
  cr_assert(mkdtemp(dir));
  char path[256];
  const char *names[3] = {"server.key", "server.crt", "ca.crt"};
  const char *pems[3] = {p.key_pem, p.cert_pem, p.ca_pem};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(pems[i], f);
    fclose(f);
  }
  snprintf(path, sizeof path, "%s/ssl.cfg", dir);
  FILE *f = fopen(path, "w");
  fputs("server_key_file: \"server.key\"\nserver_cert_file: \"server.crt\"\n"
        "custom_ca_file: \"ca.crt\"\nclient_verify: 1\n",
        f);
  fclose(f);
  srv_tls *t = NULL;
  char msg[1024] = "";
  cr_assert_eq(srv_tls_load(path, &t, msg, sizeof msg), 0, "%s", msg);
  cr_assert_str_eq(srv_tls_cert_pem(t), p.cert_pem);
  cr_assert_str_eq(srv_tls_ca_pem(t), p.ca_pem);
  srv_tls_free(t);

  f = fopen(path, "w");
  fputs("server_key_file: \"missing.key\"\nserver_cert_file: \"server.crt\"\n", f);
  fclose(f);
  cr_assert_eq(srv_tls_load(path, &t, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "server_key_file") && strstr(msg, "missing.key"), "%s", msg);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
  cr_assert_eq(srv_tls_load("/nonexistent/ssl.cfg", &t, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "/nonexistent/ssl.cfg") && strstr(msg, "cannot open"), "%s", msg);
  free_pki(&p);
}

Test(tls, a_key_that_does_not_match_the_certificate_is_refused) {
  pki p = make_pki();
  char *text = config(p.other_key_pem, p.cert_pem, NULL, "");
  expect_error(text, "server_key does not match server_cert", NULL);
  free(text);
  free_pki(&p);
}

Test(tls, certificates_outside_their_validity_are_refused) {
  pki p = make_pki();
  X509 *old = new_cert(p.key, "localhost", p.ca, p.ca_key, -7200, -3600, false);
  X509 *future = new_cert(p.key, "localhost", p.ca, p.ca_key, 3600, 7200, false);
  char *old_pem = cert_pem(old), *future_pem = cert_pem(future);
  char *text = config(p.key_pem, old_pem, NULL, "");
  expect_error(text, "server_cert has expired", NULL);
  free(text);
  text = config(p.key_pem, future_pem, NULL, "");
  expect_error(text, "server_cert is not valid yet", NULL);
  free(text);
  X509_free(old);
  X509_free(future);
  free(old_pem);
  free(future_pem);
  free_pki(&p);
}

Test(tls, unreadable_pem_is_refused_naming_the_field) {
  pki p = make_pki();
  char *text = config("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
                      p.cert_pem, NULL, "");
  expect_error(text, "server_key: not a PEM private key", NULL);
  free(text);
  text = config(p.key_pem, "hello", NULL, "");
  expect_error(text, "server_cert: not a PEM certificate", NULL);
  free(text);
  text = config(p.key_pem, p.cert_pem, "no certificate here", "");
  expect_error(text, "custom_ca: no PEM certificate", NULL);
  free(text);
  free_pki(&p);
}

Test(tls, client_verify_needs_a_ca) {
  pki p = make_pki();
  char *text = config(p.key_pem, p.cert_pem, NULL, "client_verify: true\n");
  expect_error(text, "client_verify needs custom_ca", NULL);
  free(text);
  free_pki(&p);
}

Test(tls, syntax_errors_name_the_line_and_field) {
  expect_error("server_key: \"a\"\nserver_crt: \"b\"\n", "ssl.cfg:2", "server_crt: unknown field");
  expect_error("server_key: \"a\"\nserver_key: \"b\"\n", "ssl.cfg:2", "server_key: given twice");
  expect_error("server_key \"a\"\n", "server_key: expected ':'", NULL);
  expect_error("server_key: a\n", "server_key: expected a quoted string", NULL);
  expect_error("server_key: \"abc\n", "unterminated string", NULL);
  expect_error("server_key: \"a\\qb\"\n", "unknown escape", NULL);
  expect_error("server_key: \"\"\n", "server_key: empty", NULL);
  expect_error("client_verify: yes\n", "client_verify: expected true or false", NULL);
  expect_error("server_key: \"a\"\n", "server_cert is required", NULL);
  expect_error("server_cert: \"a\"\n", "server_key is required", NULL);
  expect_error("server_key: \"a\"\nserver_key_file: \"k\"\nserver_cert: \"c\"\n",
               "give server_key or server_key_file, not both", NULL);
  expect_error("", "server_key is required", NULL);
  expect_error("{", "expected a field name", NULL);
}
