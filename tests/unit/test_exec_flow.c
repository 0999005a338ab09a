/*
 * test_exec_flow.c — the control-flow executor, through the public API: small TF1-style graph
 * models written as model.json + w.bin in a temp dir, loaded with rt_model_load and run with
 * rt_session_run. Covered: a cond taking each branch (and an output on the untaken one), a
 * while loop counting to N with an accumulator (0, 1 and many iterations, loop-invariant
 * Enter), a TensorArray map (scatter / read / write / size / gather, TF.js's gather that
 * ignores indices past the size), the TensorList equivalent (FromTensor / Reserve / GetItem /
 * SetItem / Stack / Length), nested loops, and errors: malformed frames, bad handles,
 * TensorArray misuse, a runaway loop.
 *
 * Expected values come from the arithmetic each graph does. Every graph here was also run
 * through TF.js 4.22 (tf.loadGraphModel on the same model.json and w.bin with an IOHandler,
 * executeAsync, CPU backend; ORCHARD_KEEP_TEST_DIRS=1 keeps the generated models) and gave
 * the same values, and the same failures for the untaken-branch output and the empty
 * TensorArray gather. Deliberate differences, where TF.js drops an output TensorFlow defines:
 * Merge's value_index, TensorArrayConcatV3's lengths, and TensorListPopBack, whose outputs
 * are (handle, tensor) here as in TensorFlow while TF.js returns only the tensor.
 */
#include "orchard/rt.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[256];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/orchard-flow-XXXXXX");
  cr_assert(mkdtemp(dir));
}

static void teardown(void) {
  if (getenv("ORCHARD_KEEP_TEST_DIRS")) {
    fprintf(stderr, "kept %s\n", dir);
    return;
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(flow, .init = setup, .fini = teardown);

/* ---- a tiny graph-model builder: nodes as JSON, Const values into one weight shard ---- */
typedef struct gb {
  char nodes[32768];
  size_t on;
  char man[8192];
  size_t om;
  unsigned char bin[8192];
  size_t nb;
} gb;

static void cat(char *buf, size_t cap, size_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *o, cap - *o, fmt, ap);
  va_end(ap);
  cr_assert(n >= 0 && (size_t)n < cap - *o, "builder buffer too small");
  *o += (size_t)n;
}

static void b64(const char *s, char *out) {
  static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(s), o = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)s[i] << 16;
    if (i + 1 < n)
      v |= (unsigned char)s[i + 1] << 8;
    if (i + 2 < n)
      v |= (unsigned char)s[i + 2];
    out[o++] = T[(v >> 18) & 63];
    out[o++] = T[(v >> 12) & 63];
    out[o++] = i + 1 < n ? T[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? T[v & 63] : '=';
  }
  out[o] = 0;
}

/* ins: space-separated input names ("sw:1 ^ctl"); attr: the body of the attr object. */
static void node(gb *b, const char *name, const char *op, const char *ins, const char *attr) {
  cat(b->nodes, sizeof b->nodes, &b->on, "%s{\"name\":\"%s\",\"op\":\"%s\",\"input\":[",
      b->on ? "," : "", name, op);
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s", ins ? ins : "");
  int k = 0;
  for (char *t = strtok(tmp, " "); t; t = strtok(NULL, " "))
    cat(b->nodes, sizeof b->nodes, &b->on, "%s\"%s\"", k++ ? "," : "", t);
  cat(b->nodes, sizeof b->nodes, &b->on, "],\"attr\":{%s}}", attr ? attr : "");
}

static void konst(gb *b, const char *name, const char *dtype, const char *shape, const void *v,
                  size_t bytes, const char *ctrl) {
  char attr[128];
  snprintf(attr, sizeof attr, "\"dtype\":{\"type\":\"DT_%s\"}",
           !strcmp(dtype, "int32")  ? "INT32"
           : !strcmp(dtype, "bool") ? "BOOL"
                                    : "FLOAT");
  node(b, name, "Const", ctrl, attr);
  cat(b->man, sizeof b->man, &b->om, "%s{\"name\":\"%s\",\"shape\":%s,\"dtype\":\"%s\"}",
      b->om ? "," : "", name, shape, dtype);
  cr_assert(b->nb + bytes <= sizeof b->bin);
  memcpy(b->bin + b->nb, v, bytes);
  b->nb += bytes;
}

static void ci(gb *b, const char *name, int32_t v, const char *ctrl) {
  konst(b, name, "int32", "[]", &v, 4, ctrl);
}

static void cf(gb *b, const char *name, float v, const char *ctrl) {
  konst(b, name, "float32", "[]", &v, 4, ctrl);
}

static void ph(gb *b, const char *name, const char *dt, const char *dims) {
  char attr[256];
  snprintf(attr, sizeof attr, "\"dtype\":{\"type\":\"DT_%s\"},\"shape\":{\"shape\":{%s}}", dt,
           dims ? dims : "\"unknownRank\":true");
  node(b, name, "Placeholder", NULL, attr);
}

static void enter(gb *b, const char *name, const char *in, const char *frame, bool is_const) {
  char f64[64], attr[256];
  b64(frame, f64);
  snprintf(attr, sizeof attr,
           "\"frame_name\":{\"s\":\"%s\"},\"is_constant\":{\"b\":%s},"
           "\"parallel_iterations\":{\"i\":\"10\"}",
           f64, is_const ? "true" : "false");
  node(b, name, "Enter", in, attr);
}

