/*
 * dnnl.c — the oneDNN fast path behind the nn ops: NHWC convolution (dense, depthwise as
 * groups, transposed) and inner product, with bias and activation fused as post-ops.
 *
 * Weights: rt__dnnl_pack_*() asks oneDNN which weights layout its kernel wants (a primitive
 * desc with `any` weights at the geometry it is given: a convolution's first real plan, since
 * the layout oneDNN picks for a 96x96 map can leave only its reference kernel at 6x6),
 * reorders the TF-layout filter into it in
 * the graph pool and keeps that memory desc beside the bytes. Bias and PReLU alphas are copied
 * too and the activation recorded, so a rt_dnnl_weights is self-contained, immutable and read
 * by every session at once. It holds plain data only: the pool frees it with the graph.
 * Plans: rt__dnnl_*_plan() builds the primitive for one plan's exact shapes with the weights
 * desc fixed to the packed one. A reference implementation is refused (RT_ERR_UNSUPPORTED):
 * the portable C kernels are faster than oneDNN's ref ones. The state owns its primitive,
 * stream and memory objects; its scratchpad (user mode) is the step's scratch in the session
 * arena, so run() only points the scratchpad, source and
 * destination at the arena and executes: nothing is allocated per inference.
 * Threads: Debian's oneDNN uses OpenMP. Each thread that enters a parallel region gets its own
 * team and its own thread-count ICV, so plan() and run() set omp_set_num_threads() on the
 * calling thread: jit kernels fix their thread count when the primitive desc is made (oneDNN's
 * primitive cache keys on it) and read it again when they run. Teams are used only when the
 * environment sets libgomp's wait policy (dn_team_allowed); packing always runs on one thread.
 * Numerics: results follow the order oneDNN's kernel sums in. Its AVX-512 brgemm kernels add
 * the products of each output in (kh, kw, ic) order with FMA, as TF.js does, and reproduce the
 * portable kernels' bits on most models; its AVX2 kernels sum channel blocks first and agree to
 * rounding only (see rt__dnnl_preferred). oneDNN's dims are NCHW-ordered logical dims whatever
 * the memory layout.
 */
#include "dnnl.h"

#include <oneapi/dnnl/dnnl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#define DN_OMP 1
#endif

#define DN_DIM_MAX ((int64_t)INT_MAX / 4) /* oneDNN's kernels index with int */
#define DN_MAX_ARGS 8

typedef enum dn_kind { DN_CONV, DN_DECONV, DN_IP } dn_kind;

struct rt_dnnl_weights {
  dn_kind kind;
  /* what the packing was for; a plan must agree */
  int64_t ic, oc, kh, kw, sh, sw, dh, dw; /* IP: ic = k, oc = n, the rest 1 */
  bool depthwise;
  rt_dnnl_act act;
  float alpha;
  dnnl_memory_desc_t md; /* the packed layout oneDNN picked */
  void *data;            /* md's bytes, in the graph pool */
  float *bias;           /* [oc] or NULL */
  float *prelu;          /* [oc] for RT_DNNL_ACT_PRELU */
};

typedef struct dn_state {
  dnnl_primitive_t prim;
  dnnl_stream_t stream;
  dnnl_memory_t src, dst, mems[DN_MAX_ARGS]; /* mems: owned weights/bias/prelu/scratchpad */
  int n_mems;
  dnnl_exec_arg_t args[DN_MAX_ARGS];
  int n_args;
  dnnl_memory_t scratch; /* the scratchpad, pointed at the caller's scratch on every run */
  size_t scratch_bytes;
  const float *prelu; /* applied after the primitive: [ch] alphas */
  int64_t rows, ch;   /* dst as rows of ch channels (channels are innermost) */
  int n_threads;
  char impl[64];
} dn_state;

/* ---- engine and threads ---- */

static pthread_once_t dn_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t dn_engine;

static void dn_init(void) {
  if (dnnl_engine_create(&dn_engine, dnnl_cpu, 0) != dnnl_success)
    dn_engine = NULL;
}

bool rt__dnnl_available(void) {
  pthread_once(&dn_once, dn_init);
  return dn_engine != NULL;
}

/* Sets the calling thread's OpenMP thread count; returns the previous one. */
static int dn_set_threads(int n) {
#ifdef DN_OMP
  int old = omp_get_max_threads();
  if (old != n)
    omp_set_num_threads(n);
  return old;
#else
  (void)n;
  return 1;
#endif
}

/* Whether plans may give oneDNN an OpenMP team. libgomp's default wait policy keeps idle team
 * threads spinning after every parallel region; between our kernels they take the cores the
 * session's own pool runs the portable ops on, and on a loaded or quota-limited CPU a team waits
 * a whole timeslice for a descheduled member (measured 3-15x slower than one thread at 2 intra-op
 * threads on a busy 2-core machine; OMP_WAIT_POLICY=passive ran faster than one thread). libgomp
 * reads the policy once at process start, so only the environment can choose it: when
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT is set we follow it, otherwise oneDNN runs on the session's
 * thread alone and the session's pool still parallelizes the portable kernels. */
