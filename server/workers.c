/*
 * workers.c — per-version worker threads over one bounded job queue.
 *
 * The queue is a singly linked FIFO under one mutex; a worker sleeps on a condition variable
 * until a job or close arrives. Job state moves QUEUED -> RUNNING (worker) or QUEUED ->
 * CANCELLED (event loop, on timeout) by compare-and-swap, so exactly one side owns the
 * transition and a cancelled job is handed back without touching the session. Sessions are
 * created and warmed on the creating (model manager) thread so a version only becomes
 * available once every worker can serve at full speed.
 *
 * Batching: the batcher's queue lives under the pool mutex too, so one condition variable
 * (on CLOCK_MONOTONIC, the clock of srv_now) wakes a worker for a job, a new task, a batch
 * becoming due or close. Every batching pool is listed in its owner's registry for the
 * metrics collector; each pool's counters are read under its own mutex. The recent time per batch
 * and per job (EWMA under the mutex) gives the Retry-After of a queue-full refusal.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "workers.h"
#include "log.h"
#include "metrics.h"
#include "orchard/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct srv_pool {
  const rt_model *model;
  srv_pool_params params;
  char name[128];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  srv_job *head, *tail;
  int depth, running;
  bool closed;
  int n_workers;
  rt_session **sessions;
  pthread_t *threads;
  int n_started;
  srv_batcher *batcher; /* NULL: no batching */
  srv_batch **batches;  /* one per worker */
  char model_label[256], version_label[64];
  srv_pool_registry *registry; /* NULL: not listed */
  srv_pool *reg_next;          /* registry->head list */
  /* Recent seconds per batch / per job on one worker (EWMA, under mu), for Retry-After. */
  double batch_seconds, job_seconds;
};

/* Weight of the newest sample: about the last ten runs count. */
#define EWMA_NEW 0.1

struct srv_pool_registry {
  pthread_mutex_t mu;
  srv_pool *head;
  srv_metrics *metrics;
  /* The collector is registered on the first listed pool, so the collector order in the
   * exposition stays what it was when the registry was process-wide. */
  atomic_flag collector_added;
};

int srv_pool_registry_create(srv_metrics *metrics, srv_pool_registry **out) {
  *out = NULL;
  srv_pool_registry *r = calloc(1, sizeof *r);
  if (!r)
    return -1;
  if (pthread_mutex_init(&r->mu, NULL) != 0) {
    free(r);
    return -1;
  }
  r->metrics = metrics;
  atomic_flag_clear(&r->collector_added);
  *out = r;
  return 0;
}

void srv_pool_registry_destroy(srv_pool_registry *r) {
  if (!r)
    return;
  if (atomic_flag_test_and_set(&r->collector_added))
    srv_metrics_remove_collector(r->metrics, srv_pool_collect_batching, r);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

static rt_status run_session(void *ctx, const rt_tensor *in, int n_in, rt_tensor *out,
                             rt_error *err) {
  return rt_session_run(ctx, in, n_in, out, err);
}

static void cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  if (ts.tv_nsec < 0)
    ts.tv_nsec = 0;
  pthread_cond_timedwait(cv, mu, &ts);
}

typedef struct worker_arg {
  srv_pool *pool;
  int index;
} worker_arg;

double srv_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

srv_pool_params srv_pool_default_params(void) {
  return (srv_pool_params){
      .workers = 1, .intra_op_threads = 1, .queue_capacity = 256, .warmup = true, .name = "model"};
}

