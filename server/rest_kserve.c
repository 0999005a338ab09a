/*
 * rest_kserve.c — KServe v2 / Open Inference Protocol infer and metadata bodies.
 *
 * A request tensor is {"name", "shape", "datatype", "data"}; data is row-major, flat or
 * nested (nesting is flattened; only the count must match the shape). Datatypes map onto the
 * runtime's three dtypes without loss: FP32 and UINT8 feed float32 inputs, INT32, INT64 (range
 * checked) and UINT8 feed int32 inputs, BOOL and UINT8 (0/1) feed bool inputs; anything else
 * is a wrong-dtype 400. The binary-data extension is not supported. Outputs come back flat
 * with their shape, in the model's order or the order the request's "outputs" asks for.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "rest.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kdt { K_FP32, K_INT32, K_INT64, K_BOOL, K_UINT8, K_COUNT } kdt;
static const char *const KDT_NAMES[K_COUNT] = {"FP32", "INT32", "INT64", "BOOL", "UINT8"};

const char *srv_kserve_datatype(rt_dtype t) {
  switch (t) {
  case RT_DT_F32: return "FP32";
  case RT_DT_I32: return "INT32";
  case RT_DT_BOOL: return "BOOL";
  default: return "BYTES";
  }
}

static bool fits(kdt k, rt_dtype t) {
  switch (t) {
  case RT_DT_F32: return k == K_FP32 || k == K_UINT8;
  case RT_DT_I32: return k == K_INT32 || k == K_INT64 || k == K_UINT8;
  case RT_DT_BOOL: return k == K_BOOL || k == K_UINT8;
  default: return false;
  }
}

typedef struct flat_ctx {
  const srv_jsonin_doc *d;
  kdt k;
  rt_dtype t;
  char *cur, *end;
  int64_t count;
  const char *where, *name;
  char *msg;
  size_t cap;
} flat_ctx;

static int leaf(flat_ctx *c, uint32_t v) {
  const srv_jsonin_doc *d = c->d;
  int64_t at = c->count++;
  if (c->cur == c->end) /* more values than the shape holds; counted, not stored */
    return 200;
  double x = 0;
  bool ok;
  switch (c->k) {
  case K_FP32:
    ok = srv_jsonin_is_number(d, v);
    x = ok ? srv_jsonin_number(d, v) : 0;
    break;
  case K_BOOL:
    ok = srv_jsonin_is_bool(d, v);
    x = srv_jsonin_is(d, v, SRV_JSONIN_TRUE);
    break;
  default: {
    ok = srv_jsonin_is(d, v, SRV_JSONIN_INTEGER);
    int64_t i = ok ? srv_jsonin_int(d, v) : 0;
    int64_t lo = c->k == K_UINT8 ? 0 : c->t == RT_DT_BOOL ? 0 : INT32_MIN;
    int64_t hi = c->k == K_UINT8 ? 255 : c->t == RT_DT_BOOL ? 1 : INT32_MAX;
    if (c->k == K_UINT8 && c->t == RT_DT_BOOL)
      hi = 1;
    if (ok && (i < lo || i > hi)) {
      snprintf(c->msg, c->cap,
               "%s.data[%" PRId64 "]: %" PRId64 " is out of range for %s into input '%s' (%s)",
               c->where, at, i, KDT_NAMES[c->k], c->name, rt_dtype_name(c->t));
      return 400;
    }
    x = (double)i;
  }
  }
  if (!ok) {
    snprintf(c->msg, c->cap, "%s.data[%" PRId64 "]: expected %s for datatype %s (input '%s')",
             c->where, at,
             c->k == K_FP32   ? "a number"
             : c->k == K_BOOL ? "true or false"
                              : "an integer",
             KDT_NAMES[c->k], c->name);
    return 400;
  }
  switch (c->t) {
  case RT_DT_F32: {
    float f = (float)x;
    memcpy(c->cur, &f, 4);
    c->cur += 4;
    break;
  }
  case RT_DT_I32: {
    int32_t i = (int32_t)x;
    memcpy(c->cur, &i, 4);
    c->cur += 4;
    break;
  }
  default: *c->cur++ = (char)(x != 0);
  }
  return 200;
}

