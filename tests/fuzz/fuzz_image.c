/*
 * fuzz_image.c — encoded image inputs: server/image.c's JPEG and PNG decoders and the
 * resize/convert into one batch item of a tensor, the raw-image-body codec path
 * (srv_tfs_decode_image through srv_rest_image_*), and server/garden.c's orchard.json parsing
 * (with the "task" it hands to task.c) against a fixed signature.
 *
 * The first byte picks what runs, the rest is the payload:
 *   bits 0-1 = 0, 1: decode the payload as an image, then convert it with a spec from bits 2-7
 *                    (channels, layout, dtype, target size) and from bit 0 (range, mean/std);
 *   bits 0-1 = 2:    parse the payload as an orchard.json for the fixed signature below; when it
 *                    is valid, describe its task and answer it over outputs filled from the
 *                    payload's bytes;
 *   bits 0-1 = 3:    a request for a model whose one input is an image (orchard.json fixed;
 *                    bit 2 picks the float32 or the int32 model): bits 3-4 = 0 a raw image
 *                    body (bit 5 clear) or a TF Serving JSON predict with b64 images (bit 5
 *                    set), 1 a gRPC ModelInfer (BYTES: bytes_contents or raw_input_contents),
 *                    2 a gRPC Predict (DT_STRING string_val), 3 a REST KServe infer.
 * Every destination is allocated to its exact size, so ASan sees any write past an item.
 * Seeds: tests/fuzz/seeds/fuzz_image/ (tiny images and orchard.json files, the byte in front).
 */
#include "fuzz_common.h"
#include "garden.h"
#include "image.h"
#include "rest.h"
#include "task.h"

#ifdef ORCHARD_HAVE_GRPC
#include "grpc/codec.h"
#endif

#include <jansson.h>

/* ---------------------------------------------------------------- image -> tensor */

static void fuzz_convert(uint8_t sel, const uint8_t *p, size_t n) {
  srv_image img;
  int status = 0;
  char msg[512];
  if (srv_image_decode(p, n, &img, &status, msg, sizeof msg) != 0) {
    if (status != 400 && status != 413 && status != 500)
      abort(); /* a failure must say which */
    return;
  }
  if (img.width < 1 || img.height < 1 || (img.channels != 1 && img.channels != 3) || !img.px)
    abort();
  srv_image_spec s;
  srv_image_spec_default(&s);
  static const srv_image_channels CH[4] = {SRV_IMAGE_CHANNELS_RGB, SRV_IMAGE_CHANNELS_BGR,
                                           SRV_IMAGE_CHANNELS_GRAY, SRV_IMAGE_CHANNELS_RGB};
  s.channels = CH[(sel >> 2) & 3];
  s.nchw = sel & 16;
  s.dtype = sel & 32 ? RT_DT_I32 : RT_DT_F32;
  switch (sel >> 6) {
  case 0: s.height = 1, s.width = 1; break;
  case 1: s.height = 3, s.width = 5; break;
  case 2: s.height = 17, s.width = 9; break;
  default: /* the image's own size (identity resize), bounded to keep runs fast */
    s.height = img.height < 64 ? img.height : 64;
    s.width = img.width < 64 ? img.width : 64;
  }
  if (sel & 1) {
    s.lo = -1, s.hi = 1;
    int C = srv_image_spec_channels(&s);
    s.n_mean = s.n_std = C;
    for (int c = 0; c < C; c++)
      s.mean[c] = 0.1f * (float)c, s.std[c] = 0.5f + (float)c;
    if (s.channels == SRV_IMAGE_CHANNELS_GRAY)
      s.gray_weights[0] = 0.2989f, s.gray_weights[1] = 0.587f, s.gray_weights[2] = 0.114f;
  }
  size_t bytes = (size_t)srv_image_spec_numel(&s) * rt_dtype_size(s.dtype);
  void *dst = malloc(bytes);
  if (!dst)
    abort();
  srv_image_convert(&img, &s, dst);
  if (s.dtype == RT_DT_F32 && !(sel & 1)) {
    /* Bilinear weights are convex: no value leaves the 0..255 pixel range. */
    const float *f = dst;
    for (size_t i = 0; i < bytes / sizeof *f; i++)
      if (!(f[i] >= 0.0f && f[i] <= 255.0f))
        abort();
  }
  free(dst);
  srv_image_free(&img);
}

