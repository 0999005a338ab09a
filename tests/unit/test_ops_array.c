/*
 * test_ops_array.c — the array family (ops_array.c) called directly through the op table:
 * prepare, shape, run on tiny tensors, plus the errors a bad model or request must get.
 *
 * Expected values come from TensorFlow.js 4.22 on the CPU backend, produced in node with
 *   const tf = require('@tensorflow/tfjs'); tf.setBackend('cpu');
 *   const r = (shape, dt = 'float32') => tf.range(0, size(shape), 1, dt).reshape(shape);
 * calling the op the converter maps the TF op to (tf.stridedSlice, tf.stack, tf.mirrorPad,
 * ...) on the inputs written here and printing dataSync() with toPrecision(9), which
 * round-trips float32, so float comparisons are exact. Each test names its call. Inputs are
 * mostly r(shape) = 0, 1, 2, ... so an expected value is also the source element's index.
 * Where TF.js throws or mis-indexes but TF answers, the test says so and checks TF's answer.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ops.h"

/* ---- harness: one node in a fresh graph, inputs given as views ---- */

#define MAX_OUT 8

typedef struct tc {
  rt_graph *g;
  int node;
  const rt_op_def *op;
  int n_in;
  rt_tensor in[8];
  rt_tensor out[MAX_OUT];
  rt_kctx k;
  rt_error err;
  void *bufs[8]; /* r() inputs owned by the case */
  int n_bufs;
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
  for (int j = 0; j < MAX_OUT; j++)
    free(t->out[j].data);
  for (int j = 0; j < t->n_bufs; j++)
    free(t->bufs[j]);
  rt__graph_destroy(t->g);
  free(t);
}

static void attr_int(tc *t, const char *name, int64_t v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_INT);
  a->i = v;
}

static void attr_bool(tc *t, const char *name, bool v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_BOOL);
  a->b = v;
}

static void attr_str(tc *t, const char *name, const char *v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_STRING);
  a->s = rt__pool_strdup(t->g->pool, v);
  a->s_len = strlen(v);
}

static void attr_type(tc *t, const char *name, rt_dtype v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_TYPE);
  a->type = v;
}

static void attr_ints(tc *t, const char *name, int n, const int64_t *v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_LIST_INT);
  a->n = n;
  a->ints = rt__pool_alloc(t->g->pool, (size_t)(n ? n : 1) * sizeof *a->ints);
  memcpy(a->ints, v, (size_t)n * sizeof *v);
}

/* Adds an input; data may be NULL (a value known only at run time). */
static void in_t(tc *t, rt_dtype dt, int rank, const int64_t *dims, const void *data) {
  rt_tensor *x = &t->in[t->n_in++];
  memset(x, 0, sizeof *x);
  x->dtype = dt;
  x->rank = rank;
  for (int i = 0; i < rank; i++)
    x->dims[i] = dims[i];
  x->data = (void *)data;
}

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define F32S(...) ((const float[]){__VA_ARGS__})
#define I32S(...) ((const int32_t[]){__VA_ARGS__})
#define NV(...) (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* r(shape): 0, 1, 2, ... in the given dtype (bool: i % 2). */
static void in_r(tc *t, rt_dtype dt, int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  void *d = malloc((size_t)(n ? n : 1) * 4);
  cr_assert(d);
  for (int64_t i = 0; i < n; i++) {
    if (dt == RT_DT_F32)
      ((float *)d)[i] = (float)i;
    else if (dt == RT_DT_I32)
      ((int32_t *)d)[i] = (int32_t)i;
    else
      ((uint8_t *)d)[i] = (uint8_t)(i % 2);
  }
  t->bufs[t->n_bufs++] = d;
  in_t(t, dt, rank, dims, d);
}

/* An int32 vector input (begin, perm, shape, ...). */
static void in_vec(tc *t, int n, const int32_t *v) { in_t(t, RT_DT_I32, 1, DIMS(n), v); }
static void in_i32(tc *t, const int32_t *v) { in_t(t, RT_DT_I32, 0, NULL, v); }
static void in_f32(tc *t, const float *v) { in_t(t, RT_DT_F32, 0, NULL, v); }

/* prepare (once) + shape */
static rt_status tc_shape(tc *t) {
  rt_node *n = &t->g->nodes[t->node];
  if (t->op->prepare && !n->params) {
    rt_status st = t->op->prepare(t->g, n, &t->err);
    if (st != RT_OK)
      return st;
  }
  int n_out = t->op->num_outputs ? t->op->num_outputs(n) : t->op->n_outputs;
  cr_assert(n_out >= 0 && n_out <= MAX_OUT, "bad output count %d", n_out);
  n->n_outputs = n_out;
  for (int j = 0; j < MAX_OUT; j++) {
    free(t->out[j].data);
    memset(&t->out[j], 0, sizeof t->out[j]);
  }
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
  cr_assert_eq(t->k.scratch_bytes, 0, "array ops need no scratch");
  return t->op->run(&t->k);
}

static void expect_ok(tc *t, rt_status st) {
  cr_assert_eq(st, RT_OK, "status %s: %s", rt_status_str(st), t->err.msg);
}

static void expect_err(tc *t, rt_status st, rt_status want, const char *substr) {
  cr_assert_eq(st, want, "got %s (%s), want %s", rt_status_str(st), t->err.msg,
               rt_status_str(want));
  if (want != RT_ERR_NEED_VALUE) {
    cr_assert(strstr(t->err.msg, "'n'"), "message does not name the node: %s", t->err.msg);
    cr_assert(strstr(t->err.msg, substr), "message '%s' lacks '%s'", t->err.msg, substr);
  }
}

static void expect_shape(const rt_tensor *o, rt_dtype dt, int rank, const int64_t *dims) {
  cr_assert_eq(o->dtype, dt, "dtype %s, want %s", rt_dtype_name(o->dtype), rt_dtype_name(dt));
  cr_assert_eq(o->rank, rank, "rank %d, want %d", o->rank, rank);
  for (int i = 0; i < rank; i++)
    cr_assert_eq(o->dims[i], dims[i], "dim %d is %lld, want %lld", i, (long long)o->dims[i],
                 (long long)dims[i]);
}

