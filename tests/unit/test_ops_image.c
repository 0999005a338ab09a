/*
 * test_ops_image.c — the image family (ops_image.c) called directly through the op table.
 *
 * Expected values come from TensorFlow.js 4.22 on the CPU backend, produced in node with
 *   const tf = require('@tensorflow/tfjs'); tf.setBackend('cpu'); ...
 * calling the same op the converter maps the TF op to (tf.image.resizeBilinear,
 * tf.image.cropAndResize, tf.topk, tf.image.nonMaxSuppressionWithScoreAsync, ...) on the
 * inputs written here, and printing dataSync() with toPrecision(9) (which round-trips
 * float32), so float comparisons below are exact. Each test names the call it came from.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ops.h"

/* ---- harness: one node in a fresh graph, inputs given as views ---- */

typedef struct tc {
  rt_graph *g;
  int node;
  const rt_op_def *op;
  int n_in;
  rt_tensor in[8];
  rt_tensor out[4];
  rt_kctx k;
  rt_error err;
  void *scratch;
} tc;

static tc *tc_new(const char *op) {
  tc *t = calloc(1, sizeof *t);
  cr_assert(t);
  t->g = rt__graph_create("graph-model", "test.json");
  cr_assert(t->g);
  t->node = rt__graph_add_node(t->g, "n", op);
  cr_assert(t->node >= 0);
  t->op = rt__op_find(op);
  cr_assert(t->op, "op %s not in the table", op);
  return t;
}

static void tc_free(tc *t) {
  for (int j = 0; j < 4; j++)
    free(t->out[j].data);
  free(t->scratch);
  rt__graph_destroy(t->g);
  free(t);
}

static void attr_bool(tc *t, const char *name, bool v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_BOOL);
  a->b = v;
}

static void attr_int(tc *t, const char *name, int64_t v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_INT);
  a->i = v;
}

static void attr_float(tc *t, const char *name, float v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_FLOAT);
  a->f = v;
}

static void attr_str(tc *t, const char *name, const char *v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_STRING);
  a->s = rt__pool_strdup(t->g->pool, v);
  a->s_len = strlen(v);
}

/* Adds an input; data may be NULL (a value known only at run time). */
static void in_t(tc *t, rt_dtype dt, int rank, const int64_t *dims, const void *data) {
  rt_tensor *x = &t->in[t->n_in++];
  x->dtype = dt;
  x->rank = rank;
  for (int i = 0; i < rank; i++)
    x->dims[i] = dims[i];
  x->data = (void *)data;
}

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define F32S(...) ((const float[]){__VA_ARGS__})
#define I32S(...) ((const int32_t[]){__VA_ARGS__})

static void in_scalar_i32(tc *t, const int32_t *v) { in_t(t, RT_DT_I32, 0, NULL, v); }
static void in_scalar_f32(tc *t, const float *v) { in_t(t, RT_DT_F32, 0, NULL, v); }

/* prepare (once) + shape */
static rt_status tc_shape(tc *t) {
  rt_node *n = &t->g->nodes[t->node];
  if (t->op->prepare && !n->params) {
    rt_status st = t->op->prepare(t->g, n, &t->err);
    if (st != RT_OK)
      return st;
  }
  int n_out = t->op->num_outputs ? t->op->num_outputs(n) : t->op->n_outputs;
  memset(t->out, 0, sizeof t->out);
  t->k = (rt_kctx){.node = n,
                   .params = n->params,
                   .n_in = t->n_in,
                   .in = t->in,
                   .n_out = n_out,
                   .out = t->out,
                   .err = &t->err};
  return t->op->shape(&t->k);
}

/* shape, then run into fresh outputs (poisoned so untouched elements show up). */
static rt_status tc_run(tc *t) {
  rt_status st = tc_shape(t);
  if (st != RT_OK)
    return st;
  for (int j = 0; j < t->k.n_out; j++) {
    size_t nb = rt_tensor_nbytes(&t->out[j]);
    t->out[j].data = malloc(nb + 1);
    memset(t->out[j].data, 0xA5, nb + 1);
  }
  if (t->k.scratch_bytes) {
    t->scratch = aligned_alloc(64, (t->k.scratch_bytes + 63) & ~(size_t)63);
    t->k.scratch = t->scratch;
  }
  return t->op->run(&t->k);
}

static void expect_shape(const rt_tensor *y, int rank, const int64_t *dims) {
  cr_assert_eq(y->rank, rank, "rank %d, expected %d", y->rank, rank);
  for (int i = 0; i < rank; i++)
    cr_assert_eq(y->dims[i], dims[i], "dim %d: %lld, expected %lld", i, (long long)y->dims[i],
                 (long long)dims[i]);
}

static void expect_f32(const rt_tensor *y, const float *want, int64_t n) {
  cr_assert_eq(y->dtype, RT_DT_F32);
  cr_assert_eq(rt_tensor_numel(y), n, "numel %lld, expected %lld", (long long)rt_tensor_numel(y),
               (long long)n);
  const float *v = y->data;
  for (int64_t i = 0; i < n; i++)
    cr_assert(v[i] == want[i] || (isnan(v[i]) && isnan(want[i])),
              "element %lld: %.9g, expected %.9g", (long long)i, v[i], want[i]);
}

static void expect_i32(const rt_tensor *y, const int32_t *want, int64_t n) {
  cr_assert_eq(y->dtype, RT_DT_I32);
  cr_assert_eq(rt_tensor_numel(y), n, "numel %lld, expected %lld", (long long)rt_tensor_numel(y),
               (long long)n);
  const int32_t *v = y->data;
  for (int64_t i = 0; i < n; i++)
    cr_assert_eq(v[i], want[i], "element %lld: %d, expected %d", (long long)i, v[i], want[i]);
}

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* ---- ResizeBilinear / ResizeNearestNeighbor ---- */

/* The image every resize test uses: [1, 3, 4, 2], element i = ((i * 37) % 23) * 0.25 - 1. */
static float g_img[24];
static const float *img(void) {
  for (int i = 0; i < 24; i++)
    g_img[i] = (float)((i * 37) % 23) * 0.25f - 1.0f;
  return g_img;
}

