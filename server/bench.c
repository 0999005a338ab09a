/*
 * bench.c — `orchard bench` and `orchard tune`: closed-loop measurements of one loaded model.
 *
 * The model is loaded once and shared; each worker thread owns one session (its arena, its
 * plans, its intra-op pool of T threads) and runs inferences back to back on the same
 * deterministic inputs. Every worker first plans and warms up; only when all are warm does
 * the main thread read RSS (so it counts every arena and every packed weight once) and open
 * the timed window, which each worker leaves after its first run that ends past the deadline.
 * Throughput is total runs over the time until the last worker stops; latencies are pooled
 * over all workers.
 *
 * Workers x threads never exceed rt_cpu_count() unless --oversubscribe: on a 2-CPU cgroup
 * quota, 4 threads only queue and the numbers would describe the scheduler, not Orchard.
 *
 * srv_bench_autotune is tune for `serve --auto_tune`: the same splits, measurement and pick,
 * with short windows and a time budget per model, batch 1 first so a pick always exists.
 */
#include "bench.h"
#include "cli.h"
#include "npy.h"
#include "orchard/cpu.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

srv_bench_params srv_bench_default_params(void) {
  return (srv_bench_params){
      .batch = 1, .workers = 1, .threads = 1, .seconds = 5.0, .warmup_seconds = 0.5};
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- inputs ---- */

static uint32_t fnv1a(const char *s) {
  uint32_t h = 0x811c9dc5u;
  for (const unsigned char *c = (const unsigned char *)s; *c; c++)
    h = (h ^ *c) * 0x01000193u;
  return h;
}

/* mulberry32, as the conformance suite's reference.js uses: small, fast, reproducible. */
static uint32_t mulberry32(uint32_t *a) {
  uint32_t t = (*a += 0x6d2b79f5u);
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return t ^ (t >> 14);
}

static void fill_input(const char *name, rt_tensor *t) {
  char seed_text[600];
  snprintf(seed_text, sizeof seed_text, "bench/%s", name);
  uint32_t st = fnv1a(seed_text);
  int64_t n = rt_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    uint32_t r = mulberry32(&st);
    switch (t->dtype) {
    case RT_DT_F32: ((float *)t->data)[i] = (float)(r >> 8) / 16777216.0f; break;
    case RT_DT_I32: ((int32_t *)t->data)[i] = (int32_t)(r % 256u); break;
    default: ((uint8_t *)t->data)[i] = (uint8_t)(r >> 31); break;
    }
  }
}

void srv_bench_free_inputs(const rt_model *m, rt_tensor *inputs) {
  if (!inputs)
    return;
  for (int i = 0; m && i < rt_model_num_inputs(m); i++)
    free(inputs[i].data);
  free(inputs);
}

/* `*batch` in: the batch wanted, or 0 to take it from the first file (else 1); out: the one
 * used. */
static rt_status make_inputs(const rt_model *m, int *batch, const char *const *files,
                             rt_tensor **out, rt_error *err) {
  int n = rt_model_num_inputs(m);
  rt_tensor *ins = calloc((size_t)n + 1, sizeof *ins);
  *out = NULL;
  if (!ins)
    goto nomem;
  for (int i = 0; files && i < n; i++) {
    if (!files[i])
      continue;
    const rt_io_info *io = rt_model_input(m, i);
    if (srv_npy_read(files[i], io->dtype, &ins[i], err) != RT_OK) {
      char msg[sizeof err->msg];
      snprintf(msg, sizeof msg, "%s", err->msg);
      snprintf(err->msg, sizeof err->msg, "input '%.200s': %.500s", io->name, msg);
      goto fail;
    }
    if (*batch <= 0 && ins[i].rank >= 1)
      *batch = (int)ins[i].dims[0];
  }
  if (*batch <= 0)
    *batch = 1;
  bool placed = false;
  for (int i = 0; i < n; i++) {
    const rt_io_info *io = rt_model_input(m, i);
    bool open_batch = io->rank >= 1 && io->dims[0] < 0;
    if (ins[i].data) {
      if (open_batch && ins[i].rank >= 1 && ins[i].dims[0] != *batch) {
        err->code = RT_ERR_INVALID_ARG;
        snprintf(err->msg, sizeof err->msg, "input '%s': the file has batch %lld, not %d", io->name,
                 (long long)ins[i].dims[0], *batch);
        goto fail;
      }
      placed |= ins[i].rank >= 1 && ins[i].dims[0] == *batch;
      continue;
    }
    srv_cli_default_shape(io, &ins[i]);
    if (open_batch) {
      ins[i].dims[0] = *batch;
      placed = true;
    }
    size_t bytes = rt_tensor_nbytes(&ins[i]);
    ins[i].data = malloc(bytes ? bytes : 1);
    if (!ins[i].data)
      goto nomem;
    fill_input(io->name, &ins[i]);
  }
  if (*batch > 1 && !placed) {
    err->code = RT_ERR_INVALID_ARG;
    snprintf(err->msg, sizeof err->msg,
             "batch %d: no input of the model has an open batch dimension (all are fixed)", *batch);
    goto fail;
  }
  *out = ins;
  return RT_OK;
nomem:
  err->code = RT_ERR_NOMEM;
  snprintf(err->msg, sizeof err->msg, "out of memory making the inputs");
fail:
  srv_bench_free_inputs(m, ins);
  return err->code;
}

