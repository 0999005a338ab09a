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

/* ---- the DOM-free reader: same tensors, same verdicts as the jansson-based codecs ---------- */

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* The old path, by definition: jansson parsed a real with strtod and the codec rounded the
 * double to float32; an integer went from int64 straight to float32. */
static float old_real(const char *text) { return (float)strtod(text, NULL); }

Test(tfs_decode, float32_values_round_as_the_jansson_path_did) {
  const char *reals[] = {"1e-46",
                         "3.5e38",
                         "-0.0",
                         "0.10000000149011612",
                         "0.1000000014901161193847656250000000001",
                         "7.006492321624085e-46",
                         "7.006492321624086e-46",
                         "1.401298464324817e-45",
                         "3.4028235677973366e38",
                         "3.4028235677973362e38",
                         "-1e-400",
                         "1.00000005960464477539062",
                         "1.000000059604644775390625",
                         "1.0000000596046447753906250000000000001",
                         "2.5e-5",
                         "123456789.123"};
  size_t nr = sizeof reals / sizeof *reals;
  for (size_t i = 0; i + 4 <= nr; i += 4) {
    char body[512];
    snprintf(body, sizeof body, "{\"instances\": [[[%s, %s], [%s, %s]]]}", reals[i], reals[i + 1],
             reals[i + 2], reals[i + 3]);
    srv_infer_req r;
    cr_assert_eq(tfs(&SIG1, body, &r), 200, "%s: %s", body, msg);
    for (int k = 0; k < 4; k++) {
      float got = ((float *)r.in[0].data)[k], want = old_real(reals[i + k]);
      cr_assert_eq(bits_of(got), bits_of(want), "%s: %08x, want %08x", reals[i + k], bits_of(got),
                   bits_of(want));
    }
    srv_infer_req_free(&r);
  }
  /* Spot checks of what that means: underflow to +0, overflow to +inf, -0.0 keeps its sign
   * but the integer -0 is 0; an integer rounds once, from int64 (2^60 + 2^36 + 1 -> the float
   * above, where rounding through double would land on the tie and go to even, 2^60). */
  srv_infer_req r;
  cr_assert_eq(tfs(&SIG1, "{\"instances\": [[[1e-46, 3.5e38], [-0.0, -0]]]}", &r), 200, "%s", msg);
  const float *x = r.in[0].data;
  cr_assert_eq(bits_of(x[0]), 0);
  cr_assert(isinf(x[1]) && x[1] > 0);
  cr_assert_eq(bits_of(x[2]), 0x80000000u);
  cr_assert_eq(bits_of(x[3]), 0);
  srv_infer_req_free(&r);
  cr_assert_eq(
      tfs(&SIG1, "{\"instances\": [[[1152921573326323713, 16777217], [-16777219, 7]]]}", &r), 200,
      "%s", msg);
  x = r.in[0].data;
  cr_assert_eq(bits_of(x[0]), 0x5D800001u, "%08x", bits_of(x[0]));
  cr_assert_eq(x[1], 16777216.0f);
  cr_assert_eq(x[2], -16777220.0f);
  srv_infer_req_free(&r);
}

