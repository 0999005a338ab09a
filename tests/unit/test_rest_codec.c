/*
 * test_rest_codec.c — the REST codecs (rest_tfs.c, rest_kserve.c, rest_common.c) on a
 * hand-made signature: every payload form decodes to the right tensor, every malformed
 * request gets its status and a message naming the field, and outputs encode to the exact
 * JSON both APIs specify. Expected values follow from the inputs by hand; no model runs.
 */
#include "rest.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* x: float32 [-1,2,2]; n: int32 [-1,3]; b: bool [-1]; out y: float32 [-1,2], z: int32 [-1] */
static rt_io_info IN3[] = {
    {.name = "x:0", .dtype = RT_DT_F32, .rank = 3, .dims = {-1, 2, 2}},
    {.name = "n", .dtype = RT_DT_I32, .rank = 2, .dims = {-1, 3}},
    {.name = "b", .dtype = RT_DT_BOOL, .rank = 1, .dims = {-1}},
};
static rt_io_info IN1[] = {{.name = "img", .dtype = RT_DT_F32, .rank = 3, .dims = {-1, 2, 2}}};
static rt_io_info OUT2[] = {
    {.name = "y", .dtype = RT_DT_F32, .rank = 2, .dims = {-1, 2}},
    {.name = "z", .dtype = RT_DT_I32, .rank = 1, .dims = {-1}},
};
static srv_sig SIG3 = {.n_in = 3, .n_out = 2, .in = IN3, .out = OUT2};
static srv_sig SIG1 = {.n_in = 1, .n_out = 1, .in = IN1, .out = OUT2};

static char msg[1024];

static int tfs(const srv_sig *s, const char *body, srv_infer_req *r) {
  msg[0] = 0;
  return srv_tfs_decode(s, body, strlen(body), r, msg, sizeof msg);
}

static int ks(const srv_sig *s, const char *body, srv_infer_req *r) {
  msg[0] = 0;
  return srv_kserve_decode(s, body, strlen(body), r, msg, sizeof msg);
}

static void expect_error(int got, int want, const char *needle) {
  cr_assert_eq(got, want, "status %d, want %d (%s)", got, want, msg);
  cr_assert(strstr(msg, needle), "message '%s' lacks '%s'", msg, needle);
}

static void assert_f32(const rt_tensor *t, const float *want, int64_t n) {
  cr_assert_eq(t->dtype, RT_DT_F32);
  cr_assert_eq(rt_tensor_numel(t), n);
  for (int64_t i = 0; i < n; i++)
    cr_assert_eq(((float *)t->data)[i], want[i], "element %lld", (long long)i);
}

Test(tfs_decode, row_unnamed_single_input_stacks_instances) {
  srv_infer_req r;
  cr_assert_eq(tfs(&SIG1, "{\"instances\": [[[1,2],[3,4]], [[5,6],[7,8.5]]]}", &r), 200, "%s", msg);
  cr_assert(r.row);
  cr_assert_eq(r.n_instances, 2);
  cr_assert_eq(r.in[0].rank, 3);
  cr_assert_eq(r.in[0].dims[0], 2);
  cr_assert_eq(r.in[0].dims[1], 2);
  const float want[] = {1, 2, 3, 4, 5, 6, 7, 8.5f};
  assert_f32(&r.in[0], want, 8);
  srv_infer_req_free(&r);
}

Test(tfs_decode, row_named_multi_input_in_model_order) {
  srv_infer_req r;
  const char *body = "{\"signature_name\": \"serving_default\", \"instances\": ["
                     "{\"b\": true, \"n\": [1,2,3], \"x\": [[1,2],[3,4]]},"
                     "{\"x\": [[5,6],[7,8]], \"b\": false, \"n\": [4,5,-6]}]}";
  cr_assert_eq(tfs(&SIG3, body, &r), 200, "%s", msg);
  cr_assert_eq(r.in[0].dims[0], 2);
  const float xs[] = {1, 2, 3, 4, 5, 6, 7, 8};
  assert_f32(&r.in[0], xs, 8);
  const int32_t ns[] = {1, 2, 3, 4, 5, -6};
  cr_assert_eq(r.in[1].dtype, RT_DT_I32);
  cr_assert_arr_eq(r.in[1].data, ns, sizeof ns);
  cr_assert_eq(r.in[2].rank, 1);
  cr_assert_eq(((unsigned char *)r.in[2].data)[0], 1);
  cr_assert_eq(((unsigned char *)r.in[2].data)[1], 0);
  srv_infer_req_free(&r);
}

