/*
 * batcher.c — dynamic batching: the queue of open batches and the worker-side concatenate /
 * pad / run / slice step.
 *
 * The queue is a fixed table of max_enqueued_batches slots, each holding up to max_batch_size
 * parts by value; a slot is allocated once and reused, so a full queue refuses instead of
 * growing. Slots carry a sequence number and the oldest ready one leaves first. A part joins
 * the oldest slot of the same shape key with room; parts of a split task fill fresh slots.
 * Task state moves queued -> taken (take) or queued -> cancelled (any thread) by CAS, so a
 * cancelled or expired part is found at take time and never reaches a session. Split tasks
 * are reassembled into their own buffer under `asm_mu`: parts may run on different workers.
 * A failed run of several parts is re-run part by part (run_parts): one request's bad data
 * must not fail the requests that merely shared its batch.
 */
/* Messages are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "batcher.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TASK_QUEUED = 0, TASK_TAKEN = 1, TASK_CANCELLED = 2 };

const double SRV_BATCHER_WAIT_BOUNDS[10] = {0.0005, 0.001, 0.002, 0.005, 0.01,
                                            0.02,   0.05,  0.1,   0.5,   1.0};

typedef struct slot {
  bool used;
  uint64_t seq;
  const srv_batch_task *key; /* shapes every part of this slot shares */
  srv_batch_part *parts;     /* max_batch_size, allocated at first use */
  int n_parts, rows;
  double t_first;
} slot;

struct srv_batcher {
  srv_batcher_params p;
  slot *slots;
  int n_used;
  uint64_t seq;
  srv_batcher_stats stats;
  atomic_llong retried; /* counted on workers, without the owner's lock */
  pthread_mutex_t asm_mu;
};

int srv_batcher_params_from(const srv_batching_params *bp, int n_outputs, srv_batcher_params *out,
                            char *msg, size_t cap) {
  memset(out, 0, sizeof *out);
  /* Bounds keep the fixed queue table and the padded scratch of a worker reasonable. */
  if (bp->max_batch_size < 1 || bp->max_batch_size > 65536) {
    snprintf(msg, cap, "max_batch_size: must be 1 .. 65536");
    return -1;
  }
  if (bp->max_enqueued_batches < 1 || bp->max_enqueued_batches > 1000000 ||
      bp->max_enqueued_batches * bp->max_batch_size > (INT64_C(1) << 24)) {
    snprintf(msg, cap, "max_enqueued_batches: must be >= 1 and max_enqueued_batches x "
                       "max_batch_size at most 16777216");
    return -1;
  }
  if (bp->batch_timeout_micros < 0 || bp->batch_timeout_micros > INT64_C(60000000)) {
    snprintf(msg, cap, "batch_timeout_micros: must be 0 .. 60000000");
    return -1;
  }
  if (bp->n_allowed > SRV_BATCHER_MAX_ALLOWED) {
    snprintf(msg, cap, "allowed_batch_sizes: at most %d sizes", SRV_BATCHER_MAX_ALLOWED);
    return -1;
  }
  for (int i = 0; i < bp->n_allowed; i++) {
    int64_t v = bp->allowed_batch_sizes[i];
    if (v < 1 || v > bp->max_batch_size || (i && v <= bp->allowed_batch_sizes[i - 1])) {
      snprintf(msg, cap, "allowed_batch_sizes[%d]: sizes must increase, up to max_batch_size",
               i);
      return -1;
    }
    out->allowed[i] = (int)v;
  }
  if (bp->n_allowed && bp->allowed_batch_sizes[bp->n_allowed - 1] != bp->max_batch_size) {
    snprintf(msg, cap, "allowed_batch_sizes[%d]: the last size must equal max_batch_size",
             bp->n_allowed - 1);
    return -1;
  }
  out->n_allowed = bp->n_allowed;
  out->max_batch_size = (int)bp->max_batch_size;
  out->max_enqueued_batches = (int)bp->max_enqueued_batches;
  out->batch_timeout_micros = bp->batch_timeout_micros;
  out->split = bp->enable_large_batch_splitting;
  out->n_outputs = n_outputs;
  return 0;
}