static void expect_f32(const rt_tensor *o, int n, const float *want) {
  cr_assert_eq(rt_tensor_numel(o), n, "numel %lld, want %d", (long long)rt_tensor_numel(o), n);
  for (int i = 0; i < n; i++)
    cr_assert_eq(((const float *)o->data)[i], want[i], "element %d is %.9g, want %.9g", i,
                 (double)((const float *)o->data)[i], (double)want[i]);
}

static void expect_i32(const rt_tensor *o, int n, const int32_t *want) {
  cr_assert_eq(rt_tensor_numel(o), n, "numel %lld, want %d", (long long)rt_tensor_numel(o), n);
  for (int i = 0; i < n; i++)
    cr_assert_eq(((const int32_t *)o->data)[i], want[i], "element %d is %d, want %d", i,
                 ((const int32_t *)o->data)[i], want[i]);
}

#define EXPECT_F32(o, ...)                                                                         \
  expect_f32(o, (int)(sizeof(F32S(__VA_ARGS__)) / sizeof(float)), F32S(__VA_ARGS__))
#define EXPECT_I32(o, ...)                                                                         \
  expect_i32(o, (int)(sizeof(I32S(__VA_ARGS__)) / sizeof(int32_t)), I32S(__VA_ARGS__))

/* ---- Reshape / Squeeze / ExpandDims ---- */

Test(reshape, infers_minus_one) {
  tc *t = tc_new("Reshape");
  in_r(t, RT_DT_F32, 3, DIMS(2, 3, 4));
  in_vec(t, 2, I32S(4, -1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(4, 6));
  cr_assert_eq(((float *)t->out[0].data)[23], 23.0f);
  tc_free(t);
}

Test(reshape, moves_bool_and_empty) {
  tc *t = tc_new("Reshape");
  in_r(t, RT_DT_BOOL, 2, DIMS(2, 3));
  in_vec(t, 1, I32S(-1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_BOOL, 1, DIMS(6));
  cr_assert_eq(memcmp(t->out[0].data, (uint8_t[]){0, 1, 0, 1, 0, 1}, 6), 0);
  tc_free(t);

  t = tc_new("Reshape");
  in_t(t, RT_DT_F32, 2, DIMS(0, 3), NULL); /* empty: no data needed */
  in_vec(t, 3, I32S(3, 0, 5));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(3, 0, 5));
  tc_free(t);
}

Test(reshape, errors) {
  tc *t = tc_new("Reshape");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_vec(t, 2, I32S(-1, -1));
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "more than one -1");
  t->in[1].data = (void *)I32S(4, 2);
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "cannot reshape [2,3] (6 elements) into [4,2]");
  t->in[1].data = (void *)I32S(4, -1);
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "cannot reshape");
  t->in[1].data = (void *)I32S(-2, 3);
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "negative dim");
  t->in[1].data = NULL;
  expect_err(t, tc_shape(t), RT_ERR_NEED_VALUE, "");
  tc_free(t);

  t = tc_new("Reshape");
  in_t(t, RT_DT_F32, 2, DIMS(0, 3), NULL);
  in_vec(t, 2, I32S(0, -1));
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "0 elements");
  tc_free(t);
}

Test(squeeze, axes) {
  /* tf.squeeze(r([1,3,1,2]), [-2]) -> [1,3,2] */
  tc *t = tc_new("Squeeze");
  attr_ints(t, "squeeze_dims", 1, DIMS(-2));
  in_r(t, RT_DT_F32, 4, DIMS(1, 3, 1, 2));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(1, 3, 2));
  EXPECT_F32(&t->out[0], 0, 1, 2, 3, 4, 5);
  tc_free(t);

  t = tc_new("Squeeze"); /* no axes: every unit dim goes */
  in_r(t, RT_DT_I32, 4, DIMS(1, 3, 1, 2));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_I32, 2, DIMS(3, 2));
  tc_free(t);

  t = tc_new("Squeeze"); /* the converter's other attribute name */
  attr_ints(t, "axis", 1, DIMS(1));
  in_r(t, RT_DT_F32, 4, DIMS(1, 3, 1, 2));
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "cannot squeeze axis 1 since its dim is 3");
  tc_free(t);
}

Test(expand_dims, axes) {
  tc *t = tc_new("ExpandDims");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_i32(t, I32S(-1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(2, 3, 1));
  EXPECT_F32(&t->out[0], 0, 1, 2, 3, 4, 5);
  t->in[1].data = (void *)I32S(-3);
  expect_ok(t, tc_shape(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(1, 2, 3));
  t->in[1].data = (void *)I32S(2);
  expect_ok(t, tc_shape(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(2, 3, 1));
  t->in[1].data = (void *)I32S(3);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "axis 3 is not in [-3, 2]");
  t->in[1].data = (void *)I32S(-4);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "axis -4");
  tc_free(t);
}

/* ---- StridedSlice ---- */

static tc *ss_new(int rank, const int64_t *dims, int n, const int32_t *b, const int32_t *e,
                  const int32_t *s, int bm, int em, int ell, int na, int sh) {
  tc *t = tc_new("StridedSlice");
  attr_int(t, "begin_mask", bm);
  attr_int(t, "end_mask", em);
  attr_int(t, "ellipsis_mask", ell);
  attr_int(t, "new_axis_mask", na);
  attr_int(t, "shrink_axis_mask", sh);
  in_r(t, RT_DT_F32, rank, dims);
  in_vec(t, n, b);
  in_vec(t, n, e);
  in_vec(t, n, s);
  return t;
}

Test(strided_slice, negative_stride) {
  /* tf.stridedSlice(r([3,4]), [1,-1], [3,0], [1,-1]) */
  tc *t = ss_new(2, DIMS(3, 4), 2, I32S(1, -1), I32S(3, 0), I32S(1, -1), 0, 0, 0, 0, 0);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(2, 3));
  EXPECT_F32(&t->out[0], 7, 6, 5, 11, 10, 9);
  tc_free(t);
  /* tf.stridedSlice(tf.range(0,5), [0], [0], [-2], 1, 1) */
  t = ss_new(1, DIMS(5), 1, I32S(0), I32S(0), I32S(-2), 1, 1, 0, 0, 0);
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 4, 2, 0);
  tc_free(t);
}

