/*
 * rest_tfs.c — TensorFlow Serving's REST predict and metadata bodies.
 *
 * Row format: {"instances": [v0, v1, ...]} stacks one value per example along a new batch
 * dimension; with several inputs each instance is an object of named values. The answer is
 * {"predictions": [...]} with one entry per instance (an object of named outputs when the
 * model has several). Columnar: {"inputs": v} or {"inputs": {name: v}} gives whole tensors
 * (batch dimension included) and gets {"outputs": ...} back in the same shape.
 * The one signature is "serving_default"; signature_name may name it or be omitted.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "rest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGNATURE "serving_default"

static void names_list(char *out, size_t cap, const rt_io_info *ios, int n) {
  size_t o = 0;
  out[0] = 0;
  for (int i = 0; i < n && o < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "%s'%s'", i ? ", " : "", ios[i].name);
}

/* Overflow-checked element count; false when the product passes `limit`. */
static bool numel_within(const int64_t *dims, int rank, int64_t mult, int64_t limit, int64_t *out) {
  int64_t n = mult;
  for (int d = 0; d < rank; d++) {
    if (dims[d] != 0 && n > limit / dims[d])
      return false;
    n *= dims[d];
  }
  *out = n;
  return n <= limit;
}

/* The image path of decode_input: n b64 images (row), one, or the elements of list vals[0]. */
static int decode_images(const srv_sig *s, int k, const srv_jsonin_doc *d, const uint32_t *vals,
                         int64_t n, bool stack, bool list, const char *field, srv_infer_req *req,
                         rt_tensor *out, char *msg, size_t cap) {
  char where[320];
  int64_t count = stack ? n : list ? (int64_t)srv_jsonin_size(d, vals[0]) : 1;
  if (!stack)
    snprintf(where, sizeof where, "inputs%s", field);
  int st = srv_rest_image_alloc(s, k, count, out, req, stack ? "instances" : where, msg, cap);
  uint32_t v = list ? vals[0] + 1 : vals[0];
  for (int64_t i = 0; i < count && st == 200; i++) {
    if (stack) {
      v = vals[i];
      snprintf(where, sizeof where, "instances[%" PRId64 "]%s", i, field);
    } else if (list) {
      if (i)
        v = srv_jsonin_next(d, v);
      snprintf(where, sizeof where, "inputs%s[%" PRId64 "]", field, i);
    }
    uint32_t sv = srv_rest_is_b64(d, v) ? srv_jsonin_get(d, v, "b64") : 0;
    if (!srv_jsonin_is(d, sv, SRV_JSONIN_STRING)) {
      snprintf(msg, cap, "%s: expected a {\"b64\": \"<JPEG or PNG>\"} value like the first",
               where);
      return 400;
    }
    size_t len;
    const char *str = srv_jsonin_str(d, sv, &len);
    st = srv_rest_image_b64(s, k, str, len, out, i, req, where, msg, cap);
  }
  return st;
}

/* Decodes one input from n values (the instances' or the one columnar value), stacking
 * along a new batch dimension when `stack`. where_fmt has one %lld (the instance) in the
 * row format. */
