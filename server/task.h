/*
 * task.h — task outputs: what a garden model's raw output tensors mean (orchard.json's
 * "task": classification, detection, segmentation, pose) and the JSON answer of :annotate
 * built from them (top-k labels, boxes after non-maximum suppression, a PNG mask with class
 * areas, named keypoints). The contract is in the file header of task.c.
 *
 * Pure: no I/O, no model run. srv_task_parse runs once per model version on the manager
 * thread; srv_task_answer runs on a worker after the inference, once per instance.
 */
#ifndef ORCHARD_SRV_TASK_H
#define ORCHARD_SRV_TASK_H

#include "buf.h"
#include "rest.h"

#include <jansson.h>
#include <stdint.h>

typedef struct srv_task srv_task;

/* Parses orchard.json's "task" object against the model's outputs (names must exist, label
 * counts must match the class dimension, ...). 0 on success; else -1 with a message naming
 * `file` and the JSON path ("models/x/1/orchard.json: task.labels: ..."). */
int srv_task_parse(const json_t *task, const char *file, const srv_sig *sig, srv_task **out,
                   char *msg, size_t cap);
void srv_task_free(srv_task *t); /* NULL-safe */

/* "classification", "detection", "segmentation" or "pose". */
const char *srv_task_kind(const srv_task *t);
/* {"kind": ..., "labels": [...]} for the metadata answer (new reference). */
json_t *srv_task_describe(const srv_task *t);

typedef struct srv_task_opts {
  int top_k;          /* classification; 0: the task's default */
  double threshold;   /* detection / pose minimum score; < 0: the task's default */
  int image_width;    /* the original image, echoed in "image" */
  int image_height;
} srv_task_opts;

/* Appends the members of the answer object for batch item `instance` of `outs` (the model's
 * outputs in sig order, batch dimension first) to b, WITHOUT the enclosing braces:
 * `"task":"classification","image":{...},"classes":[...]` — the caller writes
 * `{"model":...,"version":...,` before and `}` after. 200, or 500 with msg when the outputs do not fit the task (shape changed). Worker
 * thread; allocates only for the answer itself. */
int srv_task_answer(const srv_task *t, const srv_sig *sig, const rt_tensor *outs,
                    int64_t instance, const srv_task_opts *o, srv_buf *b, char *msg, size_t cap);

#endif
