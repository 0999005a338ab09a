/*
 * ops_math.c — the math op family: elementwise binary ops with numpy broadcasting, comparisons
 * and logic, Select, AddN, Cast, ClipByValue, unary math and activations, reductions (Sum, Mean,
 * Max, Min, Prod, All, Any, ArgMax, ArgMin) and Softmax / LogSoftmax over the last axis.
 *
 * Numerics follow TensorFlow.js 4.22's CPU backend, which computes every element in JS doubles
 * and stores it into a Float32Array or Int32Array: a float32 result is the double result rounded
 * once, an int32 result wraps like JS ToInt32 (truncate, modulo 2^32, NaN and ±Inf become 0).
 * Kernels use float arithmetic where that rounds the same (+ - * /, compares), double where it
 * would not (FloorDiv, FloorMod, Pow, SquaredDifference, every reduction's accumulator), libm
 * floats for most transcendental functions (an ulp or so from TF.js), and libm-free exp and tanh
 * (within 2 ulp) that gcc can vectorize for Exp, Sigmoid, Tanh and the softmaxes (given
 * -fno-trapping-math; see vexpf). Dtype rules are TF.js's too: mixed operand
 * dtypes are upcast bool < int32 < float32 (makeTypesMatch), Div of int32 is floor division,
 * FloorDiv always yields int32, Mean yields float32, Sum/Prod of bool yield int32.
 *
 * Binary and ternary ops share one broadcast walker: it drops size-1 output dims, merges
 * neighbouring dims that broadcast the same way for every operand, and calls an inner loop per
 * output row in which each operand is either contiguous or one repeated element; short rows
 * repeated along the next dim (a bias of a few channels) are tiled so one call covers many rows.
 * Same-shape, scalar and per-channel operands therefore run as one or a few long loops. An
 * operand whose dtype differs from the compute dtype is converted into scratch first.
 *
 * Invariants: shape() checks dtypes, broadcast compatibility, axes and element counts and names
 * the node when they are wrong; run() only recomputes cheap derived facts (compute dtype,
 * reduction mask), trusts the rest and never allocates: conversions and reduction accumulators
 * live in the scratch that shape() asked for.
 */
#include "../ops.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Blocks a loop by 8 so that gcc -O2 (whose cheap cost model refuses loops needing an
 * epilogue) vectorizes the fixed-count inner loop; the tail runs scalar. */
#define VLOOP(n, ...)                                                                              \
  do {                                                                                             \
    int64_t i_ = 0;                                                                                \
    for (; i_ + 8 <= (n); i_ += 8)                                                                 \
      for (int j_ = 0; j_ < 8; j_++) {                                                             \
        const int64_t i = i_ + j_;                                                                 \
        __VA_ARGS__                                                                                \
      }                                                                                            \
    for (int64_t i = i_; i < (n); i++) {                                                           \
      __VA_ARGS__                                                                                  \
    }                                                                                              \
  } while (0)

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static rt_status op_error(const rt_kctx *k, rt_status code, const char *what) {
  return rt__errorf(k->err, code, "node '%s' (%s): %s", k->node->name, k->node->op_name, what);
}

static rt_status dtype_error(const rt_kctx *k, const char *which, rt_dtype t) {
  return rt__errorf(k->err, RT_ERR_INVALID_ARG, "node '%s' (%s): %s of dtype %s is not supported",
                    k->node->name, k->node->op_name, which, rt_dtype_name(t));
}

static bool numeric(rt_dtype t) { return t == RT_DT_F32 || t == RT_DT_I32 || t == RT_DT_BOOL; }

/* TF.js upcastType for the dtypes we have: bool < int32 < float32. */
static rt_dtype upcast(rt_dtype a, rt_dtype b) {
  if (a == RT_DT_F32 || b == RT_DT_F32)
    return RT_DT_F32;
  if (a == RT_DT_I32 || b == RT_DT_I32)
    return RT_DT_I32;
  return RT_DT_BOOL;
}

/* ---- JS number semantics ---- */

/* ToInt32: what storing a double into an Int32Array does. */
static inline int32_t js_i32(double d) {
  if (d >= -2147483648.0 && d < 2147483648.0)
    return (int32_t)d;
  if (!isfinite(d))
    return 0;
  double m = fmod(trunc(d), 4294967296.0);
  if (m < 0)
    m += 4294967296.0;
  return (int32_t)(uint32_t)m;
}

static inline int32_t wrap64(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }

/* int32 * int32 as JS does it: the double product loses bits beyond 2^53 before wrapping. */
static inline int32_t js_mul_i32(int32_t a, int32_t b) {
  int64_t p = (int64_t)a * b;
  if (p >= -(INT64_C(1) << 53) && p <= (INT64_C(1) << 53))
    return wrap64(p);
  return js_i32((double)a * (double)b);
}

/* Math.floor(a / b) into an Int32Array; the double quotient of two int32s never rounds across an
 * integer, so exact integer floor division gives the same answer. b == 0 gives ±Inf/NaN -> 0. */
static inline int32_t js_floordiv_i32(int32_t a, int32_t b) {
  if (b == 0)
    return 0;
  int64_t q = (int64_t)a / b, r = (int64_t)a % b;
  if (r != 0 && ((a < 0) != (b < 0)))
    q--;
  return wrap64(q);
}

/* TF.js Mod: JS % (C fmod) then shifted into the divisor's sign. */
static inline double js_mod(double a, double b) {
  double r = fmod(a, b);
  if ((a < 0 && b < 0) || (a >= 0 && b >= 0))
    return r;
  return fmod(r + b, b);
}

static inline int32_t js_mod_i32(int32_t a, int32_t b) {
  if (b == 0)
    return 0; /* NaN */
  int64_t r = (int64_t)a % b;
  if ((a < 0 && b < 0) || (a >= 0 && b >= 0))
    return wrap64(r);
  return wrap64((r + b) % b);
}

/* Math.pow differs from C pow on a NaN exponent and on (±1) ** ±Infinity: both NaN in JS. */
static inline double js_pow(double a, double b) {
  if (b != b || (isinf(b) && fabs(a) == 1.0))
    return NAN;
  return pow(a, b);
}

