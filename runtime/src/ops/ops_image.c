/*
 * ops_image.c — the image family: resizing (ResizeBilinear, ResizeNearestNeighbor,
 * CropAndResize), block rearrangements (DepthToSpace, SpaceToDepth, SpaceToBatchND,
 * BatchToSpaceND), and the ops whose results are indices or depend on values (SparseToDense,
 * TopKV2, NonMaxSuppressionV2..V5, Where).
 *
 * Semantics follow the TensorFlow.js 4.22 CPU kernels, not TensorFlow's C++ ones, where the
 * two differ (nearest-neighbour rounding, NMS padding to min(max_output_size, n), V5 ignoring
 * pad_to_max_output_size, ...). Coordinates, IoU and soft-NMS scores are computed in double
 * because TF.js computes them as JS numbers; rounding to float32 happens only on store, so
 * results match TF.js bit for bit.
 *
 * Resizes and block rearrangements split output rows over the session's threads; TopKV2 with
 * sorted output finds the k best in one vectorized pass with a bounded heap (rows, or segments
 * of one long row, in parallel) and falls back to the exact port of TF.js's select for rows
 * holding NaN or ±Inf and for sorted=false. Results never depend on the thread count.
 *
 * Invariants: shape() validates every input a request can get wrong, and returns
 * RT_ERR_NEED_VALUE when a value it needs for the output shape is unknown. Index values that
 * do not decide a shape (SparseToDense indices, CropAndResize box_ind) are checked again in
 * run(), since they may arrive only with the request. run() never allocates: sort and heap
 * space comes from scratch. The one exception is NMS's shape(), which must run the whole
 * suppression to know the output length and gets its temporary space from malloc.
 */
#include "../ops.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* ---- small helpers ---- */

static rt_status kerr(const rt_kctx *k, rt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static rt_status kerr(const rt_kctx *k, rt_status code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return rt__errorf(k->err, code, "node '%s' (%s): %s", k->node->name, k->node->op_name, msg);
}

static rt_status need_value(const rt_kctx *k, const char *what) {
  return kerr(k, RT_ERR_NEED_VALUE, "value of %s not known at plan time", what);
}

static bool is_num(rt_dtype t) { return t == RT_DT_F32 || t == RT_DT_I32; }

/* Element i of a numeric/bool tensor as a JS number would see it. */
static double get_num(const rt_tensor *t, int64_t i) {
  switch (t->dtype) {
  case RT_DT_F32: return ((const float *)t->data)[i];
  case RT_DT_I32: return ((const int32_t *)t->data)[i];
  case RT_DT_BOOL: return ((const uint8_t *)t->data)[i];
  default: return 0;
  }
}

/* Reads input `idx` as a list of integers (any rank: TF.js flattens `number[]` params).
 * Fails with NEED_VALUE when the data is unknown, or when the count is not in [min_n, max_n]. */
static rt_status int_list(const rt_kctx *k, int idx, const char *what, int min_n, int max_n,
                          int64_t *vals, int *n_out) {
  const rt_tensor *t = &k->in[idx];
  if (t->dtype != RT_DT_I32 && t->dtype != RT_DT_F32)
    return kerr(k, RT_ERR_INVALID_ARG, "%s must be int32, got %s", what, rt_dtype_name(t->dtype));
  int64_t n = rt_tensor_numel(t);
  if (n < min_n || n > max_n)
    return kerr(k, RT_ERR_SHAPE, "%s must have %d..%d elements, got %lld", what, min_n, max_n,
                (long long)n);
  if (!t->data)
    return need_value(k, what);
  for (int64_t i = 0; i < n; i++) {
    double v = get_num(t, i);
    if (!(v > -2147483649.0 && v < 2147483648.0) || v != floor(v))
      return kerr(k, RT_ERR_INVALID_ARG, "%s[%lld] = %g is not an int32 value", what, (long long)i,
                  v);
    vals[i] = (int64_t)v;
  }
  *n_out = (int)n;
  return RT_OK;
}

/* Reads the first element of input `idx` as a JS number (TF.js `number` params). */
static rt_status num_param(const rt_kctx *k, int idx, const char *what, double *out) {
  const rt_tensor *t = &k->in[idx];
  if (t->dtype != RT_DT_I32 && t->dtype != RT_DT_F32 && t->dtype != RT_DT_BOOL)
    return kerr(k, RT_ERR_INVALID_ARG, "%s must be numeric, got %s", what, rt_dtype_name(t->dtype));
  if (rt_tensor_numel(t) < 1)
    return kerr(k, RT_ERR_SHAPE, "%s is empty", what);
  if (!t->data)
    return need_value(k, what);
  *out = get_num(t, 0);
  return RT_OK;
}

static rt_status set_out(rt_kctx *k, int j, rt_dtype dt, int rank, const int64_t *dims) {
  int64_t numel;
  if (!rt__checked_numel(dims, rank, &numel))
    return kerr(k, RT_ERR_SHAPE, "output %d is too large or has a negative dimension", j);
  rt__set_shape(&k->out[j], dt, rank, dims);
  return RT_OK;
}

/* JS Math.round: halves go towards +infinity. */
static double js_round(double x) {
  double r = floor(x);
  return x - r >= 0.5 ? r + 1.0 : r;
}

static int64_t clamp_i64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

static double numel_flops(const rt_kctx *k) { return (double)rt_tensor_numel(&k->out[0]); }

/* ---- ResizeBilinear / ResizeNearestNeighbor ---- */

typedef struct rt_resize_params {
  bool align_corners, half_pixel_centers;
} rt_resize_params;

static rt_status resize_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  rt_resize_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->align_corners = rt__attr_bool(n, "align_corners", false);
  p->half_pixel_centers = rt__attr_bool(n, "half_pixel_centers", false);
  if (p->align_corners && p->half_pixel_centers)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): half_pixel_centers requires align_corners to be false",
                      n->name, n->op_name);
  n->params = p;
  return RT_OK;
}

/* Images are [b, h, w, c] or [h, w, c]; the size input gives the new h and w. */
typedef struct rt_resize_geom {
  int64_t b, h, w, c, nh, nw;
} rt_resize_geom;

static void resize_geom(const rt_tensor *x, const rt_tensor *y, rt_resize_geom *gm) {
  int o = x->rank == 4 ? 1 : 0;
  gm->b = o ? x->dims[0] : 1;
  gm->h = x->dims[o];
  gm->w = x->dims[o + 1];
  gm->c = x->dims[o + 2];
  gm->nh = y->dims[o];
  gm->nw = y->dims[o + 1];
}

/* Column tables live in scratch: per output column, both source columns and the fraction. */
typedef struct rt_lerp {
  int64_t lo, hi;
  double frac;
} rt_lerp;

static rt_status resize_shape_common(rt_kctx *k, bool bilinear) {
  const rt_resize_params *p = k->params;
  if (!p)
    return kerr(k, RT_ERR_STATE, "not prepared");
  const rt_tensor *x = &k->in[0];
  if (x->rank != 3 && x->rank != 4)
    return kerr(k, RT_ERR_SHAPE, "images must be rank 3 or 4, got rank %d", x->rank);
  if (!is_num(x->dtype))
    return kerr(k, RT_ERR_INVALID_ARG, "images must be float32 or int32, got %s",
                rt_dtype_name(x->dtype));
  int64_t size[2];
  int n;
  rt_status st = int_list(k, 1, "size", 2, 2, size, &n);
  if (st != RT_OK)
    return st;
  if (size[0] < 0 || size[1] < 0)
    return kerr(k, RT_ERR_INVALID_ARG, "size must be non-negative, got [%lld, %lld]",
                (long long)size[0], (long long)size[1]);
  int64_t dims[4];
  int o = x->rank == 4 ? 1 : 0;
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[o] = size[0];
  dims[o + 1] = size[1];
  if ((x->dims[o] == 0 || x->dims[o + 1] == 0) && size[0] * size[1] > 0 &&
      (o ? x->dims[0] : 1) * x->dims[o + 2] > 0)
    return kerr(k, RT_ERR_INVALID_ARG, "cannot resize an empty image to [%lld, %lld]",
                (long long)size[0], (long long)size[1]);
  st = set_out(k, 0, bilinear ? RT_DT_F32 : x->dtype, x->rank, dims);
  if (st != RT_OK)
    return st;
  k->scratch_bytes = (size_t)size[1] * (bilinear ? sizeof(rt_lerp) : sizeof(int64_t));
  return RT_OK;
}

static rt_status resize_bilinear_shape(rt_kctx *k) { return resize_shape_common(k, true); }
static rt_status resize_nearest_shape(rt_kctx *k) { return resize_shape_common(k, false); }

/* The ratio TF.js uses: align_corners maps corner pixel centres onto each other. */
static double resize_ratio(const rt_resize_params *p, int64_t in, int64_t out) {
  bool ac = p->align_corners && out > 1;
  return (double)(ac ? in - 1 : in) / (double)(ac ? out - 1 : out);
}

static rt_lerp bilinear_src(const rt_resize_params *p, double ratio, int64_t i, int64_t in) {
  double src = p->half_pixel_centers ? ratio * ((double)i + 0.5) - 0.5 : ratio * (double)i;
  double lo = floor(src);
  if (lo < 0)
    lo = 0;
  double hi = ceil(src);
  if (hi > (double)(in - 1))
    hi = (double)(in - 1);
  /* frac uses the unclamped-above floor, as TF.js does; indices are clamped for safety only. */
  rt_lerp l = {clamp_i64((int64_t)lo, 0, in - 1), clamp_i64((int64_t)hi, 0, in - 1), src - lo};
  return l;
}