rt_status srv_bench_inputs(const rt_model *m, int batch, const char *const *files, rt_tensor **out,
                           rt_error *err) {
  int b = batch < 1 ? 1 : batch;
  return make_inputs(m, &b, files, out, err);
}

/* ---- measuring ---- */

double srv_bench_percentile(const double *sorted, size_t n, double q) {
  if (n == 0)
    return 0;
  if (q <= 0)
    return sorted[0];
  if (q >= 1)
    return sorted[n - 1];
  double pos = q * (double)(n - 1);
  size_t lo = (size_t)pos;
  double frac = pos - (double)lo;
  return lo + 1 < n ? sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac : sorted[lo];
}

size_t srv_bench_rss_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return 0;
  char line[256];
  size_t kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %zu kB", &kb) == 1)
      break;
  fclose(f);
  return kb * 1024;
}

/* The start line: workers check in when warm (`ready`), then wait for `go`, which the main
 * thread raises after reading RSS and fixing the deadline. */
typedef struct bench_shared {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int ready;
  bool go;
  double deadline;
  atomic_int failed;
} bench_shared;

typedef struct bench_worker {
  const rt_model *m;
  const rt_tensor *inputs;
  const srv_bench_params *p;
  bench_shared *sh;
  double *lat_ms;
  size_t n_lat, cap_lat;
  double t_end;
  size_t arena;
  rt_status st;
  rt_error err;
} bench_worker;

static bool push_latency(bench_worker *w, double ms) {
  if (w->n_lat == w->cap_lat) {
    size_t cap = w->cap_lat ? w->cap_lat * 2 : 4096;
    double *p = realloc(w->lat_ms, cap * sizeof *p);
    if (!p)
      return false;
    w->lat_ms = p;
    w->cap_lat = cap;
  }
  w->lat_ms[w->n_lat++] = ms;
  return true;
}

