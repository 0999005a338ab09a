/*
 * codec.c — TF Serving and KServe protobuf messages <-> tensors and metadata (codec.h).
 *
 * Requests are unpacked with protobuf-c (which copies every field, so a decoded tensor never
 * points into the call's buffer) and converted to the model's dtypes: an input takes the
 * wire dtypes that hold its values exactly (float32: DT_FLOAT, DT_HALF, DT_UINT8 / FP32,
 * FP16, UINT8; int32: DT_INT32, DT_INT64 range-checked, DT_UINT8 / INT32, INT64, UINT8;
 * bool: DT_BOOL / BOOL, UINT8 0-1), as the REST codecs do. Responses are built from
 * scaffolding allocated in one `scratch` list and freed together after packing; tensor bytes
 * are referenced, not copied, until protobuf-c packs them.
 *
 * Encoded images (an input orchard.json declares an image input): TF Serving DT_STRING
 * string_val, or KServe BYTES as contents.bytes_contents or a raw_input_contents entry in
 * KServe's BYTES serialization (each element a 4-byte little-endian length, then its bytes),
 * one JPEG or PNG per batch item, as the REST codecs take them.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "codec.h"
#include "image.h"

#include "google/protobuf/any.pb-c.h"
#include "grpc_predict_v2.pb-c.h"
#include "tensorflow_serving/apis/get_model_metadata.pb-c.h"
#include "tensorflow_serving/apis/get_model_status.pb-c.h"
#include "tensorflow_serving/apis/predict.pb-c.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- scratch allocations */

typedef struct scratch {
  void **p;
  int n, cap;
  bool oom;
} scratch;

static void *sc_alloc(scratch *s, size_t n, size_t size) {
  if (s->oom)
    return NULL;
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 32;
    void **p = realloc(s->p, sizeof *p * (size_t)cap);
    if (!p) {
      s->oom = true;
      return NULL;
    }
    s->p = p;
    s->cap = cap;
  }
  void *m = calloc(n ? n : 1, size);
  if (!m) {
    s->oom = true;
    return NULL;
  }
  s->p[s->n++] = m;
  return m;
}

static void sc_free(scratch *s) {
  for (int i = 0; i < s->n; i++)
    free(s->p[i]);
  free(s->p);
}

/* Packs m into a new buffer; 500 when memory ran out while building it. */
static int pack(scratch *sc, const ProtobufCMessage *m, uint8_t **out, size_t *out_len, char *msg,
                size_t cap) {
  *out = NULL;
  *out_len = 0;
  if (sc->oom) {
    snprintf(msg, cap, "out of memory writing the response");
    return 500;
  }
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) {
    snprintf(msg, cap, "out of memory writing the response (%zu bytes)", n);
    return 500;
  }
  protobuf_c_message_pack(m, b);
  *out = b;
  *out_len = n;
  return 200;
}

/* ---------------------------------------------------------------- model specs */

/* Skips to field `field` (length-delimited) of a message without decoding anything else. */
static int wire_find(const uint8_t *p, size_t len, int field, const uint8_t **val, size_t *vlen) {
  size_t i = 0;
  int found = 0;
  while (i < len) {
    uint64_t key = 0;
    int shift = 0;
    for (;;) {
      if (i >= len || shift > 63)
        return -1;
      uint8_t b = p[i++];
      key |= (uint64_t)(b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80))
        break;
    }
    int wt = (int)(key & 7);
    uint64_t fn = key >> 3;
    uint64_t n = 0;
    switch (wt) {
    case 0:
      while (i < len && (p[i] & 0x80))
        i++;
      if (i++ >= len)
        return -1;
      continue;
    case 1: n = 8; break;
    case 5: n = 4; break;
    case 2:
      shift = 0;
      for (;;) {
        if (i >= len || shift > 63)
          return -1;
        uint8_t b = p[i++];
        n |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
          break;
      }
      break;
    default: return -1; /* groups: not in these messages */
    }
    if (n > len - i)
      return -1;
    if (wt == 2 && fn == (uint64_t)field) { /* the last occurrence wins, as in a merge */
      *val = p + i;
      *vlen = (size_t)n;
      found = 1;
    }
    i += (size_t)n;
  }
  return found;
}

static int spec_from(const Tensorflow__Serving__ModelSpec *ms, srv_grpc_spec *o, bool sig_ok,
                     char *msg, size_t cap) {
  memset(o, 0, sizeof *o);
  if (!ms) {
    snprintf(msg, cap, "model_spec: missing");
    return 400;
  }
  if (!ms->name || !*ms->name) {
    snprintf(msg, cap, "model_spec.name: missing");
    return 400;
  }
  if (strlen(ms->name) >= sizeof o->name) {
    snprintf(msg, cap, "model_spec.name: longer than %zu bytes", sizeof o->name - 1);
    return 400;
  }
  snprintf(o->name, sizeof o->name, "%s", ms->name);
  o->ref.name = o->name;
  o->ref.sel = SRV_SELECT_LATEST;
  if (sig_ok && ms->signature_name && *ms->signature_name &&
      strcmp(ms->signature_name, SRV_GRPC_SIGNATURE) != 0) {
    snprintf(msg, cap,
             "model_spec.signature_name: '%s' is not a signature of model '%s' (it has "
             "'" SRV_GRPC_SIGNATURE "')",
             ms->signature_name, ms->name);
    return 400;
  }
  if (ms->version_choice_case == TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION) {
    int64_t v = ms->version ? ms->version->value : 0;
    if (v <= 0) {
      snprintf(msg, cap, "model_spec.version: %" PRId64 " is not a positive integer", v);
      return 400;
    }
    o->ref.sel = SRV_SELECT_VERSION;
    o->ref.version = v;
  } else if (ms->version_choice_case ==
                 TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION_LABEL &&
             ms->version_label && *ms->version_label) {
    snprintf(o->label, sizeof o->label, "%s", ms->version_label);
    o->ref.sel = SRV_SELECT_LABEL;
    o->ref.label = o->label;
  }
  return 200;
}

int srv_grpc_peek_tfs_spec(const uint8_t *buf, size_t len, int field, srv_grpc_spec *out, char *msg,
                           size_t cap) {
  const uint8_t *v = NULL;
  size_t vlen = 0;
  int f = wire_find(buf, len, field, &v, &vlen);
  if (f < 0) {
    snprintf(msg, cap, "request: not a valid protobuf message");
    return 400;
  }
  if (f == 0)
    return spec_from(NULL, out, true, msg, cap);
  Tensorflow__Serving__ModelSpec *ms = tensorflow__serving__model_spec__unpack(NULL, vlen, v);
  if (!ms) {
    snprintf(msg, cap, "model_spec: not a valid ModelSpec message");
    return 400;
  }
  int st = spec_from(ms, out, true, msg, cap);
  tensorflow__serving__model_spec__free_unpacked(ms, NULL);
  return st;
}