static tc *resize(const char *op, bool ac, bool hp, const int32_t *size) {
  tc *t = tc_new(op);
  attr_bool(t, "align_corners", ac);
  attr_bool(t, "half_pixel_centers", hp);
  in_t(t, RT_DT_F32, 4, DIMS(1, 3, 4, 2), img());
  in_t(t, RT_DT_I32, 1, DIMS(2), size);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  return t;
}

static const int32_t SZ53[2] = {5, 3}, SZ27[2] = {2, 7};

/* tf.image.resizeBilinear(img, [5, 3] | [2, 7], ac, hp) */
Test(image, resize_bilinear_modes) {
  static const float def53[] = {
      -1.0f,       2.50000000f, 0.666666687f, 2.25000000f, 2.33333325f,  0.0833333358f,
      2.0f,        2.04999995f, 0.216666669f, 2.95000005f, 1.88333333f,  0.783333361f,
      3.84999990f, 1.60000002f, 0.533333361f, 3.26666665f, 1.43333328f,  1.10000002f,
      3.40000010f, 1.14999998f, 2.38333344f,  2.81666660f, 0.983333349f, 0.649999976f,
      3.25000000f, 1.0f,        3.0f,         2.66666675f, 0.833333313f, 0.500000000f};
  static const float def27[] = {
      -1.0f,       2.50000000f,   -0.285714298f, 3.21428561f,   0.428571433f, 3.10714293f,
      1.14285719f, 0.535714269f,  1.85714281f,   -0.392857134f, 2.57142854f,  0.321428567f,
      2.75000000f, 0.500000000f,  3.62500000f,   1.37500000f,   2.69642854f,  2.08928561f,
      1.76785719f, 2.80357146f,   0.839285731f,  3.51785707f,   0.732142866f, 2.58928561f,
      1.44642854f, 0.0178571437f, 1.62500000f,   -0.625000000f};
  static const float ac53[] = {
      -1.0f,       2.50000000f, 0.875000000f, 1.50000000f, 2.75000000f, 0.500000000f,
      1.50000000f, 2.12500000f, 0.500000000f, 2.56250000f, 2.37500000f, 0.125000000f,
      4.0f,        1.75000000f, 0.125000000f, 3.62500000f, 2.0f,        -0.250000000f,
      3.62500000f, 1.37500000f, 1.18750000f,  3.25000000f, 1.62500000f, -0.625000000f,
      3.25000000f, 1.0f,        2.25000000f,  2.87500000f, 1.25000000f, -1.0f};
  static const float ac27[] = {
      -1.0f,        2.50000000f,  -0.375000000f, 3.12500000f,   0.250000000f, 3.75000000f,
      0.875000000f, 1.50000000f,  1.50000000f,   -0.750000000f, 2.12500000f,  -0.125000000f,
      2.75000000f,  0.500000000f, 3.25000000f,   1.0f,          3.87500000f,  1.62500000f,
      4.50000000f,  2.25000000f,  2.25000000f,   2.87500000f,   0.0f,         3.50000000f,
      0.625000000f, 1.25000000f,  1.25000000f,   -1.0f};
  static const float hp53[] = {
      -0.791666687f, 2.70833325f, 0.875000000f, 1.50000000f, 2.54166675f, 0.291666657f,
      0.824999988f,  2.40833330f, 0.574999988f, 2.34999990f, 2.24166656f, 0.375000000f,
      3.25000000f,   1.95833337f, 0.125000000f, 3.62500000f, 1.79166663f, 0.500000000f,
      3.37500000f,   1.50833333f, 1.39999998f,  3.17499995f, 1.34166670f, 0.0500000007f,
      3.45833325f,   1.20833337f, 2.25000000f,  2.87500000f, 1.04166663f, -0.250000000f};
  static const float hp27[] = {
      0.250000000f, 2.31250000f,  0.183035716f, 2.75892854f,  0.0758928582f, 3.47321439f,
      0.687500000f, 2.03125000f,  1.40178573f,  0.486607134f, 2.11607146f,   0.379464298f,
      2.56250000f,  0.312500000f, 3.43750000f,  1.18750000f,  3.37053561f,   1.63392854f,
      3.26339293f,  2.34821439f,  1.71875000f,  3.06250000f,  0.276785702f,  3.36607146f,
      0.991071403f, 0.794642866f, 1.43750000f,  -0.812500000f};
  struct {
    bool ac, hp;
    const int32_t *size;
    const float *want;
  } cases[] = {{false, false, SZ53, def53}, {false, false, SZ27, def27}, {true, false, SZ53, ac53},
               {true, false, SZ27, ac27},   {false, true, SZ53, hp53},   {false, true, SZ27, hp27}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tc *t = resize("ResizeBilinear", cases[c].ac, cases[c].hp, cases[c].size);
    expect_shape(&t->out[0], 4, DIMS(1, cases[c].size[0], cases[c].size[1], 2));
    expect_f32(&t->out[0], cases[c].want, 1 * 2 * cases[c].size[0] * cases[c].size[1]);
    tc_free(t);
  }
}

/* tf.image.resizeNearestNeighbor(img, [5, 3] | [2, 7], ac, hp): TF.js floors (or rounds with
 * align_corners) without the -0.5 shift, which differs from TF's C++ kernel. */