int srv_batcher_create(const srv_batcher_params *p, srv_batcher **out) {
  *out = NULL;
  if (p->max_batch_size < 1 || p->max_enqueued_batches < 1 || p->n_outputs < 0 ||
      p->n_allowed < 0 || p->n_allowed > SRV_BATCHER_MAX_ALLOWED)
    return -1;
  srv_batcher *b = calloc(1, sizeof *b);
  if (!b)
    return -1;
  b->p = *p;
  b->slots = calloc((size_t)p->max_enqueued_batches, sizeof *b->slots);
  if (!b->slots) {
    free(b);
    return -1;
  }
  pthread_mutex_init(&b->asm_mu, NULL);
  *out = b;
  return 0;
}

void srv_batcher_destroy(srv_batcher *b) {
  if (!b)
    return;
  for (int i = 0; i < b->p.max_enqueued_batches; i++)
    free(b->slots[i].parts);
  free(b->slots);
  pthread_mutex_destroy(&b->asm_mu);
  free(b);
}

const srv_batcher_params *srv_batcher_get_params(const srv_batcher *b) { return &b->p; }

static bool same_key(const srv_batch_task *a, const srv_batch_task *c) {
  if (a->n_in != c->n_in)
    return false;
  for (int i = 0; i < a->n_in; i++) {
    const rt_tensor *x = &a->in[i], *y = &c->in[i];
    if (x->dtype != y->dtype || x->rank != y->rank)
      return false;
    for (int d = 1; d < x->rank; d++)
      if (x->dims[d] != y->dims[d])
        return false;
  }
  return true;
}

static slot *open_slot(srv_batcher *b, const srv_batch_task *t, int rows) {
  slot *best = NULL;
  for (int i = 0; i < b->p.max_enqueued_batches; i++) {
    slot *s = &b->slots[i];
    if (s->used && s->rows + rows <= b->p.max_batch_size && same_key(s->key, t) &&
        (!best || s->seq < best->seq))
      best = s;
  }
  return best;
}

static slot *new_slot(srv_batcher *b, const srv_batch_task *t, double now) {
  for (int i = 0; i < b->p.max_enqueued_batches; i++) {
    slot *s = &b->slots[i];
    if (s->used)
      continue;
    s->used = true;
    s->seq = b->seq++;
    s->key = t;
    s->n_parts = s->rows = 0;
    s->t_first = now;
    b->n_used++;
    return s;
  }
  return NULL;
}

static void add_part(slot *s, srv_batch_task *t, int row0, int rows) {
  s->parts[s->n_parts++] = (srv_batch_part){t, row0, rows};
  s->rows += rows;
}