static inline float f32_from_bits(int32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static inline int32_t bits_from_f32(float f) {
  int32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* x < 0 ? neg : pos, decided on the sign bit with integer ops: a float compare-and-select is
 * turned back into a branch under -ftrapping-math and stops vectorization. The answers differ
 * from `x < 0` only for -0 and negative NaNs, where neg and pos (x * alpha vs x) are equal or
 * both NaN. */
static inline float sel_neg(float x, float neg, float pos) {
  int32_t m = bits_from_f32(x) >> 31;
  return f32_from_bits((bits_from_f32(neg) & m) | (bits_from_f32(pos) & ~m));
}

/* exp without a libm call so loops over it can vectorize (at -O2 only with -fno-trapping-math:
 * under -ftrapping-math gcc keeps the clamps as branches): round-to-nearest range reduction by
 * ln 2 (the integer read from the float's bits, so no float->int conversion) and the Cephes
 * degree-6 polynomial, within ~1 ulp of exp on the normal range; the 2^n scale is applied in two
 * halves so that results near FLT_MAX and subnormal results come out right. NaN propagates
 * through the clamps, +Inf -> +Inf, -Inf -> 0. */
static inline float vexpf(float x) {
  float xc = x > 89.0f ? 89.0f : x;
  xc = xc < -104.0f ? -104.0f : xc;
  float t = xc * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23: rounds to an integer */
  int32_t n = (int32_t)((uint32_t)bits_from_f32(t) - 0x4B400000u);
  float fn = t - 12582912.0f;
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float z = r * r;
  float y = 1.9875691500e-4f; /* Horner */
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  int32_t n1 = n >> 1, n2 = n - n1;
  return y * f32_from_bits((int32_t)((uint32_t)(n1 + 127) << 23)) *
         f32_from_bits((int32_t)((uint32_t)(n2 + 127) << 23));
}

/* tanh from vexpf (Cephes tanhf): an odd polynomial below |x| = 0.625, 1 - 2 / (exp(2|x|) + 1)
 * above; within ~2 ulp of tanh. */
static inline float vtanhf(float x) {
  float ax = fabsf(x), z = x * x;
  float p = -5.70498872745e-3f; /* Horner in x^2 */
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = p * z * x + x;
  float big = 1.0f - 2.0f / (vexpf(2.0f * ax) + 1.0f);
  big = f32_from_bits(bits_from_f32(big) | (bits_from_f32(x) & INT32_MIN)); /* sign of x */
  return ax < 0.625f ? small : (x == x ? big : x);
}

/* 1 / (1 + exp(-x)) as e / (1 + e) with e = exp(-|x|) for negative x, which keeps the tiny
 * (down to subnormal) results TF.js's double formula gives where exp(-x) overflows. */
static inline float vsigmoidf(float x) {
  float e = vexpf(-fabsf(x)), s = 1.0f / (1.0f + e);
  return sel_neg(x, e * s, s);
}

/* Conversion between dtypes as TF.js's Cast does it (also used for makeTypesMatch). */
static void convert(const void *src, rt_dtype st, void *dst, rt_dtype dt, int64_t n) {
  if (st == dt) {
    memcpy(dst, src, (size_t)n * rt_dtype_size(st));
    return;
  }
  if (st == RT_DT_F32) {
    const float *s = src;
    if (dt == RT_DT_I32) {
      int32_t *d = dst;
      for (int64_t i = 0; i < n; i++)
        d[i] = js_i32(s[i]);
    } else {
      uint8_t *d = dst;
      VLOOP(n, { d[i] = s[i] != 0.0f; }); /* NaN != 0: true, as notEqual(x, 0) */
    }
  } else if (st == RT_DT_I32) {
    const int32_t *s = src;
    if (dt == RT_DT_F32) {
      float *d = dst;
      VLOOP(n, { d[i] = (float)s[i]; });
    } else {
      uint8_t *d = dst;
      VLOOP(n, { d[i] = s[i] != 0; });
    }
  } else {
    const uint8_t *s = src;
    if (dt == RT_DT_F32) {
      float *d = dst;
      VLOOP(n, { d[i] = s[i] ? 1.0f : 0.0f; });
    } else {
      int32_t *d = dst;
      VLOOP(n, { d[i] = s[i] ? 1 : 0; });
    }
  }
}

static size_t conv_bytes(const rt_tensor *t, rt_dtype ct) {
  return t->dtype == ct ? 0 : align64((size_t)rt_tensor_numel(t) * rt_dtype_size(ct));
}

/* Returns t's data as dtype ct, converting into *scratch (advanced past it) when needed. */
static const void *as_dtype(const rt_tensor *t, rt_dtype ct, char **scratch) {
  if (t->dtype == ct)
    return t->data;
  void *d = *scratch;
  convert(t->data, t->dtype, d, ct, rt_tensor_numel(t));
  *scratch += conv_bytes(t, ct);
  return d;
}

/* ---- broadcast walker ---- */

#define BC_MAX_IN 3

typedef struct bcast {
  int nd, nin;
  int64_t dims[RT_MAX_RANK];
  int64_t st[BC_MAX_IN][RT_MAX_RANK]; /* element strides, 0 where the operand broadcasts */
} bcast;

/* Inner loop over one output row: p[k] is operand k's first element, s[k] its stride (0/1). */
typedef void (*bc_inner)(const void *const *p, const int64_t *s, void *o, int64_t n,
                         const void *ctx);

static void bcast_init(bcast *bc, const rt_tensor *out, const rt_tensor *const *in, int nin) {
  bool flag[RT_MAX_RANK][BC_MAX_IN];
  int nd = 0;
  bc->nin = nin;
  for (int i = 0; i < out->rank; i++) {
    int64_t d = out->dims[i];
    if (d == 1)
      continue;
    bool f[BC_MAX_IN];
    bool same = nd > 0;
    for (int k = 0; k < nin; k++) {
      int off = out->rank - in[k]->rank;
      f[k] = (i >= off ? in[k]->dims[i - off] : 1) == 1;
      same = same && f[k] == flag[nd - 1][k];
    }
    if (same) {
      bc->dims[nd - 1] *= d;
    } else {
      for (int k = 0; k < nin; k++)
        flag[nd][k] = f[k];
      bc->dims[nd++] = d;
    }
  }
  if (nd == 0) { /* a single element */
    bc->dims[nd] = 1;
    for (int k = 0; k < nin; k++)
      flag[nd][k] = false;
    nd = 1;
  }
  bc->nd = nd;
  for (int k = 0; k < nin; k++) {
    int64_t s = 1;
    for (int j = nd - 1; j >= 0; j--) {
      bc->st[k][j] = flag[j][k] ? 0 : s;
      if (!flag[j][k])
        s *= bc->dims[j];
    }
  }
}

/* Short rows (a few channels) would cost a call per row. When every operand is either contiguous
 * across the last two dims or repeats one row along dim nd-2 (x[N, H, W, C] + bias[C]), up to
 * BC_TILE bytes of rows go to one call, the repeating operands tiled on the stack. */
#define BC_TILE 1024

static bool bcast_fusable(const bcast *bc, const size_t *esz) {
  int nd = bc->nd;
  int64_t inner = bc->dims[nd - 1];
  if (nd < 2)
    return false;
  for (int k = 0; k < bc->nin; k++)
    if (bc->st[k][nd - 1] != 1 || (bc->st[k][nd - 2] != inner && bc->st[k][nd - 2] != 0) ||
        inner * (int64_t)esz[k] * 8 > BC_TILE)
      return false;
  return true;
}

static void bcast_run(const bcast *bc, const void *const *in, const size_t *esz, void *out,
                      size_t osz, bc_inner fn, const void *ctx) {
  bool fuse = bcast_fusable(bc, esz);
  int nd = bc->nd, nl = fuse ? 2 : 1; /* dims handled inside one step */
  int64_t inner = bc->dims[nd - 1], outer = 1;
  for (int d = 0; d < nd - nl; d++)
    outer *= bc->dims[d];
  int64_t idx[RT_MAX_RANK] = {0}, off[BC_MAX_IN] = {0}, s[BC_MAX_IN];
  const void *p[BC_MAX_IN];
  _Alignas(64) unsigned char tile[BC_MAX_IN][BC_TILE];
  for (int k = 0; k < bc->nin; k++)
    s[k] = fuse ? 1 : bc->st[k][nd - 1];
  char *o = out;
  for (int64_t it = 0; it < outer; it++) {
    if (!fuse) {
      for (int k = 0; k < bc->nin; k++)
        p[k] = (const char *)in[k] + off[k] * (int64_t)esz[k];
      fn(p, s, o, inner, ctx);
      o += inner * (int64_t)osz;
    } else {
      int64_t rows = bc->dims[nd - 2], m = rows;
      for (int k = 0; k < bc->nin; k++)
        if (BC_TILE / (inner * (int64_t)esz[k]) < m)
          m = BC_TILE / (inner * (int64_t)esz[k]);
      for (int k = 0; k < bc->nin; k++) {
        const char *row = (const char *)in[k] + off[k] * (int64_t)esz[k];
        size_t rb = (size_t)inner * esz[k];
        if (bc->st[k][nd - 2] == 0)
          for (int64_t r = 0; r < m; r++)
            memcpy(tile[k] + r * (int64_t)rb, row, rb);
      }
      for (int64_t r0 = 0; r0 < rows; r0 += m) {
        int64_t mm = rows - r0 < m ? rows - r0 : m;
        for (int k = 0; k < bc->nin; k++)
          p[k] = bc->st[k][nd - 2] ? (const char *)in[k] + (off[k] + r0 * inner) * (int64_t)esz[k]
                                   : (const void *)tile[k];
        fn(p, s, o, mm * inner, ctx);
        o += mm * inner * (int64_t)osz;
      }
    }
    for (int d = nd - nl - 1; d >= 0; d--) {
      for (int k = 0; k < bc->nin; k++)
        off[k] += bc->st[k][d];
      if (++idx[d] < bc->dims[d])
        break;
      for (int k = 0; k < bc->nin; k++)
        off[k] -= bc->st[k][d] * bc->dims[d];
      idx[d] = 0;
    }
  }
}

/* ---- binary ops ---- */

enum { BIN_VV, BIN_VS, BIN_SV }; /* both rows, b repeated, a repeated */

typedef void (*bin_kern)(const void *a, const void *b, void *o, int64_t n, int mode);

/* Three typed loops per op and dtype (restrict parameters are what lets gcc vectorize) and a
 * dispatcher with the common signature. */
#define BIN_KERNEL(fname, TI, TO, EXPR)                                                            \
  static void fname##_vv(const TI *restrict a_, const TI *restrict b_, TO *restrict o_,            \
                         int64_t n) {                                                              \
    VLOOP(n, {                                                                                     \
      const TI x = a_[i], y = b_[i];                                                               \
      o_[i] = (TO)(EXPR);                                                                          \
    });                                                                                            \
  }                                                                                                \
  static void fname##_vs(const TI *restrict a_, const TI y, TO *restrict o_, int64_t n) {          \
    VLOOP(n, {                                                                                     \
      const TI x = a_[i];                                                                          \
      o_[i] = (TO)(EXPR);                                                                          \
    });                                                                                            \
  }                                                                                                \
  static void fname##_sv(const TI x, const TI *restrict b_, TO *restrict o_, int64_t n) {          \
    VLOOP(n, {                                                                                     \
      const TI y = b_[i];                                                                          \
      o_[i] = (TO)(EXPR);                                                                          \
    });                                                                                            \
  }                                                                                                \
  static void fname(const void *a, const void *b, void *o, int64_t n, int mode) {                  \
    if (mode == BIN_VV)                                                                            \
      fname##_vv(a, b, o, n);                                                                      \
    else if (mode == BIN_VS)                                                                       \
      fname##_vs(a, *(const TI *)b, o, n);                                                         \
    else                                                                                           \
      fname##_sv(*(const TI *)a, b, o, n);                                                         \
  }

// clang-format off
BIN_KERNEL(add_f, float, float, x + y)
BIN_KERNEL(sub_f, float, float, x - y)
BIN_KERNEL(mul_f, float, float, x * y)
BIN_KERNEL(div_f, float, float, x / y)
BIN_KERNEL(divnonan_f, float, float, y == 0.0f ? 0.0f : x / y)
BIN_KERNEL(floordiv_f, float, int32_t, js_i32(floor((double)x / (double)y)))
BIN_KERNEL(mod_f, float, float, js_mod(x, y))
/* Math.max/min: NaN if either is NaN. */
BIN_KERNEL(max_f, float, float, x == x ? (x > y ? x : y) : x)
BIN_KERNEL(min_f, float, float, x == x ? (x < y ? x : y) : x)
BIN_KERNEL(pow_f, float, float, js_pow(x, y))
BIN_KERNEL(sqdiff_f, float, float, ((double)x - (double)y) * ((double)x - (double)y))
BIN_KERNEL(atan2_f, float, float, atan2((double)x, (double)y))
BIN_KERNEL(prelu_f, float, float, sel_neg(x, y * x, x))
BIN_KERNEL(eq_f, float, uint8_t, x == y)
BIN_KERNEL(ne_f, float, uint8_t, x != y)
BIN_KERNEL(lt_f, float, uint8_t, x < y)
BIN_KERNEL(le_f, float, uint8_t, x <= y)
BIN_KERNEL(gt_f, float, uint8_t, x > y)
BIN_KERNEL(ge_f, float, uint8_t, x >= y)
// clang-format on