Test(image, resize_nearest_modes) {
  static const float def53[] = {
      -1.0f,       2.50000000f, 0.250000000f,  3.75000000f, 1.50000000f,  -0.750000000f,
      -1.0f,       2.50000000f, 0.250000000f,  3.75000000f, 1.50000000f,  -0.750000000f,
      4.0f,        1.75000000f, -0.500000000f, 3.0f,        0.750000000f, 4.25000000f,
      4.0f,        1.75000000f, -0.500000000f, 3.0f,        0.750000000f, 4.25000000f,
      3.25000000f, 1.0f,        4.50000000f,   2.25000000f, 0.0f,         3.50000000f};
  static const float def27[] = {
      -1.0f,         2.50000000f,  -1.0f,         2.50000000f,   0.250000000f, 3.75000000f,
      0.250000000f,  3.75000000f,  1.50000000f,   -0.750000000f, 1.50000000f,  -0.750000000f,
      2.75000000f,   0.500000000f, 4.0f,          1.75000000f,   4.0f,         1.75000000f,
      -0.500000000f, 3.0f,         -0.500000000f, 3.0f,          0.750000000f, 4.25000000f,
      0.750000000f,  4.25000000f,  2.0f,          -0.250000000f};
  static const float ac53[] = {
      -1.0f,       2.50000000f, 1.50000000f,  -0.750000000f, 2.75000000f, 0.500000000f,
      4.0f,        1.75000000f, 0.750000000f, 4.25000000f,   2.0f,        -0.250000000f,
      4.0f,        1.75000000f, 0.750000000f, 4.25000000f,   2.0f,        -0.250000000f,
      3.25000000f, 1.0f,        0.0f,         3.50000000f,   1.25000000f, -1.0f,
      3.25000000f, 1.0f,        0.0f,         3.50000000f,   1.25000000f, -1.0f};
  static const float ac27[] = {
      -1.0f,       2.50000000f,   0.250000000f, 3.75000000f,   0.250000000f, 3.75000000f,
      1.50000000f, -0.750000000f, 1.50000000f,  -0.750000000f, 2.75000000f,  0.500000000f,
      2.75000000f, 0.500000000f,  3.25000000f,  1.0f,          4.50000000f,  2.25000000f,
      4.50000000f, 2.25000000f,   0.0f,         3.50000000f,   0.0f,         3.50000000f,
      1.25000000f, -1.0f,         1.25000000f,  -1.0f};
  static const float hp53[] = {
      -1.0f,       2.50000000f, 1.50000000f,  -0.750000000f, 2.75000000f, 0.500000000f,
      -1.0f,       2.50000000f, 1.50000000f,  -0.750000000f, 2.75000000f, 0.500000000f,
      4.0f,        1.75000000f, 0.750000000f, 4.25000000f,   2.0f,        -0.250000000f,
      3.25000000f, 1.0f,        0.0f,         3.50000000f,   1.25000000f, -1.0f,
      3.25000000f, 1.0f,        0.0f,         3.50000000f,   1.25000000f, -1.0f};
  static const float hp27[] = {
      -1.0f,       2.50000000f,   -1.0f,       2.50000000f,   0.250000000f, 3.75000000f,
      1.50000000f, -0.750000000f, 1.50000000f, -0.750000000f, 2.75000000f,  0.500000000f,
      2.75000000f, 0.500000000f,  3.25000000f, 1.0f,          3.25000000f,  1.0f,
      4.50000000f, 2.25000000f,   0.0f,        3.50000000f,   0.0f,         3.50000000f,
      1.25000000f, -1.0f,         1.25000000f, -1.0f};
  struct {
    bool ac, hp;
    const int32_t *size;
    const float *want;
  } cases[] = {{false, false, SZ53, def53}, {false, false, SZ27, def27}, {true, false, SZ53, ac53},
               {true, false, SZ27, ac27},   {false, true, SZ53, hp53},   {false, true, SZ27, hp27}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tc *t = resize("ResizeNearestNeighbor", cases[c].ac, cases[c].hp, cases[c].size);
    expect_shape(&t->out[0], 4, DIMS(1, cases[c].size[0], cases[c].size[1], 2));
    expect_f32(&t->out[0], cases[c].want, 1 * 2 * cases[c].size[0] * cases[c].size[1]);
    tc_free(t);
  }
}

/* tf.image.resizeBilinear(int32 [[1,5,9],[13,2,7]] as [2,3,1], [3,4]) -> float32, rank 3;
 * tf.image.resizeNearestNeighbor(same, [3,4], false, true) keeps int32. */
Test(image, resize_int32_rank3) {
  static const int32_t x[] = {1, 5, 9, 13, 2, 7};
  static const int32_t sz[] = {3, 4};
  tc *t = tc_new("ResizeBilinear");
  in_t(t, RT_DT_I32, 3, DIMS(2, 3, 1), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), sz);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 3, DIMS(3, 4, 1));
  expect_f32(&t->out[0],
             F32S(1.0f, 4.0f, 7.0f, 9.0f, 9.0f, 4.50000000f, 5.33333349f, 7.66666651f, 13.0f,
                  4.75000000f, 4.50000000f, 7.0f),
             12);
  tc_free(t);

  t = tc_new("ResizeNearestNeighbor");
  attr_bool(t, "half_pixel_centers", true);
  in_t(t, RT_DT_I32, 3, DIMS(2, 3, 1), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), sz);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(1, 5, 5, 9, 13, 2, 2, 7, 13, 2, 2, 7), 12);
  tc_free(t);
}

Test(image, resize_errors_and_deferral) {
  /* size unknown at plan time: the planner must defer the node */
  tc *t = tc_new("ResizeBilinear");
  in_t(t, RT_DT_F32, 4, DIMS(1, 3, 4, 2), img());
  in_t(t, RT_DT_I32, 1, DIMS(2), NULL);
  cr_assert_eq(tc_shape(t), RT_ERR_NEED_VALUE);
  tc_free(t);

  /* both align_corners and half_pixel_centers: TF.js rejects it */
  t = tc_new("ResizeBilinear");
  attr_bool(t, "align_corners", true);
  attr_bool(t, "half_pixel_centers", true);
  in_t(t, RT_DT_F32, 4, DIMS(1, 3, 4, 2), img());
  in_t(t, RT_DT_I32, 1, DIMS(2), SZ53);
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  cr_assert(strstr(t->err.msg, "'n'"), "message names the node: %s", t->err.msg);
  tc_free(t);

  static const int32_t neg[] = {-1, 3}, three[] = {1, 2, 3}, big[] = {4, 4};
  t = tc_new("ResizeNearestNeighbor");
  in_t(t, RT_DT_F32, 4, DIMS(1, 3, 4, 2), img());
  in_t(t, RT_DT_I32, 1, DIMS(2), neg);
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);

  t = tc_new("ResizeNearestNeighbor");
  in_t(t, RT_DT_F32, 4, DIMS(1, 3, 4, 2), img());
  in_t(t, RT_DT_I32, 1, DIMS(3), three);
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);

  t = tc_new("ResizeBilinear"); /* rank 2 images */
  in_t(t, RT_DT_F32, 2, DIMS(4, 6), img());
  in_t(t, RT_DT_I32, 1, DIMS(2), SZ53);
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);

  t = tc_new("ResizeBilinear"); /* an empty image cannot be upsampled: nothing to read */
  in_t(t, RT_DT_F32, 4, DIMS(1, 0, 4, 2), img());
  in_t(t, RT_DT_I32, 1, DIMS(2), big);
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);

  /* empty batch and zero size are fine and produce empty outputs */
  static const int32_t zero[] = {0, 5};
  t = tc_new("ResizeBilinear");
  in_t(t, RT_DT_F32, 4, DIMS(1, 3, 4, 2), img());
  in_t(t, RT_DT_I32, 1, DIMS(2), zero);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 4, DIMS(1, 0, 5, 2));
  tc_free(t);
  t = tc_new("ResizeNearestNeighbor");
  in_t(t, RT_DT_F32, 4, DIMS(0, 3, 4, 2), img());
  in_t(t, RT_DT_I32, 1, DIMS(2), big);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 4, DIMS(0, 4, 4, 2));
  tc_free(t);
}

