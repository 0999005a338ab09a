/*
 * codec.h — protobuf messages of the gRPC front <-> Orchard's tensors and metadata (issue 6).
 *
 * Pure functions over srv_sig, like the REST codecs (rest.h): they never run a model. Status
 * is an HTTP-like code (200, 400, 404, 413, 500) that server.c maps to a gRPC status through
 * one table (srv_grpc_status_of); messages name the protobuf field that was wrong
 * ("inputs[\"x\"].tensor_shape: ...", "inputs[1].datatype: ...").
 *
 * Decoded tensors are in the model's input order and own their data (srv_infer_req_free).
 * Encoded responses are malloc'd protobuf bytes; output tensor data is packed straight from
 * the session's views, so encoding must happen before the worker runs again.
 */
#ifndef ORCHARD_SRV_GRPC_CODEC_H
#define ORCHARD_SRV_GRPC_CODEC_H

#include "models.h"
#include "rest.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_GRPC_SIGNATURE "serving_default"

/* A model named by a request: TF Serving's ModelSpec or KServe's (name, version). */
typedef struct srv_grpc_spec {
  char name[256];
  char label[256];
  srv_model_ref ref; /* name and label point into this struct */
} srv_grpc_spec;

/* Reads only field `field` (a ModelSpec) of a TF Serving request, skipping the rest of the
 * message unparsed, so the loop thread can route a Predict without touching its tensors. */
int srv_grpc_peek_tfs_spec(const uint8_t *buf, size_t len, int field, srv_grpc_spec *out, char *msg,
                           size_t cap);
/* Same for ModelInferRequest (model_name = 1, model_version = 2). */
int srv_grpc_peek_kserve_spec(const uint8_t *buf, size_t len, srv_grpc_spec *out, char *msg,
                              size_t cap);
/* KServe (name, version) as given by ModelReady / ModelMetadata. */
int srv_grpc_kserve_spec(const char *name, const char *version, srv_grpc_spec *out, char *msg,
                         size_t cap);

/* Predict: decode on a worker. limit_bytes bounds one decoded tensor (a single *_val value is
 * broadcast to the whole shape, as TF Serving does, so the message size alone does not). */
int srv_grpc_tfs_decode(const srv_sig *s, const uint8_t *buf, size_t len, int64_t limit_bytes,
                        srv_infer_req *out, char *msg, size_t cap);
int srv_grpc_tfs_encode(const srv_sig *s, const srv_infer_req *r, const char *model,
                        int64_t version, const rt_tensor *outs, uint8_t **out, size_t *out_len,
                        char *msg, size_t cap);
int srv_grpc_kserve_decode(const srv_sig *s, const uint8_t *buf, size_t len, int64_t limit_bytes,
                           srv_infer_req *out, char *msg, size_t cap);
int srv_grpc_kserve_encode(const srv_sig *s, const srv_infer_req *r, const char *model,
                           const char *version, const rt_tensor *outs, uint8_t **out,
                           size_t *out_len, char *msg, size_t cap);

/* GetModelMetadata response (metadata["signature_def"] = Any(SignatureDefMap)). The request
 * must ask for "signature_def" (checked by srv_grpc_tfs_metadata_fields). */
int srv_grpc_tfs_metadata_request(const uint8_t *buf, size_t len, srv_grpc_spec *spec, char *msg,
                                  size_t cap);
int srv_grpc_tfs_metadata(const srv_sig *s, const char *model, int64_t version, uint8_t **out,
                          size_t *out_len, char *msg, size_t cap);
/* GetModelStatus: request spec, and the response from srv_models_status's JSON. */
int srv_grpc_tfs_status_request(const uint8_t *buf, size_t len, srv_grpc_spec *spec, char *msg,
                                size_t cap);
int srv_grpc_tfs_status(json_t *status, uint8_t **out, size_t *out_len, char *msg, size_t cap);
/* KServe ModelMetadata; versions is a JSON list of strings (borrowed). */
int srv_grpc_kserve_metadata(const srv_sig *s, const char *model, const char *platform,
                             json_t *versions, uint8_t **out, size_t *out_len, char *msg,
                             size_t cap);

#endif