Test(tfs_decode, name_without_output_index_suffix) {
  srv_infer_req r;
  const char *body = "{\"instances\": [{\"b\": 1, \"n\": [1,2,3], \"x\": [[1,2],[3,4]]}]}";
  cr_assert_eq(tfs(&SIG3, body, &r), 200, "%s", msg); /* "x" finds "x:0"; 1 is true */
  srv_infer_req_free(&r);
}

Test(tfs_decode, columnar_named_and_unnamed) {
  srv_infer_req r;
  cr_assert_eq(tfs(&SIG1, "{\"inputs\": [[[1,2],[3,4]]]}", &r), 200, "%s", msg);
  cr_assert(!r.row);
  cr_assert_eq(r.in[0].dims[0], 1);
  srv_infer_req_free(&r);
  cr_assert_eq(tfs(&SIG1, "{\"inputs\": {\"img\": [[[1,2],[3,4]],[[1,2],[3,4]]]}}", &r), 200, "%s",
               msg);
  cr_assert_eq(r.in[0].dims[0], 2);
  srv_infer_req_free(&r);
  const char *body = "{\"inputs\": {\"x:0\": [[[1,2],[3,4]]], \"n\": [[7,8,9]], \"b\": [true]}}";
  cr_assert_eq(tfs(&SIG3, body, &r), 200, "%s", msg);
  cr_assert_eq(((int32_t *)r.in[1].data)[2], 9);
  srv_infer_req_free(&r);
}

Test(tfs_decode, b64_raw_float32_and_uint8_pixels) {
  /* float32 1, 2, 3, 4 little-endian = 00 00 80 3f, 00 00 00 40, 00 00 40 40, 00 00 80 40 */
  srv_infer_req r;
  cr_assert_eq(tfs(&SIG1, "{\"instances\": [{\"b64\": \"AACAPwAAAEAAAEBAAACAQA==\"}]}", &r), 200,
               "%s", msg);
  const float want[] = {1, 2, 3, 4};
  assert_f32(&r.in[0], want, 4);
  cr_assert_eq(r.in[0].dims[0], 1);
  srv_infer_req_free(&r);
  /* 4 bytes for 4 elements: uint8 pixels 0x01 0x02 0xfe 0xff */
  cr_assert_eq(tfs(&SIG1, "{\"inputs\": {\"b64\": \"AQL+/w==\"}}", &r), 200, "%s", msg);
  const float px[] = {1, 2, 254, 255};
  assert_f32(&r.in[0], px, 4); /* the unknown batch dim is inferred: 1 */
  cr_assert_eq(r.in[0].dims[0], 1);
  srv_infer_req_free(&r);
  expect_error(tfs(&SIG1, "{\"instances\": [{\"b64\": \"AQL+\"}]}", &r), 400, "3 bytes");
  expect_error(tfs(&SIG1, "{\"instances\": [{\"b64\": \"!!\"}]}", &r), 400, "base64");
}

Test(tfs_decode, request_errors_name_the_field) {
  srv_infer_req r;
  expect_error(tfs(&SIG1, "{\"instances\": [1,", &r), 400, "bad JSON");
  expect_error(tfs(&SIG1, "[1]", &r), 400, "object");
  expect_error(tfs(&SIG1, "{}", &r), 400, "instances");
  expect_error(tfs(&SIG1, "{\"instances\": [], \"inputs\": []}", &r), 400, "not both");
  expect_error(tfs(&SIG1, "{\"instances\": []}", &r), 400, "non-empty");
  expect_error(tfs(&SIG1, "{\"signature_name\": \"other\", \"instances\": [1]}", &r), 400,
               "signature_name");
  /* ragged: the second instance's second row is short */
  expect_error(tfs(&SIG1, "{\"instances\": [[[1,2],[3,4]], [[5,6],[7]]]}", &r), 400,
               "instances[1][1]");
  expect_error(tfs(&SIG1, "{\"instances\": [[[1,2],[3,4]], [[5,6],7]]}", &r), 400,
               "instances[1][1]");
  /* wrong rank and shape name the input */
  expect_error(tfs(&SIG1, "{\"instances\": [[1,2,3,4]]}", &r), 400, "'img'");
  expect_error(tfs(&SIG1, "{\"instances\": [[[1,2,3],[4,5,6]]]}", &r), 400, "dimension 2");
  /* dtype: a string for a float, 1.5 for an int32, 2 for a bool */
  expect_error(tfs(&SIG1, "{\"instances\": [[[1,\"a\"],[3,4]]]}", &r), 400, "instances[0][0][1]");
  const char *bad_int = "{\"instances\": [{\"b\": true, \"n\": [1,2.5,3], \"x\": [[1,2],[3,4]]}]}";
  expect_error(tfs(&SIG3, bad_int, &r), 400, "2.5");
  const char *bad_bool = "{\"instances\": [{\"b\": 2, \"n\": [1,2,3], \"x\": [[1,2],[3,4]]}]}";
  expect_error(tfs(&SIG3, bad_bool, &r), 400, "'b'");
  expect_error(tfs(&SIG3, "{\"instances\": [{\"n\": [1,2,3], \"x\": [[1,2],[3,4]]}]}", &r), 400,
               "missing input 'b'");
  expect_error(tfs(&SIG3, "{\"instances\": [{\"q\": 1}]}", &r), 400, "unknown input 'q'");
  expect_error(tfs(&SIG3, "{\"inputs\": [1]}", &r), 400, "3 inputs");
  expect_error(tfs(&SIG3, "{\"inputs\": {\"x\": [[[1,2],[3,4]]], \"n\": [[1,2,3]]}}", &r), 400,
               "missing input 'b'");
}