static bool dn_team_allowed(void) {
  const char *w = getenv("OMP_WAIT_POLICY"), *s = getenv("GOMP_SPINCOUNT");
  return (w && *w) || (s && *s);
}

bool rt__dnnl_preferred(void) {
  /* AVX-512 brgemm kernels accumulate each output over (kh, kw, ic) in order with FMA, TF.js's
   * order, so they match the portable kernels bit for bit on most models; AVX2's jit kernels sum
   * channel blocks first, which moves blazepose's segmentation past the 1e-3 tolerance. */
  if (!rt__dnnl_available())
    return false;
  unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
  return (isa & (unsigned)dnnl_cpu_isa_avx512_core) == (unsigned)dnnl_cpu_isa_avx512_core;
}

static const char *dn_name(const char *name) { return name ? name : "?"; }

/* oneDNN's own words for its status. */
static const char *dn_str(dnnl_status_t s) {
  switch (s) {
  case dnnl_success: return "success";
  case dnnl_out_of_memory: return "out of memory";
  case dnnl_invalid_arguments: return "invalid arguments";
  case dnnl_unimplemented: return "unimplemented";
  case dnnl_iterator_ends: return "no implementation";
  case dnnl_runtime_error: return "runtime error";
  case dnnl_not_required: return "not required";
  default: return "error";
  }
}

static rt_status dn_fail(rt_error *err, const char *name, const char *what, dnnl_status_t s) {
  return rt__errorf(err, s == dnnl_out_of_memory ? RT_ERR_NOMEM : RT_ERR_UNSUPPORTED,
                    "node '%s': oneDNN %s failed (%s)", name, what, dn_str(s));
}

/* ---- attributes: post-ops and scratchpad ---- */

static bool dn_act_eltwise(rt_dnnl_act act, float alpha, dnnl_alg_kind_t *alg, float *a,
                           float *b) {
  *a = 0.0f, *b = 0.0f;
  switch (act) {
  case RT_DNNL_ACT_RELU: *alg = dnnl_eltwise_relu; return true;
  case RT_DNNL_ACT_RELU6: *alg = dnnl_eltwise_clip, *b = 6.0f; return true;
  case RT_DNNL_ACT_ELU: *alg = dnnl_eltwise_elu, *a = 1.0f; return true; /* TF: exp(x) - 1 */
  case RT_DNNL_ACT_SIGMOID: *alg = dnnl_eltwise_logistic; return true;
  case RT_DNNL_ACT_TANH: *alg = dnnl_eltwise_tanh; return true;
  case RT_DNNL_ACT_LEAKY_RELU: *alg = dnnl_eltwise_relu, *a = alpha; return true;
  default: return false;
  }
}

/* The primitive attr for an activation and a user scratchpad when `user_scratch`. oneDNN 2.x
 * has a prelu post-op but only its reference convolution takes it, so PReLU is left out here
 * and applied by dn_run() after the jit kernel. */
static dnnl_status_t dn_attr(rt_dnnl_act act, float alpha, bool user_scratch,
                             dnnl_primitive_attr_t *out) {
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t po = NULL;
  dnnl_status_t s = dnnl_primitive_attr_create(&attr);
  if (s != dnnl_success)
    return s;
  if (user_scratch &&
      (s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) !=
          dnnl_success)
    goto done;
  if (act != RT_DNNL_ACT_NONE && act != RT_DNNL_ACT_PRELU) {
    dnnl_alg_kind_t alg;
    float a, b;
    if ((s = dnnl_post_ops_create(&po)) != dnnl_success)
      goto done;
    if (dn_act_eltwise(act, alpha, &alg, &a, &b))
      s = dnnl_post_ops_append_eltwise(po, 1.0f, alg, a, b);
    else
      s = dnnl_invalid_arguments;
    if (s != dnnl_success || (s = dnnl_primitive_attr_set_post_ops(attr, po)) != dnnl_success)
      goto done;
  }
done:
  if (po)
    dnnl_post_ops_destroy(po);
  if (s != dnnl_success) {
    dnnl_primitive_attr_destroy(attr);
    attr = NULL;
  }
  *out = attr;
  return s;
}

static const char *dn_impl(const_dnnl_primitive_desc_t pd) {
  const char *impl = NULL;
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
      !impl)
    return "?";
  return impl;
}

/* oneDNN's reference kernels are naive loops, slower than our portable ones. */
static bool dn_is_ref(const char *impl) { return strstr(impl, "ref") != NULL; }

/* ---- convolution descs ---- */

