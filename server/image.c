/*
 * image.c — JPEG (libjpeg-turbo) and PNG (libpng) decoding from memory, and the conversion of
 * a decoded image into one batch item of an input tensor (image.h has the pipeline).
 *
 * Both libraries report errors by calling back; ours copy the message and longjmp to the
 * setjmp in the decoder, which frees what it holds. libjpeg's warnings (corrupt data, a
 * premature end: it would pad the rest with gray) count as errors here, and libpng never
 * prints. The size in the header is checked before the pixel buffer exists, so a header that
 * promises 100000 x 100000 costs nothing.
 *
 * The resize reproduces TF.js's CPU kernel (ResizeBilinear.js) operation for operation: the
 * sample positions and lerps in double (JavaScript numbers), the result stored as float32,
 * and no fused multiply-add (the build contracts elsewhere; a fused lerp rounds differently).
 * clang ignores that per-function switch under -ffp-contract=fast: only the fuzz build uses
 * clang, and exact values do not matter there.
 */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "image.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#if defined(__clang__)
#define NO_FMA
#else
#define NO_FMA __attribute__((optimize("fp-contract=off")))
#endif

/* A progressive JPEG may carry any number of scans, each a full pass over the coefficients:
 * a small file can cost minutes. libjpeg-turbo's own tools stop at 500. */
#define MAX_JPEG_SCANS 500

int srv_image_spec_channels(const srv_image_spec *s) {
  return s->channels == SRV_IMAGE_CHANNELS_GRAY ? 1 : 3;
}

int64_t srv_image_spec_numel(const srv_image_spec *s) {
  return (int64_t)s->height * s->width * srv_image_spec_channels(s);
}

void srv_image_spec_default(srv_image_spec *s) {
  memset(s, 0, sizeof *s);
  s->channels = SRV_IMAGE_CHANNELS_RGB;
  s->gray_weights[0] = 0.299f;
  s->gray_weights[1] = 0.587f;
  s->gray_weights[2] = 0.114f;
  s->lo = 0;
  s->hi = 255;
  s->dtype = RT_DT_F32;
}

srv_image_format srv_image_sniff(const void *data, size_t len) {
  const unsigned char *p = data;
  static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
    return SRV_IMAGE_FORMAT_JPEG;
  if (len >= 8 && !memcmp(p, png_magic, 8))
    return SRV_IMAGE_FORMAT_PNG;
  return SRV_IMAGE_FORMAT_NONE;
}

void srv_image_free(srv_image *img) {
  if (!img)
    return;
  free(img->px);
  memset(img, 0, sizeof *img);
}

static int check_size(const char *fmt, long long w, long long h, int *status, char *msg,
                      size_t cap) {
  *status = 400;
  if (w <= 0 || h <= 0) {
    snprintf(msg, cap, "the %s image has no pixels (%lldx%lld)", fmt, w, h);
    return -1;
  }
  if (w > SRV_IMAGE_MAX_SIDE || h > SRV_IMAGE_MAX_SIDE || w * h > SRV_IMAGE_MAX_PIXELS) {
    snprintf(msg, cap,
             "the %s image is %lldx%lld; at most %d pixels a side and %d pixels in all are "
             "accepted",
             fmt, w, h, SRV_IMAGE_MAX_SIDE, SRV_IMAGE_MAX_PIXELS);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct jpeg_err {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
  char msg[JMSG_LENGTH_MAX + 64];
} jpeg_err;

static void jpeg_fail(j_common_ptr c) {
  jpeg_err *e = (jpeg_err *)c->err;
  char text[JMSG_LENGTH_MAX];
  c->err->format_message(c, text);
  snprintf(e->msg, sizeof e->msg, "%s", text);
  longjmp(e->jb, 1);
}

/* Warnings (level -1) are corrupt data: refused rather than decoded with gray filler. */
static void jpeg_emit(j_common_ptr c, int level) {
  if (level < 0)
    jpeg_fail(c);
}

static void jpeg_quiet(j_common_ptr c) { (void)c; }

static void jpeg_progress(j_common_ptr c) {
  j_decompress_ptr d = (j_decompress_ptr)c;
  if (d->input_scan_number > MAX_JPEG_SCANS) {
    jpeg_err *e = (jpeg_err *)c->err;
    snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", MAX_JPEG_SCANS);
    longjmp(e->jb, 1);
  }
}

static int decode_jpeg(const unsigned char *data, size_t len, srv_image *out, int *status,
                       char *msg, size_t cap) {
  struct jpeg_decompress_struct ci;
  struct jpeg_progress_mgr prog = {.progress_monitor = jpeg_progress};
  jpeg_err e;
  unsigned char *volatile px = NULL;
  memset(&ci, 0, sizeof ci);
  ci.err = jpeg_std_error(&e.pub);
  e.pub.error_exit = jpeg_fail;
  e.pub.emit_message = jpeg_emit;
  e.pub.output_message = jpeg_quiet;
  e.msg[0] = 0;
  if (setjmp(e.jb)) {
    jpeg_destroy_decompress(&ci);
    free(px);
    *status = 400;
    snprintf(msg, cap, "corrupt or truncated JPEG: %s", e.msg);
    return -1;
  }
  jpeg_create_decompress(&ci);
  ci.progress = &prog;
  jpeg_mem_src(&ci, (unsigned char *)data, (unsigned long)len);
  jpeg_read_header(&ci, TRUE);
  if (check_size("JPEG", ci.image_width, ci.image_height, status, msg, cap) != 0) {
    jpeg_destroy_decompress(&ci);
    return -1;
  }
  if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&ci);
    *status = 400;
    snprintf(msg, cap, "CMYK JPEGs are not supported; send an RGB or grayscale JPEG");
    return -1;
  }
  int channels = ci.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
  ci.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&ci);
  if ((int)ci.output_components != channels || ci.output_width != ci.image_width ||
      ci.output_height != ci.image_height) {
    jpeg_destroy_decompress(&ci);
    *status = 400;
    snprintf(msg, cap, "unsupported JPEG layout (%d components)", ci.output_components);
    return -1;
  }
  size_t stride = (size_t)ci.output_width * (size_t)channels;
  px = malloc(stride * ci.output_height);
  if (!px) {
    jpeg_destroy_decompress(&ci);
    *status = 500;
    snprintf(msg, cap, "out of memory decoding a %ux%u JPEG", ci.output_width, ci.output_height);
    return -1;
  }
  while (ci.output_scanline < ci.output_height) {
    JSAMPROW row = px + stride * ci.output_scanline;
    if (jpeg_read_scanlines(&ci, &row, 1) != 1) {
      snprintf(e.msg, sizeof e.msg, "no more rows");
      longjmp(e.jb, 1);
    }
  }
  jpeg_finish_decompress(&ci);
  out->width = (int)ci.output_width;
  out->height = (int)ci.output_height;
  out->channels = channels;
  out->px = px;
  jpeg_destroy_decompress(&ci);
  return 0;
}

