/*
 * test_task.c — orchard.json "task" (server/task.c) on hand-made signatures and tensors:
 * every parse error names the file and JSON path, top-k order (ties: lower index first),
 * non-maximum suppression with tf.image.nonMaxSuppression's edges (score > threshold, IoU >=
 * threshold suppresses, max outputs), blazeface anchors, the segmentation PNG (decoded back
 * with libpng), pose keypoints. Expected values follow from the inputs by hand; where a number
 * is TF.js's, the comment says how it was produced.
 */
#include "task.h"

#include <criterion/criterion.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *FILE_ = "models/x/1/orchard.json";
static char msg[1024];

static rt_io_info IN_IMG[] = {
    {.name = "input:0", .dtype = RT_DT_F32, .rank = 4, .dims = {1, 100, 200, 3}}};
static rt_io_info OUT_CLS[] = {
    {.name = "Identity:0", .dtype = RT_DT_F32, .rank = 2, .dims = {-1, 4}}};
static rt_io_info OUT_TWO[] = {
    {.name = "a:0", .dtype = RT_DT_F32, .rank = 2, .dims = {-1, 4}},
    {.name = "b:0", .dtype = RT_DT_F32, .rank = 2, .dims = {-1, 4}},
};
static rt_io_info OUT_DET[] = {{.name = "det", .dtype = RT_DT_F32, .rank = 3, .dims = {1, -1, 6}}};
static rt_io_info OUT_SEG1[] = {
    {.name = "seg", .dtype = RT_DT_F32, .rank = 4, .dims = {1, 2, 3, 1}}};
static rt_io_info OUT_SEG3[] = {
    {.name = "seg", .dtype = RT_DT_F32, .rank = 4, .dims = {1, 2, 2, 3}}};
static rt_io_info OUT_POSE[] = {
    {.name = "Identity:0", .dtype = RT_DT_F32, .rank = 4, .dims = {1, 1, 3, 3}}};
/* blazeface-like: a 32x32 input, heads of stride 16 (2x2 cells, 2 per cell) and 32 (1 cell,
 * 3 per cell); scores then boxes with 4 + 2 values (one keypoint). */
static rt_io_info IN_BF[] = {
    {.name = "input", .dtype = RT_DT_F32, .rank = 4, .dims = {1, 32, 32, 3}}};
static rt_io_info OUT_BF[] = {
    {.name = "s16", .dtype = RT_DT_F32, .rank = 3, .dims = {1, 8, 1}},
    {.name = "b16", .dtype = RT_DT_F32, .rank = 3, .dims = {1, 8, 6}},
    {.name = "s32", .dtype = RT_DT_F32, .rank = 3, .dims = {1, 3, 1}},
    {.name = "b32", .dtype = RT_DT_F32, .rank = 3, .dims = {1, 3, 6}},
};

static srv_sig SIG_CLS = {.n_in = 1, .n_out = 1, .in = IN_IMG, .out = OUT_CLS};
static srv_sig SIG_TWO = {.n_in = 1, .n_out = 2, .in = IN_IMG, .out = OUT_TWO};
static srv_sig SIG_DET = {.n_in = 1, .n_out = 1, .in = IN_IMG, .out = OUT_DET};
static srv_sig SIG_SEG1 = {.n_in = 1, .n_out = 1, .in = IN_IMG, .out = OUT_SEG1};
static srv_sig SIG_SEG3 = {.n_in = 1, .n_out = 1, .in = IN_IMG, .out = OUT_SEG3};
static srv_sig SIG_POSE = {.n_in = 1, .n_out = 1, .in = IN_IMG, .out = OUT_POSE};
static srv_sig SIG_BF = {.n_in = 1, .n_out = 4, .in = IN_BF, .out = OUT_BF};

static srv_task *parse_ok(const char *json, const srv_sig *sig) {
  json_error_t je;
  json_t *j = json_loads(json, 0, &je);
  cr_assert(j, "test JSON: %s", je.text);
  srv_task *t = NULL;
  msg[0] = 0;
  int rc = srv_task_parse(j, FILE_, sig, &t, msg, sizeof msg);
  json_decref(j);
  cr_assert_eq(rc, 0, "parse failed: %s", msg);
  cr_assert(t);
  return t;
}

static void parse_err(const char *json, const srv_sig *sig, const char *want) {
  json_error_t je;
  json_t *j = json_loads(json, 0, &je);
  cr_assert(j, "test JSON: %s", je.text);
  srv_task *t = (srv_task *)1;
  msg[0] = 0;
  int rc = srv_task_parse(j, FILE_, sig, &t, msg, sizeof msg);
  json_decref(j);
  cr_assert_eq(rc, -1, "parse of %s succeeded", json);
  cr_assert_null(t);
  cr_assert_str_eq(msg, want);
}

