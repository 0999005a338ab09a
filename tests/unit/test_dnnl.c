/*
 * test_dnnl.c — the oneDNN fast path (ops/dnnl.c) against a plain C reference in this file:
 * random shapes of dense, depthwise (multiplier 1 and 2) and transposed convolutions with
 * strides 1/2, SAME/VALID padding, dilation and every fused activation, inner products with
 * both weight layouts and several row counts per packing; one packed weights object used by
 * two threads at once; and the descs the fast path must refuse with RT_ERR_UNSUPPORTED.
 *
 * The reference sums in double in the obvious loop order and applies bias and the activation
 * in double, TF's definitions (Elu exp(x)-1, Relu6 clip to [0,6], LeakyRelu/PReLU x<0 ? a*x).
 * oneDNN sums in float32 in its own blocked order and approximates exp/tanh, so outputs are
 * compared to 1e-4 relative (max(1, |ref|)): far above float rounding at these sizes (a few
 * hundred products), far below any indexing or layout mistake.
 * Builds without oneDNN compile this file to one skipped test.
 */
#include "ir.h"
#include "ops.h"

#include <criterion/criterion.h>

#ifdef ORCHARD_HAVE_DNNL
#include "ops/dnnl.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A run as the executor makes it: the state's scratchpad in a buffer of its own. */
static rt_status with_scratch(bool conv, void *state, const float *x, float *y, rt_error *err) {
  size_t n = rt__dnnl_state_bytes(state);
  void *sp = n ? aligned_alloc(64, (n + 63) & ~(size_t)63) : NULL;
  rt_status st = conv ? rt__dnnl_conv_run(state, x, y, sp, err)
                      : rt__dnnl_matmul_run(state, x, y, sp, err);
  free(sp);
  return st;
}
static rt_status conv_run(void *state, const float *x, float *y, rt_error *err) {
  return with_scratch(true, state, x, y, err);
}
static rt_status mm_run(void *state, const float *x, float *y, rt_error *err) {
  return with_scratch(false, state, x, y, err);
}

#define TOL 1e-4

/* ---- deterministic random numbers ---- */

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 2862933555777941757ull + 3037000493ull; }
static uint32_t rng_u32(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng_state >> 33);
}
static int64_t rng_int(int64_t lo, int64_t hi) { /* [lo, hi] */
  return lo + (int64_t)(rng_u32() % (uint32_t)(hi - lo + 1));
}
static float rng_float(float lo, float hi) {
  return lo + (hi - lo) * (float)(rng_u32() & 0xffffff) / (float)0x1000000;
}
static float *rand_vec(int64_t n, float lo, float hi) {
  float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  cr_assert(v);
  for (int64_t i = 0; i < n; i++)
    v[i] = rng_float(lo, hi);
  return v;
}

/* ---- reference ---- */

static const char *act_name(rt_dnnl_act a) {
  static const char *const names[] = {"none", "relu",       "relu6", "elu",
                                      "sigmoid", "tanh", "leaky_relu", "prelu"};
  return names[a];
}

static double ref_act(rt_dnnl_act act, double x, double alpha, const float *prelu, int64_t c) {
  switch (act) {
  case RT_DNNL_ACT_RELU: return x > 0 ? x : 0;
  case RT_DNNL_ACT_RELU6: return x < 0 ? 0 : (x > 6 ? 6 : x);
  case RT_DNNL_ACT_ELU: return x >= 0 ? x : exp(x) - 1;
  case RT_DNNL_ACT_SIGMOID: return 1 / (1 + exp(-x));
  case RT_DNNL_ACT_TANH: return tanh(x);
  case RT_DNNL_ACT_LEAKY_RELU: return x < 0 ? alpha * x : x;
  case RT_DNNL_ACT_PRELU: return x < 0 ? prelu[c] * x : x;
  default: return x;
  }
}

/* TF's output size and padding before/after for one axis. */
static void tf_axis(int64_t in, int64_t k, int64_t s, int64_t dil, bool same, int64_t *out,
                    int64_t *before, int64_t *after) {
  int64_t keff = (k - 1) * dil + 1;
  if (same) {
    *out = (in + s - 1) / s;
    int64_t total = (*out - 1) * s + keff - in;
    total = total < 0 ? 0 : total;
    *before = total / 2;
    *after = total - *before;
  } else {
    *out = in - keff + 1 <= 0 ? 0 : (in - keff + s) / s;
    *before = *after = 0;
  }
}