// clang-format off
BIN_KERNEL(add_i, int32_t, int32_t, (uint32_t)x + (uint32_t)y)
BIN_KERNEL(sub_i, int32_t, int32_t, (uint32_t)x - (uint32_t)y)
BIN_KERNEL(mul_i, int32_t, int32_t, js_mul_i32(x, y))
BIN_KERNEL(floordiv_i, int32_t, int32_t, js_floordiv_i32(x, y))
BIN_KERNEL(divnonan_i, int32_t, int32_t, y == 0 ? 0 : js_floordiv_i32(x, y))
BIN_KERNEL(mod_i, int32_t, int32_t, js_mod_i32(x, y))
BIN_KERNEL(max_i, int32_t, int32_t, x > y ? x : y)
BIN_KERNEL(min_i, int32_t, int32_t, x < y ? x : y)
BIN_KERNEL(pow_i, int32_t, int32_t, js_i32(js_pow(x, y)))
BIN_KERNEL(sqdiff_i, int32_t, int32_t, js_i32(((double)x - y) * ((double)x - y)))
BIN_KERNEL(atan2_i, int32_t, int32_t, js_i32(atan2((double)x, (double)y)))
BIN_KERNEL(eq_i, int32_t, uint8_t, x == y)
BIN_KERNEL(ne_i, int32_t, uint8_t, x != y)
BIN_KERNEL(lt_i, int32_t, uint8_t, x < y)
BIN_KERNEL(le_i, int32_t, uint8_t, x <= y)
BIN_KERNEL(gt_i, int32_t, uint8_t, x > y)
BIN_KERNEL(ge_i, int32_t, uint8_t, x >= y)
// clang-format on

// clang-format off
BIN_KERNEL(eq_b, uint8_t, uint8_t, x == y)
BIN_KERNEL(ne_b, uint8_t, uint8_t, x != y)
BIN_KERNEL(lt_b, uint8_t, uint8_t, x < y)
BIN_KERNEL(le_b, uint8_t, uint8_t, x <= y)
BIN_KERNEL(gt_b, uint8_t, uint8_t, x > y)
BIN_KERNEL(ge_b, uint8_t, uint8_t, x >= y)
BIN_KERNEL(and_b, uint8_t, uint8_t, (x != 0) & (y != 0))
BIN_KERNEL(or_b, uint8_t, uint8_t, (x != 0) | (y != 0))
// clang-format on

enum {
  BO_OUT_BOOL = 1 << 0,    /* comparisons and logic */
  BO_OUT_I32 = 1 << 1,     /* FloorDiv: the TF.js kernel always returns int32 */
  BO_BOOL_AS_I32 = 1 << 2, /* Maximum/Minimum cast bool operands to int32 */
  BO_FORCE_F32 = 1 << 3,   /* Prelu computes in float32 whatever the operands */
  BO_BOOL_ONLY = 1 << 4,   /* LogicalAnd/Or */
};

typedef struct binop {
  bin_kern f32, i32, b8; /* by compute dtype; NULL: not supported */
  unsigned flags;
} binop;

static const binop BO_ADD = {add_f, add_i, NULL, 0};
static const binop BO_SUB = {sub_f, sub_i, NULL, 0};
static const binop BO_MUL = {mul_f, mul_i, NULL, 0};
static const binop BO_DIV = {div_f, floordiv_i, NULL, 0}; /* tf.div: int32 floor-divides */
static const binop BO_DIVNONAN = {divnonan_f, divnonan_i, NULL, 0};
static const binop BO_FLOORDIV = {floordiv_f, floordiv_i, NULL, BO_OUT_I32};
static const binop BO_MOD = {mod_f, mod_i, NULL, 0};
static const binop BO_MAX = {max_f, max_i, NULL, BO_BOOL_AS_I32};
static const binop BO_MIN = {min_f, min_i, NULL, BO_BOOL_AS_I32};
static const binop BO_POW = {pow_f, pow_i, NULL, 0};
static const binop BO_SQDIFF = {sqdiff_f, sqdiff_i, NULL, 0};
static const binop BO_ATAN2 = {atan2_f, atan2_i, NULL, 0};
static const binop BO_PRELU = {prelu_f, NULL, NULL, BO_FORCE_F32};
static const binop BO_EQ = {eq_f, eq_i, eq_b, BO_OUT_BOOL};
static const binop BO_NE = {ne_f, ne_i, ne_b, BO_OUT_BOOL};
static const binop BO_LT = {lt_f, lt_i, lt_b, BO_OUT_BOOL};
static const binop BO_LE = {le_f, le_i, le_b, BO_OUT_BOOL};
static const binop BO_GT = {gt_f, gt_i, gt_b, BO_OUT_BOOL};
static const binop BO_GE = {ge_f, ge_i, ge_b, BO_OUT_BOOL};
static const binop BO_AND = {NULL, NULL, and_b, BO_OUT_BOOL | BO_BOOL_ONLY};
static const binop BO_OR = {NULL, NULL, or_b, BO_OUT_BOOL | BO_BOOL_ONLY};

static bin_kern bin_pick(const binop *op, rt_dtype ct) {
  return ct == RT_DT_F32 ? op->f32 : ct == RT_DT_I32 ? op->i32 : op->b8;
}

/* Compute and output dtype for operand dtypes ta, tb; false when the op does not take them. */
static bool bin_types(const binop *op, rt_dtype ta, rt_dtype tb, rt_dtype *ct, rt_dtype *ot) {
  if (!numeric(ta) || !numeric(tb))
    return false;
  rt_dtype c;
  if (op->flags & BO_BOOL_ONLY) {
    if (ta != RT_DT_BOOL || tb != RT_DT_BOOL)
      return false;
    c = RT_DT_BOOL;
  } else if (op->flags & BO_FORCE_F32) {
    c = RT_DT_F32;
  } else {
    c = upcast(ta, tb);
    if (c == RT_DT_BOOL && (op->flags & BO_BOOL_AS_I32))
      c = RT_DT_I32;
  }
  if (!bin_pick(op, c))
    return false;
  *ct = c;
  *ot = (op->flags & BO_OUT_BOOL) ? RT_DT_BOOL : (op->flags & BO_OUT_I32) ? RT_DT_I32 : c;
  return true;
}

static rt_status check_numel(const rt_kctx *k, const rt_tensor *t) {
  int64_t n;
  if (!rt__checked_numel(t->dims, t->rank, &n))
    return op_error(k, RT_ERR_SHAPE, "output has too many elements");
  return RT_OK;
}

static rt_status bin_shape_ab(rt_kctx *k, const binop *op, const rt_tensor *a, const rt_tensor *b) {
  rt_dtype ct, ot;
  if (!bin_types(op, a->dtype, b->dtype, &ct, &ot))
    return rt__errorf(k->err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): operand dtypes %s and %s are not supported", k->node->name,
                      k->node->op_name, rt_dtype_name(a->dtype), rt_dtype_name(b->dtype));
  rt_tensor *o = &k->out[0];
  rt_status st = rt__broadcast_shape(k->node, a, b, o, k->err);
  if (st != RT_OK)
    return st;
  o->dtype = ot;
  k->scratch_bytes = conv_bytes(a, ct) + conv_bytes(b, ct);
  return check_numel(k, o);
}

static void bin_inner(const void *const *p, const int64_t *s, void *o, int64_t n, const void *ctx) {
  bin_kern kern = *(const bin_kern *)ctx;
  int mode = s[0] ? (s[1] ? BIN_VV : BIN_VS) : (s[1] ? BIN_SV : BIN_VV);
  kern(p[0], p[1], o, n, mode);
}

static rt_status bin_run_ab(rt_kctx *k, const binop *op, const rt_tensor *a, const rt_tensor *b) {
  rt_dtype ct, ot;
  if (!bin_types(op, a->dtype, b->dtype, &ct, &ot))
    return op_error(k, RT_ERR_INTERNAL, "operand dtypes changed after planning");
  rt_tensor *o = &k->out[0];
  if (rt_tensor_numel(o) == 0)
    return RT_OK;
  char *scr = k->scratch;
  const void *ptr[2] = {as_dtype(a, ct, &scr), as_dtype(b, ct, &scr)};
  const rt_tensor *ins[2] = {a, b};
  size_t esz[2] = {rt_dtype_size(ct), rt_dtype_size(ct)};
  bin_kern kern = bin_pick(op, ct);
  bcast bc;
  bcast_init(&bc, o, ins, 2);
  bcast_run(&bc, ptr, esz, o->data, rt_dtype_size(ot), bin_inner, &kern);
  return RT_OK;
}

#define DEF_BINARY(NAME, OP)                                                                       \
  static rt_status NAME##_shape(rt_kctx *k) { return bin_shape_ab(k, &OP, &k->in[0], &k->in[1]); } \
  static rt_status NAME##_run(rt_kctx *k) { return bin_run_ab(k, &OP, &k->in[0], &k->in[1]); }

DEF_BINARY(add, BO_ADD)
DEF_BINARY(sub, BO_SUB)
DEF_BINARY(mul, BO_MUL)
DEF_BINARY(div, BO_DIV)
DEF_BINARY(divnonan, BO_DIVNONAN)
DEF_BINARY(floordiv, BO_FLOORDIV)
DEF_BINARY(mod, BO_MOD)
DEF_BINARY(maximum, BO_MAX)
DEF_BINARY(minimum, BO_MIN)
DEF_BINARY(pow, BO_POW)
DEF_BINARY(sqdiff, BO_SQDIFF)
DEF_BINARY(atan2, BO_ATAN2)
DEF_BINARY(prelu, BO_PRELU)
DEF_BINARY(equal, BO_EQ)
DEF_BINARY(notequal, BO_NE)
DEF_BINARY(less, BO_LT)
DEF_BINARY(lessequal, BO_LE)
DEF_BINARY(greater, BO_GT)
DEF_BINARY(greaterequal, BO_GE)
DEF_BINARY(logicaland, BO_AND)
DEF_BINARY(logicalor, BO_OR)

/* ---- BiasAdd ---- */