/* Answers instance 0 (or `inst`) into a parsed JSON object (the members wrapped in braces). */
static json_t *answer(const srv_task *t, const srv_sig *sig, const rt_tensor *outs, int64_t inst,
                      int top_k, double thr) {
  srv_buf b;
  srv_buf_init(&b);
  srv_buf_putc(&b, '{');
  srv_task_opts o = {.top_k = top_k, .threshold = thr, .image_width = 640, .image_height = 480};
  msg[0] = 0;
  int st = srv_task_answer(t, sig, outs, inst, &o, &b, msg, sizeof msg);
  cr_assert_eq(st, 200, "answer: %d %s", st, msg);
  srv_buf_putc(&b, '}');
  cr_assert(!b.oom);
  json_error_t je;
  json_t *j = json_loads(b.data, 0, &je);
  cr_assert(j, "answer is not JSON (%s): %s", je.text, b.data);
  srv_buf_free(&b);
  json_t *img = json_object_get(j, "image");
  cr_assert_eq(json_integer_value(json_object_get(img, "width")), 640);
  cr_assert_eq(json_integer_value(json_object_get(img, "height")), 480);
  return j;
}

static rt_tensor f32(float *data, int rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  rt_tensor t = {.dtype = RT_DT_F32, .rank = rank, .data = data};
  int64_t d[4] = {d0, d1, d2, d3};
  for (int i = 0; i < rank; i++)
    t.dims[i] = d[i];
  return t;
}

#define CLS4 "\"labels\": [\"a\", \"b\", \"c\", \"d\"]"

/* ---- parse errors ---------------------------------------------------------------------- */

Test(task_parse, errors_name_file_and_path) {
  parse_err("[]", &SIG_CLS, "models/x/1/orchard.json: task: expected an object");
  parse_err("{}", &SIG_CLS,
            "models/x/1/orchard.json: task.kind: required, one of \"classification\", "
            "\"detection\", \"segmentation\", \"pose\"");
  parse_err("{\"kind\": \"regression\"}", &SIG_CLS,
            "models/x/1/orchard.json: task.kind: \"regression\" is not one of "
            "\"classification\", \"detection\", \"segmentation\", \"pose\"");
  parse_err("{\"kind\": \"classification\", " CLS4 ", \"topk\": 3}", &SIG_CLS,
            "models/x/1/orchard.json: task.topk: unknown key for kind \"classification\" "
            "(allowed: kind, output, labels, activation, top_k)");
  parse_err("{\"kind\": \"classification\", \"labels\": [\"a\", \"b\", \"c\"]}", &SIG_CLS,
            "models/x/1/orchard.json: task.labels: expected 4 labels (output \"Identity:0\" has "
            "4 classes), got 3");
  parse_err("{\"kind\": \"classification\", \"labels\": [\"a\", 2, \"c\", \"d\"]}", &SIG_CLS,
            "models/x/1/orchard.json: task.labels[1]: expected a non-empty string");
  parse_err("{\"kind\": \"classification\", \"labels\": []}", &SIG_CLS,
            "models/x/1/orchard.json: task.labels: expected a non-empty array of strings");
  parse_err("{\"kind\": \"classification\"}", &SIG_CLS,
            "models/x/1/orchard.json: task.labels: required for classification");
  parse_err("{\"kind\": \"classification\", " CLS4 ", \"top_k\": 0}", &SIG_CLS,
            "models/x/1/orchard.json: task.top_k: expected an integer in 1..100000");
  parse_err("{\"kind\": \"classification\", " CLS4 ", \"activation\": \"relu\"}", &SIG_CLS,
            "models/x/1/orchard.json: task.activation: expected \"none\", \"softmax\" or "
            "\"sigmoid\"");
  parse_err("{\"kind\": \"classification\", " CLS4 "}", &SIG_TWO,
            "models/x/1/orchard.json: task.output: required, the model has 2 outputs "
            "(\"a:0\", \"b:0\")");
  parse_err("{\"kind\": \"classification\", " CLS4 ", \"output\": \"c\"}", &SIG_TWO,
            "models/x/1/orchard.json: task.output: the model has no output \"c\" (outputs: "
            "\"a:0\", \"b:0\")");
  parse_err("{\"kind\": \"segmentation\", " CLS4 "}", &SIG_CLS,
            "models/x/1/orchard.json: task.output: output \"Identity:0\" has rank 2, "
            "segmentation reads [batch, H, W, C]");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"blazeface\", \"labels\": [\"x\"], "
            "\"outputs\": [{\"scores\": \"Identity:0\", \"boxes\": \"Identity:0\", "
            "\"stride\": 16}]}",
            &SIG_CLS,
            "models/x/1/orchard.json: task.outputs[0].scores: output \"Identity:0\" has rank 2, a "
            "blazeface head reads [batch, anchors, 1]");
}