static void *worker_main(void *arg) {
  bench_worker *w = arg;
  const rt_model *m = w->m;
  int n_in = rt_model_num_inputs(m);
  rt_session *s = NULL;
  rt_tensor *outs = calloc((size_t)rt_model_num_outputs(m) + 1, sizeof *outs);
  rt_session_params sp = rt_session_default_params();
  sp.intra_op_threads = w->p->threads;
  if (!outs) {
    w->st = w->err.code = RT_ERR_NOMEM;
    snprintf(w->err.msg, sizeof w->err.msg, "out of memory");
  } else if ((w->st = rt_session_create_ex(m, &sp, &s, &w->err)) == RT_OK &&
             (w->st = rt_session_plan(s, w->inputs, n_in, &w->arena, &w->err)) == RT_OK) {
    double t0 = now_s();
    do
      w->st = rt_session_run(s, w->inputs, n_in, outs, &w->err);
    while (w->st == RT_OK && now_s() - t0 < w->p->warmup_seconds);
    /* Plans made during a run (dynamic shapes) may have grown the arena. */
    w->arena = rt_session_arena_bytes(s);
  }
  if (w->st != RT_OK)
    atomic_store(&w->sh->failed, 1);
  pthread_mutex_lock(&w->sh->mu);
  w->sh->ready++;
  pthread_cond_broadcast(&w->sh->cv);
  while (!w->sh->go)
    pthread_cond_wait(&w->sh->cv, &w->sh->mu);
  pthread_mutex_unlock(&w->sh->mu);
  if (!atomic_load(&w->sh->failed)) {
    for (;;) {
      double t0 = now_s();
      if ((w->st = rt_session_run(s, w->inputs, n_in, outs, &w->err)) != RT_OK) {
        atomic_store(&w->sh->failed, 1);
        break;
      }
      double t1 = now_s();
      if (!push_latency(w, (t1 - t0) * 1e3)) {
        w->st = w->err.code = RT_ERR_NOMEM;
        snprintf(w->err.msg, sizeof w->err.msg, "out of memory recording latencies");
        break;
      }
      w->t_end = t1;
      if (t1 >= w->sh->deadline || atomic_load(&w->sh->failed))
        break;
    }
  }
  rt_session_destroy(s);
  free(outs);
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

rt_status srv_bench_measure(const rt_model *m, const rt_tensor *inputs, const srv_bench_params *p,
                            srv_bench_result *r, rt_error *err) {
  memset(r, 0, sizeof *r);
  if (p->workers < 1 || p->threads < 1 || p->workers > 4096 || p->threads > 1024 ||
      !(p->seconds >= 0) || !(p->warmup_seconds >= 0)) {
    err->code = RT_ERR_INVALID_ARG;
    snprintf(err->msg, sizeof err->msg, "bench: workers %d, threads %d, seconds %g out of range",
             p->workers, p->threads, p->seconds);
    return err->code;
  }
  int nw = p->workers;
  bench_worker *ws = calloc((size_t)nw, sizeof *ws);
  pthread_t *tids = calloc((size_t)nw, sizeof *tids);
  bench_shared sh = {.deadline = 0};
  atomic_init(&sh.failed, 0);
  if (!ws || !tids) {
    free(ws);
    free(tids);
    err->code = RT_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return err->code;
  }
  pthread_mutex_init(&sh.mu, NULL);
  pthread_cond_init(&sh.cv, NULL);
  int started = 0;
  for (; started < nw; started++) {
    ws[started] = (bench_worker){.m = m, .inputs = inputs, .p = p, .sh = &sh};
    if (pthread_create(&tids[started], NULL, worker_main, &ws[started]) != 0) {
      ws[started].st = ws[started].err.code = RT_ERR_INTERNAL;
      snprintf(ws[started].err.msg, sizeof ws[started].err.msg,
               "cannot start worker thread %d of %d", started + 1, nw);
      atomic_store(&sh.failed, 1);
      break;
    }
  }
  pthread_mutex_lock(&sh.mu);
  while (sh.ready < started)
    pthread_cond_wait(&sh.cv, &sh.mu);
  r->rss_bytes = srv_bench_rss_bytes();
  double start = now_s();
  sh.deadline = start + p->seconds;
  sh.go = true;
  pthread_cond_broadcast(&sh.cv);
  pthread_mutex_unlock(&sh.mu);
  for (int i = 0; i < started; i++)
    pthread_join(tids[i], NULL);
  pthread_mutex_destroy(&sh.mu);
  pthread_cond_destroy(&sh.cv);
  if (started < nw)
    nw = started + 1; /* the one that failed to start carries the error */

  rt_status st = RT_OK;
  size_t total = 0;
  double end = start;
  for (int i = 0; i < nw; i++) {
    if (ws[i].st != RT_OK && st == RT_OK) {
      st = ws[i].st;
      *err = ws[i].err;
    }
    total += ws[i].n_lat;
    if (ws[i].t_end > end)
      end = ws[i].t_end;
    if (ws[i].arena > r->arena_bytes_per_worker)
      r->arena_bytes_per_worker = ws[i].arena;
  }
  double *all = st == RT_OK ? malloc((total ? total : 1) * sizeof *all) : NULL;
  if (st == RT_OK && !all) {
    st = err->code = RT_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "out of memory");
  }
  if (st == RT_OK) {
    size_t k = 0;
    double sum = 0;
    for (int i = 0; i < nw; i++)
      for (size_t j = 0; j < ws[i].n_lat; j++)
        sum += (all[k++] = ws[i].lat_ms[j]);
    qsort(all, total, sizeof *all, cmp_double);
    r->batch = p->batch;
    r->workers = p->workers;
    r->threads = p->threads;
    r->runs = (long)total;
    r->seconds = end - start;
    r->inferences_per_s = r->seconds > 0 ? (double)total * p->batch / r->seconds : 0;
    r->p50_ms = srv_bench_percentile(all, total, 0.50);
    r->p90_ms = srv_bench_percentile(all, total, 0.90);
    r->p99_ms = srv_bench_percentile(all, total, 0.99);
    r->mean_ms = total ? sum / (double)total : 0;
    r->min_ms = total ? all[0] : 0;
    r->max_ms = total ? all[total - 1] : 0;
    r->packed_weight_bytes = rt_model_packed_weight_bytes(m);
    rt_error ferr = {0};
    double flops = 0;
    if (rt_model_flops(m, inputs, rt_model_num_inputs(m), &flops, &ferr) == RT_OK) {
      r->flops_per_run = flops;
      r->gflops = r->seconds > 0 ? flops * (double)total / r->seconds / 1e9 : 0;
    }
  }
  free(all);
  for (int i = 0; i < nw; i++)
    free(ws[i].lat_ms);
  free(ws);
  free(tids);
  return st;
}

int srv_bench_pick(const srv_bench_result *rows, int n, double *limit_ms_out) {
  double best_single = -1;
  for (int i = 0; i < n; i++)
    if (rows[i].batch == 1 && (best_single < 0 || rows[i].p99_ms < best_single))
      best_single = rows[i].p99_ms;
  if (limit_ms_out)
    *limit_ms_out = best_single < 0 ? 0 : 2 * best_single;
  if (best_single < 0)
    return -1;
  int pick = -1;
  for (int i = 0; i < n; i++)
    if (rows[i].p99_ms <= 2 * best_single &&
        (pick < 0 || rows[i].inferences_per_s > rows[pick].inferences_per_s))
      pick = i;
  return pick;
}

