/*
 * load_graph.c — turns a TF.js graph model (model.json, `format: "graph-model"`) into the IR.
 *
 * One rt_node per NodeDef with its name, op and attributes, read as TF.js writes them
 * (int64 as string or number, base64 strings, DT_* types, shapes, tensors, lists, funcs).
 * Inputs are resolved by name once every node exists: "n" is output 0 of n, "n:K" output K,
 * "n:out:K" output K (TF.js ignores the middle part), "^n" a control dependency. Const nodes
 * take their value from the weight of the same name.
 *
 * Library functions are inlined: a call (StatefulPartitionedCall / PartitionedCall with a
 * `f` attribute, or an op named like a library function) becomes an Identity/IdentityN node
 * under the call's own name, so its consumers are untouched, reading the function's return
 * values; the body's nodes are added as "<call>/<node>" with references to arguments replaced
 * by the call's inputs. Consts in a body keep the weight name the converter gave them (the
 * converter already prefixes them with the function name).
 *
 * Model inputs/outputs follow tfjs-converter's operation_mapper: signature keys (in the order
 * a JS object lists them) when the signature has them, else Placeholder nodes in, and nodes
 * nothing consumes out. Only the model's own nodes count here, never inlined bodies.
 *
 * Every JSON value is type-checked before use; bad input is an RT_ERR_* naming the file and
 * the node, never a crash. Temporary strings live in a scratch arena freed on return; all that
 * the graph keeps lives in its pool. Op resolution, cycles, folding and exact output counts
 * are the compiler's business: n_outputs is only set to 1 + the highest index referenced.
 */
#include "ir.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LG_MAX_DEPTH 32        /* nested function calls; deeper is taken as recursion */
#define LG_MAX_NODES (1 << 21) /* inlining must not blow a small file up without bound */
#define LG_MAX_OUTPUT_INDEX 1000000
#define LG_MAX_INLINE_ELEMS (1 << 24) /* elements of a tensor attr materialized from JSON */

/* ---- scratch arena for temporaries ---- */
typedef struct lg_blk {
  struct lg_blk *next;
  size_t used, size;
  _Alignas(16) unsigned char data[];
} lg_blk;

/* ---- string -> int hash map; keys are borrowed and must outlive the map ---- */
typedef struct lg_map {
  const char **keys;
  int *vals;
  size_t cap, n;
} lg_map;

/* A parsed input reference, already in the main graph's namespace. */
typedef struct lg_pin {
  const char *name;
  int index;
  bool ctrl;
} lg_pin;

/* What a node still needs after every node exists. */
typedef struct lg_pending {
  lg_pin *in;
  int n_in;
  const char *wkey;     /* weight name for a Const */
  const char *wkey_alt; /* in a function body, also tried: "<function>/<node>" */
  bool top;             /* a node of the model itself, not of an inlined body */
} lg_pending;

/* One inlined call: how names inside the body map to the main graph. */
typedef struct lg_scope {
  const struct lg_scope *parent;
  const char *prefix; /* "<call name>/" */
  const char *fn_name;
  json_t *call_attrs; /* resolves {"placeholder": "T"} attribute values */
  int n_args;
  const char **arg_names;
  const lg_pin *args;
  int depth;
} lg_scope;

typedef struct lg_ctx {
  rt_graph *g;
  rt_error *err;
  const char *file;
  lg_blk *scratch;
  lg_pending *pend;
  int cap_pend;
  lg_map names;    /* node name -> node index */
  lg_map consumed; /* names the model's own nodes read (data or control) */
  lg_map funcs;    /* library function name -> index in `fns` */
  lg_map interned; /* attribute names and origins, copied once into the pool */
  json_t *fns;
} lg_ctx;

static void *lg_alloc(lg_ctx *c, size_t n) {
  n = (n + 15) & ~(size_t)15;
  lg_blk *b = c->scratch;
  if (!b || b->size - b->used < n) {
    size_t size = n > (1u << 16) ? n : (1u << 16);
    b = malloc(sizeof *b + size);
    if (!b)
      return NULL;
    b->size = size;
    b->used = 0;
    b->next = c->scratch;
    c->scratch = b;
  }
  void *r = b->data + b->used;
  b->used += n;
  return r;
}

static char *lg_strcat(lg_ctx *c, const char *a, size_t alen, const char *b, size_t blen) {
  char *r = lg_alloc(c, alen + blen + 1);
  if (r) {
    memcpy(r, a, alen);
    memcpy(r + alen, b, blen);
    r[alen + blen] = 0;
  }
  return r;
}

static char *lg_join(lg_ctx *c, const char *a, const char *sep, const char *b) {
  size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
  char *r = lg_alloc(c, la + ls + lb + 1);
  if (r) {
    memcpy(r, a, la);
    memcpy(r + la, sep, ls);
    memcpy(r + la + ls, b, lb + 1);
  }
  return r;
}

static uint64_t lg_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* The slot holding key k, or SIZE_MAX. */
static size_t lg_map_find(const lg_map *m, const char *k) {
  if (!m->cap)
    return SIZE_MAX;
  for (size_t i = lg_hash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->keys[i])
      return SIZE_MAX;
    if (!strcmp(m->keys[i], k))
      return i;
  }
}

static int lg_map_get(const lg_map *m, const char *k) {
  size_t i = lg_map_find(m, k);
  return i == SIZE_MAX ? -1 : m->vals[i];
}

/* The stored key equal to k (for interning), or NULL. */
static const char *lg_map_key(const lg_map *m, const char *k) {
  size_t i = lg_map_find(m, k);
  return i == SIZE_MAX ? NULL : m->keys[i];
}

/* Inserts or replaces; false on OOM. */
static bool lg_map_put(lg_map *m, const char *k, int v) {
  if (2 * (m->n + 1) > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    const char **keys = calloc(cap, sizeof *keys);
    int *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
      free(keys);
      free(vals);
      return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->keys[i])
        continue;
      size_t j = lg_hash(m->keys[i]) & (cap - 1);
      while (keys[j])
        j = (j + 1) & (cap - 1);
      keys[j] = m->keys[i];
      vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
  }
  size_t i = lg_hash(k) & (m->cap - 1);
  while (m->keys[i] && strcmp(m->keys[i], k))
    i = (i + 1) & (m->cap - 1);
  if (!m->keys[i])
    m->n++;
  m->keys[i] = k;
  m->vals[i] = v;
  return true;
}

