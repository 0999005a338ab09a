/*
 * ops_core.c — ops that move no data through a kernel of their own: Const and Placeholder
 * (the executor binds their values), and the identities TF.js graphs keep around.
 * EnsureShape is the one identity that checks something: its shape attribute, at plan time.
 */
#include "../ops.h"

#include <stdio.h>
#include <string.h>

static rt_status shape_bound(rt_kctx *k) {
  /* The executor never plans Const/Placeholder through shape(); reaching here is a bug. */
  return rt__errorf(k->err, RT_ERR_INTERNAL, "node '%s': %s has no kernel", k->node->name,
                    k->node->op_name);
}

static rt_status run_none(rt_kctx *k) { return RT_OK; }

static rt_status shape_identity(rt_kctx *k) {
  for (int i = 0; i < k->n_out; i++) {
    k->out[i] = k->in[i];
    k->out[i].data = NULL;
  }
  return RT_OK;
}

/* TF's EnsureShape: the input must have the `shape` attribute's rank and every dim it knows
 * (-1 is unknown). TF.js maps the op but reads the shape from a second input TF never writes,
 * so it fails on every EnsureShape; we check as TensorFlow defines it. */
static rt_status shape_ensure(rt_kctx *k) {
  const rt_attr *a = rt__attr_find(k->node, "shape");
  const rt_tensor *x = &k->in[0];
  if (a && a->kind == RT_ATTR_SHAPE && a->shape.rank >= 0) {
    bool ok = a->shape.rank == x->rank;
    for (int i = 0; ok && i < x->rank; i++)
      ok = a->shape.dims[i] < 0 || a->shape.dims[i] == x->dims[i];
    if (!ok) {
      char got[160], want[160];
      size_t g = 0, w = 0;
      g += (size_t)snprintf(got, sizeof got, "[");
      for (int i = 0; i < x->rank && g < sizeof got; i++)
        g += (size_t)snprintf(got + g, sizeof got - g, i ? ",%lld" : "%lld", (long long)x->dims[i]);
      if (g < sizeof got)
        snprintf(got + g, sizeof got - g, "]");
      w += (size_t)snprintf(want, sizeof want, "[");
      for (int i = 0; i < a->shape.rank && w < sizeof want; i++)
        w += (size_t)snprintf(want + w, sizeof want - w, i ? ",%lld" : "%lld",
                              (long long)a->shape.dims[i]);
      if (w < sizeof want)
        snprintf(want + w, sizeof want - w, "]");
      return rt__errorf(k->err, RT_ERR_SHAPE,
                        "node '%s' (EnsureShape): input shape %s is not compatible with %s",
                        k->node->name, got, want);
    }
  }
  return shape_identity(k);
}

static rt_status run_identity(rt_kctx *k) {
  for (int i = 0; i < k->n_out; i++)
    memcpy(k->out[i].data, k->in[i].data, rt_tensor_nbytes(&k->in[i]));
  return RT_OK;
}

static int num_identity_n(const rt_node *n) { return n->n_inputs; }

static rt_status shape_noop(rt_kctx *k) { return RT_OK; }

const rt_op_def rt__ops_core[] = {
    {.name = "Const", .n_outputs = 1, .shape = shape_bound, .run = run_none,
     .flags = RT_OP_NOFOLD},
    {.name = "Placeholder", .n_outputs = 1, .shape = shape_bound, .run = run_none,
     .flags = RT_OP_NOFOLD},
    {.name = "PlaceholderWithDefault", .min_inputs = 1, .max_inputs = 1, .n_outputs = 1,
     .shape = shape_identity, .run = run_identity},
    {.name = "Identity", .min_inputs = 1, .max_inputs = 1, .n_outputs = 1,
     .shape = shape_identity, .run = run_identity},
    {.name = "StopGradient", .min_inputs = 1, .max_inputs = 1, .n_outputs = 1,
     .shape = shape_identity, .run = run_identity},
    {.name = "Snapshot", .min_inputs = 1, .max_inputs = 1, .n_outputs = 1,
     .shape = shape_identity, .run = run_identity},
    {.name = "EnsureShape", .min_inputs = 1, .max_inputs = 1, .n_outputs = 1,
     .shape = shape_ensure, .run = run_identity},
    {.name = "IdentityN", .min_inputs = 1, .max_inputs = -1, .num_outputs = num_identity_n,
     .shape = shape_identity, .run = run_identity},
    {.name = "NoOp", .min_inputs = 0, .max_inputs = -1, .n_outputs = 0, .shape = shape_noop,
     .run = run_none, .flags = RT_OP_NOFOLD},
};
const int rt__ops_core_count = (int)(sizeof rt__ops_core / sizeof rt__ops_core[0]);
