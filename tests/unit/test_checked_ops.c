/*
 * test_checked_ops.c — every op in the table (table.c) refuses bad attributes and shapes at
 * plan time with a message naming the node, checks data-dependent indices at run time, and
 * survives a "hostile shape" sweep without reading or writing out of bounds (CI runs this file
 * under ASan+UBSan, which turns any stray access or signed overflow into a failure).
 *
 * The harness mirrors what the executor (exec.c) guarantees a kernel and nothing more: every
 * input it hands over has dims >= 0 whose product (left to right) stays under 2^31, so a dim
 * may be huge (2^40) only when a dim before it is 0; outputs over 2^31-1 elements are refused
 * after shape(); run() gets exactly the bytes shape() asked for, outputs and scratch sized to
 * the byte (so ASan sees one element too far).
 *
 * Sweep: for each op a template of valid inputs (the SWEEP table, checked against the op table
 * so a new op cannot go unswept), then for each input and each dim: 0, 1, dim + 1, 3, 2 x dim,
 * 2^40 behind a leading 0, 0 behind a leading 2^31-1, all dims 2^40 behind a leading 0,
 * rank - 1, rank + 1, rank 8, another dtype; for each value operand (shape, axis, begin,
 * paddings, indices, ...) each element replaced by -2^31, -1, 0, 2^31-1, 2^20, 1e30 and NaN;
 * both at once (empty-and-huge data with an extreme value); and the nn ops again with their
 * filter a packed Const and plan() run, on the portable kernels and on oneDNN. Each variant
 * must be refused with a message naming the node (never an internal error), or planned and
 * run cleanly and quickly. The oracle is ASan/UBSan, not expected values.
 *
 * Refusals (BAD table): one case per check, asserting the stage that refuses (prepare, plan,
 * re-plan at run time when the value arrives late, run), the status and the message. Values
 * marked LATE are hidden from the first shape() call, as exec.c's planner sees them.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir.h"
#include "ops.h"

#define MAX_IN 6
#define MAX_OUT 8
#define HUGE_DIM ((int64_t)1 << 40)
/* Bigger outputs or scratch are not allocated by the sweep: the executor would plan them, but
 * the kernels' bounds do not depend on the size and the sweep must stay fast. */
#define SWEEP_MAX_BYTES ((size_t)1 << 24)

/* ---- op templates ---- */

typedef struct in_spec {
  rt_dtype dt;
  int rank;
  int64_t dims[RT_MAX_RANK];
  const double *vals; /* element i is vals[i % nv]; NULL: a small data pattern */
  int nv;
  bool late; /* value known only at run time: shape() first sees no data (exec.c's planner) */
} in_spec;

typedef struct tc tc;
typedef struct op_case {
  const char *op;
  void (*attrs)(tc *t);
  int n_in;
  in_spec in[MAX_IN];
} op_case;

#define D(...)                                                                                     \
  .rank = (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), .dims = {__VA_ARGS__}
#define SCALAR .rank = 0
#define V(...)                                                                                     \
  .vals = (const double[]){__VA_ARGS__},                                                           \
  .nv = (int)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double))
#define F32 .dt = RT_DT_F32
#define I32 .dt = RT_DT_I32
#define BOOL .dt = RT_DT_BOOL
#define LATE .late = true

/* ---- harness: one node in a fresh graph ---- */

struct tc {
  rt_graph *g;
  int node;
  const rt_op_def *op;
  rt_error err;
};

static void attr_int(tc *t, const char *name, int64_t v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_INT);
  a->i = v;
}
static void attr_bool(tc *t, const char *name, bool v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_BOOL);
  a->b = v;
}
static void attr_float(tc *t, const char *name, float v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_FLOAT);
  a->f = v;
}
static void attr_str(tc *t, const char *name, const char *v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_STRING);
  a->s = rt__pool_strdup(t->g->pool, v);
  a->s_len = strlen(v);
}
static void attr_type(tc *t, const char *name, rt_dtype v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_TYPE);
  a->type = v;
}
static void attr_ints(tc *t, const char *name, int n, const int64_t *v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_LIST_INT);
  a->n = n;
  a->ints = rt__pool_alloc(t->g->pool, (size_t)(n ? n : 1) * sizeof *a->ints);
  memcpy(a->ints, v, (size_t)n * sizeof *v);
}
static void attr_strs(tc *t, const char *name, int n, const char *const *v) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_LIST_STRING);
  a->n = n;
  a->strs = rt__pool_alloc(t->g->pool, (size_t)(n ? n : 1) * sizeof *a->strs);
  a->str_lens = rt__pool_alloc(t->g->pool, (size_t)(n ? n : 1) * sizeof *a->str_lens);
  for (int i = 0; i < n; i++) {
    a->strs[i] = rt__pool_strdup(t->g->pool, v[i]);
    a->str_lens[i] = strlen(v[i]);
  }
}
static void attr_shape(tc *t, const char *name, int rank, const int64_t *dims) {
  rt_attr *a = rt__node_add_attr(t->g, t->node, name, RT_ATTR_SHAPE);
  a->shape.rank = rank;
  for (int i = 0; i < rank; i++)
    a->shape.dims[i] = dims[i];
}
#define INTS(...)                                                                                  \
  NI(__VA_ARGS__), (const int64_t[]) { __VA_ARGS__ }
#define NI(...) (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static tc *tc_new(const char *op, int n_in, void (*attrs)(tc *)) {
  tc *t = calloc(1, sizeof *t);
  cr_assert(t);
  t->g = rt__graph_create("graph-model", "test.json");
  cr_assert(t->g);
  t->node = rt__graph_add_node(t->g, "n", op);
  cr_assert(t->node >= 0);
  t->op = rt__op_find(op);
  cr_assert(t->op, "op %s is not in the table", op);
  /* prepare() of fused ops counts the node's inputs; they need not point anywhere real. */
  rt_ref refs[MAX_IN] = {{0, 0}};
  if (n_in)
    cr_assert_eq(rt__node_set_inputs(t->g, t->node, refs, n_in), RT_OK);
  if (attrs)
    attrs(t);
  return t;
}

static void tc_free(tc *t) {
  rt__graph_destroy(t->g);
  free(t);
}

/* Data of inputs without fixed values: a small pattern, or (hostile_data) the extremes a
 * request can send: NaN, infinities, -0, float32 max, int32 min and max. */
static bool fill_extremes;
static const double EXTREME_DATA[] = {NAN,    INFINITY,      -INFINITY,    -0.0,
                                      3.4e38, -2147483648.0, 2147483647.0, 1};

static void fill(rt_tensor *x, const in_spec *s) {
  int64_t n = rt_tensor_numel(x);
  for (int64_t i = 0; i < n; i++) {
    double v = s->vals         ? s->vals[i % s->nv]
               : fill_extremes ? EXTREME_DATA[i % 8]
                               : (double)(i % 5) - 1.0;
    if (x->dtype == RT_DT_I32 && !(v >= -2147483648.0 && v <= 2147483647.0))
      v = 0; /* int32 data gets the int32 extremes only */
    if (x->dtype == RT_DT_F32)
      ((float *)x->data)[i] = (float)v;
    else if (x->dtype == RT_DT_I32)
      ((int32_t *)x->data)[i] = (int32_t)v;
    else
      ((uint8_t *)x->data)[i] = v != 0;
  }
}

/* Where the last try_op stopped: which check refused it. */
typedef enum stage { ST_PREPARE, ST_PLAN, ST_REPLAN, ST_RUN, ST_DONE } stage;
static stage last_stage;
/* When set, input 1 of an op with a pack() hook is a Const node, packed once as compile does,
 * and plan() runs after shape() (oneDNN primitives with ORCHARD_KERNELS=dnnl). */
static bool sweep_pack;
static int n_planned; /* plans that made per-plan state (a oneDNN primitive) */
/* The session's intra-op threads for plan() and run(); NULL: the caller's thread only. */
static rt_threadpool *sweep_tp;

typedef enum outcome {
  O_SKIP,    /* the executor could not hand the op these inputs, or too big to try here */
  O_REFUSED, /* prepare/shape/run failed with a message naming the node */
  O_RAN
} outcome;

static void expect_names_node(const tc *t, rt_status st, const char *stage, const char *what) {
  cr_assert(strstr(t->err.msg, "'n'"), "%s: %s failed (%s) without naming the node: %s", what,
            stage, rt_status_str(st), t->err.msg);
  cr_assert(st != RT_ERR_INTERNAL || strstr(t->err.msg, "only in the control-flow") ||
                strstr(t->err.msg, "has no kernel"),
            "%s: %s reports an internal error: %s", what, stage, t->err.msg);
}

/* prepare + shape + (when planned) run, the way exec.c does; `what` names the case in failures.
 * On O_REFUSED, *st_out and t->err hold the refusal. */
