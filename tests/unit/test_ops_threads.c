/*
 * test_ops_threads.c — the threaded and vectorized kernels of the math, array and image
 * families: on random shapes big enough to be split over a pool, every op writes the same bytes
 * with 1, 2, 3 and 4 threads (the session pool is the only difference), and the fast paths agree
 * with plain reference loops written here (broadcast add, transpose, pad, concat, gather,
 * depth-to-space, reductions, top-k by a full sort).
 *
 * The few expected values that are not a reference loop come from TensorFlow.js 4.22 on the CPU
 * backend, in node with const tf = require('@tensorflow/tfjs'); tf.setBackend('cpu'); and are
 * quoted with the call that produced them. Random inputs come from a fixed xorshift seed, so
 * every run tests the same shapes.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ops.h"

/* ---- harness ---- */

#define MAX_IN 8
#define MAX_OUT 8

typedef struct kc {
  rt_graph *g;
  int node;
  const rt_op_def *op;
  int n_in;
  rt_tensor in[MAX_IN];
  void *bufs[MAX_IN];
} kc;

typedef struct outs {
  int n;
  rt_tensor t[MAX_OUT];
} outs;

static uint64_t rng_state;

static void rng_seed(uint64_t s) { rng_state = s * 2654435761u + 88172645463325252ull; }

static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static int64_t rng_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }
static double rng_unit(void) { return (double)(rng() >> 11) / 9007199254740992.0; }

static kc *kc_new(const char *op) {
  kc *c = calloc(1, sizeof *c);
  cr_assert(c);
  c->g = rt__graph_create("graph-model", "test.json");
  cr_assert(c->g);
  c->node = rt__graph_add_node(c->g, "n", op);
  c->op = rt__op_find(op);
  cr_assert(c->op, "op %s not in the table", op);
  c->g->nodes[c->node].op = c->op;
  return c;
}

static void kc_free(kc *c) {
  for (int i = 0; i < c->n_in; i++)
    free(c->bufs[i]);
  rt__graph_destroy(c->g);
  free(c);
}

static void attr_int(kc *c, const char *name, int64_t v) {
  rt__node_add_attr(c->g, c->node, name, RT_ATTR_INT)->i = v;
}

static void attr_bool(kc *c, const char *name, bool v) {
  rt__node_add_attr(c->g, c->node, name, RT_ATTR_BOOL)->b = v;
}

static void attr_type(kc *c, const char *name, rt_dtype v) {
  rt__node_add_attr(c->g, c->node, name, RT_ATTR_TYPE)->type = v;
}

enum { G_RANDN, G_SPECIAL, G_INTS, G_ZEROS };

/* Input of the given shape. G_RANDN: spread floats; G_SPECIAL: a quarter are NaN, ±Inf, ±0,
 * subnormals or huge; G_INTS: integers in [lo, hi]; G_ZEROS: ±0 and small negatives. */
static void *in_gen(kc *c, rt_dtype dt, int rank, const int64_t *dims, int gen, int lo, int hi) {
  rt_tensor *x = &c->in[c->n_in];
  memset(x, 0, sizeof *x);
  x->dtype = dt;
  x->rank = rank;
  for (int i = 0; i < rank; i++)
    x->dims[i] = dims[i];
  int64_t n = rt_tensor_numel(x);
  unsigned char *d = malloc((size_t)(n ? n : 1) * 4);
  cr_assert(d);
  static const float special[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1e-40f, -1e-40f, 3e38f,
                                  -3e38f, 1.0f, -1.0f, 0.5f};
  static const float zeros[] = {0.0f, -0.0f, -1.0f, -2.0f};
  for (int64_t i = 0; i < n; i++) {
    double v;
    if (gen == G_RANDN)
      v = (rng_unit() + rng_unit() + rng_unit() - 1.5) * 4;
    else if (gen == G_SPECIAL)
      v = rng() % 4 == 0 ? special[rng() % 12] : (rng_unit() - 0.5) * 20;
    else if (gen == G_ZEROS)
      v = zeros[rng() % 4];
    else
      v = (double)rng_in(lo, hi);
    if (dt == RT_DT_F32)
      ((float *)(void *)d)[i] = (float)v;
    else if (dt == RT_DT_I32)
      ((int32_t *)(void *)d)[i] = (int32_t)v;
    else
      d[i] = v != 0;
  }
  x->data = d;
  c->bufs[c->n_in++] = d;
  return d;
}

static void in_ints(kc *c, int rank, const int64_t *dims, const int32_t *v) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  int32_t *d = in_gen(c, RT_DT_I32, rank, dims, G_INTS, 0, 0);
  memcpy(d, v, (size_t)n * sizeof *d);
}

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define I32S(...) ((const int32_t[]){__VA_ARGS__})