/* ---- auto-tune (serve --auto_tune) ---- */

int srv_bench_splits(int cpus, int fixed_workers, int fixed_threads, int (*out)[2], int cap) {
  int n = 0;
  if (cpus < 1)
    cpus = 1;
  if (fixed_workers > 0 || fixed_threads > 0) {
    /* One side is pinned: the other fills the CPUs, as srv_pool_decide does. */
    int w =
        fixed_workers > 0 ? fixed_workers : (cpus / fixed_threads > 1 ? cpus / fixed_threads : 1);
    int t = fixed_threads > 0 ? fixed_threads : (cpus / w > 1 ? cpus / w : 1);
    if (cap > 0) {
      out[0][0] = w;
      out[0][1] = t;
      n = 1;
    }
    return n;
  }
  for (int w = 1; w <= cpus && n < cap; w++)
    if (cpus % w == 0) {
      out[n][0] = w;
      out[n++][1] = cpus / w;
    }
  return n;
}

srv_autotune_params srv_autotune_default_params(void) {
  return (srv_autotune_params){.cpus = 1, .budget_seconds = 3.0, .max_extra_batches = 3};
}

/* Up to `cap` sizes from `cand` (increasing, > 1), spread over the list and always ending
 * with its largest: the sizes batching actually pads to. */
static int spread_sizes(const int *cand, int n, int cap, int *out) {
  if (n <= cap) {
    memcpy(out, cand, (size_t)n * sizeof *out);
    return n;
  }
  int k = 0;
  for (int i = 0; i < cap; i++) {
    int idx = (int)((double)(i + 1) * n / cap) - 1;
    if (k == 0 || out[k - 1] != cand[idx])
      out[k++] = cand[idx];
  }
  return k;
}

rt_status srv_bench_autotune(const rt_model *m, const srv_autotune_params *ap,
                             srv_autotune_result *res, rt_error *err) {
  memset(res, 0, sizeof *res);
  double t_begin = now_s();
  int splits[64][2];
  int n_splits = srv_bench_splits(ap->cpus, ap->fixed_workers, ap->fixed_threads, splits, 64);
  res->workers = splits[0][0];
  res->threads = splits[0][1];
  res->batch = 1;
  if (n_splits <= 1) {
    res->measured = false; /* nothing to choose: no time spent */
    return RT_OK;
  }
  /* Batch 1 first: the pick's latency bound comes from it, and it is what a lone request
   * sees. Then a few of the sizes batching pads to. */
  int batches[1 + 16], n_batches = 1;
  batches[0] = 1;
  int cand[SRV_AUTOTUNE_MAX_SIZES], n_cand = 0;
  for (int i = 0; i < ap->n_batch_sizes && n_cand < SRV_AUTOTUNE_MAX_SIZES; i++)
    if (ap->batch_sizes[i] > 1 && (n_cand == 0 || ap->batch_sizes[i] > cand[n_cand - 1]))
      cand[n_cand++] = ap->batch_sizes[i];
  int cap = ap->max_extra_batches < 16 ? ap->max_extra_batches : 16;
  n_batches += spread_sizes(cand, n_cand, cap > 0 ? cap : 0, batches + 1);
  int total = n_batches * n_splits;
  srv_bench_result *rows = calloc((size_t)total, sizeof *rows);
  if (!rows) {
    err->code = RT_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "auto-tune: out of memory");
    return RT_ERR_NOMEM;
  }
  /* Timed windows share about half the budget; plans, sessions and warm-up runs take the
   * rest. A config whose estimated cost no longer fits is skipped rather than overrunning. */
  double budget = ap->budget_seconds > 0 ? ap->budget_seconds : 3.0;
  srv_bench_params p = srv_bench_default_params();
  p.seconds = budget * 0.5 / total;
  if (p.seconds > 0.5)
    p.seconds = 0.5;
  if (p.seconds < 0.02)
    p.seconds = 0.02;
  p.warmup_seconds = p.seconds / 5;
  double cost_b1 = 0; /* slowest batch-1 config so far, whole measure call */
  int n_rows = 0;
  rt_status st = RT_OK;
  for (int b = 0; b < n_batches && st == RT_OK; b++) {
    double left = budget - (now_s() - t_begin);
    if (b > 0 && cost_b1 * batches[b] / 2 > left) {
      res->skipped += n_splits;
      continue;
    }
    rt_tensor *ins = NULL;
    rt_error ierr = {0};
    if (srv_bench_inputs(m, batches[b], NULL, &ins, &ierr) != RT_OK) {
      if (b == 0) {
        *err = ierr;
        st = ierr.code ? ierr.code : RT_ERR_INVALID_ARG;
      }
      res->skipped += n_splits;
      continue;
    }
    for (int c = 0; c < n_splits; c++) {
      left = budget - (now_s() - t_begin);
      if (n_rows > 0 && (b > 0 ? cost_b1 * batches[b] / 2 : cost_b1) > left) {
        res->skipped++;
        continue;
      }
      p.batch = batches[b];
      p.workers = splits[c][0];
      p.threads = splits[c][1];
      double t0 = now_s();
      rt_error merr = {0};
      if (srv_bench_measure(m, ins, &p, &rows[n_rows], &merr) != RT_OK) {
        if (b == 0) { /* batch 1 must run: the model cannot serve otherwise either */
          *err = merr;
          st = merr.code ? merr.code : RT_ERR_INTERNAL;
          break;
        }
        res->skipped++;
        continue;
      }
      double cost = now_s() - t0;
      if (b == 0 && cost > cost_b1)
        cost_b1 = cost;
      n_rows++;
    }
    srv_bench_free_inputs(m, ins);
  }
  if (st == RT_OK) {
    int pick = srv_bench_pick(rows, n_rows, &res->p99_limit_ms);
    if (pick < 0) {
      st = err->code = RT_ERR_INTERNAL;
      snprintf(err->msg, sizeof err->msg, "auto-tune: no batch-1 measurement");
    } else {
      res->measured = true;
      res->workers = rows[pick].workers;
      res->threads = rows[pick].threads;
      res->batch = rows[pick].batch;
      res->inferences_per_s = rows[pick].inferences_per_s;
      res->p99_ms = rows[pick].p99_ms;
      res->configs = n_rows;
    }
  }
  res->seconds = now_s() - t_begin;
  free(rows);
  return st;
}

