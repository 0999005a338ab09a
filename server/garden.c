/*
 * garden.c — orchard.json: per-input image preprocessing ("inputs") checked against the
 * model's inputs, and the "task" handed to task.c (garden.h has the lifecycle).
 *
 * Strict on purpose: unknown keys, wrong types and values the model cannot take are errors
 * naming the JSON path, because a typo that passed silently would serve wrong answers. What
 * the file leaves out comes from the input's shape (size, channel count); a size the shape
 * leaves unknown must be given.
 */
/* Messages are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "garden.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct srv_garden {
  int n_in;
  srv_image_spec *specs; /* n_in entries */
  bool *has;             /* n_in entries: input k takes images */
  srv_task *task;
};

void srv_garden_free(srv_garden *g) {
  if (!g)
    return;
  free(g->specs);
  free(g->has);
  srv_task_free(g->task);
  free(g);
}

const srv_image_spec *srv_garden_image(const srv_garden *g, int index) {
  if (!g || index < 0 || index >= g->n_in || !g->has[index])
    return NULL;
  return &g->specs[index];
}

int srv_garden_first_image(const srv_garden *g) {
  for (int k = 0; g && k < g->n_in; k++)
    if (g->has[k])
      return k;
  return -1;
}

int srv_garden_num_images(const srv_garden *g) {
  int n = 0;
  for (int k = 0; g && k < g->n_in; k++)
    n += g->has[k];
  return n;
}

const srv_task *srv_garden_task(const srv_garden *g) { return g ? g->task : NULL; }

json_t *srv_garden_image_inputs(const srv_garden *g, const srv_sig *sig) {
  json_t *a = json_array();
  for (int k = 0; g && a && k < g->n_in && k < sig->n_in; k++)
    if (g->has[k])
      json_array_append_new(a, json_string(sig->in[k].name));
  return a;
}

/* ---------------------------------------------------------------- parsing */

typedef struct pctx {
  const char *file;
  char *msg;
  size_t cap;
} pctx;

