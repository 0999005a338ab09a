/*
 * task.c — orchard.json's "task": what a garden model's raw outputs mean, and the :annotate
 * answer built from them. Parsed once per model version (srv_task_parse, checked against the
 * model's outputs); answered per instance on a worker (srv_task_answer). No global state; the
 * answer allocates only its own scratch (sort orders, decoded boxes, the mask and its PNG).
 *
 * Schema ("task" object; unknown keys are errors, every message names file and JSON path):
 *
 *   common:  "kind": "classification" | "detection" | "segmentation" | "pose"
 *            "output": "<name>"   the output read (":0" may be omitted); optional when the
 *                                 model has exactly one output
 *            "labels": ["..", ..] class names, index = class id
 *            "activation": "none" | "softmax" | "sigmoid"   applied to the read scores
 *                                 (logits); default "none" (the model already gives
 *                                 probabilities)
 *   classification: output [batch, C] (C = class count, checked against labels);
 *            "top_k": N (default 5, capped at C). Answer "classes": top_k by score desc,
 *            ties keep the lower class index first.
 *   detection: "decoder" (required), "score_threshold" (default 0.5; kept: score > it),
 *            "iou_threshold" (default 0.5; suppressed: IoU >= it), "max_detections"
 *            (default 20). Non-maximum suppression is tf.image.nonMaxSuppression's: greedy by
 *            score (ties: lower index first) over all candidates, class-agnostic.
 *     "centernet": output [batch, N, 6] rows (x1, y1, x2, y2, score, class) in pixels of the
 *            model input (human's centernet "tower_0/detections"); class is an index into
 *            labels.
 *     "blazeface": "outputs": [{"scores": name, "boxes": name, "stride": S}, ...] — anchor
 *            heads in anchor order; scores [batch, A, 1] logits (use "activation":
 *            "sigmoid"), boxes [batch, A, 4 + 2K] = (dx, dy, w, h, kx0, ky0, ...) in input
 *            pixels relative to the anchor centre. Anchors as @vladmandic/human (MediaPipe)
 *            generates them: per head a ceil(H/S) x ceil(W/S) grid, cell centres
 *            (S*(gx+0.5), S*(gy+0.5)), A/(cells) anchors per cell (must divide evenly).
 *            "keypoints": [names] (K of them, optional) -> each detection's "keypoints"
 *            (anchor + offset, as MediaPipe decodes them).
 *     "input_size": [H, W] pixels the coordinates are in; default: the model's first input,
 *            NHWC [_, H, W, _].
 *   segmentation: output [batch, H, W, C]. C == 1: p per pixel (after activation), mask
 *            value round(255 p), one label, area = fraction of pixels with p >= 0.5. C > 1:
 *            mask value = argmax class index (ties: lower index), C labels, areas per label.
 *            The mask is an 8-bit gray PNG at the model's resolution, base64 in "mask.png".
 *   pose:    output [batch, 1, K, 3] rows (y, x, score) normalized 0..1 (MoveNet);
 *            "keypoints": [K names] (required), "score_threshold" (default 0; keypoints with
 *            score > it are answered).
 *
 * "softmax" is refused where scores are single values (detection, pose, one-channel masks)
 * and changes nothing in a multi-class mask (argmax). Per request, srv_task_opts.top_k and
 * .threshold (?top_k=, ?threshold=) replace "top_k" and "score_threshold".
 *
 * Coordinates in answers are normalized to 0..1 of the model input, which is also 0..1 of
 * the original image because the image is stretched to the input size (no letterbox).
 *
 * The garden's config/garden/<m>.orchard.json follow @vladmandic/human: its input ranges
 * (emotion/gender gray [0.2989, 0.587, 0.114] to -1..1, blazeface -1..1, selfie/meet 0..1,
 * centernet and movenet 0..255) and its default thresholds (face detector 0.2 / IoU 0.1,
 * object 0.2 / IoU 0.4 / 10, body 0.3). Human leaves blazeface's landmarks relative to the
 * anchor; the keypoints here add the anchor, as MediaPipe does, so they land on the face.
 */
#include "task.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum task_kind {
  TASK_KIND_CLASSIFICATION,
  TASK_KIND_DETECTION,
  TASK_KIND_SEGMENTATION,
  TASK_KIND_POSE,
} task_kind;

typedef enum task_act { TASK_ACT_NONE, TASK_ACT_SOFTMAX, TASK_ACT_SIGMOID } task_act;

typedef enum task_decoder { TASK_DECODER_CENTERNET, TASK_DECODER_BLAZEFACE } task_decoder;

#define TASK_MAX_HEADS 8

struct srv_task {
  task_kind kind;
  task_act act;
  int out; /* output index in sig order (not used by blazeface) */
  int n_labels;
  char **labels;
  int n_kp;
  char **kp; /* keypoint names */
  int top_k;
  double score_thr, iou_thr;
  int max_det;
  task_decoder decoder;
  int in_h, in_w;
  int n_heads;
  int head_scores[TASK_MAX_HEADS], head_boxes[TASK_MAX_HEADS], head_stride[TASK_MAX_HEADS];
};

static const char *const kind_names[] = {"classification", "detection", "segmentation", "pose"};

/* ---- parse ---------------------------------------------------------------------------- */

