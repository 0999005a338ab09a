/*
 * rest_common.c — JSON values <-> tensor elements, shared by both REST codecs.
 *
 * Decoding walks the token tape of jsonin.c once, checking every list has the length the first
 * element chain promised (anything else is "ragged") and every leaf converts to the input's
 * dtype without loss (an int32 input refuses 1.5; a float32 input refuses "abc" and true),
 * converting each number's text straight into the tensor. Error messages carry the full index
 * path of the bad value so a client can find it.
 *
 * Encoding writes straight into a srv_buf (no jansson tree): outputs can hold millions of
 * values and this is the hot path of every response.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "rest.h"
#include "garden.h"
#include "image.h"

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
  srv_garden_free(s->garden);
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
  free(r->sizes);
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

int srv_sig_findn(const rt_io_info *ios, int n, const char *name, size_t len) {
  for (int i = 0; i < n; i++)
    if (!strncmp(ios[i].name, name, len) && ios[i].name[len] == 0)
      return i;
  for (int i = 0; i < n; i++)
    if (!strncmp(ios[i].name, name, len) && !strcmp(ios[i].name + len, ":0"))
      return i;
  return -1;
}

int srv_rest_shape_of(const srv_jsonin_doc *d, uint32_t v, int64_t *dims) {
  int rank = 0;
  while (srv_jsonin_is(d, v, SRV_JSONIN_ARRAY)) {
    if (rank == RT_MAX_RANK)
      return -1;
    uint32_t n = srv_jsonin_size(d, v);
    dims[rank++] = (int64_t)n;
    if (n == 0)
      break;
    v = v + 1;
  }
  return rank;
}

typedef struct fill_ctx {
  const srv_jsonin_doc *d;
  const int64_t *dims;
  int rank;
  const rt_io_info *io;
  const char *where;
  int64_t idx[RT_MAX_RANK + 1];
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

/* The error for scalar v (at c->idx[0..depth)) that does not fit the input's dtype. */
static int scalar_error(fill_ctx *c, uint32_t v, int depth) {
  const srv_jsonin_doc *d = c->d;
  const char *dt = rt_dtype_name(c->io->dtype);
  char want[160];
  switch (c->io->dtype) {
  case RT_DT_F32:
    snprintf(want, sizeof want, "expected a number (input '%s' is %s)", c->io->name, dt);
    return fill_error(c, depth, "%s, got %s", want, srv_jsonin_type_name(d, v));
  case RT_DT_I32: {
    if (!srv_jsonin_is_number(d, v)) {
      snprintf(want, sizeof want, "expected an integer (input '%s' is %s)", c->io->name, dt);
      return fill_error(c, depth, "%s, got %s", want, srv_jsonin_type_name(d, v));
    }
    char got[64];
    if (srv_jsonin_typeof(d, v) == SRV_JSONIN_INTEGER)
      snprintf(got, sizeof got, "%" PRId64, srv_jsonin_int(d, v));
    else
      snprintf(got, sizeof got, "%.17g", srv_jsonin_real(d, v));
    snprintf(want, sizeof want, "expected an int32 value (input '%s' is %s)", c->io->name, dt);
    return fill_error(c, depth, "%s, got %s", want, got);
  }
  case RT_DT_BOOL:
    snprintf(want, sizeof want, "expected true or false (input '%s' is %s)", c->io->name, dt);
    return fill_error(c, depth, "%s, got %s", want, srv_jsonin_type_name(d, v));
  default:
    snprintf(c->msg, c->cap, "%s: input '%s' has dtype %s, which requests cannot carry", c->where,
             c->io->name, dt);
    return 400;
  }
}

/* Converts scalar v to the input's dtype as the jansson-based codec did: a real parses to
 * the nearest double and then rounds to float32 (or must be a whole int32); an integer goes
 * from int64 straight to float32. Returns false when v does not fit. */
static inline bool scalar_f32(const srv_jsonin_doc *d, uint32_t v, float *out) {
  const srv_jsonin_tok *t = &d->tok[v];
  if (t->type == SRV_JSONIN_REAL)
    *out = (float)srv_jsonin_strtod(d->body + t->pos, t->len);
  else if (t->type == SRV_JSONIN_INTEGER)
    *out = (float)srv_jsonin_int(d, v);
  else
    return false;
  return true;
}

