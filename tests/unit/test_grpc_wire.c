/*
 * test_grpc_wire.c — server/grpc/wire.c: string fields with a NUL byte are found and named,
 * in sub-messages and map entries too; bytes fields and unknown fields may hold NUL; malformed
 * input (truncated values, over-long varints, groups, field 0, nesting past the bound) is
 * reported, never read past. Messages are packed with the protobuf-c code the server links,
 * with a '#' placeholder turned into a NUL byte afterwards (protobuf-c itself cannot pack a
 * string holding one, which is the point).
 */
#include <criterion/criterion.h>

#ifdef ORCHARD_HAVE_GRPC
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/wire.h"
#include "grpc_predict_v2.pb-c.h"
#include "tensorflow_serving/apis/predict.pb-c.h"

#include <stdlib.h>
#include <string.h>

static uint8_t *pack(const ProtobufCMessage *m, size_t *len) {
  *len = protobuf_c_message_get_packed_size(m);
  uint8_t *b = malloc(*len + 1);
  cr_assert(b);
  protobuf_c_message_pack(m, b);
  return b;
}

/* Every '#' becomes a NUL byte (the placeholders are the only '#' in these messages). */
static void nul_for_hash(uint8_t *b, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (b[i] == '#')
      b[i] = 0;
}

static srv_wire_verdict check(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t len,
                              char *where) {
  return srv_wire_check(d, b, len, where, 256);
}

/* A PredictRequest with two inputs; `name`, `key1` may hold '#'. tensor_content and
 * string_val (bytes fields) hold NUL bytes, which is fine. */
static uint8_t *predict(const char *name, const char *sig, const char *key1, size_t *len) {
  Tensorflow__Serving__ModelSpec spec = TENSORFLOW__SERVING__MODEL_SPEC__INIT;
  spec.name = (char *)name;
  spec.signature_name = (char *)sig;
  Tensorflow__TensorProto tp = TENSORFLOW__TENSOR_PROTO__INIT;
  static const uint8_t zeros[8] = {0};
  tp.tensor_content.data = (uint8_t *)zeros;
  tp.tensor_content.len = sizeof zeros;
  ProtobufCBinaryData sv = {3, (uint8_t *)"a\0b"};
  tp.n_string_val = 1;
  tp.string_val = &sv;
  Tensorflow__Serving__PredictRequest__InputsEntry e[2], *ep[2] = {&e[0], &e[1]};
  for (int i = 0; i < 2; i++) {
    e[i] = (Tensorflow__Serving__PredictRequest__InputsEntry)
        TENSORFLOW__SERVING__PREDICT_REQUEST__INPUTS_ENTRY__INIT;
    e[i].key = (char *)(i == 0 ? "x" : key1);
    e[i].value = &tp;
  }
  Tensorflow__Serving__PredictRequest req = TENSORFLOW__SERVING__PREDICT_REQUEST__INIT;
  req.model_spec = &spec;
  req.n_inputs = 2;
  req.inputs = ep;
  uint8_t *b = pack(&req.base, len);
  nul_for_hash(b, *len);
  return b;
}

Test(grpc_wire, clean_predict_with_nul_in_bytes_fields) {
  size_t len;
  char where[256];
  uint8_t *b = predict("emotion", "serving_default", "y", &len);
  cr_expect_eq(check(&tensorflow__serving__predict_request__descriptor, b, len, where), SRV_WIRE_OK,
               "%s", where);
  /* and protobuf-c agrees it is a message */
  Tensorflow__Serving__PredictRequest *m =
      tensorflow__serving__predict_request__unpack(NULL, len, b);
  cr_assert(m);
  cr_expect_str_eq(m->model_spec->name, "emotion");
  tensorflow__serving__predict_request__free_unpacked(m, NULL);
  free(b);
}

