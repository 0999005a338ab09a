/*
 * weights.c — reads the weight shards a model.json's `weightsManifest` names and decodes them
 * into tensors whose data lives in the graph pool (shared, read-only after load).
 *
 * Layout, as TF.js's io_utils decodeWeights reads it: a group's shards are concatenated in
 * order and its weights lie back to back in that byte stream; a weight takes numel bytes times
 * the size of its quantized dtype when it has one, else of its own dtype. Quantized weights
 * come out as float32 (or int32): uint8/uint16 as q*scale+min, computed in double and then
 * stored (rounded like Math.round for int32 targets), float16 as IEEE half floats.
 *
 * Nothing in the manifest is trusted: shapes are checked for negative dimensions and for
 * element counts that overflow, each group's shards must hold exactly the bytes its weights
 * need (a shard that is shorter or longer is an error naming it), shard paths may not leave
 * the model directory, and every read is bounded by the sizes already checked.
 */
#include "ir.h"
#include "ops.h" /* rt__checked_numel */

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weight shards are little-endian; this target needs byte swapping in weights.c"
#endif

typedef enum wt_quant { WT_Q_NONE = 0, WT_Q_UINT8, WT_Q_UINT16, WT_Q_FLOAT16 } wt_quant;

/* One manifest entry, validated, with its place in its group's byte stream. */
typedef struct wt_spec {
  const char *name; /* points into the manifest JSON */
  rt_dtype dtype;
  int rank;
  int64_t dims[RT_MAX_RANK];
  int64_t numel;
  wt_quant quant;
  double scale, min;
  uint64_t offset, nbytes;
} wt_spec;

typedef struct wt_shard {
  char path[PATH_MAX];
  uint64_t size;
} wt_shard;

/* A bounded reader over the concatenation of one group's shards. */
typedef struct wt_stream {
  const wt_shard *shards;
  int n_shards, cur;
  FILE *f;
  uint64_t left; /* bytes not yet read from shards[cur] */
} wt_stream;

/* Returns the string of v when it is a JSON string without embedded NUL bytes. */
static const char *wt_str(const json_t *v) {
  const char *s = json_string_value(v);
  return s && strlen(s) == json_string_length(v) ? s : NULL;
}

static bool wt_path_escapes(const char *p) {
  if (p[0] == '/')
    return true;
  for (const char *c = p; *c;) {
    const char *e = strchr(c, '/');
    size_t len = e ? (size_t)(e - c) : strlen(c);
    if (len == 2 && c[0] == '.' && c[1] == '.')
      return true;
    c += len + (e ? 1 : 0);
  }
  return false;
}

