/*
 * ir.h — the one graph IR both loaders produce (internal to runtime/).
 *
 * A graph is an array of nodes in one pool: every string, attribute, input list and constant
 * tensor a node points at lives in the graph's pool, so destroying the graph frees all of it.
 * A node names an op by its TensorFlow name (layers models are lowered to the same ops), reads
 * outputs of other nodes through rt_ref, and carries TF-style attributes. Constants are nodes
 * with op "Const" whose `value` points at the weights owned by the graph.
 *
 * Invariants after rt__graph_compile(): every node has a resolved op (node->op != NULL), input
 * refs are in range, nodes are in topological order of data inputs (except loop back-edges via
 * NextIteration), and node->n_outputs is final.
 */
#ifndef ORCHARD_RT_IR_H
#define ORCHARD_RT_IR_H

#include "orchard/rt.h"

#include <pthread.h>
#include <stdarg.h>

/* ---- pool: bump allocator owning everything of a graph ---- */
typedef struct rt_pool rt_pool;
rt_pool *rt__pool_create(void);
void rt__pool_destroy(rt_pool *p);
void *rt__pool_alloc(rt_pool *p, size_t n);     /* zeroed, 64-byte aligned; NULL on OOM */
char *rt__pool_strdup(rt_pool *p, const char *s);
char *rt__pool_strndup(rt_pool *p, const char *s, size_t n);
size_t rt__pool_bytes(const rt_pool *p);

