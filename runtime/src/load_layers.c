/*
 * load_layers.c — the Keras layers-model loader (TF.js "layers-model" model.json).
 *
 * Lowers a Keras model config (Sequential, Functional/Model, nested models, shared layers)
 * to the TensorFlow ops and attribute conventions a converted graph model uses, so one kernel
 * set runs both: Conv2D becomes _FusedConv2D or Conv2D, Dense _FusedMatMul or MatMul,
 * BatchNormalization a Mul + AddV2 whose scale and offset are folded at load, and so on.
 * Semantics follow TensorFlow.js 4.22 tfjs-layers, quirks included; each quirk that differs
 * from Python Keras is marked "TF.js:" where it is lowered.
 *
 * The walk mirrors tfjs-layers Container.fromConfig: every inbound node of every layer is
 * queued, and nodes are applied in config order as soon as the tensors they read exist. A
 * layer applied k times has k calls (Keras node indices); a nested model's node 0 is its own
 * internal graph, so its first application is node 1. Every application emits fresh nodes;
 * a layer's weights are Const nodes made once and shared by all its calls.
 *
 * Invariants: the static shape (-1 = unknown dim) of every tensor is tracked while lowering;
 * emitted node names are unique; weights come from rt__load_weights() (data in g->pool) and
 * are matched by name the way tfjs-layers loadWeights() does; everything else the loader
 * needs lives in a scratch pool freed before it returns.
 */
#include "ir.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LL_MAX_DEPTH 16 /* nested models inside nested models */
#define LL_NAME_MAX 400 /* node names longer than this are cut (then made unique) */
#define LL_REQUIRED INT64_MIN
#define LL_MAX_DIM ((int64_t)INT32_MAX)

/* A symbolic tensor while lowering: where it comes from and what is known of its shape. */
typedef struct ll_val {
  rt_ref ref;
  rt_dtype dtype;
  int rank;
  int64_t dims[RT_MAX_RANK]; /* -1: unknown until a request gives it */
} ll_val;

/* One input of an inbound node: output `tensor` of call `node` of layer `layer`. */
typedef struct ll_in {
  const char *layer;
  int node, tensor;
} ll_in;

typedef struct ll_spec { /* one inbound node of the config: the inputs of one call */
  int n;
  ll_in *in;
} ll_spec;

typedef struct ll_call { /* one application of a layer; n_out < 0: a nested model's own node */
  int n_out;
  ll_val *out;
} ll_call;

typedef struct ll_cache { /* per-layer Const nodes (weights and values derived from them) */
  const char *key;
  int node;
  struct ll_cache *next;
} ll_cache;

struct ll_model;

typedef struct ll_layer {
  const char *name, *cls;
  json_t *cfg;          /* the layer's "config" (borrowed from the parsed JSON) */
  const char *scope;    /* "" at top level, "outer/" inside nested model "outer" */
  const char *prefix;   /* scope + name: what its nodes are named after */
  const char *origin;   /* prefix, in the graph pool, for node->origin */
  struct ll_model *sub; /* a nested model applied like a layer, or NULL */
  int n_specs;
  ll_spec *specs;
  int n_calls, cap_calls; /* calls of the current application of the enclosing model */
  ll_call *calls;
  ll_cache *cache; /* survives across applications: weights are shared */
} ll_layer;

typedef struct ll_model {
  const char *name;
  bool sequential;
  int n_layers;
  ll_layer *layers;
  int n_inputs, n_outputs; /* functional: input_layers / output_layers */
  ll_in *inputs, *outputs;
  bool internal_node; /* nested and has inputs of its own: node 0 is its graph */
  int *index;         /* open-addressing table of layer indices by name, -1 empty */
  size_t index_cap;
} ll_model;

typedef struct ll_ctx {
  rt_graph *g;
  rt_error *err;
  rt_status st; /* sticky: the first failure; emitters do nothing once it is set */
  rt_pool *tmp; /* everything that does not outlive the load */
  rt_weight *w;
  int n_w;
  const char **w_name; /* weight names without a ":0" suffix */
  const char **names;  /* open-addressing set of node names (pointers into g->pool) */
  size_t names_cap, names_n;
  const ll_layer *cur; /* the layer being lowered, for names and messages */
  const char *prefix;
  const char *origin;
  rt_graph_io *ins;
  int n_ins, cap_ins;
  int depth;
} ll_ctx;

/* ---------------------------------------------------------------- errors, memory */

static rt_status ll_fail(ll_ctx *c, rt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static rt_status ll_fail(ll_ctx *c, rt_status code, const char *fmt, ...) {
  if (c->st)
    return c->st;
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->cur)
    rt__errorf(c->err, code, "%.250s: layer '%.100s' (%.40s): %s", c->g->path, c->cur->prefix,
               c->cur->cls, msg);
  else
    rt__errorf(c->err, code, "%.250s: %s", c->g->path, msg);
  c->st = code;
  return code;
}

static void *ll_alloc(ll_ctx *c, size_t n) {
  void *p = rt__pool_alloc(c->tmp, n ? n : 1);
  if (!p)
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
  return p;
}

static const char *ll_strdup(ll_ctx *c, const char *s) {
  char *p = rt__pool_strdup(c->tmp, s);
  if (!p)
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
  return p;
}

/* ---------------------------------------------------------------- unique node names */

static uint64_t ll_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static bool ll_name_taken(const ll_ctx *c, const char *s) {
  if (!c->names_cap)
    return false;
  for (size_t i = ll_hash(s) & (c->names_cap - 1);; i = (i + 1) & (c->names_cap - 1)) {
    if (!c->names[i])
      return false;
    if (!strcmp(c->names[i], s))
      return true;
  }
}

static bool ll_name_insert(ll_ctx *c, const char *s) {
  if (2 * (c->names_n + 1) > c->names_cap) {
    size_t cap = c->names_cap ? 2 * c->names_cap : 1024;
    const char **t = calloc(cap, sizeof *t);
    if (!t)
      return false;
    for (size_t k = 0; k < c->names_cap; k++) {
      if (!c->names[k])
        continue;
      size_t i = ll_hash(c->names[k]) & (cap - 1);
      while (t[i])
        i = (i + 1) & (cap - 1);
      t[i] = c->names[k];
    }
    free(c->names);
    c->names = t;
    c->names_cap = cap;
  }
  size_t i = ll_hash(s) & (c->names_cap - 1);
  while (c->names[i])
    i = (i + 1) & (c->names_cap - 1);
  c->names[i] = s;
  c->names_n++;
  return true;
}

/* Layer lookup by name: configs name layers in every inbound node, so this is hashed. */
static int ll_find_layer(const ll_model *m, const char *name) {
  if (!m->index_cap)
    return -1;
  for (size_t i = ll_hash(name) & (m->index_cap - 1);; i = (i + 1) & (m->index_cap - 1)) {
    int k = m->index[i];
    if (k < 0)
      return -1;
    if (!strcmp(m->layers[k].name, name))
      return k;
  }
}

/* Adds layer i to the index; false if a layer of that name is already there. */
static bool ll_index_layer(ll_model *m, int i) {
  size_t h = ll_hash(m->layers[i].name) & (m->index_cap - 1);
  for (; m->index[h] >= 0; h = (h + 1) & (m->index_cap - 1))
    if (!strcmp(m->layers[m->index[h]].name, m->layers[i].name))
      return false;
  m->index[h] = i;
  return true;
}

/* ---------------------------------------------------------------- emitting nodes */

static rt_ref ll_r(int node) { return (rt_ref){node, 0}; }

/* Appends node "<prefix>/<suffix>" (or "<prefix>" when suffix is NULL), made unique with
 * "_1", "_2", ... as TensorFlow does. Returns its index, or -1 once anything failed. */
static int ll_node(ll_ctx *c, const char *suffix, const char *op, const rt_ref *in, int n_in) {
  if (c->st)
    return -1;
  for (int i = 0; i < n_in; i++)
    if (in[i].node < 0)
      return -1;
  char base[LL_NAME_MAX], name[LL_NAME_MAX + 16];
  if (suffix)
    snprintf(base, sizeof base, "%s/%s", c->prefix, suffix);
  else
    snprintf(base, sizeof base, "%s", c->prefix);
  snprintf(name, sizeof name, "%s", base);
  for (int k = 1; ll_name_taken(c, name); k++)
    snprintf(name, sizeof name, "%s_%d", base, k);
  int nd = rt__graph_add_node(c->g, name, op);
  if (nd < 0 || !ll_name_insert(c, c->g->nodes[nd].name) ||
      rt__node_set_inputs(c->g, nd, in, n_in) != RT_OK) {
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
    return -1;
  }
  c->g->nodes[nd].origin = c->origin;
  return nd;
}

static rt_attr *ll_attr(ll_ctx *c, int nd, const char *name, rt_attr_kind kind) {
  if (c->st || nd < 0)
    return NULL;
  rt_attr *a = rt__node_add_attr(c->g, nd, name, kind);
  if (!a)
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
  return a;
}

static void ll_attr_i(ll_ctx *c, int nd, const char *name, int64_t v) {
  rt_attr *a = ll_attr(c, nd, name, RT_ATTR_INT);
  if (a)
    a->i = v;
}

static void ll_attr_f(ll_ctx *c, int nd, const char *name, float v) {
  rt_attr *a = ll_attr(c, nd, name, RT_ATTR_FLOAT);
  if (a)
    a->f = v;
}

static void ll_attr_b(ll_ctx *c, int nd, const char *name, bool v) {
  rt_attr *a = ll_attr(c, nd, name, RT_ATTR_BOOL);
  if (a)
    a->b = v;
}

static void ll_attr_t(ll_ctx *c, int nd, const char *name, rt_dtype v) {
  rt_attr *a = ll_attr(c, nd, name, RT_ATTR_TYPE);
  if (a)
    a->type = v;
}

static void ll_attr_s(ll_ctx *c, int nd, const char *name, const char *s) {
  rt_attr *a = ll_attr(c, nd, name, RT_ATTR_STRING);
  if (!a)
    return;
  a->s = rt__pool_strdup(c->g->pool, s);
  a->s_len = strlen(s);
  if (!a->s)
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
}

static void ll_attr_ints(ll_ctx *c, int nd, const char *name, const int64_t *v, int n) {
  rt_attr *a = ll_attr(c, nd, name, RT_ATTR_LIST_INT);
  if (!a)
    return;
  a->n = n;
  a->ints = rt__pool_alloc(c->g->pool, (size_t)(n ? n : 1) * sizeof *a->ints);
  if (!a->ints) {
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
    return;
  }
  if (n)
    memcpy(a->ints, v, (size_t)n * sizeof *v);
}

static void ll_attr_strs(ll_ctx *c, int nd, const char *name, const char *const *v, int n) {
  rt_attr *a = ll_attr(c, nd, name, RT_ATTR_LIST_STRING);
  if (!a)
    return;
  a->n = n;
  a->strs = rt__pool_alloc(c->g->pool, (size_t)(n ? n : 1) * sizeof *a->strs);
  a->str_lens = rt__pool_alloc(c->g->pool, (size_t)(n ? n : 1) * sizeof *a->str_lens);
  if (!a->strs || !a->str_lens) {
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
    return;
  }
  for (int i = 0; i < n; i++) {
    a->strs[i] = rt__pool_strdup(c->g->pool, v[i]);
    a->str_lens[i] = strlen(v[i]);
    if (!a->strs[i])
      ll_fail(c, RT_ERR_NOMEM, "out of memory");
  }
}

/* A Const whose value is `t` (its data already graph-owned). */
static int ll_const_t(ll_ctx *c, const char *suffix, const rt_tensor *t) {
  int nd = ll_node(c, suffix, "Const", NULL, 0);
  if (nd < 0)
    return -1;
  c->g->nodes[nd].value = *t;
  ll_attr_t(c, nd, "dtype", t->dtype);
  return nd;
}

/* A Const holding a copy of `data`. */
static int ll_const(ll_ctx *c, const char *suffix, rt_dtype dt, int rank, const int64_t *dims,
                    const void *data) {
  if (c->st)
    return -1;
  rt_tensor t = {.dtype = dt, .rank = rank};
  for (int i = 0; i < rank; i++)
    t.dims[i] = dims[i];
  size_t nb = rt_tensor_nbytes(&t);
  t.data = rt__pool_alloc(c->g->pool, nb ? nb : 1);
  if (!t.data) {
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
    return -1;
  }
  if (nb)
    memcpy(t.data, data, nb);
  return ll_const_t(c, suffix, &t);
}

static int ll_const_i32(ll_ctx *c, const char *suffix, const int32_t *v, int n) {
  int64_t d = n;
  return ll_const(c, suffix, RT_DT_I32, 1, &d, v);
}

static int ll_scalar_i32(ll_ctx *c, const char *suffix, int32_t v) {
  return ll_const(c, suffix, RT_DT_I32, 0, NULL, &v);
}

static int ll_scalar_f32(ll_ctx *c, const char *suffix, float v) {
  return ll_const(c, suffix, RT_DT_F32, 0, NULL, &v);
}

/* ---------------------------------------------------------------- JSON config access */

static bool ll_json_int(const json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return true;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d == floor(d) && fabs(d) < 9e15) {
      *out = (int64_t)d;
      return true;
    }
  }
  return false;
}

static json_t *ll_cfg(const ll_layer *L, const char *key) {
  return L->cfg ? json_object_get(L->cfg, key) : NULL;
}

static bool ll_absent(const json_t *v) { return !v || json_is_null(v); }

/* Integer field; `def` when absent (LL_REQUIRED: absence is an error). */
static int64_t ll_cfg_int(ll_ctx *c, const ll_layer *L, const char *key, int64_t def) {
  json_t *v = ll_cfg(L, key);
  int64_t r;
  if (ll_absent(v)) {
    if (def == LL_REQUIRED)
      ll_fail(c, RT_ERR_PARSE, "missing config field '%s'", key);
    return def == LL_REQUIRED ? 0 : def;
  }
  if (!ll_json_int(v, &r)) {
    ll_fail(c, RT_ERR_PARSE, "config field '%s' must be an integer", key);
    return 0;
  }
  return r;
}

static double ll_cfg_num(ll_ctx *c, const ll_layer *L, const char *key, double def) {
  json_t *v = ll_cfg(L, key);
  if (ll_absent(v))
    return def;
  if (!json_is_number(v)) {
    ll_fail(c, RT_ERR_PARSE, "config field '%s' must be a number", key);
    return def;
  }
  return json_number_value(v);
}

static bool ll_cfg_bool(ll_ctx *c, const ll_layer *L, const char *key, bool def) {
  json_t *v = ll_cfg(L, key);
  if (ll_absent(v))
    return def;
  if (!json_is_boolean(v)) {
    ll_fail(c, RT_ERR_PARSE, "config field '%s' must be true or false", key);
    return def;
  }
  return json_is_true(v);
}

static const char *ll_cfg_str(ll_ctx *c, const ll_layer *L, const char *key, const char *def) {
  json_t *v = ll_cfg(L, key);
  if (ll_absent(v))
    return def;
  if (!json_is_string(v)) {
    ll_fail(c, RT_ERR_PARSE, "config field '%s' must be a string", key);
    return def;
  }
  return json_string_value(v);
}

