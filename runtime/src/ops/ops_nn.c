/*
 * ops_nn.c — the nn op family: convolutions (Conv2D, _FusedConv2D, DepthwiseConv2dNative,
 * FusedDepthwiseConv2dNative, Conv2DBackpropInput), pooling (MaxPool, AvgPool) and matrix
 * products (MatMul, _FusedMatMul, BatchMatMul, BatchMatMulV2), with TF.js 4.22 CPU semantics.
 *
 * Lifecycle: prepare() turns the TF attributes into one params struct per node and rejects what
 * we cannot run. pack() (once per model, after folding) lays a constant filter or weight matrix
 * out for its kernel, in the graph pool: read-only afterwards and shared by every session, so
 * sessions never copy weights. shape() and run() derive the geometry (output size, padding)
 * from the input shapes with the same function, so run() relies only on facts shape() checked.
 * Kernels never allocate: a filter that is not a Const (or a graph that was not packed) is laid
 * out in the scratch shape() asked for; per-thread working sets (a 32 KiB im2col block, double
 * accumulators) are fixed arrays on the stack.
 *
 * Threads: run() splits its output into independent items (blocks of output pixels x groups of
 * output channels for a conv, channel blocks x rows for a depthwise conv or a pool, result rows
 * for a transposed conv, row blocks x column groups for a matmul) and hands them to k->tp; ops
 * under about a megaflop stay on the calling thread. Every output element is computed by one
 * item with the same instructions in the same order whatever the split, so results are
 * bit-identical for any number of threads.
 *
 * Speed: Conv2D is an implicit GEMM: blocks of output pixels are gathered (im2col) a depth
 * block at a time and multiplied by the filter, packed into panels of 8 output channels, with
 * an MR x 8 register-blocked micro-kernel that keeps its accumulators in registers and applies
 * bias and Relu/Relu6 before storing; a 1x1 stride-1 NHWC conv reads its input in place.
 * Depthwise conv (multiplier 1, NHWC) runs on 8-float vectors: up to 8 accumulators (pixels x
 * channel vectors) live across all taps; for 3x3 and 5x5 filters at strides 1 and 2, each
 * input column is loaded once and feeds every pixel that reads it. gcc -O2 vectorizes the rest
 * (fixed blocks of NN_NR = 8 floats with a scalar tail).
 *
 * Numerics: TF.js's conv kernels add each exact product to a float32 sum with one rounding,
 * which is a fused multiply-add; Conv2D and depthwise sum in TF.js's order (filter row, column,
 * input channel, from 0) with fmaf — depth blocks continue the same float accumulator, so
 * blocking changes nothing — and with FMA hardware give TF.js's bits (without, they agree to
 * rounding). MatMul, AvgPool and Conv2DBackpropInput sum in double in TF.js's order, also bit
 * for bit. Fused ops compute act(product + bias) as TF.js does, activations in double like JS's
 * Math functions.
 *
 * oneDNN (ORCHARD_HAVE_DNNL builds, dnnl.h): ORCHARD_KERNELS=portable|dnnl, read at pack,
 * picks the path (default: oneDNN where rt__dnnl_preferred() says its kernels match TF.js,
 * else portable). With dnnl, a convolution's first plan packs its weights for oneDNN at that
 * plan's geometry (once per model), matmuls pack at pack(), and plan() builds a primitive per
 * (session, shapes) that run() executes; nodes oneDNN cannot take keep the portable kernels.
 * oneDNN sums in its own order, so its results need not be TF.js's bits.
 *
 * Where TF.js ignores an attribute (data_format of pools and of the depthwise/transposed
 * kernels, strides read as entries 1 and 2 even for NCHW), we follow TensorFlow's definition;
 * every model we know is NHWC, where both agree.
 */
#include "../ops.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ORCHARD_HAVE_DNNL
#include "dnnl.h"
#endif

#if defined(__AVX__)
#define NN_MR 8 /* GEMM micro-tile rows: 8 accumulator registers hide the FMA latency */
#else
#define NN_MR 4 /* GEMM micro-tile rows: 8 of 16 SSE registers */
#endif
#define NN_NR 8                          /* GEMM micro-tile columns = SIMD block width */
#define NN_KC 512                        /* conv depth block (im2col columns per pass) */
#define NN_CONV_RB 16                    /* output pixels per conv item: 32 KiB im2col block */
#define NN_CONV_RB_DIRECT 64             /* the same for a 1x1 conv that reads its input in place */
#define NN_DW_CB 64                      /* channels per depthwise / pool work item */
#define NN_MM_RB 32                      /* output rows per matmul work item, at most */
#define NN_BP_VEC 8                      /* transposed conv: vectorize over >= 8 result channels */
#define NN_PAR_MIN 1.0e6                 /* flops below which an op runs on one thread */
#define NN_PAR_CHUNK 1.3e5               /* flops per chunk handed to a thread, at least */
#define NN_MM_BLOCK 48                   /* TF.js cpu backend's matmul blockSize */
#define NN_ATTR_MAX ((int64_t)1 << 30)   /* bound on strides/sizes: products stay < 2^62 */
#define NN_SCRATCH_MAX ((size_t)1 << 34) /* refuse absurd scratch requests */

#if defined(__GNUC__) && !defined(__clang__)
/* Keeps the micro-kernel's accumulators in registers (gcc otherwise spills them). */
#define NN_UNROLL _Pragma("GCC unroll 16")
#define NN_UNROLL_ALL _Pragma("GCC unroll 32")
#else
#define NN_UNROLL
#define NN_UNROLL_ALL
#endif

/* fmaf is TF.js's rounding (x * w is exact in double, the double sum is stored to a
 * Float32Array). Where the compiler's target has a fast fmaf we always use it; on x86-64 without
 * one we build the hot loops twice (plain and avx2+fma) and pick per call by CPUID; elsewhere
 * we fall back to multiply then add. */
#if defined(__GNUC__)
#define NN_INLINE static inline __attribute__((always_inline))
#define NN_NOINLINE __attribute__((noinline))
#else
#define NN_INLINE static inline
#define NN_NOINLINE
#endif
#if defined(FP_FAST_FMAF)
#define NN_PORTABLE_FUSED true
#else
#define NN_PORTABLE_FUSED false
#endif
#if defined(__GNUC__) && defined(__x86_64__) && !defined(FP_FAST_FMAF)
#define NN_FMA_CLONES 1
#define NN_FMA_TARGET __attribute__((target("avx2,fma")))
#endif

static bool nn_use_fma(void) {
#ifdef NN_FMA_CLONES
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return NN_PORTABLE_FUSED;
#endif
}

/* acc + x * w, rounded once when `fused` (a constant after inlining). */
NN_INLINE float nn_mac(bool fused, float acc, float x, float w) {
  return fused ? fmaf(x, w, acc) : acc + x * w;
}

typedef enum nn_pad { NN_PAD_SAME, NN_PAD_VALID, NN_PAD_EXPLICIT } nn_pad;

typedef enum nn_act {
  NN_ACT_NONE = 0,
  NN_ACT_RELU,
  NN_ACT_RELU6,
  NN_ACT_ELU,
  NN_ACT_SIGMOID,
  NN_ACT_TANH,
  NN_ACT_LEAKYRELU,
  NN_ACT_PRELU
} nn_act;

/* What a fused op applies after the product: act(y + bias). */
typedef struct nn_fuse {
  bool bias; /* input 2 is added, broadcast against the output */
  nn_act act;
  double alpha; /* LeakyRelu slope, as the JS number TF.js read from model.json */
  int n_args;   /* extra inputs after the two operands */
} nn_fuse;

#define NN_BIAS_INPUT 2
#define NN_PRELU_INPUT 3

typedef enum nn_kind { NN_CONV, NN_DEPTHWISE, NN_POOL, NN_BACKPROP } nn_kind;

typedef struct nn_conv_params {
  bool nchw;
  int64_t sh, sw; /* strides */
  int64_t dh, dw; /* dilations */
  int64_t kh, kw; /* pool window */
  nn_pad pad;
  int64_t pads[4]; /* EXPLICIT: top, bottom, left, right */
  nn_fuse fuse;
  /* Set by pack() when the filter is a Const: wpack is the kernel's layout of the data at
   * wsrc (NULL when the kernel reads the TF layout as it is). run() trusts wpack only when its
   * filter input is wsrc, so a graph built without pack() still runs. */
  const float *wsrc, *wpack;
  bool use_dnnl;   /* ORCHARD_KERNELS chose oneDNN (read at pack) */
  void *dnnl;      /* rt_dnnl_weights when oneDNN took this node, else NULL */
  bool dnnl_tried; /* the first plan tried to pack for oneDNN (graph->lazy_mu) */
} nn_conv_params;

typedef struct nn_mm_params {
  bool ta, tb;
  nn_fuse fuse;
  const float *wsrc, *wpack; /* as in nn_conv_params: B in panels of NN_NR columns */
  bool use_dnnl;
  void *dnnl;
} nn_mm_params;

/* ---- attributes ---- */

static bool nn_ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char ca = *a, cb = *b;
    if (ca >= 'A' && ca <= 'Z')
      ca = (char)(ca - 'A' + 'a');
    if (cb >= 'A' && cb <= 'Z')
      cb = (char)(cb - 'A' + 'a');
    if (ca != cb)
      return false;
  }
  return *a == *b;
}

static rt_status nn_attr_format(const rt_node *n, bool *nchw, rt_error *err) {
  const rt_attr *a = rt__attr_find(n, "data_format");
  *nchw = false;
  if (!a)
    return RT_OK;
  const char *f = a->kind == RT_ATTR_STRING && a->s ? a->s : "";
  if (nn_ieq(f, "NHWC"))
    return RT_OK;
  if (nn_ieq(f, "NCHW")) {
    *nchw = true;
    return RT_OK;
  }
  return rt__errorf(err, RT_ERR_UNSUPPORTED,
                    "node '%s': data_format '%s' is not supported (NHWC or NCHW)", n->name, f);
}

/* A TF spatial attribute (strides, dilations, ksize): 4 entries in data_format order, or 2 read
 * as (h, w). Absent or empty gives `def`; def < 0 means the attribute is required. */
static rt_status nn_attr_pair(const rt_node *n, const char *name, bool nchw, int64_t def,
                              int64_t *h, int64_t *w, rt_error *err) {
  const int64_t *v;
  int cnt = rt__attr_ints(n, name, &v);
  if (cnt == 0) {
    if (def < 0)
      return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s': attribute %s is missing", n->name,
                        name);
    *h = *w = def;
    return RT_OK;
  }
  if (cnt == 4) {
    *h = v[nchw ? 2 : 1];
    *w = v[nchw ? 3 : 2];
  } else if (cnt == 2) {
    *h = v[0];
    *w = v[1];
  } else {
    return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s': %s has %d entries, expected 4", n->name,
                      name, cnt);
  }
  if (*h < 1 || *w < 1 || *h > NN_ATTR_MAX || *w > NN_ATTR_MAX)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s': %s must be positive and at most 2^30 (got %lld, %lld)", n->name,
                      name, (long long)*h, (long long)*w);
  return RT_OK;
}

static rt_status nn_attr_padding(const rt_node *n, bool nchw, nn_pad *pad, int64_t pads[4],
                                 rt_error *err) {
  const char *s = rt__attr_str(n, "padding", NULL);
  memset(pads, 0, 4 * sizeof *pads);
  if (!s)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s': attribute padding is missing", n->name);
  if (nn_ieq(s, "SAME")) {
    *pad = NN_PAD_SAME;
  } else if (nn_ieq(s, "VALID")) {
    *pad = NN_PAD_VALID;
  } else if (nn_ieq(s, "EXPLICIT")) {
    *pad = NN_PAD_EXPLICIT;
    const int64_t *v;
    int cnt = rt__attr_ints(n, "explicit_paddings", &v);
    if (cnt != 8)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s': padding EXPLICIT needs 8 explicit_paddings, got %d", n->name,
                        cnt);
    int h = nchw ? 4 : 2, w = nchw ? 6 : 4;
    pads[0] = v[h];
    pads[1] = v[h + 1];
    pads[2] = v[w];
    pads[3] = v[w + 1];
    for (int i = 0; i < 4; i++)
      if (pads[i] < 0 || pads[i] > NN_ATTR_MAX)
        return rt__errorf(err, RT_ERR_INVALID_ARG,
                          "node '%s': explicit_paddings entry %lld is out of range", n->name,
                          (long long)pads[i]);
  } else {
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': padding '%s' is not supported (SAME, VALID or EXPLICIT)", n->name,
                      s);
  }
  return RT_OK;
}

/* model.json holds float attributes as short decimals ("f": 0.2) that TF.js reads as doubles,
 * while our IR keeps the float32 nearest to them. The shortest decimal that rounds to that
 * float gives the double back, so alpha * x rounds as in TF.js. */
static double nn_js_number(float f) {
  char buf[32];
  for (int prec = 1; prec <= 9; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
    double d = strtod(buf, NULL);
    if ((float)d == f)
      return d;
  }
  return (double)f;
}

static const struct {
  const char *name;
  nn_act act;
} NN_ACTS[] = {
    {"Relu", NN_ACT_RELU},       {"Relu6", NN_ACT_RELU6}, {"Elu", NN_ACT_ELU},
    {"Sigmoid", NN_ACT_SIGMOID}, {"Tanh", NN_ACT_TANH},   {"LeakyRelu", NN_ACT_LEAKYRELU},
    {"Prelu", NN_ACT_PRELU},
};

/* fused_ops as TF.js's converter reads them: [] (bare product), [BiasAdd] or
 * [BiasAdd, activation]; Prelu takes its alpha as a second extra input. */
static rt_status nn_attr_fuse(const rt_node *n, nn_fuse *f, rt_error *err) {
  memset(f, 0, sizeof *f);
  f->alpha = nn_js_number(rt__attr_float(n, "leakyrelu_alpha", 0.2f));
  const rt_attr *a = rt__attr_find(n, "fused_ops");
  int cnt = a && a->kind == RT_ATTR_LIST_STRING ? a->n : 0;
  if (cnt == 0)
    return RT_OK;
  const char *op0 = a->strs[0] ? a->strs[0] : "";
  if (nn_ieq(op0, "FusedBatchNorm"))
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': fused_ops FusedBatchNorm is not supported (nor by TF.js)",
                      n->name);
  if (!nn_ieq(op0, "BiasAdd"))
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': fused_ops must start with BiasAdd, got '%s'", n->name, op0);
  if (cnt > 2)
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': %d fused_ops; only BiasAdd and one activation are supported",
                      n->name, cnt);
  f->bias = true;
  if (cnt == 2) {
    const char *name = a->strs[1] ? a->strs[1] : "";
    for (size_t i = 0; i < sizeof NN_ACTS / sizeof NN_ACTS[0]; i++)
      if (nn_ieq(name, NN_ACTS[i].name))
        f->act = NN_ACTS[i].act;
    if (f->act == NN_ACT_NONE)
      return rt__errorf(err, RT_ERR_UNSUPPORTED,
                        "node '%s': fused activation '%s' is not supported", n->name, name);
  }
  f->n_args = f->act == NN_ACT_PRELU ? 2 : 1;
  int64_t num_args = rt__attr_int(n, "num_args", f->n_args);
  if (num_args != f->n_args)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s': num_args is %lld but its fused_ops need %d extra inputs", n->name,
                      (long long)num_args, f->n_args);
  if (n->n_inputs < 2 + f->n_args)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s': fused_ops need %d extra inputs, the node has %d", n->name,
                      f->n_args, n->n_inputs - 2);
  return RT_OK;
}

static rt_status nn_prepare_conv_like(rt_graph *g, rt_node *n, rt_error *err, nn_kind kind,
                                      bool fused) {
  nn_conv_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  rt_status st;
  if ((st = nn_attr_format(n, &p->nchw, err)) != RT_OK ||
      (st = nn_attr_pair(n, "strides", p->nchw, -1, &p->sh, &p->sw, err)) != RT_OK ||
      (st = nn_attr_padding(n, p->nchw, &p->pad, p->pads, err)) != RT_OK)
    return st;
  p->dh = p->dw = 1;
  if (kind == NN_POOL) {
    if ((st = nn_attr_pair(n, "ksize", p->nchw, -1, &p->kh, &p->kw, err)) != RT_OK)
      return st;
  } else {
    if ((st = nn_attr_pair(n, "dilations", p->nchw, 1, &p->dh, &p->dw, err)) != RT_OK)
      return st;
    if (kind == NN_BACKPROP && (p->dh != 1 || p->dw != 1))
      return rt__errorf(err, RT_ERR_UNSUPPORTED,
                        "node '%s': dilations > 1 are not supported for %s", n->name, n->op_name);
    /* TF.js asserts this for every conv it runs. */
    if ((p->sh != 1 || p->sw != 1) && (p->dh != 1 || p->dw != 1))
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s': either strides or dilations must be 1 (strides %lld,%lld, "
                        "dilations %lld,%lld)",
                        n->name, (long long)p->sh, (long long)p->sw, (long long)p->dh,
                        (long long)p->dw);
  }
  if (fused && (st = nn_attr_fuse(n, &p->fuse, err)) != RT_OK)
    return st;
  n->params = p;
  return RT_OK;
}