static int decode_input(const srv_sig *s, int k, const srv_jsonin_doc *d, const uint32_t *vals,
                        int64_t n, bool stack, const char *field, int64_t limit,
                        srv_infer_req *req, rt_tensor *out, char *msg, size_t cap) {
  const rt_io_info *io = &s->in[k];
  char where[320];
  size_t esz = rt_dtype_size(io->dtype);
  memset(out, 0, sizeof *out);
  out->dtype = io->dtype;
#define WHERE(i)                                                                                   \
  (stack ? (snprintf(where, sizeof where, "instances[%" PRId64 "]%s", (int64_t)(i), field), where) \
         : (snprintf(where, sizeof where, "inputs%s", field), where))
  if (srv_rest_image_spec(s, k)) {
    /* Encoded images: one per instance (row), or a b64 value or a list of them (columnar). */
    bool list = !stack && srv_jsonin_is(d, vals[0], SRV_JSONIN_ARRAY) &&
                srv_jsonin_size(d, vals[0]) > 0;
    uint32_t first = list ? vals[0] + 1 : vals[0];
    if (srv_rest_is_b64_image(d, first))
      return decode_images(s, k, d, vals, n, stack, list, field, req, out, msg, cap);
  }
  if (srv_rest_is_b64(d, vals[0])) {
    rt_tensor parts0;
    int st = srv_rest_b64(d, vals[0], io, stack ? 1 : 0, &parts0, WHERE(0), msg, cap);
    if (st != 200)
      return st;
    if (!stack) {
      *out = parts0;
      return 200;
    }
    size_t each = rt_tensor_nbytes(&parts0);
    out->rank = parts0.rank + 1;
    out->dims[0] = n;
    memcpy(out->dims + 1, parts0.dims, sizeof(int64_t) * (size_t)parts0.rank);
    out->data = malloc(each * (size_t)n + 1);
    if (!out->data) {
      free(parts0.data);
      snprintf(msg, cap, "%s: out of memory", where);
      return 500;
    }
    memcpy(out->data, parts0.data, each);
    free(parts0.data);
    for (int64_t i = 1; i < n; i++) {
      rt_tensor p;
      if (!srv_rest_is_b64(d, vals[i])) {
        snprintf(msg, cap, "%s: expected a {\"b64\": ...} value like instances[0]", WHERE(i));
        return 400;
      }
      if ((st = srv_rest_b64(d, vals[i], io, 1, &p, WHERE(i), msg, cap)) != 200)
        return st;
      if (rt_tensor_nbytes(&p) != each ||
          memcmp(p.dims, parts0.dims, sizeof(int64_t) * (size_t)p.rank) != 0) {
        free(p.data);
        snprintf(msg, cap, "%s: ragged: its b64 value has a different size than instances[0]",
                 where);
        return 400;
      }
      memcpy((char *)out->data + each * (size_t)i, p.data, each);
      free(p.data);
    }
    return 200;
  }
  int64_t dims[RT_MAX_RANK];
  int rank = srv_rest_shape_of(d, vals[0], dims);
  if (rank < 0 || rank + (stack ? 1 : 0) > RT_MAX_RANK) {
    snprintf(msg, cap, "%s: nested deeper than %d dimensions", WHERE(0), RT_MAX_RANK);
    return 400;
  }
  int64_t total;
  if (!numel_within(dims, rank, n, limit, &total)) {
    /* More elements than the body has bytes: some list must be shorter than the first. */
    for (int64_t i = 0; i < n; i++) {
      int st = srv_rest_fill(d, vals[i], dims, rank, io, NULL, WHERE(i), msg, cap);
      if (st != 200)
        return st;
    }
    snprintf(msg, cap, "%s: tensor too large", WHERE(0));
    return 413;
  }
  out->rank = rank + (stack ? 1 : 0);
  if (stack)
    out->dims[0] = n;
  memcpy(out->dims + (stack ? 1 : 0), dims, sizeof(int64_t) * (size_t)rank);
  out->data = malloc((size_t)total * esz + 1);
  if (!out->data) {
    snprintf(msg, cap, "%s: out of memory", WHERE(0));
    return 500;
  }
  size_t each = (size_t)(total / (n ? n : 1)) * esz;
  for (int64_t i = 0; i < n; i++) {
    int st = srv_rest_fill(d, vals[i], dims, rank, io, (char *)out->data + each * (size_t)i,
                           WHERE(i), msg, cap);
    if (st != 200)
      return st;
  }
#undef WHERE
  return 200;
}

/* The members of object `obj` by model input: out[k * stride] = the value token of input k.
 * Every input must be named once, nothing else; messages start with `where`. 200 or 400. */