static void *worker_main(void *argp) {
  worker_arg wa = *(worker_arg *)argp;
  free(argp);
  srv_pool *p = wa.pool;
  rt_session *s = p->sessions[wa.index];
  srv_batch *bt = p->batches ? p->batches[wa.index] : NULL;
  void *scratch = NULL;
  size_t scratch_cap = 0;
  for (;;) {
    srv_job *job = NULL;
    bool got_batch = false;
    pthread_mutex_lock(&p->mu);
    for (;;) {
      double due = 0;
      if (p->batcher && srv_batcher_take(p->batcher, srv_now(), p->closed, bt, &due)) {
        got_batch = true;
        break;
      }
      if ((job = p->head))
        break;
      if (p->closed && (!p->batcher || srv_batcher_waiting(p->batcher) == 0))
        break;
      if (due > 0)
        cond_wait_until(&p->cv, &p->mu, due);
      else
        pthread_cond_wait(&p->cv, &p->mu);
    }
    if (!job && !got_batch) { /* closed and drained */
      pthread_mutex_unlock(&p->mu);
      break;
    }
    if (job) {
      p->head = job->next;
      if (!p->head)
        p->tail = NULL;
      p->depth--;
    }
    p->running++;
    pthread_mutex_unlock(&p->mu);
    double t_run = srv_now();
    if (got_batch) {
      srv_batcher_execute(p->batcher, bt, run_session, s, &scratch, &scratch_cap);
    } else {
      job->next = NULL;
      int expect = SRV_JOB_QUEUED;
      if (atomic_compare_exchange_strong(&job->state, &expect, SRV_JOB_RUNNING)) {
        job->t_started = srv_now();
        job->run(job, p->model, s);
        job->t_finished = srv_now();
        atomic_store(&job->state, SRV_JOB_DONE);
      }
    }
    t_run = srv_now() - t_run;
    pthread_mutex_lock(&p->mu);
    p->running--;
    double *avg = got_batch ? &p->batch_seconds : &p->job_seconds;
    *avg = *avg > 0 ? *avg + EWMA_NEW * (t_run - *avg) : t_run;
    pthread_mutex_unlock(&p->mu);
    if (job)
      job->done(job);
  }
  free(scratch);
  return NULL;
}

/* One run at the model's fixed shapes (unknown batch dims as 1) so packing, planning and the
 * arena's first touch happen before the first request. Skipped when other dims are unknown:
 * a guessed shape could plan for sizes no client sends. */
static void warm_up(srv_pool *p, rt_session *s) {
  int n = rt_model_num_inputs(p->model), n_out = rt_model_num_outputs(p->model);
  rt_tensor *in = calloc((size_t)n + 1, sizeof *in);
  rt_tensor *out = calloc((size_t)n_out + 1, sizeof *out);
  bool ok = in && out;
  for (int i = 0; ok && i < n; i++) {
    const rt_io_info *io = rt_model_input(p->model, i);
    if (io->rank < 0) {
      ok = false;
      break;
    }
    in[i].dtype = io->dtype;
    in[i].rank = io->rank;
    for (int d = 0; d < io->rank; d++) {
      in[i].dims[d] = io->dims[d] >= 0 ? io->dims[d] : (d == 0 ? 1 : -1);
      if (in[i].dims[d] < 0)
        ok = false;
    }
    if (ok && !(in[i].data = calloc(rt_tensor_nbytes(&in[i]) + 1, 1)))
      ok = false;
  }
  rt_error err = {0};
  if (ok && rt_session_run(s, in, n, out, &err) != RT_OK)
    srv_log_warn("%s: warm-up run failed (the version still serves): %s", p->name, err.msg);
  /* With batching, batches only ever have the allowed sizes: plan them all now. */
  const srv_batcher_params *bp = p->batcher ? srv_batcher_get_params(p->batcher) : NULL;
  for (int a = 0; ok && bp && a < bp->n_allowed; a++) {
    for (int i = 0; i < n; i++)
      if (in[i].rank > 0 && rt_model_input(p->model, i)->dims[0] < 0)
        in[i].dims[0] = bp->allowed[a];
    size_t arena;
    if (rt_session_plan(s, in, n, &arena, &err) != RT_OK) {
      srv_log_warn("%s: planning batch size %d failed (it is planned on first use): %s",
                   p->name, bp->allowed[a], err.msg);
      break;
    }
  }
  for (int i = 0; in && i < n; i++)
    free(in[i].data);
  free(in);
  free(out);
}

