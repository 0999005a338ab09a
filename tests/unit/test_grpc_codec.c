/*
 * test_grpc_codec.c — server/grpc/codec.c without sockets: routing peeks, TensorProto and
 * KServe decoding (dtypes, broadcast, half floats, field-naming errors), response encoding.
 * Messages are built with the same protobuf-c code the server links.
 */
#include <criterion/criterion.h>

#ifdef ORCHARD_HAVE_GRPC
#include "grpc/codec.h"
#include "grpc_predict_v2.pb-c.h"
#include "tensorflow_serving/apis/predict.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* One float32 input x [-1, 2] and one int32 input k [-1, 2]; outputs y (f32), z (bool). */
static rt_io_info IN[2] = {{"x:0", RT_DT_F32, 2, {-1, 2}}, {"k", RT_DT_I32, 2, {-1, 2}}};
static rt_io_info OUT[2] = {{"y", RT_DT_F32, 2, {-1, 2}}, {"z", RT_DT_BOOL, 1, {-1}}};
static const srv_sig SIG = {2, 2, IN, OUT, NULL};

typedef struct pred {
  Tensorflow__Serving__PredictRequest req;
  Tensorflow__Serving__ModelSpec spec;
  Tensorflow__Serving__PredictRequest__InputsEntry e[2], *ep[2];
  Tensorflow__TensorProto tp[2];
  Tensorflow__TensorShapeProto sh[2];
  Tensorflow__TensorShapeProto__Dim d[2][2], *dp[2][2];
} pred;

static void pred_init(pred *p, int64_t rows) {
  memset(p, 0, sizeof *p);
  p->req = (Tensorflow__Serving__PredictRequest)TENSORFLOW__SERVING__PREDICT_REQUEST__INIT;
  p->spec = (Tensorflow__Serving__ModelSpec)TENSORFLOW__SERVING__MODEL_SPEC__INIT;
  p->spec.name = "m";
  p->req.model_spec = &p->spec;
  const char *keys[2] = {"x", "k"};
  for (int i = 0; i < 2; i++) {
    p->tp[i] = (Tensorflow__TensorProto)TENSORFLOW__TENSOR_PROTO__INIT;
    p->sh[i] = (Tensorflow__TensorShapeProto)TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
    for (int j = 0; j < 2; j++) {
      p->d[i][j] = (Tensorflow__TensorShapeProto__Dim)TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT;
      p->d[i][j].size = j == 0 ? rows : 2;
      p->dp[i][j] = &p->d[i][j];
    }
    p->sh[i].n_dim = 2;
    p->sh[i].dim = p->dp[i];
    p->tp[i].tensor_shape = &p->sh[i];
    p->e[i] = (Tensorflow__Serving__PredictRequest__InputsEntry)
        TENSORFLOW__SERVING__PREDICT_REQUEST__INPUTS_ENTRY__INIT;
    p->e[i].key = (char *)keys[i];
    p->e[i].value = &p->tp[i];
    p->ep[i] = &p->e[i];
  }
  p->tp[0].dtype = TENSORFLOW__DATA_TYPE__DT_FLOAT;
  p->tp[1].dtype = TENSORFLOW__DATA_TYPE__DT_INT32;
  p->req.n_inputs = 2;
  p->req.inputs = p->ep;
}

static int decode(pred *p, srv_infer_req *r, char *msg) {
  size_t n = tensorflow__serving__predict_request__get_packed_size(&p->req);
  uint8_t *buf = malloc(n + 1);
  tensorflow__serving__predict_request__pack(&p->req, buf);
  int st = srv_grpc_tfs_decode(&SIG, buf, n, 1 << 20, r, msg, 1024);
  free(buf);
  return st;
}

Test(grpc_codec, peek_routes_without_decoding_tensors) {
  pred p;
  pred_init(&p, 1);
  float v = 1;
  p.tp[0].n_float_val = 1, p.tp[0].float_val = &v;
  Google__Protobuf__Int64Value ver = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
  ver.value = 3;
  p.spec.version_choice_case = TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION;
  p.spec.version = &ver;
  size_t n = tensorflow__serving__predict_request__get_packed_size(&p.req);
  uint8_t buf[512];
  cr_assert_lt(n, sizeof buf);
  tensorflow__serving__predict_request__pack(&p.req, buf);
  srv_grpc_spec s;
  char msg[1024];
  cr_assert_eq(srv_grpc_peek_tfs_spec(buf, n, 1, &s, msg, sizeof msg), 200, "%s", msg);
  cr_assert_str_eq(s.ref.name, "m");
  cr_assert_eq(s.ref.sel, SRV_SELECT_VERSION);
  cr_assert_eq(s.ref.version, 3);
  /* Without a model_spec; and a truncated message. */
  p.req.model_spec = NULL;
  n = tensorflow__serving__predict_request__get_packed_size(&p.req);
  tensorflow__serving__predict_request__pack(&p.req, buf);
  cr_assert_eq(srv_grpc_peek_tfs_spec(buf, n, 1, &s, msg, sizeof msg), 400);
  cr_assert(strstr(msg, "model_spec"), "%s", msg);
  cr_assert_eq(srv_grpc_peek_tfs_spec(buf, n - 1, 1, &s, msg, sizeof msg), 400);
}

