/*
 * flags.c — the `orchard serve` flag table and its parser.
 *
 * SRV_FLAGS is the only place a flag is declared: the parser, the validators, the defaults
 * and `--help` all read it. Defaults are strings run through the same parser as user input,
 * so a default can never be a value the validator would reject.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "flags.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef enum flag_type { FLAG_INT, FLAG_BOOL, FLAG_STRING, FLAG_ENUM } flag_type;

typedef struct flag_def {
  const char *name;
  flag_type type;
  size_t offset;
  const char *def;            /* NULL: unset string */
  int64_t min, max;           /* FLAG_INT */
  const char *const *choices; /* FLAG_ENUM, NULL-terminated; the value is the index */
  const char *help;
} flag_def;

static const char *const LOG_FORMATS[] = {"text", "json", NULL};
static const char *const LOG_LEVELS[] = {"debug", "info", "warn", "error", NULL};

#define OFF(field) offsetof(srv_flags, field)
static const flag_def SRV_FLAGS[] = {
    {"port", FLAG_INT, OFF(port), "8500", 0, 65535, NULL,
     "gRPC port: TF Serving and KServe v2 gRPC APIs and gRPC health (0 = no gRPC)"},
    {"rest_api_port", FLAG_INT, OFF(rest_api_port), "8501", 0, 65535, NULL,
     "REST port for the TF Serving and KServe v2 APIs (0 = no REST)"},
    {"model_name", FLAG_STRING, OFF(model_name), "default", 0, 0, NULL,
     "name of the one model served from --model_base_path"},
    {"model_base_path", FLAG_STRING, OFF(model_base_path), NULL, 0, 0, NULL,
     "repository of one model: <path>/<version>/model.json"},
    {"model_config_file", FLAG_STRING, OFF(model_config_file), NULL, 0, 0, NULL,
     "JSON model_config_list for many models (re-read when it changes and on SIGHUP)"},
    {"file_system_poll_wait_seconds", FLAG_INT, OFF(file_system_poll_wait_seconds), "1", 0, 86400,
     NULL, "seconds between scans of the model repositories (0 = scan once)"},
    {"enable_batching", FLAG_BOOL, OFF(enable_batching), "false", 0, 0, NULL,
     "batch requests of a model version together (--batching_parameters_file; a model "
     "config entry's batching_parameters override it for that model)"},
    {"batching_parameters_file", FLAG_STRING, OFF(batching_parameters_file), NULL, 0, 0, NULL,
     "JSON batching parameters: max_batch_size, batch_timeout_micros, max_enqueued_batches, "
     "num_batch_threads, allowed_batch_sizes, enable_large_batch_splitting"},
    {"tensorflow_intra_op_parallelism", FLAG_INT, OFF(tensorflow_intra_op_parallelism), "0", 0,
     1024, NULL, "threads one inference uses (0 = decide from the CPU quota)"},
    {"tensorflow_inter_op_parallelism", FLAG_INT, OFF(tensorflow_inter_op_parallelism), "0", 0,
     1024, NULL, "workers per model version (0 = decide from the CPU quota)"},
    {"rest_api_timeout_in_ms", FLAG_INT, OFF(rest_api_timeout_in_ms), "30000", 0, INT64_C(86400000),
     NULL, "REST request deadline; 504 after it (0 = none)"},
    {"ssl_config_file", FLAG_STRING, OFF(ssl_config_file), NULL, 0, 0, NULL,
     "TLS for REST and gRPC: TF Serving's SSLConfig text file (server_key, server_cert, "
     "custom_ca, client_verify), checked at start"},
    {"enable_model_warmup", FLAG_BOOL, OFF(enable_model_warmup), "true", 0, 0, NULL,
     "run each worker once at the model's fixed shapes before a version serves"},
    {"auto_tune", FLAG_BOOL, OFF(auto_tune), "false", 0, 0, NULL,
     "pick workers x intra-op threads for each model version by measuring at load, as "
     "`orchard tune` does (a few seconds per version); explicit --tensorflow_*_parallelism win"},
    {"max_request_bytes", FLAG_INT, OFF(max_request_bytes), "67108864", 1, INT64_C(4294967296),
     NULL, "largest request body accepted; larger gets 413"},
    {"log_format", FLAG_ENUM, OFF(log_format), "text", 0, 0, LOG_FORMATS,
     "log line format: text or json"},
    {"log_level", FLAG_ENUM, OFF(log_level), "info", 0, 0, LOG_LEVELS,
     "least severe level logged: debug, info, warn or error"},
    /* Access (issue 8, auth.h): read once at start; an empty or unreadable file stops it. */
    {"auth_token_file", FLAG_STRING, OFF(auth_token_file), NULL, 0, 0, NULL,
     "file holding the bearer token required for predict/infer, REST (Authorization: Bearer) "
     "and gRPC (authorization metadata); unset = open"},
    {"admin_token_file", FLAG_STRING, OFF(admin_token_file), NULL, 0, 0, NULL,
     "file holding the bearer token required for every other endpoint (status, metadata, "
     "model ready, repository index) except health, metrics and the dashboard's static files, "
     "which stay open; unset = open"},
    {"lame_duck_seconds", FLAG_INT, OFF(lame_duck_seconds), "0", 0, 3600, NULL,
     "on SIGTERM, report not ready (REST and gRPC health) but keep accepting and serving "
     "requests this many seconds before draining, so load balancers stop sending first"},
};
#undef OFF
#define N_FLAGS (sizeof SRV_FLAGS / sizeof SRV_FLAGS[0])

