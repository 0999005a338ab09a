/*
 * test_flags.c — `orchard serve` flag parsing (flags.c): defaults, both value forms, bare
 * bools, and errors that name the flag.
 */
#include "flags.h"

#include <criterion/criterion.h>
#include <string.h>

static char err[512];

static int parse(srv_flags *f, int argc, const char **argv) {
  srv_flags_init(f);
  err[0] = 0;
  return srv_flags_parse(f, argc, (char **)argv, err, sizeof err);
}

Test(flags, defaults_are_tf_serving_s) {
  srv_flags f;
  cr_assert_eq(parse(&f, 0, NULL), 0, "%s", err);
  cr_assert_eq(f.port, 8500);
  cr_assert_eq(f.rest_api_port, 8501);
  cr_assert_str_eq(f.model_name, "default");
  cr_assert_null(f.model_base_path);
  cr_assert_eq(f.file_system_poll_wait_seconds, 1);
  cr_assert_eq(f.rest_api_timeout_in_ms, 30000);
  cr_assert(f.enable_model_warmup);
  cr_assert(!f.enable_batching);
  cr_assert_eq(f.log_format, SRV_LOG_FORMAT_TEXT);
  cr_assert_eq(f.log_level, SRV_LOG_INFO);
  srv_flags_free(&f);
}

Test(flags, equals_and_separate_values) {
  srv_flags f;
  const char *argv[] = {"--rest_api_port=9001",
                        "--model_name",
                        "emo",
                        "--model_base_path=/m",
                        "--log_format",
                        "json",
                        "--log_level=debug",
                        "--tensorflow_inter_op_parallelism",
                        "3",
                        "--max_request_bytes=1024"};
  cr_assert_eq(parse(&f, 10, argv), 0, "%s", err);
  cr_assert_eq(f.rest_api_port, 9001);
  cr_assert_str_eq(f.model_name, "emo");
  cr_assert_str_eq(f.model_base_path, "/m");
  cr_assert_eq(f.log_format, SRV_LOG_FORMAT_JSON);
  cr_assert_eq(f.log_level, SRV_LOG_DEBUG);
  cr_assert_eq(f.tensorflow_inter_op_parallelism, 3);
  cr_assert_eq(f.max_request_bytes, 1024);
  srv_flags_free(&f);
}

Test(flags, bools_bare_or_with_a_value) {
  srv_flags f;
  const char *a1[] = {"--enable_batching", "--enable_model_warmup=false"};
  cr_assert_eq(parse(&f, 2, a1), 0, "%s", err);
  cr_assert(f.enable_batching);
  cr_assert(!f.enable_model_warmup);
  srv_flags_free(&f);
  /* a following true/false/1/0 is the bool's value; anything else is the next flag */
  const char *a2[] = {"--auto_tune", "0", "--enable_batching", "--port=0"};
  cr_assert_eq(parse(&f, 4, a2), 0, "%s", err);
  cr_assert(!f.auto_tune);
  cr_assert(f.enable_batching);
  cr_assert_eq(f.port, 0);
  srv_flags_free(&f);
}

static void expect_error(int argc, const char **argv, const char *needle) {
  srv_flags f;
  cr_assert_eq(parse(&f, argc, argv), -1, "accepted %s", argv[0]);
  cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
  srv_flags_free(&f);
}

Test(flags, errors_name_the_flag) {
  expect_error(1, (const char *[]){"--rest_api_prot=1"}, "--rest_api_prot");
  expect_error(1, (const char *[]){"--rest_api_port=http"}, "--rest_api_port");
  expect_error(1, (const char *[]){"--port=70000"}, "--port");
  expect_error(1, (const char *[]){"--file_system_poll_wait_seconds=-1"},
               "--file_system_poll_wait_seconds");
  expect_error(1, (const char *[]){"--enable_batching=yes"}, "--enable_batching");
  expect_error(1, (const char *[]){"--log_format=xml"}, "--log_format");
  expect_error(1, (const char *[]){"--model_name"}, "--model_name");
  expect_error(1, (const char *[]){"--model_base_path="}, "--model_base_path");
  expect_error(1, (const char *[]){"models/x"}, "models/x");
  expect_error(2, (const char *[]){"--port=9000", "--rest_api_port=9000"}, "--rest_api_port");
  expect_error(1, (const char *[]){"--ssl_config_file="}, "--ssl_config_file");
  expect_error(1, (const char *[]){"--max_request_bytes=0"}, "--max_request_bytes");
}

Test(flags, help_is_requested_and_lists_every_flag) {
  srv_flags f;
  cr_assert_eq(parse(&f, 1, (const char *[]){"--help"}), 1);
  srv_flags_free(&f);
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  srv_flags_help(mem);
  fclose(mem);
  const char *names[] = {"--port=",
                         "--rest_api_port=",
                         "--model_name=",
                         "--model_base_path=",
                         "--model_config_file=",
                         "--file_system_poll_wait_seconds=",
                         "--enable_batching=",
                         "--batching_parameters_file=",
                         "--tensorflow_intra_op_parallelism=",
                         "--tensorflow_inter_op_parallelism=",
                         "--rest_api_timeout_in_ms=",
                         "--ssl_config_file=",
                         "--enable_model_warmup=",
                         "--auto_tune=",
                         "--max_request_bytes=",
                         "--log_format=",
                         "--log_level="};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    cr_assert(strstr(text, names[i]), "--help lacks %s", names[i]);
  free(text);
}

