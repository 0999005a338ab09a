/*
 * test_garden.c — orchard.json (garden.c): valid files give the image specs the contract
 * describes (defaults from the input's shape), and every invalid one fails with a message
 * naming the file and the JSON path. "task" is task.c's (test of its own); here only that a
 * bad one fails the file.
 */
#include "garden.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rt_io_info INS[] = {
    {.name = "input_1:0", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 64, 64, 1}},
    {.name = "input:0", .dtype = RT_DT_I32, .rank = 4, .dims = {1, 192, 192, 3}},
    {.name = "free", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, -1, -1, 3}},
    {.name = "chw", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 3, 32, 48}},
    {.name = "flags", .dtype = RT_DT_BOOL, .rank = 4, .dims = {-1, 8, 8, 3}},
    {.name = "vec", .dtype = RT_DT_F32, .rank = 2, .dims = {-1, 10}},
    {.name = "four", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 8, 8, 4}},
};
static rt_io_info OUTS[] = {{.name = "Identity:0", .dtype = RT_DT_F32, .rank = 2, .dims = {-1, 7}}};
static srv_sig SIG = {.n_in = 7, .n_out = 1, .in = INS, .out = OUTS};

static char msg[2048];
static char path[256];

static int load(const char *text, srv_garden **g) {
  snprintf(path, sizeof path, "/tmp/orchard-garden-%d.json", (int)getpid());
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fputs(text, f);
  fclose(f);
  msg[0] = 0;
  int rc = srv_garden_load(path, &SIG, g, msg, sizeof msg);
  unlink(path);
  return rc;
}

static srv_garden *load_ok(const char *text) {
  srv_garden *g = NULL;
  cr_assert_eq(load(text, &g), 0, "%s", msg);
  cr_assert_not_null(g);
  return g;
}

/* The message is "<file>: <json path>: <what>". */
static void load_fails(const char *text, const char *json_path, const char *what) {
  srv_garden *g = (srv_garden *)1;
  cr_assert_eq(load(text, &g), -1, "accepted: %s", text);
  cr_assert_null(g);
  char want[512];
  snprintf(want, sizeof want, "%s: %s", path, json_path);
  cr_assert(!strncmp(msg, want, strlen(want)), "message '%s' does not start with '%s'", msg,
            want);
  cr_assert(strstr(msg, what), "message '%s' lacks '%s'", msg, what);
}

Test(garden, missing_file_is_no_garden) {
  srv_garden *g = (srv_garden *)1;
  cr_assert_eq(srv_garden_load("/nonexistent/orchard.json", &SIG, &g, msg, sizeof msg), 0);
  cr_assert_null(g);
  cr_assert_null(srv_garden_image(NULL, 0));
  cr_assert_null(srv_garden_task(NULL));
  cr_assert_eq(srv_garden_first_image(NULL), -1);
}

Test(garden, defaults_come_from_the_input_shape) {
  srv_garden *g = load_ok("{\"inputs\": {\"input_1\": {\"image\": {}}, "
                          "\"input:0\": {\"image\": {}}}}");
  const srv_image_spec *e = srv_garden_image(g, 0);
  cr_assert_not_null(e);
  cr_assert_eq(e->channels, SRV_IMAGE_CHANNELS_GRAY); /* 1 channel */
  cr_assert_eq(e->height, 64);
  cr_assert_eq(e->width, 64);
  cr_assert(!e->nchw);
  cr_assert(e->lo == 0 && e->hi == 255);
  cr_assert(e->gray_weights[0] == 0.299f && e->gray_weights[1] == 0.587f &&
            e->gray_weights[2] == 0.114f);
  cr_assert_eq(e->dtype, RT_DT_F32);
  const srv_image_spec *m = srv_garden_image(g, 1);
  cr_assert_eq(m->channels, SRV_IMAGE_CHANNELS_RGB);
  cr_assert_eq(m->dtype, RT_DT_I32);
  cr_assert_eq(m->height, 192);
  cr_assert_null(srv_garden_image(g, 2));
  cr_assert_eq(srv_garden_first_image(g), 0);
  cr_assert_eq(srv_garden_num_images(g), 2);
  cr_assert_null(srv_garden_task(g));
  json_t *names = srv_garden_image_inputs(g, &SIG);
  cr_assert_eq(json_array_size(names), 2);
  cr_assert_str_eq(json_string_value(json_array_get(names, 0)), "input_1:0");
  cr_assert_str_eq(json_string_value(json_array_get(names, 1)), "input:0");
  json_decref(names);
  srv_garden_free(g);
}

