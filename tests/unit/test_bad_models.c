/*
 * test_bad_models.c — every way a model directory can be broken must fail cleanly: a status,
 * one message naming the file and the node or weight, no crash, no leak (this suite also runs
 * under ASan+UBSan). Each case writes a small real model to a temp dir, breaks one thing, and
 * checks both the library (rt_model_load) and the CLI (`orchard inspect` / `orchard run`).
 */
#include "orchard/rt.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static void write_file(const char *name, const void *data, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert(f, "cannot write %s", path);
  fwrite(data, 1, n, f);
  fclose(f);
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/orchard-bad-XXXXXX");
  cr_assert(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

/* A good model: y = relu(x + b), b from a 4-float shard. Templates below break one part. */
#define NODES_OK                                                                               \
  "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"        \
  "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"-1\"},{\"size\":\"4\"}]}}}},"                    \
  "{\"name\":\"b\",\"op\":\"Const\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"              \
  "\"value\":{\"tensor\":{\"dtype\":\"DT_FLOAT\",\"tensorShape\":{\"dim\":[{\"size\":\"4\"}]}}}}},"
#define WEIGHTS(shape, extra)                                                                  \
  "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":[{\"name\":\"b\",\"shape\":" shape  \
  ",\"dtype\":\"float32\"" extra "}]}]"

static void write_model(const char *json) { write_file("model.json", json, strlen(json)); }

static void write_shard(size_t floats) {
  float v[64] = {0.5f, -1.0f, 2.0f, -3.0f};
  write_file("w.bin", v, floats * sizeof(float));
}

static void good_model(void) {
  write_model("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[" NODES_OK
              "{\"name\":\"add\",\"op\":\"AddV2\",\"input\":[\"x\",\"b\"],\"attr\":{\"T\":{"
              "\"type\":\"DT_FLOAT\"}}},"
              "{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"add\"],\"attr\":{}}]},"
              WEIGHTS("[4]", "") "}");
  write_shard(4);
}

/* Loads `dir`, expects failure whose message contains every string in `want`. */
static void expect_fail(const char *const *want) {
  rt_model *m = NULL;
  rt_error err = {0};
  rt_status st = rt_model_load(dir, NULL, &m, &err);
  cr_assert_neq(st, RT_OK, "model loaded although broken");
  cr_assert_null(m);
  for (const char *const *w = want; *w; w++)
    cr_assert(strstr(err.msg, *w), "message '%s' does not name '%s'", err.msg, *w);
  cr_assert_null(strchr(err.msg, '\n'), "message is more than one line: %s", err.msg);

  /* The CLI: non-zero exit (not a signal), exactly one line on stderr naming the same. */
  const char *bin = getenv("ORCHARD_BIN");
  cr_assert(bin, "ORCHARD_BIN not set (ctest sets it)");
  const char *sub[] = {"inspect", "run"};
  for (int i = 0; i < 2; i++) {
    char cmd[1024], out[600];
    snprintf(out, sizeof out, "%s.stderr", dir);
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' %s 2>'%s' >/dev/null", bin, sub[i], dir,
             i ? "--input /dev/null --output-dir /tmp/orchard-bad-out" : "", out);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc), "orchard %s died on a signal", sub[i]);
    cr_assert_eq(WEXITSTATUS(rc), 1, "orchard %s exit %d", sub[i], WEXITSTATUS(rc));
    FILE *f = fopen(out, "r");
    cr_assert(f);
    char buf[4096] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    unlink(out);
    buf[n] = 0;
    cr_assert(n > 0 && strchr(buf, '\n') == buf + n - 1, "stderr not one line: %s", buf);
    for (const char *const *w = want; *w; w++)
      cr_assert(strstr(buf, *w), "stderr '%s' does not name '%s'", buf, *w);
  }
}

TestSuite(bad_models, .init = setup, .fini = teardown);