static rt_status nn_prepare_conv(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_prepare_conv_like(g, n, err, NN_CONV, false);
}
static rt_status nn_prepare_fused_conv(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_prepare_conv_like(g, n, err, NN_CONV, true);
}
static rt_status nn_prepare_depthwise(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_prepare_conv_like(g, n, err, NN_DEPTHWISE, false);
}
static rt_status nn_prepare_fused_depthwise(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_prepare_conv_like(g, n, err, NN_DEPTHWISE, true);
}
static rt_status nn_prepare_pool(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_prepare_conv_like(g, n, err, NN_POOL, false);
}
static rt_status nn_prepare_backprop(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_prepare_conv_like(g, n, err, NN_BACKPROP, false);
}

static rt_status nn_prepare_mm_like(rt_graph *g, rt_node *n, rt_error *err, bool fused) {
  nn_mm_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  /* MatMul names them transpose_a/b, BatchMatMul adj_x/adj_y (real data: no conjugation). */
  p->ta = rt__attr_bool(n, "transpose_a", false) || rt__attr_bool(n, "adj_x", false);
  p->tb = rt__attr_bool(n, "transpose_b", false) || rt__attr_bool(n, "adj_y", false);
  rt_status st;
  if (fused && (st = nn_attr_fuse(n, &p->fuse, err)) != RT_OK)
    return st;
  n->params = p;
  return RT_OK;
}

static rt_status nn_prepare_matmul(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_prepare_mm_like(g, n, err, false);
}
static rt_status nn_prepare_fused_matmul(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_prepare_mm_like(g, n, err, true);
}

static rt_status nn_unprepared(const rt_kctx *k) {
  return rt__errorf(k->err, RT_ERR_STATE, "node '%s': %s used before prepare", k->node->name,
                    k->node->op_name);
}

/* ---- shape helpers ---- */

static const char *nn_dims_str(const int64_t *d, int rank, char *buf, size_t cap) {
  size_t o = 0;
  buf[0] = 0;
  o += (size_t)snprintf(buf + o, cap - o, "[");
  for (int i = 0; i < rank && o < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, i ? ",%lld" : "%lld", (long long)d[i]);
  if (o < cap)
    snprintf(buf + o, cap - o, "]");
  return buf;
}

static rt_status nn_need_f32(const rt_kctx *k, int i, const char *role) {
  if (k->in[i].dtype != RT_DT_F32)
    return rt__errorf(k->err, RT_ERR_UNSUPPORTED,
                      "node '%s': %s (input %d) is %s; only float32 is supported", k->node->name,
                      role, i, rt_dtype_name(k->in[i].dtype));
  return RT_OK;
}

/* Float (or double) counts rounded up so every scratch region starts 64-byte aligned. */
static int64_t nn_align16(int64_t n) { return (n + 15) & ~(int64_t)15; }

/* TF.js conv_util.getPadAndOutInfo for one spatial axis: output size and padding before. */
static rt_status nn_axis(const rt_kctx *k, const char *axis, nn_pad pad, int64_t in, int64_t keff,
                         int64_t s, int64_t pb, int64_t pe, int64_t *out, int64_t *before) {
  int64_t o, v;
  *before = 0;
  switch (pad) {
  case NN_PAD_SAME: {
    o = (in + s - 1) / s;
    int64_t total = (o - 1) * s + keff - in;
    *before = o > 0 && total > 0 ? total / 2 : 0;
    break;
  }
  case NN_PAD_VALID: /* ceil((in - keff + 1) / s) */
    v = in - keff + 1;
    o = v > 0 ? (v + s - 1) / s : -((-v) / s);
    break;
  default: /* trunc((in - keff + pb + pe) / s + 1) */
    *before = pb;
    v = in - keff + pb + pe;
    o = v >= 0 ? v / s + 1 : (-v <= s ? 0 : 1 - (-v) / s);
    break;
  }
  if (o < 0)
    return rt__errorf(k->err, RT_ERR_SHAPE,
                      "node '%s': window of %lld does not fit the input %s of %lld", k->node->name,
                      (long long)keff, axis, (long long)in);
  *out = o;
  return RT_OK;
}

/* Geometry of a 2-D window op. For convs x is k->in[0] and the filter k->in[1]; for
 * Conv2DBackpropInput "input" is the result (dx, shape from output_shape) and "output" dy. */
typedef struct nn_geom {
  int rank; /* 3: no batch dimension (output keeps rank 3) */
  bool nchw;
  int64_t n, ih, iw, ic; /* input */
  int64_t oh, ow, oc;    /* output */
  int64_t kh, kw, sh, sw, dh, dw;
  int64_t pt, pl; /* padding before rows / columns */
  int64_t mult;   /* depthwise channel multiplier */
} nn_geom;

/* x_dims: the input's dims (rank 3 or 4). Validates ranks, channels and sizes. */
static rt_status nn_geometry(const rt_kctx *k, const nn_conv_params *p, nn_kind kind,
                             const int64_t *xd, int xrank, nn_geom *g) {
  const char *name = k->node->name;
  memset(g, 0, sizeof *g);
  if (xrank != 3 && xrank != 4)
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': input must have rank 4 (or 3), got %d",
                      name, xrank);
  int64_t d[4] = {1, 0, 0, 0}; /* rank 3 reads as batch 1 */
  for (int i = 0; i < xrank; i++)
    d[i + 4 - xrank] = xd[i];
  int64_t numel;
  if (!rt__checked_numel(d, 4, &numel))
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': input has too many elements", name);
  g->rank = xrank;
  g->nchw = p->nchw;
  g->n = d[0];
  if (p->nchw) {
    g->ic = d[1], g->ih = d[2], g->iw = d[3];
  } else {
    g->ih = d[1], g->iw = d[2], g->ic = d[3];
  }
  g->sh = p->sh, g->sw = p->sw, g->dh = p->dh, g->dw = p->dw;
  g->mult = 1;
  if (kind == NN_POOL) {
    g->kh = p->kh, g->kw = p->kw, g->oc = g->ic;
  } else {
    const rt_tensor *f = &k->in[1];
    char b1[96];
    if (f->rank != 4 || !rt__checked_numel(f->dims, 4, &numel))
      return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': filter must have rank 4, got %s", name,
                        nn_dims_str(f->dims, f->rank, b1, sizeof b1));
    g->kh = f->dims[0], g->kw = f->dims[1];
    if (f->dims[2] != g->ic)
      return rt__errorf(k->err, RT_ERR_SHAPE,
                        "node '%s': filter %s expects %lld input channels, the input has %lld",
                        name, nn_dims_str(f->dims, 4, b1, sizeof b1), (long long)f->dims[2],
                        (long long)g->ic);
    if (kind == NN_DEPTHWISE) {
      g->mult = f->dims[3];
      if (g->mult && g->ic > INT32_MAX / g->mult)
        return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': too many output channels", name);
      g->oc = g->ic * g->mult;
    } else {
      g->oc = f->dims[3];
    }
  }
  if (g->kh < 1 || g->kw < 1)
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': empty window (%lld x %lld)", name,
                      (long long)g->kh, (long long)g->kw);
  if (g->kh > NN_ATTR_MAX || g->kw > NN_ATTR_MAX)
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': window too large", name);
  int64_t kh_eff = (g->kh - 1) * g->dh + 1, kw_eff = (g->kw - 1) * g->dw + 1;
  rt_status st;
  if ((st = nn_axis(k, "height", p->pad, g->ih, kh_eff, g->sh, p->pads[0], p->pads[1], &g->oh,
                    &g->pt)) != RT_OK ||
      (st = nn_axis(k, "width", p->pad, g->iw, kw_eff, g->sw, p->pads[2], p->pads[3], &g->ow,
                    &g->pl)) != RT_OK)
    return st;
  return RT_OK;
}

/* Physical dims of a window op's output (4-D; out_rank drops the batch when 3). */
static void nn_out_dims(const nn_geom *g, int64_t h, int64_t w, int64_t c, int64_t *od) {
  od[0] = g->n;
  if (g->nchw)
    od[1] = c, od[2] = h, od[3] = w;
  else
    od[1] = h, od[2] = w, od[3] = c;
}

static rt_status nn_set_out(rt_kctx *k, int rank, const int64_t *dims) {
  int64_t numel;
  if (!rt__checked_numel(dims, rank, &numel))
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': output has too many elements",
                      k->node->name);
  rt__set_shape(&k->out[0], RT_DT_F32, rank, dims);
  return RT_OK;
}

/* ---- fused epilogue: bias and activation operands broadcast against the output ---- */

/* An operand (bias, PReLU alpha) seen from the output as rows of channels: each output
 * "pixel" (every index but the channel axis) has a base offset, and channels step `inner`. */
typedef struct nn_operand {
  const float *data;
  int n_outer;
  int64_t dims[RT_MAX_RANK];    /* output dims of the outer axes, outermost first */
  int64_t strides[RT_MAX_RANK]; /* operand strides along them (0: broadcast) */
  int64_t inner;
  bool flat; /* the same row for every pixel */
} nn_operand;

/* od/orank: the output's physical dims; ca: its channel axis. `chan_vec`: a 1-D operand of
 * length != 1 belongs to the channel axis (TF.js reshapes it to [C,1,1] for NCHW). */
static rt_status nn_operand_make(const rt_kctx *k, int input, const char *role, const int64_t *od,
                                 int orank, int ca, bool chan_vec, nn_operand *o) {
  const rt_tensor *t = &k->in[input];
  rt_status st;
  if ((st = nn_need_f32(k, input, role)) != RT_OK)
    return st;
  int64_t td[RT_MAX_RANK];
  int tr = t->rank;
  for (int i = 0; i < tr; i++)
    td[i] = t->dims[i];
  if (chan_vec && tr == 1 && td[0] != 1 && ca < orank - 1) {
    tr = orank - ca;
    for (int i = 1; i < tr; i++)
      td[i] = 1;
  }
  char b1[96], b2[96];
  if (tr > orank)
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': %s %s has more dims than the output %s",
                      k->node->name, role, nn_dims_str(t->dims, t->rank, b1, sizeof b1),
                      nn_dims_str(od, orank, b2, sizeof b2));
  int64_t ts[RT_MAX_RANK] = {0}, phys[RT_MAX_RANK] = {0};
  for (int i = tr - 1; i >= 0; i--)
    ts[i] = rt__dims_prod(td, i + 1, tr); /* an operand with a 0 dim may have huge ones */
  for (int a = 0; a < orank; a++) {
    int ti = a - (orank - tr);
    if (ti < 0 || td[ti] == 1)
      phys[a] = 0;
    else if (td[ti] == od[a])
      phys[a] = ts[ti];
    else
      return rt__errorf(k->err, RT_ERR_SHAPE,
                        "node '%s': %s %s does not broadcast to the output %s", k->node->name, role,
                        nn_dims_str(t->dims, t->rank, b1, sizeof b1),
                        nn_dims_str(od, orank, b2, sizeof b2));
  }
  memset(o, 0, sizeof *o);
  o->data = t->data;
  o->inner = phys[ca];
  o->flat = true;
  for (int a = 0; a < orank; a++) {
    if (a == ca)
      continue;
    o->dims[o->n_outer] = od[a];
    o->strides[o->n_outer] = phys[a];
    if (phys[a])
      o->flat = false;
    o->n_outer++;
  }
  return RT_OK;
}

static int64_t nn_operand_base(const nn_operand *o, int64_t p) {
  if (o->flat)
    return 0;
  int64_t off = 0;
  for (int i = o->n_outer - 1; i >= 0; i--) {
    int64_t d = o->dims[i];
    off += (p % d) * o->strides[i];
    p /= d;
  }
  return off;
}

/* The fused operands of a node, checked (shape) or bound to data (run). */
typedef struct nn_fused_ops {
  nn_operand bias, alpha;
} nn_fused_ops;

static rt_status nn_fused_make(const rt_kctx *k, const nn_fuse *f, const int64_t *od, int orank,
                               int ca, bool nchw, nn_fused_ops *fo) {
  rt_status st;
  memset(fo, 0, sizeof *fo);
  if (k->n_in < 2 + f->n_args)
    return rt__errorf(k->err, RT_ERR_INVALID_ARG, "node '%s': fused_ops need %d extra inputs",
                      k->node->name, f->n_args);
  if (f->bias) {
    /* TF.js allows only a scalar or per-channel bias with NCHW. */
    if (nchw && k->in[NN_BIAS_INPUT].rank > 1)
      return rt__errorf(k->err, RT_ERR_SHAPE,
                        "node '%s': NCHW bias must be a scalar or 1-D, got rank %d", k->node->name,
                        k->in[NN_BIAS_INPUT].rank);
    if ((st = nn_operand_make(k, NN_BIAS_INPUT, "bias", od, orank, ca, nchw, &fo->bias)) != RT_OK)
      return st;
  }
  if (f->act == NN_ACT_PRELU && (st = nn_operand_make(k, NN_PRELU_INPUT, "prelu alpha", od, orank,
                                                      ca, nchw, &fo->alpha)) != RT_OK)
    return st;
  return RT_OK;
}

/* Elementwise row helpers: fixed blocks of NN_NR so gcc -O2 vectorizes them. */
static void nn_row_add(float *restrict y, const float *restrict b, int64_t n) {
  int64_t i = 0;
  for (; i + NN_NR <= n; i += NN_NR)
    for (int j = 0; j < NN_NR; j++)
      y[i + j] += b[i + j];
  for (; i < n; i++)
    y[i] += b[i];
}

static void nn_row_add_scalar(float *restrict y, float b, int64_t n) {
  int64_t i = 0;
  for (; i + NN_NR <= n; i += NN_NR)
    for (int j = 0; j < NN_NR; j++)
      y[i + j] += b;
  for (; i < n; i++)
    y[i] += b;
}

/* JS Math.max(0, x): NaN stays NaN and -0 becomes +0. */
static inline float nn_relu(float x) { return x <= 0.0f ? 0.0f : x; }
static inline float nn_relu6(float x) { return x <= 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x); }

static void nn_row_relu(float *restrict y, int64_t n) {
  int64_t i = 0;
  for (; i + NN_NR <= n; i += NN_NR)
    for (int j = 0; j < NN_NR; j++)
      y[i + j] = nn_relu(y[i + j]);
  for (; i < n; i++)
    y[i] = nn_relu(y[i]);
}

static void nn_row_relu6(float *restrict y, int64_t n) {
  int64_t i = 0;
  for (; i + NN_NR <= n; i += NN_NR)
    for (int j = 0; j < NN_NR; j++)
      y[i + j] = nn_relu6(y[i + j]);
  for (; i < n; i++)
    y[i] = nn_relu6(y[i]);
}

/* One activation value, as TF.js's CPU kernels compute it (double math, float32 store). */
static inline float nn_act1(nn_act act, float x, double alpha) {
  switch (act) {
  case NN_ACT_RELU: return nn_relu(x);
  case NN_ACT_RELU6: return nn_relu6(x);
  case NN_ACT_ELU: return x >= 0.0f ? x : (float)(exp((double)x) - 1.0);
  case NN_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-(double)x)));
  case NN_ACT_TANH: return (float)tanh((double)x);
  case NN_ACT_LEAKYRELU:
  case NN_ACT_PRELU: return x < 0.0f ? (float)(alpha * (double)x) : x;
  default: return x;
  }
}

/* Applies act(y + bias) to np pixel rows starting at logical pixel p0, channels c0..c0+nc of
 * the output; row r starts at y + r * ldy and its channels step cs. */
static void nn_epilogue(const nn_fuse *f, const nn_fused_ops *fo, float *y, int64_t ldy, int64_t cs,
                        int64_t p0, int64_t np, int64_t c0, int64_t nc) {
  if (!f->bias && f->act == NN_ACT_NONE)
    return;
  for (int64_t r = 0; r < np; r++) {
    float *row = y + r * ldy;
    if (f->bias) {
      const nn_operand *b = &fo->bias;
      const float *bp = b->data + nn_operand_base(b, p0 + r) + c0 * b->inner;
      if (cs == 1 && b->inner == 1)
        nn_row_add(row, bp, nc);
      else if (cs == 1 && b->inner == 0)
        nn_row_add_scalar(row, bp[0], nc);
      else
        for (int64_t c = 0; c < nc; c++)
          row[c * cs] += bp[c * b->inner];
    }
    switch (f->act) {
    case NN_ACT_NONE: break;
    case NN_ACT_RELU:
      if (cs == 1) {
        nn_row_relu(row, nc);
        break;
      }
      for (int64_t c = 0; c < nc; c++)
        row[c * cs] = nn_relu(row[c * cs]);
      break;
    case NN_ACT_RELU6:
      if (cs == 1) {
        nn_row_relu6(row, nc);
        break;
      }
      for (int64_t c = 0; c < nc; c++)
        row[c * cs] = nn_relu6(row[c * cs]);
      break;
    case NN_ACT_PRELU: {
      const nn_operand *a = &fo->alpha;
      const float *ap = a->data + nn_operand_base(a, p0 + r) + c0 * a->inner;
      for (int64_t c = 0; c < nc; c++)
        row[c * cs] = nn_act1(NN_ACT_PRELU, row[c * cs], ap[c * a->inner]);
      break;
    }
    default:
      for (int64_t c = 0; c < nc; c++)
        row[c * cs] = nn_act1(f->act, row[c * cs], f->alpha);
      break;
    }
  }
}