Test(tfs_decode, int32_and_bool_inputs_at_the_edges) {
  srv_infer_req r;
  const char *ok =
      "{\"instances\": [{\"b\": 0, \"n\": [2147483647, -2147483648, -0.0], "
      "\"x\": [[1,2],[3,4]]}, {\"b\": 1, \"n\": [1e9, 2.0, 0], \"x\": [[1,2],[3,4]]}]}";
  cr_assert_eq(tfs(&SIG3, ok, &r), 200, "%s", msg);
  const int32_t ns[] = {INT32_MAX, INT32_MIN, 0, 1000000000, 2, 0};
  cr_assert_arr_eq(r.in[1].data, ns, sizeof ns);
  cr_assert_eq(((unsigned char *)r.in[2].data)[0], 0);
  cr_assert_eq(((unsigned char *)r.in[2].data)[1], 1);
  srv_infer_req_free(&r);
  struct {
    const char *n, *b, *needle;
  } bad[] = {
      {"[1, 2, 2147483648]", "true", "instances[0].n[2]: expected an int32 value"},
      {"[1, 2, 2147483648]", "true", "got 2147483648"},
      {"[1, -2147483649, 3]", "true", "got -2147483649"},
      {"[3e9, 2, 3]", "true",
       "instances[0].n[0]: expected an int32 value (input 'n' is int32), "
       "got 3000000000"},
      {"[1, 2, 1.5]", "true", "got 1.5"},
      {"[1, 2, 1e-300]", "true", "got 1e-300"},
      {"[1, true, 3]", "true",
       "instances[0].n[1]: expected an integer (input 'n' is int32), got true"},
      {"[1, \"2\", 3]", "true", "got a string"},
      {"[1, null, 3]", "true", "got null"},
      {"[1, 2, 3]", "1.0",
       "instances[0].b: expected true or false (input 'b' is bool), got a number"},
      {"[1, 2, 3]", "2", "got an integer"},
      {"[1, 2, 3]", "[true]", "instances.b: rank 2 (shape [1,1]), but input 'b' has rank 1"},
      {"[1, [2], 3]", "true", "instances[0].n[1]: ragged: expected a single value here"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char body[256];
    snprintf(body, sizeof body, "{\"instances\": [{\"b\": %s, \"n\": %s, \"x\": [[1,2],[3,4]]}]}",
             bad[i].b, bad[i].n);
    expect_error(tfs(&SIG3, body, &r), 400, bad[i].needle);
  }
}

static char *ks_body(const char *name, const char *shape, const char *dt, const char *data) {
  static char body[512];
  snprintf(body, sizeof body,
           "{\"inputs\": [{\"name\": \"%s\", \"shape\": %s, \"datatype\": \"%s\", \"data\": %s}]}",
           name, shape, dt, data);
  return body;
}

Test(kserve_decode, datatypes_at_the_edges) {
  srv_infer_req r;
  cr_assert_eq(ks(&SIG1, ks_body("img", "[1,2,2]", "UINT8", "[0, 255, 7, 1]"), &r), 200, "%s", msg);
  const float px[] = {0, 255, 7, 1};
  assert_f32(&r.in[0], px, 4);
  srv_infer_req_free(&r);
  /* FP32 numbers go through json_number_value: an integer becomes a double first, so
   * 2^60 + 2^36 + 1 lands on the float tie and rounds to even (the TF Serving codec's int64 ->
   * float32 gives the float above). */
  cr_assert_eq(
      ks(&SIG1, ks_body("img", "[1,4]", "FP32", "[[1152921573326323713, -0, -0.0, 1e-46]]"), &r),
      400, "%s", msg); /* rank 2 for a rank 3 input: decoded first, then refused */
  cr_assert_eq(ks(&SIG1,
                  ks_body("img", "[1,2,2]", "FP32", "[[1152921573326323713, -0], [-0.0, 1e-46]]"),
                  &r),
               200, "%s", msg);
  const float *x = r.in[0].data;
  cr_assert_eq(bits_of(x[0]), 0x5D800000u, "%08x", bits_of(x[0]));
  cr_assert_eq(bits_of(x[1]), 0);
  cr_assert_eq(bits_of(x[2]), 0x80000000u);
  cr_assert_eq(bits_of(x[3]), 0);
  srv_infer_req_free(&r);
  struct {
    const char *name, *dt, *data, *needle;
  } bad[] = {
      {"img", "UINT8", "[0, 256, 1, 1]", "inputs[0].data[1]: 256 is out of range for UINT8"},
      {"img", "UINT8", "[0, 1, -1, 1]", "inputs[0].data[2]: -1 is out of range"},
      {"img", "UINT8", "[0, 1, 1.0, 1]",
       "inputs[0].data[2]: expected an integer for datatype UINT8"},
      {"img", "FP32", "[0, 1, \"1\", 1]", "inputs[0].data[2]: expected a number for datatype FP32"},
      {"img", "FP32", "[[[[[[[[[1]]]]]]]], 1, 1, 1]", "nested deeper than 8 levels"},
      {"img", "FP32", "[1, 1, 1, 1, 1]", "5 values, but shape [1,2,2]"},
      {"img", "FP32", "[1, 1, 1, 1, \"extra\"]", "5 values"}, /* counted past the end, not typed */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    expect_error(ks(&SIG1, ks_body(bad[i].name, "[1,2,2]", bad[i].dt, bad[i].data), &r), 400,
                 bad[i].needle);
  cr_assert_eq(ks(&SIG3,
                  "{\"inputs\": [{\"name\": \"x\", \"shape\": [1,2,2], \"datatype\": \"FP32\", "
                  "\"data\": [1,2,3,4]}, {\"name\": \"n\", \"shape\": [1,3], \"datatype\": "
                  "\"INT64\", \"data\": [-2147483648, 0, 2147483647]}, {\"name\": \"b\", "
                  "\"shape\": [3], \"datatype\": \"UINT8\", \"data\": [0, 1, 1]}]}",
                  &r),
               200, "%s", msg);
  const int32_t ns[] = {INT32_MIN, 0, INT32_MAX};
  cr_assert_arr_eq(r.in[1].data, ns, sizeof ns);
  srv_infer_req_free(&r);
  expect_error(ks(&SIG3, ks_body("n", "[1,3]", "INT32", "[1, 2, 2147483648]"), &r), 400,
               "2147483648 is out of range for INT32 into input 'n'");
  expect_error(ks(&SIG3, ks_body("n", "[1,3]", "INT64", "[1, 2, 9223372036854775807]"), &r), 400,
               "out of range");
  expect_error(ks(&SIG3, ks_body("b", "[2]", "BOOL", "[true, 1]"), &r), 400,
               "inputs[0].data[1]: expected true or false for datatype BOOL");
  expect_error(ks(&SIG3, ks_body("b", "[2]", "UINT8", "[1, 2]"), &r), 400,
               "inputs[0].data[1]: 2 is out of range for UINT8 into input 'b' (bool)");
  expect_error(ks(&SIG3, ks_body("b", "[2.0]", "BOOL", "[true, true]"), &r), 400,
               "inputs[0].shape[0]: expected a non-negative integer");
}

Test(decode, nesting_limits) {
  srv_infer_req r;
  rt_io_info any = {.name = "t", .dtype = RT_DT_F32, .rank = -1};
  srv_sig s = {.n_in = 1, .n_out = 1, .in = &any, .out = OUT2};
  expect_error(tfs(&s, "{\"instances\": [[[[[[[[[1]]]]]]]]]}", &r), 400,
               "instances[0]: nested deeper than 8 dimensions");
  expect_error(tfs(&s, "{\"inputs\": [[[[[[[[[1]]]]]]]]]}", &r), 400,
               "inputs: nested deeper than 8 dimensions");
  cr_assert_eq(tfs(&s, "{\"inputs\": [[[[[[[[1]]]]]]]]}", &r), 200, "%s", msg);
  cr_assert_eq(r.in[0].rank, 8);
  srv_infer_req_free(&r);
  /* Deeper than jansson's 2048 anywhere, even in a field nobody reads: bad JSON, as before. */
  srv_buf b;
  srv_buf_init(&b);
  srv_buf_puts(&b, "{\"inputs\": [1], \"x\": ");
  for (int i = 0; i < 3000; i++)
    srv_buf_putc(&b, '[');
  for (int i = 0; i < 3000; i++)
    srv_buf_putc(&b, ']');
  srv_buf_putc(&b, '}');
  msg[0] = 0;
  expect_error(srv_tfs_decode(&s, b.data, b.len, &r, msg, sizeof msg), 400,
               "nested deeper than 2048");
  srv_buf_free(&b);
}

Test(decode, every_truncation_is_a_clean_400) {
  const char *tfs_bodies[] = {
      "{\"signature_name\": \"serving_default\", \"instances\": [{\"b\": true, \"n\": [1,-2,3], "
      "\"x\": [[1.5,2e-3],[3,-4.25E+2]]}, {\"x\": [[1,2],[3,4]], \"b\": 0, \"n\": [4,5,6]}]}",
      "{\"instances\": [{\"x\": {\"b64\": \"AACAPwAAAEAAAEBAAACAQA==\"}, \"b\": 1, \"n\": "
      "[4,5,6]}]}",
      "{\"inputs\": {\"x:0\": [[[1,2],[3,4]]], \"n\": [[7,8,9]], \"b\": [true]}}",
  };
  const char *ks_bodies[] = {
      "{\"id\": \"r\\u00e9q\", \"inputs\": [{\"name\": \"x\", \"shape\": [1,2,2], \"datatype\": "
      "\"FP32\", \"data\": [[1,2.5],[3,4]], \"parameters\": {}}, {\"name\": \"n\", \"shape\": "
      "[1,3], \"datatype\": \"INT64\", \"data\": [1,2,3]}, {\"name\": \"b\", \"shape\": [1], "
      "\"datatype\": \"BOOL\", \"data\": [false]}], \"outputs\": [{\"name\": \"z\"}]}",
  };
  srv_infer_req r;
  for (int api = 0; api < 2; api++) {
    const char **bodies = api ? ks_bodies : tfs_bodies;
    size_t nb = api ? 1 : 3;
    for (size_t k = 0; k < nb; k++) {
      size_t n = strlen(bodies[k]);
      msg[0] = 0;
      int st = api ? srv_kserve_decode(&SIG3, bodies[k], n, &r, msg, sizeof msg)
                   : srv_tfs_decode(&SIG3, bodies[k], n, &r, msg, sizeof msg);
      cr_assert_eq(st, 200, "whole body %zu: %s", k, msg);
      srv_infer_req_free(&r);
      for (size_t cut = 0; cut < n; cut++) {
        char *b = malloc(cut ? cut : 1); /* exactly `cut` bytes: ASan sees any overread */
        memcpy(b, bodies[k], cut);
        msg[0] = 0;
        st = api ? srv_kserve_decode(&SIG3, b, cut, &r, msg, sizeof msg)
                 : srv_tfs_decode(&SIG3, b, cut, &r, msg, sizeof msg);
        cr_assert_eq(st, 400, "cut at %zu: %d %s", cut, st, msg);
        cr_assert(strstr(msg, "bad JSON at line 1 column "), "cut at %zu: %s", cut, msg);
        cr_assert_null(r.in);
        free(b);
      }
    }
  }
}

/* Random float32 bodies in every number form clients send, decoded by srv_tfs_decode and by
 * a jansson reference (the codec before the DOM-free reader: json_loadb, then (float) of the
 * real or of the int64): the tensors must be identical bit for bit. */
Test(tfs_decode, same_tensors_as_the_jansson_reference_on_random_bodies) {
  uint32_t x = 12345u;
  srv_buf b;
  rt_io_info io = {.name = "t", .dtype = RT_DT_F32, .rank = -1};
  srv_sig s = {.n_in = 1, .n_out = 1, .in = &io, .out = OUT2};
  for (int round = 0; round < 40; round++) {
    srv_buf_init(&b);
    srv_buf_puts(&b, "{\"instances\": [");
    int rows = 1 + round % 3, cols = 257;
    for (int i = 0; i < rows; i++) {
      srv_buf_puts(&b, i ? ", [" : "[");
      for (int j = 0; j < cols; j++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        float f;
        memcpy(&f, &x, 4);
        if (!isfinite(f))
          f = 1;
        char num[64];
        switch (x % 7) {
        case 0: snprintf(num, sizeof num, "%.17g", (double)f); break;
        case 1: snprintf(num, sizeof num, "%.9g", (double)f); break;
        case 2: srv_fmt_f32(num, f); break;
        case 3: snprintf(num, sizeof num, "%d", (int)(x % 100000) - 50000); break;
        case 4: snprintf(num, sizeof num, "%.25e", (double)f * 1e-3); break;
        case 5: snprintf(num, sizeof num, "%lld", (long long)((int64_t)x << 29)); break;
        default: snprintf(num, sizeof num, "%.3f", (double)(x % 1000000) / 7.0);
        }
        srv_buf_puts(&b, j ? ", " : "");
        srv_buf_puts(&b, num);
      }
      srv_buf_putc(&b, ']');
    }
    srv_buf_puts(&b, "]}");
    srv_infer_req r;
    msg[0] = 0;
    cr_assert_eq(srv_tfs_decode(&s, b.data, b.len, &r, msg, sizeof msg), 200, "%s", msg);
    cr_assert_eq(r.in[0].rank, 2);
    json_t *root = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL), *inst;
    cr_assert_not_null(root);
    inst = json_object_get(root, "instances");
    const float *got = r.in[0].data;
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++) {
        json_t *v = json_array_get(json_array_get(inst, (size_t)i), (size_t)j);
        float want = json_is_real(v) ? (float)json_real_value(v) : (float)json_integer_value(v);
        cr_assert_eq(bits_of(got[i * cols + j]), bits_of(want), "[%d][%d]", i, j);
      }
    json_decref(root);
    srv_infer_req_free(&r);
    srv_buf_free(&b);
  }
}

