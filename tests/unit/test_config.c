/*
 * test_config.c — the model config and batching parameter files (config.c): what parses,
 * and that every error names the file and the JSON path of the bad field.
 */
#include "config.h"

#include <criterion/criterion.h>
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