/* The epilogues a kernel applies to values still in registers: a bias that is the same for
 * every pixel (per channel or scalar) and Relu/Relu6. Anything else runs nn_epilogue after. */
typedef struct nn_simple_epi {
  bool ok;   /* the whole epilogue is simple */
  bool bias; /* add bias (data + c * inner) */
  const float *bias_data;
  int64_t bias_inner;
  nn_act act; /* NONE, RELU or RELU6 */
} nn_simple_epi;

static nn_simple_epi nn_simple_make(const nn_fuse *f, const nn_fused_ops *fo) {
  nn_simple_epi s = {0};
  s.ok = (!f->bias || fo->bias.flat) &&
         (f->act == NN_ACT_NONE || f->act == NN_ACT_RELU || f->act == NN_ACT_RELU6);
  if (!s.ok)
    return s;
  s.bias = f->bias;
  s.bias_data = fo->bias.data;
  s.bias_inner = fo->bias.inner;
  s.act = f->act;
  return s;
}

/* The bias of channels c0..c0+n (n <= NN_NR) into bv, zeros after. */
static void nn_simple_bias(const nn_simple_epi *s, int64_t c0, int64_t n, float *bv) {
  for (int j = 0; j < NN_NR; j++)
    bv[j] = j < n ? s->bias_data[(c0 + j) * s->bias_inner] : 0.0f;
}

NN_INLINE float nn_simple_act(nn_act act, float v) {
  return act == NN_ACT_RELU ? nn_relu(v) : act == NN_ACT_RELU6 ? nn_relu6(v) : v;
}

/* ---- threads and packed weights ---- */

/* Grain for rt__parallel_for over n items of `per_item` flops: waking the pool costs about as
 * much as a few hundred thousand flops, so small ops stay on the calling thread (grain = n)
 * and a chunk is worth a thread. */
static int64_t nn_grain(int64_t n, double per_item) {
  if (per_item < 1.0)
    per_item = 1.0;
  if ((double)n * per_item < NN_PAR_MIN)
    return n > 1 ? n : 1;
  int64_t g = (int64_t)(NN_PAR_CHUNK / per_item) + 1;
  return g < 1 ? 1 : g;
}

/* Rows per item: `max` when there are enough items for the pool, else fewer (a multiple of
 * `unit`) so every thread gets some. Results do not depend on it. */
static int64_t nn_rows_per_item(const rt_kctx *k, int64_t rows, int64_t max, int64_t unit) {
  int64_t t = rt__threadpool_size(k->tp);
  if (t <= 1 || rows >= max * 4 * t)
    return max;
  int64_t r = (rows + 4 * t - 1) / (4 * t);
  r = (r + unit - 1) / unit * unit;
  return r < unit ? unit : r > max ? max : r;
}

/* ORCHARD_KERNELS=portable|dnnl, read when a model is packed. */
static rt_status nn_kernels_env(const rt_node *n, bool *dnnl, rt_error *err) {
  const char *e = getenv("ORCHARD_KERNELS");
#ifdef ORCHARD_HAVE_DNNL
  /* oneDNN ran 1.2-2x faster than the portable kernels on every garden model and matched TF.js
   * within the conformance tolerance where its kernels sum in TF.js's order (AVX-512). */
  *dnnl = rt__dnnl_preferred();
#else
  *dnnl = false;
#endif
  if (!e || !*e)
    return RT_OK;
  if (!strcmp(e, "portable"))
    *dnnl = false;
  else if (!strcmp(e, "dnnl"))
    *dnnl = true; /* without oneDNN in the build every node keeps the portable kernels */
  else
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s': environment variable ORCHARD_KERNELS is '%s'; expected "
                      "'portable' or 'dnnl'",
                      n->name, e);
  return RT_OK;
}

/* The value of the Const that feeds input i of n after folding, or NULL. */
static const rt_tensor *nn_const_input(const rt_graph *g, const rt_node *n, int i) {
  if (i >= n->n_inputs || n->inputs[i].index != 0)
    return NULL;
  int src = n->inputs[i].node;
  if (src < 0 || src >= g->n_nodes)
    return NULL;
  const rt_node *c = &g->nodes[src];
  if (!c->op_name || strcmp(c->op_name, "Const") || !c->value.data)
    return NULL;
  return &c->value;
}

/* A float32 constant of the given rank whose size the kernels can hold, else false. */
static bool nn_packable(const rt_tensor *w, int rank) {
  int64_t numel;
  return w && w->dtype == RT_DT_F32 && w->rank == rank &&
         rt__checked_numel(w->dims, rank, &numel) && numel > 0 &&
         (double)numel * 2 * sizeof(float) < (double)NN_SCRATCH_MAX;
}

static float *nn_pack_alloc(rt_graph *g, const rt_node *n, int64_t floats, rt_error *err) {
  size_t bytes = (size_t)floats * sizeof(float);
  float *p = rt__pool_alloc(g->pool, bytes);
  if (p)
    g->packed_bytes += bytes;
  else
    rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory packing its weights", n->name);
  return p;
}

/* ---- GEMM micro-kernel: C = A * B, B packed into panels of NN_NR columns ---- */

/* Packs the K x N row-major matrix b (leading dim ldb) into ceil(N/8) panels of K x 8, the
 * last one zero-padded, so the micro-kernel streams it contiguously. */
static void nn_pack_b(int64_t K, int64_t N, const float *b, int64_t ldb, float *bp) {
  for (int64_t j0 = 0; j0 < N; j0 += NN_NR) {
    float *dst = bp + (j0 / NN_NR) * K * NN_NR;
    int64_t nr = N - j0 < NN_NR ? N - j0 : NN_NR;
    for (int64_t kk = 0; kk < K; kk++) {
      const float *src = b + kk * ldb + j0;
      float *d = dst + kk * NN_NR;
      if (nr == NN_NR) {
        for (int j = 0; j < NN_NR; j++)
          d[j] = src[j];
      } else {
        for (int j = 0; j < NN_NR; j++)
          d[j] = j < nr ? src[j] : 0.0f;
      }
    }
  }
}

/* The same panels from b given transposed (N x K row-major). */
static void nn_pack_bt(int64_t K, int64_t N, const float *b, float *bp) {
  for (int64_t j0 = 0; j0 < N; j0 += NN_NR) {
    float *dst = bp + (j0 / NN_NR) * K * NN_NR;
    for (int j = 0; j < NN_NR; j++)
      for (int64_t kk = 0; kk < K; kk++)
        dst[kk * NN_NR + j] = j0 + j < N ? b[(j0 + j) * K + kk] : 0.0f;
  }
}

/* Rows cr[0..MR) of an MR x 8 tile of C become act(c + bv) where c starts from cr (when
 * `load`, else 0) plus rows ar[0..MR) (kc long) times the kc x 8 panel b, summed over k in
 * order. Continuing from cr is what makes depth blocks exact. The result goes straight from
 * registers to cr (the output, or a staging tile for edges). */
NN_INLINE void nn_ukernel_impl(bool fused, bool load, int64_t kc, const float *const *ar,
                               const float *restrict b, float *const *cr, const float *bv,
                               nn_act act) {
  float c[NN_MR][NN_NR];
  for (int r = 0; r < NN_MR; r++)
    for (int j = 0; j < NN_NR; j++)
      c[r][j] = load ? cr[r][j] : 0.0f;
  for (int64_t kk = 0; kk < kc; kk++) {
    const float *restrict bk = b + kk * NN_NR;
    NN_UNROLL
    for (int r = 0; r < NN_MR; r++) {
      float v = ar[r][kk];
      NN_UNROLL
      for (int j = 0; j < NN_NR; j++)
        c[r][j] = nn_mac(fused, c[r][j], v, bk[j]);
    }
  }
  if (bv)
    for (int r = 0; r < NN_MR; r++)
      for (int j = 0; j < NN_NR; j++)
        c[r][j] += bv[j];
  if (act != NN_ACT_NONE)
    for (int r = 0; r < NN_MR; r++)
      for (int j = 0; j < NN_NR; j++)
        c[r][j] = nn_simple_act(act, c[r][j]);
  for (int r = 0; r < NN_MR; r++) {
    float *restrict d = cr[r];
    for (int j = 0; j < NN_NR; j++)
      d[j] = c[r][j];
  }
}

/* Out of line so that the accumulators get registers of their own; `load` is a constant in
 * each so that they stay there. */
#define NN_UKERNEL_DEF(nm, attr, fused, load)                                                      \
  attr static NN_NOINLINE void nm(int64_t kc, const float *const *ar, const float *b,              \
                                  float *const *cr, const float *bv, nn_act act) {                 \
    nn_ukernel_impl(fused, load, kc, ar, b, cr, bv, act);                                          \
  }
NN_UKERNEL_DEF(nn_ukernel_portable, , NN_PORTABLE_FUSED, false)
NN_UKERNEL_DEF(nn_ukernel_portable_acc, , NN_PORTABLE_FUSED, true)
#ifdef NN_FMA_CLONES
NN_UKERNEL_DEF(nn_ukernel_fma, NN_FMA_TARGET, true, false)
NN_UKERNEL_DEF(nn_ukernel_fma_acc, NN_FMA_TARGET, true, true)
#endif

static void nn_ukernel(bool fma, bool load, int64_t kc, const float *const *ar, const float *b,
                       float *const *cr, const float *bv, nn_act act) {
#ifdef NN_FMA_CLONES
  if (fma) {
    (load ? nn_ukernel_fma_acc : nn_ukernel_fma)(kc, ar, b, cr, bv, act);
    return;
  }
#endif
  (void)fma;
  (load ? nn_ukernel_portable_acc : nn_ukernel_portable)(kc, ar, b, cr, bv, act);
}

/* ---- Conv2D / _FusedConv2D ---- */

typedef struct nn_conv_plan {
  int64_t K, P;
  bool direct;  /* 1x1, stride 1, no padding, NHWC: the input is the A matrix */
  bool packed;  /* the filter was packed at load */
  size_t bytes; /* scratch: the filter panels when not packed */
} nn_conv_plan;

/* The packed filter when the node's filter input is the Const it was made from. */
static const float *nn_conv_packed(const rt_kctx *k) {
  const nn_conv_params *p = k->params;
  return p && p->wpack && k->in[1].data && k->in[1].data == p->wsrc ? p->wpack : NULL;
}

static rt_status nn_conv_plan_make(const rt_kctx *k, const nn_geom *g, nn_conv_plan *pl) {
  memset(pl, 0, sizeof *pl);
  pl->K = g->kh * g->kw * g->ic;
  /* An empty output may still have huge dims (n = 0, oh = 2^40): no plain product. */
  const int64_t pdims[3] = {g->n, g->oh, g->ow};
  pl->P = g->oc ? rt__dims_prod(pdims, 0, 3) : 0;
  pl->direct = !g->nchw && g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 &&
               g->pl == 0 && g->oh == g->ih && g->ow == g->iw;
  /* Sizes are bounded (dims < 2^31, windows < 2^30) but K * OC can still be huge. */
  double bp = (double)nn_align16((g->oc + NN_NR - 1) / NN_NR * NN_NR * pl->K);
  if (bp * sizeof(float) > (double)NN_SCRATCH_MAX)
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': convolution too large (filter %lld x %lld)",
                      k->node->name, (long long)pl->K, (long long)g->oc);
  pl->packed = nn_conv_packed(k) != NULL;
  if (pl->P == 0 || g->oc == 0 || pl->packed) /* nothing to compute, or nothing to pack */
    return RT_OK;
  pl->bytes = (size_t)bp * sizeof(float);
  if (pl->bytes < 64) /* no input channels: keep the scratch pointer non-NULL */
    pl->bytes = 64;
  return RT_OK;
}

static rt_status nn_conv_common(rt_kctx *k, nn_kind kind, nn_geom *g, nn_fused_ops *fo) {
  const nn_conv_params *p = k->params;
  if (!p)
    return nn_unprepared(k);
  rt_status st;
  if ((st = nn_need_f32(k, 0, "input")) != RT_OK || (st = nn_need_f32(k, 1, "filter")) != RT_OK)
    return st;
  if ((st = nn_geometry(k, p, kind, k->in[0].dims, k->in[0].rank, g)) != RT_OK)
    return st;
  int64_t od[4];
  nn_out_dims(g, g->oh, g->ow, g->oc, od);
  if ((st = nn_fused_make(k, &p->fuse, od, 4, g->nchw ? 1 : 3, g->nchw, fo)) != RT_OK)
    return st;
  return nn_set_out(k, g->rank, g->rank == 4 ? od : od + 1);
}

static rt_status nn_conv_shape(rt_kctx *k) {
  nn_geom g;
  nn_fused_ops fo;
  nn_conv_plan pl;
  rt_status st;
  if ((st = nn_conv_common(k, NN_CONV, &g, &fo)) != RT_OK ||
      (st = nn_conv_plan_make(k, &g, &pl)) != RT_OK)
    return st;
  k->scratch_bytes = pl.bytes;
  return RT_OK;
}

/* Gathers columns k0..k0+kc of the receptive-field rows of output pixels p0..p0+np (a row is
 * K = kh*kw*ic floats in filter order; zeros where the window hangs over the padding) into a,
 * kc floats per row. */
static void nn_im2col(const nn_geom *g, const float *x, int64_t p0, int64_t np, int64_t k0,
                      int64_t kc, float *a) {
  int64_t ic = g->ic;
  int64_t xs_n = g->ih * g->iw * ic, xs_h, xs_w, xs_c;
  if (g->nchw)
    xs_c = g->ih * g->iw, xs_h = g->iw, xs_w = 1;
  else
    xs_c = 1, xs_h = g->iw * ic, xs_w = ic;
  if (kc == 0) /* no input channels */
    return;
  int64_t ohw = g->oh * g->ow, k1 = k0 + kc;
  int64_t tap0 = k0 / ic, c0 = k0 - tap0 * ic, kr0 = tap0 / g->kw, kq0 = tap0 - kr0 * g->kw;
  for (int64_t r = 0; r < np; r++) {
    int64_t p = p0 + r, b = p / ohw, rem = p % ohw, oy = rem / g->ow, ox = rem % g->ow;
    float *row = a + r * kc;
    const float *xb = x + b * xs_n;
    int64_t c = c0, kr = kr0, kq = kq0;
    for (int64_t kk = k0; kk < k1;) {
      int64_t n = ic - c < k1 - kk ? ic - c : k1 - kk;
      int64_t iy = oy * g->sh - g->pt + kr * g->dh, ix = ox * g->sw - g->pl + kq * g->dw;
      float *dst = row + (kk - k0);
      if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) {
        for (int64_t q = 0; q < n; q++)
          dst[q] = 0.0f;
      } else {
        const float *src = xb + iy * xs_h + ix * xs_w + c * xs_c;
        if (xs_c != 1)
          for (int64_t q = 0; q < n; q++)
            dst[q] = src[q * xs_c];
        else if (n <= 4) /* the 3-channel first layer: not worth a memcpy call */
          for (int64_t q = 0; q < n; q++)
            dst[q] = src[q];
        else
          memcpy(dst, src, (size_t)n * sizeof *dst);
      }
      kk += n, c = 0;
      if (++kq == g->kw)
        kq = 0, kr++;
    }
  }
}

typedef struct nn_conv_job {
  const nn_geom *g;
  const float *x, *bp;
  float *y;
  int64_t K, P, rb; /* depth, output pixels, pixels per item */
  int64_t npg, pgc; /* output channels split in npg groups of pgc (a multiple of 8) */
  bool direct, fma;
  const nn_fuse *f;
  const nn_fused_ops *fo;
  nn_simple_epi se;
} nn_conv_job;

/* Edge tiles (fewer than 8 channels, or NCHW) are staged in t: rows start at y + base[r] and
 * their columns step cs (1 for NHWC, oh*ow for NCHW). */
static void nn_tile_load(const float *y, const int64_t *base, int64_t cs, int64_t j0, int64_t mr,
                         int64_t nr, float *t) {
  for (int r = 0; r < NN_MR; r++)
    for (int j = 0; j < NN_NR; j++)
      t[r * NN_NR + j] = r < mr && j < nr ? y[base[r] + (j0 + j) * cs] : 0.0f;
}

static void nn_tile_store(float *y, const int64_t *base, int64_t cs, int64_t j0, int64_t mr,
                          int64_t nr, const float *t) {
  for (int64_t r = 0; r < mr; r++)
    for (int64_t j = 0; j < nr; j++)
      y[base[r] + (j0 + j) * cs] = t[r * NN_NR + j];
}

/* Items are (block of J->rb output pixels, group of output channels); each runs its panels
 * over every depth block. */
