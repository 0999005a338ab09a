/*
 * image.h — encoded images (JPEG, PNG) as model inputs: decode from memory, then resize and
 * convert straight into one batch item of an input tensor, per the input's preprocess spec
 * (orchard.json "inputs.<name>.image", parsed by garden.c).
 *
 * Pure and thread-safe: no globals, never prints (libjpeg and libpng messages are captured
 * into the caller's msg). Limits hold before any large allocation: the header's size is
 * checked first (decompression bombs), and no read goes past the given bytes.
 *
 * Pixel pipeline (the contract in orchard.json's documentation): decode to 8-bit RGB or gray
 * -> channel order / gray conversion (float32) -> bilinear resize with TF.js's semantics
 * (tf.image.resizeBilinear, alignCorners=false, halfPixelCenters=false: double math, float32
 * result) -> range -> (x - mean) / std -> the input's dtype.
 */
#ifndef ORCHARD_SRV_IMAGE_H
#define ORCHARD_SRV_IMAGE_H

#include "orchard/rt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_IMAGE_MAX_PIXELS 50000000
#define SRV_IMAGE_MAX_SIDE 16384

typedef enum srv_image_format {
  SRV_IMAGE_FORMAT_NONE = 0,
  SRV_IMAGE_FORMAT_JPEG,
  SRV_IMAGE_FORMAT_PNG
} srv_image_format;

typedef enum srv_image_channels {
  SRV_IMAGE_CHANNELS_RGB = 0,
  SRV_IMAGE_CHANNELS_BGR,
  SRV_IMAGE_CHANNELS_GRAY
} srv_image_channels;

/* How one image becomes one batch item of an input. */
typedef struct srv_image_spec {
  srv_image_channels channels;
  float gray_weights[3];
  bool nchw;
  int height, width; /* the item's size */
  float lo, hi;      /* 0..255 maps onto lo..hi */
  int n_mean, n_std; /* 0, 1 or the channel count */
  float mean[3], std[3];
  rt_dtype dtype; /* RT_DT_F32 or RT_DT_I32 */
} srv_image_spec;

/* 1 (gray) or 3. */
int srv_image_spec_channels(const srv_image_spec *s);
/* Elements of one item: height * width * channels. */
int64_t srv_image_spec_numel(const srv_image_spec *s);
/* A spec with the defaults: rgb, ITU-R 601 gray weights, NHWC, range [0, 255], float32. */
void srv_image_spec_default(srv_image_spec *s);

/* By the magic bytes: JPEG FF D8 FF, PNG 89 50 4E 47 0D 0A 1A 0A. */
srv_image_format srv_image_sniff(const void *data, size_t len);

/* A decoded image: rows of width * channels bytes, channels 1 (gray) or 3 (RGB). */
typedef struct srv_image {
  int width, height, channels;
  unsigned char *px;
} srv_image;

/* Decodes a JPEG or PNG. 0 on success; else -1 with a message (no field prefix: the caller
 * names the input) and *status the HTTP status (400 for a bad image and for one over the
 * size limits, as the contract says; 500 no memory). 16-bit, paletted and alpha PNGs are
 * converted (alpha dropped); CMYK JPEGs are refused. */
int srv_image_decode(const void *data, size_t len, srv_image *out, int *status, char *msg,
                     size_t cap);
void srv_image_free(srv_image *img); /* NULL-safe */

/* Writes img as one item of spec into dst (srv_image_spec_numel elements of spec->dtype). */
void srv_image_convert(const srv_image *img, const srv_image_spec *spec, void *dst);

/* Decode + convert. Returns 200, or a status with msg as for srv_image_decode. The original
 * size goes to *width / *height (either may be NULL). */
int srv_image_load(const srv_image_spec *spec, const void *data, size_t len, void *dst, int *width,
                   int *height, char *msg, size_t cap);

#endif