static inline bool scalar_i32(const srv_jsonin_doc *d, uint32_t v, int32_t *out) {
  const srv_jsonin_tok *t = &d->tok[v];
  if (t->type == SRV_JSONIN_INTEGER) {
    int64_t i = srv_jsonin_int(d, v);
    if (i < INT32_MIN || i > INT32_MAX)
      return false;
    *out = (int32_t)i;
    return true;
  }
  if (t->type != SRV_JSONIN_REAL)
    return false;
  double x = srv_jsonin_strtod(d->body + t->pos, t->len);
  if (x != floor(x) || x < INT32_MIN || x > INT32_MAX)
    return false;
  *out = (int32_t)x;
  return true;
}

static inline bool scalar_bool(const srv_jsonin_doc *d, uint32_t v, unsigned char *out) {
  const srv_jsonin_tok *t = &d->tok[v];
  if (t->type == SRV_JSONIN_TRUE || t->type == SRV_JSONIN_FALSE) {
    *out = t->type == SRV_JSONIN_TRUE;
    return true;
  }
  if (t->type != SRV_JSONIN_INTEGER)
    return false;
  int64_t i = srv_jsonin_int(d, v);
  if (i != 0 && i != 1)
    return false;
  *out = (unsigned char)i;
  return true;
}

/* One scalar at depth c->rank. */
static int fill_scalar(fill_ctx *c, uint32_t v, int depth) {
  switch (c->io->dtype) {
  case RT_DT_F32: {
    float f;
    if (!scalar_f32(c->d, v, &f))
      return scalar_error(c, v, depth);
    if (c->cur) {
      memcpy(c->cur, &f, 4);
      c->cur += 4;
    }
    return 200;
  }
  case RT_DT_I32: {
    int32_t i;
    if (!scalar_i32(c->d, v, &i))
      return scalar_error(c, v, depth);
    if (c->cur) {
      memcpy(c->cur, &i, 4);
      c->cur += 4;
    }
    return 200;
  }
  case RT_DT_BOOL: {
    unsigned char u;
    if (!scalar_bool(c->d, v, &u))
      return scalar_error(c, v, depth);
    if (c->cur)
      *c->cur++ = (char)u;
    return 200;
  }
  default: return scalar_error(c, v, depth);
  }
}

static int ragged_leaf(fill_ctx *c, uint32_t v, int depth) {
  char dims[128];
  srv_rest_shape_str(dims, sizeof dims, c->dims, c->rank);
  return fill_error(c, depth, "ragged: expected a single value here (shape %s), got %s", dims,
                    srv_jsonin_type_name(c->d, v));
}

/* The innermost list, element by element: each value converted (or the first bad one named). */
static int fill_row_each(fill_ctx *c, uint32_t v, int depth) {
  const srv_jsonin_doc *d = c->d;
  uint32_t n = srv_jsonin_size(d, v), e = v + 1;
  for (uint32_t i = 0; i < n; i++, e = srv_jsonin_next(d, e)) {
    c->idx[depth] = i;
    srv_jsonin_type t = srv_jsonin_typeof(d, e);
    int st = t == SRV_JSONIN_ARRAY || t == SRV_JSONIN_OBJECT ? ragged_leaf(c, e, depth + 1)
                                                             : fill_scalar(c, e, depth + 1);
    if (st != 200)
      return st;
  }
  return 200;
}

/* The innermost list (depth c->rank - 1, its length already checked): the hot loop of every
 * request, one tight loop per dtype. */
static int fill_row(fill_ctx *c, uint32_t v, int depth) {
  const srv_jsonin_doc *d = c->d;
  uint32_t n = srv_jsonin_size(d, v), e = v + 1;
  if (!c->cur || c->io->dtype > RT_DT_BOOL)
    return fill_row_each(c, v, depth);
  /* Scalars have no subtree: element i is token v + 1 + i until a container shows up, and
   * the row converters stop at the first token that is not theirs. */
  switch (c->io->dtype) {
  case RT_DT_F32:
    if (srv_jsonin_numbers_f32(d, v + 1, n, false, (float *)c->cur) < n)
      goto slow;
    break;
  case RT_DT_I32: {
    int32_t *o = (int32_t *)c->cur;
    for (uint32_t i = 0; i < n;) {
      i += srv_jsonin_ints_i32(d, v + 1 + i, n - i, o + i);
      if (i < n && !scalar_i32(d, v + 1 + i, &o[i])) /* 2.0 is an int32 too */
        goto slow;
      i += i < n;
    }
    break;
  }
  default: {
    unsigned char *o = (unsigned char *)c->cur;
    for (uint32_t i = 0; i < n; i++, e++)
      if (!scalar_bool(d, e, &o[i]))
        goto slow;
  }
  }
  c->cur += (size_t)n * rt_dtype_size(c->io->dtype);
  return 200;
slow: /* something in this row does not fit: find it and say what (c->cur unchanged) */
  return fill_row_each(c, v, depth);
}

