/*
 * tls.c — --ssl_config_file: TF Serving's SSLConfig text format, checked with OpenSSL.
 *
 * The parser reads the one flat message SSLConfig is (no nesting), strictly: an unknown or
 * repeated field is an error naming it and its line, so a typo cannot silently turn client
 * verification off. OpenSSL then parses every PEM the way the TLS stacks will, and compares
 * key and certificate, so a bad file fails `orchard serve` at start with a message instead of
 * failing every handshake later.
 */
#include "tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_MAX_FILE (1 << 20) /* a config or PEM larger than 1 MiB is not a TLS config */

struct srv_tls {
  char *key, *cert, *ca;
  bool client_verify;
  char summary[512];
};

static int tls_fail(char *msg, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int tls_fail(char *msg, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, cap, fmt, ap);
  va_end(ap);
  return -1;
}

/* OpenSSL's reason for the last failure, or `fallback`. Clears its queue. */
static const char *tls_ossl_reason(char *buf, size_t cap, const char *fallback) {
  unsigned long e = ERR_peek_last_error();
  if (!e)
    snprintf(buf, cap, "%s", fallback);
  else
    ERR_error_string_n(e, buf, cap);
  ERR_clear_error();
  return buf;
}

static char *tls_read_file(const char *path, size_t *len, char *msg, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    tls_fail(msg, cap, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(TLS_MAX_FILE + 1);
  size_t n = buf ? fread(buf, 1, TLS_MAX_FILE + 1, f) : 0;
  bool bad = ferror(f) != 0;
  fclose(f);
  if (!buf || bad || n > TLS_MAX_FILE) {
    tls_fail(msg, cap, "%s: %s", path,
             !buf ? "out of memory" : bad ? "read error" : "larger than 1 MiB");
    free(buf);
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

/* ---- the text format ---- */

typedef struct tls_lex {
  const char *p, *end, *path;
  int line;
  char *msg;
  size_t cap;
} tls_lex;

static void tls_skip(tls_lex *lx) {
  while (lx->p < lx->end) {
    if (*lx->p == '\n') {
      lx->line++;
      lx->p++;
    } else if (isspace((unsigned char)*lx->p)) {
      lx->p++;
    } else if (*lx->p == '#') {
      while (lx->p < lx->end && *lx->p != '\n')
        lx->p++;
    } else {
      break;
    }
  }
}

static int tls_lex_fail(tls_lex *lx, const char *field, const char *what) {
  return tls_fail(lx->msg, lx->cap, "%s:%d: %s%s%s", lx->path, lx->line, field ? field : "",
                  field ? ": " : "", what);
}

/* One quoted string (either quote), escapes decoded, appended to *out. */
static int tls_string(tls_lex *lx, const char *field, char **out, size_t *len) {
  char q = *lx->p++;
  size_t cap = *len + (size_t)(lx->end - lx->p) + 1;
  char *s = realloc(*out, cap);
  if (!s)
    return tls_lex_fail(lx, field, "out of memory");
  *out = s;
  while (lx->p < lx->end && *lx->p != q) {
    char c = *lx->p++;
    if (c == '\n')
      lx->line++; /* PEM pasted with real newlines: accepted, as many SSLConfig files do it */
    if (c == '\\') {
      if (lx->p >= lx->end)
        break;
      char e = *lx->p++;
      switch (e) {
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case '\\': case '"': case '\'': c = e; break;
      case '\n': lx->line++; continue; /* line continuation */
      default: return tls_lex_fail(lx, field, "unknown escape in string");
      }
    }
    s[(*len)++] = c;
  }
  if (lx->p >= lx->end)
    return tls_lex_fail(lx, field, "unterminated string");
  lx->p++;
  s[*len] = 0;
  return 0;
}

/* Adjacent strings concatenate, as in protobuf text format. */
static int tls_strings(tls_lex *lx, const char *field, char **out) {
  size_t len = 0;
  *out = NULL;
  do {
    if (tls_string(lx, field, out, &len) != 0)
      return -1;
    tls_skip(lx);
  } while (lx->p < lx->end && (*lx->p == '"' || *lx->p == '\''));
  if (len == 0)
    return tls_lex_fail(lx, field, "empty");
  return 0;
}

/* Resolves `name` against the config file's directory. */
static char *tls_sibling(const char *cfg, const char *name) {
  const char *slash = strrchr(cfg, '/');
  size_t dir = name[0] == '/' || !slash ? 0 : (size_t)(slash - cfg) + 1;
  char *p = malloc(dir + strlen(name) + 1);
  if (p) {
    memcpy(p, cfg, dir);
    strcpy(p + dir, name);
  }
  return p;
}

typedef struct tls_fields {
  char *val[6]; /* server_key, server_cert, custom_ca, and their *_file forms */
  int bool_seen;
  bool client_verify;
} tls_fields;

static const char *const tls_names[6] = {"server_key",      "server_cert",      "custom_ca",
                                         "server_key_file", "server_cert_file", "custom_ca_file"};

static int tls_parse_fields(tls_lex *lx, tls_fields *f) {
  for (;;) {
    tls_skip(lx);
    if (lx->p >= lx->end)
      return 0;
    const char *n0 = lx->p;
    while (lx->p < lx->end && (isalnum((unsigned char)*lx->p) || *lx->p == '_'))
      lx->p++;
    size_t nl = (size_t)(lx->p - n0);
    char name[40];
    if (nl == 0 || nl >= sizeof name)
      return tls_lex_fail(lx, NULL, "expected a field name");
    memcpy(name, n0, nl);
    name[nl] = 0;
    tls_skip(lx);
    if (lx->p >= lx->end || *lx->p != ':')
      return tls_lex_fail(lx, name, "expected ':' after the field name");
    lx->p++;
    tls_skip(lx);
    if (!strcmp(name, "client_verify")) {
      if (f->bool_seen++)
        return tls_lex_fail(lx, name, "given twice");
      const char *v0 = lx->p;
      while (lx->p < lx->end && isalnum((unsigned char)*lx->p))
        lx->p++;
      size_t vl = (size_t)(lx->p - v0);
      if ((vl == 4 && !strncmp(v0, "true", 4)) || (vl == 1 && *v0 == '1'))
        f->client_verify = true;
      else if ((vl == 5 && !strncmp(v0, "false", 5)) || (vl == 1 && *v0 == '0'))
        f->client_verify = false;
      else
        return tls_lex_fail(lx, name, "expected true or false");
    } else {
      int idx = -1;
      for (int i = 0; i < 6; i++)
        if (!strcmp(name, tls_names[i]))
          idx = i;
      if (idx < 0)
        return tls_lex_fail(lx, name,
                            "unknown field (expected server_key, server_cert, custom_ca, "
                            "client_verify, or server_key_file, server_cert_file, "
                            "custom_ca_file)");
      if (f->val[idx])
        return tls_lex_fail(lx, name, "given twice");
      if (lx->p >= lx->end || (*lx->p != '"' && *lx->p != '\''))
        return tls_lex_fail(lx, name, "expected a quoted string");
      if (tls_strings(lx, name, &f->val[idx]) != 0)
        return -1;
    }
    tls_skip(lx);
    if (lx->p < lx->end && (*lx->p == ';' || *lx->p == ','))
      lx->p++;
  }
}

/* ---- OpenSSL checks ---- */

static EVP_PKEY *tls_key(const char *pem) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  return k;
}

/* Every certificate of a PEM bundle; returns how many, 0 if none parsed. first gets the first
 * (caller frees) when non-NULL. */
static int tls_certs(const char *pem, X509 **first) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  int n = 0;
  X509 *x;
  while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    if (n++ == 0 && first)
      *first = x;
    else
      X509_free(x);
  }
  BIO_free(b);
  ERR_clear_error(); /* the end of the bundle reads as a "no start line" error */
  return n;
}