/* ---- CropAndResize ---- */

/* image [2,4,5,1], element i = ((i * 37) % 23) * 0.5; five boxes, one with box_ind 2 >= batch
 * (TF.js leaves that crop zero), one partly outside the image (extrapolated). From
 * tf.image.cropAndResize(image, boxes, boxInd, [3,2] | [1,1], method, ext). */
static float g_cimg[40];
static const float CBOX[] = {0,    0,    1,    1,    0.1f, 0.2f, 0.7f,  0.9f, -0.5f, 0.3f,
                             0.5f, 1.4f, 0.2f, 0.2f, 0.6f, 0.6f, 0.25f, 0.1f, 0.9f,  0.8f};
static const int32_t CIND[] = {0, 1, 0, 2, 1};

static tc *crop(const char *method, float ext, const int32_t *cs) {
  for (int i = 0; i < 40; i++)
    g_cimg[i] = (float)((i * 37) % 23) * 0.5f;
  tc *t = tc_new("CropAndResize");
  attr_str(t, "method", method);
  attr_float(t, "extrapolation_value", ext);
  in_t(t, RT_DT_F32, 4, DIMS(2, 4, 5, 1), g_cimg);
  in_t(t, RT_DT_F32, 2, DIMS(5, 4), CBOX);
  in_t(t, RT_DT_I32, 1, DIMS(5), CIND);
  in_t(t, RT_DT_I32, 1, DIMS(2), cs);
  return t;
}

Test(image, crop_and_resize) {
  static const int32_t cs32[] = {3, 2}, cs11[] = {1, 1};
  tc *t = crop("bilinear", 0.5f, cs32);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 4, DIMS(5, 3, 2, 1));
  expect_f32(&t->out[0],
             F32S(0.0f, 5.0f, 0.750000000f, 5.75000000f, 1.50000000f, 6.50000000f, 7.75000000f,
                  4.34999943f, 8.19999981f, 4.79999924f, 8.64999962f, 5.24999952f, 0.500000000f,
                  0.500000000f, 6.09999990f, 0.500000000f, 6.84999990f, 0.500000000f, 0.0f, 0.0f,
                  0.0f, 0.0f, 0.0f, 0.0f, 5.17500019f, 1.77500033f, 5.66249990f, 2.26250029f,
                  6.15000010f, 2.75000024f),
             30);
  tc_free(t);

  t = crop("nearest", 0.5f, cs32);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_f32(&t->out[0],
             F32S(0.0f, 5.0f, 1.0f, 6.0f, 1.50000000f, 6.50000000f, 9.0f, 7.0f, 9.50000000f,
                  7.50000000f, 10.0f, 8.0f, 0.500000000f, 0.500000000f, 7.0f, 0.500000000f, 8.0f,
                  0.500000000f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 2.50000000f, 0.500000000f, 3.0f,
                  1.0f, 3.50000000f, 1.50000000f),
             30);
  tc_free(t);

  t = crop("bilinear", 0.0f, cs11); /* one-pixel crops sample the box centre */
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_f32(&t->out[0], F32S(3.25000000f, 4.20000029f, 7.70000029f, 0.0f, 6.26249981f), 5);
  tc_free(t);
}

Test(image, crop_and_resize_errors) {
  static const int32_t cs32[] = {3, 2}, cs0[] = {0, 2};
  tc *t = crop("area", 0, cs32);
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  t = crop("bilinear", 0, cs0);
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  static const int32_t bad_ind[] = {0, -1, 0, 0, 0};
  t = crop("bilinear", 0, cs32);
  t->in[2].data = (void *)bad_ind;
  cr_assert_eq(tc_run(t), RT_ERR_INVALID_ARG);
  tc_free(t);
}

/* ---- DepthToSpace / SpaceToDepth ---- */

/* tf.depthToSpace(range(32) as [1,2,2,8], 2) -> [1,4,4,2] */
Test(image, depth_to_space) {
  int32_t x[32];
  for (int i = 0; i < 32; i++)
    x[i] = i;
  tc *t = tc_new("DepthToSpace");
  attr_int(t, "block_size", 2);
  attr_str(t, "data_format", "NHWC");
  in_t(t, RT_DT_I32, 4, DIMS(1, 2, 2, 8), x);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 4, DIMS(1, 4, 4, 2));
  static const int32_t want[] = {0,  1,  2,  3,  8,  9,  10, 11, 4,  5,  6,  7,  12, 13, 14, 15,
                                 16, 17, 18, 19, 24, 25, 26, 27, 20, 21, 22, 23, 28, 29, 30, 31};
  expect_i32(&t->out[0], want, 32);

  /* SpaceToDepth is its inverse (TF.js has no SpaceToDepth; TF defines it so) */
  tc *u = tc_new("SpaceToDepth");
  attr_int(u, "block_size", 2);
  in_t(u, RT_DT_I32, 4, DIMS(1, 4, 4, 2), t->out[0].data);
  cr_assert_eq(tc_run(u), RT_OK, "%s", u->err.msg);
  expect_shape(&u->out[0], 4, DIMS(1, 2, 2, 8));
  expect_i32(&u->out[0], x, 32);
  tc_free(u);
  tc_free(t);
}