static outcome try_op(const op_case *c, const in_spec *ins, int n_in, const char *what,
                      rt_status *st_out, char *msg_out, size_t msg_cap) {
  tc *t = tc_new(c->op, n_in, c->attrs);
  int wnode = -1;
  if (sweep_pack && t->op->pack && n_in >= 2) {
    wnode = rt__graph_add_node(t->g, "w", "Const");
    cr_assert(wnode >= 0);
    t->g->nodes[t->node].inputs[1] = (rt_ref){wnode, 0};
  }
  rt_node *n = &t->g->nodes[t->node];
  rt_tensor in[MAX_IN], out[MAX_OUT];
  memset(in, 0, sizeof in);
  memset(out, 0, sizeof out);
  void *scratch = NULL, *late_data[MAX_IN] = {0}, *state = NULL;
  bool any_late = false;
  outcome oc = O_SKIP;
  rt_status st = RT_OK;
  for (int i = 0; i < n_in; i++) {
    int64_t numel;
    rt__set_shape(&in[i], ins[i].dt, ins[i].rank, ins[i].dims);
    if (!rt__checked_numel(in[i].dims, in[i].rank, &numel) ||
        (size_t)numel * rt_dtype_size(in[i].dtype) > SWEEP_MAX_BYTES)
      goto done; /* exec.c refuses such an input; no tensor of this shape can exist */
    size_t nb = (size_t)numel * rt_dtype_size(in[i].dtype);
    in[i].data = malloc(nb ? nb : 1);
    cr_assert(in[i].data);
    fill(&in[i], &ins[i]);
  }
  last_stage = ST_PREPARE;
  for (int i = 0; i < n_in; i++)
    if (ins[i].late) {
      late_data[i] = in[i].data;
      in[i].data = NULL;
      any_late = true;
    }
  if (t->op->prepare && (st = t->op->prepare(t->g, n, &t->err)) != RT_OK) {
    expect_names_node(t, st, "prepare", what);
    oc = O_REFUSED;
    goto done;
  }
  if (wnode >= 0) {
    t->g->nodes[wnode].value = in[1];
    if ((st = t->op->pack(t->g, n, &t->err)) != RT_OK) {
      expect_names_node(t, st, "pack", what);
      oc = O_REFUSED;
      goto done;
    }
  }
  int n_out = t->op->num_outputs ? t->op->num_outputs(n) : t->op->n_outputs;
  if (n_out < 0 || n_out > MAX_OUT)
    goto done; /* compile refuses the node: num_outputs out of range */
  n->n_outputs = n_out;
  rt_kctx k = {.node = n,
               .params = n->params,
               .n_in = n_in,
               .in = in,
               .n_out = n_out,
               .out = out,
               .err = &t->err};
  last_stage = ST_PLAN;
  st = t->op->shape(&k);
  for (int i = 0; i < n_in; i++) /* bound from here on, as at run time */
    if (late_data[i])
      in[i].data = late_data[i];
  if (st == RT_ERR_NEED_VALUE && any_late) {
    /* exec.c defers the node and calls shape() again at run time, with the data */
    last_stage = ST_REPLAN;
    memset(out, 0, sizeof out);
    k.scratch_bytes = 0;
    st = t->op->shape(&k);
  }
  if (st != RT_OK) {
    cr_assert_neq(st, RT_ERR_NEED_VALUE, "%s: shape wants a value it was given: %s", what,
                  t->err.msg);
    expect_names_node(t, st, "shape", what);
    oc = O_REFUSED;
    goto done;
  }
  for (int j = 0; j < n_out; j++) {
    int64_t numel;
    cr_assert(out[j].rank >= 0 && out[j].rank <= RT_MAX_RANK, "%s: output %d rank %d", what, j,
              out[j].rank);
    cr_assert(rt_dtype_size(out[j].dtype) > 0, "%s: output %d dtype %d", what, j, out[j].dtype);
    if (!rt__checked_numel(out[j].dims, out[j].rank, &numel)) {
      oc = O_REFUSED; /* exec.c: "output has too many elements" */
      goto done;
    }
    size_t nb = (size_t)numel * rt_dtype_size(out[j].dtype);
    if (nb > SWEEP_MAX_BYTES)
      goto done;
    out[j].data = malloc(nb ? nb : 1);
    cr_assert(out[j].data);
  }
  k.tp = sweep_tp;
  if (wnode >= 0 && t->op->plan) {
    k.graph = t->g;
    last_stage = ST_PLAN;
    if ((st = t->op->plan(&k)) != RT_OK) {
      expect_names_node(t, st, "plan", what);
      oc = O_REFUSED;
      goto done;
    }
    state = k.state;
    n_planned += state != NULL;
  }
  if (k.scratch_bytes > SWEEP_MAX_BYTES)
    goto done;
  if (k.scratch_bytes) {
    scratch = aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63);
    cr_assert(scratch);
    k.scratch = scratch;
  }
  last_stage = ST_RUN;
  if ((st = t->op->run(&k)) != RT_OK) {
    expect_names_node(t, st, "run", what);
    oc = O_REFUSED;
    goto done;
  }
  oc = O_RAN;
  last_stage = ST_DONE;
done:
  if (st_out)
    *st_out = st;
  if (msg_out)
    snprintf(msg_out, msg_cap, "%s", t->err.msg);
  for (int i = 0; i < n_in; i++)
    free(in[i].data ? in[i].data : late_data[i]);
  for (int j = 0; j < MAX_OUT; j++)
    free(out[j].data);
  free(scratch);
  if (state && t->op->unplan)
    t->op->unplan(state);
  tc_free(t);
  return oc;
}

/* ---- attribute sets of the templates ---- */

static void a_conv(tc *t) {
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_str(t, "padding", "SAME");
}
static void a_conv_valid_s2(tc *t) {
  attr_ints(t, "strides", INTS(1, 2, 2, 1));
  attr_str(t, "padding", "VALID");
}
static void a_conv_dil(tc *t) {
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_ints(t, "dilations", INTS(1, 2, 2, 1));
  attr_str(t, "padding", "SAME");
}
static void a_conv_explicit(tc *t) {
  attr_ints(t, "strides", INTS(1, 2, 1, 1));
  attr_str(t, "padding", "EXPLICIT");
  attr_ints(t, "explicit_paddings", INTS(0, 0, 1, 2, 3, 0, 0, 0));
}
static void a_conv_nchw(tc *t) {
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_str(t, "padding", "SAME");
  attr_str(t, "data_format", "NCHW");
}
static void a_fused_relu(tc *t) {
  a_conv(t);
  attr_strs(t, "fused_ops", 2, (const char *const[]){"BiasAdd", "Relu"});
  attr_int(t, "num_args", 1);
}
static void a_fused_prelu(tc *t) {
  a_conv_valid_s2(t);
  attr_strs(t, "fused_ops", 2, (const char *const[]){"BiasAdd", "Prelu"});
  attr_int(t, "num_args", 2);
}
static void a_pool(tc *t) {
  attr_ints(t, "ksize", INTS(1, 2, 2, 1));
  attr_ints(t, "strides", INTS(1, 2, 2, 1));
  attr_str(t, "padding", "SAME");
}
static void a_pool_valid(tc *t) {
  attr_ints(t, "ksize", INTS(1, 3, 2, 1));
  attr_ints(t, "strides", INTS(1, 1, 2, 1));
  attr_str(t, "padding", "VALID");
}
static void a_mm_tb(tc *t) { attr_bool(t, "transpose_b", true); }
static void a_mm_ta(tc *t) { attr_bool(t, "transpose_a", true); }
static void a_fused_mm(tc *t) {
  attr_strs(t, "fused_ops", 2, (const char *const[]){"BiasAdd", "Relu6"});
  attr_int(t, "num_args", 1);
}
static void a_nchw(tc *t) { attr_str(t, "data_format", "NCHW"); }
static void a_cast(tc *t) { attr_type(t, "DstT", RT_DT_I32); }
static void a_leaky(tc *t) { attr_float(t, "alpha", 0.1f); }
static void a_keep(tc *t) { attr_bool(t, "keep_dims", true); }
static void a_squeeze(tc *t) { attr_ints(t, "squeeze_dims", INTS(0, -1)); }
static void a_ss(tc *t) {
  attr_int(t, "begin_mask", 1);
  attr_int(t, "end_mask", 4);
  attr_int(t, "shrink_axis_mask", 0);
}
static void a_ss_shrink(tc *t) {
  attr_int(t, "shrink_axis_mask", 1);
  attr_int(t, "new_axis_mask", 4);
  attr_int(t, "ellipsis_mask", 2);
}
static void a_axis1(tc *t) { attr_int(t, "axis", 1); }
static void a_unpack(tc *t) {
  attr_int(t, "num", 3);
  attr_int(t, "axis", 0);
}
static void a_split3(tc *t) { attr_int(t, "num_split", 3); }
static void a_mirror(tc *t) { attr_str(t, "mode", "REFLECT"); }
static void a_symmetric(tc *t) { attr_str(t, "mode", "SYMMETRIC"); }
static void a_batch1(tc *t) { attr_int(t, "batch_dims", 1); }
static void a_t_f32(tc *t) { attr_type(t, "T", RT_DT_F32); }
static void a_tidx_i32(tc *t) { attr_type(t, "Tidx", RT_DT_I32); }
static void a_cumsum(tc *t) {
  attr_bool(t, "exclusive", true);
  attr_bool(t, "reverse", true);
}
static void a_resize_half(tc *t) { attr_bool(t, "half_pixel_centers", true); }
static void a_resize_align(tc *t) { attr_bool(t, "align_corners", true); }
static void a_crop_nearest(tc *t) { attr_str(t, "method", "nearest"); }
static void a_block2(tc *t) { attr_int(t, "block_size", 2); }
static void a_pad_max(tc *t) { attr_bool(t, "pad_to_max_output_size", true); }
static void a_ensure(tc *t) { attr_shape(t, "shape", 2, (const int64_t[]){2, -1}); }
static void a_frame(tc *t) { attr_str(t, "frame_name", "f"); }
static void a_ta(tc *t) { attr_type(t, "dtype", RT_DT_F32); }
static void a_tl(tc *t) { attr_type(t, "element_dtype", RT_DT_F32); }

/* ---- the templates: valid inputs for every op of the table, some ops twice ---- */

#define X23                                                                                        \
  { F32, D(2, 3) }
#define UN(name)                                                                                   \
  {                                                                                                \
    name, NULL, 1, { X23 }                                                                         \
  }
#define BIN(name)                                                                                  \
  {                                                                                                \
    name, NULL, 2, {                                                                               \
      {F32, D(2, 1, 3)}, { F32, D(4, 1) }                                                          \
    }                                                                                              \
  }
#define RED(name, dt)                                                                              \
  {                                                                                                \
    name, a_keep, 2, {                                                                             \
      {dt, D(2, 3, 4)}, { I32, D(2), V(0, -1) }                                                    \
    }                                                                                              \
  }
#define RED1(name, dt)                                                                             \
  {                                                                                                \
    name, NULL, 2, {                                                                               \
      {dt, D(2, 3, 4)}, { I32, SCALAR, V(1) }                                                      \
    }                                                                                              \
  }
#define BOX V(0, 0, 1, 1, 0.1, 0.2, 0.5, 0.9, 0.5, 0.5, 0.2, 0.1)