Test(task_parse, detection_and_pose_errors) {
  parse_err("{\"kind\": \"detection\", \"labels\": [\"x\"]}", &SIG_DET,
            "models/x/1/orchard.json: task.decoder: required, one of \"centernet\", "
            "\"blazeface\"");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"yolo\", \"labels\": [\"x\"]}", &SIG_DET,
            "models/x/1/orchard.json: task.decoder: expected, one of \"centernet\", "
            "\"blazeface\"");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"centernet\", \"labels\": [\"x\"], "
            "\"iou_threshold\": 1.5}",
            &SIG_DET, "models/x/1/orchard.json: task.iou_threshold: expected a number in 0..1");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"centernet\", \"labels\": [\"x\"], "
            "\"max_detections\": 0}",
            &SIG_DET,
            "models/x/1/orchard.json: task.max_detections: expected an integer in 1..100000");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"centernet\", \"labels\": [\"x\"], "
            "\"activation\": \"softmax\"}",
            &SIG_DET,
            "models/x/1/orchard.json: task.activation: \"softmax\" needs a class dimension; "
            "detection scores are one value each (\"sigmoid\" or \"none\")");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"centernet\"}", &SIG_DET,
            "models/x/1/orchard.json: task.labels: required for detection");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"blazeface\", \"labels\": [\"face\"]}",
            &SIG_BF,
            "models/x/1/orchard.json: task.outputs: required by decoder \"blazeface\" "
            "([{\"scores\": name, \"boxes\": name, \"stride\": S}, ...])");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"blazeface\", \"labels\": [\"face\"], "
            "\"outputs\": [{\"scores\": \"s16\", \"boxes\": \"b16\", \"stride\": 8}]}",
            &SIG_BF,
            "models/x/1/orchard.json: task.outputs[0].stride: 8 gives 16 grid cells for a "
            "32x32 input, which does not divide the head's 8 anchors");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"blazeface\", \"labels\": [\"face\"], "
            "\"outputs\": [{\"scores\": \"s16\", \"boxes\": \"b32\", \"stride\": 16}]}",
            &SIG_BF,
            "models/x/1/orchard.json: task.outputs[0]: scores \"s16\" has 8 anchors but boxes "
            "\"b32\" has 3");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"blazeface\", \"labels\": [\"face\"], "
            "\"keypoints\": [\"a\", \"b\"], "
            "\"outputs\": [{\"scores\": \"s16\", \"boxes\": \"b16\", \"stride\": 16}]}",
            &SIG_BF,
            "models/x/1/orchard.json: task.outputs[0].boxes: output \"b16\" has 6 values per "
            "anchor, need 8 (4 box + 2 per keypoint)");
  parse_err("{\"kind\": \"detection\", \"decoder\": \"blazeface\", \"labels\": [\"face\"], "
            "\"outputs\": [{\"scores\": \"s16\", \"boxes\": \"b16\", \"strid\": 16}]}",
            &SIG_BF,
            "models/x/1/orchard.json: task.outputs[0].strid: unknown key (allowed: scores, "
            "boxes, stride)");
  parse_err("{\"kind\": \"pose\", \"keypoints\": [\"a\", \"b\"]}", &SIG_POSE,
            "models/x/1/orchard.json: task.keypoints: expected 3 names (output \"Identity:0\" "
            "has 3 keypoints), got 2");
  parse_err("{\"kind\": \"pose\"}", &SIG_POSE,
            "models/x/1/orchard.json: task.keypoints: required for pose (one name per "
            "keypoint)");
  parse_err("{\"kind\": \"segmentation\", \"labels\": [\"bg\", \"fg\"]}", &SIG_SEG3,
            "models/x/1/orchard.json: task.labels: expected 3 labels (output \"seg\" has 3 "
            "channels), got 2");
  parse_err("{\"kind\": \"segmentation\", \"labels\": [\"p\"], \"activation\": \"softmax\"}",
            &SIG_SEG1,
            "models/x/1/orchard.json: task.activation: \"softmax\" over one channel is always "
            "1; a one-channel mask takes \"sigmoid\" or \"none\"");
}

Test(task_parse, describe_and_kind) {
  srv_task *t = parse_ok("{\"kind\": \"classification\", " CLS4 ", \"top_k\": 2}", &SIG_CLS);
  cr_assert_str_eq(srv_task_kind(t), "classification");
  json_t *d = srv_task_describe(t);
  char *s = json_dumps(d, JSON_COMPACT);
  cr_assert_str_eq(s, "{\"kind\":\"classification\",\"labels\":[\"a\",\"b\",\"c\",\"d\"]}");
  free(s);
  json_decref(d);
  srv_task_free(t);
  srv_task_free(NULL);
}

/* ---- classification -------------------------------------------------------------------- */