Test(strided_slice, masks_and_clamping) {
  /* tf.stridedSlice(r([3,4]), [0,1], [0,3], [1,1], 1, 1) */
  tc *t = ss_new(2, DIMS(3, 4), 2, I32S(0, 1), I32S(0, 3), I32S(1, 1), 1, 1, 0, 0, 0);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(3, 2));
  EXPECT_F32(&t->out[0], 1, 2, 5, 6, 9, 10);
  tc_free(t);
  /* tf.stridedSlice(r([3,4]), [-100,1], [100,100], [1,1]) */
  t = ss_new(2, DIMS(3, 4), 2, I32S(-100, 1), I32S(100, 100), I32S(1, 1), 0, 0, 0, 0, 0);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(3, 3));
  EXPECT_F32(&t->out[0], 1, 2, 3, 5, 6, 7, 9, 10, 11);
  tc_free(t);
}

Test(strided_slice, ellipsis_new_axis_shrink) {
  /* x[..., 2]: tf.stridedSlice(r([3,4]), [0,2], [0,3], [1,1], 0, 0, 1, 0, 2) */
  tc *t = ss_new(2, DIMS(3, 4), 2, I32S(0, 2), I32S(0, 3), I32S(1, 1), 0, 0, 1, 0, 2);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 1, DIMS(3));
  EXPECT_F32(&t->out[0], 2, 6, 10);
  tc_free(t);
  /* x[newaxis, 1:, ...]: tf.stridedSlice(r([3,4]), [0,1,0], [0,0,0], [1,1,1], 0, 6, 4, 1, 0) */
  t = ss_new(2, DIMS(3, 4), 3, I32S(0, 1, 0), I32S(0, 0, 0), I32S(1, 1, 1), 0, 6, 4, 1, 0);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(1, 2, 4));
  EXPECT_F32(&t->out[0], 4, 5, 6, 7, 8, 9, 10, 11);
  tc_free(t);
  /* movenet-multipose's pattern: tf.stridedSlice(r([2,3]), [0,0,0], [0,0,0], [1,1,1], 3, 3,
   * 0, 4, 0) -> [2,3,1] */
  t = ss_new(2, DIMS(2, 3), 3, I32S(0, 0, 0), I32S(0, 0, 0), I32S(1, 1, 1), 3, 3, 0, 4, 0);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(2, 3, 1));
  EXPECT_F32(&t->out[0], 0, 1, 2, 3, 4, 5);
  tc_free(t);
}

Test(strided_slice, shrink_with_strides_follows_tf) {
  /* x[1, ..., ::2] on r([2,3,4,5]). TF.js 4.22 throws here ("Requested out of range element")
   * because its strided kernel indexes the input with the shrunk output's coordinates; TF's
   * answer is the unshrunk slice reshaped, which is what we check:
   * tf.stridedSlice(r([2,3,4,5]), [1,0,0,0], [2,3,4,5], [1,1,1,2]).reshape([3,4,3]) */
  tc *t =
      ss_new(4, DIMS(2, 3, 4, 5), 3, I32S(1, 0, 0), I32S(2, 0, 5), I32S(1, 1, 2), 0, 0, 2, 0, 1);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(3, 4, 3));
  EXPECT_F32(&t->out[0], 60, 62, 64, 65, 67, 69, 70, 72, 74, 75, 77, 79, 80, 82, 84, 85, 87, 89, 90,
             92, 94, 95, 97, 99, 100, 102, 104, 105, 107, 109, 110, 112, 114, 115, 117, 119);
  tc_free(t);
  /* tf.stridedSlice(r([2,3,4,5]), [-1,2,0,4], [0,-4,4,0], [-1,-1,2,-2]) */
  t = ss_new(4, DIMS(2, 3, 4, 5), 4, I32S(-1, 2, 0, 4), I32S(0, -4, 4, 0), I32S(-1, -1, 2, -2), 0,
             0, 0, 0, 0);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 4, DIMS(1, 3, 2, 2));
  EXPECT_F32(&t->out[0], 104, 102, 114, 112, 84, 82, 94, 92, 64, 62, 74, 72);
  tc_free(t);
}

Test(strided_slice, degenerate_and_errors) {
  /* begin > end with stride 1: TF gives an empty slice (TF.js throws "Size(4) must match"). */
  tc *t = ss_new(2, DIMS(3, 4), 2, I32S(2, 0), I32S(1, 4), I32S(1, 1), 0, 0, 0, 0, 0);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(0, 4));
  tc_free(t);

  t = ss_new(2, DIMS(3, 4), 2, I32S(3, 0), I32S(4, 4), I32S(1, 1), 0, 0, 0, 0, 1);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "slice index 3 of dimension 0 out of bounds");
  tc_free(t);
  t = ss_new(2, DIMS(3, 4), 2, I32S(0, 0), I32S(3, 4), I32S(1, 0), 0, 0, 0, 0, 0);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "strides[1] must be non-zero");
  tc_free(t);
  t = ss_new(2, DIMS(3, 4), 3, I32S(0, 0, 0), I32S(1, 1, 1), I32S(1, 1, 1), 0, 0, 0, 0, 0);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "indexes past");
  tc_free(t);
  t = ss_new(2, DIMS(3, 4), 2, I32S(0, 0), I32S(3, 4), I32S(1, 1), 0, 0, 3, 0, 0);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "multiple ellipses");
  tc_free(t);
  t = ss_new(2, DIMS(3, 4), 2, I32S(0, 0), I32S(3, 4), I32S(1, 1), 0, 0, 0, 0, 0);
  t->in[1].data = NULL;
  expect_err(t, tc_shape(t), RT_ERR_NEED_VALUE, "");
  tc_free(t);
}