/* ---- command lines ---- */

/* Matches argv[*i] against "--name value" / "--name=value"; on a match returns the value
 * (NULL and *missing when the value is absent) and advances *i past it. */
static bool flag_is(int argc, char **argv, int *i, const char *name, const char **val,
                    bool *missing) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0)
    return false;
  if (a[n] == '=') {
    *val = a + n + 1;
    return true;
  }
  if (a[n] != 0)
    return false;
  if (*i + 1 >= argc) {
    *missing = true;
    *val = NULL;
    return true;
  }
  *val = argv[++*i];
  return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out) {
  if (!s || !*s)
    return false;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (*end || errno || v < lo || v > hi)
    return false;
  *out = (int)v;
  return true;
}

static bool parse_seconds(const char *s, double *out) {
  if (!s || !*s)
    return false;
  char *end;
  double v = strtod(s, &end);
  if (*end || !(v >= 0) || v > 86400)
    return false;
  *out = v;
  return true;
}

static void print_bytes(FILE *f, size_t b) {
  if (b >= (1u << 20))
    fprintf(f, "%.1f MiB", (double)b / (1 << 20));
  else
    fprintf(f, "%.1f KiB", (double)b / 1024);
}

static json_t *shape_json(const rt_tensor *t) {
  json_t *a = json_array();
  for (int d = 0; d < t->rank; d++)
    json_array_append_new(a, json_integer(t->dims[d]));
  return a;
}

static void print_result(const char *path, const rt_model *m, const rt_tensor *ins,
                         const srv_bench_result *r, int cpus, bool json) {
  int n_in = rt_model_num_inputs(m);
  if (json) {
    json_t *inputs = json_array();
    for (int i = 0; i < n_in; i++)
      json_array_append_new(inputs, json_pack("{s:s, s:s, s:o}", "name", rt_model_input(m, i)->name,
                                              "dtype", rt_dtype_name(ins[i].dtype), "shape",
                                              shape_json(&ins[i])));
    json_t *o = json_pack(
        "{s:s, s:s, s:o, s:i, s:i, s:i, s:i, s:f, s:I, s:f, s:f, "
        "s:{s:f, s:f, s:f, s:f, s:f, s:f}, s:o, s:o, s:I, s:I, s:I}",
        "model", path, "format", rt_model_format(m), "inputs", inputs, "cpu_count", cpus, "batch",
        r->batch, "workers", r->workers, "threads", r->threads, "seconds", r->seconds, "runs",
        (json_int_t)r->runs, "inferences_per_s", r->inferences_per_s, "runs_per_s",
        r->seconds > 0 ? (double)r->runs / r->seconds : 0.0, "latency_ms", "p50", r->p50_ms, "p90",
        r->p90_ms, "p99", r->p99_ms, "mean", r->mean_ms, "min", r->min_ms, "max", r->max_ms,
        "flops_per_run", r->flops_per_run > 0 ? json_real(r->flops_per_run) : json_null(), "gflops",
        r->flops_per_run > 0 ? json_real(r->gflops) : json_null(), "rss_bytes",
        (json_int_t)r->rss_bytes, "packed_weight_bytes", (json_int_t)r->packed_weight_bytes,
        "arena_bytes_per_worker", (json_int_t)r->arena_bytes_per_worker);
    char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
    puts(txt);
    free(txt);
    json_decref(o);
    return;
  }
  printf("model       %s (%s)\n", path, rt_model_format(m));
  for (int i = 0; i < n_in; i++) {
    printf("input       %s %s [", rt_model_input(m, i)->name, rt_dtype_name(ins[i].dtype));
    for (int d = 0; d < ins[i].rank; d++)
      printf("%s%lld", d ? "," : "", (long long)ins[i].dims[d]);
    printf("]\n");
  }
  printf("config      %d worker%s x %d thread%s (%d CPUs), batch %d\n", r->workers,
         r->workers == 1 ? "" : "s", r->threads, r->threads == 1 ? "" : "s", cpus, r->batch);
  printf("runs        %ld in %.2f s\n", r->runs, r->seconds);
  printf("latency     p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  (min %.3f, max %.3f)\n", r->p50_ms,
         r->p90_ms, r->p99_ms, r->min_ms, r->max_ms);
  printf("throughput  %.2f inferences/s\n", r->inferences_per_s);
  if (r->flops_per_run > 0)
    printf("compute     %.3f GFLOP per run, %.2f GFLOP/s\n", r->flops_per_run / 1e9, r->gflops);
  else
    printf("compute     unknown (FLOPs of a graph with control flow depend on data)\n");
  printf("memory      RSS ");
  print_bytes(stdout, r->rss_bytes);
  printf(", packed weights ");
  print_bytes(stdout, r->packed_weight_bytes);
  printf(", arena ");
  print_bytes(stdout, r->arena_bytes_per_worker);
  printf(" per worker\n");
}

