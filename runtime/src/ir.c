/*
 * ir.c — graph construction: the pool that owns a graph's memory, nodes, attributes, and the
 * small lookups loaders and ops share. Nothing here runs or checks a graph (compile.c does).
 */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pool ---- */
typedef struct rt_pool_block {
  struct rt_pool_block *next;
  size_t size, used;
  _Alignas(64) unsigned char data[];
} rt_pool_block;

struct rt_pool {
  rt_pool_block *head;
  size_t total;
};

rt_pool *rt__pool_create(void) { return calloc(1, sizeof(rt_pool)); }

void rt__pool_destroy(rt_pool *p) {
  if (!p)
    return;
  for (rt_pool_block *b = p->head, *n; b; b = n) {
    n = b->next;
    free(b);
  }
  free(p);
}

void *rt__pool_alloc(rt_pool *p, size_t n) {
  size_t need = (n + 63) & ~(size_t)63;
  if (need < n)
    return NULL;
  rt_pool_block *b = p->head;
  if (!b || b->size - b->used < need) {
    /* Large requests (weights) get a block of their own so small ones keep packing. */
    size_t size = need > (1u << 20) ? need : (1u << 20);
    b = aligned_alloc(64, (sizeof(rt_pool_block) + size + 63) & ~(size_t)63);
    if (!b)
      return NULL;
    b->size = size;
    b->used = 0;
    if (need > (1u << 20) && p->head) { /* keep the current small block at the head */
      b->next = p->head->next;
      p->head->next = b;
    } else {
      b->next = p->head;
      p->head = b;
    }
    p->total += size;
  }
  void *r = b->data + b->used;
  b->used += need;
  memset(r, 0, n);
  return r;
}

char *rt__pool_strndup(rt_pool *p, const char *s, size_t n) {
  char *r = rt__pool_alloc(p, n + 1);
  if (r) {
    memcpy(r, s, n);
    r[n] = 0;
  }
  return r;
}

char *rt__pool_strdup(rt_pool *p, const char *s) { return rt__pool_strndup(p, s, strlen(s)); }

size_t rt__pool_bytes(const rt_pool *p) { return p->total; }

/* ---- status / errors ---- */
const char *rt_status_str(rt_status s) {
  static const char *const names[] = {
#define RT_X_STR(name, text) text,
      RT_STATUS_LIST(RT_X_STR)
#undef RT_X_STR
  };
  return (unsigned)s < RT_STATUS_COUNT ? names[s] : "unknown status";
}

rt_status rt__errorf(rt_error *e, rt_status code, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
  }
  return code;
}

/* ---- dtypes and tensors ---- */
const char *rt_dtype_name(rt_dtype t) {
  switch (t) {
  case RT_DT_F32: return "float32";
  case RT_DT_I32: return "int32";
  case RT_DT_BOOL: return "bool";
  case RT_DT_STRING: return "string";
  default: return "unknown";
  }
}

size_t rt_dtype_size(rt_dtype t) {
  switch (t) {
  case RT_DT_F32:
  case RT_DT_I32: return 4;
  case RT_DT_BOOL: return 1;
  default: return 0;
  }
}

int64_t rt_tensor_numel(const rt_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++)
    n *= t->dims[i];
  return n;
}

size_t rt_tensor_nbytes(const rt_tensor *t) {
  return (size_t)rt_tensor_numel(t) * rt_dtype_size(t->dtype);
}

int rt__dtype_from_tf(const char *s) {
  if (!s)
    return -1;
  if (!strcmp(s, "DT_FLOAT") || !strcmp(s, "DT_HALF") || !strcmp(s, "DT_DOUBLE"))
    return RT_DT_F32;
  if (!strcmp(s, "DT_INT32") || !strcmp(s, "DT_INT64") || !strcmp(s, "DT_INT16") ||
      !strcmp(s, "DT_INT8") || !strcmp(s, "DT_UINT8") || !strcmp(s, "DT_UINT16"))
    return RT_DT_I32; /* TF.js computes every integer type as int32 */
  if (!strcmp(s, "DT_BOOL"))
    return RT_DT_BOOL;
  if (!strcmp(s, "DT_STRING"))
    return RT_DT_STRING;
  return -1;
}

int rt__dtype_from_js(const char *s) {
  if (!s)
    return -1;
  if (!strcmp(s, "float32"))
    return RT_DT_F32;
  if (!strcmp(s, "int32"))
    return RT_DT_I32;
  if (!strcmp(s, "bool"))
    return RT_DT_BOOL;
  if (!strcmp(s, "string"))
    return RT_DT_STRING;
  return -1;
}

