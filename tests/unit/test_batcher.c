/*
 * test_batcher.c — the dynamic batcher (batcher.c) with a fake clock and a fake model
 * (y = 2x + 1 row by row, so every answer shows which rows it got), and then through a real
 * worker pool (workers.c) on a two-node graph model (y = x * x).
 *
 * Covered: a batch leaves when full or batch_timeout_micros after its first request; padding
 * up to the next allowed size repeats the last real row and never reaches an answer; a
 * request larger than max_batch_size is split and reassembled in order, or refused when
 * splitting is off; different non-batch shapes or dtypes never share a batch; the queue bound
 * refuses at once; expired and cancelled requests are dropped before the model runs; a run
 * that fails because of one request's data is re-run request by request, so only that request
 * fails, with the runtime's status and message (the fake fails on a "poison" value).
 * Expected values follow from the arithmetic of the fake model; no TF.js reference needed.
 */
#include "batcher.h"
#include "workers.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fake model: out[0] = 2 * in[0] + 1, same shape ---- */

typedef struct fake {
  int runs;
  int64_t last_rows;
  const void *last_data;
  float last_in[64];
  float out[64];
  bool fail;
  bool poisoned; /* fail with RT_ERR_INVALID_ARG when an input element equals `poison` */
  float poison;
  bool flat; /* answer a rank-1 output of all elements: no batch dimension */
} fake;

static rt_status fake_run(void *ctx, const rt_tensor *in, int n_in, rt_tensor *out,
                          rt_error *err) {
  fake *f = ctx;
  (void)n_in;
  f->runs++;
  if (f->fail) {
    snprintf(err->msg, sizeof err->msg, "fake failure");
    return RT_ERR_INTERNAL;
  }
  int64_t n = rt_tensor_numel(&in[0]);
  cr_assert_leq(n, 64);
  for (int64_t i = 0; f->poisoned && i < n; i++)
    if (((const float *)in[0].data)[i] == f->poison) {
      snprintf(err->msg, sizeof err->msg, "poison value %g at element %lld", f->poison,
               (long long)i);
      return RT_ERR_INVALID_ARG;
    }
  f->last_rows = in[0].dims[0];
  f->last_data = in[0].data;
  for (int64_t i = 0; i < n; i++) {
    f->last_in[i] = ((const float *)in[0].data)[i];
    f->out[i] = 2 * f->last_in[i] + 1;
  }
  out[0] = in[0];
  out[0].data = f->out;
  if (f->flat) {
    out[0].rank = 1;
    out[0].dims[0] = n;
  }
  return RT_OK;
}

/* ---- a request: `rows` rows of `cols` floats, values base + i ---- */

typedef struct req {
  srv_batch_task t;
  rt_tensor in;
  float x[64];
  int delivered;
  srv_batch_result result;
  rt_status status;
  char msg[256];
  int64_t out_rows;
  float y[64];
} req;

static void deliver(srv_batch_task *t, srv_batch_result r, const char *msg, const rt_tensor *outs,
                    int n_out) {
  req *q = t->arg;
  q->delivered++;
  q->result = r;
  q->status = t->status;
  snprintf(q->msg, sizeof q->msg, "%s", msg ? msg : "");
  if (r == SRV_BATCH_OK) {
    cr_assert_eq(n_out, 1);
    q->out_rows = outs[0].dims[0];
    memcpy(q->y, outs[0].data, rt_tensor_nbytes(&outs[0]));
  }
}

static void req_init(req *q, int rows, int cols, float base) {
  memset(q, 0, sizeof *q);
  q->in = (rt_tensor){.dtype = RT_DT_F32, .rank = 2, .dims = {rows, cols}, .data = q->x};
  for (int i = 0; i < rows * cols; i++)
    q->x[i] = base + (float)i;
  q->t.in = &q->in;
  q->t.n_in = 1;
  q->t.deliver = deliver;
  q->t.arg = q;
}