/* TF.js maps BiasAdd to a broadcasting add and ignores data_format; for NHWC that is the same
 * thing. For NCHW we add along axis 1 as TensorFlow defines it (TF.js would broadcast against the
 * last axis, which is either an error or wrong). */
typedef struct biasadd_params {
  bool nchw;
} biasadd_params;

static rt_status biasadd_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  const char *fmt = rt__attr_str(n, "data_format", "NHWC");
  biasadd_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  if (!strcmp(fmt, "NCHW"))
    p->nchw = true;
  else if (strcmp(fmt, "NHWC"))
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s' (BiasAdd): data_format '%s' is not NHWC or NCHW", n->name, fmt);
  n->params = p;
  return RT_OK;
}

static bool biasadd_nchw(const rt_kctx *k) {
  const biasadd_params *p = k->params;
  return p ? p->nchw : !strcmp(rt__attr_str(k->node, "data_format", "NHWC"), "NCHW");
}

/* The bias as the add sees it: [C] for NHWC, [C, 1, ..., 1] for NCHW. */
static rt_status biasadd_view(rt_kctx *k, rt_tensor *b) {
  const rt_tensor *x = &k->in[0];
  *b = k->in[1];
  if (!biasadd_nchw(k))
    return RT_OK;
  if (x->rank < 2 || b->rank != 1 || b->dims[0] != x->dims[1])
    return rt__errorf(k->err, RT_ERR_SHAPE,
                      "node '%s' (BiasAdd): NCHW bias must be rank 1 with as many elements as "
                      "input dim 1 (input rank %d, bias rank %d)",
                      k->node->name, x->rank, b->rank);
  b->rank = x->rank - 1;
  for (int i = 1; i < b->rank; i++)
    b->dims[i] = 1;
  return RT_OK;
}

static rt_status biasadd_shape(rt_kctx *k) {
  rt_tensor b;
  rt_status st = biasadd_view(k, &b);
  return st != RT_OK ? st : bin_shape_ab(k, &BO_ADD, &k->in[0], &b);
}

static rt_status biasadd_run(rt_kctx *k) {
  rt_tensor b;
  rt_status st = biasadd_view(k, &b);
  return st != RT_OK ? st : bin_run_ab(k, &BO_ADD, &k->in[0], &b);
}

/* ---- Select / SelectV2 ---- */

/* Both map to tf.where, which broadcasts condition, t and e together. TF's Select (v1) also lets
 * a rank-1 condition pick whole rows of higher-rank t/e; when its length is t's first dim we do
 * that (views the condition as [N, 1, ..., 1]). */
static bool select_rows(const rt_kctx *k) {
  const rt_tensor *c = &k->in[0], *t = &k->in[1], *e = &k->in[2];
  if (strcmp(k->node->op_name, "Select") || c->rank != 1 || t->rank < 2 || t->rank != e->rank ||
      c->dims[0] != t->dims[0])
    return false;
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i] != e->dims[i])
      return false;
  return true;
}

static void select_cond_view(const rt_kctx *k, rt_tensor *c) {
  *c = k->in[0];
  if (select_rows(k)) {
    c->rank = k->in[1].rank;
    for (int i = 1; i < c->rank; i++)
      c->dims[i] = 1;
  }
}

static rt_status select_shape(rt_kctx *k) {
  const rt_tensor *t = &k->in[1], *e = &k->in[2];
  if (k->in[0].dtype != RT_DT_BOOL)
    return dtype_error(k, "condition", k->in[0].dtype);
  if (!numeric(t->dtype) || !numeric(e->dtype))
    return dtype_error(k, "value", numeric(t->dtype) ? e->dtype : t->dtype);
  rt_tensor c, ct = {0};
  select_cond_view(k, &c);
  rt_tensor *o = &k->out[0];
  rt_status st = rt__broadcast_shape(k->node, &c, t, &ct, k->err);
  if (st == RT_OK)
    st = rt__broadcast_shape(k->node, &ct, e, o, k->err);
  if (st != RT_OK)
    return st;
  rt_dtype dt = upcast(t->dtype, e->dtype);
  o->dtype = dt;
  k->scratch_bytes = conv_bytes(t, dt) + conv_bytes(e, dt);
  return check_numel(k, o);
}

static void select_inner(const void *const *p, const int64_t *s, void *o, int64_t n,
                         const void *ctx) {
  const uint8_t *c = p[0];
  rt_dtype dt = *(const rt_dtype *)ctx;
  if (dt == RT_DT_F32) {
    const float *t = p[1], *e = p[2];
    float *y = o;
    for (int64_t i = 0; i < n; i++)
      y[i] = c[i * s[0]] ? t[i * s[1]] : e[i * s[2]];
  } else if (dt == RT_DT_I32) {
    const int32_t *t = p[1], *e = p[2];
    int32_t *y = o;
    for (int64_t i = 0; i < n; i++)
      y[i] = c[i * s[0]] ? t[i * s[1]] : e[i * s[2]];
  } else {
    const uint8_t *t = p[1], *e = p[2];
    uint8_t *y = o;
    for (int64_t i = 0; i < n; i++)
      y[i] = c[i * s[0]] ? t[i * s[1]] : e[i * s[2]];
  }
}

static rt_status select_run(rt_kctx *k) {
  rt_tensor *o = &k->out[0];
  if (rt_tensor_numel(o) == 0)
    return RT_OK;
  rt_dtype dt = o->dtype;
  rt_tensor c;
  select_cond_view(k, &c);
  char *scr = k->scratch;
  const void *ptr[3] = {c.data, as_dtype(&k->in[1], dt, &scr), as_dtype(&k->in[2], dt, &scr)};
  const rt_tensor *ins[3] = {&c, &k->in[1], &k->in[2]};
  size_t esz[3] = {1, rt_dtype_size(dt), rt_dtype_size(dt)};
  bcast bc;
  bcast_init(&bc, o, ins, 3);
  bcast_run(&bc, ptr, esz, o->data, rt_dtype_size(dt), select_inner, &dt);
  return RT_OK;
}

/* ---- AddN ---- */

static rt_status addn_shape(rt_kctx *k) {
  const rt_tensor *a = &k->in[0];
  if (a->dtype != RT_DT_F32 && a->dtype != RT_DT_I32)
    return dtype_error(k, "input", a->dtype);
  for (int j = 1; j < k->n_in; j++) {
    const rt_tensor *b = &k->in[j];
    bool same = b->dtype == a->dtype && b->rank == a->rank;
    for (int i = 0; same && i < a->rank; i++)
      same = a->dims[i] == b->dims[i];
    if (!same)
      return rt__errorf(k->err, RT_ERR_SHAPE,
                        "node '%s' (AddN): input %d differs in dtype or shape from input 0",
                        k->node->name, j);
  }
  rt__set_shape(&k->out[0], a->dtype, a->rank, a->dims);
  return RT_OK;
}

static void acc_f32(float *restrict o, const float *restrict x, int64_t n) {
  VLOOP(n, { o[i] += x[i]; });
}

static void acc_i32(uint32_t *restrict o, const int32_t *restrict x, int64_t n) {
  VLOOP(n, { o[i] += (uint32_t)x[i]; });
}

/* Accumulates in input order from 0, as the TF.js kernel does. */
static rt_status addn_run(rt_kctx *k) {
  int64_t n = rt_tensor_numel(&k->out[0]);
  memset(k->out[0].data, 0, (size_t)n * 4);
  for (int j = 0; j < k->n_in; j++) {
    if (k->out[0].dtype == RT_DT_F32)
      acc_f32(k->out[0].data, k->in[j].data, n);
    else
      acc_i32(k->out[0].data, k->in[j].data, n);
  }
  return RT_OK;
}

static double addn_flops(const rt_kctx *k) {
  return (double)rt_tensor_numel(&k->out[0]) * (k->n_in > 1 ? k->n_in - 1 : 1);
}

/* ---- Cast ---- */

typedef struct cast_params {
  rt_dtype dst;
} cast_params;

static rt_status cast_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  const rt_attr *a = rt__attr_find(n, "DstT");
  if (!a || a->kind != RT_ATTR_TYPE || !numeric(a->type))
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s' (Cast): attribute DstT is missing or not a numeric dtype",
                      n->name);
  cast_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->dst = a->type;
  n->params = p;
  return RT_OK;
}

static rt_status cast_shape(rt_kctx *k) {
  const cast_params *p = k->params;
  rt_dtype dst = p ? p->dst : rt__attr_type(k->node, "DstT", RT_DT_COUNT);
  if (!numeric(dst))
    return op_error(k, RT_ERR_UNSUPPORTED, "attribute DstT is missing or not a numeric dtype");
  if (!numeric(k->in[0].dtype))
    return dtype_error(k, "input", k->in[0].dtype);
  rt__set_shape(&k->out[0], dst, k->in[0].rank, k->in[0].dims);
  return RT_OK;
}

static rt_status cast_run(rt_kctx *k) {
  convert(k->in[0].data, k->in[0].dtype, k->out[0].data, k->out[0].dtype,
          rt_tensor_numel(&k->in[0]));
  return RT_OK;
}

/* ---- unary ops ---- */

typedef void (*un_kern)(const void *x, void *o, int64_t n, float alpha);

typedef struct unop {
  un_kern f32, i32, b8;     /* by input dtype; NULL: not supported */
  rt_dtype of32, oi32, ob8; /* output dtype for each input dtype */
} unop;