/* n integers >= lo: a number (repeated n times) or a list of n numbers (TF.js normalizeArray). */
static void ll_cfg_ints(ll_ctx *c, const ll_layer *L, const char *key, int n, int64_t def,
                        int64_t lo, int64_t *out) {
  json_t *v = ll_cfg(L, key);
  int64_t x;
  for (int i = 0; i < n; i++)
    out[i] = def;
  if (ll_absent(v)) {
    if (def == LL_REQUIRED)
      ll_fail(c, RT_ERR_PARSE, "missing config field '%s'", key);
    return;
  }
  if (ll_json_int(v, &x)) {
    for (int i = 0; i < n; i++)
      out[i] = x;
  } else if (json_is_array(v) && (int)json_array_size(v) == n) {
    for (int i = 0; i < n; i++)
      if (!ll_json_int(json_array_get(v, (size_t)i), &out[i])) {
        ll_fail(c, RT_ERR_PARSE, "config field '%s' must hold integers", key);
        return;
      }
  } else {
    ll_fail(c, RT_ERR_PARSE, "config field '%s' must be an integer or a list of %d integers", key,
            n);
    return;
  }
  for (int i = 0; i < n; i++)
    if (out[i] < lo || out[i] > LL_MAX_DIM) {
      ll_fail(c, RT_ERR_PARSE, "config field '%s' has out-of-range value %lld", key,
              (long long)out[i]);
      return;
    }
}

/* data_format: false for channels_last (the default), true for channels_first. */
static bool ll_channels_first(ll_ctx *c, const ll_layer *L) {
  const char *f = ll_cfg_str(c, L, "data_format", "channels_last");
  if (!strcmp(f, "channels_last") || !strcmp(f, "channelsLast"))
    return false;
  if (!strcmp(f, "channels_first") || !strcmp(f, "channelsFirst"))
    return true;
  ll_fail(c, RT_ERR_PARSE, "unknown data_format '%s'", f);
  return false;
}

/* padding: true for "same", false for "valid". */
static bool ll_padding_same(ll_ctx *c, const ll_layer *L) {
  const char *p = ll_cfg_str(c, L, "padding", "valid");
  if (!strcmp(p, "same"))
    return true;
  if (!strcmp(p, "valid"))
    return false;
  if (!strcmp(p, "causal"))
    ll_fail(c, RT_ERR_UNSUPPORTED, "padding 'causal' is not supported (TF.js has none)");
  else
    ll_fail(c, RT_ERR_PARSE, "unknown padding '%s'", p);
  return false;
}

/* Keras dtype (a string, or a Keras 3 DTypePolicy object) -> runtime dtype; -1 if unknown. */
static int ll_dtype(const json_t *v) {
  if (ll_absent(v))
    return RT_DT_F32;
  if (json_is_object(v)) {
    const json_t *cfg = json_object_get(v, "config");
    v = json_is_object(cfg) ? json_object_get(cfg, "name") : json_object_get(v, "name");
  }
  const char *s = json_string_value(v);
  if (!s)
    return -1;
  if (strstr(s, "float")) /* float16/32/64, bfloat16, mixed_float16: TF.js computes in f32 */
    return RT_DT_F32;
  if (strstr(s, "int")) /* int8..int64, uint8..: TF.js computes in int32 */
    return RT_DT_I32;
  if (!strcmp(s, "bool"))
    return RT_DT_BOOL;
  return -1;
}

/* ---------------------------------------------------------------- static shapes */

/* axis in [-rank, rank) -> [0, rank) (Python indexing). */
static bool ll_norm_axis(int64_t axis, int rank, int *out) {
  if (rank < 1 || axis < -rank || axis >= rank)
    return false;
  *out = (int)(axis < 0 ? axis + rank : axis);
  return true;
}

static ll_val ll_v(int nd, rt_dtype dt, int rank, const int64_t *dims) {
  ll_val v = {.ref = ll_r(nd), .dtype = dt, .rank = rank};
  for (int i = 0; i < rank; i++)
    v.dims[i] = dims[i];
  return v;
}

static void ll_dims_str(const ll_val *v, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < v->rank && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)v->dims[i]);
  if (k < n)
    snprintf(buf + k, n - k, "]");
}

/* numpy broadcasting of static shapes; an unknown dim against a known d > 1 is d. */
static bool ll_bcast(ll_ctx *c, const ll_val *a, const ll_val *b, ll_val *out) {
  int rank = a->rank > b->rank ? a->rank : b->rank;
  for (int i = 0; i < rank; i++) {
    int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    int64_t d;
    if (da == 1)
      d = db;
    else if (db == 1)
      d = da;
    else if (da < 0)
      d = db;
    else if (db < 0 || da == db)
      d = da;
    else {
      char sa[128], sb[128];
      ll_dims_str(a, sa, sizeof sa);
      ll_dims_str(b, sb, sizeof sb);
      ll_fail(c, RT_ERR_SHAPE, "shapes %s and %s cannot be broadcast", sa, sb);
      return false;
    }
    out->dims[i] = d;
  }
  out->rank = rank;
  return true;
}

/* TF.js convOutputLength(). */
static int64_t ll_conv_len(ll_ctx *c, int64_t in, int64_t k, bool same, int64_t s, int64_t d) {
  if (in < 0)
    return -1;
  int64_t dk = k + (k - 1) * (d - 1);
  int64_t o = same ? in : in - dk + 1;
  o = o <= 0 ? 0 : (o + s - 1) / s;
  if (o <= 0)
    ll_fail(c, RT_ERR_SHAPE, "input size %lld is smaller than the window %lld", (long long)in,
            (long long)dk);
  return o;
}

/* ---------------------------------------------------------------- small op builders */

/* x = op(x) for an elementwise unary op. */
static void ll_unary(ll_ctx *c, const char *op, ll_val *x) {
  int nd = ll_node(c, op, op, &x->ref, 1);
  ll_attr_t(c, nd, "T", x->dtype);
  x->ref = ll_r(nd);
}

/* op(a, b) with broadcasting. */
static ll_val ll_binary(ll_ctx *c, const char *op, const ll_val *a, const ll_val *b) {
  ll_val out = {.dtype = a->dtype};
  if (!ll_bcast(c, a, b, &out))
    return out;
  rt_ref in[2] = {a->ref, b->ref};
  int nd = ll_node(c, op, op, in, 2);
  ll_attr_t(c, nd, "T", a->dtype);
  out.ref = ll_r(nd);
  return out;
}

/* x = op(x, scalar v) (or op(v, x) when `first`). */
static void ll_binary_f(ll_ctx *c, const char *op, ll_val *x, float v, bool first) {
  char suffix[64];
  snprintf(suffix, sizeof suffix, "%s/%s", op, first ? "x" : "y");
  ll_val k = ll_v(ll_scalar_f32(c, suffix, v), RT_DT_F32, 0, NULL);
  *x = first ? ll_binary(c, op, &k, x) : ll_binary(c, op, x, &k);
}

static void ll_transpose(ll_ctx *c, ll_val *x, const int *perm) {
  int32_t p[RT_MAX_RANK];
  int64_t d[RT_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    p[i] = perm[i];
    d[i] = x->dims[perm[i]];
  }
  rt_ref in[2] = {x->ref, ll_r(ll_const_i32(c, "Transpose/perm", p, x->rank))};
  int nd = ll_node(c, "Transpose", "Transpose", in, 2);
  ll_attr_t(c, nd, "T", x->dtype);
  ll_attr_t(c, nd, "Tperm", RT_DT_I32);
  x->ref = ll_r(nd);
  memcpy(x->dims, d, sizeof d[0] * (size_t)x->rank);
}

static void ll_to_nhwc(ll_ctx *c, ll_val *x) { ll_transpose(c, x, (const int[]){0, 2, 3, 1}); }
static void ll_to_nchw(ll_ctx *c, ll_val *x) { ll_transpose(c, x, (const int[]){0, 3, 1, 2}); }

/* x = Reshape(x, shape); `dims` is the static result. */
static void ll_reshape(ll_ctx *c, ll_val *x, rt_ref shape, int rank, const int64_t *dims) {
  rt_ref in[2] = {x->ref, shape};
  int nd = ll_node(c, "Reshape", "Reshape", in, 2);
  ll_attr_t(c, nd, "T", x->dtype);
  ll_attr_t(c, nd, "Tshape", RT_DT_I32);
  x->ref = ll_r(nd);
  x->rank = rank;
  for (int i = 0; i < rank; i++)
    x->dims[i] = dims[i];
}

static void ll_expand_dims(ll_ctx *c, ll_val *x, int axis) {
  rt_ref in[2] = {x->ref, ll_r(ll_scalar_i32(c, "ExpandDims/dim", axis))};
  int nd = ll_node(c, "ExpandDims", "ExpandDims", in, 2);
  ll_attr_t(c, nd, "T", x->dtype);
  ll_attr_t(c, nd, "Tdim", RT_DT_I32);
  x->ref = ll_r(nd);
  memmove(x->dims + axis + 1, x->dims + axis, sizeof x->dims[0] * (size_t)(x->rank - axis));
  x->dims[axis] = 1;
  x->rank++;
}

static void ll_squeeze(ll_ctx *c, ll_val *x, int axis) {
  int nd = ll_node(c, "Squeeze", "Squeeze", &x->ref, 1);
  ll_attr_t(c, nd, "T", x->dtype);
  ll_attr_ints(c, nd, "squeeze_dims", (const int64_t[]){axis}, 1);
  x->ref = ll_r(nd);
  memmove(x->dims + axis, x->dims + axis + 1, sizeof x->dims[0] * (size_t)(x->rank - axis - 1));
  x->rank--;
}

/* Reduction op over `axes` (Mean, Max, Any). */
static void ll_reduce(ll_ctx *c, const char *op, ll_val *x, const int *axes, int n, bool keep) {
  int32_t a[RT_MAX_RANK];
  for (int i = 0; i < n; i++)
    a[i] = axes[i];
  char suffix[64];
  snprintf(suffix, sizeof suffix, "%s/reduction_indices", op);
  rt_ref in[2] = {x->ref, ll_r(ll_const_i32(c, suffix, a, n))};
  int nd = ll_node(c, op, op, in, 2);
  ll_attr_t(c, nd, "T", x->dtype);
  ll_attr_t(c, nd, "Tidx", RT_DT_I32);
  ll_attr_b(c, nd, "keep_dims", keep);
  x->ref = ll_r(nd);
  int64_t d[RT_MAX_RANK];
  int r = 0;
  for (int i = 0; i < x->rank; i++) {
    bool red = false;
    for (int j = 0; j < n; j++)
      red |= axes[j] == i;
    if (!red)
      d[r++] = x->dims[i];
    else if (keep)
      d[r++] = 1;
  }
  x->rank = r;
  memcpy(x->dims, d, sizeof d[0] * (size_t)r);
}

static void ll_cast(ll_ctx *c, ll_val *x, rt_dtype to) {
  int nd = ll_node(c, "Cast", "Cast", &x->ref, 1);
  ll_attr_t(c, nd, "SrcT", x->dtype);
  ll_attr_t(c, nd, "DstT", to);
  ll_attr_b(c, nd, "Truncate", false);
  x->ref = ll_r(nd);
  x->dtype = to;
}

/* An int32 vector whose element i is dim(x, src[i]) * mul[i] + add[i] (just add[i] when
 * src[i] < 0). A Const when every dim it reads is static; otherwise Shape -> GatherV2 -> Mul
 * -> AddV2, which the planner evaluates from the input shapes. */
static rt_ref ll_shape_expr(ll_ctx *c, const ll_val *x, int n, const int *src, const int64_t *mul,
                            const int64_t *add) {
  int32_t v[RT_MAX_RANK], idx[RT_MAX_RANK], m[RT_MAX_RANK], a[RT_MAX_RANK];
  bool dynamic = false, need_mul = false, need_add = false, iota = n == x->rank;
  for (int i = 0; i < n; i++) {
    int64_t d = src[i] >= 0 ? x->dims[src[i]] : 0;
    int64_t k = src[i] >= 0 ? mul[i] : 0;
    if (d < 0)
      dynamic = true;
    else {
      int64_t e = d * k + add[i];
      if (e > INT32_MAX || e < INT32_MIN) {
        ll_fail(c, RT_ERR_SHAPE, "a dimension overflows int32");
        return ll_r(-1);
      }
      v[i] = (int32_t)e;
    }
    idx[i] = src[i] >= 0 ? src[i] : 0;
    m[i] = (int32_t)k;
    a[i] = (int32_t)add[i];
    need_mul |= m[i] != 1;
    need_add |= a[i] != 0;
    iota &= idx[i] == i;
  }
  if (!dynamic)
    return ll_r(ll_const_i32(c, "shape", v, n));
  int nd = ll_node(c, "Shape", "Shape", &x->ref, 1);
  ll_attr_t(c, nd, "T", x->dtype);
  ll_attr_t(c, nd, "out_type", RT_DT_I32);
  if (!iota) {
    rt_ref in[3] = {ll_r(nd), ll_r(ll_const_i32(c, "GatherV2/indices", idx, n)),
                    ll_r(ll_scalar_i32(c, "GatherV2/axis", 0))};
    nd = ll_node(c, "GatherV2", "GatherV2", in, 3);
    ll_attr_t(c, nd, "Tparams", RT_DT_I32);
    ll_attr_t(c, nd, "Tindices", RT_DT_I32);
    ll_attr_t(c, nd, "Taxis", RT_DT_I32);
    ll_attr_i(c, nd, "batch_dims", 0);
  }
  if (need_mul) {
    rt_ref in[2] = {ll_r(nd), ll_r(ll_const_i32(c, "shape/mul/y", m, n))};
    nd = ll_node(c, "shape/mul", "Mul", in, 2);
    ll_attr_t(c, nd, "T", RT_DT_I32);
  }
  if (need_add) {
    rt_ref in[2] = {ll_r(nd), ll_r(ll_const_i32(c, "shape/add/y", a, n))};
    nd = ll_node(c, "shape/add", "AddV2", in, 2);
    ll_attr_t(c, nd, "T", RT_DT_I32);
  }
  return ll_r(nd);
}

/* x = Reshape(x, [batch, rest...]) where rest may hold one -1: a Const [-1, rest...] when
 * that is unambiguous, else the batch dim read from x's shape. */
static void ll_reshape_batch(ll_ctx *c, ll_val *x, int n_rest, const int64_t *rest,
                             const int64_t *rest_static) {
  int64_t shape[RT_MAX_RANK], dims[RT_MAX_RANK];
  bool unknown = false;
  int64_t prod = 1;
  shape[0] = -1;
  dims[0] = x->dims[0];
  for (int i = 0; i < n_rest; i++) {
    shape[i + 1] = rest[i];
    dims[i + 1] = rest_static[i];
    unknown |= rest[i] < 0;
    prod *= rest[i] < 0 ? 1 : rest[i];
  }
  rt_ref s;
  if (!unknown && prod > 0) {
    int32_t v[RT_MAX_RANK];
    for (int i = 0; i <= n_rest; i++)
      v[i] = (int32_t)shape[i];
    s = ll_r(ll_const_i32(c, "Reshape/shape", v, n_rest + 1));
  } else {
    int src[RT_MAX_RANK];
    int64_t mul[RT_MAX_RANK], add[RT_MAX_RANK];
    for (int i = 0; i <= n_rest; i++) {
      src[i] = i ? -1 : 0;
      mul[i] = i ? 0 : 1;
      add[i] = i ? shape[i] : 0;
    }
    s = ll_shape_expr(c, x, n_rest + 1, src, mul, add);
  }
  ll_reshape(c, x, s, n_rest + 1, dims);
}

/* ---------------------------------------------------------------- activations */

static const char *const LL_ACTS[] = {
    "linear",      "relu", "relu6",   "elu",        "selu",        "sigmoid",
    "hardsigmoid", "tanh", "softmax", "logsoftmax", "softplus",    "softsign",
    "swish",       "silu", "gelu",    "mish",       "exponential",
};

/* A Keras activation identifier -> its canonical name, lower case without '_' (Keras's
 * "hard_sigmoid" and TF.js's "hardSigmoid" are both "hardsigmoid"); NULL for linear. */
