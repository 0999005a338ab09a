/*
 * ops_array.c — shape and data-movement ops: Reshape, Squeeze, ExpandDims, (Strided)Slice,
 * Pack/Unpack, Concat, Split(V), Pad/PadV2/MirrorPad, Transpose, Gather(V2/Nd), Tile,
 * BroadcastTo, Fill, Range, Shape/Size/Rank, OneHot, ReverseV2, Cumsum.
 *
 * Semantics follow TensorFlow.js 4.22 (CPU backend, graph-model converter), including its
 * well-defined quirks (Range's counting, BroadcastTo of 1 to 0, GatherNd's flat bounds check,
 * repeated ReverseV2 axes, OneHot on the last axis only). Where TF.js throws on an input TF
 * accepts (degenerate StridedSlice, SplitV with a leading -1) or mis-indexes (StridedSlice
 * shrinking an axis next to a non-unit stride), we give TF's answer. Each place says so.
 *
 * Invariants:
 *  - Data movement is dtype-blind: elements are moved as rt_dtype_size() bytes, so every op
 *    here works for float32, int32 and bool alike. Only Fill/Pad/OneHot/Range/Cumsum, which
 *    create values, look at the dtype.
 *  - shape() validates every value it reads (begin/end/perm/paddings/...) and refuses any
 *    output over 2^31-1 elements; run() recomputes the same small specs from the same inputs
 *    (no state may live between the two), so both see identical numbers.
 *  - Most copies go through one strided-view copier (view_copy): a slice, transpose,
 *    reverse, tile or broadcast is just a view of the source with its own strides. It copies
 *    contiguous rows with memcpy and transposes in L1-sized tiles.
 *  - Big copies are split over the session's threads by ranges of the output (rows, tiles or
 *    byte ranges); the bytes written never depend on the thread count.
 *  - run() reports bad indices (GatherV2, GatherNd) as errors; nothing reads out of bounds.
 */
#include "../ops.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#define AR_MAX_VIEW (2 * RT_MAX_RANK) /* Tile views each dim as (repeat, dim) */
#define AR_MAX_VEC 32                 /* StridedSlice specs: masks are 32-bit */
#define AR_MAX_SPLIT 1024             /* outputs of one Split/SplitV/Unpack */

/* ---- errors ---- */