Test(garden, every_field) {
  srv_garden *g = load_ok("{\"inputs\": {\"free\": {\"image\": {\"channels\": \"bgr\", "
                          "\"size\": [100, 120], \"range\": [-1, 1], \"mean\": [0.5], "
                          "\"std\": [1, 2, 4]}}, "
                          "\"chw\": {\"image\": {\"layout\": \"NCHW\"}}, "
                          "\"input_1:0\": {\"image\": {\"channels\": \"gray\", "
                          "\"gray_weights\": [0.2989, 0.587, 0.114]}}}}");
  const srv_image_spec *f = srv_garden_image(g, 2);
  cr_assert_eq(f->channels, SRV_IMAGE_CHANNELS_BGR);
  cr_assert_eq(f->height, 100);
  cr_assert_eq(f->width, 120);
  cr_assert(f->lo == -1 && f->hi == 1);
  cr_assert_eq(f->n_mean, 1);
  cr_assert(f->mean[0] == 0.5f);
  cr_assert_eq(f->n_std, 3);
  cr_assert(f->std[2] == 4);
  const srv_image_spec *c = srv_garden_image(g, 3);
  cr_assert(c->nchw);
  cr_assert_eq(c->height, 32);
  cr_assert_eq(c->width, 48);
  cr_assert_eq(c->channels, SRV_IMAGE_CHANNELS_RGB);
  cr_assert(srv_garden_image(g, 0)->gray_weights[0] == 0.2989f);
  srv_garden_free(g);
}

Test(garden, invalid_files_name_file_and_path) {
  load_fails("[1]", "expected a JSON object", "");
  load_fails("{\"input\": {}}", "unknown key 'input'", "known: inputs, task");
  load_fails("{\"inputs\": []}", "inputs", "expected an object of input names, got a list");
  load_fails("{\"inputs\": {\"nope\": {\"image\": {}}}}", "inputs.nope",
             "the model has no input 'nope' (its inputs: 'input_1:0', 'input:0'");
  load_fails("{\"inputs\": {\"input_1\": {\"image\": {}}, \"input_1:0\": {\"image\": {}}}}",
             "inputs.input_1:0", "given twice");
  load_fails("{\"inputs\": {\"input_1\": {\"img\": {}}}}", "inputs.input_1",
             "unknown key 'img' (known: image)");
  load_fails("{\"inputs\": {\"input_1\": {}}}", "inputs.input_1", "missing \"image\"");
  load_fails("{\"inputs\": {\"input_1\": 3}}", "inputs.input_1", "expected an object");
  load_fails("{\"inputs\": {\"input_1\": {\"image\": {\"sizes\": [1, 2]}}}}",
             "inputs.input_1.image", "unknown key 'sizes'");
  load_fails("{\"inputs\": {\"input_1\": {\"image\": {\"channels\": \"rgb\"}}}}",
             "inputs.input_1.image.channels", "\"rgb\" makes 3 channels, but input 'input_1:0'");
  load_fails("{\"inputs\": {\"input_1\": {\"image\": {\"channels\": \"RGB\"}}}}",
             "inputs.input_1.image.channels", "expected \"rgb\", \"bgr\" or \"gray\"");
  load_fails("{\"inputs\": {\"input\": {\"image\": {\"gray_weights\": [1, 0, 0]}}}}",
             "inputs.input.image.gray_weights", "only for \"channels\": \"gray\"");
  load_fails("{\"inputs\": {\"input_1\": {\"image\": {\"gray_weights\": [1, 0]}}}}",
             "inputs.input_1.image.gray_weights", "expected a list of 3 numbers");
  load_fails("{\"inputs\": {\"input_1\": {\"image\": {\"layout\": \"HWC\"}}}}",
             "inputs.input_1.image.layout", "expected \"NHWC\" or \"NCHW\"");
  load_fails("{\"inputs\": {\"input_1\": {\"image\": {\"size\": [32, 32]}}}}",
             "inputs.input_1.image.size", "[32, 32] does not match input 'input_1:0'");
  load_fails("{\"inputs\": {\"free\": {\"image\": {\"size\": [32]}}}}", "inputs.free.image.size",
             "expected [height, width]");
  load_fails("{\"inputs\": {\"free\": {\"image\": {\"size\": [0, 20000]}}}}",
             "inputs.free.image.size", "each side must be 1..16384");
  load_fails("{\"inputs\": {\"free\": {\"image\": {}}}}", "inputs.free.image.size",
             "missing: input 'free' has shape [-1,-1,-1,3]");
  load_fails("{\"inputs\": {\"free\": {\"image\": {\"size\": [8, 8], \"range\": [1]}}}}",
             "inputs.free.image.range", "expected a list of 2 numbers");
  load_fails("{\"inputs\": {\"free\": {\"image\": {\"size\": [8, 8], \"range\": [1, 1]}}}}",
             "inputs.free.image.range", "lo and hi are equal");
  load_fails("{\"inputs\": {\"free\": {\"image\": {\"size\": [8, 8], \"range\": [0, \"x\"]}}}}",
             "inputs.free.image.range", "element 1: expected a finite number, got a string");
  load_fails("{\"inputs\": {\"free\": {\"image\": {\"size\": [8, 8], \"mean\": [1, 2]}}}}",
             "inputs.free.image.mean", "expected 1 or 3 values, got 2");
  load_fails("{\"inputs\": {\"free\": {\"image\": {\"size\": [8, 8], \"std\": [1, 0, 1]}}}}",
             "inputs.free.image.std", "element 1 is 0");
  load_fails("{\"inputs\": {\"free\": {\"image\": {\"size\": [8, 8], \"std\": [1, 1, 1, 1]}}}}",
             "inputs.free.image.std", "expected a list of 1 to 3 numbers");
  load_fails("{\"inputs\": {\"flags\": {\"image\": {}}}}", "inputs.flags",
             "input 'flags' is bool; an image input must be float32 or int32");
  load_fails("{\"inputs\": {\"vec\": {\"image\": {}}}}", "inputs.vec",
             "input 'vec' has shape [-1,10]; an image input needs rank 4");
  load_fails("{\"inputs\": {\"four\": {\"image\": {}}}}", "inputs.four",
             "has 4 channels; an image input has 1 (gray) or 3");
  load_fails("{\"inputs\": {\"chw\": {\"image\": {}}}}", "inputs.chw",
             "has 48 channels; an image input has 1 (gray) or 3");
}