Test(image, depth_space_errors) {
  float x[24] = {0};
  tc *t = tc_new("DepthToSpace");
  attr_int(t, "block_size", 2);
  in_t(t, RT_DT_F32, 4, DIMS(1, 2, 2, 6), x); /* 6 % 4 != 0 */
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);
  t = tc_new("DepthToSpace");
  attr_int(t, "block_size", 1);
  in_t(t, RT_DT_F32, 4, DIMS(1, 2, 2, 4), x);
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  t = tc_new("DepthToSpace");
  attr_int(t, "block_size", 2);
  attr_str(t, "data_format", "NCHW");
  in_t(t, RT_DT_F32, 4, DIMS(1, 4, 2, 2), x);
  cr_assert_eq(tc_shape(t), RT_ERR_UNSUPPORTED);
  tc_free(t);
  t = tc_new("SpaceToDepth");
  attr_int(t, "block_size", 2);
  in_t(t, RT_DT_F32, 4, DIMS(1, 3, 2, 4), x); /* height 3 */
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);
}

/* ---- SpaceToBatchND / BatchToSpaceND ---- */

/* tf.spaceToBatchND(range(1..24) as [2,3,4,1], [2,2], [[1,0],[0,2]]) -> [8,2,3,1] */
Test(image, space_to_batch) {
  int32_t x[24];
  for (int i = 0; i < 24; i++)
    x[i] = i + 1;
  tc *t = tc_new("SpaceToBatchND");
  in_t(t, RT_DT_I32, 4, DIMS(2, 3, 4, 1), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(1, 0, 0, 2));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 4, DIMS(8, 2, 3, 1));
  static const int32_t want[] = {0, 0,  0,  5, 7, 0,  0,  0,  0,  17, 19, 0,  0,  0,  0,  6,
                                 8, 0,  0,  0, 0, 18, 20, 0,  1,  3,  0,  9,  11, 0,  13, 15,
                                 0, 21, 23, 0, 2, 4,  0,  10, 12, 0,  14, 16, 0,  22, 24, 0};
  expect_i32(&t->out[0], want, 48);
  tc_free(t);

  /* one block dim with trailing dims: tf.spaceToBatchND(range(1..12) as [1,6,2], [3], [[1,2]]) */
  t = tc_new("SpaceToBatchND");
  in_t(t, RT_DT_F32, 3, DIMS(1, 6, 2), F32S(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
  in_t(t, RT_DT_I32, 1, DIMS(1), I32S(3));
  in_t(t, RT_DT_I32, 2, DIMS(1, 2), I32S(1, 2));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 3, DIMS(3, 3, 2));
  expect_f32(&t->out[0], F32S(0, 0, 5, 6, 11, 12, 1, 2, 7, 8, 0, 0, 3, 4, 9, 10, 0, 0), 18);
  tc_free(t);
}

/* tf.batchToSpaceND(range(1..32) as [8,1,2,2], [2,2], [[0,1],[1,1]]) -> [2,1,2,2] */
Test(image, batch_to_space) {
  int32_t x[32];
  for (int i = 0; i < 32; i++)
    x[i] = i + 1;
  tc *t = tc_new("BatchToSpaceND");
  in_t(t, RT_DT_I32, 4, DIMS(8, 1, 2, 2), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 1, 1, 1));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 4, DIMS(2, 1, 2, 2));
  expect_i32(&t->out[0], I32S(9, 10, 3, 4, 13, 14, 7, 8), 8);
  tc_free(t);
}

Test(image, space_batch_roundtrip_and_errors) {
  /* BatchToSpaceND with crops == paddings undoes SpaceToBatchND (TF's definition) */
  float x[2 * 5 * 3 * 2];
  for (int i = 0; i < 60; i++)
    x[i] = (float)i * 0.5f;
  tc *t = tc_new("SpaceToBatchND");
  in_t(t, RT_DT_F32, 4, DIMS(2, 5, 3, 2), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 3));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 1, 2, 1));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 4, DIMS(12, 3, 2, 2));
  tc *u = tc_new("BatchToSpaceND");
  in_t(u, RT_DT_F32, 4, DIMS(12, 3, 2, 2), t->out[0].data);
  in_t(u, RT_DT_I32, 1, DIMS(2), I32S(2, 3));
  in_t(u, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 1, 2, 1));
  cr_assert_eq(tc_run(u), RT_OK, "%s", u->err.msg);
  expect_f32(&u->out[0], x, 60);
  tc_free(u);
  tc_free(t);

  t = tc_new("SpaceToBatchND"); /* 3 + 0 + 0 not divisible by 2 */
  in_t(t, RT_DT_F32, 4, DIMS(1, 3, 4, 1), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 0, 0, 0));
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);
  t = tc_new("SpaceToBatchND"); /* negative padding */
  in_t(t, RT_DT_F32, 4, DIMS(1, 4, 4, 1), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(-2, 0, 0, 0));
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  t = tc_new("SpaceToBatchND"); /* block_shape of 0 */
  in_t(t, RT_DT_F32, 4, DIMS(1, 4, 4, 1), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(0, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 0, 0, 0));
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  t = tc_new("SpaceToBatchND"); /* paddings unknown: deferred */
  in_t(t, RT_DT_F32, 4, DIMS(1, 4, 4, 1), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), NULL);
  cr_assert_eq(tc_shape(t), RT_ERR_NEED_VALUE);
  tc_free(t);
  t = tc_new("BatchToSpaceND"); /* batch 6 not divisible by 4 */
  in_t(t, RT_DT_F32, 4, DIMS(6, 1, 1, 1), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 0, 0, 0));
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);
  t = tc_new("BatchToSpaceND"); /* crops larger than the dimension */
  in_t(t, RT_DT_F32, 4, DIMS(4, 1, 1, 1), x);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(2, 1, 0, 0));
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);
}

