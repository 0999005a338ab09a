/*
 * test_image.c — image.c: JPEG and PNG decoding of real files (scikit-image's data directory,
 * Debian's python3-skimage), every kind of bad file (corrupt, each truncation of a small PNG
 * and JPEG, decompression bombs, zero sizes, CMYK), the PNG variants that are converted
 * (16-bit, palette, alpha, 1-bit gray), and the resize + conversion against TF.js.
 *
 * Where the expected pixels come from:
 *  - chessboard_GRAY.png / chessboard_RGB.png (16-bit) against the uint8 arrays skimage ships
 *    next to them (chessboard_GRAY_U8.npy, chessboard_RGB_U8.npy);
 *  - the resize against TF.js 4.22 itself: tests/images/resize_ref.js runs
 *    tf.image.resizeBilinear (CPU backend) on the very pixels we decoded, at test time, and
 *    the float32 results must match bit for bit;
 *  - JPEGs and PNGs with known pixels are encoded here with libjpeg / libpng.
 */
#include "image.h"
#include "npy.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#define SKIMAGE "/usr/lib/python3/dist-packages/skimage/data/"

static char msg[1024];

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot open %s (scripts/bootstrap installs python3-skimage)", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)n + 1);
  cr_assert(p);
  cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return p;
}

static srv_image decode_ok(const void *data, size_t len) {
  srv_image img;
  int status = 0;
  msg[0] = 0;
  cr_assert_eq(srv_image_decode(data, len, &img, &status, msg, sizeof msg), 0, "%s", msg);
  return img;
}

static srv_image decode_file(const char *name) {
  char path[512];
  snprintf(path, sizeof path, SKIMAGE "%s", name);
  size_t len;
  unsigned char *p = read_file(path, &len);
  srv_image img = decode_ok(p, len);
  free(p);
  return img;
}

static void decode_fails(const void *data, size_t len, int want_status, const char *needle) {
  srv_image img;
  int status = 0;
  msg[0] = 0;
  cr_assert_eq(srv_image_decode(data, len, &img, &status, msg, sizeof msg), -1,
               "decoded %zu bytes that should fail (%s)", len, needle);
  cr_assert_eq(status, want_status, "status %d (%s)", status, msg);
  cr_assert(strstr(msg, needle), "message '%s' lacks '%s'", msg, needle);
  cr_assert_null(img.px);
}

/* ---------------------------------------------------------------- encoders for the tests */

static unsigned char *encode_jpeg(const unsigned char *px, int w, int h, int comps,
                                  J_COLOR_SPACE cs, size_t *len) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr e;
  c.err = jpeg_std_error(&e);
  jpeg_create_compress(&c);
  unsigned char *out = NULL;
  unsigned long n = 0;
  jpeg_mem_dest(&c, &out, &n);
  c.image_width = (JDIMENSION)w;
  c.image_height = (JDIMENSION)h;
  c.input_components = comps;
  c.in_color_space = cs;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = (JSAMPROW)px + (size_t)c.next_scanline * (size_t)w * (size_t)comps;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  *len = n;
  return out;
}

static unsigned char *encode_png(const void *px, int w, int h, png_uint_32 format, size_t *len) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = (png_uint_32)w;
  im.height = (png_uint_32)h;
  im.format = format;
  png_alloc_size_t n = 0;
  cr_assert(png_image_write_to_memory(&im, NULL, &n, 0, px, 0, NULL), "%s", im.message);
  unsigned char *out = malloc(n);
  cr_assert(png_image_write_to_memory(&im, out, &n, 0, px, 0, NULL), "%s", im.message);
  *len = n;
  return out;
}

static uint32_t crc32_of(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return c ^ 0xffffffffu;
}

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* Rewrites the IHDR of a PNG (bytes 16..23) and fixes its CRC. */
static void png_set_ihdr_size(unsigned char *png, uint32_t w, uint32_t h) {
  put_be32(png + 16, w);
  put_be32(png + 20, h);
  put_be32(png + 29, crc32_of(png + 12, 17));
}