static const char *ll_activation_name(ll_ctx *c, const json_t *v) {
  if (ll_absent(v))
    return NULL;
  if (json_is_object(v)) { /* Keras 3: {"class_name": "function", "config": "relu", ...} */
    const json_t *cfg = json_object_get(v, "config");
    v = json_is_string(cfg) ? cfg : json_object_get(v, "class_name");
  }
  const char *s = json_string_value(v);
  if (!s) {
    ll_fail(c, RT_ERR_PARSE, "'activation' must be a string");
    return NULL;
  }
  char buf[32];
  size_t k = 0;
  for (const char *p = s; *p && k < sizeof buf - 1; p++)
    if (*p != '_')
      buf[k++] = (char)tolower((unsigned char)*p);
  buf[k] = 0;
  for (size_t i = 0; i < sizeof LL_ACTS / sizeof LL_ACTS[0]; i++)
    if (!strcmp(buf, LL_ACTS[i]))
      return i ? LL_ACTS[i] : NULL;
  ll_fail(c, RT_ERR_UNSUPPORTED, "activation '%s' is not supported", s);
  return NULL;
}

static const char *ll_activation_cfg(ll_ctx *c, const ll_layer *L) {
  return ll_activation_name(c, ll_cfg(L, "activation"));
}

/* The fused_ops name of an activation the fused conv/matmul kernels apply, or NULL. */
static const char *ll_fused_activation(const char *act) {
  if (!act)
    return NULL;
  if (!strcmp(act, "relu"))
    return "Relu";
  if (!strcmp(act, "relu6"))
    return "Relu6";
  if (!strcmp(act, "elu"))
    return "Elu";
  if (!strcmp(act, "sigmoid"))
    return "Sigmoid";
  return NULL;
}

/* x = act(x), spelled the way tfjs-layers activations.js computes it. */
static void ll_activation(ll_ctx *c, const char *act, ll_val *x) {
  static const struct {
    const char *act, *op;
  } direct[] = {
      {"relu", "Relu"},       {"relu6", "Relu6"},           {"elu", "Elu"},
      {"selu", "Selu"},       {"sigmoid", "Sigmoid"},       {"tanh", "Tanh"},
      {"softmax", "Softmax"}, {"logsoftmax", "LogSoftmax"}, {"softplus", "Softplus"},
      {"exponential", "Exp"},
  };
  if (!act)
    return;
  for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++)
    if (!strcmp(act, direct[i].act)) {
      ll_unary(c, direct[i].op, x);
      return;
    }
  ll_val in = *x;
  if (!strcmp(act, "hardsigmoid")) { /* clipByValue(0.5 + 0.2 * x, 0, 1) */
    ll_binary_f(c, "Mul", x, 0.2f, true);
    ll_binary_f(c, "AddV2", x, 0.5f, true);
    ll_binary_f(c, "Maximum", x, 0.0f, false);
    ll_binary_f(c, "Minimum", x, 1.0f, false);
  } else if (!strcmp(act, "softsign")) { /* x / (|x| + 1) */
    ll_unary(c, "Abs", x);
    ll_binary_f(c, "AddV2", x, 1.0f, false);
    *x = ll_binary(c, "RealDiv", &in, x);
  } else if (!strcmp(act, "swish") || !strcmp(act, "silu")) { /* sigmoid(x) * x */
    ll_unary(c, "Sigmoid", x);
    *x = ll_binary(c, "Mul", x, &in);
  } else if (!strcmp(act, "gelu")) { /* x * (0.5 * (1 + erf(x / sqrt(2)))), exact form */
    ll_binary_f(c, "RealDiv", x, (float)sqrt(2.0), false);
    ll_unary(c, "Erf", x);
    ll_binary_f(c, "AddV2", x, 1.0f, true);
    ll_binary_f(c, "Mul", x, 0.5f, true);
    *x = ll_binary(c, "Mul", &in, x);
  } else if (!strcmp(act, "mish")) { /* x * tanh(softplus(x)) */
    ll_unary(c, "Softplus", x);
    ll_unary(c, "Tanh", x);
    *x = ll_binary(c, "Mul", &in, x);
  } else {
    ll_fail(c, RT_ERR_INTERNAL, "activation '%s' has no lowering", act);
  }
}

/* ---------------------------------------------------------------- weights */

static int ll_cache_get(const ll_layer *L, const char *key) {
  for (const ll_cache *e = L->cache; e; e = e->next)
    if (!strcmp(e->key, key))
      return e->node;
  return -1;
}

static int ll_cache_put(ll_ctx *c, ll_layer *L, const char *key, int node) {
  if (node < 0)
    return -1;
  ll_cache *e = ll_alloc(c, sizeof *e);
  if (!e)
    return -1;
  e->key = ll_strdup(c, key);
  e->node = node;
  e->next = L->cache;
  L->cache = e;
  return node;
}

/* name with its second-to-last '/' component removed ("a/cell/kernel" -> "a/kernel"), the
 * way tfjs-layers loadWeights() drops the RNN cell name TF 2.2 added; false if < 3 parts. */
static bool ll_drop_cell(const char *name, char *out, size_t n) {
  const char *last = strrchr(name, '/');
  if (!last || last == name)
    return false;
  const char *prev = last - 1;
  while (prev > name && *prev != '/')
    prev--;
  if (*prev != '/')
    return false;
  snprintf(out, n, "%.*s%s", (int)(prev - name), name, last);
  return true;
}

static bool ll_ends_with_part(const char *name, const char *tail) {
  size_t n = strlen(name), t = strlen(tail);
  return n > t && name[n - t - 1] == '/' && !strcmp(name + n - t, tail);
}

/* Finds layer L's weight `w` the way TF.js names it: "<scope><layer>/<w>" (tfjs-layers
 * originalName), then "<layer>/<w>", then either with an RNN cell component dropped, then a
 * unique "<anything>/<layer>/<w>" (converters that prefix the model name). */
static const rt_tensor *ll_find_weight(ll_ctx *c, const ll_layer *L, const char *w) {
  char full[LL_NAME_MAX], local[LL_NAME_MAX], tmp[LL_NAME_MAX];
  snprintf(full, sizeof full, "%s%s/%s", L->scope, L->name, w);
  snprintf(local, sizeof local, "%s/%s", L->name, w);
  for (int i = 0; i < c->n_w; i++)
    if (!strcmp(c->w_name[i], full))
      return &c->w[i].t;
  for (int i = 0; i < c->n_w; i++)
    if (!strcmp(c->w_name[i], local))
      return &c->w[i].t;
  for (int i = 0; i < c->n_w; i++)
    if (ll_drop_cell(c->w_name[i], tmp, sizeof tmp) && (!strcmp(tmp, full) || !strcmp(tmp, local)))
      return &c->w[i].t;
  int found = -1;
  for (int i = 0; i < c->n_w; i++)
    if (ll_ends_with_part(c->w_name[i], local)) {
      if (found >= 0) {
        ll_fail(c, RT_ERR_PARSE, "weight '%s' is ambiguous: '%s' and '%s' both match", local,
                c->w_name[found], c->w_name[i]);
        return NULL;
      }
      found = i;
    }
  if (found >= 0)
    return &c->w[found].t;
  ll_fail(c, RT_ERR_PARSE, "weight '%s' is not in the weightsManifest", full);
  return NULL;
}

/* Layer weight `w` with the expected shape (-1: any); the tensor is graph-owned. */
static bool ll_weight_tensor(ll_ctx *c, const ll_layer *L, const char *w, int rank,
                             const int64_t *dims, rt_tensor *out) {
  if (c->st)
    return false;
  const rt_tensor *t = ll_find_weight(c, L, w);
  if (!t)
    return false;
  bool ok = t->rank == rank && t->dtype == RT_DT_F32;
  for (int i = 0; ok && i < rank; i++)
    ok = dims[i] < 0 || dims[i] == t->dims[i];
  if (!ok) {
    ll_val want = {.rank = rank}, got = {.rank = t->rank};
    memcpy(want.dims, dims, sizeof dims[0] * (size_t)rank);
    memcpy(got.dims, t->dims, sizeof t->dims[0] * (size_t)t->rank);
    char sw[128], sg[128];
    ll_dims_str(&want, sw, sizeof sw);
    ll_dims_str(&got, sg, sizeof sg);
    ll_fail(c, RT_ERR_SHAPE, "weight '%s' is %s %s, expected float32 %s", w,
            rt_dtype_name(t->dtype), sg, sw);
    return false;
  }
  *out = *t;
  return true;
}

/* The Const node of layer weight `w`, made on the layer's first call and shared after. */
static int ll_weight(ll_ctx *c, ll_layer *L, const char *w, int rank, const int64_t *dims) {
  int nd = ll_cache_get(L, w);
  if (nd >= 0) { /* a shared layer called on an input of another shape */
    const rt_tensor *t = &c->g->nodes[nd].value;
    for (int i = 0; i < rank; i++)
      if (dims[i] >= 0 && dims[i] != t->dims[i]) {
        ll_fail(c, RT_ERR_SHAPE, "called again on an input its weight '%s' does not fit", w);
        return -1;
      }
    return nd;
  }
  rt_tensor t;
  if (!ll_weight_tensor(c, L, w, rank, dims, &t))
    return -1;
  return ll_cache_put(c, L, w, ll_const_t(c, w, &t));
}

/* ---------------------------------------------------------------- convolution family */

typedef struct ll_conv_args {
  const char *op, *fused_op; /* unfused / fused-with-bias op */
  int64_t s[2], d[2], k[2];
  bool same;
  int64_t out_c;
  const char *act; /* canonical activation or NULL */
} ll_conv_args;

/* x = act(conv(x, kernel) + bias) on NHWC, as one fused node when there is a bias. */
static void ll_conv(ll_ctx *c, ll_val *x, int kernel, int bias, const ll_conv_args *a) {
  const char *fa = bias >= 0 ? ll_fused_activation(a->act) : NULL;
  rt_ref in[3] = {x->ref, ll_r(kernel), ll_r(bias)};
  int nd;
  if (bias >= 0) {
    nd = ll_node(c, a->fused_op, a->fused_op, in, 3);
    const char *ops[2] = {"BiasAdd", fa};
    ll_attr_strs(c, nd, "fused_ops", ops, fa ? 2 : 1);
    ll_attr_i(c, nd, "num_args", 1);
    ll_attr_f(c, nd, "epsilon", 0.0f);
  } else {
    nd = ll_node(c, a->op, a->op, in, 2);
  }
  ll_attr_t(c, nd, "T", RT_DT_F32);
  ll_attr_ints(c, nd, "strides", (const int64_t[]){1, a->s[0], a->s[1], 1}, 4);
  ll_attr_s(c, nd, "padding", a->same ? "SAME" : "VALID");
  ll_attr_ints(c, nd, "dilations", (const int64_t[]){1, a->d[0], a->d[1], 1}, 4);
  ll_attr_s(c, nd, "data_format", "NHWC");
  x->ref = ll_r(nd);
  x->dims[1] = ll_conv_len(c, x->dims[1], a->k[0], a->same, a->s[0], a->d[0]);
  x->dims[2] = ll_conv_len(c, x->dims[2], a->k[1], a->same, a->s[1], a->d[1]);
  x->dims[3] = a->out_c;
  if (!fa)
    ll_activation(c, a->act, x);
}

static bool ll_need_rank(ll_ctx *c, const ll_val *x, int rank) {
  if (x->rank == rank)
    return true;
  ll_fail(c, RT_ERR_SHAPE, "expects a rank-%d input, got rank %d", rank, x->rank);
  return false;
}

static bool ll_need_dim(ll_ctx *c, const ll_val *x, int axis, const char *what) {
  if (x->dims[axis] >= 0)
    return true;
  ll_fail(c, RT_ERR_SHAPE, "the %s dimension of the input must be known", what);
  return false;
}

static rt_status lower_conv2d(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  ll_conv_args a = {.op = "Conv2D", .fused_op = "_FusedConv2D"};
  a.out_c = ll_cfg_int(c, L, "filters", LL_REQUIRED);
  ll_cfg_ints(c, L, "kernel_size", 2, LL_REQUIRED, 1, a.k);
  ll_cfg_ints(c, L, "strides", 2, 1, 1, a.s);
  ll_cfg_ints(c, L, "dilation_rate", 2, 1, 1, a.d);
  a.same = ll_padding_same(c, L);
  a.act = ll_activation_cfg(c, L);
  bool cf = ll_channels_first(c, L), bias = ll_cfg_bool(c, L, "use_bias", true);
  if (ll_cfg_int(c, L, "groups", 1) != 1)
    ll_fail(c, RT_ERR_UNSUPPORTED, "grouped convolution (groups > 1) is not supported by TF.js");
  if (!c->st && a.out_c < 1)
    ll_fail(c, RT_ERR_PARSE, "'filters' must be positive");
  if (c->st || !ll_need_rank(c, &x, 4))
    return c->st;
  if (cf)
    ll_to_nhwc(c, &x);
  if (!ll_need_dim(c, &x, 3, "channel"))
    return c->st;
  int k = ll_weight(c, L, "kernel", 4, (const int64_t[]){a.k[0], a.k[1], x.dims[3], a.out_c});
  int b = bias ? ll_weight(c, L, "bias", 1, &a.out_c) : -1;
  ll_conv(c, &x, k, b, &a);
  if (cf)
    ll_to_nchw(c, &x);
  *out = x;
  return c->st;
}

static rt_status lower_conv1d(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  /* TF.js conv1d: NWC -> [N,1,W,C], filter [k,C,F] -> [1,k,C,F], conv2d, squeeze axis 1. */
  ll_val x = in[0];
  ll_conv_args a = {
      .op = "Conv2D", .fused_op = "_FusedConv2D", .s = {1, 1}, .d = {1, 1}, .k = {1, 1}};
  a.out_c = ll_cfg_int(c, L, "filters", LL_REQUIRED);
  ll_cfg_ints(c, L, "kernel_size", 1, LL_REQUIRED, 1, &a.k[1]);
  ll_cfg_ints(c, L, "strides", 1, 1, 1, &a.s[1]);
  ll_cfg_ints(c, L, "dilation_rate", 1, 1, 1, &a.d[1]);
  a.same = ll_padding_same(c, L);
  a.act = ll_activation_cfg(c, L);
  bool cf = ll_channels_first(c, L), bias = ll_cfg_bool(c, L, "use_bias", true);
  if (ll_cfg_int(c, L, "groups", 1) != 1)
    ll_fail(c, RT_ERR_UNSUPPORTED, "grouped convolution (groups > 1) is not supported by TF.js");
  if (!c->st && a.out_c < 1)
    ll_fail(c, RT_ERR_PARSE, "'filters' must be positive");
  if (c->st || !ll_need_rank(c, &x, 3))
    return c->st;
  if (cf)
    ll_transpose(c, &x, (const int[]){0, 2, 1});
  if (!ll_need_dim(c, &x, 2, "channel"))
    return c->st;
  int k = ll_cache_get(L, "kernel:4d");
  if (k < 0) {
    rt_tensor t;
    if (!ll_weight_tensor(c, L, "kernel", 3, (const int64_t[]){a.k[1], x.dims[2], a.out_c}, &t))
      return c->st;
    t.rank = 4;
    t.dims[3] = t.dims[2];
    t.dims[2] = t.dims[1];
    t.dims[1] = t.dims[0];
    t.dims[0] = 1;
    k = ll_cache_put(c, L, "kernel:4d", ll_const_t(c, "kernel", &t));
  } else if (c->g->nodes[k].value.dims[2] != x.dims[2]) {
    return ll_fail(c, RT_ERR_SHAPE, "called again on an input its kernel does not fit");
  }
  int b = bias ? ll_weight(c, L, "bias", 1, &a.out_c) : -1;
  ll_expand_dims(c, &x, 1);
  ll_conv(c, &x, k, b, &a);
  ll_squeeze(c, &x, 1);
  if (cf)
    ll_transpose(c, &x, (const int[]){0, 2, 1});
  *out = x;
  return c->st;
}