static rt_status wt_parse_spec(const rt_graph *g, json_t *w, int gi, int wi, wt_spec *s,
                               rt_error *err) {
  if (!json_is_object(w))
    return rt__errorf(err, RT_ERR_PARSE, "%s: weightsManifest[%d].weights[%d] is not an object",
                      g->path, gi, wi);
  s->name = wt_str(json_object_get(w, "name"));
  if (!s->name)
    return rt__errorf(err, RT_ERR_PARSE,
                      "%s: weightsManifest[%d].weights[%d]: 'name' is not a string", g->path, gi,
                      wi);
  const char *dt = wt_str(json_object_get(w, "dtype"));
  if (!dt)
    return rt__errorf(err, RT_ERR_PARSE, "%s: weight '%s': 'dtype' is not a string", g->path,
                      s->name);
  if (!strcmp(dt, "float32"))
    s->dtype = RT_DT_F32;
  else if (!strcmp(dt, "int32"))
    s->dtype = RT_DT_I32;
  else if (!strcmp(dt, "bool"))
    s->dtype = RT_DT_BOOL;
  else if (!strcmp(dt, "string") || !strcmp(dt, "complex64"))
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "%s: weight '%s': dtype '%s' is not supported",
                      g->path, s->name, dt);
  else
    return rt__errorf(err, RT_ERR_PARSE, "%s: weight '%s': unknown dtype '%s'", g->path, s->name,
                      dt);

  json_t *shape = json_object_get(w, "shape");
  if (!json_is_array(shape))
    return rt__errorf(err, RT_ERR_PARSE, "%s: weight '%s': 'shape' is not an array", g->path,
                      s->name);
  if (json_array_size(shape) > RT_MAX_RANK)
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "%s: weight '%s': rank %zu exceeds %d", g->path,
                      s->name, json_array_size(shape), RT_MAX_RANK);
  s->rank = (int)json_array_size(shape);
  for (int d = 0; d < s->rank; d++) {
    json_t *v = json_array_get(shape, (size_t)d);
    if (!json_is_integer(v))
      return rt__errorf(err, RT_ERR_PARSE, "%s: weight '%s': shape[%d] is not an integer", g->path,
                        s->name, d);
    s->dims[d] = json_integer_value(v);
    if (s->dims[d] < 0)
      return rt__errorf(err, RT_ERR_PARSE, "%s: weight '%s': negative dimension %lld in shape",
                        g->path, s->name, (long long)s->dims[d]);
  }
  if (!rt__checked_numel(s->dims, s->rank, &s->numel))
    return rt__errorf(err, RT_ERR_PARSE, "%s: weight '%s': element count overflows", g->path,
                      s->name);

  uint64_t per = rt_dtype_size(s->dtype);
  json_t *q = json_object_get(w, "quantization");
  if (q) {
    if (!json_is_object(q))
      return rt__errorf(err, RT_ERR_PARSE, "%s: weight '%s': 'quantization' is not an object",
                        g->path, s->name);
    const char *qd = wt_str(json_object_get(q, "dtype"));
    if (!qd)
      return rt__errorf(err, RT_ERR_PARSE, "%s: weight '%s': quantization 'dtype' is not a string",
                        g->path, s->name);
    if (!strcmp(qd, "uint8") || !strcmp(qd, "uint16")) {
      s->quant = qd[4] == '8' ? WT_Q_UINT8 : WT_Q_UINT16;
      per = s->quant == WT_Q_UINT8 ? 1 : 2;
      json_t *scale = json_object_get(q, "scale"), *min = json_object_get(q, "min");
      if (!json_is_number(scale) || !json_is_number(min))
        return rt__errorf(err, RT_ERR_PARSE,
                          "%s: weight '%s': %s quantization needs numbers 'scale' and 'min'",
                          g->path, s->name, qd);
      s->scale = json_number_value(scale);
      s->min = json_number_value(min);
      if (s->dtype == RT_DT_BOOL)
        return rt__errorf(err, RT_ERR_UNSUPPORTED,
                          "%s: weight '%s': a bool weight cannot be %s-quantized", g->path, s->name,
                          qd);
    } else if (!strcmp(qd, "float16")) {
      s->quant = WT_Q_FLOAT16;
      per = 2;
      if (s->dtype != RT_DT_F32)
        return rt__errorf(err, RT_ERR_PARSE,
                          "%s: weight '%s': float16 quantization needs dtype float32, not %s",
                          g->path, s->name, dt);
    } else {
      return rt__errorf(err, RT_ERR_PARSE,
                        "%s: weight '%s': unknown quantization dtype '%s' (uint8, uint16 or "
                        "float16)",
                        g->path, s->name, qd);
    }
  }
  s->nbytes = (uint64_t)s->numel * per;
  return RT_OK;
}

/* Exact IEEE binary16 -> binary32, the same bits TF.js's table decoder produces. */

/* q*scale+min in double as JavaScript evaluates it; the volatile keeps the compiler from
 * fusing it into an FMA, which would round differently from TF.js. */
static double wt_affine(double q, double scale, double min) {
  volatile double p = q * scale;
  return p + min;
}

/* Math.round, then the ToInt32 wrap an Int32Array store applies. */
static int32_t wt_js_round_int32(double x) {
  if (!isfinite(x))
    return 0;
  double r = floor(x);
  if (x - r >= 0.5)
    r += 1.0;
  double m = fmod(r, 4294967296.0);
  if (m < 0)
    m += 4294967296.0;
  if (m >= 2147483648.0)
    m -= 4294967296.0;
  return (int32_t)m;
}

static rt_status wt_read(wt_stream *st, void *dst, size_t n, const char *wname, rt_error *err) {
  unsigned char *out = dst;
  while (n) {
    while (!st->f || !st->left) {
      if (st->f) {
        fclose(st->f);
        st->f = NULL;
      }
      if (++st->cur >= st->n_shards)
        return rt__errorf(err, RT_ERR_IO, "%s: truncated while reading weight '%s'",
                          st->shards[st->n_shards - 1].path, wname);
      st->left = st->shards[st->cur].size;
      if (!st->left)
        continue;
      st->f = fopen(st->shards[st->cur].path, "rb");
      if (!st->f)
        return rt__errorf(err, RT_ERR_IO, "%s: cannot read shard for weight '%s': %s",
                          st->shards[st->cur].path, wname, strerror(errno));
    }
    size_t want = n < st->left ? n : (size_t)st->left;
    size_t got = fread(out, 1, want, st->f);
    if (got != want)
      return rt__errorf(err, RT_ERR_IO,
                        "%s: shard ended early (changed while loading?) reading weight '%s'",
                        st->shards[st->cur].path, wname);
    out += got;
    n -= got;
    st->left -= got;
  }
  return RT_OK;
}