/* Rewrites the size in a JPEG's SOF0 marker. */
static void jpeg_set_sof_size(unsigned char *j, size_t len, unsigned w, unsigned h) {
  for (size_t i = 2; i + 9 < len; i++)
    if (j[i] == 0xff && (j[i + 1] == 0xc0 || j[i + 1] == 0xc2)) {
      j[i + 5] = (unsigned char)(h >> 8);
      j[i + 6] = (unsigned char)h;
      j[i + 7] = (unsigned char)(w >> 8);
      j[i + 8] = (unsigned char)w;
      return;
    }
  cr_assert_fail("no SOF marker");
}

static unsigned char *pattern(int w, int h, int c) {
  unsigned char *p = malloc((size_t)w * h * c);
  for (int i = 0; i < w * h * c; i++)
    p[i] = (unsigned char)((i * 37 + (i / c) * 11) & 0xff);
  return p;
}

/* ---------------------------------------------------------------- decoding */

Test(image, sniff) {
  cr_assert_eq(srv_image_sniff("\xff\xd8\xff\xe0", 4), SRV_IMAGE_FORMAT_JPEG);
  cr_assert_eq(srv_image_sniff("\x89PNG\r\n\x1a\n", 8), SRV_IMAGE_FORMAT_PNG);
  cr_assert_eq(srv_image_sniff("\x89PNG\r\n\x1a", 7), SRV_IMAGE_FORMAT_NONE);
  cr_assert_eq(srv_image_sniff("GIF89a", 6), SRV_IMAGE_FORMAT_NONE);
  cr_assert_eq(srv_image_sniff("", 0), SRV_IMAGE_FORMAT_NONE);
  decode_fails("GIF89a....", 10, 400, "not a JPEG or PNG");
}

