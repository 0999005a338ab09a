/*
 * test_auth.c — bearer tokens (auth.c): reading the token files (trailing newline, empty,
 * unreadable, bad bytes, too long — each error names the flag and the file), the Bearer header
 * parse, the constant-time comparison, and which scope each token guards, plus the flags that
 * name the files (flags.c).
 *
 * Token files are real files in a temporary directory, as a user would give them.
 */
#include "auth.h"
#include "flags.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/orchard-auth-XXXXXX";

static void setup(void) { cr_assert(mkdtemp(dir) != NULL); }
static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  (void)system(cmd);
}

TestSuite(auth, .init = setup, .fini = teardown);

/* Writes `len` bytes of `text` to <dir>/<name>; returns the path (static buffer per call). */
static const char *put(const char *name, const char *text, size_t len) {
  static char paths[8][256];
  static int k;
  char *p = paths[k++ % 8];
  snprintf(p, 256, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  cr_assert(f);
  cr_assert_eq(fwrite(text, 1, len, f), len);
  fclose(f);
  return p;
}

Test(auth, reads_token_and_strips_trailing_newline) {
  char msg[512], *tok;
  size_t len;
  cr_assert_eq(srv_auth_read_token("--auth_token_file", put("a", "s3cr3t\n", 7), &tok, &len, msg,
                                   sizeof msg),
               0, "%s", msg);
  cr_assert_str_eq(tok, "s3cr3t");
  cr_assert_eq(len, 6);
  free(tok);
  cr_assert_eq(srv_auth_read_token("--auth_token_file", put("b", "xyz\r\n\n", 6), &tok, &len,
                                   msg, sizeof msg),
               0, "%s", msg);
  cr_assert_str_eq(tok, "xyz");
  free(tok);
  cr_assert_eq(srv_auth_read_token("--auth_token_file", put("c", "nonl", 4), &tok, &len, msg,
                                   sizeof msg),
               0, "%s", msg);
  cr_assert_str_eq(tok, "nonl");
  free(tok);
}

Test(auth, file_errors_name_flag_and_file) {
  char msg[512], *tok = (char *)1;
  size_t len;
  const char *empty = put("empty", "", 0);
  cr_assert_eq(srv_auth_read_token("--auth_token_file", empty, &tok, &len, msg, sizeof msg), -1);
  cr_assert_null(tok);
  cr_assert(strstr(msg, "--auth_token_file") && strstr(msg, empty) && strstr(msg, "empty"), "%s",
            msg);
  const char *nl = put("nl", "\n\n", 2);
  cr_assert_eq(srv_auth_read_token("--admin_token_file", nl, &tok, &len, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "--admin_token_file") && strstr(msg, "empty"), "%s", msg);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/none", dir);
  cr_assert_eq(srv_auth_read_token("--admin_token_file", missing, &tok, &len, msg, sizeof msg),
               -1);
  cr_assert(strstr(msg, "--admin_token_file") && strstr(msg, missing) &&
                strstr(msg, "No such file"),
            "%s", msg);
  cr_assert_eq(srv_auth_read_token("--auth_token_file", put("sp", "two words\n", 10), &tok, &len,
                                   msg, sizeof msg),
               -1);
  cr_assert(strstr(msg, "byte 3"), "%s", msg);
  cr_assert_eq(srv_auth_read_token("--auth_token_file", put("nul", "ab\0c", 4), &tok, &len, msg,
                                   sizeof msg),
               -1);
  char big[5000];
  memset(big, 'k', sizeof big);
  cr_assert_eq(srv_auth_read_token("--auth_token_file", put("big", big, sizeof big), &tok, &len,
                                   msg, sizeof msg),
               -1);
  cr_assert(strstr(msg, "longer than 4096"), "%s", msg);
  /* Exactly the limit is fine. */
  cr_assert_eq(srv_auth_read_token("--auth_token_file", put("max", big, 4096), &tok, &len, msg,
                                   sizeof msg),
               0, "%s", msg);
  cr_assert_eq(len, 4096);
  free(tok);
}

Test(auth, load_both_and_free) {
  char msg[512];
  srv_auth a;
  cr_assert_eq(srv_auth_load(&a, put("p", "pp\n", 3), put("q", "qq", 2), msg, sizeof msg), 0,
               "%s", msg);
  cr_assert_str_eq(a.predict, "pp");
  cr_assert_str_eq(a.admin, "qq");
  srv_auth_free(&a);
  cr_assert_null(a.predict);
  cr_assert_null(a.admin);
  /* A bad admin file fails the whole load and leaves nothing behind. */
  cr_assert_eq(srv_auth_load(&a, put("p2", "pp", 2), put("e", "", 0), msg, sizeof msg), -1);
  cr_assert_null(a.predict);
  cr_assert(strstr(msg, "--admin_token_file"), "%s", msg);
  cr_assert_eq(srv_auth_load(&a, NULL, NULL, msg, sizeof msg), 0);
  cr_assert_null(a.predict);
  srv_auth_free(&a);
}

Test(auth, token_equal) {
  cr_assert(srv_auth_token_equal("abc", 3, "abc", 3));
  cr_assert_not(srv_auth_token_equal("abc", 3, "abd", 3));
  cr_assert_not(srv_auth_token_equal("abc", 3, "xbc", 3));
  cr_assert_not(srv_auth_token_equal("abc", 3, "ab", 2));     /* prefix */
  cr_assert_not(srv_auth_token_equal("abc", 3, "abcd", 4));   /* extension */
  cr_assert_not(srv_auth_token_equal("abc", 3, "", 0));
  cr_assert_not(srv_auth_token_equal("ab", 2, "ab\0", 3));    /* a NUL does not end it */
}

static srv_auth both(void) {
  srv_auth a = {0};
  a.predict = strdup("ptok");
  a.predict_len = 4;
  a.admin = strdup("atok");
  a.admin_len = 4;
  return a;
}

static srv_auth_verdict CHECK(const srv_auth *a, srv_auth_scope scope, const char *hdr) {
  return srv_auth_check(a, scope, hdr, hdr ? strlen(hdr) : 0);
}

Test(auth, check_scopes_and_header_forms) {
  srv_auth a = both();
  /* Probes are open whatever is sent. */
  cr_assert_eq(CHECK(&a, SRV_AUTH_OPEN, NULL), SRV_AUTH_OK);
  cr_assert_eq(CHECK(&a, SRV_AUTH_OPEN, "Bearer wrong"), SRV_AUTH_OK);
  /* Each scope takes its own token only. */
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "Bearer ptok"), SRV_AUTH_OK);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "Bearer atok"), SRV_AUTH_WRONG);
  cr_assert_eq(CHECK(&a, SRV_AUTH_ADMIN, "Bearer atok"), SRV_AUTH_OK);
  cr_assert_eq(CHECK(&a, SRV_AUTH_ADMIN, "Bearer ptok"), SRV_AUTH_WRONG);
  /* Scheme is case-insensitive; extra spaces around the token are tolerated. */
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "bearer ptok"), SRV_AUTH_OK);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "BEARER   ptok  "), SRV_AUTH_OK);
  /* Missing or not Bearer. */
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, NULL), SRV_AUTH_MISSING);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, ""), SRV_AUTH_MISSING);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "Bearer"), SRV_AUTH_MISSING);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "Bearer "), SRV_AUTH_MISSING);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "Basic cHRvaw=="), SRV_AUTH_MISSING);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "ptok"), SRV_AUTH_MISSING);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "Bearerptok"), SRV_AUTH_MISSING);
  /* Wrong tokens, including prefixes and extensions of the right one. */
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "Bearer ptokx"), SRV_AUTH_WRONG);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "Bearer pto"), SRV_AUTH_WRONG);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, "Bearer p tok"), SRV_AUTH_WRONG);
  /* The header length bounds the read (gRPC metadata is not NUL-terminated). */
  cr_assert_eq(srv_auth_check(&a, SRV_AUTH_PREDICT, "Bearer ptokGARBAGE", 11), SRV_AUTH_OK);
  srv_auth_free(&a);
}