/* prepare (once), shape, run into fresh poisoned outputs and scratch with the given pool. */
static void kc_run(kc *c, rt_threadpool *tp, outs *o) {
  rt_node *n = &c->g->nodes[c->node];
  rt_error err = {0};
  if (c->op->prepare && !n->params)
    cr_assert_eq(c->op->prepare(c->g, n, &err), RT_OK, "%s prepare: %s", c->op->name, err.msg);
  memset(o, 0, sizeof *o);
  o->n = c->op->num_outputs ? c->op->num_outputs(n) : c->op->n_outputs;
  cr_assert(o->n >= 1 && o->n <= MAX_OUT);
  rt_kctx k = {.node = n, .params = n->params, .n_in = c->n_in, .in = c->in, .n_out = o->n,
               .out = o->t, .err = &err, .tp = tp};
  cr_assert_eq(c->op->shape(&k), RT_OK, "%s shape: %s", c->op->name, err.msg);
  for (int j = 0; j < o->n; j++) {
    size_t nb = rt_tensor_nbytes(&o->t[j]);
    o->t[j].data = malloc(nb + 1);
    memset(o->t[j].data, 0xA5, nb + 1);
  }
  void *scratch = NULL;
  if (k.scratch_bytes) {
    scratch = aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63);
    memset(scratch, 0x5A, k.scratch_bytes);
    k.scratch = scratch;
  }
  cr_assert_eq(c->op->run(&k), RT_OK, "%s run: %s", c->op->name, err.msg);
  free(scratch);
}

static void outs_free(outs *o) {
  for (int j = 0; j < o->n; j++)
    free(o->t[j].data);
  o->n = 0;
}

static void expect_same(const outs *a, const outs *b, const char *what) {
  cr_assert_eq(a->n, b->n, "%s: output count", what);
  for (int j = 0; j < a->n; j++) {
    cr_assert_eq(a->t[j].dtype, b->t[j].dtype, "%s: output %d dtype", what, j);
    cr_assert_eq(a->t[j].rank, b->t[j].rank, "%s: output %d rank", what, j);
    for (int d = 0; d < a->t[j].rank; d++)
      cr_assert_eq(a->t[j].dims[d], b->t[j].dims[d], "%s: output %d dim %d", what, j, d);
    size_t nb = rt_tensor_nbytes(&a->t[j]);
    const unsigned char *x = a->t[j].data, *y = b->t[j].data;
    if (memcmp(x, y, nb) == 0)
      continue;
    size_t i = 0;
    while (x[i] == y[i])
      i++;
    cr_assert_fail("%s: output %d byte %zu differs (%02x vs %02x)", what, j, i, x[i], y[i]);
  }
}

static rt_threadpool *pools[5];

static void pools_open(void) {
  rt_error err;
  for (int t = 2; t <= 4; t++)
    cr_assert_eq(rt__threadpool_create(t, &pools[t], &err), RT_OK);
}

static void pools_close(void) {
  for (int t = 2; t <= 4; t++)
    rt__threadpool_destroy(pools[t]);
}

/* Runs c on one thread into *ref and checks 2, 3 and 4 threads write the same bytes. */
static void check_threads(kc *c, outs *ref, const char *what) {
  kc_run(c, NULL, ref);
  for (int t = 2; t <= 4; t++) {
    outs o;
    kc_run(c, pools[t], &o);
    char msg[256];
    snprintf(msg, sizeof msg, "%s at %d threads", what, t);
    expect_same(ref, &o, msg);
    outs_free(&o);
  }
}

/* Random dims with about `target` elements in total. */
static void rand_dims(int rank, int64_t target, int64_t *dims) {
  double per = pow((double)target, 1.0 / rank);
  for (int i = 0; i < rank; i++) {
    int64_t d = (int64_t)(per * (0.5 + rng_unit()));
    dims[i] = d < 1 ? 1 : d;
  }
}

static int64_t numel_of(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  return n;
}

static void strides_of(int rank, const int64_t *dims, int64_t *st) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    st[i] = s;
    s *= dims[i];
  }
}

/* ---- elementwise ---- */

/* Operand b of a broadcast: some dims of out set to 1, maybe some leading dims dropped. */
static int bcast_operand(int rank, const int64_t *out, int64_t *dims) {
  int drop = rng() % 3 == 0 ? (int)rng_in(0, rank) : 0;
  for (int i = drop; i < rank; i++)
    dims[i - drop] = rng() % 3 == 0 ? 1 : out[i];
  return rank - drop;
}

