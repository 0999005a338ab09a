/*
 * workers.c — per-version worker threads over one bounded job queue.
 *
 * The queue is a singly linked FIFO under one mutex; a worker sleeps on a condition variable
 * until a job or close arrives. Job state moves QUEUED -> RUNNING (worker) or QUEUED ->
 * CANCELLED (event loop, on timeout) by compare-and-swap, so exactly one side owns the
 * transition and a cancelled job is handed back without touching the session. Sessions are
 * created and warmed on the creating (model manager) thread so a version only becomes
 * available once every worker can serve at full speed.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "workers.h"
#include "log.h"
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
};

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
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (!p->head && !p->closed)
      pthread_cond_wait(&p->cv, &p->mu);
    srv_job *job = p->head;
    if (!job) { /* closed and drained */
      pthread_mutex_unlock(&p->mu);
      break;
    }
    p->head = job->next;
    if (!p->head)
      p->tail = NULL;
    p->depth--;
    p->running++;
    pthread_mutex_unlock(&p->mu);
    job->next = NULL;
    int expect = SRV_JOB_QUEUED;
    if (atomic_compare_exchange_strong(&job->state, &expect, SRV_JOB_RUNNING)) {
      job->t_started = srv_now();
      job->run(job, p->model, s);
      job->t_finished = srv_now();
      atomic_store(&job->state, SRV_JOB_DONE);
    }
    pthread_mutex_lock(&p->mu);
    p->running--;
    pthread_mutex_unlock(&p->mu);
    job->done(job);
  }
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
  pthread_cond_init(&p->cv, NULL);
  p->n_workers = pp.workers;
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
  srv_pool_close(p);
  for (int i = 0; i < p->n_started; i++)
    pthread_join(p->threads[i], NULL);
  for (int i = 0; p->sessions && i < p->n_workers; i++)
    rt_session_destroy(p->sessions[i]);
  free(p->sessions);
  free(p->threads);
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