Test(tfs_decode, a_ragged_shape_too_big_to_be_real_is_not_allocated) {
  /* The first-element chain promises 1000^4 elements; the body holds a handful. */
  srv_buf inner, b;
  srv_buf_init(&inner);
  srv_buf_puts(&inner, "[0");
  for (int i = 1; i < 1000; i++)
    srv_buf_puts(&inner, ",0");
  srv_buf_putc(&inner, ']');
  for (int d = 0; d < 3; d++) { /* [inner, 0, 0, ...] */
    srv_buf_init(&b);
    srv_buf_putc(&b, '[');
    srv_buf_append(&b, inner.data, inner.len);
    for (int i = 1; i < 1000; i++)
      srv_buf_puts(&b, ",0");
    srv_buf_putc(&b, ']');
    srv_buf_free(&inner);
    inner = b;
  }
  srv_buf_init(&b);
  srv_buf_puts(&b, "{\"inputs\": ");
  srv_buf_append(&b, inner.data, inner.len);
  srv_buf_putc(&b, '}');
  srv_buf_free(&inner);
  srv_infer_req r;
  rt_io_info any = {.name = "t", .dtype = RT_DT_F32, .rank = -1};
  srv_sig s = {.n_in = 1, .n_out = 1, .in = &any, .out = OUT2};
  int st = srv_tfs_decode(&s, b.data, b.len, &r, msg, sizeof msg);
  cr_assert_eq(st, 400, "%d %s", st, msg);
  cr_assert(strstr(msg, "inputs[0][0][1]: ragged"), "%s", msg);
  srv_buf_free(&b);
}

static char *encode_tfs(const srv_sig *s, const srv_infer_req *r, const rt_tensor *outs,
                        int *code) {
  srv_buf b;
  srv_buf_init(&b);
  *code = srv_tfs_encode(s, r, outs, &b, msg, sizeof msg);
  return srv_buf_take(&b, NULL);
}

Test(tfs_encode, row_and_columnar_forms) {
  float y[] = {0.1f, -2, 1e-7f, 3.5f};
  int32_t z[] = {7, -8};
  rt_tensor outs[2] = {
      {.dtype = RT_DT_F32, .rank = 2, .dims = {2, 2}, .data = y},
      {.dtype = RT_DT_I32, .rank = 1, .dims = {2}, .data = z},
  };
  srv_infer_req r = {.row = true, .n_instances = 2};
  int code;
  char *s = encode_tfs(&SIG3, &r, outs, &code);
  cr_assert_eq(code, 200);
  cr_assert_str_eq(s, "{\"predictions\":[{\"y\":[0.1,-2],\"z\":7},{\"y\":[1e-7,3.5],\"z\":-8}]}");
  free(s);
  s = encode_tfs(&SIG1, &r, outs, &code);
  cr_assert_str_eq(s, "{\"predictions\":[[0.1,-2],[1e-7,3.5]]}");
  free(s);
  r.row = false;
  s = encode_tfs(&SIG3, &r, outs, &code);
  cr_assert_str_eq(s, "{\"outputs\":{\"y\":[[0.1,-2],[1e-7,3.5]],\"z\":[7,-8]}}");
  free(s);
  s = encode_tfs(&SIG1, &r, outs, &code);
  cr_assert_str_eq(s, "{\"outputs\":[[0.1,-2],[1e-7,3.5]]}");
  free(s);
  /* an output without the batch dimension cannot be split into rows */
  r.row = true;
  r.n_instances = 3;
  s = encode_tfs(&SIG1, &r, outs, &code);
  cr_assert_eq(code, 400);
  cr_assert(strstr(msg, "'y'"), "%s", msg);
  free(s);
}