static rt_status fail(const rt_kctx *k, rt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static rt_status fail(const rt_kctx *k, rt_status code, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return rt__errorf(k->err, code, "node '%s' (%s): %s", k->node->name, k->node->op_name, buf);
}

static rt_status pfail(const rt_node *n, rt_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static rt_status pfail(const rt_node *n, rt_error *err, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): %s", n->name, n->op_name, buf);
}

/* "[1,2,3]" for messages; truncates quietly. */
static const char *dims_str(const int64_t *d, int rank, char *buf, size_t n) {
  size_t used = 0;
  buf[0] = 0;
  used += (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < rank && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, i ? ",%lld" : "%lld", (long long)d[i]);
  if (used < n)
    snprintf(buf + used, n - used, "]");
  return buf;
}

/* ---- inputs ---- */

static rt_status need_inputs(const rt_kctx *k, int n) {
  if (k->n_in < n)
    return fail(k, RT_ERR_INVALID_ARG, "needs %d inputs, got %d", n, k->n_in);
  return RT_OK;
}

/* Data ops move elements by size; a string tensor (size 0) never reaches a kernel. */
static rt_status check_movable(const rt_kctx *k, int i) {
  if (rt_dtype_size(k->in[i].dtype) == 0)
    return fail(k, RT_ERR_UNSUPPORTED, "input %d has dtype %s, which cannot be moved", i,
                rt_dtype_name(k->in[i].dtype));
  return RT_OK;
}

/* A value is usable when its data is bound, or when it has no elements to read. */
static bool known(const rt_tensor *t) { return t->data || rt_tensor_numel(t) == 0; }

/* Reads the first `count` values of t (input i) as integers. TF.js reads these operands as
 * JS numbers, so int32 and integral float32 both qualify. */
static rt_status ints_of(const rt_kctx *k, const rt_tensor *t, int i, const char *what,
                         int64_t *out, int64_t count) {
  for (int64_t j = 0; j < count; j++) {
    if (t->dtype == RT_DT_I32) {
      out[j] = ((const int32_t *)t->data)[j];
    } else if (t->dtype == RT_DT_F32) {
      float v = ((const float *)t->data)[j];
      if (!(v >= -2147483648.0f && v < 2147483648.0f) || v != truncf(v))
        return fail(k, RT_ERR_INVALID_ARG, "%s (input %d) value %g is not an int32", what, i,
                    (double)v);
      out[j] = (int64_t)v;
    } else {
      return fail(k, RT_ERR_INVALID_ARG, "%s (input %d) must be int32, got %s", what, i,
                  rt_dtype_name(t->dtype));
    }
  }
  return RT_OK;
}

/* An integer vector operand (shape, begin, perm, ...), flattened; at most max values. */
static rt_status read_ints(const rt_kctx *k, int i, const char *what, int64_t *out, int max,
                           int *n_out) {
  if (i >= k->n_in)
    return fail(k, RT_ERR_INVALID_ARG, "missing input %d (%s)", i, what);
  const rt_tensor *t = &k->in[i];
  if (!known(t))
    return fail(k, RT_ERR_NEED_VALUE, "%s (input %d) is not known yet", what, i);
  int64_t n = rt_tensor_numel(t);
  if (n > max)
    return fail(k, RT_ERR_INVALID_ARG, "%s (input %d) has %lld values, at most %d allowed", what, i,
                (long long)n, max);
  *n_out = (int)n;
  return ints_of(k, t, i, what, out, n);
}

/* Operands TF.js reads as `tensor.dataSync()[0]` (axis, depth, ...): the first element. */
static rt_status read_int0(const rt_kctx *k, int i, const char *what, int64_t *v) {
  if (i >= k->n_in)
    return fail(k, RT_ERR_INVALID_ARG, "missing input %d (%s)", i, what);
  const rt_tensor *t = &k->in[i];
  if (rt_tensor_numel(t) < 1)
    return fail(k, RT_ERR_INVALID_ARG, "%s (input %d) is empty", what, i);
  if (!t->data)
    return fail(k, RT_ERR_NEED_VALUE, "%s (input %d) is not known yet", what, i);
  return ints_of(k, t, i, what, v, 1);
}

static double num_at(const rt_tensor *t, int64_t j) {
  switch (t->dtype) {
  case RT_DT_F32: return ((const float *)t->data)[j];
  case RT_DT_I32: return ((const int32_t *)t->data)[j];
  case RT_DT_BOOL: return ((const uint8_t *)t->data)[j];
  default: return 0;
  }
}

/* A numeric scalar operand (fill value, pad constant, range bounds) as TF.js sees it. */
static rt_status read_num0(const rt_kctx *k, int i, const char *what, double *v) {
  if (i >= k->n_in)
    return fail(k, RT_ERR_INVALID_ARG, "missing input %d (%s)", i, what);
  const rt_tensor *t = &k->in[i];
  if (rt_tensor_numel(t) < 1)
    return fail(k, RT_ERR_INVALID_ARG, "%s (input %d) is empty", what, i);
  if (rt_dtype_size(t->dtype) == 0)
    return fail(k, RT_ERR_INVALID_ARG, "%s (input %d) has dtype %s", what, i,
                rt_dtype_name(t->dtype));
  if (!t->data)
    return fail(k, RT_ERR_NEED_VALUE, "%s (input %d) is not known yet", what, i);
  *v = num_at(t, 0);
  return RT_OK;
}

/* JS ToInt32: what storing a number into an Int32Array does (truncate, wrap mod 2^32). */
static int32_t js_to_i32(double v) {
  if (!isfinite(v))
    return 0;
  double m = fmod(trunc(v), 4294967296.0);
  if (m < 0)
    m += 4294967296.0;
  return (int32_t)(uint32_t)m;
}

/* ---- outputs ---- */

static rt_status set_out(const rt_kctx *k, int j, rt_dtype dt, int rank, const int64_t *dims) {
  char b[160];
  if (rank > RT_MAX_RANK)
    return fail(k, RT_ERR_UNSUPPORTED, "output %d would have rank %d (max %d)", j, rank,
                RT_MAX_RANK);
  int64_t numel;
  if (!rt__checked_numel(dims, rank, &numel))
    return fail(k, RT_ERR_SHAPE, "output %d shape %s is negative or over 2^31-1 elements", j,
                dims_str(dims, rank, b, sizeof b));
  rt__set_shape(&k->out[j], dt, rank, dims);
  return RT_OK;
}

/* Both go through rt__dims_prod: a tensor with a 0 dim may have huge others ([0, 2^40]), whose
 * plain product overflows. Such strides are never used to address memory (no elements). */
static void contig_strides(const int64_t *dims, int rank, int64_t *st) {
  for (int i = rank - 1; i >= 0; i--)
    st[i] = rt__dims_prod(dims, i + 1, rank);
}

static int64_t prod(const int64_t *dims, int from, int to) { return rt__dims_prod(dims, from, to); }

/* ---- threads ----
 * Copies are split over the session's pool by ranges of the output, so the bytes written do
 * not depend on the thread count. Copying runs at 10-50 GB/s and waking the pool costs 5-10 us,
 * so an op takes a second thread only for at least AR_PAR_BYTES of output per thread. */
#define AR_PAR_BYTES ((int64_t)1 << 20)
#define AR_SEG_BYTES ((int64_t)16 << 10) /* long contiguous rows are cut into pieces this big */

static int64_t ar_grain(int64_t items, int64_t bytes) {
  int64_t per = items > 0 ? bytes / items : 1;
  int64_t g = AR_PAR_BYTES / (per > 0 ? per : 1);
  return g < 1 ? 1 : g;
}

/* ---- strided view copy ---- */

typedef struct ar_view {
  int rank;
  int64_t dims[AR_MAX_VIEW];
  int64_t ds[AR_MAX_VIEW]; /* destination strides, elements */
  int64_t ss[AR_MAX_VIEW]; /* source strides, elements: 0 repeats, negative walks back */
} ar_view;

static void copy_row(char *d, const char *s, int64_t n, int64_t dst, int64_t sst, size_t es) {
  if (dst == 1 && sst == 1) {
    memcpy(d, s, (size_t)n * es);
    return;
  }
  /* Fixed-size memcpy compiles to one load/store and keeps us clear of aliasing rules. */
  if (es == 4) {
    for (int64_t i = 0; i < n; i++)
      memcpy(d + i * dst * 4, s + i * sst * 4, 4);
  } else if (es == 1) {
    for (int64_t i = 0; i < n; i++)
      d[i * dst] = s[i * sst];
  } else {
    for (int64_t i = 0; i < n; i++)
      memcpy(d + i * dst * (int64_t)es, s + i * sst * (int64_t)es, es);
  }
}

/* A view ready to copy: unit dims dropped, neighbours contiguous in both buffers merged, so a
 * channel slice or a batch split is a few long rows. It runs in one of three ways:
 *  - rows: the last dim is walked with copy_row (a memcpy when contiguous on both sides);
 *    rows longer than AR_SEG_BYTES are cut into `segs` pieces so that even one long row can
 *    be shared by threads;
 *  - tiles: when the source's contiguous dim q is not the destination's (a transpose), 2-D
 *    tiles of dims q and last are transposed through registers and L1 instead of striding
 *    across memory;
 *  - one element (everything merged away). */
#define AR_TILE_Q 32  /* tile rows along q: 32 source elements, half a cache line per 4 bytes */
#define AR_TILE_L 64  /* tile columns along the destination's contiguous dim */

typedef struct ar_vjob {
  char *d;
  const char *s;
  size_t es;
  int r, q; /* merged rank; tiles: the source-contiguous dim, else -1 */
  int64_t dims[AR_MAX_VIEW], ds[AR_MAX_VIEW], ss[AR_MAX_VIEW];
  int64_t segs, seglen; /* rows: pieces per row and their length */
  int64_t nqt;          /* tiles: tiles along q */
} ar_vjob;

/* Offsets of outer row `row` (mixed radix over dims[0..r-1) except `skip`). */
static void vjob_offsets(const ar_vjob *j, int64_t row, int skip, int64_t *idx, int64_t *doff,
                         int64_t *soff) {
  *doff = *soff = 0;
  for (int i = j->r - 2; i >= 0; i--) {
    if (i == skip) {
      idx[i] = 0;
      continue;
    }
    idx[i] = row % j->dims[i];
    row /= j->dims[i];
    *doff += idx[i] * j->ds[i];
    *soff += idx[i] * j->ss[i];
  }
}

static void vjob_rows(void *ctx, int64_t b, int64_t e) {
  const ar_vjob jl = *(const ar_vjob *)ctx, *j = &jl; /* local: memcpy cannot change it */
  const int r = j->r;
  const int64_t e_ = (int64_t)j->es, dsi = j->ds[r - 1], ssi = j->ss[r - 1];
  int64_t idx[AR_MAX_VIEW], doff, soff;
  int64_t row = b / j->segs, seg = b % j->segs;
  vjob_offsets(j, row, -1, idx, &doff, &soff);
  if (j->segs == 1) { /* whole rows: the plain odometer */
    const int64_t n = j->dims[r - 1];
    const size_t nb = dsi == 1 && ssi == 1 ? (size_t)n * j->es : 0; /* contiguous row bytes */
    for (int64_t it = b; it < e; it++) {
      char *d = j->d + doff * e_;
      const char *s = j->s + soff * e_;
      /* Short contiguous rows (a few channels) are common in transposes: a constant-size copy
       * is one move instead of a call. */
      if (nb == 16)
        memcpy(d, s, 16);
      else if (nb == 8)
        memcpy(d, s, 8);
      else if (nb == 12)
        memcpy(d, s, 12);
      else if (nb)
        memcpy(d, s, nb);
      else
        copy_row(d, s, n, dsi, ssi, j->es);
      for (int i = r - 2; i >= 0; i--) {
        doff += j->ds[i];
        soff += j->ss[i];
        if (++idx[i] < j->dims[i])
          break;
        doff -= j->ds[i] * j->dims[i];
        soff -= j->ss[i] * j->dims[i];
        idx[i] = 0;
      }
    }
    return;
  }
  for (int64_t it = b; it < e; it++) {
    int64_t c0 = seg * j->seglen, n = j->dims[r - 1] - c0 < j->seglen ? j->dims[r - 1] - c0
                                                                       : j->seglen;
    copy_row(j->d + (doff + c0 * dsi) * e_, j->s + (soff + c0 * ssi) * e_, n, dsi, ssi, j->es);
    if (++seg < j->segs)
      continue;
    seg = 0;
    for (int i = r - 2; i >= 0; i--) {
      doff += j->ds[i];
      soff += j->ss[i];
      if (++idx[i] < j->dims[i])
        break;
      doff -= j->ds[i] * j->dims[i];
      soff -= j->ss[i] * j->dims[i];
      idx[i] = 0;
    }
  }
}

#if defined(__AVX__)
/* 8x8 floats: row l of the block is s[l * sl .. + 8) (contiguous along q), and becomes column l
 * of d, whose rows are dq apart. The usual unpack / shuffle / lane-swap network. */
static inline void transpose8x8(const uint32_t *s, int64_t sl, uint32_t *d, int64_t dq) {
  __m256 r0 = _mm256_loadu_ps((const float *)(s + 0 * sl));
  __m256 r1 = _mm256_loadu_ps((const float *)(s + 1 * sl));
  __m256 r2 = _mm256_loadu_ps((const float *)(s + 2 * sl));
  __m256 r3 = _mm256_loadu_ps((const float *)(s + 3 * sl));
  __m256 r4 = _mm256_loadu_ps((const float *)(s + 4 * sl));
  __m256 r5 = _mm256_loadu_ps((const float *)(s + 5 * sl));
  __m256 r6 = _mm256_loadu_ps((const float *)(s + 6 * sl));
  __m256 r7 = _mm256_loadu_ps((const float *)(s + 7 * sl));
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps((float *)(d + 0 * dq), _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps((float *)(d + 1 * dq), _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps((float *)(d + 2 * dq), _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps((float *)(d + 3 * dq), _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps((float *)(d + 4 * dq), _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps((float *)(d + 5 * dq), _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps((float *)(d + 6 * dq), _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps((float *)(d + 7 * dq), _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

/* A block of nq x nl elements: source contiguous along q (element i + l * sl), destination along
 * the last dim (element i * dq + l). 4-byte elements go through 8x8 register transposes where
 * the block is whole (bits are moved, never computed on). */
static void transpose_block(char *d, const char *s, int64_t nq, int64_t nl, int64_t dq, int64_t sl,
                            size_t es) {
  if (es == 4) {
    uint32_t *restrict d4 = (uint32_t *)(void *)d;
    const uint32_t *restrict s4 = (const uint32_t *)(const void *)s;
    int64_t i0 = 0;
#if defined(__AVX__)
    for (; i0 + 8 <= nq; i0 += 8) {
      int64_t l0 = 0;
      for (; l0 + 8 <= nl; l0 += 8)
        transpose8x8(s4 + i0 + l0 * sl, sl, d4 + i0 * dq + l0, dq);
      for (int64_t i = i0; i < i0 + 8; i++)
        for (int64_t l = l0; l < nl; l++)
          d4[i * dq + l] = s4[i + l * sl];
    }
#endif
    for (int64_t i = i0; i < nq; i++)
      for (int64_t l = 0; l < nl; l++)
        d4[i * dq + l] = s4[i + l * sl];
  } else if (es == 1) {
    for (int64_t i = 0; i < nq; i++)
      for (int64_t l = 0; l < nl; l++)
        d[i * dq + l] = s[i + l * sl];
  } else {
    for (int64_t i = 0; i < nq; i++)
      for (int64_t l = 0; l < nl; l++)
        memcpy(d + (i * dq + l) * (int64_t)es, s + (i + l * sl) * (int64_t)es, es);
  }
}

/* Items are (outer index, tile of q, tile of the last dim), last-dim tiles fastest. */
static void vjob_tiles(void *ctx, int64_t b, int64_t e) {
  const ar_vjob jl = *(const ar_vjob *)ctx, *j = &jl;
  const int r = j->r, q = j->q;
  const int64_t e_ = (int64_t)j->es, dq = j->ds[q], sl = j->ss[r - 1], last = j->dims[r - 1];
  const int64_t nlt = (last + AR_TILE_L - 1) / AR_TILE_L;
  int64_t idx[AR_MAX_VIEW], doff, soff;
  for (int64_t it = b; it < e; it++) {
    const int64_t l0 = (it % nlt) * AR_TILE_L, q0 = (it / nlt % j->nqt) * AR_TILE_Q;
    const int64_t nl = last - l0 < AR_TILE_L ? last - l0 : AR_TILE_L;
    const int64_t nq = j->dims[q] - q0 < AR_TILE_Q ? j->dims[q] - q0 : AR_TILE_Q;
    vjob_offsets(j, it / nlt / j->nqt, q, idx, &doff, &soff);
    transpose_block(j->d + (doff + q0 * dq + l0) * e_,
                    j->s + (soff + q0 * j->ss[q] + l0 * sl) * e_, nq, nl, dq, sl, j->es);
  }
}

/* Copies v->dims elements from src to dst through the given strides. */
static void view_copy(const rt_kctx *k, void *dst, const void *src, const ar_view *v, size_t es) {
  ar_vjob j = {.d = dst, .s = src, .es = es, .q = -1, .segs = 1};
  int r = 0;
  for (int i = 0; i < v->rank; i++) {
    if (v->dims[i] == 0)
      return;
    if (v->dims[i] == 1)
      continue;
    if (r > 0 && j.ds[r - 1] == v->ds[i] * v->dims[i] && j.ss[r - 1] == v->ss[i] * v->dims[i]) {
      j.dims[r - 1] *= v->dims[i];
      j.ds[r - 1] = v->ds[i];
      j.ss[r - 1] = v->ss[i];
      continue;
    }
    j.dims[r] = v->dims[i];
    j.ds[r] = v->ds[i];
    j.ss[r] = v->ss[i];
    r++;
  }
  if (r == 0) {
    memcpy(dst, src, es);
    return;
  }
  j.r = r;
  int64_t total = 1;
  for (int i = 0; i < r; i++)
    total *= j.dims[i];
  const int64_t bytes = total * (int64_t)es, last = j.dims[r - 1];
  if (j.ds[r - 1] == 1 && j.ss[r - 1] != 1)
    for (int i = r - 2; i >= 0; i--)
      if (j.ss[i] == 1 && j.dims[i] >= 4) {
        j.q = i;
        break;
      }
  if (j.q >= 0) {
    j.nqt = (j.dims[j.q] + AR_TILE_Q - 1) / AR_TILE_Q;
    int64_t items = total / last / j.dims[j.q] * j.nqt * ((last + AR_TILE_L - 1) / AR_TILE_L);
    rt__parallel_for(k->tp, items, ar_grain(items, bytes), vjob_tiles, &j);
    return;
  }
  if (j.ds[r - 1] == 1 && j.ss[r - 1] == 1 && last * (int64_t)es > 2 * AR_SEG_BYTES) {
    j.segs = last * (int64_t)es / AR_SEG_BYTES;
    j.seglen = (last + j.segs - 1) / j.segs;
    j.segs = (last + j.seglen - 1) / j.seglen;
  } else {
    j.seglen = last;
  }
  int64_t items = total / last * j.segs;
  rt__parallel_for(k->tp, items, ar_grain(items, bytes), vjob_rows, &j);
}

/* ---- threaded memcpy and fill ---- */

typedef struct ar_mjob {
  char *d;
  const char *s; /* NULL: fill */
  int64_t n;     /* bytes */
  size_t es;
  unsigned char pat[8]; /* fill pattern, es bytes */
} ar_mjob;

static void fill_bytes(char *d, int64_t n, const unsigned char *pat, size_t es) {
  if (es == 4 && n <= 64) { /* a border of a few elements: no call */
    uint32_t v;
    memcpy(&v, pat, 4);
    for (int64_t i = 0; i < n; i += 4)
      memcpy(d + i, &v, 4);
    return;
  }
  bool uniform = true;
  for (size_t i = 1; i < es; i++)
    uniform = uniform && pat[i] == pat[0];
  if (uniform) {
    memset(d, pat[0], (size_t)n);
  } else if (es == 4) {
    uint32_t v, *restrict o = (uint32_t *)(void *)d;
    memcpy(&v, pat, 4);
    for (int64_t i = 0; i < n / 4; i++)
      o[i] = v;
  } else {
    for (int64_t i = 0; i < n; i += (int64_t)es)
      memcpy(d + i, pat, es);
  }
}

static void mjob_part(void *ctx, int64_t b, int64_t e) {
  const ar_mjob *j = ctx;
  int64_t s = b * AR_SEG_BYTES, t = e * AR_SEG_BYTES < j->n ? e * AR_SEG_BYTES : j->n;
  if (j->s)
    memcpy(j->d + s, j->s + s, (size_t)(t - s));
  else
    fill_bytes(j->d + s, t - s, j->pat, j->es);
}

/* AR_SEG_BYTES is a multiple of every element size, so pieces never split an element. */
static void par_memcpy(const rt_kctx *k, void *dst, const void *src, int64_t n) {
  ar_mjob j = {.d = dst, .s = src, .n = n};
  int64_t items = (n + AR_SEG_BYTES - 1) / AR_SEG_BYTES;
  rt__parallel_for(k->tp, items, ar_grain(items, n), mjob_part, &j);
}

/* The bytes of value v stored as dtype dt (pat holds rt_dtype_size(dt) of them). */
static void value_bytes(rt_dtype dt, double v, unsigned char *pat) {
  if (dt == RT_DT_F32) {
    float f = (float)v;
    memcpy(pat, &f, 4);
  } else if (dt == RT_DT_I32) {
    int32_t x = js_to_i32(v);
    memcpy(pat, &x, 4);
  } else {
    pat[0] = v != 0;
  }
}

static void fill_value(const rt_kctx *k, rt_tensor *t, double v) {
  ar_mjob j = {.d = t->data, .es = rt_dtype_size(t->dtype)};
  if (!j.es)
    return;
  j.n = rt_tensor_numel(t) * (int64_t)j.es;
  value_bytes(t->dtype, v, j.pat);
  int64_t items = (j.n + AR_SEG_BYTES - 1) / AR_SEG_BYTES;
  rt__parallel_for(k->tp, items, ar_grain(items, j.n), mjob_part, &j);
}

static rt_status run_copy(rt_kctx *k) {
  size_t n = rt_tensor_nbytes(&k->in[0]);
  if (n)
    par_memcpy(k, k->out[0].data, k->in[0].data, (int64_t)n);
  return RT_OK;
}

/* ---- Reshape, Squeeze, ExpandDims: new shape, same bytes ---- */

static rt_status reshape_shape(rt_kctx *k) {
  rt_status st;
  int64_t sh[RT_MAX_RANK];
  int n;
  char b1[160], b2[160];
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 0)))
    return st;
  if (k->in[1].rank > 1)
    return fail(k, RT_ERR_INVALID_ARG, "shape (input 1) must be a vector, got rank %d",
                k->in[1].rank);
  if ((st = read_ints(k, 1, "shape", sh, RT_MAX_RANK, &n)))
    return st;
  const rt_tensor *x = &k->in[0];
  int64_t numel = rt_tensor_numel(x), known_prod = 1;
  int implicit = -1;
  bool zero = false;
  for (int i = 0; i < n; i++) {
    if (sh[i] == -1) {
      if (implicit >= 0)
        return fail(k, RT_ERR_SHAPE, "shape %s has more than one -1", dims_str(sh, n, b1, 160));
      implicit = i;
    } else if (sh[i] < 0) {
      return fail(k, RT_ERR_SHAPE, "shape %s has negative dim %d", dims_str(sh, n, b1, 160), i);
    } else if (sh[i] == 0) {
      zero = true;
    }
  }
  for (int i = 0; i < n && !zero; i++) {
    if (i == implicit)
      continue;
    if (known_prod > INT32_MAX / sh[i])
      return fail(k, RT_ERR_SHAPE, "shape %s has over 2^31-1 elements", dims_str(sh, n, b1, 160));
    known_prod *= sh[i];
  }
  if (zero)
    known_prod = 0;
  if (implicit >= 0) {
    if (known_prod == 0)
      return fail(k, RT_ERR_SHAPE, "cannot infer the -1 in %s when there are 0 elements",
                  dims_str(sh, n, b1, 160));
    if (numel % known_prod)
      return fail(k, RT_ERR_SHAPE, "cannot reshape %s (%lld elements) into %s",
                  dims_str(x->dims, x->rank, b2, 160), (long long)numel, dims_str(sh, n, b1, 160));
    sh[implicit] = numel / known_prod;
  } else if (known_prod != numel) {
    return fail(k, RT_ERR_SHAPE, "cannot reshape %s (%lld elements) into %s (%lld elements)",
                dims_str(x->dims, x->rank, b2, 160), (long long)numel, dims_str(sh, n, b1, 160),
                (long long)known_prod);
  }
  return set_out(k, 0, x->dtype, n, sh);
}

static rt_status squeeze_shape(rt_kctx *k) {
  rt_status st;
  if ((st = need_inputs(k, 1)) || (st = check_movable(k, 0)))
    return st;
  const rt_tensor *x = &k->in[0];
  const int64_t *axes;
  /* TF writes squeeze_dims; the converter also accepts axis. */
  int na = rt__attr_ints(k->node, "squeeze_dims", &axes);
  if (!na)
    na = rt__attr_ints(k->node, "axis", &axes);
  bool drop[RT_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) {
    int a;
    if (!rt__norm_axis(axes[i], x->rank, &a) || x->rank == 0)
      return fail(k, RT_ERR_INVALID_ARG, "squeeze axis %lld is out of range for rank %d",
                  (long long)axes[i], x->rank);
    if (x->dims[a] != 1)
      return fail(k, RT_ERR_SHAPE, "cannot squeeze axis %d since its dim is %lld, not 1", a,
                  (long long)x->dims[a]);
    drop[a] = true;
  }
  int64_t od[RT_MAX_RANK];
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (na ? !drop[i] : x->dims[i] != 1)
      od[r++] = x->dims[i];
  return set_out(k, 0, x->dtype, r, od);
}

static rt_status expand_dims_shape(rt_kctx *k) {
  rt_status st;
  int64_t axis;
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 0)) ||
      (st = read_int0(k, 1, "axis", &axis)))
    return st;
  const rt_tensor *x = &k->in[0];
  int r = x->rank;
  if (axis < -(r + 1) || axis > r)
    return fail(k, RT_ERR_INVALID_ARG, "axis %lld is not in [%d, %d]", (long long)axis, -(r + 1),
                r);
  if (axis < 0)
    axis += r + 1;
  int64_t od[RT_MAX_RANK + 1];
  for (int i = 0, j = 0; i <= r; i++)
    od[i] = i == axis ? 1 : x->dims[j++];
  return set_out(k, 0, x->dtype, r + 1, od);
}

/* ---- StridedSlice ---- */

typedef struct ar_ss_params {
  uint32_t begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_mask;
} ar_ss_params;

/* The slice in the input's own (dense) coordinates: element j along dim i comes from
 * begin[i] + j * stride[i], for j < size[i]. The output has the same elements in the same
 * order; it only inserts new axes and drops shrunk ones. */
typedef struct ar_ss_spec {
  int64_t begin[RT_MAX_RANK], stride[RT_MAX_RANK], size[RT_MAX_RANK];
  int out_rank;
  int64_t out_dims[AR_MAX_VEC];
} ar_ss_spec;

static rt_status strided_slice_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  ar_ss_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  /* Masks are bit sets over the spec entries; JS works on their low 32 bits. */
  p->begin_mask = (uint32_t)rt__attr_int(n, "begin_mask", 0);
  p->end_mask = (uint32_t)rt__attr_int(n, "end_mask", 0);
  p->ellipsis_mask = (uint32_t)rt__attr_int(n, "ellipsis_mask", 0);
  p->new_axis_mask = (uint32_t)rt__attr_int(n, "new_axis_mask", 0);
  p->shrink_mask = (uint32_t)rt__attr_int(n, "shrink_axis_mask", 0);
  if (p->ellipsis_mask & (p->ellipsis_mask - 1))
    return pfail(n, err, "ellipsis_mask %u has more than one bit: multiple ellipses",
                 p->ellipsis_mask);
  n->params = p;
  return RT_OK;
}

static int64_t ss_canonical(int64_t x, int c, int64_t stride, int64_t dim, bool masked) {
  int64_t lo = stride > 0 ? 0 : -1, hi = stride > 0 ? dim : dim - 1;
  if (masked)
    return stride > 0 ? (c ? hi : lo) : (c ? lo : hi);
  int64_t fwd = x < 0 ? dim + x : x;
  return fwd < lo ? lo : fwd > hi ? hi : fwd;
}

/* A port of slice_util.sliceInfo (itself TF's ValidateStridedSliceOp). */
static rt_status ss_compute(const rt_kctx *k, ar_ss_spec *sp) {
  enum { NEW_AXIS = -2, SHRINK = -1 };
  const ar_ss_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  int64_t sb[AR_MAX_VEC], se[AR_MAX_VEC], sst[AR_MAX_VEC];
  int nb, ne, ns;
  rt_status st;
  if (!p)
    return fail(k, RT_ERR_INTERNAL, "not prepared");
  if ((st = read_ints(k, 1, "begin", sb, AR_MAX_VEC - 1, &nb)) ||
      (st = read_ints(k, 2, "end", se, AR_MAX_VEC - 1, &ne)))
    return st;
  if (k->n_in > 3) {
    if ((st = read_ints(k, 3, "strides", sst, AR_MAX_VEC - 1, &ns)))
      return st;
  } else {
    ns = nb;
    for (int i = 0; i < ns; i++)
      sst[i] = 1;
  }
  if (nb != ne || nb != ns)
    return fail(k, RT_ERR_INVALID_ARG, "begin, end and strides have %d, %d and %d entries", nb, ne,
                ns);
  /* Step 1: count new axes after the ellipsis; add an implicit ellipsis at the end. */
  int sdims = nb;
  uint32_t ellipsis = p->ellipsis_mask;
  int add_after = 0;
  bool seen = false;
  for (int i = 0; i < sdims; i++) {
    if (seen && ((1u << i) & p->new_axis_mask))
      add_after++;
    if ((1u << i) & ellipsis)
      seen = true;
  }
  if (!seen)
    ellipsis |= 1u << sdims++;
  /* Step 2: dense spec, one entry per input dim. */
  int rank = x->rank, full = 0, ng = 0;
  int64_t db[RT_MAX_RANK], de[RT_MAX_RANK];
  uint32_t dbm = 0, dem = 0, dshrink = 0;
  int gather[AR_MAX_VEC + RT_MAX_RANK];
  for (int i = 0; i < sdims; i++) {
    if ((1u << i) & ellipsis) {
      int next = rank - (sdims - i) + 1 + add_after;
      if (next > rank)
        next = rank;
      for (; full < next; full++) {
        db[full] = de[full] = 0;
        sp->stride[full] = 1;
        dbm |= 1u << full;
        dem |= 1u << full;
        gather[ng++] = full;
      }
    } else if ((1u << i) & p->new_axis_mask) {
      gather[ng++] = NEW_AXIS;
    } else {
      if (full == rank)
        return fail(k, RT_ERR_INVALID_ARG, "slice spec entry %d indexes past the input's %d dims",
                    i, rank);
      db[full] = sb[i];
      de[full] = se[i];
      sp->stride[full] = sst[i];
      if (p->begin_mask & (1u << i))
        dbm |= 1u << full;
      if (p->end_mask & (1u << i))
        dem |= 1u << full;
      if (p->shrink_mask & (1u << i)) {
        gather[ng++] = SHRINK;
        dshrink |= 1u << full;
      } else {
        gather[ng++] = full;
      }
      full++;
    }
  }
  if (full != rank)
    return fail(k, RT_ERR_INTERNAL, "slice spec covers %d of %d dims", full, rank);
  /* Step 3: canonical begin/end per dim and the size of the processed interval. */
  for (int i = 0; i < rank; i++) {
    int64_t s = sp->stride[i], dim = x->dims[i];
    if (s == 0)
      return fail(k, RT_ERR_INVALID_ARG, "strides[%d] must be non-zero", i);
    if (dshrink & (1u << i)) {
      if (s <= 0)
        return fail(k, RT_ERR_INVALID_ARG, "only positive strides allowed on a shrunk axis %d", i);
      int64_t fwd = db[i] < 0 ? dim + db[i] : db[i];
      if (fwd < 0 || fwd >= dim)
        return fail(k, RT_ERR_INVALID_ARG, "slice index %lld of dimension %d out of bounds",
                    (long long)db[i], i);
      sp->begin[i] = fwd;
      sp->size[i] = 1;
      continue;
    }
    int64_t b = ss_canonical(db[i], 0, s, dim, dbm & (1u << i));
    int64_t e = ss_canonical(de[i], 1, s, dim, dem & (1u << i));
    int64_t len = e - b;
    sp->begin[i] = b;
    sp->size[i] = (len == 0 || (len < 0) != (s < 0)) ? 0 : len / s + (len % s != 0);
  }
  /* Step 4: final shape. */
  sp->out_rank = 0;
  for (int i = 0; i < ng; i++) {
    if (gather[i] == SHRINK)
      continue;
    if (sp->out_rank == RT_MAX_RANK)
      return fail(k, RT_ERR_UNSUPPORTED, "output would have rank over %d", RT_MAX_RANK);
    sp->out_dims[sp->out_rank++] = gather[i] == NEW_AXIS ? 1 : sp->size[gather[i]];
  }
  return RT_OK;
}

static rt_status strided_slice_shape(rt_kctx *k) {
  rt_status st;
  ar_ss_spec sp;
  if ((st = need_inputs(k, 3)) || (st = check_movable(k, 0)) || (st = ss_compute(k, &sp)))
    return st;
  return set_out(k, 0, k->in[0].dtype, sp.out_rank, sp.out_dims);
}

/* Copies the dense slice [begin, begin + size*stride) of x into out, contiguous. */
static void copy_slice(const rt_kctx *k, const rt_tensor *x, rt_tensor *out, const int64_t *begin,
                       const int64_t *stride, const int64_t *size) {
  int r = x->rank;
  size_t es = rt_dtype_size(x->dtype);
  if (prod(size, 0, r) == 0)
    return;
  int64_t xst[RT_MAX_RANK], off = 0;
  ar_view v = {.rank = r};
  contig_strides(x->dims, r, xst);
  contig_strides(size, r, v.ds);
  for (int i = 0; i < r; i++) {
    v.dims[i] = size[i];
    v.ss[i] = xst[i] * (stride ? stride[i] : 1);
    off += begin[i] * xst[i];
  }
  view_copy(k, out->data, (const char *)x->data + off * (int64_t)es, &v, es);
}

static rt_status strided_slice_run(rt_kctx *k) {
  ar_ss_spec sp;
  rt_status st = ss_compute(k, &sp);
  if (st)
    return st;
  copy_slice(k, &k->in[0], &k->out[0], sp.begin, sp.stride, sp.size);
  return RT_OK;
}

/* ---- Slice ---- */

static rt_status slice_compute(const rt_kctx *k, int64_t *begin, int64_t *size) {
  rt_status st;
  int nb, ns;
  const rt_tensor *x = &k->in[0];
  int r = x->rank;
  if ((st = read_ints(k, 1, "begin", begin, RT_MAX_RANK, &nb)) ||
      (st = read_ints(k, 2, "size", size, RT_MAX_RANK, &ns)))
    return st;
  if (nb > r || ns > r)
    return fail(k, RT_ERR_INVALID_ARG, "begin (%d) and size (%d) must match the rank %d", nb, ns,
                r);
  /* TF.js pads short specs: begin with 0, size with -1 (to the end). */
  for (int i = nb; i < r; i++)
    begin[i] = 0;
  for (int i = ns; i < r; i++)
    size[i] = -1;
  for (int i = 0; i < r; i++) {
    if (begin[i] < 0 || begin[i] > x->dims[i])
      return fail(k, RT_ERR_INVALID_ARG, "begin[%d] = %lld is outside [0, %lld]", i,
                  (long long)begin[i], (long long)x->dims[i]);
    if (size[i] == -1)
      size[i] = x->dims[i] - begin[i];
    if (size[i] < 0)
      return fail(k, RT_ERR_INVALID_ARG, "size[%d] = %lld: negative sizes must be exactly -1", i,
                  (long long)size[i]);
    if (begin[i] + size[i] > x->dims[i])
      return fail(k, RT_ERR_INVALID_ARG, "begin[%d] + size[%d] = %lld overflows dim %lld", i, i,
                  (long long)(begin[i] + size[i]), (long long)x->dims[i]);
  }
  return RT_OK;
}

static rt_status slice_shape(rt_kctx *k) {
  rt_status st;
  int64_t begin[RT_MAX_RANK], size[RT_MAX_RANK];
  if ((st = need_inputs(k, 3)) || (st = check_movable(k, 0)) ||
      (st = slice_compute(k, begin, size)))
    return st;
  return set_out(k, 0, k->in[0].dtype, k->in[0].rank, size);
}

static rt_status slice_run(rt_kctx *k) {
  int64_t begin[RT_MAX_RANK], size[RT_MAX_RANK];
  rt_status st = slice_compute(k, begin, size);
  if (st)
    return st;
  copy_slice(k, &k->in[0], &k->out[0], begin, NULL, size);
  return RT_OK;
}

/* ---- Pack / Unpack ---- */

typedef struct ar_axis_params {
  int64_t axis; /* Pack/Unpack axis, GatherV2 batch_dims */
  int64_t num;  /* Unpack num */
} ar_axis_params;

static rt_status axis_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  ar_axis_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->axis = rt__attr_int(n, "axis", 0);
  n->params = p;
  return RT_OK;
}

static rt_status pack_shape(rt_kctx *k) {
  rt_status st;
  const ar_axis_params *p = k->params;
  char b1[160], b2[160];
  if (!p)
    return fail(k, RT_ERR_INTERNAL, "not prepared");
  if ((st = need_inputs(k, 1)) || (st = check_movable(k, 0)))
    return st;
  const rt_tensor *x = &k->in[0];
  int r = x->rank;
  if (p->axis < -(r + 1) || p->axis > r)
    return fail(k, RT_ERR_INVALID_ARG, "axis %lld is not in [%d, %d]", (long long)p->axis, -(r + 1),
                r);
  int axis = (int)(p->axis < 0 ? p->axis + r + 1 : p->axis);
  /* The converter lets inputs differ by unit dims (same squeezed shape) and reshapes them to
   * the first input's shape; with equal element counts that is free. */
  int64_t sq0[RT_MAX_RANK];
  int n0 = 0;
  for (int i = 0; i < r; i++)
    if (x->dims[i] != 1)
      sq0[n0++] = x->dims[i];
  for (int t = 1; t < k->n_in; t++) {
    const rt_tensor *y = &k->in[t];
    if (y->dtype != x->dtype)
      return fail(k, RT_ERR_INVALID_ARG, "input %d is %s, input 0 is %s", t,
                  rt_dtype_name(y->dtype), rt_dtype_name(x->dtype));
    int64_t sq[RT_MAX_RANK];
    int n = 0;
    for (int i = 0; i < y->rank; i++)
      if (y->dims[i] != 1)
        sq[n++] = y->dims[i];
    if (n != n0 || memcmp(sq, sq0, (size_t)n * sizeof sq[0]))
      return fail(k, RT_ERR_SHAPE, "input %d shape %s does not match input 0 shape %s", t,
                  dims_str(y->dims, y->rank, b1, 160), dims_str(x->dims, r, b2, 160));
  }
  int64_t od[RT_MAX_RANK + 1];
  for (int i = 0, j = 0; i <= r; i++)
    od[i] = i == axis ? k->n_in : x->dims[j++];
  return set_out(k, 0, x->dtype, r + 1, od);
}

/* Concat and Pack write output rows made of one chunk per input: input t's chunk i goes to row i
 * at the sum of the chunks before t. Threads take byte ranges of the output, so one huge row
 * (axis 0) splits as well as many small ones. */
typedef struct ar_cat_job {
  char *o;
  const rt_tensor *in; /* inputs first .. first + count - 1 */
  int first, count, axis; /* axis < 0: every chunk is `unit` bytes (Pack) */
  int64_t unit;           /* bytes per unit of the axis (per input for Pack) */
  int64_t rowb, total;    /* output row and total bytes */
} ar_cat_job;

static int64_t cat_chunk(const ar_cat_job *j, int t) {
  return j->axis < 0 ? j->unit : j->in[j->first + t].dims[j->axis] * j->unit;
}

#define CAT_FAST 8 /* inputs whose chunk sizes the whole-row loop keeps in locals */

static void cat_part(void *ctx, int64_t b, int64_t e) {
  const ar_cat_job *j = ctx;
  int64_t pos = b * AR_SEG_BYTES, end = e * AR_SEG_BYTES < j->total ? e * AR_SEG_BYTES : j->total;
  int64_t row = pos / j->rowb, off = pos % j->rowb, pre = 0;
  int t = 0;
  while (pre + cat_chunk(j, t) <= off) /* the chunk holding `off` (chunks of 0 are skipped) */
    pre += cat_chunk(j, t++);
  while (pos < end) {
    if (off == 0 && end - pos >= j->rowb && j->count <= CAT_FAST) {
      /* whole rows, one chunk per input, sizes and sources held in registers */
      int64_t cs[CAT_FAST];
      const char *src[CAT_FAST];
      for (int u = 0; u < j->count; u++) {
        cs[u] = cat_chunk(j, u);
        src[u] = j->in[j->first + u].data;
      }
      char *o = j->o;
      const int n = j->count;
      const int64_t rowb = j->rowb;
      for (; end - pos >= rowb; row++)
        for (int u = 0; u < n; u++) {
          if (cs[u])
            memcpy(o + pos, src[u] + row * cs[u], (size_t)cs[u]);
          pos += cs[u];
        }
      continue;
    }
    int64_t c = cat_chunk(j, t), len = pre + c - off < end - pos ? pre + c - off : end - pos;
    if (len)
      memcpy(j->o + pos, (const char *)j->in[j->first + t].data + row * c + (off - pre),
             (size_t)len);
    pos += len;
    off += len;
    if (off == pre + c) {
      pre += c;
      if (++t == j->count) {
        t = 0;
        pre = off = 0;
        row++;
      }
    }
  }
}

static void cat_run(const rt_kctx *k, ar_cat_job *j) {
  j->rowb = 0;
  for (int t = 0; t < j->count; t++)
    j->rowb += cat_chunk(j, t);
  j->total = (int64_t)rt_tensor_nbytes(&k->out[0]);
  if (j->rowb == 0 || j->total == 0)
    return;
  int64_t items = (j->total + AR_SEG_BYTES - 1) / AR_SEG_BYTES;
  rt__parallel_for(k->tp, items, ar_grain(items, j->total), cat_part, j);
}

static rt_status pack_run(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  const ar_axis_params *p = k->params;
  int r = x->rank;
  int axis = (int)(p->axis < 0 ? p->axis + r + 1 : p->axis);
  ar_cat_job j = {.o = k->out[0].data, .in = k->in, .first = 0, .count = k->n_in, .axis = -1,
                  .unit = prod(x->dims, axis, r) * (int64_t)rt_dtype_size(x->dtype)};
  cat_run(k, &j);
  return RT_OK;
}

static int unpack_num_outputs(const rt_node *n) {
  int64_t num = rt__attr_int(n, "num", -1);
  return num < 0 || num > AR_MAX_SPLIT ? -1 : (int)num;
}

static rt_status unpack_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  rt_status st = axis_prepare(g, n, err);
  if (st)
    return st;
  ar_axis_params *p = n->params;
  p->num = rt__attr_int(n, "num", -1);
  if (p->num < 0 || p->num > AR_MAX_SPLIT)
    return pfail(n, err, "attribute num = %lld must be in [0, %d]", (long long)p->num,
                 AR_MAX_SPLIT);
  return RT_OK;
}

static rt_status unpack_shape(rt_kctx *k) {
  rt_status st;
  const ar_axis_params *p = k->params;
  if (!p)
    return fail(k, RT_ERR_INTERNAL, "not prepared");
  if ((st = need_inputs(k, 1)) || (st = check_movable(k, 0)))
    return st;
  const rt_tensor *x = &k->in[0];
  int axis;
  if (x->rank == 0 || !rt__norm_axis(p->axis, x->rank, &axis))
    return fail(k, RT_ERR_INVALID_ARG, "axis %lld is not in [-%d, %d)", (long long)p->axis, x->rank,
                x->rank);
  if (x->dims[axis] != p->num || k->n_out != p->num)
    return fail(k, RT_ERR_SHAPE, "dim %d is %lld but num is %lld (%d outputs)", axis,
                (long long)x->dims[axis], (long long)p->num, k->n_out);
  int64_t od[RT_MAX_RANK];
  for (int i = 0, j = 0; i < x->rank; i++)
    if (i != axis)
      od[j++] = x->dims[i];
  for (int j = 0; j < k->n_out; j++)
    if ((st = set_out(k, j, x->dtype, x->rank - 1, od)))
      return st;
  return RT_OK;
}

/* Splits x along axis into k->out, whose dims (from shape()) give each piece's length;
 * Unpack's pieces are one long and have the axis removed. */
typedef struct ar_split_job {
  rt_kctx *k;
  const char *x;
  int64_t outer, rowb, unit; /* input row bytes, bytes per unit of the axis */
  int axis;
  bool unpack;
  int64_t off[AR_MAX_SPLIT + 1]; /* where output j starts along the axis */
} ar_split_job;

/* Item it is (output j, row i), output-major so each thread writes long runs. */
static void split_part(void *ctx, int64_t b, int64_t e) {
  const ar_split_job *j = ctx;
  for (int64_t it = b; it < e; it++) {
    const int64_t jo = it / j->outer, i = it % j->outer;
    const int64_t chunk = (j->off[jo + 1] - j->off[jo]) * j->unit;
    if (chunk)
      memcpy((char *)j->k->out[jo].data + i * chunk, j->x + i * j->rowb + j->off[jo] * j->unit,
             (size_t)chunk);
  }
}

static void split_run_axis(rt_kctx *k, const rt_tensor *x, int axis, bool unpack) {
  ar_split_job j = {.k = k, .x = x->data, .outer = prod(x->dims, 0, axis), .axis = axis,
                    .unpack = unpack};
  j.unit = prod(x->dims, axis + 1, x->rank) * (int64_t)rt_dtype_size(x->dtype);
  j.rowb = x->dims[axis] * j.unit;
  for (int o = 0; o < k->n_out; o++)
    j.off[o + 1] = j.off[o] + (unpack ? 1 : k->out[o].dims[axis]);
  int64_t items = j.outer * k->n_out;
  if (items && j.rowb)
    rt__parallel_for(k->tp, items, ar_grain(items, j.outer * j.rowb), split_part, &j);
}

static rt_status unpack_run(rt_kctx *k) {
  const ar_axis_params *p = k->params;
  int axis;
  rt__norm_axis(p->axis, k->in[0].rank, &axis);
  split_run_axis(k, &k->in[0], axis, true);
  return RT_OK;
}

/* ---- ConcatV2 / Concat ---- */

typedef struct ar_concat_args {
  int first, count, axis;
} ar_concat_args;

static rt_status concat_args(const rt_kctx *k, bool axis_last, ar_concat_args *a) {
  rt_status st;
  int64_t axis;
  char b1[160], b2[160];
  if ((st = need_inputs(k, 2)))
    return st;
  int ai = axis_last ? k->n_in - 1 : 0;
  a->first = axis_last ? 0 : 1;
  a->count = k->n_in - 1;
  /* The converter keeps the first N tensors. */
  int64_t n_attr = rt__attr_int(k->node, "N", 0);
  if (n_attr >= 1 && n_attr < a->count)
    a->count = (int)n_attr;
  if ((st = read_int0(k, ai, "axis", &axis)))
    return st;
  const rt_tensor *x = &k->in[a->first];
  if ((st = check_movable(k, a->first)))
    return st;
  if (x->rank == 0 || !rt__norm_axis(axis, x->rank, &a->axis))
    return fail(k, RT_ERR_INVALID_ARG, "axis %lld is not in [-%d, %d)", (long long)axis, x->rank,
                x->rank);
  for (int t = a->first + 1; t < a->first + a->count; t++) {
    const rt_tensor *y = &k->in[t];
    bool ok = y->rank == x->rank && y->dtype == x->dtype;
    for (int i = 0; ok && i < x->rank; i++)
      ok = i == a->axis || y->dims[i] == x->dims[i];
    if (!ok)
      return fail(k, RT_ERR_SHAPE,
                  "input %d (%s %s) does not match input %d (%s %s) outside axis %d", t,
                  rt_dtype_name(y->dtype), dims_str(y->dims, y->rank, b1, 160), a->first,
                  rt_dtype_name(x->dtype), dims_str(x->dims, x->rank, b2, 160), a->axis);
  }
  return RT_OK;
}

static rt_status concat_shape_impl(rt_kctx *k, bool axis_last) {
  ar_concat_args a;
  rt_status st = concat_args(k, axis_last, &a);
  if (st)
    return st;
  const rt_tensor *x = &k->in[a.first];
  int64_t od[RT_MAX_RANK];
  memcpy(od, x->dims, sizeof od);
  od[a.axis] = 0;
  for (int t = a.first; t < a.first + a.count; t++) {
    od[a.axis] += k->in[t].dims[a.axis];
    if (od[a.axis] > INT32_MAX)
      return fail(k, RT_ERR_SHAPE, "concatenated dim %d exceeds 2^31-1", a.axis);
  }
  return set_out(k, 0, x->dtype, x->rank, od);
}

static rt_status concat_run_impl(rt_kctx *k, bool axis_last) {
  ar_concat_args a;
  rt_status st = concat_args(k, axis_last, &a);
  if (st)
    return st;
  const rt_tensor *x = &k->in[a.first];
  ar_cat_job j = {.o = k->out[0].data, .in = k->in, .first = a.first, .count = a.count,
                  .axis = a.axis,
                  .unit = prod(x->dims, a.axis + 1, x->rank) * (int64_t)rt_dtype_size(x->dtype)};
  cat_run(k, &j);
  return RT_OK;
}

static rt_status concatv2_shape(rt_kctx *k) { return concat_shape_impl(k, true); }
static rt_status concatv2_run(rt_kctx *k) { return concat_run_impl(k, true); }
static rt_status concat_shape(rt_kctx *k) { return concat_shape_impl(k, false); }
static rt_status concat_run(rt_kctx *k) { return concat_run_impl(k, false); }

/* ---- Split / SplitV ---- */

static int split_num_outputs(const rt_node *n) {
  int64_t num = rt__attr_int(n, "num_split", -1);
  return num < 1 || num > AR_MAX_SPLIT ? -1 : (int)num;
}

static rt_status split_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  int64_t num = rt__attr_int(n, "num_split", -1);
  if (num < 1 || num > AR_MAX_SPLIT)
    return pfail(n, err, "attribute num_split = %lld must be in [1, %d]", (long long)num,
                 AR_MAX_SPLIT);
  return RT_OK;
}