static int tls_check(srv_tls *t, const char *path, char *msg, size_t cap) {
  char why[256];
  int rc = -1;
  X509 *cert = NULL;
  EVP_PKEY *key = tls_key(t->key);
  if (!key) {
    tls_fail(msg, cap, "%s: server_key: not a PEM private key (%s)", path,
             tls_ossl_reason(why, sizeof why, "no key found"));
    goto done;
  }
  if (tls_certs(t->cert, &cert) == 0 || !cert) {
    tls_fail(msg, cap, "%s: server_cert: not a PEM certificate", path);
    goto done;
  }
  if (X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    tls_fail(msg, cap, "%s: server_key does not match server_cert (the key is not the one the "
                       "certificate was issued for)",
             path);
    goto done;
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
    tls_fail(msg, cap, "%s: server_cert has expired", path);
    goto done;
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
    tls_fail(msg, cap, "%s: server_cert is not valid yet", path);
    goto done;
  }
  if (t->ca && tls_certs(t->ca, NULL) == 0) {
    tls_fail(msg, cap, "%s: custom_ca: no PEM certificate in it", path);
    goto done;
  }
  if (t->client_verify && !t->ca) {
    tls_fail(msg, cap, "%s: client_verify needs custom_ca (the CA client certificates must "
                       "chain to)",
             path);
    goto done;
  }
  char subject[256] = "?", until[64] = "?";
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  BIO *b = BIO_new(BIO_s_mem());
  if (b && ASN1_TIME_print(b, X509_get0_notAfter(cert)) == 1) {
    int n = BIO_read(b, until, sizeof until - 1);
    until[n > 0 ? n : 0] = 0;
  }
  BIO_free(b);
  snprintf(t->summary, sizeof t->summary, "certificate %s, valid until %s%s", subject, until,
           t->client_verify ? ", client certificates required" : "");
  rc = 0;
done:
  X509_free(cert);
  EVP_PKEY_free(key);
  ERR_clear_error();
  return rc;
}