static int flatten(flat_ctx *c, uint32_t v, int depth) {
  const srv_jsonin_doc *d = c->d;
  if (!srv_jsonin_is(d, v, SRV_JSONIN_ARRAY))
    return leaf(c, v);
  if (depth >= RT_MAX_RANK) {
    snprintf(c->msg, c->cap, "%s.data: nested deeper than %d levels (input '%s')", c->where,
             RT_MAX_RANK, c->name);
    return 400;
  }
  uint32_t n = srv_jsonin_size(d, v), e = v + 1;
  /* A row of FP32 numbers or in-range integers (the common cases) converts in one call;
   * whatever stops it (a nested list, a bad value, a full tensor) takes the general path
   * below, which counts, checks and names it. */
  uint32_t i = 0;
  size_t room = (size_t)(c->end - c->cur) / 4;
  uint32_t take = n < room ? n : (uint32_t)room;
  if (c->k == K_FP32 && c->t == RT_DT_F32)
    i = srv_jsonin_numbers_f32(d, e, take, true, (float *)c->cur);
  else if ((c->k == K_INT32 || c->k == K_INT64) && c->t == RT_DT_I32)
    i = srv_jsonin_ints_i32(d, e, take, (int32_t *)c->cur);
  c->cur += (size_t)i * 4;
  c->count += i;
  e += i; /* numbers have no subtree */
  for (; i < n; i++, e = srv_jsonin_next(d, e)) {
    int st = flatten(c, e, depth + 1);
    if (st != 200)
      return st;
  }
  return 200;
}

static void input_names(char *out, size_t cap, const rt_io_info *ios, int n) {
  size_t o = 0;
  out[0] = 0;
  for (int i = 0; i < n && o < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "%s'%s'", i ? ", " : "", ios[i].name);
}

/* A BYTES tensor for an image input: shape [N], data N base64 strings of JPEG or PNG. */
static int decode_images(const srv_sig *s, int k, const srv_jsonin_doc *d, uint32_t data,
                         const char *where, srv_infer_req *out, char *msg, size_t cap) {
  rt_tensor *t = &out->in[k];
  const rt_io_info *io = &s->in[k];
  if (t->rank != 1) {
    char sh[160];
    srv_rest_shape_str(sh, sizeof sh, t->dims, t->rank);
    snprintf(msg, cap, "%s.shape: %s; BYTES images for input '%s' take shape [N] (N images)",
             where, sh, io->name);
    return 400;
  }
  int64_t n = t->dims[0];
  if (!srv_jsonin_is(d, data, SRV_JSONIN_ARRAY) || (int64_t)srv_jsonin_size(d, data) != n ||
      n < 1) {
    snprintf(msg, cap, "%s.data: expected a list of %" PRId64 " base64 strings (input '%s')",
             where, n, io->name);
    return 400;
  }
  int st = srv_rest_image_alloc(s, k, n, t, out, where, msg, cap);
  uint32_t v = data + 1;
  for (int64_t i = 0; i < n && st == 200; i++, v = srv_jsonin_next(d, v)) {
    char w[96];
    snprintf(w, sizeof w, "%s.data[%" PRId64 "]", where, i);
    if (!srv_jsonin_is(d, v, SRV_JSONIN_STRING)) {
      snprintf(msg, cap, "%s: expected a base64 string of a JPEG or PNG (input '%s')", w,
               io->name);
      return 400;
    }
    size_t len;
    const char *str = srv_jsonin_str(d, v, &len);
    st = srv_rest_image_b64(s, k, str, len, t, i, out, w, msg, cap);
  }
  if (st == 200)
    st = srv_rest_check_shape(t, io, where, msg, cap);
  return st;
}

