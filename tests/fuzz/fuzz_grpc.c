/*
 * fuzz_grpc.c — the gRPC request decoders: the wire walker (server/grpc/wire.h) over each
 * method's request type, protobuf-c unpack, the routing peeks, and codec.h's request ->
 * tensors decoders with, for requests they accept, the response encoders. Only the public
 * entry points, in the order server.c calls them (walker, then peek / decode).
 *
 * The first byte picks the method (low 3 bits) and one of two signatures (bit 3): several
 * named inputs of each dtype with unknown dims, or one float image input. Seeds:
 * tests/fuzz/seeds/fuzz_grpc/ (real requests packed by the python stubs, with that byte in
 * front).
 */
#include "fuzz_common.h"

#ifdef ORCHARD_HAVE_GRPC
#include "grpc/codec.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/wire.h"
#include "grpc_predict_v2.pb-c.h"
#include "tensorflow_serving/apis/get_model_metadata.pb-c.h"
#include "tensorflow_serving/apis/get_model_status.pb-c.h"
#include "tensorflow_serving/apis/predict.pb-c.h"

static rt_io_info many[] = {
    {.name = "x:0", .dtype = RT_DT_F32, .rank = 3, .dims = {-1, 2, 3}},
    {.name = "ids", .dtype = RT_DT_I32, .rank = 2, .dims = {-1, -1}},
    {.name = "mask", .dtype = RT_DT_BOOL, .rank = 1, .dims = {-1}},
};
static rt_io_info one[] = {{.name = "image", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 4, 4, 1}}};

/* Bounds one decoded tensor as server.c's tensor_limit does, small enough for libFuzzer's
 * -malloc_limit_mb. */
#define LIMIT_BYTES (INT64_C(16) << 20)

static void unpack_free(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n) {
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, b);
  if (m)
    protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  srv_sig sig = data[0] & 8 ? (srv_sig){1, 1, one, one, NULL} : (srv_sig){3, 3, many, many, NULL};
  const uint8_t *b = data + 1;
  size_t n = size - 1;
  char msg[1024], where[512];
  srv_grpc_spec spec;
  srv_infer_req r;
  memset(&r, 0, sizeof r);
  uint8_t *out = NULL;
  size_t out_len = 0;
  switch (data[0] & 7) {
  case 0: /* Predict */
    if (srv_wire_check(&tensorflow__serving__predict_request__descriptor, b, n, where,
                       sizeof where) == SRV_WIRE_NUL)
      return 0; /* refused before anything else reads it, as server.c does */
    unpack_free(&tensorflow__serving__predict_request__descriptor, b, n);
    if (srv_grpc_peek_tfs_spec(b, n, 1, &spec, msg, sizeof msg) != 200)
      return 0;
    if (srv_grpc_tfs_decode(&sig, b, n, LIMIT_BYTES, &r, msg, sizeof msg) == 200)
      (void)srv_grpc_tfs_encode(&sig, &r, spec.name, 1, r.in, &out, &out_len, msg, sizeof msg);
    break;
  case 1: /* ModelInfer */
    if (srv_wire_check(&inference__model_infer_request__descriptor, b, n, where, sizeof where) ==
        SRV_WIRE_NUL)
      return 0;
    unpack_free(&inference__model_infer_request__descriptor, b, n);
    if (srv_grpc_peek_kserve_spec(b, n, &spec, msg, sizeof msg) != 200)
      return 0;
    if (srv_grpc_kserve_decode(&sig, b, n, LIMIT_BYTES, &r, msg, sizeof msg) == 200)
      (void)srv_grpc_kserve_encode(&sig, &r, spec.name, "1", r.in, &out, &out_len, msg, sizeof msg);
    break;
  case 2: /* GetModelMetadata */
    if (srv_wire_check(&tensorflow__serving__get_model_metadata_request__descriptor, b, n, where,
                       sizeof where) != SRV_WIRE_NUL &&
        srv_grpc_tfs_metadata_request(b, n, &spec, msg, sizeof msg) == 200)
      (void)srv_grpc_tfs_metadata(&sig, spec.name, 1, &out, &out_len, msg, sizeof msg);
    break;
  case 3: /* GetModelStatus */
    if (srv_wire_check(&tensorflow__serving__get_model_status_request__descriptor, b, n, where,
                       sizeof where) != SRV_WIRE_NUL)
      (void)srv_grpc_tfs_status_request(b, n, &spec, msg, sizeof msg);
    break;
  case 4: /* ModelReady / ModelMetadata */
  case 5: {
    const ProtobufCMessageDescriptor *d = (data[0] & 7) == 4
                                              ? &inference__model_ready_request__descriptor
                                              : &inference__model_metadata_request__descriptor;
    if (srv_wire_check(d, b, n, where, sizeof where) == SRV_WIRE_NUL)
      return 0;
    Inference__ModelReadyRequest *m = inference__model_ready_request__unpack(NULL, n, b);
    if (m) {
      (void)srv_grpc_kserve_spec(m->name, m->version, &spec, msg, sizeof msg);
      inference__model_ready_request__free_unpacked(m, NULL);
    }
    break;
  }
  default: /* Health/Check */
    if (srv_wire_check(&grpc__health__v1__health_check_request__descriptor, b, n, where,
                       sizeof where) != SRV_WIRE_NUL)
      unpack_free(&grpc__health__v1__health_check_request__descriptor, b, n);
    break;
  }
  free(out);
  srv_infer_req_free(&r);
  return 0;
}

#else
/* Built without gRPC (cmake/grpc.cmake): nothing to fuzz. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)data;
  (void)size;
  return 0;
}
#endif