static void compare_npy(const srv_image *img, const char *npy) {
  rt_tensor t;
  rt_error err = {0};
  cr_assert_eq(srv_npy_read(npy, RT_DT_I32, &t, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(rt_tensor_numel(&t), (int64_t)img->width * img->height * img->channels);
  cr_assert_eq(t.dims[0], img->height);
  cr_assert_eq(t.dims[1], img->width);
  const int32_t *want = t.data;
  for (int64_t i = 0; i < rt_tensor_numel(&t); i++)
    cr_assert_eq(img->px[i], want[i], "%s: element %lld: %d, want %d", npy, (long long)i,
                 img->px[i], want[i]);
  free(t.data);
}

Test(image, png_gray_and_16bit_match_skimage_arrays) {
  srv_image g = decode_file("chessboard_GRAY.png");
  cr_assert_eq(g.channels, 1);
  compare_npy(&g, SKIMAGE "chessboard_GRAY_U8.npy");
  srv_image_free(&g);
  srv_image c = decode_file("chessboard_RGB.png"); /* 16 bits per channel */
  cr_assert_eq(c.channels, 3);
  compare_npy(&c, SKIMAGE "chessboard_RGB_U8.npy");
  srv_image_free(&c);
}

Test(image, real_files_decode_with_their_size) {
  static const struct {
    const char *name;
    int w, h, c;
  } files[] = {
      {"astronaut.png", 512, 512, 3},    {"chelsea.png", 451, 300, 3},
      {"coffee.png", 600, 400, 3},       {"camera.png", 512, 512, 1},
      {"horse.png", 400, 328, 3},        /* RGBA: alpha dropped */
      {"logo.png", 500, 500, 3},         /* RGBA */
      {"palette_color.png", 10, 10, 3},  /* paletted */
      {"foo3x5x4indexed.png", 5, 3, 3},  /* paletted with tRNS: alpha dropped */
      {"checker_bilevel.png", 10, 10, 1}, /* 1-bit gray */
      {"rocket.jpg", 640, 427, 3},       {"retina.jpg", 1411, 1411, 3},
      {"hubble_deep_field.jpg", 1000, 872, 3},
  };
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    srv_image img = decode_file(files[i].name);
    cr_assert_eq(img.width, files[i].w, "%s", files[i].name);
    cr_assert_eq(img.height, files[i].h, "%s", files[i].name);
    cr_assert_eq(img.channels, files[i].c, "%s", files[i].name);
    srv_image_free(&img);
  }
  srv_image b = decode_file("checker_bilevel.png");
  for (int i = 0; i < 100; i++)
    cr_assert(b.px[i] == 0 || b.px[i] == 255, "1-bit gray expands to 0 / 255, got %d", b.px[i]);
  srv_image_free(&b);
}

Test(image, skimage_truncated_jpeg_is_refused) {
  size_t len;
  unsigned char *p = read_file(SKIMAGE "truncated.jpg", &len);
  decode_fails(p, len, 400, "corrupt or truncated JPEG");
  free(p);
}

Test(image, png_variants_keep_the_stored_colors) {
  /* RGBA: alpha dropped, not composited (a transparent red pixel stays red). */
  unsigned char rgba[2 * 1 * 4] = {255, 0, 0, 0, 10, 20, 30, 128};
  size_t n;
  unsigned char *png = encode_png(rgba, 2, 1, PNG_FORMAT_RGBA, &n);
  srv_image img = decode_ok(png, n);
  cr_assert_eq(img.channels, 3);
  unsigned char want[] = {255, 0, 0, 10, 20, 30};
  cr_assert_arr_eq(img.px, want, 6);
  srv_image_free(&img);
  free(png);
  /* gray + alpha -> gray */
  unsigned char ga[3 * 2] = {7, 0, 100, 255, 250, 9};
  png = encode_png(ga, 3, 1, PNG_FORMAT_GA, &n);
  img = decode_ok(png, n);
  cr_assert_eq(img.channels, 1);
  unsigned char wg[] = {7, 100, 250};
  cr_assert_arr_eq(img.px, wg, 3);
  srv_image_free(&img);
  free(png);
  /* 16-bit gray (linear format of the simplified writer) decodes to 8 bits */
  uint16_t g16[2] = {0, 65535};
  png = encode_png(g16, 2, 1, PNG_FORMAT_LINEAR_Y, &n);
  img = decode_ok(png, n);
  cr_assert_eq(img.channels, 1);
  cr_assert_eq(img.px[0], 0);
  cr_assert_eq(img.px[1], 255);
  srv_image_free(&img);
  free(png);
}

Test(image, jpeg_gray_rgb_and_cmyk) {
  unsigned char *px = pattern(16, 12, 3);
  size_t n;
  unsigned char *j = encode_jpeg(px, 16, 12, 3, JCS_RGB, &n);
  srv_image img = decode_ok(j, n);
  cr_assert_eq(img.width, 16);
  cr_assert_eq(img.height, 12);
  cr_assert_eq(img.channels, 3);
  srv_image_free(&img);
  free(j);
  j = encode_jpeg(px, 16, 12, 1, JCS_GRAYSCALE, &n);
  img = decode_ok(j, n);
  cr_assert_eq(img.channels, 1);
  srv_image_free(&img);
  free(j);
  unsigned char *cmyk = pattern(8, 8, 4);
  j = encode_jpeg(cmyk, 8, 8, 4, JCS_CMYK, &n);
  decode_fails(j, n, 400, "CMYK");
  free(j);
  free(cmyk);
  free(px);
}

/* Every proper prefix of a small file is refused cleanly (ASan checks no read goes past). */
Test(image, every_truncation_is_refused) {
  unsigned char *px = pattern(9, 7, 3);
  size_t n;
  unsigned char *png = encode_png(px, 9, 7, PNG_FORMAT_RGB, &n);
  for (size_t len = 0; len < n; len++) {
    unsigned char *cut = malloc(len ? len : 1);
    memcpy(cut, png, len);
    srv_image img;
    int status = 0;
    cr_assert_eq(srv_image_decode(cut, len, &img, &status, msg, sizeof msg), -1,
                 "PNG cut at %zu of %zu bytes decoded", len, n);
    cr_assert_eq(status, 400);
    cr_assert(len < 8 ? strstr(msg, "not a JPEG or PNG") != NULL
                      : strstr(msg, "corrupt or truncated PNG") != NULL,
              "cut at %zu: %s", len, msg);
    free(cut);
  }
  srv_image whole = decode_ok(png, n);
  cr_assert_arr_eq(whole.px, px, 9 * 7 * 3);
  srv_image_free(&whole);
  free(png);
  unsigned char *j = encode_jpeg(px, 9, 7, 3, JCS_RGB, &n);
  for (size_t len = 0; len < n; len++) {
    unsigned char *cut = malloc(len ? len : 1);
    memcpy(cut, j, len);
    srv_image img;
    int status = 0;
    cr_assert_eq(srv_image_decode(cut, len, &img, &status, msg, sizeof msg), -1,
                 "JPEG cut at %zu of %zu bytes decoded", len, n);
    cr_assert_eq(status, 400, "cut at %zu: %s", len, msg);
    free(cut);
  }
  free(j);
  free(px);
}

Test(image, corrupt_data_is_refused) {
  unsigned char *px = pattern(32, 32, 3);
  size_t n;
  unsigned char *png = encode_png(px, 32, 32, PNG_FORMAT_RGB, &n);
  /* Flip bytes in the middle of IDAT: the CRC no longer matches. */
  for (size_t i = n / 2; i < n / 2 + 8; i++)
    png[i] ^= 0x5a;
  decode_fails(png, n, 400, "corrupt or truncated PNG");
  free(png);
  unsigned char *j = encode_jpeg(px, 32, 32, 3, JCS_RGB, &n);
  memset(j + n / 2, 0xff, 16); /* markers in the entropy-coded data */
  srv_image img;
  int status = 0;
  if (srv_image_decode(j, n, &img, &status, msg, sizeof msg) == 0)
    srv_image_free(&img); /* libjpeg may resync; the point is no crash and no over-read */
  else
    cr_assert_eq(status, 400);
  free(j);
  free(px);
}

Test(image, bombs_and_empty_images_are_refused_from_the_header) {
  unsigned char *px = pattern(4, 4, 3);
  size_t n;
  unsigned char *png = encode_png(px, 4, 4, PNG_FORMAT_RGB, &n);
  png_set_ihdr_size(png, 100000, 100000);
  decode_fails(png, n, 400, "100000x100000");
  png_set_ihdr_size(png, 20000, 10); /* few pixels, but a side over 16384 */
  decode_fails(png, n, 400, "at most 16384 pixels a side");
  png_set_ihdr_size(png, 8000, 8000); /* 64 M pixels */
  decode_fails(png, n, 400, "50000000 pixels");
  png_set_ihdr_size(png, 0, 4);
  decode_fails(png, n, 400, "PNG");
  free(png);
  unsigned char *j = encode_jpeg(px, 4, 4, 3, JCS_RGB, &n);
  jpeg_set_sof_size(j, n, 60000, 60000);
  decode_fails(j, n, 400, "60000x60000");
  jpeg_set_sof_size(j, n, 4, 0);
  decode_fails(j, n, 400, "JPEG");
  free(j);
  free(px);
}

/* ---------------------------------------------------------------- conversion vs TF.js */

typedef struct ref_case {
  const srv_image *img;
  const char *op;
  int oh, ow;
  float lo, hi;
} ref_case;

/* Writes each case's pixels and runs resize_ref.js once for all; the reference floats. */
static float **tfjs_reference(const ref_case *cases, int n_cases) {
  const char *src = getenv("ORCHARD_SOURCE_DIR");
  char dir[] = "/tmp/orchard-image-XXXXXX";
  cr_assert(mkdtemp(dir));
  char path[600], json[8192];
  size_t o = (size_t)snprintf(json, sizeof json, "[");
  for (int i = 0; i < n_cases; i++) {
    const srv_image *img = cases[i].img;
    snprintf(path, sizeof path, "%s/in%d.u8", dir, i);
    FILE *f = fopen(path, "wb");
    fwrite(img->px, 1, (size_t)img->width * img->height * img->channels, f);
    fclose(f);
    o += (size_t)snprintf(json + o, sizeof json - o,
                          "%s{\"in\":\"%s\",\"h\":%d,\"w\":%d,\"c\":%d,\"oh\":%d,\"ow\":%d,"
                          "\"op\":\"%s\",\"out\":\"%s/out%d.f32\"}",
                          i ? "," : "", path, img->height, img->width, img->channels,
                          cases[i].oh, cases[i].ow, cases[i].op, dir, i);
  }
  snprintf(json + o, sizeof json - o, "]");
  snprintf(path, sizeof path, "%s/cases.json", dir);
  FILE *f = fopen(path, "w");
  fputs(json, f);
  fclose(f);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "node '%s/tests/images/resize_ref.js' '%s' >'%s/log' 2>&1",
           src ? src : ".", path, dir);
  int rc = system(cmd);
  if (rc != 0) {
    char log[600], text[2048] = "";
    snprintf(log, sizeof log, "%s/log", dir);
    FILE *lf = fopen(log, "r");
    if (lf) {
      size_t got = fread(text, 1, sizeof text - 1, lf);
      text[got] = 0;
      fclose(lf);
    }
    cr_assert_fail("the TF.js reference failed (%s): %s", cmd, text);
  }
  float **out = calloc((size_t)n_cases, sizeof *out);
  for (int i = 0; i < n_cases; i++) {
    size_t n = (size_t)cases[i].oh * cases[i].ow * cases[i].img->channels;
    snprintf(path, sizeof path, "%s/out%d.f32", dir, i);
    f = fopen(path, "rb");
    cr_assert(f, "no %s", path);
    out[i] = malloc(n * sizeof(float));
    cr_assert_eq(fread(out[i], sizeof(float), n, f), n);
    fclose(f);
    unlink(path);
    snprintf(path, sizeof path, "%s/in%d.u8", dir, i);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/cases.json", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/log", dir);
  unlink(path);
  rmdir(dir);
  return out;
}

