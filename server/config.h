/*
 * config.h — the two JSON config files `orchard serve` reads (design.md, field names as in
 * TF Serving): --model_config_file (model_config_list) and --batching_parameters_file.
 * Parsing is strict: an unknown field, a wrong type or a bad value is an error whose message
 * names the file and the JSON path of the field ("models.json: model_config_list[1].
 * model_version_policy.latest.num_versions: must be a positive integer"). A model entry may
 * carry "batching_parameters" (the batching file's fields, all optional) overriding the file
 * for that model only.
 */
#ifndef ORCHARD_SRV_CONFIG_H
#define ORCHARD_SRV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fields a file or a model entry gave explicitly (srv_batching_params.given). */
enum {
  SRV_BP_MAX_BATCH_SIZE = 1u << 0,
  SRV_BP_TIMEOUT = 1u << 1,
  SRV_BP_MAX_ENQUEUED = 1u << 2,
  SRV_BP_THREADS = 1u << 3,
  SRV_BP_ALLOWED = 1u << 4,
  SRV_BP_SPLIT = 1u << 5,
};

typedef struct srv_batching_params {
  int64_t max_batch_size, batch_timeout_micros, max_enqueued_batches, num_batch_threads;
  int64_t *allowed_batch_sizes;
  int n_allowed;
  bool enable_large_batch_splitting;
  unsigned given; /* SRV_BP_* of the fields the text gave; the others hold defaults */
} srv_batching_params;

typedef enum srv_policy { SRV_POLICY_LATEST = 0, SRV_POLICY_ALL, SRV_POLICY_SPECIFIC } srv_policy;

typedef struct srv_label {
  char *name;
  int64_t version;
} srv_label;

typedef struct srv_model_spec {
  char *name, *base_path;
  srv_policy policy;
  int64_t num_versions; /* latest */
  int64_t *versions;    /* specific, ascending, unique */
  int n_versions;
  srv_label *labels;
  int n_labels;
  /* "batching_parameters" of the entry (only the fields in ->given count), NULL if none. */
  srv_batching_params *batching;
} srv_model_spec;

typedef struct srv_model_config {
  srv_model_spec *models;
  int n_models;
} srv_model_config;

/* 0 on success; -1 with the message in msg. `path` names the file in messages. */
int srv_config_parse_models(const char *text, size_t len, const char *path, srv_model_config *out,
                            char *msg, size_t cap);
int srv_config_load_models(const char *path, srv_model_config *out, char *msg, size_t cap);
/* One model from --model_name / --model_base_path: policy latest 1, no labels. */
int srv_config_single(const char *name, const char *base_path, srv_model_config *out);
void srv_model_config_free(srv_model_config *c);
bool srv_model_spec_equal(const srv_model_spec *a, const srv_model_spec *b);
/* Model names become URL path segments: non-empty, no '/', ':' or control characters. */
bool srv_config_valid_name(const char *name);

int srv_config_parse_batching(const char *text, size_t len, const char *path,
                              srv_batching_params *out, char *msg, size_t cap);
int srv_config_load_batching(const char *path, srv_batching_params *out, char *msg, size_t cap);
void srv_batching_params_free(srv_batching_params *b);
/* A model's effective parameters: `base` (the parsed file or its defaults) with the fields
 * `over` gave replaced. When `over` changes max_batch_size but not allowed_batch_sizes, the
 * inherited sizes below the new maximum are kept and the maximum appended. Errors (the last
 * allowed size differs from max_batch_size, the queue bound is exceeded) name `path` and
 * the JSON path `at` of the model's batching_parameters. out is freed with
 * srv_batching_params_free. */
int srv_config_merge_batching(const srv_batching_params *base, const srv_batching_params *over,
                              srv_batching_params *out, const char *path, const char *at, char *msg,
                              size_t cap);
/* Same fields given with the same values (NULL equals only NULL). */
bool srv_batching_params_equal(const srv_batching_params *a, const srv_batching_params *b);

#endif