/* Rows of output pixels are what threads share: AR-style cost of ~0.3 ns per element and
 * a pool wake-up of 5-10 us make anything under ~20 us of work stay on one thread. */


/* One output pixel's channels, in double exactly as TF.js: horizontal lerps of the top and
 * bottom rows, then the vertical one, rounded to float32 once. Restrict-qualified and blocked
 * by 8 so gcc vectorizes it over channels. */
static inline void lerp_px_f(const float *restrict tl, const float *restrict tr, const float *restrict bl,
                      const float *restrict br, double cf, double rf, float *restrict o,
                      int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) {
      const double t = tl[i + j] + ((double)tr[i + j] - tl[i + j]) * cf;
      const double b = bl[i + j] + ((double)br[i + j] - bl[i + j]) * cf;
      o[i + j] = (float)(t + (b - t) * rf);
    }
  for (; i < n; i++) {
    const double t = tl[i] + ((double)tr[i] - tl[i]) * cf;
    const double b = bl[i] + ((double)br[i] - bl[i]) * cf;
    o[i] = (float)(t + (b - t) * rf);
  }
}

static void lerp_px_i(const int32_t *restrict tl, const int32_t *restrict tr,
                      const int32_t *restrict bl, const int32_t *restrict br, double cf,
                      double rf, float *restrict o, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const double t = tl[i] + ((double)tr[i] - tl[i]) * cf;
    const double b = bl[i] + ((double)br[i] - bl[i]) * cf;
    o[i] = (float)(t + (b - t) * rf);
  }
}

typedef struct rt_resize_job {
  const rt_resize_params *p;
  const rt_tensor *x;
  float *out;
  const rt_lerp *cols;
  rt_resize_geom gm;
  double rr;
} rt_resize_job;

static void bilinear_rows(void *ctx, int64_t b0, int64_t e0) {
  const rt_resize_job jl = *(const rt_resize_job *)ctx, *j = &jl;
  const rt_resize_geom *gm = &j->gm;
  const int64_t C = gm->c, rs = gm->w * C, bs = gm->h * rs;
  for (int64_t it = b0; it < e0; it++) {
    const int64_t b = it / gm->nh, r = it % gm->nh;
    const rt_lerp row = bilinear_src(j->p, j->rr, r, gm->h);
    const int64_t top = b * bs + row.lo * rs, bot = b * bs + row.hi * rs;
    float *out = j->out + it * gm->nw * C;
    for (int64_t c = 0; c < gm->nw; c++, out += C) {
      const int64_t l = j->cols[c].lo * C, h = j->cols[c].hi * C;
      if (j->x->dtype == RT_DT_F32) {
        const float *xv = j->x->data;
        lerp_px_f(xv + top + l, xv + top + h, xv + bot + l, xv + bot + h, j->cols[c].frac,
                  row.frac, out, C);
      } else {
        const int32_t *xv = j->x->data;
        lerp_px_i(xv + top + l, xv + top + h, xv + bot + l, xv + bot + h, j->cols[c].frac,
                  row.frac, out, C);
      }
    }
  }
}

static rt_status resize_bilinear_run(rt_kctx *k) {
  const rt_resize_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  rt_resize_job j = {.p = p, .x = x, .out = k->out[0].data, .cols = k->scratch};
  resize_geom(x, &k->out[0], &j.gm);
  if (rt_tensor_numel(&k->out[0]) == 0)
    return RT_OK;
  rt_lerp *cols = k->scratch;
  j.rr = resize_ratio(p, j.gm.h, j.gm.nh);
  double cr = resize_ratio(p, j.gm.w, j.gm.nw);
  for (int64_t c = 0; c < j.gm.nw; c++)
    cols[c] = bilinear_src(p, cr, c, j.gm.w);
  rt__parallel_for(k->tp, j.gm.b * j.gm.nh, rt__par_grain(0.3 * (double)(j.gm.nw * j.gm.c) + 20.0),
                   bilinear_rows, &j);
  return RT_OK;
}

/* Nearest source index: TF.js floors (or rounds with align_corners) the scaled centre, with
 * no -0.5 shift even for half_pixel_centers. */
static int64_t nearest_src(const rt_resize_params *p, double ratio, int64_t i, int64_t in) {
  double src = p->half_pixel_centers ? ratio * ((double)i + 0.5) : ratio * (double)i;
  double v = p->align_corners ? js_round(src) : floor(src);
  if (v > (double)(in - 1))
    v = (double)(in - 1);
  if (v < 0)
    v = 0;
  return (int64_t)v;
}

typedef struct rt_nearest_job {
  const rt_resize_params *p;
  const uint32_t *x; /* float32 and int32 are both 4-byte copies */
  uint32_t *out;
  const int64_t *cols; /* source column offsets, elements */
  rt_resize_geom gm;
  double rr;
} rt_nearest_job;

static void nearest_rows(void *ctx, int64_t b0, int64_t e0) {
  const rt_nearest_job jl = *(const rt_nearest_job *)ctx, *j = &jl;
  const rt_resize_geom *gm = &j->gm;
  const int64_t C = gm->c, rs = gm->w * C, bs = gm->h * rs;
  for (int64_t it = b0; it < e0; it++) {
    const int64_t b = it / gm->nh, r = it % gm->nh;
    const uint32_t *src = j->x + b * bs + nearest_src(j->p, j->rr, r, gm->h) * rs;
    uint32_t *out = j->out + it * gm->nw * C;
    for (int64_t c = 0; c < gm->nw; c++, out += C)
      memcpy(out, src + j->cols[c], (size_t)C * sizeof *out);
  }
}

static rt_status resize_nearest_run(rt_kctx *k) {
  const rt_resize_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  rt_nearest_job j = {.p = p, .x = x->data, .out = k->out[0].data, .cols = k->scratch};
  resize_geom(x, &k->out[0], &j.gm);
  if (rt_tensor_numel(&k->out[0]) == 0)
    return RT_OK;
  int64_t *cols = k->scratch;
  j.rr = resize_ratio(p, j.gm.h, j.gm.nh);
  double cr = resize_ratio(p, j.gm.w, j.gm.nw);
  for (int64_t c = 0; c < j.gm.nw; c++)
    cols[c] = nearest_src(p, cr, c, j.gm.w) * j.gm.c;
  rt__parallel_for(k->tp, j.gm.b * j.gm.nh, rt__par_grain(0.1 * (double)(j.gm.nw * j.gm.c) + 20.0),
                   nearest_rows, &j);
  return RT_OK;
}

/* ---- CropAndResize ---- */

typedef struct rt_crop_params {
  bool nearest;
  float extrapolation;
} rt_crop_params;

static rt_status crop_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  rt_crop_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  const char *m = rt__attr_str(n, "method", "bilinear");
  if (!strcmp(m, "nearest"))
    p->nearest = true;
  else if (strcmp(m, "bilinear"))
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): method must be \"bilinear\" or \"nearest\", got \"%s\"",
                      n->name, n->op_name, m);
  p->extrapolation = rt__attr_float(n, "extrapolation_value", 0.0f);
  n->params = p;
  return RT_OK;
}

static rt_status crop_shape(rt_kctx *k) {
  if (!k->params)
    return kerr(k, RT_ERR_STATE, "not prepared");
  const rt_tensor *im = &k->in[0], *bx = &k->in[1], *bi = &k->in[2];
  if (im->rank != 4)
    return kerr(k, RT_ERR_SHAPE, "image must be rank 4, got rank %d", im->rank);
  if (!is_num(im->dtype))
    return kerr(k, RT_ERR_INVALID_ARG, "image must be float32 or int32, got %s",
                rt_dtype_name(im->dtype));
  if (bx->rank != 2 || bx->dims[1] != 4 || bx->dtype != RT_DT_F32)
    return kerr(k, RT_ERR_SHAPE, "boxes must be float32 [num_boxes, 4]");
  if (bi->rank != 1 || bi->dims[0] != bx->dims[0] || bi->dtype != RT_DT_I32)
    return kerr(k, RT_ERR_SHAPE, "box_ind must be int32 [%lld]", (long long)bx->dims[0]);
  int64_t cs[2];
  int n;
  rt_status st = int_list(k, 3, "crop_size", 2, 2, cs, &n);
  if (st != RT_OK)
    return st;
  if (cs[0] < 1 || cs[1] < 1)
    return kerr(k, RT_ERR_INVALID_ARG, "crop_size must be at least [1, 1], got [%lld, %lld]",
                (long long)cs[0], (long long)cs[1]);
  int64_t dims[4] = {bx->dims[0], cs[0], cs[1], im->dims[3]};
  return set_out(k, 0, RT_DT_F32, 4, dims);
}