Test(threads, binary_broadcast_random) {
  pools_open();
  rng_seed(1);
  static const char *ops[] = {"AddV2", "Mul", "Sub", "Maximum", "Minimum", "RealDiv",
                              "Equal", "Greater", "SquaredDifference", "FloorDiv", "Pow",
                              "Prelu", "FloorMod", "Atan2"};
  for (int it = 0; it < 40; it++) {
    const char *op = ops[it % (int)(sizeof ops / sizeof ops[0])];
    bool heavy = !strcmp(op, "Pow") || !strcmp(op, "FloorMod") || !strcmp(op, "Atan2");
    int rank = (int)rng_in(1, 5);
    int64_t od[RT_MAX_RANK], ad[RT_MAX_RANK], bd[RT_MAX_RANK];
    rand_dims(rank, heavy ? 20000 : rng_in(50000, 400000), od);
    int ra = bcast_operand(rank, od, ad), rb = bcast_operand(rank, od, bd);
    if (it % 2) /* the output shape must be od: keep a full operand */
      memcpy(ad, od, sizeof od), ra = rank;
    else
      memcpy(bd, od, sizeof od), rb = rank;
    rt_dtype dt = it % 5 == 4 && strcmp(op, "Prelu") ? RT_DT_I32 : RT_DT_F32;
    kc *c = kc_new(op);
    int gen = it % 3 == 0 ? G_SPECIAL : G_RANDN;
    const float *a = in_gen(c, dt, ra, ad, dt == RT_DT_I32 ? G_INTS : gen, -50, 50);
    const float *b = in_gen(c, dt, rb, bd, dt == RT_DT_I32 ? G_INTS : gen, -50, 50);
    outs ref;
    char what[64];
    snprintf(what, sizeof what, "%s case %d", op, it);
    check_threads(c, &ref, what);
    if (!strcmp(op, "AddV2") && dt == RT_DT_F32) { /* against a plain broadcast loop */
      int64_t ost[RT_MAX_RANK], ast[RT_MAX_RANK], bst[RT_MAX_RANK], n = numel_of(rank, od);
      strides_of(rank, od, ost);
      strides_of(ra, ad, ast);
      strides_of(rb, bd, bst);
      const float *y = ref.t[0].data;
      for (int64_t i = 0; i < n; i++) {
        int64_t ia = 0, ib = 0;
        for (int d = 0; d < rank; d++) {
          int64_t idx = i / ost[d] % od[d];
          int da = d - (rank - ra), db = d - (rank - rb);
          if (da >= 0 && ad[da] > 1)
            ia += idx * ast[da];
          if (db >= 0 && bd[db] > 1)
            ib += idx * bst[db];
        }
        float want = a[ia] + b[ib];
        cr_assert(y[i] == want || (isnan(y[i]) && isnan(want)), "AddV2 element %lld", (long long)i);
      }
    }
    outs_free(&ref);
    kc_free(c);
  }
  pools_close();
}

Test(threads, select_addn_clip) {
  pools_open();
  rng_seed(2);
  kc *c = kc_new("SelectV2");
  in_gen(c, RT_DT_BOOL, 3, DIMS(1, 300, 1), G_INTS, 0, 1);
  in_gen(c, RT_DT_F32, 3, DIMS(70, 300, 30), G_SPECIAL, 0, 0);
  in_gen(c, RT_DT_F32, 1, DIMS(30), G_RANDN, 0, 0);
  outs ref;
  check_threads(c, &ref, "SelectV2");
  outs_free(&ref);
  kc_free(c);

  c = kc_new("AddN");
  for (int i = 0; i < 3; i++)
    in_gen(c, RT_DT_F32, 2, DIMS(700, 900), i == 2 ? G_SPECIAL : G_RANDN, 0, 0);
  check_threads(c, &ref, "AddN");
  outs_free(&ref);
  kc_free(c);

  c = kc_new("ClipByValue");
  in_gen(c, RT_DT_F32, 2, DIMS(700, 900), G_SPECIAL, 0, 0);
  in_gen(c, RT_DT_F32, 0, NULL, G_INTS, -2, -2);
  in_gen(c, RT_DT_F32, 0, NULL, G_INTS, 3, 3);
  check_threads(c, &ref, "ClipByValue");
  outs_free(&ref);
  kc_free(c);
  pools_close();
}

/* JS ToInt32, the reference for Cast to int32. */
static int32_t to_int32(double v) {
  if (!isfinite(v))
    return 0;
  double m = fmod(trunc(v), 4294967296.0);
  if (m < 0)
    m += 4294967296.0;
  return (int32_t)(uint32_t)m;
}

Test(threads, unary_and_cast) {
  pools_open();
  rng_seed(3);
  static const char *ops[] = {"Relu", "Relu6", "Sigmoid", "Tanh", "Exp", "Sqrt", "Rsqrt",
                              "Neg", "Abs", "Square", "Elu", "Log", "LeakyRelu", "Softplus"};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    bool libm = !strcmp(ops[i], "Elu") || !strcmp(ops[i], "Log") || !strcmp(ops[i], "Softplus");
    kc *c = kc_new(ops[i]);
    int64_t n = libm ? 30001 : 400003;
    const float *x = in_gen(c, RT_DT_F32, 1, &n, i % 2 ? G_SPECIAL : G_RANDN, 0, 0);
    outs ref;
    check_threads(c, &ref, ops[i]);
    const float *y = ref.t[0].data;
    if (!strcmp(ops[i], "Sqrt")) /* the vector sqrt gives libm's bits, NaN for x < 0 */
      for (int64_t j = 0; j < n; j++) {
        float want = sqrtf(x[j]);
        cr_assert(!memcmp(&y[j], &want, 4) || (isnan(y[j]) && isnan(want)), "Sqrt(%g)", x[j]);
      }
    if (!strcmp(ops[i], "Rsqrt"))
      for (int64_t j = 0; j < n; j++) {
        float want = (float)(1.0 / sqrt((double)x[j]));
        cr_assert(!memcmp(&y[j], &want, 4) || (isnan(y[j]) && isnan(want)), "Rsqrt(%g)", x[j]);
      }
    outs_free(&ref);
    kc_free(c);
  }
  static const rt_dtype dts[] = {RT_DT_F32, RT_DT_I32, RT_DT_BOOL};
  for (int s = 0; s < 3; s++)
    for (int d = 0; d < 3; d++) {
      kc *c = kc_new("Cast");
      attr_type(c, "DstT", dts[d]);
      int64_t n = 600001;
      const void *x = in_gen(c, dts[s], 1, &n, dts[s] == RT_DT_F32 ? G_SPECIAL : G_INTS,
                             dts[s] == RT_DT_BOOL ? 0 : -3000, dts[s] == RT_DT_BOOL ? 1 : 3000);
      outs ref;
      check_threads(c, &ref, "Cast");
      if (dts[s] == RT_DT_F32 && dts[d] == RT_DT_I32)
        for (int64_t j = 0; j < n; j++)
          cr_assert_eq(((const int32_t *)ref.t[0].data)[j], to_int32(((const float *)x)[j]),
                       "Cast %g to int32", ((const float *)x)[j]);
      if (dts[s] == RT_DT_BOOL && dts[d] == RT_DT_F32)
        for (int64_t j = 0; j < n; j++)
          cr_assert_eq(((const float *)ref.t[0].data)[j], ((const uint8_t *)x)[j] ? 1.0f : 0.0f);
      outs_free(&ref);
      kc_free(c);
    }
  pools_close();
}