Test(task_classification, top_k_ties_lower_index_first) {
  srv_task *t = parse_ok(
      "{\"kind\": \"classification\", \"output\": \"Identity\", " CLS4 ", \"top_k\": 3}", &SIG_CLS);
  /* two instances: the second has a tie between b and d */
  float v[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.1f, 0.35f, 0.2f, 0.35f};
  rt_tensor out = f32(v, 2, 2, 4, 0, 0);
  json_t *j = answer(t, &SIG_CLS, &out, 1, 0, -1);
  cr_assert_str_eq(json_string_value(json_object_get(j, "task")), "classification");
  json_t *c = json_object_get(j, "classes");
  cr_assert_eq(json_array_size(c), 3);
  const char *want[] = {"b", "d", "c"};
  const double ws[] = {0.35f, 0.35f, 0.2f};
  for (int i = 0; i < 3; i++) {
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(c, i), "label")), want[i]);
    /* scores are written as the shortest float32 decimal, so compare at float precision */
    cr_assert_float_eq(json_real_value(json_object_get(json_array_get(c, i), "score")), ws[i],
                       1e-7);
  }
  json_decref(j);
  /* ?top_k overrides; capped at the class count */
  j = answer(t, &SIG_CLS, &out, 0, 9, -1);
  c = json_object_get(j, "classes");
  cr_assert_eq(json_array_size(c), 4);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 0), "label")), "d");
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 3), "label")), "a");
  json_decref(j);
  srv_task_free(t);
}

Test(task_classification, softmax_and_bad_instance) {
  srv_task *t = parse_ok("{\"kind\": \"classification\", " CLS4
                         ", \"activation\": \"softmax\", \"top_k\": 1}",
                         &SIG_CLS);
  float v[] = {0, 0, logf(2.0f), 0};
  rt_tensor out = f32(v, 2, 1, 4, 0, 0);
  json_t *j = answer(t, &SIG_CLS, &out, 0, 0, -1);
  json_t *c0 = json_array_get(json_object_get(j, "classes"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(c0, "label")), "c");
  cr_assert_float_eq(json_real_value(json_object_get(c0, "score")), 0.4, 1e-6); /* 2/(1+1+2+1) */
  json_decref(j);

  srv_buf b;
  srv_buf_init(&b);
  srv_task_opts o = {.top_k = 0, .threshold = -1};
  cr_assert_eq(srv_task_answer(t, &SIG_CLS, &out, 1, &o, &b, msg, sizeof msg), 500);
  cr_assert_str_eq(msg, "task: output \"Identity:0\" has batch 1, no instance 1");
  rt_tensor wrong = f32(v, 2, 1, 3, 0, 0);
  cr_assert_eq(srv_task_answer(t, &SIG_CLS, &wrong, 0, &o, &b, msg, sizeof msg), 500);
  cr_assert_str_eq(msg, "task: output \"Identity:0\" has 3 classes, the task has 4 labels");
  srv_buf_free(&b);
  srv_task_free(t);
}

/* ---- detection ------------------------------------------------------------------------- */

static const char *DET_JSON =
    "{\"kind\": \"detection\", \"decoder\": \"centernet\", \"labels\": [\"cat\", \"dog\"], "
    "\"score_threshold\": 0.25, \"iou_threshold\": 0.5, \"max_detections\": 10}";

static const char *label_at(json_t *dets, int i) {
  return json_string_value(json_object_get(json_array_get(dets, i), "label"));
}
static double score_at(json_t *dets, int i) {
  return json_real_value(json_object_get(json_array_get(dets, i), "score"));
}

Test(task_detection, nms_overlap_threshold_and_order) {
  srv_task *t = parse_ok(DET_JSON, &SIG_DET);
  /* rows (x1, y1, x2, y2, score, class) on a 100 (H) x 200 (W) input.
   * 0: [0,0,100,50] 0.9 cat; 1: the same box 10px to the right (IoU 90*50/(2*5000-4500) =
   * 0.818) 0.8 -> suppressed; 2: disjoint 0.7 dog; 3: 0.25, not > 0.25 (exact in float32) ->
   * not a candidate; 4: [0,0,100,25], IoU with 0 = 2500/5000 = 0.5 exactly -> suppressed (>=) */
  float v[] = {
      0,   0,  100, 50,  0.9f,  0, //
      10,  0,  110, 50,  0.8f,  0, //
      150, 50, 200, 100, 0.7f,  1, //
      150, 0,  200, 20,  0.25f, 1, //
      0,   0,  100, 25,  0.6f,  0, //
  };
  rt_tensor out = f32(v, 3, 1, 5, 6, 0);
  json_t *j = answer(t, &SIG_DET, &out, 0, 0, -1);
  json_t *d = json_object_get(j, "detections");
  cr_assert_eq(json_array_size(d), 2, "%s", json_dumps(j, 0));
  cr_assert_str_eq(label_at(d, 0), "cat");
  cr_assert_float_eq(score_at(d, 0), 0.9, 1e-7);
  json_t *box = json_object_get(json_array_get(d, 0), "box");
  cr_assert_float_eq(json_real_value(json_object_get(box, "x")), 0, 1e-9);
  cr_assert_float_eq(json_real_value(json_object_get(box, "width")), 0.5, 1e-7);
  cr_assert_float_eq(json_real_value(json_object_get(box, "height")), 0.5, 1e-7);
  cr_assert_str_eq(label_at(d, 1), "dog");
  box = json_object_get(json_array_get(d, 1), "box");
  cr_assert_float_eq(json_real_value(json_object_get(box, "x")), 0.75, 1e-7);
  cr_assert_float_eq(json_real_value(json_object_get(box, "y")), 0.5, 1e-7);
  json_decref(j);

  /* ?threshold=0.75 keeps only the 0.9 box; threshold 0 admits 3 (0.25 > 0) which is disjoint */
  j = answer(t, &SIG_DET, &out, 0, 0, 0.75);
  cr_assert_eq(json_array_size(json_object_get(j, "detections")), 1);
  json_decref(j);
  j = answer(t, &SIG_DET, &out, 0, 0, 0);
  d = json_object_get(j, "detections");
  cr_assert_eq(json_array_size(d), 3);
  cr_assert_float_eq(score_at(d, 2), 0.25, 1e-9);
  json_decref(j);

  /* [0,0,50,50] 0.95 has IoU 2500/5000 = 0.5 with [0,0,100,50] 0.9: kept first, it suppresses
   * the 0.9 box */
  float w[] = {0, 0, 100, 50, 0.9f, 0, 0, 0, 50, 50, 0.95f, 1};
  out = f32(w, 3, 1, 2, 6, 0);
  j = answer(t, &SIG_DET, &out, 0, 0, -1);
  d = json_object_get(j, "detections");
  cr_assert_eq(json_array_size(d), 1);
  cr_assert_str_eq(label_at(d, 0), "dog");
  json_decref(j);
  srv_task_free(t);
}