Test(strided_slice, int32_and_bool) {
  /* tf.stridedSlice(r([6],'int32'), [1], [6], [2]) */
  tc *t = tc_new("StridedSlice");
  in_r(t, RT_DT_I32, 1, DIMS(6));
  in_vec(t, 1, I32S(1));
  in_vec(t, 1, I32S(6));
  in_vec(t, 1, I32S(2));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_I32, 1, DIMS(3));
  EXPECT_I32(&t->out[0], 1, 3, 5);
  t->in[0].dtype = RT_DT_BOOL; /* bool r(): 0,1,0,1,0,1 -> odd positions */
  t->in[0].data = (uint8_t[]){0, 1, 0, 1, 0, 1};
  expect_ok(t, tc_run(t));
  cr_assert_eq(memcmp(t->out[0].data, (uint8_t[]){1, 1, 1}, 3), 0);
  tc_free(t);
}

/* ---- Slice ---- */

Test(slice, minus_one_size) {
  /* tf.slice(r([2,3,4]), [1,0,2], [-1,2,-1]) */
  tc *t = tc_new("Slice");
  in_r(t, RT_DT_F32, 3, DIMS(2, 3, 4));
  in_vec(t, 3, I32S(1, 0, 2));
  in_vec(t, 3, I32S(-1, 2, -1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(1, 2, 2));
  EXPECT_F32(&t->out[0], 14, 15, 18, 19);
  t->in[2].data = (void *)I32S(1, 3, 3);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "begin[2] + size[2] = 5 overflows dim 4");
  t->in[2].data = (void *)I32S(1, -2, 1);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "exactly -1");
  t->in[1].data = (void *)I32S(0, -1, 0);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "begin[1] = -1");
  tc_free(t);
}

/* ---- Pack / Unpack ---- */

Test(pack, axes) {
  float b[6] = {100, 101, 102, 103, 104, 105};
  /* tf.stack([r([2,3]), r([2,3]) + 100], 1) */
  tc *t = tc_new("Pack");
  attr_int(t, "axis", 1);
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_t(t, RT_DT_F32, 2, DIMS(2, 3), b);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(2, 2, 3));
  EXPECT_F32(&t->out[0], 0, 1, 2, 100, 101, 102, 3, 4, 5, 103, 104, 105);
  tc_free(t);
  /* axis -1: tf.stack([...], -1) */
  t = tc_new("Pack");
  attr_int(t, "axis", -1);
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_t(t, RT_DT_F32, 2, DIMS(2, 3), b);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(2, 3, 2));
  EXPECT_F32(&t->out[0], 0, 100, 1, 101, 2, 102, 3, 103, 4, 104, 5, 105);
  tc_free(t);
}

Test(pack, scalars_and_converter_reshape) {
  tc *t = tc_new("Pack"); /* the usual shape-building pattern: scalars -> vector */
  in_i32(t, I32S(7));
  in_i32(t, I32S(-1));
  in_i32(t, I32S(3));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_I32, 1, DIMS(3));
  EXPECT_I32(&t->out[0], 7, -1, 3);
  tc_free(t);
  /* The converter reshapes inputs whose squeezed shape matches the first one's. */
  t = tc_new("Pack");
  in_r(t, RT_DT_F32, 1, DIMS(3));
  in_t(t, RT_DT_F32, 2, DIMS(1, 3), F32S(7, 8, 9));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(2, 3));
  EXPECT_F32(&t->out[0], 0, 1, 2, 7, 8, 9);
  t->in[1].dims[1] = 2;
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "input 1 shape [1,2] does not match");
  t->in[1].dims[1] = 3;
  t->in[1].dtype = RT_DT_I32;
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "input 1 is int32");
  tc_free(t);
}

Test(unpack, axis1) {
  /* tf.unstack(r([2,3]), 1) */
  tc *t = tc_new("Unpack");
  attr_int(t, "axis", 1);
  attr_int(t, "num", 3);
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  expect_ok(t, tc_run(t));
  cr_assert_eq(t->k.n_out, 3);
  for (int j = 0; j < 3; j++) {
    expect_shape(&t->out[j], RT_DT_F32, 1, DIMS(2));
    expect_f32(&t->out[j], 2, F32S((float)j, (float)j + 3));
  }
  t->in[0].dims[1] = 4;
  t->in[0].dims[0] = 1;
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "dim 1 is 4 but num is 3");
  tc_free(t);
  t = tc_new("Unpack");
  cr_assert_eq(t->op->num_outputs(&t->g->nodes[t->node]), -1, "no num: compile must fail");
  tc_free(t);
}

/* ---- Concat ---- */

Test(concat, v2_with_empty_input) {
  /* tf.concat([r([2,1]), zeros([2,0]), r([2,2]) + 10], -1) */
  tc *t = tc_new("ConcatV2");
  in_r(t, RT_DT_F32, 2, DIMS(2, 1));
  in_t(t, RT_DT_F32, 2, DIMS(2, 0), NULL);
  in_t(t, RT_DT_F32, 2, DIMS(2, 2), F32S(10, 11, 12, 13));
  in_i32(t, I32S(-1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(2, 3));
  EXPECT_F32(&t->out[0], 0, 10, 11, 1, 12, 13);
  t->in[2].dims[0] = 3;
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "input 2 (float32 [3,2]) does not match input 0");
  tc_free(t);
}

Test(concat, v1_axis_first) {
  /* tf.concat([r([1,3]), r([2,3]) + 10], 0) */
  tc *t = tc_new("Concat");
  in_i32(t, I32S(0));
  in_r(t, RT_DT_I32, 2, DIMS(1, 3));
  in_t(t, RT_DT_I32, 2, DIMS(2, 3), I32S(10, 11, 12, 13, 14, 15));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_I32, 2, DIMS(3, 3));
  EXPECT_I32(&t->out[0], 0, 1, 2, 10, 11, 12, 13, 14, 15);
  t->in[0].data = (void *)I32S(2);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "axis 2 is not in [-2, 2)");
  tc_free(t);
}

/* ---- Split / SplitV ---- */

Test(split, even) {
  /* tf.split(r([2,4]), 2, 1) */
  tc *t = tc_new("Split");
  attr_int(t, "num_split", 2);
  in_i32(t, I32S(1));
  in_r(t, RT_DT_F32, 2, DIMS(2, 4));
  expect_ok(t, tc_run(t));
  cr_assert_eq(t->k.n_out, 2);
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(2, 2));
  EXPECT_F32(&t->out[0], 0, 1, 4, 5);
  EXPECT_F32(&t->out[1], 2, 3, 6, 7);
  t->in[1].dims[1] = 5;
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "does not split evenly");
  tc_free(t);
}