static int decode_tensor(const srv_sig *s, const srv_jsonin_doc *d, uint32_t ti, size_t idx,
                         int64_t limit, srv_infer_req *out, char *msg, size_t cap) {
  char where[64], names[512];
  snprintf(where, sizeof where, "inputs[%zu]", idx);
  if (!srv_jsonin_is(d, ti, SRV_JSONIN_OBJECT)) {
    snprintf(msg, cap, "%s: expected an object with name, shape, datatype and data", where);
    return 400;
  }
  uint32_t name = srv_jsonin_get(d, ti, "name"), shape = srv_jsonin_get(d, ti, "shape"),
           dt = srv_jsonin_get(d, ti, "datatype"), data = srv_jsonin_get(d, ti, "data");
  if (!srv_jsonin_is(d, name, SRV_JSONIN_STRING)) {
    snprintf(msg, cap, "%s.name: %s", where, name ? "expected a string" : "missing");
    return 400;
  }
  size_t nlen;
  const char *nstr = srv_jsonin_str(d, name, &nlen);
  int k = srv_sig_findn(s->in, s->n_in, nstr, nlen);
  if (k < 0) {
    input_names(names, sizeof names, s->in, s->n_in);
    snprintf(msg, cap, "%s.name: the model has no input '%.*s' (its inputs: %s)", where, (int)nlen,
             nstr, names);
    return 400;
  }
  const rt_io_info *io = &s->in[k];
  if (out->in[k].data) {
    snprintf(msg, cap, "%s.name: input '%s' given twice", where, io->name);
    return 400;
  }
  if (!srv_jsonin_is(d, shape, SRV_JSONIN_ARRAY) || srv_jsonin_size(d, shape) > RT_MAX_RANK) {
    snprintf(msg, cap, "%s.shape: %s (input '%s')", where,
             !shape ? "missing" : "expected a list of at most 8 non-negative integers", io->name);
    return 400;
  }
  rt_tensor *t = &out->in[k];
  t->dtype = io->dtype;
  t->rank = (int)srv_jsonin_size(d, shape);
  int64_t numel = 1;
  uint32_t dv = shape + 1;
  for (int r = 0; r < t->rank; r++, dv = srv_jsonin_next(d, dv)) {
    if (!srv_jsonin_is(d, dv, SRV_JSONIN_INTEGER) || srv_jsonin_int(d, dv) < 0) {
      snprintf(msg, cap, "%s.shape[%d]: expected a non-negative integer (input '%s')", where, r,
               io->name);
      return 400;
    }
    t->dims[r] = srv_jsonin_int(d, dv);
    if (t->dims[r] != 0 && numel > limit / t->dims[r]) {
      snprintf(msg, cap, "%s.shape: more elements than the request body could hold (input '%s')",
               where, io->name);
      return 400;
    }
    numel *= t->dims[r];
  }
  if (!srv_jsonin_is(d, dt, SRV_JSONIN_STRING)) {
    snprintf(msg, cap, "%s.datatype: %s (input '%s')", where, dt ? "expected a string" : "missing",
             io->name);
    return 400;
  }
  int kd = -1;
  size_t dlen;
  const char *dstr = srv_jsonin_str(d, dt, &dlen);
  if (dlen == 5 && !memcmp(dstr, "BYTES", 5) && srv_rest_image_spec(s, k))
    return decode_images(s, k, d, data, where, out, msg, cap);
  for (int i = 0; i < K_COUNT; i++)
    if (dlen == strlen(KDT_NAMES[i]) && !memcmp(dstr, KDT_NAMES[i], dlen))
      kd = i;
  if (kd < 0) {
    snprintf(msg, cap,
             "%s.datatype: '%.*s' is not supported for input '%s' (FP32, INT32, INT64, "
             "BOOL, UINT8)",
             where, (int)dlen, dstr, io->name);
    return 400;
  }
  if (!fits((kdt)kd, io->dtype)) {
    snprintf(msg, cap, "%s.datatype: %s does not fit input '%s', which is %s (send %s)", where,
             KDT_NAMES[kd], io->name, rt_dtype_name(io->dtype), srv_kserve_datatype(io->dtype));
    return 400;
  }
  uint32_t params = srv_jsonin_get(d, ti, "parameters");
  if (params && srv_jsonin_get(d, params, "binary_data_size")) {
    snprintf(msg, cap,
             "%s.parameters.binary_data_size: the binary data extension is not "
             "supported; send JSON data",
             where);
    return 400;
  }
  if (!srv_jsonin_is(d, data, SRV_JSONIN_ARRAY)) {
    snprintf(msg, cap, "%s.data: %s (input '%s')", where, data ? "expected a list" : "missing",
             io->name);
    return 400;
  }
  size_t esz = rt_dtype_size(io->dtype);
  t->data = malloc((size_t)numel * esz + 1);
  if (!t->data) {
    snprintf(msg, cap, "%s: out of memory", where);
    return 500;
  }
  flat_ctx c = {.d = d,
                .k = (kdt)kd,
                .t = io->dtype,
                .cur = t->data,
                .end = (char *)t->data + (size_t)numel * esz,
                .where = where,
                .name = io->name,
                .msg = msg,
                .cap = cap};
  int st = flatten(&c, data, 0);
  if (st != 200)
    return st;
  if (c.count != numel) {
    char sh[160];
    srv_rest_shape_str(sh, sizeof sh, t->dims, t->rank);
    snprintf(msg, cap, "%s.data: %" PRId64 " values, but shape %s of input '%s' holds %" PRId64,
             where, c.count, sh, io->name, numel);
    return 400;
  }
  return srv_rest_check_shape(t, io, where, msg, cap);
}