static rt_status lower_depthwise(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  ll_conv_args a = {
      .op = "DepthwiseConv2dNative", .fused_op = "FusedDepthwiseConv2dNative", .d = {1, 1}};
  int64_t mult = ll_cfg_int(c, L, "depth_multiplier", 1);
  ll_cfg_ints(c, L, "kernel_size", 2, LL_REQUIRED, 1, a.k);
  ll_cfg_ints(c, L, "strides", 2, 1, 1, a.s);
  /* TF.js: DepthwiseConv2D ignores dilation_rate (depthwiseConv2d(..., null)). */
  a.same = ll_padding_same(c, L);
  a.act = ll_activation_cfg(c, L);
  bool cf = ll_channels_first(c, L), bias = ll_cfg_bool(c, L, "use_bias", true);
  if (!c->st && (mult < 1 || mult > LL_MAX_DIM))
    ll_fail(c, RT_ERR_PARSE, "'depth_multiplier' must be positive");
  if (c->st || !ll_need_rank(c, &x, 4))
    return c->st;
  if (cf)
    ll_to_nhwc(c, &x);
  if (!ll_need_dim(c, &x, 3, "channel"))
    return c->st;
  a.out_c = x.dims[3] * mult;
  int k =
      ll_weight(c, L, "depthwise_kernel", 4, (const int64_t[]){a.k[0], a.k[1], x.dims[3], mult});
  int b = bias ? ll_weight(c, L, "bias", 1, &a.out_c) : -1;
  ll_conv(c, &x, k, b, &a);
  if (cf)
    ll_to_nchw(c, &x);
  *out = x;
  return c->st;
}

static rt_status lower_separable(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  /* TF.js separableConv2d: depthwise (strides, padding, dilation), then a 1x1 VALID conv. */
  ll_val x = in[0];
  ll_conv_args dw = {.op = "DepthwiseConv2dNative"};
  ll_conv_args pw = {
      .op = "Conv2D", .fused_op = "_FusedConv2D", .s = {1, 1}, .d = {1, 1}, .k = {1, 1}};
  int64_t mult = ll_cfg_int(c, L, "depth_multiplier", 1);
  pw.out_c = ll_cfg_int(c, L, "filters", LL_REQUIRED);
  ll_cfg_ints(c, L, "kernel_size", 2, LL_REQUIRED, 1, dw.k);
  ll_cfg_ints(c, L, "strides", 2, 1, 1, dw.s);
  ll_cfg_ints(c, L, "dilation_rate", 2, 1, 1, dw.d);
  dw.same = ll_padding_same(c, L);
  pw.act = ll_activation_cfg(c, L);
  bool cf = ll_channels_first(c, L), bias = ll_cfg_bool(c, L, "use_bias", true);
  if (!c->st && (mult < 1 || mult > LL_MAX_DIM || pw.out_c < 1))
    ll_fail(c, RT_ERR_PARSE, "'depth_multiplier' and 'filters' must be positive");
  if (c->st || !ll_need_rank(c, &x, 4))
    return c->st;
  if (cf)
    ll_to_nhwc(c, &x);
  if (!ll_need_dim(c, &x, 3, "channel"))
    return c->st;
  dw.out_c = x.dims[3] * mult;
  int dk =
      ll_weight(c, L, "depthwise_kernel", 4, (const int64_t[]){dw.k[0], dw.k[1], x.dims[3], mult});
  int pk = ll_weight(c, L, "pointwise_kernel", 4, (const int64_t[]){1, 1, dw.out_c, pw.out_c});
  int b = bias ? ll_weight(c, L, "bias", 1, &pw.out_c) : -1;
  ll_conv(c, &x, dk, -1, &dw);
  ll_conv(c, &x, pk, b, &pw);
  if (cf)
    ll_to_nchw(c, &x);
  *out = x;
  return c->st;
}

static rt_status lower_conv2d_transpose(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in,
                                        ll_val *out) {
  /* TF.js: conv2dTranspose to [N, deconvLength(H), deconvLength(W), filters], then biasAdd
   * and the activation; dilation_rate and output_padding are ignored. */
  ll_val x = in[0];
  int64_t f = ll_cfg_int(c, L, "filters", LL_REQUIRED), k[2], s[2];
  ll_cfg_ints(c, L, "kernel_size", 2, LL_REQUIRED, 1, k);
  ll_cfg_ints(c, L, "strides", 2, 1, 1, s);
  bool same = ll_padding_same(c, L), cf = ll_channels_first(c, L);
  bool bias = ll_cfg_bool(c, L, "use_bias", true);
  const char *act = ll_activation_cfg(c, L);
  if (!c->st && f < 1)
    ll_fail(c, RT_ERR_PARSE, "'filters' must be positive");
  if (c->st || !ll_need_rank(c, &x, 4))
    return c->st;
  if (cf)
    ll_to_nhwc(c, &x);
  if (!ll_need_dim(c, &x, 3, "channel"))
    return c->st;
  int kn = ll_weight(c, L, "kernel", 4, (const int64_t[]){k[0], k[1], f, x.dims[3]});
  int bn = bias ? ll_weight(c, L, "bias", 1, &f) : -1;
  int64_t extra[2] = {same ? 0 : (k[0] > s[0] ? k[0] - s[0] : 0),
                      same ? 0 : (k[1] > s[1] ? k[1] - s[1] : 0)};
  rt_ref size =
      ll_shape_expr(c, &x, 4, (const int[]){0, 1, 2, -1}, (const int64_t[]){1, s[0], s[1], 0},
                    (const int64_t[]){0, extra[0], extra[1], f});
  rt_ref ins[3] = {size, ll_r(kn), x.ref};
  int nd = ll_node(c, "conv2d_transpose", "Conv2DBackpropInput", ins, 3);
  ll_attr_t(c, nd, "T", RT_DT_F32);
  ll_attr_ints(c, nd, "strides", (const int64_t[]){1, s[0], s[1], 1}, 4);
  ll_attr_s(c, nd, "padding", same ? "SAME" : "VALID");
  ll_attr_ints(c, nd, "dilations", (const int64_t[]){1, 1, 1, 1}, 4);
  ll_attr_s(c, nd, "data_format", "NHWC");
  x.ref = ll_r(nd);
  for (int i = 0; i < 2; i++)
    x.dims[i + 1] = x.dims[i + 1] < 0 ? -1 : x.dims[i + 1] * s[i] + extra[i];
  x.dims[3] = f;
  if (bn >= 0) {
    rt_ref bi[2] = {x.ref, ll_r(bn)};
    nd = ll_node(c, "BiasAdd", "BiasAdd", bi, 2);
    ll_attr_t(c, nd, "T", RT_DT_F32);
    ll_attr_s(c, nd, "data_format", "NHWC");
    x.ref = ll_r(nd);
  }
  if (cf) /* TF.js transposes back before the bias, which is the same sum */
    ll_to_nchw(c, &x);
  ll_activation(c, act, &x);
  *out = x;
  return c->st;
}

/* ---------------------------------------------------------------- pooling */

static rt_status lower_pool2d(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  const char *op = strstr(L->cls, "Max") ? "MaxPool" : "AvgPool";
  int64_t p[2], s[2];
  ll_cfg_ints(c, L, "pool_size", 2, 2, 1, p);
  if (ll_absent(ll_cfg(L, "strides")))
    memcpy(s, p, sizeof s);
  else
    ll_cfg_ints(c, L, "strides", 2, 1, 1, s);
  bool same = ll_padding_same(c, L), cf = ll_channels_first(c, L);
  if (c->st || !ll_need_rank(c, &x, 4))
    return c->st;
  if (cf)
    ll_to_nhwc(c, &x);
  int nd = ll_node(c, op, op, &x.ref, 1);
  ll_attr_t(c, nd, "T", RT_DT_F32);
  ll_attr_ints(c, nd, "ksize", (const int64_t[]){1, p[0], p[1], 1}, 4);
  ll_attr_ints(c, nd, "strides", (const int64_t[]){1, s[0], s[1], 1}, 4);
  ll_attr_s(c, nd, "padding", same ? "SAME" : "VALID");
  ll_attr_s(c, nd, "data_format", "NHWC");
  x.ref = ll_r(nd);
  x.dims[1] = ll_conv_len(c, x.dims[1], p[0], same, s[0], 1);
  x.dims[2] = ll_conv_len(c, x.dims[2], p[1], same, s[1], 1);
  if (cf)
    ll_to_nchw(c, &x);
  *out = x;
  return c->st;
}

static rt_status lower_pool1d(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  /* TF.js: expandDims(x, 2), pool2d with [p, 1] / [s, 1], squeeze axis 2; data_format ignored. */
  ll_val x = in[0];
  const char *op = strstr(L->cls, "Max") ? "MaxPool" : "AvgPool";
  int64_t p, s;
  ll_cfg_ints(c, L, "pool_size", 1, 2, 1, &p);
  if (ll_absent(ll_cfg(L, "strides")))
    s = p;
  else
    ll_cfg_ints(c, L, "strides", 1, 1, 1, &s);
  bool same = ll_padding_same(c, L);
  if (c->st || !ll_need_rank(c, &x, 3))
    return c->st;
  ll_expand_dims(c, &x, 2);
  int nd = ll_node(c, op, op, &x.ref, 1);
  ll_attr_t(c, nd, "T", RT_DT_F32);
  ll_attr_ints(c, nd, "ksize", (const int64_t[]){1, p, 1, 1}, 4);
  ll_attr_ints(c, nd, "strides", (const int64_t[]){1, s, 1, 1}, 4);
  ll_attr_s(c, nd, "padding", same ? "SAME" : "VALID");
  ll_attr_s(c, nd, "data_format", "NHWC");
  x.ref = ll_r(nd);
  x.dims[1] = ll_conv_len(c, x.dims[1], p, same, s, 1);
  ll_squeeze(c, &x, 2);
  *out = x;
  return c->st;
}

static rt_status lower_global_pool(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in,
                                   ll_val *out) {
  /* TF.js: mean/max over the spatial axes; keepdims is ignored; 1D ignores data_format. */
  ll_val x = in[0];
  const char *op = strstr(L->cls, "Max") ? "Max" : "Mean";
  bool two = strstr(L->cls, "2D") != NULL;
  bool cf = two && ll_channels_first(c, L);
  if (c->st || !ll_need_rank(c, &x, two ? 4 : 3))
    return c->st;
  int axes[2] = {cf ? 2 : 1, cf ? 3 : 2};
  ll_reduce(c, op, &x, axes, two ? 2 : 1, false);
  *out = x;
  return c->st;
}

/* ---------------------------------------------------------------- core layers */

static rt_status lower_dense(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  int64_t units = ll_cfg_int(c, L, "units", LL_REQUIRED);
  const char *act = ll_activation_cfg(c, L);
  bool bias = ll_cfg_bool(c, L, "use_bias", true);
  if (!c->st && (units < 1 || units > LL_MAX_DIM))
    ll_fail(c, RT_ERR_PARSE, "'units' must be positive");
  if (c->st)
    return c->st;
  if (x.rank < 2)
    return ll_fail(c, RT_ERR_SHAPE, "expects an input of rank >= 2, got rank %d", x.rank);
  int r = x.rank;
  if (!ll_need_dim(c, &x, r - 1, "last"))
    return c->st;
  int64_t depth = x.dims[r - 1];
  int k = ll_weight(c, L, "kernel", 2, (const int64_t[]){depth, units});
  int b = bias ? ll_weight(c, L, "bias", 1, &units) : -1;
  /* TF.js K.dot: rank > 2 inputs go through [-1, depth] and back. */
  rt_ref back = {-1, 0};
  int64_t out_dims[RT_MAX_RANK];
  memcpy(out_dims, x.dims, sizeof out_dims);
  out_dims[r - 1] = units;
  if (r > 2) {
    int src[RT_MAX_RANK];
    int64_t mul[RT_MAX_RANK], add[RT_MAX_RANK];
    for (int i = 0; i < r; i++) {
      src[i] = i < r - 1 ? i : -1;
      mul[i] = i < r - 1 ? 1 : 0;
      add[i] = i < r - 1 ? 0 : units;
    }
    bool batch_only = true;
    for (int i = 1; i < r - 1; i++)
      batch_only &= x.dims[i] >= 0;
    if (batch_only) { /* Const [-1, d1, ..., units] */
      int32_t v[RT_MAX_RANK];
      v[0] = -1;
      for (int i = 1; i < r; i++)
        v[i] = (int32_t)out_dims[i];
      back = ll_r(ll_const_i32(c, "Reshape_1/shape", v, r));
    } else {
      back = ll_shape_expr(c, &x, r, src, mul, add);
    }
    int32_t flat[2] = {-1, (int32_t)depth};
    ll_reshape(c, &x, ll_r(ll_const_i32(c, "Reshape/shape", flat, 2)), 2,
               (const int64_t[]){-1, depth});
  }
  const char *fa = b >= 0 ? ll_fused_activation(act) : NULL;
  rt_ref ins[3] = {x.ref, ll_r(k), ll_r(b)};
  int nd;
  if (b >= 0) {
    nd = ll_node(c, "MatMul", "_FusedMatMul", ins, 3);
    const char *ops[2] = {"BiasAdd", fa};
    ll_attr_strs(c, nd, "fused_ops", ops, fa ? 2 : 1);
    ll_attr_i(c, nd, "num_args", 1);
    ll_attr_f(c, nd, "epsilon", 0.0f);
  } else {
    nd = ll_node(c, "MatMul", "MatMul", ins, 2);
  }
  ll_attr_t(c, nd, "T", RT_DT_F32);
  ll_attr_b(c, nd, "transpose_a", false);
  ll_attr_b(c, nd, "transpose_b", false);
  x.ref = ll_r(nd);
  x.dims[1] = units;
  if (r > 2)
    ll_reshape(c, &x, back, r, out_dims);
  if (!fa)
    ll_activation(c, act, &x);
  *out = x;
  return c->st;
}

static rt_status lower_flatten(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  bool cf = ll_channels_first(c, L);
  if (c->st)
    return c->st;
  if (x.rank < 1)
    return ll_fail(c, RT_ERR_SHAPE, "expects an input of rank >= 1");
  if (cf && x.rank > 2) { /* TF.js: channels to the end first */
    int perm[RT_MAX_RANK];
    perm[0] = 0;
    for (int i = 2; i < x.rank; i++)
      perm[i - 1] = i;
    perm[x.rank - 1] = 1;
    ll_transpose(c, &x, perm);
  }
  int64_t prod = 1;
  for (int i = 1; i < x.rank; i++) {
    if (x.dims[i] < 0) /* TF.js: computeOutputShape throws */
      return ll_fail(c, RT_ERR_SHAPE, "the input shape must be fully defined (but the batch)");
    prod *= x.dims[i];
    if (prod > LL_MAX_DIM)
      return ll_fail(c, RT_ERR_SHAPE, "the flattened size is too large");
  }
  ll_reshape_batch(c, &x, 1, &prod, &prod);
  *out = x;
  return c->st;
}