static const op_case SWEEP[] = {
    /* core */
    {"Const", NULL, 0, {{0}}},
    {"Placeholder", NULL, 0, {{0}}},
    {"PlaceholderWithDefault", NULL, 1, {X23}},
    {"Identity", NULL, 1, {X23}},
    {"StopGradient", NULL, 1, {X23}},
    {"Snapshot", NULL, 1, {X23}},
    {"EnsureShape", a_ensure, 1, {X23}},
    {"IdentityN", NULL, 2, {X23, {I32, D(4)}}},
    {"NoOp", NULL, 0, {{0}}},
    /* nn */
    {"Conv2D", a_conv, 2, {{F32, D(1, 5, 5, 3)}, {F32, D(3, 3, 3, 4)}}},
    {"Conv2D", a_conv_valid_s2, 2, {{F32, D(2, 6, 5, 2)}, {F32, D(2, 3, 2, 9)}}},
    {"Conv2D", a_conv_dil, 2, {{F32, D(5, 6, 2)}, {F32, D(2, 2, 2, 3)}}},
    {"Conv2D", a_conv_explicit, 2, {{F32, D(1, 4, 4, 1)}, {F32, D(1, 1, 1, 1)}}},
    {"Conv2D", a_conv_nchw, 2, {{F32, D(1, 3, 4, 4)}, {F32, D(2, 2, 3, 2)}}},
    {"_FusedConv2D", a_fused_relu, 3, {{F32, D(1, 5, 5, 3)}, {F32, D(3, 3, 3, 4)}, {F32, D(4)}}},
    {"_FusedConv2D",
     a_fused_prelu,
     4,
     {{F32, D(1, 5, 5, 3)}, {F32, D(1, 1, 3, 4)}, {F32, D(4)}, {F32, D(1, 1, 4)}}},
    {"DepthwiseConv2dNative", a_conv, 2, {{F32, D(1, 5, 5, 3)}, {F32, D(3, 3, 3, 1)}}},
    {"DepthwiseConv2dNative", a_conv_valid_s2, 2, {{F32, D(1, 5, 5, 3)}, {F32, D(3, 3, 3, 2)}}},
    {"DepthwiseConv2dNative", a_conv_nchw, 2, {{F32, D(1, 3, 4, 4)}, {F32, D(2, 2, 3, 1)}}},
    {"FusedDepthwiseConv2dNative",
     a_fused_relu,
     3,
     {{F32, D(1, 5, 5, 8)}, {F32, D(3, 3, 8, 1)}, {F32, D(8)}}},
    {"Conv2DBackpropInput",
     a_conv,
     3,
     {{I32, D(4), V(1, 5, 5, 3)}, {F32, D(3, 3, 3, 4)}, {F32, D(1, 5, 5, 4)}}},
    {"Conv2DBackpropInput",
     a_conv_valid_s2,
     3,
     {{I32, D(4), V(1, 7, 6, 2)}, {F32, D(3, 2, 2, 4)}, {F32, D(1, 3, 3, 4)}}},
    {"MaxPool", a_pool, 1, {{F32, D(1, 5, 5, 3)}}},
    {"MaxPool", a_pool_valid, 1, {{F32, D(2, 4, 5, 3)}}},
    {"AvgPool", a_pool, 1, {{F32, D(1, 5, 5, 3)}}},
    {"AvgPool", a_pool_valid, 1, {{F32, D(4, 5, 3)}}},
    {"MatMul", NULL, 2, {{F32, D(2, 3)}, {F32, D(3, 4)}}},
    {"MatMul", a_mm_tb, 2, {{F32, D(2, 3)}, {F32, D(4, 3)}}},
    {"MatMul", a_mm_ta, 2, {{I32, D(3, 2)}, {I32, D(3, 4)}}},
    {"_FusedMatMul", a_fused_mm, 3, {{F32, D(2, 3)}, {F32, D(3, 4)}, {F32, D(4)}}},
    {"BatchMatMul", NULL, 2, {{F32, D(2, 2, 3)}, {F32, D(2, 3, 4)}}},
    {"BatchMatMulV2", a_mm_tb, 2, {{F32, D(3, 1, 2, 3)}, {F32, D(2, 4, 3)}}},
    /* math: binary */
    BIN("Add"),
    BIN("AddV2"),
    BIN("Sub"),
    BIN("Mul"),
    BIN("RealDiv"),
    BIN("Div"),
    BIN("DivNoNan"),
    BIN("FloorDiv"),
    BIN("FloorMod"),
    BIN("Mod"),
    BIN("Maximum"),
    BIN("Minimum"),
    BIN("Pow"),
    BIN("SquaredDifference"),
    BIN("Atan2"),
    BIN("Prelu"),
    BIN("Equal"),
    BIN("NotEqual"),
    BIN("Less"),
    BIN("LessEqual"),
    BIN("Greater"),
    BIN("GreaterEqual"),
    {"FloorDiv", NULL, 2, {{I32, D(2, 3)}, {I32, D(3), V(0, 2, -3)}}},
    {"FloorMod", NULL, 2, {{I32, D(2, 3)}, {I32, D(3), V(0, 2, -3)}}},
    {"LogicalAnd", NULL, 2, {{BOOL, D(2, 3)}, {BOOL, D(3)}}},
    {"LogicalOr", NULL, 2, {{BOOL, D(2, 3)}, {BOOL, D(2, 1)}}},
    {"BiasAdd", NULL, 2, {{F32, D(2, 3)}, {F32, D(3)}}},
    {"BiasAdd", a_nchw, 2, {{F32, D(1, 3, 2, 2)}, {F32, D(3)}}},
    {"Select", NULL, 3, {{BOOL, D(2)}, {F32, D(2, 3)}, {F32, D(2, 3)}}},
    {"SelectV2", NULL, 3, {{BOOL, D(2, 1)}, {F32, D(3)}, {I32, D(2, 3)}}},
    {"AddN", NULL, 3, {X23, X23, X23}},
    {"Cast", a_cast, 1, {X23}},
    {"ClipByValue", NULL, 3, {X23, {F32, SCALAR, V(0)}, {F32, SCALAR, V(1)}}},
    {"LeakyRelu", a_leaky, 1, {X23}},
    UN("Relu"),
    UN("Relu6"),
    UN("Elu"),
    UN("Selu"),
    UN("Sigmoid"),
    UN("Tanh"),
    UN("Exp"),
    UN("Expm1"),
    UN("Log"),
    UN("Log1p"),
    UN("Sqrt"),
    UN("Rsqrt"),
    UN("Square"),
    UN("Abs"),
    UN("Neg"),
    UN("Reciprocal"),
    UN("Floor"),
    UN("Ceil"),
    UN("Round"),
    UN("Sign"),
    UN("Sin"),
    UN("Cos"),
    UN("Tan"),
    UN("Asin"),
    UN("Acos"),
    UN("Atan"),
    UN("Sinh"),
    UN("Cosh"),
    UN("Asinh"),
    UN("Acosh"),
    UN("Atanh"),
    UN("Softplus"),
    UN("Softsign"),
    UN("Erf"),
    UN("IsNan"),
    UN("IsInf"),
    UN("IsFinite"),
    UN("ZerosLike"),
    UN("OnesLike"),
    {"LogicalNot", NULL, 1, {{BOOL, D(2, 3)}}},
    RED("Sum", F32),
    RED("Mean", F32),
    RED("Prod", I32),
    RED("Max", F32),
    RED("Min", I32),
    RED("All", BOOL),
    RED("Any", BOOL),
    RED1("Sum", I32),
    RED1("Max", F32),
    RED1("Mean", BOOL),
    {"ArgMax", NULL, 2, {{F32, D(2, 3, 4)}, {I32, SCALAR, V(1)}}},
    {"ArgMin", NULL, 2, {{I32, D(2, 3)}, {I32, SCALAR, V(-1)}}},
    {"Softmax", NULL, 1, {X23}},
    {"LogSoftmax", NULL, 1, {{F32, D(2, 3, 4)}}},
    /* array */
    {"Reshape", NULL, 2, {{F32, D(2, 3, 4)}, {I32, D(2), V(4, -1)}}},
    {"Squeeze", a_squeeze, 1, {{F32, D(1, 3, 1)}}},
    {"Squeeze", NULL, 1, {{I32, D(1, 3, 1)}}},
    {"ExpandDims", NULL, 2, {X23, {I32, SCALAR, V(1)}}},
    {"StridedSlice",
     a_ss,
     4,
     {{F32, D(4, 5, 6)},
      {I32, D(3), V(1, 0, -1)},
      {I32, D(3), V(3, 5, 0)},
      {I32, D(3), V(1, 2, -1)}}},
    {"StridedSlice",
     a_ss_shrink,
     4,
     {{F32, D(4, 5, 6)},
      {I32, D(3), V(2, 0, 0)},
      {I32, D(3), V(3, 0, 1)},
      {I32, D(3), V(1, 1, 1)}}},
    {"Slice", NULL, 3, {{F32, D(4, 5)}, {I32, D(2), V(1, 2)}, {I32, D(2), V(2, -1)}}},
    {"Pack", a_axis1, 3, {X23, X23, X23}},
    {"Unpack", a_unpack, 1, {{F32, D(3, 2)}}},
    {"ConcatV2", NULL, 3, {X23, {F32, D(2, 4)}, {I32, SCALAR, V(1)}}},
    {"ConcatV2", NULL, 3, {X23, {F32, D(1, 3)}, {I32, SCALAR, V(-2)}}},
    {"Concat", NULL, 3, {{I32, SCALAR, V(1)}, X23, {F32, D(2, 4)}}},
    {"Split", a_split3, 2, {{I32, SCALAR, V(1)}, {F32, D(2, 6)}}},
    {"SplitV", a_split3, 3, {{F32, D(2, 6)}, {I32, D(3), V(1, 2, -1)}, {I32, SCALAR, V(1)}}},
    {"Pad", NULL, 2, {X23, {I32, D(2, 2), V(1, 0, 0, 2)}}},
    {"PadV2", NULL, 3, {X23, {I32, D(2, 2), V(1, 0, 0, 2)}, {F32, SCALAR, V(5)}}},
    {"MirrorPad", a_mirror, 2, {{F32, D(3, 4)}, {I32, D(2, 2), V(1, 2, 2, 3)}}},
    {"MirrorPad", a_symmetric, 2, {{F32, D(3, 4)}, {I32, D(2, 2), V(3, 2, 4, 0)}}},
    {"Transpose", NULL, 2, {{F32, D(2, 3, 4)}, {I32, D(3), V(2, 0, 1)}}},
    {"GatherV2", NULL, 3, {{F32, D(4, 3)}, {I32, D(2), V(3, 0)}, {I32, SCALAR, V(0)}}},
    {"GatherV2", a_batch1, 3, {{F32, D(2, 4, 3)}, {I32, D(2, 2), V(3, 0)}, {I32, SCALAR, V(1)}}},
    {"Gather", NULL, 2, {{F32, D(4, 3)}, {I32, D(2, 2), V(3, 0, 1, 2)}}},
    {"GatherNd", NULL, 2, {{F32, D(4, 3)}, {I32, D(2, 2), V(0, 1, 3, 2)}}},
    {"GatherNd", NULL, 2, {{F32, D(4, 3, 2)}, {I32, D(3, 1), V(0, 3, 2)}}},
    {"Tile", NULL, 2, {X23, {I32, D(2), V(2, 1)}}},
    {"BroadcastTo", NULL, 2, {{F32, D(1, 3)}, {I32, D(3), V(2, 2, 3)}}},
    {"Fill", NULL, 2, {{I32, D(2), V(2, 3)}, {F32, SCALAR, V(1.5)}}},
    {"Fill", a_t_f32, 2, {{I32, D(2), V(2, 3)}, {I32, SCALAR, V(2)}}},
    {"Range", NULL, 3, {{F32, SCALAR, V(0)}, {F32, SCALAR, V(10)}, {F32, SCALAR, V(3)}}},
    {"Range", a_tidx_i32, 3, {{I32, SCALAR, V(5)}, {I32, SCALAR, V(-3)}, {I32, SCALAR, V(-2)}}},
    {"OneHot",
     NULL,
     4,
     {{I32, D(3), V(0, 2, 5)}, {I32, SCALAR, V(4)}, {I32, SCALAR, V(1)}, {I32, SCALAR, V(0)}}},
    {"OneHot",
     a_t_f32,
     4,
     {{I32, D(2, 2), V(-1, 1)}, {I32, SCALAR, V(3)}, {F32, SCALAR, V(2)}, {F32, SCALAR, V(0)}}},
    {"Shape", NULL, 1, {X23}},
    {"Size", NULL, 1, {X23}},
    {"Rank", NULL, 1, {X23}},
    {"ReverseV2", NULL, 2, {{F32, D(2, 3, 4)}, {I32, D(2), V(1, -1)}}},
    {"Cumsum", NULL, 2, {X23, {I32, SCALAR, V(1)}}},
    {"Cumsum", a_cumsum, 2, {{I32, D(2, 3, 2)}, {I32, SCALAR, V(0)}}},
    /* image */
    {"ResizeBilinear", NULL, 2, {{F32, D(1, 4, 4, 3)}, {I32, D(2), V(6, 5)}}},
    {"ResizeBilinear", a_resize_half, 2, {{I32, D(4, 3, 2)}, {I32, D(2), V(2, 7)}}},
    {"ResizeNearestNeighbor", NULL, 2, {{F32, D(1, 4, 4, 3)}, {I32, D(2), V(6, 5)}}},
    {"ResizeNearestNeighbor", a_resize_align, 2, {{F32, D(2, 3, 3, 1)}, {I32, D(2), V(1, 4)}}},
    {"CropAndResize",
     NULL,
     4,
     {{F32, D(1, 4, 4, 3)}, {F32, D(3, 4), BOX}, {I32, D(3), V(0, 0, 0)}, {I32, D(2), V(3, 2)}}},
    {"CropAndResize",
     a_crop_nearest,
     4,
     {{F32, D(2, 4, 4, 3)}, {F32, D(3, 4), BOX}, {I32, D(3), V(1, 0, 1)}, {I32, D(2), V(1, 3)}}},
    {"DepthToSpace", a_block2, 1, {{F32, D(1, 2, 2, 8)}}},
    {"SpaceToDepth", a_block2, 1, {{F32, D(1, 4, 4, 2)}}},
    {"SpaceToBatchND",
     NULL,
     3,
     {{F32, D(1, 4, 4, 1)}, {I32, D(2), V(2, 2)}, {I32, D(2, 2), V(0, 0, 1, 1)}}},
    {"BatchToSpaceND",
     NULL,
     3,
     {{F32, D(4, 2, 2, 1)}, {I32, D(2), V(2, 2)}, {I32, D(2, 2), V(0, 1, 1, 0)}}},
    {"SparseToDense",
     NULL,
     4,
     {{I32, D(3), V(0, 2, 4)}, {I32, D(1), V(6)}, {F32, D(3)}, {F32, SCALAR, V(9)}}},
    {"SparseToDense",
     NULL,
     4,
     {{I32, D(2, 2), V(0, 2, 1, 1)},
      {I32, D(2), V(2, 3)},
      {I32, SCALAR, V(1)},
      {I32, SCALAR, V(0)}}},
    {"TopKV2", NULL, 2, {{F32, D(2, 5)}, {I32, SCALAR, V(3)}}},
    {"TopKV2", NULL, 2, {{I32, D(7)}, {I32, SCALAR, V(7)}}},
    {"NonMaxSuppressionV2",
     NULL,
     4,
     {{F32, D(3, 4), BOX},
      {F32, D(3), V(0.9, 0.8, 0.7)},
      {I32, SCALAR, V(2)},
      {F32, SCALAR, V(0.5)}}},
    {"NonMaxSuppressionV3",
     NULL,
     5,
     {{F32, D(3, 4), BOX},
      {F32, D(3), V(0.9, 0.8, 0.7)},
      {I32, SCALAR, V(3)},
      {F32, SCALAR, V(0.5)},
      {F32, SCALAR, V(0.75)}}},
    {"NonMaxSuppressionV4",
     a_pad_max,
     5,
     {{F32, D(3, 4), BOX},
      {F32, D(3), V(0.9, 0.8, 0.7)},
      {I32, SCALAR, V(5)},
      {F32, SCALAR, V(0.5)},
      {F32, SCALAR, V(0)}}},
    {"NonMaxSuppressionV5",
     NULL,
     6,
     {{F32, D(3, 4), BOX},
      {F32, D(3), V(0.9, 0.8, 0.7)},
      {I32, SCALAR, V(3)},
      {F32, SCALAR, V(0.5)},
      {F32, SCALAR, V(0)},
      {F32, SCALAR, V(0.5)}}},
    {"Where", NULL, 1, {{BOOL, D(2, 3)}}},
    {"Where", NULL, 1, {{F32, D(3, 1, 2)}}},
    /* control flow: the flow executor runs these; shape()/run() must refuse anything else */
    {"Switch", NULL, 2, {X23, {BOOL, SCALAR}}},
    {"Merge", NULL, 2, {X23, X23}},
    {"Enter", a_frame, 1, {X23}},
    {"Exit", NULL, 1, {X23}},
    {"NextIteration", NULL, 1, {X23}},
    {"LoopCond", NULL, 1, {{BOOL, SCALAR}}},
    {"TensorArrayV3", a_ta, 1, {{I32, SCALAR, V(2)}}},
    {"TensorArrayWriteV3", NULL, 4, {{I32, D(2)}, {I32, SCALAR}, X23, {F32, SCALAR}}},
    {"TensorArrayReadV3", a_ta, 3, {{I32, D(2)}, {I32, SCALAR}, {F32, SCALAR}}},
    {"TensorArrayGatherV3", a_ta, 3, {{I32, D(2)}, {I32, D(2)}, {F32, SCALAR}}},
    {"TensorArrayScatterV3", NULL, 4, {{I32, D(2)}, {I32, D(2)}, X23, {F32, SCALAR}}},
    {"TensorArrayConcatV3", a_ta, 2, {{I32, D(2)}, {F32, SCALAR}}},
    {"TensorArraySplitV3", NULL, 4, {{I32, D(2)}, X23, {I32, D(2)}, {F32, SCALAR}}},
    {"TensorArraySizeV3", NULL, 2, {{I32, D(2)}, {F32, SCALAR}}},
    {"TensorArrayCloseV3", NULL, 1, {{I32, D(2)}}},
    {"TensorListReserve", a_tl, 2, {{I32, D(1)}, {I32, SCALAR}}},
    {"EmptyTensorList", a_tl, 2, {{I32, D(1)}, {I32, SCALAR}}},
    {"TensorListFromTensor", a_tl, 2, {X23, {I32, D(1)}}},
    {"TensorListSetItem", a_tl, 3, {{I32, D(2)}, {I32, SCALAR}, X23}},
    {"TensorListGetItem", a_tl, 3, {{I32, D(2)}, {I32, SCALAR}, {I32, D(1)}}},
    {"TensorListStack", a_tl, 2, {{I32, D(2)}, {I32, D(1)}}},
    {"TensorListGather", a_tl, 3, {{I32, D(2)}, {I32, D(2)}, {I32, D(1)}}},
    {"TensorListLength", NULL, 1, {{I32, D(2)}}},
    {"TensorListPushBack", a_tl, 2, {{I32, D(2)}, X23}},
    {"TensorListPopBack", a_tl, 2, {{I32, D(2)}, {I32, D(1)}}},
};
#define N_SWEEP (int)(sizeof SWEEP / sizeof SWEEP[0])

