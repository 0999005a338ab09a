/*
 * ops_nn.c — the nn op family: convolutions (Conv2D, _FusedConv2D, DepthwiseConv2dNative,
 * FusedDepthwiseConv2dNative, Conv2DBackpropInput), pooling (MaxPool, AvgPool) and matrix
 * products (MatMul, _FusedMatMul, BatchMatMul, BatchMatMulV2), with TF.js 4.22 CPU semantics.
 *
 * prepare() turns the TF attributes into one params struct per node and rejects what we cannot
 * run. shape() and run() derive the geometry (output size, padding) from the input shapes with
 * the same function, so run() relies only on facts shape() checked. Kernels never allocate:
 * packed filters, im2col tiles and accumulators live in the scratch that shape() asks for.
 *
 * Speed: gcc -O2 only vectorizes loops whose trip count is known, so hot loops run over fixed
 * blocks of NN_NR (8) floats with a scalar tail. Conv2D is an implicit GEMM: tiles of output
 * pixels are gathered (im2col) into scratch and multiplied by the filter, packed into panels of
 * 8 output channels, with an MR x 8 register-blocked micro-kernel; a 1x1 stride-1 NHWC conv
 * uses the input as the GEMM operand directly.
 *
 * Numerics: TF.js's conv kernels add each exact product to a float32 sum with one rounding,
 * which is a fused multiply-add; Conv2D and depthwise sum in TF.js's order (filter row, column,
 * input channel, from 0, never in blocks) with fmaf, so with FMA hardware they give TF.js's
 * bits (without, they agree to rounding). MatMul, AvgPool and Conv2DBackpropInput sum in
 * double in TF.js's order, also bit for bit. Fused ops compute act(product + bias) as TF.js
 * does, activations in double like JS's Math functions.
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

#if defined(__AVX__)
#define NN_MR 8 /* GEMM micro-tile rows: 8 accumulator registers hide the FMA latency */
#else
#define NN_MR 4 /* GEMM micro-tile rows: 8 of 16 SSE registers */
#endif
#define NN_NR 8                          /* GEMM micro-tile columns = SIMD block width */
#define NN_TILE_FLOATS (64 * 1024)       /* im2col tile budget (256 KiB, stays in L2) */
#define NN_MM_BLOCK 48                   /* TF.js cpu backend's matmul blockSize */
#define NN_ATTR_MAX ((int64_t)1 << 30)   /* bound on strides/sizes: products stay < 2^62 */
#define NN_SCRATCH_MAX ((size_t)1 << 34) /* refuse absurd scratch requests */

#if defined(__GNUC__) && !defined(__clang__)
/* Keeps the micro-kernel's accumulators in registers (gcc otherwise spills them). */
#define NN_UNROLL _Pragma("GCC unroll 16")
#else
#define NN_UNROLL
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
} nn_conv_params;