static void lg_map_free(lg_map *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* The string of v when it is a JSON string without embedded NUL bytes, else NULL. */
static const char *lg_str(const json_t *v) {
  const char *s = json_string_value(v);
  return s && strlen(s) == json_string_length(v) ? s : NULL;
}

static rt_status lg_oom(lg_ctx *c) {
  return rt__errorf(c->err, RT_ERR_NOMEM, "%s: out of memory loading the graph", c->file);
}

/* ---- TF dtypes ---- */

/* DataType enum values, for models that write `type` as a number. */
static const struct {
  int num;
  const char *name;
  int bytes; /* element size in tensorContent; 0: not decodable here */
} LG_TF_TYPES[] = {
    {1, "DT_FLOAT", 4},       {2, "DT_DOUBLE", 8},  {3, "DT_INT32", 4},     {4, "DT_UINT8", 1},
    {5, "DT_INT16", 2},       {6, "DT_INT8", 1},    {7, "DT_STRING", 0},    {8, "DT_COMPLEX64", 0},
    {9, "DT_INT64", 8},       {10, "DT_BOOL", 1},   {14, "DT_BFLOAT16", 0}, {17, "DT_UINT16", 2},
    {18, "DT_COMPLEX128", 0}, {19, "DT_HALF", 2},   {20, "DT_RESOURCE", 0}, {21, "DT_VARIANT", 0},
    {22, "DT_UINT32", 0},     {23, "DT_UINT64", 0},
};

/* TF type name of a `type` JSON value (string or enum number), or NULL if malformed. */
static const char *lg_type_name(const json_t *v) {
  if (json_is_string(v))
    return lg_str(v);
  if (json_is_integer(v)) {
    for (size_t i = 0; i < sizeof LG_TF_TYPES / sizeof LG_TF_TYPES[0]; i++)
      if (LG_TF_TYPES[i].num == json_integer_value(v))
        return LG_TF_TYPES[i].name;
    return "DT_INVALID";
  }
  return NULL;
}

static int lg_type_bytes(const char *name) {
  for (size_t i = 0; i < sizeof LG_TF_TYPES / sizeof LG_TF_TYPES[0]; i++)
    if (!strcmp(LG_TF_TYPES[i].name, name))
      return LG_TF_TYPES[i].bytes;
  return 0;
}

/* Types we cannot hold (DT_VARIANT, DT_RESOURCE, ...) map to RT_DT_COUNT; the attribute keeps
 * the TF name in `s` so ops and messages can still see it. */
static rt_dtype lg_rt_type(const char *name) {
  int t = rt__dtype_from_tf(name);
  return t < 0 ? RT_DT_COUNT : (rt_dtype)t;
}

/* ---- scalar parsing ---- */

static bool lg_parse_i64(const json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return true;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
      return false;
    *out = (int64_t)d;
    return true;
  }
  const char *s = lg_str(v);
  if (!s || !*s)
    return false;
  const char *p = s + (*s == '-' || *s == '+');
  if (!*p)
    return false;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9')
      return false;
  errno = 0;
  long long r = strtoll(s, NULL, 10);
  if (errno == ERANGE)
    return false;
  *out = r;
  return true;
}

/* Numbers, and the strings protobuf's JSON uses for special and large values. */
static bool lg_parse_f64(const json_t *v, double *out) {
  if (json_is_number(v)) {
    *out = json_number_value(v);
    return true;
  }
  const char *s = lg_str(v);
  if (!s || !*s)
    return false;
  if (!strcmp(s, "NaN")) {
    *out = NAN;
    return true;
  }
  if (!strcmp(s, "Infinity") || !strcmp(s, "-Infinity")) {
    *out = *s == '-' ? -INFINITY : INFINITY;
    return true;
  }
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return !*end && end != s;
}

/* Decodes standard or URL-safe base64 (padding optional) into a NUL-terminated pool buffer.
 * Returns NULL or why it failed. */
static const char *lg_base64(rt_pool *pool, const char *s, unsigned char **out, size_t *out_len) {
  size_t len = strlen(s);
  while (len && s[len - 1] == '=')
    len--;
  if (len % 4 == 1)
    return "is not base64";
  unsigned char *buf = rt__pool_alloc(pool, len / 4 * 3 + 3);
  if (!buf)
    return "out of memory";
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    int v;
    if (ch >= 'A' && ch <= 'Z')
      v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z')
      v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9')
      v = ch - '0' + 52;
    else if (ch == '+' || ch == '-')
      v = 62;
    else if (ch == '/' || ch == '_')
      v = 63;
    else
      return "is not base64";
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[o++] = (unsigned char)(acc >> bits);
    }
  }
  buf[o] = 0;
  *out = buf;
  *out_len = o;
  return NULL;
}


/* ---- shapes and tensors ---- */

/* TensorShapeProto as JSON: {"dim": [{"size": "3"}, ...], "unknownRank": true}. Proto3 JSON
 * drops zero values, so a dim without "size" is 0 and a shape without "dim" is a scalar. */
static const char *lg_parse_shape(const json_t *v, rt_shape_attr *sh) {
  if (!json_is_object(v))
    return "shape is not an object";
  json_t *ur = json_object_get(v, "unknownRank");
  if (ur && !json_is_boolean(ur))
    return "shape 'unknownRank' is not a boolean";
  if (json_is_true(ur)) {
    sh->rank = -1;
    return NULL;
  }
  json_t *dims = json_object_get(v, "dim");
  if (dims && !json_is_array(dims))
    return "shape 'dim' is not an array";
  if (json_array_size(dims) > RT_MAX_RANK)
    return "shape rank exceeds 8";
  sh->rank = (int)json_array_size(dims);
  for (int d = 0; d < sh->rank; d++) {
    json_t *dim = json_array_get(dims, (size_t)d);
    if (!json_is_object(dim))
      return "shape dim is not an object";
    json_t *size = json_object_get(dim, "size");
    int64_t n = 0;
    if (size && !lg_parse_i64(size, &n))
      return "shape dim 'size' is not an integer";
    if (n < -1)
      return "shape dim 'size' is below -1";
    sh->dims[d] = n;
  }
  return NULL;
}

/* Stores element i of a *Val array or tensorContent into t (already typed). Float to int
 * saturates (NaN to 0) so no value is undefined behaviour. */
static void lg_store(rt_tensor *t, int64_t i, double f, int64_t iv, bool use_int) {
  if (!use_int && t->dtype == RT_DT_I32)
    iv = f != f ? 0 : f >= 2147483647.0 ? INT32_MAX : f <= -2147483648.0 ? INT32_MIN : (int64_t)f;
  switch (t->dtype) {
  case RT_DT_F32: ((float *)t->data)[i] = use_int ? (float)iv : (float)f; break;
  case RT_DT_I32: ((int32_t *)t->data)[i] = (int32_t)iv; break;
  case RT_DT_BOOL: ((uint8_t *)t->data)[i] = use_int ? iv != 0 : f != 0; break;
  default: break;
  }
}

/* TensorProto as JSON. The converter moves Const values into the weight shards, so usually
 * only dtype and shape are here; values given inline (tensorContent or *Val) are decoded. */