/* y = act(conv(x) + bias), NHWC, as the desc defines it (see dnnl.h). */
static void ref_conv(const rt_dnnl_conv_desc *d, const float *x, float *y) {
  int64_t mult = d->depthwise ? d->oc / d->ic : 1;
  double *acc = calloc((size_t)(d->n * d->oh * d->ow * d->oc), sizeof *acc);
  cr_assert(acc);
  if (!d->transposed) {
    for (int64_t b = 0; b < d->n; b++)
      for (int64_t oy = 0; oy < d->oh; oy++)
        for (int64_t ox = 0; ox < d->ow; ox++)
          for (int64_t ky = 0; ky < d->kh; ky++)
            for (int64_t kx = 0; kx < d->kw; kx++) {
              int64_t iy = oy * d->sh - d->pad_t + ky * d->dh;
              int64_t ix = ox * d->sw - d->pad_l + kx * d->dw;
              if (iy < 0 || iy >= d->ih || ix < 0 || ix >= d->iw)
                continue;
              const float *xp = x + ((b * d->ih + iy) * d->iw + ix) * d->ic;
              double *ap = acc + ((b * d->oh + oy) * d->ow + ox) * d->oc;
              for (int64_t ci = 0; ci < d->ic; ci++) {
                if (d->depthwise) {
                  for (int64_t q = 0; q < mult; q++)
                    ap[ci * mult + q] +=
                        (double)xp[ci] * d->filter[((ky * d->kw + kx) * d->ic + ci) * mult + q];
                } else {
                  for (int64_t co = 0; co < d->oc; co++)
                    ap[co] +=
                        (double)xp[ci] * d->filter[((ky * d->kw + kx) * d->ic + ci) * d->oc + co];
                }
              }
            }
  } else { /* x is dy (ih x iw x ic), y the result (oh x ow x oc), filter [kh,kw,oc,ic] */
    for (int64_t b = 0; b < d->n; b++)
      for (int64_t iy = 0; iy < d->ih; iy++)
        for (int64_t ix = 0; ix < d->iw; ix++)
          for (int64_t ky = 0; ky < d->kh; ky++)
            for (int64_t kx = 0; kx < d->kw; kx++) {
              int64_t oy = iy * d->sh - d->pad_t + ky * d->dh;
              int64_t ox = ix * d->sw - d->pad_l + kx * d->dw;
              if (oy < 0 || oy >= d->oh || ox < 0 || ox >= d->ow)
                continue;
              const float *xp = x + ((b * d->ih + iy) * d->iw + ix) * d->ic;
              double *ap = acc + ((b * d->oh + oy) * d->ow + ox) * d->oc;
              for (int64_t co = 0; co < d->oc; co++)
                for (int64_t ci = 0; ci < d->ic; ci++)
                  ap[co] += (double)xp[ci] * d->filter[((ky * d->kw + kx) * d->oc + co) * d->ic + ci];
            }
  }
  int64_t np = d->n * d->oh * d->ow;
  for (int64_t p = 0; p < np; p++)
    for (int64_t c = 0; c < d->oc; c++) {
      double v = acc[p * d->oc + c] + (d->bias ? d->bias[c] : 0.0);
      y[p * d->oc + c] = (float)ref_act(d->act, v, d->alpha, d->prelu_alpha, c);
    }
  free(acc);
}

static void ref_matmul(const rt_dnnl_matmul_desc *d, const float *x, float *y) {
  for (int64_t i = 0; i < d->m; i++)
    for (int64_t j = 0; j < d->n; j++) {
      double s = d->bias ? d->bias[j] : 0.0;
      for (int64_t l = 0; l < d->k; l++)
        s += (double)x[i * d->k + l] * (d->transpose_w ? d->w[j * d->k + l] : d->w[l * d->n + j]);
      y[i * d->n + j] = (float)ref_act(d->act, s, d->alpha, d->prelu_alpha, j);
    }
}

static void expect_close(const float *got, const float *want, int64_t n, const char *what) {
  for (int64_t i = 0; i < n; i++) {
    double tol = TOL * fmax(1.0, fabs(want[i]));
    cr_assert(fabs((double)got[i] - want[i]) <= tol, "%s: element %lld is %.9g, want %.9g", what,
              (long long)i, got[i], want[i]);
  }
}

/* ---- random descs ---- */