typedef union dn_op_desc {
  dnnl_convolution_desc_t conv;
  dnnl_deconvolution_desc_t deconv;
  dnnl_inner_product_desc_t ip;
} dn_op_desc;

static bool dn_dim_ok(int64_t v) { return v >= 1 && v <= DN_DIM_MAX; }

/* Everything oneDNN or our mapping cannot take, as RT_ERR_UNSUPPORTED (the caller keeps the
 * portable kernel). Shapes are checked by the caller's shape(); these are the fast path's own
 * limits: non-empty, int-sized, consistent with the forward conv's output size. */
static rt_status dn_conv_check(const rt_dnnl_conv_desc *d, bool with_spatial, rt_error *err) {
  const char *nm = dn_name(d->name);
  if (!rt__dnnl_available())
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s': oneDNN has no CPU engine", nm);
  if (d->depthwise && d->transposed)
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': oneDNN path has no depthwise transposed convolution", nm);
  if (!dn_dim_ok(d->ic) || !dn_dim_ok(d->oc) || !dn_dim_ok(d->kh) || !dn_dim_ok(d->kw) ||
      !dn_dim_ok(d->sh) || !dn_dim_ok(d->sw) || !dn_dim_ok(d->dh) || !dn_dim_ok(d->dw))
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': channels, window, strides or dilations out of oneDNN's range",
                      nm);
  if (d->depthwise && d->oc % d->ic != 0)
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': depthwise output channels %lld are not a multiple of %lld", nm,
                      (long long)d->oc, (long long)d->ic);
  if ((unsigned)d->act > (unsigned)RT_DNNL_ACT_PRELU)
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s': unknown activation %d", nm,
                      (int)d->act);
  if (!with_spatial)
    return RT_OK;
  if (!dn_dim_ok(d->n) || !dn_dim_ok(d->ih) || !dn_dim_ok(d->iw) || !dn_dim_ok(d->oh) ||
      !dn_dim_ok(d->ow) || d->n * d->ih * d->iw * d->ic > DN_DIM_MAX ||
      d->n * d->oh * d->ow * d->oc > DN_DIM_MAX)
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': empty or too large a tensor for oneDNN (%lldx%lldx%lldx%lld "
                      "-> %lldx%lldx%lldx%lld)",
                      nm, (long long)d->n, (long long)d->ih, (long long)d->iw, (long long)d->ic,
                      (long long)d->n, (long long)d->oh, (long long)d->ow, (long long)d->oc);
  if (d->pad_t < 0 || d->pad_l < 0 || d->pad_t > DN_DIM_MAX || d->pad_l > DN_DIM_MAX)
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s': negative or huge padding", nm);
  return RT_OK;
}

/* oneDNN's padding after the data for one axis: what makes its output-size formula
 * (big - keff + before + after) / s + 1 == small hold, where big is the forward conv's input
 * (dx for a transposed conv). Only the output size and the padding before decide which input
 * each output reads, so the caller's pad_b / pad_r need not be TF's; false when no padding
 * >= 0 fits (then the geometry is not a TF conv). */
static bool dn_pad_after(int64_t big, int64_t small, int64_t k, int64_t s, int64_t dil,
                         int64_t before, int64_t *after) {
  int64_t keff = (k - 1) * dil + 1;
  int64_t need = (small - 1) * s + keff - big - before;
  if (need + s - 1 < 0)
    return false;
  *after = need < 0 ? 0 : need;
  return true;
}