rt_status srv_pool_create(const rt_model *m, const srv_pool_params *params, srv_pool **out,
                          rt_error *err) {
  *out = NULL;
  srv_pool_params pp = params ? *params : srv_pool_default_params();
  if (pp.workers < 1 || pp.intra_op_threads < 1 || pp.queue_capacity < 1) {
    snprintf(err->msg, sizeof err->msg, "worker pool: workers, threads and queue must be >= 1");
    err->code = RT_ERR_INVALID_ARG;
    return RT_ERR_INVALID_ARG;
  }
  srv_pool *p = calloc(1, sizeof *p);
  if (!p)
    goto oom;
  p->model = m;
  p->params = pp;
  snprintf(p->name, sizeof p->name, "%s", pp.name ? pp.name : "model");
  p->params.name = p->name;
  pthread_mutex_init(&p->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  p->n_workers = pp.workers;
  p->params.batching = NULL;
  /* Batching concatenates along dim 0, so every input needs an open batch dimension; a
   * model with a fixed one (e.g. [1, 256, 256, 3]) keeps serving one request at a time. */
  bool batchable = pp.batching != NULL;
  for (int i = 0; batchable && i < rt_model_num_inputs(m); i++) {
    const rt_io_info *io = rt_model_input(m, i);
    if (io->rank < 1 || io->dims[0] >= 0) {
      srv_log_info("%s: not batching: input '%s' has no open batch dimension (dim 0)", p->name,
                   io->name);
      batchable = false;
    }
  }
  if (batchable) {
    srv_batcher_params bp;
    char bmsg[256];
    if (srv_batcher_params_from(pp.batching, rt_model_num_outputs(m), &bp, bmsg, sizeof bmsg)) {
      snprintf(err->msg, sizeof err->msg, "%s: batching parameters: %s", p->name, bmsg);
      err->code = RT_ERR_INVALID_ARG;
      srv_pool_destroy(p);
      return RT_ERR_INVALID_ARG;
    }
    if (srv_batcher_create(&bp, &p->batcher) != 0)
      goto oom;
    p->batches = calloc((size_t)pp.workers, sizeof *p->batches);
    if (!p->batches)
      goto oom;
    for (int i = 0; i < pp.workers; i++)
      if (!(p->batches[i] = srv_batch_create(p->batcher)))
        goto oom;
    snprintf(p->model_label, sizeof p->model_label, "%s", pp.model ? pp.model : p->name);
    snprintf(p->version_label, sizeof p->version_label, "%s", pp.version ? pp.version : "");
  }
  p->sessions = calloc((size_t)pp.workers, sizeof *p->sessions);
  p->threads = calloc((size_t)pp.workers, sizeof *p->threads);
  if (!p->sessions || !p->threads)
    goto oom;
  rt_session_params sp = rt_session_default_params();
  sp.intra_op_threads = pp.intra_op_threads;
  for (int i = 0; i < pp.workers; i++) {
    rt_status st = rt_session_create_ex(m, &sp, &p->sessions[i], err);
    if (st != RT_OK) {
      srv_pool_destroy(p);
      return st;
    }
    if (pp.warmup)
      warm_up(p, p->sessions[i]);
  }
  for (int i = 0; i < pp.workers; i++) {
    worker_arg *wa = malloc(sizeof *wa);
    if (!wa)
      goto oom;
    *wa = (worker_arg){p, i};
    if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
      free(wa);
      srv_pool_destroy(p);
      snprintf(err->msg, sizeof err->msg, "%s: cannot start worker thread %d", p->name, i);
      err->code = RT_ERR_INTERNAL;
      return RT_ERR_INTERNAL;
    }
    p->n_started++;
  }
  if (p->batcher && pp.registry) {
    srv_pool_registry *r = pp.registry;
    pthread_mutex_lock(&r->mu);
    p->reg_next = r->head;
    r->head = p;
    p->registry = r;
    pthread_mutex_unlock(&r->mu);
    /* Outside r->mu: rendering calls the collector, which takes r->mu. */
    if (!atomic_flag_test_and_set(&r->collector_added))
      srv_metrics_add_collector(r->metrics, srv_pool_collect_batching, r);
  }
  *out = p;
  return RT_OK;
oom:
  srv_pool_destroy(p);
  snprintf(err->msg, sizeof err->msg, "out of memory creating a worker pool");
  err->code = RT_ERR_NOMEM;
  return RT_ERR_NOMEM;
}