Test(bad_models, good_model_loads_and_runs) {
  good_model();
  rt_model *m = NULL;
  rt_error err = {0};
  cr_assert_eq(rt_model_load(dir, NULL, &m, &err), RT_OK, "%s", err.msg);
  rt_session *s;
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK);
  float x[8] = {1, 1, 1, 1, -1, 0, -3, 4};
  rt_tensor in = {.dtype = RT_DT_F32, .rank = 2, .dims = {2, 4}, .data = x}, out;
  cr_assert_eq(rt_session_run(s, &in, 1, &out, &err), RT_OK, "%s", err.msg);
  const float want[8] = {1.5f, 0, 3, 0, 0, 0, 0, 1};
  cr_assert_eq(out.rank, 2);
  for (int i = 0; i < 8; i++)
    cr_assert_float_eq(((float *)out.data)[i], want[i], 0, "element %d", i);
  /* A wrong input shape is an error naming the input, and the session still works after. */
  rt_tensor bad = {.dtype = RT_DT_F32, .rank = 2, .dims = {2, 5}, .data = x};
  cr_assert_eq(rt_session_run(s, &bad, 1, &out, &err), RT_ERR_INVALID_ARG);
  cr_assert(strstr(err.msg, "'x'"), "%s", err.msg);
  cr_assert_eq(rt_session_run(s, &in, 1, &out, &err), RT_OK, "%s", err.msg);
  rt_session_destroy(s);
  rt_model_destroy(m);
}

Test(bad_models, malformed_json) {
  write_model("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[");
  expect_fail((const char *[]){"model.json", "malformed JSON", NULL});
}

Test(bad_models, missing_shard) {
  good_model();
  char p[300];
  snprintf(p, sizeof p, "%s/w.bin", dir);
  unlink(p);
  expect_fail((const char *[]){"w.bin", NULL});
}

Test(bad_models, truncated_shard) {
  good_model();
  write_shard(3);
  expect_fail((const char *[]){"w.bin", NULL});
}

Test(bad_models, weight_bytes_disagree_with_shape) {
  good_model();
  write_shard(5);
  expect_fail((const char *[]){"w.bin", NULL});
}

Test(bad_models, unknown_op) {
  write_model("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[" NODES_OK
              "{\"name\":\"weird\",\"op\":\"FrobnicateV9\",\"input\":[\"x\",\"b\"]},"
              "{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"weird\"]}]}," WEIGHTS("[4]", "") "}");
  write_shard(4);
  expect_fail((const char *[]){"model.json", "weird", "FrobnicateV9", NULL});
}

Test(bad_models, graph_cycle) {
  write_model("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[" NODES_OK
              "{\"name\":\"a\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]},"
              "{\"name\":\"c\",\"op\":\"Relu\",\"input\":[\"a\"]},"
              "{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"c\"]}]}," WEIGHTS("[4]", "") "}");
  write_shard(4);
  expect_fail((const char *[]){"model.json", "cycle", NULL});
}

Test(bad_models, input_names_no_node) {
  write_model("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[" NODES_OK
              "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"nosuchnode\"]}]},"
              WEIGHTS("[4]", "") "}");
  write_shard(4);
  expect_fail((const char *[]){"model.json", "nosuchnode", NULL});
}

Test(bad_models, quantization_without_scale) {
  write_model("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[" NODES_OK
              "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"b\"]}]},"
              WEIGHTS("[4]", ",\"quantization\":{\"dtype\":\"uint8\",\"min\":0}") "}");
  write_file("w.bin", "\1\2\3\4", 4);
  expect_fail((const char *[]){"'b'", "scale", NULL});
}

Test(bad_models, negative_dimension) {
  write_model("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[" NODES_OK
              "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"b\"]}]},"
              WEIGHTS("[-4]", "") "}");
  write_shard(4);
  expect_fail((const char *[]){"'b'", NULL});
}

Test(bad_models, overflowing_dimension) {
  write_model("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[" NODES_OK
              "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"b\"]}]},"
              WEIGHTS("[4294967296, 4294967296, 8]", "") "}");
  write_shard(4);
  expect_fail((const char *[]){"'b'", NULL});
}

Test(bad_models, not_an_object_where_one_belongs) {
  write_model("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[\"x\", 3, null]},"
              WEIGHTS("[4]", "") "}");
  write_shard(4);
  expect_fail((const char *[]){"model.json", NULL});
}