/* ---- SparseToDense ---- */

Test(image, sparse_to_dense) {
  static const int32_t shape33[] = {3, 3};
  tc *t = tc_new("SparseToDense");
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 1, 2, 0));
  in_t(t, RT_DT_I32, 1, DIMS(2), shape33);
  in_t(t, RT_DT_F32, 1, DIMS(2), F32S(5, 6));
  in_scalar_f32(t, F32S(9));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 2, DIMS(3, 3));
  expect_f32(&t->out[0], F32S(9, 5, 9, 9, 9, 9, 6, 9, 9), 9);
  tc_free(t);

  /* vector indices, scalar value broadcast, bool */
  static const uint8_t one = 1, zero = 0;
  t = tc_new("SparseToDense");
  in_t(t, RT_DT_I32, 1, DIMS(3), I32S(4, 0, 2));
  in_t(t, RT_DT_I32, 1, DIMS(1), I32S(5));
  in_t(t, RT_DT_BOOL, 0, NULL, &one);
  in_t(t, RT_DT_BOOL, 0, NULL, &zero);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  cr_assert_eq(t->out[0].dtype, RT_DT_BOOL);
  cr_assert_eq(memcmp(t->out[0].data, (const uint8_t[]){1, 0, 1, 0, 1}, 5), 0);
  tc_free(t);

  /* TF.js only checks the flattened offset: with validate_indices=false, [0, 4] in a [2, 3]
   * output lands on offset 4. tf.sparseToDense([[0,4]], [7], [2,3], 1) -> [1,1,1,1,7,1] */
  t = tc_new("SparseToDense");
  attr_bool(t, "validate_indices", false);
  in_t(t, RT_DT_I32, 2, DIMS(1, 2), I32S(0, 4));
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 3));
  in_t(t, RT_DT_I32, 1, DIMS(1), I32S(7));
  in_scalar_i32(t, I32S(1));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(1, 1, 1, 1, 7, 1), 6);
  tc_free(t);
}

Test(image, sparse_to_dense_errors) {
  /* per-dimension bounds with validate_indices (TF's default) */
  tc *t = tc_new("SparseToDense");
  in_t(t, RT_DT_I32, 2, DIMS(1, 2), I32S(0, 4));
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 3));
  in_t(t, RT_DT_I32, 1, DIMS(1), I32S(7));
  in_scalar_i32(t, I32S(1));
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  /* flattened offset out of range even without validation; indices known only at run time */
  static const int32_t far[] = {5, 0};
  t = tc_new("SparseToDense");
  attr_bool(t, "validate_indices", false);
  in_t(t, RT_DT_I32, 2, DIMS(1, 2), NULL);
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(2, 3));
  in_t(t, RT_DT_I32, 1, DIMS(1), I32S(7));
  in_scalar_i32(t, I32S(1));
  cr_assert_eq(tc_shape(t), RT_OK, "%s", t->err.msg);
  t->in[0].data = (void *)far;
  cr_assert_eq(tc_run(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  /* negative index */
  t = tc_new("SparseToDense");
  attr_bool(t, "validate_indices", false);
  in_t(t, RT_DT_I32, 1, DIMS(1), I32S(-1));
  in_t(t, RT_DT_I32, 1, DIMS(1), I32S(4));
  in_t(t, RT_DT_F32, 1, DIMS(1), F32S(7));
  in_scalar_f32(t, F32S(0));
  cr_assert_eq(tc_run(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  /* values count, dtype mismatch, output rank mismatch, unknown shape */
  t = tc_new("SparseToDense");
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(0, 1));
  in_t(t, RT_DT_I32, 1, DIMS(1), I32S(4));
  in_t(t, RT_DT_F32, 1, DIMS(3), F32S(1, 2, 3));
  in_scalar_f32(t, F32S(0));
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);
  t = tc_new("SparseToDense");
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(0, 1));
  in_t(t, RT_DT_I32, 1, DIMS(1), I32S(4));
  in_t(t, RT_DT_F32, 1, DIMS(2), F32S(1, 2));
  in_scalar_i32(t, I32S(0));
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  t = tc_new("SparseToDense");
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 1, 1, 0));
  in_t(t, RT_DT_I32, 1, DIMS(3), I32S(4, 4, 4));
  in_t(t, RT_DT_F32, 1, DIMS(2), F32S(1, 2));
  in_scalar_f32(t, F32S(0));
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);
  t = tc_new("SparseToDense");
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(0, 1));
  in_t(t, RT_DT_I32, 1, DIMS(1), NULL);
  in_t(t, RT_DT_F32, 1, DIMS(2), F32S(1, 2));
  in_scalar_f32(t, F32S(0));
  cr_assert_eq(tc_shape(t), RT_ERR_NEED_VALUE);
  tc_free(t);
}

/* ---- TopKV2 ---- */

static tc *topk(const float *x, int rank, const int64_t *dims, const int32_t *k, bool sorted) {
  tc *t = tc_new("TopKV2");
  attr_bool(t, "sorted", sorted);
  in_t(t, RT_DT_F32, rank, dims, x);
  in_scalar_i32(t, k);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  return t;
}

/* tf.topk(tensor2d([3,1,3,2, -0,0,5,5, 1,1,1,1], [3,4]), 2): ties go to the lower index. */
Test(image, topk_rows_and_ties) {
  tc *t = topk(F32S(3, 1, 3, 2, -0.0f, 0, 5, 5, 1, 1, 1, 1), 2, DIMS(3, 4), I32S(2), true);
  expect_shape(&t->out[0], 2, DIMS(3, 2));
  expect_f32(&t->out[0], F32S(3, 3, 5, 5, 1, 1), 6);
  expect_i32(&t->out[1], I32S(0, 2, 2, 3, 0, 1), 6);
  tc_free(t);
  /* tf.topk([4,9,1,9,4,7,2], 5, false): the unsorted order TF.js's select leaves */
  t = topk(F32S(4, 9, 1, 9, 4, 7, 2), 1, DIMS(7), I32S(5), false);
  expect_f32(&t->out[0], F32S(9, 9, 7, 4, 4), 5);
  expect_i32(&t->out[1], I32S(3, 1, 5, 0, 4), 5);
  tc_free(t);
}