static void nn_conv_items(void *ctx, int64_t i0, int64_t i1) {
  const nn_conv_job *J = ctx;
  const nn_geom *g = J->g;
  float abuf[NN_CONV_RB * NN_KC];
  float t[NN_MR * NN_NR], junk[NN_MR * NN_NR] = {0}; /* staging; sink of missing rows */
  int64_t oc = g->oc, ohw = g->oh * g->ow, K = J->K;
  int64_t cs = g->nchw ? ohw : 1;
  for (int64_t it = i0; it < i1; it++) {
    int64_t p0 = (it / J->npg) * J->rb, np = J->P - p0 < J->rb ? J->P - p0 : J->rb;
    int64_t gc0 = (it % J->npg) * J->pgc, gc1 = oc - gc0 < J->pgc ? oc : gc0 + J->pgc;
    int64_t k0 = 0;
    do {
      int64_t kc = K - k0 < NN_KC ? K - k0 : NN_KC;
      bool first = k0 == 0, last = k0 + kc >= K;
      const float *a = abuf;
      int64_t lda = kc;
      if (J->direct) {
        a = J->x + p0 * g->ic + k0;
        lda = g->ic;
      } else {
        nn_im2col(g, J->x, p0, np, k0, kc, abuf);
      }
      /* Row pointers and output offsets of the item's micro-tiles, once per depth block. */
      const float *ar[NN_CONV_RB_DIRECT / NN_MR][NN_MR];
      int64_t base[NN_CONV_RB_DIRECT / NN_MR][NN_MR], mrs[NN_CONV_RB_DIRECT / NN_MR];
      int nmb = (int)((np + NN_MR - 1) / NN_MR);
      for (int mb = 0; mb < nmb; mb++) {
        int64_t i = mb * NN_MR, mr = np - i < NN_MR ? np - i : NN_MR;
        mrs[mb] = mr;
        for (int r = 0; r < NN_MR; r++) { /* missing rows repeat row 0; results dropped */
          int64_t ri = i + (r < mr ? r : 0), p = p0 + ri;
          ar[mb][r] = a + ri * lda;
          base[mb][r] = g->nchw ? (p / ohw) * oc * ohw + p % ohw : p * oc;
        }
      }
      for (int64_t j0 = gc0; j0 < gc1; j0 += NN_NR) {
        int64_t nr = oc - j0 < NN_NR ? oc - j0 : NN_NR;
        const float *panel = J->bp + (j0 / NN_NR) * K * NN_NR + k0 * NN_NR;
        float bv[NN_NR];
        bool add_bias = last && J->se.ok && J->se.bias;
        if (add_bias)
          nn_simple_bias(&J->se, j0, nr, bv);
        nn_act act = last && J->se.ok ? J->se.act : NN_ACT_NONE;
        bool staged = g->nchw || nr < NN_NR;
        for (int mb = 0; mb < nmb; mb++) {
          int64_t mr = mrs[mb];
          float *cr[NN_MR];
          for (int r = 0; r < NN_MR; r++)
            cr[r] = staged ? t + r * NN_NR : r < mr ? J->y + base[mb][r] + j0 : junk + r * NN_NR;
          if (staged && !first)
            nn_tile_load(J->y, base[mb], cs, j0, mr, nr, t);
          else if (mr < NN_MR && !first)
            memset(junk, 0, sizeof junk);
          nn_ukernel(J->fma, !first, kc, ar[mb], panel, cr, add_bias ? bv : NULL, act);
          if (staged)
            nn_tile_store(J->y, base[mb], cs, j0, mr, nr, t);
        }
      }
      k0 += kc;
    } while (k0 < K);
    if (J->se.ok)
      continue;
    if (!g->nchw) {
      nn_epilogue(J->f, J->fo, J->y + p0 * oc + gc0, oc, 1, p0, np, gc0, gc1 - gc0);
      continue;
    }
    for (int64_t pa = p0; pa < p0 + np;) { /* NCHW rows are contiguous within one image */
      int64_t b = pa / ohw, pe = (b + 1) * ohw < p0 + np ? (b + 1) * ohw : p0 + np;
      nn_epilogue(J->f, J->fo, J->y + b * oc * ohw + pa % ohw + gc0 * ohw, 1, ohw, pa, pe - pa, gc0,
                  gc1 - gc0);
      pa = pe;
    }
  }
}

static rt_status nn_conv_run(rt_kctx *k) {
  nn_geom g;
  nn_fused_ops fo;
  nn_conv_plan pl;
  rt_status st;
  if ((st = nn_conv_common(k, NN_CONV, &g, &fo)) != RT_OK ||
      (st = nn_conv_plan_make(k, &g, &pl)) != RT_OK)
    return st;
  if (rt_tensor_numel(&k->out[0]) == 0) /* before any product of dims that may be huge */
    return RT_OK;
#ifdef ORCHARD_HAVE_DNNL
  if (k->state)
    return rt__dnnl_conv_run(k->state, k->in[0].data, k->out[0].data, k->scratch, k->err);
#endif
  if (pl.P == 0 || g.oc == 0)
    return RT_OK;
  const nn_conv_params *p = k->params;
  const float *bp = nn_conv_packed(k);
  if (!bp) {
    if (k->scratch_bytes < pl.bytes || !k->scratch)
      return rt__errorf(k->err, RT_ERR_INTERNAL, "node '%s': scratch too small", k->node->name);
    /* The HWIO filter is already the K x OC matrix B. */
    nn_pack_b(pl.K, g.oc, k->in[1].data, g.oc, k->scratch);
    bp = k->scratch;
  }
  nn_conv_job J = {.g = &g,
                   .x = k->in[0].data,
                   .bp = bp,
                   .y = k->out[0].data,
                   .K = pl.K,
                   .P = pl.P,
                   .direct = pl.direct,
                   .fma = nn_use_fma(),
                   .f = &p->fuse,
                   .fo = &fo,
                   .se = nn_simple_make(&p->fuse, &fo)};
  J.rb = nn_rows_per_item(k, pl.P, pl.direct ? NN_CONV_RB_DIRECT : NN_CONV_RB, NN_MR);
  int64_t row_items = (pl.P + J.rb - 1) / J.rb, panels = (g.oc + NN_NR - 1) / NN_NR;
  /* Few pixels (late layers, 1x1 images): split the output channels too. An im2col block is
   * then gathered once per group, which is cheap next to the product at these sizes. */
  int64_t want = 4 * (int64_t)rt__threadpool_size(k->tp);
  J.npg = row_items >= want ? 1 : (want + row_items - 1) / row_items;
  J.npg = J.npg < panels ? J.npg : panels;
  J.pgc = (panels + J.npg - 1) / J.npg * NN_NR;
  J.npg = (g.oc + J.pgc - 1) / J.pgc;
  int64_t items = row_items * J.npg;
  double per_item = 2.0 * (double)J.rb * (double)(pl.K + 1) * (double)J.pgc;
  rt__parallel_for(k->tp, items, nn_grain(items, per_item), nn_conv_items, &J);
  return RT_OK;
}

static double nn_conv_flops(const rt_kctx *k) {
  if (k->in[1].rank != 4)
    return 0;
  const int64_t *f = k->in[1].dims;
  return 2.0 * (double)rt_tensor_numel(&k->out[0]) * (double)(f[0] * f[1] * f[2]);
}

/* ---- DepthwiseConv2dNative / FusedDepthwiseConv2dNative ---- */

static rt_status nn_depthwise_shape(rt_kctx *k) {
  nn_geom g;
  nn_fused_ops fo;
  return nn_conv_common(k, NN_DEPTHWISE, &g, &fo);
}

/* Packed depthwise filter (multiplier 1): [ceil(C/8)][kh*kw][8], channels zero-padded, so one
 * channel block's taps are contiguous. */
static void nn_pack_dw(int64_t taps, int64_t C, const float *w, float *wp) {
  for (int64_t c0 = 0; c0 < C; c0 += NN_NR)
    for (int64_t t = 0; t < taps; t++)
      for (int j = 0; j < NN_NR; j++)
        wp[((c0 / NN_NR) * taps + t) * NN_NR + j] = c0 + j < C ? w[t * C + c0 + j] : 0.0f;
}

typedef struct nn_dw_job {
  const nn_geom *g;
  const float *x, *x_end, *w; /* w: nn_pack_dw's layout when packed, else the TF filter */
  bool packed, fma;
  float *y;
  const nn_fuse *f;
  const nn_fused_ops *fo;
  nn_simple_epi se;
  int64_t nchunks; /* channel blocks of NN_DW_CB per output row */
} nn_dw_job;

/* ---- 8-float vectors for the depthwise kernels ----
 * gcc's vectorizer keeps arrays of accumulators in registers only when its heuristics allow,
 * which the many shapes of the depthwise kernels defeat; with GNU C vector types they always
 * are. acc + x * w is fused exactly where nn_mac fuses: the build contracts it
 * (-ffp-contract=fast, GNU C's default) wherever the target has FMA, i.e. in the FMA builds and
 * in the avx2+fma clones. Other compilers get the same operations on plain arrays. */
#if defined(__GNUC__)
/* The helpers are always inlined, so no vector ever crosses a call: without AVX, gcc's note
 * that a 32-byte vector argument would change the ABI does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float nn_v8 __attribute__((vector_size(32)));
typedef float nn_v8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t nn_i8 __attribute__((vector_size(32)));
NN_INLINE nn_v8 nn_v8_load(const float *p) { return *(const nn_v8u *)p; }
NN_INLINE void nn_v8_store(float *p, nn_v8 v) { *(nn_v8u *)p = v; }
NN_INLINE nn_v8 nn_v8_zero(void) { return (nn_v8){0}; }
NN_INLINE nn_v8 nn_v8_mac(nn_v8 acc, nn_v8 x, nn_v8 w) { return acc + x * w; }
NN_INLINE nn_v8 nn_v8_add(nn_v8 a, nn_v8 b) { return a + b; }
/* nn_relu / nn_relu6 lane by lane: v <= 0 gives +0 (also for -0), NaN stays NaN. */
NN_INLINE nn_v8 nn_v8_relu(nn_v8 v) {
  nn_i8 le = v <= nn_v8_zero();
  return (nn_v8)((nn_i8)v & ~le);
}
NN_INLINE nn_v8 nn_v8_relu6(nn_v8 v) {
  const nn_v8 six = {6.0f, 6.0f, 6.0f, 6.0f, 6.0f, 6.0f, 6.0f, 6.0f};
  v = nn_v8_relu(v);
  nn_i8 gt = v > six;
  return (nn_v8)(((nn_i8)v & ~gt) | ((nn_i8)six & gt));
}
#else
typedef struct nn_v8 {
  float f[NN_NR];
} nn_v8;
NN_INLINE nn_v8 nn_v8_load(const float *p) {
  nn_v8 v;
  memcpy(v.f, p, sizeof v.f);
  return v;
}
NN_INLINE void nn_v8_store(float *p, nn_v8 v) { memcpy(p, v.f, sizeof v.f); }
NN_INLINE nn_v8 nn_v8_zero(void) {
  nn_v8 v = {{0}};
  return v;
}
NN_INLINE nn_v8 nn_v8_mac(nn_v8 acc, nn_v8 x, nn_v8 w) {
  for (int l = 0; l < NN_NR; l++)
    acc.f[l] = nn_mac(NN_PORTABLE_FUSED, acc.f[l], x.f[l], w.f[l]);
  return acc;
}
NN_INLINE nn_v8 nn_v8_add(nn_v8 a, nn_v8 b) {
  for (int l = 0; l < NN_NR; l++)
    a.f[l] += b.f[l];
  return a;
}
NN_INLINE nn_v8 nn_v8_relu(nn_v8 v) {
  for (int l = 0; l < NN_NR; l++)
    v.f[l] = nn_relu(v.f[l]);
  return v;
}
NN_INLINE nn_v8 nn_v8_relu6(nn_v8 v) {
  for (int l = 0; l < NN_NR; l++)
    v.f[l] = nn_relu6(v.f[l]);
  return v;
}
#endif

/* y[pixel j, vector v] = act(acc[j * nv + v] + bias) for the simple activations; bv holds zeros
 * when there is no bias (adding +0 to a sum that started at +0 changes no bit). */
NN_INLINE void nn_dw_store(int pb, int nv, const nn_v8 *acc, const float *bv, nn_act act,
                           int64_t ys, float *yp) {
#define NN_DW_STORE_ALL(f)                                                                         \
  do {                                                                                             \
    NN_UNROLL                                                                                      \
    for (int j = 0; j < pb; j++)                                                                   \
      NN_UNROLL                                                                                    \
    for (int v = 0; v < nv; v++)                                                                   \
      nn_v8_store(yp + j * ys + v * NN_NR,                                                         \
                  f(nn_v8_add(acc[j * nv + v], nn_v8_load(bv + v * NN_NR))));                      \
  } while (0)
#define NN_V8_ID(x) (x)
  if (act == NN_ACT_RELU)
    NN_DW_STORE_ALL(nn_v8_relu);
  else if (act == NN_ACT_RELU6)
    NN_DW_STORE_ALL(nn_v8_relu6);
  else
    NN_DW_STORE_ALL(NN_V8_ID);
#undef NN_V8_ID
#undef NN_DW_STORE_ALL
}

/* pb output pixels of one row x nv vectors of 8 channels (pb * nv <= 8 accumulators): every
 * in-bounds tap (filter rows as nkr rows from xr0, columns kc0..kc1, or all KW when `full`)
 * adds x * w to a register accumulator, in TF.js's order. The pixels start at input column ix0
 * and step SW; w0 is the channel block's first tap row, taps step wts, vectors wvs. */
NN_INLINE void nn_dw_px(int pb, int nv, bool full, int64_t KW, int64_t SW, int64_t DW,
                        const float *xr0, int64_t xrs, int64_t nkr, int64_t ix0, int64_t kc0,
                        int64_t kc1, int64_t C, const float *w0, int64_t wrs, int64_t wts,
                        int64_t wvs, const float *bv, nn_act act, float *yp, int64_t ys) {
  nn_v8 acc[NN_NR];
  NN_UNROLL
  for (int i = 0; i < pb * nv; i++)
    acc[i] = nn_v8_zero();
#define NN_DW_TAP(kc)                                                                              \
  do {                                                                                             \
    const float *xc = xr + (kc)*DW * C, *wv = wr + (kc)*wts;                                       \
    NN_UNROLL                                                                                      \
    for (int v = 0; v < nv; v++) {                                                                 \
      nn_v8 w = nn_v8_load(wv + v * wvs);                                                          \
      NN_UNROLL                                                                                    \
      for (int j = 0; j < pb; j++)                                                                 \
        acc[j * nv + v] = nn_v8_mac(acc[j * nv + v], nn_v8_load(xc + j * SW * C + v * NN_NR), w);  \
    }                                                                                              \
  } while (0)
  for (int64_t kr = 0; kr < nkr; kr++) {
    const float *xr = xr0 + kr * xrs + ix0 * C, *wr = w0 + kr * wrs;
    if (full) {
      NN_UNROLL
      for (int64_t kc = 0; kc < KW; kc++)
        NN_DW_TAP(kc);
    } else {
      for (int64_t kc = kc0; kc < kc1; kc++)
        NN_DW_TAP(kc);
    }
  }
#undef NN_DW_TAP
  nn_dw_store(pb, nv, acc, bv, act, ys, yp);
}

/* The same for interior pixels of a specialised filter (KW, SW, DW constant): each input
 * column of the row is loaded once and feeds every (pixel, tap) that reads it; a pixel meets
 * its taps in increasing column order, i.e. in TF.js's tap order. Stride 2 takes 4 pixels x 16
 * channels, so that 9 columns (not 17) are live. */
NN_INLINE void nn_dw_cols(int pb, int nv, int64_t KW, int64_t SW, int64_t DW, const float *xr0,
                          int64_t xrs, int64_t nkr, int64_t ix0, int64_t C, const float *w0,
                          int64_t wrs, int64_t wts, int64_t wvs, const float *bv, nn_act act,
                          float *yp, int64_t ys) {
  nn_v8 acc[NN_NR];
  NN_UNROLL
  for (int i = 0; i < pb * nv; i++)
    acc[i] = nn_v8_zero();
  const int64_t ncol = (pb - 1) * SW + (KW - 1) * DW + 1;
  for (int64_t kr = 0; kr < nkr; kr++) {
    const float *xr = xr0 + kr * xrs + ix0 * C, *wr = w0 + kr * wrs;
    NN_UNROLL_ALL
    for (int64_t col = 0; col < ncol; col++) {
      NN_UNROLL
      for (int v = 0; v < nv; v++) {
        nn_v8 x = nn_v8_load(xr + col * C + v * NN_NR);
        NN_UNROLL
        for (int j = 0; j < pb; j++) {
          int64_t d = col - j * SW;
          if (d >= 0 && d % DW == 0 && d / DW < KW)
            acc[j * nv + v] =
                nn_v8_mac(acc[j * nv + v], x, nn_v8_load(wr + v * wvs + (d / DW) * wts));
        }
      }
    }
  }
  nn_dw_store(pb, nv, acc, bv, act, ys, yp);
}

