/*
 * batcher.h — dynamic batching for one model version (issue 5; TF Serving's batcher fields).
 *
 * Requests (tasks) are concatenated along dim 0 of every input up to max_batch_size. A batch
 * leaves when full or batch_timeout_micros after its first request; it is padded up to the
 * next allowed_batch_sizes entry (so the runtime plans only those sizes) and the padding
 * rows never reach an answer. Tasks whose non-batch shapes or dtypes differ never share a
 * batch. A task larger than max_batch_size is split into parts of at most max_batch_size rows
 * when splitting is on (answers are reassembled in order), else refused.
 *
 * Invariants: at most max_enqueued_batches batches wait (beyond that a task is refused at
 * once, so memory is bounded by max_enqueued_batches x max_batch_size rows plus the ones on
 * workers); a task cancelled or past its deadline while queued is dropped before any worker
 * runs it; every accepted task gets exactly one deliver call.
 *
 * Threads: the queue part (submit, take, depth) is NOT locked: the owner (srv_pool) guards it
 * with its own mutex and passes the clock in, which lets the unit tests drive it with a fake
 * clock. srv_batcher_execute runs on a worker without that lock.
 */
#ifndef ORCHARD_SRV_BATCHER_H
#define ORCHARD_SRV_BATCHER_H

#include "config.h"
#include "orchard/rt.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SRV_BATCHER_MAX_ALLOWED 64

typedef struct srv_batcher_params {
  int max_batch_size;          /* >= 1 */
  int64_t batch_timeout_micros; /* >= 0 */
  int max_enqueued_batches;    /* >= 1 */
  int allowed[SRV_BATCHER_MAX_ALLOWED]; /* increasing; empty: no padding */
  int n_allowed;
  bool split;   /* enable_large_batch_splitting */
  int n_outputs; /* outputs of the model, as rt_session_run writes them */
} srv_batcher_params;

typedef enum srv_batch_result {
  SRV_BATCH_OK = 0,
  SRV_BATCH_ERROR,     /* bad request or runtime failure; msg says which */
  SRV_BATCH_EXPIRED,   /* deadline passed while queued */
  SRV_BATCH_CANCELLED, /* srv_batch_task_cancel won */
} srv_batch_result;

typedef struct srv_batch_task srv_batch_task;
/* On a worker. outs (n_out of them, dim 0 = the task's rows) are valid only during the call;
 * on anything but SRV_BATCH_OK outs is NULL, msg says why and t->status holds the runtime's
 * status for SRV_BATCH_ERROR (RT_ERR_INVALID_ARG / RT_ERR_SHAPE: the request's data; else
 * internal), RT_OK otherwise. */
typedef void (*srv_batch_deliver_fn)(srv_batch_task *t, srv_batch_result r, const char *msg,
                                     const rt_tensor *outs, int n_out);

typedef struct srv_batch_part {
  srv_batch_task *task;
  int row0, rows;
} srv_batch_part;

struct srv_batch_task {
  /* Set by the caller; `in` must stay valid until deliver. */
  const rt_tensor *in;
  int n_in;
  double deadline; /* same clock as submit's `now`; <= 0: none */
  srv_batch_deliver_fn deliver;
  void *arg;
  /* Set by the batcher before deliver (see srv_batch_deliver_fn). */
  rt_status status;
  /* Batcher-private. */
  atomic_int state; /* 0 queued, 1 taken, 2 cancelled */
  double t_enqueued;
  int rows;
  atomic_int parts_left;
  atomic_int worst; /* srv_batch_result of the worst part */
  bool split;
  rt_tensor *assembled;  /* split tasks: the whole answer, filled part by part */
  void *assembled_buf;
  char msg[256];
};

typedef enum srv_batch_submit {
  SRV_BATCH_SUBMIT_OK = 0,
  SRV_BATCH_SUBMIT_FULL,      /* max_enqueued_batches reached: retry later */
  SRV_BATCH_SUBMIT_TOO_LARGE, /* rows > max_batch_size and splitting is off */
  SRV_BATCH_SUBMIT_INVALID,   /* no batch dimension, rows disagree, ... */
  SRV_BATCH_SUBMIT_NOMEM,
  SRV_BATCH_SUBMIT_CLOSED, /* the version is being retired (srv_pool only) */
} srv_batch_submit;

/* A batch taken off the queue, owned by one worker (srv_batcher_batch_create per worker). */
typedef struct srv_batch {
  srv_batch_part *live, *dropped;
  int n_live, n_dropped, rows, padded;
  double t_first;
} srv_batch;

typedef struct srv_batcher_stats {
  int64_t batches, rows, padded_rows, rejected, expired, cancelled, too_large;
  int64_t retried; /* batches whose run failed and were re-run request by request */
  double wait_seconds_sum;
  int64_t wait_count;
  /* Batch sizes (padded) counted in power-of-two buckets: le 1, 2, 4, ... 2^20, +Inf. */
  int64_t size_buckets[22];
  /* Queue wait: le 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, +Inf. */
  int64_t wait_buckets[11];
} srv_batcher_stats;
extern const double SRV_BATCHER_WAIT_BOUNDS[10];

typedef struct srv_batcher srv_batcher;

/* From the parsed --batching_parameters_file; 0 or -1 with msg. */
int srv_batcher_params_from(const srv_batching_params *bp, int n_outputs, srv_batcher_params *out, char *msg, size_t cap);
int srv_batcher_create(const srv_batcher_params *p, srv_batcher **out);
void srv_batcher_destroy(srv_batcher *b); /* NULL-safe; the queue must be empty */
const srv_batcher_params *srv_batcher_get_params(const srv_batcher *b);

/* Queue side (caller holds the owner's lock). msg gets the reason when not OK. */
srv_batch_submit srv_batcher_submit(srv_batcher *b, srv_batch_task *t, double now, char *msg,
                                    size_t cap);
/* A queued task is dropped when its batch is taken; true if it was still queued. Any thread. */
bool srv_batch_task_cancel(srv_batch_task *t);
/* Fills *out with the oldest ready batch (full, timed out, or any when `drain`) and returns
 * true; else false with *next_due the time the first waiting batch becomes due (0: none). */
bool srv_batcher_take(srv_batcher *b, double now, bool drain, srv_batch *out, double *next_due);
int srv_batcher_waiting(const srv_batcher *b); /* batches queued */
void srv_batcher_get_stats(const srv_batcher *b, srv_batcher_stats *out);

/* Worker side, without the owner's lock. */
srv_batch *srv_batch_create(const srv_batcher *b);
void srv_batch_destroy(srv_batch *bt);
typedef rt_status (*srv_batch_run_fn)(void *ctx, const rt_tensor *in, int n_in, rt_tensor *out,
                                      rt_error *err);
/* Delivers the dropped parts, concatenates and pads the live ones (into *scratch, grown as
 * needed, freed by the caller), runs, and delivers each task its rows. When the run fails and
 * the batch holds more than one part, each part is re-run alone (padded on its own), so only
 * the request whose data fails the run gets the error. */
void srv_batcher_execute(srv_batcher *b, srv_batch *bt, srv_batch_run_fn run, void *ctx,
                         void **scratch, size_t *scratch_cap);

#endif