static const char *lg_parse_tensor(lg_ctx *c, const json_t *v, rt_tensor *t) {
  if (!json_is_object(v))
    return "tensor is not an object";
  json_t *dt = json_object_get(v, "dtype");
  const char *tname = dt ? lg_type_name(dt) : "DT_INVALID";
  if (!tname)
    return "tensor 'dtype' is not a type";
  t->dtype = lg_rt_type(tname);
  rt_shape_attr sh = {0};
  json_t *ts = json_object_get(v, "tensorShape");
  if (ts) {
    const char *why = lg_parse_shape(ts, &sh);
    if (why)
      return why;
    if (sh.rank < 0)
      return "tensor shape has unknown rank";
  }
  int64_t numel = 1;
  for (int d = 0; d < sh.rank; d++) {
    if (sh.dims[d] < 0)
      return "tensor shape has an unknown dimension";
    if (sh.dims[d] && numel > INT64_MAX / sh.dims[d])
      return "tensor element count overflows";
    numel *= sh.dims[d];
    t->dims[d] = sh.dims[d];
  }
  t->rank = sh.rank;
  if (t->dtype != RT_DT_F32 && t->dtype != RT_DT_I32 && t->dtype != RT_DT_BOOL)
    return NULL; /* strings and exotic types: shape only */

  static const char *const VALS[] = {"floatVal", "doubleVal", "intVal",
                                     "int64Val", "boolVal",   "halfVal"};
  json_t *content = json_object_get(v, "tensorContent");
  json_t *vals = NULL;
  int which = -1;
  for (int k = 0; k < 6 && !content; k++) {
    json_t *a = json_object_get(v, VALS[k]);
    if (a && !json_is_array(a))
      return "tensor value list is not an array";
    if (json_array_size(a)) {
      vals = a;
      which = k;
      break;
    }
  }
  if (!content && !vals)
    return NULL;
  if (numel > LG_MAX_INLINE_ELEMS)
    return "inline tensor is too large";
  t->data = rt__pool_alloc(c->g->pool, (size_t)(numel ? numel : 1) * rt_dtype_size(t->dtype));
  if (!t->data)
    return "out of memory";

  if (content) {
    const char *s = lg_str(content);
    int eb = lg_type_bytes(tname);
    size_t n = 0;
    unsigned char *b;
    if (!s)
      return "tensor 'tensorContent' is not a string";
    const char *why = lg_base64(c->g->pool, s, &b, &n);
    if (why)
      return strcmp(why, "out of memory") ? "tensor 'tensorContent' is not base64" : why;
    if (!eb || n != (size_t)numel * (size_t)eb)
      return "tensor 'tensorContent' size does not match its dtype and shape";
    for (int64_t i = 0; i < numel; i++) {
      const unsigned char *p = b + i * eb;
      uint64_t u = 0;
      for (int k = 0; k < eb; k++)
        u |= (uint64_t)p[k] << (8 * k);
      if (!strcmp(tname, "DT_FLOAT")) {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        lg_store(t, i, f, 0, false);
      } else if (!strcmp(tname, "DT_DOUBLE")) {
        double d;
        memcpy(&d, &u, 8);
        lg_store(t, i, d, 0, false);
      } else if (!strcmp(tname, "DT_HALF")) {
        lg_store(t, i, rt__half_to_float((uint16_t)u), 0, false);
      } else if (!strcmp(tname, "DT_INT8")) {
        lg_store(t, i, 0, (int8_t)u, true);
      } else if (!strcmp(tname, "DT_INT16")) {
        lg_store(t, i, 0, (int16_t)u, true);
      } else if (!strcmp(tname, "DT_INT32")) {
        lg_store(t, i, 0, (int32_t)u, true);
      } else if (!strcmp(tname, "DT_INT64")) {
        lg_store(t, i, 0, (int64_t)u, true);
      } else {
        lg_store(t, i, 0, (int64_t)u, true); /* unsigned and bool */
      }
    }
    return NULL;
  }
  /* TF repeats the last value when a *Val list is shorter than the tensor. */
  int64_t nv = (int64_t)json_array_size(vals);
  if (nv > numel)
    return "tensor has more values than its shape holds";
  for (int64_t i = 0; i < numel; i++) {
    json_t *e = json_array_get(vals, (size_t)(i < nv ? i : nv - 1));
    if (which == 4) {
      if (!json_is_boolean(e))
        return "tensor 'boolVal' element is not a boolean";
      lg_store(t, i, 0, json_is_true(e), true);
    } else if (which <= 1) {
      double d;
      if (!lg_parse_f64(e, &d))
        return "tensor value is not a number";
      lg_store(t, i, d, 0, false);
    } else {
      int64_t iv;
      if (!lg_parse_i64(e, &iv))
        return "tensor value is not an integer";
      if (which == 5)
        lg_store(t, i, rt__half_to_float((uint16_t)iv), 0, false);
      else
        lg_store(t, i, 0, iv, true);
    }
  }
  return NULL;
}

/* ---- attributes ---- */

/* A pool copy of s shared by every node that uses the same string. */
static const char *lg_intern(lg_ctx *c, const char *s) {
  const char *r = lg_map_key(&c->interned, s);
  if (r)
    return r;
  char *cp = rt__pool_strdup(c->g->pool, s);
  if (!cp || !lg_map_put(&c->interned, cp, 1))
    return NULL;
  return cp;
}

/* Follows {"placeholder": "T"} to the calling node's attribute, through nested calls. */
static json_t *lg_resolve_placeholder(json_t *v, const lg_scope *sc) {
  for (int hops = 0; sc && hops < LG_MAX_DEPTH; hops++) {
    const char *ph = lg_str(json_object_get(v, "placeholder"));
    if (!ph)
      return v;
    v = json_object_get(sc->call_attrs, ph);
    if (!v)
      return NULL;
    sc = sc->parent;
  }
  return json_object_get(v, "placeholder") ? NULL : v;
}

/* Fills one list attribute. Returns NULL or why it is malformed; *skip for list kinds the IR
 * has no slot for (tensors, funcs). */
