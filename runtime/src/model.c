/*
 * model.c — rt_model_load(): find and parse model.json, hand it to the graph or layers
 * loader, compile, and keep the facts `inspect` reports (op histogram before folding, params,
 * weight bytes). The model is immutable afterwards.
 */
#include "model.h"
#include "ops.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

rt_model_params rt_model_default_params(void) {
  return (rt_model_params){.fold_constants = true, .allow_unsupported = false};
}

/* Splits `path` into the JSON file to read and the directory its shards are relative to. */
static rt_status resolve_path(const char *path, char *file, char *dir, rt_error *err) {
  struct stat st;
  if (!path || !*path)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "model path is empty");
  if (stat(path, &st) != 0)
    return rt__errorf(err, RT_ERR_IO, "%s: no such file or directory", path);
  if (S_ISDIR(st.st_mode)) {
    if (snprintf(file, PATH_MAX, "%s/model.json", path) >= PATH_MAX)
      return rt__errorf(err, RT_ERR_INVALID_ARG, "%s: path too long", path);
    snprintf(dir, PATH_MAX, "%s", path);
    if (stat(file, &st) != 0)
      return rt__errorf(err, RT_ERR_IO, "%s: no model.json in this directory", path);
    return RT_OK;
  }
  if (snprintf(file, PATH_MAX, "%s", path) >= PATH_MAX)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "%s: path too long", path);
  const char *slash = strrchr(path, '/');
  if (slash)
    snprintf(dir, PATH_MAX, "%.*s", (int)(slash - path), path);
  else
    snprintf(dir, PATH_MAX, ".");
  if (!*dir)
    snprintf(dir, PATH_MAX, "/");
  return RT_OK;
}

static bool is_layers_model(json_t *root) {
  const char *fmt = json_string_value(json_object_get(root, "format"));
  if (fmt)
    return !strcmp(fmt, "layers-model");
  json_t *topo = json_object_get(root, "modelTopology");
  return json_is_object(topo) && !json_object_get(topo, "node") &&
         (json_object_get(topo, "model_config") || json_object_get(topo, "class_name"));
}

static int hist_cmp(const void *a, const void *b) {
  const rt_op_count *x = a, *y = b;
  if (x->count != y->count)
    return y->count - x->count;
  return strcmp(x->op, y->op);
}

static rt_status collect_facts(rt_model *m, rt_error *err) {
  rt_graph *g = m->g;
  m->hist = rt__pool_alloc(g->pool, (size_t)(g->n_nodes + 1) * sizeof *m->hist);
  if (!m->hist)
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory", g->path);
  for (int i = 0; i < g->n_nodes; i++) {
    const rt_node *nd = &g->nodes[i];
    int k = 0;
    while (k < m->n_hist && strcmp(m->hist[k].op, nd->op_name))
      k++;
    if (k == m->n_hist) {
      m->hist[k].op = nd->op_name;
      m->hist[k].supported = rt__op_find(nd->op_name) != NULL;
      m->n_hist++;
    }
    m->hist[k].count++;
    if (!strcmp(nd->op_name, "Const") && nd->value.data) {
      m->weight_bytes += rt_tensor_nbytes(&nd->value);
      if (nd->value.dtype == RT_DT_F32)
        m->param_count += rt_tensor_numel(&nd->value);
    }
  }
  qsort(m->hist, (size_t)m->n_hist, sizeof *m->hist, hist_cmp);
  if (g->n_params > 0)
    m->param_count = g->n_params;
  return RT_OK;
}

static rt_status make_io(rt_model *m, rt_error *err) {
  rt_graph *g = m->g;
  if (g->n_outputs <= 0)
    return rt__errorf(err, RT_ERR_PARSE, "%s: the model has no outputs", g->path);
  m->inputs = rt__pool_alloc(g->pool, (size_t)(g->n_inputs + 1) * sizeof *m->inputs);
  m->outputs = rt__pool_alloc(g->pool, (size_t)(g->n_outputs + 1) * sizeof *m->outputs);
  if (!m->inputs || !m->outputs)
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory", g->path);
  for (int pass = 0; pass < 2; pass++) {
    int n = pass ? g->n_outputs : g->n_inputs;
    for (int i = 0; i < n; i++) {
      const rt_graph_io *gi = pass ? &g->outputs[i] : &g->inputs[i];
      rt_io_info *io = pass ? &m->outputs[i] : &m->inputs[i];
      if (gi->ref.node < 0 || gi->ref.node >= g->n_nodes)
        return rt__errorf(err, RT_ERR_PARSE, "%s: %s '%s' names no node", g->path,
                          pass ? "output" : "input", gi->name);
      io->name = gi->name;
      io->dtype = gi->dtype;
      io->rank = gi->shape.rank;
      for (int d = 0; d < RT_MAX_RANK; d++)
        io->dims[d] = d < gi->shape.rank ? gi->shape.dims[d] : 0;
      if (!pass && strncmp(g->nodes[gi->ref.node].op_name, "Placeholder", 11))
        return rt__errorf(err, RT_ERR_PARSE, "%s: input '%s' is node '%s', not a Placeholder",
                          g->path, gi->name, g->nodes[gi->ref.node].name);
    }
  }
  return RT_OK;
}