static rt_status lower_reshape(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  json_t *ts = ll_cfg(L, "target_shape");
  int n = json_is_array(ts) ? (int)json_array_size(ts) : -1;
  if (n < 0 || n + 1 > RT_MAX_RANK)
    return ll_fail(c, RT_ERR_PARSE, "'target_shape' must be a list of at most %d dims",
                   RT_MAX_RANK - 1);
  int64_t t[RT_MAX_RANK], fin[RT_MAX_RANK];
  int unknown = -1;
  int64_t known = 1, size = 1;
  for (int i = 0; i < n; i++) {
    json_t *v = json_array_get(ts, (size_t)i);
    if (json_is_null(v))
      t[i] = -1;
    else if (!ll_json_int(v, &t[i]) || t[i] > LL_MAX_DIM)
      return ll_fail(c, RT_ERR_PARSE, "'target_shape' must hold integers or null");
    if (t[i] < 0) {
      if (unknown >= 0)
        return ll_fail(c, RT_ERR_PARSE, "'target_shape' has more than one unknown dimension");
      unknown = i;
      t[i] = -1;
    } else {
      known *= t[i];
    }
    fin[i] = t[i];
  }
  bool static_in = true;
  for (int i = 1; i < x.rank; i++) {
    static_in &= x.dims[i] >= 0;
    size *= x.dims[i] < 0 ? 1 : x.dims[i];
  }
  if (static_in) { /* TF.js fixUnknownDimension() at load, with its checks */
    if (unknown >= 0) {
      if (known == 0 || size % known)
        return ll_fail(c, RT_ERR_SHAPE, "cannot reshape %lld elements per example to the target",
                       (long long)size);
      fin[unknown] = t[unknown] = size / known;
    } else if (size != known) {
      return ll_fail(c, RT_ERR_SHAPE, "cannot reshape %lld elements per example into %lld",
                     (long long)size, (long long)known);
    }
  }
  ll_reshape_batch(c, &x, n, t, fin);
  *out = x;
  return c->st;
}

static rt_status lower_permute(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  json_t *dims = ll_cfg(L, "dims");
  int n = json_is_array(dims) ? (int)json_array_size(dims) : -1;
  if (n != x.rank - 1)
    return ll_fail(c, RT_ERR_PARSE, "'dims' must list %d axes", x.rank - 1);
  int perm[RT_MAX_RANK] = {0};
  bool seen[RT_MAX_RANK] = {false};
  for (int i = 0; i < n; i++) {
    int64_t d;
    if (!ll_json_int(json_array_get(dims, (size_t)i), &d) || d < 1 || d > n || seen[d])
      return ll_fail(c, RT_ERR_PARSE, "'dims' must be a permutation of 1..%d", n);
    seen[d] = true;
    perm[i + 1] = (int)d;
  }
  ll_transpose(c, &x, perm);
  *out = x;
  return c->st;
}

static rt_status lower_repeat_vector(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in,
                                     ll_val *out) {
  ll_val x = in[0];
  int64_t n = ll_cfg_int(c, L, "n", LL_REQUIRED);
  if (c->st || !ll_need_rank(c, &x, 2))
    return c->st;
  if (n < 0 || n > LL_MAX_DIM)
    return ll_fail(c, RT_ERR_PARSE, "'n' is out of range");
  ll_expand_dims(c, &x, 1);
  rt_ref ins[2] = {x.ref,
                   ll_r(ll_const_i32(c, "Tile/multiples", (const int32_t[]){1, (int32_t)n, 1}, 3))};
  int nd = ll_node(c, "Tile", "Tile", ins, 2);
  ll_attr_t(c, nd, "T", x.dtype);
  ll_attr_t(c, nd, "Tmultiples", RT_DT_I32);
  x.ref = ll_r(nd);
  x.dims[1] = n;
  *out = x;
  return c->st;
}

static rt_status lower_activation(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  const char *act = ll_activation_cfg(c, L);
  if (!c->st && !act) /* linear: keep a node so the layer is visible */
    ll_unary(c, "Identity", &x);
  ll_activation(c, act, &x);
  *out = x;
  return c->st;
}

static rt_status lower_identity(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  /* Dropout, noise and regularization layers are identities at inference. */
  ll_val x = in[0];
  ll_unary(c, "Identity", &x);
  *out = x;
  return c->st;
}

static rt_status lower_masking(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  /* TF.js: x * cast(any(x != mask_value, -1, keepDims), x.dtype). */
  ll_val x = in[0];
  float mv = (float)ll_cfg_num(c, L, "mask_value", 0.0);
  if (c->st || x.rank < 1)
    return c->st ? c->st : ll_fail(c, RT_ERR_SHAPE, "expects an input of rank >= 1");
  ll_val m = x;
  ll_binary_f(c, "NotEqual", &m, mv, false);
  m.dtype = RT_DT_BOOL;
  ll_reduce(c, "Any", &m, (const int[]){m.rank - 1}, 1, true);
  ll_cast(c, &m, x.dtype);
  *out = ll_binary(c, "Mul", &x, &m);
  return c->st;
}

static rt_status lower_embedding(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  int64_t n = ll_cfg_int(c, L, "input_dim", LL_REQUIRED);
  int64_t d = ll_cfg_int(c, L, "output_dim", LL_REQUIRED);
  if (c->st)
    return c->st;
  if (n < 1 || d < 1 || n > LL_MAX_DIM || d > LL_MAX_DIM)
    return ll_fail(c, RT_ERR_PARSE, "'input_dim' and 'output_dim' must be positive");
  if (x.rank + 1 > RT_MAX_RANK)
    return ll_fail(c, RT_ERR_SHAPE, "input rank %d is too large", x.rank);
  int e = ll_weight(c, L, "embeddings", 2, (const int64_t[]){n, d});
  if (x.dtype != RT_DT_I32)
    ll_cast(c, &x, RT_DT_I32);
  rt_ref ins[3] = {ll_r(e), x.ref, ll_r(ll_scalar_i32(c, "GatherV2/axis", 0))};
  int nd = ll_node(c, "GatherV2", "GatherV2", ins, 3);
  ll_attr_t(c, nd, "Tparams", RT_DT_F32);
  ll_attr_t(c, nd, "Tindices", RT_DT_I32);
  ll_attr_t(c, nd, "Taxis", RT_DT_I32);
  ll_attr_i(c, nd, "batch_dims", 0);
  x.ref = ll_r(nd);
  x.dtype = RT_DT_F32;
  x.dims[x.rank++] = d;
  *out = x;
  return c->st;
}

static rt_status lower_rescaling(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  float scale = (float)ll_cfg_num(c, L, "scale", NAN);
  float offset = (float)ll_cfg_num(c, L, "offset", 0.0);
  if (!c->st && isnan(scale))
    ll_fail(c, RT_ERR_PARSE, "'scale' must be a number");
  if (c->st)
    return c->st;
  if (x.dtype != RT_DT_F32)
    ll_cast(c, &x, RT_DT_F32);
  ll_binary_f(c, "Mul", &x, scale, false);
  if (offset != 0.0f)
    ll_binary_f(c, "AddV2", &x, offset, false);
  *out = x;
  return c->st;
}

/* ---------------------------------------------------------------- activation layers */

static rt_status lower_relu(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  /* TF.js ReLU: clipByValue(relu(x), 0, max_value); negative_slope and threshold are
   * ignored (TF.js reads only max_value). */
  ll_val x = in[0];
  json_t *mv = ll_cfg(L, "max_value");
  if (ll_absent(mv)) {
    ll_unary(c, "Relu", &x);
  } else if (!json_is_number(mv) || json_number_value(mv) < 0) {
    return ll_fail(c, RT_ERR_PARSE, "'max_value' must be a non-negative number");
  } else if (json_number_value(mv) == 6.0) {
    ll_unary(c, "Relu6", &x);
  } else {
    ll_unary(c, "Relu", &x);
    ll_binary_f(c, "Minimum", &x, (float)json_number_value(mv), false);
  }
  *out = x;
  return c->st;
}

static rt_status lower_leaky_relu(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  /* "alpha" (Keras 2, TF.js; default 0.3) or Keras 3's "negative_slope". */
  double alpha = ll_absent(ll_cfg(L, "alpha")) ? ll_cfg_num(c, L, "negative_slope", 0.3)
                                               : ll_cfg_num(c, L, "alpha", 0.3);
  int nd = ll_node(c, "LeakyRelu", "LeakyRelu", &x.ref, 1);
  ll_attr_t(c, nd, "T", x.dtype);
  ll_attr_f(c, nd, "alpha", (float)alpha);
  x.ref = ll_r(nd);
  *out = x;
  return c->st;
}

static rt_status lower_prelu(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  if (x.rank < 2)
    return ll_fail(c, RT_ERR_SHAPE, "expects an input of rank >= 2");
  int64_t shape[RT_MAX_RANK];
  for (int i = 1; i < x.rank; i++)
    shape[i - 1] = x.dims[i];
  json_t *sa = ll_cfg(L, "shared_axes");
  int64_t one;
  if (ll_json_int(sa, &one)) {
    if (one < 1 || one >= x.rank)
      return ll_fail(c, RT_ERR_PARSE, "'shared_axes' is out of range");
    shape[one - 1] = 1;
  } else if (json_is_array(sa)) {
    for (size_t i = 0; i < json_array_size(sa); i++) {
      int64_t a;
      if (!ll_json_int(json_array_get(sa, i), &a) || a < 1 || a >= x.rank)
        return ll_fail(c, RT_ERR_PARSE, "'shared_axes' is out of range");
      shape[a - 1] = 1;
    }
  } else if (!ll_absent(sa)) {
    return ll_fail(c, RT_ERR_PARSE, "'shared_axes' must be an integer or a list");
  }
  for (int i = 0; i < x.rank - 1; i++)
    if (shape[i] < 0)
      return ll_fail(c, RT_ERR_SHAPE, "the input shape must be fully defined (but the batch)");
  int a = ll_weight(c, L, "alpha", x.rank - 1, shape);
  rt_ref ins[2] = {x.ref, ll_r(a)};
  int nd = ll_node(c, "Prelu", "Prelu", ins, 2);
  ll_attr_t(c, nd, "T", x.dtype);
  x.ref = ll_r(nd);
  *out = x;
  return c->st;
}

static rt_status lower_elu(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  double alpha = ll_cfg_num(c, L, "alpha", 1.0);
  if (!c->st && alpha != 1.0) /* TF.js: NotImplementedError for any other alpha */
    return ll_fail(c, RT_ERR_UNSUPPORTED, "alpha %g is not supported (TF.js supports 1 only)",
                   alpha);
  ll_unary(c, "Elu", &x);
  *out = x;
  return c->st;
}

static rt_status lower_thresholded_relu(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in,
                                        ll_val *out) {
  /* TF.js: x * cast(x > theta, float32). */
  ll_val x = in[0];
  float theta = (float)ll_cfg_num(c, L, "theta", 1.0);
  ll_val m = x;
  ll_binary_f(c, "Greater", &m, theta, false);
  m.dtype = RT_DT_BOOL;
  ll_cast(c, &m, RT_DT_F32);
  *out = ll_binary(c, "Mul", &x, &m);
  return c->st;
}

static rt_status lower_softmax(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  json_t *ax = ll_cfg(L, "axis");
  if (json_is_array(ax) && json_array_size(ax) == 1)
    ax = json_array_get(ax, 0);
  int64_t axis = 1; /* TF.js: the Softmax layer's default axis is 1, not -1 */
  if (!ll_absent(ax) && !ll_json_int(ax, &axis))
    return ll_fail(c, RT_ERR_UNSUPPORTED, "'axis' must be one integer");
  int a;
  if (!ll_norm_axis(axis, x.rank, &a))
    return ll_fail(c, RT_ERR_PARSE, "axis %lld is out of range for rank %d", (long long)axis,
                   x.rank);
  if (a != x.rank - 1) /* TF.js: softmax along a non-last dimension is not supported */
    return ll_fail(c, RT_ERR_UNSUPPORTED, "softmax over axis %d of a rank-%d input", a, x.rank);
  ll_unary(c, "Softmax", &x);
  *out = x;
  return c->st;
}

/* ---------------------------------------------------------------- normalization */

/* Channel-axis parameter shaped to broadcast against a rank-`rank` input at `axis`. */
static void ll_param_dims(int rank, int axis, int64_t n, int *prank, int64_t *dims) {
  *prank = rank - axis;
  dims[0] = n;
  for (int i = 1; i < *prank; i++)
    dims[i] = 1;
}

static rt_status lower_batch_norm(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  /* Inference batch norm folded at load: y = x * scale + offset with
   * scale = gamma / sqrt(moving_variance + epsilon), offset = beta - moving_mean * scale. */
  ll_val x = in[0];
  json_t *ax = ll_cfg(L, "axis");
  if (json_is_array(ax) && json_array_size(ax) == 1)
    ax = json_array_get(ax, 0);
  int64_t axis = -1;
  if (!ll_absent(ax) && !ll_json_int(ax, &axis))
    return ll_fail(c, RT_ERR_UNSUPPORTED, "'axis' must be one integer");
  double eps = ll_cfg_num(c, L, "epsilon", 1e-3);
  bool center = ll_cfg_bool(c, L, "center", true), scale = ll_cfg_bool(c, L, "scale", true);
  if (c->st)
    return c->st;
  int a;
  if (!ll_norm_axis(axis, x.rank, &a) || x.rank < 1)
    return ll_fail(c, RT_ERR_PARSE, "axis %lld is out of range for rank %d", (long long)axis,
                   x.rank);
  if (!ll_need_dim(c, &x, a, "normalized"))
    return c->st;
  int64_t n = x.dims[a];
  int sn = ll_cache_get(L, "bn:scale"), on = ll_cache_get(L, "bn:offset");
  if (sn < 0 || on < 0) {
    rt_tensor g = {0}, b = {0}, m, v;
    if ((scale && !ll_weight_tensor(c, L, "gamma", 1, &n, &g)) ||
        (center && !ll_weight_tensor(c, L, "beta", 1, &n, &b)) ||
        !ll_weight_tensor(c, L, "moving_mean", 1, &n, &m) ||
        !ll_weight_tensor(c, L, "moving_variance", 1, &n, &v))
      return c->st;
    float *s = ll_alloc(c, (size_t)n * sizeof *s), *o = ll_alloc(c, (size_t)n * sizeof *o);
    if (!s || !o)
      return c->st;
    for (int64_t i = 0; i < n; i++) {
      double gi = scale ? ((const float *)g.data)[i] : 1.0;
      double bi = center ? ((const float *)b.data)[i] : 0.0;
      double mi = ((const float *)m.data)[i], vi = ((const float *)v.data)[i];
      double si = gi / sqrt(vi + eps);
      s[i] = (float)si;
      o[i] = (float)(bi - mi * si);
    }
    int pr;
    int64_t pd[RT_MAX_RANK];
    ll_param_dims(x.rank, a, n, &pr, pd);
    sn = ll_cache_put(c, L, "bn:scale", ll_const(c, "scale", RT_DT_F32, pr, pd, s));
    on = ll_cache_put(c, L, "bn:offset", ll_const(c, "offset", RT_DT_F32, pr, pd, o));
  } else if (c->g->nodes[sn].value.dims[0] != n || c->g->nodes[sn].value.rank != x.rank - a) {
    return ll_fail(c, RT_ERR_SHAPE, "called again on an input its parameters do not fit");
  }
  ll_val sv = ll_v(sn, RT_DT_F32, 0, NULL), ov = ll_v(on, RT_DT_F32, 0, NULL);
  sv.rank = ov.rank = x.rank - a;
  for (int i = 0; i < sv.rank; i++)
    sv.dims[i] = ov.dims[i] = i ? 1 : n;
  x = ll_binary(c, "Mul", &x, &sv);
  x = ll_binary(c, "AddV2", &x, &ov);
  *out = x;
  return c->st;
}

