/*
 * auth.c — bearer tokens: reading the token files, parsing "Authorization: Bearer <token>"
 * and comparing in constant time (auth.h).
 *
 * Invariant: a loaded token is 1..4096 bytes of visible ASCII (no space, no control byte),
 * so every token a client can send in a header could match it and a file with a stray
 * character fails at start instead of locking every client out.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOKEN_BYTES 4096



int srv_auth_read_token(const char *flag, const char *path, char **out, size_t *len, char *msg,
                        size_t cap) {
  *out = NULL;
  *len = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    snprintf(msg, cap, "%s=%s: cannot read the token file: %s", flag, path, strerror(errno));
    return -1;
  }
  /* The limit plus a CRLF: a longer file is too long whatever its last bytes are. */
  char *buf = malloc(MAX_TOKEN_BYTES + 2);
  if (!buf) {
    fclose(fp);
    snprintf(msg, cap, "%s=%s: out of memory", flag, path);
    return -1;
  }
  size_t n = fread(buf, 1, MAX_TOKEN_BYTES + 2, fp);
  bool err = ferror(fp);
  fclose(fp);
  if (err) {
    free(buf);
    snprintf(msg, cap, "%s=%s: cannot read the token file", flag, path);
    return -1;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    n--;
  if (n == 0) {
    free(buf);
    snprintf(msg, cap, "%s=%s: the token file is empty", flag, path);
    return -1;
  }
  if (n > MAX_TOKEN_BYTES) {
    free(buf);
    snprintf(msg, cap, "%s=%s: the token is longer than %d bytes", flag, path, MAX_TOKEN_BYTES);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)buf[i];
    if (ch <= ' ' || ch >= 0x7f) {
      free(buf);
      snprintf(msg, cap,
               "%s=%s: byte %zu of the token is a space, control or non-ASCII character "
               "(a bearer token is one line of visible ASCII)",
               flag, path, i);
      return -1;
    }
  }
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}

int srv_auth_load(srv_auth *a, const char *predict_file, const char *admin_file, char *msg,
                  size_t cap) {
  memset(a, 0, sizeof *a);
  if (predict_file && srv_auth_read_token("--auth_token_file", predict_file, &a->predict,
                                          &a->predict_len, msg, cap) != 0)
    return -1;
  if (admin_file && srv_auth_read_token("--admin_token_file", admin_file, &a->admin,
                                        &a->admin_len, msg, cap) != 0) {
    srv_auth_free(a);
    return -1;
  }
  return 0;
}

void srv_auth_free(srv_auth *a) {
  /* Tokens are secrets: do not leave them in freed heap memory. */
  if (a->predict)
    memset(a->predict, 0, a->predict_len);
  if (a->admin)
    memset(a->admin, 0, a->admin_len);
  free(a->predict);
  free(a->admin);
  memset(a, 0, sizeof *a);
}

bool srv_auth_token_equal(const char *want, size_t want_len, const char *got, size_t got_len) {
  /* Every byte of `want` is visited and folded into d, whether or not an earlier byte
   * differed; a shorter `got` compares against zero bytes (a token never holds one). */
  volatile unsigned char d = (unsigned char)(want_len != got_len);
  for (size_t i = 0; i < want_len; i++) {
    unsigned char g = i < got_len ? (unsigned char)got[i] : 0;
    d |= (unsigned char)((unsigned char)want[i] ^ g);
  }
  return d == 0;
}

bool srv_auth_required(const srv_auth *a, srv_auth_scope scope) {
  return a && ((scope == SRV_AUTH_PREDICT && a->predict) || (scope == SRV_AUTH_ADMIN && a->admin));
}

srv_auth_verdict srv_auth_check(const srv_auth *a, srv_auth_scope scope, const char *header,
                                size_t header_len) {
  const char *want = NULL;
  size_t want_len = 0;
  if (a && scope == SRV_AUTH_PREDICT) {
    want = a->predict;
    want_len = a->predict_len;
  } else if (a && scope == SRV_AUTH_ADMIN) {
    want = a->admin;
    want_len = a->admin_len;
  }
  if (!want)
    return SRV_AUTH_OK;
  /* RFC 6750 2.1: "Bearer" 1*SP token; the scheme name is case-insensitive (RFC 7235). */
  if (!header || header_len < 7 || strncasecmp(header, "Bearer ", 7) != 0)
    return SRV_AUTH_MISSING;
  const char *tok = header + 7, *end = header + header_len;
  while (tok < end && *tok == ' ')
    tok++;
  while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  if (tok == end)
    return SRV_AUTH_MISSING;
  return srv_auth_token_equal(want, want_len, tok, (size_t)(end - tok)) ? SRV_AUTH_OK
                                                                        : SRV_AUTH_WRONG;
}

const char *srv_auth_flag(srv_auth_scope scope) {
  return scope == SRV_AUTH_PREDICT ? "--auth_token_file"
         : scope == SRV_AUTH_ADMIN ? "--admin_token_file"
                                   : "";
}