/* The printer before its filter (the exact p = 1..9 search, unchanged otherwise), kept here
 * as the oracle: the filter must never change the text. */
static const double REF_POW10[] = {
    1e-64, 1e-63, 1e-62, 1e-61, 1e-60, 1e-59, 1e-58, 1e-57, 1e-56, 1e-55, 1e-54, 1e-53, 1e-52,
    1e-51, 1e-50, 1e-49, 1e-48, 1e-47, 1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39,
    1e-38, 1e-37, 1e-36, 1e-35, 1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26,
    1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13,
    1e-12, 1e-11, 1e-10, 1e-9,  1e-8,  1e-7,  1e-6,  1e-5,  1e-4,  1e-3,  1e-2,  1e-1,  1e0,
    1e1,   1e2,   1e3,   1e4,   1e5,   1e6,   1e7,   1e8,   1e9,   1e10,  1e11,  1e12,  1e13,
    1e14,  1e15,  1e16,  1e17,  1e18,  1e19,  1e20,  1e21,  1e22,  1e23,  1e24,  1e25,  1e26,
    1e27,  1e28,  1e29,  1e30,  1e31,  1e32,  1e33,  1e34,  1e35,  1e36,  1e37,  1e38,  1e39,
    1e40,  1e41,  1e42,  1e43,  1e44,  1e45,  1e46,  1e47,  1e48,  1e49,  1e50,  1e51,  1e52,
    1e53,  1e54,  1e55,  1e56,  1e57,  1e58,  1e59,  1e60,  1e61,  1e62,  1e63,  1e64};