srv_submit srv_pool_submit(srv_pool *p, srv_job *job) {
  job->next = NULL;
  atomic_store(&job->state, SRV_JOB_QUEUED);
  job->t_queued = srv_now();
  pthread_mutex_lock(&p->mu);
  srv_submit r = SRV_SUBMIT_OK;
  if (p->closed)
    r = SRV_SUBMIT_CLOSED;
  else if (p->depth >= p->params.queue_capacity)
    r = SRV_SUBMIT_FULL;
  else {
    if (p->tail)
      p->tail->next = job;
    else
      p->head = job;
    p->tail = job;
    p->depth++;
    pthread_cond_signal(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  return r;
}

bool srv_pool_batching(const srv_pool *p) { return p->batcher != NULL; }

srv_batch_submit srv_pool_submit_task(srv_pool *p, srv_batch_task *t, char *msg, size_t cap) {
  if (!p->batcher) {
    snprintf(msg, cap, "%s: batching is off", p->name);
    return SRV_BATCH_SUBMIT_INVALID;
  }
  pthread_mutex_lock(&p->mu);
  srv_batch_submit r;
  if (p->closed) {
    snprintf(msg, cap, "%s is being unloaded", p->name);
    r = SRV_BATCH_SUBMIT_CLOSED;
  } else {
    r = srv_batcher_submit(p->batcher, t, srv_now(), msg, cap);
  }
  if (r == SRV_BATCH_SUBMIT_OK)
    pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return r;
}

int srv_retry_after_seconds(int queued, double seconds_each, int workers, double floor_s) {
  double s = queued > 0 && seconds_each > 0
                 ? (double)queued * seconds_each / (workers > 0 ? workers : 1)
                 : 0;
  if (s < floor_s)
    s = floor_s;
  if (!(s < 3600)) /* also NaN */
    return 3600;
  int n = (int)s;
  if ((double)n < s)
    n++;
  return n < 1 ? 1 : n;
}

int srv_pool_retry_after(srv_pool *p) {
  pthread_mutex_lock(&p->mu);
  int r;
  if (p->batcher) {
    /* A queued batch also waits out its timeout when it is not full. */
    double timeout = (double)srv_batcher_get_params(p->batcher)->batch_timeout_micros / 1e6;
    r = srv_retry_after_seconds(srv_batcher_waiting(p->batcher) + p->running, p->batch_seconds,
                                p->n_workers, timeout);
  } else {
    r = srv_retry_after_seconds(p->depth + p->running, p->job_seconds, p->n_workers, 0);
  }
  pthread_mutex_unlock(&p->mu);
  return r;
}

const srv_batcher_params *srv_pool_batcher_params(const srv_pool *p) {
  return p->batcher ? srv_batcher_get_params(p->batcher) : NULL;
}

int srv_pool_batches_waiting(srv_pool *p) {
  if (!p->batcher)
    return 0;
  pthread_mutex_lock(&p->mu);
  int n = srv_batcher_waiting(p->batcher);
  pthread_mutex_unlock(&p->mu);
  return n;
}

void srv_pool_collect_batching(srv_buf *b, void *arg) {
  (void)arg;
  srv_buf fam[7];
  for (int i = 0; i < 7; i++)
    srv_buf_init(&fam[i]);
  srv_buf_puts(&fam[0], "# HELP orchard_batch_size Batch sizes run (after padding).\n"
                        "# TYPE orchard_batch_size histogram\n");
  srv_buf_puts(&fam[1], "# HELP orchard_batch_queue_wait_seconds Time a request waited for its "
                        "batch to leave.\n# TYPE orchard_batch_queue_wait_seconds histogram\n");
  srv_buf_puts(&fam[2], "# HELP orchard_batch_padding_fraction Padding rows over all rows run.\n"
                        "# TYPE orchard_batch_padding_fraction gauge\n");
  srv_buf_puts(&fam[3], "# HELP orchard_batch_rejected_total Requests refused: the batching "
                        "queue was full.\n# TYPE orchard_batch_rejected_total counter\n");
  srv_buf_puts(&fam[4], "# HELP orchard_batch_expired_total Requests dropped while queued: "
                        "deadline passed or cancelled.\n# TYPE orchard_batch_expired_total counter\n");
  srv_buf_puts(&fam[5], "# HELP orchard_batch_queued_batches Batches waiting to run.\n"
                        "# TYPE orchard_batch_queued_batches gauge\n");
  srv_buf_puts(&fam[6], "# HELP orchard_batch_retried_total Batches whose run failed and were "
                        "re-run request by request.\n# TYPE orchard_batch_retried_total counter\n");
  srv_pool_registry *r = arg;
  if (r)
    pthread_mutex_lock(&r->mu);
  for (srv_pool *p = r ? r->head : NULL; p; p = p->reg_next) {
    srv_batcher_stats st;
    pthread_mutex_lock(&p->mu);
    srv_batcher_get_stats(p->batcher, &st);
    int waiting = srv_batcher_waiting(p->batcher);
    pthread_mutex_unlock(&p->mu);
    const char *l[] = {"model", p->model_label, "version", p->version_label, NULL};
    char le[32];
    const char *lb[] = {"model", p->model_label, "version", p->version_label, "le", le, NULL};
    int64_t cum = 0;
    for (int i = 0; i < 22; i++) {
      cum += st.size_buckets[i];
      if (i < 21)
        snprintf(le, sizeof le, "%lld", 1LL << i);
      else
        snprintf(le, sizeof le, "+Inf");
      srv_metrics_sample(&fam[0], "orchard_batch_size_bucket", lb, (double)cum);
    }
    srv_metrics_sample(&fam[0], "orchard_batch_size_sum", l, (double)(st.rows + st.padded_rows));
    srv_metrics_sample(&fam[0], "orchard_batch_size_count", l, (double)st.batches);
    cum = 0;
    for (int i = 0; i < 11; i++) {
      cum += st.wait_buckets[i];
      if (i < 10)
        snprintf(le, sizeof le, "%g", SRV_BATCHER_WAIT_BOUNDS[i]);
      else
        snprintf(le, sizeof le, "+Inf");
      srv_metrics_sample(&fam[1], "orchard_batch_queue_wait_seconds_bucket", lb, (double)cum);
    }
    srv_metrics_sample(&fam[1], "orchard_batch_queue_wait_seconds_sum", l, st.wait_seconds_sum);
    srv_metrics_sample(&fam[1], "orchard_batch_queue_wait_seconds_count", l, (double)st.wait_count);
    int64_t all = st.rows + st.padded_rows;
    srv_metrics_sample(&fam[2], "orchard_batch_padding_fraction", l,
                       all ? (double)st.padded_rows / (double)all : 0.0);
    srv_metrics_sample(&fam[3], "orchard_batch_rejected_total", l,
                       (double)(st.rejected + st.too_large));
    srv_metrics_sample(&fam[4], "orchard_batch_expired_total", l,
                       (double)(st.expired + st.cancelled));
    srv_metrics_sample(&fam[5], "orchard_batch_queued_batches", l, waiting);
    srv_metrics_sample(&fam[6], "orchard_batch_retried_total", l, (double)st.retried);
  }
  if (r)
    pthread_mutex_unlock(&r->mu);
  for (int i = 0; i < 7; i++) {
    if (fam[i].data)
      srv_buf_append(b, fam[i].data, fam[i].len);
    srv_buf_free(&fam[i]);
  }
}

bool srv_job_cancel(srv_job *job) {
  int expect = SRV_JOB_QUEUED;
  return atomic_compare_exchange_strong(&job->state, &expect, SRV_JOB_CANCELLED);
}

int srv_pool_depth(srv_pool *p) {
  pthread_mutex_lock(&p->mu);
  int d = p->depth;
  pthread_mutex_unlock(&p->mu);
  return d;
}

int srv_pool_running(srv_pool *p) {
  pthread_mutex_lock(&p->mu);
  int r = p->running;
  pthread_mutex_unlock(&p->mu);
  return r;
}

int srv_pool_workers(const srv_pool *p) { return p->n_workers; }
int srv_pool_intra(const srv_pool *p) { return p->params.intra_op_threads; }

void srv_pool_close(srv_pool *p) {
  pthread_mutex_lock(&p->mu);
  p->closed = true;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void srv_pool_destroy(srv_pool *p) {
  if (!p)
    return;
  if (p->registry) {
    pthread_mutex_lock(&p->registry->mu);
    for (srv_pool **q = &p->registry->head; *q; q = &(*q)->reg_next)
      if (*q == p) {
        *q = p->reg_next;
        break;
      }
    pthread_mutex_unlock(&p->registry->mu);
  }
  srv_pool_close(p);
  for (int i = 0; i < p->n_started; i++)
    pthread_join(p->threads[i], NULL);
  for (int i = 0; p->sessions && i < p->n_workers; i++)
    rt_session_destroy(p->sessions[i]);
  free(p->sessions);
  free(p->threads);
  for (int i = 0; p->batches && i < p->n_workers; i++)
    srv_batch_destroy(p->batches[i]);
  free(p->batches);
  srv_batcher_destroy(p->batcher);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

int srv_cpu_quota(void) { return rt_cpu_count(); }

void srv_pool_decide(int inter, int intra, int cpus, int *inter_out, int *intra_out) {
  if (cpus < 1)
    cpus = 1;
  if (inter <= 0 && intra <= 0) {
    inter = cpus;
    intra = 1;
  } else if (inter <= 0) {
    inter = cpus / intra > 1 ? cpus / intra : 1;
  } else if (intra <= 0) {
    intra = cpus / inter > 1 ? cpus / inter : 1;
  }
  *inter_out = inter;
  *intra_out = intra;
}