/* ---------------------------------------------------------------- PNG */

typedef struct png_ctx {
  const unsigned char *p;
  size_t len, off;
  char msg[256];
} png_ctx;

static void png_fail(png_structp png, png_const_charp m) {
  png_ctx *c = png_get_error_ptr(png);
  snprintf(c->msg, sizeof c->msg, "%s", m ? m : "error");
  png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp m) {
  (void)png;
  (void)m;
}

static void png_read_mem(png_structp png, png_bytep out, size_t n) {
  png_ctx *c = png_get_io_ptr(png);
  if (n > c->len - c->off)
    png_error(png, "the data ends early");
  memcpy(out, c->p + c->off, n);
  c->off += n;
}

static int decode_png(const unsigned char *data, size_t len, srv_image *out, int *status,
                      char *msg, size_t cap) {
  png_ctx ctx = {.p = data, .len = len};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_fail, png_quiet);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  unsigned char *volatile px = NULL;
  png_bytep *volatile rows = NULL;
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    *status = 500;
    snprintf(msg, cap, "out of memory decoding a PNG");
    return -1;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    free(px);
    free(rows);
    *status = 400;
    snprintf(msg, cap, "corrupt or truncated PNG: %s", ctx.msg);
    return -1;
  }
  png_set_read_fn(png, &ctx, png_read_mem);
  /* Our own limits below, with our message; libpng's would stop at 1000000 a side. */
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_set_chunk_malloc_max(png, 8u << 20);
  png_read_info(png, info);
  png_uint_32 w, h;
  int depth, ctype, interlace;
  png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
  if (check_size("PNG", w, h, status, msg, cap) != 0) {
    png_destroy_read_struct(&png, &info, NULL);
    return -1;
  }
  if (ctype == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb(png);
  if ((ctype & ~PNG_COLOR_MASK_ALPHA) == PNG_COLOR_TYPE_GRAY && depth < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16)
    png_set_scale_16(png);
  /* Alpha (a channel or a tRNS chunk) is dropped, not composited: the color values as stored. */
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  int channels = png_get_channels(png, info);
  size_t stride = png_get_rowbytes(png, info);
  if ((channels != 1 && channels != 3) || png_get_bit_depth(png, info) != 8 ||
      stride != (size_t)w * (size_t)channels) {
    png_destroy_read_struct(&png, &info, NULL);
    *status = 400;
    snprintf(msg, cap, "unsupported PNG layout (%d channels of %d bits)", channels,
             png_get_bit_depth(png, info));
    return -1;
  }
  px = malloc(stride * h);
  rows = malloc(sizeof(png_bytep) * h);
  if (!px || !rows) {
    png_destroy_read_struct(&png, &info, NULL);
    free(px);
    free(rows);
    *status = 500;
    snprintf(msg, cap, "out of memory decoding a %ux%u PNG", (unsigned)w, (unsigned)h);
    return -1;
  }
  for (png_uint_32 y = 0; y < h; y++)
    rows[y] = px + stride * y;
  png_read_image(png, rows);
  png_read_end(png, NULL); /* up to IEND: a file cut after its pixel data is still cut */
  png_destroy_read_struct(&png, &info, NULL);
  free(rows);
  out->width = (int)w;
  out->height = (int)h;
  out->channels = channels;
  out->px = px;
  return 0;
}

