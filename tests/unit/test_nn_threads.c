/*
 * test_nn_threads.c — the nn kernels give the same bytes for any intra-op thread count.
 *
 * Every op of ops_nn.c splits its output into items handed to rt__parallel_for, each output
 * element computed by one item exactly as in a single thread. This checks it: random shapes
 * (a fixed LCG seed, so runs repeat) of convolutions (im2col, 1x1 direct, NCHW, fused
 * epilogues), depthwise convolutions (specialised and generic filters, multiplier 2, NCHW),
 * pools, transposed convolutions and matmuls (float with and without a packed constant,
 * transposes, batches, int32) run with no pool and with pools of 2, 3 and 4 threads, filters
 * packed and not; all outputs must be byte-identical to the single-threaded one. The shapes
 * are big enough that every op is really split (a chunk is worth a thread from ~64K flops).
 */
#include "ir.h"
#include "ops.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a one-node graph ---- */

typedef struct op_case {
  const char *op;
  int n_in;
  rt_tensor in[4];
  unsigned pack_mask; /* inputs made Const and packed */
} op_case;

static uint64_t g_rng = 12345;
static uint32_t rnd(void) {
  g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(g_rng >> 33);
}
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static void *rnd_data(rt_dtype dt, int64_t n) {
  void *p = malloc((size_t)(n > 0 ? n : 1) * 4);
  cr_assert(p);
  for (int64_t i = 0; i < n; i++) {
    if (dt == RT_DT_F32)
      ((float *)p)[i] = (float)((int)(rnd() % 2001) - 1000) / 997.0f;
    else
      ((int32_t *)p)[i] = (int32_t)rnd();
  }
  return p;
}

static rt_tensor tens(rt_dtype dt, int rank, const int64_t *dims, bool random) {
  rt_tensor t = {.dtype = dt, .rank = rank};
  memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
  t.data = random ? rnd_data(dt, rt_tensor_numel(&t)) : NULL;
  return t;
}
#define TENS(dt, rank, ...) tens(dt, rank, (int64_t[]){__VA_ARGS__}, true)

static void attr_ints(rt_graph *g, int id, const char *name, int n, const int64_t *v) {
  rt_attr *a = rt__node_add_attr(g, id, name, RT_ATTR_LIST_INT);
  cr_assert(a);
  a->n = n;
  a->ints = rt__pool_alloc(g->pool, (size_t)n * sizeof *a->ints + 8);
  memcpy(a->ints, v, (size_t)n * sizeof *v);
}
#define ATTR_INTS(g, id, name, ...)                                                                \
  attr_ints(g, id, name, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                \
            (int64_t[]){__VA_ARGS__})

static void attr_str(rt_graph *g, int id, const char *name, const char *s) {
  rt_attr *a = rt__node_add_attr(g, id, name, RT_ATTR_STRING);
  cr_assert(a);
  a->s = rt__pool_strdup(g->pool, s);
  a->s_len = strlen(s);
}

static void attr_bool(rt_graph *g, int id, const char *name, bool b) {
  rt_attr *a = rt__node_add_attr(g, id, name, RT_ATTR_BOOL);
  cr_assert(a);
  a->b = b;
}

static void attr_fused(rt_graph *g, int id, const char *act) {
  rt_attr *a = rt__node_add_attr(g, id, "fused_ops", RT_ATTR_LIST_STRING);
  cr_assert(a);
  a->n = act ? 2 : 1;
  a->strs = rt__pool_alloc(g->pool, 2 * sizeof *a->strs);
  a->str_lens = rt__pool_alloc(g->pool, 2 * sizeof *a->str_lens);
  a->strs[0] = "BiasAdd", a->str_lens[0] = 7;
  if (act)
    a->strs[1] = act, a->str_lens[1] = strlen(act);
  rt_attr *na = rt__node_add_attr(g, id, "num_args", RT_ATTR_INT);
  na->i = 1;
}

typedef void (*attrs_fn)(rt_graph *g, int id, const void *arg);

static double g_flops; /* of the last case shaped */