static double ref_pow10(int k) { return REF_POW10[k + 64]; }

static void ref_fmt_f32(char *out, float v) {
  if (!isfinite(v)) {
    strcpy(out, isnan(v) ? "NaN" : v < 0 ? "-Infinity" : "Infinity");
    return;
  }
  int n = 0;
  if (signbit(v))
    out[n++] = '-';
  float a = fabsf(v);
  if (a == 0) {
    strcpy(out + n, "0");
    return;
  }
  double d = a;
  int e = (int)floor(log10(d));
  if (d < ref_pow10(e))
    e--;
  else if (d >= ref_pow10(e + 1))
    e++;
  long long m = 0;
  int p, ee = e;
  for (p = 1; p <= 9; p++) {
    ee = e;
    m = llround(d * ref_pow10(p - 1 - e));
    if (m >= (long long)(ref_pow10(p) + 0.5)) {
      m /= 10;
      ee = e + 1;
    }
    if (m == 0)
      continue;
    double back = (double)m * ref_pow10(ee - p + 1);
    if ((float)(back * (1 + 1e-15)) == a && (float)(back * (1 - 1e-15)) == a)
      break;
  }
  cr_assert_leq(p, 9);
  char dig[24];
  int nd = snprintf(dig, sizeof dig, "%lld", m);
  while (nd > 1 && dig[nd - 1] == '0')
    nd--;
  if (ee >= -5 && ee < 17) {
    if (ee < 0) {
      n += sprintf(out + n, "0.");
      for (int i = -1; i > ee; i--)
        out[n++] = '0';
      n += sprintf(out + n, "%.*s", nd, dig);
    } else if (ee + 1 >= nd) {
      n += sprintf(out + n, "%.*s", nd, dig);
      for (int i = nd; i <= ee; i++)
        out[n++] = '0';
      out[n] = 0;
    } else {
      n += sprintf(out + n, "%.*s.%.*s", ee + 1, dig, nd - ee - 1, dig + ee + 1);
    }
  } else {
    n += sprintf(out + n, "%c", dig[0]);
    if (nd > 1)
      n += sprintf(out + n, ".%.*s", nd - 1, dig + 1);
    sprintf(out + n, "e%d", ee);
  }
}