typedef struct conv_case {
  rt_dnnl_conv_desc d;
  float *filter, *bias, *prelu;
  char what[256];
} conv_case;

/* A random conv of the given kind; false when the shape came out empty (VALID too small). */
static bool conv_case_make(conv_case *c, bool depthwise, bool transposed, int64_t mult,
                           rt_dnnl_act act) {
  memset(c, 0, sizeof *c);
  rt_dnnl_conv_desc *d = &c->d;
  d->n = rng_int(1, 2);
  d->ic = depthwise ? rng_int(1, 24) : rng_int(1, 20);
  d->oc = depthwise ? d->ic * mult : rng_int(1, 36);
  d->kh = rng_int(1, 5), d->kw = rng_int(1, 5);
  d->sh = rng_int(1, 2), d->sw = rng_int(1, 2);
  /* TF allows dilation only with stride 1 (and not in Conv2DBackpropInput as TF.js runs it) */
  d->dh = d->dw = 1;
  if (!transposed && d->sh == 1 && d->sw == 1 && rng_int(0, 2) == 0)
    d->dh = rng_int(1, 3), d->dw = rng_int(1, 3);
  bool same = rng_int(0, 1);
  d->depthwise = depthwise, d->transposed = transposed;
  /* The forward conv's input is x for a conv and the result for a transposed conv. */
  int64_t fh = rng_int(1, 14), fw = rng_int(1, 14), gh, gw, pb, pr;
  tf_axis(fh, d->kh, d->sh, d->dh, same, &gh, &d->pad_t, &pb);
  tf_axis(fw, d->kw, d->sw, d->dw, same, &gw, &d->pad_l, &pr);
  if (gh <= 0 || gw <= 0)
    return false;
  d->pad_b = pb, d->pad_r = pr;
  if (transposed)
    d->ih = gh, d->iw = gw, d->oh = fh, d->ow = fw;
  else
    d->ih = fh, d->iw = fw, d->oh = gh, d->ow = gw;
  d->act = act;
  d->alpha = rng_float(0.05f, 0.5f);
  c->filter = rand_vec(d->kh * d->kw * d->ic * (depthwise ? mult : d->oc), -0.5f, 0.5f);
  d->filter = c->filter;
  if (act != RT_DNNL_ACT_NONE || rng_int(0, 1)) { /* fused activations always come with a bias */
    c->bias = rand_vec(d->oc, -0.5f, 0.5f);
    d->bias = c->bias;
  }
  if (act == RT_DNNL_ACT_PRELU) {
    c->prelu = rand_vec(d->oc, -0.5f, 0.9f);
    d->prelu_alpha = c->prelu;
  }
  d->name = "test_conv";
  snprintf(c->what, sizeof c->what,
           "%s%s n%lld %lldx%lldx%lld -> %lldx%lldx%lld k%lldx%lld s%lldx%lld d%lldx%lld %s "
           "pads %lld,%lld act %s%s",
           transposed ? "transposed " : "", depthwise ? "depthwise" : "conv", (long long)d->n,
           (long long)d->ih, (long long)d->iw, (long long)d->ic, (long long)d->oh,
           (long long)d->ow, (long long)d->oc, (long long)d->kh, (long long)d->kw,
           (long long)d->sh, (long long)d->sw, (long long)d->dh, (long long)d->dw,
           same ? "SAME" : "VALID", (long long)d->pad_t, (long long)d->pad_l, act_name(act),
           d->bias ? " +bias" : "");
  return true;
}

static void conv_case_free(conv_case *c) {
  free(c->filter);
  free(c->bias);
  free(c->prelu);
}

/* Packs, plans and runs one case against the reference; returns false (and says why) when the
 * fast path declined it. */