static int perr(char *msg, size_t cap, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(char *msg, size_t cap, const char *file, const char *fmt, ...) {
  int n = snprintf(msg, cap, "%s: ", file ? file : "orchard.json");
  if (n < 0 || (size_t)n >= cap)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

static bool key_in(const char *k, const char *const *allowed) {
  for (; *allowed; allowed++)
    if (strcmp(k, *allowed) == 0)
      return true;
  return false;
}

static char **copy_strings(const json_t *arr, int *n_out, const char *file, const char *path,
                           char *msg, size_t cap) {
  if (!json_is_array(arr) || json_array_size(arr) == 0) {
    perr(msg, cap, file, "%s: expected a non-empty array of strings", path);
    return NULL;
  }
  size_t n = json_array_size(arr);
  if (n > 100000) {
    perr(msg, cap, file, "%s: %zu entries is too many", path, n);
    return NULL;
  }
  char **v = calloc(n, sizeof *v);
  if (!v) {
    perr(msg, cap, file, "%s: out of memory", path);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *s = json_array_get(arr, i);
    if (!json_is_string(s) || json_string_length(s) == 0) {
      perr(msg, cap, file, "%s[%zu]: expected a non-empty string", path, i);
      goto fail;
    }
    v[i] = strdup(json_string_value(s));
    if (!v[i]) {
      perr(msg, cap, file, "%s: out of memory", path);
      goto fail;
    }
  }
  *n_out = (int)n;
  return v;
fail:
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
  return NULL;
}

static void free_strings(char **v, int n) {
  if (!v)
    return;
  for (int i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static void list_outputs(const srv_sig *sig, char *out, size_t cap) {
  size_t n = 0;
  out[0] = 0;
  for (int i = 0; i < sig->n_out && n < cap; i++) {
    int w = snprintf(out + n, cap - n, "%s\"%s\"", i ? ", " : "", sig->out[i].name);
    if (w < 0)
      break;
    n += (size_t)w;
  }
}

/* Resolves an output name at `path`; -1 with the message on failure. */
static int find_output(const json_t *v, const srv_sig *sig, const char *file, const char *path,
                       char *msg, size_t cap) {
  if (!json_is_string(v))
    return perr(msg, cap, file, "%s: expected an output name", path);
  int i = srv_sig_find(sig->out, sig->n_out, json_string_value(v));
  if (i < 0) {
    char names[512];
    list_outputs(sig, names, sizeof names);
    return perr(msg, cap, file, "%s: the model has no output \"%s\" (outputs: %s)", path,
                json_string_value(v), names);
  }
  return i;
}

static int get_int(const json_t *task, const char *key, int lo, int hi, int dflt, int *out,
                   const char *file, char *msg, size_t cap) {
  const json_t *v = json_object_get(task, key);
  if (!v) {
    *out = dflt;
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return perr(msg, cap, file, "task.%s: expected an integer in %d..%d", key, lo, hi);
  *out = (int)json_integer_value(v);
  return 0;
}

static int get_unit(const json_t *task, const char *key, double dflt, double *out, const char *file,
                    char *msg, size_t cap) {
  const json_t *v = json_object_get(task, key);
  if (!v) {
    *out = dflt;
    return 0;
  }
  double d = json_number_value(v);
  if (!json_is_number(v) || !(d >= 0.0 && d <= 1.0))
    return perr(msg, cap, file, "task.%s: expected a number in 0..1", key);
  *out = d;
  return 0;
}

/* Known dims of an output: its rank (or -1) and dim d (or -1 when unknown). */
static int64_t out_dim(const srv_sig *sig, int o, int d) {
  const rt_io_info *io = &sig->out[o];
  if (io->rank < 0 || d >= io->rank)
    return -1;
  return io->dims[d];
}

/* `shape` is what the task reads, e.g. "[batch, classes]"; its rank is the number of dims. */
static int check_rank(const srv_sig *sig, int o, const char *shape, const char *what,
                      const char *file, const char *path, char *msg, size_t cap) {
  const rt_io_info *io = &sig->out[o];
  int rank = 1;
  for (const char *c = shape; *c; c++)
    rank += *c == ',';
  if (io->rank >= 0 && io->rank != rank)
    return perr(msg, cap, file, "%s: output \"%s\" has rank %d, %s reads %s", path, io->name,
                io->rank, what, shape);
  return 0;
}

static int parse_input_size(const json_t *task, const srv_sig *sig, srv_task *t, const char *file,
                            char *msg, size_t cap) {
  const json_t *v = json_object_get(task, "input_size");
  if (v) {
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 0)) ||
        !json_is_integer(json_array_get(v, 1)) || json_integer_value(json_array_get(v, 0)) < 1 ||
        json_integer_value(json_array_get(v, 1)) < 1 ||
        json_integer_value(json_array_get(v, 0)) > 65536 ||
        json_integer_value(json_array_get(v, 1)) > 65536)
      return perr(msg, cap, file, "task.input_size: expected [H, W], positive integers");
    t->in_h = (int)json_integer_value(json_array_get(v, 0));
    t->in_w = (int)json_integer_value(json_array_get(v, 1));
    return 0;
  }
  if (sig->n_in < 1 || sig->in[0].rank != 4 || sig->in[0].dims[1] < 1 || sig->in[0].dims[2] < 1 ||
      sig->in[0].dims[1] > 65536 || sig->in[0].dims[2] > 65536)
    return perr(msg, cap, file,
                "task.input_size: missing, and the model's first input has no known NHWC "
                "[_, H, W, _] shape to take it from");
  t->in_h = (int)sig->in[0].dims[1];
  t->in_w = (int)sig->in[0].dims[2];
  return 0;
}

static int parse_blazeface_heads(const json_t *task, const srv_sig *sig, srv_task *t,
                                 const char *file, char *msg, size_t cap) {
  const json_t *heads = json_object_get(task, "outputs");
  if (!heads)
    return perr(msg, cap, file,
                "task.outputs: required by decoder \"blazeface\" "
                "([{\"scores\": name, \"boxes\": name, \"stride\": S}, ...])");
  if (!json_is_array(heads) || json_array_size(heads) == 0 ||
      json_array_size(heads) > TASK_MAX_HEADS)
    return perr(msg, cap, file, "task.outputs: expected an array of 1..%d anchor heads",
                TASK_MAX_HEADS);
  t->n_heads = (int)json_array_size(heads);
  int need_vals = 4 + 2 * t->n_kp;
  for (int h = 0; h < t->n_heads; h++) {
    const json_t *hd = json_array_get(heads, (size_t)h);
    char path[64];
    if (!json_is_object(hd))
      return perr(msg, cap, file, "task.outputs[%d]: expected an object", h);
    const char *k;
    const json_t *x;
    static const char *const allowed[] = {"scores", "boxes", "stride", NULL};
    json_object_foreach((json_t *)hd, k, x) {
      if (!key_in(k, allowed))
        return perr(msg, cap, file,
                    "task.outputs[%d].%s: unknown key (allowed: scores, boxes, stride)", h, k);
    }
    snprintf(path, sizeof path, "task.outputs[%d].scores", h);
    int s = find_output(json_object_get(hd, "scores"), sig, file, path, msg, cap);
    if (s < 0 ||
        check_rank(sig, s, "[batch, anchors, 1]", "a blazeface head", file, path, msg, cap))
      return -1;
    snprintf(path, sizeof path, "task.outputs[%d].boxes", h);
    int b = find_output(json_object_get(hd, "boxes"), sig, file, path, msg, cap);
    if (b < 0 ||
        check_rank(sig, b, "[batch, anchors, 4 + 2K]", "a blazeface head", file, path, msg, cap))
      return -1;
    const json_t *st = json_object_get(hd, "stride");
    if (!json_is_integer(st) || json_integer_value(st) < 1 || json_integer_value(st) > 4096)
      return perr(msg, cap, file, "task.outputs[%d].stride: expected a positive integer", h);
    int stride = (int)json_integer_value(st);
    t->head_scores[h] = s;
    t->head_boxes[h] = b;
    t->head_stride[h] = stride;
    int64_t rows_s = out_dim(sig, s, 1), rows_b = out_dim(sig, b, 1);
    int64_t sv = out_dim(sig, s, 2), bv = out_dim(sig, b, 2);
    if (sv > 0 && sv != 1)
      return perr(msg, cap, file,
                  "task.outputs[%d].scores: output \"%s\" has %lld values per "
                  "anchor, expected 1",
                  h, sig->out[s].name, (long long)sv);
    if (bv > 0 && bv < need_vals)
      return perr(msg, cap, file,
                  "task.outputs[%d].boxes: output \"%s\" has %lld values per anchor, need %d "
                  "(4 box + 2 per keypoint)",
                  h, sig->out[b].name, (long long)bv, need_vals);
    if (rows_s > 0 && rows_b > 0 && rows_s != rows_b)
      return perr(msg, cap, file,
                  "task.outputs[%d]: scores \"%s\" has %lld anchors but boxes \"%s\" has %lld", h,
                  sig->out[s].name, (long long)rows_s, sig->out[b].name, (long long)rows_b);
    int64_t rows = rows_s > 0 ? rows_s : rows_b;
    int64_t cells = (int64_t)((t->in_h + stride - 1) / stride) * ((t->in_w + stride - 1) / stride);
    if (rows > 0 && rows % cells != 0)
      return perr(msg, cap, file,
                  "task.outputs[%d].stride: %d gives %lld grid cells for a %dx%d input, which "
                  "does not divide the head's %lld anchors",
                  h, stride, (long long)cells, t->in_h, t->in_w, (long long)rows);
  }
  return 0;
}

int srv_task_parse(const json_t *task, const char *file, const srv_sig *sig, srv_task **out,
                   char *msg, size_t cap) {
  *out = NULL;
  if (!json_is_object(task))
    return perr(msg, cap, file, "task: expected an object");
  const json_t *kv = json_object_get(task, "kind");
  if (!json_is_string(kv))
    return perr(msg, cap, file,
                "task.kind: required, one of \"classification\", \"detection\", "
                "\"segmentation\", \"pose\"");
  int kind = -1;
  for (int i = 0; i < 4; i++)
    if (strcmp(json_string_value(kv), kind_names[i]) == 0)
      kind = i;
  if (kind < 0)
    return perr(msg, cap, file,
                "task.kind: \"%s\" is not one of \"classification\", \"detection\", "
                "\"segmentation\", \"pose\"",
                json_string_value(kv));

  static const char *const allowed_class[] = {"kind",       "output", "labels",
                                              "activation", "top_k",  NULL};
  static const char *const allowed_det[] = {
      "kind",           "output",    "outputs",         "labels",
      "activation",     "decoder",   "score_threshold", "iou_threshold",
      "max_detections", "keypoints", "input_size",      NULL};
  static const char *const allowed_seg[] = {"kind", "output", "labels", "activation", NULL};
  static const char *const allowed_pose[] = {"kind",       "output",          "keypoints",
                                             "activation", "score_threshold", NULL};
  static const char *const *const allowed[] = {allowed_class, allowed_det, allowed_seg,
                                               allowed_pose};
  const char *k;
  const json_t *x;
  json_object_foreach((json_t *)task, k, x) {
    if (!key_in(k, allowed[kind])) {
      char list[256];
      size_t n = 0;
      list[0] = 0;
      for (const char *const *a = allowed[kind]; *a && n < sizeof list; a++) {
        int w = snprintf(list + n, sizeof list - n, "%s%s", a == allowed[kind] ? "" : ", ", *a);
        if (w < 0)
          break;
        n += (size_t)w;
      }
      return perr(msg, cap, file, "task.%s: unknown key for kind \"%s\" (allowed: %s)", k,
                  kind_names[kind], list);
    }
  }

  srv_task *t = calloc(1, sizeof *t);
  if (!t)
    return perr(msg, cap, file, "task: out of memory");
  t->kind = (task_kind)kind;
  t->out = -1;

  const json_t *av = json_object_get(task, "activation");
  if (av) {
    const char *a = json_is_string(av) ? json_string_value(av) : "";
    if (strcmp(a, "none") == 0)
      t->act = TASK_ACT_NONE;
    else if (strcmp(a, "softmax") == 0)
      t->act = TASK_ACT_SOFTMAX;
    else if (strcmp(a, "sigmoid") == 0)
      t->act = TASK_ACT_SIGMOID;
    else {
      perr(msg, cap, file, "task.activation: expected \"none\", \"softmax\" or \"sigmoid\"");
      goto fail;
    }
  }

  if (t->act == TASK_ACT_SOFTMAX && (kind == TASK_KIND_DETECTION || kind == TASK_KIND_POSE)) {
    perr(msg, cap, file,
         "task.activation: \"softmax\" needs a class dimension; %s scores are "
         "one value each (\"sigmoid\" or \"none\")",
         kind_names[kind]);
    goto fail;
  }

  const json_t *lv = json_object_get(task, "labels");
  if (lv && !(t->labels = copy_strings(lv, &t->n_labels, file, "task.labels", msg, cap)))
    goto fail;
  const json_t *kpv = json_object_get(task, "keypoints");
  if (kpv && !(t->kp = copy_strings(kpv, &t->n_kp, file, "task.keypoints", msg, cap)))
    goto fail;

  bool blaze = false;
  if (kind == TASK_KIND_DETECTION) {
    const json_t *dv = json_object_get(task, "decoder");
    const char *d = json_is_string(dv) ? json_string_value(dv) : NULL;
    if (d && strcmp(d, "centernet") == 0)
      t->decoder = TASK_DECODER_CENTERNET;
    else if (d && strcmp(d, "blazeface") == 0) {
      t->decoder = TASK_DECODER_BLAZEFACE;
      blaze = true;
    } else {
      perr(msg, cap, file, "task.decoder: %s, one of \"centernet\", \"blazeface\"",
           dv ? "expected" : "required");
      goto fail;
    }
    if (blaze && json_object_get(task, "output")) {
      perr(msg, cap, file, "task.output: decoder \"blazeface\" reads \"outputs\" (anchor heads)");
      goto fail;
    }
    if (!blaze && json_object_get(task, "outputs")) {
      perr(msg, cap, file,
           "task.outputs: only decoder \"blazeface\" reads several outputs; "
           "use \"output\"");
      goto fail;
    }
    if (!blaze && t->kp) {
      perr(msg, cap, file, "task.keypoints: decoder \"centernet\" has no keypoints");
      goto fail;
    }
    if (!t->labels) {
      perr(msg, cap, file, "task.labels: required for detection");
      goto fail;
    }
    if (blaze && t->n_labels != 1) {
      perr(msg, cap, file, "task.labels: decoder \"blazeface\" detects one class, got %d labels",
           t->n_labels);
      goto fail;
    }
    if (get_unit(task, "score_threshold", 0.5, &t->score_thr, file, msg, cap) ||
        get_unit(task, "iou_threshold", 0.5, &t->iou_thr, file, msg, cap) ||
        get_int(task, "max_detections", 1, 100000, 20, &t->max_det, file, msg, cap) ||
        parse_input_size(task, sig, t, file, msg, cap))
      goto fail;
    if (blaze && parse_blazeface_heads(task, sig, t, file, msg, cap))
      goto fail;
  }

  if (!blaze) {
    const json_t *ov = json_object_get(task, "output");
    if (ov) {
      if ((t->out = find_output(ov, sig, file, "task.output", msg, cap)) < 0)
        goto fail;
    } else if (sig->n_out == 1) {
      t->out = 0;
    } else {
      char names[512];
      list_outputs(sig, names, sizeof names);
      perr(msg, cap, file, "task.output: required, the model has %d outputs (%s)", sig->n_out,
           names);
      goto fail;
    }
  }

  const char *oname = t->out >= 0 ? sig->out[t->out].name : "";
  switch (t->kind) {
  case TASK_KIND_CLASSIFICATION: {
    if (!t->labels) {
      perr(msg, cap, file, "task.labels: required for classification");
      goto fail;
    }
    if (check_rank(sig, t->out, "[batch, classes]", "classification", file, "task.output", msg,
                   cap))
      goto fail;
    int64_t c = out_dim(sig, t->out, 1);
    if (c > 0 && c != t->n_labels) {
      perr(msg, cap, file,
           "task.labels: expected %lld labels (output \"%s\" has %lld classes), "
           "got %d",
           (long long)c, oname, (long long)c, t->n_labels);
      goto fail;
    }
    if (get_int(task, "top_k", 1, 100000, 5, &t->top_k, file, msg, cap))
      goto fail;
    break;
  }
  case TASK_KIND_DETECTION:
    if (!blaze) {
      if (check_rank(sig, t->out, "[batch, N, 6]", "decoder \"centernet\"", file, "task.output",
                     msg, cap))
        goto fail;
      int64_t v = out_dim(sig, t->out, 2);
      if (v > 0 && v != 6) {
        perr(msg, cap, file,
             "task.output: output \"%s\" has %lld values per detection, decoder "
             "\"centernet\" reads 6 (x1, y1, x2, y2, score, class)",
             oname, (long long)v);
        goto fail;
      }
    }
    break;
  case TASK_KIND_SEGMENTATION: {
    if (!t->labels) {
      perr(msg, cap, file, "task.labels: required for segmentation");
      goto fail;
    }
    if (check_rank(sig, t->out, "[batch, H, W, C]", "segmentation", file, "task.output", msg, cap))
      goto fail;
    if (t->n_labels == 1 && t->act == TASK_ACT_SOFTMAX) {
      perr(msg, cap, file,
           "task.activation: \"softmax\" over one channel is always 1; a "
           "one-channel mask takes \"sigmoid\" or \"none\"");
      goto fail;
    }
    int64_t c = out_dim(sig, t->out, 3);
    if (c > 0 && c != t->n_labels) {
      perr(msg, cap, file,
           "task.labels: expected %lld label%s (output \"%s\" has %lld "
           "channel%s), got %d",
           (long long)c, c == 1 ? "" : "s", oname, (long long)c, c == 1 ? "" : "s", t->n_labels);
      goto fail;
    }
    break;
  }
  case TASK_KIND_POSE: {
    if (!t->kp) {
      perr(msg, cap, file, "task.keypoints: required for pose (one name per keypoint)");
      goto fail;
    }
    if (check_rank(sig, t->out, "[batch, 1, K, 3]", "pose", file, "task.output", msg, cap))
      goto fail;
    int64_t kn = out_dim(sig, t->out, 2), v = out_dim(sig, t->out, 3);
    if (v > 0 && v != 3) {
      perr(msg, cap, file,
           "task.output: output \"%s\" has %lld values per keypoint, pose reads "
           "3 (y, x, score)",
           oname, (long long)v);
      goto fail;
    }
    if (kn > 0 && kn != t->n_kp) {
      perr(msg, cap, file,
           "task.keypoints: expected %lld names (output \"%s\" has %lld "
           "keypoints), got %d",
           (long long)kn, oname, (long long)kn, t->n_kp);
      goto fail;
    }
    if (get_unit(task, "score_threshold", 0.0, &t->score_thr, file, msg, cap))
      goto fail;
    break;
  }
  }
  *out = t;
  return 0;
fail:
  srv_task_free(t);
  return -1;
}

void srv_task_free(srv_task *t) {
  if (!t)
    return;
  free_strings(t->labels, t->n_labels);
  free_strings(t->kp, t->n_kp);
  free(t);
}

const char *srv_task_kind(const srv_task *t) { return kind_names[t->kind]; }

json_t *srv_task_describe(const srv_task *t) {
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "kind", json_string(kind_names[t->kind]));
  if (t->labels) {
    json_t *a = json_array();
    for (int i = 0; i < t->n_labels; i++)
      json_array_append_new(a, json_string(t->labels[i]));
    json_object_set_new(o, "labels", a);
  }
  if (t->kp) {
    json_t *a = json_array();
    for (int i = 0; i < t->n_kp; i++)
      json_array_append_new(a, json_string(t->kp[i]));
    json_object_set_new(o, "keypoints", a);
  }
  return o;
}

/* ---- answer --------------------------------------------------------------------------- */

/* Descending score, ties (and NaNs, which sort last) by ascending index: the order top-k and
 * tf.image.nonMaxSuppression pick candidates in. */
typedef struct scored {
  float score;
  int idx;
} scored;

static int scored_cmp(const void *a, const void *b) {
  const scored *x = a, *y = b;
  bool xn = isnan(x->score), yn = isnan(y->score);
  if (xn != yn)
    return xn ? 1 : -1;
  if (!xn && x->score != y->score)
    return x->score > y->score ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

static float sigmoidf_(float x) { return (float)(1.0 / (1.0 + exp(-(double)x))); }

static void activate(task_act act, const float *in, float *out, int n) {
  if (act == TASK_ACT_SIGMOID) {
    for (int i = 0; i < n; i++)
      out[i] = sigmoidf_(in[i]);
  } else if (act == TASK_ACT_SOFTMAX) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++)
      if (in[i] > mx)
        mx = in[i];
    for (int i = 0; i < n; i++)
      sum += exp((double)in[i] - mx);
    for (int i = 0; i < n; i++)
      out[i] = (float)(exp((double)in[i] - mx) / sum);
  } else {
    memcpy(out, in, (size_t)n * sizeof *out);
  }
}

