/*
 * ops_ctrl.c — table entries for control flow (Switch, Merge, Enter, Exit, NextIteration,
 * LoopCond) and the TensorArray / TensorList resources loops use.
 *
 * These ops have no kernel: the dataflow executor (exec_flow.c) runs them itself, because
 * their meaning depends on frames, iterations, dead tensors and per-run resources that a
 * kernel cannot see. The entries exist so that the compiler resolves them, checks their
 * arity, flags the graph as having control flow (RT_OP_CONTROL) and never folds them
 * (RT_OP_NOFOLD). prepare() rejects attributes the executor could not honour, at load time
 * and naming the node; shape()/run() fail loudly if anything but the flow executor reaches
 * them.
 */
#include "../ops.h"

#include <string.h>

#define CTRL (RT_OP_CONTROL | RT_OP_NOFOLD)

static rt_status shape_flow_only(rt_kctx *k) {
  return rt__errorf(k->err, RT_ERR_UNSUPPORTED,
                    "node '%s': %s runs only in the control-flow executor", k->node->name,
                    k->node->op_name);
}

static rt_status run_flow_only(rt_kctx *k) { return shape_flow_only(k); }

static bool is_tensor_dtype(rt_dtype t) {
  return t == RT_DT_F32 || t == RT_DT_I32 || t == RT_DT_BOOL;
}

/* A dtype attribute the executor compares tensors against: absent or non-numeric would make
 * every use of the resource fail at run time, so say so at load time. */
static rt_status need_dtype(const rt_node *n, const char *attr, rt_error *err) {
  const rt_attr *a = rt__attr_find(n, attr);
  if (!a || a->kind != RT_ATTR_TYPE)
    return rt__errorf(err, RT_ERR_PARSE, "node '%s' (%s): missing type attribute '%s'", n->name,
                      n->op_name, attr);
  if (!is_tensor_dtype(a->type))
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' is %s", n->name,
                      n->op_name, attr, rt_dtype_name(a->type));
  return RT_OK;
}

/* Optional dtype attributes must still be a tensor type when present. */
static rt_status opt_dtype(const rt_node *n, const char *attr, rt_error *err) {
  const rt_attr *a = rt__attr_find(n, attr);
  if (!a)
    return RT_OK;
  return need_dtype(n, attr, err);
}

static rt_status prepare_enter(rt_graph *g, rt_node *n, rt_error *err) {
  const rt_attr *a = rt__attr_find(n, "frame_name");
  if (!a || a->kind != RT_ATTR_STRING || !a->s || !a->s[0])
    return rt__errorf(err, RT_ERR_PARSE, "node '%s' (Enter): missing string attribute 'frame_name'",
                      n->name);
  const rt_attr *c = rt__attr_find(n, "is_constant");
  if (c && c->kind != RT_ATTR_BOOL)
    return rt__errorf(err, RT_ERR_PARSE, "node '%s' (Enter): attribute 'is_constant' is not a bool",
                      n->name);
  return RT_OK;
}

static rt_status prepare_ta_new(rt_graph *g, rt_node *n, rt_error *err) {
  rt_status st = need_dtype(n, "dtype", err);
  if (st != RT_OK)
    return st;
  const rt_attr *a = rt__attr_find(n, "element_shape");
  if (a && a->kind != RT_ATTR_SHAPE)
    return rt__errorf(err, RT_ERR_PARSE, "node '%s' (%s): attribute 'element_shape' is not a shape",
                      n->name, n->op_name);
  if (a && a->shape.rank >= RT_MAX_RANK)
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s' (%s): element_shape has rank %d (at most %d)", n->name, n->op_name,
                      a->shape.rank, RT_MAX_RANK - 1);
  return RT_OK;
}

static rt_status prepare_ta_dtype_opt(rt_graph *g, rt_node *n, rt_error *err) {
  return opt_dtype(n, "dtype", err);
}

static rt_status prepare_tl_dtype(rt_graph *g, rt_node *n, rt_error *err) {
  return need_dtype(n, "element_dtype", err);
}

static rt_status prepare_tl_dtype_opt(rt_graph *g, rt_node *n, rt_error *err) {
  return opt_dtype(n, "element_dtype", err);
}

#define OP(nm, lo, hi, nout, prep)                                                                 \
  {                                                                                                \
    .name = nm, .min_inputs = lo, .max_inputs = hi, .n_outputs = nout, .prepare = prep,            \
    .shape = shape_flow_only, .run = run_flow_only, .flags = CTRL                                  \
  }

const rt_op_def rt__ops_ctrl[] = {
    /* Switch: outputs (false, true); Merge: (value, value_index). */
    OP("Switch", 2, 2, 2, NULL),
    OP("Merge", 1, -1, 2, NULL),
    OP("Enter", 1, 1, 1, prepare_enter),
    OP("Exit", 1, 1, 1, NULL),
    OP("NextIteration", 1, 1, 1, NULL),
    OP("LoopCond", 1, 1, 1, NULL),
    /* TensorArray (TF1 while loops, tf.map_fn): handle + flow; the flow input is ignored, as
     * TF.js ignores it — ordering comes from the data edges. */
    OP("TensorArrayV3", 1, 1, 2, prepare_ta_new),
    OP("TensorArrayWriteV3", 4, 4, 1, NULL),
    OP("TensorArrayReadV3", 3, 3, 1, NULL),
    OP("TensorArrayGatherV3", 3, 3, 1, prepare_ta_dtype_opt),
    OP("TensorArrayScatterV3", 4, 4, 1, NULL),
    OP("TensorArrayConcatV3", 2, 2, 2, prepare_ta_dtype_opt),
    OP("TensorArraySplitV3", 4, 4, 1, NULL),
    OP("TensorArraySizeV3", 2, 2, 1, NULL),
    OP("TensorArrayCloseV3", 1, 1, 0, NULL),
    /* TensorList (TF2 while loops). */
    OP("TensorListReserve", 2, 2, 1, prepare_tl_dtype),
    OP("EmptyTensorList", 2, 2, 1, prepare_tl_dtype),
    OP("TensorListFromTensor", 2, 2, 1, prepare_tl_dtype),
    OP("TensorListSetItem", 3, 3, 1, prepare_tl_dtype_opt),
    OP("TensorListGetItem", 3, 3, 1, prepare_tl_dtype),
    OP("TensorListStack", 2, 2, 1, prepare_tl_dtype),
    OP("TensorListGather", 3, 3, 1, prepare_tl_dtype),
    OP("TensorListLength", 1, 1, 1, NULL),
    OP("TensorListPushBack", 2, 2, 1, prepare_tl_dtype_opt),
    /* outputs (output_handle, tensor) as in TensorFlow's op definition */
    OP("TensorListPopBack", 2, 2, 2, prepare_tl_dtype),
};
const int rt__ops_ctrl_count = (int)(sizeof rt__ops_ctrl / sizeof rt__ops_ctrl[0]);