static bool conv_case_check(conv_case *c, int n_threads) {
  rt_dnnl_conv_desc *d = &c->d;
  rt_graph *g = rt__graph_create("graph-model", "test.json");
  cr_assert(g);
  rt_error err = {0};
  rt_dnnl_weights *w;
  rt_status st = rt__dnnl_pack_conv(g, d, &w, &err);
  if (st == RT_ERR_UNSUPPORTED) {
    cr_log_info("declined at pack: %s: %s", c->what, err.msg);
    rt__graph_destroy(g);
    return false;
  }
  cr_assert_eq(st, RT_OK, "%s: pack: %s", c->what, err.msg);
  size_t filter_bytes = (size_t)(d->kh * d->kw * d->oc * (d->depthwise ? 1 : d->ic)) * 4;
  cr_assert_geq(g->packed_bytes, filter_bytes, "%s: packed_bytes %zu", c->what, g->packed_bytes);
  void *state;
  st = rt__dnnl_conv_plan(d, w, n_threads, &state, &err);
  if (st == RT_ERR_UNSUPPORTED) {
    cr_log_info("declined at plan: %s: %s", c->what, err.msg);
    rt__graph_destroy(g);
    return false;
  }
  cr_assert_eq(st, RT_OK, "%s: plan: %s", c->what, err.msg);
  const char *impl = rt__dnnl_impl_name(state);
  cr_assert(strstr(impl, "ref") == NULL, "%s: runs oneDNN's reference kernel %s", c->what, impl);
  int64_t nx = d->n * d->ih * d->iw * d->ic, ny = d->n * d->oh * d->ow * d->oc;
  float *x = rand_vec(nx, -1.0f, 1.0f), *y = rand_vec(ny, 0, 0), *want = malloc((size_t)ny * 4);
  cr_assert(want);
  /* Weights packed from the caller's filter must not depend on it afterwards. */
  float *saved = c->filter;
  size_t fbytes = (size_t)(d->kh * d->kw * d->ic * (d->depthwise ? d->oc / d->ic : d->oc)) * 4;
  float *copy = malloc(fbytes);
  cr_assert(copy);
  memcpy(copy, saved, fbytes);
  memset(saved, 0xff, fbytes); /* NaNs */
  cr_assert_eq(conv_run(state, x, y, &err), RT_OK, "%s: run: %s", c->what, err.msg);
  memcpy(saved, copy, fbytes);
  free(copy);
  ref_conv(d, x, want);
  char what[300];
  snprintf(what, sizeof what, "%s [%s]", c->what, impl);
  expect_close(y, want, ny, what);
  rt__dnnl_free(state);
  rt__graph_destroy(g);
  free(x);
  free(y);
  free(want);
  return true;
}

/* Runs `count` random cases of one kind, cycling through every activation; returns how many
 * the fast path took. */
static int conv_cases(uint64_t seed, int count, bool depthwise, bool transposed, int64_t mult,
                      int n_threads) {
  rng_seed(seed);
  int done = 0, taken = 0;
  for (int i = 0; done < count; i++) {
    conv_case c;
    rt_dnnl_act act = (rt_dnnl_act)(i % (RT_DNNL_ACT_PRELU + 1));
    if (!conv_case_make(&c, depthwise, transposed, mult, act)) {
      conv_case_free(&c);
      continue;
    }
    done++;
    taken += conv_case_check(&c, n_threads);
    conv_case_free(&c);
  }
  return taken;
}

#endif /* ORCHARD_HAVE_DNNL */

#ifndef ORCHARD_HAVE_DNNL
Test(dnnl, not_built) { cr_skip_test("built without oneDNN (ORCHARD_DNNL=OFF)"); }
#else

Test(dnnl, available) {
  cr_assert(rt__dnnl_available());
  cr_log_info("oneDNN preferred by default on this CPU: %s", rt__dnnl_preferred() ? "yes" : "no");
}

/* Dense convs are oneDNN's core: every case must take the fast path. */
Test(dnnl, conv_random_shapes) {
  cr_assert_eq(conv_cases(1, 48, false, false, 1, 1), 48);
}

Test(dnnl, depthwise_multiplier_1) {
  cr_assert_eq(conv_cases(2, 32, true, false, 1, 1), 32);
}

/* oneDNN's depthwise kernel wants one output per group; a multiplier of 2 is a grouped conv
 * it may or may not have a jit kernel for: whatever it takes must be right. */
Test(dnnl, depthwise_multiplier_2) {
  int taken = conv_cases(3, 24, true, false, 2, 1);
  cr_log_info("depthwise multiplier 2: %d of 24 on the fast path", taken);
}

Test(dnnl, transposed_random_shapes) {
  int taken = conv_cases(4, 32, false, true, 1, 1);
  cr_log_info("transposed: %d of 32 on the fast path", taken);
  cr_assert_gt(taken, 0);
}

/* Criterion runs each test in its own process, so the environment change stays here; libgomp
 * read its policy at start-up, dnnl.c only checks that one was chosen before forming teams. */