/* One pixel, the last nc < 8 channels. */
NN_INLINE void nn_dw_px_tail(bool fused, int64_t DW, const float *xr0, int64_t xrs, int64_t nkr,
                             int64_t ix0, int64_t kc0, int64_t kc1, int64_t C, const float *w0,
                             int64_t wrs, int64_t wts, int64_t nc, const float *bv, nn_act act,
                             float *yp) {
  float acc[NN_NR] = {0};
  for (int64_t kr = 0; kr < nkr; kr++) {
    const float *xr = xr0 + kr * xrs, *wr = w0 + kr * wrs;
    for (int64_t kc = kc0; kc < kc1; kc++) {
      const float *wv = wr + kc * wts, *xv = xr + (ix0 + kc * DW) * C;
      for (int64_t l = 0; l < nc; l++)
        acc[l] = nn_mac(fused, acc[l], xv[l], wv[l]);
    }
  }
  for (int64_t l = 0; l < nc; l++)
    yp[l] = nn_simple_act(act, acc[l] + bv[l]);
}

/* First filter index t in [0, n) with 0 <= i0 + t * d < in, and one past the last. */
static void nn_tap_range(int64_t i0, int64_t d, int64_t n, int64_t in, int64_t *t0, int64_t *t1) {
  int64_t a = i0 >= 0 ? 0 : (-i0 + d - 1) / d;
  int64_t b = i0 > in - 1 ? 0 : (in - 1 - i0) / d + 1;
  if (b > n)
    b = n;
  *t0 = a < b ? a : b;
  *t1 = b;
}

/* Output row r (batch * oh + oy), channels c0..c1 (at most NN_DW_CB), with the filter width KW,
 * stride SW and dilation DW constant after inlining (`spec`: one of the specialised filters).
 * Interior pixels go 8 (stride 2: 4) at a time with the whole filter width; border pixels one
 * at a time with their own columns, over up to 4 channel vectors. */
NN_INLINE void nn_dw_row_spec(bool fused, bool spec, const nn_dw_job *J, int64_t r, int64_t c0,
                              int64_t c1, int64_t KW, int64_t SW, int64_t DW) {
  const nn_geom *g = J->g;
  int64_t C = g->ic, b = r / g->oh, oy = r % g->oh, taps = g->kh * KW;
  int64_t iy0 = oy * g->sh - g->pt, kr0, kr1;
  nn_tap_range(iy0, g->dh, g->kh, g->ih, &kr0, &kr1);
  int64_t nkr = kr1 - kr0, xrs = g->dh * g->iw * C;
  const float *xr0 = J->x + (nkr ? (b * g->ih + iy0 + kr0 * g->dh) * g->iw * C : 0);
  /* Interior columns: the whole filter width is inside the input. */
  int64_t ox_lo = g->pl <= 0 ? 0 : (g->pl + SW - 1) / SW;
  int64_t num = g->iw - 1 + g->pl - (KW - 1) * DW;
  int64_t ox_hi = num < 0 ? 0 : num / SW + 1;
  ox_lo = ox_lo < g->ow ? ox_lo : g->ow;
  ox_hi = ox_hi < g->ow ? ox_hi : g->ow;
  if (ox_hi < ox_lo)
    ox_hi = ox_lo;
  const nn_simple_epi *se = &J->se;
  nn_act act = se->ok ? se->act : NN_ACT_NONE;
  float bias[NN_DW_CB]; /* zeros past c1: a tail block reads 8 */
  for (int64_t c = c0; c < c0 + NN_DW_CB; c++)
    bias[c - c0] = c < c1 && se->ok && se->bias ? se->bias_data[c * se->bias_inner] : 0.0f;
  float *yrow = J->y + r * g->ow * C;
  for (int64_t ox = 0; ox < g->ow;) {
    int64_t ix0 = ox * SW - g->pl, kc0 = 0, kc1 = KW, pb = 1;
    if (ox >= ox_lo && ox < ox_hi)
      pb = ox_hi - ox >= 8 && !(spec && SW == 2) ? 8 : ox_hi - ox >= 4 ? 4 : 1;
    else
      nn_tap_range(ix0, DW, KW, g->iw, &kc0, &kc1);
    for (int64_t c = c0; c < c1;) {
      int64_t rem = c1 - c;
      const float *w0;
      int64_t wts, wvs; /* tap stride, stride to the next 8 channels */
      if (J->packed)
        w0 = J->w + (c / NN_NR) * taps * NN_NR + kr0 * KW * NN_NR, wts = NN_NR, wvs = taps * NN_NR;
      else
        w0 = J->w + kr0 * KW * C + c, wts = C, wvs = NN_NR;
      const float *xc = xr0 + c, *bv = bias + (c - c0);
      float *yp = yrow + ox * C + c, tail[NN_NR * NN_NR];
      int64_t ys = C;
      /* Up to 8 accumulators: pixels x channel vectors. */
      int nv = pb == 8 ? 1 : pb == 4 ? (rem >= 16 ? 2 : 1) : rem >= 32 ? 4 : rem >= 16 ? 2 : 1;
      if (rem < NN_NR) {
        /* The last < 8 channels: full vectors when the packed filter (zero-padded) is there
         * and the lanes past the channels stay inside the input (they read the next pixel's
         * channels; those results are dropped); else one lane at a time. */
        const float *last = xc + (nkr ? (nkr - 1) * xrs : 0) +
                            (ix0 + (pb - 1) * SW + (kc1 > 0 ? kc1 - 1 : 0) * DW) * C + NN_NR;
        if (!J->packed || last > J->x_end) {
          for (int64_t j = 0; j < pb; j++)
            nn_dw_px_tail(fused, DW, xc, xrs, nkr, ix0 + j * SW, kc0, kc1, C, w0, KW * wts, wts,
                          rem, bv, act, yp + j * C);
          c = c1;
          continue;
        }
        nv = 1, yp = tail, ys = NN_NR;
      }
      c += nv * NN_NR;
#define NN_DW_COLS(pb_, nv_)                                                                       \
  nn_dw_cols(pb_, nv_, KW, SW, DW, xc, xrs, nkr, ix0, C, w0, KW *wts, wts, wvs, bv, act, yp, ys)
#define NN_DW_PX(pb_, nv_, full_)                                                                  \
  nn_dw_px(pb_, nv_, full_, KW, SW, DW, xc, xrs, nkr, ix0, kc0, kc1, C, w0, KW *wts, wts, wvs, bv, \
           act, yp, ys)
      if (pb == 8 && spec)
        NN_DW_COLS(8, 1);
      else if (pb == 4 && nv == 2 && spec)
        NN_DW_COLS(4, 2);
      else if (pb == 4 && spec)
        NN_DW_COLS(4, 1);
      else if (pb == 8)
        NN_DW_PX(8, 1, true);
      else if (pb == 4 && nv == 2)
        NN_DW_PX(4, 2, true);
      else if (pb == 4)
        NN_DW_PX(4, 1, true);
      else if (nv == 4)
        NN_DW_PX(1, 4, false);
      else if (nv == 2)
        NN_DW_PX(1, 2, false);
      else
        NN_DW_PX(1, 1, false);
#undef NN_DW_PX
#undef NN_DW_COLS
      if (yp == tail)
        for (int64_t j = 0; j < pb; j++)
          memcpy(yrow + (ox + j) * C + c - NN_NR, tail + j * NN_NR, (size_t)rem * sizeof *tail);
    }
    ox += pb;
  }
}

NN_INLINE void nn_dw_row_impl(bool fused, const nn_dw_job *J, int64_t r, int64_t c0, int64_t c1) {
  const nn_geom *g = J->g;
  if (g->dw == 1 && g->kw == 3 && g->sw == 1)
    nn_dw_row_spec(fused, true, J, r, c0, c1, 3, 1, 1);
  else if (g->dw == 1 && g->kw == 3 && g->sw == 2)
    nn_dw_row_spec(fused, true, J, r, c0, c1, 3, 2, 1);
  else if (g->dw == 1 && g->kw == 5 && g->sw == 1)
    nn_dw_row_spec(fused, true, J, r, c0, c1, 5, 1, 1);
  else if (g->dw == 1 && g->kw == 5 && g->sw == 2)
    nn_dw_row_spec(fused, true, J, r, c0, c1, 5, 2, 1);
  else
    nn_dw_row_spec(fused, false, J, r, c0, c1, g->kw, g->sw, g->dw);
}

static NN_NOINLINE void nn_dw_row_portable(const nn_dw_job *J, int64_t r, int64_t c0, int64_t c1) {
  nn_dw_row_impl(NN_PORTABLE_FUSED, J, r, c0, c1);
}

#ifdef NN_FMA_CLONES
NN_FMA_TARGET static NN_NOINLINE void nn_dw_row_fma(const nn_dw_job *J, int64_t r, int64_t c0,
                                                    int64_t c1) {
  nn_dw_row_impl(true, J, r, c0, c1);
}
#endif

/* Items: (block of NN_DW_CB channels, output row). */
static void nn_dw_items(void *ctx, int64_t i0, int64_t i1) {
  const nn_dw_job *J = ctx;
  const nn_geom *g = J->g;
  for (int64_t it = i0; it < i1; it++) {
    /* Channel block major: consecutive rows of one block share input rows in L1. */
    int64_t rows = g->n * g->oh, r = it % rows, c0 = (it / rows) * NN_DW_CB;
    int64_t c1 = g->ic - c0 < NN_DW_CB ? g->ic : c0 + NN_DW_CB;
#ifdef NN_FMA_CLONES
    if (J->fma)
      nn_dw_row_fma(J, r, c0, c1);
    else
#endif
      nn_dw_row_portable(J, r, c0, c1);
    if (!J->se.ok)
      nn_epilogue(J->f, J->fo, J->y + r * g->ow * g->ic + c0, g->ic, 1, r * g->ow, g->ow, c0,
                  c1 - c0);
  }
}

/* One filter tap of a depthwise pixel with a channel multiplier: y[c*m + q] += x[c] * w[c*m + q].
 */
NN_INLINE void nn_dw_tap_impl(bool fused, float *restrict y, const float *restrict x,
                              const float *restrict w, int64_t ic, int64_t m) {
  for (int64_t c = 0; c < ic; c++)
    for (int64_t q = 0; q < m; q++)
      y[c * m + q] = nn_mac(fused, y[c * m + q], x[c], w[c * m + q]);
}

static void nn_dw_tap_portable(float *restrict y, const float *restrict x, const float *restrict w,
                               int64_t ic, int64_t m) {
  nn_dw_tap_impl(NN_PORTABLE_FUSED, y, x, w, ic, m);
}

#ifdef NN_FMA_CLONES
NN_FMA_TARGET static void nn_dw_tap_fma(float *restrict y, const float *restrict x,
                                        const float *restrict w, int64_t ic, int64_t m) {
  nn_dw_tap_impl(true, y, x, w, ic, m);
}
#endif

static void nn_dw_tap(bool fma, float *y, const float *x, const float *w, int64_t ic, int64_t m) {
#ifdef NN_FMA_CLONES
  if (fma) {
    nn_dw_tap_fma(y, x, w, ic, m);
    return;
  }
#endif
  (void)fma;
  nn_dw_tap_portable(y, x, w, ic, m);
}

/* NHWC with a channel multiplier > 1 (rare): items are output rows, each pixel a sweep of taps
 * over all channels in TF.js's order. */
static void nn_dw_mult_items(void *ctx, int64_t i0, int64_t i1) {
  const nn_dw_job *J = ctx;
  const nn_geom *g = J->g;
  int64_t ic = g->ic, oc = g->oc, m = g->mult;
  for (int64_t r = i0; r < i1; r++) {
    int64_t b = r / g->oh, oy = r % g->oh;
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t pix = r * g->ow + ox;
      float *row = J->y + pix * oc;
      memset(row, 0, (size_t)oc * sizeof *row);
      for (int64_t kr = 0; kr < g->kh; kr++) {
        int64_t iy = oy * g->sh - g->pt + kr * g->dh;
        if (iy < 0 || iy >= g->ih)
          continue;
        for (int64_t kc = 0; kc < g->kw; kc++) {
          int64_t ix = ox * g->sw - g->pl + kc * g->dw;
          if (ix < 0 || ix >= g->iw)
            continue;
          nn_dw_tap(J->fma, row, J->x + ((b * g->ih + iy) * g->iw + ix) * ic,
                    J->w + (kr * g->kw + kc) * oc, ic, m);
        }
      }
      nn_epilogue(J->f, J->fo, row, oc, 1, pix, 1, 0, oc);
    }
  }
}

/* NCHW: items are output planes (batch, channel). */
static void nn_dw_nchw_items(void *ctx, int64_t i0, int64_t i1) {
  const nn_dw_job *J = ctx;
  const nn_geom *g = J->g;
  int64_t ic = g->ic, oc = g->oc, m = g->mult, ohw = g->oh * g->ow;
  for (int64_t it = i0; it < i1; it++) {
    int64_t b = it / oc, ch = it % oc, c = ch / m;
    const float *xp = J->x + (b * ic + c) * g->ih * g->iw;
    float *yp = J->y + it * ohw;
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++) {
        float acc = 0.0f;
        for (int64_t kr = 0; kr < g->kh; kr++) {
          int64_t iy = oy * g->sh - g->pt + kr * g->dh;
          if (iy < 0 || iy >= g->ih)
            continue;
          for (int64_t kc = 0; kc < g->kw; kc++) {
            int64_t ix = ox * g->sw - g->pl + kc * g->dw;
            if (ix >= 0 && ix < g->iw) {
              float xv = xp[iy * g->iw + ix], wv = J->w[(kr * g->kw + kc) * oc + ch];
              acc = J->fma ? fmaf(xv, wv, acc) : nn_mac(NN_PORTABLE_FUSED, acc, xv, wv);
            }
          }
        }
        yp[oy * g->ow + ox] = acc;
      }
    nn_epilogue(J->f, J->fo, yp, 1, ohw, b * ohw, ohw, ch, 1);
  }
}

static rt_status nn_depthwise_run(rt_kctx *k) {
  nn_geom g;
  nn_fused_ops fo;
  rt_status st;
  if ((st = nn_conv_common(k, NN_DEPTHWISE, &g, &fo)) != RT_OK)
    return st;
  if (rt_tensor_numel(&k->out[0]) == 0) /* before any product of dims that may be huge */
    return RT_OK;
#ifdef ORCHARD_HAVE_DNNL
  if (k->state)
    return rt__dnnl_conv_run(k->state, k->in[0].data, k->out[0].data, k->scratch, k->err);
#endif
  const nn_conv_params *p = k->params;
  int64_t rows = g.n * g.oh;
  if (rows * g.ow * g.oc == 0)
    return RT_OK;
  nn_dw_job J = {.g = &g,
                 .x = k->in[0].data,
                 .x_end = (const float *)k->in[0].data + rt_tensor_numel(&k->in[0]),
                 .w = k->in[1].data,
                 .fma = nn_use_fma(),
                 .y = k->out[0].data,
                 .f = &p->fuse,
                 .fo = &fo};
  double taps = (double)(g.kh * g.kw);
  if (g.nchw) {
    rt__parallel_for(k->tp, g.n * g.oc, nn_grain(g.n * g.oc, 2.0 * taps * (double)(g.oh * g.ow)),
                     nn_dw_nchw_items, &J);
  } else if (g.mult != 1) {
    rt__parallel_for(k->tp, rows, nn_grain(rows, 2.0 * taps * (double)(g.ow * g.oc)),
                     nn_dw_mult_items, &J);
  } else {
    const float *wp = nn_conv_packed(k);
    if (wp)
      J.w = wp, J.packed = true;
    J.se = nn_simple_make(&p->fuse, &fo);
    J.nchunks = (g.ic + NN_DW_CB - 1) / NN_DW_CB;
    double cb = (double)(g.ic < NN_DW_CB ? g.ic : NN_DW_CB);
    rt__parallel_for(k->tp, rows * J.nchunks,
                     nn_grain(rows * J.nchunks, 2.0 * taps * (double)g.ow * cb), nn_dw_items, &J);
  }
  return RT_OK;
}

static double nn_depthwise_flops(const rt_kctx *k) {
  if (k->in[1].rank != 4)
    return 0;
  return 2.0 * (double)rt_tensor_numel(&k->out[0]) * (double)(k->in[1].dims[0] * k->in[1].dims[1]);
}

/* ---- MaxPool / AvgPool ---- */

static rt_status nn_pool_common(rt_kctx *k, nn_geom *g) {
  const nn_conv_params *p = k->params;
  if (!p)
    return nn_unprepared(k);
  rt_status st;
  if ((st = nn_need_f32(k, 0, "input")) != RT_OK ||
      (st = nn_geometry(k, p, NN_POOL, k->in[0].dims, k->in[0].rank, g)) != RT_OK)
    return st;
  int64_t od[4];
  nn_out_dims(g, g->oh, g->ow, g->oc, od);
  return nn_set_out(k, g->rank, g->rank == 4 ? od : od + 1);
}

static rt_status nn_pool_shape(rt_kctx *k) {
  nn_geom g;
  return nn_pool_common(k, &g);
}