Test(kserve_decode, flat_nested_and_converted_datatypes) {
  srv_infer_req r;
  const char *body =
      "{\"id\": \"42\", \"inputs\": ["
      "{\"name\": \"b\", \"shape\": [2], \"datatype\": \"UINT8\", \"data\": [1, 0]},"
      "{\"name\": \"x\", \"shape\": [1,2,2], \"datatype\": \"FP32\", \"data\": [[1,2],[3,4]]},"
      "{\"name\": \"n\", \"shape\": [1,3], \"datatype\": \"INT64\", \"data\": [1,-2,2147483647]}],"
      "\"outputs\": [{\"name\": \"z\"}]}";
  cr_assert_eq(ks(&SIG3, body, &r), 200, "%s", msg);
  cr_assert_str_eq(r.id, "42");
  const float xs[] = {1, 2, 3, 4};
  assert_f32(&r.in[0], xs, 4);
  const int32_t ns[] = {1, -2, 2147483647};
  cr_assert_arr_eq(r.in[1].data, ns, sizeof ns);
  cr_assert_eq(((unsigned char *)r.in[2].data)[0], 1);
  cr_assert_eq(r.n_outs, 1);
  cr_assert_eq(r.outs[0], 1);
  srv_infer_req_free(&r);
}

Test(kserve_decode, errors_name_the_field_and_input) {
  srv_infer_req r;
  expect_error(ks(&SIG1, "{\"inputs\": 3}", &r), 400, "inputs");
  expect_error(
      ks(&SIG1, "{\"inputs\": [{\"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}", &r), 400,
      "inputs[0].name");
  expect_error(ks(&SIG1,
                  "{\"inputs\": [{\"name\": \"zz\", \"shape\": [1], \"datatype\": \"FP32\","
                  " \"data\": [1]}]}",
                  &r),
               400, "'zz'");
  expect_error(ks(&SIG1,
                  "{\"inputs\": [{\"name\": \"img\", \"shape\": [1,2,2], \"datatype\": "
                  "\"INT32\", \"data\": [1,2,3,4]}]}",
                  &r),
               400, "inputs[0].datatype");
  expect_error(ks(&SIG1,
                  "{\"inputs\": [{\"name\": \"img\", \"shape\": [1,2,2], \"datatype\": "
                  "\"FP16\", \"data\": [1,2,3,4]}]}",
                  &r),
               400, "FP16");
  expect_error(ks(&SIG1,
                  "{\"inputs\": [{\"name\": \"img\", \"shape\": [1,2,2], \"datatype\": "
                  "\"FP32\", \"data\": [1,2,3]}]}",
                  &r),
               400, "3 values");
  expect_error(ks(&SIG1,
                  "{\"inputs\": [{\"name\": \"img\", \"shape\": [1,4], \"datatype\": "
                  "\"FP32\", \"data\": [1,2,3,4]}]}",
                  &r),
               400, "rank 2");
  expect_error(ks(&SIG1,
                  "{\"inputs\": [{\"name\": \"img\", \"shape\": [1,2,2], \"datatype\": "
                  "\"FP32\", \"data\": [1,2,true,4]}]}",
                  &r),
               400, "data[2]");
  expect_error(ks(&SIG3,
                  "{\"inputs\": [{\"name\": \"n\", \"shape\": [1,3], \"datatype\": "
                  "\"INT64\", \"data\": [1,2,4294967296]}]}",
                  &r),
               400, "out of range");
  expect_error(ks(&SIG3,
                  "{\"inputs\": [{\"name\": \"b\", \"shape\": [1], \"datatype\": \"BOOL\","
                  " \"data\": [true]}]}",
                  &r),
               400, "missing input 'x:0'");
  expect_error(ks(&SIG1,
                  "{\"inputs\": [{\"name\": \"img\", \"shape\": [1,2,2], \"datatype\": "
                  "\"FP32\", \"data\": [1,2,3,4]}, {\"name\": \"img\", \"shape\": [1,2,2],"
                  " \"datatype\": \"FP32\", \"data\": [1,2,3,4]}]}",
                  &r),
               400, "twice");
  expect_error(ks(&SIG1,
                  "{\"inputs\": [{\"name\": \"img\", \"shape\": [1000000,1000000,1000000],"
                  " \"datatype\": \"FP32\", \"data\": [1]}]}",
                  &r),
               400, "shape");
  expect_error(ks(&SIG1,
                  "{\"inputs\": [{\"name\": \"img\", \"shape\": [1,2,2], \"datatype\": "
                  "\"FP32\", \"data\": [1,2,3,4]}], \"outputs\": [{\"name\": \"q\"}]}",
                  &r),
               400, "outputs[0].name");
}

