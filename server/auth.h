/*
 * auth.h — optional bearer-token access control for REST and gRPC (issue 8 item 7).
 *
 * Two tokens, each read once at start from a file (--auth_token_file, --admin_token_file):
 * the predict token guards inference (REST :predict and /infer, gRPC Predict and ModelInfer);
 * the admin token guards every other endpoint except the probes (REST /v2/health/live and /ready, /metrics,
 * /monitoring/prometheus/metrics; gRPC Health/Check, ServerLive, ServerReady), which stay
 * open so that orchestrators need no secret. A scope whose flag is not given is open. The
 * tokens are separate on purpose: a client allowed to predict cannot list or inspect models.
 *
 * Comparison runs over the whole expected token whatever the input, so its time does not
 * tell how many leading bytes matched. serve.c owns the srv_auth and hands it to the REST API
 * (srv_api_set_auth) and the gRPC front (srv_grpc_params.auth) before they start; it is only
 * read after that, so it needs no lock.
 */
#ifndef ORCHARD_SRV_AUTH_H
#define ORCHARD_SRV_AUTH_H

#include <stdbool.h>
#include <stddef.h>

typedef enum srv_auth_scope {
  SRV_AUTH_OPEN = 0, /* health and metrics: never checked */
  SRV_AUTH_PREDICT,  /* inference: --auth_token_file */
  SRV_AUTH_ADMIN     /* everything else: --admin_token_file */
} srv_auth_scope;

typedef struct srv_auth {
  char *predict, *admin; /* NULL: that scope is open */
  size_t predict_len, admin_len;
} srv_auth;

typedef enum srv_auth_verdict {
  SRV_AUTH_OK = 0,
  SRV_AUTH_MISSING, /* no credentials, or not a Bearer credential */
  SRV_AUTH_WRONG    /* a Bearer token that is not the one configured */
} srv_auth_verdict;

/* Reads the token of `flag` (e.g. "--auth_token_file") from `path`: trailing CR/LF stripped;
 * empty, unreadable, over 4 KiB, or holding spaces / control characters is an error whose
 * message names the flag and the file. *out is malloc'd. 0 or -1. */
int srv_auth_read_token(const char *flag, const char *path, char **out, size_t *len, char *msg,
                        size_t cap);
/* Loads both files (either may be NULL: that scope stays open). 0 or -1 with msg. */
int srv_auth_load(srv_auth *a, const char *predict_file, const char *admin_file, char *msg,
                  size_t cap);
void srv_auth_free(srv_auth *a);

/* True when the token `got` equals `want`; time depends on want_len only. */
bool srv_auth_token_equal(const char *want, size_t want_len, const char *got, size_t got_len);
/* True when `scope` needs a token (one is configured for it): callers can skip looking for
 * credentials otherwise. */
bool srv_auth_required(const srv_auth *a, srv_auth_scope scope);
/* Verdict for the value of an Authorization header (NULL when absent) in `scope`. */
srv_auth_verdict srv_auth_check(const srv_auth *a, srv_auth_scope scope, const char *header,
                                size_t header_len);
/* The flag that guards `scope` (for messages). */
const char *srv_auth_flag(srv_auth_scope scope);

#endif