static void check_printer(float v) {
  char got[40], want[40];
  int len = srv_fmt_f32(got, v);
  ref_fmt_f32(want, v);
  cr_assert_str_eq(got, want, "%a", (double)v);
  cr_assert_eq(len, (int)strlen(got));
  cr_assert_leq(len, 18, "%s", got);
  if (isfinite(v)) {
    float back = (float)strtod(got, NULL);
    cr_assert_eq(bits_of(back), bits_of(v), "%s", got);
  }
}

Test(numbers, float32_printer_matches_the_exhaustive_search) {
  /* Specials, the edges of every range, powers of two and ten, integers. */
  float specials[] = {0.0f,
                      -0.0f,
                      1e-45f,
                      -1e-45f,
                      2e-45f,
                      1.1754942e-38f,
                      1.17549435e-38f,
                      3.4028235e38f,
                      -3.4028235e38f,
                      3.4028233e38f,
                      16777216.0f,
                      16777215.0f,
                      1e10f,
                      12345678900000000.0f,
                      -1.2345678e-38f,
                      0.3f,
                      2.0f / 3,
                      1e16f,
                      1e17f,
                      9.999999e16f,
                      1e-5f,
                      9.999999e-6f,
                      0.0001f};
  for (size_t i = 0; i < sizeof specials / sizeof *specials; i++)
    check_printer(specials[i]);
  for (int k = -149; k <= 127; k++)
    check_printer(ldexpf(1, k));
  for (int k = -45; k <= 38; k++)
    check_printer((float)ref_pow10(k));
  for (int i = 0; i <= (1 << 24); i += 97)
    check_printer((float)i);
  /* The first subnormals, every float in [1, 2) at a stride, random bit patterns. */
  for (uint32_t u = 1; u < 20000; u++) {
    float f;
    memcpy(&f, &u, 4);
    check_printer(f);
  }
  for (uint32_t u = 0x3F800000u; u < 0x40000000u; u += 61) {
    float f;
    memcpy(&f, &u, 4);
    check_printer(f);
  }
  uint32_t x = 99991u;
  for (int i = 0; i < 150000; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    float f;
    memcpy(&f, &x, 4);
    check_printer(f);
  }
}