srv_batch_submit srv_batcher_submit(srv_batcher *b, srv_batch_task *t, double now, char *msg,
                                    size_t cap) {
  if (t->n_in < 1 || !t->in) {
    snprintf(msg, cap, "batching needs at least one input");
    return SRV_BATCH_SUBMIT_INVALID;
  }
  int64_t rows = -1;
  for (int i = 0; i < t->n_in; i++) {
    const rt_tensor *x = &t->in[i];
    if (x->rank < 1) {
      snprintf(msg, cap, "input %d is a scalar: batching needs a batch dimension (dim 0)", i);
      return SRV_BATCH_SUBMIT_INVALID;
    }
    if (i && x->dims[0] != rows) {
      snprintf(msg, cap,
               "input %d has %lld rows in dim 0 but input 0 has %lld: every input of a batched "
               "request must have the same batch size",
               i, (long long)x->dims[0], (long long)rows);
      return SRV_BATCH_SUBMIT_INVALID;
    }
    rows = x->dims[0];
  }
  if (rows < 1 || rows > INT32_MAX) {
    snprintf(msg, cap, "batch size %lld (dim 0 of the inputs) must be at least 1",
             (long long)rows);
    return SRV_BATCH_SUBMIT_INVALID;
  }
  int max = b->p.max_batch_size;
  if (rows > max && !b->p.split) {
    b->stats.too_large++;
    snprintf(msg, cap,
             "batch size %lld is larger than max_batch_size %d and "
             "enable_large_batch_splitting is off: send at most %d rows per request",
             (long long)rows, max, max);
    return SRV_BATCH_SUBMIT_TOO_LARGE;
  }
  int full = (int)(rows / max), rest = (int)(rows % max);
  slot *join = rest ? open_slot(b, t, rest) : NULL;
  int need = full + (rest && !join ? 1 : 0);
  if (b->n_used + need > b->p.max_enqueued_batches) {
    b->stats.rejected++;
    snprintf(msg, cap, "the batching queue is full (max_enqueued_batches %d)",
             b->p.max_enqueued_batches);
    return SRV_BATCH_SUBMIT_FULL;
  }
  atomic_store(&t->state, TASK_QUEUED);
  atomic_store(&t->worst, SRV_BATCH_OK);
  atomic_store(&t->parts_left, full + (rest ? 1 : 0));
  t->rows = (int)rows;
  t->split = full + (rest ? 1 : 0) > 1;
  t->assembled = NULL;
  t->assembled_buf = NULL;
  t->msg[0] = 0;
  t->status = RT_OK;
  t->t_enqueued = now;
  /* Part arrays of the slots about to be used are allocated first, so running out of memory
   * leaves nothing half queued. */
  int have = 0;
  for (int i = 0; i < b->p.max_enqueued_batches && have < need; i++) {
    slot *s = &b->slots[i];
    if (s->used)
      continue;
    if (!s->parts && !(s->parts = calloc((size_t)b->p.max_batch_size, sizeof *s->parts))) {
      snprintf(msg, cap, "out of memory queueing a batch");
      return SRV_BATCH_SUBMIT_NOMEM;
    }
    have++;
  }
  for (int i = 0; i < full; i++)
    add_part(new_slot(b, t, now), t, i * max, max);
  if (rest)
    add_part(join ? join : new_slot(b, t, now), t, full * max, rest);
  return SRV_BATCH_SUBMIT_OK;
}

bool srv_batch_task_cancel(srv_batch_task *t) {
  int expect = TASK_QUEUED;
  return atomic_compare_exchange_strong(&t->state, &expect, TASK_CANCELLED);
}

static bool slot_ready(const srv_batcher *b, const slot *s, double now, bool drain) {
  return drain || s->rows >= b->p.max_batch_size ||
         now >= s->t_first + (double)b->p.batch_timeout_micros / 1e6;
}

static int padded_size(const srv_batcher *b, int rows) {
  for (int i = 0; i < b->p.n_allowed; i++)
    if (b->p.allowed[i] >= rows)
      return b->p.allowed[i];
  return rows;
}

static int bucket_pow2(int64_t v) {
  int i = 0;
  while (i < 21 && (INT64_C(1) << i) < v)
    i++;
  return i;
}

bool srv_batcher_take(srv_batcher *b, double now, bool drain, srv_batch *out, double *next_due) {
  slot *pick = NULL;
  double due = 0;
  for (int i = 0; i < b->p.max_enqueued_batches; i++) {
    slot *s = &b->slots[i];
    if (!s->used)
      continue;
    if (slot_ready(b, s, now, drain)) {
      if (!pick || s->seq < pick->seq)
        pick = s;
    } else {
      double d = s->t_first + (double)b->p.batch_timeout_micros / 1e6;
      if (due == 0 || d < due)
        due = d;
    }
  }
  if (next_due)
    *next_due = due;
  if (!pick)
    return false;
  out->n_live = out->n_dropped = out->rows = 0;
  out->t_first = pick->t_first;
  for (int i = 0; i < pick->n_parts; i++) {
    srv_batch_part *pt = &pick->parts[i];
    srv_batch_task *t = pt->task;
    int st = atomic_load(&t->state);
    if (st == TASK_QUEUED) {
      int expect = TASK_QUEUED;
      if (!atomic_compare_exchange_strong(&t->state, &expect, TASK_TAKEN))
        st = TASK_CANCELLED;
      else
        st = TASK_TAKEN;
    }
    if (st == TASK_CANCELLED) {
      b->stats.cancelled++;
      out->dropped[out->n_dropped++] = *pt;
      continue;
    }
    if (t->deadline > 0 && now > t->deadline) {
      b->stats.expired++;
      out->dropped[out->n_dropped++] = *pt;
      continue;
    }
    b->stats.wait_seconds_sum += now - t->t_enqueued;
    b->stats.wait_count++;
    int wb = 0;
    while (wb < 10 && now - t->t_enqueued > SRV_BATCHER_WAIT_BOUNDS[wb])
      wb++;
    b->stats.wait_buckets[wb]++;
    out->live[out->n_live++] = *pt;
    out->rows += pt->rows;
  }
  out->padded = out->rows ? padded_size(b, out->rows) : 0;
  if (out->n_live) {
    b->stats.batches++;
    b->stats.rows += out->rows;
    b->stats.padded_rows += out->padded - out->rows;
    b->stats.size_buckets[bucket_pow2(out->padded)]++;
  }
  pick->used = false;
  pick->key = NULL;
  b->n_used--;
  return true;
}