int srv_grpc_kserve_spec(const char *name, const char *version, srv_grpc_spec *o, char *msg,
                         size_t cap) {
  memset(o, 0, sizeof *o);
  if (!name || !*name) {
    snprintf(msg, cap, "name: missing");
    return 400;
  }
  if (strlen(name) >= sizeof o->name) {
    snprintf(msg, cap, "name: longer than %zu bytes", sizeof o->name - 1);
    return 400;
  }
  snprintf(o->name, sizeof o->name, "%s", name);
  o->ref.name = o->name;
  o->ref.sel = SRV_SELECT_LATEST;
  if (version && *version) {
    int64_t v = 0;
    const char *p = version;
    if (*p == '0' || strlen(p) > 18)
      goto bad;
    for (; *p; p++) {
      if (*p < '0' || *p > '9')
        goto bad;
      v = v * 10 + (*p - '0');
    }
    o->ref.sel = SRV_SELECT_VERSION;
    o->ref.version = v;
  }
  return 200;
bad:
  snprintf(msg, cap, "version: '%s' is not a positive integer", version);
  return 400;
}

/* Copies a length-delimited string field out of the wire; "" when absent. */
static int wire_string(const uint8_t *buf, size_t len, int field, char *out, size_t outcap) {
  const uint8_t *v = NULL;
  size_t vlen = 0;
  int f = wire_find(buf, len, field, &v, &vlen);
  out[0] = 0;
  if (f < 0)
    return -1;
  if (f > 0) {
    if (vlen >= outcap)
      return -2;
    memcpy(out, v, vlen);
    out[vlen] = 0;
    if (strlen(out) != vlen)
      return -1;
  }
  return 0;
}

int srv_grpc_peek_kserve_spec(const uint8_t *buf, size_t len, srv_grpc_spec *out, char *msg,
                              size_t cap) {
  char name[256], version[64];
  int a = wire_string(buf, len, 1, name, sizeof name);
  int b = wire_string(buf, len, 2, version, sizeof version);
  if (a == -1 || b == -1) {
    snprintf(msg, cap, "request: not a valid ModelInferRequest message");
    return 400;
  }
  if (a == -2) {
    snprintf(msg, cap, "model_name: longer than %zu bytes", sizeof name - 1);
    return 400;
  }
  if (b == -2) {
    snprintf(msg, cap, "model_version: not a version number");
    return 400;
  }
  int st = srv_grpc_kserve_spec(name, version, out, msg, cap);
  if (st != 200) { /* the same checks, named as ModelInferRequest names the fields */
    char inner[512];
    snprintf(inner, sizeof inner, "%s", msg);
    snprintf(msg, cap, "model_%s", inner);
  }
  return st;
}

/* ---------------------------------------------------------------- values */

static void names_list(char *out, size_t cap, const rt_io_info *ios, int n) {
  size_t o = 0;
  out[0] = 0;
  for (int i = 0; i < n && o < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "%s'%s'", i ? ", " : "", ios[i].name);
}

static float half_to_float(uint16_t h) {
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float f;
  if (exp == 0)
    f = ldexpf((float)mant, -24);
  else if (exp == 31)
    f = mant ? NAN : INFINITY;
  else
    f = ldexpf((float)(mant | 0x400), (int)exp - 25);
  return (h & 0x8000) ? -f : f;
}

/* Source encodings of values on the wire. */
typedef enum src_kind {
  S_F32,     /* float32 (raw or float_val / fp32_contents) */
  S_F16,     /* raw IEEE half */
  S_HALFVAL, /* int32 holding a half's bits (half_val) */
  S_U8,      /* raw bytes */
  S_U8_I32,  /* int32 that must be 0..255 (int_val of DT_UINT8) */
  S_U8_U32,  /* uint32 that must be 0..255 (uint_contents) */
  S_I32,
  S_I64,
  S_BOOL8,  /* raw one byte per value */
  S_PBBOOL, /* protobuf_c_boolean */
} src_kind;

static size_t src_size(src_kind k) {
  switch (k) {
  case S_F32:
  case S_HALFVAL:
  case S_U8_I32:
  case S_U8_U32:
  case S_I32: return 4;
  case S_F16: return 2;
  case S_I64: return 8;
  case S_PBBOOL: return sizeof(protobuf_c_boolean);
  default: return 1;
  }
}

/* Reads element j of src as an integer (integer kinds) or a double. */
static int64_t src_int(src_kind k, const uint8_t *src, int64_t j) {
  size_t sz = src_size(k);
  const uint8_t *p = src + (size_t)j * sz;
  switch (k) {
  case S_U8:
  case S_BOOL8: return *p;
  case S_I32:
  case S_U8_I32:
  case S_HALFVAL: {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
  }
  case S_U8_U32: {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
  }
  case S_I64: {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
  }
  case S_PBBOOL: {
    protobuf_c_boolean v;
    memcpy(&v, p, sizeof v);
    return v != 0;
  }
  default: return 0;
  }
}

/* Fills dst (numel elements of dst->dtype) from n_src source values (n_src == 1 broadcasts).
 * field names the source in messages. */
static int convert(src_kind k, const void *srcv, int64_t n_src, rt_tensor *dst, int64_t numel,
                   const char *field, char *msg, size_t cap) {
  const uint8_t *src = srcv;
  if (numel == 0) /* an empty tensor may come with no data at all: src is NULL then */
    return 200;
  bool bc = n_src == 1 && numel != 1;
  if (!bc && ((k == S_F32 && dst->dtype == RT_DT_F32) || (k == S_I32 && dst->dtype == RT_DT_I32))) {
    memcpy(dst->data, src, (size_t)numel * 4);
    return 200;
  }
  for (int64_t i = 0; i < numel; i++) {
    int64_t j = bc ? 0 : i;
    switch (dst->dtype) {
    case RT_DT_F32: {
      float f;
      if (k == S_F32) {
        memcpy(&f, src + (size_t)j * 4, 4);
      } else if (k == S_F16) {
        uint16_t h;
        memcpy(&h, src + (size_t)j * 2, 2);
        f = half_to_float(h);
      } else if (k == S_HALFVAL) {
        f = half_to_float((uint16_t)src_int(k, src, j));
      } else {
        int64_t v = src_int(k, src, j);
        if (v < 0 || v > 255) {
          snprintf(msg, cap, "%s[%" PRId64 "]: %" PRId64 " is not a uint8 value", field, j, v);
          return 400;
        }
        f = (float)v;
      }
      ((float *)dst->data)[i] = f;
      break;
    }
    case RT_DT_I32: {
      int64_t v = src_int(k, src, j);
      if ((k == S_U8_I32 || k == S_U8_U32) && (v < 0 || v > 255)) {
        snprintf(msg, cap, "%s[%" PRId64 "]: %" PRId64 " is not a uint8 value", field, j, v);
        return 400;
      }
      if (v < INT32_MIN || v > INT32_MAX) {
        snprintf(msg, cap, "%s[%" PRId64 "]: %" PRId64 " does not fit the int32 input", field, j,
                 v);
        return 400;
      }
      ((int32_t *)dst->data)[i] = (int32_t)v;
      break;
    }
    case RT_DT_BOOL: {
      int64_t v = src_int(k, src, j);
      if (k != S_BOOL8 && k != S_PBBOOL && v != 0 && v != 1) {
        snprintf(msg, cap, "%s[%" PRId64 "]: %" PRId64 " is not a bool (0 or 1)", field, j, v);
        return 400;
      }
      ((uint8_t *)dst->data)[i] = v != 0;
      break;
    }
    default: snprintf(msg, cap, "%s: the input's dtype is not supported", field); return 400;
    }
  }
  return 200;
}