static int fill_rec(fill_ctx *c, uint32_t v, int depth) {
  const srv_jsonin_doc *d = c->d;
  if (depth == c->rank) {
    srv_jsonin_type t = srv_jsonin_typeof(d, v);
    if (t == SRV_JSONIN_ARRAY || t == SRV_JSONIN_OBJECT)
      return ragged_leaf(c, v, depth);
    return fill_scalar(c, v, depth);
  }
  if (!srv_jsonin_is(d, v, SRV_JSONIN_ARRAY)) {
    char want[64];
    snprintf(want, sizeof want, "%" PRId64, c->dims[depth]);
    return fill_error(c, depth, "ragged: expected a list of %s values, got %s", want,
                      srv_jsonin_type_name(d, v));
  }
  uint32_t n = srv_jsonin_size(d, v);
  if ((int64_t)n != c->dims[depth]) {
    char got[64], want[64];
    snprintf(got, sizeof got, "%" PRIu32, n);
    snprintf(want, sizeof want, "%" PRId64, c->dims[depth]);
    return fill_error(c, depth, "ragged: %s values where the first list has %s", got, want);
  }
  if (depth == c->rank - 1)
    return fill_row(c, v, depth);
  uint32_t e = v + 1, i = 0;
  if (depth == c->rank - 2 && c->cur) {
    /* A list of short rows (an image's pixels): whole rows convert in one call; the first
     * row that does not simply fit (or is wrong) goes the general way, which says why. */
    uint32_t len = (uint32_t)c->dims[depth + 1];
    if (c->io->dtype == RT_DT_F32)
      i = srv_jsonin_rows_f32(d, e, n, len, false, (float *)c->cur);
    else if (c->io->dtype == RT_DT_I32)
      i = srv_jsonin_rows_i32(d, e, n, len, (int32_t *)c->cur);
    c->cur += (size_t)i * len * 4;
    e += i * (len + 1);
  }
  for (; i < n; i++, e = srv_jsonin_next(d, e)) {
    c->idx[depth] = (int64_t)i;
    int st = fill_rec(c, e, depth + 1);
    if (st != 200)
      return st;
  }
  return 200;
}

int srv_rest_fill(const srv_jsonin_doc *d, uint32_t v, const int64_t *dims, int rank,
                  const rt_io_info *io, void *dst, const char *where, char *msg, size_t cap) {
  fill_ctx c = {.d = d,
                .dims = dims,
                .rank = rank,
                .io = io,
                .where = where,
                .cur = dst,
                .msg = msg,
                .cap = cap};
  return fill_rec(&c, v, 0);
}

bool srv_rest_is_b64(const srv_jsonin_doc *d, uint32_t v) {
  return srv_jsonin_is(d, v, SRV_JSONIN_OBJECT) && srv_jsonin_size(d, v) == 1 &&
         srv_jsonin_get(d, v, "b64");
}