Test(image, resize_matches_tfjs_bit_for_bit) {
  srv_image a = decode_file("astronaut.png");
  srv_image c = decode_file("chelsea.png"); /* 451x300: ratios that are not round */
  srv_image g = decode_file("camera.png");  /* gray */
  unsigned char tiny_px[5 * 7 * 3];
  for (int i = 0; i < 5 * 7 * 3; i++)
    tiny_px[i] = (unsigned char)((i * 97) % 256);
  srv_image tiny = {.width = 7, .height = 5, .channels = 3, .px = tiny_px};
  const ref_case cases[] = {
      {&a, "resize", 224, 224, 0, 255}, {&a, "range11", 192, 160, -1, 1},
      {&a, "unit", 64, 64, 0, 1},       {&c, "resize", 224, 224, 0, 255},
      {&c, "range11", 256, 256, -1, 1}, {&c, "resize", 333, 517, 0, 255},
      {&g, "unit", 64, 48, 0, 1},       {&tiny, "resize", 13, 11, 0, 255},
      {&tiny, "resize", 1, 1, 0, 255},  {&tiny, "range11", 3, 2, -1, 1},
  };
  int n_cases = (int)(sizeof cases / sizeof *cases);
  float **ref = tfjs_reference(cases, n_cases);
  for (int i = 0; i < n_cases; i++) {
    const srv_image *img = cases[i].img;
    srv_image_spec s;
    srv_image_spec_default(&s);
    s.channels = img->channels == 1 ? SRV_IMAGE_CHANNELS_GRAY : SRV_IMAGE_CHANNELS_RGB;
    s.height = cases[i].oh;
    s.width = cases[i].ow;
    s.lo = cases[i].lo;
    s.hi = cases[i].hi;
    int64_t n = srv_image_spec_numel(&s);
    float *got = malloc((size_t)n * sizeof *got);
    srv_image_convert(img, &s, got);
    for (int64_t k = 0; k < n; k++)
      cr_assert(got[k] == ref[i][k], "case %d (%s %dx%d) element %lld: %.9g, TF.js %.9g", i,
                cases[i].op, cases[i].oh, cases[i].ow, (long long)k, got[k], ref[i][k]);
    free(got);
    free(ref[i]);
  }
  free(ref);
  srv_image_free(&a);
  srv_image_free(&c);
  srv_image_free(&g);
}