static int aerr(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int aerr(char *msg, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, cap, fmt, ap);
  va_end(ap);
  return 500;
}

/* The instance's slice of output o, checked to be float32 of rank `rank` with a known batch
 * dimension covering `instance`; NULL with msg otherwise. */
static const float *instance_data(const srv_sig *sig, const rt_tensor *outs, int o, int rank,
                                  int64_t instance, int64_t *per, char *msg, size_t cap) {
  const rt_tensor *t = &outs[o];
  const char *name = sig->out[o].name;
  if (t->dtype != RT_DT_F32) {
    aerr(msg, cap, "task: output \"%s\" is %s, the task reads float32", name,
         rt_dtype_name(t->dtype));
    return NULL;
  }
  if (t->rank != rank) {
    aerr(msg, cap, "task: output \"%s\" has rank %d, the task reads rank %d", name, t->rank, rank);
    return NULL;
  }
  if (instance < 0 || instance >= t->dims[0]) {
    aerr(msg, cap, "task: output \"%s\" has batch %lld, no instance %lld", name,
         (long long)t->dims[0], (long long)instance);
    return NULL;
  }
  int64_t n = 1;
  for (int d = 1; d < rank; d++)
    n *= t->dims[d];
  if (n <= 0 || n > ((int64_t)1 << 31)) {
    aerr(msg, cap, "task: output \"%s\" has %lld values per instance", name, (long long)n);
    return NULL;
  }
  *per = n;
  return (const float *)t->data + instance * n;
}