/* ---- the sweep ---- */

static bool is_flow_only(const char *op) {
  const rt_op_def *d = rt__op_find(op);
  return (d->flags & RT_OP_CONTROL) || !strcmp(op, "Const") || !strcmp(op, "Placeholder");
}

static int n_variants;
static int n_ran, n_refused;

static void sweep_one(const op_case *c, const in_spec *ins, int n_in, const char *what) {
  static int trace = -1;
  if (trace < 0)
    trace = getenv("SWEEP_TRACE") != NULL;
  if (trace) /* a sanitizer abort shows the last variant tried */
    fprintf(stderr, "sweep: %s\n", what);
  static double scale = 0;
  if (scale == 0) {
    const char *e = getenv("ORCHARD_TEST_TIME_SCALE");
    scale = e && atof(e) > 0 ? atof(e) : 1;
  }
  clock_t t0 = clock();
  outcome oc = try_op(c, ins, n_in, what, NULL, NULL, 0);
  double ms = 1e3 * (double)(clock() - t0) / CLOCKS_PER_SEC;
  if (trace && ms > 5)
    fprintf(stderr, "sweep: slow (%.0f ms): %s\n", ms, what);
  /* Every input here is at most 16 MiB: seconds of CPU mean a loop over the dims of an empty
   * tensor ([2^31-1, 0] walked row by row), a request that could stall a worker. */
  cr_expect_lt(ms, 500 * scale, "%s took %.0f ms of CPU", what, ms);
  n_variants++;
  n_ran += oc == O_RAN;
  n_refused += oc == O_REFUSED;
}