static rt_status split_axis(const rt_kctx *k, int ai, const rt_tensor *x, int *axis) {
  int64_t a;
  rt_status st = read_int0(k, ai, "axis", &a);
  if (st)
    return st;
  if (x->rank == 0 || !rt__norm_axis(a, x->rank, axis))
    return fail(k, RT_ERR_INVALID_ARG, "axis %lld is not in [-%d, %d)", (long long)a, x->rank,
                x->rank);
  return RT_OK;
}

static rt_status split_shape(rt_kctx *k) {
  rt_status st;
  int axis;
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 1)))
    return st;
  const rt_tensor *x = &k->in[1];
  if ((st = split_axis(k, 0, x, &axis)))
    return st;
  if (k->n_out < 1 || x->dims[axis] % k->n_out)
    return fail(k, RT_ERR_SHAPE, "dim %d (%lld) does not split evenly into %d", axis,
                (long long)x->dims[axis], k->n_out);
  int64_t od[RT_MAX_RANK];
  memcpy(od, x->dims, sizeof od);
  od[axis] /= k->n_out;
  for (int j = 0; j < k->n_out; j++)
    if ((st = set_out(k, j, x->dtype, x->rank, od)))
      return st;
  return RT_OK;
}

static rt_status split_run(rt_kctx *k) {
  int axis;
  rt_status st = split_axis(k, 0, &k->in[1], &axis);
  if (st)
    return st;
  split_run_axis(k, &k->in[1], axis, false);
  return RT_OK;
}