/* Resolves --input specs (NAME=FILE, or FILE for a single-input model) into files[]. */
static bool resolve_specs(const char *cmd, const rt_model *m, const char **specs, int n_specs,
                          const char **files) {
  int n_in = rt_model_num_inputs(m);
  for (int i = 0; i < n_specs; i++) {
    const char *spec = specs[i], *eq = strchr(spec, '=');
    int idx = -1;
    const char *file = spec;
    if (eq) {
      char name[512];
      snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
      idx = rt_model_find_input(m, name);
      file = eq + 1;
      if (idx < 0) {
        fprintf(stderr, "orchard %s: --input %s: the model has no input named '%s'\n", cmd, spec,
                name);
        return false;
      }
    } else if (n_in == 1 && n_specs == 1) {
      idx = 0;
    } else {
      fprintf(stderr, "orchard %s: --input %s: the model has %d inputs; use NAME=FILE.npy\n", cmd,
              spec, n_in);
      return false;
    }
    if (files[idx]) {
      fprintf(stderr, "orchard %s: input '%s' given twice\n", cmd, rt_model_input(m, idx)->name);
      return false;
    }
    files[idx] = file;
  }
  return true;
}

static const char BENCH_USAGE[] =
    "usage: orchard bench MODEL [--batch B] [--workers N] [--threads T] [--seconds S]\n"
    "                           [--warmup S] [--input NAME=FILE.npy ...] [--oversubscribe]\n"
    "                           [--json]\n";

