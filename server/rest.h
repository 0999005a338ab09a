/*
 * rest.h — the REST codecs: request JSON -> input tensors, output tensors -> response JSON,
 * for the TensorFlow Serving API (rest_tfs.c) and KServe v2 / Open Inference Protocol
 * (rest_kserve.c), plus the value helpers both share (rest_common.c).
 *
 * Codecs are pure: they see a model only through srv_sig (its inputs and outputs), never
 * run anything, and say what was wrong with a request as an HTTP status and a message that
 * names the JSON field ("instances[3][1]: ...", "inputs[0].datatype: ..."). Decoded tensors
 * are in the model's input order and own their data.
 *
 * Requests are read with jsonin.h's strict reader (a token tape, no DOM: numbers convert from
 * the body's text straight into the tensors); jansson only builds the small metadata answers.
 *
 * Tensor names: a request may name an input exactly as the model does ("input_1:0") or
 * without the ":0" output-index suffix TF.js signatures carry ("input_1").
 *
 * {"b64": "..."} (TF Serving API): the model has no string tensors, so a b64 value stands
 * for one whole tensor value given as bytes: either raw little-endian elements of the
 * input's dtype, or one uint8 per element (an image's pixels; converted to the dtype). Its
 * shape is the input's shape (minus the batch dimension in the row format); at most one
 * unknown dimension is inferred from the byte count, preferring the raw reading.
 *
 * Encoded images: for an input that orchard.json declares an image input (srv_sig.garden),
 * a b64 value whose bytes are a JPEG or PNG (by their magic bytes), a KServe BYTES tensor of
 * base64 strings, gRPC string_val bytes or a raw image body are decoded and converted into
 * one batch item each (image.h). The first image input's original sizes are kept in the
 * request for the task answers of :annotate.
 */
#ifndef ORCHARD_SRV_REST_H
#define ORCHARD_SRV_REST_H

#include "buf.h"
#include "jsonin.h"
#include "orchard/rt.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct srv_garden srv_garden; /* garden.h */

/* What a codec knows of a model: its inputs and outputs (names point into the model), and
 * its orchard.json (image inputs, task). */
typedef struct srv_sig {
  int n_in, n_out;
  rt_io_info *in, *out;
  srv_garden *garden; /* owned (srv_sig_free frees it); NULL: no orchard.json */
} srv_sig;

/* Copies the io descriptions (not the names) of m; free with srv_sig_free. */
bool srv_sig_from_model(const rt_model *m, srv_sig *out);
void srv_sig_free(srv_sig *s);
/* Index of the input / output called `name` (exact, or name + ":0"); -1 if none. */
int srv_sig_find(const rt_io_info *ios, int n, const char *name);

typedef struct srv_infer_req {
  int n_in;
  rt_tensor *in; /* model input order; each data malloc'd */
  /* TF Serving */
  bool row; /* "instances" (row) rather than "inputs" (columnar) */
  int64_t n_instances;
  /* KServe */
  char *id;   /* echoed in the response; NULL if absent */
  int n_outs; /* outputs to return, in this order; 0 = all */
  int *outs;
  /* Encoded images: the original width and height of each batch item of the first image
   * input (2 per item); NULL when the request carried no encoded image. */
  int64_t n_sizes;
  int32_t *sizes;
} srv_infer_req;

void srv_infer_req_free(srv_infer_req *r);

/* Each returns 200 on success, else an HTTP status with the message in msg. */
int srv_tfs_decode(const srv_sig *s, const char *body, size_t len, srv_infer_req *out, char *msg,
                   size_t cap);
/* A raw image body (Content-Type image/jpeg or image/png) for the model's one input: a
 * row-format request of one instance. */
int srv_tfs_decode_image(const srv_sig *s, const char *body, size_t len, srv_infer_req *out,
                         char *msg, size_t cap);
int srv_tfs_encode(const srv_sig *s, const srv_infer_req *r, const rt_tensor *outs, srv_buf *b,
                   char *msg, size_t cap);
int srv_kserve_decode(const srv_sig *s, const char *body, size_t len, srv_infer_req *out, char *msg,
                      size_t cap);