int srv_batcher_waiting(const srv_batcher *b) { return b->n_used; }

void srv_batcher_get_stats(const srv_batcher *b, srv_batcher_stats *out) {
  *out = b->stats;
  out->retried = atomic_load(&((srv_batcher *)b)->retried);
}

srv_batch *srv_batch_create(const srv_batcher *b) {
  srv_batch *bt = calloc(1, sizeof *bt);
  if (!bt)
    return NULL;
  bt->live = calloc((size_t)b->p.max_batch_size, sizeof *bt->live);
  bt->dropped = calloc((size_t)b->p.max_batch_size, sizeof *bt->dropped);
  if (!bt->live || !bt->dropped) {
    srv_batch_destroy(bt);
    return NULL;
  }
  return bt;
}

void srv_batch_destroy(srv_batch *bt) {
  if (!bt)
    return;
  free(bt->live);
  free(bt->dropped);
  free(bt);
}

/* ------------------------------------------------------------------ worker side */

static void part_failed(srv_batcher *b, srv_batch_task *t, srv_batch_result r, rt_status st,
                        const char *msg) {
  pthread_mutex_lock(&b->asm_mu);
  if ((int)r > atomic_load(&t->worst) || t->msg[0] == 0) {
    if ((int)r > atomic_load(&t->worst))
      atomic_store(&t->worst, r);
    snprintf(t->msg, sizeof t->msg, "%s", msg);
    t->status = st;
  }
  pthread_mutex_unlock(&b->asm_mu);
}

/* Copies one part's rows into the task's whole answer, allocating it at the first part. */
static void part_assemble(srv_batcher *b, srv_batch_task *t, const srv_batch_part *pt,
                          const rt_tensor *views, int n) {
  pthread_mutex_lock(&b->asm_mu);
  bool ok = true;
  if (!t->assembled) {
    size_t total = 0;
    for (int k = 0; k < n; k++) {
      size_t rb = views[k].dims[0] ? rt_tensor_nbytes(&views[k]) / (size_t)views[k].dims[0] : 0;
      total += (rb * (size_t)t->rows + 63) & ~(size_t)63;
    }
    t->assembled = calloc((size_t)n + 1, sizeof *t->assembled);
    t->assembled_buf = malloc(total + 1);
    if (!t->assembled || !t->assembled_buf) {
      free(t->assembled);
      free(t->assembled_buf);
      t->assembled = NULL;
      t->assembled_buf = NULL;
      ok = false;
    } else {
      char *p = t->assembled_buf;
      for (int k = 0; k < n; k++) {
        t->assembled[k] = views[k];
        t->assembled[k].dims[0] = t->rows;
        t->assembled[k].data = p;
        p += (rt_tensor_nbytes(&t->assembled[k]) + 63) & ~(size_t)63;
      }
    }
  }
  if (ok) {
    for (int k = 0; k < n && ok; k++) {
      rt_tensor whole = t->assembled[k];
      size_t rb = rt_tensor_nbytes(&whole) / (size_t)t->rows;
      size_t prb = views[k].dims[0] ? rt_tensor_nbytes(&views[k]) / (size_t)views[k].dims[0] : 0;
      if (prb != rb || whole.dtype != views[k].dtype || whole.rank != views[k].rank) {
        ok = false;
        break;
      }
      memcpy((char *)whole.data + (size_t)pt->row0 * rb, views[k].data, (size_t)pt->rows * rb);
    }
  }
  pthread_mutex_unlock(&b->asm_mu);
  if (!ok)
    part_failed(b, t, SRV_BATCH_ERROR, RT_ERR_NOMEM,
                "out of memory or mismatched output shapes joining the parts of a split request");
}