/* Every op the runtime resolves has at least one template (so the sweep cannot miss one). */
Test(sweep, covers_every_op_in_the_table) {
  const struct {
    const rt_op_def *defs;
    int count;
  } fams[] = {{rt__ops_core, rt__ops_core_count},   {rt__ops_nn, rt__ops_nn_count},
              {rt__ops_math, rt__ops_math_count},   {rt__ops_array, rt__ops_array_count},
              {rt__ops_image, rt__ops_image_count}, {rt__ops_ctrl, rt__ops_ctrl_count}};
  int total = 0;
  for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++)
    for (int i = 0; i < fams[f].count; i++) {
      bool found = false;
      for (int c = 0; c < N_SWEEP && !found; c++)
        found = !strcmp(SWEEP[c].op, fams[f].defs[i].name);
      cr_expect(found, "op %s has no template in SWEEP", fams[f].defs[i].name);
      total++;
    }
  cr_assert_gt(total, 150);
}

/* The templates themselves are valid: every kernel op plans and runs them. */
Test(sweep, templates_run) {
  for (int c = 0; c < N_SWEEP; c++) {
    char what[96], msg[1024] = "";
    rt_status st = RT_OK;
    snprintf(what, sizeof what, "template %d (%s)", c, SWEEP[c].op);
    outcome oc = try_op(&SWEEP[c], SWEEP[c].in, SWEEP[c].n_in, what, &st, msg, sizeof msg);
    if (is_flow_only(SWEEP[c].op))
      cr_expect_eq(oc, O_REFUSED, "%s: a flow-only op planned outside the flow executor", what);
    else
      cr_expect_eq(oc, O_RAN, "%s did not run: %s %s", what, rt_status_str(st), msg);
  }
}

static void sweep_dims(void) {
  for (int c = 0; c < N_SWEEP; c++) {
    const op_case *oc = &SWEEP[c];
    for (int i = 0; i < oc->n_in; i++) {
      const in_spec *s = &oc->in[i];
      char what[128];
      in_spec ins[MAX_IN];
#define VARIANT(desc, ...)                                                                         \
  do {                                                                                             \
    memcpy(ins, oc->in, sizeof ins);                                                               \
    in_spec *m = &ins[i];                                                                          \
    (void)m;                                                                                       \
    __VA_ARGS__;                                                                                   \
    snprintf(what, sizeof what, "%s #%d input %d %s", oc->op, c, i, desc);                         \
    sweep_one(oc, ins, oc->n_in, what);                                                            \
  } while (0)
      for (int d = 0; d < s->rank; d++) {
        const int64_t vals[] = {0, 1, s->dims[d] + 1, 3, 2 * s->dims[d]};
        for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++)
          VARIANT("dim=v", m->dims[d] = vals[v]);
        if (d > 0) {
          VARIANT("dim0=0, dim=2^40", m->dims[0] = 0; m->dims[d] = HUGE_DIM);
          VARIANT("dim=0, dim0=2^31-1", m->dims[d] = 0; m->dims[0] = INT32_MAX);
        }
        VARIANT("dim=2^40", m->dims[d] = HUGE_DIM);
      }
      if (s->rank > 1)
        VARIANT("dim0=0, rest 2^40", m->dims[0] = 0;
                for (int d = 1; d < m->rank; d++) m->dims[d] = HUGE_DIM);
      if (s->rank > 1)
        VARIANT("last=0, rest 2^31-1", m->dims[m->rank - 1] = 0;
                for (int d = 0; d < m->rank - 1; d++) m->dims[d] = INT32_MAX);
      if (s->rank > 0) {
        VARIANT("rank-1", m->rank--);
        VARIANT("rank 0", m->rank = 0);
      }
      if (s->rank < RT_MAX_RANK) {
        VARIANT("rank+1", m->dims[m->rank++] = 1);
        VARIANT("rank+1 (2)", m->dims[m->rank++] = 2);
      }
      VARIANT("rank 8", for (int d = m->rank; d < RT_MAX_RANK; d++) m->dims[d] = 1;
              m->rank = RT_MAX_RANK);
      if (s->dt != RT_DT_BOOL)
        VARIANT("as bool", m->dt = RT_DT_BOOL);
      VARIANT("as int32", m->dt = s->dt == RT_DT_I32 ? RT_DT_F32 : RT_DT_I32);
    }
    /* every input empty at once */
    in_spec ins[MAX_IN];
    memcpy(ins, oc->in, sizeof ins);
    for (int i = 0; i < oc->n_in; i++)
      if (ins[i].rank > 0)
        ins[i].dims[0] = 0;
    sweep_one(oc, ins, oc->n_in, "all inputs empty");
#undef VARIANT
  }
  cr_log_info("hostile_dims%s: %d variants, %d ran, %d refused", sweep_tp ? " (threads)" : "",
              n_variants, n_ran, n_refused);
  cr_assert_gt(n_variants, 5000);
}

Test(sweep, hostile_dims) { sweep_dims(); }

/* Again on three threads: small outputs are then split across channel groups and row blocks
 * (a conv with few pixels splits its output channels), so the item bounds meet odd sizes. */
Test(sweep, hostile_dims_threads) {
  rt_error err = {0};
  cr_assert_eq(rt__threadpool_create(3, &sweep_tp, &err), RT_OK, "%s", err.msg);
  sweep_dims();
  rt__threadpool_destroy(sweep_tp);
  sweep_tp = NULL;
}

/* Value operands (shape, axis, begin/end, paddings, indices, sizes, k, ...): each element set to
 * an extreme, planned and run with the other inputs unchanged. */
Test(sweep, hostile_values) {
  static const double EXTREMES[] = {-2147483648.0, -1, 0, 2147483647.0, 1 << 20, 1e30, NAN};
  for (int c = 0; c < N_SWEEP; c++) {
    const op_case *oc = &SWEEP[c];
    for (int i = 0; i < oc->n_in; i++) {
      const in_spec *s = &oc->in[i];
      if (!s->vals)
        continue;
      for (int e = 0; e < s->nv && e < 8; e++)
        for (size_t x = 0; x < sizeof EXTREMES / sizeof EXTREMES[0]; x++) {
          if (s->dt == RT_DT_I32 && (EXTREMES[x] == 1e30 || isnan(EXTREMES[x])))
            continue;
          double vals[16];
          memcpy(vals, s->vals, (size_t)s->nv * sizeof *vals);
          vals[e] = EXTREMES[x];
          in_spec ins[MAX_IN];
          memcpy(ins, oc->in, sizeof ins);
          ins[i].vals = vals;
          char what[128];
          snprintf(what, sizeof what, "%s #%d input %d value %d = %g", oc->op, c, i, e,
                   EXTREMES[x]);
          sweep_one(oc, ins, oc->n_in, what);
        }
    }
  }
  cr_log_info("hostile_values: %d variants, %d ran, %d refused", n_variants, n_ran, n_refused);
  cr_assert_gt(n_variants, 500);
}

/* Both at once: every data input empty with huge dims ([0, 2^40, ...]) while a value operand
 * holds an extreme, so products of a huge dim by a huge value (Tile's dim x multiple,
 * BatchToSpaceND's dim x block, ...) are exercised too. */
Test(sweep, hostile_dims_and_values) {
  static const double EXTREMES[] = {-2147483648.0, -1, 0, 2147483647.0, 1 << 20};
  const int64_t fills[] = {HUGE_DIM, INT32_MAX};
  for (int c = 0; c < N_SWEEP; c++) {
    const op_case *oc = &SWEEP[c];
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++)
      for (int i = 0; i < oc->n_in; i++) {
        const in_spec *s = &oc->in[i];
        if (!s->vals)
          continue;
        for (int e = 0; e < s->nv && e < 8; e++)
          for (size_t x = 0; x < sizeof EXTREMES / sizeof EXTREMES[0]; x++) {
            double vals[16];
            memcpy(vals, s->vals, (size_t)s->nv * sizeof *vals);
            vals[e] = EXTREMES[x];
            in_spec ins[MAX_IN];
            memcpy(ins, oc->in, sizeof ins);
            ins[i].vals = vals;
            for (int j = 0; j < oc->n_in; j++)
              if (!ins[j].vals && ins[j].rank > 1) {
                ins[j].dims[0] = 0;
                for (int d = 1; d < ins[j].rank; d++)
                  ins[j].dims[d] = fills[f];
              }
            char what[128];
            snprintf(what, sizeof what, "%s #%d empty-huge data, input %d value %d = %g", oc->op, c,
                     i, e, EXTREMES[x]);
            sweep_one(oc, ins, oc->n_in, what);
          }
      }
  }
  cr_assert_gt(n_variants, 500);
}

/* ---- refusals: bad attributes and shapes at plan, bad data-dependent values at run ---- */

