/*
 * rest_common.c — JSON values <-> tensor elements, shared by both REST codecs.
 *
 * Decoding walks a jansson tree once, checking every list has the length the first element
 * chain promised (anything else is "ragged") and every leaf converts to the input's dtype
 * without loss (an int32 input refuses 1.5; a float32 input refuses "abc" and true). Error
 * messages carry the full index path of the bad value so a client can find it.
 *
 * Encoding writes straight into a srv_buf (no jansson tree): outputs can hold millions of
 * values and this is the hot path of every response.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "rest.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool srv_sig_from_model(const rt_model *m, srv_sig *out) {
  memset(out, 0, sizeof *out);
  out->n_in = rt_model_num_inputs(m);
  out->n_out = rt_model_num_outputs(m);
  out->in = calloc((size_t)out->n_in + 1, sizeof *out->in);
  out->out = calloc((size_t)out->n_out + 1, sizeof *out->out);
  if (!out->in || !out->out) {
    srv_sig_free(out);
    return false;
  }
  for (int i = 0; i < out->n_in; i++)
    out->in[i] = *rt_model_input(m, i);
  for (int i = 0; i < out->n_out; i++)
    out->out[i] = *rt_model_output(m, i);
  return true;
}

void srv_sig_free(srv_sig *s) {
  free(s->in);
  free(s->out);
  memset(s, 0, sizeof *s);
}

int srv_sig_find(const rt_io_info *ios, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(ios[i].name, name))
      return i;
  size_t len = strlen(name);
  for (int i = 0; i < n; i++)
    if (!strncmp(ios[i].name, name, len) && !strcmp(ios[i].name + len, ":0"))
      return i;
  return -1;
}

void srv_infer_req_free(srv_infer_req *r) {
  for (int i = 0; r->in && i < r->n_in; i++)
    free(r->in[i].data);
  free(r->in);
  free(r->id);
  free(r->outs);
  memset(r, 0, sizeof *r);
}

void srv_rest_shape_str(char *out, size_t cap, const int64_t *dims, int rank) {
  size_t o = 0;
  if (rank < 0) {
    snprintf(out, cap, "(unknown rank)");
    return;
  }
  o += (size_t)snprintf(out + o, cap - o, "[");
  for (int d = 0; d < rank && o < cap; d++)
    o += (size_t)snprintf(out + o, cap - o, "%s%" PRId64, d ? "," : "", dims[d]);
  if (o < cap)
    snprintf(out + o, cap - o, "]");
}

static const char *type_name(json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "a list";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE: return "true";
  case JSON_FALSE: return "false";
  case JSON_NULL: return "null";
  }
  return "a value";
}

int srv_rest_shape_of(json_t *v, int64_t *dims) {
  int rank = 0;
  while (json_is_array(v)) {
    if (rank == RT_MAX_RANK)
      return -1;
    size_t n = json_array_size(v);
    dims[rank++] = (int64_t)n;
    if (n == 0)
      break;
    v = json_array_get(v, 0);
  }
  return rank;
}

typedef struct fill_ctx {
  const int64_t *dims;
  int rank;
  const rt_io_info *io;
  const char *where;
  int64_t idx[RT_MAX_RANK];
  char *cur; /* NULL: check only (the shape is too big to be real; find the ragged spot) */
  char *msg;
  size_t cap;
} fill_ctx;

static int fill_error(fill_ctx *c, int depth, const char *fmt, const char *a, const char *b) {
  char path[256];
  size_t o = (size_t)snprintf(path, sizeof path, "%s", c->where);
  for (int d = 0; d < depth && o < sizeof path; d++)
    o += (size_t)snprintf(path + o, sizeof path - o, "[%" PRId64 "]", c->idx[d]);
  char what[256];
  snprintf(what, sizeof what, fmt, a, b);
  snprintf(c->msg, c->cap, "%s: %s", path, what);
  return 400;
}