/* The op desc for d's shapes, weights `wmd` (NULL: any). */
static rt_status dn_conv_op_desc(const rt_dnnl_conv_desc *d, const dnnl_memory_desc_t *wmd,
                                 bool bias, dn_op_desc *od, rt_error *err) {
  const char *nm = dn_name(d->name);
  dnnl_memory_desc_t src, dst, wany, bmd;
  dnnl_dims_t sd = {d->n, d->ic, d->ih, d->iw}, dd = {d->n, d->oc, d->oh, d->ow};
  dnnl_dims_t strides = {d->sh, d->sw}, dil = {d->dh - 1, d->dw - 1};
  dnnl_dims_t pl = {d->pad_t, d->pad_l}, pr = {0, 0};
  bool ok = d->transposed
                ? dn_pad_after(d->oh, d->ih, d->kh, d->sh, d->dh, d->pad_t, &pr[0]) &&
                      dn_pad_after(d->ow, d->iw, d->kw, d->sw, d->dw, d->pad_l, &pr[1])
                : dn_pad_after(d->ih, d->oh, d->kh, d->sh, d->dh, d->pad_t, &pr[0]) &&
                      dn_pad_after(d->iw, d->ow, d->kw, d->sw, d->dw, d->pad_l, &pr[1]);
  if (!ok)
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': output %lldx%lld does not follow from input %lldx%lld, the "
                      "window, strides and padding",
                      nm, (long long)d->oh, (long long)d->ow, (long long)d->ih, (long long)d->iw);
  dnnl_status_t s;
  if ((s = dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_f32, dnnl_nhwc)) != dnnl_success ||
      (s = dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, dnnl_nhwc)) != dnnl_success)
    return dn_fail(err, nm, "memory desc", s);
  if (!wmd) {
    if (d->depthwise) {
      dnnl_dims_t wd = {d->ic, d->oc / d->ic, 1, d->kh, d->kw};
      s = dnnl_memory_desc_init_by_tag(&wany, 5, wd, dnnl_f32, dnnl_format_tag_any);
    } else {
      dnnl_dims_t wd = {d->oc, d->ic, d->kh, d->kw};
      s = dnnl_memory_desc_init_by_tag(&wany, 4, wd, dnnl_f32, dnnl_format_tag_any);
    }
    if (s != dnnl_success)
      return dn_fail(err, nm, "weights desc", s);
    wmd = &wany;
  }
  if (bias) {
    dnnl_dims_t bd = {d->oc};
    if ((s = dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_a)) != dnnl_success)
      return dn_fail(err, nm, "bias desc", s);
  }
  if (d->transposed)
    s = dnnl_dilated_deconvolution_forward_desc_init(
        &od->deconv, dnnl_forward_inference, dnnl_deconvolution_direct, &src, wmd,
        bias ? &bmd : NULL, &dst, strides, dil, pl, pr);
  else
    s = dnnl_dilated_convolution_forward_desc_init(&od->conv, dnnl_forward_inference,
                                                   dnnl_convolution_direct, &src, wmd,
                                                   bias ? &bmd : NULL, &dst, strides, dil, pl,
                                                   pr);
  if (s != dnnl_success)
    return dn_fail(err, nm, d->transposed ? "deconvolution desc" : "convolution desc", s);
  return RT_OK;
}

/* The filter as model.json lays it out, described to oneDNN by strides over its logical dims:
 * conv [kh,kw,ic,oc] as (oc, ic, kh, kw); depthwise [kh,kw,ic,mult] as (g=ic, mult, 1, kh, kw);
 * transposed [kh,kw,oc,ic] as (oc, ic, kh, kw) with oc the result's channels. */
static dnnl_status_t dn_filter_md(const rt_dnnl_conv_desc *d, dnnl_memory_desc_t *md) {
  int64_t kh = d->kh, kw = d->kw, ic = d->ic, oc = d->oc;
  if (d->depthwise) {
    int64_t m = oc / ic;
    dnnl_dims_t dims = {ic, m, 1, kh, kw}, st = {m, 1, 1, kw * ic * m, ic * m};
    return dnnl_memory_desc_init_by_strides(md, 5, dims, dnnl_f32, st);
  }
  dnnl_dims_t dims = {oc, ic, kh, kw};
  dnnl_dims_t st = {1, oc, kw * ic * oc, ic * oc};
  if (d->transposed)
    st[0] = ic, st[1] = 1;
  return dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, st);
}

/* A shape that exercises the kernel as a real plan would, for packing when the caller's
 * spatial sizes are not known yet: 16x16 outputs, no padding. */
static void dn_conv_representative(const rt_dnnl_conv_desc *d, rt_dnnl_conv_desc *r) {
  *r = *d;
  if (dn_conv_check(d, true, NULL) == RT_OK)
    return;
  r->n = 1;
  r->pad_t = r->pad_l = r->pad_b = r->pad_r = 0;
  int64_t kh = (d->kh - 1) * d->dh + 1, kw = (d->kw - 1) * d->dw + 1;
  if (d->transposed) {
    r->ih = r->iw = 16;
    r->oh = 15 * d->sh + kh, r->ow = 15 * d->sw + kw;
  } else {
    r->oh = r->ow = 16;
    r->ih = 15 * d->sh + kh, r->iw = 15 * d->sw + kw;
  }
}

/* ---- packing ---- */

/* Copies the tensor `src` laid out as `from` (the model's layout) into new pool memory laid out
 * as `to`, and counts it in g->packed_bytes. */