static void part_finish(srv_batcher *b, const srv_batch_part *pt, srv_batch_result r,
                        rt_status st, const char *msg, const rt_tensor *views, int n) {
  srv_batch_task *t = pt->task;
  if (!t->split) {
    t->status = st;
    t->deliver(t, r, msg, r == SRV_BATCH_OK ? views : NULL, r == SRV_BATCH_OK ? n : 0);
    return;
  }
  if (r == SRV_BATCH_OK)
    part_assemble(b, t, pt, views, n);
  else
    part_failed(b, t, r, st, msg);
  if (atomic_fetch_sub(&t->parts_left, 1) != 1)
    return;
  /* Last part: every other part's writes happened before its decrement. */
  srv_batch_result w = (srv_batch_result)atomic_load(&t->worst);
  rt_tensor *whole = t->assembled;
  void *buf = t->assembled_buf;
  char m[sizeof t->msg];
  snprintf(m, sizeof m, "%s", t->msg);
  t->assembled = NULL;
  t->assembled_buf = NULL;
  t->deliver(t, w, m, w == SRV_BATCH_OK ? whole : NULL, w == SRV_BATCH_OK ? n : 0);
  free(whole);
  free(buf);
}

static const char *dropped_msg(srv_batch_result r) {
  return r == SRV_BATCH_EXPIRED ? "the request's deadline passed while it waited for a batch"
                                : "the request was cancelled while it waited for a batch";
}

static bool grow(void **scratch, size_t *cap, size_t need) {
  if (need <= *cap)
    return true;
  size_t c = *cap ? *cap : 4096;
  while (c < need)
    c *= 2;
  void *p = realloc(*scratch, c);
  if (!p)
    return false;
  *scratch = p;
  *cap = c;
  return true;
}

/* Concatenates and pads `live` (one batch, or one part of a failed batch being re-run alone),
 * runs it and delivers every part. `retry`: a failed run with more than one part re-runs each
 * part by itself instead of failing them all (see srv_batcher_execute). */