/* Shape from the wire into t (rank, dims) and its element count, bounded by limit bytes. */
static int take_shape(const int64_t *dims, size_t rank, rt_tensor *t, int64_t limit,
                      const char *field, char *msg, size_t cap, int64_t *numel) {
  if (rank > RT_MAX_RANK) {
    snprintf(msg, cap, "%s: rank %zu; Orchard takes at most %d dimensions", field, rank,
             RT_MAX_RANK);
    return 400;
  }
  t->rank = (int)rank;
  int64_t n = 1;
  bool over = false;
  for (size_t d = 0; d < rank; d++) {
    if (dims[d] < 0) {
      snprintf(msg, cap, "%s: dimension %zu is %" PRId64 "; every size must be known (>= 0)", field,
               d, dims[d]);
      return 400;
    }
    t->dims[d] = dims[d];
    if (dims[d] != 0 && n > INT64_MAX / dims[d])
      over = true;
    else
      n *= dims[d];
  }
  int64_t esz = (int64_t)rt_dtype_size(t->dtype);
  if (over || n > limit / (esz ? esz : 1)) {
    char shape[160];
    srv_rest_shape_str(shape, sizeof shape, t->dims, t->rank);
    snprintf(msg, cap, "%s: a tensor of shape %s is larger than the %" PRId64 " bytes allowed",
             field, shape, limit);
    return 413;
  }
  *numel = n;
  return 200;
}

static int alloc_data(rt_tensor *t, int64_t numel, const char *where, char *msg, size_t cap) {
  t->data = malloc((size_t)numel * rt_dtype_size(t->dtype) + 1);
  if (!t->data) {
    snprintf(msg, cap, "%s: out of memory", where);
    return 500;
  }
  return 200;
}

/* ---------------------------------------------------------------- TF Serving Predict */

static const char *tf_dtype_name(int dt) {
  switch (dt) {
  case TENSORFLOW__DATA_TYPE__DT_FLOAT: return "DT_FLOAT";
  case TENSORFLOW__DATA_TYPE__DT_DOUBLE: return "DT_DOUBLE";
  case TENSORFLOW__DATA_TYPE__DT_INT32: return "DT_INT32";
  case TENSORFLOW__DATA_TYPE__DT_UINT8: return "DT_UINT8";
  case TENSORFLOW__DATA_TYPE__DT_INT64: return "DT_INT64";
  case TENSORFLOW__DATA_TYPE__DT_BOOL: return "DT_BOOL";
  case TENSORFLOW__DATA_TYPE__DT_HALF: return "DT_HALF";
  case TENSORFLOW__DATA_TYPE__DT_STRING: return "DT_STRING";
  case TENSORFLOW__DATA_TYPE__DT_INVALID: return "DT_INVALID (unset)";
  default: return "an unsupported DataType";
  }
}

static int tf_dtype_of(rt_dtype t) {
  switch (t) {
  case RT_DT_F32: return TENSORFLOW__DATA_TYPE__DT_FLOAT;
  case RT_DT_I32: return TENSORFLOW__DATA_TYPE__DT_INT32;
  case RT_DT_BOOL: return TENSORFLOW__DATA_TYPE__DT_BOOL;
  default: return TENSORFLOW__DATA_TYPE__DT_INVALID;
  }
}

static int decode_tensor_proto(const Tensorflow__TensorProto *tp, const rt_io_info *io,
                               const char *where, int64_t limit, rt_tensor *out, char *msg,
                               size_t cap) {
  char field[400];
  memset(out, 0, sizeof *out);
  out->dtype = io->dtype;
  int dt = (int)tp->dtype;
  bool ok;
  switch (io->dtype) {
  case RT_DT_F32:
    ok = dt == TENSORFLOW__DATA_TYPE__DT_FLOAT || dt == TENSORFLOW__DATA_TYPE__DT_HALF ||
         dt == TENSORFLOW__DATA_TYPE__DT_UINT8;
    break;
  case RT_DT_I32:
    ok = dt == TENSORFLOW__DATA_TYPE__DT_INT32 || dt == TENSORFLOW__DATA_TYPE__DT_INT64 ||
         dt == TENSORFLOW__DATA_TYPE__DT_UINT8;
    break;
  case RT_DT_BOOL: ok = dt == TENSORFLOW__DATA_TYPE__DT_BOOL; break;
  default: ok = false;
  }
  if (!ok) {
    snprintf(msg, cap, "%s.dtype: %s does not fit input '%s' (%s: send %s)", where,
             tf_dtype_name(dt), io->name, rt_dtype_name(io->dtype),
             tf_dtype_name(tf_dtype_of(io->dtype)));
    return 400;
  }
  snprintf(field, sizeof field, "%s.tensor_shape", where);
  int64_t dims[RT_MAX_RANK + 1] = {0};
  size_t rank = 0;
  if (tp->tensor_shape) {
    if (tp->tensor_shape->unknown_rank) {
      snprintf(msg, cap, "%s: unknown_rank is set; give every dimension", field);
      return 400;
    }
    rank = tp->tensor_shape->n_dim;
    for (size_t d = 0; d < rank && d <= RT_MAX_RANK; d++)
      dims[d] = tp->tensor_shape->dim[d]->size;
  }
  int64_t numel;
  int st = take_shape(dims, rank, out, limit, field, msg, cap, &numel);
  if (st != 200)
    return st;
  char shape[160];
  srv_rest_shape_str(shape, sizeof shape, out->dims, out->rank);
  /* Where the values are and how they are encoded. */
  src_kind k;
  const void *src;
  int64_t n_src;
  const char *fname;
  if (tp->tensor_content.len > 0) {
    switch (dt) {
    case TENSORFLOW__DATA_TYPE__DT_FLOAT: k = S_F32; break;
    case TENSORFLOW__DATA_TYPE__DT_HALF: k = S_F16; break;
    case TENSORFLOW__DATA_TYPE__DT_UINT8: k = S_U8; break;
    case TENSORFLOW__DATA_TYPE__DT_INT32: k = S_I32; break;
    case TENSORFLOW__DATA_TYPE__DT_INT64: k = S_I64; break;
    default: k = S_BOOL8; break;
    }
    fname = "tensor_content";
    src = tp->tensor_content.data;
    size_t want = (size_t)numel * src_size(k);
    if (tp->tensor_content.len != want) {
      snprintf(msg, cap, "%s.tensor_content: %zu bytes, but shape %s of %s needs %zu", where,
               tp->tensor_content.len, shape, tf_dtype_name(dt), want);
      return 400;
    }
    n_src = numel;
  } else {
    switch (dt) {
    case TENSORFLOW__DATA_TYPE__DT_FLOAT:
      k = S_F32, src = tp->float_val, n_src = (int64_t)tp->n_float_val, fname = "float_val";
      break;
    case TENSORFLOW__DATA_TYPE__DT_HALF:
      k = S_HALFVAL, src = tp->half_val, n_src = (int64_t)tp->n_half_val, fname = "half_val";
      break;
    case TENSORFLOW__DATA_TYPE__DT_UINT8:
      k = S_U8_I32, src = tp->int_val, n_src = (int64_t)tp->n_int_val, fname = "int_val";
      break;
    case TENSORFLOW__DATA_TYPE__DT_INT32:
      k = S_I32, src = tp->int_val, n_src = (int64_t)tp->n_int_val, fname = "int_val";
      break;
    case TENSORFLOW__DATA_TYPE__DT_INT64:
      k = S_I64, src = tp->int64_val, n_src = (int64_t)tp->n_int64_val, fname = "int64_val";
      break;
    default:
      k = S_PBBOOL, src = tp->bool_val, n_src = (int64_t)tp->n_bool_val, fname = "bool_val";
      break;
    }
    /* One value stands for the whole shape, as in TF Serving (tensor_util's MakeNdarray). */
    if (n_src != numel && !(n_src == 1 && numel > 0)) {
      if (n_src == 0)
        snprintf(msg, cap, "%s: no values: shape %s holds %" PRId64 "; give tensor_content or %s",
                 where, shape, numel, fname);
      else
        snprintf(msg, cap, "%s.%s: %" PRId64 " values, but shape %s holds %" PRId64, where, fname,
                 n_src, shape, numel);
      return 400;
    }
  }
  snprintf(field, sizeof field, "%s.%s", where, fname);
  if ((st = alloc_data(out, numel, where, msg, cap)) != 200)
    return st;
  if ((st = convert(k, src, n_src, out, numel, field, msg, cap)) != 200)
    return st;
  snprintf(field, sizeof field, "%s.tensor_shape", where);
  return srv_rest_check_shape(out, io, field, msg, cap);
}