static int named_values(const srv_sig *s, const srv_jsonin_doc *d, uint32_t obj, uint32_t *out,
                        size_t stride, const char *where, char *msg, size_t cap) {
  uint32_t key = obj + 1;
  for (uint32_t m = 0; m < srv_jsonin_size(d, obj); m++, key = srv_jsonin_next(d, key + 1)) {
    size_t klen;
    const char *kstr = srv_jsonin_str(d, key, &klen);
    int k = srv_sig_findn(s->in, s->n_in, kstr, klen);
    if (k < 0) {
      char names[512];
      names_list(names, sizeof names, s->in, s->n_in);
      snprintf(msg, cap, "%s: unknown input '%.*s' (the model's inputs: %s)", where, (int)klen,
               kstr, names);
      return 400;
    }
    out[(size_t)k * stride] = key + 1;
  }
  for (int k = 0; k < s->n_in; k++)
    if (!out[(size_t)k * stride]) {
      snprintf(msg, cap, "%s: missing input '%s'", where, s->in[k].name);
      return 400;
    }
  return 200;
}

static int decode_row(const srv_sig *s, const srv_jsonin_doc *d, uint32_t inst, int64_t limit,
                      srv_infer_req *out, char *msg, size_t cap) {
  if (!srv_jsonin_is(d, inst, SRV_JSONIN_ARRAY) || srv_jsonin_size(d, inst) == 0) {
    snprintf(msg, cap, "instances: expected a non-empty list of examples");
    return 400;
  }
  int64_t n = (int64_t)srv_jsonin_size(d, inst);
  uint32_t first = inst + 1;
  bool named =
      s->n_in > 1 || (srv_jsonin_is(d, first, SRV_JSONIN_OBJECT) && !srv_rest_is_b64(d, first));
  uint32_t *vals = calloc((size_t)n * (size_t)s->n_in, sizeof *vals);
  if (!vals) {
    snprintf(msg, cap, "instances: out of memory");
    return 500;
  }
  int st = 200;
  char names[512];
  uint32_t v = inst + 1;
  for (int64_t i = 0; i < n && st == 200; i++, v = srv_jsonin_next(d, v)) {
    if (!named) {
      vals[i] = v;
      continue;
    }
    if (!srv_jsonin_is(d, v, SRV_JSONIN_OBJECT) || srv_rest_is_b64(d, v)) {
      names_list(names, sizeof names, s->in, s->n_in);
      snprintf(msg, cap,
               "instances[%" PRId64 "]: expected an object of named inputs (%s), "
               "got %s",
               i, names, srv_jsonin_is(d, v, SRV_JSONIN_OBJECT) ? "a b64 value" : "a non-object");
      st = 400;
      break;
    }
    char where[48];
    snprintf(where, sizeof where, "instances[%" PRId64 "]", i);
    st = named_values(s, d, v, vals + i, (size_t)n, where, msg, cap);
  }
  for (int k = 0; k < s->n_in && st == 200; k++) {
    char field[300] = "";
    if (named)
      snprintf(field, sizeof field, ".%s", s->in[k].name);
    st = decode_input(s, k, d, vals + (size_t)k * (size_t)n, n, true, field, limit, out,
                      &out->in[k], msg, cap);
    if (st == 200) {
      char where[320];
      snprintf(where, sizeof where, "instances%s", field);
      st = srv_rest_check_shape(&out->in[k], &s->in[k], where, msg, cap);
    }
  }
  free(vals);
  out->row = true;
  out->n_instances = n;
  return st;
}

static int decode_columnar(const srv_sig *s, const srv_jsonin_doc *d, uint32_t inputs,
                           int64_t limit, srv_infer_req *out, char *msg, size_t cap) {
  char names[512];
  uint32_t *vals = calloc((size_t)s->n_in + 1, sizeof *vals);
  if (!vals) {
    snprintf(msg, cap, "inputs: out of memory");
    return 500;
  }
  int st = 200;
  bool named = srv_jsonin_is(d, inputs, SRV_JSONIN_OBJECT) && !srv_rest_is_b64(d, inputs);
  if (named) {
    st = named_values(s, d, inputs, vals, 1, "inputs", msg, cap);
  } else if (s->n_in == 1) {
    vals[0] = inputs;
  } else {
    names_list(names, sizeof names, s->in, s->n_in);
    snprintf(msg, cap, "inputs: the model has %d inputs (%s); give an object of named values",
             s->n_in, names);
    st = 400;
  }
  for (int k = 0; k < s->n_in && st == 200; k++) {
    char field[300] = "";
    if (named)
      snprintf(field, sizeof field, ".%s", s->in[k].name);
    st = decode_input(s, k, d, &vals[k], 1, false, field, limit, out, &out->in[k], msg, cap);
    if (st == 200) {
      char where[320];
      snprintf(where, sizeof where, "inputs%s", field);
      st = srv_rest_check_shape(&out->in[k], &s->in[k], where, msg, cap);
    }
  }
  free(vals);
  return st;
}