/* 1000 values ((i * 7919) % 101) / 4 (many ties). Reference from tf.topk(x, k, sorted): the
 * indices folded as h = (h * 31 + idx[p] * (p + 1)) % 1000000007, plus their heads. k = 640 with
 * sorted=false runs the Floyd-Rivest recursion (ranges above 600 elements). */
static int64_t idx_hash(const int32_t *v, int64_t n) {
  int64_t h = 0;
  for (int64_t p = 0; p < n; p++)
    h = (h * 31 + (int64_t)v[p] * (p + 1)) % 1000000007;
  return h;
}

Test(image, topk_large_sorted_and_unsorted) {
  static float x[1000];
  for (int i = 0; i < 1000; i++)
    x[i] = (float)((i * 7919) % 101) / 4.0f;
  tc *t = topk(x, 1, DIMS(1000), I32S(7), true);
  expect_i32(&t->out[1], I32S(32, 133, 234, 335, 436, 537, 638), 7);
  cr_assert_eq(idx_hash(t->out[1].data, 7), 705902716);
  tc_free(t);
  t = topk(x, 1, DIMS(1000), I32S(7), false);
  expect_i32(&t->out[1], I32S(32, 133, 537, 335, 234, 638, 436), 7);
  cr_assert_eq(idx_hash(t->out[1].data, 7), 544430060);
  tc_free(t);
  t = topk(x, 1, DIMS(1000), I32S(640), false);
  const int32_t *ix = t->out[1].data;
  static const int32_t head[] = {450, 997, 2, 995, 4, 992, 990, 7, 987, 9, 985, 982};
  static const int32_t tail[] = {272, 277, 464, 565, 666};
  for (int i = 0; i < 12; i++)
    cr_assert_eq(ix[i], head[i], "idx[%d] = %d, expected %d", i, ix[i], head[i]);
  for (int i = 0; i < 5; i++)
    cr_assert_eq(ix[635 + i], tail[i]);
  cr_assert_eq(idx_hash(ix, 640), 385778639);
  for (int i = 0; i < 640; i++)
    cr_assert_eq(((const float *)t->out[0].data)[i], x[ix[i]]);
  tc_free(t);
}

Test(image, topk_edges) {
  /* k = 0 and k = last dim; int32 input */
  tc *t = tc_new("TopKV2");
  in_t(t, RT_DT_I32, 2, DIMS(2, 3), I32S(1, 3, 2, -5, 7, 7));
  in_scalar_i32(t, I32S(3));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(3, 2, 1, 7, 7, -5), 6);
  expect_i32(&t->out[1], I32S(1, 2, 0, 1, 2, 0), 6);
  tc_free(t);
  t = topk(F32S(1, 2), 1, DIMS(2), I32S(0), true);
  expect_shape(&t->out[0], 1, DIMS(0));
  tc_free(t);
  /* errors: k > last dim, negative k, scalar input, unknown k */
  t = tc_new("TopKV2");
  in_t(t, RT_DT_F32, 1, DIMS(2), F32S(1, 2));
  in_scalar_i32(t, I32S(3));
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  t = tc_new("TopKV2");
  in_t(t, RT_DT_F32, 1, DIMS(2), F32S(1, 2));
  in_scalar_i32(t, I32S(-1));
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  t = tc_new("TopKV2");
  in_t(t, RT_DT_F32, 0, NULL, F32S(1));
  in_scalar_i32(t, I32S(1));
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);
  t = tc_new("TopKV2");
  in_t(t, RT_DT_F32, 1, DIMS(2), NULL);
  in_t(t, RT_DT_I32, 0, NULL, NULL);
  cr_assert_eq(tc_shape(t), RT_ERR_NEED_VALUE);
  tc_free(t);
}

/* ---- NonMaxSuppression ---- */

/* The TF.js test boxes: three overlapping near x=0, two near x=10, one at x=100. */
static const float NB[] = {0, 0,  1, 1,  0, 0.1f,  1, 1.1f,  0, -0.1f, 1, 0.9f,
                           0, 10, 1, 11, 0, 10.1f, 1, 11.1f, 0, 100,   1, 101};
static const float NS[] = {0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f};

static tc *nms(const char *op, int32_t max_out, float iou, float thr, float sigma) {
  static int32_t mo;
  static float fi, ft, fs;
  mo = max_out;
  fi = iou;
  ft = thr;
  fs = sigma;
  tc *t = tc_new(op);
  in_t(t, RT_DT_F32, 2, DIMS(6, 4), NB);
  in_t(t, RT_DT_F32, 1, DIMS(6), NS);
  in_scalar_i32(t, &mo);
  in_scalar_f32(t, &fi);
  if (strcmp(op, "NonMaxSuppressionV2"))
    in_scalar_f32(t, &ft);
  if (!strcmp(op, "NonMaxSuppressionV5"))
    in_scalar_f32(t, &fs);
  return t;
}

Test(image, nms_v3_v2) {
  /* tf.image.nonMaxSuppressionAsync(boxes, scores, 3, 0.5, 0) -> [3, 0, 5] */
  tc *t = nms("NonMaxSuppressionV3", 3, 0.5f, 0.0f, 0);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(3, 0, 5), 3);
  tc_free(t);
  /* (boxes, scores, 6, 0.5, 0.55) -> [3, 0] */
  t = nms("NonMaxSuppressionV3", 6, 0.5f, 0.55f, 0);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(3, 0), 2);
  tc_free(t);
  /* V2 has no score threshold (-inf); max_output_size above n is clamped to n */
  t = nms("NonMaxSuppressionV2", 100, 0.5f, 0, 0);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(3, 0, 5), 3);
  tc_free(t);
  /* negative max_output_size selects nothing, as in TF.js */
  t = nms("NonMaxSuppressionV3", -2, 0.5f, 0, 0);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 1, DIMS(0));
  tc_free(t);
}