Test(dnnl, conv_two_intra_op_threads) {
  cr_assert_eq(conv_cases(5, 4, false, false, 1, 2), 4); /* no policy set: one thread */
  setenv("OMP_WAIT_POLICY", "passive", 1);
  cr_assert_eq(conv_cases(5, 12, false, false, 1, 2), 12);
  cr_assert_eq(conv_cases(6, 8, true, false, 1, 2), 8);
}

/* A realistic 1x1 and 3x3 pair at a size where oneDNN blocks channels by 16. */
Test(dnnl, conv_wide_channels) {
  rng_seed(7);
  for (int k = 1; k <= 3; k += 2) {
    conv_case c = {0};
    rt_dnnl_conv_desc *d = &c.d;
    *d = (rt_dnnl_conv_desc){.n = 1, .ih = 17, .iw = 15, .ic = 64, .oc = 96, .kh = k, .kw = k,
                             .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pad_t = k / 2, .pad_l = k / 2,
                             .pad_b = k / 2, .pad_r = k / 2, .act = RT_DNNL_ACT_RELU6,
                             .name = "wide"};
    d->oh = 17, d->ow = 15;
    c.filter = rand_vec(k * k * 64 * 96, -0.2f, 0.2f);
    c.bias = rand_vec(96, -1, 1);
    d->filter = c.filter, d->bias = c.bias;
    snprintf(c.what, sizeof c.what, "wide %dx%d", k, k);
    cr_assert(conv_case_check(&c, 1));
    conv_case_free(&c);
  }
}

/* Weights packed at one shape serve plans at others: brgemm kernels pick their output-channel
 * block from the spatial sizes, so a plan may decline (the portable kernel takes the node), but
 * what it accepts must be right, and the packing shape itself must always be accepted. */
Test(dnnl, plans_at_other_sizes) {
  rng_seed(10);
  conv_case c = {0};
  rt_dnnl_conv_desc *d = &c.d;
  *d = (rt_dnnl_conv_desc){.n = 1, .ih = 9, .iw = 9, .ic = 128, .oc = 128, .kh = 1, .kw = 1,
                           .sh = 1, .sw = 1, .dh = 1, .dw = 1, .act = RT_DNNL_ACT_RELU,
                           .name = "pw"};
  d->oh = d->ow = 9;
  c.filter = rand_vec(128 * 128, -0.1f, 0.1f);
  c.bias = rand_vec(128, -1, 1);
  d->filter = c.filter, d->bias = c.bias;
  rt_graph *g = rt__graph_create("graph-model", "test.json");
  rt_error err = {0};
  rt_dnnl_weights *w;
  cr_assert_eq(rt__dnnl_pack_conv(g, d, &w, &err), RT_OK, "%s", err.msg);
  int accepted = 0;
  for (int64_t n = 1; n <= 3; n += 2)
    for (int64_t h = 5; h <= 29; h += 3) {
      rt_dnnl_conv_desc p = *d;
      p.n = n, p.ih = p.oh = h, p.iw = p.ow = h + 1;
      void *state;
      rt_status st = rt__dnnl_conv_plan(&p, w, 1, &state, &err);
      if (h == 9 && n == 1)
        cr_assert_eq(st, RT_OK, "the packing shape: %s", err.msg);
      if (st == RT_ERR_UNSUPPORTED)
        continue;
      cr_assert_eq(st, RT_OK, "%s", err.msg);
      accepted++;
      int64_t nx = n * h * (h + 1) * 128;
      float *x = rand_vec(nx, -1, 1), *y = rand_vec(nx, 0, 0), *want = malloc((size_t)nx * 4);
      cr_assert_eq(conv_run(state, x, y, &err), RT_OK, "%s", err.msg);
      ref_conv(&p, x, want);
      char what[96];
      snprintf(what, sizeof what, "1x1 n%lld %lldx%lld [%s]", (long long)n, (long long)h,
               (long long)h + 1, rt__dnnl_impl_name(state));
      expect_close(y, want, nx, what);
      rt__dnnl_free(state);
      free(x);
      free(y);
      free(want);
    }
  cr_log_info("packed at 9x9: %d of 18 other shapes on the fast path", accepted);
  rt__graph_destroy(g);
  conv_case_free(&c);
}

/* ---- inner product ---- */

