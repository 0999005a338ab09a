/*
 * test_exec.c — the planner and executor: arena reuse through liveness, one plan per input
 * shape, shape-derived subgraphs (Shape -> StridedSlice -> Pack -> Reshape, as TF.js graphs
 * have everywhere) evaluated at plan time, and outputs that stay correct across batch sizes.
 */
#include "orchard/rt.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/orchard-exec-XXXXXX");
  cr_assert(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

static rt_model *load_json(const char *json) {
  char path[300];
  snprintf(path, sizeof path, "%s/model.json", dir);
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fputs(json, f);
  fclose(f);
  rt_model *m = NULL;
  rt_error err = {0};
  cr_assert_eq(rt_model_load(dir, NULL, &m, &err), RT_OK, "%s", err.msg);
  return m;
}

TestSuite(exec, .init = setup, .fini = teardown);

#define PH(name, d1)                                                                           \
  "{\"name\":\"" name "\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"  \
  "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"-1\"},{\"size\":\"" d1 "\"}]}}}}"

/* Relu then 15 Negs: intermediates die as soon as the next node ran, so the arena
 * holds about two tensors at a time, not sixteen. */
Test(exec, liveness_reuses_the_arena) {
  char json[8192];
  size_t o = (size_t)snprintf(json, sizeof json,
                              "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[" PH(
                                  "x", "1024"));
  const char *prev = "x";
  char names[16][8];
  for (int i = 0; i < 16; i++) {
    snprintf(names[i], sizeof names[i], "n%d", i);
    o += (size_t)snprintf(json + o, sizeof json - o,
                          ",{\"name\":\"%s\",\"op\":\"%s\",\"input\":[\"%s\"]}", names[i],
                          i ? "Neg" : "Relu", prev);
    prev = names[i];
  }
  snprintf(json + o, sizeof json - o, "]},\"weightsManifest\":[]}");
  rt_model *m = load_json(json);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK);
  float *x = malloc(4 * 1024 * sizeof *x);
  for (int i = 0; i < 4 * 1024; i++)
    x[i] = (float)(i % 7) - 3.0f;
  rt_tensor in = {.dtype = RT_DT_F32, .rank = 2, .dims = {4, 1024}, .data = x}, out;
  size_t arena = 0;
  cr_assert_eq(rt_session_plan(s, &in, 1, &arena, &err), RT_OK, "%s", err.msg);
  const size_t one = 4 * 1024 * sizeof(float);
  cr_assert(arena >= 2 * one && arena <= 3 * one, "arena %zu bytes for 16 tensors of %zu",
            arena, one);
  cr_assert_eq(rt_session_run(s, &in, 1, &out, &err), RT_OK, "%s", err.msg);
  void *first = out.data;
  for (int i = 0; i < 4 * 1024; i++) /* an odd number of negations of relu(x) */
    cr_assert_float_eq(((float *)out.data)[i], x[i] > 0 ? -x[i] : 0.0f, 0, "element %d", i);
  cr_assert_eq(rt_session_run(s, &in, 1, &out, &err), RT_OK);
  cr_assert_eq(out.data, first, "the same plan reuses the same arena slot");
  cr_assert_eq(rt_session_arena_bytes(s), arena);
  free(x);
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* Reshape whose target comes from Shape(x)[0] and a constant: the chain is folded per plan,
 * so every batch size gets its own correct Reshape. */
Test(exec, shape_chain_per_batch_size) {
  /* weights: b0=0, b1=1, three=3, two=2 */
  int32_t w[4] = {0, 1, 3, 2};
  char path[300];
  snprintf(path, sizeof path, "%s/w.bin", dir);
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  fwrite(w, sizeof w, 1, f);
  fclose(f);
  rt_model *m = load_json(
      "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[" PH("x", "6") ","
      "{\"name\":\"shp\",\"op\":\"Shape\",\"input\":[\"x\"],\"attr\":{\"out_type\":{\"type\":"
      "\"DT_INT32\"}}},"
      "{\"name\":\"b0\",\"op\":\"Const\",\"attr\":{\"dtype\":{\"type\":\"DT_INT32\"}}},"
      "{\"name\":\"b1\",\"op\":\"Const\",\"attr\":{\"dtype\":{\"type\":\"DT_INT32\"}}},"
      "{\"name\":\"st\",\"op\":\"StridedSlice\",\"input\":[\"shp\",\"b0\",\"b1\",\"b1\"],"
      "\"attr\":{\"shrink_axis_mask\":{\"i\":\"1\"},\"begin_mask\":{\"i\":\"0\"},\"end_mask\":{"
      "\"i\":\"0\"},\"ellipsis_mask\":{\"i\":\"0\"},\"new_axis_mask\":{\"i\":\"0\"},"
      "\"Index\":{\"type\":\"DT_INT32\"},\"T\":{\"type\":\"DT_INT32\"}}},"
      "{\"name\":\"three\",\"op\":\"Const\",\"attr\":{\"dtype\":{\"type\":\"DT_INT32\"}}},"
      "{\"name\":\"two\",\"op\":\"Const\",\"attr\":{\"dtype\":{\"type\":\"DT_INT32\"}}},"
      "{\"name\":\"pk\",\"op\":\"Pack\",\"input\":[\"st\",\"three\",\"two\"],\"attr\":{"
      "\"axis\":{\"i\":\"0\"},\"N\":{\"i\":\"3\"},\"T\":{\"type\":\"DT_INT32\"}}},"
      "{\"name\":\"y\",\"op\":\"Reshape\",\"input\":[\"x\",\"pk\"]}]},"
      "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
      "{\"name\":\"b0\",\"shape\":[1],\"dtype\":\"int32\"},"
      "{\"name\":\"b1\",\"shape\":[1],\"dtype\":\"int32\"},"
      "{\"name\":\"three\",\"shape\":[],\"dtype\":\"int32\"},"
      "{\"name\":\"two\",\"shape\":[],\"dtype\":\"int32\"}]}]}");
  rt_error err = {0};
  rt_session *s;
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK);
  for (int batch = 1; batch <= 3; batch += 2) {
    float x[18];
    for (int i = 0; i < 6 * batch; i++)
      x[i] = (float)i;
    rt_tensor in = {.dtype = RT_DT_F32, .rank = 2, .dims = {batch, 6}, .data = x}, out;
    cr_assert_eq(rt_session_run(s, &in, 1, &out, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(out.rank, 3);
    cr_assert_eq(out.dims[0], batch);
    cr_assert_eq(out.dims[1], 3);
    cr_assert_eq(out.dims[2], 2);
    for (int i = 0; i < 6 * batch; i++)
      cr_assert_float_eq(((float *)out.data)[i], (float)i, 0);
  }
  rt_session_destroy(s);
  rt_model_destroy(m);
}