static rt_model *load_gb(gb *b, rt_error *err, rt_status *st) {
  char path[300];
  snprintf(path, sizeof path, "%s/w.bin", dir);
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  if (b->nb)
    fwrite(b->bin, 1, b->nb, f);
  fclose(f);
  snprintf(path, sizeof path, "%s/model.json", dir);
  f = fopen(path, "w");
  cr_assert(f);
  fprintf(f,
          "{\"format\":\"graph-model\",\"generatedBy\":\"2.x\",\"convertedBy\":\"test\","
          "\"modelTopology\":{\"node\":[%s],\"versions\":{\"producer\":1}},"
          "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":[%s]}]}",
          b->nodes, b->man);
  fclose(f);
  rt_model *m = NULL;
  *st = rt_model_load(dir, NULL, &m, err);
  return m;
}

static rt_model *load_ok(gb *b) {
  rt_error err = {0};
  rt_status st;
  rt_model *m = load_gb(b, &err, &st);
  cr_assert_eq(st, RT_OK, "%s", err.msg);
  return m;
}

static rt_tensor scalar_i32(int32_t *v) {
  return (rt_tensor){.dtype = RT_DT_I32, .rank = 0, .data = v};
}

/* ---- the graphs ---- */

/* y = p ? 2x : -x through Switch/Merge; idx = Merge's value_index. */
static void build_cond(gb *b, bool with_untaken_output) {
  ph(b, "x", "FLOAT", "\"dim\":[{\"size\":\"-1\"}]");
  ph(b, "p", "BOOL", "");
  node(b, "sw", "Switch", "x p", NULL);
  node(b, "neg", "Neg", "sw", NULL);
  cf(b, "two", 2.0f, NULL);
  node(b, "dbl", "Mul", "sw:1 two", NULL);
  node(b, "m", "Merge", "neg dbl", "\"N\":{\"i\":\"2\"}");
  node(b, "y", "Identity", "m", NULL);
  node(b, "idx", "Identity", "m:1", NULL);
  if (with_untaken_output)
    node(b, "neg_out", "Identity", "neg", NULL);
}