/* Runs the case on pool tp (NULL: one thread); returns the malloc'd output bytes. */
static void *run_case(const op_case *c, attrs_fn attrs, const void *arg, rt_threadpool *tp,
                      bool packed, size_t *nbytes) {
  rt_graph *g = rt__graph_create("graph-model", "threads.json");
  cr_assert(g);
  int id = rt__graph_add_node(g, "node", c->op);
  rt_ref refs[4] = {{0}};
  cr_assert_eq(rt__node_set_inputs(g, id, refs, c->n_in), RT_OK);
  attrs(g, id, arg);
  rt_tensor in[4];
  memcpy(in, c->in, sizeof in);
  const rt_op_def *op = rt__op_find(c->op);
  cr_assert(op);
  g->nodes[id].op = op;
  rt_error err = {0};
  if (op->prepare)
    cr_assert_eq(op->prepare(g, &g->nodes[id], &err), RT_OK, "%s", err.msg);
  if (packed && c->pack_mask) {
    for (int i = 0; i < c->n_in; i++) {
      if (!(c->pack_mask & (1u << i)))
        continue;
      int k = rt__graph_add_node(g, "const", "Const");
      g->nodes[k].value = in[i]; /* the graph only points at it */
      g->nodes[id].inputs[i] = (rt_ref){k, 0};
    }
    if (op->pack)
      cr_assert_eq(op->pack(g, &g->nodes[id], &err), RT_OK, "%s", err.msg);
  }
  rt_tensor out = {0};
  rt_kctx k = {.node = &g->nodes[id],
               .params = g->nodes[id].params,
               .n_in = c->n_in,
               .in = in,
               .n_out = 1,
               .out = &out,
               .err = &err,
               .tp = tp};
  cr_assert_eq(op->shape(&k), RT_OK, "%s: %s", c->op, err.msg);
  if (op->flops)
    g_flops = op->flops(&k);
  *nbytes = rt_tensor_nbytes(&out);
  out.data = malloc(*nbytes + 4);
  memset(out.data, 0x7f, *nbytes);
  k.scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
  cr_assert_eq(op->run(&k), RT_OK, "%s: %s", c->op, err.msg);
  free(k.scratch);
  rt__graph_destroy(g);
  return out.data;
}

static rt_threadpool *g_pools[5];

static void pools_up(void) {
  rt_error err;
  for (int t = 2; t <= 4; t++)
    cr_assert_eq(rt__threadpool_create(t, &g_pools[t], &err), RT_OK);
}

static void pools_down(void) {
  for (int t = 2; t <= 4; t++)
    rt__threadpool_destroy(g_pools[t]);
}

/* Work (the op's flops) that every case exceeds, so that each op really is split: the kernels
 * keep ops under 1 MFLOP on one thread and hand out chunks of about 0.13 MFLOP. */
#define SPLIT_FLOPS 3e6 /* the loops below grow shapes to about twice this */

/* The case's output on 1..4 threads, packed and not: all the same bytes. */
static void expect_thread_invariant(const op_case *c, attrs_fn attrs, const void *arg,
                                    const char *what) {
  size_t n0, n;
  void *ref = run_case(c, attrs, arg, NULL, false, &n0);
  cr_assert(g_flops >= SPLIT_FLOPS, "%s: %.0f flops is too little work to split", what, g_flops);
  for (int packed = 0; packed < 2; packed++)
    for (int t = 1; t <= 4; t++) {
      void *got = run_case(c, attrs, arg, t == 1 ? NULL : g_pools[t], packed, &n);
      cr_assert_eq(n, n0);
      cr_assert(memcmp(ref, got, n) == 0, "%s: %d threads (packed %d) differ from one", what, t,
                packed);
      free(got);
    }
  free(ref);
}

static void case_free(op_case *c) {
  for (int i = 0; i < 4; i++) /* a bias made for an unfused op too */
    free(c->in[i].data);
}

/* ---- convolutions ---- */

typedef struct conv_arg {
  int s, d;
  const char *pad, *act;
  bool nchw;
} conv_arg;