#define UN_KERNEL(fname, TI, TO, EXPR)                                                             \
  static void fname##_t(const TI *restrict x_, TO *restrict o_, int64_t n, float alpha) {          \
    VLOOP(n, {                                                                                     \
      const TI x = x_[i];                                                                          \
      o_[i] = (TO)(EXPR);                                                                          \
    });                                                                                            \
  }                                                                                                \
  static void fname(const void *x, void *o, int64_t n, float alpha) { fname##_t(x, o, n, alpha); }

#define SELU_SCALE 1.0507009873554804934193349852946
#define SELU_SCALEALPHA 1.7580993408473768599402175208123

static inline double selu_d(double x) {
  return x >= 0 ? SELU_SCALE * x : SELU_SCALEALPHA * expm1(x);
}

/* TF.js softplus: exp(x) below log(FLT_EPSILON) + 2, x above its negation, log(1 + exp(x))
 * between, all in double. */
static inline double softplus_d(double x) {
  const double threshold = -13.942385152878742; /* Math.log(1.1920928955078125e-7) + 2 */
  if (x < threshold)
    return exp(x);
  if (x > -threshold)
    return x;
  return log(1.0 + exp(x));
}

/* The Abramowitz-Stegun 7.1.26 approximation TF.js uses, not libm's erf. */
static inline double erf_js(double x) {
  const double p = 0.3275911, a1 = 0.254829592, a2 = -0.284496736, a3 = 1.421413741,
               a4 = -1.453152027, a5 = 1.061405429;
  double sign = x > 0 ? 1.0 : x < 0 ? -1.0 : x; /* Math.sign keeps ±0 and NaN */
  double v = fabs(x);
  double t = 1.0 / (1.0 + p * v);
  return sign * (1.0 - (((((a5 * t + a4) * t) + a3) * t + a2) * t + a1) * t * exp(-v * v));
}

// clang-format off
UN_KERNEL(relu_f, float, float, x > 0.0f ? x : (x == x ? 0.0f : x))
UN_KERNEL(relu6_f, float, float, x == x ? (x > 0.0f ? (x < 6.0f ? x : 6.0f) : 0.0f) : x)
UN_KERNEL(elu_f, float, float, x >= 0.0f ? x : expm1f(x))
UN_KERNEL(selu_f, float, float, selu_d(x))
UN_KERNEL(leaky_f, float, float, sel_neg(x, alpha * x, x))
UN_KERNEL(sigmoid_f, float, float, vsigmoidf(x))
UN_KERNEL(tanh_f, float, float, vtanhf(x))
UN_KERNEL(exp_f, float, float, vexpf(x))
UN_KERNEL(expm1_f, float, float, expm1f(x))
UN_KERNEL(log_f, float, float, logf(x))
UN_KERNEL(log1p_f, float, float, log1pf(x))
UN_KERNEL(sqrt_f, float, float, sqrtf(x))
UN_KERNEL(rsqrt_f, float, float, 1.0 / sqrt((double)x))
UN_KERNEL(square_f, float, float, x * x)
UN_KERNEL(abs_f, float, float, fabsf(x))
UN_KERNEL(neg_f, float, float, -x)
UN_KERNEL(recip_f, float, float, 1.0f / x)
UN_KERNEL(floor_f, float, float, floorf(x))
UN_KERNEL(ceil_f, float, float, ceilf(x))
UN_KERNEL(round_f, float, float, rintf(x)) /* half to even, as TF.js Round */
UN_KERNEL(sign_f, float, float, x < 0.0f ? -1.0f : (x > 0.0f ? 1.0f : 0.0f))
UN_KERNEL(sin_f, float, float, sinf(x))
UN_KERNEL(cos_f, float, float, cosf(x))
UN_KERNEL(tan_f, float, float, tanf(x))
UN_KERNEL(asin_f, float, float, asinf(x))
UN_KERNEL(acos_f, float, float, acosf(x))
UN_KERNEL(atan_f, float, float, atanf(x))
UN_KERNEL(sinh_f, float, float, sinhf(x))
UN_KERNEL(cosh_f, float, float, coshf(x))
UN_KERNEL(asinh_f, float, float, asinhf(x))
UN_KERNEL(acosh_f, float, float, acoshf(x))
UN_KERNEL(atanh_f, float, float, atanhf(x))
UN_KERNEL(softplus_f, float, float, softplus_d(x))
UN_KERNEL(softsign_f, float, float, x / (fabsf(x) + 1.0f))
UN_KERNEL(erf_f, float, float, erf_js(x))
UN_KERNEL(isnan_f, float, uint8_t, x != x)
UN_KERNEL(isinf_f, float, uint8_t, isinf(x) != 0)
UN_KERNEL(isfinite_f, float, uint8_t, isfinite(x) != 0)
// clang-format on

/* int32 inputs: TF.js runs the same double formula and stores into an Int32Array, except where
 * the kernel writes a Float32Array (Abs, Square: rounded to float32 first) or declares float32
 * output (LeakyRelu, Exp, Erf). */
// clang-format off
UN_KERNEL(relu_i, int32_t, int32_t, x > 0 ? x : 0)
UN_KERNEL(relu6_i, int32_t, int32_t, x > 0 ? (x < 6 ? x : 6) : 0)
UN_KERNEL(selu_i, int32_t, int32_t, js_i32(selu_d(x)))
UN_KERNEL(leaky_i, int32_t, float, x < 0 ? (double)alpha * x : (double)x)
UN_KERNEL(exp_i, int32_t, float, exp((double)x))
UN_KERNEL(log1p_i, int32_t, int32_t, js_i32(log1p((double)x)))
UN_KERNEL(square_i, int32_t, int32_t, js_i32((float)((double)x * x)))
UN_KERNEL(abs_i, int32_t, int32_t, js_i32((float)fabs((double)x)))
UN_KERNEL(neg_i, int32_t, int32_t, 0u - (uint32_t)x)
UN_KERNEL(recip_i, int32_t, int32_t, js_i32(1.0 / x))
UN_KERNEL(round_i, int32_t, int32_t, x)
UN_KERNEL(sign_i, int32_t, int32_t, (x > 0) - (x < 0))
UN_KERNEL(asin_i, int32_t, int32_t, js_i32(asin((double)x)))
UN_KERNEL(acos_i, int32_t, int32_t, js_i32(acos((double)x)))
UN_KERNEL(atan_i, int32_t, int32_t, js_i32(atan((double)x)))
UN_KERNEL(softplus_i, int32_t, int32_t, js_i32(softplus_d(x)))
UN_KERNEL(erf_i, int32_t, float, erf_js((float)x))
UN_KERNEL(not_b, uint8_t, uint8_t, x == 0)
// clang-format on

static void zeros_4(const void *x, void *o, int64_t n, float alpha) { memset(o, 0, (size_t)n * 4); }
static void zeros_1(const void *x, void *o, int64_t n, float alpha) { memset(o, 0, (size_t)n); }
static void ones_f(const void *x, void *o, int64_t n, float alpha) {
  float *restrict y = o;
  VLOOP(n, { y[i] = 1.0f; });
}
static void ones_i(const void *x, void *o, int64_t n, float alpha) {
  int32_t *restrict y = o;
  VLOOP(n, { y[i] = 1; });
}
static void ones_1(const void *x, void *o, int64_t n, float alpha) { memset(o, 1, (size_t)n); }

#define F RT_DT_F32
#define I RT_DT_I32
#define B RT_DT_BOOL
#define NONE RT_DT_COUNT
static const unop UN_RELU = {relu_f, relu_i, NULL, F, I, NONE};
static const unop UN_RELU6 = {relu6_f, relu6_i, NULL, F, I, NONE};
static const unop UN_ELU = {elu_f, NULL, NULL, F, NONE, NONE};
static const unop UN_SELU = {selu_f, selu_i, NULL, F, I, NONE};
static const unop UN_LEAKY = {leaky_f, leaky_i, NULL, F, F, NONE};
static const unop UN_SIGMOID = {sigmoid_f, NULL, NULL, F, NONE, NONE};
static const unop UN_TANH = {tanh_f, NULL, NULL, F, NONE, NONE};
static const unop UN_EXP = {exp_f, exp_i, NULL, F, F, NONE};
static const unop UN_EXPM1 = {expm1_f, NULL, NULL, F, NONE, NONE};
static const unop UN_LOG = {log_f, NULL, NULL, F, NONE, NONE};
static const unop UN_LOG1P = {log1p_f, log1p_i, NULL, F, I, NONE};
static const unop UN_SQRT = {sqrt_f, NULL, NULL, F, NONE, NONE};
static const unop UN_RSQRT = {rsqrt_f, NULL, NULL, F, NONE, NONE};
static const unop UN_SQUARE = {square_f, square_i, NULL, F, I, NONE};
static const unop UN_ABS = {abs_f, abs_i, NULL, F, I, NONE};
static const unop UN_NEG = {neg_f, neg_i, NULL, F, I, NONE};
static const unop UN_RECIP = {recip_f, recip_i, NULL, F, I, NONE};
static const unop UN_FLOOR = {floor_f, NULL, NULL, F, NONE, NONE};
static const unop UN_CEIL = {ceil_f, NULL, NULL, F, NONE, NONE};
static const unop UN_ROUND = {round_f, round_i, NULL, F, I, NONE};
static const unop UN_SIGN = {sign_f, sign_i, NULL, F, I, NONE};
static const unop UN_SIN = {sin_f, NULL, NULL, F, NONE, NONE};
static const unop UN_COS = {cos_f, NULL, NULL, F, NONE, NONE};
static const unop UN_TAN = {tan_f, NULL, NULL, F, NONE, NONE};
static const unop UN_ASIN = {asin_f, asin_i, NULL, F, I, NONE};
static const unop UN_ACOS = {acos_f, acos_i, NULL, F, I, NONE};
static const unop UN_ATAN = {atan_f, atan_i, NULL, F, I, NONE};
static const unop UN_SINH = {sinh_f, NULL, NULL, F, NONE, NONE};
static const unop UN_COSH = {cosh_f, NULL, NULL, F, NONE, NONE};
static const unop UN_ASINH = {asinh_f, NULL, NULL, F, NONE, NONE};
static const unop UN_ACOSH = {acosh_f, NULL, NULL, F, NONE, NONE};
static const unop UN_ATANH = {atanh_f, NULL, NULL, F, NONE, NONE};
static const unop UN_SOFTPLUS = {softplus_f, softplus_i, NULL, F, I, NONE};
static const unop UN_SOFTSIGN = {softsign_f, NULL, NULL, F, NONE, NONE};
static const unop UN_ERF = {erf_f, erf_i, NULL, F, F, NONE};
static const unop UN_ISNAN = {isnan_f, zeros_1, NULL, B, B, NONE};
static const unop UN_ISINF = {isinf_f, zeros_1, NULL, B, B, NONE};
static const unop UN_ISFINITE = {isfinite_f, ones_1, NULL, B, B, NONE};
static const unop UN_ZEROS = {zeros_4, zeros_4, zeros_1, F, I, B};
static const unop UN_ONES = {ones_f, ones_i, ones_1, F, I, B};
static const unop UN_NOT = {NULL, NULL, not_b, NONE, NONE, B};
#undef F
#undef I
#undef B
#undef NONE

static bool un_pick(const unop *op, rt_dtype t, un_kern *kern, rt_dtype *ot) {
  switch (t) {
  case RT_DT_F32: *kern = op->f32, *ot = op->of32; break;
  case RT_DT_I32: *kern = op->i32, *ot = op->oi32; break;
  case RT_DT_BOOL: *kern = op->b8, *ot = op->ob8; break;
  default: return false;
  }
  return *kern != NULL;
}

static rt_status un_shape(rt_kctx *k, const unop *op) {
  un_kern kern;
  rt_dtype ot;
  if (!un_pick(op, k->in[0].dtype, &kern, &ot))
    return dtype_error(k, "input", k->in[0].dtype);
  rt__set_shape(&k->out[0], ot, k->in[0].rank, k->in[0].dims);
  return RT_OK;
}

static rt_status un_run_alpha(rt_kctx *k, const unop *op, float alpha) {
  un_kern kern;
  rt_dtype ot;
  if (!un_pick(op, k->in[0].dtype, &kern, &ot))
    return op_error(k, RT_ERR_INTERNAL, "input dtype changed after planning");
  kern(k->in[0].data, k->out[0].data, rt_tensor_numel(&k->in[0]), alpha);
  return RT_OK;
}

#define DEF_UNARY(NAME, OP)                                                                        \
  static rt_status NAME##_shape(rt_kctx *k) { return un_shape(k, &OP); }                           \
  static rt_status NAME##_run(rt_kctx *k) { return un_run_alpha(k, &OP, 0.0f); }

DEF_UNARY(relu, UN_RELU)
DEF_UNARY(relu6, UN_RELU6)
DEF_UNARY(elu, UN_ELU)
DEF_UNARY(selu, UN_SELU)
DEF_UNARY(sigmoid, UN_SIGMOID)
DEF_UNARY(tanh, UN_TANH)
DEF_UNARY(exp, UN_EXP)
DEF_UNARY(expm1, UN_EXPM1)
DEF_UNARY(log, UN_LOG)
DEF_UNARY(log1p, UN_LOG1P)
DEF_UNARY(sqrt, UN_SQRT)
DEF_UNARY(rsqrt, UN_RSQRT)
DEF_UNARY(square, UN_SQUARE)
DEF_UNARY(abs, UN_ABS)
DEF_UNARY(neg, UN_NEG)
DEF_UNARY(recip, UN_RECIP)
DEF_UNARY(floor, UN_FLOOR)
DEF_UNARY(ceil, UN_CEIL)
DEF_UNARY(round, UN_ROUND)
DEF_UNARY(sign, UN_SIGN)
DEF_UNARY(sin, UN_SIN)
DEF_UNARY(cos, UN_COS)
DEF_UNARY(tan, UN_TAN)
DEF_UNARY(asin, UN_ASIN)
DEF_UNARY(acos, UN_ACOS)
DEF_UNARY(atan, UN_ATAN)
DEF_UNARY(sinh, UN_SINH)
DEF_UNARY(cosh, UN_COSH)
DEF_UNARY(asinh, UN_ASINH)
DEF_UNARY(acosh, UN_ACOSH)
DEF_UNARY(atanh, UN_ATANH)
DEF_UNARY(softplus, UN_SOFTPLUS)
DEF_UNARY(softsign, UN_SOFTSIGN)
DEF_UNARY(erf, UN_ERF)
DEF_UNARY(isnan, UN_ISNAN)
DEF_UNARY(isinf, UN_ISINF)
DEF_UNARY(isfinite, UN_ISFINITE)
DEF_UNARY(zeroslike, UN_ZEROS)
DEF_UNARY(oneslike, UN_ONES)
DEF_UNARY(logicalnot, UN_NOT)

/* LeakyRelu: alpha attribute, 0.2 when absent (the TF.js converter's default). */
typedef struct leaky_params {
  float alpha;
} leaky_params;

static rt_status leaky_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  leaky_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->alpha = rt__attr_float(n, "alpha", 0.2f);
  n->params = p;
  return RT_OK;
}