/* tf.cast(tf.tensor1d([3e9, -3e9, NaN, Infinity, 1.5, -1.5, 2147483647, -2147483648, 5e9]),
 * 'int32') -> [-1294967296, 1294967296, 0, 0, 1, -1, -2147483648, -2147483648, 705032704]:
 * one out-of-range value sends its whole block of 8 through the exact path. */
Test(threads, cast_out_of_range_block) {
  kc *c = kc_new("Cast");
  attr_type(c, "DstT", RT_DT_I32);
  float *x = in_gen(c, RT_DT_F32, 1, DIMS(9), G_INTS, 0, 0);
  const float v[9] = {3e9f, -3e9f, NAN, INFINITY, 1.5f, -1.5f, 2147483647.0f, -2147483648.0f, 5e9f};
  memcpy(x, v, sizeof v);
  outs o;
  kc_run(c, NULL, &o);
  static const int32_t want[9] = {-1294967296, 1294967296, 0, 0, 1, -1, INT32_MIN, INT32_MIN,
                                  705032704};
  for (int i = 0; i < 9; i++)
    cr_assert_eq(((const int32_t *)o.t[0].data)[i], want[i], "element %d", i);
  outs_free(&o);
  kc_free(c);
}

/* ---- reductions and softmax ---- */

/* TF.js's max/min step (NaN wins, the first of equal values stays) in row-major order. */
static void ref_reduce_extreme(const float *x, int rank, const int64_t *dims, const bool *mask,
                               bool is_max, float *out, int64_t on) {
  for (int64_t i = 0; i < on; i++)
    out[i] = is_max ? -INFINITY : INFINITY;
  int64_t n = numel_of(rank, dims), st[RT_MAX_RANK];
  strides_of(rank, dims, st);
  for (int64_t i = 0; i < n; i++) {
    int64_t o = 0;
    for (int d = 0; d < rank; d++)
      if (!mask[d])
        o = o * dims[d] + i / st[d] % dims[d];
    float v = x[i], a = out[o];
    out[o] = (v != v || (is_max ? v > a : v < a)) ? v : a;
  }
}

Test(threads, reductions_random) {
  pools_open();
  rng_seed(4);
  static const char *ops[] = {"Sum", "Mean", "Max", "Min", "Prod", "Max", "Min"};
  for (int it = 0; it < 28; it++) {
    const char *op = ops[it % 7];
    int rank = (int)rng_in(1, 4);
    int64_t dims[RT_MAX_RANK];
    rand_dims(rank, rng_in(100000, 600000), dims);
    int32_t axes[RT_MAX_RANK];
    bool mask[RT_MAX_RANK] = {false};
    int na = 0;
    for (int d = 0; d < rank; d++)
      if (rng() % 2) {
        axes[na++] = rng() % 2 ? d : d - rank;
        mask[d] = true;
      }
    kc *c = kc_new(op);
    if (rng() % 2)
      attr_bool(c, "keep_dims", true);
    int gen = it % 3 == 0 ? G_SPECIAL : it % 3 == 1 ? G_ZEROS : G_RANDN;
    const float *x = in_gen(c, RT_DT_F32, rank, dims, gen, 0, 0);
    in_ints(c, 1, DIMS(na), axes);
    outs ref;
    char what[64];
    snprintf(what, sizeof what, "%s case %d", op, it);
    check_threads(c, &ref, what);
    if (!strcmp(op, "Max") || !strcmp(op, "Min")) {
      int64_t on = rt_tensor_numel(&ref.t[0]);
      float *want = malloc((size_t)on * sizeof *want);
      ref_reduce_extreme(x, rank, dims, mask, !strcmp(op, "Max"), want, on);
      const float *y = ref.t[0].data;
      for (int64_t i = 0; i < on; i++)
        cr_assert(!memcmp(&y[i], &want[i], 4) || (isnan(y[i]) && isnan(want[i])),
                  "%s element %lld: %g vs %g", what, (long long)i, y[i], want[i]);
      free(want);
    }
    outs_free(&ref);
    kc_free(c);
  }
  pools_close();
}

/* tf.max([[-0, 0, -1, ..., -8], [0, -0, -1, ..., -8]], 1) -> [-0, 0] and
 * tf.min([[0, -0, 1, ..., 8], [-0, 0, 1, ..., 8]], 1) -> [0, -0]: the first zero's sign, which
 * the eight-lane max must not lose (rows of 10 take the vector path). */