Test(garden, json_errors_and_duplicates) {
  srv_garden *g = (srv_garden *)1;
  cr_assert_eq(load("{\"inputs\": {", &g), -1);
  cr_assert(strstr(msg, path) == msg && strstr(msg, "line 1"), "%s", msg);
  cr_assert_eq(load("{\"inputs\": {}, \"inputs\": {}}", &g), -1);
  cr_assert(strstr(msg, "duplicate"), "%s", msg);
}

Test(garden, bad_task_fails_the_file) {
  srv_garden *g = (srv_garden *)1;
  cr_assert_eq(load("{\"task\": 5}", &g), -1);
  cr_assert_null(g);
  cr_assert(strstr(msg, path) == msg, "'%s' does not name the file", msg);
}

/* ---------------------------------------------------------------- the codecs with a garden */

static unsigned char *chelsea(size_t *len) {
  FILE *f = fopen("/usr/lib/python3/dist-packages/skimage/data/chelsea.png", "rb");
  cr_assert(f, "python3-skimage's chelsea.png is missing (scripts/bootstrap)");
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc(*len);
  cr_assert_eq(fread(p, 1, *len, f), *len);
  fclose(f);
  return p;
}

static char *b64(const unsigned char *p, size_t n) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *o = malloc(n / 3 * 4 + 8), *w = o;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    *w++ = A[v >> 18 & 63];
    *w++ = A[v >> 12 & 63];
    *w++ = i + 1 < n ? A[v >> 6 & 63] : '=';
    *w++ = i + 2 < n ? A[v & 63] : '=';
  }
  *w = 0;
  return o;
}

/* emotion-like input, gray, range [0, 1]; "free" at 8192 x 8192 for the batch bound */
static srv_sig garden_sig(void) {
  srv_sig s = SIG;
  cr_assert_eq(load("{\"inputs\": {\"input_1\": {\"image\": {\"range\": [0, 1]}}, "
                    "\"free\": {\"image\": {\"size\": [8192, 8192]}}}}",
                    &s.garden),
               0, "%s", msg);
  return s;
}