Test(task_detection, ties_max_outputs_and_degenerate_boxes) {
  srv_task *t = parse_ok("{\"kind\": \"detection\", \"decoder\": \"centernet\", \"labels\": "
                         "[\"a\", \"b\", \"c\"], \"score_threshold\": 0.1, \"iou_threshold\": "
                         "0.5, \"max_detections\": 2}",
                         &SIG_DET);
  /* three disjoint boxes, the last two tie: max 2 keeps the 0.9 and the lower-index tie.
   * An empty box (zero area) has IoU 0 with anything, so it never suppresses. Class 7 has no
   * label. */
  float v[] = {
      0,  0, 10, 10, 0.5f, 1, //
      20, 0, 30, 10, 0.5f, 2, //
      40, 0, 50, 10, 0.9f, 0, //
  };
  rt_tensor out = f32(v, 3, 1, 3, 6, 0);
  json_t *j = answer(t, &SIG_DET, &out, 0, 0, -1);
  json_t *d = json_object_get(j, "detections");
  cr_assert_eq(json_array_size(d), 2);
  cr_assert_str_eq(label_at(d, 0), "a");
  cr_assert_str_eq(label_at(d, 1), "b");
  json_decref(j);

  float w[] = {0, 0, 0, 0, 0.9f, 7, 0, 0, 10, 10, 0.8f, 0};
  out = f32(w, 3, 1, 2, 6, 0);
  j = answer(t, &SIG_DET, &out, 0, 0, -1);
  d = json_object_get(j, "detections");
  cr_assert_eq(json_array_size(d), 2);
  cr_assert_str_eq(label_at(d, 0), "class 7");
  cr_assert_str_eq(label_at(d, 1), "a");
  json_decref(j);

  /* no candidates: an empty list */
  float z[] = {0, 0, 10, 10, 0.05f, 0};
  out = f32(z, 3, 1, 1, 6, 0);
  j = answer(t, &SIG_DET, &out, 0, 0, -1);
  cr_assert_eq(json_array_size(json_object_get(j, "detections")), 0);
  json_decref(j);
  srv_task_free(t);
}