static rt_status leaky_shape(rt_kctx *k) { return un_shape(k, &UN_LEAKY); }

static rt_status leaky_run(rt_kctx *k) {
  const leaky_params *p = k->params;
  return un_run_alpha(k, &UN_LEAKY, p ? p->alpha : rt__attr_float(k->node, "alpha", 0.2f));
}

/* ---- ClipByValue ---- */

/* TF.js reads clip_value_min/max as numbers (the first element of each tensor), fills with the
 * bound when they are equal and fails when min > max. */
static rt_status clip_shape(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  if (x->dtype != RT_DT_F32 && x->dtype != RT_DT_I32)
    return dtype_error(k, "input", x->dtype);
  for (int j = 1; j < 3; j++) {
    if (!numeric(k->in[j].dtype))
      return dtype_error(k, j == 1 ? "clip_value_min" : "clip_value_max", k->in[j].dtype);
    if (rt_tensor_numel(&k->in[j]) < 1)
      return op_error(k, RT_ERR_SHAPE, "clip_value_min and clip_value_max must not be empty");
  }
  rt__set_shape(&k->out[0], x->dtype, x->rank, x->dims);
  return RT_OK;
}

static double first_value(const rt_tensor *t) {
  switch (t->dtype) {
  case RT_DT_F32: return ((const float *)t->data)[0];
  case RT_DT_I32: return ((const int32_t *)t->data)[0];
  default: return ((const uint8_t *)t->data)[0];
  }
}

static rt_status clip_run(rt_kctx *k) {
  double lo = first_value(&k->in[1]), hi = first_value(&k->in[2]);
  if (!(lo <= hi))
    return rt__errorf(k->err, RT_ERR_INVALID_ARG,
                      "node '%s' (ClipByValue): min (%g) must be less than or equal to max (%g)",
                      k->node->name, lo, hi);
  int64_t n = rt_tensor_numel(&k->in[0]);
  if (k->in[0].dtype == RT_DT_F32) {
    const float *restrict x = k->in[0].data;
    float *restrict y = k->out[0].data;
    const float l = (float)lo, h = (float)hi;
    if (lo == hi)
      VLOOP(n, { y[i] = l; });
    else
      VLOOP(n, {
        const float v = x[i];
        y[i] = v > h ? h : (v < l ? l : v);
      });
  } else {
    const int32_t *restrict x = k->in[0].data;
    int32_t *restrict y = k->out[0].data;
    const int32_t l = js_i32(lo), h = js_i32(hi);
    for (int64_t i = 0; i < n; i++)
      y[i] = lo == hi ? l : x[i] > hi ? h : x[i] < lo ? l : x[i];
  }
  return RT_OK;
}

/* ---- reductions ---- */

typedef enum red_kind { RED_SUM, RED_MEAN, RED_PROD, RED_MAX, RED_MIN, RED_ALL, RED_ANY } red_kind;

/* Reduction mask from the axes input (int32 scalar or vector, negative allowed, duplicates
 * ignored). An empty axes list reduces nothing, as in TF.js. */
static rt_status red_mask(const rt_kctx *k, const rt_tensor *ax, int rank, bool *mask) {
  for (int i = 0; i < RT_MAX_RANK; i++)
    mask[i] = false;
  if (ax->rank > 1 || (ax->dtype != RT_DT_I32 && ax->dtype != RT_DT_F32))
    return op_error(k, RT_ERR_INVALID_ARG, "axes must be an int32 scalar or vector");
  int64_t n = rt_tensor_numel(ax);
  for (int64_t i = 0; i < n; i++) {
    int64_t a = rt__tensor_get_int(ax, i);
    int d;
    if (!rt__norm_axis(a, rank, &d))
      return rt__errorf(k->err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): axis %lld is out of range for rank %d", k->node->name,
                        k->node->op_name, (long long)a, rank);
    if (rank > 0)
      mask[d] = true;
  }
  return RT_OK;
}

static bool red_out_dtype(red_kind kind, rt_dtype in, rt_dtype *out) {
  switch (kind) {
  case RED_SUM:
  case RED_PROD: *out = in == RT_DT_F32 ? RT_DT_F32 : RT_DT_I32; return numeric(in);
  case RED_MEAN: *out = RT_DT_F32; return numeric(in);
  case RED_MAX:
  case RED_MIN: *out = in; return in == RT_DT_F32 || in == RT_DT_I32;
  default: *out = RT_DT_BOOL; return in == RT_DT_BOOL;
  }
}

static rt_status red_shape(rt_kctx *k, red_kind kind) {
  const rt_tensor *x = &k->in[0], *ax = &k->in[1];
  rt_dtype ot;
  if (!red_out_dtype(kind, x->dtype, &ot))
    return dtype_error(k, "input", x->dtype);
  if (!ax->data)
    return RT_ERR_NEED_VALUE;
  bool mask[RT_MAX_RANK];
  rt_status st = red_mask(k, ax, x->rank, mask);
  if (st != RT_OK)
    return st;
  bool keep = rt__attr_bool(k->node, "keep_dims", false);
  rt_tensor *o = &k->out[0];
  o->dtype = ot;
  o->rank = 0;
  for (int i = 0; i < x->rank; i++) {
    if (!mask[i])
      o->dims[o->rank++] = x->dims[i];
    else if (keep)
      o->dims[o->rank++] = 1;
  }
  if (kind == RED_SUM || kind == RED_MEAN || kind == RED_PROD)
    k->scratch_bytes = align64((size_t)rt_tensor_numel(o) * sizeof(double));
  return RT_OK;
}