static rt_status crop_run(rt_kctx *k) {
  const rt_crop_params *p = k->params;
  const rt_tensor *im = &k->in[0];
  const float *boxes = k->in[1].data;
  const int32_t *bind = k->in[2].data;
  const int64_t nb = k->out[0].dims[0], ch = k->out[0].dims[1], cw = k->out[0].dims[2];
  const int64_t B = im->dims[0], H = im->dims[1], W = im->dims[2], C = im->dims[3];
  float *out = k->out[0].data;
  const float ext = p->extrapolation;
  for (int64_t b = 0; b < nb; b++)
    if (bind[b] < 0)
      return kerr(k, RT_ERR_INVALID_ARG, "box_ind[%lld] = %d is negative", (long long)b, bind[b]);
  for (int64_t b = 0; b < nb; b++) {
    float *ob = out + b * ch * cw * C;
    const double y1 = boxes[b * 4], x1 = boxes[b * 4 + 1];
    const double y2 = boxes[b * 4 + 2], x2 = boxes[b * 4 + 3];
    const int64_t bi = bind[b];
    if (bi >= B) { /* TF.js leaves such crops zero */
      memset(ob, 0, (size_t)(ch * cw * C) * sizeof *ob);
      continue;
    }
    const double hs = ch > 1 ? (y2 - y1) * (double)(H - 1) / (double)(ch - 1) : 0;
    const double ws = cw > 1 ? (x2 - x1) * (double)(W - 1) / (double)(cw - 1) : 0;
    for (int64_t y = 0; y < ch; y++) {
      const double yi =
          ch > 1 ? y1 * (double)(H - 1) + (double)y * hs : 0.5 * (y1 + y2) * (double)(H - 1);
      float *orow = ob + y * cw * C;
      if (yi < 0 || yi > (double)(H - 1)) {
        for (int64_t i = 0; i < cw * C; i++)
          orow[i] = ext;
        continue;
      }
      for (int64_t x = 0; x < cw; x++) {
        const double xi =
            cw > 1 ? x1 * (double)(W - 1) + (double)x * ws : 0.5 * (x1 + x2) * (double)(W - 1);
        float *o = orow + x * C;
        if (xi < 0 || xi > (double)(W - 1)) {
          for (int64_t c = 0; c < C; c++)
            o[c] = ext;
          continue;
        }
        if (isnan(xi) || isnan(yi)) { /* TF.js reads `undefined` there: NaN */
          for (int64_t c = 0; c < C; c++)
            o[c] = NAN;
          continue;
        }
        const int64_t base = bi * H * W * C;
        if (p->nearest) {
          const int64_t off = base + ((int64_t)js_round(yi) * W + (int64_t)js_round(xi)) * C;
          for (int64_t c = 0; c < C; c++)
            o[c] = (float)get_num(im, off + c);
          continue;
        }
        const int64_t t = (int64_t)floor(yi), bo = (int64_t)ceil(yi);
        const int64_t l = (int64_t)floor(xi), r = (int64_t)ceil(xi);
        const double yl = yi - (double)t, xl = xi - (double)l;
        const int64_t tl = base + (t * W + l) * C, tr = base + (t * W + r) * C;
        const int64_t bl = base + (bo * W + l) * C, br = base + (bo * W + r) * C;
        for (int64_t c = 0; c < C; c++) {
          double vtl = get_num(im, tl + c), vtr = get_num(im, tr + c);
          double vbl = get_num(im, bl + c), vbr = get_num(im, br + c);
          double top = vtl + (vtr - vtl) * xl, bot = vbl + (vbr - vbl) * xl;
          o[c] = (float)(top + (bot - top) * yl);
        }
      }
    }
  }
  return RT_OK;
}

/* ---- DepthToSpace / SpaceToDepth (NHWC, TF's DCR order) ---- */

typedef struct rt_block_params {
  int64_t block;
} rt_block_params;

static rt_status block_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  rt_block_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->block = rt__attr_int(n, "block_size", 0);
  if (p->block < 2 || p->block > (1 << 20))
    return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): block_size must be >= 2, got %lld",
                      n->name, n->op_name, (long long)p->block);
  const char *fmt = rt__attr_str(n, "data_format", "NHWC");
  if (strcmp(fmt, "NHWC"))
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s' (%s): data_format \"%s\" is not supported (only NHWC)", n->name,
                      n->op_name, fmt);
  n->params = p;
  return RT_OK;
}

static rt_status d2s_shape(rt_kctx *k) {
  const rt_block_params *p = k->params;
  if (!p)
    return kerr(k, RT_ERR_STATE, "not prepared");
  const rt_tensor *x = &k->in[0];
  if (x->rank != 4 || !rt_dtype_size(x->dtype))
    return kerr(k, RT_ERR_SHAPE, "input must be a rank-4 NHWC tensor, got rank %d", x->rank);
  const int64_t bs = p->block; /* <= 2^20 (prepare), so bs * bs cannot overflow */
  if (x->dims[3] % (bs * bs))
    return kerr(k, RT_ERR_SHAPE, "depth %lld is not divisible by block_size^2 = %lld",
                (long long)x->dims[3], (long long)(bs * bs));
  int64_t dims[4] = {x->dims[0], 0, 0, x->dims[3] / (bs * bs)};
  /* An empty input may have a 2^40 dim: checked products, so the output check sees them. */
  if (!rt__checked_mul(x->dims[1], bs, &dims[1]) || !rt__checked_mul(x->dims[2], bs, &dims[2]))
    return kerr(k, RT_ERR_SHAPE, "output spatial dims overflow");
  return set_out(k, 0, x->dtype, 4, dims);
}

/* Output rows (b, h) are what threads share. */
static void d2s_rows(void *ctx, int64_t b0, int64_t e0) {
  const rt_kctx *k = ctx;
  const rt_block_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  const size_t es = rt_dtype_size(x->dtype);
  const int64_t bs = p->block, H = x->dims[1], W = x->dims[2], C = x->dims[3];
  const int64_t oh = H * bs, ow = W * bs, oc = C / (bs * bs);
  const char *in = x->data;
  for (int64_t it = b0; it < e0; it++) {
    const int64_t b = it / oh, h = it % oh;
    char *out = (char *)k->out[0].data + (size_t)(it * ow * oc) * es;
    const char *src = in + (size_t)(((b * H + h / bs) * W) * C + (h % bs) * bs * oc) * es;
    for (int64_t w = 0; w < W; w++, src += (size_t)C * es) {
      memcpy(out, src, (size_t)(bs * oc) * es); /* the block's row h % bs is contiguous */
      out += (size_t)(bs * oc) * es;
    }
  }
}

static rt_status d2s_run(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  const int64_t rows = x->dims[0] * x->dims[1] * ((const rt_block_params *)k->params)->block;
  if (rt_tensor_numel(x) == 0)
    return RT_OK;
  rt__parallel_for(k->tp, rows, rt__par_grain(0.1 * (double)rt_tensor_numel(x) / (double)rows + 20.0),
                   d2s_rows, k);
  return RT_OK;
}

static rt_status s2d_shape(rt_kctx *k) {
  const rt_block_params *p = k->params;
  if (!p)
    return kerr(k, RT_ERR_STATE, "not prepared");
  const rt_tensor *x = &k->in[0];
  if (x->rank != 4 || !rt_dtype_size(x->dtype))
    return kerr(k, RT_ERR_SHAPE, "input must be a rank-4 NHWC tensor, got rank %d", x->rank);
  const int64_t bs = p->block;
  if (x->dims[1] % bs || x->dims[2] % bs)
    return kerr(k, RT_ERR_SHAPE, "height %lld and width %lld must be divisible by block_size %lld",
                (long long)x->dims[1], (long long)x->dims[2], (long long)bs);
  int64_t dims[4] = {x->dims[0], x->dims[1] / bs, x->dims[2] / bs, 0};
  if (!rt__checked_mul(x->dims[3], bs * bs, &dims[3]))
    return kerr(k, RT_ERR_SHAPE, "output depth overflows");
  return set_out(k, 0, x->dtype, 4, dims);
}

static void s2d_rows(void *ctx, int64_t b0, int64_t e0) {
  const rt_kctx *k = ctx;
  const rt_block_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  const size_t es = rt_dtype_size(x->dtype);
  const int64_t bs = p->block, H = x->dims[1], W = x->dims[2], C = x->dims[3];
  const int64_t oh = H / bs, ow = W / bs;
  const char *in = x->data;
  for (int64_t it = b0; it < e0; it++) {
    const int64_t b = it / oh, h = it % oh;
    char *out = (char *)k->out[0].data + (size_t)(it * ow * bs * bs * C) * es;
    for (int64_t w = 0; w < ow; w++)
      for (int64_t i = 0; i < bs; i++)
        for (int64_t j = 0; j < bs; j++) {
          int64_t src = ((b * H + h * bs + i) * W + w * bs + j) * C;
          memcpy(out, in + (size_t)src * es, (size_t)C * es);
          out += (size_t)C * es;
        }
  }
}

static rt_status s2d_run(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  const int64_t rows = x->dims[0] * (x->dims[1] / ((const rt_block_params *)k->params)->block);
  if (rt_tensor_numel(x) == 0)
    return RT_OK;
  rt__parallel_for(k->tp, rows, rt__par_grain(0.1 * (double)rt_tensor_numel(x) / (double)rows + 20.0),
                   s2d_rows, k);
  return RT_OK;
}

/* ---- SpaceToBatchND / BatchToSpaceND ---- */