/* Pool window of output (oy, ox) clipped to the input: rows [*y0, *y1), cols [*x0, *x1). */
static void nn_pool_window(const nn_geom *g, int64_t oy, int64_t ox, int64_t *y0, int64_t *y1,
                           int64_t *x0, int64_t *x1) {
  int64_t ry = oy * g->sh - g->pt, rx = ox * g->sw - g->pl;
  *y0 = ry < 0 ? 0 : ry;
  *y1 = ry + g->kh < g->ih ? ry + g->kh : g->ih;
  *x0 = rx < 0 ? 0 : rx;
  *x1 = rx + g->kw < g->iw ? rx + g->kw : g->iw;
}

/* TF.js keeps the first maximum and skips NaN (`v > m` is false for NaN). */
static void nn_row_max(float *restrict m, const float *restrict x, int64_t n) {
  int64_t i = 0;
  for (; i + NN_NR <= n; i += NN_NR)
    for (int j = 0; j < NN_NR; j++)
      m[i + j] = x[i + j] > m[i + j] ? x[i + j] : m[i + j];
  for (; i < n; i++)
    m[i] = x[i] > m[i] ? x[i] : m[i];
}

static void nn_row_sum_d(double *restrict s, const float *restrict x, int64_t n) {
  int64_t i = 0;
  for (; i + NN_NR <= n; i += NN_NR)
    for (int j = 0; j < NN_NR; j++)
      s[i + j] += (double)x[i + j];
  for (; i < n; i++)
    s[i] += (double)x[i];
}

typedef struct nn_pool_job {
  const nn_geom *g;
  const float *x;
  float *y;
  bool avg;
  int64_t nchunks;
} nn_pool_job;

/* NHWC items: (output row, block of NN_DW_CB channels). The average sums in double in window
 * order, as TF.js. */
static void nn_pool_items(void *ctx, int64_t i0, int64_t i1) {
  const nn_pool_job *J = ctx;
  const nn_geom *g = J->g;
  int64_t c = g->ic;
  double acc[NN_DW_CB];
  for (int64_t it = i0; it < i1; it++) {
    int64_t r = it / J->nchunks, c0 = (it % J->nchunks) * NN_DW_CB;
    int64_t nc = c - c0 < NN_DW_CB ? c - c0 : NN_DW_CB;
    int64_t b = r / g->oh, oy = r % g->oh;
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t y0, y1, x0, x1;
      nn_pool_window(g, oy, ox, &y0, &y1, &x0, &x1);
      float *row = J->y + (r * g->ow + ox) * c + c0;
      if (J->avg) {
        memset(acc, 0, (size_t)nc * sizeof *acc);
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++)
            nn_row_sum_d(acc, J->x + ((b * g->ih + iy) * g->iw + ix) * c + c0, nc);
        /* An empty window gives 0/0 = NaN, as in TF.js. */
        double cnt = (double)((y1 > y0 ? y1 - y0 : 0) * (x1 > x0 ? x1 - x0 : 0));
        for (int64_t i = 0; i < nc; i++)
          row[i] = (float)(acc[i] / cnt);
      } else {
        for (int64_t i = 0; i < nc; i++)
          row[i] = -INFINITY;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++)
            nn_row_max(row, J->x + ((b * g->ih + iy) * g->iw + ix) * c + c0, nc);
      }
    }
  }
}

/* NCHW items: planes (batch, channel). */
static void nn_pool_nchw_items(void *ctx, int64_t i0, int64_t i1) {
  const nn_pool_job *J = ctx;
  const nn_geom *g = J->g;
  for (int64_t pl = i0; pl < i1; pl++) {
    const float *xp = J->x + pl * g->ih * g->iw;
    float *yp = J->y + pl * g->oh * g->ow;
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++) {
        int64_t y0, y1, x0, x1;
        nn_pool_window(g, oy, ox, &y0, &y1, &x0, &x1);
        double sum = 0.0;
        float mx = -INFINITY;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) {
            float v = xp[iy * g->iw + ix];
            sum += (double)v;
            mx = v > mx ? v : mx;
          }
        double cnt = (double)((y1 > y0 ? y1 - y0 : 0) * (x1 > x0 ? x1 - x0 : 0));
        yp[oy * g->ow + ox] = J->avg ? (float)(sum / cnt) : mx;
      }
  }
}

static rt_status nn_pool_run(rt_kctx *k, bool avg) {
  nn_geom g;
  rt_status st;
  if ((st = nn_pool_common(k, &g)) != RT_OK)
    return st;
  if (rt_tensor_numel(&k->out[0]) == 0) /* before any product of dims that may be huge */
    return RT_OK;
  int64_t c = g.ic, ohw = g.oh * g.ow;
  if (g.n * ohw * c == 0)
    return RT_OK;
  nn_pool_job J = {.g = &g, .x = k->in[0].data, .y = k->out[0].data, .avg = avg};
  double win = (double)(g.kh * g.kw);
  if (g.nchw) {
    rt__parallel_for(k->tp, g.n * c, nn_grain(g.n * c, win * (double)ohw), nn_pool_nchw_items, &J);
    return RT_OK;
  }
  J.nchunks = (c + NN_DW_CB - 1) / NN_DW_CB;
  double cb = (double)(c < NN_DW_CB ? c : NN_DW_CB);
  int64_t items = g.n * g.oh * J.nchunks;
  rt__parallel_for(k->tp, items, nn_grain(items, win * (double)g.ow * cb), nn_pool_items, &J);
  return RT_OK;
}

static rt_status nn_maxpool_run(rt_kctx *k) { return nn_pool_run(k, false); }
static rt_status nn_avgpool_run(rt_kctx *k) { return nn_pool_run(k, true); }

static double nn_pool_flops(const rt_kctx *k) {
  const nn_conv_params *p = k->params;
  return p ? (double)rt_tensor_numel(&k->out[0]) * (double)(p->kh * p->kw) : 0.0;
}

/* ---- Conv2DBackpropInput (transposed convolution) ---- */

/* Inputs: output_shape (int32 [4], value needed), filter [kh, kw, out_c, in_c], dy. The
 * geometry is that of the forward conv from the result ("input" of nn_geom) to dy. */
static rt_status nn_backprop_common(rt_kctx *k, nn_geom *g, int64_t *xd, int *xrank) {
  const nn_conv_params *p = k->params;
  if (!p)
    return nn_unprepared(k);
  const rt_tensor *os = &k->in[0], *dy = &k->in[2];
  const char *name = k->node->name;
  rt_status st;
  if ((st = nn_need_f32(k, 1, "filter")) != RT_OK || (st = nn_need_f32(k, 2, "dy")) != RT_OK)
    return st;
  if (os->dtype != RT_DT_I32 && os->dtype != RT_DT_F32)
    return rt__errorf(k->err, RT_ERR_INVALID_ARG, "node '%s': output_shape must be int32", name);
  if (os->rank != 1 || (os->dims[0] != 4 && os->dims[0] != 3))
    return rt__errorf(k->err, RT_ERR_SHAPE,
                      "node '%s': output_shape must be a vector of 4 (or 3) sizes", name);
  if (!os->data)
    return RT_ERR_NEED_VALUE;
  *xrank = (int)os->dims[0];
  if (*xrank != dy->rank)
    return rt__errorf(k->err, RT_ERR_SHAPE,
                      "node '%s': output_shape has %d sizes but dy has rank %d", name, *xrank,
                      dy->rank);
  for (int i = 0; i < *xrank; i++) {
    xd[i] = rt__tensor_get_int(os, i);
    if (xd[i] < 0 || xd[i] > INT32_MAX)
      return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': output_shape[%d] = %lld is invalid", name,
                        i, (long long)xd[i]);
  }
  if ((st = nn_geometry(k, p, NN_BACKPROP, xd, *xrank, g)) != RT_OK)
    return st;
  /* The forward conv of the result must produce exactly dy. */
  int64_t od[4];
  nn_out_dims(g, g->oh, g->ow, g->oc, od);
  const int64_t *want = g->rank == 4 ? od : od + 1;
  for (int i = 0; i < g->rank; i++)
    if (dy->dims[i] != want[i]) {
      char b1[96], b2[96];
      return rt__errorf(k->err, RT_ERR_SHAPE,
                        "node '%s': dy is %s but output_shape and the filter give %s", name,
                        nn_dims_str(dy->dims, dy->rank, b1, sizeof b1),
                        nn_dims_str(want, g->rank, b2, sizeof b2));
    }
  return RT_OK;
}

/* Scratch: the filter transposed to [kh][kw][c2][c1] when the kernel vectorizes over result
 * channels and pack() did not already make it. */
static size_t nn_backprop_scratch(const rt_kctx *k, const nn_geom *g) {
  if (g->ic < NN_BP_VEC || nn_conv_packed(k))
    return 0;
  return (size_t)nn_align16(g->kh * g->kw * g->ic * g->oc) * sizeof(float);
}

static rt_status nn_backprop_shape(rt_kctx *k) {
  nn_geom g;
  int64_t xd[4];
  int xrank;
  rt_status st = nn_backprop_common(k, &g, xd, &xrank);
  if (st != RT_OK)
    return st;
  if ((double)g.kh * (double)g.kw * (double)g.ic * (double)g.oc * sizeof(float) >
      (double)NN_SCRATCH_MAX)
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': filter too large", k->node->name);
  if ((st = nn_set_out(k, xrank, xd)) != RT_OK)
    return st;
  k->scratch_bytes = nn_backprop_scratch(k, &g);
  return RT_OK;
}

static int64_t nn_ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
static int64_t nn_floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* [kh][kw][c1][c2] -> [kh][kw][c2][c1] */
static void nn_transpose_filter(int64_t taps, int64_t c1, int64_t c2, const float *w, float *wt) {
  for (int64_t t = 0; t < taps; t++)
    for (int64_t a = 0; a < c1; a++)
      for (int64_t b = 0; b < c2; b++)
        wt[(t * c2 + b) * c1 + a] = w[(t * c1 + a) * c2 + b];
}

/* y[i] += v * (double)w[i] */
static void nn_row_axpy_d(double *restrict y, double v, const float *restrict w, int64_t n) {
  int64_t i = 0;
  for (; i + NN_NR <= n; i += NN_NR)
    for (int j = 0; j < NN_NR; j++)
      y[i + j] += v * (double)w[i + j];
  for (; i < n; i++)
    y[i] += v * (double)w[i];
}

typedef struct nn_bp_job {
  const nn_geom *g;
  const float *w;  /* [kh][kw][c1][c2] as in the model */
  const float *wt; /* [kh][kw][c2][c1], or NULL when c1 < NN_BP_VEC */
  const float *dy;
  float *dx;
  int64_t ys_n, ys_h, ys_w, ys_c, xs_n, xs_h, xs_w, xs_c;
} nn_bp_job;

/* dy columns yc0..yc1 (inclusive) that reach result column xc. */
static void nn_bp_cols(const nn_geom *g, int64_t xc, int64_t *yc0, int64_t *yc1) {
  int64_t cc = xc + g->pl;
  int64_t a = nn_ceil_div(cc - g->kw + 1, g->sw), b = nn_floor_div(cc, g->sw);
  *yc0 = a < 0 ? 0 : a;
  *yc1 = b >= g->ow ? g->ow - 1 : b;
}

/* Items: result rows (batch, xr). TF.js's gather order for each result element: dy rows, dy
 * columns, then dy channels, all summed in double — hence bit-identical results. With many
 * result channels the sums run side by side over them (wt); with few, each is a dot product
 * over dy channels, four result pixels side by side when their windows have the same size. */
static void nn_bp_items(void *ctx, int64_t i0, int64_t i1) {
  const nn_bp_job *J = ctx;
  const nn_geom *g = J->g;
  int64_t c1 = g->ic, c2 = g->oc, kw = g->kw;
  double acc[NN_DW_CB];
  for (int64_t it = i0; it < i1; it++) {
    int64_t b = it / g->ih, xr = it % g->ih;
    int64_t rc = xr + g->pt; /* dy row yr covers xr with filter row rc - yr * sh */
    int64_t yr0 = nn_ceil_div(rc - g->kh + 1, g->sh), yr1 = nn_floor_div(rc, g->sh);
    yr0 = yr0 < 0 ? 0 : yr0;
    yr1 = yr1 >= g->oh ? g->oh - 1 : yr1;
    const float *dyb = J->dy + b * J->ys_n;
    float *dxr = J->dx + b * J->xs_n + xr * J->xs_h;
    for (int64_t xc = 0; xc < g->iw;) {
      int64_t cc = xc + g->pl, yc0, yc1;
      nn_bp_cols(g, xc, &yc0, &yc1);
      if (J->wt) {
        for (int64_t d0 = 0; d0 < c1; d0 += NN_DW_CB) {
          int64_t nd = c1 - d0 < NN_DW_CB ? c1 - d0 : NN_DW_CB;
          memset(acc, 0, (size_t)nd * sizeof *acc);
          for (int64_t yr = yr0; yr <= yr1; yr++)
            for (int64_t yc = yc0; yc <= yc1; yc++) {
              const float *wb = J->wt + ((rc - yr * g->sh) * kw + (cc - yc * g->sw)) * c2 * c1 + d0;
              const float *dp = dyb + yr * J->ys_h + yc * J->ys_w;
              for (int64_t d2 = 0; d2 < c2; d2++)
                nn_row_axpy_d(acc, (double)dp[d2 * J->ys_c], wb + d2 * c1, nd);
            }
          for (int64_t i = 0; i < nd; i++)
            dxr[xc * J->xs_w + (d0 + i) * J->xs_c] = (float)acc[i];
        }
        xc++;
        continue;
      }
      int64_t cnt = yc1 - yc0 + 1, lanes = 1, ys0[4] = {yc0}, ccs[4] = {cc};
      if (xc + 4 <= g->iw && cnt > 0) {
        lanes = 4;
        for (int j = 1; j < 4; j++) {
          int64_t a0, a1;
          nn_bp_cols(g, xc + j, &a0, &a1);
          ys0[j] = a0, ccs[j] = cc + j;
          if (a1 - a0 + 1 != cnt)
            lanes = 1;
        }
      }
      if (lanes == 4) {
        for (int64_t d1 = 0; d1 < c1; d1++) {
          double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0; /* four chains in registers */
          for (int64_t yr = yr0; yr <= yr1; yr++)
            for (int64_t t = 0; t < cnt; t++) {
              const float *dp[4], *wp[4];
              for (int j = 0; j < 4; j++) {
                int64_t yc = ys0[j] + t;
                dp[j] = dyb + yr * J->ys_h + yc * J->ys_w;
                wp[j] = J->w + (((rc - yr * g->sh) * kw + (ccs[j] - yc * g->sw)) * c1 + d1) * c2;
              }
              const float *d0p = dp[0], *d1p = dp[1], *d2p = dp[2], *d3p = dp[3];
              const float *w0p = wp[0], *w1p = wp[1], *w2p = wp[2], *w3p = wp[3];
              int64_t ysc = J->ys_c;
              for (int64_t d2 = 0; d2 < c2; d2++) {
                s0 += (double)d0p[d2 * ysc] * (double)w0p[d2];
                s1 += (double)d1p[d2 * ysc] * (double)w1p[d2];
                s2 += (double)d2p[d2 * ysc] * (double)w2p[d2];
                s3 += (double)d3p[d2 * ysc] * (double)w3p[d2];
              }
            }
          float *o = dxr + xc * J->xs_w + d1 * J->xs_c;
          o[0] = (float)s0, o[J->xs_w] = (float)s1, o[2 * J->xs_w] = (float)s2;
          o[3 * J->xs_w] = (float)s3;
        }
        xc += 4;
        continue;
      }
      for (int64_t d1 = 0; d1 < c1; d1++) {
        double s = 0.0;
        for (int64_t yr = yr0; yr <= yr1; yr++)
          for (int64_t yc = yc0; yc <= yc1; yc++) {
            const float *dp = dyb + yr * J->ys_h + yc * J->ys_w;
            const float *wp = J->w + (((rc - yr * g->sh) * kw + (cc - yc * g->sw)) * c1 + d1) * c2;
            for (int64_t d2 = 0; d2 < c2; d2++)
              s += (double)dp[d2 * J->ys_c] * (double)wp[d2];
          }
        dxr[xc * J->xs_w + d1 * J->xs_c] = (float)s;
      }
      xc++;
    }
  }
}