/* One input row into the accumulators: along the row into acc[0] when the row's dim is
 * reduced, element by element into acc[0..n) when it is kept. Accumulation order per output
 * element is row-major over the reduced dims, the order TF.js sums its transposed copy in. */
typedef void (*red_row)(const void *x, void *acc, int64_t n, bool along, float count);

#define RED_ROW(fname, TI, TA, STEP)                                                               \
  static void fname##_t(const TI *restrict x_, TA *restrict acc, int64_t n, bool along,            \
                        float count) {                                                             \
    if (along) {                                                                                   \
      TA a = acc[0];                                                                               \
      for (int64_t i = 0; i < n; i++) {                                                            \
        const TI v = x_[i];                                                                        \
        a = (TA)(STEP);                                                                            \
      }                                                                                            \
      acc[0] = a;                                                                                  \
    } else {                                                                                       \
      VLOOP(n, {                                                                                   \
        const TA a = acc[i];                                                                       \
        const TI v = x_[i];                                                                        \
        acc[i] = (TA)(STEP);                                                                       \
      });                                                                                          \
    }                                                                                              \
  }                                                                                                \
  static void fname(const void *x, void *acc, int64_t n, bool along, float count) {                \
    fname##_t(x, acc, n, along, count);                                                            \
  }

// clang-format off
RED_ROW(rsum_f, float, double, a + v)
RED_ROW(rsum_i, int32_t, double, a + v)
RED_ROW(rsum_b, uint8_t, double, a + v)
RED_ROW(rprod_f, float, double, a * v)
RED_ROW(rprod_i, int32_t, double, a * v)
RED_ROW(rprod_b, uint8_t, double, a * v)
/* Mean is sum(cast(x, float32) / count) with the division rounded to float32 per element. */
RED_ROW(rmean_f, float, double, a + (double)(v / count))
RED_ROW(rmean_i, int32_t, double, a + (double)((float)v / count))
RED_ROW(rmean_b, uint8_t, double, a + (double)((float)v / count))
/* NaN wins, as in TF.js's `isNaN(value) || value > max`. */
RED_ROW(rmax_f, float, float, (v != v || v > a) ? v : a)
RED_ROW(rmin_f, float, float, (v != v || v < a) ? v : a)
RED_ROW(rmax_i, int32_t, int32_t, v > a ? v : a)
RED_ROW(rmin_i, int32_t, int32_t, v < a ? v : a)
RED_ROW(rall_b, uint8_t, uint8_t, a & (v != 0))
RED_ROW(rany_b, uint8_t, uint8_t, a | (v != 0))
// clang-format on

static red_row red_pick(red_kind kind, rt_dtype t) {
  int d = t == RT_DT_F32 ? 0 : t == RT_DT_I32 ? 1 : 2;
  static const red_row rows[7][3] = {
      [RED_SUM] = {rsum_f, rsum_i, rsum_b},     [RED_MEAN] = {rmean_f, rmean_i, rmean_b},
      [RED_PROD] = {rprod_f, rprod_i, rprod_b}, [RED_MAX] = {rmax_f, rmax_i, NULL},
      [RED_MIN] = {rmin_f, rmin_i, NULL},       [RED_ALL] = {NULL, NULL, rall_b},
      [RED_ANY] = {NULL, NULL, rany_b},
  };
  return rows[kind][d];
}

static void red_fill(red_kind kind, rt_tensor *o, void *acc, int64_t n) {
  if (kind == RED_SUM || kind == RED_MEAN || kind == RED_PROD) {
    double *a = acc, v = kind == RED_PROD ? 1.0 : 0.0;
    for (int64_t i = 0; i < n; i++)
      a[i] = v;
  } else if (o->dtype == RT_DT_F32) {
    float *a = o->data, v = kind == RED_MAX ? -INFINITY : INFINITY;
    for (int64_t i = 0; i < n; i++)
      a[i] = v;
  } else if (o->dtype == RT_DT_I32) {
    int32_t *a = o->data, v = kind == RED_MAX ? INT32_MIN : INT32_MAX;
    for (int64_t i = 0; i < n; i++)
      a[i] = v;
  } else {
    memset(o->data, kind == RED_ALL ? 1 : 0, (size_t)n);
  }
}

static rt_status red_run(rt_kctx *k, red_kind kind) {
  const rt_tensor *x = &k->in[0];
  rt_tensor *o = &k->out[0];
  bool mask[RT_MAX_RANK];
  rt_status st = red_mask(k, &k->in[1], x->rank, mask);
  if (st != RT_OK)
    return st;
  int64_t on = rt_tensor_numel(o), xn = rt_tensor_numel(x);
  if (on == 0)
    return RT_OK;
  bool dbl = kind == RED_SUM || kind == RED_MEAN || kind == RED_PROD;
  void *acc = dbl ? k->scratch : o->data;
  size_t asz = dbl ? sizeof(double) : rt_dtype_size(o->dtype);
  if (xn == 0) { /* empty reductions: what TF.js returns (0 for Mean and All, NaN for Max) */
    if (dbl) {
      red_fill(kind, o, acc, on);
    } else if (o->dtype == RT_DT_F32) {
      float *y = o->data;
      for (int64_t i = 0; i < on; i++)
        y[i] = NAN;
    } else {
      memset(o->data, 0, (size_t)on * rt_dtype_size(o->dtype));
    }
  } else {
    /* Collapse: drop size-1 dims, merge neighbours that are both kept or both reduced. */
    int64_t dims[RT_MAX_RANK], ost[RT_MAX_RANK], count = 1;
    bool red[RT_MAX_RANK];
    int nd = 0;
    for (int i = 0; i < x->rank; i++) {
      if (mask[i])
        count *= x->dims[i];
      if (x->dims[i] == 1)
        continue;
      if (nd > 0 && red[nd - 1] == mask[i]) {
        dims[nd - 1] *= x->dims[i];
      } else {
        red[nd] = mask[i];
        dims[nd++] = x->dims[i];
      }
    }
    if (nd == 0) {
      red[0] = false;
      dims[nd++] = 1;
    }
    int64_t s = 1;
    for (int j = nd - 1; j >= 0; j--) {
      ost[j] = red[j] ? 0 : s;
      if (!red[j])
        s *= dims[j];
    }
    red_row row = red_pick(kind, x->dtype);
    red_fill(kind, o, acc, on);
    int64_t inner = dims[nd - 1], outer = xn / inner, idx[RT_MAX_RANK] = {0}, ooff = 0;
    const char *xp = x->data;
    size_t xsz = rt_dtype_size(x->dtype);
    for (int64_t it = 0; it < outer; it++) {
      row(xp + it * inner * (int64_t)xsz, (char *)acc + ooff * (int64_t)asz, inner, red[nd - 1],
          (float)count);
      for (int d = nd - 2; d >= 0; d--) {
        ooff += ost[d];
        if (++idx[d] < dims[d])
          break;
        ooff -= ost[d] * dims[d];
        idx[d] = 0;
      }
    }
  }
  if (dbl) {
    const double *a = acc;
    if (o->dtype == RT_DT_F32) {
      float *y = o->data;
      VLOOP(on, { y[i] = (float)a[i]; });
    } else {
      int32_t *y = o->data;
      for (int64_t i = 0; i < on; i++)
        y[i] = js_i32(a[i]);
    }
  }
  return RT_OK;
}

#define DEF_RED(NAME, KIND)                                                                        \
  static rt_status NAME##_shape(rt_kctx *k) { return red_shape(k, KIND); }                         \
  static rt_status NAME##_run(rt_kctx *k) { return red_run(k, KIND); }

DEF_RED(sum, RED_SUM)
DEF_RED(mean, RED_MEAN)
DEF_RED(prod, RED_PROD)
DEF_RED(max, RED_MAX)
DEF_RED(min, RED_MIN)
DEF_RED(all, RED_ALL)
DEF_RED(any, RED_ANY)

/* ---- ArgMax / ArgMin ---- */

/* TF.js takes the first element of the axis input and always returns int32 (output_type is
 * ignored); ties and NaNs keep the earliest index since only a strictly better value moves it. */
static rt_status arg_axis(const rt_kctx *k, int *axis) {
  const rt_tensor *x = &k->in[0], *ax = &k->in[1];
  if (ax->dtype != RT_DT_I32 && ax->dtype != RT_DT_F32)
    return dtype_error(k, "axis", ax->dtype);
  if (ax->rank > 1 || rt_tensor_numel(ax) < 1)
    return op_error(k, RT_ERR_INVALID_ARG, "axis must be a scalar");
  int64_t a = rt__tensor_get_int(ax, 0);
  if (x->rank < 1 || !rt__norm_axis(a, x->rank, axis))
    return rt__errorf(k->err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): axis %lld is out of range for rank %d", k->node->name,
                      k->node->op_name, (long long)a, x->rank);
  return RT_OK;
}

static rt_status arg_shape(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  if (x->dtype != RT_DT_F32 && x->dtype != RT_DT_I32)
    return dtype_error(k, "input", x->dtype);
  if (!k->in[1].data)
    return RT_ERR_NEED_VALUE;
  int axis;
  rt_status st = arg_axis(k, &axis);
  if (st != RT_OK)
    return st;
  rt_tensor *o = &k->out[0];
  o->dtype = RT_DT_I32;
  o->rank = 0;
  int64_t inner = 1;
  for (int i = 0; i < x->rank; i++) {
    if (i != axis)
      o->dims[o->rank++] = x->dims[i];
    if (i > axis)
      inner *= x->dims[i];
  }
  k->scratch_bytes = align64((size_t)inner * 4);
  return RT_OK;
}

