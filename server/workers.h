/*
 * workers.h — the worker pool of one model version: `workers` threads, each with its own
 * rt_session (arena, plans, `intra_op_threads` compute threads) over the version's shared,
 * read-only rt_model, fed by one bounded FIFO of jobs.
 *
 * A job is run on some worker and then handed back through job->done on that worker thread
 * (done posts it to the event loop). A job cancelled while still queued is handed back
 * without running. Closing a pool refuses new jobs; the workers finish everything already
 * queued, then exit. Outputs a job reads from the session are valid only inside job->run.
 *
 * With batching (params.batching), the same workers also serve a batcher (batcher.h): a
 * decoded request is submitted as a srv_batch_task; workers take ready batches before jobs,
 * sleep until the next batch is due, and deliver each task its rows on the worker thread.
 * Closing drains the batcher at once (waiting batches leave without their timeout).
 *
 * Batching pools list themselves in a srv_pool_registry (params.registry) their owner keeps
 * (the model manager); the registry's one collector renders every listed pool's batching
 * metrics, so each family's # HELP / # TYPE appears once however many pools batch.
 */
#ifndef ORCHARD_SRV_WORKERS_H
#define ORCHARD_SRV_WORKERS_H

#include "batcher.h"
#include "buf.h"
#include "config.h"
#include "metrics.h"
#include "orchard/rt.h"

#include <stdatomic.h>
#include <stdbool.h>

typedef enum srv_job_state {
  SRV_JOB_QUEUED = 0,
  SRV_JOB_RUNNING,
  SRV_JOB_CANCELLED,
  SRV_JOB_DONE
} srv_job_state;

typedef struct srv_job srv_job;
struct srv_job {
  void (*run)(srv_job *job, const rt_model *m, rt_session *s); /* on a worker */
  void (*done)(srv_job *job); /* on the worker, after run or instead of it when cancelled */
  void *arg;
  atomic_int state;                       /* srv_job_state */
  double t_queued, t_started, t_finished; /* srv_now() */
  srv_job *next;                          /* queue link, owned by the pool while queued */
};

typedef struct srv_pool srv_pool;
typedef struct srv_pool_registry srv_pool_registry;

/* The batching pools of one owner, for the batching metrics. metrics NULL: pools are listed
 * but nothing is registered. Returns 0, or -1 when out of memory. */
int srv_pool_registry_create(srv_metrics *metrics, srv_pool_registry **out);
/* After every pool listed in it has been destroyed; unregisters the collector. NULL-safe. */
void srv_pool_registry_destroy(srv_pool_registry *r);

typedef struct srv_pool_params {
  int workers;          /* >= 1 */
  int intra_op_threads; /* >= 1 */
  int queue_capacity;   /* >= 1 */
  bool warmup;          /* run each session once at the model's fixed shapes first */
  const char *name;     /* for logs */
  /* NULL: no batching. Copied at create; the pointer need not outlive the call. */
  const srv_batching_params *batching;
  const char *model, *version; /* metric labels of the batching metrics (default: name, "") */
  /* A batching pool lists itself here while it lives; NULL: its batching metrics are not
   * collected. Must outlive the pool. */
  srv_pool_registry *registry;
} srv_pool_params;

srv_pool_params srv_pool_default_params(void);

/* Creates the sessions (and warms them up) on the calling thread, then starts the workers. */
rt_status srv_pool_create(const rt_model *m, const srv_pool_params *p, srv_pool **out,
                          rt_error *err);

typedef enum srv_submit {
  SRV_SUBMIT_OK = 0,
  SRV_SUBMIT_FULL,  /* queue at capacity */
  SRV_SUBMIT_CLOSED /* version is being retired */
} srv_submit;
srv_submit srv_pool_submit(srv_pool *p, srv_job *job);

/* Queues a decoded request for batching (only when srv_pool_batching). OK: deliver will be
 * called exactly once, on a worker; else msg says why (FULL: retry later, 429/503). */
bool srv_pool_batching(const srv_pool *p);
srv_batch_submit srv_pool_submit_task(srv_pool *p, srv_batch_task *t, char *msg, size_t cap);
/* Retry-After for a refusal because the queue is full: seconds until the work queued now
 * (batches with batching, else jobs, plus the ones running) has gone through the workers at
 * their recent pace, at least the batch timeout, rounded up, 1 .. 3600. */
int srv_pool_retry_after(srv_pool *p);
/* The arithmetic of srv_pool_retry_after: ceil(max(queued x seconds_each / workers,
 * floor_s)) within 1 .. 3600; a pace of 0 (nothing measured yet) counts as floor_s. */
int srv_retry_after_seconds(int queued, double seconds_each, int workers, double floor_s);
/* The batcher's effective parameters; NULL when the pool does not batch (batching off, or
 * the model has no open batch dimension). */
const srv_batcher_params *srv_pool_batcher_params(const srv_pool *p);
/* Batches waiting (0 without batching). */
int srv_pool_batches_waiting(srv_pool *p);
/* Prometheus collector of every batching pool listed in the registry `arg`; the registry
 * registers it with its srv_metrics when the first batching pool is listed. Families,
 * labelled by model and version: orchard_batch_size (histogram, padded sizes),
 * orchard_batch_queue_wait_seconds (histogram), orchard_batch_padding_fraction,
 * orchard_batch_rejected_total (queue full or too large),
 * orchard_batch_expired_total (deadline passed or cancelled while queued),
 * orchard_batch_queued_batches, orchard_batch_retried_total (batches whose run failed and were
 * re-run request by request, batcher.c). */
void srv_pool_collect_batching(srv_buf *b, void *arg);

/* Marks a queued job cancelled; true if it had not started (it will come back unrun). */
bool srv_job_cancel(srv_job *job);

int srv_pool_depth(srv_pool *p);   /* queued, not yet running */
int srv_pool_running(srv_pool *p); /* on a worker right now */
int srv_pool_workers(const srv_pool *p);
int srv_pool_intra(const srv_pool *p);
void srv_pool_close(srv_pool *p);
/* Closes, waits for the queue to drain and the workers to exit, frees. NULL-safe. */
void srv_pool_destroy(srv_pool *p);

/* CPUs this process may use (rt_cpu_count: affinity mask bounded by the cgroup quota). */
int srv_cpu_quota(void);
/* Resolves 0 ("decide") in --tensorflow_inter/intra_op_parallelism against `cpus`: both 0
 * gives one single-threaded worker per CPU (throughput first); one 0 fills the CPUs. */
void srv_pool_decide(int inter, int intra, int cpus, int *inter_out, int *intra_out);

/* Monotonic seconds. */
double srv_now(void);

#endif