Test(grpc_wire, nul_in_model_name_is_named) {
  size_t len;
  char where[256];
  uint8_t *b = predict("emo#tion", "serving_default", "y", &len);
  cr_assert_eq(check(&tensorflow__serving__predict_request__descriptor, b, len, where),
               SRV_WIRE_NUL);
  cr_expect_str_eq(where, "model_spec.name");
  free(b);
  b = predict("emotion", "serving#default", "y", &len);
  cr_assert_eq(check(&tensorflow__serving__predict_request__descriptor, b, len, where),
               SRV_WIRE_NUL);
  cr_expect_str_eq(where, "model_spec.signature_name");
  free(b);
}

Test(grpc_wire, nul_in_second_map_key_has_its_index) {
  size_t len;
  char where[256];
  uint8_t *b = predict("emotion", "", "y#", &len);
  cr_assert_eq(check(&tensorflow__serving__predict_request__descriptor, b, len, where),
               SRV_WIRE_NUL);
  cr_expect_str_eq(where, "inputs[1].key");
  free(b);
}

Test(grpc_wire, kserve_fields) {
  Inference__ModelInferRequest__InferInputTensor in[2], *inp[2] = {&in[0], &in[1]};
  for (int i = 0; i < 2; i++) {
    in[i] = (Inference__ModelInferRequest__InferInputTensor)
        INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT;
    in[i].name = (char *)(i == 0 ? "a" : "b#");
    in[i].datatype = "FP32";
  }
  ProtobufCBinaryData raw = {4, (uint8_t *)"\0\0\0\0"};
  Inference__ModelInferRequest req = INFERENCE__MODEL_INFER_REQUEST__INIT;
  req.model_name = "emotion";
  req.n_inputs = 2;
  req.inputs = inp;
  req.n_raw_input_contents = 1;
  req.raw_input_contents = &raw;
  size_t len;
  char where[256];
  uint8_t *b = pack(&req.base, &len);
  nul_for_hash(b, len);
  cr_assert_eq(check(&inference__model_infer_request__descriptor, b, len, where), SRV_WIRE_NUL);
  cr_expect_str_eq(where, "inputs[1].name");
  free(b);
  in[1].name = "b";
  req.model_name = "#emotion";
  b = pack(&req.base, &len);
  nul_for_hash(b, len);
  cr_assert_eq(check(&inference__model_infer_request__descriptor, b, len, where), SRV_WIRE_NUL);
  cr_expect_str_eq(where, "model_name");
  free(b);
  req.model_name = "emotion";
  b = pack(&req.base, &len);
  cr_expect_eq(check(&inference__model_infer_request__descriptor, b, len, where), SRV_WIRE_OK);
  free(b);
}

Test(grpc_wire, health_service) {
  Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  req.service = "x#";
  size_t len;
  char where[256];
  uint8_t *b = pack(&req.base, &len);
  nul_for_hash(b, len);
  cr_assert_eq(check(&grpc__health__v1__health_check_request__descriptor, b, len, where),
               SRV_WIRE_NUL);
  cr_expect_str_eq(where, "service");
  free(b);
  cr_expect_eq(check(&grpc__health__v1__health_check_request__descriptor, NULL, 0, where),
               SRV_WIRE_OK, "an empty message is a message");
}

Test(grpc_wire, unknown_fields_may_hold_nul) {
  /* field 99, length-delimited, "a\0b": protobuf-c keeps it as an unknown field */
  const uint8_t b[] = {0x9a, 0x06, 3, 'a', 0, 'b', 0x0a, 1, 'x'};
  char where[256];
  cr_expect_eq(check(&grpc__health__v1__health_check_request__descriptor, b, sizeof b, where),
               SRV_WIRE_OK, "%s", where);
}