/* block_shape [m] and paddings/crops [m, 2], both values needed. */
typedef struct rt_s2b_geom {
  int m;
  int64_t block[RT_MAX_RANK], pad[RT_MAX_RANK][2];
  int64_t prod, inner; /* product of block_shape; elements per spatial position */
} rt_s2b_geom;

static rt_status s2b_read(rt_kctx *k, const char *what, rt_s2b_geom *gm) {
  const rt_tensor *x = &k->in[0], *pt = &k->in[2];
  if (!rt_dtype_size(x->dtype))
    return kerr(k, RT_ERR_INVALID_ARG, "input has no element type");
  int64_t vals[2 * RT_MAX_RANK];
  int n;
  rt_status st = int_list(k, 1, "block_shape", 1, RT_MAX_RANK, vals, &n);
  if (st != RT_OK)
    return st;
  if (k->in[1].rank != 1)
    return kerr(k, RT_ERR_SHAPE, "block_shape must be rank 1, got rank %d", k->in[1].rank);
  gm->m = n;
  if (x->rank < 1 + n)
    return kerr(k, RT_ERR_SHAPE, "input rank %d must be > block_shape length %d", x->rank, n);
  gm->prod = 1;
  for (int i = 0; i < n; i++) {
    gm->block[i] = vals[i];
    if (vals[i] < 1)
      return kerr(k, RT_ERR_INVALID_ARG, "block_shape[%d] = %lld must be >= 1", i,
                  (long long)vals[i]);
    if (gm->prod > INT32_MAX / vals[i])
      return kerr(k, RT_ERR_INVALID_ARG, "block_shape product is too large");
    gm->prod *= vals[i];
  }
  if (pt->rank != 2 || pt->dims[0] != n || pt->dims[1] != 2)
    return kerr(k, RT_ERR_SHAPE, "%s must have shape [%d, 2]", what, n);
  int n2;
  st = int_list(k, 2, what, 2 * n, 2 * n, vals, &n2);
  if (st != RT_OK)
    return st;
  for (int i = 0; i < n; i++) {
    gm->pad[i][0] = vals[2 * i];
    gm->pad[i][1] = vals[2 * i + 1];
    if (vals[2 * i] < 0 || vals[2 * i + 1] < 0)
      return kerr(k, RT_ERR_INVALID_ARG, "%s[%d] = [%lld, %lld] must be non-negative", what, i,
                  (long long)vals[2 * i], (long long)vals[2 * i + 1]);
  }
  gm->inner = rt__dims_prod(x->dims, 1 + n, x->rank); /* x may be [0, 2^40, ...] */
  return RT_OK;
}

static rt_status s2b_shape(rt_kctx *k) {
  rt_s2b_geom gm;
  rt_status st = s2b_read(k, "paddings", &gm);
  if (st != RT_OK)
    return st;
  const rt_tensor *x = &k->in[0];
  int64_t dims[RT_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  if (!rt__checked_mul(x->dims[0], gm.prod, &dims[0]))
    return kerr(k, RT_ERR_SHAPE, "output batch overflows");
  for (int i = 0; i < gm.m; i++) {
    int64_t padded = x->dims[1 + i] + gm.pad[i][0] + gm.pad[i][1];
    if (padded % gm.block[i])
      return kerr(k, RT_ERR_SHAPE,
                  "padded spatial dim %d (%lld) is not divisible by block_shape[%d] = %lld", i,
                  (long long)padded, i, (long long)gm.block[i]);
    dims[1 + i] = padded / gm.block[i];
  }
  return set_out(k, 0, x->dtype, x->rank, dims);
}

/* Output batch ob = (block offset, row-major over block_shape) * batch + b; output spatial
 * position s maps to padded input position s * block + offset. */
static rt_status s2b_run(rt_kctx *k) {
  rt_s2b_geom gm;
  rt_status st = s2b_read(k, "paddings", &gm);
  if (st != RT_OK)
    return st;
  const rt_tensor *x = &k->in[0], *y = &k->out[0];
  const size_t es = rt_dtype_size(x->dtype), chunk = (size_t)gm.inner * es;
  const int m = gm.m;
  const int64_t B = x->dims[0];
  int64_t in_stride[RT_MAX_RANK]; /* strides of the spatial dims of x, in elements */
  /* Products that cannot overflow: x may be empty with huge dims (then nothing is read). */
  for (int i = m - 1; i >= 0; i--)
    in_stride[i] = rt__dims_prod(x->dims, 2 + i, x->rank);
  const int64_t in_batch = rt__dims_prod(x->dims, 1, x->rank);
  const int64_t positions = rt__dims_prod(y->dims, 1, 1 + m);
  const char *in = x->data;
  char *out = y->data;
  for (int64_t ob = 0; ob < y->dims[0]; ob++) {
    int64_t b = ob % B, blk = ob / B, off[RT_MAX_RANK];
    for (int i = m - 1; i >= 0; i--) {
      off[i] = blk % gm.block[i];
      blk /= gm.block[i];
    }
    int64_t pos[RT_MAX_RANK] = {0};
    for (int64_t q = 0; q < positions; q++) {
      int64_t src = b * in_batch;
      bool inside = true;
      for (int i = 0; i < m && inside; i++) {
        int64_t c = pos[i] * gm.block[i] + off[i] - gm.pad[i][0];
        inside = c >= 0 && c < x->dims[1 + i];
        src += c * in_stride[i];
      }
      if (inside)
        memcpy(out, in + (size_t)src * es, chunk);
      else
        memset(out, 0, chunk);
      out += chunk;
      for (int i = m - 1; i >= 0 && ++pos[i] == y->dims[1 + i]; i--)
        pos[i] = 0;
    }
  }
  return RT_OK;
}

static rt_status b2s_shape(rt_kctx *k) {
  rt_s2b_geom gm;
  rt_status st = s2b_read(k, "crops", &gm);
  if (st != RT_OK)
    return st;
  const rt_tensor *x = &k->in[0];
  if (x->dims[0] % gm.prod)
    return kerr(k, RT_ERR_SHAPE, "batch %lld is not divisible by the block_shape product %lld",
                (long long)x->dims[0], (long long)gm.prod);
  int64_t dims[RT_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[0] = x->dims[0] / gm.prod;
  for (int i = 0; i < gm.m; i++) {
    int64_t full;
    if (!rt__checked_mul(x->dims[1 + i], gm.block[i], &full))
      return kerr(k, RT_ERR_SHAPE, "spatial dim %d times block_shape[%d] overflows", i, i);
    if (gm.pad[i][0] + gm.pad[i][1] > full)
      return kerr(k, RT_ERR_SHAPE, "crops[%d] = [%lld, %lld] exceed the dimension %lld", i,
                  (long long)gm.pad[i][0], (long long)gm.pad[i][1], (long long)full);
    dims[1 + i] = full - gm.pad[i][0] - gm.pad[i][1];
  }
  return set_out(k, 0, x->dtype, x->rank, dims);
}

/* Output position q (after crops) is uncropped position t = q + crop_start; it comes from
 * input spatial t / block at block offset t % block, in input batch offset * batch' + b. */
static rt_status b2s_run(rt_kctx *k) {
  rt_s2b_geom gm;
  rt_status st = s2b_read(k, "crops", &gm);
  if (st != RT_OK)
    return st;
  const rt_tensor *x = &k->in[0], *y = &k->out[0];
  const size_t es = rt_dtype_size(x->dtype), chunk = (size_t)gm.inner * es;
  const int m = gm.m;
  const int64_t ob_n = y->dims[0];
  int64_t in_stride[RT_MAX_RANK];
  /* Products that cannot overflow: x may be empty with huge dims (then nothing is read). */
  for (int i = m - 1; i >= 0; i--)
    in_stride[i] = rt__dims_prod(x->dims, 2 + i, x->rank);
  const int64_t in_batch = rt__dims_prod(x->dims, 1, x->rank);
  const int64_t positions = rt__dims_prod(y->dims, 1, 1 + m);
  const char *in = x->data;
  char *out = y->data;
  for (int64_t b = 0; b < ob_n; b++) {
    int64_t pos[RT_MAX_RANK] = {0};
    for (int64_t q = 0; q < positions; q++) {
      int64_t blk = 0, src = 0;
      for (int i = 0; i < m; i++) {
        int64_t t = pos[i] + gm.pad[i][0];
        blk = blk * gm.block[i] + t % gm.block[i];
        src += (t / gm.block[i]) * in_stride[i];
      }
      src += (blk * ob_n + b) * in_batch;
      memcpy(out, in + (size_t)src * es, chunk);
      out += chunk;
      for (int i = m - 1; i >= 0 && ++pos[i] == y->dims[1 + i]; i--)
        pos[i] = 0;
    }
  }
  return RT_OK;
}

/* ---- SparseToDense ---- */

typedef struct rt_sparse_params {
  bool validate_indices;
} rt_sparse_params;

static rt_status sparse_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  rt_sparse_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->validate_indices = rt__attr_bool(n, "validate_indices", true);
  n->params = p;
  return RT_OK;
}

/* TF.js only rejects an index whose flattened offset falls outside the output; with
 * validate_indices (TF's default) every coordinate must also be within its dimension. */
static rt_status sparse_check_indices(const rt_kctx *k, const int64_t *shape, int nd) {
  const rt_sparse_params *p = k->params;
  const rt_tensor *ix = &k->in[0];
  const int32_t *iv = ix->data;
  int64_t total = 1, strides[RT_MAX_RANK];
  for (int j = nd - 1; j >= 0; j--) {
    strides[j] = total;
    total *= shape[j];
  }
  if (total == 0)
    return RT_OK; /* TF.js returns the empty output without looking at the indices */
  const int64_t nu = ix->rank > 0 ? ix->dims[0] : 1;
  for (int64_t i = 0; i < nu; i++) {
    double flat = 0; /* a JS number, as in TF.js; cannot overflow */
    bool dims_ok = true;
    for (int j = 0; j < nd; j++) {
      int64_t v = iv[i * nd + j];
      dims_ok = dims_ok && v >= 0 && v < shape[j];
      flat += (double)v * (double)strides[j];
    }
    if (flat < 0 || flat >= (double)total || (p->validate_indices && !dims_ok)) {
      char at[128] = "[", shp[128] = "[";
      size_t a = 0, b = 0;
      for (int j = 0; j < nd && a < sizeof at; j++)
        a += (size_t)snprintf(at + a, sizeof at - a, j ? ",%d" : "[%d", iv[i * nd + j]);
      for (int j = 0; j < nd && b < sizeof shp; j++)
        b += (size_t)snprintf(shp + b, sizeof shp - b, j ? ",%lld" : "[%lld", (long long)shape[j]);
      return kerr(k, RT_ERR_INVALID_ARG,
                  "sparse_indices row %lld %s] is out of bounds for the output shape %s]",
                  (long long)i, at, shp);
    }
  }
  return RT_OK;
}

static rt_status sparse_shape(rt_kctx *k) {
  if (!k->params)
    return kerr(k, RT_ERR_STATE, "not prepared");
  const rt_tensor *ix = &k->in[0], *vals = &k->in[2], *def = &k->in[3];
  if (ix->dtype != RT_DT_I32)
    return kerr(k, RT_ERR_INVALID_ARG, "sparse_indices must be int32, got %s",
                rt_dtype_name(ix->dtype));
  if (ix->rank > 2)
    return kerr(k, RT_ERR_SHAPE, "sparse_indices must be a scalar, vector or matrix, got rank %d",
                ix->rank);
  const int64_t num_elems = ix->rank > 0 ? ix->dims[0] : 1;
  const int64_t num_dims = ix->rank > 1 ? ix->dims[1] : 1;
  if (!rt_dtype_size(vals->dtype) || vals->dtype != def->dtype)
    return kerr(k, RT_ERR_INVALID_ARG,
                "sparse_values (%s) and default_value (%s) must share a type",
                rt_dtype_name(vals->dtype), rt_dtype_name(def->dtype));
  if (!(vals->rank == 0 || (vals->rank == 1 && vals->dims[0] == num_elems)))
    return kerr(k, RT_ERR_SHAPE, "sparse_values must be a scalar or have %lld elements",
                (long long)num_elems);
  if (rt_tensor_numel(def) != 1)
    return kerr(k, RT_ERR_SHAPE, "default_value must be a scalar");
  int64_t shape[RT_MAX_RANK];
  int n;
  if (k->in[1].rank > 1)
    return kerr(k, RT_ERR_SHAPE, "output_shape must be rank 0 or 1, got rank %d", k->in[1].rank);
  rt_status st = int_list(k, 1, "output_shape", 0, RT_MAX_RANK, shape, &n);
  if (st != RT_OK)
    return st;
  if (n != num_dims)
    return kerr(k, RT_ERR_SHAPE, "output_shape has %d elements, sparse_indices imply %lld", n,
                (long long)num_dims);
  for (int j = 0; j < n; j++)
    if (shape[j] < 0)
      return kerr(k, RT_ERR_INVALID_ARG, "output_shape[%d] = %lld is negative", j,
                  (long long)shape[j]);
  st = set_out(k, 0, vals->dtype, n, shape);
  if (st == RT_OK && ix->data)
    st = sparse_check_indices(k, shape, n);
  return st;
}

static rt_status sparse_run(rt_kctx *k) {
  const rt_tensor *ix = &k->in[0], *vals = &k->in[2], *def = &k->in[3], *y = &k->out[0];
  const int nd = y->rank;
  rt_status st = sparse_check_indices(k, y->dims, nd);
  if (st != RT_OK)
    return st;
  const int64_t total = rt_tensor_numel(y);
  if (total == 0)
    return RT_OK;
  const size_t es = rt_dtype_size(y->dtype);
  char *out = y->data;
  for (int64_t i = 0; i < total; i++)
    memcpy(out + (size_t)i * es, def->data, es);
  int64_t strides[RT_MAX_RANK], s = 1;
  for (int j = nd - 1; j >= 0; j--) {
    strides[j] = s;
    s *= y->dims[j];
  }
  const int32_t *iv = ix->data;
  const int64_t nu = ix->rank > 0 ? ix->dims[0] : 1;
  for (int64_t i = 0; i < nu; i++) {
    double fl = 0; /* checked in range by sparse_check_indices */
    for (int j = 0; j < nd; j++)
      fl += (double)iv[i * nd + j] * (double)strides[j];
    const int64_t flat = (int64_t)fl;
    const char *v = (const char *)vals->data + (vals->rank == 0 ? 0 : (size_t)i * es);
    memcpy(out + (size_t)flat * es, v, es); /* duplicates: the last write wins, as in TF.js */
  }
  return RT_OK;
}

/* ---- TopKV2 ---- */

typedef struct rt_topk_params {
  bool sorted;
} rt_topk_params;

static rt_status topk_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  rt_topk_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  p->sorted = rt__attr_bool(n, "sorted", true);
  n->params = p;
  return RT_OK;
}