static rt_status wt_decode(rt_graph *g, wt_stream *st, const wt_spec *s, rt_weight *w,
                           rt_error *err) {
  w->name = rt__pool_strdup(g->pool, s->name);
  w->t.dtype = s->dtype;
  w->t.rank = s->rank;
  memcpy(w->t.dims, s->dims, sizeof s->dims);
  size_t out_bytes = (size_t)s->numel * rt_dtype_size(s->dtype);
  w->t.data = rt__pool_alloc(g->pool, out_bytes ? out_bytes : 1);
  if (!w->name || !w->t.data)
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory loading weight '%s'", g->path, s->name);
  if (s->quant == WT_Q_NONE)
    return wt_read(st, w->t.data, out_bytes, s->name, err);

  /* Quantized: decode through a small buffer, a whole number of elements at a time. */
  uint8_t buf[16384];
  size_t qsize = s->quant == WT_Q_UINT8 ? 1 : 2;
  int64_t done = 0;
  while (done < s->numel) {
    size_t cnt = sizeof buf / qsize;
    if ((int64_t)cnt > s->numel - done)
      cnt = (size_t)(s->numel - done);
    rt_status rs = wt_read(st, buf, cnt * qsize, s->name, err);
    if (rs != RT_OK)
      return rs;
    for (size_t i = 0; i < cnt; i++) {
      uint16_t q = qsize == 1 ? buf[i] : (uint16_t)(buf[2 * i] | (buf[2 * i + 1] << 8));
      if (s->quant == WT_Q_FLOAT16)
        ((float *)w->t.data)[done + (int64_t)i] = rt__half_to_float(q);
      else if (s->dtype == RT_DT_F32)
        ((float *)w->t.data)[done + (int64_t)i] = (float)wt_affine(q, s->scale, s->min);
      else
        ((int32_t *)w->t.data)[done + (int64_t)i] =
            wt_js_round_int32(wt_affine(q, s->scale, s->min));
    }
    done += (int64_t)cnt;
  }
  return RT_OK;
}

/* Validates one group's paths and sizes against its specs, then decodes its weights. */
static rt_status wt_load_group(rt_graph *g, json_t *grp, int gi, const char *dir,
                               const wt_spec *specs, int n_specs, rt_weight *out, rt_error *err) {
  json_t *paths = json_object_get(grp, "paths");
  if (!json_is_array(paths))
    return rt__errorf(err, RT_ERR_PARSE, "%s: weightsManifest[%d]: 'paths' is not an array",
                      g->path, gi);
  int n_sh = (int)json_array_size(paths);
  const char *first_w = n_specs ? specs[0].name : "(none)";
  uint64_t need = n_specs ? specs[n_specs - 1].offset + specs[n_specs - 1].nbytes : 0;
  wt_shard *sh = calloc((size_t)(n_sh ? n_sh : 1), sizeof *sh);
  wt_stream st = {.shards = sh, .n_shards = n_sh, .cur = -1};
  rt_status rs = RT_OK;
  if (!sh)
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory", g->path);

  uint64_t total = 0;
  for (int i = 0; i < n_sh; i++) {
    const char *p = wt_str(json_array_get(paths, (size_t)i));
    if (!p || !*p) {
      rs = rt__errorf(err, RT_ERR_PARSE,
                      "%s: weightsManifest[%d].paths[%d] is not a non-empty string (weights "
                      "from '%s')",
                      g->path, gi, i, first_w);
      goto done;
    }
    if (wt_path_escapes(p)) {
      rs = rt__errorf(err, RT_ERR_PARSE,
                      "%s: weightsManifest[%d].paths[%d] '%s' leaves the model directory "
                      "(weights from '%s')",
                      g->path, gi, i, p, first_w);
      goto done;
    }
    if (snprintf(sh[i].path, sizeof sh[i].path, "%s/%s", dir && *dir ? dir : ".", p) >=
        (int)sizeof sh[i].path) {
      rs = rt__errorf(err, RT_ERR_INVALID_ARG, "%s: shard path '%s' is too long", g->path, p);
      goto done;
    }
    FILE *f = fopen(sh[i].path, "rb");
    struct stat sb;
    const char *why = NULL;
    if (!f)
      why = strerror(errno);
    else if (fstat(fileno(f), &sb) != 0)
      why = strerror(errno);
    else if (!S_ISREG(sb.st_mode))
      why = S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file";
    if (why) {
      if (f)
        fclose(f);
      rs = rt__errorf(err, RT_ERR_IO,
                      "%s: cannot read weight shard (group %d, weights from '%s'): %s", sh[i].path,
                      gi, first_w, why);
      goto done;
    }
    fclose(f);
    sh[i].size = (uint64_t)sb.st_size;
    total += sh[i].size;
  }
  if (total < need) {
    int k = 0;
    while (k < n_specs - 1 && specs[k].offset + specs[k].nbytes <= total)
      k++;
    rs = rt__errorf(
        err, RT_ERR_IO,
        "%s: truncated: weight '%s' needs bytes %llu..%llu of group %d, but its "
        "shards hold %llu bytes",
        n_sh ? sh[n_sh - 1].path : g->path, specs[k].name, (unsigned long long)specs[k].offset,
        (unsigned long long)(specs[k].offset + specs[k].nbytes), gi, (unsigned long long)total);
    goto done;
  }
  if (total > need) {
    rs = rt__errorf(err, RT_ERR_IO,
                    "%s: %llu bytes longer than the weights of group %d need (last weight "
                    "'%s' ends at byte %llu)",
                    sh[n_sh - 1].path, (unsigned long long)(total - need), gi,
                    n_specs ? specs[n_specs - 1].name : "(none)", (unsigned long long)need);
    goto done;
  }
  for (int i = 0; i < n_specs && rs == RT_OK; i++)
    rs = wt_decode(g, &st, &specs[i], &out[i], err);
done:
  if (st.f)
    fclose(st.f);
  free(sh);
  return rs;
}