int srv_tfs_decode(const srv_sig *s, const char *body, size_t len, srv_infer_req *out, char *msg,
                   size_t cap) {
  memset(out, 0, sizeof *out);
  srv_jsonin_doc doc;
  int st = srv_jsonin_parse(&doc, body, len, msg, cap);
  if (st != 200)
    goto done;
  st = 400;
  const uint32_t root = 1;
  if (!srv_jsonin_is(&doc, root, SRV_JSONIN_OBJECT)) {
    snprintf(msg, cap, "request body: expected a JSON object");
    goto done;
  }
  uint32_t sig = srv_jsonin_get(&doc, root, "signature_name");
  if (sig && !srv_jsonin_is(&doc, sig, SRV_JSONIN_STRING)) {
    snprintf(msg, cap, "signature_name: expected a string");
    goto done;
  }
  size_t slen = 0;
  const char *sname = sig ? srv_jsonin_str(&doc, sig, &slen) : NULL;
  if (slen > 0 && (slen != strlen(SIGNATURE) || memcmp(sname, SIGNATURE, slen) != 0)) {
    snprintf(msg, cap,
             "signature_name: '%.*s' is not a signature of this model (it has '" SIGNATURE "')",
             (int)slen, sname);
    goto done;
  }
  uint32_t inst = srv_jsonin_get(&doc, root, "instances"),
           cols = srv_jsonin_get(&doc, root, "inputs");
  if (inst && cols) {
    snprintf(msg, cap, "give either 'instances' (row format) or 'inputs' (columnar), not both");
    goto done;
  }
  if (!inst && !cols) {
    snprintf(msg, cap, "missing 'instances' (row format) or 'inputs' (columnar format)");
    goto done;
  }
  out->n_in = s->n_in;
  out->in = calloc((size_t)s->n_in + 1, sizeof *out->in);
  if (!out->in) {
    snprintf(msg, cap, "out of memory");
    st = 500;
    goto done;
  }
  /* Every element takes at least one byte of the body, so no honest tensor is larger. */
  int64_t limit = (int64_t)len + 1;
  st = inst ? decode_row(s, &doc, inst, limit, out, msg, cap)
            : decode_columnar(s, &doc, cols, limit, out, msg, cap);
done:
  srv_jsonin_free(&doc);
  if (st != 200)
    srv_infer_req_free(out);
  return st;
}

int srv_tfs_decode_image(const srv_sig *s, const char *body, size_t len, srv_infer_req *out,
                         char *msg, size_t cap) {
  memset(out, 0, sizeof *out);
  if (s->n_in != 1 || !srv_rest_image_spec(s, 0)) {
    if (s->n_in != 1)
      snprintf(msg, cap,
               "request body: an image body feeds a model with one input; this one has %d "
               "(send JSON with {\"b64\": ...} values)",
               s->n_in);
    else
      snprintf(msg, cap,
               "request body: input '%s' takes no encoded images (no \"image\" entry for it "
               "in the model's orchard.json)",
               s->in[0].name);
    return 400;
  }
  out->n_in = 1;
  out->in = calloc(2, sizeof *out->in);
  if (!out->in) {
    snprintf(msg, cap, "out of memory");
    return 500;
  }
  out->row = true;
  out->n_instances = 1;
  int st = srv_rest_image_alloc(s, 0, 1, &out->in[0], out, "request body", msg, cap);
  if (st == 200)
    st = srv_rest_image_item(s, 0, body, len, &out->in[0], 0, out, "request body", msg, cap);
  if (st == 200)
    st = srv_rest_check_shape(&out->in[0], &s->in[0], "request body", msg, cap);
  if (st != 200)
    srv_infer_req_free(out);
  return st;
}