Test(task_detection, blazeface_anchors_keypoints_sigmoid) {
  srv_task *t =
      parse_ok("{\"kind\": \"detection\", \"decoder\": \"blazeface\", \"labels\": [\"face\"], "
               "\"activation\": \"sigmoid\", \"keypoints\": [\"nose\"], \"score_threshold\": 0.5, "
               "\"iou_threshold\": 0.3, \"max_detections\": 5, \"outputs\": ["
               "{\"scores\": \"s16\", \"boxes\": \"b16\", \"stride\": 16},"
               "{\"scores\": \"s32\", \"boxes\": \"b32\", \"stride\": 32}]}",
               &SIG_BF);
  float s16[8], b16[8 * 6] = {0}, s32[3], b32[3 * 6] = {0};
  for (int i = 0; i < 8; i++)
    s16[i] = -10;
  for (int i = 0; i < 3; i++)
    s32[i] = -10;
  /* anchor 5 of head 16 = cell (gx 0, gy 1), 2nd anchor: centre (8, 24). Box 8x16 at offset
   * (+2, -4) -> centre (10, 20), x 6..14, y 12..28; keypoint at offset (1, 1) -> (9, 25). */
  s16[5] = 2.0f; /* sigmoid(2) = 0.880797 */
  float *r = b16 + 5 * 6;
  r[0] = 2, r[1] = -4, r[2] = 8, r[3] = 16, r[4] = 1, r[5] = 1;
  /* head 32's only cell has centre (16, 16); its 3rd anchor: a box 32x32 at the centre,
   * logit 0 -> score 0.5, not > 0.5: dropped; 2nd anchor logit 1 -> 0.731, box 4x4 at
   * (16,16) + (10, 0) = x 24..28, disjoint from the first */
  s32[2] = 0.0f;
  b32[2 * 6 + 2] = 32, b32[2 * 6 + 3] = 32;
  s32[1] = 1.0f;
  b32[1 * 6 + 0] = 10, b32[1 * 6 + 2] = 4, b32[1 * 6 + 3] = 4;
  rt_tensor outs[4] = {f32(s16, 3, 1, 8, 1, 0), f32(b16, 3, 1, 8, 6, 0), f32(s32, 3, 1, 3, 1, 0),
                       f32(b32, 3, 1, 3, 6, 0)};
  json_t *j = answer(t, &SIG_BF, outs, 0, 0, -1);
  json_t *d = json_object_get(j, "detections");
  cr_assert_eq(json_array_size(d), 2, "%s", json_dumps(j, 0));
  json_t *d0 = json_array_get(d, 0);
  cr_assert_str_eq(label_at(d, 0), "face");
  cr_assert_float_eq(score_at(d, 0), 0.880797, 1e-6);
  json_t *box = json_object_get(d0, "box");
  cr_assert_float_eq(json_real_value(json_object_get(box, "x")), 6.0 / 32, 1e-6);
  cr_assert_float_eq(json_real_value(json_object_get(box, "y")), 12.0 / 32, 1e-6);
  cr_assert_float_eq(json_real_value(json_object_get(box, "width")), 8.0 / 32, 1e-6);
  cr_assert_float_eq(json_real_value(json_object_get(box, "height")), 16.0 / 32, 1e-6);
  json_t *kp = json_array_get(json_object_get(d0, "keypoints"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(kp, "name")), "nose");
  cr_assert_float_eq(json_real_value(json_object_get(kp, "x")), 9.0 / 32, 1e-6);
  cr_assert_float_eq(json_real_value(json_object_get(kp, "y")), 25.0 / 32, 1e-6);
  cr_assert_float_eq(score_at(d, 1), 0.731059, 1e-6);
  box = json_object_get(json_array_get(d, 1), "box");
  cr_assert_float_eq(json_real_value(json_object_get(box, "x")), 24.0 / 32, 1e-6);
  json_decref(j);
  srv_task_free(t);
}

/* ---- segmentation ---------------------------------------------------------------------- */

typedef struct png_src {
  const unsigned char *p;
  size_t n, off;
} png_src;

static void png_read_mem(png_structp p, png_bytep out, size_t n) {
  png_src *s = png_get_io_ptr(p);
  if (s->off + n > s->n)
    png_error(p, "truncated");
  memcpy(out, s->p + s->off, n);
  s->off += n;
}

/* Decodes the answer's base64 PNG and checks it is w x h 8-bit gray with pixels `want`. */
static void check_mask(json_t *mask, int w, int h, const unsigned char *want) {
  cr_assert_eq(json_integer_value(json_object_get(mask, "width")), w);
  cr_assert_eq(json_integer_value(json_object_get(mask, "height")), h);
  const char *b64 = json_string_value(json_object_get(mask, "png"));
  cr_assert(b64);
  size_t len = strlen(b64);
  unsigned char *bytes = malloc(len / 4 * 3 + 3);
  int64_t n = srv_b64_decode(b64, len, bytes);
  cr_assert_gt(n, 8);
  cr_assert_eq(memcmp(bytes, "\x89PNG\r\n\x1a\n", 8), 0);
  png_src src = {bytes, (size_t)n, 0};
  png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(p);
  unsigned char *pix = malloc((size_t)(w * h));
  if (setjmp(png_jmpbuf(p)))
    cr_assert_fail("libpng could not read the mask");
  png_set_read_fn(p, &src, png_read_mem);
  png_read_info(p, info);
  cr_assert_eq(png_get_image_width(p, info), (png_uint_32)w);
  cr_assert_eq(png_get_image_height(p, info), (png_uint_32)h);
  cr_assert_eq(png_get_bit_depth(p, info), 8);
  cr_assert_eq(png_get_color_type(p, info), PNG_COLOR_TYPE_GRAY);
  for (int y = 0; y < h; y++)
    png_read_row(p, pix + y * w, NULL);
  png_read_end(p, NULL);
  png_destroy_read_struct(&p, &info, NULL);
  cr_assert_arr_eq(pix, want, (size_t)(w * h));
  free(pix);
  free(bytes);
}