static int fill_scalar(fill_ctx *c, json_t *v, int depth) {
  const char *dt = rt_dtype_name(c->io->dtype);
  char want[160];
  switch (c->io->dtype) {
  case RT_DT_F32: {
    float f;
    if (json_is_real(v))
      f = (float)json_real_value(v);
    else if (json_is_integer(v))
      f = (float)json_integer_value(v);
    else {
      snprintf(want, sizeof want, "expected a number (input '%s' is %s)", c->io->name, dt);
      return fill_error(c, depth, "%s, got %s", want, type_name(v));
    }
    if (c->cur) {
      memcpy(c->cur, &f, 4);
      c->cur += 4;
    }
    return 200;
  }
  case RT_DT_I32: {
    double x;
    if (json_is_integer(v))
      x = (double)json_integer_value(v);
    else if (json_is_real(v))
      x = json_real_value(v);
    else {
      snprintf(want, sizeof want, "expected an integer (input '%s' is %s)", c->io->name, dt);
      return fill_error(c, depth, "%s, got %s", want, type_name(v));
    }
    if (x != floor(x) || x < INT32_MIN || x > INT32_MAX) {
      char got[64];
      if (json_is_integer(v))
        snprintf(got, sizeof got, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      else
        snprintf(got, sizeof got, "%.17g", x);
      snprintf(want, sizeof want, "expected an int32 value (input '%s' is %s)", c->io->name, dt);
      return fill_error(c, depth, "%s, got %s", want, got);
    }
    int32_t i = (int32_t)x;
    if (c->cur) {
      memcpy(c->cur, &i, 4);
      c->cur += 4;
    }
    return 200;
  }
  case RT_DT_BOOL: {
    unsigned char u;
    if (json_is_boolean(v))
      u = json_is_true(v);
    else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
      u = (unsigned char)json_integer_value(v);
    else {
      snprintf(want, sizeof want, "expected true or false (input '%s' is %s)", c->io->name, dt);
      return fill_error(c, depth, "%s, got %s", want, type_name(v));
    }
    if (c->cur)
      *c->cur++ = (char)u;
    return 200;
  }
  default:
    snprintf(c->msg, c->cap, "%s: input '%s' has dtype %s, which requests cannot carry", c->where,
             c->io->name, dt);
    return 400;
  }
}

static int fill_rec(fill_ctx *c, json_t *v, int depth) {
  if (depth == c->rank) {
    if (json_is_array(v) || json_is_object(v)) {
      char dims[128];
      srv_rest_shape_str(dims, sizeof dims, c->dims, c->rank);
      return fill_error(c, depth, "ragged: expected a single value here (shape %s), got %s", dims,
                        type_name(v));
    }
    return fill_scalar(c, v, depth);
  }
  if (!json_is_array(v)) {
    char want[64];
    snprintf(want, sizeof want, "%" PRId64, c->dims[depth]);
    return fill_error(c, depth, "ragged: expected a list of %s values, got %s", want, type_name(v));
  }
  size_t n = json_array_size(v);
  if ((int64_t)n != c->dims[depth]) {
    char got[64], want[64];
    snprintf(got, sizeof got, "%zu", n);
    snprintf(want, sizeof want, "%" PRId64, c->dims[depth]);
    return fill_error(c, depth, "ragged: %s values where the first list has %s", got, want);
  }
  for (size_t i = 0; i < n; i++) {
    c->idx[depth] = (int64_t)i;
    int st = fill_rec(c, json_array_get(v, i), depth + 1);
    if (st != 200)
      return st;
  }
  return 200;
}

int srv_rest_fill(json_t *v, const int64_t *dims, int rank, const rt_io_info *io, void *dst,
                  const char *where, char *msg, size_t cap) {
  fill_ctx c = {
      .dims = dims, .rank = rank, .io = io, .where = where, .cur = dst, .msg = msg, .cap = cap};
  return fill_rec(&c, v, 0);
}

bool srv_rest_is_b64(json_t *v) {
  return json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, "b64");
}

int srv_rest_b64(json_t *v, const rt_io_info *io, int skip, rt_tensor *out, const char *where,
                 char *msg, size_t cap) {
  memset(out, 0, sizeof *out);
  json_t *s = json_object_get(v, "b64");
  if (!json_is_string(s)) {
    snprintf(msg, cap, "%s.b64: expected a base64 string, got %s", where, type_name(s));
    return 400;
  }
  if (io->rank < skip) {
    snprintf(msg, cap, "%s: input '%s' has no known shape to read a b64 value into", where,
             io->name);
    return 400;
  }
  size_t slen = json_string_length(s);
  unsigned char *bytes = malloc(slen / 4 * 3 + 4);
  if (!bytes) {
    snprintf(msg, cap, "%s: out of memory", where);
    return 500;
  }
  int64_t nb = srv_b64_decode(json_string_value(s), slen, bytes);
  if (nb < 0) {
    free(bytes);
    snprintf(msg, cap, "%s.b64: not valid base64", where);
    return 400;
  }
  int rank = io->rank - skip, unknown = -1;
  int64_t known = 1;
  out->dtype = io->dtype;
  out->rank = rank;
  for (int d = 0; d < rank; d++) {
    out->dims[d] = io->dims[d + skip];
    if (out->dims[d] < 0) {
      if (unknown >= 0) {
        free(bytes);
        snprintf(msg, cap,
                 "%s: input '%s' has more than one unknown dimension; send a list "
                 "instead of b64",
                 where, io->name);
        return 400;
      }
      unknown = d;
    } else {
      known *= out->dims[d];
    }
  }
  int64_t esz = (int64_t)rt_dtype_size(io->dtype);
  bool raw;
  if (unknown >= 0) {
    raw = known > 0 && nb % (known * esz) == 0;
    if (!raw && (known == 0 || nb % known != 0)) {
      free(bytes);
      snprintf(msg, cap,
               "%s.b64: %" PRId64 " bytes do not fill input '%s' (%" PRId64
               " elements per step of its unknown dimension)",
               where, nb, io->name, known);
      return 400;
    }
    out->dims[unknown] = raw ? nb / (known * esz) : nb / known;
  } else if (nb == known * esz) {
    raw = true;
  } else if (nb == known) {
    raw = false;
  } else {
    free(bytes);
    char shape[128];
    srv_rest_shape_str(shape, sizeof shape, out->dims, rank);
    snprintf(msg, cap,
             "%s.b64: %" PRId64 " bytes, but input '%s' of shape %s needs %" PRId64
             " (%s) or %" PRId64 " (uint8)",
             where, nb, io->name, shape, known * esz, rt_dtype_name(io->dtype), known);
    return 400;
  }
  if (raw) {
    out->data = bytes; /* little-endian host: the bytes are the elements */
    if (io->dtype == RT_DT_BOOL)
      for (int64_t i = 0; i < nb; i++)
        bytes[i] = bytes[i] != 0;
    return 200;
  }
  int64_t n = rt_tensor_numel(out);
  void *data = malloc((size_t)(n * esz) + 1);
  if (!data) {
    free(bytes);
    snprintf(msg, cap, "%s: out of memory", where);
    return 500;
  }
  for (int64_t i = 0; i < n; i++) {
    if (io->dtype == RT_DT_F32)
      ((float *)data)[i] = (float)bytes[i];
    else if (io->dtype == RT_DT_I32)
      ((int32_t *)data)[i] = (int32_t)bytes[i];
    else
      ((unsigned char *)data)[i] = bytes[i] != 0;
  }
  free(bytes);
  out->data = data;
  return 200;
}