static const char *lg_parse_list(lg_ctx *c, json_t *list, rt_attr *a, bool *skip) {
  enum { K_S, K_F, K_I, K_B, K_TYPE, K_SHAPE, K_TENSOR, K_FUNC, K_COUNT };
  static const char *const KINDS[K_COUNT] = {"s", "f", "i", "b", "type", "shape", "tensor", "func"};
  if (!json_is_object(list))
    return "list is not an object";
  json_t *arr = NULL;
  int kind = -1;
  for (int k = 0; k < K_COUNT; k++) {
    json_t *x = json_object_get(list, KINDS[k]);
    if (x && !json_is_array(x))
      return "list element array is not an array";
    /* One non-empty kind is the norm; TF.js prefers "f" over "i", so the order does too. */
    if (json_array_size(x) && kind < 0) {
      arr = x;
      kind = k;
    }
  }
  if (kind < 0) {
    a->kind = RT_ATTR_EMPTY_LIST;
    return NULL;
  }
  if (kind >= K_TENSOR) {
    *skip = true;
    return NULL;
  }
  size_t n = json_array_size(arr);
  if (n > INT_MAX / 64)
    return "list is too long";
  rt_pool *pool = c->g->pool;
  a->n = (int)n;
  switch (kind) {
  case K_S:
    a->kind = RT_ATTR_LIST_STRING;
    a->strs = rt__pool_alloc(pool, n * sizeof *a->strs);
    a->str_lens = rt__pool_alloc(pool, n * sizeof *a->str_lens);
    if (!a->strs || !a->str_lens)
      return "out of memory";
    for (size_t i = 0; i < n; i++) {
      const char *s = lg_str(json_array_get(arr, i));
      unsigned char *b;
      if (!s)
        return "list 's' element is not a string";
      const char *why = lg_base64(pool, s, &b, &a->str_lens[i]);
      if (why)
        return strcmp(why, "out of memory") ? "list 's' element is not base64" : why;
      a->strs[i] = (const char *)b;
    }
    return NULL;
  case K_I:
  case K_B:
    a->kind = RT_ATTR_LIST_INT; /* a bool list is kept as 0/1 ints */
    a->ints = rt__pool_alloc(pool, n * sizeof *a->ints);
    if (!a->ints)
      return "out of memory";
    for (size_t i = 0; i < n; i++) {
      json_t *e = json_array_get(arr, i);
      if (kind == K_B) {
        if (!json_is_boolean(e))
          return "list 'b' element is not a boolean";
        a->ints[i] = json_is_true(e);
      } else if (!lg_parse_i64(e, &a->ints[i])) {
        return "list 'i' element is not an integer";
      }
    }
    return NULL;
  case K_F:
    a->kind = RT_ATTR_LIST_FLOAT;
    a->floats = rt__pool_alloc(pool, n * sizeof *a->floats);
    if (!a->floats)
      return "out of memory";
    for (size_t i = 0; i < n; i++) {
      double d;
      if (!lg_parse_f64(json_array_get(arr, i), &d))
        return "list 'f' element is not a number";
      a->floats[i] = (float)d;
    }
    return NULL;
  case K_TYPE:
    a->kind = RT_ATTR_LIST_TYPE;
    a->types = rt__pool_alloc(pool, n * sizeof *a->types);
    a->strs = rt__pool_alloc(pool, n * sizeof *a->strs);
    if (!a->types || !a->strs)
      return "out of memory";
    for (size_t i = 0; i < n; i++) {
      const char *tn = lg_type_name(json_array_get(arr, i));
      if (!tn)
        return "list 'type' element is not a type";
      a->types[i] = lg_rt_type(tn);
      a->strs[i] = rt__pool_strdup(pool, tn);
      if (!a->strs[i])
        return "out of memory";
    }
    return NULL;
  default:
    a->kind = RT_ATTR_LIST_SHAPE;
    a->shapes = rt__pool_alloc(pool, n * sizeof *a->shapes);
    if (!a->shapes)
      return "out of memory";
    for (size_t i = 0; i < n; i++) {
      const char *why = lg_parse_shape(json_array_get(arr, i), &a->shapes[i]);
      if (why)
        return why;
    }
    return NULL;
  }
}

/* Fills a from one AttrValue. Returns NULL or why it is malformed; *skip when the value has
 * no kind the IR holds (an empty AttrValue, an unresolved placeholder). */
static const char *lg_parse_attr(lg_ctx *c, json_t *v, rt_attr *a, bool *skip) {
  rt_pool *pool = c->g->pool;
  json_t *x;
  *skip = false;
  if (!json_is_object(v))
    return "value is not an object";
  if ((x = json_object_get(v, "list"))) {
    return lg_parse_list(c, x, a, skip);
  } else if ((x = json_object_get(v, "s"))) {
    const char *s = lg_str(x);
    unsigned char *b;
    if (!s)
      return "'s' is not a string";
    a->kind = RT_ATTR_STRING;
    const char *why = lg_base64(pool, s, &b, &a->s_len);
    if (why)
      return strcmp(why, "out of memory") ? "'s' is not base64" : why;
    a->s = (const char *)b;
  } else if ((x = json_object_get(v, "i"))) {
    a->kind = RT_ATTR_INT;
    if (!lg_parse_i64(x, &a->i))
      return "'i' is not an integer";
  } else if ((x = json_object_get(v, "f"))) {
    double d;
    a->kind = RT_ATTR_FLOAT;
    if (!lg_parse_f64(x, &d))
      return "'f' is not a number";
    a->f = (float)d;
  } else if ((x = json_object_get(v, "b"))) {
    a->kind = RT_ATTR_BOOL;
    if (!json_is_boolean(x))
      return "'b' is not a boolean";
    a->b = json_is_true(x);
  } else if ((x = json_object_get(v, "type"))) {
    const char *tn = lg_type_name(x);
    a->kind = RT_ATTR_TYPE;
    if (!tn)
      return "'type' is not a type name";
    a->type = lg_rt_type(tn);
    a->s = rt__pool_strdup(pool, tn);
    if (!a->s)
      return "out of memory";
    a->s_len = strlen(tn);
  } else if ((x = json_object_get(v, "shape"))) {
    a->kind = RT_ATTR_SHAPE;
    return lg_parse_shape(x, &a->shape);
  } else if ((x = json_object_get(v, "tensor"))) {
    a->kind = RT_ATTR_TENSOR;
    return lg_parse_tensor(c, x, &a->tensor);
  } else if ((x = json_object_get(v, "func"))) {
    const char *fn = json_is_object(x) ? lg_str(json_object_get(x, "name")) : NULL;
    a->kind = RT_ATTR_FUNC;
    if (!fn)
      return "'func' has no string 'name'";
    a->s = rt__pool_strdup(pool, fn);
    if (!a->s)
      return "out of memory";
    a->s_len = strlen(fn);
  } else {
    *skip = true;
  }
  return NULL;
}

static rt_status lg_parse_attrs(lg_ctx *c, int idx, json_t *attrs, const lg_scope *sc) {
  size_t n = json_object_size(attrs);
  if (!n)
    return RT_OK;
  rt_attr *arr = rt__pool_alloc(c->g->pool, n * sizeof *arr);
  if (!arr)
    return lg_oom(c);
  int k = 0;
  const char *key;
  json_t *val;
  json_object_foreach(attrs, key, val) {
    rt_attr *a = &arr[k];
    json_t *v = sc ? lg_resolve_placeholder(val, sc) : val;
    bool skip = !v;
    const char *why = v ? lg_parse_attr(c, v, a, &skip) : NULL;
    if (why) {
      rt_status code = strcmp(why, "out of memory") ? RT_ERR_PARSE : RT_ERR_NOMEM;
      return rt__errorf(c->err, code, "%s: node '%s': attr '%s': %s", c->file,
                        c->g->nodes[idx].name, key, why);
    }
    if (skip)
      continue;
    if (!(a->name = lg_intern(c, key)))
      return lg_oom(c);
    k++;
  }
  c->g->nodes[idx].attrs = arr;
  c->g->nodes[idx].n_attrs = k;
  return RT_OK;
}