static double area_of(json_t *j, const char *label) {
  json_t *a = json_object_get(j, "areas");
  for (size_t i = 0; i < json_array_size(a); i++)
    if (strcmp(json_string_value(json_object_get(json_array_get(a, i), "label")), label) == 0)
      return json_real_value(json_object_get(json_array_get(a, i), "fraction"));
  cr_assert_fail("no area for %s", label);
  return -1;
}

Test(task_segmentation, one_channel_mask_png_and_area) {
  srv_task *t = parse_ok("{\"kind\": \"segmentation\", \"labels\": [\"person\"]}", &SIG_SEG1);
  /* 2 x 3, p = 0, 0.25, 0.5 / 1, 0.998, NaN. round(255p): 0, 64 (63.75), 128 (127.5 rounds
   * up), 255, 254 (254.49), NaN -> 0. p >= 0.5: 3 of 6. */
  float v[] = {0, 0.25f, 0.5f, 1, 0.998f, NAN};
  rt_tensor out = f32(v, 4, 1, 2, 3, 1);
  json_t *j = answer(t, &SIG_SEG1, &out, 0, 0, -1);
  const unsigned char want[] = {0, 64, 128, 255, 254, 0};
  json_t *mask = json_object_get(j, "mask");
  check_mask(mask, 3, 2, want);
  cr_assert_str_eq(json_string_value(json_array_get(json_object_get(mask, "labels"), 0)), "person");
  cr_assert_float_eq(area_of(j, "person"), 0.5, 1e-7);
  json_decref(j);
  srv_task_free(t);

  /* logits with sigmoid: 0 -> 0.5 -> 128 and counted */
  t = parse_ok("{\"kind\": \"segmentation\", \"labels\": [\"person\"], \"activation\": "
               "\"sigmoid\"}",
               &SIG_SEG1);
  float l[] = {0, -100, 100, 0, -100, -100};
  out = f32(l, 4, 1, 2, 3, 1);
  j = answer(t, &SIG_SEG1, &out, 0, 0, -1);
  const unsigned char want2[] = {128, 0, 255, 128, 0, 0};
  check_mask(json_object_get(j, "mask"), 3, 2, want2);
  cr_assert_float_eq(area_of(j, "person"), 0.5, 1e-7);
  json_decref(j);
  srv_task_free(t);
}

Test(task_segmentation, multi_class_argmax) {
  srv_task *t = parse_ok("{\"kind\": \"segmentation\", \"labels\": [\"bg\", \"cat\", \"dog\"], "
                         "\"activation\": \"softmax\"}",
                         &SIG_SEG3);
  /* 4 pixels x 3 classes; pixel 3 ties cat/dog -> cat (lower index) */
  float v[] = {5, 1, 1, 0, 3, 1, 0, 1, 9, 0, 2, 2};
  rt_tensor out = f32(v, 4, 1, 2, 2, 3);
  json_t *j = answer(t, &SIG_SEG3, &out, 0, 0, -1);
  const unsigned char want[] = {0, 1, 2, 1};
  check_mask(json_object_get(j, "mask"), 2, 2, want);
  cr_assert_float_eq(area_of(j, "bg"), 0.25, 1e-7);
  cr_assert_float_eq(area_of(j, "cat"), 0.5, 1e-7);
  cr_assert_float_eq(area_of(j, "dog"), 0.25, 1e-7);
  json_decref(j);
  srv_task_free(t);
}

/* ---- pose ------------------------------------------------------------------------------ */

Test(task_pose, keypoints_yx_order_and_threshold) {
  srv_task *t = parse_ok("{\"kind\": \"pose\", \"keypoints\": [\"nose\", \"left_eye\", "
                         "\"right_eye\"], \"score_threshold\": 0.25}",
                         &SIG_POSE);
  float v[] = {0.25f, 0.75f, 0.9f, 0.5f, 0.5f, 0.25f, 0.1f, 0.2f, 0.31f};
  rt_tensor out = f32(v, 4, 1, 1, 3, 3);
  json_t *j = answer(t, &SIG_POSE, &out, 0, 0, -1);
  json_t *k = json_object_get(j, "keypoints");
  cr_assert_eq(json_array_size(k), 2); /* left_eye's 0.25 is not > 0.25 */
  json_t *k0 = json_array_get(k, 0);
  cr_assert_str_eq(json_string_value(json_object_get(k0, "name")), "nose");
  cr_assert_float_eq(json_real_value(json_object_get(k0, "x")), 0.75, 1e-9);
  cr_assert_float_eq(json_real_value(json_object_get(k0, "y")), 0.25, 1e-9);
  cr_assert_float_eq(json_real_value(json_object_get(k0, "score")), 0.9, 1e-7);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(k, 1), "name")), "right_eye");
  json_decref(j);
  j = answer(t, &SIG_POSE, &out, 0, 0, 0.0);
  cr_assert_eq(json_array_size(json_object_get(j, "keypoints")), 3);
  json_decref(j);
  srv_task_free(t);
}

/* ---- outputs that do not fit the task: 500 with a message, never a crash ---------------- */