static rt_status splitv_shape(rt_kctx *k) {
  rt_status st;
  int axis, n;
  int64_t sizes[AR_MAX_SPLIT];
  if ((st = need_inputs(k, 3)) || (st = check_movable(k, 0)))
    return st;
  const rt_tensor *x = &k->in[0];
  if ((st = split_axis(k, 2, x, &axis)) ||
      (st = read_ints(k, 1, "size_splits", sizes, AR_MAX_SPLIT, &n)))
    return st;
  if (n != k->n_out)
    return fail(k, RT_ERR_INVALID_ARG, "size_splits has %d entries for %d outputs", n, k->n_out);
  /* TF semantics for the -1 (TF.js miscounts when it comes first). */
  int neg = -1;
  int64_t total = 0;
  for (int j = 0; j < n; j++) {
    if (sizes[j] == -1 && neg < 0)
      neg = j;
    else if (sizes[j] < 0)
      return fail(k, RT_ERR_INVALID_ARG, "size_splits[%d] = %lld (only one -1 allowed)", j,
                  (long long)sizes[j]);
    else
      total += sizes[j];
  }
  if (neg >= 0)
    sizes[neg] = x->dims[axis] - total;
  if ((neg >= 0 && sizes[neg] < 0) || (neg < 0 && total != x->dims[axis]))
    return fail(k, RT_ERR_SHAPE, "size_splits sum to %lld but dim %d is %lld", (long long)total,
                axis, (long long)x->dims[axis]);
  int64_t od[RT_MAX_RANK];
  memcpy(od, x->dims, sizeof od);
  for (int j = 0; j < n; j++) {
    od[axis] = sizes[j];
    if ((st = set_out(k, j, x->dtype, x->rank, od)))
      return st;
  }
  return RT_OK;
}