int srv_rest_check_shape(const rt_tensor *t, const rt_io_info *io, const char *where, char *msg,
                         size_t cap) {
  if (io->rank < 0)
    return 200;
  char want[160], got[160];
  srv_rest_shape_str(want, sizeof want, io->dims, io->rank);
  srv_rest_shape_str(got, sizeof got, t->dims, t->rank);
  if (t->rank != io->rank) {
    snprintf(msg, cap, "%s: rank %d (shape %s), but input '%s' has rank %d (shape %s)", where,
             t->rank, got, io->name, io->rank, want);
    return 400;
  }
  for (int d = 0; d < t->rank; d++)
    if (io->dims[d] >= 0 && io->dims[d] != t->dims[d]) {
      snprintf(msg, cap, "%s: shape %s, but input '%s' has shape %s (dimension %d differs)", where,
               got, io->name, want, d);
      return 400;
    }
  return 200;
}

static void put_elems(srv_buf *b, const rt_tensor *t, int64_t off, int64_t n) {
  if (!srv_buf_reserve(b, (size_t)n * 12))
    return;
  switch (t->dtype) {
  case RT_DT_F32: {
    const float *p = (const float *)t->data + off;
    for (int64_t i = 0; i < n; i++) {
      if (i)
        srv_buf_putc(b, ',');
      srv_buf_f32(b, p[i]);
    }
    break;
  }
  case RT_DT_I32: {
    const int32_t *p = (const int32_t *)t->data + off;
    for (int64_t i = 0; i < n; i++) {
      if (i)
        srv_buf_putc(b, ',');
      srv_buf_i64(b, p[i]);
    }
    break;
  }
  case RT_DT_BOOL: {
    const unsigned char *p = (const unsigned char *)t->data + off;
    for (int64_t i = 0; i < n; i++) {
      if (i)
        srv_buf_putc(b, ',');
      srv_buf_puts(b, p[i] ? "true" : "false");
    }
    break;
  }
  default:
    for (int64_t i = 0; i < n; i++)
      srv_buf_puts(b, i ? ",null" : "null");
  }
}

static void nested_rec(srv_buf *b, const rt_tensor *t, int d, int64_t off) {
  if (d == t->rank) {
    put_elems(b, t, off, 1);
    return;
  }
  srv_buf_putc(b, '[');
  if (d == t->rank - 1) {
    put_elems(b, t, off, t->dims[d]);
  } else {
    int64_t inner = 1;
    for (int k = d + 1; k < t->rank; k++)
      inner *= t->dims[k];
    for (int64_t i = 0; i < t->dims[d]; i++) {
      if (i)
        srv_buf_putc(b, ',');
      nested_rec(b, t, d + 1, off + i * inner);
    }
  }
  srv_buf_putc(b, ']');
}

void srv_rest_write_nested(srv_buf *b, const rt_tensor *t, int from, int64_t offset) {
  nested_rec(b, t, from, offset);
}

void srv_rest_write_flat(srv_buf *b, const rt_tensor *t) {
  srv_buf_putc(b, '[');
  put_elems(b, t, 0, rt_tensor_numel(t));
  srv_buf_putc(b, ']');
}