rt_status rt__load_weights(rt_graph *g, json_t *manifest, const char *dir, rt_weight **out,
                           int *n_out, rt_error *err) {
  *out = NULL;
  *n_out = 0;
  if (!manifest || json_is_null(manifest))
    return RT_OK;
  if (!json_is_array(manifest))
    return rt__errorf(err, RT_ERR_PARSE, "%s: 'weightsManifest' is not an array", g->path);

  size_t total = 0;
  for (size_t gi = 0; gi < json_array_size(manifest); gi++) {
    json_t *grp = json_array_get(manifest, gi);
    json_t *ws = json_object_get(grp, "weights");
    if (!json_is_object(grp) || !json_is_array(ws))
      return rt__errorf(err, RT_ERR_PARSE,
                        "%s: weightsManifest[%zu] is not an object with a 'weights' array", g->path,
                        gi);
    total += json_array_size(ws);
  }
  if (total > INT_MAX / 2)
    return rt__errorf(err, RT_ERR_PARSE, "%s: too many weights", g->path);
  rt_weight *res = rt__pool_alloc(g->pool, (total ? total : 1) * sizeof *res);
  wt_spec *specs = calloc(total ? total : 1, sizeof *specs);
  rt_status rs = RT_OK;
  if (!res || !specs) {
    free(specs);
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory", g->path);
  }

  int base = 0;
  for (size_t gi = 0; gi < json_array_size(manifest) && rs == RT_OK; gi++) {
    json_t *grp = json_array_get(manifest, gi);
    json_t *ws = json_object_get(grp, "weights");
    int n = (int)json_array_size(ws);
    uint64_t off = 0;
    for (int wi = 0; wi < n && rs == RT_OK; wi++) {
      wt_spec *s = &specs[base + wi];
      rs = wt_parse_spec(g, json_array_get(ws, (size_t)wi), (int)gi, wi, s, err);
      s->offset = off;
      off += s->nbytes;
    }
    if (rs == RT_OK)
      rs = wt_load_group(g, grp, (int)gi, dir, &specs[base], n, &res[base], err);
    base += n;
  }
  free(specs);
  if (rs != RT_OK)
    return rs;
  /* Counted here, before any loader folds weights together (BatchNorm), so the count is
   * the model's as TF.js's countParams() gives it. */
  for (size_t i = 0; i < total; i++)
    if (res[i].t.dtype == RT_DT_F32)
      g->n_params += rt_tensor_numel(&res[i].t);
  *out = res;
  *n_out = (int)total;
  return RT_OK;
}