/* ---- errors ---- */
rt_status rt__errorf(rt_error *e, rt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- attributes (as TF.js writes them in model.json) ---- */
typedef enum rt_attr_kind {
  RT_ATTR_INT = 0,   /* "i" */
  RT_ATTR_FLOAT,     /* "f" */
  RT_ATTR_BOOL,      /* "b" */
  RT_ATTR_STRING,    /* "s" (base64-decoded bytes) */
  RT_ATTR_TYPE,      /* "type" */
  RT_ATTR_SHAPE,     /* "shape" */
  RT_ATTR_TENSOR,    /* "tensor" */
  RT_ATTR_LIST_INT,  /* "list": {"i": [...]} */
  RT_ATTR_LIST_FLOAT,
  RT_ATTR_LIST_STRING,
  RT_ATTR_LIST_TYPE,
  RT_ATTR_LIST_SHAPE,
  RT_ATTR_FUNC,      /* "func": {"name": ...} */
  RT_ATTR_EMPTY_LIST /* "list": {} */
} rt_attr_kind;

typedef struct rt_shape_attr {
  int rank;                /* -1 = unknown rank */
  int64_t dims[RT_MAX_RANK]; /* -1 = unknown dim */
} rt_shape_attr;

typedef struct rt_attr {
  const char *name;
  rt_attr_kind kind;
  int64_t i;
  float f;
  bool b;
  rt_dtype type;
  rt_shape_attr shape;
  const char *s; /* NUL-terminated copy; s_len excludes the NUL */
  size_t s_len;
  rt_tensor tensor;
  int n;               /* element count of a list */
  int64_t *ints;       /* RT_ATTR_LIST_INT */
  float *floats;       /* RT_ATTR_LIST_FLOAT */
  const char **strs;   /* RT_ATTR_LIST_STRING (NUL-terminated), RT_ATTR_FUNC name in s */
  size_t *str_lens;
  rt_dtype *types;     /* RT_ATTR_LIST_TYPE */
  rt_shape_attr *shapes; /* RT_ATTR_LIST_SHAPE */
} rt_attr;

/* ---- nodes and graph ---- */
typedef struct rt_ref {
  int node;  /* index into graph->nodes */
  int index; /* which output of that node */
} rt_ref;

struct rt_op_def;

typedef struct rt_node {
  const char *name;
  const char *op_name;
  const struct rt_op_def *op; /* resolved by compile; NULL while unresolved */
  int n_inputs;
  rt_ref *inputs;        /* data inputs, in order */
  int n_ctrl;
  int *ctrl;             /* control dependencies ("^name" inputs) */
  int n_outputs;         /* set by compile from the op */
  int n_attrs;
  rt_attr *attrs;
  rt_tensor value;       /* Const: the constant (data in graph-owned memory) */
  void *params;          /* op-private, set by the op's prepare(), in the graph pool */
  const char *origin;    /* file or layer this node came from, for messages; may be NULL */
} rt_node;

typedef struct rt_graph_io {
  const char *name;    /* user-visible name (signature key or node name) */
  rt_ref ref;          /* the node output it is */
  rt_dtype dtype;
  rt_shape_attr shape; /* declared shape; -1 unknown */
} rt_graph_io;

typedef struct rt_graph {
  rt_pool *pool;
  const char *format;  /* "graph-model" | "layers-model" */
  const char *path;    /* model.json path, for messages */
  int n_nodes, cap_nodes;
  rt_node *nodes;      /* realloc-grown while building; stable after compile */
  int n_inputs, n_outputs;
  rt_graph_io *inputs;
  rt_graph_io *outputs;
  size_t packed_bytes; /* added to by ops' pack() hooks */
  /* Serializes what plan() hooks add to a compiled graph (weights packed for the geometry of
   * the first plan that needs them): sessions of one model plan on several threads. */
  pthread_mutex_t lazy_mu;
  int64_t n_params;    /* float weights in the manifest, counted by rt__load_weights */
  /* weights buffer(s) referenced by Const values are allocated from the pool */
} rt_graph;

rt_graph *rt__graph_create(const char *format, const char *path);
void rt__graph_destroy(rt_graph *g);

/* Appends a node; returns its index, or -1 on OOM. Name and op strings are copied. The node
 * pointer is invalidated by the next add (the array grows). */
int rt__graph_add_node(rt_graph *g, const char *name, const char *op_name);
/* Index of the node with this exact name, or -1. Linear per call; loaders build their own
 * hash maps when they need many lookups. */
int rt__graph_find(const rt_graph *g, const char *name);

/* Attribute helpers: find by name; typed getters return `def` when absent. */
const rt_attr *rt__attr_find(const rt_node *n, const char *name);
int64_t rt__attr_int(const rt_node *n, const char *name, int64_t def);
float rt__attr_float(const rt_node *n, const char *name, float def);
bool rt__attr_bool(const rt_node *n, const char *name, bool def);
/* Returns the string (NUL-terminated) or def. */
const char *rt__attr_str(const rt_node *n, const char *name, const char *def);
rt_dtype rt__attr_type(const rt_node *n, const char *name, rt_dtype def);
/* Int list: returns count (0 if absent) and sets *vals (owned by graph). */
int rt__attr_ints(const rt_node *n, const char *name, const int64_t **vals);

/* Builders for loaders (all memory from g->pool). */
rt_attr *rt__node_add_attr(rt_graph *g, int node, const char *name, rt_attr_kind kind);
rt_status rt__node_set_inputs(rt_graph *g, int node, const rt_ref *refs, int n);

/* dtype from a TF enum string ("DT_FLOAT") or TF.js dtype ("float32"); -1 if unknown. */
int rt__dtype_from_tf(const char *s);
int rt__dtype_from_js(const char *s);
/* float16 weights (quantization "float16") to float32, exactly. */
float rt__half_to_float(uint16_t h);

/* Graph loaders: fill a fresh graph from a parsed model.json. `dir` is the directory the
 * weight shards are relative to. Both set g->inputs/outputs. */
struct json_t;
rt_status rt__load_graph_model(rt_graph *g, struct json_t *root, const char *dir,
                               rt_error *err);
rt_status rt__load_layers_model(rt_graph *g, struct json_t *root, const char *dir,
                                rt_error *err);

/* Weights: reads every shard of `weightsManifest` (several groups and shards concatenated per
 * group), dequantizes (uint8/uint16 with scale/min, float16) and returns one tensor per weight
 * entry, data in g->pool. Used by both loaders. */
typedef struct rt_weight {
  const char *name;
  rt_tensor t;
} rt_weight;
rt_status rt__load_weights(rt_graph *g, struct json_t *manifest, const char *dir,
                           rt_weight **out, int *n_out, rt_error *err);

#endif