int srv_kserve_decode(const srv_sig *s, const char *body, size_t len, srv_infer_req *out, char *msg,
                      size_t cap) {
  memset(out, 0, sizeof *out);
  srv_jsonin_doc doc, *d = &doc;
  char names[512];
  int st = srv_jsonin_parse(d, body, len, msg, cap);
  if (st != 200)
    goto done;
  st = 400;
  const uint32_t root = 1;
  if (!srv_jsonin_is(d, root, SRV_JSONIN_OBJECT)) {
    snprintf(msg, cap, "request body: expected a JSON object");
    goto done;
  }
  uint32_t id = srv_jsonin_get(d, root, "id");
  if (id && !srv_jsonin_is(d, id, SRV_JSONIN_STRING)) {
    snprintf(msg, cap, "id: expected a string");
    goto done;
  }
  uint32_t inputs = srv_jsonin_get(d, root, "inputs");
  if (!srv_jsonin_is(d, inputs, SRV_JSONIN_ARRAY) || srv_jsonin_size(d, inputs) == 0) {
    snprintf(msg, cap, "inputs: %s", inputs ? "expected a non-empty list of tensors" : "missing");
    goto done;
  }
  out->n_in = s->n_in;
  out->in = calloc((size_t)s->n_in + 1, sizeof *out->in);
  if (!out->in || (id && !(out->id = srv_jsonin_strdup(d, id)))) {
    snprintf(msg, cap, "out of memory");
    st = 500;
    goto done;
  }
  uint32_t ti = inputs + 1;
  for (uint32_t i = 0; i < srv_jsonin_size(d, inputs); i++, ti = srv_jsonin_next(d, ti))
    if ((st = decode_tensor(s, d, ti, i, (int64_t)len + 1, out, msg, cap)) != 200)
      goto done;
  st = 400;
  for (int k = 0; k < s->n_in; k++)
    if (!out->in[k].data) {
      input_names(names, sizeof names, s->in, s->n_in);
      snprintf(msg, cap, "inputs: missing input '%s' (the model needs %s)", s->in[k].name, names);
      goto done;
    }
  uint32_t wanted = srv_jsonin_get(d, root, "outputs");
  if (wanted) {
    if (!srv_jsonin_is(d, wanted, SRV_JSONIN_ARRAY)) {
      snprintf(msg, cap, "outputs: expected a list of {\"name\": ...}");
      goto done;
    }
    out->n_outs = (int)srv_jsonin_size(d, wanted);
    out->outs = calloc((size_t)out->n_outs + 1, sizeof *out->outs);
    if (!out->outs) {
      snprintf(msg, cap, "out of memory");
      st = 500;
      goto done;
    }
    uint32_t o = wanted + 1;
    for (int i = 0; i < out->n_outs; i++, o = srv_jsonin_next(d, o)) {
      uint32_t nm = srv_jsonin_get(d, o, "name");
      size_t nlen = 0;
      const char *nstr =
          srv_jsonin_is(d, nm, SRV_JSONIN_STRING) ? srv_jsonin_str(d, nm, &nlen) : NULL;
      int k = nstr ? srv_sig_findn(s->out, s->n_out, nstr, nlen) : -1;
      if (k < 0) {
        input_names(names, sizeof names, s->out, s->n_out);
        if (nstr)
          snprintf(msg, cap,
                   "outputs[%d].name: the model has no output '%.*s' (its outputs: "
                   "%s)",
                   i, (int)nlen, nstr, names);
        else
          snprintf(msg, cap, "outputs[%d].name: expected a string", i);
        goto done;
      }
      out->outs[i] = k;
    }
  }
  st = 200;
done:
  srv_jsonin_free(d);
  if (st != 200)
    srv_infer_req_free(out);
  return st;
}

