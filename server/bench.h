/*
 * bench.h — `orchard bench` (closed-loop throughput and latency of one model on N workers x T
 * intra-op threads) and `orchard tune` (every workers x threads split of the CPUs at a few
 * batch sizes, and the pick). The measuring core is exposed for tests.
 *
 * Counting: a *run* is one rt_session_run call on a batch of B examples; an *inference* is one
 * example, so inferences/s = B x runs/s and is comparable across batch sizes. Latencies are
 * per run.
 */
#ifndef ORCHARD_SRV_BENCH_H
#define ORCHARD_SRV_BENCH_H

#include "orchard/rt.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_bench_params {
  int batch;             /* examples per run (reported; the inputs already have it) */
  int workers;           /* sessions running at once, one thread each */
  int threads;           /* intra-op threads per session */
  double seconds;        /* timed phase */
  double warmup_seconds; /* per worker before timing; at least one run either way */
} srv_bench_params;

srv_bench_params srv_bench_default_params(void);

typedef struct srv_bench_result {
  int batch, workers, threads;
  long runs;               /* timed runs over all workers */
  double seconds;          /* wall time of the timed phase */
  double inferences_per_s; /* runs * batch / seconds */
  double p50_ms, p90_ms, p99_ms, mean_ms, min_ms, max_ms;
  double flops_per_run; /* 0 when unknown (control flow) */
  double gflops;        /* flops_per_run * runs / seconds / 1e9; 0 when unknown */
  size_t rss_bytes;     /* VmRSS after every worker warmed up, before timing */
  size_t packed_weight_bytes;
  size_t arena_bytes_per_worker;
} srv_bench_result;

/* Deterministic inputs for m: unknown dims as srv_cli_default_shape with dim 0 = batch;
 * float32 uniform in [0,1), int32 in [0,255], bool 0/1, from a PRNG seeded by the input name
 * (mulberry32 of FNV-1a("bench/<name>")). `files[i]` (NULL = generate) is an .npy path that
 * replaces input i. Fails when batch > 1 and no input has an unknown dim 0 to put it in, or
 * when a file's dim 0 is not `batch`. *out is calloc'd; free with srv_bench_free_inputs. */
rt_status srv_bench_inputs(const rt_model *m, int batch, const char *const *files, rt_tensor **out,
                           rt_error *err);
void srv_bench_free_inputs(const rt_model *m, rt_tensor *inputs);

/* Loads nothing, plans per worker, warms up, measures. The model is shared by all workers. */
rt_status srv_bench_measure(const rt_model *m, const rt_tensor *inputs, const srv_bench_params *p,
                            srv_bench_result *r, rt_error *err);

/* Linear interpolation between closest ranks (numpy's default) of sorted[0..n); 0 if n = 0. */
double srv_bench_percentile(const double *sorted, size_t n, double q);

/* tune's pick among rows: the best inferences/s whose p99 is within 2x the best single-
 * inference latency (the lowest p99 among batch-1 rows). -1 when there is no batch-1 row. */
int srv_bench_pick(const srv_bench_result *rows, int n, double *limit_ms_out);

/* The workers x threads splits tune measures: every w x (cpus / w) with w dividing cpus, or,
 * when one side is fixed (> 0), the single split where the other fills the CPUs. Returns
 * how many were written to out (at most cap). */
int srv_bench_splits(int cpus, int fixed_workers, int fixed_threads, int (*out)[2], int cap);

/* `serve --auto_tune`: tune's measurement and pick, bounded in time, for one loaded model. */
#define SRV_AUTOTUNE_MAX_SIZES 64
typedef struct srv_autotune_params {
  int cpus;                         /* rt_cpu_count() */
  int fixed_workers, fixed_threads; /* > 0: given explicitly, not tuned */
  const int *batch_sizes;           /* sizes batching pads to (allowed sizes or max_batch_size); */
  int n_batch_sizes;                /* none without batching: batch 1 only */
  int max_extra_batches; /* at most this many of them are measured, spread, largest kept */
  double budget_seconds; /* whole tune, sessions and warm-up included (best effort) */
} srv_autotune_params;
srv_autotune_params srv_autotune_default_params(void);

typedef struct srv_autotune_result {
  bool measured;               /* false: one split only, nothing was run */
  int workers, threads, batch; /* the pick (batch: the row it came from) */
  double inferences_per_s, p99_ms, p99_limit_ms;
  int configs, skipped; /* configs measured; skipped to stay in the budget or unplannable */
  double seconds;       /* time spent */
} srv_autotune_result;

/* Measures batch 1 on every split, then the larger sizes while the budget lasts (a config
 * whose cost, estimated from batch 1, would overrun is skipped), and picks as tune does
 * (srv_bench_pick). Fails only when batch 1 cannot run. */
rt_status srv_bench_autotune(const rt_model *m, const srv_autotune_params *p,
                             srv_autotune_result *out, rt_error *err);

/* VmRSS of this process in bytes (0 if unknown). */
size_t srv_bench_rss_bytes(void);

/* The subcommands: arguments after the command name; return the exit code. */
int srv_bench_main(int argc, char **argv);
int srv_bench_tune_main(int argc, char **argv);

#endif