static srv_batcher *make(int max, int64_t timeout_us, int max_enq, const int *allowed,
                         int n_allowed, bool split) {
  srv_batcher_params p = {.max_batch_size = max,
                          .batch_timeout_micros = timeout_us,
                          .max_enqueued_batches = max_enq,
                          .n_allowed = n_allowed,
                          .split = split,
                          .n_outputs = 1};
  for (int i = 0; i < n_allowed; i++)
    p.allowed[i] = allowed[i];
  srv_batcher *b;
  cr_assert_eq(srv_batcher_create(&p, &b), 0);
  return b;
}

static void check_answer(const req *q, int rows, int cols) {
  cr_assert_eq(q->delivered, 1);
  cr_assert_eq(q->result, SRV_BATCH_OK, "%s", q->msg);
  cr_assert_eq(q->out_rows, rows);
  for (int i = 0; i < rows * cols; i++)
    cr_assert_eq(q->y[i], 2 * q->x[i] + 1, "element %d", i);
}

static char msg[512];
static void *scratch;
static size_t scratch_cap;

static void run_batch(srv_batcher *b, srv_batch *bt, fake *f) {
  srv_batcher_execute(b, bt, fake_run, f, &scratch, &scratch_cap);
}

static void fini(void) {
  free(scratch);
  scratch = NULL;
  scratch_cap = 0;
}

TestSuite(batcher, .fini = fini);