typedef struct rt_vi {
  double v;
  int64_t i;
} rt_vi;

/* TF.js's comparePair: negative when a ranks before b. NaN (from NaN or inf - inf) compares
 * neither way, exactly as in JS. */
static double vi_cmp(const rt_vi *a, const rt_vi *b) {
  double d = b->v - a->v;
  return d == 0 ? (double)(a->i - b->i) : d;
}

static void vi_swap(rt_vi *a, int64_t i, int64_t j) {
  rt_vi t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/* Port of TF.js's Floyd–Rivest select: afterwards a[0..k) hold the top k in the same (unsorted)
 * order TF.js leaves them, which is what sorted=false returns. */
static void vi_select(rt_vi *a, int64_t k, int64_t left, int64_t right) {
  while (right > left) {
    if (right - left > 600) {
      const double n = (double)(right - left + 1), i = (double)(k - left + 1);
      const double z = log(n), s = 0.5 * exp(2 * z / 3);
      const double sgn = i - n / 2 > 0 ? 1 : i - n / 2 < 0 ? -1 : 0;
      const double sd = 0.5 * sqrt(z * s * (n - s) / n) * sgn;
      double nl = floor((double)k - i * s / n + sd), nr = floor((double)k + (n - i) * s / n + sd);
      int64_t new_left = nl > (double)left ? (int64_t)nl : left;
      int64_t new_right = nr < (double)right ? (int64_t)nr : right;
      vi_select(a, k, new_left, new_right);
    }
    const rt_vi t = a[k];
    int64_t i = left, j = right;
    vi_swap(a, left, k);
    if (vi_cmp(&a[right], &t) > 0)
      vi_swap(a, left, right);
    while (i < j) {
      vi_swap(a, i, j);
      i++;
      j--;
      while (vi_cmp(&a[i], &t) < 0)
        i++;
      while (vi_cmp(&a[j], &t) > 0)
        j--;
    }
    if (vi_cmp(&a[left], &t) == 0) {
      vi_swap(a, left, j);
    } else {
      j++;
      vi_swap(a, j, right);
    }
    if (j <= k)
      left = j + 1;
    if (k <= j)
      right = j - 1;
  }
}

/* Total order for the final sort: larger value first, then lower index (NaN last). */
static bool vi_before(const rt_vi *a, const rt_vi *b) {
  if (a->v > b->v)
    return true;
  if (a->v < b->v)
    return false;
  bool an = isnan(a->v), bn = isnan(b->v);
  if (an != bn)
    return bn;
  return a->i < b->i;
}

static void vi_sift(rt_vi *a, int64_t root, int64_t n) {
  for (;;) {
    int64_t c = 2 * root + 1;
    if (c >= n)
      return;
    /* max-heap on "after", so popping puts the latest-ranked element at the end */
    if (c + 1 < n && vi_before(&a[c], &a[c + 1]))
      c++;
    if (!vi_before(&a[root], &a[c]))
      return;
    vi_swap(a, root, c);
    root = c;
  }
}

static void vi_sort(rt_vi *a, int64_t n) {
  for (int64_t i = n / 2 - 1; i >= 0; i--)
    vi_sift(a, i, n);
  for (int64_t end = n - 1; end > 0; end--) {
    vi_swap(a, 0, end);
    vi_sift(a, 0, end);
  }
}

/* The exact port: select then (optionally) sort, for row r, with a[0..size) as workspace. */
static void topk_row_exact(rt_kctx *k, int64_t r, rt_vi *a) {
  const rt_topk_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  const int64_t size = x->dims[x->rank - 1], kk = k->out[0].dims[x->rank - 1];
  int32_t *oi = k->out[1].data;
  for (int64_t i = 0; i < size; i++)
    a[i] = (rt_vi){get_num(x, r * size + i), i};
  if (kk < size)
    vi_select(a, kk, 0, size - 1);
  if (p->sorted)
    vi_sort(a, kk);
  for (int64_t i = 0; i < kk; i++) {
    if (x->dtype == RT_DT_F32)
      ((float *)k->out[0].data)[r * kk + i] = (float)a[i].v;
    else
      ((int32_t *)k->out[0].data)[r * kk + i] = (int32_t)a[i].v;
    oi[r * kk + i] = (int32_t)a[i].i;
  }
}

/* Fast path for sorted output. On a row of finite values TF.js's comparePair is a strict total
 * order (larger value first, then lower index), so its select + sort returns exactly the k
 * best under that order, however they are found. A bounded heap with the worst kept at the
 * root finds them in one pass; blocks of 16 that hold nothing better than the root are
 * skipped with a vectorizable test. A row holding NaN or ±Inf (where comparePair is no order)
 * goes to the exact port instead. */
#define TOPK_BLOCK 64

/* vi_before for finite values (no NaN cases): a ranks before b. */
static inline bool fin_before(const rt_vi *a, const rt_vi *b) {
  return a->v > b->v || (a->v == b->v && a->i < b->i);
}

static void worst_up(rt_vi *h, int64_t i) {
  while (i > 0 && fin_before(&h[(i - 1) / 2], &h[i])) {
    vi_swap(h, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void worst_down(rt_vi *h, int64_t n) {
  int64_t i = 0;
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n)
      return;
    if (c + 1 < n && fin_before(&h[c], &h[c + 1]))
      c++;
    if (!fin_before(&h[i], &h[c]))
      return;
    vi_swap(h, i, c);
    i = c;
  }
}

static void worst_offer(rt_vi *h, int64_t *n, int64_t kk, double v, int64_t i) {
  rt_vi e = {v, i};
  if (*n < kk) {
    h[*n] = e;
    worst_up(h, (*n)++);
  } else if (fin_before(&e, &h[0])) {
    h[0] = e;
    worst_down(h, kk);
  }
}

/* Largest value of a block of TOPK_BLOCK floats, and whether all are finite: eight lanes, one
 * horizontal step per block. */
static float block_max_f(const float *restrict x, int *finite) {
  float m[8], ok[8];
  for (int j = 0; j < 8; j++) {
    m[j] = x[j];
    ok[j] = fabsf(x[j]) <= 3.40282347e38f ? 1.0f : 0.0f;
  }
  for (int b = 8; b < TOPK_BLOCK; b += 8)
    for (int j = 0; j < 8; j++) {
      m[j] = x[b + j] > m[j] ? x[b + j] : m[j];
      ok[j] = fabsf(x[b + j]) <= 3.40282347e38f ? ok[j] : 0.0f;
    }
  float r = m[0], f = ok[0];
  for (int j = 1; j < 8; j++) {
    r = m[j] > r ? m[j] : r;
    f = ok[j] < f ? ok[j] : f;
  }
  *finite = f != 0.0f;
  return r;
}

#if defined(__AVX2__)
/* Offers the elements of a 32-float block that beat the root, found with one compare per vector
 * and a bit mask, so a block with one candidate costs one heap offer, not 32 scalar tests.
 * Returns false on a non-finite value. */
static bool block_offer_f(const float *x, int64_t i, float thr, rt_vi *h, int64_t *cnt,
                          int64_t kk) {
  const __m256 t = _mm256_set1_ps(thr), lim = _mm256_set1_ps(3.40282347e38f);
  const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 v[4], fin = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  uint32_t gt = 0;
  for (int q = 0; q < 4; q++) {
    v[q] = _mm256_loadu_ps(x + i + 8 * q);
    fin = _mm256_and_ps(fin, _mm256_cmp_ps(_mm256_and_ps(v[q], absm), lim, _CMP_LE_OQ));
    gt |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(v[q], t, _CMP_GT_OQ)) << (8 * q);
  }
  if (_mm256_movemask_ps(fin) != 0xff)
    return false;
  while (gt) {
    int b = __builtin_ctz(gt);
    gt &= gt - 1;
    if (x[i + b] > (float)h[0].v) /* the root may have risen since the mask was taken */
      worst_offer(h, cnt, kk, x[i + b], i + b);
  }
  return true;
}
#endif

static int32_t block_max_i(const int32_t *restrict x) {
  int32_t m[8];
  for (int j = 0; j < 8; j++)
    m[j] = x[j];
  for (int b = 8; b < TOPK_BLOCK; b += 8)
    for (int j = 0; j < 8; j++)
      m[j] = x[b + j] > m[j] ? x[b + j] : m[j];
  int32_t r = m[0];
  for (int j = 1; j < 8; j++)
    r = m[j] > r ? m[j] : r;
  return r;
}

/* The k best of row elements [s0, s1) into heap h (count in *n); false on a non-finite value. */
static bool topk_scan(const rt_tensor *x, int64_t r, int64_t s0, int64_t s1, int64_t kk,
                      rt_vi *h, int64_t *n) {
  const int64_t size = x->dims[x->rank - 1];
  int64_t cnt = 0, i = s0;
  if (x->dtype == RT_DT_F32) {
    const float *xv = (const float *)x->data + r * size;
    for (; i < s1 && cnt < kk; i++) {
      if (!(fabsf(xv[i]) <= 3.40282347e38f))
        return false;
      worst_offer(h, &cnt, kk, xv[i], i);
    }
#if defined(__AVX2__)
    for (; i + 32 <= s1; i += 32)
      if (!block_offer_f(xv, i, (float)h[0].v, h, &cnt, kk))
        return false;
#endif
    for (; i + TOPK_BLOCK <= s1; i += TOPK_BLOCK) {
      int finite;
      const float mx = block_max_f(xv + i, &finite);
      if (!finite)
        return false;
      if (mx > (float)h[0].v) /* strictly: a tie with the root comes later, so ranks after */
        for (int j = 0; j < TOPK_BLOCK; j++)
          if (xv[i + j] > (float)h[0].v)
            worst_offer(h, &cnt, kk, xv[i + j], i + j);
    }
    for (; i < s1; i++) {
      if (!(fabsf(xv[i]) <= 3.40282347e38f))
        return false;
      worst_offer(h, &cnt, kk, xv[i], i);
    }
  } else {
    const int32_t *xv = (const int32_t *)x->data + r * size;
    for (; i < s1 && cnt < kk; i++)
      worst_offer(h, &cnt, kk, xv[i], i);
    for (; i + TOPK_BLOCK <= s1; i += TOPK_BLOCK)
      if (block_max_i(xv + i) > (int32_t)h[0].v)
        for (int j = 0; j < TOPK_BLOCK; j++)
          if (xv[i + j] > (int32_t)h[0].v)
            worst_offer(h, &cnt, kk, xv[i + j], i + j);
    for (; i < s1; i++)
      worst_offer(h, &cnt, kk, xv[i], i);
  }
  *n = cnt;
  return true;
}

/* Sorts the n candidates in h best first and writes the first kk as row r's output. */
static void topk_emit(rt_kctx *k, int64_t r, rt_vi *h, int64_t n, int64_t kk) {
  vi_sort(h, n);
  for (int64_t i = 0; i < kk; i++) {
    if (k->in[0].dtype == RT_DT_F32)
      ((float *)k->out[0].data)[r * kk + i] = (float)h[i].v;
    else
      ((int32_t *)k->out[0].data)[r * kk + i] = (int32_t)h[i].v;
    ((int32_t *)k->out[1].data)[r * kk + i] = (int32_t)h[i].i;
  }
}

/* How the fast path lays out scratch (in rt_vi entries), from shapes alone so shape() and run()
 * agree: with several rows, one heap of kk per row (rows in parallel) when that stays within
 * max(size, 2^16) entries, else one shared heap; with one row, `segs` segments scanned in
 * parallel, each with its own heap, then merged. */
typedef struct topk_plan {
  int64_t size, kk, rows, segs;
  bool row_heaps;
} topk_plan;

static topk_plan topk_layout(const rt_tensor *x, int64_t kk) {
  topk_plan pl = {.size = x->dims[x->rank - 1], .kk = kk, .segs = 1};
  pl.rows = pl.size ? rt_tensor_numel(x) / pl.size : 0;
  int64_t cap = pl.size > (1 << 16) ? pl.size : (1 << 16);
  pl.row_heaps = pl.rows > 1 && kk > 0 && pl.rows <= cap / kk;
  if (pl.rows == 1 && kk > 0) {
    pl.segs = pl.size / (1 << 16);
    if (pl.segs > 8)
      pl.segs = 8;
    if (pl.segs > pl.size / kk)
      pl.segs = pl.size / kk;
    if (pl.segs < 1)
      pl.segs = 1;
  }
  return pl;
}

static size_t topk_scratch(const rt_tensor *x, int64_t kk) {
  topk_plan pl = topk_layout(x, kk);
  if (pl.rows == 0 || kk == 0) /* x may be [0, 2^40]: no rows, no scratch */
    return 0;
  int64_t n = pl.size;
  if (pl.row_heaps && pl.rows * kk > n)
    n = pl.rows * kk;
  return (size_t)n * sizeof(rt_vi);
}

static rt_status topk_shape(rt_kctx *k) {
  if (!k->params)
    return kerr(k, RT_ERR_STATE, "not prepared");
  const rt_tensor *x = &k->in[0];
  if (x->rank < 1)
    return kerr(k, RT_ERR_SHAPE, "input must be rank 1 or higher");
  if (!is_num(x->dtype))
    return kerr(k, RT_ERR_INVALID_ARG, "input must be float32 or int32, got %s",
                rt_dtype_name(x->dtype));
  double kv;
  rt_status st = num_param(k, 1, "k", &kv);
  if (st != RT_OK)
    return st;
  const int64_t last = x->dims[x->rank - 1];
  if (!(kv >= 0) || kv > (double)last || kv != floor(kv))
    return kerr(k, RT_ERR_INVALID_ARG, "k = %g must be an integer in [0, %lld]", kv,
                (long long)last);
  int64_t dims[RT_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[x->rank - 1] = (int64_t)kv;
  if ((st = set_out(k, 0, x->dtype, x->rank, dims)) != RT_OK ||
      (st = set_out(k, 1, RT_DT_I32, x->rank, dims)) != RT_OK)
    return st;
  k->scratch_bytes = topk_scratch(x, (int64_t)kv);
  return RT_OK;
}

typedef struct topk_job {
  rt_kctx *k;
  topk_plan pl;
  rt_vi *heaps;
  int64_t counts[8]; /* segment mode: candidates found per segment; -1: non-finite seen */
} topk_job;

/* Row mode: rows b..e; a row with a non-finite value is marked (index -1) for the exact pass. */
static void topk_rows(void *ctx, int64_t b, int64_t e) {
  topk_job *j = ctx;
  for (int64_t r = b; r < e; r++) {
    rt_vi *h = j->heaps + (j->pl.row_heaps ? r * j->pl.kk : 0);
    int64_t n;
    if (topk_scan(&j->k->in[0], r, 0, j->pl.size, j->pl.kk, h, &n))
      topk_emit(j->k, r, h, n, j->pl.kk);
    else
      ((int32_t *)j->k->out[1].data)[r * j->pl.kk] = -1;
  }
}

static void topk_segs(void *ctx, int64_t b, int64_t e) {
  topk_job *j = ctx;
  const int64_t len = (j->pl.size + j->pl.segs - 1) / j->pl.segs;
  for (int64_t sg = b; sg < e; sg++) {
    int64_t s0 = sg * len, s1 = s0 + len < j->pl.size ? s0 + len : j->pl.size, n = 0;
    if (!topk_scan(&j->k->in[0], 0, s0, s1 > s0 ? s1 : s0, j->pl.kk, j->heaps + sg * j->pl.kk,
                   &n))
      n = -1;
    j->counts[sg] = n;
  }
}

static rt_status topk_run(rt_kctx *k) {
  const rt_topk_params *p = k->params;
  const rt_tensor *x = &k->in[0];
  const int64_t kk = k->out[0].dims[x->rank - 1];
  topk_job j = {.k = k, .pl = topk_layout(x, kk), .heaps = k->scratch};
  if (j.pl.rows == 0 || kk == 0) /* rows == 0 also when x is [0, n]: nothing to read */
    return RT_OK;
  if (!p->sorted) { /* the unsorted order is select's own: only the port reproduces it */
    for (int64_t r = 0; r < j.pl.rows; r++)
      topk_row_exact(k, r, k->scratch);
    return RT_OK;
  }
  const double scan_ns = 0.15 * (double)j.pl.size;
  if (j.pl.rows > 1) {
    rt__parallel_for(j.pl.row_heaps ? k->tp : NULL, j.pl.rows, rt__par_grain(scan_ns), topk_rows,
                     &j);
    for (int64_t r = 0; r < j.pl.rows; r++)
      if (((int32_t *)k->out[1].data)[r * kk] == -1)
        topk_row_exact(k, r, k->scratch);
    return RT_OK;
  }
  /* Each segment pays its own warm-up (about k ln(len / k) heap insertions), so a row is cut
   * into no more segments than there are threads; the answer is the same either way. */
  if (j.pl.segs > rt__threadpool_size(k->tp))
    j.pl.segs = rt__threadpool_size(k->tp);
  rt__parallel_for(k->tp, j.pl.segs, rt__par_grain(scan_ns / (double)j.pl.segs), topk_segs, &j);
  int64_t n = 0;
  for (int64_t sg = 0; sg < j.pl.segs; sg++) {
    if (j.counts[sg] < 0) {
      topk_row_exact(k, 0, k->scratch);
      return RT_OK;
    }
    memmove(j.heaps + n, j.heaps + sg * kk, (size_t)j.counts[sg] * sizeof(rt_vi));
    n += j.counts[sg];
  }
  topk_emit(k, 0, j.heaps, n, kk);
  return RT_OK;
}

/* ---- NonMaxSuppressionV2..V5 ---- */

typedef struct rt_nms_params {
  int version;
  bool pad_to_max; /* V4 only: TF.js ignores the attribute on V5 */
} rt_nms_params;

static rt_status nms_prepare(rt_graph *g, rt_node *n, rt_error *err) {
  rt_nms_params *p = rt__pool_alloc(g->pool, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", n->name);
  size_t len = strlen(n->op_name);
  p->version = n->op_name[len - 1] - '0';
  p->pad_to_max = p->version == 4 && rt__attr_bool(n, "pad_to_max_output_size", false);
  n->params = p;
  return RT_OK;
}

typedef struct rt_nms_cand {
  double score;
  int32_t box, begin;
} rt_nms_cand;

typedef struct rt_nms_args {
  const float *boxes, *scores;
  int64_t n, max_out; /* max_out already min(max_output_size, n); may be negative */
  double iou, score_thr, sigma;
} rt_nms_args;

/* TF.js pops the highest score, ties going to the lower box index. That is a strict total
 * order over the candidates (NaN scores never become candidates), so a max-heap pops them in
 * exactly the order TF.js's sorted list with binary re-insertion does. */
static bool cand_above(const rt_nms_cand *a, const rt_nms_cand *b) {
  return a->score > b->score || (a->score == b->score && a->box < b->box);
}

static void cand_sift_down(rt_nms_cand *h, int64_t n, int64_t i) {
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n)
      return;
    if (c + 1 < n && cand_above(&h[c + 1], &h[c]))
      c++;
    if (!cand_above(&h[c], &h[i]))
      return;
    rt_nms_cand t = h[i];
    h[i] = h[c];
    h[c] = t;
    i = c;
  }
}

static void cand_push(rt_nms_cand *h, int64_t *n, rt_nms_cand c) {
  int64_t i = (*n)++;
  h[i] = c;
  while (i > 0 && cand_above(&h[i], &h[(i - 1) / 2])) {
    rt_nms_cand t = h[i];
    h[i] = h[(i - 1) / 2];
    h[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
}

static double box_iou(const float *boxes, int64_t i, int64_t j) {
  const float *a = boxes + 4 * i, *b = boxes + 4 * j;
  const double ay0 = fmin(a[0], a[2]), ax0 = fmin(a[1], a[3]);
  const double ay1 = fmax(a[0], a[2]), ax1 = fmax(a[1], a[3]);
  const double by0 = fmin(b[0], b[2]), bx0 = fmin(b[1], b[3]);
  const double by1 = fmax(b[0], b[2]), bx1 = fmax(b[1], b[3]);
  const double area_a = (ay1 - ay0) * (ax1 - ax0), area_b = (by1 - by0) * (bx1 - bx0);
  if (area_a <= 0 || area_b <= 0)
    return 0.0;
  const double iy0 = fmax(ay0, by0), ix0 = fmax(ax0, bx0);
  const double iy1 = fmin(ay1, by1), ix1 = fmin(ax1, bx1);
  const double inter = fmax(iy1 - iy0, 0.0) * fmax(ix1 - ix0, 0.0);
  return inter / (area_a + area_b - inter);
}

/* The TF.js algorithm (non_max_suppression_impl.js). heap holds n candidates; sel receives
 * the selected box indices (room for max_out), sel_scores their scores (may be NULL).
 * Returns the number selected. */
static int64_t nms_compute(const rt_nms_args *a, rt_nms_cand *heap, int32_t *sel,
                           float *sel_scores) {
  int64_t nh = 0, ns = 0;
  for (int64_t i = 0; i < a->n; i++)
    if (a->scores[i] > a->score_thr)
      heap[nh++] = (rt_nms_cand){a->scores[i], (int32_t)i, 0};
  for (int64_t i = nh / 2 - 1; i >= 0; i--)
    cand_sift_down(heap, nh, i);
  const double scale = a->sigma > 0 ? -0.5 / a->sigma : 0.0;
  while (ns < a->max_out && nh > 0) {
    rt_nms_cand c = heap[0];
    heap[0] = heap[--nh];
    cand_sift_down(heap, nh, 0);
    const double original = c.score;
    if (original < a->score_thr)
      break;
    bool ignore = false;
    for (int64_t j = ns - 1; j >= c.begin; j--) {
      const double iou = box_iou(a->boxes, c.box, sel[j]);
      if (iou >= a->iou) {
        ignore = true;
        break;
      }
      c.score *= iou <= a->iou ? exp(scale * iou * iou) : 0.0;
      if (c.score <= a->score_thr)
        break;
    }
    c.begin = (int32_t)ns;
    if (ignore)
      continue;
    if (c.score == original) {
      if (sel_scores)
        sel_scores[ns] = (float)c.score;
      sel[ns++] = c.box;
    } else if (c.score > a->score_thr) {
      cand_push(heap, &nh, c);
    }
  }
  return ns;
}

static rt_status nms_read(rt_kctx *k, rt_nms_args *a) {
  const rt_nms_params *p = k->params;
  if (!p)
    return kerr(k, RT_ERR_STATE, "not prepared");
  const rt_tensor *bx = &k->in[0], *sc = &k->in[1];
  if (bx->rank != 2 || bx->dims[1] != 4 || bx->dtype != RT_DT_F32)
    return kerr(k, RT_ERR_SHAPE, "boxes must be float32 [num_boxes, 4]");
  if (sc->rank != 1 || sc->dims[0] != bx->dims[0] || sc->dtype != RT_DT_F32)
    return kerr(k, RT_ERR_SHAPE, "scores must be float32 [%lld]", (long long)bx->dims[0]);
  double mo, iou, thr = -INFINITY, sigma = 0;
  rt_status st;
  if ((st = num_param(k, 2, "max_output_size", &mo)) != RT_OK ||
      (st = num_param(k, 3, "iou_threshold", &iou)) != RT_OK ||
      (p->version >= 3 && (st = num_param(k, 4, "score_threshold", &thr)) != RT_OK) ||
      (p->version >= 5 && (st = num_param(k, 5, "soft_nms_sigma", &sigma)) != RT_OK))
    return st;
  if (!(iou >= 0 && iou <= 1))
    return kerr(k, RT_ERR_INVALID_ARG, "iou_threshold must be in [0, 1], got %g", iou);
  if (!(sigma >= 0 && sigma <= 1))
    return kerr(k, RT_ERR_INVALID_ARG, "soft_nms_sigma must be in [0, 1], got %g", sigma);
  a->n = bx->dims[0];
  /* TF.js loops while selected < min(max_output_size, n): a count of ceil() for fractions. */
  a->max_out = mo >= (double)a->n ? a->n : mo > 0 ? (int64_t)ceil(mo) : 0;
  a->iou = iou;
  a->score_thr = thr;
  a->sigma = sigma;
  a->boxes = bx->data;
  a->scores = sc->data;
  return RT_OK;
}

static rt_status nms_shape(rt_kctx *k) {
  const rt_nms_params *p = k->params;
  rt_nms_args a;
  rt_status st = nms_read(k, &a);
  if (st != RT_OK)
    return st;
  int64_t count;
  const int64_t cap = a.max_out > 0 ? a.max_out : 0;
  if (p->pad_to_max) {
    count = cap; /* padded: the length is known without running the suppression */
  } else {
    if (!a.boxes)
      return need_value(k, "boxes");
    if (!a.scores)
      return need_value(k, "scores");
    /* The length depends on the whole suppression; shape() has no scratch, so it borrows. */
    rt_nms_cand *heap = malloc((size_t)(a.n ? a.n : 1) * sizeof *heap);
    int32_t *sel = malloc((size_t)(cap ? cap : 1) * sizeof *sel);
    if (!heap || !sel) {
      free(heap);
      free(sel);
      return kerr(k, RT_ERR_NOMEM, "out of memory sizing the result");
    }
    count = nms_compute(&a, heap, sel, NULL);
    free(heap);
    free(sel);
  }
  int64_t d[1] = {count};
  if ((st = set_out(k, 0, RT_DT_I32, 1, d)) != RT_OK)
    return st;
  if (p->version == 4)
    st = set_out(k, 1, RT_DT_I32, 0, d);
  else if (p->version == 5 && ((st = set_out(k, 1, RT_DT_F32, 1, d)) == RT_OK))
    st = set_out(k, 2, RT_DT_I32, 0, d);
  k->scratch_bytes = (size_t)a.n * sizeof(rt_nms_cand);
  return st;
}

static rt_status nms_run(rt_kctx *k) {
  const rt_nms_params *p = k->params;
  rt_nms_args a;
  rt_status st = nms_read(k, &a);
  if (st != RT_OK)
    return st;
  const int64_t len = k->out[0].dims[0];
  if (a.max_out > len) /* the output was sized by the same computation: never triggers */
    a.max_out = len;
  int32_t *sel = k->out[0].data;
  float *scores = p->version == 5 ? k->out[1].data : NULL;
  int64_t count = nms_compute(&a, k->scratch, sel, scores);
  for (int64_t i = count; i < len; i++) { /* V4 padding */
    sel[i] = 0;
    if (scores)
      scores[i] = 0;
  }
  if (p->version == 4)
    *(int32_t *)k->out[1].data = (int32_t)count;
  else if (p->version == 5)
    *(int32_t *)k->out[2].data = (int32_t)count;
  return RT_OK;
}

/* ---- Where (one input): coordinates of the non-zero elements ---- */

static bool nonzero(const rt_tensor *t, int64_t i) {
  switch (t->dtype) {
  case RT_DT_F32: return ((const float *)t->data)[i] != 0; /* NaN counts as true, as in TF.js */
  case RT_DT_I32: return ((const int32_t *)t->data)[i] != 0;
  case RT_DT_BOOL: return ((const uint8_t *)t->data)[i] != 0;
  default: return false;
  }
}

static rt_status where_shape(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  if (!rt_dtype_size(x->dtype))
    return kerr(k, RT_ERR_INVALID_ARG, "condition has no element type");
  if (!x->data)
    return need_value(k, "condition");
  int64_t n = rt_tensor_numel(x), count = 0;
  for (int64_t i = 0; i < n; i++)
    count += nonzero(x, i);
  int64_t dims[2] = {count, x->rank};
  return set_out(k, 0, RT_DT_I32, 2, dims);
}

static rt_status where_run(rt_kctx *k) {
  const rt_tensor *x = &k->in[0];
  const int r = x->rank;
  const int64_t n = rt_tensor_numel(x), cap = k->out[0].dims[0];
  int32_t *out = k->out[0].data;
  int64_t pos[RT_MAX_RANK] = {0}, w = 0;
  for (int64_t i = 0; i < n; i++) {
    if (nonzero(x, i) && w < cap) {
      for (int j = 0; j < r; j++)
        out[w * r + j] = (int32_t)pos[j];
      w++;
    }
    for (int j = r - 1; j >= 0 && ++pos[j] == x->dims[j]; j--)
      pos[j] = 0;
  }
  return RT_OK;
}

/* ---- table ---- */

const rt_op_def rt__ops_image[] = {
    {.name = "ResizeBilinear",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .prepare = resize_prepare,
     .shape = resize_bilinear_shape,
     .run = resize_bilinear_run,
     .flops = numel_flops},
    {.name = "ResizeNearestNeighbor",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 1,
     .prepare = resize_prepare,
     .shape = resize_nearest_shape,
     .run = resize_nearest_run},
    {.name = "CropAndResize",
     .min_inputs = 4,
     .max_inputs = 4,
     .n_outputs = 1,
     .prepare = crop_prepare,
     .shape = crop_shape,
     .run = crop_run,
     .flops = numel_flops},
    {.name = "DepthToSpace",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .prepare = block_prepare,
     .shape = d2s_shape,
     .run = d2s_run},
    {.name = "SpaceToDepth",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .prepare = block_prepare,
     .shape = s2d_shape,
     .run = s2d_run},
    {.name = "SpaceToBatchND",
     .min_inputs = 3,
     .max_inputs = 3,
     .n_outputs = 1,
     .shape = s2b_shape,
     .run = s2b_run},
    {.name = "BatchToSpaceND",
     .min_inputs = 3,
     .max_inputs = 3,
     .n_outputs = 1,
     .shape = b2s_shape,
     .run = b2s_run},
    {.name = "SparseToDense",
     .min_inputs = 4,
     .max_inputs = 4,
     .n_outputs = 1,
     .prepare = sparse_prepare,
     .shape = sparse_shape,
     .run = sparse_run},
    {.name = "TopKV2",
     .min_inputs = 2,
     .max_inputs = 2,
     .n_outputs = 2,
     .prepare = topk_prepare,
     .shape = topk_shape,
     .run = topk_run},
    {.name = "NonMaxSuppressionV2",
     .min_inputs = 4,
     .max_inputs = 4,
     .n_outputs = 1,
     .prepare = nms_prepare,
     .shape = nms_shape,
     .run = nms_run},
    {.name = "NonMaxSuppressionV3",
     .min_inputs = 5,
     .max_inputs = 5,
     .n_outputs = 1,
     .prepare = nms_prepare,
     .shape = nms_shape,
     .run = nms_run},
    {.name = "NonMaxSuppressionV4",
     .min_inputs = 5,
     .max_inputs = 5,
     .n_outputs = 2,
     .prepare = nms_prepare,
     .shape = nms_shape,
     .run = nms_run},
    {.name = "NonMaxSuppressionV5",
     .min_inputs = 6,
     .max_inputs = 6,
     .n_outputs = 3,
     .prepare = nms_prepare,
     .shape = nms_shape,
     .run = nms_run},
    {.name = "Where",
     .min_inputs = 1,
     .max_inputs = 1,
     .n_outputs = 1,
     .shape = where_shape,
     .run = where_run},
};
const int rt__ops_image_count = (int)(sizeof rt__ops_image / sizeof rt__ops_image[0]);
