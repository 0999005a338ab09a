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
 * depthwise [kh,kw,ic,mult] (oc = ic*mult); transposed conv [kh,kw,oc,ic]. x is always
 * [n,ih,iw,ic] and y [n,oh,ow,oc]: for a transposed conv x is dy and y the result, and the
 * pads are those of the forward conv from y to x. Only pad_t/pad_l and the sizes decide which
 * inputs an output reads; pad_b/pad_r are not read. */
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
  const char *name;                    /* node name for messages; may be NULL */
} rt_dnnl_conv_desc;

typedef struct rt_dnnl_weights rt_dnnl_weights; /* lives in the graph pool */

bool rt__dnnl_available(void);
/* Whether oneDNN should be the default on this CPU (ORCHARD_KERNELS unset): true when it runs
 * its AVX-512 brgemm kernels, which sum in TF.js's order; false on AVX2-only CPUs, where two
 * ill-conditioned conformance models miss the tolerance. */
bool rt__dnnl_preferred(void);
/* Once per model: packs d->filter (and bias, PReLU alphas) in the layout oneDNN picks for the
 * shapes in d. Pass the real spatial sizes when known: the batch does not matter but AVX-512
 * kernels pick their output-channel block (the layout) from the spatial sizes. Sizes <= 0 mean
 * unknown (a 16x16 output stands in). */
rt_status rt__dnnl_pack_conv(rt_graph *g, const rt_dnnl_conv_desc *d, rt_dnnl_weights **out,
                             rt_error *err);
/* Once per plan: a primitive for exactly d's shapes using the packed weights. n_threads > 1
 * gives oneDNN an OpenMP team of that size only when OMP_WAIT_POLICY or GOMP_SPINCOUNT is set
 * in the environment (libgomp's default spinning starves the session's own pool); otherwise one
 * thread. RT_ERR_UNSUPPORTED also when the layout packed for the representative shape does not
 * suit a jit kernel at these shapes (brgemm picks its output-channel block from the sizes), so
 * pack with the real spatial sizes when they are known. */
rt_status rt__dnnl_conv_plan(const rt_dnnl_conv_desc *d, const rt_dnnl_weights *w,
                             int n_threads, void **state, rt_error *err);
/* scratch: rt__dnnl_state_bytes(state) bytes, 64-aligned (NULL when that is 0). */
rt_status rt__dnnl_conv_run(void *state, const float *x, float *y, void *scratch, rt_error *err);

/* y[m,n] = act(x[m,k] * w[k,n] + bias[n]) with w constant (MatMul/_FusedMatMul, Dense). */
typedef struct rt_dnnl_matmul_desc {
  int64_t m, k, n;
  bool transpose_w;     /* w given as [n,k] */
  const float *w;
  const float *bias;
  rt_dnnl_act act;
  float alpha;
  const float *prelu_alpha; /* [n] for RT_DNNL_ACT_PRELU */
  const char *name;         /* node name for messages; may be NULL */
} rt_dnnl_matmul_desc;
rt_status rt__dnnl_pack_matmul(rt_graph *g, const rt_dnnl_matmul_desc *d,
                               rt_dnnl_weights **out, rt_error *err);
rt_status rt__dnnl_matmul_plan(const rt_dnnl_matmul_desc *d, const rt_dnnl_weights *w,
                               int n_threads, void **state, rt_error *err);
rt_status rt__dnnl_matmul_run(void *state, const float *x, float *y, void *scratch,
                              rt_error *err);

void rt__dnnl_free(void *state);
/* The oneDNN implementation a plan runs ("brgconv:avx512_core", ...; never a reference one)
 * and the bytes of scratchpad its run needs (the plan() hook adds them to the step's scratch,
 * which the executor places in the session arena). */
const char *rt__dnnl_impl_name(const void *state);
size_t rt__dnnl_state_bytes(const void *state);

#endif
