/*
 * ops.h — the op table: one entry per TensorFlow op name, each with
 *   prepare  (once per model: read attributes into params, validate them),
 *   shape    (per plan: output dtypes/shapes from input shapes, and values where known),
 *   run      (per inference: compute into outputs the executor already allocated).
 *
 * Ops are grouped in families, one file each (ops_nn.c, ops_math.c, ops_array.c, ...), each
 * exporting a table that table.c merges. The executor owns all memory: a kernel never
 * allocates; it may ask for scratch bytes in shape() and gets them in run().
 *
 * Contracts for shape():
 *  - every k->in[i] has dtype, rank and dims set; k->in[i].data is non-NULL only when the value
 *    is known (constant, folded, or at run time). An op that needs an input's value to know its
 *    output shape (Reshape's shape, Pad's paddings, StridedSlice's begin/end, Where, NMS, ...)
 *    returns RT_ERR_NEED_VALUE when that data is NULL; the planner then defers the node to run
 *    time (it is re-planned with real data).
 *  - it sets k->out[j].dtype/rank/dims for every output, and may set k->scratch_bytes.
 *  - it validates everything a request could make wrong (ranks, dims, axes, sizes that must
 *    match, overflow) and fails with RT_ERR_SHAPE / RT_ERR_INVALID_ARG and a message naming the
 *    node (k->node->name) — run() may then trust its inputs.
 * Contracts for run(): inputs and outputs all have data; outputs never alias inputs.
 */
#ifndef ORCHARD_RT_OPS_H
#define ORCHARD_RT_OPS_H

#include "ir.h"

/* Intra-op threads of one session (threadpool.c). rt__parallel_for runs fn over [0, n) in
 * chunks of at least `grain`, on the pool's threads and the caller; with tp NULL or one thread
 * it is a plain call fn(ctx, 0, n). Kernels split work by output index ranges so results do
 * not depend on the thread count. */
typedef struct rt_threadpool rt_threadpool;
typedef void (*rt_range_fn)(void *ctx, int64_t begin, int64_t end);
rt_status rt__threadpool_create(int n_threads, rt_threadpool **out, rt_error *err);
void rt__threadpool_destroy(rt_threadpool *tp);
int rt__threadpool_size(const rt_threadpool *tp);
void rt__parallel_for(rt_threadpool *tp, int64_t n, int64_t grain, rt_range_fn fn, void *ctx);
/* Items per chunk so a chunk is worth ~20 us of work at ns_per_item: below that, waking the
 * pool (5-10 us) costs more than it saves. */
int64_t rt__par_grain(double ns_per_item);

typedef struct rt_kctx {
  const rt_node *node;
  const void *params; /* node->params */
  int n_in;
  const rt_tensor *in;
  int n_out;
  rt_tensor *out;
  size_t scratch_bytes; /* shape() sets it; run() gets that much in `scratch` (64-aligned) */
  void *scratch;
  rt_error *err;
  rt_threadpool *tp; /* may be NULL (plan-time folding, control flow) */
  void *state;       /* per-plan state made by the op's plan() hook, or NULL */
  rt_graph *graph;   /* plan() only: may add to the graph's pool under graph->lazy_mu */
} rt_kctx;

enum {
  RT_OP_NOFOLD = 1 << 0,  /* never constant-fold (Placeholder, control flow) */
  RT_OP_CONTROL = 1 << 1, /* control-flow op, run by the dataflow executor */
  RT_OP_SHAPE_ONLY = 1 << 2, /* output depends on input shapes only (Shape, Size, Rank) */
};

typedef struct rt_op_def {
  const char *name;
  int min_inputs;
  int max_inputs;  /* -1: variadic */
  int n_outputs;   /* fixed output count; ignored when num_outputs is set */
  int (*num_outputs)(const rt_node *n); /* for Split, Unpack, ...; may be NULL */
  rt_status (*prepare)(rt_graph *g, rt_node *n, rt_error *err); /* may be NULL */
  rt_status (*shape)(rt_kctx *k);
  rt_status (*run)(rt_kctx *k);
  double (*flops)(const rt_kctx *k); /* per whole op at these shapes; NULL = ~0 */
  unsigned flags;
  /* Optional, once per model after folding: re-lay constant weights out for the kernel into
   * g->pool (read-only afterwards, shared by every session) and add their size to
   * g->packed_bytes. */
  rt_status (*pack)(rt_graph *g, rt_node *n, rt_error *err);
  /* Optional, once per (session, plan) after shape(): make per-plan state (e.g. a oneDNN
   * primitive for these shapes) into k->state; unplan frees it. */
  rt_status (*plan)(rt_kctx *k);
  void (*unplan)(void *state);
} rt_op_def;

/* Lookup by TF op name; NULL when we cannot run it. */
const rt_op_def *rt__op_find(const char *name);

/* Family tables (each file defines its array and count). */
#define RT_OP_FAMILY(fam)                                                      \
  extern const rt_op_def rt__ops_##fam[];                                      \
  extern const int rt__ops_##fam##_count;
RT_OP_FAMILY(core)   /* Const, Placeholder, Identity, NoOp, ... (ops_core.c) */
RT_OP_FAMILY(nn)     /* conv, depthwise, pooling, matmul, fused variants (ops_nn.c) */
RT_OP_FAMILY(math)   /* elementwise unary/binary, activations, reductions, softmax (ops_math.c) */
RT_OP_FAMILY(array)  /* shape/data movement: reshape, slice, concat, pad, gather, ... (ops_array.c) */
RT_OP_FAMILY(image)  /* resize, depth/space, NMS, top-k, where, ... (ops_image.c) */
RT_OP_FAMILY(ctrl)   /* Switch/Merge/Enter/Exit/NextIteration/LoopCond, TensorArray/List (ops_ctrl.c) */

/* ---- small shared helpers for kernels (ops_common.c) ---- */
/* Broadcast shapes a and b (numpy rules) into out; RT_ERR_SHAPE naming node on mismatch. */
rt_status rt__broadcast_shape(const rt_node *n, const rt_tensor *a, const rt_tensor *b,
                              rt_tensor *out, rt_error *err);
/* Reads element i of an int-like tensor (int32, bool, float32 cast) as int64. */
int64_t rt__tensor_get_int(const rt_tensor *t, int64_t i);
/* Normalizes axis in [-rank, rank) to [0, rank); false if out of range. */
bool rt__norm_axis(int64_t axis, int rank, int *out);
/* dims helpers */
void rt__set_shape(rt_tensor *t, rt_dtype dt, int rank, const int64_t *dims);
/* Multiplies dims with overflow checking against INT32_MAX elements per tensor. */
bool rt__checked_numel(const int64_t *dims, int rank, int64_t *out);
/* a * b into *out; false (and *out untouched) when it overflows int64. */
bool rt__checked_mul(int64_t a, int64_t b, int64_t *out);
/* Product of dims[from, to). Dims of a tensor the executor accepted multiply to under 2^31 left
 * to right, but after a 0 the rest may be huge (a [0, 2^40] tensor exists): the product is then
 * 0 whatever the order, and a product of huge dims without a 0 saturates at INT64_MAX instead
 * of overflowing. Use it for strides and sub-products. */
int64_t rt__dims_prod(const int64_t *dims, int from, int to);

#endif