typedef struct nn_mm_params {
  bool ta, tb;
  nn_fuse fuse;
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
  int64_t ts[RT_MAX_RANK] = {0}, phys[RT_MAX_RANK] = {0}, s = 1;
  for (int i = tr - 1; i >= 0; i--) {
    ts[i] = s;
    s *= td[i];
  }
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

/* Applies act(y + bias) to np pixel rows starting at logical pixel p0; row r starts at
 * y + r * ldy and its nc channels step cs. */
static void nn_epilogue(const nn_fuse *f, const nn_fused_ops *fo, float *y, int64_t ldy, int64_t cs,
                        int64_t p0, int64_t np, int64_t nc) {
  if (!f->bias && f->act == NN_ACT_NONE)
    return;
  for (int64_t r = 0; r < np; r++) {
    float *row = y + r * ldy;
    if (f->bias) {
      const nn_operand *b = &fo->bias;
      const float *bp = b->data + nn_operand_base(b, p0 + r);
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
      const float *ap = a->data + nn_operand_base(a, p0 + r);
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

/* ---- GEMM: C = A * B, B packed into panels of NN_NR columns ---- */

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

/* t[MR][8] = rows ar[0..MR) (kc long) times the kc x 8 panel b, summing over k in order from
 * 0. Accumulators start at zero: gcc keeps them in registers only then. */
NN_INLINE void nn_ukernel_impl(bool fused, int64_t kc, const float *const *ar,
                               const float *restrict b, float *restrict t) {
  float c[NN_MR][NN_NR] = {{0}};
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
  for (int r = 0; r < NN_MR; r++)
    for (int j = 0; j < NN_NR; j++)
      t[r * NN_NR + j] = c[r][j];
}

/* Out of line so that its accumulators get registers of their own. */
static NN_NOINLINE void nn_ukernel_portable(int64_t kc, const float *const *ar, const float *b,
                                            float *t) {
  nn_ukernel_impl(NN_PORTABLE_FUSED, kc, ar, b, t);
}

#ifdef NN_FMA_CLONES
NN_FMA_TARGET static NN_NOINLINE void nn_ukernel_fma(int64_t kc, const float *const *ar,
                                                     const float *b, float *t) {
  nn_ukernel_impl(true, kc, ar, b, t);
}
#endif

/* C[M x N] (leading dim ldc) = A[M x K] (leading dim lda) * B, with B from nn_pack_b. Each
 * element is summed over the whole depth in order, from 0, as TF.js's conv does (so no depth
 * blocking): one 8-column panel at a time, swept over all rows of A, which the caller keeps
 * small enough to stay in L2. */
static void nn_gemm(bool fma, int64_t M, int64_t N, int64_t K, const float *a, int64_t lda,
                    const float *bp, float *c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < N; j0 += NN_NR) {
    const float *panel = bp + (j0 / NN_NR) * K * NN_NR;
    int64_t nr = N - j0 < NN_NR ? N - j0 : NN_NR;
    for (int64_t i = 0; i < M; i += NN_MR) {
      int64_t mr = M - i < NN_MR ? M - i : NN_MR;
      const float *ar[NN_MR];
      for (int r = 0; r < NN_MR; r++) /* missing rows repeat row 0; results dropped */
        ar[r] = a + (i + (r < mr ? r : 0)) * lda;
      float t[NN_MR * NN_NR];
#ifdef NN_FMA_CLONES
      if (fma)
        nn_ukernel_fma(K, ar, panel, t);
      else
#endif
        nn_ukernel_portable(K, ar, panel, t);
      for (int64_t r = 0; r < mr; r++)
        memcpy(c + (i + r) * ldc + j0, t + r * NN_NR, (size_t)nr * sizeof *t);
    }
  }
}

/* ---- Conv2D / _FusedConv2D ---- */

typedef struct nn_conv_plan {
  int64_t K, P, mt;
  bool direct; /* 1x1, stride 1, no padding, NHWC: the input is the A matrix */
  size_t bp_off, a_off, c_off, bytes;
} nn_conv_plan;

static rt_status nn_conv_plan_make(const rt_kctx *k, const nn_geom *g, nn_conv_plan *pl) {
  memset(pl, 0, sizeof *pl);
  pl->K = g->kh * g->kw * g->ic;
  pl->P = g->n * g->oh * g->ow;
  pl->direct = !g->nchw && g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 &&
               g->pl == 0 && g->oh == g->ih && g->ow == g->iw;
  int64_t mt = NN_TILE_FLOATS / (pl->K > 0 ? pl->K : 1);
  mt = mt < 16 ? 16 : mt > 512 ? 512 : mt;
  mt &= ~(int64_t)(NN_MR - 1);
  int64_t pr = (pl->P + NN_MR - 1) & ~(int64_t)(NN_MR - 1); /* whole micro-tiles */
  pl->mt = mt < pr ? mt : (pr > 0 ? pr : NN_MR);
  /* Sizes are bounded (dims < 2^31, windows < 2^30) but K * OC can still be huge. */
  double bp = (double)nn_align16((g->oc + NN_NR - 1) / NN_NR * NN_NR * pl->K);
  double a = pl->direct ? 0.0 : (double)nn_align16(pl->mt * pl->K);
  double c = g->nchw ? (double)nn_align16(pl->mt * g->oc) : 0.0;
  if ((bp + a + c) * sizeof(float) > (double)NN_SCRATCH_MAX)
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': convolution too large (filter %lld x %lld)",
                      k->node->name, (long long)pl->K, (long long)g->oc);
  if (pl->P == 0 || g->oc == 0) /* nothing to compute */
    return RT_OK;
  pl->bp_off = 0;
  pl->a_off = (size_t)bp * sizeof(float);
  pl->c_off = pl->a_off + (size_t)a * sizeof(float);
  pl->bytes = pl->c_off + (size_t)c * sizeof(float);
  if (pl->bytes < 64) /* no input channels: keep the region pointers non-NULL */
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

/* Gathers the receptive fields of output pixels p0..p0+mt into rows of K = kh*kw*ic floats
 * (zeros where the window hangs over the padding). */
static void nn_im2col(const nn_geom *g, const float *x, int64_t p0, int64_t mt, float *a) {
  int64_t K = g->kh * g->kw * g->ic, ic = g->ic;
  int64_t xs_n = g->ih * g->iw * ic, xs_h, xs_w, xs_c;
  if (g->nchw)
    xs_c = g->ih * g->iw, xs_h = g->iw, xs_w = 1;
  else
    xs_c = 1, xs_h = g->iw * ic, xs_w = ic;
  int64_t ohw = g->oh * g->ow;
  for (int64_t r = 0; r < mt; r++) {
    int64_t p = p0 + r, b = p / ohw, rem = p % ohw, oy = rem / g->ow, ox = rem % g->ow;
    float *row = a + r * K;
    const float *xb = x + b * xs_n;
    for (int64_t kr = 0; kr < g->kh; kr++) {
      int64_t iy = oy * g->sh - g->pt + kr * g->dh;
      float *dst = row + kr * g->kw * ic;
      if (iy < 0 || iy >= g->ih) {
        memset(dst, 0, (size_t)(g->kw * ic) * sizeof *dst);
        continue;
      }
      for (int64_t kc = 0; kc < g->kw; kc++, dst += ic) {
        int64_t ix = ox * g->sw - g->pl + kc * g->dw;
        if (ix < 0 || ix >= g->iw) {
          memset(dst, 0, (size_t)ic * sizeof *dst);
          continue;
        }
        const float *src = xb + iy * xs_h + ix * xs_w;
        if (xs_c == 1)
          memcpy(dst, src, (size_t)ic * sizeof *dst);
        else
          for (int64_t c = 0; c < ic; c++)
            dst[c] = src[c * xs_c];
      }
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
  if (pl.P == 0 || g.oc == 0)
    return RT_OK;
  if (k->scratch_bytes < pl.bytes || !k->scratch)
    return rt__errorf(k->err, RT_ERR_INTERNAL, "node '%s': scratch too small", k->node->name);
  const nn_conv_params *p = k->params;
  const float *x = k->in[0].data;
  float *y = k->out[0].data;
  unsigned char *s = k->scratch;
  float *bp = (float *)(s + pl.bp_off), *at = (float *)(s + pl.a_off);
  float *ct = (float *)(s + pl.c_off);
  int64_t oc = g.oc, ohw = g.oh * g.ow;
  bool fma = nn_use_fma();
  /* The HWIO filter is already the K x OC matrix B. */
  nn_pack_b(pl.K, oc, k->in[1].data, oc, bp);
  for (int64_t p0 = 0; p0 < pl.P; p0 += pl.mt) {
    int64_t mt = pl.P - p0 < pl.mt ? pl.P - p0 : pl.mt;
    const float *a = at;
    if (pl.direct)
      a = x + p0 * g.ic;
    else
      nn_im2col(&g, x, p0, mt, at);
    float *c = g.nchw ? ct : y + p0 * oc;
    nn_gemm(fma, mt, oc, pl.K, a, pl.direct ? g.ic : pl.K, bp, c, oc);
    nn_epilogue(&p->fuse, &fo, c, oc, 1, p0, mt, oc);
    if (g.nchw) {
      for (int64_t r = 0; r < mt; r++) {
        int64_t pp = p0 + r, b = pp / ohw, sp = pp % ohw;
        float *dst = y + b * oc * ohw + sp;
        for (int64_t ch = 0; ch < oc; ch++)
          dst[ch * ohw] = c[r * oc + ch];
      }
    }
  }
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

/* One filter tap of a depthwise pixel: y[c*m + q] += x[c] * w[c*m + q]. */
NN_INLINE void nn_dw_tap_impl(bool fused, float *restrict y, const float *restrict x,
                              const float *restrict w, int64_t ic, int64_t m) {
  if (m == 1) {
    int64_t i = 0;
    for (; i + NN_NR <= ic; i += NN_NR)
      for (int j = 0; j < NN_NR; j++)
        y[i + j] = nn_mac(fused, y[i + j], x[i + j], w[i + j]);
    for (; i < ic; i++)
      y[i] = nn_mac(fused, y[i], x[i], w[i]);
    return;
  }
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
  nn_dw_tap_portable(y, x, w, ic, m);
}

static rt_status nn_depthwise_run(rt_kctx *k) {
  nn_geom g;
  nn_fused_ops fo;
  rt_status st;
  if ((st = nn_conv_common(k, NN_DEPTHWISE, &g, &fo)) != RT_OK)
    return st;
  const nn_conv_params *p = k->params;
  const float *x = k->in[0].data, *w = k->in[1].data;
  float *y = k->out[0].data;
  int64_t ic = g.ic, oc = g.oc, m = g.mult, ohw = g.oh * g.ow;
  bool fma = nn_use_fma();
  if (!g.nchw) {
    for (int64_t b = 0; b < g.n; b++)
      for (int64_t oy = 0; oy < g.oh; oy++)
        for (int64_t ox = 0; ox < g.ow; ox++) {
          int64_t pix = (b * g.oh + oy) * g.ow + ox;
          float *row = y + pix * oc;
          memset(row, 0, (size_t)oc * sizeof *row);
          /* Taps in TF.js's order (filter row, then column), each adding x * w per channel. */
          for (int64_t kr = 0; kr < g.kh; kr++) {
            int64_t iy = oy * g.sh - g.pt + kr * g.dh;
            if (iy < 0 || iy >= g.ih)
              continue;
            for (int64_t kc = 0; kc < g.kw; kc++) {
              int64_t ix = ox * g.sw - g.pl + kc * g.dw;
              if (ix < 0 || ix >= g.iw)
                continue;
              const float *xr = x + ((b * g.ih + iy) * g.iw + ix) * ic;
              const float *wr = w + (kr * g.kw + kc) * oc;
              nn_dw_tap(fma, row, xr, wr, ic, m);
            }
          }
          nn_epilogue(&p->fuse, &fo, row, oc, 1, pix, 1, oc);
        }
    return RT_OK;
  }
  for (int64_t b = 0; b < g.n; b++) {
    for (int64_t c = 0; c < ic; c++)
      for (int64_t q = 0; q < m; q++) {
        const float *xp = x + (b * ic + c) * g.ih * g.iw;
        float *yp = y + (b * oc + c * m + q) * ohw;
        for (int64_t oy = 0; oy < g.oh; oy++)
          for (int64_t ox = 0; ox < g.ow; ox++) {
            float acc = 0.0f;
            for (int64_t kr = 0; kr < g.kh; kr++) {
              int64_t iy = oy * g.sh - g.pt + kr * g.dh;
              if (iy < 0 || iy >= g.ih)
                continue;
              for (int64_t kc = 0; kc < g.kw; kc++) {
                int64_t ix = ox * g.sw - g.pl + kc * g.dw;
                if (ix >= 0 && ix < g.iw)
                  acc = fma ? fmaf(xp[iy * g.iw + ix], w[(kr * g.kw + kc) * oc + c * m + q], acc)
                            : acc + xp[iy * g.iw + ix] * w[(kr * g.kw + kc) * oc + c * m + q];
              }
            }
            yp[oy * g.ow + ox] = acc;
          }
      }
    nn_epilogue(&p->fuse, &fo, y + b * oc * ohw, 1, ohw, b * ohw, ohw, oc);
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

static rt_status nn_maxpool_shape(rt_kctx *k) {
  nn_geom g;
  return nn_pool_common(k, &g);
}

static rt_status nn_avgpool_shape(rt_kctx *k) {
  nn_geom g;
  rt_status st = nn_pool_common(k, &g);
  if (st == RT_OK && !g.nchw)
    k->scratch_bytes = (size_t)g.ic * sizeof(double);
  return st;
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

static rt_status nn_pool_run(rt_kctx *k, bool avg) {
  nn_geom g;
  rt_status st;
  if ((st = nn_pool_common(k, &g)) != RT_OK)
    return st;
  const float *x = k->in[0].data;
  float *y = k->out[0].data;
  int64_t c = g.ic, ohw = g.oh * g.ow;
  if (g.n * ohw * c == 0)
    return RT_OK;
  if (!g.nchw) {
    double *acc = k->scratch;
    if (avg && (!acc || k->scratch_bytes < (size_t)c * sizeof *acc))
      return rt__errorf(k->err, RT_ERR_INTERNAL, "node '%s': scratch too small", k->node->name);
    for (int64_t b = 0; b < g.n; b++)
      for (int64_t oy = 0; oy < g.oh; oy++)
        for (int64_t ox = 0; ox < g.ow; ox++) {
          int64_t y0, y1, x0, x1;
          nn_pool_window(&g, oy, ox, &y0, &y1, &x0, &x1);
          float *row = y + ((b * g.oh + oy) * g.ow + ox) * c;
          if (avg) {
            memset(acc, 0, (size_t)c * sizeof *acc);
            for (int64_t iy = y0; iy < y1; iy++)
              for (int64_t ix = x0; ix < x1; ix++)
                nn_row_sum_d(acc, x + ((b * g.ih + iy) * g.iw + ix) * c, c);
            /* An empty window gives 0/0 = NaN, as in TF.js. */
            double cnt = (double)((y1 > y0 ? y1 - y0 : 0) * (x1 > x0 ? x1 - x0 : 0));
            for (int64_t i = 0; i < c; i++)
              row[i] = (float)(acc[i] / cnt);
          } else {
            for (int64_t i = 0; i < c; i++)
              row[i] = -INFINITY;
            for (int64_t iy = y0; iy < y1; iy++)
              for (int64_t ix = x0; ix < x1; ix++)
                nn_row_max(row, x + ((b * g.ih + iy) * g.iw + ix) * c, c);
          }
        }
    return RT_OK;
  }
  for (int64_t pl = 0; pl < g.n * c; pl++) {
    const float *xp = x + pl * g.ih * g.iw;
    float *yp = y + pl * ohw;
    for (int64_t oy = 0; oy < g.oh; oy++)
      for (int64_t ox = 0; ox < g.ow; ox++) {
        int64_t y0, y1, x0, x1;
        nn_pool_window(&g, oy, ox, &y0, &y1, &x0, &x1);
        double sum = 0.0;
        float mx = -INFINITY;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) {
            float v = xp[iy * g.iw + ix];
            sum += (double)v;
            mx = v > mx ? v : mx;
          }
        double cnt = (double)((y1 > y0 ? y1 - y0 : 0) * (x1 > x0 ? x1 - x0 : 0));
        yp[oy * g.ow + ox] = avg ? (float)(sum / cnt) : mx;
      }
  }
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

static size_t nn_backprop_scratch(const nn_geom *g) {
  return (size_t)nn_align16(g->kh * g->kw * g->ic * g->oc) * sizeof(float) +
         (size_t)g->ic * sizeof(double);
}

static rt_status nn_backprop_shape(rt_kctx *k) {
  nn_geom g;
  int64_t xd[4];
  int xrank;
  rt_status st = nn_backprop_common(k, &g, xd, &xrank);
  if (st != RT_OK)
    return st;
  if ((double)nn_backprop_scratch(&g) > (double)NN_SCRATCH_MAX)
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': filter too large", k->node->name);
  if ((st = nn_set_out(k, xrank, xd)) != RT_OK)
    return st;
  k->scratch_bytes = nn_backprop_scratch(&g);
  return RT_OK;
}

static int64_t nn_ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
static int64_t nn_floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* y[i] += v * (double)w[i] */
static void nn_row_axpy_d(double *restrict y, double v, const float *restrict w, int64_t n) {
  int64_t i = 0;
  for (; i + NN_NR <= n; i += NN_NR)
    for (int j = 0; j < NN_NR; j++)
      y[i + j] += v * (double)w[i + j];
  for (; i < n; i++)
    y[i] += v * (double)w[i];
}

static rt_status nn_backprop_run(rt_kctx *k) {
  nn_geom g;
  int64_t xd[4];
  int xrank;
  rt_status st = nn_backprop_common(k, &g, xd, &xrank);
  if (st != RT_OK)
    return st;
  int64_t c1 = g.ic, c2 = g.oc, kh = g.kh, kw = g.kw;
  if (g.n * g.ih * g.iw * c1 == 0)
    return RT_OK;
  if (!k->scratch || k->scratch_bytes < nn_backprop_scratch(&g))
    return rt__errorf(k->err, RT_ERR_INTERNAL, "node '%s': scratch too small", k->node->name);
  const float *w = k->in[1].data, *dy = k->in[2].data;
  float *dx = k->out[0].data;
  /* Filter transposed to [kh][kw][c2][c1] so the inner loop runs over result channels. */
  float *wt = k->scratch;
  double *acc = (double *)((unsigned char *)k->scratch +
                           (size_t)nn_align16(kh * kw * c1 * c2) * sizeof(float));
  for (int64_t t = 0; t < kh * kw; t++)
    for (int64_t a = 0; a < c1; a++)
      for (int64_t b = 0; b < c2; b++)
        wt[(t * c2 + b) * c1 + a] = w[(t * c1 + a) * c2 + b];
  int64_t ys_n, ys_h, ys_w, ys_c, xs_n, xs_h, xs_w, xs_c;
  ys_n = g.oh * g.ow * c2, xs_n = g.ih * g.iw * c1;
  if (g.nchw) {
    ys_c = g.oh * g.ow, ys_h = g.ow, ys_w = 1;
    xs_c = g.ih * g.iw, xs_h = g.iw, xs_w = 1;
  } else {
    ys_c = 1, ys_h = g.ow * c2, ys_w = c2;
    xs_c = 1, xs_h = g.iw * c1, xs_w = c1;
  }
  /* TF.js's gather order: for each result pixel, dy rows, dy columns, then dy channels, all
   * summed in double — hence bit-identical results. */
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t xr = 0; xr < g.ih; xr++) {
      int64_t rc = xr + g.pt; /* dy row yr covers xr with filter row xr + pt - yr * sh */
      int64_t yr0 = nn_ceil_div(rc - kh + 1, g.sh), yr1 = nn_floor_div(rc, g.sh);
      yr0 = yr0 < 0 ? 0 : yr0;
      yr1 = yr1 >= g.oh ? g.oh - 1 : yr1;
      for (int64_t xc = 0; xc < g.iw; xc++) {
        int64_t cc = xc + g.pl;
        int64_t yc0 = nn_ceil_div(cc - kw + 1, g.sw), yc1 = nn_floor_div(cc, g.sw);
        yc0 = yc0 < 0 ? 0 : yc0;
        yc1 = yc1 >= g.ow ? g.ow - 1 : yc1;
        memset(acc, 0, (size_t)c1 * sizeof *acc);
        for (int64_t yr = yr0; yr <= yr1; yr++)
          for (int64_t yc = yc0; yc <= yc1; yc++) {
            int64_t fr = rc - yr * g.sh, fc = cc - yc * g.sw;
            const float *wb = wt + (fr * kw + fc) * c2 * c1;
            const float *dp = dy + b * ys_n + yr * ys_h + yc * ys_w;
            for (int64_t d2 = 0; d2 < c2; d2++)
              nn_row_axpy_d(acc, (double)dp[d2 * ys_c], wb + d2 * c1, c1);
          }
        float *xp = dx + b * xs_n + xr * xs_h + xc * xs_w;
        for (int64_t d1 = 0; d1 < c1; d1++)
          xp[d1 * xs_c] = (float)acc[d1];
      }
    }
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
  int64_t sa = g->M * g->K, sbb = g->K * g->N;
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
    sa *= da;
    sbb *= db;
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

/* Float products without transpose_b accumulate one output row of doubles. */
static size_t nn_mm_scratch(const nn_mm_params *p, const nn_mm_geom *g, rt_dtype dt) {
  return dt == RT_DT_F32 && !p->tb ? (size_t)nn_align16(g->N) * sizeof(double) : 0;
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
  if ((double)nn_mm_scratch(p, g, k->in[0].dtype) > (double)NN_SCRATCH_MAX)
    return rt__errorf(k->err, RT_ERR_SHAPE, "node '%s': operands too large", k->node->name);
  rt__set_shape(&k->out[0], k->in[0].dtype, g->out_rank, g->od);
  return RT_OK;
}

static rt_status nn_mm_shape(rt_kctx *k) {
  nn_mm_geom g;
  nn_fused_ops fo;
  rt_status st = nn_mm_common(k, &g, &fo);
  if (st == RT_OK)
    k->scratch_bytes = nn_mm_scratch(k->params, &g, k->in[0].dtype);
  return st;
}

/* One float matrix product, as TF.js's batchMatMul: per output row, k in blocks of 48 summed in
 * double, each block's sum added to the float32 result. a is read as a[i*ars + k*aks]; b is
 * K x N row-major. */
static void nn_mm_f32(int64_t M, int64_t N, int64_t K, const float *a, int64_t ars, int64_t aks,
                      const float *b, float *c, double *acc) {
  for (int64_t i = 0; i < M; i++) {
    float *crow = c + i * N;
    memset(crow, 0, (size_t)N * sizeof *crow);
    for (int64_t k0 = 0; k0 < K; k0 += NN_MM_BLOCK) {
      int64_t k1 = K - k0 < NN_MM_BLOCK ? K : k0 + NN_MM_BLOCK;
      memset(acc, 0, (size_t)N * sizeof *acc);
      for (int64_t kk = k0; kk < k1; kk++)
        nn_row_axpy_d(acc, (double)a[i * ars + kk * aks], b + kk * N, N);
      for (int64_t j = 0; j < N; j++)
        crow[j] = (float)((double)crow[j] + acc[j]);
    }
  }
}

/* The same with b given as N x K (transpose_b): each output is a dot product of two contiguous
 * rows, still in blocks of 48 summed in order; four outputs at a time for ILP. */
static void nn_mm_f32_tb(int64_t M, int64_t N, int64_t K, const float *a, int64_t ars, int64_t aks,
                         const float *b, float *c) {
  for (int64_t i = 0; i < M; i++) {
    float *crow = c + i * N;
    const float *ar = a + i * ars;
    int64_t j = 0;
    for (; j + 4 <= N; j += 4) {
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
    for (; j < N; j++) {
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
static void nn_mm_i32(int64_t M, int64_t N, int64_t K, const int32_t *a, int64_t ars, int64_t aks,
                      const int32_t *b, int64_t bks, int64_t bns, int32_t *c) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      uint32_t s = 0;
      for (int64_t kk = 0; kk < K; kk++)
        s += (uint32_t)a[i * ars + kk * aks] * (uint32_t)b[kk * bks + j * bns];
      c[i * N + j] = (int32_t)s;
    }
}

static rt_status nn_mm_run(rt_kctx *k) {
  nn_mm_geom g;
  nn_fused_ops fo;
  rt_status st = nn_mm_common(k, &g, &fo);
  if (st != RT_OK)
    return st;
  const nn_mm_params *p = k->params;
  int64_t M = g.M, N = g.N, K = g.K;
  if (g.batch * M * N == 0)
    return RT_OK;
  bool f32 = k->in[0].dtype == RT_DT_F32;
  if (f32 && !p->tb && (!k->scratch || k->scratch_bytes < nn_mm_scratch(p, &g, RT_DT_F32)))
    return rt__errorf(k->err, RT_ERR_INTERNAL, "node '%s': scratch too small", k->node->name);
  double *acc = k->scratch;
  int64_t ars = p->ta ? 1 : K, aks = p->ta ? M : 1;
  for (int64_t bi = 0; bi < g.batch; bi++) {
    int64_t oa = 0, ob = 0, rem = bi;
    for (int i = g.nb - 1; i >= 0; i--) {
      int64_t idx = rem % g.bdims[i];
      rem /= g.bdims[i];
      oa += idx * g.sa[i];
      ob += idx * g.sb[i];
    }
    if (f32) {
      const float *a = (const float *)k->in[0].data + oa;
      const float *b = (const float *)k->in[1].data + ob;
      float *c = (float *)k->out[0].data + bi * M * N;
      if (p->tb)
        nn_mm_f32_tb(M, N, K, a, ars, aks, b, c);
      else
        nn_mm_f32(M, N, K, a, ars, aks, b, c, acc);
    } else {
      const int32_t *a = (const int32_t *)k->in[0].data + oa;
      const int32_t *b = (const int32_t *)k->in[1].data + ob;
      nn_mm_i32(M, N, K, a, ars, aks, b, p->tb ? 1 : N, p->tb ? K : 1,
                (int32_t *)k->out[0].data + bi * M * N);
    }
  }
  if (f32)
    nn_epilogue(&p->fuse, &fo, k->out[0].data, N, 1, 0, g.batch * M, N);
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

/* ---- table ---- */

#define NN_OP(nm, prep, lo, hi, shp, rn, fl)                                                       \
  {                                                                                                \
    .name = nm, .min_inputs = lo, .max_inputs = hi, .n_outputs = 1, .prepare = prep, .shape = shp, \
    .run = rn, .flops = fl                                                                         \
  }

const rt_op_def rt__ops_nn[] = {
    NN_OP("Conv2D", nn_prepare_conv, 2, 2, nn_conv_shape, nn_conv_run, nn_conv_flops),
    NN_OP("_FusedConv2D", nn_prepare_fused_conv, 2, 4, nn_conv_shape, nn_conv_run, nn_conv_flops),
    NN_OP("DepthwiseConv2dNative", nn_prepare_depthwise, 2, 2, nn_depthwise_shape, nn_depthwise_run,
          nn_depthwise_flops),
    NN_OP("FusedDepthwiseConv2dNative", nn_prepare_fused_depthwise, 2, 4, nn_depthwise_shape,
          nn_depthwise_run, nn_depthwise_flops),
    NN_OP("Conv2DBackpropInput", nn_prepare_backprop, 3, 3, nn_backprop_shape, nn_backprop_run,
          nn_backprop_flops),
    NN_OP("MaxPool", nn_prepare_pool, 1, 1, nn_maxpool_shape, nn_maxpool_run, nn_pool_flops),
    NN_OP("AvgPool", nn_prepare_pool, 1, 1, nn_avgpool_shape, nn_avgpool_run, nn_pool_flops),
    NN_OP("MatMul", nn_prepare_matmul, 2, 2, nn_mm_shape, nn_mm_run, nn_mm_flops),
    NN_OP("_FusedMatMul", nn_prepare_fused_matmul, 2, 4, nn_mm_shape, nn_mm_run, nn_mm_flops),
    NN_OP("BatchMatMul", nn_prepare_matmul, 2, 2, nn_mm_shape, nn_mm_run, nn_mm_flops),
    NN_OP("BatchMatMulV2", nn_prepare_matmul, 2, 2, nn_mm_shape, nn_mm_run, nn_mm_flops),
};
const int rt__ops_nn_count = (int)(sizeof rt__ops_nn / sizeof rt__ops_nn[0]);