/* IEEE 754 binary16 -> binary32, exactly (every half is a float). */
float rt__half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0 && man == 0) {
    bits = sign;
  } else if (exp == 0) { /* subnormal half: normalize into a float32 normal */
    uint32_t e = 113;
    while (!(man & 0x400u)) {
      man <<= 1;
      e--;
    }
    bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* ---- graph ---- */
rt_graph *rt__graph_create(const char *format, const char *path) {
  rt_graph *g = calloc(1, sizeof *g);
  if (!g)
    return NULL;
  g->pool = rt__pool_create();
  if (!g->pool) {
    free(g);
    return NULL;
  }
  if (pthread_mutex_init(&g->lazy_mu, NULL) != 0) {
    rt__pool_destroy(g->pool);
    free(g);
    return NULL;
  }
  g->format = rt__pool_strdup(g->pool, format ? format : "graph-model");
  g->path = rt__pool_strdup(g->pool, path ? path : "");
  return g;
}

void rt__graph_destroy(rt_graph *g) {
  if (!g)
    return;
  free(g->nodes);
  rt__pool_destroy(g->pool);
  pthread_mutex_destroy(&g->lazy_mu);
  free(g);
}

int rt__graph_add_node(rt_graph *g, const char *name, const char *op_name) {
  if (g->n_nodes == g->cap_nodes) {
    int cap = g->cap_nodes ? g->cap_nodes * 2 : 256;
    rt_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
    if (!nn)
      return -1;
    g->nodes = nn;
    g->cap_nodes = cap;
  }
  rt_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->name = rt__pool_strdup(g->pool, name ? name : "");
  n->op_name = rt__pool_strdup(g->pool, op_name ? op_name : "");
  if (!n->name || !n->op_name)
    return -1;
  return g->n_nodes++;
}

int rt__graph_find(const rt_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i].name, name))
      return i;
  return -1;
}

rt_attr *rt__node_add_attr(rt_graph *g, int node, const char *name, rt_attr_kind kind) {
  rt_node *n = &g->nodes[node];
  rt_attr *na = rt__pool_alloc(g->pool, (size_t)(n->n_attrs + 1) * sizeof *na);
  if (!na)
    return NULL;
  if (n->n_attrs)
    memcpy(na, n->attrs, (size_t)n->n_attrs * sizeof *na);
  n->attrs = na;
  rt_attr *a = &na[n->n_attrs++];
  a->name = rt__pool_strdup(g->pool, name);
  a->kind = kind;
  return a->name ? a : NULL;
}

rt_status rt__node_set_inputs(rt_graph *g, int node, const rt_ref *refs, int n) {
  rt_ref *r = rt__pool_alloc(g->pool, (size_t)(n ? n : 1) * sizeof *r);
  if (!r)
    return RT_ERR_NOMEM;
  if (n)
    memcpy(r, refs, (size_t)n * sizeof *r);
  g->nodes[node].inputs = r;
  g->nodes[node].n_inputs = n;
  return RT_OK;
}

/* ---- attribute lookups ---- */
const rt_attr *rt__attr_find(const rt_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (!strcmp(n->attrs[i].name, name))
      return &n->attrs[i];
  return NULL;
}

int64_t rt__attr_int(const rt_node *n, const char *name, int64_t def) {
  const rt_attr *a = rt__attr_find(n, name);
  if (!a)
    return def;
  if (a->kind == RT_ATTR_INT)
    return a->i;
  if (a->kind == RT_ATTR_FLOAT)
    return (int64_t)a->f;
  if (a->kind == RT_ATTR_BOOL)
    return a->b;
  return def;
}

float rt__attr_float(const rt_node *n, const char *name, float def) {
  const rt_attr *a = rt__attr_find(n, name);
  if (!a)
    return def;
  if (a->kind == RT_ATTR_FLOAT)
    return a->f;
  if (a->kind == RT_ATTR_INT)
    return (float)a->i;
  return def;
}

bool rt__attr_bool(const rt_node *n, const char *name, bool def) {
  const rt_attr *a = rt__attr_find(n, name);
  if (!a)
    return def;
  if (a->kind == RT_ATTR_BOOL)
    return a->b;
  if (a->kind == RT_ATTR_INT)
    return a->i != 0;
  return def;
}

const char *rt__attr_str(const rt_node *n, const char *name, const char *def) {
  const rt_attr *a = rt__attr_find(n, name);
  return a && (a->kind == RT_ATTR_STRING || a->kind == RT_ATTR_FUNC) && a->s ? a->s : def;
}

rt_dtype rt__attr_type(const rt_node *n, const char *name, rt_dtype def) {
  const rt_attr *a = rt__attr_find(n, name);
  return a && a->kind == RT_ATTR_TYPE ? a->type : def;
}

int rt__attr_ints(const rt_node *n, const char *name, const int64_t **vals) {
  const rt_attr *a = rt__attr_find(n, name);
  *vals = NULL;
  if (!a || a->kind != RT_ATTR_LIST_INT)
    return 0;
  *vals = a->ints;
  return a->n;
}