/* n images for input k would make a tensor over the gRPC front's per-tensor limit (the one
 * take_shape applies to every other tensor): true with the message. */
static bool images_over_limit(const srv_sig *s, int k, int64_t n, int64_t limit_bytes,
                              const char *where, char *msg, size_t cap) {
  const srv_image_spec *spec = srv_rest_image_spec(s, k);
  if (n <= limit_bytes / (int64_t)rt_dtype_size(spec->dtype) / srv_image_spec_numel(spec))
    return false;
  snprintf(msg, cap,
           "%s: %" PRId64 " images for input '%s' make a tensor larger than the %" PRId64
           " bytes allowed",
           where, n, s->in[k].name, limit_bytes);
  return true;
}

/* DT_STRING for an image input: string_val holds one encoded JPEG or PNG per batch item;
 * tensor_shape, when given, is [N]. */
static int decode_images(const srv_sig *s, int k, const Tensorflow__TensorProto *tp,
                         int64_t limit_bytes, const char *where, srv_infer_req *out, char *msg,
                         size_t cap) {
  int64_t n = (int64_t)tp->n_string_val;
  if (tp->tensor_shape && (tp->tensor_shape->unknown_rank || tp->tensor_shape->n_dim != 1 ||
                           tp->tensor_shape->dim[0]->size != n)) {
    snprintf(msg, cap,
             "%s.tensor_shape: DT_STRING images for input '%s' take shape [N] with N = the "
             "%" PRId64 " string_val values",
             where, s->in[k].name, n);
    return 400;
  }
  if (n < 1) {
    snprintf(msg, cap, "%s.string_val: no images (input '%s')", where, s->in[k].name);
    return 400;
  }
  if (images_over_limit(s, k, n, limit_bytes, where, msg, cap))
    return 413;
  rt_tensor *t = &out->in[k];
  int st = srv_rest_image_alloc(s, k, n, t, out, where, msg, cap);
  for (int64_t i = 0; i < n && st == 200; i++) {
    char w[400];
    snprintf(w, sizeof w, "%s.string_val[%" PRId64 "]", where, i);
    st = srv_rest_image_item(s, k, tp->string_val[i].data, tp->string_val[i].len, t, i, out, w,
                             msg, cap);
  }
  if (st == 200)
    st = srv_rest_check_shape(t, &s->in[k], where, msg, cap);
  return st;
}

/* Output indexes by name; 400 on an unknown or repeated one. field_fmt has one %zu. */
static int select_outputs(const srv_sig *s, char **names, size_t n, const char *field_fmt,
                          srv_infer_req *r, char *msg, size_t cap) {
  if (n == 0)
    return 200;
  r->outs = calloc(n, sizeof *r->outs);
  if (!r->outs) {
    snprintf(msg, cap, "out of memory");
    return 500;
  }
  char field[64], list[512];
  for (size_t i = 0; i < n; i++) {
    snprintf(field, sizeof field, field_fmt, i);
    int k = srv_sig_find(s->out, s->n_out, names[i]);
    if (k < 0) {
      names_list(list, sizeof list, s->out, s->n_out);
      snprintf(msg, cap, "%s: unknown output '%s' (the model's outputs: %s)", field, names[i],
               list);
      return 400;
    }
    for (int j = 0; j < r->n_outs; j++)
      if (r->outs[j] == k) {
        snprintf(msg, cap, "%s: output '%s' is asked for twice", field, names[i]);
        return 400;
      }
    r->outs[r->n_outs++] = k;
  }
  return 200;
}

int srv_grpc_tfs_decode(const srv_sig *s, const uint8_t *buf, size_t len, int64_t limit_bytes,
                        srv_infer_req *out, char *msg, size_t cap) {
  memset(out, 0, sizeof *out);
  Tensorflow__Serving__PredictRequest *req =
      tensorflow__serving__predict_request__unpack(NULL, len, buf);
  if (!req) {
    snprintf(msg, cap, "request: not a valid PredictRequest message");
    return 400;
  }
  int st = 200;
  char where[320], list[512];
  out->n_in = s->n_in;
  out->in = calloc((size_t)s->n_in + 1, sizeof *out->in);
  bool *seen = calloc((size_t)s->n_in + 1, sizeof *seen);
  if (!out->in || !seen) {
    snprintf(msg, cap, "out of memory");
    st = 500;
    goto done;
  }
  for (size_t i = 0; i < req->n_inputs && st == 200; i++) {
    const char *key = req->inputs[i]->key ? req->inputs[i]->key : "";
    snprintf(where, sizeof where, "inputs[\"%s\"]", key);
    int k = srv_sig_find(s->in, s->n_in, key);
    if (k < 0) {
      names_list(list, sizeof list, s->in, s->n_in);
      snprintf(msg, cap, "%s: unknown input '%s' (the model's inputs: %s)", where, key, list);
      st = 400;
      break;
    }
    if (seen[k]) {
      snprintf(msg, cap, "%s: input '%s' is given twice", where, s->in[k].name);
      st = 400;
      break;
    }
    seen[k] = true;
    static const Tensorflow__TensorProto empty = TENSORFLOW__TENSOR_PROTO__INIT;
    const Tensorflow__TensorProto *tp = req->inputs[i]->value ? req->inputs[i]->value : &empty;
    if ((int)tp->dtype == TENSORFLOW__DATA_TYPE__DT_STRING && srv_rest_image_spec(s, k))
      st = decode_images(s, k, tp, limit_bytes, where, out, msg, cap);
    else
      st = decode_tensor_proto(tp, &s->in[k], where, limit_bytes, &out->in[k], msg, cap);
  }
  for (int k = 0; k < s->n_in && st == 200; k++)
    if (!seen[k]) {
      names_list(list, sizeof list, s->in, s->n_in);
      snprintf(msg, cap, "inputs: missing input '%s' (the model's inputs: %s)", s->in[k].name,
               list);
      st = 400;
    }
  if (st == 200)
    st = select_outputs(s, req->output_filter, req->n_output_filter, "output_filter[%zu]", out, msg,
                        cap);
done:
  free(seen);
  tensorflow__serving__predict_request__free_unpacked(req, NULL);
  if (st != 200)
    srv_infer_req_free(out);
  return st;
}