static rt_status lower_layer_norm(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  /* TF.js: moments over `axis` (keepDims), then (x - mean) / sqrt(var + eps) * gamma + beta. */
  ll_val x = in[0];
  json_t *ax = ll_cfg(L, "axis");
  int axes[RT_MAX_RANK], n = 0;
  if (ll_absent(ax)) {
    axes[n++] = x.rank - 1;
  } else {
    size_t cnt = json_is_array(ax) ? json_array_size(ax) : 1;
    for (size_t i = 0; i < cnt; i++) {
      int64_t v;
      int a;
      if (!ll_json_int(json_is_array(ax) ? json_array_get(ax, i) : ax, &v) ||
          !ll_norm_axis(v, x.rank, &a) || n >= RT_MAX_RANK)
        return ll_fail(c, RT_ERR_PARSE, "'axis' is out of range for rank %d", x.rank);
      axes[n++] = a;
    }
  }
  double eps = ll_cfg_num(c, L, "epsilon", 1e-3);
  bool center = ll_cfg_bool(c, L, "center", true), scale = ll_cfg_bool(c, L, "scale", true);
  if (c->st)
    return c->st;
  int64_t pshape[RT_MAX_RANK], bshape[RT_MAX_RANK];
  for (int i = 0; i < x.rank; i++)
    bshape[i] = 1;
  for (int i = 0; i < n; i++) {
    if (!ll_need_dim(c, &x, axes[i], "normalized"))
      return c->st;
    pshape[i] = bshape[axes[i]] = x.dims[axes[i]];
  }
  ll_val mean = x;
  ll_reduce(c, "Mean", &mean, axes, n, true);
  ll_val diff = ll_binary(c, "Sub", &x, &mean);
  ll_val var = diff;
  ll_unary(c, "Square", &var);
  ll_reduce(c, "Mean", &var, axes, n, true);
  ll_binary_f(c, "AddV2", &var, (float)eps, false);
  ll_unary(c, "Rsqrt", &var);
  x = ll_binary(c, "Mul", &diff, &var);
  const char *wn[2] = {"gamma", "beta"};
  const char *op[2] = {"Mul", "AddV2"};
  bool use[2] = {scale, center};
  for (int k = 0; k < 2; k++) {
    if (!use[k])
      continue;
    char key[32];
    snprintf(key, sizeof key, "ln:%s", wn[k]);
    int nd = ll_cache_get(L, key);
    if (nd < 0) {
      rt_tensor t;
      if (!ll_weight_tensor(c, L, wn[k], n, pshape, &t))
        return c->st;
      t.rank = x.rank; /* same data, broadcastable shape */
      memcpy(t.dims, bshape, sizeof bshape[0] * (size_t)x.rank);
      nd = ll_cache_put(c, L, key, ll_const_t(c, wn[k], &t));
    } else if (c->g->nodes[nd].value.rank != x.rank) {
      return ll_fail(c, RT_ERR_SHAPE, "called again on an input its parameters do not fit");
    }
    ll_val p = ll_v(nd, RT_DT_F32, x.rank, bshape);
    x = ll_binary(c, op[k], &x, &p);
  }
  *out = x;
  return c->st;
}

/* ---------------------------------------------------------------- merge layers */

static rt_status lower_merge(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  const char *cls = L->cls, *op;
  if (!strcmp(cls, "Add") || !strcmp(cls, "Average"))
    op = "AddV2";
  else if (!strcmp(cls, "Multiply"))
    op = "Mul";
  else if (!strcmp(cls, "Maximum"))
    op = "Maximum";
  else if (!strcmp(cls, "Minimum"))
    op = "Minimum";
  else
    op = "Sub"; /* Subtract: Keras only; tfjs-layers has no such class */
  if (!strcmp(op, "Sub") && n_in != 2)
    return ll_fail(c, RT_ERR_PARSE, "expects exactly 2 inputs, got %d", n_in);
  int max_rank = 0;
  for (int i = 0; i < n_in; i++)
    max_rank = in[i].rank > max_rank ? in[i].rank : max_rank;
  ll_val acc = {0};
  for (int i = 0; i < n_in && !c->st; i++) {
    ll_val x = in[i];
    while (x.rank < max_rank) /* TF.js Merge: expand lower ranks at axis 1 */
      ll_expand_dims(c, &x, x.rank ? 1 : 0);
    acc = i ? ll_binary(c, op, &acc, &x) : x;
  }
  if (!strcmp(cls, "Average")) /* TF.js: mul(1 / n, sum) */
    ll_binary_f(c, "Mul", &acc, (float)(1.0 / n_in), true);
  *out = acc;
  return c->st;
}

static rt_status lower_concat(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  int64_t axis = ll_cfg_int(c, L, "axis", -1);
  if (c->st)
    return c->st;
  ll_val x = in[0];
  int a;
  if (!ll_norm_axis(axis, x.rank, &a) || x.rank < 1)
    return ll_fail(c, RT_ERR_PARSE, "axis %lld is out of range for rank %d", (long long)axis,
                   x.rank);
  rt_ref *refs = ll_alloc(c, (size_t)(n_in + 1) * sizeof *refs);
  if (!refs)
    return c->st;
  for (int i = 0; i < n_in; i++) {
    if (in[i].rank != x.rank)
      return ll_fail(c, RT_ERR_SHAPE, "inputs have ranks %d and %d", x.rank, in[i].rank);
    for (int d = 0; d < x.rank && i > 0; d++) {
      int64_t p = x.dims[d], q = in[i].dims[d];
      if (d == a)
        x.dims[d] = p < 0 || q < 0 ? -1 : p + q;
      else if (p >= 0 && q >= 0 && p != q)
        return ll_fail(c, RT_ERR_SHAPE, "inputs differ in dimension %d (%lld vs %lld)", d,
                       (long long)p, (long long)q);
      else if (p < 0)
        x.dims[d] = q;
    }
    refs[i] = in[i].ref;
  }
  refs[n_in] = ll_r(ll_scalar_i32(c, "ConcatV2/axis", a));
  int nd = ll_node(c, "ConcatV2", "ConcatV2", refs, n_in + 1);
  ll_attr_t(c, nd, "T", x.dtype);
  ll_attr_t(c, nd, "Tidx", RT_DT_I32);
  ll_attr_i(c, nd, "N", n_in);
  x.ref = ll_r(nd);
  *out = x;
  return c->st;
}

/* ---------------------------------------------------------------- padding, cropping, resizing */

/* [[a, b], [c, d]] from a number, [h, w] or [[top, bottom], [left, right]] (TF.js forms). */
static bool ll_cfg_pairs(ll_ctx *c, const ll_layer *L, const char *key, int64_t def,
                         int64_t p[2][2]) {
  json_t *v = ll_cfg(L, key);
  int64_t x;
  if (ll_absent(v)) {
    p[0][0] = p[0][1] = p[1][0] = p[1][1] = def;
  } else if (ll_json_int(v, &x)) {
    p[0][0] = p[0][1] = p[1][0] = p[1][1] = x;
  } else if (json_is_array(v) && json_array_size(v) == 2) {
    for (int i = 0; i < 2; i++) {
      json_t *e = json_array_get(v, (size_t)i);
      if (ll_json_int(e, &x)) {
        p[i][0] = p[i][1] = x;
      } else if (json_is_array(e) && json_array_size(e) == 2 &&
                 ll_json_int(json_array_get(e, 0), &p[i][0]) &&
                 ll_json_int(json_array_get(e, 1), &p[i][1])) {
      } else {
        ll_fail(c, RT_ERR_PARSE, "'%s' must be a number, 2 numbers or 2 pairs", key);
        return false;
      }
    }
  } else {
    ll_fail(c, RT_ERR_PARSE, "'%s' must be a number, 2 numbers or 2 pairs", key);
    return false;
  }
  for (int i = 0; i < 4; i++)
    if (p[i / 2][i % 2] < 0 || p[i / 2][i % 2] > LL_MAX_DIM) {
      ll_fail(c, RT_ERR_PARSE, "'%s' values must be non-negative", key);
      return false;
    }
  return true;
}

static rt_status lower_zero_pad2d(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  int64_t p[2][2];
  bool cf = ll_channels_first(c, L);
  if (!ll_cfg_pairs(c, L, "padding", 1, p) || c->st || !ll_need_rank(c, &x, 4))
    return c->st;
  int h = cf ? 2 : 1;
  int32_t pads[8] = {0};
  for (int i = 0; i < 2; i++) {
    pads[2 * (h + i)] = (int32_t)p[i][0];
    pads[2 * (h + i) + 1] = (int32_t)p[i][1];
    if (x.dims[h + i] >= 0)
      x.dims[h + i] += p[i][0] + p[i][1];
  }
  int pc = ll_const(c, "Pad/paddings", RT_DT_I32, 2, (const int64_t[]){4, 2}, pads);
  rt_ref ins[2] = {x.ref, ll_r(pc)};
  int nd = ll_node(c, "Pad", "Pad", ins, 2);
  ll_attr_t(c, nd, "T", x.dtype);
  ll_attr_t(c, nd, "Tpaddings", RT_DT_I32);
  x.ref = ll_r(nd);
  *out = x;
  return c->st;
}

static rt_status lower_cropping2d(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out) {
  ll_val x = in[0];
  int64_t p[2][2];
  bool cf = ll_channels_first(c, L);
  if (!ll_cfg_pairs(c, L, "cropping", 0, p) || c->st || !ll_need_rank(c, &x, 4))
    return c->st;
  int h = cf ? 2 : 1;
  int32_t begin[4] = {0}, end[4] = {0}, strides[4] = {1, 1, 1, 1};
  int64_t bmask = 0, emask = 0;
  for (int d = 0; d < 4; d++)
    if (d != h && d != h + 1) {
      bmask |= 1 << d;
      emask |= 1 << d;
    }
  for (int i = 0; i < 2; i++) {
    int d = h + i;
    begin[d] = (int32_t)p[i][0];
    end[d] = (int32_t)-p[i][1]; /* counted from the end; 0 means "to the end" via end_mask */
    if (!p[i][1])
      emask |= 1 << d;
    if (x.dims[d] >= 0) {
      x.dims[d] -= p[i][0] + p[i][1];
      if (x.dims[d] <= 0)
        return ll_fail(c, RT_ERR_SHAPE, "cropping removes the whole input");
    }
  }
  rt_ref ins[4] = {x.ref, ll_r(ll_const_i32(c, "StridedSlice/begin", begin, 4)),
                   ll_r(ll_const_i32(c, "StridedSlice/end", end, 4)),
                   ll_r(ll_const_i32(c, "StridedSlice/strides", strides, 4))};
  int nd = ll_node(c, "StridedSlice", "StridedSlice", ins, 4);
  ll_attr_t(c, nd, "T", x.dtype);
  ll_attr_t(c, nd, "Index", RT_DT_I32);
  ll_attr_i(c, nd, "begin_mask", bmask);
  ll_attr_i(c, nd, "end_mask", emask);
  ll_attr_i(c, nd, "ellipsis_mask", 0);
  ll_attr_i(c, nd, "new_axis_mask", 0);
  ll_attr_i(c, nd, "shrink_axis_mask", 0);
  x.ref = ll_r(nd);
  *out = x;
  return c->st;
}

static rt_status lower_upsampling2d(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in,
                                    ll_val *out) {
  /* TF.js: resizeNearestNeighbor / resizeBilinear to size * [H, W], alignCorners false,
   * halfPixelCenters false. The size is a Const when H and W are static, else computed from
   * the input's shape at plan time. */
  ll_val x = in[0];
  int64_t s[2];
  ll_cfg_ints(c, L, "size", 2, 2, 1, s);
  const char *interp = ll_cfg_str(c, L, "interpolation", "nearest");
  bool cf = ll_channels_first(c, L);
  const char *op = NULL;
  if (!strcmp(interp, "nearest"))
    op = "ResizeNearestNeighbor";
  else if (!strcmp(interp, "bilinear"))
    op = "ResizeBilinear";
  else
    ll_fail(c, RT_ERR_UNSUPPORTED, "interpolation '%s' is not supported", interp);
  if (c->st || !ll_need_rank(c, &x, 4))
    return c->st;
  if (cf)
    ll_to_nhwc(c, &x);
  rt_ref size = ll_shape_expr(c, &x, 2, (const int[]){1, 2}, s, (const int64_t[]){0, 0});
  rt_ref ins[2] = {x.ref, size};
  int nd = ll_node(c, op, op, ins, 2);
  ll_attr_t(c, nd, "T", x.dtype);
  ll_attr_b(c, nd, "align_corners", false);
  ll_attr_b(c, nd, "half_pixel_centers", false);
  x.ref = ll_r(nd);
  x.dtype = RT_DT_F32;
  for (int i = 0; i < 2; i++)
    x.dims[i + 1] = x.dims[i + 1] < 0 ? -1 : x.dims[i + 1] * s[i];
  if (cf)
    ll_to_nchw(c, &x);
  *out = x;
  return c->st;
}

/* ---------------------------------------------------------------- the layer table */

typedef rt_status (*ll_lower_fn)(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in, ll_val *out);

typedef struct ll_kind {
  const char *cls;
  ll_lower_fn fn;
  int min_in, max_in; /* max -1: any number */
} ll_kind;

static const ll_kind LL_KINDS[] = {
    {"Conv2D", lower_conv2d, 1, 1},
    {"Conv1D", lower_conv1d, 1, 1},
    {"DepthwiseConv2D", lower_depthwise, 1, 1},
    {"SeparableConv2D", lower_separable, 1, 1},
    {"Conv2DTranspose", lower_conv2d_transpose, 1, 1},
    {"MaxPooling2D", lower_pool2d, 1, 1},
    {"AveragePooling2D", lower_pool2d, 1, 1},
    {"MaxPooling1D", lower_pool1d, 1, 1},
    {"AveragePooling1D", lower_pool1d, 1, 1},
    {"GlobalAveragePooling2D", lower_global_pool, 1, 1},
    {"GlobalMaxPooling2D", lower_global_pool, 1, 1},
    {"GlobalAveragePooling1D", lower_global_pool, 1, 1},
    {"GlobalMaxPooling1D", lower_global_pool, 1, 1},
    {"Dense", lower_dense, 1, 1},
    {"Flatten", lower_flatten, 1, 1},
    {"Reshape", lower_reshape, 1, 1},
    {"Permute", lower_permute, 1, 1},
    {"RepeatVector", lower_repeat_vector, 1, 1},
    {"Activation", lower_activation, 1, 1},
    {"Dropout", lower_identity, 1, 1},
    {"SpatialDropout1D", lower_identity, 1, 1},
    {"SpatialDropout2D", lower_identity, 1, 1},
    {"SpatialDropout3D", lower_identity, 1, 1},
    {"GaussianNoise", lower_identity, 1, 1},
    {"GaussianDropout", lower_identity, 1, 1},
    {"AlphaDropout", lower_identity, 1, 1},
    {"ActivityRegularization", lower_identity, 1, 1},
    {"Masking", lower_masking, 1, 1},
    {"Embedding", lower_embedding, 1, 1},
    {"Rescaling", lower_rescaling, 1, 1},
    {"ReLU", lower_relu, 1, 1},
    {"LeakyReLU", lower_leaky_relu, 1, 1},
    {"PReLU", lower_prelu, 1, 1},
    {"ELU", lower_elu, 1, 1},
    {"ThresholdedReLU", lower_thresholded_relu, 1, 1},
    {"Softmax", lower_softmax, 1, 1},
    {"BatchNormalization", lower_batch_norm, 1, 1},
    {"LayerNormalization", lower_layer_norm, 1, 1},
    {"Add", lower_merge, 2, -1},
    {"Multiply", lower_merge, 2, -1},
    {"Average", lower_merge, 2, -1},
    {"Maximum", lower_merge, 2, -1},
    {"Minimum", lower_merge, 2, -1},
    {"Subtract", lower_merge, 2, 2},
    {"Concatenate", lower_concat, 2, -1},
    {"ZeroPadding2D", lower_zero_pad2d, 1, 1},
    {"Cropping2D", lower_cropping2d, 1, 1},
    {"UpSampling2D", lower_upsampling2d, 1, 1},
};