Test(splitv, minus_one) {
  /* tf.split(r([2,5]), [1,-1,2], 1) */
  tc *t = tc_new("SplitV");
  attr_int(t, "num_split", 3);
  in_r(t, RT_DT_F32, 2, DIMS(2, 5));
  in_vec(t, 3, I32S(1, -1, 2));
  in_i32(t, I32S(1));
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 0, 5);
  EXPECT_F32(&t->out[1], 1, 2, 6, 7);
  expect_shape(&t->out[2], RT_DT_F32, 2, DIMS(2, 2));
  EXPECT_F32(&t->out[2], 3, 4, 8, 9);
  /* A leading -1: TF.js miscounts the rest and throws ("sum of sizes must match"); TF fills
   * it with the remainder. */
  t->in[1].data = (void *)I32S(-1, 2, 1);
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 0, 1, 5, 6);
  EXPECT_F32(&t->out[2], 4, 9);
  t->in[1].data = (void *)I32S(1, 2, 3);
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "sum to 6 but dim 1 is 5");
  t->in[1].data = (void *)I32S(-1, -1, 3);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "only one -1");
  tc_free(t);
}

/* ---- Pad / PadV2 / MirrorPad ---- */

Test(pad, constant) {
  /* tf.pad(r([2,3]), [[1,0],[2,1]], 7.5) */
  tc *t = tc_new("PadV2");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(1, 0, 2, 1));
  in_f32(t, F32S(7.5f));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(3, 6));
  EXPECT_F32(&t->out[0], 7.5, 7.5, 7.5, 7.5, 7.5, 7.5, 7.5, 7.5, 0, 1, 2, 7.5, 7.5, 7.5, 3, 4, 5,
             7.5);
  tc_free(t);
  /* tf.pad(r([2,2],'int32'), [[0,1],[1,0]]) */
  t = tc_new("Pad");
  in_r(t, RT_DT_I32, 2, DIMS(2, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 1, 1, 0));
  expect_ok(t, tc_run(t));
  EXPECT_I32(&t->out[0], 0, 0, 1, 0, 2, 3, 0, 0, 0);
  t->in[1].data = (void *)I32S(0, -1, 1, 0);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "paddings for dim 0 (0, -1)");
  t->in[1].dims[0] = 3;
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "must have shape [2,2]");
  tc_free(t);
  t = tc_new("Pad");
  in_f32(t, F32S(1));
  in_t(t, RT_DT_I32, 2, DIMS(0, 2), NULL);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "cannot pad a scalar");
  tc_free(t);
}

Test(mirror_pad, reflect_and_symmetric) {
  /* tf.mirrorPad(r([2,3]), [[1,1],[2,2]], 'reflect') */
  tc *t = tc_new("MirrorPad");
  attr_str(t, "mode", "REFLECT");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(1, 1, 2, 2));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(4, 7));
  EXPECT_F32(&t->out[0], 5, 4, 3, 4, 5, 4, 3, 2, 1, 0, 1, 2, 1, 0, 5, 4, 3, 4, 5, 4, 3, 2, 1, 0, 1,
             2, 1, 0);
  t->in[1].data = (void *)I32S(2, 0, 0, 0); /* reflect allows at most dim-1 */
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "must be in [0, 1]");
  tc_free(t);
  /* tf.mirrorPad(r([2,3]), [[2,0],[3,1]], 'symmetric') */
  t = tc_new("MirrorPad");
  attr_str(t, "mode", "SYMMETRIC");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(2, 0, 3, 1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(4, 7));
  EXPECT_F32(&t->out[0], 5, 4, 3, 3, 4, 5, 5, 2, 1, 0, 0, 1, 2, 2, 2, 1, 0, 0, 1, 2, 2, 5, 4, 3, 3,
             4, 5, 5);
  tc_free(t);
  t = tc_new("MirrorPad");
  attr_str(t, "mode", "EDGE");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 0, 0, 0));
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "mode 'EDGE'");
  tc_free(t);
}

/* ---- Transpose ---- */

Test(transpose, perm) {
  /* tf.transpose(r([2,3,4]), [2,0,1]) */
  tc *t = tc_new("Transpose");
  in_r(t, RT_DT_F32, 3, DIMS(2, 3, 4));
  in_vec(t, 3, I32S(2, 0, 1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(4, 2, 3));
  EXPECT_F32(&t->out[0], 0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11,
             15, 19, 23);
  t->in[1].data = (void *)I32S(0, 0, 1);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "perm[1] = 0 is out of range or repeated");
  t->in[1].data = (void *)I32S(0, 1, -1);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "perm[2] = -1");
  tc_free(t);
}

/* ---- GatherV2 / GatherNd ---- */