static Tensorflow__TensorShapeProto *shape_proto(scratch *sc, const int64_t *dims, int rank) {
  Tensorflow__TensorShapeProto *sp = sc_alloc(sc, 1, sizeof *sp);
  if (!sp)
    return NULL;
  *sp = (Tensorflow__TensorShapeProto)TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
  if (rank < 0) {
    sp->unknown_rank = 1;
    return sp;
  }
  sp->n_dim = (size_t)rank;
  sp->dim = sc_alloc(sc, (size_t)rank, sizeof *sp->dim);
  Tensorflow__TensorShapeProto__Dim *d = sc_alloc(sc, (size_t)rank, sizeof *d);
  if (!sp->dim || !d)
    return NULL;
  for (int i = 0; i < rank; i++) {
    d[i] = (Tensorflow__TensorShapeProto__Dim)TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT;
    d[i].size = dims[i];
    sp->dim[i] = &d[i];
  }
  return sp;
}

static Tensorflow__Serving__ModelSpec *model_spec(scratch *sc, const char *model, int64_t version,
                                                  const char *signature) {
  Tensorflow__Serving__ModelSpec *ms = sc_alloc(sc, 1, sizeof *ms);
  Google__Protobuf__Int64Value *v = sc_alloc(sc, 1, sizeof *v);
  if (!ms || !v)
    return NULL;
  *ms = (Tensorflow__Serving__ModelSpec)TENSORFLOW__SERVING__MODEL_SPEC__INIT;
  *v = (Google__Protobuf__Int64Value)GOOGLE__PROTOBUF__INT64_VALUE__INIT;
  v->value = version;
  ms->name = (char *)model;
  ms->signature_name = (char *)signature;
  ms->version_choice_case = TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION;
  ms->version = v;
  return ms;
}

int srv_grpc_tfs_encode(const srv_sig *s, const srv_infer_req *r, const char *model,
                        int64_t version, const rt_tensor *outs, uint8_t **out, size_t *out_len,
                        char *msg, size_t cap) {
  scratch sc = {0};
  int n = r->n_outs ? r->n_outs : s->n_out;
  Tensorflow__Serving__PredictResponse resp = TENSORFLOW__SERVING__PREDICT_RESPONSE__INIT;
  resp.model_spec = model_spec(&sc, model, version, SRV_GRPC_SIGNATURE);
  resp.n_outputs = (size_t)n;
  resp.outputs = sc_alloc(&sc, (size_t)n, sizeof *resp.outputs);
  Tensorflow__Serving__PredictResponse__OutputsEntry *ents = sc_alloc(&sc, (size_t)n, sizeof *ents);
  Tensorflow__TensorProto *tps = sc_alloc(&sc, (size_t)n, sizeof *tps);
  for (int i = 0; !sc.oom && i < n; i++) {
    int k = r->n_outs ? r->outs[i] : i;
    const rt_tensor *t = &outs[k];
    tps[i] = (Tensorflow__TensorProto)TENSORFLOW__TENSOR_PROTO__INIT;
    tps[i].dtype = tf_dtype_of(t->dtype);
    tps[i].tensor_shape = shape_proto(&sc, t->dims, t->rank);
    tps[i].tensor_content.data = t->data;
    tps[i].tensor_content.len = rt_tensor_nbytes(t);
    ents[i] = (Tensorflow__Serving__PredictResponse__OutputsEntry)
        TENSORFLOW__SERVING__PREDICT_RESPONSE__OUTPUTS_ENTRY__INIT;
    ents[i].key = (char *)s->out[k].name;
    ents[i].value = &tps[i];
    resp.outputs[i] = &ents[i];
  }
  int st = pack(&sc, &resp.base, out, out_len, msg, cap);
  sc_free(&sc);
  return st;
}

/* ---------------------------------------------------------------- KServe ModelInfer */

typedef enum kdt { K_FP32, K_FP16, K_INT32, K_INT64, K_BOOL, K_UINT8, K_COUNT } kdt;
static const char *const KDT_NAMES[K_COUNT] = {"FP32", "FP16", "INT32", "INT64", "BOOL", "UINT8"};

static bool kfits(kdt k, rt_dtype t) {
  switch (t) {
  case RT_DT_F32: return k == K_FP32 || k == K_FP16 || k == K_UINT8;
  case RT_DT_I32: return k == K_INT32 || k == K_INT64 || k == K_UINT8;
  case RT_DT_BOOL: return k == K_BOOL || k == K_UINT8;
  default: return false;
  }
}