static void put_image(srv_buf *b, const srv_task *t, const srv_task_opts *o) {
  srv_buf_puts(b, "\"task\":");
  srv_buf_json_string(b, kind_names[t->kind]);
  srv_buf_printf(b, ",\"image\":{\"width\":%d,\"height\":%d}", o->image_width, o->image_height);
}

static int answer_classification(const srv_task *t, const srv_sig *sig, const rt_tensor *outs,
                                 int64_t instance, const srv_task_opts *o, srv_buf *b, char *msg,
                                 size_t cap) {
  int64_t c;
  const float *x = instance_data(sig, outs, t->out, 2, instance, &c, msg, cap);
  if (!x)
    return 500;
  if (c != t->n_labels)
    return aerr(msg, cap, "task: output \"%s\" has %lld classes, the task has %d labels",
                sig->out[t->out].name, (long long)c, t->n_labels);
  float *p = malloc((size_t)c * sizeof *p);
  scored *s = malloc((size_t)c * sizeof *s);
  if (!p || !s) {
    free(p);
    free(s);
    return aerr(msg, cap, "task: out of memory");
  }
  activate(t->act, x, p, (int)c);
  for (int i = 0; i < c; i++)
    s[i] = (scored){p[i], i};
  qsort(s, (size_t)c, sizeof *s, scored_cmp);
  int k = o->top_k > 0 ? o->top_k : t->top_k;
  if (k > c)
    k = (int)c;
  put_image(b, t, o);
  srv_buf_puts(b, ",\"classes\":[");
  for (int i = 0; i < k; i++) {
    srv_buf_puts(b, i ? ",{\"label\":" : "{\"label\":");
    srv_buf_json_string(b, t->labels[s[i].idx]);
    srv_buf_puts(b, ",\"score\":");
    srv_buf_f32(b, s[i].score);
    srv_buf_putc(b, '}');
  }
  srv_buf_putc(b, ']');
  free(p);
  free(s);
  return 200;
}

