/*
 * threadpool.c — the intra-op threads of one session.
 *
 * A pool of n threads is the caller plus n-1 workers that sleep on a condition variable. A
 * parallel_for publishes one job (fn, ctx, n, chunk), bumps a generation counter and wakes
 * the workers; every participant, the caller included, claims chunks with an atomic counter
 * until none are left, and the caller waits until all workers have finished the generation.
 * Jobs never nest: kernels call parallel_for only from the session's own thread. Nothing is
 * allocated per job.
 */
#include "ops.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct rt_threadpool {
  int n; /* threads including the caller */
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  unsigned long generation;
  int active; /* workers still inside the current generation */
  bool stop;
  /* the current job */
  rt_range_fn fn;
  void *ctx;
  int64_t total, chunk;
  atomic_int_fast64_t next;
};

static void run_chunks(rt_threadpool *tp) {
  for (;;) {
    int64_t b = atomic_fetch_add(&tp->next, tp->chunk);
    if (b >= tp->total)
      return;
    int64_t e = b + tp->chunk < tp->total ? b + tp->chunk : tp->total;
    tp->fn(tp->ctx, b, e);
  }
}

static void *worker(void *arg) {
  rt_threadpool *tp = arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&tp->mu);
  for (;;) {
    while (!tp->stop && tp->generation == seen)
      pthread_cond_wait(&tp->wake, &tp->mu);
    if (tp->stop)
      break;
    seen = tp->generation;
    pthread_mutex_unlock(&tp->mu);
    run_chunks(tp);
    pthread_mutex_lock(&tp->mu);
    if (--tp->active == 0)
      pthread_cond_signal(&tp->done);
  }
  pthread_mutex_unlock(&tp->mu);
  return NULL;
}

rt_status rt__threadpool_create(int n_threads, rt_threadpool **out, rt_error *err) {
  *out = NULL;
  if (n_threads < 1)
    n_threads = 1;
  rt_threadpool *tp = calloc(1, sizeof *tp);
  if (!tp)
    return rt__errorf(err, RT_ERR_NOMEM, "out of memory creating a thread pool");
  tp->n = n_threads;
  pthread_mutex_init(&tp->mu, NULL);
  pthread_cond_init(&tp->wake, NULL);
  pthread_cond_init(&tp->done, NULL);
  tp->threads = calloc((size_t)n_threads, sizeof *tp->threads);
  if (!tp->threads) {
    rt__threadpool_destroy(tp);
    return rt__errorf(err, RT_ERR_NOMEM, "out of memory creating a thread pool");
  }
  for (int i = 0; i < n_threads - 1; i++) {
    if (pthread_create(&tp->threads[i], NULL, worker, tp) != 0) {
      tp->n = i + 1; /* destroy joins the ones that started */
      rt__threadpool_destroy(tp);
      return rt__errorf(err, RT_ERR_NOMEM, "cannot start thread %d of %d", i + 1, n_threads);
    }
  }
  *out = tp;
  return RT_OK;
}

void rt__threadpool_destroy(rt_threadpool *tp) {
  if (!tp)
    return;
  pthread_mutex_lock(&tp->mu);
  tp->stop = true;
  pthread_cond_broadcast(&tp->wake);
  pthread_mutex_unlock(&tp->mu);
  for (int i = 0; tp->threads && i < tp->n - 1; i++)
    pthread_join(tp->threads[i], NULL);
  pthread_cond_destroy(&tp->wake);
  pthread_cond_destroy(&tp->done);
  pthread_mutex_destroy(&tp->mu);
  free(tp->threads);
  free(tp);
}

int rt__threadpool_size(const rt_threadpool *tp) { return tp ? tp->n : 1; }

void rt__parallel_for(rt_threadpool *tp, int64_t n, int64_t grain, rt_range_fn fn, void *ctx) {
  if (n <= 0)
    return;
  if (grain < 1)
    grain = 1;
  if (!tp || tp->n == 1 || n <= grain) {
    fn(ctx, 0, n);
    return;
  }
  /* A few chunks per thread balance uneven work without much claiming traffic. */
  int64_t chunk = (n + (int64_t)tp->n * 4 - 1) / ((int64_t)tp->n * 4);
  if (chunk < grain)
    chunk = grain;
  pthread_mutex_lock(&tp->mu);
  tp->fn = fn;
  tp->ctx = ctx;
  tp->total = n;
  tp->chunk = chunk;
  atomic_store(&tp->next, 0);
  tp->active = tp->n - 1;
  tp->generation++;
  pthread_cond_broadcast(&tp->wake);
  pthread_mutex_unlock(&tp->mu);
  run_chunks(tp);
  pthread_mutex_lock(&tp->mu);
  while (tp->active > 0)
    pthread_cond_wait(&tp->done, &tp->mu);
  pthread_mutex_unlock(&tp->mu);
}
