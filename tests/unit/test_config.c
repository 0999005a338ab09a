/*
 * test_config.c — the model config and batching parameter files (config.c): what parses,
 * and that every error names the file and the JSON path of the bad field; a model entry's
 * batching_parameters override and how it merges over the batching file.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static char msg[1024];

static int models(const char *text, srv_model_config *c) {
  msg[0] = 0;
  return srv_config_parse_models(text, strlen(text), "m.json", c, msg, sizeof msg);
}

Test(model_config, policies_and_labels) {
  srv_model_config c;
  const char *text =
      "{\"model_config_list\": ["
      "{\"name\": \"a\", \"base_path\": \"models/a\"},"
      "{\"name\": \"b\", \"base_path\": \"/b\", \"model_platform\": \"tensorflowjs\","
      " \"model_version_policy\": {\"latest\": {\"num_versions\": 2}},"
      " \"version_labels\": {\"stable\": 1, \"canary\": 2}},"
      "{\"name\": \"c\", \"base_path\": \"/c\", \"model_version_policy\": {\"all\": {}}},"
      "{\"name\": \"d\", \"base_path\": \"/d\","
      " \"model_version_policy\": {\"specific\": {\"versions\": [3, 1]}}}]}";
  cr_assert_eq(models(text, &c), 0, "%s", msg);
  cr_assert_eq(c.n_models, 4);
  cr_assert_eq(c.models[0].policy, SRV_POLICY_LATEST);
  cr_assert_eq(c.models[0].num_versions, 1);
  cr_assert_eq(c.models[1].num_versions, 2);
  cr_assert_eq(c.models[1].n_labels, 2);
  cr_assert_str_eq(c.models[1].labels[1].name, "canary");
  cr_assert_eq(c.models[1].labels[1].version, 2);
  cr_assert_eq(c.models[2].policy, SRV_POLICY_ALL);
  cr_assert_eq(c.models[3].policy, SRV_POLICY_SPECIFIC);
  cr_assert_eq(c.models[3].n_versions, 2);
  cr_assert_eq(c.models[3].versions[0], 1); /* sorted */
  cr_assert_eq(c.models[3].versions[1], 3);
  cr_assert(srv_model_spec_equal(&c.models[1], &c.models[1]));
  cr_assert(!srv_model_spec_equal(&c.models[0], &c.models[1]));
  srv_model_config_free(&c);
}

static void expect_error(const char *text, const char *field) {
  srv_model_config c;
  cr_assert_eq(models(text, &c), -1, "accepted %s", text);
  cr_assert(strncmp(msg, "m.json: ", 8) == 0, "message '%s' does not name the file", msg);
  cr_assert(strstr(msg, field), "message '%s' lacks '%s'", msg, field);
}

Test(model_config, errors_name_file_and_field) {
  expect_error("{\"model_config_list\": [", "bad JSON");
  expect_error("{\"models\": []}", "models: unknown field");
  expect_error("{}", "model_config_list: missing");
  expect_error("{\"model_config_list\": [{\"base_path\": \"/a\"}]}", "model_config_list[0].name");
  expect_error("{\"model_config_list\": [{\"name\": \"a/b\", \"base_path\": \"/a\"}]}",
               "model_config_list[0].name");
  expect_error("{\"model_config_list\": [{\"name\": \"a\"}]}", "model_config_list[0].base_path");
  expect_error("{\"model_config_list\": [{\"name\": \"a\", \"base_path\": \"/a\", \"bath\": 1}]}",
               "model_config_list[0].bath: unknown field");
  expect_error("{\"model_config_list\": [{\"name\": \"a\", \"base_path\": \"/a\", "
               "\"model_version_policy\": {\"latest\": {\"num_versions\": 0}}}]}",
               "model_config_list[0].model_version_policy.latest.num_versions");
  expect_error("{\"model_config_list\": [{\"name\": \"a\", \"base_path\": \"/a\", "
               "\"model_version_policy\": {\"newest\": {}}}]}",
               "model_config_list[0].model_version_policy.newest");
  expect_error("{\"model_config_list\": [{\"name\": \"a\", \"base_path\": \"/a\", "
               "\"model_version_policy\": {\"specific\": {\"versions\": [1, \"2\"]}}}]}",
               "model_version_policy.specific.versions[1]");
  expect_error("{\"model_config_list\": [{\"name\": \"a\", \"base_path\": \"/a\", "
               "\"model_version_policy\": {\"specific\": {\"versions\": [1, 1]}}}]}",
               "twice");
  expect_error("{\"model_config_list\": [{\"name\": \"a\", \"base_path\": \"/a\", "
               "\"version_labels\": {\"stable\": -1}}]}",
               "model_config_list[0].version_labels.stable");
  expect_error("{\"model_config_list\": [{\"name\": \"a\", \"base_path\": \"/a\"},"
               " {\"name\": \"a\", \"base_path\": \"/b\"}]}",
               "model_config_list[1].name");
}