static const ll_kind *ll_kind_find(const char *cls) {
  for (size_t i = 0; i < sizeof LL_KINDS / sizeof LL_KINDS[0]; i++)
    if (!strcmp(LL_KINDS[i].cls, cls))
      return &LL_KINDS[i];
  return NULL;
}

static bool ll_is_model_class(const char *cls) {
  return !strcmp(cls, "Sequential") || !strcmp(cls, "Functional") || !strcmp(cls, "Model");
}

/* ---------------------------------------------------------------- parsing the config */

/* [name, node_index, tensor_index, ...] */
static bool ll_parse_triple(const json_t *v, ll_in *out) {
  int64_t n, t;
  if (!json_is_array(v) || json_array_size(v) < 3 || !json_is_string(json_array_get(v, 0)) ||
      !ll_json_int(json_array_get(v, 1), &n) || !ll_json_int(json_array_get(v, 2), &t) || n < 0 ||
      t < 0 || n > INT32_MAX || t > INT32_MAX)
    return false;
  out->layer = json_string_value(json_array_get(v, 0));
  out->node = (int)n;
  out->tensor = (int)t;
  return true;
}

/* Keras 3 inbound node: {"args": [...], "kwargs": {...}} whose tensors carry
 * config.keras_history = [layer, node_index, tensor_index]; collected in argument order. */
static bool ll_collect_history(ll_ctx *c, const json_t *v, int depth, ll_in **ins, int *n,
                               int *cap) {
  if (depth > 32)
    return false;
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++)
      if (!ll_collect_history(c, json_array_get(v, i), depth + 1, ins, n, cap))
        return false;
    return true;
  }
  if (!json_is_object(v))
    return true; /* numbers, strings, null: not tensors */
  const json_t *hist = json_object_get(json_object_get(v, "config"), "keras_history");
  if (!hist)
    return true;
  if (*n == *cap) {
    int cap2 = *cap ? *cap * 2 : 4;
    ll_in *t = ll_alloc(c, (size_t)cap2 * sizeof *t);
    if (!t)
      return false;
    if (*n)
      memcpy(t, *ins, (size_t)*n * sizeof *t);
    *ins = t;
    *cap = cap2;
  }
  return ll_parse_triple(hist, &(*ins)[(*n)++]);
}

static rt_status ll_parse_specs(ll_ctx *c, ll_layer *L, const json_t *nodes) {
  if (ll_absent(nodes))
    return RT_OK;
  if (!json_is_array(nodes))
    return ll_fail(c, RT_ERR_PARSE, "'inbound_nodes' must be a list");
  L->n_specs = (int)json_array_size(nodes);
  L->specs = ll_alloc(c, (size_t)L->n_specs * sizeof *L->specs);
  if (!L->specs)
    return c->st;
  for (int i = 0; i < L->n_specs; i++) {
    const json_t *node = json_array_get(nodes, (size_t)i);
    ll_spec *s = &L->specs[i];
    if (json_is_array(node)) { /* Keras 2: [[name, node, tensor, kwargs], ...] */
      s->n = (int)json_array_size(node);
      s->in = ll_alloc(c, (size_t)s->n * sizeof *s->in);
      if (!s->in)
        return c->st;
      for (int k = 0; k < s->n; k++)
        if (!ll_parse_triple(json_array_get(node, (size_t)k), &s->in[k]))
          return ll_fail(c, RT_ERR_PARSE,
                         "inbound node %d: input %d is not [layer, node_index, tensor_index]", i,
                         k);
    } else if (json_is_object(node)) {
      int cap = 0;
      if (!ll_collect_history(c, json_object_get(node, "args"), 0, &s->in, &s->n, &cap))
        return c->st ? c->st
                     : ll_fail(c, RT_ERR_PARSE, "inbound node %d: malformed keras_history", i);
    } else {
      return ll_fail(c, RT_ERR_PARSE, "inbound node %d must be a list or an object", i);
    }
  }
  return RT_OK;
}

/* input_layers / output_layers: a list of triples, or one bare triple (Keras 3). */
static rt_status ll_parse_io(ll_ctx *c, const json_t *v, const char *key, ll_in **out, int *n) {
  if (!json_is_array(v))
    return ll_fail(c, RT_ERR_PARSE, "model config field '%s' must be a list", key);
  if (json_array_size(v) && json_is_string(json_array_get(v, 0))) {
    *n = 1;
    *out = ll_alloc(c, sizeof **out);
    if (*out && !ll_parse_triple(v, *out))
      return ll_fail(c, RT_ERR_PARSE, "model config field '%s' is malformed", key);
    return c->st;
  }
  *n = (int)json_array_size(v);
  *out = ll_alloc(c, (size_t)*n * sizeof **out);
  for (int i = 0; *out && i < *n; i++)
    if (!ll_parse_triple(json_array_get(v, (size_t)i), &(*out)[i]))
      return ll_fail(c, RT_ERR_PARSE, "model config field '%s' entry %d is malformed", key, i);
  return c->st;
}

static ll_model *ll_parse_model(ll_ctx *c, const char *cls, json_t *config, const char *name,
                                const char *scope, bool nested);

static bool ll_has_input_shape(const json_t *cfg) {
  return !ll_absent(json_object_get(cfg, "batch_input_shape")) ||
         !ll_absent(json_object_get(cfg, "batch_shape")) ||
         !ll_absent(json_object_get(cfg, "input_shape"));
}

static ll_model *ll_parse_model(ll_ctx *c, const char *cls, json_t *config, const char *name,
                                const char *scope, bool nested) {
  ll_model *m = ll_alloc(c, sizeof *m);
  if (!m)
    return NULL;
  m->sequential = !strcmp(cls, "Sequential");
  json_t *layers =
      m->sequential && json_is_array(config) ? config : json_object_get(config, "layers");
  const char *cname = json_string_value(json_object_get(config, "name"));
  m->name = name ? name : cname ? cname : "model";
  if (!json_is_array(layers)) {
    ll_fail(c, RT_ERR_PARSE, "%s model '%s' has no 'layers' list", cls, m->name);
    return NULL;
  }
  m->n_layers = (int)json_array_size(layers);
  m->layers = ll_alloc(c, (size_t)m->n_layers * sizeof *m->layers);
  for (m->index_cap = 16; m->index_cap < 2 * (size_t)m->n_layers; m->index_cap *= 2)
    ;
  m->index = ll_alloc(c, m->index_cap * sizeof *m->index);
  if (!m->layers || !m->index)
    return NULL;
  memset(m->index, -1, m->index_cap * sizeof *m->index);
  for (int i = 0; i < m->n_layers; i++) {
    json_t *e = json_array_get(layers, (size_t)i);
    ll_layer *L = &m->layers[i];
    const char *lcls = json_string_value(json_object_get(e, "class_name"));
    json_t *lcfg = json_object_get(e, "config");
    const char *lname = json_string_value(json_object_get(e, "name"));
    if (!lname)
      lname = json_string_value(json_object_get(lcfg, "name"));
    if (!lcls) {
      ll_fail(c, RT_ERR_PARSE, "model '%s': layer %d has no 'class_name'", m->name, i);
      return NULL;
    }
    if (!lname) {
      char gen[64];
      snprintf(gen, sizeof gen, "%s_%d", lcls, i);
      lname = ll_strdup(c, gen);
    }
    if (!lname)
      return NULL;
    L->name = lname;
    if (!ll_index_layer(m, i)) {
      ll_fail(c, RT_ERR_PARSE, "model '%s' has two layers named '%s'", m->name, lname);
      return NULL;
    }
    L->cls = lcls;
    L->cfg = json_is_object(lcfg) ? lcfg : NULL;
    L->scope = scope;
    char buf[LL_NAME_MAX];
    snprintf(buf, sizeof buf, "%s%s", scope, lname);
    L->prefix = ll_strdup(c, buf);
    L->origin = rt__pool_strdup(c->g->pool, buf);
    if (c->st)
      return NULL;
    if (!L->origin) {
      ll_fail(c, RT_ERR_NOMEM, "out of memory");
      return NULL;
    }
    const ll_layer *save = c->cur;
    c->cur = L;
    if (!m->sequential && ll_parse_specs(c, L, json_object_get(e, "inbound_nodes")))
      return NULL;
    if (ll_is_model_class(lcls)) {
      if (c->depth >= LL_MAX_DEPTH) {
        ll_fail(c, RT_ERR_UNSUPPORTED, "models nested more than %d deep", LL_MAX_DEPTH);
        return NULL;
      }
      snprintf(buf, sizeof buf, "%s%s/", scope, lname);
      const char *sub_scope = ll_strdup(c, buf);
      c->depth++;
      L->sub = sub_scope ? ll_parse_model(c, lcls, lcfg, lname, sub_scope, true) : NULL;
      c->depth--;
      if (!L->sub)
        return NULL;
    }
    c->cur = save;
  }
  if (!m->sequential) {
    if (ll_parse_io(c, json_object_get(config, "input_layers"), "input_layers", &m->inputs,
                    &m->n_inputs) ||
        ll_parse_io(c, json_object_get(config, "output_layers"), "output_layers", &m->outputs,
                    &m->n_outputs))
      return NULL;
    m->internal_node = nested;
  } else if (nested && m->n_layers) { /* tfjs Sequential.add: only with an input shape */
    const ll_layer *f = &m->layers[0];
    m->internal_node = !strcmp(f->cls, "InputLayer") || f->sub || ll_has_input_shape(f->cfg);
  }
  return m;
}

/* ---------------------------------------------------------------- applying layers */

static rt_status ll_push_call(ll_ctx *c, ll_layer *L, const ll_val *v, int n) {
  if (L->n_calls == L->cap_calls) {
    int cap = L->cap_calls ? 2 * L->cap_calls : 4;
    ll_call *t = ll_alloc(c, (size_t)cap * sizeof *t);
    if (!t)
      return c->st;
    if (L->n_calls)
      memcpy(t, L->calls, (size_t)L->n_calls * sizeof *t);
    L->calls = t;
    L->cap_calls = cap;
  }
  ll_call *k = &L->calls[L->n_calls++];
  k->n_out = n;
  k->out = NULL;
  if (n > 0) {
    k->out = ll_alloc(c, (size_t)n * sizeof *k->out);
    if (!k->out)
      return c->st;
    memcpy(k->out, v, (size_t)n * sizeof *v);
  }
  return RT_OK;
}

/* Shape from an InputLayer's (or first Sequential layer's) config: batch_input_shape,
 * Keras 3 batch_shape, or input_shape (+ batch_size). */
static bool ll_input_shape(ll_ctx *c, const ll_layer *L, int *rank, int64_t *dims) {
  json_t *bis = ll_cfg(L, "batch_input_shape");
  if (ll_absent(bis))
    bis = ll_cfg(L, "batch_shape");
  int off = 0;
  if (ll_absent(bis)) {
    bis = ll_cfg(L, "input_shape");
    if (ll_absent(bis)) {
      ll_fail(c, RT_ERR_PARSE, "the first layer needs 'batch_input_shape' or 'input_shape'");
      return false;
    }
    dims[0] = ll_cfg_int(c, L, "batch_size", -1);
    off = 1;
  }
  if (!json_is_array(bis) || (int)json_array_size(bis) + off > RT_MAX_RANK) {
    ll_fail(c, RT_ERR_PARSE, "the input shape must be a list of at most %d dims", RT_MAX_RANK);
    return false;
  }
  *rank = (int)json_array_size(bis) + off;
  for (int i = off; i < *rank; i++) {
    json_t *v = json_array_get(bis, (size_t)(i - off));
    if (json_is_null(v))
      dims[i] = -1;
    else if (!ll_json_int(v, &dims[i]) || dims[i] < -1 || dims[i] > LL_MAX_DIM) {
      ll_fail(c, RT_ERR_PARSE, "the input shape must hold non-negative integers or null");
      return false;
    }
  }
  return !c->st;
}

/* A Placeholder named `name` for a model input described by layer L's config. */
static bool ll_placeholder(ll_ctx *c, const ll_layer *L, const char *name, ll_val *out) {
  int rank;
  int64_t dims[RT_MAX_RANK];
  if (!ll_input_shape(c, L, &rank, dims))
    return false;
  int dt = ll_dtype(ll_cfg(L, "dtype"));
  if (dt < 0 || dt == RT_DT_STRING) {
    ll_fail(c, RT_ERR_UNSUPPORTED, "input dtype is not supported");
    return false;
  }
  for (int i = 0; i < c->n_ins; i++)
    if (!strcmp(c->ins[i].name, name)) {
      ll_fail(c, RT_ERR_PARSE, "two model inputs are named '%s'", name);
      return false;
    }
  const char *save = c->prefix, *save_origin = c->origin;
  c->prefix = name;
  c->origin = L->origin;
  int nd = ll_node(c, NULL, "Placeholder", NULL, 0);
  c->prefix = save;
  c->origin = save_origin;
  ll_attr_t(c, nd, "dtype", (rt_dtype)dt);
  rt_attr *sa = ll_attr(c, nd, "shape", RT_ATTR_SHAPE);
  if (sa) {
    sa->shape.rank = rank;
    memcpy(sa->shape.dims, dims, sizeof dims[0] * (size_t)rank);
  }
  if (c->st)
    return false;
  if (c->n_ins == c->cap_ins) {
    int cap = c->cap_ins ? 2 * c->cap_ins : 4;
    rt_graph_io *t = ll_alloc(c, (size_t)cap * sizeof *t);
    if (!t)
      return false;
    if (c->n_ins)
      memcpy(t, c->ins, (size_t)c->n_ins * sizeof *t);
    c->ins = t;
    c->cap_ins = cap;
  }
  rt_graph_io *io = &c->ins[c->n_ins++];
  memset(io, 0, sizeof *io);
  io->name = rt__pool_strdup(c->g->pool, name);
  io->ref = ll_r(nd);
  io->dtype = (rt_dtype)dt;
  io->shape.rank = rank;
  memcpy(io->shape.dims, dims, sizeof dims[0] * (size_t)rank);
  if (!io->name) {
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
    return false;
  }
  *out = ll_v(nd, (rt_dtype)dt, rank, dims);
  return true;
}

/* A tensor handed to a nested model's InputLayer: ranks must agree, and the layer's declared
 * dims fill dims the tensor does not know. */
static bool ll_bind_input(ll_ctx *c, const ll_layer *L, const ll_val *v, ll_val *out) {
  int rank;
  int64_t dims[RT_MAX_RANK];
  *out = *v;
  if (ll_absent(ll_cfg(L, "batch_input_shape")) && ll_absent(ll_cfg(L, "batch_shape")) &&
      ll_absent(ll_cfg(L, "input_shape")))
    return true;
  if (!ll_input_shape(c, L, &rank, dims))
    return false;
  if (rank != v->rank) {
    ll_fail(c, RT_ERR_SHAPE, "expects a rank-%d input, got rank %d", rank, v->rank);
    return false;
  }
  for (int i = 0; i < rank; i++) {
    if (dims[i] >= 0 && v->dims[i] >= 0 && dims[i] != v->dims[i]) {
      ll_fail(c, RT_ERR_SHAPE, "input dimension %d is %lld, expected %lld", i,
              (long long)v->dims[i], (long long)dims[i]);
      return false;
    }
    if (out->dims[i] < 0)
      out->dims[i] = dims[i];
  }
  return true;
}

