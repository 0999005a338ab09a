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
 * Threads: big ops split over the session's pool (k->tp) by output ranges: elementwise ops by
 * blocks of output elements, reductions by a kept dim (each output element still accumulates
 * its inputs in the same order), softmax by rows. Every element is computed by the same code in
 * the same order at any thread count, so results are bit-identical; an op stays on one thread
 * below ~20 us of estimated work (see rt__par_grain), since waking the pool costs 5-10 us.
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
#if defined(__AVX__)
#include <immintrin.h>
#endif

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

/* ---- threads ----
 * Work is split over the session's pool by output ranges, so every output element is computed
 * by the same code in the same order whatever the thread count. Elementwise ops hand out items
 * of PAR_BLOCK elements (chunk edges stay on cache lines and on VLOOP's blocks of 8); an op
 * runs on one thread unless it has at least ~20 us of estimated work per thread, since
 * waking the pool costs 5-10 us. */
#define PAR_BLOCK 64

/* Items per chunk for items costing `ns` nanoseconds each. */

/* Per-element cost classes (ns, measured on AVX2 at 1 thread). */
#define COST_MOVE 0.1 /* add, compare, relu: bound by memory */
#define COST_DBL 0.3  /* double arithmetic, int conversions */
#define COST_EXP 1.0  /* vexpf-based: sigmoid, tanh, exp */
#define COST_LIBM 6.0 /* a libm call per element */

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

/* Conversion between dtypes as TF.js's Cast does it (also used for makeTypesMatch). Each pair
 * has its own restrict-qualified loop: gcc vectorizes nothing it cannot prove unaliased. */
#define CONV_LOOP(NAME, TS, TD, EXPR)                                                              \
  static void NAME(const TS *restrict s_, TD *restrict d_, int64_t n) {                            \
    VLOOP(n, {                                                                                     \
      const TS x = s_[i];                                                                          \
      d_[i] = (TD)(EXPR);                                                                          \
    });                                                                                            \
  }
CONV_LOOP(cv_f_b, float, uint8_t, x != 0.0f) /* NaN != 0: true, as notEqual(x, 0) */
CONV_LOOP(cv_i_f, int32_t, float, (float)x)
CONV_LOOP(cv_i_b, int32_t, uint8_t, x != 0)
CONV_LOOP(cv_b_f, uint8_t, float, x ? 1.0f : 0.0f)
CONV_LOOP(cv_b_i, uint8_t, int32_t, x ? 1 : 0)

/* Blocks of 8 that are all in int32 range (the common case) truncate in vector registers; a
 * block holding NaN, ±Inf or a large value goes element by element through js_i32. */
static void cv_f_i(const float *restrict s, int32_t *restrict d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int ok = 1;
    for (int j = 0; j < 8; j++)
      ok &= (s[i + j] >= -2147483648.0f) & (s[i + j] < 2147483648.0f);
    if (ok)
      for (int j = 0; j < 8; j++)
        d[i + j] = (int32_t)s[i + j];
    else
      for (int j = 0; j < 8; j++)
        d[i + j] = js_i32(s[i + j]);
  }
  for (; i < n; i++)
    d[i] = js_i32(s[i]);
}

static void convert(const void *src, rt_dtype st, void *dst, rt_dtype dt, int64_t n) {
  if (st == dt)
    memcpy(dst, src, (size_t)n * rt_dtype_size(st));
  else if (st == RT_DT_F32)
    dt == RT_DT_I32 ? cv_f_i(src, dst, n) : cv_f_b(src, dst, n);
  else if (st == RT_DT_I32)
    dt == RT_DT_F32 ? cv_i_f(src, dst, n) : cv_i_b(src, dst, n);
  else
    dt == RT_DT_F32 ? cv_b_f(src, dst, n) : cv_b_i(src, dst, n);
}

typedef struct conv_job {
  const char *src;
  char *dst;
  rt_dtype st, dt;
  int64_t n;
} conv_job;

static void conv_part(void *ctx, int64_t b, int64_t e) {
  const conv_job *j = ctx;
  int64_t s = b * PAR_BLOCK, t = e * PAR_BLOCK < j->n ? e * PAR_BLOCK : j->n;
  convert(j->src + s * (int64_t)rt_dtype_size(j->st), j->st,
          j->dst + s * (int64_t)rt_dtype_size(j->dt), j->dt, t - s);
}

static void convert_par(const rt_kctx *k, const void *src, rt_dtype st, void *dst, rt_dtype dt,
                        int64_t n) {
  conv_job j = {src, dst, st, dt, n};
  rt__parallel_for(k->tp, (n + PAR_BLOCK - 1) / PAR_BLOCK, rt__par_grain(COST_DBL * PAR_BLOCK),
                   conv_part, &j);
}