Test(gather, axis_and_batch_dims) {
  /* tf.gather(r([2,3,2]), [[0,2],[1,1]], 1) */
  tc *t = tc_new("GatherV2");
  in_r(t, RT_DT_F32, 3, DIMS(2, 3, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(0, 2, 1, 1));
  in_i32(t, I32S(1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 4, DIMS(2, 2, 2, 2));
  EXPECT_F32(&t->out[0], 0, 1, 4, 5, 2, 3, 2, 3, 6, 7, 10, 11, 8, 9, 8, 9);
  tc_free(t);
  /* tf.gather(r([2,3,2]), [[2,0],[1,1]], 1, 1) */
  t = tc_new("GatherV2");
  attr_int(t, "batch_dims", 1);
  in_r(t, RT_DT_F32, 3, DIMS(2, 3, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(2, 0, 1, 1));
  in_i32(t, I32S(1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(2, 2, 2));
  EXPECT_F32(&t->out[0], 4, 5, 0, 1, 8, 9, 8, 9);
  tc_free(t);
}

Test(gather, bad_index_is_a_run_error) {
  /* tf.gather(r([2,3]), [0,3], 1) throws "GatherV2: the index value 3 is not in [0, 2]" */
  tc *t = tc_new("GatherV2");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_t(t, RT_DT_I32, 1, DIMS(2), I32S(0, 3));
  in_i32(t, I32S(1));
  expect_err(t, tc_run(t), RT_ERR_INVALID_ARG, "index 3 (indices element 1) is not in [0, 2]");
  t->in[1].data = (void *)I32S(-1, 0);
  expect_err(t, tc_run(t), RT_ERR_INVALID_ARG, "index -1");
  /* Float indices are cast like the converter's cast(indices, 'int32'): 2.7 -> 2. */
  t->in[1].dtype = RT_DT_F32;
  t->in[1].data = (void *)F32S(2.7f, 0.0f);
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 2, 0, 5, 3);
  tc_free(t);
}

Test(gather_nd, slices_and_quirk) {
  /* tf.gatherND(r([2,3]), [[1],[0]]) */
  tc *t = tc_new("GatherNd");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_t(t, RT_DT_I32, 2, DIMS(2, 1), I32S(1, 0));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(2, 3));
  EXPECT_F32(&t->out[0], 3, 4, 5, 0, 1, 2);
  tc_free(t);
  /* tf.gatherND(r([2,3,2]), [[1,2],[0,1]]) */
  t = tc_new("GatherNd");
  in_r(t, RT_DT_F32, 3, DIMS(2, 3, 2));
  in_t(t, RT_DT_I32, 2, DIMS(2, 2), I32S(1, 2, 0, 1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(2, 2));
  EXPECT_F32(&t->out[0], 10, 11, 2, 3);
  tc_free(t);
  /* tf.gatherND(r([3,4]), [[0,5]]) -> [5]: TF.js only bounds-checks the flattened row. */
  t = tc_new("GatherNd");
  in_r(t, RT_DT_F32, 2, DIMS(3, 4));
  in_t(t, RT_DT_I32, 2, DIMS(1, 2), I32S(0, 5));
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 5);
  /* tf.gatherND(r([3,4]), [[2,4]]) throws "Invalid indices: 2,4 does not index into 3,4" */
  t->in[1].data = (void *)I32S(2, 4);
  expect_err(t, tc_run(t), RT_ERR_INVALID_ARG, "indices [2,4] do not index into params [3,4]");
  t->in[1].dims[1] = 3;
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "index depth 3 exceeds params rank 2");
  tc_free(t);
}

/* ---- Tile / BroadcastTo / Fill: sizes from values, refused when huge ---- */

Test(tile, reps) {
  /* tf.tile(r([2,3]), [2,2]) */
  tc *t = tc_new("Tile");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_vec(t, 2, I32S(2, 2));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(4, 6));
  EXPECT_F32(&t->out[0], 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5);
  t->in[1].data = (void *)I32S(0, 2);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(0, 6));
  t->in[1].data = (void *)I32S(100000, 100000);
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "over 2^31-1 elements");
  t->in[1].data = (void *)I32S(-1, 1);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "multiples[0] = -1 is negative");
  tc_free(t);
}

Test(broadcast_to, shapes) {
  /* tf.broadcastTo([1,2,3], [2,3]) */
  tc *t = tc_new("BroadcastTo");
  in_t(t, RT_DT_F32, 1, DIMS(3), F32S(1, 2, 3));
  in_vec(t, 2, I32S(2, 3));
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 1, 2, 3, 1, 2, 3);
  tc_free(t);
  /* tf.broadcastTo([[1],[2]], [2,2,3]) */
  t = tc_new("BroadcastTo");
  in_t(t, RT_DT_F32, 2, DIMS(2, 1), F32S(1, 2));
  in_vec(t, 3, I32S(2, 2, 3));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(2, 2, 3));
  EXPECT_F32(&t->out[0], 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2);
  t->in[1].data = (void *)I32S(2, 3, 3);
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "[2,1] cannot be broadcast to [2,3,3]");
  tc_free(t);
}

Test(broadcast_to, zero_dims_follow_tfjs) {
  /* TF.js only tiles when some dim grows past 1; otherwise it returns the input unchanged,
   * so a 1 "broadcast" to 0 stays 1 (TF would give an empty tensor). From node:
   *   tf.broadcastTo([5], [0]) -> shape [1];  tf.broadcastTo([[1],[2]], [0,2,0]) -> [1,2,1];
   *   tf.broadcastTo([[1],[2]], [2,2,0]) -> [2,2,0] (dim 0 really tiles 1 -> 2). */
  tc *t = tc_new("BroadcastTo");
  in_t(t, RT_DT_F32, 1, DIMS(1), F32S(5));
  in_vec(t, 1, I32S(0));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 1, DIMS(1));
  EXPECT_F32(&t->out[0], 5);
  tc_free(t);
  t = tc_new("BroadcastTo");
  in_t(t, RT_DT_F32, 2, DIMS(2, 1), F32S(1, 2));
  in_vec(t, 3, I32S(0, 2, 0));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(1, 2, 1));
  EXPECT_F32(&t->out[0], 1, 2);
  t->in[1].data = (void *)I32S(2, 2, 0);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 3, DIMS(2, 2, 0));
  tc_free(t);
}

Test(bytes, bool_moves) {
  /* One-byte elements through the strided paths: transpose, tile, reverse, gather. */
  uint8_t x[6] = {1, 0, 0, 1, 1, 0}; /* [[1,0,0],[1,1,0]] */
  tc *t = tc_new("Transpose");
  in_t(t, RT_DT_BOOL, 2, DIMS(2, 3), x);
  in_vec(t, 2, I32S(1, 0));
  expect_ok(t, tc_run(t));
  cr_assert_eq(memcmp(t->out[0].data, (uint8_t[]){1, 1, 0, 1, 0, 0}, 6), 0);
  tc_free(t);
  t = tc_new("Tile");
  in_t(t, RT_DT_BOOL, 2, DIMS(2, 3), x);
  in_vec(t, 2, I32S(1, 2));
  expect_ok(t, tc_run(t));
  cr_assert_eq(memcmp(t->out[0].data, (uint8_t[]){1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0}, 12), 0);
  tc_free(t);
  t = tc_new("ReverseV2");
  in_t(t, RT_DT_BOOL, 2, DIMS(2, 3), x);
  in_vec(t, 1, I32S(1));
  expect_ok(t, tc_run(t));
  cr_assert_eq(memcmp(t->out[0].data, (uint8_t[]){0, 0, 1, 0, 1, 1}, 6), 0);
  tc_free(t);
  t = tc_new("Gather"); /* v1: axis 0, no batch_dims */
  in_t(t, RT_DT_BOOL, 2, DIMS(2, 3), x);
  in_t(t, RT_DT_I32, 1, DIMS(3), I32S(1, 1, 0));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_BOOL, 2, DIMS(3, 3));
  cr_assert_eq(memcmp(t->out[0].data, (uint8_t[]){1, 1, 0, 1, 1, 0, 1, 0, 0}, 9), 0);
  tc_free(t);
}