Test(threads, max_min_keep_first_zero) {
  for (int is_max = 0; is_max < 2; is_max++) {
    kc *c = kc_new(is_max ? "Max" : "Min");
    float *x = in_gen(c, RT_DT_F32, 2, DIMS(2, 10), G_INTS, 0, 0);
    for (int i = 0; i < 10; i++)
      x[i] = x[10 + i] = (float)(is_max ? -(i - 1) : (i - 1));
    x[0] = is_max ? -0.0f : 0.0f;
    x[1] = is_max ? 0.0f : -0.0f;
    x[10] = is_max ? 0.0f : -0.0f;
    x[11] = is_max ? -0.0f : 0.0f;
    in_ints(c, 0, NULL, I32S(1));
    outs o;
    kc_run(c, NULL, &o);
    const float *y = o.t[0].data;
    bool neg0 = signbit(y[0]) != 0, neg1 = signbit(y[1]) != 0;
    cr_assert(y[0] == 0.0f && neg0 == (is_max == 1), "row 0: %g", y[0]);
    cr_assert(y[1] == 0.0f && neg1 == (is_max == 0), "row 1: %g", y[1]);
    outs_free(&o);
    kc_free(c);
  }
}

Test(threads, argmax_softmax) {
  pools_open();
  rng_seed(5);
  static const char *ops[] = {"ArgMax", "ArgMin"};
  for (int it = 0; it < 6; it++) {
    kc *c = kc_new(ops[it % 2]);
    int64_t dims[3];
    rand_dims(3, 400000, dims);
    in_gen(c, RT_DT_F32, 3, dims, it < 2 ? G_INTS : G_SPECIAL, 0, 3);
    in_ints(c, 0, NULL, I32S((int32_t)(it % 3) - (it > 3 ? 3 : 0)));
    outs ref;
    check_threads(c, &ref, ops[it % 2]);
    outs_free(&ref);
    kc_free(c);
  }
  static const char *sm[] = {"Softmax", "LogSoftmax"};
  for (int it = 0; it < 6; it++) {
    kc *c = kc_new(sm[it % 2]);
    int64_t cols = it < 2 ? 1000 : it < 4 ? 17 : 1;
    in_gen(c, RT_DT_F32, 2, DIMS(300000 / cols + 1, cols), it % 3 == 0 ? G_ZEROS : G_SPECIAL,
           0, 0);
    outs ref;
    check_threads(c, &ref, sm[it % 2]);
    outs_free(&ref);
    kc_free(c);
  }
  pools_close();
}

/* ---- data movement ---- */