/* ---------------------------------------------------------------- orchard.json */

/* Shaped like the garden's models, so the real orchard.json files (with their names
 * adjusted) are meaningful seeds: an rgb and a gray image input, an int32 one with unknown
 * size, an NCHW one; a classifier, blazeface-like detection heads, a two-class mask and
 * movenet-like keypoints. */
static rt_io_info g_in[] = {
    {.name = "input_1:0", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 64, 64, 3}},
    {.name = "gray", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 48, 48, 1}},
    {.name = "input:0", .dtype = RT_DT_I32, .rank = 4, .dims = {-1, -1, -1, 3}},
    {.name = "nchw", .dtype = RT_DT_F32, .rank = 4, .dims = {1, 3, 32, 32}},
    {.name = "ids", .dtype = RT_DT_I32, .rank = 2, .dims = {-1, 8}},
};
static rt_io_info g_out[] = {
    {.name = "Identity:0", .dtype = RT_DT_F32, .rank = 2, .dims = {-1, 7}},
    {.name = "Identity_1:0", .dtype = RT_DT_F32, .rank = 3, .dims = {-1, 16, 1}},
    {.name = "Identity_2:0", .dtype = RT_DT_F32, .rank = 3, .dims = {-1, 16, 16}},
    {.name = "segment:0", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 8, 8, 2}},
    {.name = "Identity_3:0", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 1, 17, 3}},
    {.name = "tower_0/detections", .dtype = RT_DT_F32, .rank = 3, .dims = {-1, 10, 6}},
    {.name = "Identity_4:0", .dtype = RT_DT_F32, .rank = 3, .dims = {-1, 4, 1}},
    {.name = "Identity_5:0", .dtype = RT_DT_F32, .rank = 3, .dims = {-1, 4, 16}},
};
#define N_IN (int)(sizeof g_in / sizeof *g_in)
#define N_OUT (int)(sizeof g_out / sizeof *g_out)

static void fuzz_garden(const uint8_t *p, size_t n) {
  json_error_t je;
  json_t *root = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    return;
  srv_sig sig = {N_IN, N_OUT, g_in, g_out, NULL};
  srv_garden *g = NULL;
  char msg[1024];
  int rc = srv_garden_parse(root, "fuzz/orchard.json", &sig, &g, msg, sizeof msg);
  json_decref(root);
  if (rc != 0) {
    if (g || strncmp(msg, "fuzz/orchard.json: ", 19))
      abort(); /* errors name the file */
    return;
  }
  for (int k = 0; k < N_IN; k++) {
    const srv_image_spec *s = srv_garden_image(g, k);
    if (s && (s->height < 1 || s->width < 1 || s->height > SRV_IMAGE_MAX_SIDE ||
              s->width > SRV_IMAGE_MAX_SIDE))
      abort();
  }
  json_decref(srv_garden_image_inputs(g, &sig));
  const srv_task *t = srv_garden_task(g);
  if (t) {
    json_decref(srv_task_describe(t));
    /* Two batch items of every output, filled from the payload's bytes (so the fuzzer
     * steers scores, boxes and NaNs too). */
    rt_tensor outs[N_OUT];
    memset(outs, 0, sizeof outs);
    size_t at = 0;
    for (int o = 0; o < N_OUT; o++) {
      outs[o].dtype = RT_DT_F32;
      outs[o].rank = g_out[o].rank;
      int64_t numel = 1;
      for (int d = 0; d < g_out[o].rank; d++) {
        outs[o].dims[d] = d == 0 ? 2 : g_out[o].dims[d];
        numel *= outs[o].dims[d];
      }
      float *f = malloc((size_t)numel * sizeof *f);
      if (!f)
        abort();
      for (int64_t i = 0; i < numel; i++, at++)
        f[i] = ((float)p[at % n] - 96.0f) / 32.0f;
      outs[o].data = f;
    }
    srv_task_opts o = {.top_k = p[0] % 9,
                       .threshold = p[n - 1] & 1 ? -1.0 : 0.25,
                       .image_width = 640,
                       .image_height = 480};
    for (int64_t i = 0; i < 2; i++) {
      srv_buf b;
      srv_buf_init(&b);
      (void)srv_task_answer(t, &sig, outs, i, &o, &b, msg, sizeof msg);
      srv_buf_free(&b);
    }
    for (int o2 = 0; o2 < N_OUT; o2++)
      free(outs[o2].data);
  }
  srv_garden_free(g);
}

