/*
 * flags.h — every `orchard serve` flag, declared once in a table (name, type, default, help,
 * validator) so that --help, parsing, validation and docs cannot drift apart. Names are
 * TensorFlow Serving's (design.md) so existing manifests carry over.
 *
 * Both `--flag=value` and `--flag value` parse; a bool may be given bare (`--enable_batching`)
 * or with true/false/1/0. An unknown flag or a bad value is an error naming the flag.
 */
#ifndef ORCHARD_SRV_FLAGS_H
#define ORCHARD_SRV_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum srv_log_format { SRV_LOG_FORMAT_TEXT = 0, SRV_LOG_FORMAT_JSON } srv_log_format;
typedef enum srv_log_level {
  SRV_LOG_DEBUG = 0,
  SRV_LOG_INFO,
  SRV_LOG_WARN,
  SRV_LOG_ERROR
} srv_log_level;

typedef struct srv_flags {
  int64_t port;          /* gRPC (server/grpc/srv_grpc.h); 0 disables it */
  int64_t rest_api_port; /* 0 disables REST */
  char *model_name;
  char *model_base_path;
  char *model_config_file;
  int64_t file_system_poll_wait_seconds; /* 0: poll once at start */
  bool enable_batching;
  char *batching_parameters_file;
  int64_t tensorflow_intra_op_parallelism; /* 0: decide from the CPU quota */
  int64_t tensorflow_inter_op_parallelism; /* 0: decide from the CPU quota */
  int64_t rest_api_timeout_in_ms;          /* 0: no timeout */
  char *ssl_config_file;
  bool enable_model_warmup;
  bool auto_tune;
  int64_t max_request_bytes;
  int log_format; /* srv_log_format */
  int log_level;  /* srv_log_level */
  char *auth_token_file;  /* bearer token for predict/infer (auth.h) */
  char *admin_token_file; /* bearer token for every other non-probe endpoint (auth.h) */
  int64_t lame_duck_seconds; /* SIGTERM: readiness off, still serving, this long (serve.c) */
} srv_flags;

/* Fills every field with its default (parsed from the table, like any given value). */
void srv_flags_init(srv_flags *f);
void srv_flags_free(srv_flags *f);

/* Parses argv (the arguments after `serve`). Returns 0 on success, 1 when --help was given,
 * -1 on error with a message naming the flag in err. Also checks combinations (--port vs
 * --rest_api_port). As in TF Serving, --model_config_file wins over --model_name and
 * --model_base_path (its Docker entrypoint always passes those two). */
int srv_flags_parse(srv_flags *f, int argc, char **argv, char *err, size_t errcap);


/* The flag table as `orchard serve --help` prints it. */
void srv_flags_help(FILE *out);

const char *srv_log_level_name(int level);
const char *srv_log_format_name(int format);

#endif