static rt_status nn_backprop_run(rt_kctx *k) {
  nn_geom g;
  int64_t xd[4];
  int xrank;
  rt_status st = nn_backprop_common(k, &g, xd, &xrank);
  if (st != RT_OK)
    return st;
  if (rt_tensor_numel(&k->out[0]) == 0) /* before any product of dims that may be huge */
    return RT_OK;
#ifdef ORCHARD_HAVE_DNNL
  if (k->state)
    return rt__dnnl_conv_run(k->state, k->in[2].data, k->out[0].data, k->scratch, k->err);
#endif
  int64_t c1 = g.ic, c2 = g.oc, kh = g.kh, kw = g.kw;
  if (g.n * g.ih * g.iw * c1 == 0)
    return RT_OK;
  nn_bp_job J = {.g = &g, .w = k->in[1].data, .dy = k->in[2].data, .dx = k->out[0].data};
  if (c1 >= NN_BP_VEC) {
    J.wt = nn_conv_packed(k);
    if (!J.wt) {
      if (!k->scratch || k->scratch_bytes < nn_backprop_scratch(k, &g))
        return rt__errorf(k->err, RT_ERR_INTERNAL, "node '%s': scratch too small", k->node->name);
      nn_transpose_filter(kh * kw, c1, c2, J.w, k->scratch);
      J.wt = k->scratch;
    }
  }
  J.ys_n = g.oh * g.ow * c2, J.xs_n = g.ih * g.iw * c1;
  if (g.nchw) {
    J.ys_c = g.oh * g.ow, J.ys_h = g.ow, J.ys_w = 1;
    J.xs_c = g.ih * g.iw, J.xs_h = g.iw, J.xs_w = 1;
  } else {
    J.ys_c = 1, J.ys_h = g.ow * c2, J.ys_w = c2;
    J.xs_c = 1, J.xs_h = g.iw * c1, J.xs_w = c1;
  }
  /* Each result pixel gathers about (kh/sh)*(kw/sw) dy pixels of c2 channels per channel. */
  double per_row = 2.0 * (double)g.iw * (double)c1 * (double)c2 * (double)((kh + g.sh - 1) / g.sh) *
                   (double)((kw + g.sw - 1) / g.sw);
  rt__parallel_for(k->tp, g.n * g.ih, nn_grain(g.n * g.ih, per_row), nn_bp_items, &J);
  return RT_OK;
}

static double nn_backprop_flops(const rt_kctx *k) {
  if (k->in[1].rank != 4)
    return 0;
  const int64_t *f = k->in[1].dims;
  return 2.0 * (double)rt_tensor_numel(&k->in[2]) * (double)(f[0] * f[1] * f[2]);
}

/* ---- MatMul / _FusedMatMul / BatchMatMul(V2) ---- */

typedef struct nn_mm_geom {
  int64_t M, N, K, batch;
  int out_rank, nb;                         /* output rank, batch rank */
  int64_t bdims[RT_MAX_RANK];               /* output batch dims */
  int64_t sa[RT_MAX_RANK], sb[RT_MAX_RANK]; /* a/b matrix-index strides along them (0: broadcast) */
  int64_t od[RT_MAX_RANK];
} nn_mm_geom;

static rt_status nn_mm_geometry(const rt_kctx *k, const nn_mm_params *p, nn_mm_geom *g) {
  const rt_tensor *a = &k->in[0], *b = &k->in[1];
  const char *name = k->node->name;
  char b1[96], b2[96];
  memset(g, 0, sizeof *g);
  if (a->rank < 2 || b->rank < 2)
    return rt__errorf(
        k->err, RT_ERR_SHAPE, "node '%s': matmul operands need rank >= 2, got %s and %s", name,
        nn_dims_str(a->dims, a->rank, b1, sizeof b1), nn_dims_str(b->dims, b->rank, b2, sizeof b2));
  if (a->dtype != b->dtype || (a->dtype != RT_DT_F32 && a->dtype != RT_DT_I32))
    return rt__errorf(k->err, RT_ERR_UNSUPPORTED,
                      "node '%s': matmul of %s by %s is not supported (float32 or int32, both "
                      "the same)",
                      name, rt_dtype_name(a->dtype), rt_dtype_name(b->dtype));
  int ra = a->rank, rb = b->rank;
  int64_t numel;
  if (!rt__checked_numel(a->dims, ra, &numel) || !rt__checked_numel(b->dims, rb, &numel))
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': operand too large", name);
  int64_t ka = p->ta ? a->dims[ra - 2] : a->dims[ra - 1];
  int64_t kb = p->tb ? b->dims[rb - 1] : b->dims[rb - 2];
  g->M = p->ta ? a->dims[ra - 1] : a->dims[ra - 2];
  g->N = p->tb ? b->dims[rb - 2] : b->dims[rb - 1];
  if (ka != kb)
    return rt__errorf(k->err, RT_ERR_SHAPE,
                      "node '%s': inner dims differ: %s x %s (transpose_a=%d, transpose_b=%d)",
                      name, nn_dims_str(a->dims, ra, b1, sizeof b1),
                      nn_dims_str(b->dims, rb, b2, sizeof b2), p->ta, p->tb);
  g->K = ka;
  g->nb = (ra > rb ? ra : rb) - 2;
  g->out_rank = g->nb + 2;
  int64_t sa, sbb;
  if (!rt__checked_mul(g->M, g->K, &sa))
    sa = INT64_MAX;
  if (!rt__checked_mul(g->K, g->N, &sbb))
    sbb = INT64_MAX;
  g->batch = 1;
  for (int i = g->nb - 1; i >= 0; i--) {
    int ia = i - (g->nb - (ra - 2)), ib = i - (g->nb - (rb - 2));
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': batch dims of %s and %s do not broadcast",
                        name, nn_dims_str(a->dims, ra, b1, sizeof b1),
                        nn_dims_str(b->dims, rb, b2, sizeof b2));
    g->bdims[i] = da == 1 ? db : da;
    g->sa[i] = da == 1 ? 0 : sa;
    g->sb[i] = db == 1 ? 0 : sbb;
    /* Saturating: only an operand with no elements can overflow, and then so is the output. */
    if (!rt__checked_mul(sa, da, &sa))
      sa = INT64_MAX;
    if (!rt__checked_mul(sbb, db, &sbb))
      sbb = INT64_MAX;
    g->od[i] = g->bdims[i];
  }
  g->od[g->nb] = g->M;
  g->od[g->nb + 1] = g->N;
  if (!rt__checked_numel(g->od, g->out_rank, &numel))
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': output has too many elements", name);
  for (int i = 0; i < g->nb; i++)
    g->batch *= g->bdims[i];
  return RT_OK;
}

static rt_status nn_mm_common(rt_kctx *k, nn_mm_geom *g, nn_fused_ops *fo) {
  const nn_mm_params *p = k->params;
  if (!p)
    return nn_unprepared(k);
  rt_status st;
  if ((st = nn_mm_geometry(k, p, g)) != RT_OK)
    return st;
  if (p->fuse.bias || p->fuse.act != NN_ACT_NONE) {
    if (k->in[0].dtype != RT_DT_F32)
      return rt__errorf(k->err, RT_ERR_UNSUPPORTED, "node '%s': fused matmul needs float32",
                        k->node->name);
    if ((st = nn_fused_make(k, &p->fuse, g->od, g->out_rank, g->out_rank - 1, false, fo)) != RT_OK)
      return st;
  }
  rt__set_shape(&k->out[0], k->in[0].dtype, g->out_rank, g->od);
  return RT_OK;
}

static rt_status nn_mm_shape(rt_kctx *k) {
  nn_mm_geom g;
  nn_fused_ops fo;
  return nn_mm_common(k, &g, &fo);
}

/* The packed B when input 1 is the Const pack() made it from (then it is 2-D float). */
static const float *nn_mm_packed(const rt_kctx *k) {
  const nn_mm_params *p = k->params;
  return p && p->wpack && k->in[1].data && k->in[1].data == p->wsrc ? p->wpack : NULL;
}

/* Up to 4 rows ar[] (element kk at ar[r][kk * aks]) times one panel of nc <= 8 columns (element
 * (kk, j) at b[kk * ldb + j]) as TF.js's batchMatMul: k in blocks of 48 summed in double, each
 * block's sum added to the float32 result. Rows are independent, so a row's bits do not depend
 * on its neighbours. */
NN_INLINE void nn_mm_tile_impl(int nc, int64_t K, const float *const *ar, int64_t aks,
                               const float *restrict b, int64_t ldb, float *restrict t) {
  float cv[4][NN_NR] = {{0}};
  for (int64_t k0 = 0; k0 < K; k0 += NN_MM_BLOCK) {
    int64_t k1 = K - k0 < NN_MM_BLOCK ? K : k0 + NN_MM_BLOCK;
    double acc[4][NN_NR] = {{0}};
    for (int64_t kk = k0; kk < k1; kk++) {
      const float *bk = b + kk * ldb;
      double bd[NN_NR];
      for (int j = 0; j < NN_NR; j++)
        bd[j] = j < nc ? (double)bk[j] : 0.0;
      NN_UNROLL
      for (int r = 0; r < 4; r++) {
        double av = (double)ar[r][kk * aks];
        NN_UNROLL
        for (int j = 0; j < NN_NR; j++)
          acc[r][j] += av * bd[j];
      }
    }
    for (int r = 0; r < 4; r++)
      for (int j = 0; j < NN_NR; j++)
        cv[r][j] = (float)((double)cv[r][j] + acc[r][j]);
  }
  for (int r = 0; r < 4; r++)
    for (int j = 0; j < NN_NR; j++)
      t[r * NN_NR + j] = cv[r][j];
}

static NN_NOINLINE void nn_mm_tile8(int64_t K, const float *const *ar, int64_t aks, const float *b,
                                    int64_t ldb, float *t) {
  nn_mm_tile_impl(NN_NR, K, ar, aks, b, ldb, t);
}

static NN_NOINLINE void nn_mm_tile_n(int nc, int64_t K, const float *const *ar, int64_t aks,
                                     const float *b, int64_t ldb, float *t) {
  nn_mm_tile_impl(nc, K, ar, aks, b, ldb, t);
}

/* The same with b given as N x K (transpose_b, not packed): each output is a dot product of two
 * contiguous rows, still in blocks of 48 summed in order; four outputs at a time for ILP. */
static void nn_mm_f32_tb(int64_t M, int64_t N, int64_t j0, int64_t j1, int64_t K, const float *a,
                         int64_t ars, int64_t aks, const float *b, float *c) {
  for (int64_t i = 0; i < M; i++) {
    float *crow = c + i * N;
    const float *ar = a + i * ars;
    int64_t j = j0;
    for (; j + 4 <= j1; j += 4) {
      const float *b0 = b + j * K, *b1 = b0 + K, *b2 = b1 + K, *b3 = b2 + K;
      float c0 = 0.0f, c1 = 0.0f, c2 = 0.0f, c3 = 0.0f;
      for (int64_t k0 = 0; k0 < K; k0 += NN_MM_BLOCK) {
        int64_t k1 = K - k0 < NN_MM_BLOCK ? K : k0 + NN_MM_BLOCK;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (int64_t kk = k0; kk < k1; kk++) {
          double av = (double)ar[kk * aks];
          s0 += av * (double)b0[kk];
          s1 += av * (double)b1[kk];
          s2 += av * (double)b2[kk];
          s3 += av * (double)b3[kk];
        }
        c0 = (float)((double)c0 + s0);
        c1 = (float)((double)c1 + s1);
        c2 = (float)((double)c2 + s2);
        c3 = (float)((double)c3 + s3);
      }
      crow[j] = c0, crow[j + 1] = c1, crow[j + 2] = c2, crow[j + 3] = c3;
    }
    for (; j < j1; j++) {
      const float *bj = b + j * K;
      float cj = 0.0f;
      for (int64_t k0 = 0; k0 < K; k0 += NN_MM_BLOCK) {
        int64_t k1 = K - k0 < NN_MM_BLOCK ? K : k0 + NN_MM_BLOCK;
        double sj = 0.0;
        for (int64_t kk = k0; kk < k1; kk++)
          sj += (double)ar[kk * aks] * (double)bj[kk];
        cj = (float)((double)cj + sj);
      }
      crow[j] = cj;
    }
  }
}

/* int32 product with TF.js's wrap-around: the exact sum modulo 2^32. */
static void nn_mm_i32(int64_t M, int64_t N, int64_t j0, int64_t j1, int64_t K, const int32_t *a,
                      int64_t ars, int64_t aks, const int32_t *b, int64_t bks, int64_t bns,
                      int32_t *c) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = j0; j < j1; j++) {
      uint32_t s = 0;
      for (int64_t kk = 0; kk < K; kk++)
        s += (uint32_t)a[i * ars + kk * aks] * (uint32_t)b[kk * bks + j * bns];
      c[i * N + j] = (int32_t)s;
    }
}

typedef struct nn_mm_job {
  const nn_mm_geom *g;
  const nn_mm_params *p;
  const nn_fused_ops *fo;
  const void *a, *b;
  void *c;
  const float *bp; /* packed B, or NULL */
  bool f32;
  int64_t ars, aks, rb, nrb; /* a strides; rows per item, row blocks per batch matrix */
  int64_t ncg, cgc;          /* columns split in ncg groups of cgc (a multiple of 8) */
} nn_mm_job;

/* Items: (block of J->rb rows of one batch matrix, group of columns). */
static void nn_mm_items(void *ctx, int64_t i0, int64_t i1) {
  const nn_mm_job *J = ctx;
  const nn_mm_geom *g = J->g;
  int64_t M = g->M, N = g->N, K = g->K;
  for (int64_t it = i0; it < i1; it++) {
    int64_t ri = it / J->ncg, bi = ri / J->nrb, r0 = (ri % J->nrb) * J->rb;
    int64_t nr = M - r0 < J->rb ? M - r0 : J->rb;
    int64_t jc0 = (it % J->ncg) * J->cgc, jc1 = N - jc0 < J->cgc ? N : jc0 + J->cgc;
    int64_t oa = 0, ob = 0, rem = bi;
    for (int i = g->nb - 1; i >= 0; i--) {
      int64_t idx = rem % g->bdims[i];
      rem /= g->bdims[i];
      oa += idx * g->sa[i];
      ob += idx * g->sb[i];
    }
    int64_t crow = bi * M + r0; /* first output row, counting over the batch */
    if (!J->f32) {
      const int32_t *a = (const int32_t *)J->a + oa + r0 * J->ars;
      nn_mm_i32(nr, N, jc0, jc1, K, a, J->ars, J->aks, (const int32_t *)J->b + ob, J->p->tb ? 1 : N,
                J->p->tb ? K : 1, (int32_t *)J->c + crow * N);
      continue;
    }
    const float *a = (const float *)J->a + oa + r0 * J->ars;
    const float *b = (const float *)J->b + ob;
    float *c = (float *)J->c + crow * N;
    if (!J->bp && J->p->tb) {
      nn_mm_f32_tb(nr, N, jc0, jc1, K, a, J->ars, J->aks, b, c);
    } else {
      for (int64_t j0 = jc0; j0 < jc1; j0 += NN_NR) {
        int nc = jc1 - j0 < NN_NR ? (int)(jc1 - j0) : NN_NR;
        const float *panel = J->bp ? J->bp + (j0 / NN_NR) * K * NN_NR : b + j0;
        int64_t ldb = J->bp ? NN_NR : N;
        for (int64_t i = 0; i < nr; i += 4) {
          int64_t mr = nr - i < 4 ? nr - i : 4;
          const float *ar[4];
          for (int r = 0; r < 4; r++) /* missing rows repeat row 0; results dropped */
            ar[r] = a + (i + (r < mr ? r : 0)) * J->ars;
          float t[4 * NN_NR];
          if (nc == NN_NR)
            nn_mm_tile8(K, ar, J->aks, panel, ldb, t);
          else
            nn_mm_tile_n(nc, K, ar, J->aks, panel, ldb, t);
          for (int64_t r = 0; r < mr; r++)
            memcpy(c + (i + r) * N + j0, t + r * NN_NR, (size_t)nc * sizeof *t);
        }
      }
    }
    nn_epilogue(&J->p->fuse, J->fo, c + jc0, N, 1, crow, nr, jc0, jc1 - jc0);
  }
}

static rt_status nn_mm_run(rt_kctx *k) {
  nn_mm_geom g;
  nn_fused_ops fo;
  rt_status st = nn_mm_common(k, &g, &fo);
  if (st != RT_OK)
    return st;
#ifdef ORCHARD_HAVE_DNNL
  if (k->state)
    return rt__dnnl_matmul_run(k->state, k->in[0].data, k->out[0].data, k->scratch, k->err);
#endif
  const nn_mm_params *p = k->params;
  int64_t M = g.M, N = g.N, K = g.K;
  if (g.batch * M * N == 0)
    return RT_OK;
  nn_mm_job J = {.g = &g,
                 .p = p,
                 .fo = &fo,
                 .a = k->in[0].data,
                 .b = k->in[1].data,
                 .c = k->out[0].data,
                 .f32 = k->in[0].dtype == RT_DT_F32,
                 .ars = p->ta ? 1 : K,
                 .aks = p->ta ? M : 1};
  if (J.f32)
    J.bp = nn_mm_packed(k);
  J.rb = nn_rows_per_item(k, M * g.batch, NN_MM_RB, 4);
  if (J.rb > M)
    J.rb = M;
  J.nrb = (M + J.rb - 1) / J.rb;
  /* Few rows (a dense layer at batch 1): split the columns too. */
  int64_t row_items = g.batch * J.nrb, panels = (N + NN_NR - 1) / NN_NR;
  int64_t want = 4 * (int64_t)rt__threadpool_size(k->tp);
  J.ncg = row_items >= want ? 1 : (want + row_items - 1) / row_items;
  J.ncg = J.ncg < panels ? J.ncg : panels;
  J.cgc = (panels + J.ncg - 1) / J.ncg * NN_NR;
  J.ncg = (N + J.cgc - 1) / J.cgc;
  int64_t items = row_items * J.ncg;
  double per_item = 2.0 * (double)J.rb * (double)J.cgc * (double)(K + 1);
  rt__parallel_for(k->tp, items, nn_grain(items, per_item), nn_mm_items, &J);
  return RT_OK;
}