/* ---- input references ---- */

/* Parses "name", "name:K", "name:out:K" or "^name" (as TF.js's parseNodeName does) and maps
 * it into the main graph's namespace. */
static rt_status lg_parse_ref(lg_ctx *c, const char *s, const lg_scope *sc, lg_pin *out,
                              const char *node) {
  bool ctrl = s[0] == '^';
  const char *body = s + ctrl;
  const char *colon = strchr(body, ':');
  size_t base_len = colon ? (size_t)(colon - body) : strlen(body);
  long index = 0;
  if (colon) {
    const char *digits = strrchr(body, ':') + 1;
    char *end;
    if (*digits < '0' || *digits > '9')
      goto bad;
    errno = 0;
    index = strtol(digits, &end, 10);
    if (*end || errno || index > LG_MAX_OUTPUT_INDEX)
      goto bad;
  }
  if (!base_len)
    goto bad;
  if (sc) {
    for (int k = 0; k < sc->n_args; k++) {
      if (strlen(sc->arg_names[k]) == base_len && !memcmp(sc->arg_names[k], body, base_len)) {
        if (index)
          return rt__errorf(c->err, RT_ERR_PARSE,
                            "%s: node '%s': input '%s' reads output %ld of argument '%s' of "
                            "function '%s'",
                            c->file, node, s, index, sc->arg_names[k], sc->fn_name);
        *out = sc->args[k];
        out->ctrl = out->ctrl || ctrl;
        return RT_OK;
      }
    }
    out->name = lg_strcat(c, sc->prefix, strlen(sc->prefix), body, base_len);
  } else {
    out->name = lg_strcat(c, body, base_len, "", 0);
  }
  if (!out->name)
    return lg_oom(c);
  out->index = (int)index;
  out->ctrl = ctrl;
  return RT_OK;
bad:
  return rt__errorf(c->err, RT_ERR_PARSE, "%s: node '%s': malformed input reference '%s'", c->file,
                    node, s);
}

/* ---- nodes ---- */

static rt_status lg_add_node(lg_ctx *c, const char *name, const char *op, bool top,
                             const char *origin, int *idx_out) {
  if (c->g->n_nodes >= LG_MAX_NODES)
    return rt__errorf(c->err, RT_ERR_UNSUPPORTED,
                      "%s: node '%s': the graph (after inlining functions) exceeds %d nodes",
                      c->file, name, LG_MAX_NODES);
  if (lg_map_get(&c->names, name) >= 0)
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: duplicate node name '%s'", c->file, name);
  int idx = rt__graph_add_node(c->g, name, op);
  if (idx < 0)
    return lg_oom(c);
  if (idx >= c->cap_pend) {
    int cap = c->cap_pend ? c->cap_pend * 2 : 256;
    lg_pending *p = realloc(c->pend, (size_t)cap * sizeof *p);
    if (!p)
      return lg_oom(c);
    c->pend = p;
    c->cap_pend = cap;
  }
  memset(&c->pend[idx], 0, sizeof c->pend[idx]);
  c->pend[idx].top = top;
  rt_node *n = &c->g->nodes[idx];
  n->n_outputs = 1;
  n->origin = origin;
  if (!lg_map_put(&c->names, n->name, idx))
    return lg_oom(c);
  *idx_out = idx;
  return RT_OK;
}

static rt_status lg_add_nodedef(lg_ctx *c, json_t *nd, const lg_scope *sc, const char *where,
                                int pos);

/* Index in the library of the function this node calls, or -1 (not a call). */
static int lg_callee(lg_ctx *c, const char *op, json_t *attrs, const char **fname) {
  *fname = NULL;
  if (!c->funcs.n)
    return -1;
  if (!strcmp(op, "StatefulPartitionedCall") || !strcmp(op, "PartitionedCall")) {
    json_t *f = json_object_get(json_object_get(attrs, "f"), "func");
    *fname = lg_str(json_object_get(f, "name"));
    return *fname ? lg_map_get(&c->funcs, *fname) : -1;
  }
  int k = lg_map_get(&c->funcs, op);
  if (k >= 0)
    *fname = op;
  return k;
}

static rt_status lg_inline(lg_ctx *c, int fi, const char *call, json_t *attrs, const lg_pin *pins,
                           int n_pins, const lg_scope *sc, bool top, const char *origin) {
  json_t *fn = json_array_get(c->fns, (size_t)fi);
  json_t *sig = json_object_get(fn, "signature");
  const char *fname = lg_str(json_object_get(sig, "name"));
  json_t *in_args = json_object_get(sig, "inputArg");
  json_t *out_args = json_object_get(sig, "outputArg");
  json_t *body = json_object_get(fn, "nodeDef");
  json_t *ret = json_object_get(fn, "ret");
  int depth = sc ? sc->depth + 1 : 1;
  if ((in_args && !json_is_array(in_args)) || (out_args && !json_is_array(out_args)) ||
      (body && !json_is_array(body)) || (ret && !json_is_object(ret)))
    return rt__errorf(c->err, RT_ERR_PARSE,
                      "%s: library function '%s': malformed signature, nodeDef or ret", c->file,
                      fname);
  if (depth > LG_MAX_DEPTH)
    return rt__errorf(c->err, RT_ERR_PARSE,
                      "%s: node '%s': calls to function '%s' nest deeper than %d (recursion?)",
                      c->file, call, fname, LG_MAX_DEPTH);

  int n_data = 0;
  for (int i = 0; i < n_pins; i++)
    n_data += !pins[i].ctrl;
  int n_args = (int)json_array_size(in_args), n_rets = (int)json_array_size(out_args);
  if (n_data != n_args)
    return rt__errorf(c->err, RT_ERR_PARSE,
                      "%s: node '%s': calls function '%s' with %d inputs, but it takes %d", c->file,
                      call, fname, n_data, n_args);

  /* The call keeps its name and its place in node order. */
  int idx;
  const char *op = n_rets == 1 ? "Identity" : n_rets ? "IdentityN" : "NoOp";
  rt_status st = lg_add_node(c, call, op, top, origin, &idx);
  if (st != RT_OK)
    return st;

  lg_scope inner = {
      .parent = sc, .fn_name = fname, .call_attrs = attrs, .n_args = n_args, .depth = depth};
  const char *call_name = c->g->nodes[idx].name;
  inner.prefix = lg_strcat(c, call_name, strlen(call_name), "/", 1);
  inner.arg_names = lg_alloc(c, (size_t)(n_args + 1) * sizeof *inner.arg_names);
  lg_pin *args = lg_alloc(c, (size_t)(n_args + 1) * sizeof *args);
  if (!inner.prefix || !inner.arg_names || !args)
    return lg_oom(c);
  for (int i = 0, k = 0; i < n_pins; i++)
    if (!pins[i].ctrl)
      args[k++] = pins[i];
  inner.args = args;
  for (int k = 0; k < n_args; k++) {
    json_t *arg = json_array_get(in_args, (size_t)k);
    inner.arg_names[k] = lg_str(json_object_get(arg, "name"));
    if (!inner.arg_names[k])
      return rt__errorf(c->err, RT_ERR_PARSE,
                        "%s: library function '%s': inputArg[%d] has no string 'name'", c->file,
                        fname, k);
  }

  char where[96];
  snprintf(where, sizeof where, "function '%.60s' nodeDef", fname);
  for (size_t i = 0; i < json_array_size(body); i++)
    if ((st = lg_add_nodedef(c, json_array_get(body, i), &inner, where, (int)i)) != RT_OK)
      return st;

  /* The call node reads the function's return values, and keeps the call's control deps. */
  lg_pin *in = lg_alloc(c, (size_t)(n_rets + n_pins - n_data + 1) * sizeof *in);
  if (!in)
    return lg_oom(c);
  for (int k = 0; k < n_rets; k++) {
    const char *rname = lg_str(json_object_get(json_array_get(out_args, (size_t)k), "name"));
    const char *r = rname ? lg_str(json_object_get(ret, rname)) : NULL;
    if (!r)
      return rt__errorf(c->err, RT_ERR_PARSE,
                        "%s: library function '%s': outputArg[%d] has no string entry in 'ret'",
                        c->file, fname, k);
    if ((st = lg_parse_ref(c, r, &inner, &in[k], call_name)) != RT_OK)
      return st;
    if (in[k].ctrl)
      return rt__errorf(c->err, RT_ERR_PARSE,
                        "%s: library function '%s': 'ret' value '%s' is a control reference",
                        c->file, fname, r);
  }
  int n_in = n_rets;
  for (int i = 0; i < n_pins; i++)
    if (pins[i].ctrl)
      in[n_in++] = pins[i];
  c->pend[idx].in = in;
  c->pend[idx].n_in = n_in;
  return RT_OK;
}