static rt_status dn_reorder_into(rt_graph *g, const char *nm, const dnnl_memory_desc_t *from,
                                 const void *src, const dnnl_memory_desc_t *to, void **out,
                                 rt_error *err) {
  size_t bytes = dnnl_memory_desc_get_size(to);
  void *dst = bytes ? rt__pool_alloc(g->pool, bytes) : NULL;
  if (!dst)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory packing weights", nm);
  dnnl_memory_t ms = NULL, md = NULL;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t prim = NULL;
  dnnl_stream_t stream = NULL;
  dnnl_status_t s;
  if ((s = dnnl_memory_create(&ms, from, dn_engine, (void *)src)) != dnnl_success ||
      (s = dnnl_memory_create(&md, to, dn_engine, dst)) != dnnl_success ||
      (s = dnnl_reorder_primitive_desc_create(&pd, from, dn_engine, to, dn_engine, NULL)) !=
          dnnl_success ||
      (s = dnnl_primitive_create(&prim, pd)) != dnnl_success ||
      (s = dnnl_stream_create(&stream, dn_engine, dnnl_stream_default_flags)) != dnnl_success)
    goto done;
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
  if ((s = dnnl_primitive_execute(prim, stream, 2, args)) == dnnl_success)
    s = dnnl_stream_wait(stream);
done:
  dnnl_stream_destroy(stream);
  dnnl_primitive_destroy(prim);
  dnnl_primitive_desc_destroy(pd);
  dnnl_memory_destroy(md);
  dnnl_memory_destroy(ms);
  if (s != dnnl_success)
    return dn_fail(err, nm, "weights reorder", s);
  g->packed_bytes += bytes;
  *out = dst;
  return RT_OK;
}

static rt_status dn_copy_vec(rt_graph *g, const char *nm, const float *v, int64_t n, float **out,
                             rt_error *err) {
  *out = NULL;
  if (!v)
    return RT_OK;
  size_t bytes = (size_t)n * sizeof(float);
  if (!(*out = rt__pool_alloc(g->pool, bytes)))
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory packing weights", nm);
  memcpy(*out, v, bytes);
  g->packed_bytes += bytes;
  return RT_OK;
}

/* Creates the primitive desc of op desc `od` with w's attributes; refuses reference kernels. */
static rt_status dn_pd(const char *nm, const dn_op_desc *od, rt_dnnl_act act, float alpha,
                       bool user_scratch, dnnl_primitive_desc_t *out, rt_error *err) {
  dnnl_primitive_attr_t attr;
  dnnl_status_t s = dn_attr(act, alpha, user_scratch, &attr);
  if (s != dnnl_success)
    return dn_fail(err, nm, "post-ops", s);
  s = dnnl_primitive_desc_create(out, od, attr, dn_engine, NULL);
  dnnl_primitive_attr_destroy(attr);
  if (s != dnnl_success) {
    *out = NULL;
    return dn_fail(err, nm, "primitive desc", s);
  }
  const char *impl = dn_impl(*out);
  if (dn_is_ref(impl)) {
    rt_status st = rt__errorf(err, RT_ERR_UNSUPPORTED,
                              "node '%s': oneDNN has only its reference kernel (%s) here", nm,
                              impl);
    dnnl_primitive_desc_destroy(*out);
    *out = NULL;
    return st;
  }
  return RT_OK;
}

/* Fills the parts of w shared by conv and matmul and packs the filter. */
static rt_status dn_pack_common(rt_graph *g, const char *nm, const dn_op_desc *od,
                                const dnnl_memory_desc_t *user_md, const void *filter,
                                const float *bias, const float *prelu, rt_dnnl_weights *w,
                                rt_error *err) {
  dnnl_primitive_desc_t pd;
  rt_status st = dn_pd(nm, od, w->act, w->alpha, false, &pd, err);
  if (st != RT_OK)
    return st;
  const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  if (!wmd) {
    dnnl_primitive_desc_destroy(pd);
    return rt__errorf(err, RT_ERR_INTERNAL, "node '%s': oneDNN gave no weights layout", nm);
  }
  w->md = *wmd;
  dnnl_primitive_desc_destroy(pd);
  if ((st = dn_reorder_into(g, nm, user_md, filter, &w->md, &w->data, err)) != RT_OK ||
      (st = dn_copy_vec(g, nm, bias, w->oc, &w->bias, err)) != RT_OK ||
      (st = dn_copy_vec(g, nm, w->act == RT_DNNL_ACT_PRELU ? prelu : NULL, w->oc, &w->prelu,
                        err)) != RT_OK)
    return st;
  return RT_OK;
}

static rt_status dn_pack_conv(rt_graph *g, const rt_dnnl_conv_desc *d, rt_dnnl_weights **out,
                              rt_error *err) {
  const char *nm = dn_name(d->name);
  rt_status st = dn_conv_check(d, false, err);
  if (st != RT_OK)
    return st;
  if (!d->filter || (d->act == RT_DNNL_ACT_PRELU && !d->prelu_alpha))
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s': no filter%s to pack", nm,
                      d->filter ? " PReLU alpha" : "");
  rt_dnnl_conv_desc r;
  dn_conv_representative(d, &r);
  if ((st = dn_conv_check(&r, true, err)) != RT_OK)
    return st;
  dn_op_desc od;
  dnnl_memory_desc_t user;
  dnnl_status_t s = dn_filter_md(d, &user);
  if (s != dnnl_success)
    return dn_fail(err, nm, "filter desc", s);
  if ((st = dn_conv_op_desc(&r, NULL, d->bias != NULL, &od, err)) != RT_OK)
    return st;
  rt_dnnl_weights *w = rt__pool_alloc(g->pool, sizeof *w);
  if (!w)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory packing weights", nm);
  *w = (rt_dnnl_weights){.kind = d->transposed ? DN_DECONV : DN_CONV,
                         .ic = d->ic, .oc = d->oc, .kh = d->kh, .kw = d->kw,
                         .sh = d->sh, .sw = d->sw, .dh = d->dh, .dw = d->dw,
                         .depthwise = d->depthwise, .act = d->act, .alpha = d->alpha};
  if ((st = dn_pack_common(g, nm, &od, &user, d->filter, d->bias, d->prelu_alpha, w, err)) !=
      RT_OK)
    return st;
  g->packed_bytes += sizeof *w;
  *out = w;
  return RT_OK;
}