int srv_kserve_encode(const srv_sig *s, const srv_infer_req *r, const char *model,
                      const char *version, const rt_tensor *outs, srv_buf *b, char *msg,
                      size_t cap) {
  srv_buf_puts(b, "{\"model_name\":");
  srv_buf_json_string(b, model);
  srv_buf_puts(b, ",\"model_version\":");
  srv_buf_json_string(b, version);
  if (r->id) {
    srv_buf_puts(b, ",\"id\":");
    srv_buf_json_string(b, r->id);
  }
  srv_buf_puts(b, ",\"outputs\":[");
  int n = r->n_outs ? r->n_outs : s->n_out;
  for (int i = 0; i < n; i++) {
    int k = r->n_outs ? r->outs[i] : i;
    const rt_tensor *t = &outs[k];
    if (i)
      srv_buf_putc(b, ',');
    srv_buf_puts(b, "{\"name\":");
    srv_buf_json_string(b, s->out[k].name);
    srv_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":[", srv_kserve_datatype(t->dtype));
    for (int d = 0; d < t->rank; d++) {
      if (d)
        srv_buf_putc(b, ',');
      srv_buf_i64(b, t->dims[d]);
    }
    srv_buf_puts(b, "],\"data\":");
    srv_rest_write_flat(b, t);
    srv_buf_putc(b, '}');
  }
  srv_buf_puts(b, "]}");
  if (b->oom) {
    snprintf(msg, cap, "out of memory writing the response");
    return 500;
  }
  return 200;
}

static json_t *io_list(const rt_io_info *ios, int n) {
  json_t *a = json_array();
  for (int i = 0; i < n; i++) {
    json_t *shape = json_array();
    for (int d = 0; d < ios[i].rank; d++)
      json_array_append_new(shape, json_integer(ios[i].dims[d]));
    json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "name", ios[i].name, "datatype",
                                       srv_kserve_datatype(ios[i].dtype), "shape", shape));
  }
  return a;
}

json_t *srv_kserve_metadata(const srv_sig *s, const char *model, const char *platform,
                            json_t *versions) {
  return json_pack("{s:s, s:o, s:s, s:o, s:o}", "name", model, "versions", versions, "platform",
                   platform, "inputs", io_list(s->in, s->n_in), "outputs",
                   io_list(s->out, s->n_out));
}