Test(grpc_wire, malformed_is_reported) {
  char where[256];
  const ProtobufCMessageDescriptor *d = &grpc__health__v1__health_check_request__descriptor;
  const uint8_t past_end[] = {0x0a, 5, 'a', 'b'};
  cr_expect_eq(check(d, past_end, sizeof past_end, where), SRV_WIRE_MALFORMED);
  cr_expect(strstr(where, "past the message's end"), "%s", where);
  const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 1};
  cr_expect_eq(check(d, long_varint, sizeof long_varint, where), SRV_WIRE_MALFORMED);
  const uint8_t group[] = {0x0b, 0x0c};
  cr_expect_eq(check(d, group, sizeof group, where), SRV_WIRE_MALFORMED);
  const uint8_t field0[] = {0x02, 0};
  cr_expect_eq(check(d, field0, sizeof field0, where), SRV_WIRE_MALFORMED);
  cr_expect(strstr(where, "bad field tag at byte 0"), "%s", where);
  const uint8_t len_overflow[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  cr_expect_eq(check(d, len_overflow, sizeof len_overflow, where), SRV_WIRE_MALFORMED);
}

/* Every prefix of a real request: OK or MALFORMED, never a read past the prefix (each prefix
 * is copied into an exact-size heap block, so ASan would catch one). */
Test(grpc_wire, every_prefix_stays_in_bounds) {
  size_t len;
  char where[256];
  uint8_t *b = predict("emotion", "serving_default", "y", &len);
  for (size_t n = 0; n <= len; n++) {
    uint8_t *p = malloc(n ? n : 1);
    memcpy(p, b, n);
    srv_wire_verdict v = check(&tensorflow__serving__predict_request__descriptor, p, n, where);
    cr_expect(v == SRV_WIRE_OK || v == SRV_WIRE_MALFORMED, "prefix %zu: %d", n, v);
    free(p);
  }
  free(b);
}

/* A self-nesting message type (none of the served protos nests itself, so it is made here):
 * message Rec { Rec child = 1; string name = 2; } */
static const ProtobufCMessageDescriptor rec_desc;
static const ProtobufCFieldDescriptor rec_fields[2] = {
    {"child", 1, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_MESSAGE, 0, 0, &rec_desc, NULL, 0, 0,
     NULL, NULL},
    {"name", 2, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0, 0, NULL, NULL, 0, 0, NULL,
     NULL},
};
static const unsigned rec_by_name[2] = {0, 1};
static const ProtobufCIntRange rec_ranges[2] = {{1, 0}, {0, 2}};
static const ProtobufCMessageDescriptor rec_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                    "t.Rec",
                                                    "Rec",
                                                    "T__Rec",
                                                    "t",
                                                    sizeof(ProtobufCMessage),
                                                    2,
                                                    rec_fields,
                                                    rec_by_name,
                                                    1,
                                                    rec_ranges,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    NULL};

/* `depth` nested children around a name "a\0". Length prefixes are single bytes, so depth
 * stays small enough for every level to fit in 127 bytes. */
static size_t nested(uint8_t *out, int depth) {
  uint8_t inner[4] = {0x12, 2, 'a', 0};
  size_t n = sizeof inner;
  memcpy(out, inner, n);
  for (int i = 0; i < depth; i++) {
    memmove(out + 2, out, n);
    out[0] = 0x0a;
    out[1] = (uint8_t)n;
    n += 2;
  }
  return n;
}

Test(grpc_wire, nesting_is_bounded_and_paths_are_built) {
  uint8_t b[128];
  char where[256];
  size_t n = nested(b, 3);
  cr_assert_eq(check(&rec_desc, b, n, where), SRV_WIRE_NUL);
  cr_expect_str_eq(where, "child.child.child.name");
  n = nested(b, SRV_WIRE_MAX_DEPTH + 5);
  cr_assert_lt(n, 128);
  cr_expect_eq(check(&rec_desc, b, n, where), SRV_WIRE_MALFORMED);
  cr_expect(strstr(where, "nested more than"), "%s", where);
}

#else
Test(grpc_wire, skipped_without_grpc) { cr_skip_test("built without gRPC"); }
#endif