static rt_status splitv_run(rt_kctx *k) {
  int axis;
  rt_status st = split_axis(k, 2, &k->in[0], &axis);
  if (st)
    return st;
  split_run_axis(k, &k->in[0], axis, false);
  return RT_OK;
}

/* ---- Pad / PadV2 / MirrorPad ---- */

typedef struct ar_pad_params {
  float constant; /* Pad: the converter's constant_value attr */
  int offset;     /* MirrorPad: 0 REFLECT, 1 SYMMETRIC */
} ar_pad_params;

static rt_status pad_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  ar_pad_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->constant = rt__attr_float(n, "constant_value", 0.0f);
  n->params = p;
  return RT_OK;
}

static rt_status mirror_pad_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  ar_pad_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  const char *mode = rt__attr_str(n, "mode", "");
  if (!strcasecmp(mode, "REFLECT"))
    p->offset = 0;
  else if (!strcasecmp(mode, "SYMMETRIC"))
    p->offset = 1;
  else
    return pfail(n, err, "mode '%s' must be REFLECT or SYMMETRIC", mode);
  n->params = p;
  return RT_OK;
}

/* paddings: [rank, 2] of (before, after); max_excess bounds each side (MirrorPad). */
static rt_status pad_compute(const rt_kctx *k, int64_t *before, int64_t *after, int64_t *od,
                             bool mirror) {
  rt_status st;
  int64_t pv[2 * RT_MAX_RANK];
  int n;
  const rt_tensor *x = &k->in[0], *pt = &k->in[1];
  const ar_pad_params *p = k->params;
  if (x->rank == 0)
    return fail(k, RT_ERR_INVALID_ARG, "cannot pad a scalar");
  if (pt->rank != 2 || pt->dims[0] != x->rank || pt->dims[1] != 2)
    return fail(k, RT_ERR_INVALID_ARG, "paddings must have shape [%d,2]", x->rank);
  if ((st = read_ints(k, 1, "paddings", pv, 2 * RT_MAX_RANK, &n)))
    return st;
  for (int i = 0; i < x->rank; i++) {
    before[i] = pv[2 * i];
    after[i] = pv[2 * i + 1];
    int64_t lim = mirror ? x->dims[i] - (p->offset ? 0 : 1) : INT32_MAX;
    if (before[i] < 0 || after[i] < 0 || before[i] > lim || after[i] > lim)
      return fail(k, RT_ERR_INVALID_ARG, "paddings for dim %d (%lld, %lld) must be in [0, %lld]", i,
                  (long long)before[i], (long long)after[i], (long long)lim);
    od[i] = before[i] + x->dims[i] + after[i];
  }
  return RT_OK;
}

static rt_status pad_shape_impl(rt_kctx *k, bool mirror) {
  rt_status st;
  int64_t before[RT_MAX_RANK], after[RT_MAX_RANK], od[RT_MAX_RANK];
  if (!k->params)
    return fail(k, RT_ERR_INTERNAL, "not prepared");
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 0)) ||
      (st = pad_compute(k, before, after, od, mirror)))
    return st;
  return set_out(k, 0, k->in[0].dtype, k->in[0].rank, od);
}

static rt_status pad_shape(rt_kctx *k) { return pad_shape_impl(k, false); }
static rt_status mirror_pad_shape(rt_kctx *k) { return pad_shape_impl(k, true); }

/* Constant padding in one pass over the output. A row is the innermost padded dim p merged with
 * the unpadded dims after it: a row inside the input on every outer dim is [fill, input row,
 * fill], any other row is all fill. Rows are what threads share. */
typedef struct ar_pad_job {
  char *o;
  const char *x;
  size_t es;
  unsigned char pat[8];
  int p;
  int64_t od[RT_MAX_RANK], xd[RT_MAX_RANK], before[RT_MAX_RANK];
  int64_t orow, xrow, lead; /* bytes: output row, input row, fill before the input row */
} ar_pad_job;

static void pad_rows(void *ctx, int64_t b, int64_t e) {
  const ar_pad_job jl = *(const ar_pad_job *)ctx, *j = &jl;
  int64_t idx[RT_MAX_RANK], xs[RT_MAX_RANK], rem = b, stride = 1;
  for (int d = j->p - 1; d >= 0; d--) { /* output row b's index, input row strides */
    idx[d] = rem % j->od[d];
    rem /= j->od[d];
    xs[d] = stride;
    stride *= j->xd[d];
  }
  for (int64_t it = b; it < e; it++) {
    int64_t xoff = 0;
    bool inside = true;
    for (int d = 0; d < j->p; d++) {
      int64_t i = idx[d] - j->before[d];
      inside = inside && i >= 0 && i < j->xd[d];
      xoff += i * xs[d];
    }
    for (int d = j->p - 1; d >= 0 && ++idx[d] == j->od[d]; d--)
      idx[d] = 0;
    char *o = j->o + it * j->orow;
    if (!inside) {
      fill_bytes(o, j->orow, j->pat, j->es);
      continue;
    }
    fill_bytes(o, j->lead, j->pat, j->es);
    memcpy(o + j->lead, j->x + xoff * j->xrow, (size_t)j->xrow);
    fill_bytes(o + j->lead + j->xrow, j->orow - j->lead - j->xrow, j->pat, j->es);
  }
}