Test(model_config, missing_file_is_named) {
  srv_model_config c;
  cr_assert_eq(srv_config_load_models("/nonexistent/models.json", &c, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "/nonexistent/models.json"), "%s", msg);
}

static int batching(const char *text, srv_batching_params *b) {
  msg[0] = 0;
  return srv_config_parse_batching(text, strlen(text), "b.json", b, msg, sizeof msg);
}

Test(batching_config, design_example_and_errors) {
  srv_batching_params b;
  const char *ok = "{\"max_batch_size\": 32, \"batch_timeout_micros\": 2000, "
                   "\"max_enqueued_batches\": 64, \"num_batch_threads\": 2, "
                   "\"allowed_batch_sizes\": [1, 2, 4, 8, 16, 32], "
                   "\"enable_large_batch_splitting\": true}";
  cr_assert_eq(batching(ok, &b), 0, "%s", msg);
  cr_assert_eq(b.max_batch_size, 32);
  cr_assert_eq(b.n_allowed, 6);
  cr_assert(b.enable_large_batch_splitting);
  srv_batching_params_free(&b);
  cr_assert_eq(batching("{\"max_batch_size\": 0}", &b), -1);
  cr_assert(strstr(msg, "b.json: max_batch_size"), "%s", msg);
  cr_assert_eq(batching("{\"max_batch_size\": 8, \"allowed_batch_sizes\": [1, 4, 2, 8]}", &b), -1);
  cr_assert(strstr(msg, "allowed_batch_sizes[2]"), "%s", msg);
  cr_assert_eq(batching("{\"max_batch_size\": 8, \"allowed_batch_sizes\": [1, 4]}", &b), -1);
  cr_assert(strstr(msg, "allowed_batch_sizes[1]"), "%s", msg);
  cr_assert_eq(batching("{\"batch_timeout\": 1}", &b), -1);
  cr_assert(strstr(msg, "batch_timeout: unknown field"), "%s", msg);
}

/* ---- per-model batching_parameters (issue 5) ---- */

static const char *entry_with(const char *bp, char *buf, size_t cap) {
  snprintf(buf, cap,
           "{\"model_config_list\": [{\"name\": \"a\", \"base_path\": \"/a\"},"
           " {\"name\": \"b\", \"base_path\": \"/b\", \"batching_parameters\": %s}]}",
           bp);
  return buf;
}

Test(model_batching, override_keeps_only_the_fields_given) {
  srv_model_config c;
  char text[1024];
  entry_with("{\"max_batch_size\": 2, \"enable_large_batch_splitting\": false}", text, sizeof text);
  cr_assert_eq(models(text, &c), 0, "%s", msg);
  cr_assert_null(c.models[0].batching);
  srv_batching_params *o = c.models[1].batching;
  cr_assert_not_null(o);
  cr_assert_eq(o->given, SRV_BP_MAX_BATCH_SIZE | SRV_BP_SPLIT);
  cr_assert_eq(o->max_batch_size, 2);
  cr_assert(!o->enable_large_batch_splitting);
  /* Equality covers the override: a changed override is a changed spec (reload logs it). */
  srv_model_config d;
  entry_with("{\"max_batch_size\": 4}", text, sizeof text);
  cr_assert_eq(models(text, &d), 0, "%s", msg);
  cr_assert(!srv_model_spec_equal(&c.models[1], &d.models[1]));
  cr_assert(srv_model_spec_equal(&c.models[0], &d.models[0]));
  srv_model_config_free(&d);

  /* Merged over a file: given fields replace, the rest come from the file; allowed sizes
   * inherited from the file are cut at the new maximum, which is appended. */
  srv_batching_params file, eff;
  cr_assert_eq(batching("{\"max_batch_size\": 8, \"batch_timeout_micros\": 500, "
                        "\"max_enqueued_batches\": 10, \"num_batch_threads\": 3, "
                        "\"allowed_batch_sizes\": [1, 4, 8], "
                        "\"enable_large_batch_splitting\": true}",
                        &file),
               0, "%s", msg);
  cr_assert_eq(srv_config_merge_batching(&file, o, &eff, "m.json", "x", msg, sizeof msg), 0, "%s",
               msg);
  cr_assert_eq(eff.max_batch_size, 2);
  cr_assert_eq(eff.batch_timeout_micros, 500);
  cr_assert_eq(eff.max_enqueued_batches, 10);
  cr_assert_eq(eff.num_batch_threads, 3);
  cr_assert(!eff.enable_large_batch_splitting);
  cr_assert_eq(eff.n_allowed, 2);
  cr_assert_eq(eff.allowed_batch_sizes[0], 1);
  cr_assert_eq(eff.allowed_batch_sizes[1], 2);
  srv_batching_params_free(&eff);
  /* A larger maximum than the file's keeps all its sizes and appends the new one. */
  srv_batching_params big = {.max_batch_size = 16, .given = SRV_BP_MAX_BATCH_SIZE};
  cr_assert_eq(srv_config_merge_batching(&file, &big, &eff, "m.json", "x", msg, sizeof msg), 0,
               "%s", msg);
  cr_assert_eq(eff.n_allowed, 4);
  cr_assert_eq(eff.allowed_batch_sizes[3], 16);
  cr_assert(eff.enable_large_batch_splitting); /* from the file */
  srv_batching_params_free(&eff);
  /* An empty override is the file itself. */
  srv_batching_params none = {0};
  cr_assert_eq(srv_config_merge_batching(&file, &none, &eff, "m.json", "x", msg, sizeof msg), 0);
  cr_assert_eq(eff.max_batch_size, 8);
  cr_assert_eq(eff.n_allowed, 3);
  cr_assert(eff.allowed_batch_sizes != file.allowed_batch_sizes); /* a copy: freed apart */
  srv_batching_params_free(&eff);
  srv_batching_params_free(&file);
  srv_model_config_free(&c);
}