Test(threads, transpose_random) {
  pools_open();
  rng_seed(6);
  for (int it = 0; it < 12; it++) {
    int rank = (int)rng_in(2, 5);
    int64_t dims[RT_MAX_RANK];
    rand_dims(rank, rng_in(300000, 900000), dims);
    int32_t perm[RT_MAX_RANK];
    for (int i = 0; i < rank; i++)
      perm[i] = i;
    for (int i = rank - 1; i > 0; i--) {
      int j = (int)rng_in(0, i);
      int32_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    rt_dtype dt = it % 4 == 3 ? RT_DT_BOOL : RT_DT_F32;
    kc *c = kc_new("Transpose");
    /* NaNs and subnormals too: the 8x8 register transposes must move bits unchanged */
    const unsigned char *x =
        in_gen(c, dt, rank, dims, dt == RT_DT_F32 ? G_SPECIAL : G_INTS, -1000, 1000);
    in_ints(c, 1, DIMS(rank), perm);
    outs ref;
    check_threads(c, &ref, "Transpose");
    int64_t od[RT_MAX_RANK], ost[RT_MAX_RANK], xst[RT_MAX_RANK], n = numel_of(rank, dims);
    for (int i = 0; i < rank; i++)
      od[i] = dims[perm[i]];
    strides_of(rank, od, ost);
    strides_of(rank, dims, xst);
    size_t es = rt_dtype_size(dt);
    const unsigned char *y = ref.t[0].data;
    int64_t idx[RT_MAX_RANK] = {0}, src = 0;
    for (int64_t i = 0; i < n; i++) { /* output order; src follows through the permutation */
      if (memcmp(y + (size_t)i * es, x + (size_t)src * es, es))
        cr_assert_fail("case %d element %lld", it, (long long)i);
      for (int d = rank - 1; d >= 0; d--) {
        src += xst[perm[d]];
        if (++idx[d] < od[d])
          break;
        src -= xst[perm[d]] * od[d];
        idx[d] = 0;
      }
    }
    (void)ost;
    outs_free(&ref);
    kc_free(c);
  }
  pools_close();
}

Test(threads, pad_random) {
  pools_open();
  rng_seed(7);
  for (int it = 0; it < 10; it++) {
    int rank = (int)rng_in(1, 4);
    int64_t dims[RT_MAX_RANK];
    rand_dims(rank, rng_in(200000, 700000), dims);
    int32_t pads[2 * RT_MAX_RANK];
    for (int i = 0; i < 2 * rank; i++)
      pads[i] = rng() % 2 ? (int32_t)rng_in(0, 3) : 0;
    rt_dtype dt = it % 3 == 2 ? RT_DT_I32 : RT_DT_F32;
    kc *c = kc_new(it % 2 ? "PadV2" : "Pad");
    const unsigned char *x = in_gen(c, dt, rank, dims, G_INTS, -99, 99);
    in_ints(c, 2, DIMS(rank, 2), pads);
    if (it % 2)
      in_gen(c, dt, 0, NULL, G_INTS, 7, 7);
    outs ref;
    check_threads(c, &ref, "Pad");
    int64_t od[RT_MAX_RANK], ost[RT_MAX_RANK], xst[RT_MAX_RANK];
    for (int i = 0; i < rank; i++)
      od[i] = dims[i] + pads[2 * i] + pads[2 * i + 1];
    strides_of(rank, od, ost);
    strides_of(rank, dims, xst);
    const int32_t *y = ref.t[0].data; /* 4-byte elements either way */
    int32_t fill = 0;
    if (it % 2) {
      float f = 7.0f;
      int32_t i7 = 7;
      memcpy(&fill, dt == RT_DT_F32 ? (const void *)&f : (const void *)&i7, 4);
    }
    int64_t idx[RT_MAX_RANK] = {0}, on = numel_of(rank, od);
    for (int64_t i = 0; i < on; i++) {
      int64_t src = 0;
      bool inside = true;
      for (int d = 0; d < rank; d++) {
        int64_t c0 = idx[d] - pads[2 * d];
        inside = inside && c0 >= 0 && c0 < dims[d];
        src += c0 * xst[d];
      }
      int32_t want = fill;
      if (inside)
        memcpy(&want, x + src * 4, 4);
      if (y[i] != want)
        cr_assert_fail("case %d element %lld", it, (long long)i);
      for (int d = rank - 1; d >= 0 && ++idx[d] == od[d]; d--)
        idx[d] = 0;
    }
    (void)ost;
    outs_free(&ref);
    kc_free(c);
  }
  pools_close();
}

Test(threads, concat_pack_split_random) {
  pools_open();
  rng_seed(8);
  for (int it = 0; it < 12; it++) {
    int rank = (int)rng_in(1, 4), axis = (int)rng_in(0, rank - 1), n = (int)rng_in(2, 5);
    int64_t dims[RT_MAX_RANK];
    rand_dims(rank, rng_in(60000, 300000), dims);
    kc *c = kc_new("ConcatV2");
    int64_t lens[8], total = 0;
    const float *xs[8];
    for (int t = 0; t < n; t++) {
      int64_t d[RT_MAX_RANK];
      memcpy(d, dims, sizeof d);
      d[axis] = t == 1 ? 0 : rng_in(1, dims[axis]); /* one empty input */
      lens[t] = d[axis];
      total += d[axis];
      xs[t] = in_gen(c, RT_DT_F32, rank, d, G_RANDN, 0, 0);
    }
    in_ints(c, 0, NULL, I32S(axis - (it % 2 ? rank : 0)));
    outs ref;
    check_threads(c, &ref, "ConcatV2");
    int64_t outer = numel_of(axis, dims), inner = numel_of(rank - axis - 1, dims + axis + 1);
    const float *y = ref.t[0].data;
    for (int64_t i = 0; i < outer; i++)
      for (int t = 0, off = 0; t < n; off += (int)lens[t], t++)
        cr_assert(!memcmp(y + (i * total + off) * inner, xs[t] + i * lens[t] * inner,
                          (size_t)(lens[t] * inner) * 4),
                  "case %d row %lld input %d", it, (long long)i, t);
    outs_free(&ref);
    kc_free(c);
  }
  /* one huge row (axis 0), then Pack and Unpack/Split of the same kind */
  kc *c = kc_new("ConcatV2");
  in_gen(c, RT_DT_F32, 2, DIMS(700, 1000), G_RANDN, 0, 0);
  in_gen(c, RT_DT_F32, 2, DIMS(300, 1000), G_RANDN, 0, 0);
  in_ints(c, 0, NULL, I32S(0));
  outs ref;
  check_threads(c, &ref, "ConcatV2 axis 0");
  cr_assert(!memcmp(ref.t[0].data, c->in[0].data, 700000 * 4));
  cr_assert(!memcmp((float *)ref.t[0].data + 700000, c->in[1].data, 300000 * 4));
  outs_free(&ref);
  kc_free(c);
  for (int axis = 0; axis < 3; axis++) {
    c = kc_new("Pack");
    attr_int(c, "axis", axis);
    for (int t = 0; t < 3; t++)
      in_gen(c, RT_DT_F32, 2, DIMS(400, 500), G_RANDN, 0, 0);
    check_threads(c, &ref, "Pack");
    outs_free(&ref);
    kc_free(c);
    c = kc_new("Unpack");
    attr_int(c, "axis", axis);
    attr_int(c, "num", 3);
    int64_t d[3] = {400, 500, 400};
    d[axis] = 3;
    in_gen(c, RT_DT_F32, 3, d, G_RANDN, 0, 0);
    check_threads(c, &ref, "Unpack");
    outs_free(&ref);
    kc_free(c);
  }
  c = kc_new("Split");
  attr_int(c, "num_split", 4);
  in_ints(c, 0, NULL, I32S(2));
  in_gen(c, RT_DT_F32, 3, DIMS(30, 300, 120), G_RANDN, 0, 0);
  check_threads(c, &ref, "Split");
  outs_free(&ref);
  kc_free(c);
  pools_close();
}

Test(threads, slices_gather_tile) {
  pools_open();
  rng_seed(9);
  kc *c = kc_new("StridedSlice");
  in_gen(c, RT_DT_F32, 4, DIMS(2, 130, 130, 64), G_RANDN, 0, 0);
  in_ints(c, 1, DIMS(4), I32S(0, 1, 129, 3));
  in_ints(c, 1, DIMS(4), I32S(2, 128, 0, 60));
  in_ints(c, 1, DIMS(4), I32S(1, 1, -2, 2));
  outs ref;
  check_threads(c, &ref, "StridedSlice");
  outs_free(&ref);
  kc_free(c);

  c = kc_new("Slice");
  in_gen(c, RT_DT_F32, 4, DIMS(1, 200, 200, 40), G_RANDN, 0, 0);
  in_ints(c, 1, DIMS(4), I32S(0, 3, 0, 8));
  in_ints(c, 1, DIMS(4), I32S(1, -1, 190, 16));
  check_threads(c, &ref, "Slice");
  outs_free(&ref);
  kc_free(c);

  for (int it = 0; it < 6; it++) {
    c = kc_new("GatherV2");
    int64_t dims[3];
    rand_dims(3, 600000, dims);
    int axis = it % 3;
    const float *x = in_gen(c, RT_DT_F32, 3, dims, G_RANDN, 0, 0);
    int64_t ni = rng_in(10, 60);
    const void *idx = in_gen(c, it == 5 ? RT_DT_F32 : RT_DT_I32, 1, &ni, G_INTS, 0,
                             (int)dims[axis] - 1);
    in_ints(c, 0, NULL, I32S(axis));
    check_threads(c, &ref, "GatherV2");
    int64_t outer = numel_of(axis, dims), inner = numel_of(2 - axis, dims + axis + 1);
    const float *y = ref.t[0].data;
    for (int64_t i = 0; i < outer; i++)
      for (int64_t j = 0; j < ni; j++) {
        int64_t v = it == 5 ? (int64_t)((const float *)idx)[j] : ((const int32_t *)idx)[j];
        cr_assert(!memcmp(y + (i * ni + j) * inner, x + (i * dims[axis] + v) * inner,
                          (size_t)inner * 4),
                  "GatherV2 case %d", it);
      }
    outs_free(&ref);
    kc_free(c);
  }

  c = kc_new("Tile");
  in_gen(c, RT_DT_F32, 3, DIMS(1, 60, 70), G_RANDN, 0, 0);
  in_ints(c, 1, DIMS(3), I32S(30, 2, 3));
  check_threads(c, &ref, "Tile");
  outs_free(&ref);
  kc_free(c);

  c = kc_new("BroadcastTo");
  in_gen(c, RT_DT_F32, 2, DIMS(700, 1), G_RANDN, 0, 0);
  in_ints(c, 1, DIMS(3), I32S(2, 700, 800));
  check_threads(c, &ref, "BroadcastTo");
  outs_free(&ref);
  kc_free(c);

  c = kc_new("ReverseV2");
  in_gen(c, RT_DT_F32, 3, DIMS(60, 100, 130), G_RANDN, 0, 0);
  in_ints(c, 1, DIMS(2), I32S(0, 2));
  check_threads(c, &ref, "ReverseV2");
  outs_free(&ref);
  kc_free(c);

  c = kc_new("Reshape");
  in_gen(c, RT_DT_F32, 2, DIMS(1000, 1200), G_RANDN, 0, 0);
  in_ints(c, 1, DIMS(1), I32S(-1));
  check_threads(c, &ref, "Reshape");
  cr_assert(!memcmp(ref.t[0].data, c->in[0].data, 1200000 * 4));
  outs_free(&ref);
  kc_free(c);
  pools_close();
}

/* ---- image ---- */

Test(threads, resize_and_blocks) {
  pools_open();
  rng_seed(10);
  for (int it = 0; it < 12; it++) {
    kc *c = kc_new(it % 3 == 2 ? "ResizeNearestNeighbor" : "ResizeBilinear");
    int64_t ch = it % 4 == 0 ? 3 : rng_in(1, 40);
    int64_t h = rng_in(10, 60), w = rng_in(10, 60);
    in_gen(c, it == 4 ? RT_DT_I32 : RT_DT_F32, 4, DIMS(it % 5 == 1 ? 2 : 1, h, w, ch),
           it == 4 ? G_INTS : G_SPECIAL, -1000, 1000);
    int32_t nh = (int32_t)rng_in(60, 160), nw = (int32_t)(800000 / (nh * ch) + 1);
    in_ints(c, 1, DIMS(2), I32S(nh, nw > 300 ? 300 : nw));
    if (it % 4 == 1)
      attr_bool(c, "align_corners", true);
    else if (it % 4 == 2)
      attr_bool(c, "half_pixel_centers", true);
    outs ref;
    check_threads(c, &ref, c->op->name);
    outs_free(&ref);
    kc_free(c);
  }
  kc *c = kc_new("DepthToSpace");
  attr_int(c, "block_size", 3);
  const float *x = in_gen(c, RT_DT_F32, 4, DIMS(2, 40, 50, 45), G_RANDN, 0, 0);
  outs ref;
  check_threads(c, &ref, "DepthToSpace");
  const float *y = ref.t[0].data;
  for (int64_t b = 0; b < 2; b++) /* y[b, h, w, c] = x[b, h / 3, w / 3, ((h % 3) * 3 + w % 3) * 5 + c] */
    for (int64_t hh = 0; hh < 120; hh++)
      for (int64_t ww = 0; ww < 150; ww++)
        for (int64_t cc = 0; cc < 5; cc++)
          cr_assert_eq(y[((b * 120 + hh) * 150 + ww) * 5 + cc],
                       x[((b * 40 + hh / 3) * 50 + ww / 3) * 45 + ((hh % 3) * 3 + ww % 3) * 5 + cc]);
  outs_free(&ref);
  kc_free(c);
  c = kc_new("SpaceToDepth");
  attr_int(c, "block_size", 2);
  in_gen(c, RT_DT_F32, 4, DIMS(2, 120, 150, 20), G_RANDN, 0, 0);
  check_threads(c, &ref, "SpaceToDepth");
  outs_free(&ref);
  kc_free(c);
  pools_close();
}

/* The k best of a row by value descending, ties by index ascending (comparePair on finite
 * values), by selection over the whole row. */
static void ref_topk(const float *x, int64_t n, int64_t k, float *vals, int32_t *idx) {
  unsigned char *taken = calloc((size_t)n, 1);
  for (int64_t j = 0; j < k; j++) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; i++)
      if (!taken[i] && (best < 0 || x[i] > x[best]))
        best = i;
    taken[best] = 1;
    vals[j] = x[best];
    idx[j] = (int32_t)best;
  }
  free(taken);
}