/* ---------------------------------------------------------------- conversion by hand */

Test(image, layout_channels_and_normalization) {
  /* 2x2 RGB, no resize: values are the pixels themselves. */
  unsigned char px[12] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
  srv_image img = {.width = 2, .height = 2, .channels = 3, .px = px};
  srv_image_spec s;
  srv_image_spec_default(&s);
  s.height = s.width = 2;
  float out[12];
  s.nchw = true;
  srv_image_convert(&img, &s, out);
  const float nchw[12] = {10, 40, 70, 100, 20, 50, 80, 110, 30, 60, 90, 120};
  cr_assert_arr_eq(out, nchw, sizeof nchw);
  s.nchw = false;
  s.channels = SRV_IMAGE_CHANNELS_BGR;
  srv_image_convert(&img, &s, out);
  const float bgr[12] = {30, 20, 10, 60, 50, 40, 90, 80, 70, 120, 110, 100};
  cr_assert_arr_eq(out, bgr, sizeof bgr);
  s.channels = SRV_IMAGE_CHANNELS_RGB;
  s.n_mean = 3;
  s.mean[0] = 10, s.mean[1] = 20, s.mean[2] = 30;
  s.n_std = 1;
  s.std[0] = 2;
  srv_image_convert(&img, &s, out);
  const float norm[12] = {0, 0, 0, 15, 15, 15, 30, 30, 30, 45, 45, 45};
  cr_assert_arr_eq(out, norm, sizeof norm);
  /* gray: weights in float32, in the order r, g, b */
  srv_image_spec_default(&s);
  s.height = s.width = 2;
  s.channels = SRV_IMAGE_CHANNELS_GRAY;
  float gray[4];
  srv_image_convert(&img, &s, gray);
  for (int i = 0; i < 4; i++) {
    float want = (float)px[3 * i] * 0.299f;
    want = want + (float)px[3 * i + 1] * 0.587f;
    want = want + (float)px[3 * i + 2] * 0.114f;
    cr_assert(fabsf(gray[i] - want) <= 1e-4f, "gray %d: %g want %g", i, gray[i], want);
  }
  /* a gray image into an rgb input: the gray value in every channel */
  unsigned char g1[1] = {77};
  srv_image gi = {.width = 1, .height = 1, .channels = 1, .px = g1};
  srv_image_spec_default(&s);
  s.height = s.width = 1;
  float rgb[3];
  srv_image_convert(&gi, &s, rgb);
  cr_assert(rgb[0] == 77 && rgb[1] == 77 && rgb[2] == 77);
}