static rt_status pad_run(rt_kctx *k) {
  rt_status st;
  int64_t before[RT_MAX_RANK], after[RT_MAX_RANK], od[RT_MAX_RANK];
  const ar_pad_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  rt_tensor *o = &k->out[0];
  double c = p->constant;
  if ((st = pad_compute(k, before, after, od, false)))
    return st;
  if (k->n_in > 2 && (st = read_num0(k, 2, "constant_values", &c)))
    return st;
  if (rt_tensor_numel(o) == 0)
    return RT_OK;
  if (rt_tensor_numel(x) == 0) {
    fill_value(k, o, c);
    return RT_OK;
  }
  ar_pad_job j = {.o = o->data, .x = x->data, .es = rt_dtype_size(x->dtype), .p = -1};
  value_bytes(x->dtype, c, j.pat);
  for (int i = 0; i < x->rank; i++) {
    j.od[i] = od[i];
    j.xd[i] = x->dims[i];
    j.before[i] = before[i];
    if (before[i] || after[i])
      j.p = i;
  }
  if (j.p < 0) {
    par_memcpy(k, o->data, x->data, (int64_t)rt_tensor_nbytes(x));
    return RT_OK;
  }
  int64_t inner = prod(x->dims, j.p + 1, x->rank) * (int64_t)j.es;
  j.orow = od[j.p] * inner;
  j.xrow = x->dims[j.p] * inner;
  j.lead = before[j.p] * inner;
  int64_t rows = prod(od, 0, j.p);
  rt__parallel_for(k->tp, rows, ar_grain(rows, rows * j.orow), pad_rows, &j);
  return RT_OK;
}

/* Output coordinate c of a padded dim -> input coordinate (TF.js MirrorPad). */
static int64_t mirror_index(int64_t c, int64_t before, int64_t dim, int offset) {
  int64_t end = before + dim;
  if (c < before)
    c = before * 2 - c - offset;
  else if (c >= end)
    c = (end - 1) * 2 - c + offset;
  return c - before;
}

static rt_status mirror_pad_run(rt_kctx *k) {
  rt_status st;
  int64_t before[RT_MAX_RANK], after[RT_MAX_RANK], od[RT_MAX_RANK], xst[RT_MAX_RANK];
  int64_t idx[RT_MAX_RANK] = {0};
  const ar_pad_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  if ((st = pad_compute(k, before, after, od, true)))
    return st;
  int r = x->rank;
  if (prod(od, 0, r) == 0)
    return RT_OK;
  size_t es = rt_dtype_size(x->dtype);
  contig_strides(x->dims, r, xst);
  int64_t n = od[r - 1];
  char *o = k->out[0].data;
  const char *s = x->data;
  for (;;) {
    int64_t base = 0;
    for (int i = 0; i < r - 1; i++)
      base += mirror_index(idx[i], before[i], x->dims[i], p->offset) * xst[i];
    for (int64_t c = 0; c < n; c++) {
      int64_t m = mirror_index(c, before[r - 1], x->dims[r - 1], p->offset);
      memcpy(o, s + (base + m) * (int64_t)es, es);
      o += es;
    }
    int i = r - 2;
    for (; i >= 0; i--) {
      if (++idx[i] < od[i])
        break;
      idx[i] = 0;
    }
    if (i < 0)
      return RT_OK;
  }
}

/* ---- Transpose ---- */

static rt_status transpose_perm(const rt_kctx *k, int64_t *perm) {
  rt_status st;
  int n;
  const rt_tensor *x = &k->in[0];
  if ((st = read_ints(k, 1, "perm", perm, RT_MAX_RANK, &n)))
    return st;
  if (n != x->rank)
    return fail(k, RT_ERR_INVALID_ARG, "perm has %d entries for rank %d", n, x->rank);
  unsigned seen = 0;
  for (int i = 0; i < n; i++) {
    if (perm[i] < 0 || perm[i] >= n || (seen & (1u << perm[i])))
      return fail(k, RT_ERR_INVALID_ARG, "perm[%d] = %lld is out of range or repeated", i,
                  (long long)perm[i]);
    seen |= 1u << perm[i];
  }
  return RT_OK;
}

static rt_status transpose_shape(rt_kctx *k) {
  rt_status st;
  int64_t perm[RT_MAX_RANK], od[RT_MAX_RANK];
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 0)) || (st = transpose_perm(k, perm)))
    return st;
  for (int i = 0; i < k->in[0].rank; i++)
    od[i] = k->in[0].dims[perm[i]];
  return set_out(k, 0, k->in[0].dtype, k->in[0].rank, od);
}

static rt_status transpose_run(rt_kctx *k) {
  int64_t perm[RT_MAX_RANK], xst[RT_MAX_RANK];
  rt_status st = transpose_perm(k, perm);
  if (st)
    return st;
  const rt_tensor *x = &k->in[0];
  ar_view v = {.rank = x->rank};
  contig_strides(x->dims, x->rank, xst);
  for (int i = 0; i < x->rank; i++) {
    v.dims[i] = x->dims[perm[i]];
    v.ss[i] = xst[perm[i]];
  }
  contig_strides(v.dims, v.rank, v.ds);
  view_copy(k, k->out[0].data, x->data, &v, rt_dtype_size(x->dtype));
  return RT_OK;
}

/* ---- GatherV2 / Gather ---- */

static rt_status gather_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  ar_axis_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->axis = rt__attr_int(n, "batch_dims", 0); /* Gather (v1) has none: params stay NULL */
  n->params = p;
  return RT_OK;
}

typedef struct ar_gather_info {
  int axis, batch_dims;
  int64_t batch, outer, dim, slice, n_idx; /* n_idx: indices per batch */
} ar_gather_info;

static rt_status gather_info(const rt_kctx *k, ar_gather_info *gi, int64_t *od, int *orank) {
  rt_status st;
  const ar_axis_params *p = k->params;
  const rt_tensor *x = &k->in[0], *ind = &k->in[1];
  int64_t axis = 0, bd = p ? p->axis : 0;
  if (k->n_in > 2 && (st = read_int0(k, 2, "axis", &axis)))
    return st;
  if (x->rank == 0 || !rt__norm_axis(axis, x->rank, &gi->axis))
    return fail(k, RT_ERR_INVALID_ARG, "axis %lld is not in [-%d, %d)", (long long)axis, x->rank,
                x->rank);
  if (ind->dtype != RT_DT_I32 && ind->dtype != RT_DT_F32 && ind->dtype != RT_DT_BOOL)
    return fail(k, RT_ERR_INVALID_ARG, "indices have dtype %s", rt_dtype_name(ind->dtype));
  if (bd < -ind->rank || bd > ind->rank)
    return fail(k, RT_ERR_INVALID_ARG, "batch_dims %lld is not in [-%d, %d]", (long long)bd,
                ind->rank, ind->rank);
  if (bd < 0)
    bd += ind->rank;
  if (bd > x->rank || gi->axis < bd)
    return fail(k, RT_ERR_INVALID_ARG, "batch_dims %lld must be <= axis %d and rank %d",
                (long long)bd, gi->axis, x->rank);
  gi->batch_dims = (int)bd;
  for (int i = 0; i < bd; i++)
    if (x->dims[i] != ind->dims[i])
      return fail(k, RT_ERR_SHAPE, "params dim %d (%lld) != indices dim %d (%lld)", i,
                  (long long)x->dims[i], i, (long long)ind->dims[i]);
  int r = 0;
  for (int i = 0; i < gi->axis; i++)
    od[r++] = x->dims[i];
  for (int i = (int)bd; i < ind->rank && r < RT_MAX_RANK + 1; i++)
    od[r++] = ind->dims[i];
  for (int i = gi->axis + 1; i < x->rank && r < RT_MAX_RANK + 1; i++)
    od[r++] = x->dims[i];
  if (r > RT_MAX_RANK || (ind->rank - bd) + x->rank - 1 > RT_MAX_RANK)
    return fail(k, RT_ERR_UNSUPPORTED, "output rank would exceed %d", RT_MAX_RANK);
  *orank = r;
  gi->batch = prod(x->dims, 0, (int)bd);
  gi->outer = prod(x->dims, (int)bd, gi->axis);
  gi->dim = x->dims[gi->axis];
  gi->slice = prod(x->dims, gi->axis + 1, x->rank);
  gi->n_idx = gi->batch ? rt_tensor_numel(ind) / gi->batch : 0;
  return RT_OK;
}

static rt_status gather_shape(rt_kctx *k) {
  rt_status st;
  ar_gather_info gi;
  int64_t od[RT_MAX_RANK + 1];
  int r;
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 0)) || (st = gather_info(k, &gi, od, &r)))
    return st;
  return set_out(k, 0, k->in[0].dtype, r, od);
}

/* TF.js casts indices to int32 (Int32Array.from: truncate, wrap). */
static int64_t index_at(const rt_tensor *t, int64_t i) {
  if (t->dtype == RT_DT_I32)
    return ((const int32_t *)t->data)[i];
  if (t->dtype == RT_DT_F32)
    return js_to_i32(((const float *)t->data)[i]);
  return ((const uint8_t *)t->data)[i];
}

/* Output row it = (batch, outer, j) takes source row (batch, outer, indices[batch, j]). */
typedef struct ar_gather_job {
  char *o;
  const char *x;
  const rt_tensor *ind;
  ar_gather_info gi;
  int64_t chunk; /* bytes per row */
} ar_gather_job;

static void gather_part(void *ctx, int64_t b, int64_t e) {
  const ar_gather_job jl = *(const ar_gather_job *)ctx, *j = &jl;
  const ar_gather_info *gi = &j->gi;
  const int32_t *iv = j->ind->dtype == RT_DT_I32 ? j->ind->data : NULL;
  int64_t bo = b / gi->n_idx, jj = b % gi->n_idx;
  for (int64_t it = b; it < e;) {
    /* one (batch, outer) row: indices jj.. of batch bo / outer */
    const int64_t base = bo / gi->outer * gi->n_idx, stop = it + gi->n_idx - jj < e
                                                                ? it + gi->n_idx - jj
                                                                : e;
    const char *row = j->x + bo * gi->dim * j->chunk;
    if (j->chunk == 4 && iv) {
      uint32_t *o = (uint32_t *)(void *)(j->o + it * 4);
      const uint32_t *src = (const uint32_t *)(const void *)row;
      for (int64_t t = 0; t < stop - it; t++)
        o[t] = src[iv[base + jj + t]];
    } else {
      for (int64_t t = 0; t < stop - it; t++) {
        const int64_t v = iv ? iv[base + jj + t] : index_at(j->ind, base + jj + t);
        memcpy(j->o + (it + t) * j->chunk, row + v * j->chunk, (size_t)j->chunk);
      }
    }
    it = stop;
    jj = 0;
    bo++;
  }
}

static rt_status gather_run(rt_kctx *k) {
  rt_status st;
  ar_gather_info gi;
  int64_t od[RT_MAX_RANK + 1];
  int r;
  if ((st = gather_info(k, &gi, od, &r)))
    return st;
  const rt_tensor *x = &k->in[0], *ind = &k->in[1];
  int64_t ni = rt_tensor_numel(ind);
  /* Like TF.js, every index is checked before anything is copied. */
  for (int64_t i = 0; i < ni; i++) {
    int64_t v = index_at(ind, i);
    if (v < 0 || v >= gi.dim)
      return fail(k, RT_ERR_INVALID_ARG, "index %lld (indices element %lld) is not in [0, %lld]",
                  (long long)v, (long long)i, (long long)gi.dim - 1);
  }
  ar_gather_job j = {.o = k->out[0].data, .x = x->data, .ind = ind, .gi = gi,
                     .chunk = gi.slice * (int64_t)rt_dtype_size(x->dtype)};
  int64_t items = gi.batch * gi.outer * gi.n_idx;
  if (!j.chunk || !items)
    return RT_OK;
  rt__parallel_for(k->tp, items, ar_grain(items, items * (j.chunk + 16)), gather_part, &j);
  return RT_OK;
}

/* ---- GatherNd ---- */

static rt_status gather_nd_shape(rt_kctx *k) {
  rt_status st;
  char b[160];
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 0)))
    return st;
  const rt_tensor *x = &k->in[0], *ind = &k->in[1];
  if (ind->rank < 1 || ind->dtype != RT_DT_I32)
    return fail(k, RT_ERR_INVALID_ARG, "indices must be int32 of rank >= 1, got %s rank %d",
                rt_dtype_name(ind->dtype), ind->rank);
  int64_t sr = ind->dims[ind->rank - 1];
  if (sr > x->rank)
    return fail(k, RT_ERR_INVALID_ARG, "index depth %lld exceeds params rank %d", (long long)sr,
                x->rank);
  if (rt_tensor_numel(x) == 0)
    return fail(k, RT_ERR_INVALID_ARG, "params %s are empty", dims_str(x->dims, x->rank, b, 160));
  int64_t od[2 * RT_MAX_RANK];
  int r = 0;
  for (int i = 0; i < ind->rank - 1; i++)
    od[r++] = ind->dims[i];
  for (int i = (int)sr; i < x->rank; i++)
    od[r++] = x->dims[i];
  return set_out(k, 0, x->dtype, r, od);
}