static rt_status lg_add_nodedef(lg_ctx *c, json_t *nd, const lg_scope *sc, const char *where,
                                int pos) {
  if (!json_is_object(nd))
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: %s[%d] is not an object", c->file, where, pos);
  const char *raw = lg_str(json_object_get(nd, "name"));
  if (!raw || !*raw || strchr(raw, ':') || raw[0] == '^')
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: %s[%d]: missing or malformed 'name'", c->file,
                      where, pos);
  const char *name = sc ? lg_strcat(c, sc->prefix, strlen(sc->prefix), raw, strlen(raw)) : raw;
  if (!name)
    return lg_oom(c);
  const char *op = lg_str(json_object_get(nd, "op"));
  if (!op || !*op)
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: node '%s': missing or malformed 'op'", c->file,
                      name);
  json_t *inputs = json_object_get(nd, "input");
  if (inputs && !json_is_array(inputs))
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: node '%s': 'input' is not an array", c->file,
                      name);
  json_t *attrs = json_object_get(nd, "attr");
  if (attrs && !json_is_object(attrs))
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: node '%s': 'attr' is not an object", c->file,
                      name);

  int n_in = (int)json_array_size(inputs);
  lg_pin *pins = lg_alloc(c, (size_t)(n_in + 1) * sizeof *pins);
  if (!pins)
    return lg_oom(c);
  for (int i = 0; i < n_in; i++) {
    const char *s = lg_str(json_array_get(inputs, (size_t)i));
    if (!s)
      return rt__errorf(c->err, RT_ERR_PARSE, "%s: node '%s': input %d is not a string", c->file,
                        name, i);
    rt_status st = lg_parse_ref(c, s, sc, &pins[i], name);
    if (st != RT_OK)
      return st;
    if (!sc && !lg_map_put(&c->consumed, pins[i].name, 1))
      return lg_oom(c);
  }

  const char *origin = sc ? lg_intern(c, sc->fn_name) : c->g->path;
  if (!origin)
    return lg_oom(c);
  const char *fname;
  int fi = lg_callee(c, op, attrs, &fname);
  if (fi >= 0)
    return lg_inline(c, fi, name, attrs, pins, n_in, sc, !sc, origin);
  if (fname && (!strcmp(op, "StatefulPartitionedCall") || !strcmp(op, "PartitionedCall")))
    return rt__errorf(c->err, RT_ERR_PARSE,
                      "%s: node '%s': calls function '%s', which the library does not define",
                      c->file, name, fname);

  int idx;
  rt_status st = lg_add_node(c, name, op, !sc, origin, &idx);
  if (st != RT_OK)
    return st;
  c->pend[idx].in = pins;
  c->pend[idx].n_in = n_in;
  c->pend[idx].wkey = raw;
  if (sc && !(c->pend[idx].wkey_alt = lg_join(c, sc->fn_name, "/", raw)))
    return lg_oom(c);
  return lg_parse_attrs(c, idx, attrs, sc);
}

/* Turns every node's parsed references into refs and control edges. */
static rt_status lg_resolve(lg_ctx *c) {
  rt_graph *g = c->g;
  rt_ref *refs = NULL;
  int cap = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const lg_pending *p = &c->pend[i];
    if (p->n_in > cap) {
      cap = p->n_in * 2;
      rt_ref *r = realloc(refs, (size_t)cap * sizeof *r);
      if (!r) {
        free(refs);
        return lg_oom(c);
      }
      refs = r;
    }
    int n_data = 0, n_ctrl = 0;
    for (int k = 0; k < p->n_in; k++)
      n_ctrl += p->in[k].ctrl;
    int *ctrl = n_ctrl ? rt__pool_alloc(g->pool, (size_t)n_ctrl * sizeof *ctrl) : NULL;
    if (n_ctrl && !ctrl) {
      free(refs);
      return lg_oom(c);
    }
    n_ctrl = 0;
    for (int k = 0; k < p->n_in; k++) {
      int src = lg_map_get(&c->names, p->in[k].name);
      if (src < 0) {
        free(refs);
        return rt__errorf(c->err, RT_ERR_PARSE, "%s: node '%s': input '%s%s' names no node",
                          c->file, g->nodes[i].name, p->in[k].ctrl ? "^" : "", p->in[k].name);
      }
      if (p->in[k].ctrl) {
        ctrl[n_ctrl++] = src;
        continue;
      }
      refs[n_data++] = (rt_ref){src, p->in[k].index};
      if (g->nodes[src].n_outputs <= p->in[k].index)
        g->nodes[src].n_outputs = p->in[k].index + 1;
    }
    if (rt__node_set_inputs(g, i, refs, n_data) != RT_OK) {
      free(refs);
      return lg_oom(c);
    }
    g->nodes[i].ctrl = ctrl;
    g->nodes[i].n_ctrl = n_ctrl;
  }
  free(refs);
  return RT_OK;
}