const char *srv_log_level_name(int level) {
  return level >= 0 && level < 4 ? LOG_LEVELS[level] : "?";
}
const char *srv_log_format_name(int format) {
  return format >= 0 && format < 2 ? LOG_FORMATS[format] : "?";
}

static int parse_bool(const char *v, bool *out) {
  if (!strcmp(v, "true") || !strcmp(v, "1")) {
    *out = true;
    return 0;
  }
  if (!strcmp(v, "false") || !strcmp(v, "0")) {
    *out = false;
    return 0;
  }
  return -1;
}

/* Stores `value` into the field of `fd`; on a bad value writes why into err. */
static int set_value(srv_flags *f, const flag_def *fd, const char *value, char *err, size_t cap) {
  void *field = (char *)f + fd->offset;
  switch (fd->type) {
  case FLAG_INT: {
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (!*value || *end || errno == ERANGE) {
      snprintf(err, cap, "--%s: '%s' is not an integer", fd->name, value);
      return -1;
    }
    if (v < fd->min || v > fd->max) {
      snprintf(err, cap, "--%s: %lld is out of range [%lld, %lld]", fd->name, v, (long long)fd->min,
               (long long)fd->max);
      return -1;
    }
    *(int64_t *)field = v;
    return 0;
  }
  case FLAG_BOOL:
    if (parse_bool(value, (bool *)field) != 0) {
      snprintf(err, cap, "--%s: '%s' is not a boolean (true, false, 1, 0)", fd->name, value);
      return -1;
    }
    return 0;
  case FLAG_STRING: {
    if (!*value) {
      snprintf(err, cap, "--%s: empty value", fd->name);
      return -1;
    }
    char *copy = strdup(value);
    if (!copy) {
      snprintf(err, cap, "--%s: out of memory", fd->name);
      return -1;
    }
    free(*(char **)field);
    *(char **)field = copy;
    return 0;
  }
  case FLAG_ENUM:
    for (int i = 0; fd->choices[i]; i++)
      if (!strcmp(fd->choices[i], value)) {
        *(int *)field = i;
        return 0;
      }
    {
      size_t o = (size_t)snprintf(err, cap, "--%s: '%s' is not one of", fd->name, value);
      for (int i = 0; fd->choices[i] && o < cap; i++)
        o += (size_t)snprintf(err + o, cap - o, "%s %s", i ? "," : "", fd->choices[i]);
    }
    return -1;
  }
  return -1;
}

void srv_flags_init(srv_flags *f) {
  memset(f, 0, sizeof *f);
  char err[256];
  for (size_t i = 0; i < N_FLAGS; i++)
    if (SRV_FLAGS[i].def)
      (void)set_value(f, &SRV_FLAGS[i], SRV_FLAGS[i].def, err, sizeof err);
}

void srv_flags_free(srv_flags *f) {
  for (size_t i = 0; i < N_FLAGS; i++)
    if (SRV_FLAGS[i].type == FLAG_STRING) {
      char **p = (char **)((char *)f + SRV_FLAGS[i].offset);
      free(*p);
      *p = NULL;
    }
}

static const flag_def *find_flag(const char *name, size_t len) {
  for (size_t i = 0; i < N_FLAGS; i++)
    if (strlen(SRV_FLAGS[i].name) == len && !strncmp(SRV_FLAGS[i].name, name, len))
      return &SRV_FLAGS[i];
  return NULL;
}

int srv_flags_parse(srv_flags *f, int argc, char **argv, char *err, size_t cap) {
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h"))
      return 1;
    if (strncmp(a, "--", 2) != 0 || !a[2]) {
      snprintf(err, cap, "unexpected argument '%s' (flags look like --name=value)", a);
      return -1;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    const flag_def *fd = find_flag(name, nlen);
    if (!fd) {
      snprintf(err, cap, "unknown flag '--%.*s' (see orchard serve --help)", (int)nlen, name);
      return -1;
    }
    const char *value;
    if (eq) {
      value = eq + 1;
    } else if (fd->type == FLAG_BOOL) {
      bool dummy;
      value = (i + 1 < argc && parse_bool(argv[i + 1], &dummy) == 0) ? argv[++i] : "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      snprintf(err, cap, "--%s: missing value", fd->name);
      return -1;
    }
    if (set_value(f, fd, value, err, cap) != 0)
      return -1;
  }
  if (f->port != 0 && f->port == f->rest_api_port) {
    snprintf(err, cap, "--port and --rest_api_port are both %lld: they must differ",
             (long long)f->port);
    return -1;
  }
  return 0;
}

void srv_flags_help(FILE *out) {
  fprintf(out, "usage: orchard serve [flags]   (--flag=value or --flag value)\n\n");
  for (size_t i = 0; i < N_FLAGS; i++) {
    const flag_def *fd = &SRV_FLAGS[i];
    char left[96];
    const char *ty = fd->type == FLAG_INT ? "int" : fd->type == FLAG_BOOL ? "bool" : "string";
    snprintf(left, sizeof left, "--%s=%s", fd->name, ty);
    fprintf(out, "  %-44s %s", left, fd->help);
    if (fd->type == FLAG_INT)
      fprintf(out, " [%lld..%lld]", (long long)fd->min, (long long)fd->max);
    fprintf(out, " (default: %s)\n", fd->def ? fd->def : "none");
  }
}