static void conv_attrs(rt_graph *g, int id, const void *p) {
  const conv_arg *a = p;
  if (a->nchw) {
    ATTR_INTS(g, id, "strides", 1, 1, a->s, a->s);
    ATTR_INTS(g, id, "dilations", 1, 1, a->d, a->d);
    attr_str(g, id, "data_format", "NCHW");
  } else {
    ATTR_INTS(g, id, "strides", 1, a->s, a->s, 1);
    ATTR_INTS(g, id, "dilations", 1, a->d, a->d, 1);
  }
  attr_str(g, id, "padding", a->pad);
  if (a->act)
    attr_fused(g, id, *a->act ? a->act : NULL);
}

Test(nn_threads, conv_same_bytes_for_1_to_4_threads, .init = pools_up, .fini = pools_down) {
  static const struct {
    int k, s, d;
    const char *pad, *act;
    bool nchw;
  } kinds[] = {
      {3, 1, 1, "SAME", NULL, false},   {1, 1, 1, "VALID", "Relu6", false},
      {3, 2, 1, "SAME", "Relu", false}, {5, 1, 1, "SAME", "Sigmoid", false},
      {3, 1, 2, "SAME", "", false},     {3, 1, 1, "SAME", "Relu6", true},
      {1, 2, 1, "SAME", NULL, false},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    int n = rnd_in(1, 2), h = rnd_in(11, 23), w = rnd_in(11, 23), ic = rnd_in(3, 70),
        oc = rnd_in(5, 40), k = kinds[i].k, s = kinds[i].s;
    while (2.0 * n * ((h + s - 1) / s) * ((w + s - 1) / s) * oc * k * k * ic < 2 * SPLIT_FLOPS)
      h += 5, w += 3;
    conv_arg a = {kinds[i].s, kinds[i].d, kinds[i].pad, kinds[i].act, kinds[i].nchw};
    op_case c = {.op = a.act ? "_FusedConv2D" : "Conv2D", .n_in = a.act ? 3 : 2, .pack_mask = 0x6};
    c.in[0] = a.nchw ? TENS(RT_DT_F32, 4, n, ic, h, w) : TENS(RT_DT_F32, 4, n, h, w, ic);
    c.in[1] = TENS(RT_DT_F32, 4, kinds[i].k, kinds[i].k, ic, oc);
    c.in[2] = TENS(RT_DT_F32, 1, oc);
    char what[96];
    snprintf(what, sizeof what, "conv %zu (%dx%dx%dx%d -> %d)", i, n, h, w, ic, oc);
    expect_thread_invariant(&c, conv_attrs, &a, what);
    case_free(&c);
  }
  /* A few pixels and many channels: the output channels are split too. */
  for (int k = 1; k <= 3; k += 2) {
    conv_arg a = {1, 1, "SAME", "Relu6", false};
    op_case c = {.op = "_FusedConv2D", .n_in = 3, .pack_mask = 0x6};
    c.in[0] = TENS(RT_DT_F32, 4, 1, 3, 4, 640);
    c.in[1] = TENS(RT_DT_F32, 4, k, k, 640, 260);
    c.in[2] = TENS(RT_DT_F32, 1, 260);
    expect_thread_invariant(&c, conv_attrs, &a, k == 1 ? "conv 3x4 1x1" : "conv 3x4 3x3");
    case_free(&c);
  }
}

Test(nn_threads, depthwise_same_bytes_for_1_to_4_threads, .init = pools_up, .fini = pools_down) {
  static const struct {
    int k, s, d, m;
    const char *pad, *act;
    bool nchw;
  } kinds[] = {
      {3, 1, 1, 1, "SAME", "Relu6", false},   {3, 2, 1, 1, "SAME", NULL, false},
      {5, 1, 1, 1, "SAME", "", false},        {5, 2, 1, 1, "VALID", "Relu", false},
      {3, 1, 2, 1, "SAME", "Sigmoid", false}, {3, 1, 1, 2, "SAME", "Relu", false},
      {3, 2, 1, 1, "SAME", "Relu6", true},    {4, 1, 1, 1, "SAME", NULL, false},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    int n = rnd_in(1, 2), h = rnd_in(14, 30), w = rnd_in(14, 30), ic = rnd_in(8, 140),
        k = kinds[i].k, s = kinds[i].s;
    while (2.0 * n * ((h + s - 1) / s) * ((w + s - 1) / s) * ic * kinds[i].m * k * k <
           2 * SPLIT_FLOPS)
      h += 5, w += 3;
    conv_arg a = {kinds[i].s, kinds[i].d, kinds[i].pad, kinds[i].act, kinds[i].nchw};
    op_case c = {.op = a.act ? "FusedDepthwiseConv2dNative" : "DepthwiseConv2dNative",
                 .n_in = a.act ? 3 : 2,
                 .pack_mask = 0x6};
    c.in[0] = a.nchw ? TENS(RT_DT_F32, 4, n, ic, h, w) : TENS(RT_DT_F32, 4, n, h, w, ic);
    c.in[1] = TENS(RT_DT_F32, 4, kinds[i].k, kinds[i].k, ic, kinds[i].m);
    c.in[2] = TENS(RT_DT_F32, 1, ic * kinds[i].m);
    char what[96];
    snprintf(what, sizeof what, "depthwise %zu (%dx%dx%dx%d)", i, n, h, w, ic);
    expect_thread_invariant(&c, conv_attrs, &a, what);
    case_free(&c);
  }
}