static rt_status lg_bind_consts(lg_ctx *c, const rt_weight *w, int n_w) {
  lg_map wmap = {0};
  rt_status st = RT_OK;
  for (int i = 0; i < n_w; i++) /* a repeated name: the last one wins, as in TF.js */
    if (!lg_map_put(&wmap, w[i].name, i)) {
      st = lg_oom(c);
      goto done;
    }
  for (int i = 0; i < c->g->n_nodes; i++) {
    rt_node *n = &c->g->nodes[i];
    if (strcmp(n->op_name, "Const"))
      continue;
    int k = lg_map_get(&wmap, c->pend[i].wkey);
    if (k < 0 && c->pend[i].wkey_alt)
      k = lg_map_get(&wmap, c->pend[i].wkey_alt);
    if (k < 0) {
      st = rt__errorf(c->err, RT_ERR_PARSE,
                      "%s: Const node '%s' has no weight '%s' in weightsManifest", c->file, n->name,
                      c->pend[i].wkey);
      goto done;
    }
    n->value = w[k].t;
  }
done:
  lg_map_free(&wmap);
  return st;
}

/* ---- model inputs and outputs ---- */

/* JS objects list keys that are array indices ("0", "17") first, ascending, then the rest in
 * insertion order; TF.js inherits that order for signature keys and node names. */
static bool lg_js_index(const char *s, uint32_t *v) {
  if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 10)
    return false;
  uint64_t n = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return false;
    n = n * 10 + (uint64_t)(*s - '0');
  }
  if (n >= 4294967295ull)
    return false;
  *v = (uint32_t)n;
  return true;
}

static void lg_js_order(const char **keys, int n, int *order) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    uint32_t v;
    if (!lg_js_index(keys[i], &v))
      continue;
    int j = k++;
    while (j > 0) {
      uint32_t pv;
      lg_js_index(keys[order[j - 1]], &pv);
      if (pv <= v)
        break;
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
  for (int i = 0; i < n; i++) {
    uint32_t v;
    if (!lg_js_index(keys[i], &v))
      order[k++] = i;
  }
}

static rt_status lg_io_from_node(lg_ctx *c, rt_graph_io *io, const char *name, int node, int index,
                                 bool input, json_t *sig_entry) {
  rt_graph *g = c->g;
  rt_node *n = &g->nodes[node];
  io->name = rt__pool_strdup(g->pool, name);
  if (!io->name)
    return lg_oom(c);
  io->ref = (rt_ref){node, index};
  if (n->n_outputs <= index)
    n->n_outputs = index + 1;
  io->dtype = RT_DT_F32;
  io->shape.rank = -1;

  /* Inputs: the Placeholder's dtype, else the signature's. Outputs: the signature's, else an
   * Identity's T (the usual output op); other outputs stay float32 until shape inference. */
  const rt_attr *dt = input                             ? rt__attr_find(n, "dtype")
                      : !strcmp(n->op_name, "Identity") ? rt__attr_find(n, "T")
                                                        : NULL;
  const char *node_t = dt && dt->kind == RT_ATTR_TYPE ? dt->s : NULL;
  const char *sig_t = lg_type_name(json_object_get(sig_entry, "dtype"));
  const char *tname = input ? (node_t ? node_t : sig_t) : (sig_t ? sig_t : node_t);
  if (tname) {
    io->dtype = lg_rt_type(tname);
    if (io->dtype == RT_DT_COUNT || io->dtype == RT_DT_STRING) {
      if (input)
        return rt__errorf(c->err, RT_ERR_UNSUPPORTED,
                          "%s: input '%s' (node '%s') has dtype %s, which Orchard cannot feed",
                          c->file, name, n->name, tname);
      io->dtype = RT_DT_F32;
    }
  }
  const rt_attr *sh = input ? rt__attr_find(n, "shape") : NULL;
  if (sh && sh->kind == RT_ATTR_SHAPE && sh->shape.rank >= 0) {
    io->shape = sh->shape;
  } else if (json_object_get(sig_entry, "tensorShape")) {
    const char *why = lg_parse_shape(json_object_get(sig_entry, "tensorShape"), &io->shape);
    if (why)
      return rt__errorf(c->err, RT_ERR_PARSE, "%s: signature entry '%s': %s", c->file, name, why);
  }
  return RT_OK;
}

/* Inputs or outputs from a signature object; *n stays 0 when it has no entries. */
static rt_status lg_io_from_signature(lg_ctx *c, json_t *entries, bool input, rt_graph_io **out,
                                      int *n_out) {
  const char *what = input ? "inputs" : "outputs";
  *n_out = 0;
  if (!entries || json_is_null(entries))
    return RT_OK;
  if (!json_is_object(entries))
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: signature.%s is not an object", c->file, what);
  int n = (int)json_object_size(entries);
  if (!n)
    return RT_OK;
  const char **keys = lg_alloc(c, (size_t)n * sizeof *keys);
  const char **tensors = lg_alloc(c, (size_t)n * sizeof *tensors);
  int *order = lg_alloc(c, (size_t)n * sizeof *order);
  int *slot_key = lg_alloc(c, (size_t)n * sizeof *slot_key);
  rt_graph_io *io = rt__pool_alloc(c->g->pool, (size_t)n * sizeof *io);
  lg_map by_tensor = {0};
  if (!keys || !tensors || !order || !slot_key || !io)
    return lg_oom(c);
  int k = 0;
  const char *key;
  json_t *val;
  json_object_foreach(entries, key, val) {
    keys[k] = key;
    tensors[k] = lg_str(json_object_get(val, "name"));
    if (!json_is_object(val) || !tensors[k])
      return rt__errorf(c->err, RT_ERR_PARSE,
                        "%s: signature.%s['%s'] is not an object with a string 'name'", c->file,
                        what, key);
    k++;
  }
  lg_js_order(keys, n, order);
  /* TF.js keys its map by tensor name: a tensor listed twice keeps its first place and the
   * last key that names it. */
  int m = 0;
  rt_status st = RT_OK;
  for (int i = 0; i < n; i++) {
    int e = order[i];
    int s = lg_map_get(&by_tensor, tensors[e]);
    if (s >= 0) {
      slot_key[s] = e;
      continue;
    }
    if (!lg_map_put(&by_tensor, tensors[e], m)) {
      lg_map_free(&by_tensor);
      return lg_oom(c);
    }
    slot_key[m++] = e;
  }
  lg_map_free(&by_tensor);
  for (int s = 0; s < m && st == RT_OK; s++) {
    int e = slot_key[s];
    lg_pin pin;
    if ((st = lg_parse_ref(c, tensors[e], NULL, &pin, keys[e])) != RT_OK)
      break;
    int node = lg_map_get(&c->names, pin.name);
    if (node < 0 || pin.ctrl) {
      st = rt__errorf(c->err, RT_ERR_PARSE,
                      "%s: signature %s '%s' names tensor '%s', but there is no node '%s'", c->file,
                      input ? "input" : "output", keys[e], tensors[e], pin.name);
      break;
    }
    st = lg_io_from_node(c, &io[s], keys[e], node, pin.index, input,
                         json_object_get(entries, keys[e]));
  }
  if (st != RT_OK)
    return st;
  *out = io;
  *n_out = m;
  return RT_OK;
}