static void b_no_strides(tc *t) { attr_str(t, "padding", "SAME"); }
static void b_zero_strides(tc *t) {
  attr_ints(t, "strides", INTS(1, 0, 1, 1));
  attr_str(t, "padding", "SAME");
}
static void b_bad_padding(tc *t) {
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_str(t, "padding", "FOO");
}
static void b_short_explicit(tc *t) {
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_str(t, "padding", "EXPLICIT");
  attr_ints(t, "explicit_paddings", INTS(0, 0, 1, 1));
}
static void b_neg_explicit(tc *t) {
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_str(t, "padding", "EXPLICIT");
  attr_ints(t, "explicit_paddings", INTS(0, 0, -1, 1, 0, 0, 0, 0));
}
static void b_stride_and_dilation(tc *t) {
  attr_ints(t, "strides", INTS(1, 2, 2, 1));
  attr_ints(t, "dilations", INTS(1, 2, 2, 1));
  attr_str(t, "padding", "SAME");
}
static void b_ncdhw(tc *t) {
  a_conv(t);
  attr_str(t, "data_format", "NCDHW");
}
static void b_num_args(tc *t) {
  a_conv(t);
  attr_strs(t, "fused_ops", 2, (const char *const[]){"BiasAdd", "Relu"});
  attr_int(t, "num_args", 2);
}
static void b_gelu(tc *t) {
  a_conv(t);
  attr_strs(t, "fused_ops", 2, (const char *const[]){"BiasAdd", "Gelu"});
  attr_int(t, "num_args", 1);
}
static void b_no_ksize(tc *t) {
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_str(t, "padding", "VALID");
}
static void b_ksize3(tc *t) {
  attr_ints(t, "ksize", INTS(1, 2, 2));
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_str(t, "padding", "VALID");
}
static void b_huge_ksize(tc *t) {
  attr_ints(t, "ksize", INTS(1, (int64_t)1 << 31, 2, 1));
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_str(t, "padding", "VALID");
}
static void b_valid(tc *t) {
  attr_ints(t, "strides", INTS(1, 1, 1, 1));
  attr_str(t, "padding", "VALID");
}
static void b_ndhwc(tc *t) { attr_str(t, "data_format", "NDHWC"); }
static void b_squeeze1(tc *t) { attr_ints(t, "squeeze_dims", INTS(1)); }
static void b_squeeze5(tc *t) { attr_ints(t, "squeeze_dims", INTS(5)); }
static void b_two_ellipses(tc *t) { attr_int(t, "ellipsis_mask", 3); }
static void b_shrink0(tc *t) { attr_int(t, "shrink_axis_mask", 1); }
static void b_axis5(tc *t) { attr_int(t, "axis", 5); }
static void b_unpack4(tc *t) { attr_int(t, "num", 4); }
static void b_split0(tc *t) { attr_int(t, "num_split", 0); }
static void b_split4(tc *t) { attr_int(t, "num_split", 4); }
static void b_wrap(tc *t) { attr_str(t, "mode", "WRAP"); }
static void b_batch2(tc *t) { attr_int(t, "batch_dims", 2); }
static void b_align_half(tc *t) {
  attr_bool(t, "align_corners", true);
  attr_bool(t, "half_pixel_centers", true);
}
static void b_bicubic(tc *t) { attr_str(t, "method", "bicubic"); }
static void b_block1(tc *t) { attr_int(t, "block_size", 1); }
static void b_block3(tc *t) { attr_int(t, "block_size", 3); }
static void b_ensure3(tc *t) { attr_shape(t, "shape", 2, (const int64_t[]){3, -1}); }
static void b_ensure_rank(tc *t) { attr_shape(t, "shape", 3, (const int64_t[]){2, 3, 1}); }
static void b_no_dst(tc *t) { (void)t; }

typedef struct bad_case {
  op_case c;
  stage at;
  rt_status want;
  const char *msg; /* a substring the message must hold (besides the node's name) */
} bad_case;

#define X1553                                                                                      \
  { F32, D(1, 5, 5, 3) }
#define F3334                                                                                      \
  { F32, D(3, 3, 3, 4) }