Test(auth, unset_scopes_are_open) {
  srv_auth a = both();
  free(a.admin);
  a.admin = NULL;
  a.admin_len = 0;
  cr_assert_eq(CHECK(&a, SRV_AUTH_ADMIN, NULL), SRV_AUTH_OK);
  cr_assert_eq(CHECK(&a, SRV_AUTH_PREDICT, NULL), SRV_AUTH_MISSING);
  cr_assert_eq(CHECK(NULL, SRV_AUTH_PREDICT, NULL), SRV_AUTH_OK);
  srv_auth_free(&a);
  cr_assert_str_eq(srv_auth_flag(SRV_AUTH_PREDICT), "--auth_token_file");
  cr_assert_str_eq(srv_auth_flag(SRV_AUTH_ADMIN), "--admin_token_file");
}


Test(auth, flags_parse) {
  srv_flags f;
  srv_flags_init(&f);
  cr_assert_null(f.auth_token_file);
  cr_assert_null(f.admin_token_file);
  char *argv[] = {"--auth_token_file=/run/p", "--admin_token_file", "/run/a"};
  char err[256];
  cr_assert_eq(srv_flags_parse(&f, 3, argv, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(f.auth_token_file, "/run/p");
  cr_assert_str_eq(f.admin_token_file, "/run/a");
  char *bad[] = {"--auth_token_file="};
  cr_assert_eq(srv_flags_parse(&f, 1, bad, err, sizeof err), -1);
  cr_assert(strstr(err, "--auth_token_file"), "%s", err);
  srv_flags_free(&f);
  char *buf;
  size_t len;
  FILE *m = open_memstream(&buf, &len);
  srv_flags_help(m);
  fclose(m);
  cr_assert(strstr(buf, "--auth_token_file") && strstr(buf, "--admin_token_file"));
  free(buf);
}