Test(dnnl, matmul_random_shapes) {
  rng_seed(8);
  for (int i = 0; i < 24; i++) {
    rt_dnnl_matmul_desc d = {.k = rng_int(1, 70), .n = rng_int(1, 50), .transpose_w = i % 2,
                             .act = (rt_dnnl_act)(i % (RT_DNNL_ACT_PRELU + 1)),
                             .alpha = rng_float(0.05f, 0.5f), .name = "test_matmul"};
    float *w = rand_vec(d.k * d.n, -0.5f, 0.5f);
    float *bias = d.act != RT_DNNL_ACT_NONE || i % 3 ? rand_vec(d.n, -1, 1) : NULL;
    float *prelu = d.act == RT_DNNL_ACT_PRELU ? rand_vec(d.n, -0.5f, 0.9f) : NULL;
    d.w = w, d.bias = bias, d.prelu_alpha = prelu;
    rt_graph *g = rt__graph_create("graph-model", "test.json");
    rt_error err = {0};
    rt_dnnl_weights *pw;
    d.m = 1; /* packed for one row, planned for several */
    cr_assert_eq(rt__dnnl_pack_matmul(g, &d, &pw, &err), RT_OK, "case %d: %s", i, err.msg);
    cr_assert_geq(g->packed_bytes, (size_t)(d.k * d.n) * 4);
    const int64_t ms[] = {1, 3, 8, 33};
    for (int j = 0; j < 4; j++) {
      d.m = ms[j];
      void *state;
      cr_assert_eq(rt__dnnl_matmul_plan(&d, pw, 1, &state, &err), RT_OK, "case %d m %lld: %s", i,
                   (long long)d.m, err.msg);
      cr_assert(strstr(rt__dnnl_impl_name(state), "ref") == NULL);
      float *x = rand_vec(d.m * d.k, -1, 1), *y = rand_vec(d.m * d.n, 0, 0);
      float *want = malloc((size_t)(d.m * d.n) * 4);
      cr_assert_eq(mm_run(state, x, y, &err), RT_OK, "%s", err.msg);
      ref_matmul(&d, x, want);
      char what[160];
      snprintf(what, sizeof what, "matmul %lldx%lldx%lld%s act %s [%s]", (long long)d.m,
               (long long)d.k, (long long)d.n, d.transpose_w ? " transposed" : "",
               act_name(d.act), rt__dnnl_impl_name(state));
      expect_close(y, want, d.m * d.n, what);
      rt__dnnl_free(state);
      free(x);
      free(y);
      free(want);
    }
    rt__graph_destroy(g);
    free(w);
    free(bias);
    free(prelu);
  }
}

/* ---- one packed weights object, two sessions' plans on two threads at once ---- */

typedef struct shared_ctx {
  const conv_case *conv;
  const rt_dnnl_weights *cw;
  const rt_dnnl_matmul_desc *mm;
  const rt_dnnl_weights *mw;
  int n_threads;
  int failures;
  char msg[1024];
} shared_ctx;