/* tf.image.nonMaxSuppression (softNmsSigma 0): candidates with score > score_thr, greedily by
 * score; a candidate is dropped when its IoU with any kept box is >= iou_thr. Boxes are
 * (y1, x1, y2, x2), corners in any order. `cand` has room for n. Returns the kept count. */
static double box_iou(const float *a, const float *b) {
  double ay1 = fmin(a[0], a[2]), ax1 = fmin(a[1], a[3]), ay2 = fmax(a[0], a[2]),
         ax2 = fmax(a[1], a[3]);
  double by1 = fmin(b[0], b[2]), bx1 = fmin(b[1], b[3]), by2 = fmax(b[0], b[2]),
         bx2 = fmax(b[1], b[3]);
  double aa = (ay2 - ay1) * (ax2 - ax1), ab = (by2 - by1) * (bx2 - bx1);
  if (aa <= 0 || ab <= 0)
    return 0.0;
  double ih = fmax(fmin(ay2, by2) - fmax(ay1, by1), 0.0);
  double iw = fmax(fmin(ax2, bx2) - fmax(ax1, bx1), 0.0);
  double inter = ih * iw;
  return inter / (aa + ab - inter);
}

static int nms(const float *boxes, const float *scores, int n, int max_out, double iou_thr,
               double score_thr, scored *cand, int *keep) {
  int nc = 0;
  for (int i = 0; i < n; i++)
    if (scores[i] > score_thr)
      cand[nc++] = (scored){scores[i], i};
  qsort(cand, (size_t)nc, sizeof *cand, scored_cmp);
  int nk = 0;
  for (int c = 0; c < nc && nk < max_out; c++) {
    const float *bc = boxes + 4 * (size_t)cand[c].idx;
    bool drop = false;
    for (int j = nk - 1; j >= 0 && !drop; j--)
      drop = box_iou(bc, boxes + 4 * (size_t)keep[j]) >= iou_thr;
    if (!drop)
      keep[nk++] = cand[c].idx;
  }
  return nk;
}