Test(model_batching, override_errors_name_the_file_and_path) {
  char text[1024];
  expect_error(entry_with("[]", text, sizeof text),
               "model_config_list[1].batching_parameters: expected an object");
  expect_error(entry_with("{\"max_batch_sise\": 2}", text, sizeof text),
               "model_config_list[1].batching_parameters.max_batch_sise: unknown field");
  expect_error(entry_with("{\"max_batch_size\": 0}", text, sizeof text),
               "model_config_list[1].batching_parameters.max_batch_size: must be a positive");
  expect_error(entry_with("{\"batch_timeout_micros\": -1}", text, sizeof text),
               "batching_parameters.batch_timeout_micros: must be a non-negative");
  expect_error(entry_with("{\"enable_large_batch_splitting\": 1}", text, sizeof text),
               "batching_parameters.enable_large_batch_splitting: must be true or false");
  expect_error(entry_with("{\"allowed_batch_sizes\": [2, 1]}", text, sizeof text),
               "batching_parameters.allowed_batch_sizes[1]: sizes must increase");
  expect_error(
      entry_with("{\"max_batch_size\": 8, \"allowed_batch_sizes\": [2, 4]}", text, sizeof text),
      "batching_parameters.allowed_batch_sizes[1]: the last size must equal "
      "max_batch_size (8)");
  expect_error(
      entry_with("{\"max_batch_size\": 65536, \"max_enqueued_batches\": 1000}", text, sizeof text),
      "batching_parameters.max_enqueued_batches");

  /* Allowed sizes alone must end at the file's maximum: found when merged. */
  srv_model_config c;
  entry_with("{\"allowed_batch_sizes\": [1, 4]}", text, sizeof text);
  cr_assert_eq(models(text, &c), 0, "%s", msg);
  srv_batching_params file, eff;
  cr_assert_eq(batching("{\"max_batch_size\": 8}", &file), 0, "%s", msg);
  cr_assert_eq(srv_config_merge_batching(&file, c.models[1].batching, &eff, "m.json",
                                         "model_config_list[1].batching_parameters", msg,
                                         sizeof msg),
               -1);
  cr_assert(strstr(msg, "m.json: model_config_list[1].batching_parameters.allowed_batch_sizes: "
                        "the last size must equal max_batch_size (8, from the batching "
                        "parameters file)"),
            "%s", msg);
  /* The queue bound with the file's other field. */
  srv_batching_params_free(&file);
  cr_assert_eq(batching("{\"max_batch_size\": 16, \"max_enqueued_batches\": 1000000}", &file), 0,
               "%s", msg);
  srv_batching_params q = {.max_batch_size = 32, .given = SRV_BP_MAX_BATCH_SIZE};
  cr_assert_eq(srv_config_merge_batching(&file, &q, &eff, "m.json", "p", msg, sizeof msg), -1);
  cr_assert(strstr(msg, "m.json: p.max_enqueued_batches"), "%s", msg);
  srv_batching_params_free(&file);
  srv_model_config_free(&c);
}

Test(batching_config, file_records_the_fields_given) {
  srv_batching_params b;
  cr_assert_eq(batching("{\"num_batch_threads\": 2, \"allowed_batch_sizes\": [4, 32]}", &b), 0,
               "%s", msg);
  cr_assert_eq(b.given, SRV_BP_THREADS | SRV_BP_ALLOWED);
  cr_assert_eq(b.max_batch_size, 32); /* default */
  srv_batching_params_free(&b);
  cr_assert_eq(batching("{\"allowed_batch_sizes\": []}", &b), -1);
  cr_assert(strstr(msg, "b.json: allowed_batch_sizes: expected a non-empty list"), "%s", msg);
}