static uint32_t rd_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A KServe BYTES tensor for image input k: shape [N], N encoded images from
 * contents.bytes_contents, or from `raw` (the input's raw_input_contents entry) where each
 * element is a 4-byte little-endian length and then that many bytes. */
static int decode_kserve_images(const srv_sig *s, int k,
                                const Inference__ModelInferRequest__InferInputTensor *it,
                                const ProtobufCBinaryData *raw, size_t idx, int64_t limit_bytes,
                                const char *where, srv_infer_req *out, char *msg, size_t cap) {
  const rt_io_info *io = &s->in[k];
  if (it->n_shape != 1 || it->shape[0] < 1) {
    rt_tensor sh = {.rank = it->n_shape <= RT_MAX_RANK ? (int)it->n_shape : 0};
    for (int d = 0; d < sh.rank; d++)
      sh.dims[d] = it->shape[d];
    char shape[160];
    srv_rest_shape_str(shape, sizeof shape, sh.dims, sh.rank);
    snprintf(msg, cap, "%s.shape: %s; BYTES images for input '%s' take shape [N] (N images)", where,
             it->n_shape <= RT_MAX_RANK ? shape : "(too many dimensions)", io->name);
    return 400;
  }
  int64_t n = it->shape[0];
  const Inference__InferTensorContents *c = it->contents;
  size_t n_contents = c ? c->n_bytes_contents : 0;
  char field[400];
  if (raw) {
    if (n_contents) {
      snprintf(msg, cap, "%s.contents: give raw_input_contents or contents, not both", where);
      return 400;
    }
    /* Count the elements first: n comes from the client, the buffer bounds it. */
    int64_t count = 0;
    size_t at = 0;
    while (at < raw->len) {
      if (raw->len - at < 4 || raw->len - at - 4 < rd_le32(raw->data + at)) {
        snprintf(msg, cap,
                 "raw_input_contents[%zu]: element %" PRId64 " at byte %zu: its 4-byte length "
                 "prefix %s (BYTES elements are a little-endian uint32 length, then the bytes)",
                 idx, count, at, raw->len - at < 4 ? "is cut off" : "runs past the end");
        return 400;
      }
      at += 4 + (size_t)rd_le32(raw->data + at);
      count++;
    }
    if (count != n) {
      snprintf(msg, cap,
               "raw_input_contents[%zu]: %" PRId64 " BYTES elements, but %s.shape is [%" PRId64
               "] (input '%s')",
               idx, count, where, n, io->name);
      return 400;
    }
  } else if ((int64_t)n_contents != n) {
    snprintf(msg, cap,
             "%s.contents.bytes_contents: %zu values, but shape [%" PRId64 "] holds %" PRId64
             " (one JPEG or PNG per image, input '%s')",
             where, n_contents, n, n, io->name);
    return 400;
  }
  if (images_over_limit(s, k, n, limit_bytes, where, msg, cap))
    return 413;
  rt_tensor *t = &out->in[k];
  int st = srv_rest_image_alloc(s, k, n, t, out, where, msg, cap);
  size_t at = 0;
  for (int64_t i = 0; i < n && st == 200; i++) {
    const void *bytes;
    size_t len;
    if (raw) {
      len = rd_le32(raw->data + at);
      bytes = raw->data + at + 4;
      at += 4 + len;
      snprintf(field, sizeof field, "raw_input_contents[%zu][%" PRId64 "]", idx, i);
    } else {
      bytes = c->bytes_contents[i].data;
      len = c->bytes_contents[i].len;
      snprintf(field, sizeof field, "%s.contents.bytes_contents[%" PRId64 "]", where, i);
    }
    st = srv_rest_image_item(s, k, bytes, len, t, i, out, field, msg, cap);
  }
  if (st == 200)
    st = srv_rest_check_shape(t, io, where, msg, cap);
  return st;
}

int srv_grpc_kserve_decode(const srv_sig *s, const uint8_t *buf, size_t len, int64_t limit_bytes,
                           srv_infer_req *out, char *msg, size_t cap) {
  memset(out, 0, sizeof *out);
  Inference__ModelInferRequest *req = inference__model_infer_request__unpack(NULL, len, buf);
  if (!req) {
    snprintf(msg, cap, "request: not a valid ModelInferRequest message");
    return 400;
  }
  int st = 200;
  char where[320], field[400], list[512], shape[160];
  out->n_in = s->n_in;
  out->in = calloc((size_t)s->n_in + 1, sizeof *out->in);
  bool *seen = calloc((size_t)s->n_in + 1, sizeof *seen);
  if (!out->in || !seen) {
    snprintf(msg, cap, "out of memory");
    st = 500;
    goto done;
  }
  bool raw = req->n_raw_input_contents > 0;
  if (raw && req->n_raw_input_contents != req->n_inputs) {
    snprintf(msg, cap, "raw_input_contents: %zu entries for %zu inputs (give one per input)",
             req->n_raw_input_contents, req->n_inputs);
    st = 400;
    goto done;
  }
  for (size_t i = 0; i < req->n_inputs && st == 200; i++) {
    const Inference__ModelInferRequest__InferInputTensor *it = req->inputs[i];
    snprintf(where, sizeof where, "inputs[%zu]", i);
    const char *name = it->name ? it->name : "";
    int k = srv_sig_find(s->in, s->n_in, name);
    if (k < 0) {
      names_list(list, sizeof list, s->in, s->n_in);
      snprintf(msg, cap, "%s.name: unknown input '%s' (the model's inputs: %s)", where, name, list);
      st = 400;
      break;
    }
    if (seen[k]) {
      snprintf(msg, cap, "%s.name: input '%s' is given twice", where, s->in[k].name);
      st = 400;
      break;
    }
    seen[k] = true;
    const rt_io_info *io = &s->in[k];
    if (it->datatype && !strcmp(it->datatype, "BYTES") && srv_rest_image_spec(s, k)) {
      st = decode_kserve_images(s, k, it, raw ? &req->raw_input_contents[i] : NULL, i,
                                limit_bytes, where, out, msg, cap);
      continue;
    }
    int kd = 0;
    while (kd < K_COUNT && strcmp(KDT_NAMES[kd], it->datatype ? it->datatype : "") != 0)
      kd++;
    if (kd == K_COUNT || !kfits((kdt)kd, io->dtype)) {
      snprintf(msg, cap, "%s.datatype: '%s' does not fit input '%s' (%s: use %s)", where,
               it->datatype ? it->datatype : "", io->name, rt_dtype_name(io->dtype),
               srv_kserve_datatype(io->dtype));
      st = 400;
      break;
    }
    rt_tensor *t = &out->in[k];
    t->dtype = io->dtype;
    int64_t numel;
    snprintf(field, sizeof field, "%s.shape", where);
    if ((st = take_shape(it->shape, it->n_shape, t, limit_bytes, field, msg, cap, &numel)) != 200)
      break;
    srv_rest_shape_str(shape, sizeof shape, t->dims, t->rank);
    src_kind sk;
    const void *src;
    int64_t n_src;
    const Inference__InferTensorContents *c = it->contents;
    if (raw) {
      if (c && (c->n_fp32_contents || c->n_int_contents || c->n_int64_contents ||
                c->n_bool_contents || c->n_uint_contents)) {
        snprintf(msg, cap, "%s.contents: give raw_input_contents or contents, not both", where);
        st = 400;
        break;
      }
      static const src_kind RAW[K_COUNT] = {S_F32, S_F16, S_I32, S_I64, S_BOOL8, S_U8};
      sk = RAW[kd];
      snprintf(field, sizeof field, "raw_input_contents[%zu]", i);
      const ProtobufCBinaryData *b = &req->raw_input_contents[i];
      size_t want = (size_t)numel * src_size(sk);
      if (b->len != want) {
        snprintf(msg, cap, "%s: %zu bytes, but shape %s of %s needs %zu", field, b->len, shape,
                 KDT_NAMES[kd], want);
        st = 400;
        break;
      }
      src = b->data;
      n_src = numel;
    } else {
      static const Inference__InferTensorContents none = INFERENCE__INFER_TENSOR_CONTENTS__INIT;
      if (!c)
        c = &none;
      const char *fname;
      switch (kd) {
      case K_FP32:
        sk = S_F32, src = c->fp32_contents, n_src = (int64_t)c->n_fp32_contents,
        fname = "fp32_contents";
        break;
      case K_INT32:
        sk = S_I32, src = c->int_contents, n_src = (int64_t)c->n_int_contents,
        fname = "int_contents";
        break;
      case K_INT64:
        sk = S_I64, src = c->int64_contents, n_src = (int64_t)c->n_int64_contents,
        fname = "int64_contents";
        break;
      case K_BOOL:
        sk = S_PBBOOL, src = c->bool_contents, n_src = (int64_t)c->n_bool_contents,
        fname = "bool_contents";
        break;
      case K_UINT8:
        sk = S_U8_U32, src = c->uint_contents, n_src = (int64_t)c->n_uint_contents,
        fname = "uint_contents";
        break;
      default:
        snprintf(msg, cap, "%s.datatype: FP16 values come only in raw_input_contents", where);
        st = 400;
        continue;
      }
      snprintf(field, sizeof field, "%s.contents.%s", where, fname);
      if (n_src != numel) {
        snprintf(msg, cap, "%s: %" PRId64 " values, but shape %s holds %" PRId64, field, n_src,
                 shape, numel);
        st = 400;
        break;
      }
    }
    if ((st = alloc_data(t, numel, where, msg, cap)) != 200)
      break;
    if ((st = convert(sk, src, n_src, t, numel, field, msg, cap)) != 200)
      break;
    snprintf(field, sizeof field, "%s.shape", where);
    st = srv_rest_check_shape(t, io, field, msg, cap);
  }
  for (int k = 0; k < s->n_in && st == 200; k++)
    if (!seen[k]) {
      names_list(list, sizeof list, s->in, s->n_in);
      snprintf(msg, cap, "inputs: missing input '%s' (the model's inputs: %s)", s->in[k].name,
               list);
      st = 400;
    }
  if (st == 200 && req->n_outputs) {
    char **names = calloc(req->n_outputs, sizeof *names);
    if (!names) {
      snprintf(msg, cap, "out of memory");
      st = 500;
    } else {
      for (size_t i = 0; i < req->n_outputs; i++)
        names[i] = req->outputs[i]->name ? req->outputs[i]->name : "";
      st = select_outputs(s, names, req->n_outputs, "outputs[%zu].name", out, msg, cap);
      free(names);
    }
  }
  if (st == 200 && req->id && *req->id && !(out->id = strdup(req->id))) {
    snprintf(msg, cap, "out of memory");
    st = 500;
  }
done:
  free(seen);
  inference__model_infer_request__free_unpacked(req, NULL);
  if (st != 200)
    srv_infer_req_free(out);
  return st;
}

int srv_grpc_kserve_encode(const srv_sig *s, const srv_infer_req *r, const char *model,
                           const char *version, const rt_tensor *outs, uint8_t **out,
                           size_t *out_len, char *msg, size_t cap) {
  scratch sc = {0};
  int n = r->n_outs ? r->n_outs : s->n_out;
  Inference__ModelInferResponse resp = INFERENCE__MODEL_INFER_RESPONSE__INIT;
  resp.model_name = (char *)model;
  resp.model_version = (char *)version;
  resp.id = r->id ? r->id : "";
  resp.n_outputs = (size_t)n;
  resp.outputs = sc_alloc(&sc, (size_t)n, sizeof *resp.outputs);
  Inference__ModelInferResponse__InferOutputTensor *ts = sc_alloc(&sc, (size_t)n, sizeof *ts);
  resp.n_raw_output_contents = (size_t)n;
  resp.raw_output_contents = sc_alloc(&sc, (size_t)n, sizeof *resp.raw_output_contents);
  for (int i = 0; !sc.oom && i < n; i++) {
    int k = r->n_outs ? r->outs[i] : i;
    const rt_tensor *t = &outs[k];
    ts[i] = (Inference__ModelInferResponse__InferOutputTensor)
        INFERENCE__MODEL_INFER_RESPONSE__INFER_OUTPUT_TENSOR__INIT;
    ts[i].name = (char *)s->out[k].name;
    ts[i].datatype = (char *)srv_kserve_datatype(t->dtype);
    ts[i].n_shape = (size_t)t->rank;
    ts[i].shape = (int64_t *)t->dims;
    resp.outputs[i] = &ts[i];
    resp.raw_output_contents[i].data = t->data;
    resp.raw_output_contents[i].len = rt_tensor_nbytes(t);
  }
  int st = pack(&sc, &resp.base, out, out_len, msg, cap);
  sc_free(&sc);
  return st;
}

/* ---------------------------------------------------------------- metadata and status */

int srv_grpc_tfs_metadata_request(const uint8_t *buf, size_t len, srv_grpc_spec *spec, char *msg,
                                  size_t cap) {
  Tensorflow__Serving__GetModelMetadataRequest *req =
      tensorflow__serving__get_model_metadata_request__unpack(NULL, len, buf);
  if (!req) {
    snprintf(msg, cap, "request: not a valid GetModelMetadataRequest message");
    return 400;
  }
  int st = spec_from(req->model_spec, spec, false, msg, cap);
  if (st == 200 && req->n_metadata_field == 0) {
    snprintf(msg, cap, "metadata_field: empty; ask for \"signature_def\"");
    st = 400;
  }
  for (size_t i = 0; st == 200 && i < req->n_metadata_field; i++)
    if (strcmp(req->metadata_field[i], "signature_def") != 0) {
      snprintf(msg, cap, "metadata_field[%zu]: '%s' is not supported (only \"signature_def\")", i,
               req->metadata_field[i]);
      st = 400;
    }
  tensorflow__serving__get_model_metadata_request__free_unpacked(req, NULL);
  return st;
}

static Tensorflow__TensorInfo *tensor_info(scratch *sc, const rt_io_info *io) {
  Tensorflow__TensorInfo *ti = sc_alloc(sc, 1, sizeof *ti);
  if (!ti)
    return NULL;
  *ti = (Tensorflow__TensorInfo)TENSORFLOW__TENSOR_INFO__INIT;
  ti->encoding_case = TENSORFLOW__TENSOR_INFO__ENCODING_NAME;
  ti->name = (char *)io->name;
  ti->dtype = tf_dtype_of(io->dtype);
  ti->tensor_shape = shape_proto(sc, io->dims, io->rank);
  return ti;
}

int srv_grpc_tfs_metadata(const srv_sig *s, const char *model, int64_t version, uint8_t **out,
                          size_t *out_len, char *msg, size_t cap) {
  scratch sc = {0};
  Tensorflow__SignatureDef def = TENSORFLOW__SIGNATURE_DEF__INIT;
  def.method_name = "tensorflow/serving/predict";
  def.n_inputs = (size_t)s->n_in;
  def.inputs = sc_alloc(&sc, (size_t)s->n_in, sizeof *def.inputs);
  Tensorflow__SignatureDef__InputsEntry *ie = sc_alloc(&sc, (size_t)s->n_in, sizeof *ie);
  for (int i = 0; !sc.oom && i < s->n_in; i++) {
    ie[i] = (Tensorflow__SignatureDef__InputsEntry)TENSORFLOW__SIGNATURE_DEF__INPUTS_ENTRY__INIT;
    ie[i].key = (char *)s->in[i].name;
    ie[i].value = tensor_info(&sc, &s->in[i]);
    def.inputs[i] = &ie[i];
  }
  def.n_outputs = (size_t)s->n_out;
  def.outputs = sc_alloc(&sc, (size_t)s->n_out, sizeof *def.outputs);
  Tensorflow__SignatureDef__OutputsEntry *oe = sc_alloc(&sc, (size_t)s->n_out, sizeof *oe);
  for (int i = 0; !sc.oom && i < s->n_out; i++) {
    oe[i] = (Tensorflow__SignatureDef__OutputsEntry)TENSORFLOW__SIGNATURE_DEF__OUTPUTS_ENTRY__INIT;
    oe[i].key = (char *)s->out[i].name;
    oe[i].value = tensor_info(&sc, &s->out[i]);
    def.outputs[i] = &oe[i];
  }
  Tensorflow__Serving__SignatureDefMap__SignatureDefEntry se =
      TENSORFLOW__SERVING__SIGNATURE_DEF_MAP__SIGNATURE_DEF_ENTRY__INIT;
  se.key = SRV_GRPC_SIGNATURE;
  se.value = &def;
  Tensorflow__Serving__SignatureDefMap__SignatureDefEntry *sep = &se;
  Tensorflow__Serving__SignatureDefMap map = TENSORFLOW__SERVING__SIGNATURE_DEF_MAP__INIT;
  map.n_signature_def = 1;
  map.signature_def = &sep;
  uint8_t *packed = NULL;
  size_t packed_len = 0;
  int st = pack(&sc, &map.base, &packed, &packed_len, msg, cap);
  if (st != 200) {
    sc_free(&sc);
    return st;
  }
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  any.type_url = "type.googleapis.com/tensorflow.serving.SignatureDefMap";
  any.value.data = packed;
  any.value.len = packed_len;
  Tensorflow__Serving__GetModelMetadataResponse__MetadataEntry me =
      TENSORFLOW__SERVING__GET_MODEL_METADATA_RESPONSE__METADATA_ENTRY__INIT;
  me.key = "signature_def";
  me.value = &any;
  Tensorflow__Serving__GetModelMetadataResponse__MetadataEntry *mep = &me;
  Tensorflow__Serving__GetModelMetadataResponse resp =
      TENSORFLOW__SERVING__GET_MODEL_METADATA_RESPONSE__INIT;
  resp.model_spec = model_spec(&sc, model, version, "");
  resp.n_metadata = 1;
  resp.metadata = &mep;
  st = pack(&sc, &resp.base, out, out_len, msg, cap);
  free(packed);
  sc_free(&sc);
  return st;
}

int srv_grpc_tfs_status_request(const uint8_t *buf, size_t len, srv_grpc_spec *spec, char *msg,
                                size_t cap) {
  Tensorflow__Serving__GetModelStatusRequest *req =
      tensorflow__serving__get_model_status_request__unpack(NULL, len, buf);
  if (!req) {
    snprintf(msg, cap, "request: not a valid GetModelStatusRequest message");
    return 400;
  }
  int st = spec_from(req->model_spec, spec, false, msg, cap);
  tensorflow__serving__get_model_status_request__free_unpacked(req, NULL);
  return st;
}

static int state_of(const char *s) {
  static const struct {
    const char *name;
    int v;
  } T[] = {{"START", 10}, {"LOADING", 20}, {"AVAILABLE", 30}, {"UNLOADING", 40}, {"END", 50}};
  for (size_t i = 0; s && i < sizeof T / sizeof T[0]; i++)
    if (!strcmp(T[i].name, s))
      return T[i].v;
  return 0;
}

static int error_code_of(const char *s) {
  static const char *const CODES[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};
  for (size_t i = 0; s && i < sizeof CODES / sizeof CODES[0]; i++)
    if (!strcmp(CODES[i], s))
      return (int)i;
  return 2; /* UNKNOWN */
}

int srv_grpc_tfs_status(json_t *status, uint8_t **out, size_t *out_len, char *msg, size_t cap) {
  scratch sc = {0};
  json_t *list = json_object_get(status, "model_version_status");
  size_t n = json_array_size(list);
  Tensorflow__Serving__GetModelStatusResponse resp =
      TENSORFLOW__SERVING__GET_MODEL_STATUS_RESPONSE__INIT;
  resp.n_model_version_status = n;
  resp.model_version_status = sc_alloc(&sc, n, sizeof *resp.model_version_status);
  Tensorflow__Serving__ModelVersionStatus *vs = sc_alloc(&sc, n, sizeof *vs);
  Tensorflow__Serving__StatusProto *sp = sc_alloc(&sc, n, sizeof *sp);
  for (size_t i = 0; !sc.oom && i < n; i++) {
    json_t *e = json_array_get(list, i);
    json_t *est = json_object_get(e, "status");
    vs[i] =
        (Tensorflow__Serving__ModelVersionStatus)TENSORFLOW__SERVING__MODEL_VERSION_STATUS__INIT;
    sp[i] = (Tensorflow__Serving__StatusProto)TENSORFLOW__SERVING__STATUS_PROTO__INIT;
    const char *ver = json_string_value(json_object_get(e, "version"));
    vs[i].version = ver ? strtoll(ver, NULL, 10) : 0;
    vs[i].state = state_of(json_string_value(json_object_get(e, "state")));
    sp[i].error_code = error_code_of(json_string_value(json_object_get(est, "error_code")));
    const char *em = json_string_value(json_object_get(est, "error_message"));
    sp[i].error_message = (char *)(em ? em : "");
    vs[i].status = &sp[i];
    resp.model_version_status[i] = &vs[i];
  }
  int st = pack(&sc, &resp.base, out, out_len, msg, cap);
  sc_free(&sc);
  return st;
}

int srv_grpc_kserve_metadata(const srv_sig *s, const char *model, const char *platform,
                             json_t *versions, uint8_t **out, size_t *out_len, char *msg,
                             size_t cap) {
  scratch sc = {0};
  Inference__ModelMetadataResponse resp = INFERENCE__MODEL_METADATA_RESPONSE__INIT;
  resp.name = (char *)model;
  resp.platform = (char *)(platform ? platform : "");
  size_t nv = json_array_size(versions);
  resp.n_versions = nv;
  resp.versions = sc_alloc(&sc, nv, sizeof *resp.versions);
  for (size_t i = 0; !sc.oom && i < nv; i++) {
    const char *v = json_string_value(json_array_get(versions, i));
    resp.versions[i] = (char *)(v ? v : "");
  }
  for (int side = 0; side < 2; side++) {
    int n = side ? s->n_out : s->n_in;
    const rt_io_info *ios = side ? s->out : s->in;
    Inference__ModelMetadataResponse__TensorMetadata **arr = sc_alloc(&sc, (size_t)n, sizeof *arr);
    Inference__ModelMetadataResponse__TensorMetadata *tm = sc_alloc(&sc, (size_t)n, sizeof *tm);
    for (int i = 0; !sc.oom && i < n; i++) {
      tm[i] = (Inference__ModelMetadataResponse__TensorMetadata)
          INFERENCE__MODEL_METADATA_RESPONSE__TENSOR_METADATA__INIT;
      tm[i].name = (char *)ios[i].name;
      tm[i].datatype = (char *)srv_kserve_datatype(ios[i].dtype);
      /* Unknown rank: shape [-1], as the REST metadata gives it. */
      if (ios[i].rank < 0) {
        static int64_t unknown[1] = {-1};
        tm[i].n_shape = 1;
        tm[i].shape = unknown;
      } else {
        tm[i].n_shape = (size_t)ios[i].rank;
        tm[i].shape = (int64_t *)ios[i].dims;
      }
      arr[i] = &tm[i];
    }
    if (side) {
      resp.n_outputs = (size_t)n;
      resp.outputs = arr;
    } else {
      resp.n_inputs = (size_t)n;
      resp.inputs = arr;
    }
  }
  int st = pack(&sc, &resp.base, out, out_len, msg, cap);
  sc_free(&sc);
  return st;
}