static void put_box(srv_buf *b, float x1, float y1, float x2, float y2) {
  srv_buf_puts(b, ",\"box\":{\"x\":");
  srv_buf_f32(b, x1);
  srv_buf_puts(b, ",\"y\":");
  srv_buf_f32(b, y1);
  srv_buf_puts(b, ",\"width\":");
  srv_buf_f32(b, x2 - x1);
  srv_buf_puts(b, ",\"height\":");
  srv_buf_f32(b, y2 - y1);
  srv_buf_putc(b, '}');
}

static int answer_detection(const srv_task *t, const srv_sig *sig, const rt_tensor *outs,
                            int64_t instance, const srv_task_opts *o, srv_buf *b, char *msg,
                            size_t cap) {
  const bool blaze = t->decoder == TASK_DECODER_BLAZEFACE;
  const float *hs[TASK_MAX_HEADS], *hb[TASK_MAX_HEADS];
  int64_t rows[TASK_MAX_HEADS], bvals[TASK_MAX_HEADS];
  int64_t n = 0;
  const float *det = NULL;
  if (blaze) {
    for (int h = 0; h < t->n_heads; h++) {
      int64_t ns, nb;
      hs[h] = instance_data(sig, outs, t->head_scores[h], 3, instance, &ns, msg, cap);
      if (!hs[h])
        return 500;
      hb[h] = instance_data(sig, outs, t->head_boxes[h], 3, instance, &nb, msg, cap);
      if (!hb[h])
        return 500;
      rows[h] = outs[t->head_scores[h]].dims[1];
      bvals[h] = outs[t->head_boxes[h]].dims[2];
      int stride = t->head_stride[h];
      int64_t cells =
          (int64_t)((t->in_h + stride - 1) / stride) * ((t->in_w + stride - 1) / stride);
      if (outs[t->head_scores[h]].dims[2] != 1 || outs[t->head_boxes[h]].dims[1] != rows[h] ||
          bvals[h] < 4 + 2 * t->n_kp || rows[h] % cells != 0 || rows[h] == 0)
        return aerr(msg, cap,
                    "task: anchor head %d (\"%s\", \"%s\") does not fit stride %d "
                    "over a %dx%d input",
                    h, sig->out[t->head_scores[h]].name, sig->out[t->head_boxes[h]].name, stride,
                    t->in_h, t->in_w);
      n += rows[h];
    }
  } else {
    int64_t per;
    det = instance_data(sig, outs, t->out, 3, instance, &per, msg, cap);
    if (!det)
      return 500;
    if (outs[t->out].dims[2] != 6)
      return aerr(msg, cap, "task: output \"%s\" has %lld values per detection, expected 6",
                  sig->out[t->out].name, (long long)outs[t->out].dims[2]);
    n = outs[t->out].dims[1];
  }
  if (n > (1 << 24))
    return aerr(msg, cap, "task: %lld candidate boxes is too many", (long long)n);

  /* boxes (y1, x1, y2, x2) normalized; anchors (ax, ay) in pixels for keypoints. */
  float *boxes = malloc((size_t)(n ? n : 1) * 4 * sizeof *boxes);
  float *scores = malloc((size_t)(n ? n : 1) * sizeof *scores);
  float *anchors = blaze ? malloc((size_t)(n ? n : 1) * 2 * sizeof *anchors) : NULL;
  const float **rowp = blaze ? malloc((size_t)(n ? n : 1) * sizeof *rowp) : NULL;
  scored *cand = malloc((size_t)(n ? n : 1) * sizeof *cand);
  int *keep = malloc((size_t)(n ? n : 1) * sizeof *keep);
  int status = 200;
  if (!boxes || !scores || !cand || !keep || (blaze && (!anchors || !rowp))) {
    status = aerr(msg, cap, "task: out of memory");
    goto done;
  }
  const float W = (float)t->in_w, H = (float)t->in_h;
  if (blaze) {
    int64_t a = 0;
    for (int h = 0; h < t->n_heads; h++) {
      int stride = t->head_stride[h];
      int gh = (t->in_h + stride - 1) / stride, gw = (t->in_w + stride - 1) / stride;
      int64_t per_cell = rows[h] / ((int64_t)gh * gw);
      int64_t r = 0;
      for (int gy = 0; gy < gh; gy++)
        for (int gx = 0; gx < gw; gx++)
          for (int64_t k = 0; k < per_cell; k++, r++, a++) {
            float ax = (float)stride * ((float)gx + 0.5f), ay = (float)stride * ((float)gy + 0.5f);
            const float *v = hb[h] + r * bvals[h];
            float cx = v[0] + ax, cy = v[1] + ay, hw = v[2] / 2, hh = v[3] / 2;
            boxes[4 * a + 0] = (cy - hh) / H;
            boxes[4 * a + 1] = (cx - hw) / W;
            boxes[4 * a + 2] = (cy + hh) / H;
            boxes[4 * a + 3] = (cx + hw) / W;
            anchors[2 * a] = ax;
            anchors[2 * a + 1] = ay;
            rowp[a] = v;
            scores[a] = hs[h][r];
          }
    }
    activate(t->act, scores, scores, (int)n);
  } else {
    for (int64_t i = 0; i < n; i++) {
      const float *v = det + 6 * i;
      boxes[4 * i + 0] = v[1] / H;
      boxes[4 * i + 1] = v[0] / W;
      boxes[4 * i + 2] = v[3] / H;
      boxes[4 * i + 3] = v[2] / W;
      scores[i] = v[4];
    }
    activate(t->act, scores, scores, (int)n);
  }
  double thr = o->threshold >= 0 ? o->threshold : t->score_thr;
  int nk = nms(boxes, scores, (int)n, t->max_det, t->iou_thr, thr, cand, keep);

  put_image(b, t, o);
  srv_buf_puts(b, ",\"detections\":[");
  for (int i = 0; i < nk; i++) {
    int d = keep[i];
    srv_buf_puts(b, i ? ",{\"label\":" : "{\"label\":");
    if (blaze) {
      srv_buf_json_string(b, t->labels[0]);
    } else {
      float cls = det[6 * (int64_t)d + 5];
      if (cls >= 0 && cls < (float)t->n_labels && cls == floorf(cls)) {
        srv_buf_json_string(b, t->labels[(int)cls]);
      } else {
        char unk[48];
        snprintf(unk, sizeof unk, "class %g", (double)cls);
        srv_buf_json_string(b, unk);
      }
    }
    srv_buf_puts(b, ",\"score\":");
    srv_buf_f32(b, scores[d]);
    const float *bx = boxes + 4 * (int64_t)d;
    put_box(b, bx[1], bx[0], bx[3], bx[2]);
    if (blaze && t->n_kp > 0) {
      srv_buf_puts(b, ",\"keypoints\":[");
      const float *v = rowp[d];
      for (int k = 0; k < t->n_kp; k++) {
        srv_buf_puts(b, k ? ",{\"name\":" : "{\"name\":");
        srv_buf_json_string(b, t->kp[k]);
        srv_buf_puts(b, ",\"x\":");
        srv_buf_f32(b, (v[4 + 2 * k] + anchors[2 * d]) / W);
        srv_buf_puts(b, ",\"y\":");
        srv_buf_f32(b, (v[5 + 2 * k] + anchors[2 * d + 1]) / H);
        srv_buf_putc(b, '}');
      }
      srv_buf_putc(b, ']');
    }
    srv_buf_putc(b, '}');
  }
  srv_buf_putc(b, ']');
done:
  free(boxes);
  free(scores);
  free(anchors);
  free(rowp);
  free(cand);
  free(keep);
  return status;
}