int srv_bench_main(int argc, char **argv) {
  const char *model_path = NULL;
  const char **specs = calloc((size_t)argc + 1, sizeof *specs);
  int n_specs = 0, rc = 2, batch = 0, cpus = rt_cpu_count();
  bool json = false, oversubscribe = false, threads_set = false;
  srv_bench_params p = srv_bench_default_params();
  rt_model *m = NULL;
  rt_tensor *ins = NULL;
  const char **files = NULL;
  rt_error err = {0};
  if (!specs)
    return 1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    bool missing = false, ok = true;
    if (!strcmp(a, "--json"))
      json = true;
    else if (!strcmp(a, "--oversubscribe"))
      oversubscribe = true;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(BENCH_USAGE, stdout);
      rc = 0;
      goto done;
    } else if (flag_is(argc, argv, &i, "--batch", &v, &missing))
      ok = parse_int(v, 1, 1 << 16, &batch);
    else if (flag_is(argc, argv, &i, "--workers", &v, &missing))
      ok = parse_int(v, 1, 4096, &p.workers);
    else if (flag_is(argc, argv, &i, "--threads", &v, &missing))
      ok = threads_set = parse_int(v, 1, 1024, &p.threads);
    else if (flag_is(argc, argv, &i, "--seconds", &v, &missing))
      ok = parse_seconds(v, &p.seconds);
    else if (flag_is(argc, argv, &i, "--warmup", &v, &missing))
      ok = parse_seconds(v, &p.warmup_seconds);
    else if (flag_is(argc, argv, &i, "--input", &v, &missing))
      ok = v && (specs[n_specs++] = v);
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "orchard bench: unknown flag '%s'\n%s", a, BENCH_USAGE);
      goto done;
    } else if (!model_path)
      model_path = a;
    else {
      fprintf(stderr, "orchard bench: unexpected argument '%s'\n%s", a, BENCH_USAGE);
      goto done;
    }
    if (missing || !ok) {
      fprintf(stderr, "orchard bench: %s: %s\n", a,
              missing ? "needs a value" : "bad value (see --help for the ranges)");
      goto done;
    }
  }
  if (!model_path) {
    fputs(BENCH_USAGE, stderr);
    goto done;
  }
  /* Default: one worker using every CPU; with N workers, the CPUs split between them. */
  if (!threads_set)
    p.threads = cpus / p.workers > 1 ? cpus / p.workers : 1;
  if ((long)p.workers * p.threads > cpus && !oversubscribe) {
    fprintf(stderr,
            "orchard bench: --workers %d x --threads %d = %ld threads exceed the %d CPU%s this "
            "process may use (affinity and cgroup CPU quota); pass --oversubscribe to force\n",
            p.workers, p.threads, (long)p.workers * p.threads, cpus, cpus == 1 ? "" : "s");
    goto done;
  }
  rc = 1;
  if (rt_model_load(model_path, NULL, &m, &err) != RT_OK) {
    fprintf(stderr, "orchard bench: %s\n", err.msg);
    goto done;
  }
  files = calloc((size_t)rt_model_num_inputs(m) + 1, sizeof *files);
  if (!files || !resolve_specs("bench", m, specs, n_specs, files))
    goto done;
  if (make_inputs(m, &batch, files, &ins, &err) != RT_OK) {
    fprintf(stderr, "orchard bench: %s\n", err.msg);
    goto done;
  }
  p.batch = batch;
  srv_bench_result r;
  if (srv_bench_measure(m, ins, &p, &r, &err) != RT_OK) {
    fprintf(stderr, "orchard bench: %s\n", err.msg);
    goto done;
  }
  print_result(model_path, m, ins, &r, cpus, json);
  rc = 0;
done:
  srv_bench_free_inputs(m, ins);
  free(files);
  free(specs);
  rt_model_destroy(m);
  return rc;
}

/* ---- tune ---- */

static const char TUNE_USAGE[] =
    "usage: orchard tune MODEL [--seconds-per-config S] [--batches 1,4,8] [--json]\n";

/* Parses "1,4,8" into out (sorted, unique, batch 1 always in: the pick's latency bound is
 * measured there). */
static int parse_batches(const char *s, int *out, int cap) {
  int n = 0;
  out[n++] = 1;
  while (s && *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno || v < 1 || v > (1 << 16) || (*end && *end != ','))
      return -1;
    bool dup = false;
    for (int i = 0; i < n; i++)
      dup |= out[i] == (int)v;
    if (!dup) {
      if (n == cap)
        return -1;
      int j = n++;
      while (j > 0 && out[j - 1] > (int)v) {
        out[j] = out[j - 1];
        j--;
      }
      out[j] = (int)v;
    }
    s = *end ? end + 1 : end;
  }
  return n;
}