/* tf.image.nonMaxSuppressionPaddedAsync(boxes, scores, 5, 0.5, 0.55, true) -> [3,0,0,0,0], 2 */
Test(image, nms_v4_padded) {
  tc *t = nms("NonMaxSuppressionV4", 5, 0.5f, 0.55f, 0);
  attr_bool(t, "pad_to_max_output_size", true);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(3, 0, 0, 0, 0), 5);
  expect_shape(&t->out[1], 0, NULL);
  expect_i32(&t->out[1], I32S(2), 1);
  tc_free(t);
  /* padding needs only max_output_size, so the shape is known before boxes arrive */
  t = nms("NonMaxSuppressionV4", 5, 0.5f, 0.55f, 0);
  attr_bool(t, "pad_to_max_output_size", true);
  t->in[0].data = NULL;
  cr_assert_eq(tc_shape(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 1, DIMS(5));
  tc_free(t);
  /* unpadded */
  t = nms("NonMaxSuppressionV4", 5, 0.5f, 0.55f, 0);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(3, 0), 2);
  expect_i32(&t->out[1], I32S(2), 1);
  tc_free(t);
}

/* tf.image.nonMaxSuppressionWithScoreAsync(boxes, scores, 6, iou, thr, 0.5) */
Test(image, nms_v5_soft) {
  tc *t = nms("NonMaxSuppressionV5", 6, 1.0f, 0.0f, 0.5f);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(3, 0, 1, 5, 4, 2), 6);
  expect_f32(
      &t->out[1],
      F32S(0.949999988f, 0.899999976f, 0.384003520f, 0.300000012f, 0.256002605f, 0.196972445f), 6);
  expect_i32(&t->out[2], I32S(6), 1);
  tc_free(t);
  t = nms("NonMaxSuppressionV5", 6, 0.6f, 0.2f, 0.5f);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(3, 0, 5), 3);
  expect_f32(&t->out[1], F32S(0.949999988f, 0.899999976f, 0.300000012f), 3);
  expect_i32(&t->out[2], I32S(3), 1);
  tc_free(t);
}

/* Equal scores go to the lower index; corners given in either order are normalized.
 * tf.image.nonMaxSuppressionAsync([[1,1,0,0],[0,0.1,1,1.1],[0,0,1,1],[5,5,6,6],[6,6,5,5]],
 *   [0.8,0.8,0.8,0.7,0.7], 10, 0.5) -> [0, 3] */
Test(image, nms_ties_and_flipped_corners) {
  static const float b[] = {1, 1, 0, 0, 0, 0.1f, 1, 1.1f, 0, 0, 1, 1, 5, 5, 6, 6, 6, 6, 5, 5};
  static const float s[] = {0.8f, 0.8f, 0.8f, 0.7f, 0.7f};
  tc *t = tc_new("NonMaxSuppressionV3");
  in_t(t, RT_DT_F32, 2, DIMS(5, 4), b);
  in_t(t, RT_DT_F32, 1, DIMS(5), s);
  in_scalar_i32(t, I32S(10));
  in_scalar_f32(t, F32S(0.5f));
  in_scalar_f32(t, F32S(-INFINITY));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(0, 3), 2);
  tc_free(t);
}

Test(image, nms_errors_and_deferral) {
  tc *t = nms("NonMaxSuppressionV3", 3, 1.5f, 0, 0); /* iou outside [0, 1] */
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  t = nms("NonMaxSuppressionV5", 3, 0.5f, 0, 2.0f); /* sigma outside [0, 1] */
  cr_assert_eq(tc_shape(t), RT_ERR_INVALID_ARG);
  tc_free(t);
  t = nms("NonMaxSuppressionV3", 3, 0.5f, 0, 0);
  t->in[1].dims[0] = 5; /* scores do not match boxes */
  cr_assert_eq(tc_shape(t), RT_ERR_SHAPE);
  tc_free(t);
  t = nms("NonMaxSuppressionV3", 3, 0.5f, 0, 0);
  t->in[1].data = NULL; /* scores come with the request */
  cr_assert_eq(tc_shape(t), RT_ERR_NEED_VALUE);
  tc_free(t);
  /* no boxes at all */
  t = tc_new("NonMaxSuppressionV5");
  in_t(t, RT_DT_F32, 2, DIMS(0, 4), NB);
  in_t(t, RT_DT_F32, 1, DIMS(0), NS);
  in_scalar_i32(t, I32S(4));
  in_scalar_f32(t, F32S(0.5f));
  in_scalar_f32(t, F32S(0));
  in_scalar_f32(t, F32S(0));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 1, DIMS(0));
  expect_i32(&t->out[2], I32S(0), 1);
  tc_free(t);
}

/* ---- Where ---- */

/* tf.whereAsync(tf.cast([[0,1,NaN],[0,-0,3]], 'bool')) -> [[0,1],[0,2],[1,2]]: NaN is true */
Test(image, where) {
  tc *t = tc_new("Where");
  in_t(t, RT_DT_F32, 2, DIMS(2, 3), F32S(0, 1, NAN, 0, -0.0f, 3));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 2, DIMS(3, 2));
  expect_i32(&t->out[0], I32S(0, 1, 0, 2, 1, 2), 6);
  tc_free(t);

  static const uint8_t b[] = {0, 1, 1, 0, 0, 0, 0, 1};
  t = tc_new("Where");
  in_t(t, RT_DT_BOOL, 3, DIMS(2, 2, 2), b);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_i32(&t->out[0], I32S(0, 0, 1, 0, 1, 0, 1, 1, 1), 9);
  tc_free(t);

  /* rank 0 and empty */
  static const int32_t seven = 7;
  t = tc_new("Where");
  in_t(t, RT_DT_I32, 0, NULL, &seven);
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 2, DIMS(1, 0));
  tc_free(t);
  t = tc_new("Where");
  in_t(t, RT_DT_F32, 2, DIMS(0, 3), F32S(0));
  cr_assert_eq(tc_run(t), RT_OK, "%s", t->err.msg);
  expect_shape(&t->out[0], 2, DIMS(0, 2));
  tc_free(t);

  t = tc_new("Where");
  in_t(t, RT_DT_F32, 2, DIMS(2, 3), NULL);
  cr_assert_eq(tc_shape(t), RT_ERR_NEED_VALUE);
  tc_free(t);
}