/* ---- segmentation: an 8-bit gray PNG in memory, then base64 ---- */

typedef struct png_sink {
  srv_buf *buf;
  char *msg;
  size_t cap;
} png_sink;

static void png_sink_write(png_structp p, png_bytep data, size_t n) {
  png_sink *s = png_get_io_ptr(p);
  srv_buf_append(s->buf, data, n);
}

static void png_sink_flush(png_structp p) { (void)p; }

static void png_on_error(png_structp p, png_const_charp m) {
  png_sink *s = png_get_error_ptr(p);
  snprintf(s->msg, s->cap, "task: PNG encoding failed: %s", m);
  png_longjmp(p, 1);
}

static void png_on_warning(png_structp p, png_const_charp m) {
  (void)p;
  (void)m;
}

/* Encodes the w x h gray mask into out (PNG bytes). 0 on success. */
static int encode_png(const unsigned char *mask, int w, int h, srv_buf *out, char *msg,
                      size_t cap) {
  png_sink sink = {out, msg, cap};
  png_structp p =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_on_error, png_on_warning);
  if (!p)
    return aerr(msg, cap, "task: out of memory (PNG)");
  png_infop info = png_create_info_struct(p);
  if (!info) {
    png_destroy_write_struct(&p, NULL);
    return aerr(msg, cap, "task: out of memory (PNG)");
  }
  if (setjmp(png_jmpbuf(p))) {
    png_destroy_write_struct(&p, &info);
    return 500;
  }
  png_set_write_fn(p, &sink, png_sink_write, png_sink_flush);
  png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(p, info);
  for (int y = 0; y < h; y++)
    png_write_row(p, mask + (size_t)y * (size_t)w);
  png_write_end(p, info);
  png_destroy_write_struct(&p, &info);
  return out->oom ? aerr(msg, cap, "task: out of memory (PNG)") : 0;
}