Test(grpc_codec, typed_values_broadcast_half_and_int64) {
  pred p;
  pred_init(&p, 2);
  int32_t half = 0x3c00; /* 1.0 */
  p.tp[0].dtype = TENSORFLOW__DATA_TYPE__DT_HALF;
  p.tp[0].n_half_val = 1, p.tp[0].half_val = &half; /* one value fills [2, 2] */
  int64_t ks[4] = {1, -2, 3, 2147483647};
  p.tp[1].dtype = TENSORFLOW__DATA_TYPE__DT_INT64;
  p.tp[1].n_int64_val = 4, p.tp[1].int64_val = ks;
  srv_infer_req r;
  char msg[1024];
  cr_assert_eq(decode(&p, &r, msg), 200, "%s", msg);
  cr_assert_eq(r.in[0].rank, 2);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(((float *)r.in[0].data)[i], 1.0f);
  cr_assert_eq(((int32_t *)r.in[1].data)[1], -2);
  cr_assert_eq(((int32_t *)r.in[1].data)[3], 2147483647);
  srv_infer_req_free(&r);
  ks[2] = INT64_C(1) << 40;
  cr_assert_eq(decode(&p, &r, msg), 400);
  cr_assert(strstr(msg, "inputs[\"k\"].int64_val[2]"), "%s", msg);
}

Test(grpc_codec, errors_name_the_field) {
  pred p;
  pred_init(&p, 1);
  float xs[2] = {1, 2};
  uint8_t raw[8] = {0};
  p.tp[0].n_float_val = 2, p.tp[0].float_val = xs;
  p.tp[1].tensor_content.data = raw, p.tp[1].tensor_content.len = 7;
  srv_infer_req r;
  char msg[1024];
  cr_assert_eq(decode(&p, &r, msg), 400);
  cr_assert(strstr(msg, "inputs[\"k\"].tensor_content: 7 bytes"), "%s", msg);
  p.tp[1].tensor_content.len = 8;
  p.tp[0].dtype = TENSORFLOW__DATA_TYPE__DT_BOOL;
  cr_assert_eq(decode(&p, &r, msg), 400);
  cr_assert(strstr(msg, "inputs[\"x\"].dtype: DT_BOOL"), "%s", msg);
  p.tp[0].dtype = TENSORFLOW__DATA_TYPE__DT_FLOAT;
  p.d[0][1].size = 3;
  cr_assert_eq(decode(&p, &r, msg), 400);
  cr_assert(strstr(msg, "inputs[\"x\"].float_val: 2 values"), "%s", msg);
  p.d[0][1].size = 2;
  p.req.n_inputs = 1;
  cr_assert_eq(decode(&p, &r, msg), 400);
  cr_assert(strstr(msg, "missing input 'k'"), "%s", msg);
}

Test(grpc_codec, kserve_raw_decode_and_encode) {
  Inference__ModelInferRequest req = INFERENCE__MODEL_INFER_REQUEST__INIT;
  Inference__ModelInferRequest__InferInputTensor t[2] = {
      INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT,
      INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT};
  Inference__ModelInferRequest__InferInputTensor *tp[2] = {&t[0], &t[1]};
  int64_t shape[2] = {1, 2};
  float x[2] = {0.5f, -1.0f};
  uint8_t k[2] = {7, 255};
  ProtobufCBinaryData raw[2] = {{8, (uint8_t *)x}, {2, k}};
  t[0].name = "x", t[0].datatype = "FP32", t[0].n_shape = 2, t[0].shape = shape;
  t[1].name = "k", t[1].datatype = "UINT8", t[1].n_shape = 2, t[1].shape = shape;
  req.model_name = "m";
  req.n_inputs = 2, req.inputs = tp;
  req.n_raw_input_contents = 2, req.raw_input_contents = raw;
  req.id = "abc";
  uint8_t buf[256];
  size_t n = inference__model_infer_request__pack(&req, buf);
  srv_infer_req r;
  char msg[1024];
  cr_assert_eq(srv_grpc_kserve_decode(&SIG, buf, n, 1 << 20, &r, msg, sizeof msg), 200, "%s", msg);
  cr_assert_eq(((float *)r.in[0].data)[1], -1.0f);
  cr_assert_eq(((int32_t *)r.in[1].data)[1], 255);
  cr_assert_str_eq(r.id, "abc");
  /* Encode outputs and read them back with protobuf-c. */
  float y[2] = {3, 4};
  uint8_t z[1] = {1};
  rt_tensor outs[2] = {{RT_DT_F32, 2, {1, 2}, y}, {RT_DT_BOOL, 1, {1}, z}};
  uint8_t *resp;
  size_t len;
  cr_assert_eq(srv_grpc_kserve_encode(&SIG, &r, "m", "1", outs, &resp, &len, msg, sizeof msg), 200);
  Inference__ModelInferResponse *back = inference__model_infer_response__unpack(NULL, len, resp);
  cr_assert_not_null(back);
  cr_assert_eq(back->n_outputs, 2);
  cr_assert_str_eq(back->outputs[1]->datatype, "BOOL");
  cr_assert_str_eq(back->id, "abc");
  cr_assert_eq(back->raw_output_contents[0].len, 8);
  cr_assert_eq(memcmp(back->raw_output_contents[0].data, y, 8), 0);
  inference__model_infer_response__free_unpacked(back, NULL);
  free(resp);
  srv_infer_req_free(&r);
  /* One raw entry short. */
  req.n_raw_input_contents = 1;
  n = inference__model_infer_request__pack(&req, buf);
  cr_assert_eq(srv_grpc_kserve_decode(&SIG, buf, n, 1 << 20, &r, msg, sizeof msg), 400);
  cr_assert(strstr(msg, "raw_input_contents: 1 entries for 2 inputs"), "%s", msg);
}

#else
Test(grpc_codec, not_built) { cr_skip_test("built without gRPC (cmake/grpc.cmake)"); }
#endif