static void answer_err(const srv_task *t, const srv_sig *sig, const rt_tensor *outs,
                       const char *want) {
  srv_buf b;
  srv_buf_init(&b);
  srv_task_opts o = {.top_k = 0, .threshold = -1, .image_width = 1, .image_height = 1};
  msg[0] = 0;
  cr_assert_eq(srv_task_answer(t, sig, outs, 0, &o, &b, msg, sizeof msg), 500, "%s", want);
  cr_assert_str_eq(msg, want);
  srv_buf_free(&b);
}

Test(task_answer, outputs_that_do_not_fit) {
  float v[64] = {0};
  int32_t iv[16] = {0};
  srv_task *t = parse_ok("{\"kind\": \"segmentation\", \"labels\": [\"person\"]}", &SIG_SEG1);
  rt_tensor it = {.dtype = RT_DT_I32, .rank = 4, .dims = {1, 2, 3, 1}, .data = iv};
  answer_err(t, &SIG_SEG1, &it, "task: output \"seg\" is int32, the task reads float32");
  rt_tensor r3 = f32(v, 3, 1, 2, 3, 0);
  answer_err(t, &SIG_SEG1, &r3, "task: output \"seg\" has rank 3, the task reads rank 4");
  rt_tensor empty = f32(v, 4, 1, 0, 3, 1);
  answer_err(t, &SIG_SEG1, &empty, "task: output \"seg\" has 0 values per instance");
  rt_tensor two = f32(v, 4, 1, 2, 3, 2);
  answer_err(t, &SIG_SEG1, &two, "task: output \"seg\" has 2 channels, the task has 1 labels");
  srv_task_free(t);

  t = parse_ok("{\"kind\": \"pose\", \"keypoints\": [\"a\", \"b\", \"c\"]}", &SIG_POSE);
  rt_tensor p = f32(v, 4, 1, 1, 2, 3);
  answer_err(t, &SIG_POSE, &p, "task: output \"Identity:0\" is not [batch, 1, 3, 3]");
  srv_task_free(t);

  t = parse_ok(DET_JSON, &SIG_DET);
  rt_tensor d = f32(v, 3, 1, 2, 5, 0);
  answer_err(t, &SIG_DET, &d, "task: output \"det\" has 5 values per detection, expected 6");
  srv_task_free(t);

  t = parse_ok("{\"kind\": \"detection\", \"decoder\": \"blazeface\", \"labels\": [\"face\"], "
               "\"outputs\": [{\"scores\": \"s32\", \"boxes\": \"b32\", \"stride\": 32}]}",
               &SIG_BF);
  rt_tensor bf[4] = {f32(v, 3, 1, 8, 1, 0), f32(v, 3, 1, 8, 6, 0), f32(v, 3, 1, 2, 1, 0),
                     f32(v, 3, 1, 3, 6, 0)};
  answer_err(t, &SIG_BF, bf,
             "task: anchor head 0 (\"s32\", \"b32\") does not fit stride 32 over a 32x32 input");
  srv_task_free(t);
}

/* ---- the shipped garden ---------------------------------------------------------------- */

/* Every config/garden/<m>.orchard.json "task" parses against the real model's outputs (the
 * label counts, output names and blazeface strides fit). Needs models/ (scripts/fetch-models). */
Test(task_garden, shipped_tasks_parse_against_their_models) {
  const char *src = getenv("ORCHARD_SOURCE_DIR");
  if (!src)
    src = ".";
  const char *names[] = {"emotion", "gender", "nsfw",    "blazeface",
                         "selfie",  "meet",   "movenet", "centernet"};
  const char *kinds[] = {"classification", "classification", "classification", "detection",
                         "segmentation",   "segmentation",   "pose",           "detection"};
  char path[1024];
  snprintf(path, sizeof path, "%s/models/emotion/1/model.json", src);
  FILE *probe = fopen(path, "r");
  if (!probe)
    cr_skip_test("models/ not fetched (scripts/fetch-models)");
  fclose(probe);
  for (int i = 0; i < 8; i++) {
    snprintf(path, sizeof path, "%s/models/%s/1", src, names[i]);
    rt_model_params mp = rt_model_default_params();
    mp.fold_constants = false; /* only the signature is needed */
    rt_model *m = NULL;
    rt_error err;
    cr_assert_eq(rt_model_load(path, &mp, &m, &err), RT_OK, "%s: %s", path, err.msg);
    srv_sig sig;
    cr_assert(srv_sig_from_model(m, &sig));
    snprintf(path, sizeof path, "%s/config/garden/%s.orchard.json", src, names[i]);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    cr_assert(j, "%s: %s", path, je.text);
    srv_task *t = NULL;
    int rc = srv_task_parse(json_object_get(j, "task"), path, &sig, &t, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    cr_assert_str_eq(srv_task_kind(t), kinds[i]);
    srv_task_free(t);
    json_decref(j);
    srv_sig_free(&sig);
    rt_model_destroy(m);
  }
}