Test(fill, values_and_limits) {
  /* tf.fill([2,3], 1.5) */
  tc *t = tc_new("Fill");
  in_vec(t, 2, I32S(2, 3));
  in_f32(t, F32S(1.5f));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(2, 3));
  EXPECT_F32(&t->out[0], 1.5, 1.5, 1.5, 1.5, 1.5, 1.5);
  /* The value may be unknown while planning: only dims decide the shape. */
  t->in[1].data = NULL;
  expect_ok(t, tc_shape(t));
  t->in[0].data = (void *)I32S(65536, 32768);
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "over 2^31-1 elements");
  t->in[0].data = (void *)I32S(2, -3);
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "negative");
  tc_free(t);
  t = tc_new("Fill");
  attr_type(t, "T", RT_DT_I32);
  in_vec(t, 1, I32S(3));
  in_i32(t, I32S(-7));
  expect_ok(t, tc_run(t));
  EXPECT_I32(&t->out[0], -7, -7, -7);
  tc_free(t);
}

/* ---- Range ---- */

static tc *range_new(rt_dtype dt, double a, double b, double c) {
  static float f[3];
  static int32_t i[3];
  tc *t = tc_new("Range");
  attr_type(t, "Tidx", dt);
  if (dt == RT_DT_F32) {
    f[0] = (float)a, f[1] = (float)b, f[2] = (float)c;
    in_f32(t, &f[0]), in_f32(t, &f[1]), in_f32(t, &f[2]);
  } else {
    i[0] = (int32_t)a, i[1] = (int32_t)b, i[2] = (int32_t)c;
    in_i32(t, &i[0]), in_i32(t, &i[1]), in_i32(t, &i[2]);
  }
  return t;
}

Test(range, float_accumulates_like_tfjs) {
  /* tf.range(0, 1, 0.1): each element is the previous float32 plus 0.1 */
  tc *t = range_new(RT_DT_F32, 0, 1, 0.1);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 1, DIMS(10));
  EXPECT_F32(&t->out[0], 0, 0.100000001f, 0.200000003f, 0.300000012f, 0.400000006f, 0.5f,
             0.600000024f, 0.700000048f, 0.800000072f, 0.900000095f);
  tc_free(t);
  /* tf.range(5, 0, 0.5): TF.js counts up from 5 (TF would refuse) */
  t = range_new(RT_DT_F32, 5, 0, 0.5);
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 5, 5.5, 6, 6.5, 7, 7.5, 8, 8.5, 9, 9.5);
  tc_free(t);
  /* tf.range(0, 5, -1) is empty */
  t = range_new(RT_DT_F32, 0, 5, -1);
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 1, DIMS(0));
  tc_free(t);
}

Test(range, int32) {
  tc *t = range_new(RT_DT_I32, 0, 10, 3); /* tf.range(0,10,3,'int32') */
  expect_ok(t, tc_run(t));
  EXPECT_I32(&t->out[0], 0, 3, 6, 9);
  tc_free(t);
  t = range_new(RT_DT_I32, 5, 0, 1); /* tf.range(5,0,1,'int32'): delta 1 counts down */
  expect_ok(t, tc_run(t));
  EXPECT_I32(&t->out[0], 5, 4, 3, 2, 1);
  tc_free(t);
  t = range_new(RT_DT_I32, 10, 0, -3); /* tf.range(10,0,-3,'int32') */
  expect_ok(t, tc_run(t));
  EXPECT_I32(&t->out[0], 10, 7, 4, 1);
  tc_free(t);
  t = range_new(RT_DT_I32, 0, 10, 0);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "delta must not be zero");
  tc_free(t);
  t = range_new(RT_DT_I32, -2147483647, 2147483647, 1);
  expect_err(t, tc_shape(t), RT_ERR_SHAPE, "over 2^31-1 elements");
  t->in[0].data = NULL;
  expect_err(t, tc_shape(t), RT_ERR_NEED_VALUE, "");
  tc_free(t);
}

/* ---- Shape / Size / Rank never read data ---- */

Test(shape_ops, without_data) {
  const char *ops[] = {"Shape", "Size", "Rank"};
  for (int i = 0; i < 3; i++) {
    tc *t = tc_new(ops[i]);
    in_t(t, RT_DT_F32, 3, DIMS(2, 5, 7), NULL);
    expect_ok(t, tc_run(t));
    if (i == 0) {
      expect_shape(&t->out[0], RT_DT_I32, 1, DIMS(3));
      EXPECT_I32(&t->out[0], 2, 5, 7);
    } else {
      expect_shape(&t->out[0], RT_DT_I32, 0, NULL);
      EXPECT_I32(&t->out[0], i == 1 ? 70 : 3);
    }
    tc_free(t);
  }
}

/* ---- OneHot ---- */

Test(one_hot, values) {
  /* tf.oneHot([0,2,-1,5], 3, 5, -1, 'float32') */
  tc *t = tc_new("OneHot");
  attr_type(t, "T", RT_DT_F32);
  attr_int(t, "axis", -1);
  in_t(t, RT_DT_I32, 1, DIMS(4), I32S(0, 2, -1, 5));
  in_i32(t, I32S(3));
  in_f32(t, F32S(5));
  in_f32(t, F32S(-1));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_F32, 2, DIMS(4, 3));
  EXPECT_F32(&t->out[0], 5, -1, -1, -1, -1, 5, -1, -1, -1, -1, -1, -1);
  t->in[1].data = (void *)I32S(1);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "depth must be >= 2");
  tc_free(t);
  /* tf.oneHot([[1],[0]], 2) -> int32 [2,1,2] */
  t = tc_new("OneHot");
  in_t(t, RT_DT_I32, 2, DIMS(2, 1), I32S(1, 0));
  in_i32(t, I32S(2));
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_I32, 3, DIMS(2, 1, 2));
  EXPECT_I32(&t->out[0], 0, 1, 1, 0);
  tc_free(t);
}