static rt_status ll_model_call(ll_ctx *c, ll_model *m, const ll_val *in, int n_in, ll_val **out,
                               int *n_out, const char ***names);

/* Applies layer L to `in` and records the call (one more Keras node index). */
static rt_status ll_apply(ll_ctx *c, ll_layer *L, const ll_val *in, int n_in) {
  const ll_layer *save_cur = c->cur;
  const char *save_prefix = c->prefix, *save_origin = c->origin;
  c->cur = L;
  c->prefix = L->prefix;
  c->origin = L->origin;
  if (L->sub) {
    ll_val *outs = NULL;
    int n = 0;
    if (!ll_model_call(c, L->sub, in, n_in, &outs, &n, NULL))
      ll_push_call(c, L, outs, n);
  } else {
    const ll_kind *k = ll_kind_find(L->cls);
    if (!k) {
      ll_fail(c, RT_ERR_UNSUPPORTED, "%s",
              !strcmp(L->cls, "InputLayer") ? "an InputLayer cannot be called on a tensor"
                                            : "this layer class is not supported");
    } else if (n_in < k->min_in || (k->max_in >= 0 && n_in > k->max_in)) {
      if (k->min_in == k->max_in)
        ll_fail(c, RT_ERR_PARSE, "expects %d input(s), got %d", k->min_in, n_in);
      else
        ll_fail(c, RT_ERR_PARSE, "expects at least %d inputs, got %d", k->min_in, n_in);
    } else {
      ll_val o;
      memset(&o, 0, sizeof o);
      if (!k->fn(c, L, in, n_in, &o) && !c->st)
        ll_push_call(c, L, &o, 1);
    }
  }
  c->cur = save_cur;
  c->prefix = save_prefix;
  c->origin = save_origin;
  return c->st;
}

/* Resolves one [layer, node, tensor]: 1 found, 0 not produced yet, -1 error. */
static int ll_resolve(ll_ctx *c, const ll_model *m, const ll_in *r, ll_val *out) {
  int li = ll_find_layer(m, r->layer);
  if (li < 0) {
    ll_fail(c, RT_ERR_PARSE, "model '%s' refers to unknown layer '%s'", m->name, r->layer);
    return -1;
  }
  const ll_layer *src = &m->layers[li];
  if (r->node >= src->n_calls)
    return 0;
  const ll_call *k = &src->calls[r->node];
  if (k->n_out < 0) {
    ll_fail(c, RT_ERR_UNSUPPORTED, "model '%s' reads node 0 of nested model '%s' (its own graph)",
            m->name, r->layer);
    return -1;
  }
  if (r->tensor >= k->n_out) {
    ll_fail(c, RT_ERR_PARSE, "model '%s' reads output %d of layer '%s', which has %d", m->name,
            r->tensor, r->layer, k->n_out);
    return -1;
  }
  *out = k->out[r->tensor];
  return 1;
}

/* Functional: the tfjs-layers Container.fromConfig walk. in == NULL at top level (inputs
 * become Placeholders); else the tensors for input_layers, in order. */
static rt_status ll_functional_call(ll_ctx *c, ll_model *m, const ll_val *in, int n_in,
                                    ll_val **out, int *n_out, const char ***names) {
  int *pend = NULL, *cnt = NULL, *next = NULL;
  ll_val *args = NULL;
  int max_args = 1, total = 0;
  for (int i = 0; i < m->n_layers; i++) {
    ll_layer *L = &m->layers[i];
    L->n_calls = 0;
    if (L->sub && L->sub->internal_node && ll_push_call(c, L, NULL, -1))
      return c->st;
    for (int s = 0; s < L->n_specs; s++)
      max_args = L->specs[s].n > max_args ? L->specs[s].n : max_args;
    total += L->n_specs;
  }
  if (in && n_in != m->n_inputs)
    return ll_fail(c, RT_ERR_PARSE, "nested model '%s' takes %d inputs, got %d", m->name,
                   m->n_inputs, n_in);
  for (int i = 0; i < m->n_inputs; i++) {
    int li = ll_find_layer(m, m->inputs[i].layer);
    if (li < 0 || strcmp(m->layers[li].cls, "InputLayer"))
      return ll_fail(c, RT_ERR_PARSE, "model '%s': input_layers entry '%s' is not an InputLayer",
                     m->name, m->inputs[i].layer);
    ll_layer *L = &m->layers[li];
    if (L->n_calls)
      return ll_fail(c, RT_ERR_PARSE, "model '%s' lists input '%s' twice", m->name, L->name);
    const ll_layer *save = c->cur;
    c->cur = L;
    ll_val v;
    bool ok = in ? ll_bind_input(c, L, &in[i], &v) : ll_placeholder(c, L, L->name, &v);
    c->cur = save;
    if (!ok || ll_push_call(c, L, &v, 1))
      return c->st;
  }
  /* Queue every inbound node; pend holds spec indices per layer, in order. */
  pend = malloc((size_t)(total ? total : 1) * sizeof *pend);
  next = malloc((size_t)(total ? total : 1) * sizeof *next);
  cnt = calloc((size_t)m->n_layers + 1, sizeof *cnt);
  args = malloc((size_t)max_args * sizeof *args);
  if (!pend || !next || !cnt || !args) {
    ll_fail(c, RT_ERR_NOMEM, "out of memory");
    goto done;
  }
  int off = 0;
  for (int i = 0; i < m->n_layers; i++) { /* layer i's queue: pend[off_i .. off_i + cnt[i]) */
    for (int s = 0; s < m->layers[i].n_specs; s++)
      pend[off + s] = s;
    cnt[i] = m->layers[i].n_specs;
    off += cnt[i];
  }
  int left = total;
  while (left > 0 && !c->st) {
    int progress = 0;
    off = 0;
    for (int i = 0; i < m->n_layers && !c->st; i++) {
      ll_layer *L = &m->layers[i];
      int kept = 0, n = cnt[i];
      for (int q = 0; q < n && !c->st; q++) {
        const ll_spec *s = &L->specs[pend[off + q]];
        int ready = 1;
        for (int a = 0; a < s->n && ready == 1; a++)
          ready = ll_resolve(c, m, &s->in[a], &args[a]);
        if (ready < 0)
          break;
        if (!ready) {
          next[kept++] = pend[off + q];
          continue;
        }
        progress++;
        left--;
        if (s->n > 0) /* TF.js skips calls without inputs */
          ll_apply(c, L, args, s->n);
      }
      memcpy(pend + off, next, (size_t)kept * sizeof *pend);
      cnt[i] = kept;
      off += L->n_specs;
    }
    if (!progress && !c->st) {
      for (int i = 0; i < m->n_layers; i++)
        if (cnt[i]) {
          const ll_layer *save = c->cur;
          c->cur = &m->layers[i];
          ll_fail(c, RT_ERR_PARSE,
                  "its inputs are never produced (a cycle, or a missing "
                  "layer call)");
          c->cur = save;
          break;
        }
    }
  }
  if (c->st)
    goto done;
  if (m->n_outputs < 1) {
    ll_fail(c, RT_ERR_PARSE, "model '%s' has no output_layers", m->name);
    goto done;
  }
  *out = ll_alloc(c, (size_t)m->n_outputs * sizeof **out);
  if (names)
    *names = ll_alloc(c, (size_t)m->n_outputs * sizeof **names);
  if (c->st)
    goto done;
  for (int i = 0; i < m->n_outputs; i++) {
    int r = ll_resolve(c, m, &m->outputs[i], &(*out)[i]);
    if (r == 0)
      ll_fail(c, RT_ERR_PARSE, "model '%s': output layer '%s' node %d is never computed", m->name,
              m->outputs[i].layer, m->outputs[i].node);
    if (r <= 0)
      goto done;
    if (names)
      (*names)[i] = m->outputs[i].layer; /* TF.js outputNames: the output layers' names */
  }
  *n_out = m->n_outputs;
done:
  free(pend);
  free(next);
  free(cnt);
  free(args);
  return c->st;
}

/* Sequential: each layer applied to the previous one's output (tfjs Sequential.add). */
static rt_status ll_sequential_call(ll_ctx *c, ll_model *m, const ll_val *in, int n_in,
                                    ll_val **out, int *n_out, const char ***names) {
  if (m->n_layers < 1)
    return ll_fail(c, RT_ERR_PARSE, "Sequential model '%s' has no layers", m->name);
  for (int i = 0; i < m->n_layers; i++) {
    ll_layer *L = &m->layers[i];
    L->n_calls = 0;
    if (L->sub && L->sub->internal_node && ll_push_call(c, L, NULL, -1))
      return c->st;
  }
  ll_layer *first = &m->layers[0];
  ll_val x;
  int i = 0;
  const ll_layer *save = c->cur;
  c->cur = first;
  if (in) {
    if (n_in != 1)
      return ll_fail(c, RT_ERR_PARSE, "a Sequential model takes 1 input, got %d", n_in);
    x = in[0];
    if (!strcmp(first->cls, "InputLayer")) {
      if (!ll_bind_input(c, first, &in[0], &x) || ll_push_call(c, first, &x, 1))
        return c->st;
      i = 1;
    }
  } else if (!strcmp(first->cls, "InputLayer")) {
    if (!ll_placeholder(c, first, first->name, &x) || ll_push_call(c, first, &x, 1))
      return c->st;
    i = 1;
  } else if (first->sub) { /* TF.js: the nested model's inputs become the model's inputs */
    ll_val *o = NULL;
    int n = 0;
    if (ll_model_call(c, first->sub, NULL, 0, &o, &n, NULL))
      return c->st;
    if (n != 1)
      return ll_fail(c, RT_ERR_PARSE, "a layer of a Sequential model must have one output");
    if (ll_push_call(c, first, o, 1))
      return c->st;
    x = o[0];
    i = 1;
  } else {
    char name[LL_NAME_MAX];
    snprintf(name, sizeof name, "%s_input", first->name); /* TF.js Sequential.add */
    if (!ll_placeholder(c, first, name, &x))
      return c->st;
  }
  c->cur = save;
  for (; i < m->n_layers; i++) {
    ll_layer *L = &m->layers[i];
    if (!strcmp(L->cls, "InputLayer")) {
      c->cur = L;
      return ll_fail(c, RT_ERR_PARSE,
                     "an InputLayer must be the first layer of a Sequential "
                     "model");
    }
    if (ll_apply(c, L, &x, 1))
      return c->st;
    const ll_call *k = &L->calls[L->n_calls - 1];
    if (k->n_out != 1) {
      c->cur = L;
      return ll_fail(c, RT_ERR_PARSE, "a layer of a Sequential model must have one output");
    }
    x = k->out[0];
  }
  *out = ll_alloc(c, sizeof **out);
  if (names)
    *names = ll_alloc(c, sizeof **names);
  if (c->st)
    return c->st;
  **out = x;
  if (names) /* the output layer: the last layer, or the InputLayer of a model with no other */
    **names = m->layers[m->n_layers - 1].name;
  *n_out = 1;
  return RT_OK;
}

static rt_status ll_model_call(ll_ctx *c, ll_model *m, const ll_val *in, int n_in, ll_val **out,
                               int *n_out, const char ***names) {
  return m->sequential ? ll_sequential_call(c, m, in, n_in, out, n_out, names)
                       : ll_functional_call(c, m, in, n_in, out, n_out, names);
}

/* ---------------------------------------------------------------- entry point */

static rt_status ll_set_outputs(ll_ctx *c, const ll_val *v, const char *const *names, int n) {
  rt_graph *g = c->g;
  g->outputs = rt__pool_alloc(g->pool, (size_t)n * sizeof *g->outputs);
  if (!g->outputs)
    return ll_fail(c, RT_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    /* TF.js repeats a name when one layer gives several outputs; ours must be unique. */
    char name[LL_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s", names[i]);
    for (int k = 1;; k++) {
      bool dup = false;
      for (int j = 0; j < i && !dup; j++)
        dup = !strcmp(g->outputs[j].name, name);
      if (!dup)
        break;
      snprintf(name, sizeof name, "%s_%d", names[i], k);
    }
    rt_graph_io *io = &g->outputs[i];
    io->name = rt__pool_strdup(g->pool, name);
    if (!io->name)
      return ll_fail(c, RT_ERR_NOMEM, "out of memory");
    io->ref = v[i].ref;
    io->dtype = v[i].dtype;
    io->shape.rank = v[i].rank;
    memcpy(io->shape.dims, v[i].dims, sizeof v[i].dims[0] * (size_t)v[i].rank);
  }
  g->n_outputs = n;
  return RT_OK;
}

rt_status rt__load_layers_model(rt_graph *g, json_t *root, const char *dir, rt_error *err) {
  ll_ctx c;
  memset(&c, 0, sizeof c);
  c.g = g;
  c.err = err;
  c.prefix = "model";
  c.tmp = rt__pool_create();
  if (!c.tmp)
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory", g->path);

  /* TF.js: modelTopology may be the model config itself, or hold it in model_config; a file
   * may also be the bare topology. */
  json_t *topo = json_object_get(root, "modelTopology");
  if (!topo)
    topo = root;
  if (json_is_object(json_object_get(topo, "model_config")))
    topo = json_object_get(topo, "model_config");
  const char *cls = json_string_value(json_object_get(topo, "class_name"));
  json_t *config = json_object_get(topo, "config");
  if (!cls) {
    ll_fail(&c, RT_ERR_PARSE, "modelTopology has no Keras 'class_name'");
  } else if (!ll_is_model_class(cls)) {
    ll_fail(&c, RT_ERR_UNSUPPORTED,
            "model class '%s' is not supported (expected Sequential, Functional or Model)", cls);
  } else if (!json_is_object(config) && !(json_is_array(config) && !strcmp(cls, "Sequential"))) {
    ll_fail(&c, RT_ERR_PARSE, "modelTopology has no model 'config'");
  }
  if (c.st)
    goto done;

  json_t *manifest = json_object_get(root, "weightsManifest");
  if (!ll_absent(manifest)) {
    rt_status st = rt__load_weights(g, manifest, dir, &c.w, &c.n_w, err);
    if (st != RT_OK) {
      c.st = st;
      goto done;
    }
    c.w_name = ll_alloc(&c, (size_t)c.n_w * sizeof *c.w_name);
    for (int i = 0; i < c.n_w && !c.st; i++) {
      const char *n = c.w[i].name ? c.w[i].name : "";
      size_t len = strlen(n);
      if (len > 2 && !strcmp(n + len - 2, ":0")) /* Python TF variable names */
        n = rt__pool_strndup(c.tmp, n, len - 2);
      c.w_name[i] = n;
      if (!n)
        ll_fail(&c, RT_ERR_NOMEM, "out of memory");
    }
    if (c.st)
      goto done;
  }

  ll_model *m = ll_parse_model(&c, cls, config, NULL, "", false);
  if (!m)
    goto done;
  ll_val *outs = NULL;
  const char **names = NULL;
  int n_out = 0;
  if (ll_model_call(&c, m, NULL, 0, &outs, &n_out, &names) ||
      ll_set_outputs(&c, outs, names, n_out))
    goto done;
  g->inputs = rt__pool_alloc(g->pool, (size_t)(c.n_ins ? c.n_ins : 1) * sizeof *g->inputs);
  if (!g->inputs) {
    ll_fail(&c, RT_ERR_NOMEM, "out of memory");
    goto done;
  }
  if (c.n_ins)
    memcpy(g->inputs, c.ins, (size_t)c.n_ins * sizeof *c.ins);
  g->n_inputs = c.n_ins;
done:
  free(c.names);
  rt__pool_destroy(c.tmp);
  return c.st;
}