Test(batcher, leaves_after_the_timeout_of_its_first_request) {
  srv_batcher *b = make(8, 1000, 4, NULL, 0, false);
  srv_batch *bt = srv_batch_create(b);
  req a, c;
  req_init(&a, 1, 2, 0);
  req_init(&c, 1, 2, 10);
  double due = -1;
  cr_assert_eq(srv_batcher_submit(b, &a.t, 10.0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_not(srv_batcher_take(b, 10.0, false, bt, &due));
  cr_assert_float_eq(due, 10.001, 1e-9);
  /* A second request joins but does not restart the clock. */
  cr_assert_eq(srv_batcher_submit(b, &c.t, 10.0009, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_not(srv_batcher_take(b, 10.00099, false, bt, &due));
  cr_assert_float_eq(due, 10.001, 1e-9);
  cr_assert(srv_batcher_take(b, 10.001, false, bt, &due));
  cr_assert_eq(bt->n_live, 2);
  cr_assert_eq(bt->rows, 2);
  cr_assert_eq(bt->padded, 2); /* no allowed sizes: no padding */
  cr_assert_eq(srv_batcher_waiting(b), 0);
  fake f = {0};
  run_batch(b, bt, &f);
  cr_assert_eq(f.runs, 1);
  cr_assert_eq(f.last_rows, 2);
  check_answer(&a, 1, 2);
  check_answer(&c, 1, 2);
  srv_batcher_stats st;
  srv_batcher_get_stats(b, &st);
  cr_assert_eq(st.batches, 1);
  cr_assert_eq(st.wait_count, 2);
  cr_assert_float_eq(st.wait_seconds_sum, 0.001 + 0.0001, 1e-9);
  /* Closing drains: a fresh batch leaves at once. */
  cr_assert_eq(srv_batcher_submit(b, &a.t, 20.0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert(srv_batcher_take(b, 20.0, true, bt, &due));
  run_batch(b, bt, &f);
  cr_assert_eq(a.delivered, 2);
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, leaves_at_once_when_full) {
  srv_batcher *b = make(4, 1000000, 4, NULL, 0, false);
  srv_batch *bt = srv_batch_create(b);
  req a, c, d;
  req_init(&a, 3, 1, 0);
  req_init(&c, 1, 1, 100);
  req_init(&d, 2, 1, 200);
  double due;
  cr_assert_eq(srv_batcher_submit(b, &a.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_not(srv_batcher_take(b, 0, false, bt, &due));
  cr_assert_eq(srv_batcher_submit(b, &c.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  /* d does not fit in the full batch: it opens a second one. */
  cr_assert_eq(srv_batcher_submit(b, &d.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_waiting(b), 2);
  cr_assert(srv_batcher_take(b, 0, false, bt, &due));
  cr_assert_eq(bt->rows, 4);
  fake f = {0};
  run_batch(b, bt, &f);
  check_answer(&a, 3, 1);
  check_answer(&c, 1, 1);
  cr_assert_eq(d.delivered, 0);
  cr_assert_not(srv_batcher_take(b, 0.5, false, bt, &due));
  cr_assert_float_eq(due, 1.0, 1e-9);
  cr_assert(srv_batcher_take(b, 1.0, false, bt, &due));
  run_batch(b, bt, &f);
  check_answer(&d, 2, 1);
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, pads_to_the_next_allowed_size_and_drops_the_padding) {
  static const int allowed[] = {1, 2, 4, 8};
  srv_batcher *b = make(8, 100, 4, allowed, 4, false);
  srv_batch *bt = srv_batch_create(b);
  req q[3];
  for (int i = 0; i < 3; i++) {
    req_init(&q[i], 1, 2, (float)(10 * i));
    cr_assert_eq(srv_batcher_submit(b, &q[i].t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  }
  double due;
  cr_assert(srv_batcher_take(b, 0.0001, false, bt, &due));
  cr_assert_eq(bt->rows, 3);
  cr_assert_eq(bt->padded, 4);
  fake f = {0};
  run_batch(b, bt, &f);
  cr_assert_eq(f.last_rows, 4);
  /* Rows in arrival order, then the last real row repeated. */
  float want[8] = {0, 1, 10, 11, 20, 21, 20, 21};
  for (int i = 0; i < 8; i++)
    cr_assert_eq(f.last_in[i], want[i], "model input %d", i);
  for (int i = 0; i < 3; i++)
    check_answer(&q[i], 1, 2);
  srv_batcher_stats st;
  srv_batcher_get_stats(b, &st);
  cr_assert_eq(st.rows, 3);
  cr_assert_eq(st.padded_rows, 1);
  cr_assert_eq(st.size_buckets[2], 1); /* le 4 */
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, a_single_request_runs_on_its_own_tensors) {
  srv_batcher *b = make(8, 0, 4, NULL, 0, false);
  srv_batch *bt = srv_batch_create(b);
  req a;
  req_init(&a, 5, 1, 1);
  double due;
  cr_assert_eq(srv_batcher_submit(b, &a.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert(srv_batcher_take(b, 0, false, bt, &due)); /* timeout 0: due at once */
  fake f = {0};
  run_batch(b, bt, &f);
  check_answer(&a, 5, 1);
  cr_assert_eq(f.last_data, a.x); /* nothing copied */
  /* Shared batches need outputs that follow dim 0; a lone request is answered as is. */
  req c, d;
  req_init(&c, 1, 2, 0);
  req_init(&d, 1, 2, 5);
  cr_assert_eq(srv_batcher_submit(b, &c.t, 1, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &d.t, 1, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert(srv_batcher_take(b, 1, false, bt, &due));
  f.flat = true;
  run_batch(b, bt, &f);
  cr_assert_eq(c.result, SRV_BATCH_ERROR);
  cr_assert(strstr(c.msg, "does not follow the batch"), "%s", c.msg);
  cr_assert_eq(srv_batcher_submit(b, &c.t, 2, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert(srv_batcher_take(b, 2, false, bt, &due));
  run_batch(b, bt, &f);
  cr_assert_eq(c.result, SRV_BATCH_OK);
  cr_assert_eq(c.out_rows, 2); /* the flattened [2] output, untouched */
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, splits_a_large_request_and_reassembles_it) {
  static const int allowed[] = {2, 4};
  srv_batcher *b = make(4, 1000, 8, allowed, 2, true);
  srv_batch *bt = srv_batch_create(b);
  req small, big;
  req_init(&small, 1, 3, 500);
  req_init(&big, 10, 3, 0);
  double due;
  cr_assert_eq(srv_batcher_submit(b, &small.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &big.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  /* 10 rows: two full parts in batches of their own, the last 2 rows join `small`. */
  cr_assert_eq(srv_batcher_waiting(b), 3);
  fake f = {0};
  int sizes[3], n = 0;
  while (srv_batcher_take(b, 0.001, false, bt, &due)) {
    cr_assert_lt(n, 3);
    sizes[n++] = bt->rows;
    run_batch(b, bt, &f);
    if (n < 3)
      cr_assert_eq(big.delivered, 0, "delivered before its last part ran");
  }
  cr_assert_eq(n, 3);
  cr_assert_eq(sizes[0] + sizes[1] + sizes[2], 11);
  cr_assert_eq(f.last_rows, 4); /* small + 2 rows of big (3, padded to 4) leave first, then 4 and 4 */
  check_answer(&small, 1, 3);
  check_answer(&big, 10, 3);
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, refuses_a_large_request_when_splitting_is_off) {
  srv_batcher *b = make(4, 1000, 8, NULL, 0, false);
  req big;
  req_init(&big, 5, 1, 0);
  cr_assert_eq(srv_batcher_submit(b, &big.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_TOO_LARGE);
  cr_assert(strstr(msg, "max_batch_size 4"), "%s", msg);
  cr_assert(strstr(msg, "enable_large_batch_splitting"), "%s", msg);
  cr_assert_eq(srv_batcher_waiting(b), 0);
  srv_batcher_destroy(b);
}

Test(batcher, different_shapes_never_share_a_batch) {
  srv_batcher *b = make(8, 1000, 8, NULL, 0, false);
  srv_batch *bt = srv_batch_create(b);
  req a, c, d, e;
  req_init(&a, 1, 2, 0);
  req_init(&c, 1, 3, 10);
  req_init(&d, 1, 2, 20);
  req_init(&e, 1, 2, 30);
  e.in.dtype = RT_DT_I32; /* same shape, other dtype */
  double due;
  req *all[] = {&a, &c, &d, &e};
  for (int i = 0; i < 4; i++)
    cr_assert_eq(srv_batcher_submit(b, &all[i]->t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_waiting(b), 3);
  cr_assert(srv_batcher_take(b, 1, false, bt, &due)); /* oldest: a and d */
  cr_assert_eq(bt->n_live, 2);
  cr_assert_eq(bt->live[0].task, &a.t);
  cr_assert_eq(bt->live[1].task, &d.t);
  fake f = {0};
  run_batch(b, bt, &f);
  cr_assert(srv_batcher_take(b, 1, false, bt, &due));
  cr_assert_eq(bt->n_live, 1);
  cr_assert_eq(bt->live[0].task, &c.t);
  run_batch(b, bt, &f);
  cr_assert(srv_batcher_take(b, 1, false, bt, &due));
  cr_assert_eq(bt->live[0].task, &e.t);
  srv_batch_destroy(bt);
  /* e never ran (the fake model reads floats); a, c, d each got their own rows. */
  check_answer(&a, 1, 2);
  check_answer(&c, 1, 3);
  check_answer(&d, 1, 2);
  srv_batcher_destroy(b);
}

Test(batcher, a_full_queue_refuses_at_once) {
  srv_batcher *b = make(2, 1000, 2, NULL, 0, true);
  srv_batch *bt = srv_batch_create(b);
  req q[4];
  for (int i = 0; i < 4; i++)
    req_init(&q[i], 2, 1, (float)i);
  cr_assert_eq(srv_batcher_submit(b, &q[0].t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &q[1].t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &q[2].t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_FULL);
  cr_assert(strstr(msg, "max_enqueued_batches 2"), "%s", msg);
  double due;
  cr_assert(srv_batcher_take(b, 0, false, bt, &due));
  fake f = {0};
  run_batch(b, bt, &f);
  /* One slot free: a request needing two batches is refused whole, nothing half queued. */
  req big;
  req_init(&big, 4, 1, 0);
  cr_assert_eq(srv_batcher_submit(b, &big.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_FULL);
  cr_assert_eq(srv_batcher_waiting(b), 1);
  cr_assert_eq(srv_batcher_submit(b, &q[3].t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  srv_batcher_stats st;
  srv_batcher_get_stats(b, &st);
  cr_assert_eq(st.rejected, 2);
  while (srv_batcher_take(b, 0, true, bt, &due))
    run_batch(b, bt, &f);
  check_answer(&q[0], 2, 1);
  check_answer(&q[1], 2, 1);
  check_answer(&q[3], 2, 1);
  cr_assert_eq(q[2].delivered, 0);
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, expired_and_cancelled_requests_never_reach_the_model) {
  srv_batcher *b = make(8, 1000, 8, NULL, 0, false);
  srv_batch *bt = srv_batch_create(b);
  req late, gone, ok;
  req_init(&late, 1, 1, 0);
  req_init(&gone, 1, 1, 1);
  req_init(&ok, 1, 1, 2);
  late.t.deadline = 5.0005; /* passes while queued */
  ok.t.deadline = 6.0;
  double due;
  cr_assert_eq(srv_batcher_submit(b, &late.t, 5.0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &gone.t, 5.0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert(srv_batch_task_cancel(&gone.t));
  cr_assert(srv_batcher_take(b, 5.001, false, bt, &due));
  cr_assert_eq(bt->n_live, 0);
  cr_assert_eq(bt->n_dropped, 2);
  fake f = {0};
  run_batch(b, bt, &f);
  cr_assert_eq(f.runs, 0);
  cr_assert_eq(late.delivered, 1);
  cr_assert_eq(late.result, SRV_BATCH_EXPIRED);
  cr_assert(strstr(late.msg, "deadline"), "%s", late.msg);
  cr_assert_eq(gone.delivered, 1);
  cr_assert_eq(gone.result, SRV_BATCH_CANCELLED);
  /* Live and expired in one batch: only the live one runs, unpadded. */
  req_init(&late, 1, 1, 0);
  late.t.deadline = 5.0015;
  cr_assert_eq(srv_batcher_submit(b, &late.t, 5.001, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &ok.t, 5.001, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert(srv_batcher_take(b, 5.0025, false, bt, &due));
  cr_assert_eq(bt->n_live, 1);
  run_batch(b, bt, &f);
  cr_assert_eq(f.runs, 1);
  cr_assert_eq(f.last_rows, 1);
  cr_assert_eq(late.result, SRV_BATCH_EXPIRED);
  check_answer(&ok, 1, 1);
  /* Taken: too late to cancel. */
  cr_assert_not(srv_batch_task_cancel(&ok.t));
  srv_batcher_stats st;
  srv_batcher_get_stats(b, &st);
  cr_assert_eq(st.expired, 2);
  cr_assert_eq(st.cancelled, 1);
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, a_failed_run_answers_every_request_with_the_error) {
  srv_batcher *b = make(4, 0, 8, NULL, 0, true);
  srv_batch *bt = srv_batch_create(b);
  req a, big;
  req_init(&a, 1, 1, 0);
  req_init(&big, 6, 1, 0);
  double due;
  cr_assert_eq(srv_batcher_submit(b, &a.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &big.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  fake f = {.fail = true};
  while (srv_batcher_take(b, 0, false, bt, &due))
    run_batch(b, bt, &f);
  cr_assert_eq(a.delivered, 1);
  cr_assert_eq(a.result, SRV_BATCH_ERROR);
  cr_assert(strstr(a.msg, "fake failure"), "%s", a.msg);
  cr_assert_eq(a.status, RT_ERR_INTERNAL);
  cr_assert_eq(big.delivered, 1); /* once, after both parts */
  cr_assert_eq(big.result, SRV_BATCH_ERROR);
  cr_assert_eq(big.status, RT_ERR_INTERNAL);
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, a_request_that_fails_the_run_fails_alone) {
  static const int allowed[] = {4, 8};
  srv_batcher *b = make(8, 1000, 8, allowed, 2, true);
  srv_batch *bt = srv_batch_create(b);
  req a, bad, c;
  req_init(&a, 2, 1, 0);
  req_init(&bad, 1, 1, 777); /* its only element is the poison */
  req_init(&c, 3, 1, 100);
  double due;
  cr_assert_eq(srv_batcher_submit(b, &a.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &bad.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &c.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert(srv_batcher_take(b, 0.002, false, bt, &due));
  cr_assert_eq(bt->n_live, 3);
  cr_assert_eq(bt->padded, 8);
  fake f = {.poisoned = true, .poison = 777};
  run_batch(b, bt, &f);
  /* The batch of 6 (padded to 8) once, then each request alone: 2 -> 4, 1 -> 4, 3 -> 4. */
  cr_assert_eq(f.runs, 4);
  cr_assert_eq(f.last_rows, 4);
  check_answer(&a, 2, 1);
  check_answer(&c, 3, 1);
  cr_assert_eq(bad.delivered, 1);
  cr_assert_eq(bad.result, SRV_BATCH_ERROR);
  cr_assert_eq(bad.status, RT_ERR_INVALID_ARG);
  cr_assert_str_eq(bad.msg, "poison value 777 at element 0"); /* the request's own element */
  cr_assert_eq(a.status, RT_OK);
  srv_batcher_stats st;
  srv_batcher_get_stats(b, &st);
  cr_assert_eq(st.retried, 1);
  cr_assert_eq(st.batches, 1); /* the re-runs are not batches of their own */
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, a_poisoned_part_of_a_split_request_fails_it_once) {
  srv_batcher *b = make(4, 1000, 8, NULL, 0, true);
  srv_batch *bt = srv_batch_create(b);
  req small, big;
  req_init(&small, 1, 1, 500);
  req_init(&big, 10, 1, 0);
  big.x[9] = 777; /* in the last part, the one that shares a batch with `small` */
  double due;
  cr_assert_eq(srv_batcher_submit(b, &small.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert_eq(srv_batcher_submit(b, &big.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  fake f = {.poisoned = true, .poison = 777};
  int n = 0;
  while (srv_batcher_take(b, 0.002, false, bt, &due)) {
    n++;
    run_batch(b, bt, &f);
  }
  cr_assert_eq(n, 3);
  /* 4 and 4 alone (no retry: nothing else to save), then small + 2 rows failed and re-ran. */
  cr_assert_eq(f.runs, 2 + 1 + 2);
  check_answer(&small, 1, 1);
  cr_assert_eq(big.delivered, 1);
  cr_assert_eq(big.result, SRV_BATCH_ERROR);
  cr_assert_eq(big.status, RT_ERR_INVALID_ARG);
  cr_assert(strstr(big.msg, "poison value 777"), "%s", big.msg);
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, a_lone_failing_request_runs_once) {
  static const int allowed[] = {4};
  srv_batcher *b = make(4, 1000, 8, allowed, 1, true);
  srv_batch *bt = srv_batch_create(b);
  req bad;
  req_init(&bad, 3, 1, 777);
  double due;
  cr_assert_eq(srv_batcher_submit(b, &bad.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_OK);
  cr_assert(srv_batcher_take(b, 0.002, false, bt, &due));
  fake f = {.poisoned = true, .poison = 777};
  run_batch(b, bt, &f);
  cr_assert_eq(f.runs, 1); /* padded to 4 but alone: a re-run could only fail the same way */
  cr_assert_eq(bad.result, SRV_BATCH_ERROR);
  cr_assert_eq(bad.status, RT_ERR_INVALID_ARG);
  srv_batcher_stats st;
  srv_batcher_get_stats(b, &st);
  cr_assert_eq(st.retried, 0);
  srv_batch_destroy(bt);
  srv_batcher_destroy(b);
}

Test(batcher, bad_requests_are_refused_with_a_reason) {
  srv_batcher *b = make(4, 0, 8, NULL, 0, true);
  req a;
  req_init(&a, 1, 1, 0);
  a.in.rank = 0;
  cr_assert_eq(srv_batcher_submit(b, &a.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_INVALID);
  cr_assert(strstr(msg, "batch dimension"), "%s", msg);
  req_init(&a, 0, 1, 0);
  cr_assert_eq(srv_batcher_submit(b, &a.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_INVALID);
  rt_tensor two[2];
  req_init(&a, 2, 1, 0);
  two[0] = a.in;
  two[1] = a.in;
  two[1].dims[0] = 3;
  a.t.in = two;
  a.t.n_in = 2;
  cr_assert_eq(srv_batcher_submit(b, &a.t, 0, msg, sizeof msg), SRV_BATCH_SUBMIT_INVALID);
  cr_assert(strstr(msg, "input 1 has 3 rows"), "%s", msg);
  srv_batcher_destroy(b);
}

Test(batcher, params_from_the_batching_file) {
  int64_t allowed[] = {1, 2, 4, 8};
  srv_batching_params bp = {.max_batch_size = 8,
                            .batch_timeout_micros = 2000,
                            .max_enqueued_batches = 16,
                            .num_batch_threads = 2,
                            .allowed_batch_sizes = allowed,
                            .n_allowed = 4,
                            .enable_large_batch_splitting = true};
  srv_batcher_params p;
  cr_assert_eq(srv_batcher_params_from(&bp, 3, &p, msg, sizeof msg), 0, "%s", msg);
  cr_assert(p.max_batch_size == 8 && p.n_allowed == 4 && p.allowed[3] == 8 && p.split &&
            p.n_outputs == 3 && p.batch_timeout_micros == 2000);
  bp.n_allowed = 3;
  cr_assert_eq(srv_batcher_params_from(&bp, 3, &p, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "allowed_batch_sizes[2]"), "%s", msg);
  bp.n_allowed = 4;
  bp.max_batch_size = 1 << 20;
  cr_assert_eq(srv_batcher_params_from(&bp, 3, &p, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "max_batch_size"), "%s", msg);
}

Test(batcher, the_batching_file_bounds_memory) {
  srv_batching_params bp;
  const char *big = "{\"max_batch_size\": 100000}";
  cr_assert_eq(srv_config_parse_batching(big, strlen(big), "b.json", &bp, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "b.json") && strstr(msg, "max_batch_size") && strstr(msg, "65536"), "%s",
            msg);
  const char *many = "{\"max_batch_size\": 4096, \"max_enqueued_batches\": 100000}";
  cr_assert_eq(srv_config_parse_batching(many, strlen(many), "b.json", &bp, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "max_enqueued_batches"), "%s", msg);
  const char *ok = "{\"max_batch_size\": 8, \"allowed_batch_sizes\": [2, 8]}";
  cr_assert_eq(srv_config_parse_batching(ok, strlen(ok), "b.json", &bp, msg, sizeof msg), 0, "%s",
               msg);
  srv_batcher_params p;
  cr_assert_eq(srv_batcher_params_from(&bp, 1, &p, msg, sizeof msg), 0, "%s", msg);
  cr_assert(p.max_batch_size == 8 && p.max_enqueued_batches == 64 && p.n_allowed == 2);
  srv_batching_params_free(&bp);
}

/* ---- through a real worker pool: y = x * x on a [-1, 2] input ---- */

static const char *MODEL_JSON =
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": ["
    "{\"name\": \"x\", \"op\": \"Placeholder\", \"attr\": {\"dtype\": {\"type\": \"DT_FLOAT\"},"
    " \"shape\": {\"shape\": {\"dim\": [{\"size\": \"-1\"}, {\"size\": \"2\"}]}}}},"
    "{\"name\": \"y\", \"op\": \"Mul\", \"input\": [\"x\", \"x\"], \"attr\": {\"T\": {\"type\": "
    "\"DT_FLOAT\"}}}], \"library\": {}, \"versions\": {\"producer\": 1}}, "
    "\"weightsManifest\": []}";

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_back;

static void pool_deliver(srv_batch_task *t, srv_batch_result r, const char *m,
                         const rt_tensor *outs, int n_out) {
  deliver(t, r, m, outs, n_out);
  pthread_mutex_lock(&g_mu);
  g_back++;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
}

Test(batcher, pool_batches_requests_on_real_workers) {
  char dir[] = "/tmp/orchard-batcher-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/model.json", dir);
  FILE *fp = fopen(path, "w");
  cr_assert_not_null(fp);
  fputs(MODEL_JSON, fp);
  fclose(fp);
  rt_model *m;
  rt_error err;
  cr_assert_eq(rt_model_load(dir, NULL, &m, &err), RT_OK, "%s", err.msg);
  int64_t allowed[] = {1, 2, 4, 8};
  srv_batching_params bp = {.max_batch_size = 8,
                            .batch_timeout_micros = 20000,
                            .max_enqueued_batches = 64,
                            .allowed_batch_sizes = allowed,
                            .n_allowed = 4,
                            .enable_large_batch_splitting = true};
  srv_pool_params pp = srv_pool_default_params();
  pp.workers = 2;
  pp.batching = &bp;
  pp.name = "square";
  /* The pool lists itself in the registry it is given, which registers one collector with
   * the metrics handle: the batching families reach the exposition through it. */
  srv_metrics *metrics;
  srv_pool_registry *reg;
  cr_assert_eq(srv_metrics_create(&metrics), 0);
  cr_assert_eq(srv_pool_registry_create(metrics, &reg), 0);
  pp.registry = reg;
  srv_pool *pool;
  cr_assert_eq(srv_pool_create(m, &pp, &pool, &err), RT_OK, "%s", err.msg);
  cr_assert(srv_pool_batching(pool));
  enum { N = 24 };
  static req q[N];
  g_back = 0;
  for (int i = 0; i < N; i++) {
    req_init(&q[i], i % 3 == 2 ? 11 : 1 + i % 3, 2, (float)i);
    q[i].t.deliver = pool_deliver;
    cr_assert_eq(srv_pool_submit_task(pool, &q[i].t, msg, sizeof msg), SRV_BATCH_SUBMIT_OK, "%s",
                 msg);
  }
  pthread_mutex_lock(&g_mu);
  while (g_back < N)
    pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  for (int i = 0; i < N; i++) {
    int rows = (int)q[i].in.dims[0];
    cr_assert_eq(q[i].delivered, 1);
    cr_assert_eq(q[i].result, SRV_BATCH_OK, "%s", q[i].msg);
    cr_assert_eq(q[i].out_rows, rows);
    for (int k = 0; k < rows * 2; k++)
      cr_assert_eq(q[i].y[k], q[i].x[k] * q[i].x[k]);
  }
  srv_buf b;
  srv_buf_init(&b);
  srv_pool_collect_batching(&b, reg);
  cr_assert(strstr(b.data, "orchard_batch_size_bucket{model=\"square\""), "%s", b.data);
  cr_assert(strstr(b.data, "orchard_batch_padding_fraction"));
  srv_buf_free(&b);
  size_t len;
  char *text = srv_metrics_render(metrics, &len);
  cr_assert_not_null(text);
  cr_assert(strstr(text, "orchard_batch_size_bucket{model=\"square\""), "%s", text);
  free(text);
  srv_pool_close(pool);
  cr_assert_eq(srv_pool_submit_task(pool, &q[0].t, msg, sizeof msg), SRV_BATCH_SUBMIT_CLOSED);
  srv_pool_destroy(pool);
  /* Destroyed pools leave the registry; destroying the registry drops its collector. */
  srv_buf_init(&b);
  srv_pool_collect_batching(&b, reg);
  cr_assert_null(strstr(b.data, "model=\"square\""), "%s", b.data);
  srv_buf_free(&b);
  srv_pool_registry_destroy(reg);
  text = srv_metrics_render(metrics, &len);
  cr_assert_not_null(text);
  cr_assert_null(strstr(text, "orchard_batch_size"), "%s", text);
  free(text);
  srv_metrics_destroy(metrics);
  rt_model_destroy(m);
  unlink(path);
  rmdir(dir);
}
