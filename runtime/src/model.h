/*
 * model.h — what a loaded model is, inside the runtime: the compiled graph plus the facts
 * `inspect` reports. Immutable after rt_model_load(); shared by every session.
 */
#ifndef ORCHARD_RT_MODEL_H
#define ORCHARD_RT_MODEL_H

#include "ir.h"

struct rt_model {
  rt_graph *g;
  rt_io_info *inputs, *outputs;
  rt_op_count *hist; /* op histogram as loaded, before folding */
  int n_hist;
  int64_t param_count;
  size_t weight_bytes;
  int *order;   /* live nodes in execution order */
  int n_order;
  int n_live;
  bool has_control_flow;
};

/* compile.c: resolve ops, check arity and references, order, fold constants, drop dead nodes.
 * Fills m->order. On failure the message names the file and node. */
rt_status rt__model_compile(rt_model *m, const rt_model_params *p, rt_error *err);

/* exec.c: output dtypes/shapes a plan at these input shapes gives (known[i] false where only
 * data decides them). */
rt_status rt__plan_output_shapes(const rt_model *m, const rt_tensor *inputs, int n_inputs,
                                 rt_tensor *outs, bool *known, rt_error *err);

/* exec_flow.c: the dataflow executor for graphs with control flow (Switch/Merge,
 * Enter/Exit/NextIteration/LoopCond frames, TensorArray/TensorList). Shapes are found at run
 * time and tensors live in memory the flow object keeps between runs. One per session. */
typedef struct rt_flow rt_flow;
rt_status rt__flow_create(const rt_model *m, rt_flow **out, rt_error *err);
void rt__flow_destroy(rt_flow *f);
/* Same contract as rt_session_run (inputs already validated against the model). */
rt_status rt__flow_run(rt_flow *f, const rt_tensor *inputs, int n_inputs, rt_tensor *outputs,
                       rt_error *err);

#endif