/* ---- pools ---- */

typedef struct pool_arg {
  int k, s;
  const char *pad;
  bool nchw;
} pool_arg;

static void pool_attrs(rt_graph *g, int id, const void *p) {
  const pool_arg *a = p;
  if (a->nchw) {
    ATTR_INTS(g, id, "ksize", 1, 1, a->k, a->k);
    ATTR_INTS(g, id, "strides", 1, 1, a->s, a->s);
    attr_str(g, id, "data_format", "NCHW");
  } else {
    ATTR_INTS(g, id, "ksize", 1, a->k, a->k, 1);
    ATTR_INTS(g, id, "strides", 1, a->s, a->s, 1);
  }
  attr_str(g, id, "padding", a->pad);
}

Test(nn_threads, pools_same_bytes_for_1_to_4_threads, .init = pools_up, .fini = pools_down) {
  static const pool_arg kinds[] = {
      {3, 2, "SAME", false}, {2, 2, "VALID", false}, {5, 1, "SAME", false}, {3, 1, "SAME", true}};
  for (int avg = 0; avg < 2; avg++)
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
      int n = rnd_in(1, 2), h = rnd_in(20, 40), w = rnd_in(20, 40), ch = rnd_in(8, 150),
          s = kinds[i].s;
      while ((double)n * ((h + s - 1) / s) * ((w + s - 1) / s) * ch * kinds[i].k * kinds[i].k <
             2 * SPLIT_FLOPS)
        h += 5, w += 3;
      op_case c = {.op = avg ? "AvgPool" : "MaxPool", .n_in = 1};
      c.in[0] = kinds[i].nchw ? TENS(RT_DT_F32, 4, n, ch, h, w) : TENS(RT_DT_F32, 4, n, h, w, ch);
      char what[96];
      snprintf(what, sizeof what, "%s %zu (%dx%dx%dx%d)", c.op, i, n, h, w, ch);
      expect_thread_invariant(&c, pool_attrs, &kinds[i], what);
      case_free(&c);
    }
}

/* ---- transposed convolution ---- */

Test(nn_threads, transposed_conv_same_bytes_for_1_to_4_threads, .init = pools_up,
     .fini = pools_down) {
  static const struct {
    int k, s, c1;
    const char *pad;
  } kinds[] = {{2, 2, 1, "SAME"}, {3, 2, 5, "SAME"}, {4, 2, 24, "SAME"}, {3, 1, 12, "VALID"}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    int n = rnd_in(1, 2), h = rnd_in(12, 30), w = rnd_in(12, 30), c2 = rnd_in(4, 32);
    int s = kinds[i].s, k = kinds[i].k;
    while (2.0 * n * ((h + s - 1) / s) * ((w + s - 1) / s) * c2 * k * k * kinds[i].c1 <
           2 * SPLIT_FLOPS)
      h += 5, w += 3;
    int oh = !strcmp(kinds[i].pad, "SAME") ? (h + s - 1) / s : (h - k + s) / s;
    int ow = !strcmp(kinds[i].pad, "SAME") ? (w + s - 1) / s : (w - k + s) / s;
    op_case c = {.op = "Conv2DBackpropInput", .n_in = 3, .pack_mask = 0x3};
    c.in[0] = TENS(RT_DT_I32, 1, 4);
    int32_t *os = c.in[0].data;
    os[0] = n, os[1] = h, os[2] = w, os[3] = kinds[i].c1;
    c.in[1] = TENS(RT_DT_F32, 4, k, k, kinds[i].c1, c2);
    c.in[2] = TENS(RT_DT_F32, 4, n, oh, ow, c2);
    conv_arg a = {s, 1, kinds[i].pad, NULL, false};
    char what[96];
    snprintf(what, sizeof what, "transposed conv %zu (%dx%dx%dx%d)", i, n, h, w, kinds[i].c1);
    expect_thread_invariant(&c, conv_attrs, &a, what);
    case_free(&c);
  }
}