/* Output dtypes and shapes as planning finds them: once at small input sizes and once at
 * larger ones (batch 1 vs 2, unknown spatial dims 224 vs 256). Dims that differ depend on the
 * input and are reported as -1, so the batch dimension stays symbolic. A declared signature
 * shape is kept where planning cannot decide. Failing here is not an error: a model whose
 * shapes only data decides simply keeps what its file declared. */
static void infer_outputs(rt_model *m) {
  rt_graph *g = m->g;
  int ni = g->n_inputs, no = g->n_outputs;
  rt_tensor *in = calloc((size_t)ni + 1, sizeof *in);
  rt_tensor *o1 = calloc((size_t)no + 1, sizeof *o1), *o2 = calloc((size_t)no + 1, sizeof *o2);
  bool *k1 = calloc((size_t)no + 1, sizeof *k1), *k2 = calloc((size_t)no + 1, sizeof *k2);
  rt_error err;
  if (!in || !o1 || !o2 || !k1 || !k2)
    goto done;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < ni; i++) {
      const rt_io_info *io = &m->inputs[i];
      if (io->rank < 0)
        goto done;
      in[i] = (rt_tensor){.dtype = io->dtype, .rank = io->rank};
      for (int d = 0; d < io->rank; d++)
        in[i].dims[d] = io->dims[d] >= 0 ? io->dims[d] : d == 0 ? 1 + pass : 224 + 32 * pass;
    }
    if (rt__plan_output_shapes(m, in, ni, pass ? o2 : o1, pass ? k2 : k1, &err) != RT_OK)
      goto done;
  }
  for (int i = 0; i < no; i++) {
    if (!k1[i] || !k2[i] || o1[i].rank != o2[i].rank)
      continue;
    rt_io_info *io = &m->outputs[i];
    io->dtype = o1[i].dtype;
    io->rank = o1[i].rank;
    for (int d = 0; d < io->rank; d++)
      io->dims[d] = o1[i].dims[d] == o2[i].dims[d] ? o1[i].dims[d] : -1;
  }
done:
  free(in);
  free(o1);
  free(o2);
  free(k1);
  free(k2);
}

rt_status rt_model_load(const char *path, const rt_model_params *params, rt_model **out,
                        rt_error *err) {
  char file[PATH_MAX], dir[PATH_MAX];
  rt_model_params p = params ? *params : rt_model_default_params();
  rt_model *m = NULL;
  json_t *root = NULL;
  *out = NULL;
  rt_status st = resolve_path(path, file, dir, err);
  if (st != RT_OK)
    return st;
  json_error_t jerr;
  root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return rt__errorf(err, RT_ERR_PARSE, "%s:%d:%d: malformed JSON: %s", file, jerr.line,
                      jerr.column, jerr.text);
  if (!json_is_object(root)) {
    st = rt__errorf(err, RT_ERR_PARSE, "%s: top level is not a JSON object", file);
    goto error;
  }
  if (!json_is_object(json_object_get(root, "modelTopology"))) {
    st = rt__errorf(err, RT_ERR_PARSE, "%s: missing object 'modelTopology'", file);
    goto error;
  }
  bool layers = is_layers_model(root);
  m = calloc(1, sizeof *m);
  if (!m || !(m->g = rt__graph_create(layers ? "layers-model" : "graph-model", file))) {
    st = rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory", file);
    goto error;
  }
  st = layers ? rt__load_layers_model(m->g, root, dir, err)
              : rt__load_graph_model(m->g, root, dir, err);
  if (st != RT_OK)
    goto error;
  json_decref(root);
  root = NULL;
  if ((st = make_io(m, err)) != RT_OK || (st = collect_facts(m, err)) != RT_OK ||
      (st = rt__model_compile(m, &p, err)) != RT_OK)
    goto error;
  bool complete = true;
  for (int i = 0; i < m->n_hist; i++)
    complete &= m->hist[i].supported;
  if (complete)
    infer_outputs(m);
  *out = m;
  return RT_OK;
error:
  json_decref(root);
  rt_model_destroy(m);
  return st;
}

void rt_model_destroy(rt_model *m) {
  if (!m)
    return;
  free(m->order);
  rt__graph_destroy(m->g);
  free(m);
}

const char *rt_model_format(const rt_model *m) { return m->g->format; }
int rt_model_num_inputs(const rt_model *m) { return m->g->n_inputs; }
int rt_model_num_outputs(const rt_model *m) { return m->g->n_outputs; }
const rt_io_info *rt_model_input(const rt_model *m, int i) {
  return i >= 0 && i < m->g->n_inputs ? &m->inputs[i] : NULL;
}
const rt_io_info *rt_model_output(const rt_model *m, int i) {
  return i >= 0 && i < m->g->n_outputs ? &m->outputs[i] : NULL;
}
int rt_model_find_input(const rt_model *m, const char *name) {
  for (int i = 0; i < m->g->n_inputs; i++)
    if (!strcmp(m->inputs[i].name, name))
      return i;
  return -1;
}
int rt_model_op_histogram(const rt_model *m, const rt_op_count **out) {
  *out = m->hist;
  return m->n_hist;
}
int64_t rt_model_param_count(const rt_model *m) { return m->param_count; }
size_t rt_model_weight_bytes(const rt_model *m) { return m->weight_bytes; }
size_t rt_model_packed_weight_bytes(const rt_model *m) { return m->g->packed_bytes; }
int rt_model_num_nodes(const rt_model *m) { return m->n_live; }