/* ---- ReverseV2 ---- */

Test(reverse, axes) {
  /* tf.reverse(r([2,3]), [0,-1]) */
  tc *t = tc_new("ReverseV2");
  in_r(t, RT_DT_F32, 2, DIMS(2, 3));
  in_vec(t, 2, I32S(0, -1));
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 5, 4, 3, 2, 1, 0);
  /* tf.reverse(r([2,3]), [1,1]): TF.js flips twice, so nothing moves */
  t->in[1].data = (void *)I32S(1, 1);
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 0, 1, 2, 3, 4, 5);
  t->in[1].data = (void *)I32S(0, 2);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "axis 2 is not in [-2, 2)");
  /* Unknown axes still give the shape. */
  t->in[1].data = NULL;
  expect_ok(t, tc_shape(t));
  tc_free(t);
  /* tf.reverse(r([2,3,2]), [1]) */
  t = tc_new("ReverseV2");
  in_r(t, RT_DT_I32, 3, DIMS(2, 3, 2));
  in_vec(t, 1, I32S(1));
  expect_ok(t, tc_run(t));
  EXPECT_I32(&t->out[0], 4, 5, 2, 3, 0, 1, 10, 11, 8, 9, 6, 7);
  tc_free(t);
}

/* ---- Cumsum ---- */

static tc *cumsum_new(bool exclusive, bool reverse, rt_dtype dt, int rank, const int64_t *dims,
                      const int32_t *axis) {
  tc *t = tc_new("Cumsum");
  attr_bool(t, "exclusive", exclusive);
  attr_bool(t, "reverse", reverse);
  in_r(t, dt, rank, dims);
  in_i32(t, axis);
  return t;
}

Test(cumsum, flags) {
  /* tf.cumsum(r([2,3]), 1, exclusive, reverse) for the four flag combinations */
  tc *t = cumsum_new(false, false, RT_DT_F32, 2, DIMS(2, 3), I32S(1));
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 0, 1, 3, 3, 7, 12);
  tc_free(t);
  t = cumsum_new(true, false, RT_DT_F32, 2, DIMS(2, 3), I32S(-1));
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 0, 0, 1, 0, 3, 7);
  tc_free(t);
  t = cumsum_new(false, true, RT_DT_F32, 2, DIMS(2, 3), I32S(1));
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 3, 3, 2, 12, 9, 5);
  tc_free(t);
  t = cumsum_new(true, true, RT_DT_F32, 2, DIMS(2, 3), I32S(0)); /* tf.cumsum(r, 0, true, true) */
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 3, 4, 5, 0, 0, 0);
  tc_free(t);
}

Test(cumsum, dtypes) {
  /* tf.cumsum([0.1,0.2,0.3,1e8,1]): float32 partial sums */
  tc *t = cumsum_new(false, false, RT_DT_F32, 1, DIMS(5), I32S(0));
  t->in[0].data = (void *)F32S(0.1f, 0.2f, 0.3f, 1e8f, 1);
  expect_ok(t, tc_run(t));
  EXPECT_F32(&t->out[0], 0.100000001f, 0.300000012f, 0.600000024f, 100000000, 100000000);
  /* tf.cumsum(int32 [2147483647,1,5]) wraps: [2147483647, -2147483648, -2147483643] */
  t->in[0].dtype = RT_DT_I32;
  t->in[0].dims[0] = 3;
  t->in[0].data = (void *)I32S(2147483647, 1, 5);
  expect_ok(t, tc_run(t));
  EXPECT_I32(&t->out[0], 2147483647, (int32_t)-2147483648, -2147483643);
  /* tf.cumsum(bool [true,false,true]) -> int32 [1,1,2] */
  t->in[0].dtype = RT_DT_BOOL;
  t->in[0].data = (uint8_t[]){1, 0, 1};
  expect_ok(t, tc_run(t));
  expect_shape(&t->out[0], RT_DT_I32, 1, DIMS(3));
  EXPECT_I32(&t->out[0], 1, 1, 2);
  t->in[1].data = (void *)I32S(1);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "axis 1 is not in [-1, 1)");
  tc_free(t);
}

/* ---- bad operands never crash ---- */

Test(robustness, bad_value_operands) {
  /* A float shape operand must hold integers. */
  tc *t = tc_new("Reshape");
  in_r(t, RT_DT_F32, 1, DIMS(6));
  in_t(t, RT_DT_F32, 1, DIMS(2), F32S(2.5f, 2));
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "value 2.5 is not an int32");
  t->in[1].dtype = RT_DT_BOOL;
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "must be int32, got bool");
  /* More shape entries than any tensor may have. */
  t->in[1] = (rt_tensor){
      .dtype = RT_DT_I32, .rank = 1, .dims = {9}, .data = (void *)I32S(1, 1, 1, 1, 1, 1, 1, 2, 3)};
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "at most 8");
  tc_free(t);
  /* An empty axis operand. */
  t = tc_new("ExpandDims");
  in_r(t, RT_DT_F32, 1, DIMS(6));
  in_t(t, RT_DT_I32, 1, DIMS(0), NULL);
  expect_err(t, tc_shape(t), RT_ERR_INVALID_ARG, "axis (input 1) is empty");
  tc_free(t);
  /* Output rank over the limit. */
  t = tc_new("ExpandDims");
  in_r(t, RT_DT_F32, 8, DIMS(1, 1, 1, 1, 1, 1, 1, 2));
  in_i32(t, I32S(0));
  expect_err(t, tc_shape(t), RT_ERR_UNSUPPORTED, "rank 9");
  tc_free(t);
}