Test(threads, topk_matches_selection) {
  pools_open();
  rng_seed(11);
  static const int64_t rows[] = {1, 1, 1, 7, 40, 1};
  static const int64_t lens[] = {300000, 70000, 5000, 20000, 1000, 64};
  static const int64_t ks[] = {100, 33, 1, 10, 5, 64};
  for (int it = 0; it < 6; it++) {
    kc *c = kc_new("TopKV2");
    const float *x = in_gen(c, RT_DT_F32, 2, DIMS(rows[it], lens[it]),
                            it % 2 ? G_INTS : G_RANDN, 0, 50); /* G_INTS: many ties */
    in_ints(c, 0, NULL, I32S((int32_t)ks[it]));
    outs ref;
    check_threads(c, &ref, "TopKV2");
    float *vals = malloc((size_t)ks[it] * sizeof *vals);
    int32_t *idx = malloc((size_t)ks[it] * sizeof *idx);
    for (int64_t r = 0; r < rows[it]; r++) {
      ref_topk(x + r * lens[it], lens[it], ks[it], vals, idx);
      for (int64_t j = 0; j < ks[it]; j++) {
        cr_assert_eq(((const float *)ref.t[0].data)[r * ks[it] + j], vals[j], "case %d", it);
        cr_assert_eq(((const int32_t *)ref.t[1].data)[r * ks[it] + j], idx[j], "case %d", it);
      }
    }
    free(vals);
    free(idx);
    outs_free(&ref);
    kc_free(c);
  }
  pools_close();
}