static rt_status lg_build_io(lg_ctx *c, json_t *root) {
  rt_graph *g = c->g;
  json_t *sig = json_object_get(root, "signature");
  /* TF.js prefers userDefinedMetadata.signature when present (graph_model.js); the converter
   * puts it there for models saved with metadata, and the names users see come from it. */
  json_t *meta = json_object_get(root, "userDefinedMetadata");
  if (meta && !json_is_null(meta) && !json_is_object(meta))
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: 'userDefinedMetadata' is not an object",
                      c->file);
  json_t *meta_sig = json_object_get(meta, "signature");
  if (meta_sig && !json_is_null(meta_sig))
    sig = meta_sig;
  if (sig && !json_is_null(sig) && !json_is_object(sig))
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: 'signature' is not an object", c->file);
  rt_status st =
      lg_io_from_signature(c, json_object_get(sig, "inputs"), true, &g->inputs, &g->n_inputs);
  if (st == RT_OK)
    st =
        lg_io_from_signature(c, json_object_get(sig, "outputs"), false, &g->outputs, &g->n_outputs);
  if (st != RT_OK)
    return st;

  int n_top = 0;
  for (int i = 0; i < g->n_nodes; i++)
    n_top += c->pend[i].top;
  int *tops = lg_alloc(c, (size_t)(n_top + 1) * sizeof *tops);
  const char **names = lg_alloc(c, (size_t)(n_top + 1) * sizeof *names);
  int *order = lg_alloc(c, (size_t)(n_top + 1) * sizeof *order);
  if (!tops || !names || !order)
    return lg_oom(c);
  for (int i = 0, k = 0; i < g->n_nodes; i++)
    if (c->pend[i].top) {
      tops[k] = i;
      names[k++] = g->nodes[i].name;
    }

  if (!g->n_inputs) { /* TF.js: every op starting with "Placeholder", in node order */
    int n = 0;
    for (int k = 0; k < n_top; k++)
      n += !strncmp(g->nodes[tops[k]].op_name, "Placeholder", 11);
    g->inputs = rt__pool_alloc(g->pool, (size_t)(n + 1) * sizeof *g->inputs);
    if (!g->inputs)
      return lg_oom(c);
    for (int k = 0; k < n_top && st == RT_OK; k++)
      if (!strncmp(g->nodes[tops[k]].op_name, "Placeholder", 11))
        st = lg_io_from_node(c, &g->inputs[g->n_inputs++], names[k], tops[k], 0, true, NULL);
  }
  if (!g->n_outputs && st == RT_OK) { /* TF.js: nodes no node reads, in JS key order */
    lg_js_order(names, n_top, order);
    g->outputs = rt__pool_alloc(g->pool, (size_t)(n_top + 1) * sizeof *g->outputs);
    if (!g->outputs)
      return lg_oom(c);
    for (int k = 0; k < n_top && st == RT_OK; k++)
      if (lg_map_get(&c->consumed, names[order[k]]) < 0)
        st = lg_io_from_node(c, &g->outputs[g->n_outputs++], names[order[k]], tops[order[k]], 0,
                             false, NULL);
  }
  return st;
}

/* ---- entry point ---- */

static rt_status lg_index_library(lg_ctx *c, json_t *topo) {
  json_t *lib = json_object_get(topo, "library");
  if (!lib || json_is_null(lib))
    return RT_OK;
  if (!json_is_object(lib))
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: modelTopology.library is not an object", c->file);
  json_t *fns = json_object_get(lib, "function");
  if (!fns || json_is_null(fns))
    return RT_OK;
  if (!json_is_array(fns))
    return rt__errorf(c->err, RT_ERR_PARSE, "%s: modelTopology.library.function is not an array",
                      c->file);
  c->fns = fns;
  for (size_t i = 0; i < json_array_size(fns); i++) {
    json_t *fn = json_array_get(fns, i);
    const char *name = lg_str(json_object_get(json_object_get(fn, "signature"), "name"));
    if (!json_is_object(fn) || !name || !*name)
      return rt__errorf(c->err, RT_ERR_PARSE,
                        "%s: modelTopology.library.function[%zu] has no signature.name", c->file,
                        i);
    if (lg_map_get(&c->funcs, name) >= 0)
      return rt__errorf(c->err, RT_ERR_PARSE, "%s: library function '%s' is defined twice", c->file,
                        name);
    if (!lg_map_put(&c->funcs, name, (int)i))
      return lg_oom(c);
  }
  return RT_OK;
}

rt_status rt__load_graph_model(rt_graph *g, json_t *root, const char *dir, rt_error *err) {
  lg_ctx c = {.g = g, .err = err, .file = g->path && *g->path ? g->path : "model.json"};
  rt_weight *weights = NULL;
  int n_weights = 0;
  rt_status st;
  if (!json_is_object(root))
    return rt__errorf(err, RT_ERR_PARSE, "%s: top level is not a JSON object", c.file);
  json_t *topo = json_object_get(root, "modelTopology");
  if (!json_is_object(topo))
    return rt__errorf(err, RT_ERR_PARSE, "%s: 'modelTopology' is not an object", c.file);
  json_t *nodes = json_object_get(topo, "node");
  if (nodes && !json_is_array(nodes))
    return rt__errorf(err, RT_ERR_PARSE, "%s: modelTopology.node is not an array", c.file);

  if ((st = lg_index_library(&c, topo)) != RT_OK)
    goto done;
  if ((st = rt__load_weights(g, json_object_get(root, "weightsManifest"), dir, &weights, &n_weights,
                             err)) != RT_OK)
    goto done;
  for (size_t i = 0; i < json_array_size(nodes); i++)
    if ((st = lg_add_nodedef(&c, json_array_get(nodes, i), NULL, "modelTopology.node", (int)i)) !=
        RT_OK)
      goto done;
  if ((st = lg_resolve(&c)) != RT_OK || (st = lg_bind_consts(&c, weights, n_weights)) != RT_OK)
    goto done;
  st = lg_build_io(&c, root);
done:
  while (c.scratch) {
    lg_blk *next = c.scratch->next;
    free(c.scratch);
    c.scratch = next;
  }
  free(c.pend);
  lg_map_free(&c.names);
  lg_map_free(&c.consumed);
  lg_map_free(&c.funcs);
  lg_map_free(&c.interned);
  return st;
}
