/*
 * rt.h — the public API of Orchard's graph runtime.
 *
 * Lifecycle: rt_model_load() parses model.json + weight shards (graph or layers format),
 * builds one IR, validates it, folds constants and drops dead nodes. The model is immutable
 * after load and may be shared by any number of threads. A session (rt_session_create) owns
 * the mutable state of one worker: per-input-shape plans and the activation arena. A session
 * is used by one thread at a time.
 *
 * Nothing here knows about HTTP, gRPC or JSON requests.
 */
#ifndef ORCHARD_RT_H
#define ORCHARD_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RT_STATUS_LIST(X)                                                      \
  X(RT_OK, "ok")                                                               \
  X(RT_ERR_IO, "i/o error")                                                    \
  X(RT_ERR_PARSE, "malformed model")                                           \
  X(RT_ERR_UNSUPPORTED, "unsupported")                                         \
  X(RT_ERR_INVALID_ARG, "invalid argument")                                    \
  X(RT_ERR_SHAPE, "shape error")                                               \
  X(RT_ERR_NOMEM, "out of memory")                                             \
  X(RT_ERR_NEED_VALUE, "value not known at plan time")                         \
  X(RT_ERR_STATE, "call out of order")                                         \
  X(RT_ERR_INTERNAL, "internal error")

typedef enum rt_status {
#define RT_X_ENUM(name, text) name,
  RT_STATUS_LIST(RT_X_ENUM)
#undef RT_X_ENUM
      RT_STATUS_COUNT
} rt_status;

const char *rt_status_str(rt_status s);

/* Every failing call fills one of these: the message names the file, node, weight or
 * input that was wrong. */
typedef struct rt_error {
  rt_status code;
  char msg[768];
} rt_error;

typedef enum rt_dtype {
  RT_DT_F32 = 0,
  RT_DT_I32,
  RT_DT_BOOL, /* one byte per element, 0 or 1 */
  RT_DT_STRING, /* only seen in attributes; never a runtime tensor */
  RT_DT_COUNT
} rt_dtype;

const char *rt_dtype_name(rt_dtype t); /* "float32", "int32", "bool" */
size_t rt_dtype_size(rt_dtype t);

#define RT_MAX_RANK 8

/* A dense, C-ordered tensor view. The data is owned by whoever made the view. */
typedef struct rt_tensor {
  rt_dtype dtype;
  int rank;
  int64_t dims[RT_MAX_RANK];
  void *data;
} rt_tensor;

int64_t rt_tensor_numel(const rt_tensor *t);
size_t rt_tensor_nbytes(const rt_tensor *t);

/* Input/output description; dims of -1 are unknown until a request gives them. */
typedef struct rt_io_info {
  const char *name;
  rt_dtype dtype;
  int rank; /* -1: unknown rank */
  int64_t dims[RT_MAX_RANK];
} rt_io_info;

typedef struct rt_model rt_model;
typedef struct rt_session rt_session;

typedef struct rt_model_params {
  bool fold_constants;   /* default true */
  bool allow_unsupported; /* default false; true lets `inspect` load a model whose ops we lack */
} rt_model_params;

rt_model_params rt_model_default_params(void);

/* path: a directory holding model.json, or the path of a model JSON file of any name. */
rt_status rt_model_load(const char *path, const rt_model_params *params, rt_model **out,
                        rt_error *err);
void rt_model_destroy(rt_model *m);

const char *rt_model_format(const rt_model *m); /* "graph-model" or "layers-model" */
int rt_model_num_inputs(const rt_model *m);
int rt_model_num_outputs(const rt_model *m);
const rt_io_info *rt_model_input(const rt_model *m, int i);
const rt_io_info *rt_model_output(const rt_model *m, int i);
int rt_model_find_input(const rt_model *m, const char *name); /* -1 if none */

/* Introspection for `orchard inspect`. */
typedef struct rt_op_count {
  const char *op;
  int count;
  bool supported;
} rt_op_count;
/* Histogram of the ops of the model as loaded (before folding). Valid while m lives. */
int rt_model_op_histogram(const rt_model *m, const rt_op_count **out);
int64_t rt_model_param_count(const rt_model *m);
size_t rt_model_weight_bytes(const rt_model *m);
/* Bytes of weights re-laid-out for the kernels at load (owned by the model, shared by all
 * sessions). */
size_t rt_model_packed_weight_bytes(const rt_model *m);
int rt_model_num_nodes(const rt_model *m); /* after folding and dead-node elimination */

/* FLOPs for one example at the given input shapes (unknown dims use `inputs`). */
rt_status rt_model_flops(const rt_model *m, const rt_tensor *inputs, int n_inputs,
                         double *flops_out, rt_error *err);

typedef struct rt_session_params {
  int intra_op_threads; /* threads one inference uses; 0 = 1 */
} rt_session_params;

rt_session_params rt_session_default_params(void);
rt_status rt_session_create_ex(const rt_model *m, const rt_session_params *params,
                               rt_session **out, rt_error *err);
/* rt_session_create_ex with default params (one thread). */
rt_status rt_session_create(const rt_model *m, rt_session **out, rt_error *err);
void rt_session_destroy(rt_session *s);

/* Plans for the given input shapes (data is ignored) ahead of time, so the first request at
 * that shape pays nothing. Returns the arena bytes the plan needs. */
rt_status rt_session_plan(rt_session *s, const rt_tensor *inputs, int n_inputs,
                          size_t *arena_bytes_out, rt_error *err);

/* Runs one inference. inputs[i] follows the model's input order. outputs (n_outputs =
 * rt_model_num_outputs) receive views into session memory, valid until the next run or
 * destroy. */
rt_status rt_session_run(rt_session *s, const rt_tensor *inputs, int n_inputs,
                         rt_tensor *outputs, rt_error *err);

size_t rt_session_arena_bytes(const rt_session *s);

#ifdef __cplusplus
}
#endif
#endif