#define ARG_LOOP(T, CMP)                                                                           \
  do {                                                                                             \
    const T *xs = x->data;                                                                         \
    T *best = k->scratch;                                                                          \
    for (int64_t ob = 0; ob < outer; ob++) {                                                       \
      const T *xo = xs + ob * r * inner;                                                           \
      int32_t *yo = y + ob * inner;                                                                \
      for (int64_t c = 0; c < inner; c++) {                                                        \
        best[c] = xo[c];                                                                           \
        yo[c] = 0;                                                                                 \
      }                                                                                            \
      for (int64_t j = 1; j < r; j++) {                                                            \
        const T *xr = xo + j * inner;                                                              \
        for (int64_t c = 0; c < inner; c++)                                                        \
          if (xr[c] CMP best[c]) {                                                                 \
            best[c] = xr[c];                                                                       \
            yo[c] = (int32_t)j;                                                                    \
          }                                                                                        \
      }                                                                                            \
    }                                                                                              \
  } while (0)

static rt_status arg_run(rt_kctx *k, bool is_max) {
  const rt_tensor *x = &k->in[0];
  int axis;
  rt_status st = arg_axis(k, &axis);
  if (st != RT_OK)
    return st;
  int64_t outer = 1, inner = 1, r = x->dims[axis];
  for (int i = 0; i < x->rank; i++) {
    if (i < axis)
      outer *= x->dims[i];
    if (i > axis)
      inner *= x->dims[i];
  }
  int32_t *y = k->out[0].data;
  if (r == 0) { /* TF.js answers 0 for an empty axis */
    memset(y, 0, (size_t)(outer * inner) * sizeof *y);
    return RT_OK;
  }
  if (x->dtype == RT_DT_F32) {
    if (is_max)
      ARG_LOOP(float, >);
    else
      ARG_LOOP(float, <);
  } else {
    if (is_max)
      ARG_LOOP(int32_t, >);
    else
      ARG_LOOP(int32_t, <);
  }
  return RT_OK;
}

static rt_status argmax_run(rt_kctx *k) { return arg_run(k, true); }
static rt_status argmin_run(rt_kctx *k) { return arg_run(k, false); }

/* ---- Softmax / LogSoftmax (last axis) ---- */

static rt_status softmax_shape(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  if (x->dtype != RT_DT_F32)
    return dtype_error(k, "input", x->dtype);
  if (x->rank < 1)
    return op_error(k, RT_ERR_SHAPE, "input must have rank >= 1");
  rt__set_shape(&k->out[0], RT_DT_F32, x->rank, x->dims);
  return RT_OK;
}

static float row_max(const float *x, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    m = (x[i] != x[i] || x[i] > m) ? x[i] : m;
  return m;
}

/* y = exp(x - m); returns the double sum of the float32 results. */
static double row_exp(const float *restrict x, float m, float *restrict y, int64_t n) {
  VLOOP(n, { y[i] = vexpf(x[i] - m); });
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += y[i];
  return s;
}

static void row_scale(float *restrict y, float d, int64_t n) {
  VLOOP(n, { y[i] = y[i] / d; });
}

static void row_shift(const float *restrict x, float m, float ls, float *restrict y, int64_t n) {
  VLOOP(n, { y[i] = (x[i] - m) - ls; });
}

/* exp(x - max) / sum, with the sum in double and rounded to float32 before the division. */
static rt_status softmax_run(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  int64_t c = x->dims[x->rank - 1], n = rt_tensor_numel(x);
  if (c == 0 || n == 0)
    return RT_OK;
  for (int64_t r = 0; r < n / c; r++) {
    const float *xr = (const float *)x->data + r * c;
    float *yr = (float *)k->out[0].data + r * c;
    row_scale(yr, (float)row_exp(xr, row_max(xr, c), yr, c), c);
  }
  return RT_OK;
}

/* (x - max) - log(sum(exp(x - max))), the way tf.logSoftmax composes it. */
static rt_status logsoftmax_run(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  int64_t c = x->dims[x->rank - 1], n = rt_tensor_numel(x);
  if (c == 0 || n == 0)
    return RT_OK;
  for (int64_t r = 0; r < n / c; r++) {
    const float *xr = (const float *)x->data + r * c;
    float *yr = (float *)k->out[0].data + r * c;
    const float m = row_max(xr, c);
    const float ls = (float)log((double)(float)row_exp(xr, m, yr, c));
    row_shift(xr, m, ls, yr, c);
  }
  return RT_OK;
}

/* ---- the table ---- */

static double flops_out(const rt_kctx *k) { return (double)rt_tensor_numel(&k->out[0]); }
static double flops_in(const rt_kctx *k) { return (double)rt_tensor_numel(&k->in[0]); }

#define BINARY(TF, NAME)                                                                           \
  {                                                                                                \
    .name = TF, .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .shape = NAME##_shape,           \
    .run = NAME##_run, .flops = flops_out                                                          \
  }
#define UNARY(TF, NAME)                                                                            \
  {                                                                                                \
    .name = TF, .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .shape = NAME##_shape,           \
    .run = NAME##_run, .flops = flops_out                                                          \
  }
#define REDUCE(TF, NAME)                                                                           \
  {                                                                                                \
    .name = TF, .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .shape = NAME##_shape,           \
    .run = NAME##_run, .flops = flops_in                                                           \
  }

const rt_op_def rt__ops_math[] = {
    BINARY("Add", add),
    BINARY("AddV2", add),
    BINARY("Sub", sub),
    BINARY("Mul", mul),
    BINARY("RealDiv", div),
    BINARY("Div", div),
    BINARY("DivNoNan", divnonan),
    BINARY("FloorDiv", floordiv),
    BINARY("FloorMod", mod),
    BINARY("Mod", mod),
    BINARY("Maximum", maximum),
    BINARY("Minimum", minimum),
    BINARY("Pow", pow),
    BINARY("SquaredDifference", sqdiff),
    BINARY("Atan2", atan2),
    BINARY("Prelu", prelu),
    BINARY("Equal", equal),
    BINARY("NotEqual", notequal),
    BINARY("Less", less),
    BINARY("LessEqual", lessequal),
    BINARY("Greater", greater),
    BINARY("GreaterEqual", greaterequal),
    BINARY("LogicalAnd", logicaland),
    BINARY("LogicalOr", logicalor),
    {.name = "BiasAdd",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .prepare = biasadd_prepare,
     .shape = biasadd_shape,
     .run = biasadd_run,
     .flops = flops_out},
    {.name = "Select",
     .min_inputs = 3,
     .max_inputs = 3,
     .n_outputs = 1,
     .shape = select_shape,
     .run = select_run,
     .flops = flops_out},
    {.name = "SelectV2",
     .min_inputs = 3,
     .max_inputs = 3,
     .n_outputs = 1,
     .shape = select_shape,
     .run = select_run,
     .flops = flops_out},
    {.name = "AddN",
     .min_inputs = 1,
     .max_inputs = -1,
     .n_outputs = 1,
     .shape = addn_shape,
     .run = addn_run,
     .flops = addn_flops},
    {.name = "Cast",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .prepare = cast_prepare,
     .shape = cast_shape,
     .run = cast_run,
     .flops = flops_out},
    {.name = "ClipByValue",
     .min_inputs = 3,
     .max_inputs = 3,
     .n_outputs = 1,
     .shape = clip_shape,
     .run = clip_run,
     .flops = flops_out},
    {.name = "LeakyRelu",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .prepare = leaky_prepare,
     .shape = leaky_shape,
     .run = leaky_run,
     .flops = flops_out},
    UNARY("Relu", relu),
    UNARY("Relu6", relu6),
    UNARY("Elu", elu),
    UNARY("Selu", selu),
    UNARY("Sigmoid", sigmoid),
    UNARY("Tanh", tanh),
    UNARY("Exp", exp),
    UNARY("Expm1", expm1),
    UNARY("Log", log),
    UNARY("Log1p", log1p),
    UNARY("Sqrt", sqrt),
    UNARY("Rsqrt", rsqrt),
    UNARY("Square", square),
    UNARY("Abs", abs),
    UNARY("Neg", neg),
    UNARY("Reciprocal", recip),
    UNARY("Floor", floor),
    UNARY("Ceil", ceil),
    UNARY("Round", round),
    UNARY("Sign", sign),
    UNARY("Sin", sin),
    UNARY("Cos", cos),
    UNARY("Tan", tan),
    UNARY("Asin", asin),
    UNARY("Acos", acos),
    UNARY("Atan", atan),
    UNARY("Sinh", sinh),
    UNARY("Cosh", cosh),
    UNARY("Asinh", asinh),
    UNARY("Acosh", acosh),
    UNARY("Atanh", atanh),
    UNARY("Softplus", softplus),
    UNARY("Softsign", softsign),
    UNARY("Erf", erf),
    UNARY("IsNan", isnan),
    UNARY("IsInf", isinf),
    UNARY("IsFinite", isfinite),
    UNARY("ZerosLike", zeroslike),
    UNARY("OnesLike", oneslike),
    UNARY("LogicalNot", logicalnot),
    REDUCE("Sum", sum),
    REDUCE("Mean", mean),
    REDUCE("Prod", prod),
    REDUCE("Max", max),
    REDUCE("Min", min),
    REDUCE("All", all),
    REDUCE("Any", any),
    {.name = "ArgMax",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = arg_shape,
     .run = argmax_run,
     .flops = flops_in},
    {.name = "ArgMin",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = arg_shape,
     .run = argmin_run,
     .flops = flops_in},
    {.name = "Softmax",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .shape = softmax_shape,
     .run = softmax_run,
     .flops = flops_out},
    {.name = "LogSoftmax",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .shape = softmax_shape,
     .run = logsoftmax_run,
     .flops = flops_out},
};
const int rt__ops_math_count = (int)(sizeof rt__ops_math / sizeof rt__ops_math[0]);