int srv_image_decode(const void *data, size_t len, srv_image *out, int *status, char *msg,
                     size_t cap) {
  memset(out, 0, sizeof *out);
  switch (srv_image_sniff(data, len)) {
  case SRV_IMAGE_FORMAT_JPEG: return decode_jpeg(data, len, out, status, msg, cap);
  case SRV_IMAGE_FORMAT_PNG: return decode_png(data, len, out, status, msg, cap);
  default:
    *status = 400;
    snprintf(msg, cap, "not a JPEG or PNG image (unknown magic bytes)");
    return -1;
  }
}

/* ---------------------------------------------------------------- conversion */

/* Channel ch of the pixel at p, after the channel-order / gray conversion, as float32 (what a
 * TF.js pipeline would hold in its tensor before resizing). */
NO_FMA static inline float channel_value(const srv_image *img, const srv_image_spec *s,
                                         const unsigned char *p, int ch) {
  if (img->channels == 1)
    return (float)p[0];
  switch (s->channels) {
  case SRV_IMAGE_CHANNELS_BGR: return (float)p[2 - ch];
  case SRV_IMAGE_CHANNELS_GRAY: {
    float r = (float)p[0] * s->gray_weights[0];
    float g = (float)p[1] * s->gray_weights[1];
    float b = (float)p[2] * s->gray_weights[2];
    return r + g + b;
  }
  default: return (float)p[ch];
  }
}

NO_FMA static inline float finish(const srv_image_spec *s, float v, int ch, bool scale) {
  if (scale) {
    v = v * (s->hi - s->lo);
    v = v / 255.0f;
    v = v + s->lo;
  }
  if (s->n_mean)
    v = v - s->mean[s->n_mean == 1 ? 0 : ch];
  if (s->n_std)
    v = v / s->std[s->n_std == 1 ? 0 : ch];
  return v;
}

static inline int32_t to_i32(float v) {
  if (!(v == v))
    return 0;
  if (v >= 2147483647.0f)
    return INT32_MAX;
  if (v <= -2147483648.0f)
    return INT32_MIN;
  return (int32_t)nearbyintf(v); /* round half to even in the default rounding mode */
}

NO_FMA void srv_image_convert(const srv_image *img, const srv_image_spec *s, void *dst) {
  const int C = srv_image_spec_channels(s), H = s->height, W = s->width;
  const int ih = img->height, iw = img->width, ic = img->channels;
  const size_t stride = (size_t)iw * (size_t)ic;
  const double row_ratio = (double)ih / (double)H, col_ratio = (double)iw / (double)W;
  const bool scale = !(s->lo == 0.0f && s->hi == 255.0f);
  float *df = s->dtype == RT_DT_F32 ? dst : NULL;
  int32_t *di = s->dtype == RT_DT_I32 ? dst : NULL;
  const size_t plane = (size_t)H * (size_t)W;
  for (int r = 0; r < H; r++) {
    double fr = row_ratio * r;
    int r0 = (int)fmax(0.0, floor(fr));
    double rf = fr - r0;
    int r1 = (int)fmin((double)(ih - 1), ceil(fr));
    const unsigned char *top_row = img->px + stride * (size_t)r0;
    const unsigned char *bot_row = img->px + stride * (size_t)r1;
    for (int c = 0; c < W; c++) {
      double fc = col_ratio * c;
      int c0 = (int)fmax(0.0, floor(fc));
      double cf = fc - c0;
      int c1 = (int)fmin((double)(iw - 1), ceil(fc));
      const unsigned char *tl = top_row + (size_t)c0 * ic, *tr = top_row + (size_t)c1 * ic;
      const unsigned char *bl = bot_row + (size_t)c0 * ic, *br = bot_row + (size_t)c1 * ic;
      for (int ch = 0; ch < C; ch++) {
        double vtl = channel_value(img, s, tl, ch), vtr = channel_value(img, s, tr, ch);
        double vbl = channel_value(img, s, bl, ch), vbr = channel_value(img, s, br, ch);
        double top = vtl + (vtr - vtl) * cf;
        double bottom = vbl + (vbr - vbl) * cf;
        float v = finish(s, (float)(top + (bottom - top) * rf), ch, scale);
        size_t at = s->nchw ? (size_t)ch * plane + (size_t)r * W + (size_t)c
                            : ((size_t)r * W + (size_t)c) * (size_t)C + (size_t)ch;
        if (df)
          df[at] = v;
        else
          di[at] = to_i32(v);
      }
    }
  }
}

int srv_image_load(const srv_image_spec *spec, const void *data, size_t len, void *dst, int *width,
                   int *height, char *msg, size_t cap) {
  srv_image img;
  int status = 400;
  if (srv_image_decode(data, len, &img, &status, msg, cap) != 0)
    return status;
  srv_image_convert(&img, spec, dst);
  if (width)
    *width = img.width;
  if (height)
    *height = img.height;
  srv_image_free(&img);
  return 200;
}