/* ---------------------------------------------------------------- raw image body */

static rt_io_info body_f32[] = {
    {.name = "image:0", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 24, 32, 3}}};
static rt_io_info body_i32[] = {
    {.name = "input:0", .dtype = RT_DT_I32, .rank = 4, .dims = {-1, -1, -1, 3}}};
static rt_io_info body_out[] = {{.name = "out", .dtype = RT_DT_F32, .rank = 2, .dims = {-1, 2}}};

static srv_garden *body_garden(rt_io_info *in, const char *json) {
  srv_sig sig = {1, 1, in, body_out, NULL};
  json_t *root = json_loads(json, 0, NULL);
  srv_garden *g = NULL;
  char msg[512];
  if (!root || srv_garden_parse(root, "seed", &sig, &g, msg, sizeof msg) != 0)
    abort();
  json_decref(root);
  return g;
}

static void fuzz_body(uint8_t sel, const uint8_t *p, size_t n) {
  /* Parsed once per process: immutable afterwards, as in the server. */
  static srv_garden *gf, *gi;
  if (!gf) {
    gf = body_garden(body_f32, "{\"inputs\": {\"image\": {\"image\": {\"range\": [-1, 1], "
                               "\"mean\": [0.5], \"std\": [0.25, 0.5, 1]}}}}");
    gi = body_garden(body_i32, "{\"inputs\": {\"input\": {\"image\": {\"channels\": \"bgr\", "
                               "\"layout\": \"NHWC\", \"size\": [7, 11]}}}}");
  }
  srv_sig sig =
      sel & 4 ? (srv_sig){1, 1, body_i32, body_out, gi} : (srv_sig){1, 1, body_f32, body_out, gf};
  srv_infer_req r;
  memset(&r, 0, sizeof r);
  char msg[1024];
  int st = 0;
  switch ((sel >> 3) & 3) {
  case 0:
    st = sel & 32 ? srv_tfs_decode(&sig, (const char *)p, n, &r, msg, sizeof msg)
                  : srv_tfs_decode_image(&sig, (const char *)p, n, &r, msg, sizeof msg);
    break;
#ifdef ORCHARD_HAVE_GRPC
  /* 16 MiB per tensor, as fuzz_grpc bounds server.c's limit (libFuzzer's -malloc_limit_mb). */
  case 1: st = srv_grpc_kserve_decode(&sig, p, n, INT64_C(16) << 20, &r, msg, sizeof msg); break;
  case 2: st = srv_grpc_tfs_decode(&sig, p, n, INT64_C(16) << 20, &r, msg, sizeof msg); break;
#endif
  case 3: st = srv_kserve_decode(&sig, (const char *)p, n, &r, msg, sizeof msg); break;
  default: return;
  }
  if (st == 200) {
    if (r.n_in != 1 || !r.in || !r.in[0].data || r.in[0].rank != 4 || r.in[0].dims[0] < 1)
      abort();
    /* The sizes :annotate reports are the decoded images'. */
    for (int64_t i = 0; r.sizes && i < r.n_sizes; i++)
      if (r.sizes[2 * i] < 1 || r.sizes[2 * i + 1] < 1)
        abort();
  } else if (st != 400 && st != 413 && st != 500) {
    abort();
  }
  srv_infer_req_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  uint8_t sel = data[0];
  switch (sel & 3) {
  case 2: fuzz_garden(data + 1, size - 1); break;
  case 3: fuzz_body(sel, data + 1, size - 1); break;
  default: fuzz_convert(sel, data + 1, size - 1); break;
  }
  return 0;
}