Test(image, int32_inputs_round_half_even_and_clamp) {
  /* 1x2 -> 1x4 upsampling makes x.5 values: 0, 0.5 * 1 ... with pixels 0 and 1 and 2x. */
  unsigned char px[2] = {1, 2};
  srv_image img = {.width = 2, .height = 1, .channels = 1, .px = px};
  srv_image_spec s;
  srv_image_spec_default(&s);
  s.channels = SRV_IMAGE_CHANNELS_GRAY;
  s.dtype = RT_DT_I32;
  s.height = 1;
  s.width = 4; /* source columns 0, 0.5, 1, 1.5 -> 1, 1.5, 2, 2 */
  int32_t out[4];
  srv_image_convert(&img, &s, out);
  const int32_t want[4] = {1, 2, 2, 2}; /* 1.5 -> 2 (half to even) */
  cr_assert_arr_eq(out, want, sizeof want);
  s.mean[0] = 1;
  s.n_mean = 1; /* 0, 0.5, 1, 1 */
  srv_image_convert(&img, &s, out);
  const int32_t want2[4] = {0, 0, 1, 1}; /* 0.5 -> 0 (half to even) */
  cr_assert_arr_eq(out, want2, sizeof want2);
  s.n_mean = 0;
  s.lo = 0;
  s.hi = 1e12f; /* far past int32: clamped */
  srv_image_convert(&img, &s, out);
  cr_assert_eq(out[0], INT32_MAX);
}

Test(image, load_reports_the_original_size) {
  size_t n;
  unsigned char *p = read_file(SKIMAGE "chelsea.png", &n);
  srv_image_spec s;
  srv_image_spec_default(&s);
  s.height = s.width = 8;
  float out[8 * 8 * 3];
  int w = 0, h = 0;
  cr_assert_eq(srv_image_load(&s, p, n, out, &w, &h, msg, sizeof msg), 200, "%s", msg);
  cr_assert_eq(w, 451);
  cr_assert_eq(h, 300);
  cr_assert_eq(srv_image_load(&s, p, 100, out, &w, &h, msg, sizeof msg), 400);
  cr_assert(strstr(msg, "truncated PNG"), "%s", msg);
  free(p);
}