/* Packing runs on one thread (OpenMP's count is fixed when a primitive is created, so it is set
 * around the whole packing): a reorder is short and memory-bound, a model may load while
 * sessions run, and an OpenMP team on a busy CPU waits for its slowest thread's timeslice
 * and then spins. */
rt_status rt__dnnl_pack_conv(rt_graph *g, const rt_dnnl_conv_desc *d, rt_dnnl_weights **out,
                             rt_error *err) {
  *out = NULL;
  int old = dn_set_threads(1);
  rt_status st = dn_pack_conv(g, d, out, err);
  dn_set_threads(old);
  return st;
}

/* ---- plans ---- */

void rt__dnnl_free(void *state) {
  dn_state *st = state;
  if (!st)
    return;
  for (int i = 0; i < st->n_mems; i++)
    dnnl_memory_destroy(st->mems[i]);
  dnnl_memory_destroy(st->src);
  dnnl_memory_destroy(st->dst);
  dnnl_stream_destroy(st->stream);
  dnnl_primitive_destroy(st->prim); /* st->scratch is one of st->mems */
  free(st);
}

const char *rt__dnnl_impl_name(const void *state) {
  return state ? ((const dn_state *)state)->impl : "";
}

size_t rt__dnnl_state_bytes(const void *state) {
  return state ? ((const dn_state *)state)->scratch_bytes : 0;
}

/* Adds an execution argument backed by a new memory object the state owns. */
static dnnl_status_t dn_arg(dn_state *st, int arg, const dnnl_memory_desc_t *md, void *data) {
  dnnl_memory_t m;
  dnnl_status_t s = dnnl_memory_create(&m, md, dn_engine, data);
  if (s != dnnl_success)
    return s;
  st->mems[st->n_mems++] = m;
  st->args[st->n_args++] = (dnnl_exec_arg_t){arg, m};
  return dnnl_success;
}

/* The state for primitive desc pd (consumed) with w's weights, bias and PReLU alphas. */
static rt_status dn_state_make(const char *nm, dnnl_primitive_desc_t pd, const rt_dnnl_weights *w,
                               int n_threads, void **out, rt_error *err) {
  dn_state *st = calloc(1, sizeof *st);
  if (!st) {
    dnnl_primitive_desc_destroy(pd);
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", nm);
  }
  st->n_threads = n_threads;
  snprintf(st->impl, sizeof st->impl, "%s", dn_impl(pd));
  const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
  const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
  const dnnl_memory_desc_t *bmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
  const dnnl_memory_desc_t *spmd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  dnnl_status_t s = dnnl_success;
  const char *what = "memory";
  if (!smd || !dmd || (w->bias && !bmd)) {
    s = dnnl_runtime_error;
    goto done;
  }
  /* The const casts: oneDNN memory objects take void *, but weights are only read. */
  if ((s = dnnl_memory_create(&st->src, smd, dn_engine, DNNL_MEMORY_NONE)) != dnnl_success ||
      (s = dnnl_memory_create(&st->dst, dmd, dn_engine, DNNL_MEMORY_NONE)) != dnnl_success ||
      (s = dn_arg(st, DNNL_ARG_WEIGHTS, &w->md, w->data)) != dnnl_success ||
      (w->bias && (s = dn_arg(st, DNNL_ARG_BIAS, bmd, w->bias)) != dnnl_success))
    goto done;
  st->args[st->n_args++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, st->src};
  st->args[st->n_args++] = (dnnl_exec_arg_t){DNNL_ARG_DST, st->dst};
  if (w->act == RT_DNNL_ACT_PRELU) {
    st->prelu = w->prelu;
    st->ch = w->oc;
    st->rows = 1;
    for (int i = 0; i < dmd->ndims; i++)
      st->rows *= i == 1 ? 1 : dmd->dims[i];
  }
  st->scratch_bytes = spmd ? dnnl_memory_desc_get_size(spmd) : 0;
  if (st->scratch_bytes) {
    /* The bytes are the step's scratch in the session arena (run's argument): shared with
     * every other step's, instead of one buffer per primitive per worker. */
    if ((s = dn_arg(st, DNNL_ARG_SCRATCHPAD, spmd, DNNL_MEMORY_NONE)) != dnnl_success)
      goto done;
    st->scratch = st->mems[st->n_mems - 1];
  }
  what = "primitive";
  if ((s = dnnl_primitive_create(&st->prim, pd)) != dnnl_success)
    goto done;
  what = "stream";
  s = dnnl_stream_create(&st->stream, dn_engine, dnnl_stream_default_flags);
done:
  dnnl_primitive_desc_destroy(pd);
  if (s != dnnl_success) {
    rt__dnnl_free(st);
    return dn_fail(err, nm, what, s);
  }
  *out = st;
  return RT_OK;
}