int srv_kserve_encode(const srv_sig *s, const srv_infer_req *r, const char *model,
                      const char *version, const rt_tensor *outs, srv_buf *b, char *msg,
                      size_t cap);

/* GET /v1/models/{name}/metadata body (TF Serving's GetModelMetadata in JSON). */
json_t *srv_tfs_metadata(const srv_sig *s, const char *model, int64_t version);
/* GET /v2/models/{name}[/versions/{v}] body. versions: array of strings (stolen). */
json_t *srv_kserve_metadata(const srv_sig *s, const char *model, const char *platform,
                            json_t *versions);
const char *srv_kserve_datatype(rt_dtype t); /* "FP32", "INT32", "BOOL" */

/* ---- shared by the codecs (rest_common.c) ---- */

/* Index of the input / output whose name is name[0..len) (exact, or name + ":0"); -1 if none. */
int srv_sig_findn(const rt_io_info *ios, int n, const char *name, size_t len);

/* Values below are tokens of a document read by srv_jsonin_parse (jsonin.h). */

/* Shape of a nested JSON array (first elements); rank 0 for a scalar. -1 if deeper than
 * RT_MAX_RANK. */
int srv_rest_shape_of(const srv_jsonin_doc *d, uint32_t v, int64_t *dims);
/* Decodes the nested array v of exactly `dims` into dst (dtype elements). `where` is the
 * field name used in messages ("instances[2]"), `io` the input it feeds. dst NULL only
 * checks (finds where a shape too large to allocate is ragged). */
int srv_rest_fill(const srv_jsonin_doc *d, uint32_t v, const int64_t *dims, int rank,
                  const rt_io_info *io, void *dst, const char *where, char *msg, size_t cap);
/* Decodes {"b64": ...} for input io into a new tensor (shape from io, leading dims `skip`
 * dropped for the row format). */
int srv_rest_b64(const srv_jsonin_doc *d, uint32_t v, const rt_io_info *io, int skip,
                 rt_tensor *out, const char *where, char *msg, size_t cap);
bool srv_rest_is_b64(const srv_jsonin_doc *d, uint32_t v);
/* Checks a decoded tensor's rank and known dims against the input. */
int srv_rest_check_shape(const rt_tensor *t, const rt_io_info *io, const char *where, char *msg,
                         size_t cap);
/* The image spec of input k (orchard.json), NULL if it takes no encoded images. */
const struct srv_image_spec *srv_rest_image_spec(const srv_sig *s, int k);
/* True when v is {"b64": "..."} whose bytes start like a JPEG or PNG. */
bool srv_rest_is_b64_image(const srv_jsonin_doc *d, uint32_t v);
/* An image batch of n items for input k into *t (data allocated, shape from the spec); when
 * k is the first image input, also req->sizes. 413 when the batch would pass 1 GiB. */
int srv_rest_image_alloc(const srv_sig *s, int k, int64_t n, rt_tensor *t, srv_infer_req *req,
                         const char *where, char *msg, size_t cap);
/* Decodes the encoded image bytes[0..len) into item i of t (from srv_rest_image_alloc).
 * Messages: "<where>: input '<name>': <what>". */
int srv_rest_image_item(const srv_sig *s, int k, const void *bytes, size_t len, rt_tensor *t,
                        int64_t i, srv_infer_req *req, const char *where, char *msg, size_t cap);
/* The same from a base64 string. */
int srv_rest_image_b64(const srv_sig *s, int k, const char *b64, size_t len, rt_tensor *t,
                       int64_t i, srv_infer_req *req, const char *where, char *msg, size_t cap);
/* Writes t[offset ...] over dims[from..rank) as nested JSON arrays. */
void srv_rest_write_nested(srv_buf *b, const rt_tensor *t, int from, int64_t offset);
/* Writes all elements of t as one flat JSON array. */
void srv_rest_write_flat(srv_buf *b, const rt_tensor *t);
void srv_rest_shape_str(char *out, size_t cap, const int64_t *dims, int rank);

#endif