int srv_bench_tune_main(int argc, char **argv) {
  const char *model_path = NULL;
  int batches[32], n_batches = parse_batches("1,4,8", batches, 32), rc = 2;
  int cpus = rt_cpu_count();
  bool json = false;
  srv_bench_params p = srv_bench_default_params();
  p.seconds = 2.0;
  rt_model *m = NULL;
  srv_bench_result *rows = NULL;
  rt_error err = {0};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    bool missing = false, ok = true;
    if (!strcmp(a, "--json"))
      json = true;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(TUNE_USAGE, stdout);
      return 0;
    } else if (flag_is(argc, argv, &i, "--seconds-per-config", &v, &missing))
      ok = parse_seconds(v, &p.seconds);
    else if (flag_is(argc, argv, &i, "--batches", &v, &missing))
      ok = (n_batches = parse_batches(v, batches, 32)) > 0;
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "orchard tune: unknown flag '%s'\n%s", a, TUNE_USAGE);
      return 2;
    } else if (!model_path)
      model_path = a;
    else {
      fprintf(stderr, "orchard tune: unexpected argument '%s'\n%s", a, TUNE_USAGE);
      return 2;
    }
    if (missing || !ok) {
      fprintf(stderr, "orchard tune: %s: %s\n", a,
              missing ? "needs a value" : "bad value (e.g. --batches 1,4,8)");
      return 2;
    }
  }
  if (!model_path) {
    fputs(TUNE_USAGE, stderr);
    return 2;
  }
  /* Warm-up scales with the window so a quick tune stays quick; one run happens anyway. */
  p.warmup_seconds = p.seconds / 5 < 0.5 ? p.seconds / 5 : 0.5;
  rc = 1;
  if (rt_model_load(model_path, NULL, &m, &err) != RT_OK) {
    fprintf(stderr, "orchard tune: %s\n", err.msg);
    goto done;
  }
  /* Every split of the CPUs into workers x threads with nothing left idle. */
  int splits[64][2];
  int n_splits = srv_bench_splits(cpus, 0, 0, splits, 64);
  rows = calloc((size_t)n_splits * (size_t)n_batches + 1, sizeof *rows);
  if (!rows)
    goto done;
  int n_rows = 0;
  json_t *skipped = json_array();
  for (int b = 0; b < n_batches; b++) {
    rt_tensor *ins = NULL;
    if (srv_bench_inputs(m, batches[b], NULL, &ins, &err) != RT_OK) {
      if (batches[b] == 1) {
        fprintf(stderr, "orchard tune: %s\n", err.msg);
        json_decref(skipped);
        goto done;
      }
      fprintf(stderr, "orchard tune: skipping batch %d: %s\n", batches[b], err.msg);
      json_array_append_new(skipped, json_integer(batches[b]));
      continue;
    }
    for (int c = 0; c < n_splits; c++) {
      p.batch = batches[b];
      p.workers = splits[c][0];
      p.threads = splits[c][1];
      srv_bench_result *r = &rows[n_rows];
      if (srv_bench_measure(m, ins, &p, r, &err) != RT_OK) {
        fprintf(stderr, "orchard tune: %dx%d batch %d: %s\n", p.workers, p.threads, p.batch,
                err.msg);
        srv_bench_free_inputs(m, ins);
        json_decref(skipped);
        goto done;
      }
      fprintf(stderr, "orchard tune: %dx%d batch %-3d %10.2f inferences/s  p99 %.3f ms\n",
              p.workers, p.threads, p.batch, r->inferences_per_s, r->p99_ms);
      n_rows++;
    }
    srv_bench_free_inputs(m, ins);
  }
  double limit = 0;
  int pick = srv_bench_pick(rows, n_rows, &limit);
  if (json) {
    json_t *list = json_array();
    for (int i = 0; i < n_rows; i++)
      json_array_append_new(
          list, json_pack("{s:i, s:i, s:i, s:f, s:{s:f, s:f, s:f}, s:I}", "workers",
                          rows[i].workers, "threads", rows[i].threads, "batch", rows[i].batch,
                          "inferences_per_s", rows[i].inferences_per_s, "latency_ms", "p50",
                          rows[i].p50_ms, "p90", rows[i].p90_ms, "p99", rows[i].p99_ms,
                          "arena_bytes_per_worker", (json_int_t)rows[i].arena_bytes_per_worker));
    json_t *o = json_pack("{s:s, s:i, s:f, s:o, s:o, s:f}", "model", model_path, "cpu_count", cpus,
                          "seconds_per_config", p.seconds, "rows", list, "skipped_batches", skipped,
                          "p99_limit_ms", limit);
    if (pick >= 0)
      json_object_set_new(o, "pick",
                          json_pack("{s:i, s:i, s:i, s:f, s:f}", "workers", rows[pick].workers,
                                    "threads", rows[pick].threads, "batch", rows[pick].batch,
                                    "inferences_per_s", rows[pick].inferences_per_s, "p99_ms",
                                    rows[pick].p99_ms));
    char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
    puts(txt);
    free(txt);
    json_decref(o);
  } else {
    json_decref(skipped);
    printf("%-8s %6s %14s %10s %10s\n", "config", "batch", "inferences/s", "p50 ms", "p99 ms");
    for (int i = 0; i < n_rows; i++) {
      char cfg[32];
      snprintf(cfg, sizeof cfg, "%dx%d", rows[i].workers, rows[i].threads);
      printf("%-8s %6d %14.2f %10.3f %10.3f%s\n", cfg, rows[i].batch, rows[i].inferences_per_s,
             rows[i].p50_ms, rows[i].p99_ms, i == pick ? "  <- pick" : "");
    }
    printf("config = workers (inter-op) x threads (intra-op) on %d CPU%s; p99 limit %.3f ms "
           "(2x the best batch-1 p99)\n",
           cpus, cpus == 1 ? "" : "s", limit);
    if (pick >= 0)
      printf("pick: %d worker%s x %d thread%s, batch %d: %.2f inferences/s, p99 %.3f ms\n"
             "serve with: --tensorflow_inter_op_parallelism %d "
             "--tensorflow_intra_op_parallelism %d%s\n",
             rows[pick].workers, rows[pick].workers == 1 ? "" : "s", rows[pick].threads,
             rows[pick].threads == 1 ? "" : "s", rows[pick].batch, rows[pick].inferences_per_s,
             rows[pick].p99_ms, rows[pick].workers, rows[pick].threads,
             rows[pick].batch > 1 ? " --enable_batching (max_batch_size = the pick's batch)" : "");
  }
  rc = 0;
done:
  free(rows);
  rt_model_destroy(m);
  return rc;
}