static const bad_case BAD[] = {
    /* nn: attributes (prepare) */
    {{"Conv2D", b_no_strides, 2, {X1553, F3334}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "attribute strides is missing"},
    {{"Conv2D", b_zero_strides, 2, {X1553, F3334}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "strides must be positive"},
    {{"Conv2D", b_bad_padding, 2, {X1553, F3334}},
     ST_PREPARE,
     RT_ERR_UNSUPPORTED,
     "padding 'FOO' is not supported"},
    {{"Conv2D", b_short_explicit, 2, {X1553, F3334}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "needs 8 explicit_paddings, got 4"},
    {{"Conv2D", b_neg_explicit, 2, {X1553, F3334}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "explicit_paddings entry -1 is out of range"},
    {{"Conv2D", b_stride_and_dilation, 2, {X1553, F3334}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "either strides or dilations must be 1"},
    {{"Conv2D", b_ncdhw, 2, {X1553, F3334}},
     ST_PREPARE,
     RT_ERR_UNSUPPORTED,
     "data_format 'NCDHW' is not supported"},
    {{"_FusedConv2D", b_num_args, 3, {X1553, F3334, {F32, D(4)}}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "num_args is 2 but its fused_ops need 1"},
    {{"_FusedConv2D", b_gelu, 3, {X1553, F3334, {F32, D(4)}}},
     ST_PREPARE,
     RT_ERR_UNSUPPORTED,
     "fused activation 'Gelu' is not supported"},
    {{"MaxPool", b_no_ksize, 1, {X1553}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "attribute ksize is missing"},
    {{"AvgPool", b_ksize3, 1, {X1553}}, ST_PREPARE, RT_ERR_INVALID_ARG, "ksize has 3 entries"},
    {{"MaxPool", b_huge_ksize, 1, {X1553}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "ksize must be positive and at most 2^30"},
    /* nn: shapes (plan) */
    {{"Conv2D", a_conv, 2, {{F32, D(5, 3)}, F3334}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "input must have rank 4 (or 3), got 2"},
    {{"Conv2D", a_conv, 2, {X1553, {F32, D(3, 3, 2, 4)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "expects 2 input channels, the input has 3"},
    {{"Conv2D", a_conv, 2, {X1553, {F32, D(3, 3, 3)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "filter must have rank 4"},
    {{"Conv2D", b_valid, 2, {{F32, D(1, 1, 4, 3)}, F3334}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "window of 3 does not fit the input height of 1"},
    {{"Conv2D", a_conv, 2, {X1553, {F32, D(0, 3, 3, 4)}}}, ST_PLAN, RT_ERR_SHAPE, "empty window"},
    {{"_FusedConv2D", a_fused_relu, 3, {X1553, F3334, {F32, D(5)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "bias [5] does not broadcast to the output [1,5,5,4]"},
    {{"DepthwiseConv2dNative", a_conv, 2, {X1553, {F32, D(3, 3, 4, 1)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "expects 4 input channels, the input has 3"},
    {{"Conv2DBackpropInput", a_conv, 3, {{I32, D(2), V(5, 5)}, F3334, {F32, D(1, 5, 5, 4)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "output_shape must be a vector of 4 (or 3) sizes"},
    {{"Conv2DBackpropInput", a_conv, 3, {{I32, D(4), V(1, 5, 5, 3)}, F3334, {F32, D(1, 4, 5, 4)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "dy is [1,4,5,4] but output_shape and the filter give [1,5,5,4]"},
    {{"Conv2DBackpropInput",
      a_conv,
      3,
      {{I32, D(4), V(1, -5, 5, 3), LATE}, F3334, {F32, D(1, 5, 5, 4)}}},
     ST_REPLAN,
     RT_ERR_SHAPE,
     "output_shape[1] = -5 is invalid"},
    {{"MatMul", NULL, 2, {{F32, D(2, 3)}, {F32, D(4, 3)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "inner dims differ"},
    {{"MatMul", NULL, 2, {{F32, D(3)}, {F32, D(3, 4)}}}, ST_PLAN, RT_ERR_SHAPE, "need rank >= 2"},
    {{"BatchMatMulV2", NULL, 2, {{F32, D(2, 2, 3)}, {F32, D(3, 3, 4)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "do not broadcast"},
    {{"MatMul", NULL, 2, {{I32, D(2, 3)}, {F32, D(3, 4)}}},
     ST_PLAN,
     RT_ERR_UNSUPPORTED,
     "matmul of int32 by float32 is not supported"},
    /* math */
    {{"Add", NULL, 2, {X23, {F32, D(4)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "shapes cannot broadcast (dim 1: 3 vs 4)"},
    {{"BiasAdd", a_nchw, 2, {{F32, D(1, 3, 2, 2)}, {F32, D(2)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "NCHW bias must be rank 1 with as many elements as input dim 1"},
    {{"BiasAdd", b_ndhwc, 2, {X23, {F32, D(3)}}},
     ST_PREPARE,
     RT_ERR_UNSUPPORTED,
     "data_format 'NDHWC' is not NHWC or NCHW"},
    {{"AddN", NULL, 2, {X23, {F32, D(3, 2)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "input 1 differs in dtype or shape from input 0"},
    {{"Cast", b_no_dst, 1, {X23}}, ST_PREPARE, RT_ERR_UNSUPPORTED, "attribute DstT is missing"},
    {{"Sum", NULL, 2, {{F32, D(2, 3, 4)}, {I32, D(2), V(0, 3)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "axis 3 is out of range for rank 3"},
    {{"Max", NULL, 2, {{F32, D(2, 3, 4)}, {F32, SCALAR, V(NAN)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "is out of range for rank 3"},
    {{"ArgMax", NULL, 2, {X23, {I32, SCALAR, V(-3)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "axis -3 is out of range for rank 2"},
    {{"ArgMin", NULL, 2, {X23, {I32, D(1, 1), V(0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "axis must be a scalar"},
    {{"Softmax", NULL, 1, {{F32, SCALAR}}}, ST_PLAN, RT_ERR_SHAPE, "input must have rank >= 1"},
    {{"ClipByValue", NULL, 3, {X23, {F32, D(0)}, {F32, SCALAR, V(1)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "must not be empty"},
    {{"ClipByValue", NULL, 3, {X23, {F32, SCALAR, V(2), LATE}, {F32, SCALAR, V(1)}}},
     ST_RUN,
     RT_ERR_INVALID_ARG,
     "min (2) must be less than or equal to max (1)"},
    /* array */
    {{"Reshape", NULL, 2, {X23, {I32, D(2), V(4, 2)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "cannot reshape [2,3] (6 elements) into [4,2] (8 elements)"},
    {{"Reshape", NULL, 2, {X23, {I32, D(2), V(-1, -1)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "has more than one -1"},
    {{"Reshape", NULL, 2, {X23, {I32, D(2), V(-2, 3)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "has negative dim 0"},
    {{"Reshape", NULL, 2, {X23, {I32, D(3), V(65536, 65536, 0.5)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "cannot reshape"},
    {{"Reshape", NULL, 2, {X23, {I32, D(2), V(65536, 65536), LATE}}},
     ST_REPLAN,
     RT_ERR_SHAPE,
     "has over 2^31-1 elements"},
    {{"Squeeze", b_squeeze1, 1, {X23}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "cannot squeeze axis 1 since its dim is 3, not 1"},
    {{"Squeeze", b_squeeze5, 1, {X23}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "squeeze axis 5 is out of range for rank 2"},
    {{"ExpandDims", NULL, 2, {X23, {I32, SCALAR, V(4)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "axis 4 is not in [-3, 2]"},
    {{"StridedSlice",
      NULL,
      4,
      {X23, {I32, D(2), V(0, 0)}, {I32, D(2), V(2, 3)}, {I32, D(2), V(1, 0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "strides[1] must be non-zero"},
    {{"StridedSlice", b_shrink0, 4, {X23, {I32, D(1), V(2)}, {I32, D(1), V(3)}, {I32, D(1), V(1)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "slice index 2 of dimension 0 out of bounds"},
    {{"StridedSlice",
      b_two_ellipses,
      4,
      {X23, {I32, D(2), V(0, 0)}, {I32, D(2), V(2, 3)}, {I32, D(2), V(1, 1)}}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "multiple ellipses"},
    {{"StridedSlice",
      NULL,
      4,
      {X23, {I32, D(2), V(0, 0)}, {I32, D(1), V(2)}, {I32, D(2), V(1, 1)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "begin, end and strides have 2, 1 and 2 entries"},
    {{"StridedSlice",
      NULL,
      4,
      {X23, {I32, D(3), V(0, 0, 0)}, {I32, D(3), V(1, 1, 1)}, {I32, D(3), V(1, 1, 1)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "indexes past the input's 2 dims"},
    {{"Slice", NULL, 3, {X23, {I32, D(2), V(3, 0)}, {I32, D(2), V(-1, -1)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "begin[0] = 3 is outside [0, 2]"},
    {{"Slice", NULL, 3, {X23, {I32, D(2), V(0, 1)}, {I32, D(2), V(1, 3)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "begin[1] + size[1] = 4 overflows dim 3"},
    {{"Slice", NULL, 3, {X23, {I32, D(2), V(0, 0)}, {I32, D(2), V(-2, 1)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "negative sizes must be exactly -1"},
    {{"Pack", NULL, 2, {X23, {F32, D(3, 2)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "input 1 shape [3,2] does not match input 0 shape [2,3]"},
    {{"Pack", b_axis5, 2, {X23, X23}}, ST_PLAN, RT_ERR_INVALID_ARG, "axis 5 is not in [-3, 2]"},
    {{"Unpack", b_unpack4, 1, {{F32, D(3, 2)}}}, ST_PLAN, RT_ERR_SHAPE, "dim 0 is 3 but num is 4"},
    {{"Unpack", NULL, 1, {{F32, D(3, 2)}}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "attribute num = -1 must be in [0, 1024]"},
    {{"ConcatV2", NULL, 3, {X23, {F32, D(3, 3)}, {I32, SCALAR, V(1)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "does not match input 0"},
    {{"ConcatV2", NULL, 3, {X23, X23, {I32, SCALAR, V(2)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "axis 2 is not in [-2, 2)"},
    {{"Concat", NULL, 3, {{I32, SCALAR, V(0)}, X23, {I32, D(4, 3)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "does not match input 1"},
    {{"Split", b_split4, 2, {{I32, SCALAR, V(1)}, {F32, D(2, 6)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "dim 1 (6) does not split evenly into 4"},
    {{"Split", b_split0, 2, {{I32, SCALAR, V(1)}, {F32, D(2, 6)}}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "num_split = 0 must be in [1, 1024]"},
    {{"SplitV", a_split3, 3, {{F32, D(2, 6)}, {I32, D(3), V(1, 2, 4)}, {I32, SCALAR, V(1)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "size_splits sum to 7 but dim 1 is 6"},
    {{"SplitV", a_split3, 3, {{F32, D(2, 6)}, {I32, D(3), V(-1, 2, -1)}, {I32, SCALAR, V(1)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "only one -1 allowed"},
    {{"Pad", NULL, 2, {X23, {I32, D(2, 2), V(-1, 0, 0, 0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "paddings for dim 0 (-1, 0) must be in"},
    {{"Pad", NULL, 2, {X23, {I32, D(3, 2), V(0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "paddings must have shape [2,2]"},
    {{"MirrorPad", a_mirror, 2, {{F32, D(3, 4)}, {I32, D(2, 2), V(3, 0, 0, 0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "paddings for dim 0 (3, 0) must be in [0, 2]"},
    {{"MirrorPad", b_wrap, 2, {{F32, D(3, 4)}, {I32, D(2, 2), V(0)}}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "mode 'WRAP' must be REFLECT or SYMMETRIC"},
    {{"Transpose", NULL, 2, {{F32, D(2, 3, 4)}, {I32, D(3), V(0, 1, 1)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "perm[2] = 1 is out of range or repeated"},
    {{"Transpose", NULL, 2, {{F32, D(2, 3, 4)}, {I32, D(3), V(0, 3, 1)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "perm[1] = 3 is out of range or repeated"},
    {{"Transpose", NULL, 2, {{F32, D(2, 3, 4)}, {I32, D(2), V(1, 0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "perm has 2 entries for rank 3"},
    {{"GatherV2", NULL, 3, {{F32, D(4, 3)}, {I32, D(2), V(0)}, {I32, SCALAR, V(2)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "axis 2 is not in [-2, 2)"},
    {{"GatherV2", b_batch2, 3, {{F32, D(4, 3)}, {I32, D(4, 2), V(0)}, {I32, SCALAR, V(1)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "batch_dims 2 must be <= axis 1"},
    {{"GatherNd", NULL, 2, {{F32, D(4, 3)}, {I32, D(1, 3), V(0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "index depth 3 exceeds params rank 2"},
    {{"GatherNd", NULL, 2, {{F32, D(0, 3)}, {I32, D(1, 1), V(0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "params [0,3] are empty"},
    {{"Tile", NULL, 2, {X23, {I32, D(2), V(1, -2)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "multiples[1] = -2 is negative"},
    {{"Tile", NULL, 2, {X23, {I32, D(1), V(2)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "multiples has 1 entries for rank 2"},
    {{"Tile", NULL, 2, {X23, {I32, D(2), V(65536, 65536)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "over 2^31-1 elements"},
    {{"BroadcastTo", NULL, 2, {X23, {I32, D(2), V(2, 4)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "[2,3] cannot be broadcast to [2,4]"},
    {{"Fill", NULL, 2, {{I32, D(2), V(2, -3)}, {F32, SCALAR, V(1)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "output 0 shape [2,-3] is negative or over 2^31-1 elements"},
    {{"OneHot",
      NULL,
      4,
      {{I32, D(3), V(0)}, {I32, SCALAR, V(1)}, {I32, SCALAR, V(1)}, {I32, SCALAR, V(0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "depth must be >= 2, got 1"},
    {{"OneHot",
      NULL,
      4,
      {{F32, D(3), V(0)}, {I32, SCALAR, V(3)}, {I32, SCALAR, V(1)}, {I32, SCALAR, V(0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "indices must be int32, got float32"},
    {{"EnsureShape", b_ensure3, 1, {X23}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "input shape [2,3] is not compatible with [3,-1]"},
    {{"EnsureShape", b_ensure_rank, 1, {X23}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "input shape [2,3] is not compatible with [2,3,1]"},
    /* image */
    {{"ResizeBilinear", NULL, 2, {{F32, D(1, 4, 4, 3)}, {I32, D(2), V(-1, 5)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "size must be non-negative, got [-1, 5]"},
    {{"ResizeBilinear", NULL, 2, {{F32, D(1, 4, 4, 3)}, {I32, D(3), V(2)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "size must have 2..2 elements, got 3"},
    {{"ResizeNearestNeighbor", b_align_half, 2, {{F32, D(1, 4, 4, 3)}, {I32, D(2), V(2)}}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "half_pixel_centers requires align_corners to be false"},
    {{"ResizeNearestNeighbor", NULL, 2, {{F32, D(4, 3)}, {I32, D(2), V(2)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "images must be rank 3 or 4, got rank 2"},
    {{"ResizeBilinear", NULL, 2, {{F32, D(1, 0, 4, 3)}, {I32, D(2), V(2)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "cannot resize an empty image to [2, 2]"},
    {{"ResizeBilinear", NULL, 2, {{F32, D(1, 4, 4, 3)}, {I32, D(2), V(65536, 65536)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "output 0 is too large"},
    {{"CropAndResize",
      NULL,
      4,
      {{F32, D(1, 4, 4, 3)}, {F32, D(2, 3)}, {I32, D(2), V(0)}, {I32, D(2), V(2)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "boxes must be float32 [num_boxes, 4]"},
    {{"CropAndResize",
      NULL,
      4,
      {{F32, D(1, 4, 4, 3)}, {F32, D(2, 4)}, {I32, D(2), V(0)}, {I32, D(2), V(0, 2)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "crop_size must be at least [1, 1], got [0, 2]"},
    {{"CropAndResize",
      b_bicubic,
      4,
      {{F32, D(1, 4, 4, 3)}, {F32, D(2, 4)}, {I32, D(2), V(0)}, {I32, D(2), V(2)}}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "method must be \"bilinear\" or \"nearest\""},
    {{"DepthToSpace", b_block1, 1, {{F32, D(1, 2, 2, 8)}}},
     ST_PREPARE,
     RT_ERR_INVALID_ARG,
     "block_size must be >= 2, got 1"},
    {{"DepthToSpace", b_block3, 1, {{F32, D(1, 2, 2, 8)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "depth 8 is not divisible by block_size^2 = 9"},
    {{"SpaceToDepth", b_block3, 1, {{F32, D(1, 4, 6, 2)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "height 4 and width 6 must be divisible by block_size 3"},
    {{"SpaceToBatchND",
      NULL,
      3,
      {{F32, D(1, 4, 4, 1)}, {I32, D(2), V(2, 0)}, {I32, D(2, 2), V(0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "block_shape[1] = 0 must be >= 1"},
    {{"SpaceToBatchND",
      NULL,
      3,
      {{F32, D(1, 4, 4, 1)}, {I32, D(2), V(3, 2)}, {I32, D(2, 2), V(0)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "padded spatial dim 0 (4) is not divisible by block_shape[0] = 3"},
    {{"BatchToSpaceND",
      NULL,
      3,
      {{F32, D(3, 2, 2, 1)}, {I32, D(2), V(2, 2)}, {I32, D(2, 2), V(0)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "batch 3 is not divisible by the block_shape product 4"},
    {{"BatchToSpaceND",
      NULL,
      3,
      {{F32, D(4, 2, 2, 1)}, {I32, D(2), V(2, 2)}, {I32, D(2, 2), V(3, 2, 0, 0)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "crops[0] = [3, 2] exceed the dimension 4"},
    {{"SparseToDense",
      NULL,
      4,
      {{I32, D(3), V(0)}, {I32, D(1), V(-6)}, {F32, D(3)}, {F32, SCALAR}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "output_shape[0] = -6 is negative"},
    {{"SparseToDense", NULL, 4, {{I32, D(3), V(0)}, {I32, D(1), V(6)}, {F32, D(2)}, {F32, SCALAR}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "sparse_values must be a scalar or have 3 elements"},
    {{"TopKV2", NULL, 2, {{F32, D(2, 5)}, {I32, SCALAR, V(6)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "k = 6 must be an integer in [0, 5]"},
    {{"TopKV2", NULL, 2, {{F32, SCALAR}, {I32, SCALAR, V(1)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "input must be rank 1 or higher"},
    {{"NonMaxSuppressionV3",
      NULL,
      5,
      {{F32, D(3, 4), BOX},
       {F32, D(3)},
       {I32, SCALAR, V(3)},
       {F32, SCALAR, V(2)},
       {F32, SCALAR, V(0)}}},
     ST_PLAN,
     RT_ERR_INVALID_ARG,
     "iou_threshold must be in [0, 1], got 2"},
    {{"NonMaxSuppressionV2",
      NULL,
      4,
      {{F32, D(3, 4), BOX}, {F32, D(2)}, {I32, SCALAR, V(3)}, {F32, SCALAR, V(0.5)}}},
     ST_PLAN,
     RT_ERR_SHAPE,
     "scores must be float32 [3]"},
    /* control flow */
    {{"Enter", NULL, 1, {X23}}, ST_PREPARE, RT_ERR_PARSE, "missing string attribute 'frame_name'"},
    {{"Switch", NULL, 2, {X23, {BOOL, SCALAR}}},
     ST_PLAN,
     RT_ERR_UNSUPPORTED,
     "runs only in the control-flow executor"},
    /* run time: indices known only then are checked before anything is read or written */
    {{"GatherV2", NULL, 3, {{F32, D(4, 3)}, {I32, D(2), V(0, 4), LATE}, {I32, SCALAR, V(0)}}},
     ST_RUN,
     RT_ERR_INVALID_ARG,
     "index 4 (indices element 1) is not in [0, 3]"},
    {{"GatherV2", NULL, 3, {{F32, D(4, 3)}, {I32, D(2), V(-1, 0), LATE}, {I32, SCALAR, V(1)}}},
     ST_RUN,
     RT_ERR_INVALID_ARG,
     "index -1 (indices element 0) is not in [0, 2]"},
    {{"Gather", NULL, 2, {{F32, D(4, 3)}, {F32, D(1), V(-2147483648.0), LATE}}},
     ST_RUN,
     RT_ERR_INVALID_ARG,
     "index -2147483648 (indices element 0)"},
    {{"GatherNd", NULL, 2, {{F32, D(4, 3)}, {I32, D(2, 2), V(0, 1, 3, 3), LATE}}},
     ST_RUN,
     RT_ERR_INVALID_ARG,
     "indices [3,3] do not index into params [4,3]"},
    {{"GatherNd", NULL, 2, {{F32, D(4, 3)}, {I32, D(1, 2), V(-2147483648.0, -2147483648.0), LATE}}},
     ST_RUN,
     RT_ERR_INVALID_ARG,
     "do not index into params [4,3]"},
    {{"SparseToDense",
      NULL,
      4,
      {{I32, D(3), V(0, 6, 1), LATE}, {I32, D(1), V(6)}, {F32, D(3)}, {F32, SCALAR}}},
     ST_RUN,
     RT_ERR_INVALID_ARG,
     "sparse_indices row 1 [6] is out of bounds for the output shape [6]"},
    {{"SparseToDense",
      NULL,
      4,
      {{I32, D(2, 2), V(0, 2, -1, 1), LATE},
       {I32, D(2), V(2, 3)},
       {I32, SCALAR, V(1)},
       {I32, SCALAR, V(0)}}},
     ST_RUN,
     RT_ERR_INVALID_ARG,
     "sparse_indices row 1 [-1,1] is out of bounds for the output shape [2,3]"},
    {{"CropAndResize",
      NULL,
      4,
      {{F32, D(1, 4, 4, 3)}, {F32, D(2, 4), BOX}, {I32, D(2), V(0, -3), LATE}, {I32, D(2), V(2)}}},
     ST_RUN,
     RT_ERR_INVALID_ARG,
     "box_ind[1] = -3 is negative"},
};
#define N_BAD (int)(sizeof BAD / sizeof BAD[0])

static const char *stage_name(stage s) {
  static const char *names[] = {"prepare", "plan", "re-plan at run time", "run", "nothing"};
  return names[s];
}

Test(refuse, bad_attributes_shapes_and_indices) {
  for (int i = 0; i < N_BAD; i++) {
    const bad_case *b = &BAD[i];
    char what[96], msg[1024] = "";
    rt_status st = RT_OK;
    snprintf(what, sizeof what, "BAD[%d] (%s)", i, b->c.op);
    outcome oc = try_op(&b->c, b->c.in, b->c.n_in, what, &st, msg, sizeof msg);
    cr_expect_eq(oc, O_REFUSED, "%s was not refused (%s)", what, stage_name(last_stage));
    if (oc != O_REFUSED)
      continue;
    cr_expect_eq(last_stage, b->at, "%s refused at %s, want %s: %s", what, stage_name(last_stage),
                 stage_name(b->at), msg);
    cr_expect_eq(st, b->want, "%s: status %s, want %s: %s", what, rt_status_str(st),
                 rt_status_str(b->want), msg);
    cr_expect(strstr(msg, b->msg), "%s: message '%s' lacks '%s'", what, msg, b->msg);
  }
}

/* The nn ops as the compiled model runs them: constant filters packed at load (pack()), then
 * per plan the portable kernels on the packed layout or oneDNN primitives (plan()). */
static void sweep_nn_packed(const char *kernels) {
  setenv("ORCHARD_KERNELS", kernels, 1);
  sweep_pack = true;
  for (int c = 0; c < N_SWEEP; c++) {
    const op_case *oc = &SWEEP[c];
    const rt_op_def *d = rt__op_find(oc->op);
    if (!d->pack || oc->n_in < 2)
      continue;
    char what[160];
    snprintf(what, sizeof what, "%s #%d packed (%s) template", oc->op, c, kernels);
    cr_expect_eq(try_op(oc, oc->in, oc->n_in, what, NULL, NULL, 0), O_RAN, "%s did not run", what);
    for (int i = 0; i < oc->n_in; i++)
      for (int dd = 0; dd < oc->in[i].rank; dd++) {
        const int64_t vals[] = {0, 1, oc->in[i].dims[dd] + 1, 3};
        for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
          in_spec ins[MAX_IN];
          memcpy(ins, oc->in, sizeof ins);
          ins[i].dims[dd] = vals[v];
          snprintf(what, sizeof what, "%s #%d packed (%s) input %d dim %d = %lld", oc->op, c,
                   kernels, i, dd, (long long)vals[v]);
          sweep_one(oc, ins, oc->n_in, what);
          if (dd > 0) {
            ins[i].dims[0] = 0;
            ins[i].dims[dd] = HUGE_DIM;
            sweep_one(oc, ins, oc->n_in, what);
          }
        }
      }
  }
  sweep_pack = false;
  cr_log_info("packed (%s): %d variants, %d ran, %d refused, %d with a primitive", kernels,
              n_variants, n_ran, n_refused, n_planned);
  cr_assert_gt(n_variants, 300);
#ifdef ORCHARD_HAVE_DNNL
  if (!strcmp(kernels, "dnnl"))
    cr_assert_gt(n_planned, 100, "oneDNN planned only %d variants", n_planned);
#endif
}

Test(sweep, hostile_dims_packed_portable) { sweep_nn_packed("portable"); }
Test(sweep, hostile_dims_packed_dnnl) { sweep_nn_packed("dnnl"); }

/* Every template with its data (not its value operands) full of NaN, infinities, float32 max
 * and int32 extremes: kernels that turn data into indices or sizes must not be led astray. */
Test(sweep, hostile_data) {
  fill_extremes = true;
  for (int c = 0; c < N_SWEEP; c++) {
    char what[96];
    snprintf(what, sizeof what, "%s #%d extreme data", SWEEP[c].op, c);
    sweep_one(&SWEEP[c], SWEEP[c].in, SWEEP[c].n_in, what);
  }
  fill_extremes = false;
  cr_assert_eq(n_variants, N_SWEEP);
}

/* Optional inputs left out: every count compile accepts (min_inputs ... the template's). */
Test(sweep, fewer_optional_inputs) {
  int tried = 0;
  for (int c = 0; c < N_SWEEP; c++) {
    const rt_op_def *d = rt__op_find(SWEEP[c].op);
    for (int n = d->min_inputs; n < SWEEP[c].n_in; n++) {
      char what[96];
      snprintf(what, sizeof what, "%s #%d with %d inputs", SWEEP[c].op, c, n);
      sweep_one(&SWEEP[c], SWEEP[c].in, n, what);
      tried++;
    }
  }
  cr_assert_gt(tried, 10);
}