int srv_tfs_encode(const srv_sig *s, const srv_infer_req *r, const rt_tensor *outs, srv_buf *b,
                   char *msg, size_t cap) {
  if (r->row) {
    int64_t n = r->n_instances;
    for (int k = 0; k < s->n_out; k++)
      if (outs[k].rank < 1 || outs[k].dims[0] != n) {
        char shape[160];
        srv_rest_shape_str(shape, sizeof shape, outs[k].dims, outs[k].rank);
        snprintf(msg, cap,
                 "output '%s' has shape %s, whose first dimension is not the %" PRId64
                 " instances; use the columnar 'inputs' format",
                 s->out[k].name, shape, n);
        return 400;
      }
    srv_buf_puts(b, "{\"predictions\":[");
    for (int64_t i = 0; i < n; i++) {
      if (i)
        srv_buf_putc(b, ',');
      if (s->n_out == 1) {
        srv_rest_write_nested(b, &outs[0], 1, i * (rt_tensor_numel(&outs[0]) / n));
        continue;
      }
      srv_buf_putc(b, '{');
      for (int k = 0; k < s->n_out; k++) {
        if (k)
          srv_buf_putc(b, ',');
        srv_buf_json_string(b, s->out[k].name);
        srv_buf_putc(b, ':');
        srv_rest_write_nested(b, &outs[k], 1, i * (rt_tensor_numel(&outs[k]) / n));
      }
      srv_buf_putc(b, '}');
    }
    srv_buf_puts(b, "]}");
  } else {
    srv_buf_puts(b, "{\"outputs\":");
    if (s->n_out == 1) {
      srv_rest_write_nested(b, &outs[0], 0, 0);
    } else {
      srv_buf_putc(b, '{');
      for (int k = 0; k < s->n_out; k++) {
        if (k)
          srv_buf_putc(b, ',');
        srv_buf_json_string(b, s->out[k].name);
        srv_buf_putc(b, ':');
        srv_rest_write_nested(b, &outs[k], 0, 0);
      }
      srv_buf_putc(b, '}');
    }
    srv_buf_putc(b, '}');
  }
  if (b->oom) {
    snprintf(msg, cap, "out of memory writing the response");
    return 500;
  }
  return 200;
}

static const char *tf_dtype(rt_dtype t) {
  switch (t) {
  case RT_DT_F32: return "DT_FLOAT";
  case RT_DT_I32: return "DT_INT32";
  case RT_DT_BOOL: return "DT_BOOL";
  default: return "DT_INVALID";
  }
}

static json_t *tensor_info(const rt_io_info *io) {
  json_t *dims = json_array();
  for (int d = 0; d < io->rank; d++) {
    char size[32];
    snprintf(size, sizeof size, "%" PRId64, io->dims[d]);
    json_array_append_new(dims, json_pack("{s:s, s:s}", "size", size, "name", ""));
  }
  json_t *shape = io->rank < 0 ? json_pack("{s:b}", "unknown_rank", 1)
                               : json_pack("{s:o, s:b}", "dim", dims, "unknown_rank", 0);
  if (io->rank < 0)
    json_decref(dims);
  return json_pack("{s:s, s:o, s:s}", "dtype", tf_dtype(io->dtype), "tensor_shape", shape, "name",
                   io->name);
}

json_t *srv_tfs_metadata(const srv_sig *s, const char *model, int64_t version) {
  json_t *ins = json_object(), *outs = json_object();
  for (int i = 0; i < s->n_in; i++)
    json_object_set_new(ins, s->in[i].name, tensor_info(&s->in[i]));
  for (int i = 0; i < s->n_out; i++)
    json_object_set_new(outs, s->out[i].name, tensor_info(&s->out[i]));
  char ver[32];
  snprintf(ver, sizeof ver, "%" PRId64, version);
  json_t *def = json_pack("{s:o, s:o, s:s}", "inputs", ins, "outputs", outs, "method_name",
                          "tensorflow/serving/predict");
  return json_pack("{s:{s:s, s:s, s:s}, s:{s:{s:{s:o}}}}", "model_spec", "name", model,
                   "signature_name", "", "version", ver, "metadata", "signature_def",
                   "signature_def", SIGNATURE, def);
}