Test(tfs_encode, long_floats_and_wide_shapes) {
  /* Values at the printer's longest (18 characters), an empty dimension, and shape [2,1,1]: bounds
   * of the one-reservation writers. */
  float y[] = {-12345678900000000.0f, -1.2345678e-38f, 1e-45f, -0.0f};
  rt_tensor outs[2] = {{.dtype = RT_DT_F32, .rank = 3, .dims = {4, 1, 1}, .data = y},
                       {.dtype = RT_DT_I32,
                        .rank = 1,
                        .dims = {4},
                        .data = (int32_t[]){INT32_MIN, 0, 1, INT32_MAX}}};
  srv_infer_req r = {.row = false};
  int code;
  char *s = encode_tfs(&SIG3, &r, outs, &code);
  cr_assert_eq(code, 200);
  cr_assert_str_eq(s, "{\"outputs\":{\"y\":[[[-12345678000000000]],[[-1.2345678e-38]],[[1e-45]],"
                      "[[-0]]],\"z\":[-2147483648,0,1,2147483647]}}");
  free(s);
  rt_tensor empty[1] = {{.dtype = RT_DT_F32, .rank = 3, .dims = {3, 0, 2}, .data = y}};
  s = encode_tfs(&SIG1, &r, empty, &code);
  cr_assert_str_eq(s, "{\"outputs\":[[],[],[]]}");
  free(s);
  unsigned char bools[] = {1, 0, 1};
  rt_tensor bo[1] = {{.dtype = RT_DT_BOOL, .rank = 2, .dims = {3, 1}, .data = bools}};
  r.row = true;
  r.n_instances = 3;
  s = encode_tfs(&SIG1, &r, bo, &code);
  cr_assert_str_eq(s, "{\"predictions\":[[true],[false],[true]]}");
  free(s);
}