Test(flow, cond_takes_each_branch) {
  gb b = {0};
  build_cond(&b, false);
  rt_model *m = load_ok(&b);
  cr_assert_eq(rt_model_num_outputs(m), 2);
  cr_assert_str_eq(rt_model_output(m, 0)->name, "y");
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  float x[3] = {1.5f, -2.0f, 0.25f};
  for (int p = 0; p <= 1; p++) {
    uint8_t pv = (uint8_t)p;
    rt_tensor in[2] = {{.dtype = RT_DT_F32, .rank = 1, .dims = {3}, .data = x},
                       {.dtype = RT_DT_BOOL, .rank = 0, .data = &pv}};
    rt_tensor out[2];
    cr_assert_eq(rt_session_run(s, in, 2, out, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(out[0].dtype, RT_DT_F32);
    cr_assert_eq(out[0].rank, 1);
    cr_assert_eq(out[0].dims[0], 3);
    for (int i = 0; i < 3; i++)
      cr_assert_float_eq(((float *)out[0].data)[i], p ? 2 * x[i] : -x[i], 0, "p=%d i=%d", p, i);
    /* Merge's value_index (TensorFlow's second output): which input was live */
    cr_assert_eq(out[1].dtype, RT_DT_I32);
    cr_assert_eq(((int32_t *)out[1].data)[0], p);
  }
  rt_session_destroy(s);
  rt_model_destroy(m);
}

Test(flow, output_on_the_untaken_branch_is_an_error) {
  gb b = {0};
  build_cond(&b, true);
  rt_model *m = load_ok(&b);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  float x[1] = {3};
  uint8_t pv = 1;
  rt_tensor in[2] = {{.dtype = RT_DT_F32, .rank = 1, .dims = {1}, .data = x},
                     {.dtype = RT_DT_BOOL, .rank = 0, .data = &pv}};
  rt_tensor out[3];
  cr_assert_neq(rt_session_run(s, in, 2, out, &err), RT_OK);
  cr_assert(strstr(err.msg, "neg_out") && strstr(err.msg, "not taken"), "%s", err.msg);
  pv = 0; /* the same session still works, and now the branch is taken */
  cr_assert_eq(rt_session_run(s, in, 2, out, &err), RT_OK, "%s", err.msg);
  cr_assert_float_eq(((float *)out[2].data)[0], -3.0f, 0);
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* i = 0, acc = 0; while i < n: acc += i; i += 1. Outputs (i, acc, 2*acc). */
static void build_count(gb *b) {
  ph(b, "n", "INT32", "");
  ci(b, "zero", 0, NULL);
  enter(b, "w/Enter_i", "zero", "w/ctx", false);
  enter(b, "w/Enter_acc", "zero", "w/ctx", false);
  enter(b, "w/Enter_n", "n", "w/ctx", true);
  node(b, "w/Merge_i", "Merge", "w/Enter_i w/Next_i", NULL);
  node(b, "w/Merge_acc", "Merge", "w/Enter_acc w/Next_acc", NULL);
  node(b, "w/Less", "Less", "w/Merge_i w/Enter_n", NULL);
  node(b, "w/LoopCond", "LoopCond", "w/Less", NULL);
  node(b, "w/Switch_i", "Switch", "w/Merge_i w/LoopCond", NULL);
  node(b, "w/Switch_acc", "Switch", "w/Merge_acc w/LoopCond", NULL);
  node(b, "w/Identity_i", "Identity", "w/Switch_i:1", NULL);
  node(b, "w/Identity_acc", "Identity", "w/Switch_acc:1", NULL);
  ci(b, "w/one", 1, "^w/Identity_i");
  node(b, "w/add_i", "AddV2", "w/Identity_i w/one", NULL);
  node(b, "w/add_acc", "AddV2", "w/Identity_acc w/Identity_i", NULL);
  node(b, "w/Next_i", "NextIteration", "w/add_i", NULL);
  node(b, "w/Next_acc", "NextIteration", "w/add_acc", NULL);
  node(b, "w/Exit_i", "Exit", "w/Switch_i", NULL);
  node(b, "w/Exit_acc", "Exit", "w/Switch_acc", NULL);
  ci(b, "two", 2, NULL);
  node(b, "i_out", "Identity", "w/Exit_i", NULL);
  node(b, "acc_out", "Identity", "w/Exit_acc", NULL);
  node(b, "acc2", "Mul", "w/Exit_acc two", NULL);
}

Test(flow, while_loop_counts_to_n) {
  gb b = {0};
  build_count(&b);
  rt_model *m = load_ok(&b);
  cr_assert_eq(rt_model_num_outputs(m), 3);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  const int32_t ns[] = {0, 1, 2, 10, 1000, 3};
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
    int32_t n = ns[k];
    rt_tensor in = scalar_i32(&n), out[3];
    cr_assert_eq(rt_session_run(s, &in, 1, out, &err), RT_OK, "n=%d: %s", n, err.msg);
    int32_t sum = n * (n - 1) / 2 * (n > 0);
    cr_assert_eq(out[0].dtype, RT_DT_I32);
    cr_assert_eq(out[0].rank, 0);
    cr_assert_eq(((int32_t *)out[0].data)[0], n, "n=%d", n);
    cr_assert_eq(((int32_t *)out[1].data)[0], sum, "n=%d", n);
    cr_assert_eq(((int32_t *)out[2].data)[0], 2 * sum, "n=%d", n);
  }
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* Two sessions of one model run independently (each has its own flow state). */
Test(flow, sessions_are_independent) {
  gb b = {0};
  build_count(&b);
  rt_model *m = load_ok(&b);
  rt_session *s1, *s2;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s1, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(rt_session_create(m, &s2, &err), RT_OK, "%s", err.msg);
  int32_t n1 = 7, n2 = 9;
  rt_tensor in1 = scalar_i32(&n1), in2 = scalar_i32(&n2), o1[3], o2[3];
  cr_assert_eq(rt_session_run(s1, &in1, 1, o1, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(rt_session_run(s2, &in2, 1, o2, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(((int32_t *)o1[1].data)[0], 21);
  cr_assert_eq(((int32_t *)o2[1].data)[0], 36);
  rt_session_destroy(s1);
  rt_session_destroy(s2);
  rt_model_destroy(m);
}

/* tf.map_fn over the rows of x [n, 3] with TensorArrays: y[i] = 2 * x[i] + i. Then the
 * output array is gathered twice: with range(size) and with range(size + 2), which TF.js
 * truncates to the array's size. */
static void build_ta_map(gb *b) {
  ph(b, "x", "FLOAT", "\"dim\":[{\"size\":\"-1\"},{\"size\":\"3\"}]");
  const int32_t b0[1] = {0}, b1[1] = {1};
  konst(b, "s0", "int32", "[1]", b0, 4, NULL);
  konst(b, "s1", "int32", "[1]", b1, 4, NULL);
  ci(b, "zero", 0, NULL);
  ci(b, "one", 1, NULL);
  ci(b, "two_i", 2, NULL);
  node(b, "shape", "Shape", "x", "\"out_type\":{\"type\":\"DT_INT32\"}");
  node(b, "n", "StridedSlice", "shape s0 s1 s1",
       "\"shrink_axis_mask\":{\"i\":\"1\"},\"begin_mask\":{\"i\":\"0\"},\"end_mask\":{\"i\":\"0\"},"
       "\"ellipsis_mask\":{\"i\":\"0\"},\"new_axis_mask\":{\"i\":\"0\"},\"Index\":{\"type\":\"DT_"
       "INT32\"}");
  const char *ta_attr_in =
      "\"dtype\":{\"type\":\"DT_FLOAT\"},\"element_shape\":{\"shape\":{\"unknownRank\":true}},"
      "\"clear_after_read\":{\"b\":true},\"dynamic_size\":{\"b\":false},"
      "\"identical_element_shapes\":{\"b\":true},\"tensor_array_name\":{\"s\":\"\"}";
  const char *ta_attr_out =
      "\"dtype\":{\"type\":\"DT_FLOAT\"},\"element_shape\":{\"shape\":{\"unknownRank\":true}},"
      "\"clear_after_read\":{\"b\":false},\"dynamic_size\":{\"b\":false},"
      "\"identical_element_shapes\":{\"b\":true},\"tensor_array_name\":{\"s\":\"\"}";
  node(b, "ta_in", "TensorArrayV3", "n", ta_attr_in);
  node(b, "range", "Range", "zero n one", "\"Tidx\":{\"type\":\"DT_INT32\"}");
  node(b, "scatter", "TensorArrayScatterV3", "ta_in range x ta_in:1", NULL);
  node(b, "ta_out", "TensorArrayV3", "n", ta_attr_out);
  enter(b, "w/Enter_i", "zero", "w/ctx", false);
  enter(b, "w/Enter_flow", "ta_out:1", "w/ctx", false);
  enter(b, "w/Enter_n", "n", "w/ctx", true);
  enter(b, "w/Enter_ta_in", "ta_in", "w/ctx", true);
  enter(b, "w/Enter_scatter", "scatter", "w/ctx", true);
  enter(b, "w/Enter_ta_out", "ta_out", "w/ctx", true);
  node(b, "w/Merge_i", "Merge", "w/Enter_i w/Next_i", NULL);
  node(b, "w/Merge_flow", "Merge", "w/Enter_flow w/Next_flow", NULL);
  node(b, "w/Less", "Less", "w/Merge_i w/Enter_n", NULL);
  node(b, "w/LoopCond", "LoopCond", "w/Less", NULL);
  node(b, "w/Switch_i", "Switch", "w/Merge_i w/LoopCond", NULL);
  node(b, "w/Switch_flow", "Switch", "w/Merge_flow w/LoopCond", NULL);
  node(b, "w/Identity_i", "Identity", "w/Switch_i:1", NULL);
  node(b, "w/read", "TensorArrayReadV3", "w/Enter_ta_in w/Identity_i w/Enter_scatter",
       "\"dtype\":{\"type\":\"DT_FLOAT\"}");
  cf(b, "w/two", 2.0f, "^w/Identity_i");
  node(b, "w/dbl", "Mul", "w/read w/two", NULL);
  node(b, "w/fi", "Cast", "w/Identity_i",
       "\"SrcT\":{\"type\":\"DT_INT32\"},\"DstT\":{\"type\":\"DT_FLOAT\"},\"Truncate\":{\"b\":"
       "false}");
  node(b, "w/y", "AddV2", "w/dbl w/fi", NULL);
  node(b, "w/write", "TensorArrayWriteV3", "w/Enter_ta_out w/Identity_i w/y w/Switch_flow:1", NULL);
  ci(b, "w/one", 1, "^w/Identity_i");
  node(b, "w/add", "AddV2", "w/Identity_i w/one", NULL);
  node(b, "w/Next_i", "NextIteration", "w/add", NULL);
  node(b, "w/Next_flow", "NextIteration", "w/write", NULL);
  node(b, "w/Exit_flow", "Exit", "w/Switch_flow", NULL);
  node(b, "size", "TensorArraySizeV3", "ta_out w/Exit_flow", NULL);
  node(b, "range2", "Range", "zero size one", "\"Tidx\":{\"type\":\"DT_INT32\"}");
  node(b, "size2", "AddV2", "size two_i", NULL);
  node(b, "range3", "Range", "zero size2 one", "\"Tidx\":{\"type\":\"DT_INT32\"}");
  node(b, "gathered", "TensorArrayGatherV3", "ta_out range2 w/Exit_flow",
       "\"dtype\":{\"type\":\"DT_FLOAT\"},\"element_shape\":{\"shape\":{\"dim\":[{\"size\":\"3\"}]}"
       "}");
  node(b, "gathered_long", "TensorArrayGatherV3", "ta_out range3 w/Exit_flow",
       "\"dtype\":{\"type\":\"DT_FLOAT\"},\"element_shape\":{\"shape\":{\"dim\":[{\"size\":\"3\"}]}"
       "}");
  node(b, "size_out", "Identity", "size", NULL);
}

Test(flow, tensor_array_map) {
  gb b = {0};
  build_ta_map(&b);
  rt_model *m = load_ok(&b);
  cr_assert_eq(rt_model_num_outputs(m), 3);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  float x[5 * 3];
  for (int i = 0; i < 15; i++)
    x[i] = (float)(i * i % 7) - 2.5f;
  for (int n = 1; n <= 5; n += 4) {
    rt_tensor in = {.dtype = RT_DT_F32, .rank = 2, .dims = {n, 3}, .data = x}, out[3];
    cr_assert_eq(rt_session_run(s, &in, 1, out, &err), RT_OK, "n=%d: %s", n, err.msg);
    for (int o = 0; o < 2; o++) {
      cr_assert_eq(out[o].dtype, RT_DT_F32);
      cr_assert_eq(out[o].rank, 2, "output %d", o);
      cr_assert_eq(out[o].dims[0], n, "output %d", o);
      cr_assert_eq(out[o].dims[1], 3);
      for (int i = 0; i < n * 3; i++)
        cr_assert_float_eq(((float *)out[o].data)[i], 2 * x[i] + (float)(i / 3), 0,
                           "n=%d output %d element %d", n, o, i);
    }
    cr_assert_eq(((int32_t *)out[2].data)[0], n);
  }
  /* No rows: the loop never writes, and TF.js cannot gather from a TensorArray whose element
   * shape was never learnt; that is an error naming the gather, not a crash. */
  rt_tensor in = {.dtype = RT_DT_F32, .rank = 2, .dims = {0, 3}, .data = x}, out[3];
  cr_assert_neq(rt_session_run(s, &in, 1, out, &err), RT_OK);
  cr_assert(strstr(err.msg, "gathered"), "%s", err.msg);
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* The same map with TensorLists (TF2's while_v2 lowering, as handtrack has it):
 * y[i] = x[i] * x[i], element shape unknown on the output list. */
static void build_tl_map(gb *b) {
  ph(b, "x", "FLOAT", "\"dim\":[{\"size\":\"-1\"},{\"size\":\"2\"}]");
  const int32_t b0[1] = {0}, b1[1] = {1}, es2[1] = {2};
  konst(b, "s0", "int32", "[1]", b0, 4, NULL);
  konst(b, "s1", "int32", "[1]", b1, 4, NULL);
  konst(b, "es2", "int32", "[1]", es2, 4, NULL);
  ci(b, "es_any", -1, NULL);
  ci(b, "zero", 0, NULL);
  node(b, "shape", "Shape", "x", "\"out_type\":{\"type\":\"DT_INT32\"}");
  node(b, "n", "StridedSlice", "shape s0 s1 s1",
       "\"shrink_axis_mask\":{\"i\":\"1\"},\"begin_mask\":{\"i\":\"0\"},\"end_mask\":{\"i\":\"0\"},"
       "\"ellipsis_mask\":{\"i\":\"0\"},\"new_axis_mask\":{\"i\":\"0\"},\"Index\":{\"type\":\"DT_"
       "INT32\"}");
  const char *fl =
      "\"element_dtype\":{\"type\":\"DT_FLOAT\"},\"shape_type\":{\"type\":\"DT_INT32\"}";
  node(b, "l_in", "TensorListFromTensor", "x es2", fl);
  node(b, "l_out", "TensorListReserve", "es_any n", fl);
  enter(b, "w/Enter_i", "zero", "w/ctx", false);
  enter(b, "w/Enter_out", "l_out", "w/ctx", false);
  enter(b, "w/Enter_in", "l_in", "w/ctx", false);
  enter(b, "w/Enter_n", "n", "w/ctx", true);
  node(b, "w/Merge_i", "Merge", "w/Enter_i w/Next_i", NULL);
  node(b, "w/Merge_out", "Merge", "w/Enter_out w/Next_out", NULL);
  node(b, "w/Merge_in", "Merge", "w/Enter_in w/Next_in", NULL);
  node(b, "w/Less", "Less", "w/Merge_i w/Enter_n ^w/Merge_out", NULL);
  node(b, "w/LoopCond", "LoopCond", "w/Less", NULL);
  node(b, "w/Switch_i", "Switch", "w/Merge_i w/LoopCond", NULL);
  node(b, "w/Switch_out", "Switch", "w/Merge_out w/LoopCond", NULL);
  node(b, "w/Switch_in", "Switch", "w/Merge_in w/LoopCond", NULL);
  node(b, "w/body_ctl", "Identity", "w/Switch_i:1", NULL);
  konst(b, "w/es2", "int32", "[1]", es2, 4, "^w/body_ctl");
  node(b, "w/item", "TensorListGetItem", "w/Switch_in:1 w/body_ctl w/es2", fl);
  node(b, "w/sq", "Mul", "w/item w/item", NULL);
  node(b, "w/set", "TensorListSetItem", "w/Switch_out:1 w/body_ctl w/sq", fl);
  ci(b, "w/one", 1, "^w/body_ctl");
  node(b, "w/add", "AddV2", "w/body_ctl w/one", NULL);
  node(b, "w/Next_i", "NextIteration", "w/add ^w/body_ctl", NULL);
  node(b, "w/Next_out", "NextIteration", "w/set ^w/body_ctl", NULL);
  node(b, "w/Next_in", "NextIteration", "w/Switch_in:1 ^w/body_ctl", NULL);
  node(b, "w/Exit_out", "Exit", "w/Switch_out", NULL);
  node(b, "stacked", "TensorListStack", "w/Exit_out es_any",
       "\"element_dtype\":{\"type\":\"DT_FLOAT\"},\"num_elements\":{\"i\":\"-1\"}");
  node(b, "length", "TensorListLength", "w/Exit_out", NULL);
}

Test(flow, tensor_list_map) {
  gb b = {0};
  build_tl_map(&b);
  rt_model *m = load_ok(&b);
  cr_assert_eq(rt_model_num_outputs(m), 2);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  float x[4 * 2] = {1, -2, 0.5f, 3, -1.5f, 4, 2, 0};
  for (int n = 1; n <= 4; n += 3) {
    rt_tensor in = {.dtype = RT_DT_F32, .rank = 2, .dims = {n, 2}, .data = x}, out[2];
    cr_assert_eq(rt_session_run(s, &in, 1, out, &err), RT_OK, "n=%d: %s", n, err.msg);
    cr_assert_eq(out[0].dtype, RT_DT_F32);
    cr_assert_eq(out[0].rank, 2);
    cr_assert_eq(out[0].dims[0], n);
    cr_assert_eq(out[0].dims[1], 2);
    for (int i = 0; i < 2 * n; i++)
      cr_assert_float_eq(((float *)out[0].data)[i], x[i] * x[i], 0, "n=%d element %d", n, i);
    cr_assert_eq(out[1].dtype, RT_DT_I32);
    cr_assert_eq(((int32_t *)out[1].data)[0], n);
  }
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* total = sum over j < m of (number of i < j) = m(m-1)/2, with the inner loop's counter
 * starting from a Const that the outer pivot controls, and the inner count starting from the
 * outer running total. */
static void build_nested(gb *b) {
  ph(b, "m", "INT32", "");
  ci(b, "zero", 0, NULL);
  enter(b, "o/Enter_j", "zero", "outer", false);
  enter(b, "o/Enter_t", "zero", "outer", false);
  enter(b, "o/Enter_m", "m", "outer", true);
  node(b, "o/Merge_j", "Merge", "o/Enter_j o/Next_j", NULL);
  node(b, "o/Merge_t", "Merge", "o/Enter_t o/Next_t", NULL);
  node(b, "o/Less", "Less", "o/Merge_j o/Enter_m", NULL);
  node(b, "o/LoopCond", "LoopCond", "o/Less", NULL);
  node(b, "o/Switch_j", "Switch", "o/Merge_j o/LoopCond", NULL);
  node(b, "o/Switch_t", "Switch", "o/Merge_t o/LoopCond", NULL);
  node(b, "o/Id_j", "Identity", "o/Switch_j:1", NULL);
  node(b, "o/Id_t", "Identity", "o/Switch_t:1", NULL);
  ci(b, "i/zero", 0, "^o/Id_j");
  enter(b, "i/Enter_i", "i/zero", "inner", false);
  enter(b, "i/Enter_c", "o/Id_t", "inner", false);
  enter(b, "i/Enter_b", "o/Id_j", "inner", true);
  node(b, "i/Merge_i", "Merge", "i/Enter_i i/Next_i", NULL);
  node(b, "i/Merge_c", "Merge", "i/Enter_c i/Next_c", NULL);
  node(b, "i/Less", "Less", "i/Merge_i i/Enter_b", NULL);
  node(b, "i/LoopCond", "LoopCond", "i/Less", NULL);
  node(b, "i/Switch_i", "Switch", "i/Merge_i i/LoopCond", NULL);
  node(b, "i/Switch_c", "Switch", "i/Merge_c i/LoopCond", NULL);
  node(b, "i/Id_i", "Identity", "i/Switch_i:1", NULL);
  node(b, "i/Id_c", "Identity", "i/Switch_c:1", NULL);
  ci(b, "i/one", 1, "^i/Id_i");
  node(b, "i/add_i", "AddV2", "i/Id_i i/one", NULL);
  node(b, "i/add_c", "AddV2", "i/Id_c i/one", NULL);
  node(b, "i/Next_i", "NextIteration", "i/add_i", NULL);
  node(b, "i/Next_c", "NextIteration", "i/add_c", NULL);
  node(b, "i/Exit_c", "Exit", "i/Switch_c", NULL);
  ci(b, "o/one", 1, "^o/Id_j");
  node(b, "o/add_j", "AddV2", "o/Id_j o/one", NULL);
  node(b, "o/Next_j", "NextIteration", "o/add_j", NULL);
  node(b, "o/Next_t", "NextIteration", "i/Exit_c", NULL);
  node(b, "o/Exit_t", "Exit", "o/Switch_t", NULL);
  node(b, "total", "Identity", "o/Exit_t", NULL);
}

Test(flow, nested_loops) {
  gb b = {0};
  build_nested(&b);
  rt_model *m = load_ok(&b);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  for (int32_t mv = 0; mv <= 12; mv += 4) {
    int32_t v = mv;
    rt_tensor in = scalar_i32(&v), out;
    cr_assert_eq(rt_session_run(s, &in, 1, &out, &err), RT_OK, "m=%d: %s", mv, err.msg);
    cr_assert_eq(((int32_t *)out.data)[0], mv * (mv - 1) / 2 * (mv > 0), "m=%d", mv);
  }
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* Shapes that depend on values change every iteration: acc += sum(range(i)) for i < n, so
 * acc = sum of i(i-1)/2 = n(n-1)(n-2)/6. */
Test(flow, shapes_change_per_iteration) {
  gb b = {0};
  ph(&b, "n", "INT32", "");
  ci(&b, "zero", 0, NULL);
  enter(&b, "w/Enter_i", "zero", "w/ctx", false);
  enter(&b, "w/Enter_acc", "zero", "w/ctx", false);
  enter(&b, "w/Enter_n", "n", "w/ctx", true);
  node(&b, "w/Merge_i", "Merge", "w/Enter_i w/Next_i", NULL);
  node(&b, "w/Merge_acc", "Merge", "w/Enter_acc w/Next_acc", NULL);
  node(&b, "w/Less", "Less", "w/Merge_i w/Enter_n", NULL);
  node(&b, "w/LoopCond", "LoopCond", "w/Less", NULL);
  node(&b, "w/Switch_i", "Switch", "w/Merge_i w/LoopCond", NULL);
  node(&b, "w/Switch_acc", "Switch", "w/Merge_acc w/LoopCond", NULL);
  node(&b, "w/Identity_i", "Identity", "w/Switch_i:1", NULL);
  ci(&b, "w/zero", 0, "^w/Identity_i");
  ci(&b, "w/one", 1, "^w/Identity_i");
  node(&b, "w/range", "Range", "w/zero w/Identity_i w/one", "\"Tidx\":{\"type\":\"DT_INT32\"}");
  node(&b, "w/sum", "Sum", "w/range w/zero", "\"keep_dims\":{\"b\":false}");
  node(&b, "w/add_acc", "AddV2", "w/Switch_acc:1 w/sum", NULL);
  node(&b, "w/add_i", "AddV2", "w/Identity_i w/one", NULL);
  node(&b, "w/Next_i", "NextIteration", "w/add_i", NULL);
  node(&b, "w/Next_acc", "NextIteration", "w/add_acc", NULL);
  node(&b, "w/Exit_acc", "Exit", "w/Switch_acc", NULL);
  node(&b, "acc", "Identity", "w/Exit_acc", NULL);
  rt_model *m = load_ok(&b);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  for (int32_t n = 0; n <= 40; n += 8) {
    int32_t v = n;
    rt_tensor in = scalar_i32(&v), out;
    cr_assert_eq(rt_session_run(s, &in, 1, &out, &err), RT_OK, "n=%d: %s", n, err.msg);
    cr_assert_eq(((int32_t *)out.data)[0], n * (n - 1) * (n - 2) / 6 * (n > 1), "n=%d", n);
  }
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* TensorArraySplitV3 into an array of element shape [-1, 2], then TensorArrayConcatV3:
 * the rows come back in order, with TensorFlow's lengths output. */
Test(flow, tensor_array_split_and_concat) {
  gb b = {0};
  ph(&b, "x", "FLOAT", "\"dim\":[{\"size\":\"3\"},{\"size\":\"2\"}]");
  ci(&b, "two", 2, NULL);
  const int32_t lens[2] = {1, 2};
  konst(&b, "lens", "int32", "[2]", lens, 8, NULL);
  node(&b, "ta", "TensorArrayV3", "two",
       "\"dtype\":{\"type\":\"DT_FLOAT\"},\"clear_after_read\":{\"b\":true},"
       "\"element_shape\":{\"shape\":{\"dim\":[{\"size\":\"-1\"},{\"size\":\"2\"}]}}");
  node(&b, "split", "TensorArraySplitV3", "ta x lens ta:1", NULL);
  node(&b, "size", "TensorArraySizeV3", "ta split", NULL);
  node(&b, "concat", "TensorArrayConcatV3", "ta split ^size", "\"dtype\":{\"type\":\"DT_FLOAT\"}");
  node(&b, "value", "Identity", "concat", NULL);
  node(&b, "lengths", "Identity", "concat:1", NULL);
  node(&b, "size_out", "Identity", "size", NULL);
  rt_model *m = load_ok(&b);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  float x[6] = {1, 2, 3, 4, 5, 6};
  rt_tensor in = {.dtype = RT_DT_F32, .rank = 2, .dims = {3, 2}, .data = x}, out[3];
  cr_assert_eq(rt_session_run(s, &in, 1, out, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(out[0].rank, 2);
  cr_assert_eq(out[0].dims[0], 3);
  cr_assert_eq(out[0].dims[1], 2);
  for (int i = 0; i < 6; i++)
    cr_assert_float_eq(((float *)out[0].data)[i], x[i], 0);
  cr_assert_eq(out[1].dims[0], 2);
  cr_assert_eq(((int32_t *)out[1].data)[0], 1);
  cr_assert_eq(((int32_t *)out[1].data)[1], 2);
  cr_assert_eq(((int32_t *)out[2].data)[0], 2);
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* A list capped at 2 elements: push, push, length, pop (ordered by control edges, since the
 * list is one mutable object as in TF.js), length again; a third push overflows. */
Test(flow, tensor_list_push_pop) {
  gb b = {0};
  ph(&b, "third", "BOOL", "");
  ci(&b, "es_any", -1, NULL);
  ci(&b, "cap", 2, NULL);
  const float va[2] = {1, 2}, vb[2] = {3, 4};
  konst(&b, "a", "float32", "[2]", va, 8, NULL);
  konst(&b, "b", "float32", "[2]", vb, 8, NULL);
  const char *fl = "\"element_dtype\":{\"type\":\"DT_FLOAT\"}";
  node(&b, "l", "EmptyTensorList", "es_any cap", fl);
  node(&b, "p1", "TensorListPushBack", "l a", fl);
  node(&b, "p2", "TensorListPushBack", "p1 b", fl);
  node(&b, "sw", "Switch", "p2 third", NULL);
  node(&b, "p3", "TensorListPushBack", "sw:1 a", fl);
  node(&b, "len", "TensorListLength", "sw", NULL);
  node(&b, "pop", "TensorListPopBack", "sw es_any ^len", fl);
  node(&b, "len2", "TensorListLength", "pop", NULL);
  node(&b, "popped", "Identity", "pop:1", NULL);
  node(&b, "merged", "Merge", "len2 p3", NULL);
  node(&b, "out_len", "Identity", "len", NULL);
  rt_model *m = load_ok(&b);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  uint8_t third = 0;
  rt_tensor in = {.dtype = RT_DT_BOOL, .rank = 0, .data = &third}, out[3];
  cr_assert_eq(rt_model_num_outputs(m), 3); /* popped, merged (= len2 here), out_len */
  cr_assert_eq(rt_session_run(s, &in, 1, out, &err), RT_OK, "%s", err.msg);
  cr_assert_str_eq(rt_model_output(m, 0)->name, "popped");
  cr_assert_eq(out[0].rank, 1);
  cr_assert_float_eq(((float *)out[0].data)[0], 3.0f, 0);
  cr_assert_float_eq(((float *)out[0].data)[1], 4.0f, 0);
  cr_assert_eq(((int32_t *)out[1].data)[0], 1);
  cr_assert_eq(((int32_t *)out[2].data)[0], 2);
  third = 1;
  cr_assert_neq(rt_session_run(s, &in, 1, out, &err), RT_OK);
  cr_assert(strstr(err.msg, "'p3'") && strstr(err.msg, "full"), "%s", err.msg);
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* A loop whose condition never turns false stops at the iteration limit with an error. */
Test(flow, runaway_loop_is_bounded, .timeout = 20) {
  gb b = {0};
  ph(&b, "x", "FLOAT", "");
  uint8_t t = 1;
  konst(&b, "yes", "bool", "[]", &t, 1, NULL);
  enter(&b, "w/Enter_x", "x", "w/ctx", false);
  enter(&b, "w/Enter_yes", "yes", "w/ctx", true);
  node(&b, "w/Merge", "Merge", "w/Enter_x w/Next", NULL);
  node(&b, "w/LoopCond", "LoopCond", "w/Enter_yes", NULL);
  node(&b, "w/Switch", "Switch", "w/Merge w/LoopCond", NULL);
  node(&b, "w/Next", "NextIteration", "w/Switch:1", NULL);
  node(&b, "w/Exit", "Exit", "w/Switch", NULL);
  node(&b, "y", "Identity", "w/Exit", NULL);
  rt_model *m = load_ok(&b);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  float x = 1;
  rt_tensor in = {.dtype = RT_DT_F32, .rank = 0, .data = &x}, out;
  cr_assert_neq(rt_session_run(s, &in, 1, &out, &err), RT_OK);
  cr_assert(strstr(err.msg, "w/Next") && strstr(err.msg, "iterations"), "%s", err.msg);
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* Graphs whose frames make no sense are refused when the session is created. */
Test(flow, malformed_frames_are_refused) {
  static const struct {
    const char *what, *needle;
  } cases[] = {
      {"exit", "not inside a loop frame"},
      {"next", "only a Merge"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    gb b = {0};
    ph(&b, "x", "FLOAT", "");
    if (!strcmp(cases[c].what, "exit")) {
      node(&b, "bad", "Exit", "x", NULL);
      node(&b, "y", "Identity", "bad", NULL);
    } else {
      enter(&b, "w/Enter", "x", "w/ctx", false);
      node(&b, "w/Merge", "Merge", "w/Enter w/Next", NULL);
      node(&b, "w/Next", "NextIteration", "w/Merge", NULL);
      node(&b, "bad", "Neg", "w/Next", NULL);
      node(&b, "w/Exit", "Exit", "bad", NULL);
    }
    rt_error err = {0};
    rt_status st;
    rt_model *m = load_gb(&b, &err, &st);
    rt_session *s = NULL;
    if (st == RT_OK) {
      st = rt_session_create(m, &s, &err);
      rt_session_destroy(s);
    }
    cr_assert_neq(st, RT_OK, "%s", cases[c].what);
    cr_assert(strstr(err.msg, "bad") && strstr(err.msg, cases[c].needle), "%s: %s", cases[c].what,
              err.msg);
    rt_model_destroy(m);
  }
}

/* Run-time misuse of a TensorArray is an error naming the node; the session stays usable. */
Test(flow, tensor_array_bounds) {
  gb b = {0};
  ph(&b, "k", "INT32", "");
  ci(&b, "three", 3, NULL);
  ci(&b, "one", 1, NULL);
  cf(&b, "v", 5.0f, NULL);
  node(&b, "ta", "TensorArrayV3", "three",
       "\"dtype\":{\"type\":\"DT_FLOAT\"},\"clear_after_read\":{\"b\":true}");
  node(&b, "w1", "TensorArrayWriteV3", "ta k v ta:1", NULL);
  node(&b, "r1", "TensorArrayReadV3", "ta one w1", "\"dtype\":{\"type\":\"DT_FLOAT\"}");
  rt_model *m = load_ok(&b);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  rt_tensor out;
  int32_t k = 0; /* writes index 0, reads index 1 of an array whose size (TF.js) is then 1 */
  rt_tensor in = scalar_i32(&k);
  cr_assert_neq(rt_session_run(s, &in, 1, &out, &err), RT_OK);
  cr_assert(strstr(err.msg, "'r1'") && strstr(err.msg, "index 1"), "%s", err.msg);
  k = 7; /* out of range for a fixed-size array of 3 */
  cr_assert_neq(rt_session_run(s, &in, 1, &out, &err), RT_OK);
  cr_assert(strstr(err.msg, "'w1'") && strstr(err.msg, "index 7"), "%s", err.msg);
  k = -1;
  cr_assert_neq(rt_session_run(s, &in, 1, &out, &err), RT_OK);
  cr_assert(strstr(err.msg, "'w1'"), "%s", err.msg);
  k = 1;
  cr_assert_eq(rt_session_run(s, &in, 1, &out, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(out.rank, 0);
  cr_assert_float_eq(((float *)out.data)[0], 5.0f, 0);
  rt_session_destroy(s);
  rt_model_destroy(m);
}

/* A handle must name a resource of the right kind made in this run. */
Test(flow, handles_are_checked) {
  gb b = {0};
  ph(&b, "k", "INT32", "");
  ci(&b, "one", 1, NULL);
  node(&b, "ta", "TensorArrayV3", "one", "\"dtype\":{\"type\":\"DT_FLOAT\"}");
  node(&b, "len_ta", "TensorListLength", "ta", NULL);
  node(&b, "len_k", "TensorListLength", "k", NULL);
  rt_model *m = load_ok(&b);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  rt_tensor out[2];
  int32_t ks[] = {0, 12345, -3};
  for (int i = 0; i < 3; i++) {
    rt_tensor in = scalar_i32(&ks[i]);
    cr_assert_neq(rt_session_run(s, &in, 1, out, &err), RT_OK);
    cr_assert(strstr(err.msg, "'len_") && strstr(err.msg, "not a TensorList handle"), "%s",
              err.msg);
  }
  rt_session_destroy(s);
  rt_model_destroy(m);
}

Test(flow, tensor_array_reads_and_writes_once) {
  gb b = {0};
  ph(&b, "k", "INT32", "");
  ci(&b, "two", 2, NULL);
  ci(&b, "zero", 0, NULL);
  cf(&b, "v", 5.0f, NULL);
  node(&b, "ta", "TensorArrayV3", "two",
       "\"dtype\":{\"type\":\"DT_FLOAT\"},\"clear_after_read\":{\"b\":true}");
  node(&b, "w1", "TensorArrayWriteV3", "ta zero v ta:1", NULL);
  node(&b, "w2", "TensorArrayWriteV3", "ta k v w1", NULL);
  node(&b, "r1", "TensorArrayReadV3", "ta zero w2", "\"dtype\":{\"type\":\"DT_FLOAT\"}");
  node(&b, "r2", "TensorArrayReadV3", "ta zero r1", "\"dtype\":{\"type\":\"DT_FLOAT\"}");
  node(&b, "out", "Identity", "r2", NULL);
  rt_model *m = load_ok(&b);
  rt_session *s;
  rt_error err = {0};
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  rt_tensor out;
  int32_t k = 0; /* second write to index 0 */
  rt_tensor in = scalar_i32(&k);
  cr_assert_neq(rt_session_run(s, &in, 1, &out, &err), RT_OK);
  cr_assert(strstr(err.msg, "'w2'") && strstr(err.msg, "already been written"), "%s", err.msg);
  k = 1; /* writes are fine; the second read of a clear_after_read array is not */
  cr_assert_neq(rt_session_run(s, &in, 1, &out, &err), RT_OK);
  cr_assert(strstr(err.msg, "'r2'") && strstr(err.msg, "twice"), "%s", err.msg);
  rt_session_destroy(s);
  rt_model_destroy(m);
}
