/*
 * dnnl.h — the oneDNN fast path behind the nn ops (dnnl.c; compiled only with ORCHARD_DNNL).
 *
 * Split in two like the rest of the runtime:
 *  - weights: rt__dnnl_pack_*() runs once per model version (from an op's pack() hook) and
 *    reorders the TF-layout filter into the blocked layout oneDNN's kernels want, in memory
 *    owned by the model (graph pool) and shared read-only by every session;
 *  - primitives: rt__dnnl_*_plan() runs once per (session, plan) and builds the primitive for
 *    those exact shapes, reading the packed weights; run() executes it on the session's
 *    thread with the session's intra-op thread count.
 * A desc oneDNN cannot take returns RT_ERR_UNSUPPORTED and the caller keeps the portable C
 * kernel: the fast path is an optimization, never a requirement.
 */
#ifndef ORCHARD_RT_DNNL_H
#define ORCHARD_RT_DNNL_H

#include "../ops.h"

typedef enum rt_dnnl_act {
  RT_DNNL_ACT_NONE = 0,
  RT_DNNL_ACT_RELU,
  RT_DNNL_ACT_RELU6,
  RT_DNNL_ACT_ELU,
  RT_DNNL_ACT_SIGMOID,
  RT_DNNL_ACT_TANH,
  RT_DNNL_ACT_LEAKY_RELU, /* alpha */
  RT_DNNL_ACT_PRELU       /* per-channel alpha (prelu_alpha) */
} rt_dnnl_act;

/* NHWC convolution as TF defines it. Filter layouts as in model.json: conv [kh,kw,ic,oc];
 * depthwise [kh,kw,ic,mult] (oc = ic*mult); transposed conv [kh,kw,oc,ic]. */
typedef struct rt_dnnl_conv_desc {
  int64_t n, ih, iw, ic, oh, ow, oc;
  int64_t kh, kw, sh, sw, dh, dw;      /* dilations as TF: 1 = dense */
  int64_t pad_t, pad_l, pad_b, pad_r;
  bool depthwise, transposed;
  const float *filter;                 /* TF layout, read at pack time only */
  const float *bias;                   /* [oc] or NULL */
  rt_dnnl_act act;
  float alpha;
  const float *prelu_alpha;            /* [oc] for RT_DNNL_ACT_PRELU */
} rt_dnnl_conv_desc;

typedef struct rt_dnnl_weights rt_dnnl_weights; /* lives in the graph pool */

bool rt__dnnl_available(void);
/* Once per model: packs d->filter (and bias) for the shapes in d (n and spatial sizes are a
 * representative plan; oneDNN's weight layout does not depend on them). */
rt_status rt__dnnl_pack_conv(rt_graph *g, const rt_dnnl_conv_desc *d, rt_dnnl_weights **out,
                             rt_error *err);
/* Once per plan: a primitive for exactly d's shapes using the packed weights. */
rt_status rt__dnnl_conv_plan(const rt_dnnl_conv_desc *d, const rt_dnnl_weights *w,
                             int n_threads, void **state, rt_error *err);
rt_status rt__dnnl_conv_run(void *state, const float *x, float *y, rt_error *err);

/* y[m,n] = act(x[m,k] * w[k,n] + bias[n]) with w constant (MatMul/_FusedMatMul, Dense). */
typedef struct rt_dnnl_matmul_desc {
  int64_t m, k, n;
  bool transpose_w;     /* w given as [n,k] */
  const float *w;
  const float *bias;
  rt_dnnl_act act;
  float alpha;
} rt_dnnl_matmul_desc;
rt_status rt__dnnl_pack_matmul(rt_graph *g, const rt_dnnl_matmul_desc *d,
                               rt_dnnl_weights **out, rt_error *err);
rt_status rt__dnnl_matmul_plan(const rt_dnnl_matmul_desc *d, const rt_dnnl_weights *w,
                               int n_threads, void **state, rt_error *err);
rt_status rt__dnnl_matmul_run(void *state, const float *x, float *y, rt_error *err);

void rt__dnnl_free(void *state);

#endif