Test(tfs_decode, rows_of_pixels_convert_whole_and_report_the_first_bad_one) {
  /* Lists of short rows take the reader's row-at-a-time path; a row it cannot take (a whole
   * real into int32, a short row, a bad value) is decoded value by value and named. */
  rt_io_info img = {.name = "px", .dtype = RT_DT_I32, .rank = 3, .dims = {-1, 3, 2}};
  srv_sig s = {.n_in = 1, .n_out = 1, .in = &img, .out = OUT2};
  srv_infer_req r;
  cr_assert_eq(tfs(&s,
                   "{\"instances\": [[[1, 2], [3.0, -0.0], [5, 6]], [[7, 8], [9, 10], "
                   "[11, 12]]]}",
                   &r),
               200, "%s", msg);
  const int32_t want[] = {1, 2, 3, 0, 5, 6, 7, 8, 9, 10, 11, 12};
  cr_assert_arr_eq(r.in[0].data, want, sizeof want);
  srv_infer_req_free(&r);
  expect_error(
      tfs(&s, "{\"instances\": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 1.5], [1, 2]]]}", &r), 400,
      "instances[1][1][1]: expected an int32 value (input 'px' is int32), got 1.5");
  expect_error(tfs(&s, "{\"instances\": [[[1, 2], [3], [5, 6]]]}", &r), 400,
               "instances[0][1]: ragged: 1 values where the first list has 2");
  img.dtype = RT_DT_F32;
  cr_assert_eq(tfs(&s, "{\"instances\": [[[1, 2], [3.5, -0], [5e-1, 6]]]}", &r), 200, "%s", msg);
  const float fw[] = {1, 2, 3.5f, 0, 0.5f, 6};
  assert_f32(&r.in[0], fw, 6);
  srv_infer_req_free(&r);
  expect_error(
      tfs(&s, "{\"instances\": [[[1, 2], [3, 4], [5, [6]]]]}", &r), 400,
      "instances[0][2][1]: ragged: expected a single value here (shape [3,2]), got a list");
  expect_error(tfs(&s, "{\"instances\": [[[1, 2], [3, 4], {\"a\": 1}]]}", &r), 400,
               "instances[0][2]: ragged: expected a list of 2 values, got an object");
}