int srv_tls_parse(const char *text, size_t len, const char *path, srv_tls **out, char *msg,
                  size_t cap) {
  *out = NULL;
  tls_lex lx = {.p = text, .end = text + len, .path = path, .line = 1, .msg = msg, .cap = cap};
  tls_fields f = {0};
  srv_tls *t = calloc(1, sizeof *t);
  int rc = -1;
  if (!t) {
    tls_fail(msg, cap, "%s: out of memory", path);
    goto done;
  }
  if (tls_parse_fields(&lx, &f) != 0)
    goto done;
  char **dst[3] = {&t->key, &t->cert, &t->ca};
  for (int i = 0; i < 3; i++) {
    if (f.val[i] && f.val[i + 3]) {
      tls_fail(msg, cap, "%s: give %s or %s, not both", path, tls_names[i], tls_names[i + 3]);
      goto done;
    }
    if (f.val[i]) {
      *dst[i] = f.val[i];
      f.val[i] = NULL;
    } else if (f.val[i + 3]) {
      char *file = tls_sibling(path, f.val[i + 3]);
      size_t n;
      char why[512];
      *dst[i] = file ? tls_read_file(file, &n, why, sizeof why) : NULL;
      free(file);
      if (!*dst[i]) {
        tls_fail(msg, cap, "%s: %s: %s", path, tls_names[i + 3], why);
        goto done;
      }
    }
  }
  if (!t->key || !t->cert) {
    tls_fail(msg, cap, "%s: %s is required", path, !t->key ? "server_key" : "server_cert");
    goto done;
  }
  t->client_verify = f.client_verify;
  if (tls_check(t, path, msg, cap) != 0)
    goto done;
  *out = t;
  t = NULL;
  rc = 0;
done:
  for (int i = 0; i < 6; i++)
    free(f.val[i]);
  srv_tls_free(t);
  return rc;
}

int srv_tls_load(const char *path, srv_tls **out, char *msg, size_t cap) {
  size_t len;
  char *text = tls_read_file(path, &len, msg, cap);
  *out = NULL;
  if (!text)
    return -1;
  int rc = srv_tls_parse(text, len, path, out, msg, cap);
  free(text);
  return rc;
}

void srv_tls_free(srv_tls *t) {
  if (!t)
    return;
  if (t->key) /* private key bytes do not outlive the server */
    OPENSSL_cleanse(t->key, strlen(t->key));
  free(t->key);
  free(t->cert);
  free(t->ca);
  free(t);
}

const char *srv_tls_key_pem(const srv_tls *t) { return t->key; }
const char *srv_tls_cert_pem(const srv_tls *t) { return t->cert; }
const char *srv_tls_ca_pem(const srv_tls *t) { return t->ca; }
bool srv_tls_client_verify(const srv_tls *t) { return t->client_verify; }
const char *srv_tls_summary(const srv_tls *t) { return t->summary; }