Test(garden, codecs_decode_images_into_the_input) {
  srv_sig s = garden_sig();
  size_t n;
  unsigned char *png = chelsea(&n);
  char *enc = b64(png, n);
  float want[64 * 64];
  int w, h;
  cr_assert_eq(srv_image_load(srv_garden_image(s.garden, 0), png, n, want, &w, &h, msg,
                              sizeof msg),
               200, "%s", msg);
  /* rest_tfs row format, single-input only here: the other inputs are absent, so decode
   * through a one-input view of the signature. */
  srv_sig one = {.n_in = 1, .n_out = 1, .in = INS, .out = OUTS, .garden = s.garden};
  size_t cap = strlen(enc) * 2 + 256;
  char *body = malloc(cap);
  snprintf(body, cap, "{\"instances\": [{\"b64\": \"%s\"}, {\"b64\": \"%s\"}]}", enc, enc);
  srv_infer_req r;
  cr_assert_eq(srv_tfs_decode(&one, body, strlen(body), &r, msg, sizeof msg), 200, "%s", msg);
  cr_assert_eq(r.in[0].rank, 4);
  cr_assert_eq(r.in[0].dims[0], 2);
  cr_assert_eq(r.in[0].dims[1], 64);
  cr_assert_eq(r.in[0].dims[3], 1);
  cr_assert_arr_eq(r.in[0].data, want, sizeof want);
  cr_assert_arr_eq((float *)r.in[0].data + 64 * 64, want, sizeof want);
  cr_assert_eq(r.n_sizes, 2);
  cr_assert_eq(r.sizes[0], 451);
  cr_assert_eq(r.sizes[3], 300);
  srv_infer_req_free(&r);
  /* columnar list */
  snprintf(body, cap, "{\"inputs\": {\"input_1\": [{\"b64\": \"%s\"}]}}", enc);
  cr_assert_eq(srv_tfs_decode(&one, body, strlen(body), &r, msg, sizeof msg), 200, "%s", msg);
  cr_assert_eq(r.in[0].dims[0], 1);
  cr_assert_arr_eq(r.in[0].data, want, sizeof want);
  srv_infer_req_free(&r);
  /* KServe BYTES */
  snprintf(body, cap,
           "{\"inputs\": [{\"name\": \"input_1\", \"shape\": [1], \"datatype\": \"BYTES\", "
           "\"data\": [\"%s\"]}]}",
           enc);
  cr_assert_eq(srv_kserve_decode(&one, body, strlen(body), &r, msg, sizeof msg), 200, "%s", msg);
  cr_assert_arr_eq(r.in[0].data, want, sizeof want);
  srv_infer_req_free(&r);
  snprintf(body, cap,
           "{\"inputs\": [{\"name\": \"input_1\", \"shape\": [2], \"datatype\": \"BYTES\", "
           "\"data\": [\"%s\"]}]}",
           enc);
  cr_assert_eq(srv_kserve_decode(&one, body, strlen(body), &r, msg, sizeof msg), 400);
  cr_assert(strstr(msg, "inputs[0].data: expected a list of 2 base64 strings"), "%s", msg);
  /* raw body */
  cr_assert_eq(srv_tfs_decode_image(&one, (const char *)png, n, &r, msg, sizeof msg), 200, "%s",
               msg);
  cr_assert(r.row && r.n_instances == 1);
  cr_assert_arr_eq(r.in[0].data, want, sizeof want);
  srv_infer_req_free(&r);
  cr_assert_eq(srv_tfs_decode_image(&one, (const char *)png, n / 2, &r, msg, sizeof msg), 400);
  cr_assert(strstr(msg, "request body: input 'input_1:0': corrupt or truncated PNG"), "%s", msg);
  cr_assert_eq(srv_tfs_decode_image(&SIG, (const char *)png, n, &r, msg, sizeof msg), 400);
  cr_assert(strstr(msg, "an image body feeds a model with one input; this one has 7"), "%s", msg);
  /* more than 1 GiB of tensor: 413 before anything is allocated */
  srv_sig big = {.n_in = 1, .n_out = 1, .in = &INS[2], .out = OUTS, .garden = NULL};
  srv_garden *g2;
  srv_sig free_only = {.n_in = 1, .n_out = 1, .in = &INS[2], .out = OUTS};
  json_t *doc = json_loads("{\"inputs\": {\"free\": {\"image\": {\"size\": [8192, 8192]}}}}", 0,
                           NULL);
  cr_assert_eq(srv_garden_parse(doc, "x.json", &free_only, &g2, msg, sizeof msg), 0, "%s", msg);
  json_decref(doc);
  big.garden = g2;
  snprintf(body, cap, "{\"instances\": [{\"b64\": \"%s\"}, {\"b64\": \"%s\"}]}", enc, enc);
  cr_assert_eq(srv_tfs_decode(&big, body, strlen(body), &r, msg, sizeof msg), 413, "%s", msg);
  cr_assert(strstr(msg, "2 images for input 'free' make more than 1024 MiB"), "%s", msg);
  srv_garden_free(g2);
  free(body);
  free(enc);
  free(png);
  srv_garden_free(s.garden);
}