static void *shared_worker(void *arg) {
  shared_ctx *s = arg;
  const rt_dnnl_conv_desc *d = &s->conv->d;
  rt_error err = {0};
  void *cs = NULL, *ms = NULL;
  int64_t nx = d->n * d->ih * d->iw * d->ic, ny = d->n * d->oh * d->ow * d->oc;
  float *x = malloc((size_t)nx * 4), *y = malloc((size_t)ny * 4), *want = malloc((size_t)ny * 4);
  float *mx = malloc((size_t)(s->mm->m * s->mm->k) * 4);
  float *my = malloc((size_t)(s->mm->m * s->mm->n) * 4);
  float *mwant = malloc((size_t)(s->mm->m * s->mm->n) * 4);
  if (rt__dnnl_conv_plan(d, s->cw, s->n_threads, &cs, &err) != RT_OK ||
      rt__dnnl_matmul_plan(s->mm, s->mw, s->n_threads, &ms, &err) != RT_OK) {
    snprintf(s->msg, sizeof s->msg, "plan: %s", err.msg);
    s->failures++;
    goto done;
  }
  for (int it = 0; it < 30; it++) {
    /* Each thread its own inputs (seeded by thread and iteration), one shared weights. */
    uint32_t h = (uint32_t)(it * 2654435761u + (uint32_t)s->n_threads * 40503u);
    for (int64_t i = 0; i < nx; i++)
      x[i] = (float)((int)((h + (uint32_t)i * 2246822519u) >> 20) % 2001 - 1000) / 1000.0f;
    for (int64_t i = 0; i < s->mm->m * s->mm->k; i++)
      mx[i] = (float)((int)((h + (uint32_t)i * 3266489917u) >> 20) % 2001 - 1000) / 1000.0f;
    if (conv_run(cs, x, y, &err) != RT_OK ||
        mm_run(ms, mx, my, &err) != RT_OK) {
      snprintf(s->msg, sizeof s->msg, "run: %s", err.msg);
      s->failures++;
      goto done;
    }
    ref_conv(d, x, want);
    ref_matmul(s->mm, mx, mwant);
    for (int64_t i = 0; i < ny; i++)
      if (fabs((double)y[i] - want[i]) > TOL * fmax(1.0, fabs(want[i]))) {
        snprintf(s->msg, sizeof s->msg, "iteration %d conv element %lld: %g, want %g", it,
                 (long long)i, y[i], want[i]);
        s->failures++;
        goto done;
      }
    for (int64_t i = 0; i < s->mm->m * s->mm->n; i++)
      if (fabs((double)my[i] - mwant[i]) > TOL * fmax(1.0, fabs(mwant[i]))) {
        snprintf(s->msg, sizeof s->msg, "iteration %d matmul element %lld: %g, want %g", it,
                 (long long)i, my[i], mwant[i]);
        s->failures++;
        goto done;
      }
  }
done:
  rt__dnnl_free(cs);
  rt__dnnl_free(ms);
  free(x);
  free(y);
  free(want);
  free(mx);
  free(my);
  free(mwant);
  return NULL;
}