static int fail(pctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(pctx *c, const char *path, const char *fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(c->msg, c->cap, "%s: %s: %s", c->file, path, what);
  return -1;
}

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "a list";
  case JSON_STRING: return "a string";
  case JSON_INTEGER:
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

/* A list of 1..max finite numbers into out; its length in *n. `exact` > 0: exactly that many. */
static int numbers(pctx *c, const json_t *v, const char *path, int max, int exact, float *out,
                   int *n) {
  size_t len = json_is_array(v) ? json_array_size(v) : 0;
  if (!json_is_array(v) || len == 0 || (exact > 0 && len != (size_t)exact) ||
      len > (size_t)max) {
    if (exact > 0)
      return fail(c, path, "expected a list of %d numbers, got %s%s", exact, type_name(v),
                  json_is_array(v) ? " of another length" : "");
    return fail(c, path, "expected a list of 1 to %d numbers, got %s%s", max, type_name(v),
                json_is_array(v) ? " of another length" : "");
  }
  for (size_t i = 0; i < len; i++) {
    const json_t *e = json_array_get(v, i);
    double x = json_number_value(e);
    if (!json_is_number(e) || !isfinite(x) || fabs(x) > 3.4e38)
      return fail(c, path, "element %zu: expected a finite number, got %s", i, type_name(e));
    out[i] = (float)x;
  }
  *n = (int)len;
  return 0;
}

static int parse_image(pctx *c, const json_t *img, const char *base, const rt_io_info *io,
                       srv_image_spec *s) {
  char path[512];
  snprintf(path, sizeof path, "%s.image", base);
  if (!json_is_object(img))
    return fail(c, path, "expected an object, got %s", type_name(img));
  static const char *const known[] = {"channels", "gray_weights", "layout", "size",
                                      "range",    "mean",         "std"};
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)img, key, val) {
    bool ok = false;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
      ok = ok || !strcmp(key, known[i]);
    if (!ok)
      return fail(c, path,
                  "unknown key '%s' (known: channels, gray_weights, layout, size, range, mean, "
                  "std)",
                  key);
  }
  srv_image_spec_default(s);
  char shape[160];
  srv_rest_shape_str(shape, sizeof shape, io->dims, io->rank);
  if (io->dtype != RT_DT_F32 && io->dtype != RT_DT_I32)
    return fail(c, base, "input '%s' is %s; an image input must be float32 or int32", io->name,
                rt_dtype_name(io->dtype));
  s->dtype = io->dtype;
  if (io->rank != 4)
    return fail(c, base,
                "input '%s' has shape %s; an image input needs rank 4 (batch, height, width, "
                "channels, or NCHW)",
                io->name, shape);
  const json_t *layout = json_object_get(img, "layout");
  if (layout) {
    const char *l = json_string_value(layout);
    if (!l || (strcmp(l, "NHWC") && strcmp(l, "NCHW"))) {
      snprintf(path, sizeof path, "%s.image.layout", base);
      return fail(c, path, "expected \"NHWC\" or \"NCHW\"");
    }
    s->nchw = !strcmp(l, "NCHW");
  }
  int64_t dc = s->nchw ? io->dims[1] : io->dims[3];
  int64_t dh = s->nchw ? io->dims[2] : io->dims[1];
  int64_t dw = s->nchw ? io->dims[3] : io->dims[2];
  const json_t *ch = json_object_get(img, "channels");
  if (ch) {
    const char *v = json_string_value(ch);
    snprintf(path, sizeof path, "%s.image.channels", base);
    if (!v || (strcmp(v, "rgb") && strcmp(v, "bgr") && strcmp(v, "gray")))
      return fail(c, path, "expected \"rgb\", \"bgr\" or \"gray\"");
    s->channels = !strcmp(v, "rgb")   ? SRV_IMAGE_CHANNELS_RGB
                  : !strcmp(v, "bgr") ? SRV_IMAGE_CHANNELS_BGR
                                      : SRV_IMAGE_CHANNELS_GRAY;
    if (dc >= 0 && dc != srv_image_spec_channels(s))
      return fail(c, path, "\"%s\" makes %d channels, but input '%s' (shape %s, %s) has %" PRId64,
                  v, srv_image_spec_channels(s), io->name, shape, s->nchw ? "NCHW" : "NHWC", dc);
  } else if (dc == 1) {
    s->channels = SRV_IMAGE_CHANNELS_GRAY;
  } else if (dc != 3 && dc >= 0) {
    return fail(c, base,
                "input '%s' (shape %s, %s) has %" PRId64
                " channels; an image input has 1 (gray) or 3 (rgb, bgr)",
                io->name, shape, s->nchw ? "NCHW" : "NHWC", dc);
  }
  const json_t *gw = json_object_get(img, "gray_weights");
  if (gw) {
    snprintf(path, sizeof path, "%s.image.gray_weights", base);
    if (s->channels != SRV_IMAGE_CHANNELS_GRAY)
      return fail(c, path, "only for \"channels\": \"gray\"");
    int n;
    if (numbers(c, gw, path, 3, 3, s->gray_weights, &n) != 0)
      return -1;
  }
  const json_t *size = json_object_get(img, "size");
  snprintf(path, sizeof path, "%s.image.size", base);
  if (size) {
    if (!json_is_array(size) || json_array_size(size) != 2 ||
        !json_is_integer(json_array_get(size, 0)) || !json_is_integer(json_array_get(size, 1)))
      return fail(c, path, "expected [height, width] (two integers)");
    json_int_t h = json_integer_value(json_array_get(size, 0)),
               w = json_integer_value(json_array_get(size, 1));
    if (h < 1 || w < 1 || h > SRV_IMAGE_MAX_SIDE || w > SRV_IMAGE_MAX_SIDE)
      return fail(c, path, "[%" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
                  "]: each side must be 1..%d", h, w, SRV_IMAGE_MAX_SIDE);
    if ((dh >= 0 && dh != h) || (dw >= 0 && dw != w))
      return fail(c, path,
                  "[%" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
                  "] does not match input '%s' (shape %s, %s)",
                  h, w, io->name, shape, s->nchw ? "NCHW" : "NHWC");
    s->height = (int)h;
    s->width = (int)w;
  } else {
    if (dh < 0 || dw < 0)
      return fail(c, path,
                  "missing: input '%s' has shape %s, whose height or width is unknown; give "
                  "\"size\": [height, width]",
                  io->name, shape);
    if (dh < 1 || dw < 1 || dh > SRV_IMAGE_MAX_SIDE || dw > SRV_IMAGE_MAX_SIDE)
      return fail(c, base, "input '%s' has shape %s: not an image size", io->name, shape);
    s->height = (int)dh;
    s->width = (int)dw;
  }
  const json_t *range = json_object_get(img, "range");
  if (range) {
    snprintf(path, sizeof path, "%s.image.range", base);
    float r[2];
    int n;
    if (numbers(c, range, path, 2, 2, r, &n) != 0)
      return -1;
    if (r[0] == r[1])
      return fail(c, path, "lo and hi are equal (%g): every pixel would be the same", r[0]);
    s->lo = r[0];
    s->hi = r[1];
  }
  int C = srv_image_spec_channels(s);
  const json_t *mean = json_object_get(img, "mean"), *std = json_object_get(img, "std");
  if (mean) {
    snprintf(path, sizeof path, "%s.image.mean", base);
    if (numbers(c, mean, path, C, 0, s->mean, &s->n_mean) != 0)
      return -1;
    if (s->n_mean != 1 && s->n_mean != C)
      return fail(c, path, "expected 1 or %d values, got %d", C, s->n_mean);
  }
  if (std) {
    snprintf(path, sizeof path, "%s.image.std", base);
    if (numbers(c, std, path, C, 0, s->std, &s->n_std) != 0)
      return -1;
    if (s->n_std != 1 && s->n_std != C)
      return fail(c, path, "expected 1 or %d values, got %d", C, s->n_std);
    for (int i = 0; i < s->n_std; i++)
      if (s->std[i] == 0)
        return fail(c, path, "element %d is 0 (std divides)", i);
  }
  return 0;
}