static double nn_mm_flops(const rt_kctx *k) {
  const nn_mm_params *p = k->params;
  const rt_tensor *a = &k->in[0];
  if (!p || a->rank < 2)
    return 0;
  int64_t K = p->ta ? a->dims[a->rank - 2] : a->dims[a->rank - 1];
  return 2.0 * (double)rt_tensor_numel(&k->out[0]) * (double)K;
}

/* ---- oneDNN fast path (dnnl.h) ---- */

#ifdef ORCHARD_HAVE_DNNL
static rt_dnnl_act nn_dnnl_act(nn_act a) {
  switch (a) {
  case NN_ACT_RELU: return RT_DNNL_ACT_RELU;
  case NN_ACT_RELU6: return RT_DNNL_ACT_RELU6;
  case NN_ACT_ELU: return RT_DNNL_ACT_ELU;
  case NN_ACT_SIGMOID: return RT_DNNL_ACT_SIGMOID;
  case NN_ACT_TANH: return RT_DNNL_ACT_TANH;
  case NN_ACT_LEAKYRELU: return RT_DNNL_ACT_LEAKY_RELU;
  case NN_ACT_PRELU: return RT_DNNL_ACT_PRELU;
  default: return RT_DNNL_ACT_NONE;
  }
}

/* RT_ERR_UNSUPPORTED from oneDNN means "keep the portable kernel": OK with nothing stored. Any
 * other failure is the caller's, with oneDNN's message. */
static rt_status nn_dnnl_status(rt_status st, const rt_error *e, rt_error *err, void **slot,
                                void *made) {
  if (st == RT_OK) {
    *slot = made;
    return RT_OK;
  }
  if (st == RT_ERR_UNSUPPORTED)
    return RT_OK;
  *err = *e;
  return st;
}

/* A plan() hook's ending: the state on success, and oneDNN's scratchpad added to the step's
 * scratch (the executor places it in the arena; the portable kernel's need stays covered). */
static rt_status nn_dnnl_planned(rt_kctx *k, rt_status st, const rt_error *e, void *state) {
  rt_status r = nn_dnnl_status(st, e, k->err, &k->state, state);
  size_t sp = rt__dnnl_state_bytes(k->state);
  if (k->state && sp > k->scratch_bytes)
    k->scratch_bytes = sp;
  return r;
}

/* A per-channel operand oneDNN can take: n floats, one per output channel. */
static const float *nn_dnnl_vec(const rt_tensor *t, int64_t n) {
  if (!t || !t->data || t->dtype != RT_DT_F32 || t->rank < 1 || t->dims[t->rank - 1] != n ||
      rt_tensor_numel(t) != n)
    return NULL;
  return t->data;
}

/* Fills the shapes, window and epilogue of d from a geometry; false when oneDNN cannot take the
 * node (NCHW, or fused operands that are not per-channel vectors). */
static bool nn_dnnl_conv_desc(const nn_conv_params *p, nn_kind kind, const nn_geom *g,
                              const rt_tensor *bias, const rt_tensor *alpha, rt_dnnl_conv_desc *d) {
  memset(d, 0, sizeof *d);
  if (p->nchw)
    return false;
  int64_t keh = (g->kh - 1) * g->dh + 1, kew = (g->kw - 1) * g->dw + 1;
  int64_t pb = (g->oh - 1) * g->sh + keh - g->ih - g->pt;
  int64_t pr = (g->ow - 1) * g->sw + kew - g->iw - g->pl;
  d->n = g->n;
  d->kh = g->kh, d->kw = g->kw, d->sh = g->sh, d->sw = g->sw, d->dh = g->dh, d->dw = g->dw;
  d->pad_t = g->pt, d->pad_l = g->pl;
  d->pad_b = pb > 0 ? pb : 0, d->pad_r = pr > 0 ? pr : 0;
  if (kind == NN_BACKPROP) { /* dy -> dx: the forward conv's output is the input */
    d->transposed = true;
    d->ih = g->oh, d->iw = g->ow, d->ic = g->oc;
    d->oh = g->ih, d->ow = g->iw, d->oc = g->ic;
  } else {
    d->depthwise = kind == NN_DEPTHWISE;
    d->ih = g->ih, d->iw = g->iw, d->ic = g->ic;
    d->oh = g->oh, d->ow = g->ow, d->oc = g->oc;
  }
  if (p->fuse.bias && !(d->bias = nn_dnnl_vec(bias, d->oc)))
    return false;
  d->act = nn_dnnl_act(p->fuse.act);
  d->alpha = (float)p->fuse.alpha;
  if (p->fuse.act == NN_ACT_PRELU && !(d->prelu_alpha = nn_dnnl_vec(alpha, d->oc)))
    return false;
  return true;
}

/* oneDNN's weights layout depends on the shapes (a 6x6 map gets other blocking than a 96x96
 * one, and a layout packed for one may leave only the reference kernel for the other), so the
 * weights are packed at the first plan's real geometry — the model's own input size, planned
 * when the model loads — once for the model, under the graph's lock since sessions plan on
 * their own threads. Later plans of other shapes reuse that layout or keep the portable
 * kernel. */
static rt_status nn_conv_plan_kind(rt_kctx *k, nn_kind kind) {
  nn_conv_params *p = (nn_conv_params *)k->params; /* the lazily packed weights, under lock */
  k->state = NULL;
  if (!p || !p->use_dnnl || p->nchw || !k->graph || !k->in[1].data || k->in[1].data != p->wsrc)
    return RT_OK;
  nn_geom geo;
  int64_t xd[4];
  int xrank;
  if (kind == NN_BACKPROP) {
    if (nn_backprop_common(k, &geo, xd, &xrank) != RT_OK)
      return RT_OK;
  } else if (nn_geometry(k, p, kind, k->in[0].dims, k->in[0].rank, &geo) != RT_OK) {
    return RT_OK;
  }
  rt_dnnl_conv_desc d;
  if (!nn_dnnl_conv_desc(p, kind, &geo, k->n_in > NN_BIAS_INPUT ? &k->in[NN_BIAS_INPUT] : NULL,
                         k->n_in > NN_PRELU_INPUT ? &k->in[NN_PRELU_INPUT] : NULL, &d))
    return RT_OK;
  d.filter = p->wsrc;
  d.name = k->node->name;
  rt_error e = {0};
  rt_status st = RT_OK;
  pthread_mutex_lock(&k->graph->lazy_mu);
  if (!p->dnnl && !p->dnnl_tried) {
    p->dnnl_tried = true;
    rt_dnnl_weights *dw = NULL;
    rt_status ps = rt__dnnl_pack_conv(k->graph, &d, &dw, &e);
    st = nn_dnnl_status(ps, &e, k->err, &p->dnnl, dw);
  }
  void *w = p->dnnl;
  pthread_mutex_unlock(&k->graph->lazy_mu);
  if (st != RT_OK || !w)
    return st;
  void *state = NULL;
  st = rt__dnnl_conv_plan(&d, w, rt__threadpool_size(k->tp), &state, &e);
  return nn_dnnl_planned(k, st, &e, state);
}

static rt_status nn_conv_plan_hook(rt_kctx *k) { return nn_conv_plan_kind(k, NN_CONV); }
static rt_status nn_depthwise_plan_hook(rt_kctx *k) { return nn_conv_plan_kind(k, NN_DEPTHWISE); }
static rt_status nn_backprop_plan_hook(rt_kctx *k) { return nn_conv_plan_kind(k, NN_BACKPROP); }

static bool nn_dnnl_mm_desc(const nn_mm_params *p, int64_t m, int64_t kk, int64_t n, const float *w,
                            const rt_tensor *bias, const rt_tensor *alpha, const char *name,
                            rt_dnnl_matmul_desc *d) {
  memset(d, 0, sizeof *d);
  if (p->ta)
    return false;
  d->m = m, d->k = kk, d->n = n;
  d->transpose_w = p->tb;
  d->w = w;
  d->name = name;
  if (p->fuse.bias && !(d->bias = nn_dnnl_vec(bias, n)))
    return false;
  d->act = nn_dnnl_act(p->fuse.act);
  d->alpha = (float)p->fuse.alpha;
  if (p->fuse.act == NN_ACT_PRELU && !(d->prelu_alpha = nn_dnnl_vec(alpha, n)))
    return false;
  return true;
}

static rt_status nn_dnnl_pack_mm(rt_graph *g, rt_node *n, nn_mm_params *p, const rt_tensor *w,
                                 rt_error *err) {
  if (!p->use_dnnl)
    return RT_OK;
  int64_t kk = p->tb ? w->dims[1] : w->dims[0], nn = p->tb ? w->dims[0] : w->dims[1];
  rt_dnnl_matmul_desc d;
  if (!nn_dnnl_mm_desc(
          p, 1, kk, nn, w->data, p->fuse.bias ? nn_const_input(g, n, NN_BIAS_INPUT) : NULL,
          p->fuse.act == NN_ACT_PRELU ? nn_const_input(g, n, NN_PRELU_INPUT) : NULL, n->name, &d))
    return RT_OK;
  rt_dnnl_weights *dw = NULL;
  rt_error e = {0};
  rt_status st = rt__dnnl_pack_matmul(g, &d, &dw, &e);
  return nn_dnnl_status(st, &e, err, &p->dnnl, dw);
}

/* a [..., M, K] (not transposed) is one [batch * M, K] matrix against the 2-D constant. */
static rt_status nn_mm_plan_hook(rt_kctx *k) {
  const nn_mm_params *p = k->params;
  k->state = NULL;
  nn_mm_geom geo;
  if (!p || !p->dnnl || !nn_mm_packed(k) || nn_mm_geometry(k, p, &geo) != RT_OK ||
      k->in[0].dtype != RT_DT_F32)
    return RT_OK;
  rt_dnnl_matmul_desc d;
  if (!nn_dnnl_mm_desc(p, geo.batch * geo.M, geo.K, geo.N, p->wsrc,
                       k->n_in > NN_BIAS_INPUT ? &k->in[NN_BIAS_INPUT] : NULL,
                       k->n_in > NN_PRELU_INPUT ? &k->in[NN_PRELU_INPUT] : NULL, k->node->name, &d))
    return RT_OK;
  rt_error e = {0};
  void *state = NULL;
  rt_status st = rt__dnnl_matmul_plan(&d, p->dnnl, rt__threadpool_size(k->tp), &state, &e);
  return nn_dnnl_planned(k, st, &e, state);
}
#endif

/* ---- pack(): constant weights in the kernels' layouts, once per model ---- */

static rt_status nn_pack_conv_like(rt_graph *g, rt_node *n, rt_error *err, nn_kind kind) {
  nn_conv_params *p = n->params;
  if (!p)
    return RT_OK;
  rt_status st = nn_kernels_env(n, &p->use_dnnl, err);
  if (st != RT_OK)
    return st;
  const rt_tensor *w = nn_const_input(g, n, 1);
  if (!nn_packable(w, 4))
    return RT_OK; /* a computed filter is packed per run; a bad one fails at plan time */
  const int64_t *d = w->dims;
  const float *src = w->data;
  float *wp = NULL;
  if (kind == NN_CONV) {
    int64_t K = d[0] * d[1] * d[2], panels = (d[3] + NN_NR - 1) / NN_NR;
    if (!(wp = nn_pack_alloc(g, n, panels * NN_NR * K, err)))
      return RT_ERR_NOMEM;
    nn_pack_b(K, d[3], src, d[3], wp);
  } else if (kind == NN_DEPTHWISE && d[3] == 1) {
    int64_t taps = d[0] * d[1], blocks = (d[2] + NN_NR - 1) / NN_NR;
    if (!(wp = nn_pack_alloc(g, n, blocks * taps * NN_NR, err)))
      return RT_ERR_NOMEM;
    nn_pack_dw(taps, d[2], src, wp);
  } else if (kind == NN_BACKPROP && d[2] >= NN_BP_VEC) {
    if (!(wp = nn_pack_alloc(g, n, d[0] * d[1] * d[2] * d[3], err)))
      return RT_ERR_NOMEM;
    nn_transpose_filter(d[0] * d[1], d[2], d[3], src, wp);
  }
  p->wsrc = src;
  p->wpack = wp; /* oneDNN's layout is packed at the first plan (nn_conv_plan_kind) */
  return RT_OK;
}

static rt_status nn_pack_conv(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_pack_conv_like(g, n, err, NN_CONV);
}
static rt_status nn_pack_depthwise(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_pack_conv_like(g, n, err, NN_DEPTHWISE);
}
static rt_status nn_pack_backprop(rt_graph *g, rt_node *n, rt_error *err) {
  return nn_pack_conv_like(g, n, err, NN_BACKPROP);
}

static rt_status nn_pack_mm(rt_graph *g, rt_node *n, rt_error *err) {
  nn_mm_params *p = n->params;
  if (!p)
    return RT_OK;
  rt_status st = nn_kernels_env(n, &p->use_dnnl, err);
  if (st != RT_OK)
    return st;
  const rt_tensor *w = nn_const_input(g, n, 1);
  if (!nn_packable(w, 2))
    return RT_OK;
  int64_t K = p->tb ? w->dims[1] : w->dims[0], N = p->tb ? w->dims[0] : w->dims[1];
  float *wp = nn_pack_alloc(g, n, (N + NN_NR - 1) / NN_NR * NN_NR * K, err);
  if (!wp)
    return RT_ERR_NOMEM;
  if (p->tb)
    nn_pack_bt(K, N, w->data, wp);
  else
    nn_pack_b(K, N, w->data, N, wp);
  p->wsrc = w->data;
  p->wpack = wp;
#ifdef ORCHARD_HAVE_DNNL
  if ((st = nn_dnnl_pack_mm(g, n, p, w, err)) != RT_OK)
    return st;
#endif
  return RT_OK;
}

/* ---- table ---- */

#ifdef ORCHARD_HAVE_DNNL
#define NN_PLAN(fn) .plan = fn, .unplan = rt__dnnl_free
#else
#define NN_PLAN(fn) .plan = NULL
#endif

#define NN_OP(nm, prep, lo, hi, shp, rn, fl, pk, ...)                                              \
  {                                                                                                \
    .name = nm, .min_inputs = lo, .max_inputs = hi, .n_outputs = 1, .prepare = prep, .shape = shp, \
    .run = rn, .flops = fl, .pack = pk, __VA_ARGS__                                                \
  }

const rt_op_def rt__ops_nn[] = {
    NN_OP("Conv2D", nn_prepare_conv, 2, 2, nn_conv_shape, nn_conv_run, nn_conv_flops, nn_pack_conv,
          NN_PLAN(nn_conv_plan_hook)),
    NN_OP("_FusedConv2D", nn_prepare_fused_conv, 2, 4, nn_conv_shape, nn_conv_run, nn_conv_flops,
          nn_pack_conv, NN_PLAN(nn_conv_plan_hook)),
    NN_OP("DepthwiseConv2dNative", nn_prepare_depthwise, 2, 2, nn_depthwise_shape, nn_depthwise_run,
          nn_depthwise_flops, nn_pack_depthwise, NN_PLAN(nn_depthwise_plan_hook)),
    NN_OP("FusedDepthwiseConv2dNative", nn_prepare_fused_depthwise, 2, 4, nn_depthwise_shape,
          nn_depthwise_run, nn_depthwise_flops, nn_pack_depthwise, NN_PLAN(nn_depthwise_plan_hook)),
    NN_OP("Conv2DBackpropInput", nn_prepare_backprop, 3, 3, nn_backprop_shape, nn_backprop_run,
          nn_backprop_flops, nn_pack_backprop, NN_PLAN(nn_backprop_plan_hook)),
    NN_OP("MaxPool", nn_prepare_pool, 1, 1, nn_pool_shape, nn_maxpool_run, nn_pool_flops, NULL,
          .plan = NULL),
    NN_OP("AvgPool", nn_prepare_pool, 1, 1, nn_pool_shape, nn_avgpool_run, nn_pool_flops, NULL,
          .plan = NULL),
    NN_OP("MatMul", nn_prepare_matmul, 2, 2, nn_mm_shape, nn_mm_run, nn_mm_flops, nn_pack_mm,
          NN_PLAN(nn_mm_plan_hook)),
    NN_OP("_FusedMatMul", nn_prepare_fused_matmul, 2, 4, nn_mm_shape, nn_mm_run, nn_mm_flops,
          nn_pack_mm, NN_PLAN(nn_mm_plan_hook)),
    NN_OP("BatchMatMul", nn_prepare_matmul, 2, 2, nn_mm_shape, nn_mm_run, nn_mm_flops, nn_pack_mm,
          NN_PLAN(nn_mm_plan_hook)),
    NN_OP("BatchMatMulV2", nn_prepare_matmul, 2, 2, nn_mm_shape, nn_mm_run, nn_mm_flops, nn_pack_mm,
          NN_PLAN(nn_mm_plan_hook)),
};
const int rt__ops_nn_count = (int)(sizeof rt__ops_nn / sizeof rt__ops_nn[0]);