static rt_status gather_nd_run(rt_kctx *k) {
  char b1[160], b2[160];
  const rt_tensor *x = &k->in[0], *ind = &k->in[1];
  int sr = (int)ind->dims[ind->rank - 1];
  int64_t strides[RT_MAX_RANK];
  int64_t slice = prod(x->dims, sr, x->rank), n_slices = prod(ind->dims, 0, ind->rank - 1);
  int64_t n_rows = prod(x->dims, 0, sr);
  for (int j = 0; j < sr; j++)
    strides[j] = prod(x->dims, j + 1, sr);
  size_t es = rt_dtype_size(x->dtype), chunk = (size_t)slice * es;
  const int32_t *iv = ind->data;
  char *o = k->out[0].data;
  for (int64_t i = 0; i < n_slices; i++) {
    int64_t flat = 0, term;
    bool wrapped = false; /* crafted indices x strides can pass 2^63: out of bounds anyway */
    for (int j = 0; j < sr && !wrapped; j++)
      wrapped = !rt__checked_mul(iv[i * sr + j], strides[j], &term) ||
                __builtin_add_overflow(flat, term, &flat);
    /* TF.js checks only the flattened row, so [0, 5] into [3, 4] reads row 1, column 1;
     * matched here because it stays in bounds. */
    if (wrapped || flat < 0 || flat >= n_rows) {
      int64_t bad[RT_MAX_RANK];
      for (int j = 0; j < sr; j++)
        bad[j] = iv[i * sr + j];
      return fail(k, RT_ERR_INVALID_ARG, "indices %s do not index into params %s",
                  dims_str(bad, sr, b1, 160), dims_str(x->dims, x->rank, b2, 160));
    }
    if (chunk)
      memcpy(o + (size_t)i * chunk, (const char *)x->data + (size_t)flat * chunk, chunk);
  }
  return RT_OK;
}

/* ---- Tile / BroadcastTo ---- */

static rt_status tile_reps(const rt_kctx *k, int64_t *reps, int64_t *od) {
  rt_status st;
  int n;
  const rt_tensor *x = &k->in[0];
  if ((st = read_ints(k, 1, "multiples", reps, RT_MAX_RANK, &n)))
    return st;
  if (n != x->rank)
    return fail(k, RT_ERR_INVALID_ARG, "multiples has %d entries for rank %d", n, x->rank);
  for (int i = 0; i < n; i++) {
    if (reps[i] < 0)
      return fail(k, RT_ERR_INVALID_ARG, "multiples[%d] = %lld is negative", i, (long long)reps[i]);
    if (!rt__checked_mul(x->dims[i], reps[i], &od[i])) /* an empty x may have 2^40 dims */
      return fail(k, RT_ERR_SHAPE, "dim %d (%lld) times multiples[%d] = %lld overflows", i,
                  (long long)x->dims[i], i, (long long)reps[i]);
  }
  return RT_OK;
}

static rt_status tile_shape(rt_kctx *k) {
  rt_status st;
  int64_t reps[RT_MAX_RANK], od[RT_MAX_RANK];
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 0)) || (st = tile_reps(k, reps, od)))
    return st;
  return set_out(k, 0, k->in[0].dtype, k->in[0].rank, od);
}

static rt_status tile_run(rt_kctx *k) {
  int64_t reps[RT_MAX_RANK], od[RT_MAX_RANK], xst[RT_MAX_RANK];
  rt_status st = tile_reps(k, reps, od);
  if (st)
    return st;
  const rt_tensor *x = &k->in[0];
  int r = x->rank;
  /* out viewed as [r0, d0, r1, d1, ...]; the repeat dims read the source with stride 0. */
  ar_view v = {.rank = 2 * r};
  contig_strides(x->dims, r, xst);
  for (int i = 0; i < r; i++) {
    v.dims[2 * i] = reps[i];
    v.dims[2 * i + 1] = x->dims[i];
    v.ss[2 * i] = 0;
    v.ss[2 * i + 1] = xst[i];
  }
  contig_strides(v.dims, v.rank, v.ds);
  view_copy(k, k->out[0].data, x->data, &v, rt_dtype_size(x->dtype));
  return RT_OK;
}

static rt_status broadcast_to_shape(rt_kctx *k) {
  rt_status st;
  int64_t sh[RT_MAX_RANK];
  int n;
  char b1[160], b2[160];
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 0)) ||
      (st = read_ints(k, 1, "shape", sh, RT_MAX_RANK, &n)))
    return st;
  const rt_tensor *x = &k->in[0];
  if (n < x->rank)
    return fail(k, RT_ERR_SHAPE, "shape has %d entries < input rank %d", n, x->rank);
  /* TF.js tiles only when some dim grows past 1; otherwise it returns the input as is (rank
   * padded), so a 1 "broadcast" to 0 stays 1 unless another dim really tiles. */
  int64_t padded[RT_MAX_RANK];
  bool tiles = false;
  for (int i = 0; i < n; i++) {
    int xi = i - (n - x->rank);
    padded[i] = xi >= 0 ? x->dims[xi] : 1;
    if (sh[i] < 0 || (padded[i] != sh[i] && padded[i] != 1))
      return fail(k, RT_ERR_SHAPE, "%s cannot be broadcast to %s",
                  dims_str(x->dims, x->rank, b1, 160), dims_str(sh, n, b2, 160));
    tiles |= padded[i] != sh[i] && sh[i] > 1;
  }
  return set_out(k, 0, x->dtype, n, tiles ? sh : padded);
}

static rt_status broadcast_to_run(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  rt_tensor *o = &k->out[0];
  int64_t xst[RT_MAX_RANK];
  ar_view v = {.rank = o->rank};
  contig_strides(x->dims, x->rank, xst);
  for (int i = 0; i < o->rank; i++) {
    int xi = i - (o->rank - x->rank);
    v.dims[i] = o->dims[i];
    v.ss[i] = xi >= 0 && x->dims[xi] == o->dims[i] ? xst[xi] : 0;
  }
  contig_strides(v.dims, v.rank, v.ds);
  view_copy(k, o->data, x->data, &v, rt_dtype_size(x->dtype));
  return RT_OK;
}

/* ---- Fill / Range / OneHot: ops that create values ---- */

typedef struct ar_dtype_params {
  int dtype; /* output dtype from the T/Tidx attr; -1: from the input */
} ar_dtype_params;

static rt_status dtype_prepare_attr(rt_graph *g, rt_node *n, rt_error *err, const char *attr,
                                    int def) {
  ar_dtype_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  const rt_attr *a = rt__attr_find(n, attr);
  p->dtype = a && a->kind == RT_ATTR_TYPE ? (int)a->type : def;
  if (p->dtype != -1 && rt_dtype_size((rt_dtype)p->dtype) == 0)
    return pfail(n, err, "attribute %s has dtype %s, which has no tensors", attr,
                 rt_dtype_name((rt_dtype)p->dtype));
  n->params = p;
  return RT_OK;
}

static rt_status fill_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  return dtype_prepare_attr(g, n, err, "T", -1);
}

static rt_status fill_shape(rt_kctx *k) {
  rt_status st;
  int64_t sh[RT_MAX_RANK];
  int n;
  const ar_dtype_params *p = k->params;
  if (!p)
    return fail(k, RT_ERR_INTERNAL, "not prepared");
  if ((st = need_inputs(k, 2)) || (st = read_ints(k, 0, "dims", sh, RT_MAX_RANK, &n)))
    return st;
  if (rt_tensor_numel(&k->in[1]) < 1 || rt_dtype_size(k->in[1].dtype) == 0)
    return fail(k, RT_ERR_INVALID_ARG, "value (input 1) must be a numeric scalar");
  return set_out(k, 0, p->dtype >= 0 ? (rt_dtype)p->dtype : k->in[1].dtype, n, sh);
}

static rt_status fill_run(rt_kctx *k) {
  double v;
  rt_status st = read_num0(k, 1, "value", &v);
  if (st)
    return st;
  fill_value(k, &k->out[0], v);
  return RT_OK;
}

static rt_status range_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  rt_status st = dtype_prepare_attr(g, n, err, "Tidx", RT_DT_F32);
  const ar_dtype_params *p = n->params;
  if (st == RT_OK && p->dtype != RT_DT_F32 && p->dtype != RT_DT_I32)
    return pfail(n, err, "Tidx must be float32 or int32, got %s",
                 rt_dtype_name((rt_dtype)p->dtype));
  return st;
}

typedef struct ar_range {
  double start, step;
  int64_t n;
} ar_range;

/* TF.js rangeImpl, quirks included: the size is |ceil((limit-start)/delta)| unless the
 * direction is plainly wrong, and a delta of 1 counts down when limit < start. */
static rt_status range_compute(const rt_kctx *k, ar_range *rg) {
  rt_status st;
  double start, stop, step;
  if ((st = need_inputs(k, 3)) || (st = read_num0(k, 0, "start", &start)) ||
      (st = read_num0(k, 1, "limit", &stop)) || (st = read_num0(k, 2, "delta", &step)))
    return st;
  if (step == 0)
    return fail(k, RT_ERR_INVALID_ARG, "delta must not be zero");
  rg->start = start;
  rg->step = step;
  rg->n = 0;
  if (start == stop || (start < stop && step < 0) || (stop < start && step > 1))
    return RT_OK;
  double n = fabs(ceil((stop - start) / step));
  if (isnan(n)) /* new Float32Array(NaN) is empty */
    return RT_OK;
  if (n > INT32_MAX)
    return fail(k, RT_ERR_SHAPE, "range(%g, %g, %g) has over 2^31-1 elements", start, stop, step);
  rg->n = (int64_t)n;
  if (stop < start && step == 1)
    rg->step = -1;
  return RT_OK;
}

static rt_status range_shape(rt_kctx *k) {
  ar_range rg;
  const ar_dtype_params *p = k->params;
  if (!p)
    return fail(k, RT_ERR_INTERNAL, "not prepared");
  rt_status st = range_compute(k, &rg);
  if (st)
    return st;
  return set_out(k, 0, p->dtype >= 0 ? (rt_dtype)p->dtype : RT_DT_F32, 1, &rg.n);
}

static rt_status range_run(rt_kctx *k) {
  ar_range rg;
  rt_status st = range_compute(k, &rg);
  if (st)
    return st;
  rt_tensor *o = &k->out[0];
  if (rg.n == 0)
    return RT_OK;
  /* Each element is the previous stored element plus delta, rounded to the output type. */
  if (o->dtype == RT_DT_F32) {
    float *v = o->data;
    v[0] = (float)rg.start;
    for (int64_t i = 1; i < rg.n; i++)
      v[i] = (float)((double)v[i - 1] + rg.step);
  } else {
    int32_t *v = o->data;
    v[0] = js_to_i32(rg.start);
    for (int64_t i = 1; i < rg.n; i++)
      v[i] = js_to_i32((double)v[i - 1] + rg.step);
  }
  return RT_OK;
}

static rt_status one_hot_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  return dtype_prepare_attr(g, n, err, "T", RT_DT_I32);
}

/* TF.js ignores the axis attribute (always the last axis) and wants depth >= 2. */
static rt_status one_hot_shape(rt_kctx *k) {
  rt_status st;
  int64_t depth;
  const ar_dtype_params *p = k->params;
  if (!p)
    return fail(k, RT_ERR_INTERNAL, "not prepared");
  if ((st = need_inputs(k, 2)) || (st = read_int0(k, 1, "depth", &depth)))
    return st;
  const rt_tensor *ind = &k->in[0];
  if (ind->dtype != RT_DT_I32)
    return fail(k, RT_ERR_INVALID_ARG, "indices must be int32, got %s", rt_dtype_name(ind->dtype));
  if (depth < 2)
    return fail(k, RT_ERR_INVALID_ARG, "depth must be >= 2, got %lld", (long long)depth);
  int64_t od[RT_MAX_RANK + 1];
  memcpy(od, ind->dims, (size_t)ind->rank * sizeof od[0]);
  od[ind->rank] = depth;
  return set_out(k, 0, p->dtype >= 0 ? (rt_dtype)p->dtype : RT_DT_I32, ind->rank + 1, od);
}