/* Rows holding NaN or ±Inf leave the fast path for the exact port of TF.js's select. With
 * r(i) = (i * 7) % 13 over 100 values, or (i * 7) % 101 over 300:
 *   a: r with r[50] = NaN, r[7] = Infinity, r[8] = -Infinity, tf.topk(a, 4)
 *   b: (i * 7) % 101 with b[250] = NaN, b[7] = Infinity, tf.topk(b, 4)
 *   c: r with r[7] = Infinity, tf.topk(c, 4)
 * give values [Inf, 12, 12, 12] / [Inf, 100, 100, 100] / [Inf, 12, 12, 12] and indices
 * [7, 11, 24, 37] / [7, 72, 173, 274] / [7, 11, 24, 37]. (Rows with equal infinities are not
 * tested: TF.js orders those by V8's sort with a NaN comparison, which the port does not model.) */
Test(threads, topk_non_finite_rows_take_the_exact_port) {
  static const int64_t lens[3] = {100, 300, 100};
  static const float want_v[3][4] = {{INFINITY, 12, 12, 12}, {INFINITY, 100, 100, 100},
                                     {INFINITY, 12, 12, 12}};
  static const int32_t want_i[3][4] = {{7, 11, 24, 37}, {7, 72, 173, 274}, {7, 11, 24, 37}};
  for (int t = 0; t < 3; t++) {
    int64_t n = lens[t];
    kc *c = kc_new("TopKV2");
    float *x = in_gen(c, RT_DT_F32, 1, &n, G_INTS, 0, 0);
    for (int i = 0; i < n; i++)
      x[i] = (float)((i * 7) % (t == 1 ? 101 : 13));
    x[7] = INFINITY;
    if (t == 0) {
      x[50] = NAN;
      x[8] = -INFINITY;
    } else if (t == 1) {
      x[250] = NAN;
    }
    in_ints(c, 0, NULL, I32S(4));
    outs o;
    kc_run(c, NULL, &o);
    for (int j = 0; j < 4; j++) {
      cr_assert_eq(((const float *)o.t[0].data)[j], want_v[t][j], "case %d value %d", t, j);
      cr_assert_eq(((const int32_t *)o.t[1].data)[j], want_i[t][j], "case %d index %d", t, j);
    }
    outs_free(&o);
    kc_free(c);
  }
}