static void put_b64(srv_buf *b, const unsigned char *in, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (!srv_buf_reserve(b, (n + 2) / 3 * 4 + 1))
    return;
  char *o = b->data + b->len;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *o++ = tab[v >> 18];
    *o++ = tab[(v >> 12) & 63];
    *o++ = tab[(v >> 6) & 63];
    *o++ = tab[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    *o++ = tab[v >> 18];
    *o++ = tab[(v >> 12) & 63];
    *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  b->len = (size_t)(o - b->data);
  b->data[b->len] = 0;
}

static int answer_segmentation(const srv_task *t, const srv_sig *sig, const rt_tensor *outs,
                               int64_t instance, const srv_task_opts *o, srv_buf *b, char *msg,
                               size_t cap) {
  int64_t per;
  const float *x = instance_data(sig, outs, t->out, 4, instance, &per, msg, cap);
  if (!x)
    return 500;
  const rt_tensor *ot = &outs[t->out];
  int64_t h = ot->dims[1], w = ot->dims[2], c = ot->dims[3];
  if (c != t->n_labels)
    return aerr(msg, cap, "task: output \"%s\" has %lld channels, the task has %d labels",
                sig->out[t->out].name, (long long)c, t->n_labels);
  if (h < 1 || w < 1 || h > 16384 || w > 16384)
    return aerr(msg, cap, "task: output \"%s\" is %lldx%lld, not a mask size",
                sig->out[t->out].name, (long long)h, (long long)w);
  size_t npx = (size_t)(h * w);
  unsigned char *mask = malloc(npx);
  int64_t *count = calloc((size_t)c, sizeof *count);
  srv_buf png;
  srv_buf_init(&png);
  int status = 200;
  if (c > 256) {
    status = aerr(msg, cap, "task: %lld classes do not fit an 8-bit mask", (long long)c);
    goto done;
  }
  if (!mask || !count) {
    status = aerr(msg, cap, "task: out of memory");
    goto done;
  }
  for (size_t i = 0; i < npx; i++) {
    const float *v = x + i * (size_t)c;
    if (c == 1) {
      float q = t->act == TASK_ACT_SIGMOID ? sigmoidf_(v[0]) : v[0];
      float m = roundf(255.0f * q);
      mask[i] = (unsigned char)(m >= 255.0f ? 255 : m > 0.0f ? m : 0); /* NaN -> 0 */
      if (q >= 0.5f)
        count[0]++;
    } else {
      /* argmax is unchanged by softmax/sigmoid (both monotonic), so no activation here */
      int best = 0;
      for (int k = 1; k < c; k++)
        if (v[k] > v[best] || (isnan(v[best]) && !isnan(v[k])))
          best = k;
      mask[i] = (unsigned char)best;
      count[best]++;
    }
  }
  if ((status = encode_png(mask, (int)w, (int)h, &png, msg, cap)) != 0)
    goto done;
  status = 200;
  put_image(b, t, o);
  srv_buf_printf(b, ",\"mask\":{\"width\":%lld,\"height\":%lld,\"png\":\"", (long long)w,
                 (long long)h);
  put_b64(b, (const unsigned char *)png.data, png.len);
  srv_buf_puts(b, "\",\"labels\":[");
  for (int k = 0; k < c; k++) {
    if (k)
      srv_buf_putc(b, ',');
    srv_buf_json_string(b, t->labels[k]);
  }
  srv_buf_puts(b, "]},\"areas\":[");
  for (int k = 0; k < c; k++) {
    srv_buf_puts(b, k ? ",{\"label\":" : "{\"label\":");
    srv_buf_json_string(b, t->labels[k]);
    srv_buf_puts(b, ",\"fraction\":");
    srv_buf_f32(b, (float)((double)count[k] / (double)npx));
    srv_buf_putc(b, '}');
  }
  srv_buf_putc(b, ']');
done:
  srv_buf_free(&png);
  free(mask);
  free(count);
  return status;
}

static int answer_pose(const srv_task *t, const srv_sig *sig, const rt_tensor *outs,
                       int64_t instance, const srv_task_opts *o, srv_buf *b, char *msg,
                       size_t cap) {
  int64_t per;
  const float *x = instance_data(sig, outs, t->out, 4, instance, &per, msg, cap);
  if (!x)
    return 500;
  const rt_tensor *ot = &outs[t->out];
  if (ot->dims[1] != 1 || ot->dims[2] != t->n_kp || ot->dims[3] != 3)
    return aerr(msg, cap, "task: output \"%s\" is not [batch, 1, %d, 3]", sig->out[t->out].name,
                t->n_kp);
  double thr = o->threshold >= 0 ? o->threshold : t->score_thr;
  put_image(b, t, o);
  srv_buf_puts(b, ",\"keypoints\":[");
  bool first = true;
  for (int k = 0; k < t->n_kp; k++) {
    const float *v = x + 3 * k;
    float s = t->act == TASK_ACT_SIGMOID ? sigmoidf_(v[2]) : v[2];
    if (!(s > thr))
      continue;
    srv_buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
    first = false;
    srv_buf_json_string(b, t->kp[k]);
    srv_buf_puts(b, ",\"x\":");
    srv_buf_f32(b, v[1]);
    srv_buf_puts(b, ",\"y\":");
    srv_buf_f32(b, v[0]);
    srv_buf_puts(b, ",\"score\":");
    srv_buf_f32(b, s);
    srv_buf_putc(b, '}');
  }
  srv_buf_putc(b, ']');
  return 200;
}

int srv_task_answer(const srv_task *t, const srv_sig *sig, const rt_tensor *outs, int64_t instance,
                    const srv_task_opts *o, srv_buf *b, char *msg, size_t cap) {
  switch (t->kind) {
  case TASK_KIND_CLASSIFICATION:
    return answer_classification(t, sig, outs, instance, o, b, msg, cap);
  case TASK_KIND_DETECTION: return answer_detection(t, sig, outs, instance, o, b, msg, cap);
  case TASK_KIND_SEGMENTATION: return answer_segmentation(t, sig, outs, instance, o, b, msg, cap);
  case TASK_KIND_POSE: return answer_pose(t, sig, outs, instance, o, b, msg, cap);
  }
  return aerr(msg, cap, "task: unknown kind");
}