static rt_status one_hot_run(rt_kctx *k) {
  rt_status st;
  double on = 1, off = 0;
  if ((k->n_in > 2 && (st = read_num0(k, 2, "on_value", &on))) ||
      (k->n_in > 3 && (st = read_num0(k, 3, "off_value", &off))))
    return st;
  const rt_tensor *ind = &k->in[0];
  rt_tensor *o = &k->out[0];
  int64_t depth = o->dims[o->rank - 1], n = rt_tensor_numel(ind);
  fill_value(k, o, off);
  const int32_t *iv = ind->data;
  for (int64_t i = 0; i < n; i++) {
    if (iv[i] < 0 || iv[i] >= depth)
      continue;
    int64_t at = i * depth + iv[i];
    if (o->dtype == RT_DT_F32)
      ((float *)o->data)[at] = (float)on;
    else if (o->dtype == RT_DT_I32)
      ((int32_t *)o->data)[at] = js_to_i32(on);
    else
      ((uint8_t *)o->data)[at] = on != 0;
  }
  return RT_OK;
}

/* ---- Shape / Size / Rank: read only the input's shape, never its data ---- */

static rt_status shape_shape(rt_kctx *k) {
  rt_status st;
  if ((st = need_inputs(k, 1)))
    return st;
  int64_t r = k->in[0].rank;
  return set_out(k, 0, RT_DT_I32, 1, &r);
}

static rt_status shape_run(rt_kctx *k) {
  int32_t *o = k->out[0].data;
  for (int i = 0; i < k->in[0].rank; i++)
    o[i] = (int32_t)k->in[0].dims[i];
  return RT_OK;
}

static rt_status scalar_i32_shape(rt_kctx *k) {
  rt_status st;
  if ((st = need_inputs(k, 1)))
    return st;
  return set_out(k, 0, RT_DT_I32, 0, NULL);
}

static rt_status size_run(rt_kctx *k) {
  *(int32_t *)k->out[0].data = (int32_t)rt_tensor_numel(&k->in[0]);
  return RT_OK;
}

static rt_status rank_run(rt_kctx *k) {
  *(int32_t *)k->out[0].data = k->in[0].rank;
  return RT_OK;
}

/* ---- ReverseV2 ---- */

/* TF.js reverses once per listed axis, so a repeated axis cancels out. */
static rt_status reverse_axes(const rt_kctx *k, bool *flip) {
  rt_status st;
  int64_t ax[AR_MAX_VEC];
  int n;
  const rt_tensor *x = &k->in[0];
  if ((st = read_ints(k, 1, "axis", ax, AR_MAX_VEC, &n)))
    return st;
  for (int i = 0; i < RT_MAX_RANK; i++)
    flip[i] = false;
  for (int i = 0; i < n; i++) {
    int a;
    if (x->rank == 0 || !rt__norm_axis(ax[i], x->rank, &a))
      return fail(k, RT_ERR_INVALID_ARG, "axis %lld is not in [-%d, %d)", (long long)ax[i], x->rank,
                  x->rank);
    flip[a] = !flip[a];
  }
  return RT_OK;
}

static rt_status reverse_shape(rt_kctx *k) {
  rt_status st;
  bool flip[RT_MAX_RANK];
  if ((st = need_inputs(k, 2)) || (st = check_movable(k, 0)))
    return st;
  /* The output shape does not depend on the axes: check them now only if we can. */
  if (known(&k->in[1]) && (st = reverse_axes(k, flip)))
    return st;
  return set_out(k, 0, k->in[0].dtype, k->in[0].rank, k->in[0].dims);
}

static rt_status reverse_run(rt_kctx *k) {
  bool flip[RT_MAX_RANK];
  int64_t xst[RT_MAX_RANK], off = 0;
  rt_status st = reverse_axes(k, flip);
  if (st)
    return st;
  const rt_tensor *x = &k->in[0];
  if (rt_tensor_numel(x) == 0)
    return RT_OK;
  size_t es = rt_dtype_size(x->dtype);
  ar_view v = {.rank = x->rank};
  contig_strides(x->dims, x->rank, xst);
  contig_strides(x->dims, x->rank, v.ds);
  for (int i = 0; i < x->rank; i++) {
    v.dims[i] = x->dims[i];
    v.ss[i] = flip[i] ? -xst[i] : xst[i];
    if (flip[i])
      off += (x->dims[i] - 1) * xst[i];
  }
  view_copy(k, k->out[0].data, (const char *)x->data + off * (int64_t)es, &v, es);
  return RT_OK;
}

/* ---- Cumsum ---- */

typedef struct ar_cumsum_params {
  bool exclusive, reverse;
} ar_cumsum_params;

static rt_status cumsum_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  ar_cumsum_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->exclusive = rt__attr_bool(n, "exclusive", false);
  p->reverse = rt__attr_bool(n, "reverse", false);
  n->params = p;
  return RT_OK;
}

static rt_status cumsum_axis(const rt_kctx *k, int *axis) {
  int64_t a;
  rt_status st = read_int0(k, 1, "axis", &a);
  if (st)
    return st;
  if (k->in[0].rank == 0 || !rt__norm_axis(a, k->in[0].rank, axis))
    return fail(k, RT_ERR_INVALID_ARG, "axis %lld is not in [-%d, %d)", (long long)a, k->in[0].rank,
                k->in[0].rank);
  return RT_OK;
}

static rt_status cumsum_shape(rt_kctx *k) {
  rt_status st;
  int axis;
  if (!k->params)
    return fail(k, RT_ERR_INTERNAL, "not prepared");
  if ((st = need_inputs(k, 2)))
    return st;
  const rt_tensor *x = &k->in[0];
  if (x->dtype != RT_DT_F32 && x->dtype != RT_DT_I32 && x->dtype != RT_DT_BOOL)
    return fail(k, RT_ERR_INVALID_ARG, "cannot sum dtype %s", rt_dtype_name(x->dtype));
  if (x->rank == 0)
    return fail(k, RT_ERR_INVALID_ARG, "input must have rank >= 1");
  if (known(&k->in[1]) && (st = cumsum_axis(k, &axis)))
    return st;
  /* upcastType(dtype, 'int32'): bool sums to int32. */
  return set_out(k, 0, x->dtype == RT_DT_F32 ? RT_DT_F32 : RT_DT_I32, x->rank, x->dims);
}

static rt_status cumsum_run(rt_kctx *k) {
  int axis;
  rt_status st = cumsum_axis(k, &axis);
  if (st)
    return st;
  const ar_cumsum_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  if (rt_tensor_numel(x) == 0) /* [2^31-1, 0] must not walk 2^31 empty rows */
    return RT_OK;
  int64_t outer = prod(x->dims, 0, axis), len = x->dims[axis];
  int64_t inner = prod(x->dims, axis + 1, x->rank);
  /* Walk the axis in summing order; each step adds a whole inner row (vectorizes). */
  for (int64_t o = 0; o < outer; o++)
    for (int64_t s = 0; s < len; s++) {
      int64_t j = p->reverse ? len - 1 - s : s, jp = p->reverse ? j + 1 : j - 1;
      int64_t at = (o * len + j) * inner, prev = (o * len + jp) * inner;
      int64_t src = p->exclusive ? prev : at; /* exclusive adds the previous element */
      if (x->dtype == RT_DT_F32) {
        const float *xv = x->data;
        float *ov = k->out[0].data;
        if (s == 0)
          for (int64_t i = 0; i < inner; i++)
            ov[at + i] = p->exclusive ? 0.0f : xv[at + i];
        else
          for (int64_t i = 0; i < inner; i++)
            ov[at + i] = ov[prev + i] + xv[src + i];
      } else {
        /* int32 sums wrap like Int32Array stores. */
        uint32_t *ov = k->out[0].data;
        for (int64_t i = 0; i < inner; i++) {
          uint32_t xin = 0;
          if (!(s == 0 && p->exclusive))
            xin = x->dtype == RT_DT_I32 ? (uint32_t)((const int32_t *)x->data)[src + i]
                                        : ((const uint8_t *)x->data)[src + i];
          ov[at + i] = (s == 0 ? 0u : ov[prev + i]) + xin;
        }
      }
    }
  return RT_OK;
}

/* ---- the table ---- */

const rt_op_def rt__ops_array[] = {
    {.name = "Reshape",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = reshape_shape,
     .run = run_copy},
    {.name = "Squeeze",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .shape = squeeze_shape,
     .run = run_copy},
    {.name = "ExpandDims",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = expand_dims_shape,
     .run = run_copy},
    {.name = "StridedSlice",
     .min_inputs = 3,
     .max_inputs = 4,
     .n_outputs = 1,
     .prepare = strided_slice_prepare,
     .shape = strided_slice_shape,
     .run = strided_slice_run},
    {.name = "Slice",
     .min_inputs = 3,
     .max_inputs = 3,
     .n_outputs = 1,
     .shape = slice_shape,
     .run = slice_run},
    {.name = "Pack",
     .min_inputs = 1,
     .max_inputs = -1,
     .n_outputs = 1,
     .prepare = axis_prepare,
     .shape = pack_shape,
     .run = pack_run},
    {.name = "Unpack",
     .min_inputs = 1,
     .max_inputs = 1,
     .num_outputs = unpack_num_outputs,
     .prepare = unpack_prepare,
     .shape = unpack_shape,
     .run = unpack_run},
    {.name = "ConcatV2",
     .min_inputs = 2,
     .max_inputs = -1,
     .n_outputs = 1,
     .shape = concatv2_shape,
     .run = concatv2_run},
    {.name = "Concat",
     .min_inputs = 2,
     .max_inputs = -1,
     .n_outputs = 1,
     .shape = concat_shape,
     .run = concat_run},
    {.name = "Split",
     .min_inputs = 2,
     .max_inputs = 2,
     .num_outputs = split_num_outputs,
     .prepare = split_prepare,
     .shape = split_shape,
     .run = split_run},
    {.name = "SplitV",
     .min_inputs = 3,
     .max_inputs = 3,
     .num_outputs = split_num_outputs,
     .prepare = split_prepare,
     .shape = splitv_shape,
     .run = splitv_run},
    {.name = "Pad",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .prepare = pad_prepare,
     .shape = pad_shape,
     .run = pad_run},
    {.name = "PadV2",
     .min_inputs = 2,
     .max_inputs = 3,
     .n_outputs = 1,
     .prepare = pad_prepare,
     .shape = pad_shape,
     .run = pad_run},
    {.name = "MirrorPad",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .prepare = mirror_pad_prepare,
     .shape = mirror_pad_shape,
     .run = mirror_pad_run},
    {.name = "Transpose",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = transpose_shape,
     .run = transpose_run},
    {.name = "GatherV2",
     .min_inputs = 2,
     .max_inputs = 3,
     .n_outputs = 1,
     .prepare = gather_prepare,
     .shape = gather_shape,
     .run = gather_run},
    {.name = "Gather",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = gather_shape,
     .run = gather_run},
    {.name = "GatherNd",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = gather_nd_shape,
     .run = gather_nd_run},
    {.name = "Tile",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = tile_shape,
     .run = tile_run},
    {.name = "BroadcastTo",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = broadcast_to_shape,
     .run = broadcast_to_run},
    {.name = "Fill",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .prepare = fill_prepare,
     .shape = fill_shape,
     .run = fill_run},
    {.name = "Range",
     .min_inputs = 3,
     .max_inputs = 3,
     .n_outputs = 1,
     .prepare = range_prepare,
     .shape = range_shape,
     .run = range_run},
    {.name = "OneHot",
     .min_inputs = 2,
     .max_inputs = 4,
     .n_outputs = 1,
     .prepare = one_hot_prepare,
     .shape = one_hot_shape,
     .run = one_hot_run},
    {.name = "Shape",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .shape = shape_shape,
     .run = shape_run,
     .flags = RT_OP_SHAPE_ONLY},
    {.name = "Size",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .shape = scalar_i32_shape,
     .run = size_run,
     .flags = RT_OP_SHAPE_ONLY},
    {.name = "Rank",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .shape = scalar_i32_shape,
     .run = rank_run,
     .flags = RT_OP_SHAPE_ONLY},
    {.name = "ReverseV2",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .shape = reverse_shape,
     .run = reverse_run},
    {.name = "Cumsum",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .prepare = cumsum_prepare,
     .shape = cumsum_shape,
     .run = cumsum_run},
};
const int rt__ops_array_count = (int)(sizeof rt__ops_array / sizeof rt__ops_array[0]);