static rt_status dn_mismatch(rt_error *err, const char *nm) {
  return rt__errorf(err, RT_ERR_INVALID_ARG,
                    "node '%s': plan does not match the packed weights (channels, window, "
                    "strides, dilations or kind)",
                    nm);
}

rt_status rt__dnnl_conv_plan(const rt_dnnl_conv_desc *d, const rt_dnnl_weights *w,
                             int n_threads, void **state, rt_error *err) {
  *state = NULL;
  const char *nm = dn_name(d->name);
  rt_status st = dn_conv_check(d, true, err);
  if (st != RT_OK)
    return st;
  if (!w || w->kind != (d->transposed ? DN_DECONV : DN_CONV) || w->ic != d->ic ||
      w->oc != d->oc || w->kh != d->kh || w->kw != d->kw || w->sh != d->sh || w->sw != d->sw ||
      w->dh != d->dh || w->dw != d->dw || w->depthwise != d->depthwise)
    return dn_mismatch(err, nm);
  n_threads = n_threads > 1 && dn_team_allowed() ? n_threads : 1;
  dn_set_threads(n_threads);
  dn_op_desc od;
  dnnl_primitive_desc_t pd;
  if ((st = dn_conv_op_desc(d, &w->md, w->bias != NULL, &od, err)) != RT_OK ||
      (st = dn_pd(nm, &od, w->act, w->alpha, true, &pd, err)) != RT_OK)
    return st;
  return dn_state_make(nm, pd, w, n_threads, state, err);
}

/* TF.js's prelu: x < 0 ? alpha * x : x, one float32 product as JS rounds it. */
static void dn_prelu(float *restrict y, const float *restrict alpha, int64_t rows, int64_t ch) {
  for (int64_t r = 0; r < rows; r++, y += ch)
    for (int64_t c = 0; c < ch; c++)
      y[c] = y[c] < 0.0f ? alpha[c] * y[c] : y[c];
}

static rt_status dn_run(void *state, const float *x, float *y, void *scratch, rt_error *err) {
  dn_state *st = state;
  if (!st)
    return rt__errorf(err, RT_ERR_STATE, "oneDNN kernel run without a plan");
  if (st->scratch_bytes && !scratch)
    return rt__errorf(err, RT_ERR_STATE, "oneDNN kernel run without its %zu bytes of scratchpad",
                      st->scratch_bytes);
  dn_set_threads(st->n_threads);
  dnnl_status_t s;
  if ((st->scratch && (s = dnnl_memory_set_data_handle(st->scratch, scratch)) != dnnl_success) ||
      (s = dnnl_memory_set_data_handle(st->src, (void *)x)) != dnnl_success ||
      (s = dnnl_memory_set_data_handle(st->dst, y)) != dnnl_success ||
      (s = dnnl_primitive_execute(st->prim, st->stream, st->n_args, st->args)) != dnnl_success ||
      (s = dnnl_stream_wait(st->stream)) != dnnl_success)
    return rt__errorf(err, RT_ERR_INTERNAL, "oneDNN %s kernel failed (%s)", st->impl, dn_str(s));
  if (st->prelu)
    dn_prelu(y, st->prelu, st->rows, st->ch);
  return RT_OK;
}

rt_status rt__dnnl_conv_run(void *state, const float *x, float *y, void *scratch, rt_error *err) {
  return dn_run(state, x, y, scratch, err);
}

/* ---- inner product ---- */

static rt_status dn_mm_check(const rt_dnnl_matmul_desc *d, bool with_m, rt_error *err) {
  const char *nm = dn_name(d->name);
  if (!rt__dnnl_available())
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s': oneDNN has no CPU engine", nm);
  if (!dn_dim_ok(d->k) || !dn_dim_ok(d->n) || (with_m && !dn_dim_ok(d->m)) ||
      d->k * d->n > DN_DIM_MAX || (with_m && (d->m * d->k > DN_DIM_MAX || d->m * d->n > DN_DIM_MAX)))
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s': matmul %lldx%lldx%lld is empty or too large for oneDNN", nm,
                      (long long)d->m, (long long)d->k, (long long)d->n);
  if ((unsigned)d->act > (unsigned)RT_DNNL_ACT_PRELU)
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s': unknown activation %d", nm,
                      (int)d->act);
  return RT_OK;
}