static void run_parts(srv_batcher *b, const srv_batch_part *live, int n_live, int rows,
                      int padded, srv_batch_run_fn run, void *ctx, void **scratch,
                      size_t *scratch_cap, bool retry) {
  const srv_batch_task *k = live[0].task;
  int n_in = k->n_in, n_out = b->p.n_outputs;
  size_t hdr = ((size_t)(n_in + 2 * n_out + 1) * sizeof(rt_tensor) + 63) & ~(size_t)63;
  size_t need = hdr;
  for (int i = 0; i < n_in; i++)
    need += (rt_tensor_nbytes(&k->in[i]) / (size_t)k->rows * (size_t)padded + 63) & ~(size_t)63;
  const char *fail = NULL;
  rt_status fail_st = RT_ERR_INTERNAL;
  char msg[512];
  if (!grow(scratch, scratch_cap, need + 64)) {
    fail = "out of memory concatenating a batch";
    fail_st = RT_ERR_NOMEM;
    goto failed;
  }
  rt_tensor *in = *scratch, *outs = in + n_in, *views = outs + n_out;
  const rt_tensor *run_in = in;
  bool whole = n_live == 1 && live[0].row0 == 0 && live[0].rows == k->rows && padded == rows;
  if (whole) {
    run_in = k->in; /* one request, nothing to pad: run on its own tensors */
  } else {
    char *p = (char *)*scratch + hdr;
    for (int i = 0; i < n_in; i++) {
      size_t rb = rt_tensor_nbytes(&k->in[i]) / (size_t)k->rows;
      in[i] = k->in[i];
      in[i].dims[0] = padded;
      in[i].data = p;
      char *dst = p;
      for (int j = 0; j < n_live; j++) {
        const srv_batch_part *pt = &live[j];
        memcpy(dst, (const char *)pt->task->in[i].data + (size_t)pt->row0 * rb,
               (size_t)pt->rows * rb);
        dst += (size_t)pt->rows * rb;
      }
      /* Padding repeats the last real row: real data keeps every op in range. */
      for (int r = rows; r < padded; r++, dst += rb)
        memcpy(dst, dst - rb, rb);
      p += (rb * (size_t)padded + 63) & ~(size_t)63;
    }
  }
  memset(outs, 0, (size_t)n_out * sizeof *outs);
  rt_error err = {0};
  rt_status st = run(ctx, run_in, n_in, outs, &err);
  if (st != RT_OK) {
    if (retry && n_live > 1) {
      /* One request's data (an index out of range, say) fails the whole run, and the error
       * cannot tell which rows caused it. Re-running each request alone fails only the
       * culprit, with the runtime's own message and status; the others get the answers they
       * would have had unbatched. This costs n_live extra runs, but only after a failure. */
      atomic_fetch_add(&b->retried, 1);
      for (int j = 0; j < n_live; j++)
        run_parts(b, &live[j], 1, live[j].rows, padded_size(b, live[j].rows), run, ctx, scratch,
                  scratch_cap, false);
      return;
    }
    snprintf(msg, sizeof msg, "%s", err.msg[0] ? err.msg : rt_status_str(st));
    fail = msg;
    fail_st = st;
    goto failed;
  }
  if (whole) { /* answered as the model gave it, even outputs without a batch dimension */
    part_finish(b, &live[0], SRV_BATCH_OK, RT_OK, "", outs, n_out);
    return;
  }
  for (int o = 0; o < n_out; o++)
    if (outs[o].rank < 1 || outs[o].dims[0] != padded) {
      snprintf(msg, sizeof msg,
               "output %d does not follow the batch (dim 0 is %lld for a batch of %d): this "
               "model cannot be batched; turn --enable_batching off for it",
               o, outs[o].rank < 1 ? 0LL : (long long)outs[o].dims[0], padded);
      fail = msg;
      goto failed;
    }
  int off = 0;
  for (int j = 0; j < n_live; j++) {
    const srv_batch_part *pt = &live[j];
    for (int o = 0; o < n_out; o++) {
      size_t rb = rt_tensor_nbytes(&outs[o]) / (size_t)padded;
      views[o] = outs[o];
      views[o].dims[0] = pt->rows;
      views[o].data = (char *)outs[o].data + (size_t)off * rb;
    }
    off += pt->rows;
    part_finish(b, pt, SRV_BATCH_OK, RT_OK, "", views, n_out);
  }
  return;
failed:
  for (int j = 0; j < n_live; j++)
    part_finish(b, &live[j], SRV_BATCH_ERROR, fail_st, fail, NULL, 0);
}

void srv_batcher_execute(srv_batcher *b, srv_batch *bt, srv_batch_run_fn run, void *ctx,
                         void **scratch, size_t *scratch_cap) {
  for (int i = 0; i < bt->n_dropped; i++) {
    srv_batch_task *t = bt->dropped[i].task;
    srv_batch_result r =
        atomic_load(&t->state) == TASK_CANCELLED ? SRV_BATCH_CANCELLED : SRV_BATCH_EXPIRED;
    part_finish(b, &bt->dropped[i], r, RT_OK, dropped_msg(r), NULL, 0);
  }
  bt->n_dropped = 0;
  if (bt->n_live)
    run_parts(b, bt->live, bt->n_live, bt->rows, bt->padded, run, ctx, scratch, scratch_cap,
              true);
  bt->n_live = 0;
}