static size_t conv_bytes(const rt_tensor *t, rt_dtype ct) {
  return t->dtype == ct ? 0 : align64((size_t)rt_tensor_numel(t) * rt_dtype_size(ct));
}

/* Returns t's data as dtype ct, converting into *scratch (advanced past it) when needed. */
static const void *as_dtype(const rt_kctx *k, const rt_tensor *t, rt_dtype ct, char **scratch) {
  if (t->dtype == ct)
    return t->data;
  void *d = *scratch;
  convert_par(k, t->data, t->dtype, d, ct, rt_tensor_numel(t));
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
#define BC_TILE 4096

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

typedef struct bc_job {
  const bcast *bc;
  const void *in[BC_MAX_IN];
  size_t esz[BC_MAX_IN], osz;
  void *out;
  bc_inner fn;
  const void *ctx;
  int64_t total; /* output elements */
  double cost;   /* ns per element, for the thread split */
} bc_job;

/* Moves the row index one row on (idx over dims[0..nd-1), off per operand). */
static inline void bc_next_row(const bcast *bc, int64_t *idx, int64_t *off) {
  for (int d = bc->nd - 2; d >= 0; d--) {
    for (int k = 0; k < bc->nin; k++)
      off[k] += bc->st[k][d];
    if (++idx[d] < bc->dims[d])
      return;
    for (int k = 0; k < bc->nin; k++)
      off[k] -= bc->st[k][d] * bc->dims[d];
    idx[d] = 0;
  }
}

/* Output elements [s, e) in row-major order: partial rows at either end get a call of their
 * own; full rows go one per call, or, when fusable, many rows per call. */
static void bcast_range(const bc_job *job, int64_t s, int64_t e) {
  const bc_job jl = *job, *j = &jl; /* a local copy: the inner calls cannot change it */
  const bcast *bc = j->bc;
  const int nd = bc->nd, nin = bc->nin;
  const int64_t inner = bc->dims[nd - 1];
  const bool fuse = bcast_fusable(bc, j->esz);
  int64_t idx[RT_MAX_RANK], off[BC_MAX_IN] = {0}, srow[BC_MAX_IN];
  int64_t it = s / inner, col = s % inner;
  for (int d = nd - 2; d >= 0; d--) {
    idx[d] = it % bc->dims[d];
    it /= bc->dims[d];
    for (int k = 0; k < nin; k++)
      off[k] += idx[d] * bc->st[k][d];
  }
  for (int k = 0; k < nin; k++)
    srow[k] = bc->st[k][nd - 1];
  const void *p[BC_MAX_IN];
  _Alignas(64) unsigned char tile[BC_MAX_IN][BC_TILE];
  const char *tiled[BC_MAX_IN] = {NULL, NULL, NULL}; /* the row tile[k] repeats, if any */
  char *o = (char *)j->out + s * (int64_t)j->osz;
  while (s < e) {
    if (fuse && col == 0 && e - s >= 2 * inner) {
      int64_t rows = bc->dims[nd - 2] - idx[nd - 2], m = bc->dims[nd - 2];
      if ((e - s) / inner < rows)
        rows = (e - s) / inner;
      for (int k = 0; k < nin; k++)
        if (BC_TILE / (inner * (int64_t)j->esz[k]) < m)
          m = BC_TILE / (inner * (int64_t)j->esz[k]);
      /* m depends on the job only, so a tile built earlier always holds enough copies */
      for (int k = 0; k < nin; k++) {
        const char *row = (const char *)j->in[k] + off[k] * (int64_t)j->esz[k];
        size_t rb = (size_t)inner * j->esz[k];
        if (bc->st[k][nd - 2] == 0 && tiled[k] != row) {
          for (int64_t r = 0; r < m; r++)
            memcpy(tile[k] + r * (int64_t)rb, row, rb);
          tiled[k] = row;
        }
      }
      for (int64_t r0 = 0; r0 < rows; r0 += m) {
        int64_t mm = rows - r0 < m ? rows - r0 : m;
        for (int k = 0; k < nin; k++)
          p[k] = bc->st[k][nd - 2] ? (const char *)j->in[k] +
                                         (off[k] + r0 * inner) * (int64_t)j->esz[k]
                                   : (const void *)tile[k];
        j->fn(p, srow, o, mm * inner, j->ctx);
        o += mm * inner * (int64_t)j->osz;
      }
      s += rows * inner;
      /* rows never passes the end of dim nd-2, so one step there plus a carry is enough */
      idx[nd - 2] += rows - 1;
      for (int k = 0; k < nin; k++)
        off[k] += (rows - 1) * bc->st[k][nd - 2];
      bc_next_row(bc, idx, off);
    } else if (col == 0 && e - s >= inner) {
      /* whole rows, one call each (rows too long to fuse, or operands that do not allow it) */
      do {
        for (int k = 0; k < nin; k++)
          p[k] = (const char *)j->in[k] + off[k] * (int64_t)j->esz[k];
        j->fn(p, srow, o, inner, j->ctx);
        o += inner * (int64_t)j->osz;
        s += inner;
        bc_next_row(bc, idx, off);
      } while (e - s >= inner && !(fuse && e - s >= 2 * inner));
    } else {
      int64_t n = inner - col < e - s ? inner - col : e - s;
      for (int k = 0; k < nin; k++)
        p[k] = (const char *)j->in[k] + (off[k] + col * srow[k]) * (int64_t)j->esz[k];
      j->fn(p, srow, o, n, j->ctx);
      o += n * (int64_t)j->osz;
      s += n;
      col += n;
      if (col == inner) {
        col = 0;
        bc_next_row(bc, idx, off);
      }
    }
  }
}

static void bcast_part(void *ctx, int64_t b, int64_t e) {
  const bc_job *j = ctx;
  bcast_range(j, b * PAR_BLOCK, e * PAR_BLOCK < j->total ? e * PAR_BLOCK : j->total);
}

static void bcast_run(const bc_job *j, rt_threadpool *tp) {
  rt__parallel_for(tp, (j->total + PAR_BLOCK - 1) / PAR_BLOCK, rt__par_grain(j->cost * PAR_BLOCK),
                   bcast_part, (void *)j);
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
  double cost; /* ns per element, for the thread split */
} binop;

static const binop BO_ADD = {add_f, add_i, NULL, 0, COST_MOVE};
static const binop BO_SUB = {sub_f, sub_i, NULL, 0, COST_MOVE};
static const binop BO_MUL = {mul_f, mul_i, NULL, 0, COST_MOVE};
/* tf.div: int32 floor-divides */
static const binop BO_DIV = {div_f, floordiv_i, NULL, 0, COST_MOVE};
static const binop BO_DIVNONAN = {divnonan_f, divnonan_i, NULL, 0, COST_MOVE};
static const binop BO_FLOORDIV = {floordiv_f, floordiv_i, NULL, BO_OUT_I32, COST_DBL};
static const binop BO_MOD = {mod_f, mod_i, NULL, 0, COST_LIBM};
static const binop BO_MAX = {max_f, max_i, NULL, BO_BOOL_AS_I32, COST_MOVE};
static const binop BO_MIN = {min_f, min_i, NULL, BO_BOOL_AS_I32, COST_MOVE};
static const binop BO_POW = {pow_f, pow_i, NULL, 0, COST_LIBM};
static const binop BO_SQDIFF = {sqdiff_f, sqdiff_i, NULL, 0, COST_MOVE};
static const binop BO_ATAN2 = {atan2_f, atan2_i, NULL, 0, COST_LIBM};
static const binop BO_PRELU = {prelu_f, NULL, NULL, BO_FORCE_F32, COST_MOVE};
static const binop BO_EQ = {eq_f, eq_i, eq_b, BO_OUT_BOOL, COST_MOVE};
static const binop BO_NE = {ne_f, ne_i, ne_b, BO_OUT_BOOL, COST_MOVE};
static const binop BO_LT = {lt_f, lt_i, lt_b, BO_OUT_BOOL, COST_MOVE};
static const binop BO_LE = {le_f, le_i, le_b, BO_OUT_BOOL, COST_MOVE};
static const binop BO_GT = {gt_f, gt_i, gt_b, BO_OUT_BOOL, COST_MOVE};
static const binop BO_GE = {ge_f, ge_i, ge_b, BO_OUT_BOOL, COST_MOVE};
static const binop BO_AND = {NULL, NULL, and_b, BO_OUT_BOOL | BO_BOOL_ONLY, COST_MOVE};
static const binop BO_OR = {NULL, NULL, or_b, BO_OUT_BOOL | BO_BOOL_ONLY, COST_MOVE};

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
  const rt_tensor *ins[2] = {a, b};
  bin_kern kern = bin_pick(op, ct);
  bcast bc;
  bcast_init(&bc, o, ins, 2);
  bc_job j = {.bc = &bc,
              .in = {as_dtype(k, a, ct, &scr), as_dtype(k, b, ct, &scr)},
              .esz = {rt_dtype_size(ct), rt_dtype_size(ct)},
              .osz = rt_dtype_size(ot),
              .out = o->data,
              .fn = bin_inner,
              .ctx = &kern,
              .total = rt_tensor_numel(o),
              .cost = ct == RT_DT_F32 || op->cost > COST_MOVE ? op->cost : COST_DBL};
  bcast_run(&j, k->tp);
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

#define SEL_LOOP(NAME, T)                                                                          \
  static void NAME(const uint8_t *restrict c, const T *restrict t, const T *restrict e,           \
                   T *restrict y, int64_t n) {                                                     \
    VLOOP(n, { y[i] = c[i] ? t[i] : e[i]; });                                                      \
  }
SEL_LOOP(sel_f, float)
SEL_LOOP(sel_i, int32_t)
SEL_LOOP(sel_b, uint8_t)

static void select_inner(const void *const *p, const int64_t *s, void *o, int64_t n,
                         const void *ctx) {
  const uint8_t *c = p[0];
  rt_dtype dt = *(const rt_dtype *)ctx;
  if (s[0] && s[1] && s[2]) { /* all contiguous: a loop gcc can vectorize */
    if (dt == RT_DT_F32)
      sel_f(c, p[1], p[2], o, n);
    else if (dt == RT_DT_I32)
      sel_i(c, p[1], p[2], o, n);
    else
      sel_b(c, p[1], p[2], o, n);
  } else if (dt == RT_DT_F32) {
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
  const rt_tensor *ins[3] = {&c, &k->in[1], &k->in[2]};
  bcast bc;
  bcast_init(&bc, o, ins, 3);
  bc_job j = {.bc = &bc,
              .in = {c.data, as_dtype(k, &k->in[1], dt, &scr), as_dtype(k, &k->in[2], dt, &scr)},
              .esz = {1, rt_dtype_size(dt), rt_dtype_size(dt)},
              .osz = rt_dtype_size(dt),
              .out = o->data,
              .fn = select_inner,
              .ctx = &dt,
              .total = rt_tensor_numel(o),
              .cost = COST_DBL};
  bcast_run(&j, k->tp);
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
static void addn_part(void *ctx, int64_t b, int64_t e) {
  const rt_kctx *k = ctx;
  int64_t n = rt_tensor_numel(&k->out[0]), s = b * PAR_BLOCK;
  n = (e * PAR_BLOCK < n ? e * PAR_BLOCK : n) - s;
  char *o = (char *)k->out[0].data + s * 4;
  memset(o, 0, (size_t)n * 4);
  for (int j = 0; j < k->n_in; j++) {
    const char *x = (const char *)k->in[j].data + s * 4;
    if (k->out[0].dtype == RT_DT_F32)
      acc_f32((float *)o, (const float *)x, n);
    else
      acc_i32((uint32_t *)o, (const int32_t *)x, n);
  }
}

static rt_status addn_run(rt_kctx *k) {
  int64_t n = rt_tensor_numel(&k->out[0]);
  rt__parallel_for(k->tp, (n + PAR_BLOCK - 1) / PAR_BLOCK,
                   rt__par_grain(COST_MOVE * k->n_in * PAR_BLOCK), addn_part, k);
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
  convert_par(k, k->in[0].data, k->in[0].dtype, k->out[0].data, k->out[0].dtype,
              rt_tensor_numel(&k->in[0]));
  return RT_OK;
}

/* ---- unary ops ---- */

typedef void (*un_kern)(const void *x, void *o, int64_t n, float alpha);

typedef struct unop {
  un_kern f32, i32, b8;     /* by input dtype; NULL: not supported */
  rt_dtype of32, oi32, ob8; /* output dtype for each input dtype */
  double cost;              /* ns per element, for the thread split */
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

/* sqrt is correctly rounded everywhere, but without -fno-math-errno gcc keeps a libm call for
 * negative inputs, which stops vectorization; vsqrtps/pd give the same bits (negative -> the
 * default NaN, -0 -> -0). */
static void sqrt_f(const void *x_, void *o_, int64_t n, float alpha) {
  const float *restrict x = x_;
  float *restrict o = o_;
  int64_t i = 0;
#if defined(__AVX__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(o + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
#endif
  for (; i < n; i++)
    o[i] = sqrtf(x[i]);
}

static void rsqrt_f(const void *x_, void *o_, int64_t n, float alpha) {
  const float *restrict x = x_;
  float *restrict o = o_;
  int64_t i = 0;
#if defined(__AVX__)
  const __m256d one = _mm256_set1_pd(1.0);
  for (; i + 4 <= n; i += 4)
    _mm_storeu_ps(o + i, _mm256_cvtpd_ps(_mm256_div_pd(
                             one, _mm256_sqrt_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i))))));
#endif
  for (; i < n; i++)
    o[i] = (float)(1.0 / sqrt((double)x[i]));
}

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
static const unop UN_RELU = {relu_f, relu_i, NULL, F, I, NONE, COST_MOVE};
static const unop UN_RELU6 = {relu6_f, relu6_i, NULL, F, I, NONE, COST_MOVE};
static const unop UN_ELU = {elu_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_SELU = {selu_f, selu_i, NULL, F, I, NONE, COST_LIBM};
static const unop UN_LEAKY = {leaky_f, leaky_i, NULL, F, F, NONE, COST_MOVE};
static const unop UN_SIGMOID = {sigmoid_f, NULL, NULL, F, NONE, NONE, COST_EXP};
static const unop UN_TANH = {tanh_f, NULL, NULL, F, NONE, NONE, COST_EXP};
static const unop UN_EXP = {exp_f, exp_i, NULL, F, F, NONE, COST_EXP};
static const unop UN_EXPM1 = {expm1_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_LOG = {log_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_LOG1P = {log1p_f, log1p_i, NULL, F, I, NONE, COST_LIBM};
static const unop UN_SQRT = {sqrt_f, NULL, NULL, F, NONE, NONE, COST_MOVE};
static const unop UN_RSQRT = {rsqrt_f, NULL, NULL, F, NONE, NONE, COST_DBL};
static const unop UN_SQUARE = {square_f, square_i, NULL, F, I, NONE, COST_MOVE};
static const unop UN_ABS = {abs_f, abs_i, NULL, F, I, NONE, COST_MOVE};
static const unop UN_NEG = {neg_f, neg_i, NULL, F, I, NONE, COST_MOVE};
static const unop UN_RECIP = {recip_f, recip_i, NULL, F, I, NONE, COST_MOVE};
static const unop UN_FLOOR = {floor_f, NULL, NULL, F, NONE, NONE, COST_MOVE};
static const unop UN_CEIL = {ceil_f, NULL, NULL, F, NONE, NONE, COST_MOVE};
static const unop UN_ROUND = {round_f, round_i, NULL, F, I, NONE, COST_MOVE};
static const unop UN_SIGN = {sign_f, sign_i, NULL, F, I, NONE, COST_MOVE};
static const unop UN_SIN = {sin_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_COS = {cos_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_TAN = {tan_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_ASIN = {asin_f, asin_i, NULL, F, I, NONE, COST_LIBM};
static const unop UN_ACOS = {acos_f, acos_i, NULL, F, I, NONE, COST_LIBM};
static const unop UN_ATAN = {atan_f, atan_i, NULL, F, I, NONE, COST_LIBM};
static const unop UN_SINH = {sinh_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_COSH = {cosh_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_ASINH = {asinh_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_ACOSH = {acosh_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_ATANH = {atanh_f, NULL, NULL, F, NONE, NONE, COST_LIBM};
static const unop UN_SOFTPLUS = {softplus_f, softplus_i, NULL, F, I, NONE, COST_LIBM};
static const unop UN_SOFTSIGN = {softsign_f, NULL, NULL, F, NONE, NONE, COST_MOVE};
static const unop UN_ERF = {erf_f, erf_i, NULL, F, F, NONE, COST_LIBM};
static const unop UN_ISNAN = {isnan_f, zeros_1, NULL, B, B, NONE, COST_MOVE};
static const unop UN_ISINF = {isinf_f, zeros_1, NULL, B, B, NONE, COST_MOVE};
static const unop UN_ISFINITE = {isfinite_f, ones_1, NULL, B, B, NONE, COST_MOVE};
static const unop UN_ZEROS = {zeros_4, zeros_4, zeros_1, F, I, B, COST_MOVE};
static const unop UN_ONES = {ones_f, ones_i, ones_1, F, I, B, COST_MOVE};
static const unop UN_NOT = {NULL, NULL, not_b, NONE, NONE, B, COST_MOVE};
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

typedef struct un_job {
  un_kern kern;
  const char *x;
  char *o;
  int64_t isz, osz, n;
  float alpha;
} un_job;

static void un_part(void *ctx, int64_t b, int64_t e) {
  const un_job *j = ctx;
  int64_t s = b * PAR_BLOCK, t = e * PAR_BLOCK < j->n ? e * PAR_BLOCK : j->n;
  j->kern(j->x + s * j->isz, j->o + s * j->osz, t - s, j->alpha);
}

static rt_status un_run_alpha(rt_kctx *k, const unop *op, float alpha) {
  un_kern kern;
  rt_dtype ot;
  if (!un_pick(op, k->in[0].dtype, &kern, &ot))
    return op_error(k, RT_ERR_INTERNAL, "input dtype changed after planning");
  un_job j = {kern,
              k->in[0].data,
              k->out[0].data,
              (int64_t)rt_dtype_size(k->in[0].dtype),
              (int64_t)rt_dtype_size(ot),
              rt_tensor_numel(&k->in[0]),
              alpha};
  rt__parallel_for(k->tp, (j.n + PAR_BLOCK - 1) / PAR_BLOCK, rt__par_grain(op->cost * PAR_BLOCK),
                   un_part, &j);
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

typedef struct clip_job {
  const rt_kctx *k;
  double lo, hi;
} clip_job;

static void clip_part(void *ctx, int64_t b, int64_t e) {
  const clip_job *j = ctx;
  const double lo = j->lo, hi = j->hi;
  int64_t n = rt_tensor_numel(&j->k->in[0]), s = b * PAR_BLOCK;
  n = (e * PAR_BLOCK < n ? e * PAR_BLOCK : n) - s;
  if (j->k->in[0].dtype == RT_DT_F32) {
    const float *restrict x = (const float *)j->k->in[0].data + s;
    float *restrict y = (float *)j->k->out[0].data + s;
    const float l = (float)lo, h = (float)hi;
    if (lo == hi)
      VLOOP(n, { y[i] = l; });
    else
      VLOOP(n, {
        const float v = x[i];
        y[i] = v > h ? h : (v < l ? l : v);
      });
  } else {
    const int32_t *restrict x = (const int32_t *)j->k->in[0].data + s;
    int32_t *restrict y = (int32_t *)j->k->out[0].data + s;
    const int32_t l = js_i32(lo), h = js_i32(hi);
    for (int64_t i = 0; i < n; i++)
      y[i] = lo == hi ? l : x[i] > hi ? h : x[i] < lo ? l : x[i];
  }
}

static rt_status clip_run(rt_kctx *k) {
  double lo = first_value(&k->in[1]), hi = first_value(&k->in[2]);
  if (!(lo <= hi))
    return rt__errorf(k->err, RT_ERR_INVALID_ARG,
                      "node '%s' (ClipByValue): min (%g) must be less than or equal to max (%g)",
                      k->node->name, lo, hi);
  clip_job j = {k, lo, hi};
  int64_t n = rt_tensor_numel(&k->in[0]);
  rt__parallel_for(k->tp, (n + PAR_BLOCK - 1) / PAR_BLOCK, rt__par_grain(COST_MOVE * PAR_BLOCK),
                   clip_part, &j);
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
  /* Reducing an empty axis leaves the other dims, which may be huge ([0, 2^40] over axis 0). */
  rt_status cst = check_numel(k, o);
  if (cst != RT_OK)
    return cst;
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
// clang-format on

/* Max/Min of float32 along a row: the sequential step keeps the first of equal values and the
 * last NaN, so eight lanes agree with it unless the extreme is a zero (whose sign depends on
 * which came first) or a NaN is present; those rows are walked again one by one. */
#define RED_ROW_MINMAX(fname, OP)                                                                  \
  static void fname(const void *x_, void *acc_, int64_t n, bool along, float count) {              \
    const float *restrict x = x_;                                                                  \
    float *restrict acc = acc_;                                                                    \
    if (!along) {                                                                                  \
      VLOOP(n, {                                                                                   \
        const float a = acc[i], v = x[i];                                                          \
        acc[i] = (v != v || v OP a) ? v : a;                                                       \
      });                                                                                          \
      return;                                                                                      \
    }                                                                                              \
    float l[8];                                                                                    \
    int nan = 0;                                                                                   \
    int64_t i = 0;                                                                                 \
    if (n >= 8) {                                                                                  \
      for (int j = 0; j < 8; j++) {                                                                \
        l[j] = x[j];                                                                               \
        nan |= x[j] != x[j];                                                                       \
      }                                                                                            \
      for (i = 8; i + 8 <= n; i += 8)                                                              \
        for (int j = 0; j < 8; j++) {                                                              \
          const float v = x[i + j];                                                                \
          nan |= v != v;                                                                           \
          l[j] = v OP l[j] ? v : l[j];                                                             \
        }                                                                                          \
      float m = l[0];                                                                              \
      for (int j = 1; j < 8; j++)                                                                  \
        m = l[j] OP m ? l[j] : m;                                                                  \
      for (; i < n; i++) {                                                                         \
        nan |= x[i] != x[i];                                                                       \
        m = x[i] OP m ? x[i] : m;                                                                  \
      }                                                                                            \
      if (!nan && m != 0.0f) {                                                                     \
        acc[0] = m OP acc[0] ? m : acc[0];                                                         \
        return;                                                                                    \
      }                                                                                            \
    }                                                                                              \
    float a = acc[0];                                                                              \
    for (i = 0; i < n; i++)                                                                        \
      a = (x[i] != x[i] || x[i] OP a) ? x[i] : a;                                                  \
    acc[0] = a;                                                                                    \
  }
RED_ROW_MINMAX(rmax_f, >)
RED_ROW_MINMAX(rmin_f, <)

// clang-format off
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

/* A reduction after collapsing: dims alternate kept/reduced; xst are input strides, ost output
 * strides (0 on reduced dims). A thread takes a range of one kept dim `split`. */

typedef struct red_job {
  red_row row;
  const char *x;
  char *acc;
  int64_t xsz, asz;
  float count;
  int nd, split; /* split: -1 for a single output element */
  int64_t cols;  /* columns per item when split is the innermost (kept) dim */
  bool along;    /* the innermost dim is reduced */
  int64_t dims[RT_MAX_RANK], xst[RT_MAX_RANK], ost[RT_MAX_RANK];
} red_job;

/* Rows in row-major order with dim `split` restricted to items [b, e): for every output element
 * the same rows arrive in the same order as in one full pass. */
static void red_part(void *ctx, int64_t b, int64_t e) {
  const red_job *j = ctx;
  const int nd = j->nd;
  int64_t lo[RT_MAX_RANK], hi[RT_MAX_RANK], idx[RT_MAX_RANK];
  int64_t n = j->dims[nd - 1], xoff = 0, aoff = 0;
  for (int d = 0; d < nd - 1; d++) {
    lo[d] = 0;
    hi[d] = j->dims[d];
  }
  if (j->split == nd - 1) {
    int64_t c0 = b * j->cols, c1 = e * j->cols < n ? e * j->cols : n;
    xoff = aoff = c0;
    n = c1 - c0;
  } else if (j->split >= 0) {
    lo[j->split] = b;
    hi[j->split] = e;
  }
  for (int d = 0; d < nd - 1; d++) {
    idx[d] = lo[d];
    xoff += lo[d] * j->xst[d];
    aoff += lo[d] * j->ost[d];
  }
  for (;;) {
    j->row(j->x + xoff * j->xsz, j->acc + aoff * j->asz, n, j->along, j->count);
    int d = nd - 2;
    for (; d >= 0; d--) {
      xoff += j->xst[d];
      aoff += j->ost[d];
      if (++idx[d] < hi[d])
        break;
      xoff -= j->xst[d] * (hi[d] - lo[d]);
      aoff -= j->ost[d] * (hi[d] - lo[d]);
      idx[d] = lo[d];
    }
    if (d < 0)
      return;
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
    red_fill(kind, o, acc, on);
    red_job j = {.row = red_pick(kind, x->dtype),
                 .x = x->data,
                 .acc = acc,
                 .xsz = (int64_t)rt_dtype_size(x->dtype),
                 .asz = (int64_t)asz,
                 .count = (float)count,
                 .nd = nd,
                 .along = red[nd - 1]};
    int64_t xs = 1;
    for (int d = nd - 1; d >= 0; d--) {
      j.dims[d] = dims[d];
      j.xst[d] = xs;
      j.ost[d] = ost[d];
      xs *= dims[d];
    }
    /* Threads split one kept dim (each output element keeps its accumulation order): the
     * last one in column blocks when it is kept, else the largest kept one. */
    int64_t items = 1;
    j.split = -1;
    if (!j.along) {
      /* Every item walks all rows, so there are only as many as threads, of >= 16 columns. */
      j.split = nd - 1;
      items = (dims[nd - 1] + 15) / 16;
      if (items > rt__threadpool_size(k->tp))
        items = rt__threadpool_size(k->tp);
      j.cols = ((dims[nd - 1] + items - 1) / items + 15) / 16 * 16;
      items = (dims[nd - 1] + j.cols - 1) / j.cols;
    } else {
      for (int d = 0; d < nd - 1; d++)
        if (!red[d] && (j.split < 0 || dims[d] > dims[j.split]))
          j.split = d;
      if (j.split >= 0)
        items = dims[j.split];
    }
    double cost = (double)xn / (double)items * (dbl ? COST_DBL : COST_MOVE);
    rt__parallel_for(k->tp, items, rt__par_grain(cost), red_part, &j);
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
  for (int i = 0; i < x->rank; i++)
    if (i != axis)
      o->dims[o->rank++] = x->dims[i];
  return RT_OK;
}

/* Columns of one (outer, column block) item: the running best values live on the stack. */
#define ARG_COLS 256

typedef struct arg_job {
  const rt_tensor *x;
  int32_t *y;
  int64_t outer, r, inner, nblk;
  bool is_max;
} arg_job;

#define ARG_LOOP(T, CMP)                                                                           \
  do {                                                                                             \
    const T *xo = (const T *)j->x->data + ob * j->r * j->inner + c0;                               \
    T best[ARG_COLS];                                                                              \
    for (int64_t c = 0; c < nc; c++) {                                                             \
      best[c] = xo[c];                                                                             \
      yo[c] = 0;                                                                                   \
    }                                                                                              \
    for (int64_t jr = 1; jr < j->r; jr++) {                                                        \
      const T *xr = xo + jr * j->inner;                                                            \
      for (int64_t c = 0; c < nc; c++)                                                             \
        if (xr[c] CMP best[c]) {                                                                   \
          best[c] = xr[c];                                                                         \
          yo[c] = (int32_t)jr;                                                                     \
        }                                                                                          \
    }                                                                                              \
  } while (0)

static void arg_part(void *ctx, int64_t b, int64_t e) {
  const arg_job *j = ctx;
  for (int64_t it = b; it < e; it++) {
    const int64_t ob = it / j->nblk, c0 = (it % j->nblk) * ARG_COLS;
    const int64_t nc = j->inner - c0 < ARG_COLS ? j->inner - c0 : ARG_COLS;
    int32_t *yo = j->y + ob * j->inner + c0;
    if (j->x->dtype == RT_DT_F32) {
      if (j->is_max)
        ARG_LOOP(float, >);
      else
        ARG_LOOP(float, <);
    } else {
      if (j->is_max)
        ARG_LOOP(int32_t, >);
      else
        ARG_LOOP(int32_t, <);
    }
  }
}

static rt_status arg_run(rt_kctx *k, bool is_max) {
  const rt_tensor *x = &k->in[0];
  int axis;
  rt_status st = arg_axis(k, &axis);
  if (st != RT_OK)
    return st;
  /* x may be empty with huge dims ([0, 5, 2^40, 2^40]): no plain products. */
  int64_t outer = rt__dims_prod(x->dims, 0, axis), r = x->dims[axis];
  int64_t inner = rt__dims_prod(x->dims, axis + 1, x->rank);
  if (outer == 0 || inner == 0) {
    outer = 0;
    inner = 0;
  }
  int32_t *y = k->out[0].data;
  if (r == 0) { /* TF.js answers 0 for an empty axis */
    memset(y, 0, (size_t)(outer * inner) * sizeof *y);
    return RT_OK;
  }
  if (outer * inner == 0)
    return RT_OK;
  arg_job j = {x, y, outer, r, inner, (inner + ARG_COLS - 1) / ARG_COLS, is_max};
  int64_t items = outer * j.nblk;
  rt__parallel_for(k->tp, items, rt__par_grain(COST_MOVE * (double)(r * inner * outer) / items),
                   arg_part, &j);
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

/* The sequential max keeps the first of equal values and the last NaN. Eight lanes give the same
 * answer unless it is a zero (which sign came first matters to logSoftmax) or a NaN showed up;
 * those rows are walked again one element at a time. */
static float row_max(const float *restrict x, int64_t n) {
  float l[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int nan = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) {
      const float v = x[i + j];
      nan |= v != v;
      l[j] = v > l[j] ? v : l[j];
    }
  float m = -INFINITY;
  for (; i < n; i++) {
    nan |= x[i] != x[i];
    m = x[i] > m ? x[i] : m;
  }
  for (int j = 0; j < 8; j++)
    m = l[j] > m ? l[j] : m;
  if (nan || m == 0.0f) {
    m = -INFINITY;
    for (i = 0; i < n; i++)
      m = (x[i] != x[i] || x[i] > m) ? x[i] : m;
  }
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
static void softmax_part(void *ctx, int64_t b, int64_t e) {
  const rt_kctx *k = ctx;
  const int64_t c = k->in[0].dims[k->in[0].rank - 1];
  for (int64_t r = b; r < e; r++) {
    const float *xr = (const float *)k->in[0].data + r * c;
    float *yr = (float *)k->out[0].data + r * c;
    row_scale(yr, (float)row_exp(xr, row_max(xr, c), yr, c), c);
  }
}

/* (x - max) - log(sum(exp(x - max))), the way tf.logSoftmax composes it. */
static void logsoftmax_part(void *ctx, int64_t b, int64_t e) {
  const rt_kctx *k = ctx;
  const int64_t c = k->in[0].dims[k->in[0].rank - 1];
  for (int64_t r = b; r < e; r++) {
    const float *xr = (const float *)k->in[0].data + r * c;
    float *yr = (float *)k->out[0].data + r * c;
    const float m = row_max(xr, c);
    const float ls = (float)log((double)(float)row_exp(xr, m, yr, c));
    row_shift(xr, m, ls, yr, c);
  }
}

/* Rows are independent; the double sum along a row (a chain of dependent adds) dominates. */
static rt_status softmax_rows(rt_kctx *k, rt_range_fn fn) {
  const rt_tensor *x = &k->in[0];
  int64_t c = x->dims[x->rank - 1], n = rt_tensor_numel(x);
  if (c == 0 || n == 0)
    return RT_OK;
  rt__parallel_for(k->tp, n / c, rt__par_grain(2.0 * (double)c), fn, k);
  return RT_OK;
}

static rt_status softmax_run(rt_kctx *k) { return softmax_rows(k, softmax_part); }
static rt_status logsoftmax_run(rt_kctx *k) { return softmax_rows(k, logsoftmax_part); }

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