static int parse_inputs(pctx *c, const json_t *inputs, const srv_sig *sig, srv_garden *g) {
  if (!json_is_object(inputs))
    return fail(c, "inputs", "expected an object of input names, got %s", type_name(inputs));
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)inputs, key, val) {
    char path[400];
    snprintf(path, sizeof path, "inputs.%s", key);
    int k = srv_sig_find(sig->in, sig->n_in, key);
    if (k < 0) {
      char names[512];
      size_t o = 0;
      names[0] = 0;
      for (int i = 0; i < sig->n_in && o < sizeof names; i++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s'%s'", i ? ", " : "",
                              sig->in[i].name);
      return fail(c, path, "the model has no input '%s' (its inputs: %s)", key, names);
    }
    if (g->has[k])
      return fail(c, path, "input '%s' is given twice", sig->in[k].name);
    if (!json_is_object(val))
      return fail(c, path, "expected an object, got %s", type_name(val));
    const char *ik;
    json_t *iv;
    json_object_foreach(val, ik, iv) {
      if (strcmp(ik, "image"))
        return fail(c, path, "unknown key '%s' (known: image)", ik);
    }
    const json_t *img = json_object_get(val, "image");
    if (!img)
      return fail(c, path, "missing \"image\"");
    if (parse_image(c, img, path, &sig->in[k], &g->specs[k]) != 0)
      return -1;
    g->has[k] = true;
  }
  return 0;
}

int srv_garden_parse(const json_t *root, const char *file, const srv_sig *sig, srv_garden **out,
                     char *msg, size_t cap) {
  *out = NULL;
  pctx c = {.file = file, .msg = msg, .cap = cap};
  if (!json_is_object(root)) {
    snprintf(msg, cap, "%s: expected a JSON object at the top, got %s", file, type_name(root));
    return -1;
  }
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)root, key, val) {
    if (strcmp(key, "inputs") && strcmp(key, "task")) {
      snprintf(msg, cap, "%s: unknown key '%s' (known: inputs, task)", file, key);
      return -1;
    }
  }
  srv_garden *g = calloc(1, sizeof *g);
  if (!g || !(g->specs = calloc((size_t)sig->n_in + 1, sizeof *g->specs)) ||
      !(g->has = calloc((size_t)sig->n_in + 1, sizeof *g->has))) {
    srv_garden_free(g);
    snprintf(msg, cap, "%s: out of memory", file);
    return -1;
  }
  g->n_in = sig->n_in;
  const json_t *inputs = json_object_get(root, "inputs"), *task = json_object_get(root, "task");
  if ((inputs && parse_inputs(&c, inputs, sig, g) != 0) ||
      (task && srv_task_parse(task, file, sig, &g->task, msg, cap) != 0)) {
    srv_garden_free(g);
    return -1;
  }
  *out = g;
  return 0;
}

int srv_garden_load(const char *path, const srv_sig *sig, srv_garden **out, char *msg, size_t cap) {
  *out = NULL;
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT)
      return 0;
    snprintf(msg, cap, "%s: %s", path, strerror(errno));
    return -1;
  }
  json_error_t je;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    snprintf(msg, cap, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
    return -1;
  }
  int rc = srv_garden_parse(root, path, sig, out, msg, cap);
  json_decref(root);
  return rc;
}