Test(dnnl, shared_weights_two_threads) {
  rng_seed(9);
  conv_case c;
  while (!conv_case_make(&c, false, false, 1, RT_DNNL_ACT_RELU))
    conv_case_free(&c);
  rt_dnnl_matmul_desc mm = {.m = 4, .k = 40, .n = 24, .act = RT_DNNL_ACT_TANH, .name = "mm"};
  float *mw = rand_vec(mm.k * mm.n, -0.5f, 0.5f), *mb = rand_vec(mm.n, -1, 1);
  mm.w = mw, mm.bias = mb;
  rt_graph *g = rt__graph_create("graph-model", "test.json");
  rt_error err = {0};
  rt_dnnl_weights *cw, *pw;
  cr_assert_eq(rt__dnnl_pack_conv(g, &c.d, &cw, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(rt__dnnl_pack_matmul(g, &mm, &pw, &err), RT_OK, "%s", err.msg);
  size_t packed = g->packed_bytes;
  setenv("OMP_WAIT_POLICY", "passive", 1); /* let plans form OpenMP teams (see dnnl.c) */
  /* one thread per session, and a second pair with two intra-op threads each */
  for (int threads = 1; threads <= 2; threads++) {
    shared_ctx ctx[2] = {{.conv = &c, .cw = cw, .mm = &mm, .mw = pw, .n_threads = threads},
                         {.conv = &c, .cw = cw, .mm = &mm, .mw = pw, .n_threads = threads}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
      cr_assert_eq(pthread_create(&th[i], NULL, shared_worker, &ctx[i]), 0);
    for (int i = 0; i < 2; i++)
      pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++)
      cr_assert_eq(ctx[i].failures, 0, "%s: thread %d (%d intra-op): %s", c.what, i, threads,
                   ctx[i].msg);
  }
  cr_assert_eq(g->packed_bytes, packed, "plans must not add packed weights");
  rt__graph_destroy(g);
  conv_case_free(&c);
  free(mw);
  free(mb);
}

/* ---- what the fast path refuses ---- */

static rt_dnnl_conv_desc base_conv(const float *filter) {
  return (rt_dnnl_conv_desc){.n = 1, .ih = 8, .iw = 8, .ic = 4, .oh = 8, .ow = 8, .oc = 8,
                             .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pad_t = 1,
                             .pad_l = 1, .pad_b = 1, .pad_r = 1, .filter = filter,
                             .name = "bad_conv"};
}

Test(dnnl, unsupported_descs) {
  float filter[3 * 3 * 4 * 8] = {0}, bias[8] = {0};
  rt_graph *g = rt__graph_create("graph-model", "test.json");
  rt_error err = {0};
  rt_dnnl_weights *w;
  void *state = (void *)1;

  rt_dnnl_conv_desc d = base_conv(filter);
  d.depthwise = d.transposed = true;
  cr_assert_eq(rt__dnnl_pack_conv(g, &d, &w, &err), RT_ERR_UNSUPPORTED);
  cr_assert(strstr(err.msg, "bad_conv"), "message names the node: %s", err.msg);
  cr_assert_null(w);

  d = base_conv(filter); /* depthwise whose channels are not a multiple of the input's */
  d.depthwise = true, d.oc = 6;
  cr_assert_eq(rt__dnnl_pack_conv(g, &d, &w, &err), RT_ERR_UNSUPPORTED);

  d = base_conv(filter); /* PReLU without alphas */
  d.act = RT_DNNL_ACT_PRELU, d.bias = bias;
  cr_assert_eq(rt__dnnl_pack_conv(g, &d, &w, &err), RT_ERR_UNSUPPORTED);

  d = base_conv(filter);
  d.act = (rt_dnnl_act)42;
  cr_assert_eq(rt__dnnl_pack_conv(g, &d, &w, &err), RT_ERR_UNSUPPORTED);

  d = base_conv(NULL);
  cr_assert_eq(rt__dnnl_pack_conv(g, &d, &w, &err), RT_ERR_UNSUPPORTED);

  d = base_conv(filter);
  d.kh = 0;
  cr_assert_eq(rt__dnnl_pack_conv(g, &d, &w, &err), RT_ERR_UNSUPPORTED);

  /* A good packing, then plans it cannot serve. */
  d = base_conv(filter);
  cr_assert_eq(rt__dnnl_pack_conv(g, &d, &w, &err), RT_OK, "%s", err.msg);
  rt_dnnl_conv_desc p = d;
  p.n = 0; /* empty batch: the portable kernel handles it */
  cr_assert_eq(rt__dnnl_conv_plan(&p, w, 1, &state, &err), RT_ERR_UNSUPPORTED);
  cr_assert_null(state);
  p = d;
  p.oh = 3; /* not what a 3x3 SAME conv of 8 rows gives */
  cr_assert_eq(rt__dnnl_conv_plan(&p, w, 1, &state, &err), RT_ERR_UNSUPPORTED);
  p = d;
  p.ih = p.iw = (int64_t)1 << 40;
  cr_assert_eq(rt__dnnl_conv_plan(&p, w, 1, &state, &err), RT_ERR_UNSUPPORTED);
  p = d;
  p.kh = 5; /* a different node's shape against these weights is a caller bug */
  cr_assert_eq(rt__dnnl_conv_plan(&p, w, 1, &state, &err), RT_ERR_INVALID_ARG);
  p = d;
  p.transposed = true;
  cr_assert_eq(rt__dnnl_conv_plan(&p, w, 1, &state, &err), RT_ERR_INVALID_ARG);
  cr_assert_eq(rt__dnnl_conv_plan(&d, NULL, 1, &state, &err), RT_ERR_INVALID_ARG);
  cr_assert_eq(conv_run(NULL, filter, filter, &err), RT_ERR_STATE);

  rt_dnnl_matmul_desc m = {.m = 2, .k = 4, .n = 8, .w = filter, .act = RT_DNNL_ACT_PRELU,
                           .bias = bias, .name = "bad_mm"};
  cr_assert_eq(rt__dnnl_pack_matmul(g, &m, &w, &err), RT_ERR_UNSUPPORTED); /* no alphas */
  m.act = RT_DNNL_ACT_NONE;
  m.k = 0;
  cr_assert_eq(rt__dnnl_pack_matmul(g, &m, &w, &err), RT_ERR_UNSUPPORTED);
  m.k = 4;
  m.w = NULL;
  cr_assert_eq(rt__dnnl_pack_matmul(g, &m, &w, &err), RT_ERR_UNSUPPORTED);
  m.w = filter;
  cr_assert_eq(rt__dnnl_pack_matmul(g, &m, &w, &err), RT_OK, "%s", err.msg);
  m.m = 0;
  cr_assert_eq(rt__dnnl_matmul_plan(&m, w, 1, &state, &err), RT_ERR_UNSUPPORTED);
  m.m = 2, m.n = 9;
  cr_assert_eq(rt__dnnl_matmul_plan(&m, w, 1, &state, &err), RT_ERR_INVALID_ARG);
  rt__dnnl_free(NULL);
  rt__graph_destroy(g);
}

#endif /* ORCHARD_HAVE_DNNL */