int srv_rest_b64(const srv_jsonin_doc *d, uint32_t v, const rt_io_info *io, int skip,
                 rt_tensor *out, const char *where, char *msg, size_t cap) {
  memset(out, 0, sizeof *out);
  uint32_t s = srv_jsonin_get(d, v, "b64");
  if (!srv_jsonin_is(d, s, SRV_JSONIN_STRING)) {
    snprintf(msg, cap, "%s.b64: expected a base64 string, got %s", where,
             srv_jsonin_type_name(d, s));
    return 400;
  }
  if (io->rank < skip) {
    snprintf(msg, cap, "%s: input '%s' has no known shape to read a b64 value into", where,
             io->name);
    return 400;
  }
  size_t slen;
  const char *sval = srv_jsonin_str(d, s, &slen);
  unsigned char *bytes = malloc(slen / 4 * 3 + 4);
  if (!bytes) {
    snprintf(msg, cap, "%s: out of memory", where);
    return 500;
  }
  int64_t nb = srv_b64_decode(sval, slen, bytes);
  if (nb < 0) {
    free(bytes);
    snprintf(msg, cap, "%s.b64: not valid base64", where);
    return 400;
  }
  int rank = io->rank - skip, unknown = -1;
  int64_t known = 1;
  out->dtype = io->dtype;
  out->rank = rank;
  for (int k = 0; k < rank; k++) {
    out->dims[k] = io->dims[k + skip];
    if (out->dims[k] < 0) {
      if (unknown >= 0) {
        free(bytes);
        snprintf(msg, cap,
                 "%s: input '%s' has more than one unknown dimension; send a list "
                 "instead of b64",
                 where, io->name);
        return 400;
      }
      unknown = k;
    } else {
      known *= out->dims[k];
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

/* ---------------------------------------------------------------- encoded images */

#define SRV_REST_IMAGE_BATCH_BYTES (1 << 30)

const srv_image_spec *srv_rest_image_spec(const srv_sig *s, int k) {
  return srv_garden_image(s->garden, k);
}

bool srv_rest_is_b64_image(const srv_jsonin_doc *d, uint32_t v) {
  if (!srv_rest_is_b64(d, v))
    return false;
  uint32_t sv = srv_jsonin_get(d, v, "b64");
  if (!srv_jsonin_is(d, sv, SRV_JSONIN_STRING))
    return false;
  size_t len;
  const char *str = srv_jsonin_str(d, sv, &len);
  /* 12 base64 characters are 9 bytes: enough for both magics. */
  unsigned char head[16];
  if (len < 12)
    return false;
  int64_t n = srv_b64_decode(str, 12, head);
  return n > 0 && srv_image_sniff(head, (size_t)n) != SRV_IMAGE_FORMAT_NONE;
}

int srv_rest_image_alloc(const srv_sig *s, int k, int64_t n, rt_tensor *t, srv_infer_req *req,
                         const char *where, char *msg, size_t cap) {
  const srv_image_spec *spec = srv_rest_image_spec(s, k);
  memset(t, 0, sizeof *t);
  int64_t each = spec ? srv_image_spec_numel(spec) : 0;
  if (!spec || n < 1 || n > INT64_MAX / 4 / (each ? each : 1)) {
    snprintf(msg, cap, "%s: input '%s' takes no encoded images", where, s->in[k].name);
    return 400;
  }
  /* A few bytes of JPEG can stand for megabytes of tensor: bound the whole batch. */
  if (n * each * (int64_t)rt_dtype_size(spec->dtype) > SRV_REST_IMAGE_BATCH_BYTES) {
    snprintf(msg, cap,
             "%s: %" PRId64 " images for input '%s' make more than %d MiB of tensor; send fewer "
             "per request",
             where, n, s->in[k].name, SRV_REST_IMAGE_BATCH_BYTES >> 20);
    return 413;
  }
  int C = srv_image_spec_channels(spec);
  t->dtype = spec->dtype;
  t->rank = 4;
  t->dims[0] = n;
  t->dims[1] = spec->nchw ? C : spec->height;
  t->dims[2] = spec->nchw ? spec->height : spec->width;
  t->dims[3] = spec->nchw ? spec->width : C;
  t->data = malloc((size_t)(n * each) * rt_dtype_size(spec->dtype) + 1);
  if (!t->data) {
    snprintf(msg, cap, "%s: out of memory for %" PRId64 " images", where, n);
    return 500;
  }
  if (srv_garden_first_image(s->garden) == k && !req->sizes) {
    req->sizes = calloc((size_t)n * 2, sizeof *req->sizes);
    if (!req->sizes) {
      free(t->data);
      t->data = NULL;
      snprintf(msg, cap, "%s: out of memory", where);
      return 500;
    }
    req->n_sizes = n;
  }
  return 200;
}

int srv_rest_image_item(const srv_sig *s, int k, const void *bytes, size_t len, rt_tensor *t,
                        int64_t i, srv_infer_req *req, const char *where, char *msg, size_t cap) {
  const srv_image_spec *spec = srv_rest_image_spec(s, k);
  char what[512];
  int w = 0, h = 0;
  size_t each = (size_t)srv_image_spec_numel(spec) * rt_dtype_size(spec->dtype);
  int st = srv_image_load(spec, bytes, len, (char *)t->data + each * (size_t)i, &w, &h, what,
                          sizeof what);
  if (st != 200) {
    snprintf(msg, cap, "%s: input '%s': %s", where, s->in[k].name, what);
    return st;
  }
  if (srv_garden_first_image(s->garden) == k && req->sizes && i < req->n_sizes) {
    req->sizes[2 * i] = w;
    req->sizes[2 * i + 1] = h;
  }
  return 200;
}

int srv_rest_image_b64(const srv_sig *s, int k, const char *b64, size_t len, rt_tensor *t,
                       int64_t i, srv_infer_req *req, const char *where, char *msg, size_t cap) {
  unsigned char *bytes = malloc(len / 4 * 3 + 4);
  if (!bytes) {
    snprintf(msg, cap, "%s: out of memory", where);
    return 500;
  }
  int64_t n = srv_b64_decode(b64, len, bytes);
  int st;
  if (n < 0) {
    snprintf(msg, cap, "%s: input '%s': not valid base64", where, s->in[k].name);
    st = 400;
  } else {
    st = srv_rest_image_item(s, k, bytes, (size_t)n, t, i, req, where, msg, cap);
  }
  free(bytes);
  return st;
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

/* Bytes one element can take, its comma included: the longest float32 is 18 characters
 * ("-12345678900000000", "-1.2345678e-38" is shorter), and srv_fmt_f32 also writes a NUL. */
static size_t elem_bound(rt_dtype t) {
  switch (t) {
  case RT_DT_F32: return 20;
  case RT_DT_I32: return 13;
  case RT_DT_BOOL: return 7;
  default: return 6;
  }
}

/* Elements then lists ('[', ']' and a comma each) of t's dims[from..rank). */
static size_t nested_bound(const rt_tensor *t, int from) {
  size_t lists = 0, above = 1;
  for (int d = from; d < t->rank; d++) {
    lists += above;
    above *= (size_t)t->dims[d];
  }
  return above * elem_bound(t->dtype) + lists * 3 + 8;
}

/* Writes n elements from t[off] at o (room reserved by the caller); returns the new end. */
static char *put_row(char *o, const rt_tensor *t, int64_t off, int64_t n) {
  switch (t->dtype) {
  case RT_DT_F32: {
    const float *p = (const float *)t->data + off;
    for (int64_t i = 0; i < n; i++) {
      o += srv_fmt_f32(o, p[i]);
      *o++ = ',';
    }
    break;
  }
  case RT_DT_I32: {
    const int32_t *p = (const int32_t *)t->data + off;
    for (int64_t i = 0; i < n; i++) {
      o += srv_fmt_i64(o, p[i]);
      *o++ = ',';
    }
    break;
  }
  case RT_DT_BOOL: {
    const unsigned char *p = (const unsigned char *)t->data + off;
    for (int64_t i = 0; i < n; i++) {
      memcpy(o, p[i] ? "true," : "false,", 6);
      o += p[i] ? 5 : 6;
    }
    break;
  }
  default:
    for (int64_t i = 0; i < n; i++) {
      memcpy(o, "null,", 5);
      o += 5;
    }
  }
  return n ? o - 1 : o; /* no comma after the last */
}

static char *put_nested(char *o, const rt_tensor *t, int d, int64_t off) {
  if (d == t->rank)
    return put_row(o, t, off, 1);
  *o++ = '[';
  if (d == t->rank - 1) {
    o = put_row(o, t, off, t->dims[d]);
  } else {
    int64_t inner = 1;
    for (int k = d + 1; k < t->rank; k++)
      inner *= t->dims[k];
    for (int64_t i = 0; i < t->dims[d]; i++) {
      if (i)
        *o++ = ',';
      o = put_nested(o, t, d + 1, off + i * inner);
    }
  }
  *o++ = ']';
  return o;
}

/* Both writers reserve their worst case once and then write through a plain pointer: no
 * per-value capacity checks on the path every response takes. */
void srv_rest_write_nested(srv_buf *b, const rt_tensor *t, int from, int64_t offset) {
  if (!srv_buf_reserve(b, nested_bound(t, from)))
    return;
  char *o = put_nested(b->data + b->len, t, from, offset);
  b->len = (size_t)(o - b->data);
  b->data[b->len] = 0;
}

void srv_rest_write_flat(srv_buf *b, const rt_tensor *t) {
  int64_t n = rt_tensor_numel(t);
  if (!srv_buf_reserve(b, (size_t)n * elem_bound(t->dtype) + 8))
    return;
  char *o = b->data + b->len;
  *o++ = '[';
  o = put_row(o, t, 0, n);
  *o++ = ']';
  b->len = (size_t)(o - b->data);
  b->data[b->len] = 0;
}