/* ---- matmul ---- */

typedef struct mm_arg {
  bool ta, tb, batch;
  const char *act;
} mm_arg;

static void mm_attrs(rt_graph *g, int id, const void *p) {
  const mm_arg *a = p;
  attr_bool(g, id, a->batch ? "adj_x" : "transpose_a", a->ta);
  attr_bool(g, id, a->batch ? "adj_y" : "transpose_b", a->tb);
  if (a->act)
    attr_fused(g, id, *a->act ? a->act : NULL);
}

Test(nn_threads, matmul_same_bytes_for_1_to_4_threads, .init = pools_up, .fini = pools_down) {
  static const mm_arg kinds[] = {{false, false, false, NULL}, {false, true, false, "Relu"},
                                 {true, false, false, ""},    {true, true, false, NULL},
                                 {false, false, true, NULL},  {false, true, true, NULL}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    const mm_arg *a = &kinds[i];
    int b = a->batch ? rnd_in(2, 3) : 1, m = rnd_in(40, 90), k = rnd_in(30, 120),
        n = rnd_in(20, 70);
    while (2.0 * b * m * k * n < 2 * SPLIT_FLOPS)
      m += 16;
    op_case c = {.op = a->batch ? "BatchMatMulV2"
                       : a->act ? "_FusedMatMul"
                                : "MatMul",
                 .n_in = a->act ? 3 : 2,
                 .pack_mask = 0x6};
    c.in[0] = a->batch ? (a->ta ? TENS(RT_DT_F32, 3, b, k, m) : TENS(RT_DT_F32, 3, b, m, k))
                       : (a->ta ? TENS(RT_DT_F32, 2, k, m) : TENS(RT_DT_F32, 2, m, k));
    c.in[1] = a->tb ? TENS(RT_DT_F32, 2, n, k) : TENS(RT_DT_F32, 2, k, n);
    c.in[2] = TENS(RT_DT_F32, 1, n);
    char what[96];
    snprintf(what, sizeof what, "matmul %zu (%dx%dx%d by %d)", i, b, m, k, n);
    expect_thread_invariant(&c, mm_attrs, a, what);
    case_free(&c);
  }
  /* One row (a dense layer at batch 1): the columns are split. */
  for (int tb = 0; tb < 2; tb++) {
    mm_arg a = {false, tb, false, "Relu"};
    op_case c = {.op = "_FusedMatMul", .n_in = 3, .pack_mask = 0x6};
    c.in[0] = TENS(RT_DT_F32, 2, 1, 2048);
    c.in[1] = tb ? TENS(RT_DT_F32, 2, 1001, 2048) : TENS(RT_DT_F32, 2, 2048, 1001);
    c.in[2] = TENS(RT_DT_F32, 1, 1001);
    expect_thread_invariant(&c, mm_attrs, &a, tb ? "dense 1x2048 by 1001x2048^T" : "dense 1x2048");
    case_free(&c);
  }
  /* int32 wraps the same way on every thread */
  mm_arg a = {false, false, false, NULL};
  op_case c = {.op = "MatMul", .n_in = 2};
  c.in[0] = TENS(RT_DT_I32, 2, 300, 50);
  c.in[1] = TENS(RT_DT_I32, 2, 50, 120);
  expect_thread_invariant(&c, mm_attrs, &a, "int32 matmul");
  case_free(&c);
}