static rt_status dn_mm_op_desc(const rt_dnnl_matmul_desc *d, int64_t m,
                               const dnnl_memory_desc_t *wmd, bool bias, dn_op_desc *od,
                               rt_error *err) {
  const char *nm = dn_name(d->name);
  dnnl_memory_desc_t src, dst, wany, bmd;
  dnnl_dims_t sd = {m, d->k}, dd = {m, d->n}, wd = {d->n, d->k}, bd = {d->n};
  dnnl_status_t s;
  if ((s = dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_f32, dnnl_ab)) != dnnl_success ||
      (s = dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab)) != dnnl_success ||
      (!wmd && (s = dnnl_memory_desc_init_by_tag(&wany, 2, wd, dnnl_f32,
                                                 dnnl_format_tag_any)) != dnnl_success) ||
      (bias && (s = dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_a)) != dnnl_success))
    return dn_fail(err, nm, "memory desc", s);
  if ((s = dnnl_inner_product_forward_desc_init(&od->ip, dnnl_forward_inference, &src,
                                                wmd ? wmd : &wany, bias ? &bmd : NULL, &dst)) !=
      dnnl_success)
    return dn_fail(err, nm, "inner product desc", s);
  return RT_OK;
}

static rt_status dn_pack_matmul(rt_graph *g, const rt_dnnl_matmul_desc *d,
                                rt_dnnl_weights **out, rt_error *err) {
  const char *nm = dn_name(d->name);
  rt_status st = dn_mm_check(d, false, err);
  if (st != RT_OK)
    return st;
  if (!d->w || (d->act == RT_DNNL_ACT_PRELU && !d->prelu_alpha))
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s': no weights%s to pack", nm,
                      d->w ? " PReLU alpha" : "");
  /* Inner product weights are (n, k): [n,k] when transposed, else [k,n] read column-wise. */
  dnnl_memory_desc_t user;
  dnnl_dims_t wd = {d->n, d->k}, ws = {d->transpose_w ? d->k : 1, d->transpose_w ? 1 : d->n};
  dnnl_status_t s = dnnl_memory_desc_init_by_strides(&user, 2, wd, dnnl_f32, ws);
  if (s != dnnl_success)
    return dn_fail(err, nm, "weights desc", s);
  dn_op_desc od;
  if ((st = dn_mm_op_desc(d, dn_dim_ok(d->m) && d->m * d->k <= DN_DIM_MAX ? d->m : 1, NULL,
                          d->bias != NULL, &od, err)) != RT_OK)
    return st;
  rt_dnnl_weights *w = rt__pool_alloc(g->pool, sizeof *w);
  if (!w)
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory packing weights", nm);
  *w = (rt_dnnl_weights){.kind = DN_IP, .ic = d->k, .oc = d->n, .kh = 1, .kw = 1, .sh = 1,
                         .sw = 1, .dh = 1, .dw = 1, .act = d->act, .alpha = d->alpha};
  if ((st = dn_pack_common(g, nm, &od, &user, d->w, d->bias, d->prelu_alpha, w, err)) != RT_OK)
    return st;
  g->packed_bytes += sizeof *w;
  *out = w;
  return RT_OK;
}

rt_status rt__dnnl_pack_matmul(rt_graph *g, const rt_dnnl_matmul_desc *d,
                               rt_dnnl_weights **out, rt_error *err) {
  *out = NULL;
  int old = dn_set_threads(1);
  rt_status st = dn_pack_matmul(g, d, out, err);
  dn_set_threads(old);
  return st;
}

rt_status rt__dnnl_matmul_plan(const rt_dnnl_matmul_desc *d, const rt_dnnl_weights *w,
                               int n_threads, void **state, rt_error *err) {
  *state = NULL;
  const char *nm = dn_name(d->name);
  rt_status st = dn_mm_check(d, true, err);
  if (st != RT_OK)
    return st;
  if (!w || w->kind != DN_IP || w->ic != d->k || w->oc != d->n)
    return dn_mismatch(err, nm);
  n_threads = n_threads > 1 && dn_team_allowed() ? n_threads : 1;
  dn_set_threads(n_threads);
  dn_op_desc od;
  dnnl_primitive_desc_t pd;
  if ((st = dn_mm_op_desc(d, d->m, &w->md, w->bias != NULL, &od, err)) != RT_OK ||
      (st = dn_pd(nm, &od, w->act, w->alpha, true, &pd, err)) != RT_OK)
    return st;
  return dn_state_make(nm, pd, w, n_threads, state, err);
}

rt_status rt__dnnl_matmul_run(void *state, const float *x, float *y, void *scratch,
                              rt_error *err) {
  return dn_run(state, x, y, scratch, err);
}