Test(kserve_encode, flat_data_with_shape_and_datatype) {
  float y[] = {0.5f, 1, 2, 1e30f};
  int32_t z[] = {3, 4};
  rt_tensor outs[2] = {
      {.dtype = RT_DT_F32, .rank = 2, .dims = {2, 2}, .data = y},
      {.dtype = RT_DT_I32, .rank = 1, .dims = {2}, .data = z},
  };
  srv_infer_req r = {.id = "a\"b"};
  srv_buf b;
  srv_buf_init(&b);
  cr_assert_eq(srv_kserve_encode(&SIG3, &r, "m", "2", outs, &b, msg, sizeof msg), 200);
  cr_assert_str_eq(b.data, "{\"model_name\":\"m\",\"model_version\":\"2\",\"id\":\"a\\\"b\","
                           "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[2,2],"
                           "\"data\":[0.5,1,2,1e30]},{\"name\":\"z\",\"datatype\":\"INT32\","
                           "\"shape\":[2],\"data\":[3,4]}]}");
  srv_buf_free(&b);
  int only_z = 1;
  srv_infer_req r2 = {.n_outs = 1, .outs = &only_z};
  srv_buf_init(&b);
  cr_assert_eq(srv_kserve_encode(&SIG3, &r2, "m", "2", outs, &b, msg, sizeof msg), 200);
  cr_assert(strstr(b.data, "\"outputs\":[{\"name\":\"z\""), "%s", b.data);
  srv_buf_free(&b);
}

Test(metadata, both_apis_describe_the_signature) {
  json_t *j = srv_tfs_metadata(&SIG3, "m", 3);
  json_t *def = json_object_get(
      json_object_get(json_object_get(json_object_get(j, "metadata"), "signature_def"),
                      "signature_def"),
      "serving_default");
  cr_assert_not_null(def);
  json_t *x = json_object_get(json_object_get(def, "inputs"), "x:0");
  cr_assert_str_eq(json_string_value(json_object_get(x, "dtype")), "DT_FLOAT");
  json_t *dim0 = json_array_get(json_object_get(json_object_get(x, "tensor_shape"), "dim"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(dim0, "size")), "-1");
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "model_spec"), "version")),
                   "3");
  json_decref(j);
  j = srv_kserve_metadata(&SIG3, "m", "tensorflowjs_graph-model", json_pack("[s]", "3"));
  json_t *in1 = json_array_get(json_object_get(j, "inputs"), 1);
  cr_assert_str_eq(json_string_value(json_object_get(in1, "datatype")), "INT32");
  cr_assert_eq(json_integer_value(json_array_get(json_object_get(in1, "shape"), 1)), 3);
  json_decref(j);
}

Test(numbers, float32_shortest_round_trip) {
  struct {
    float v;
    const char *s;
  } cases[] = {{0.1f, "0.1"},
               {1, "1"},
               {-2.5f, "-2.5"},
               {0, "0"},
               {-0.0f, "-0"},
               {1e-7f, "1e-7"},
               {1e-45f, "1e-45"},
               {3.4028235e38f, "3.4028235e38"},
               {123456, "123456"},
               {0.00001f, "0.00001"},
               {NAN, "NaN"},
               {INFINITY, "Infinity"},
               {-INFINITY, "-Infinity"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[40];
    srv_fmt_f32(out, cases[i].v);
    cr_assert_str_eq(out, cases[i].s);
  }
  /* Random bit patterns: parsing the text as a double and rounding to float32 (what a JSON
   * client does) gives the float back exactly. */
  uint32_t x = 2463534242u;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    float v;
    memcpy(&v, &x, 4);
    if (!isfinite(v))
      continue;
    char out[40];
    srv_fmt_f32(out, v);
    float back = (float)strtod(out, NULL);
    cr_assert(memcmp(&back, &v, 4) == 0, "%.9g printed as %s", (double)v, out);
  }
}

Test(numbers, base64_standard_and_url_safe) {
  unsigned char out[32];
  cr_assert_eq(srv_b64_decode("aGk=", 4, out), 2);
  cr_assert_eq(memcmp(out, "hi", 2), 0);
  cr_assert_eq(srv_b64_decode("-_8", 3, out), 2); /* URL-safe, unpadded: fb ff */
  cr_assert_eq(out[0], 0xfb);
  cr_assert_eq(out[1], 0xff);
  cr_assert_eq(srv_b64_decode("a", 1, out), -1);
  cr_assert_eq(srv_b64_decode("a b=", 4, out), -1);
}
