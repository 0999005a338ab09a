/*
 * test_bench.c — `orchard bench` / `orchard tune`: the percentile and pick rules, the
 * deterministic inputs (batch placement, fixed-batch models, .npy overrides), the measuring
 * core on a small MatMul model with several workers, and the two subcommands end to end
 * through the binary (JSON keys design.md pins, the no-oversubscription rule, tune's table).
 */
#include "bench.h"
#include "npy.h"
#include "orchard/cpu.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[256];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/orchard-bench-XXXXXX");
  cr_assert(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(bench, .init = setup, .fini = teardown);

/* y = MatMul(x, w) with x [batch_dim, 64] and w a 64x64 weight (w.bin), in <dir>/<sub>/. */
static void write_matmul_model(const char *sub, const char *batch_dim) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, sub);
  cr_assert_eq(mkdir(path, 0755), 0);
  snprintf(path, sizeof path, "%s/%s/w.bin", dir, sub);
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  for (int i = 0; i < 64 * 64; i++) {
    float v = (float)((i * 7) % 13) / 13.0f;
    fwrite(&v, sizeof v, 1, f);
  }
  fclose(f);
  snprintf(path, sizeof path, "%s/%s/model.json", dir, sub);
  f = fopen(path, "w");
  cr_assert(f);
  fprintf(f,
          "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
          "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"
          "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"%s\"},{\"size\":\"64\"}]}}}},"
          "{\"name\":\"w\",\"op\":\"Const\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"}}},"
          "{\"name\":\"y\",\"op\":\"MatMul\",\"input\":[\"x\",\"w\"],\"attr\":{"
          "\"transpose_a\":{\"b\":false},\"transpose_b\":{\"b\":false}}}]},"
          "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
          "{\"name\":\"w\",\"shape\":[64,64],\"dtype\":\"float32\"}]}]}",
          batch_dim);
  fclose(f);
}

static rt_model *load(const char *sub) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, sub);
  rt_model *m = NULL;
  rt_error err = {0};
  cr_assert_eq(rt_model_load(path, NULL, &m, &err), RT_OK, "%s", err.msg);
  return m;
}

/* Expected values are numpy.percentile(a, q) (linear interpolation, numpy's default). */
Test(bench, percentile_interpolates_like_numpy) {
  const double a[] = {1, 2, 3, 4};
  cr_assert_float_eq(srv_bench_percentile(a, 4, 0.50), 2.5, 1e-12);
  cr_assert_float_eq(srv_bench_percentile(a, 4, 0.90), 3.7, 1e-12);
  cr_assert_float_eq(srv_bench_percentile(a, 4, 0.99), 3.97, 1e-12);
  cr_assert_float_eq(srv_bench_percentile(a, 4, 0.0), 1.0, 0);
  cr_assert_float_eq(srv_bench_percentile(a, 4, 1.0), 4.0, 0);
  const double one[] = {7.5};
  cr_assert_float_eq(srv_bench_percentile(one, 1, 0.99), 7.5, 0);
  cr_assert_float_eq(srv_bench_percentile(NULL, 0, 0.5), 0.0, 0);
}

static srv_bench_result row(int w, int t, int b, double ips, double p99) {
  return (srv_bench_result){
      .workers = w, .threads = t, .batch = b, .inferences_per_s = ips, .p99_ms = p99};
}

Test(bench, pick_is_best_throughput_within_twice_the_best_single_latency) {
  srv_bench_result rows[] = {
      row(1, 2, 1, 100, 10.0), /* best batch-1 p99: 10 ms -> limit 20 ms */
      row(2, 1, 1, 150, 19.0), /* within */
      row(1, 2, 8, 400, 60.0), /* fastest but far too slow per request */
      row(2, 1, 4, 180, 20.0), /* exactly on the limit: allowed */
      row(2, 1, 8, 300, 20.5), /* just over */
  };
  double limit = 0;
  cr_assert_eq(srv_bench_pick(rows, 5, &limit), 3);
  cr_assert_float_eq(limit, 20.0, 1e-12);
  /* The best single-inference latency is the lowest p99 of *batch-1* rows only. */
  srv_bench_result rows2[] = {row(1, 2, 4, 500, 5.0), row(1, 2, 1, 80, 30.0),
                              row(2, 1, 1, 120, 55.0)};
  cr_assert_eq(srv_bench_pick(rows2, 3, &limit), 0);
  cr_assert_float_eq(limit, 60.0, 1e-12);
  srv_bench_result rows3[] = {row(1, 2, 4, 500, 5.0)};
  cr_assert_eq(srv_bench_pick(rows3, 1, &limit), -1);
  cr_assert_eq(srv_bench_pick(NULL, 0, NULL), -1);
}

Test(bench, inputs_are_deterministic_and_take_the_batch) {
  write_matmul_model("m", "-1");
  rt_model *m = load("m");
  rt_tensor *a = NULL, *b = NULL;
  rt_error err = {0};
  cr_assert_eq(srv_bench_inputs(m, 3, NULL, &a, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(srv_bench_inputs(m, 3, NULL, &b, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(a[0].rank, 2);
  cr_assert_eq(a[0].dims[0], 3);
  cr_assert_eq(a[0].dims[1], 64);
  cr_assert_eq(memcmp(a[0].data, b[0].data, 3 * 64 * sizeof(float)), 0);
  const float *x = a[0].data;
  int distinct = 0;
  for (int i = 0; i < 3 * 64; i++) {
    cr_assert(x[i] >= 0.0f && x[i] < 1.0f);
    distinct += i > 0 && x[i] != x[i - 1];
  }
  cr_assert(distinct > 150, "values look constant (%d changes)", distinct);
  srv_bench_free_inputs(m, a);
  srv_bench_free_inputs(m, b);
  rt_model_destroy(m);
}

Test(bench, fixed_batch_models_refuse_a_bigger_batch) {
  write_matmul_model("fixed", "1");
  rt_model *m = load("fixed");
  rt_tensor *a = NULL;
  rt_error err = {0};
  cr_assert_eq(srv_bench_inputs(m, 1, NULL, &a, &err), RT_OK, "%s", err.msg);
  srv_bench_free_inputs(m, a);
  a = NULL;
  cr_assert_eq(srv_bench_inputs(m, 4, NULL, &a, &err), RT_ERR_INVALID_ARG);
  cr_assert(strstr(err.msg, "batch 4"), "%s", err.msg);
  cr_assert_null(a);
  rt_model_destroy(m);
}

Test(bench, npy_file_replaces_a_generated_input) {
  write_matmul_model("m", "-1");
  rt_model *m = load("m");
  float x[2 * 64];
  for (int i = 0; i < 2 * 64; i++)
    x[i] = (float)i;
  rt_tensor t = {.dtype = RT_DT_F32, .rank = 2, .dims = {2, 64}, .data = x};
  char path[512];
  snprintf(path, sizeof path, "%s/x.npy", dir);
  rt_error err = {0};
  cr_assert_eq(srv_npy_write(path, &t, &err), RT_OK, "%s", err.msg);
  const char *files[1] = {path};
  rt_tensor *a = NULL;
  cr_assert_eq(srv_bench_inputs(m, 2, files, &a, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(a[0].dims[0], 2);
  cr_assert_eq(memcmp(a[0].data, x, sizeof x), 0);
  srv_bench_free_inputs(m, a);
  a = NULL;
  cr_assert_eq(srv_bench_inputs(m, 4, files, &a, &err), RT_ERR_INVALID_ARG);
  cr_assert(strstr(err.msg, "'x'") && strstr(err.msg, "batch 2"), "%s", err.msg);
  rt_model_destroy(m);
}

Test(bench, measure_runs_every_worker_and_counts_consistently) {
  write_matmul_model("m", "-1");
  rt_model *m = load("m");
  rt_tensor *in = NULL;
  rt_error err = {0};
  cr_assert_eq(srv_bench_inputs(m, 4, NULL, &in, &err), RT_OK, "%s", err.msg);
  srv_bench_params p = srv_bench_default_params();
  p.batch = 4;
  p.workers = 3; /* more than the CPUs is fine here: the rule lives in the command */
  p.threads = 1;
  p.seconds = 0.15;
  p.warmup_seconds = 0;
  srv_bench_result r;
  cr_assert_eq(srv_bench_measure(m, in, &p, &r, &err), RT_OK, "%s", err.msg);
  cr_assert_eq(r.workers, 3);
  cr_assert_eq(r.batch, 4);
  cr_assert(r.runs >= 3, "every worker runs at least once (%ld runs)", r.runs);
  cr_assert(r.seconds >= 0.15 && r.seconds < 2.0, "%g s", r.seconds);
  cr_assert_float_eq(r.inferences_per_s, (double)r.runs * 4 / r.seconds, 1e-6);
  cr_assert(r.min_ms <= r.p50_ms && r.p50_ms <= r.p90_ms && r.p90_ms <= r.p99_ms &&
            r.p99_ms <= r.max_ms);
  cr_assert(r.mean_ms >= r.min_ms && r.mean_ms <= r.max_ms);
  /* MatMul [4,64]x[64,64]: 2*4*64*64 FLOPs per run. */
  cr_assert_float_eq(r.flops_per_run, 2.0 * 4 * 64 * 64, 1.0);
  cr_assert_float_eq(r.gflops, r.flops_per_run * (double)r.runs / r.seconds / 1e9, 1e-9);
  /* The arena holds at least the [4,64] float output. */
  cr_assert(r.arena_bytes_per_worker >= 4 * 64 * sizeof(float), "%zu", r.arena_bytes_per_worker);
  cr_assert(r.rss_bytes > 0 && r.rss_bytes == (r.rss_bytes / 1024) * 1024);
  srv_bench_free_inputs(m, in);
  rt_model_destroy(m);
}

Test(bench, measure_reports_a_failing_plan) {
  write_matmul_model("m", "-1");
  rt_model *m = load("m");
  float x[2 * 32] = {0};
  rt_tensor in = {.dtype = RT_DT_F32, .rank = 2, .dims = {2, 32}, .data = x}; /* not 64 */
  srv_bench_params p = srv_bench_default_params();
  p.workers = 2;
  p.seconds = 0.05;
  p.warmup_seconds = 0;
  srv_bench_result r;
  rt_error err = {0};
  cr_assert_neq(srv_bench_measure(m, &in, &p, &r, &err), RT_OK);
  cr_assert(strlen(err.msg) > 0);
  rt_model_destroy(m);
}

/* Runs `$ORCHARD_BIN args...` capturing stdout (and stderr into *err_out); returns the exit
 * code. */
static int run_bin(const char *args, char **out, char **err_out) {
  const char *bin = getenv("ORCHARD_BIN");
  cr_assert(bin, "ORCHARD_BIN not set (ctest sets it)");
  char cmd[2048], errf[512];
  snprintf(errf, sizeof errf, "%s/stderr.txt", dir);
  snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", bin, args, errf);
  FILE *p = popen(cmd, "r");
  cr_assert(p);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t k;
  while ((k = fread(buf + n, 1, cap - 1 - n, p)) > 0)
    n += k;
  buf[n] = 0;
  int st = pclose(p);
  *out = buf;
  FILE *e = fopen(errf, "r");
  char *eb = calloc(1, 1 << 14);
  if (e) {
    size_t en = fread(eb, 1, (1 << 14) - 1, e);
    eb[en] = 0;
    fclose(e);
  }
  *err_out = eb;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(bench, cli_json_has_the_keys_design_md_pins) {
  write_matmul_model("m", "-1");
  char args[600], *out, *errs;
  snprintf(args, sizeof args,
           "bench '%s/m' --batch 2 --workers 1 --threads 1 --seconds 0.1 "
           "--warmup 0 --json",
           dir);
  int rc = run_bin(args, &out, &errs);
  cr_assert_eq(rc, 0, "stderr: %s", errs);
  json_error_t je;
  json_t *o = json_loads(out, 0, &je);
  cr_assert(o, "not JSON: %s\n%s", je.text, out);
  static const char *const keys[] = {"batch",
                                     "workers",
                                     "threads",
                                     "inferences_per_s",
                                     "latency_ms",
                                     "gflops",
                                     "rss_bytes",
                                     "packed_weight_bytes",
                                     "arena_bytes_per_worker"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    cr_assert(json_object_get(o, keys[i]), "missing key %s", keys[i]);
  cr_assert_eq(json_integer_value(json_object_get(o, "batch")), 2);
  cr_assert_eq(json_integer_value(json_object_get(o, "workers")), 1);
  cr_assert_eq(json_integer_value(json_object_get(o, "threads")), 1);
  json_t *lat = json_object_get(o, "latency_ms");
  double p50 = json_number_value(json_object_get(lat, "p50"));
  double p90 = json_number_value(json_object_get(lat, "p90"));
  double p99 = json_number_value(json_object_get(lat, "p99"));
  cr_assert(p50 > 0 && p50 <= p90 && p90 <= p99, "%g %g %g", p50, p90, p99);
  cr_assert(json_number_value(json_object_get(o, "inferences_per_s")) > 0);
  cr_assert(json_number_value(json_object_get(o, "gflops")) > 0);
  cr_assert(json_integer_value(json_object_get(o, "rss_bytes")) > 0);
  cr_assert(json_integer_value(json_object_get(o, "arena_bytes_per_worker")) >= 2 * 64 * 4);
  json_t *shape = json_object_get(json_array_get(json_object_get(o, "inputs"), 0), "shape");
  cr_assert_eq(json_integer_value(json_array_get(shape, 0)), 2);
  json_decref(o);
  free(out);
  free(errs);
}

Test(bench, cli_refuses_to_oversubscribe_unless_forced) {
  write_matmul_model("m", "-1");
  int cpus = rt_cpu_count();
  char args[600], *out, *errs;
  snprintf(args, sizeof args, "bench '%s/m' --workers %d --threads 1 --seconds 0 --warmup 0", dir,
           cpus + 1);
  cr_assert_eq(run_bin(args, &out, &errs), 2);
  cr_assert(strstr(errs, "--oversubscribe") && strstr(errs, "exceed"), "%s", errs);
  free(out);
  free(errs);
  snprintf(args, sizeof args,
           "bench '%s/m' --workers %d --threads 1 --seconds 0 --warmup 0 --oversubscribe --json",
           dir, cpus + 1);
  cr_assert_eq(run_bin(args, &out, &errs), 0, "%s", errs);
  json_t *o = json_loads(out, 0, NULL);
  cr_assert(o, "%s", out);
  cr_assert_eq(json_integer_value(json_object_get(o, "workers")), cpus + 1);
  json_decref(o);
  free(out);
  free(errs);
  /* Default threads: all CPUs for one worker. */
  snprintf(args, sizeof args, "bench '%s/m' --seconds 0 --warmup 0 --json", dir);
  cr_assert_eq(run_bin(args, &out, &errs), 0, "%s", errs);
  o = json_loads(out, 0, NULL);
  cr_assert_eq(json_integer_value(json_object_get(o, "threads")), cpus);
  cr_assert_eq(json_integer_value(json_object_get(o, "cpu_count")), cpus);
  json_decref(o);
  free(out);
  free(errs);
}

Test(bench, cli_bad_flags_name_themselves) {
  write_matmul_model("m", "-1");
  char args[600], *out, *errs;
  snprintf(args, sizeof args, "bench '%s/m' --batch 0", dir);
  cr_assert_eq(run_bin(args, &out, &errs), 2);
  cr_assert(strstr(errs, "--batch"), "%s", errs);
  free(out);
  free(errs);
  snprintf(args, sizeof args, "bench '%s/m' --speed 3", dir);
  cr_assert_eq(run_bin(args, &out, &errs), 2);
  cr_assert(strstr(errs, "--speed"), "%s", errs);
  free(out);
  free(errs);
  snprintf(args, sizeof args, "bench '%s/m' --input nope=x.npy --seconds 0", dir);
  cr_assert_eq(run_bin(args, &out, &errs), 1);
  cr_assert(strstr(errs, "'nope'"), "%s", errs);
  free(out);
  free(errs);
  snprintf(args, sizeof args, "tune '%s/m' --batches 1,x", dir);
  cr_assert_eq(run_bin(args, &out, &errs), 2);
  cr_assert(strstr(errs, "--batches"), "%s", errs);
  free(out);
  free(errs);
}

/* tune measures every workers x threads split with nothing idle, at every batch (1 always),
 * and its pick obeys the rule checked above. */
Test(bench, tune_measures_every_split_and_picks) {
  write_matmul_model("m", "-1");
  char args[600], *out, *errs;
  snprintf(args, sizeof args, "tune '%s/m' --seconds-per-config 0.05 --batches 4 --json", dir);
  cr_assert_eq(run_bin(args, &out, &errs), 0, "%s", errs);
  json_t *o = json_loads(out, 0, NULL);
  cr_assert(o, "%s", out);
  int cpus = rt_cpu_count(), splits = 0;
  for (int w = 1; w <= cpus; w++)
    splits += cpus % w == 0;
  json_t *rows = json_object_get(o, "rows");
  cr_assert_eq((int)json_array_size(rows), 2 * splits);
  double best1 = -1;
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    int w = (int)json_integer_value(json_object_get(r, "workers"));
    int t = (int)json_integer_value(json_object_get(r, "threads"));
    int b = (int)json_integer_value(json_object_get(r, "batch"));
    cr_assert_eq(w * t, cpus);
    cr_assert(b == 1 || b == 4);
    double p99 = json_number_value(json_object_get(json_object_get(r, "latency_ms"), "p99"));
    if (b == 1 && (best1 < 0 || p99 < best1))
      best1 = p99;
  }
  json_t *pick = json_object_get(o, "pick");
  cr_assert(pick);
  cr_assert(json_number_value(json_object_get(pick, "p99_ms")) <= 2 * best1 + 1e-9);
  cr_assert_float_eq(json_number_value(json_object_get(o, "p99_limit_ms")), 2 * best1, 1e-6);
  json_decref(o);
  free(out);
  free(errs);
}

/* ---- serve --auto_tune's core ---- */

Test(bench, splits_fill_the_cpus_or_follow_a_fixed_side) {
  int s[64][2];
  cr_assert_eq(srv_bench_splits(6, 0, 0, s, 64), 4); /* 1x6 2x3 3x2 6x1 */
  cr_assert(s[0][0] == 1 && s[0][1] == 6 && s[3][0] == 6 && s[3][1] == 1);
  cr_assert_eq(srv_bench_splits(8, 2, 0, s, 64), 1);
  cr_assert(s[0][0] == 2 && s[0][1] == 4);
  cr_assert_eq(srv_bench_splits(8, 0, 3, s, 64), 1);
  cr_assert(s[0][0] == 2 && s[0][1] == 3);
  cr_assert_eq(srv_bench_splits(2, 4, 0, s, 64), 1); /* given wins, even past the CPUs */
  cr_assert(s[0][0] == 4 && s[0][1] == 1);
  cr_assert_eq(srv_bench_splits(1, 0, 0, s, 64), 1);
  cr_assert(s[0][0] == 1 && s[0][1] == 1);
}

Test(bench, autotune_stays_in_budget_and_picks_a_fitting_split) {
  write_matmul_model("m", "-1");
  rt_model *m = load("m");
  srv_autotune_params ap = srv_autotune_default_params();
  ap.cpus = 2; /* two splits whatever this machine has */
  int sizes[] = {2, 4, 8, 16, 32};
  ap.batch_sizes = sizes;
  ap.n_batch_sizes = 5;
  ap.max_extra_batches = 2; /* 4 and 32: spread over the list, the largest kept */
  /* ORCHARD_TEST_TIME_SCALE stretches the budget under sanitizers. */
  const char *scale_env = getenv("ORCHARD_TEST_TIME_SCALE");
  double scale = scale_env && atof(scale_env) >= 1 ? atof(scale_env) : 1;
  ap.budget_seconds = 0.6 * scale;
  srv_autotune_result r;
  rt_error err = {0};
  cr_assert_eq(srv_bench_autotune(m, &ap, &r, &err), RT_OK, "%s", err.msg);
  cr_assert(r.measured);
  cr_assert_eq(r.workers * r.threads, 2);
  cr_assert(r.batch == 1 || r.batch == 4 || r.batch == 32, "batch %d", r.batch);
  cr_assert_eq(r.configs + r.skipped, 6);
  cr_assert_geq(r.configs, 2); /* batch 1 on both splits at least */
  cr_assert(r.inferences_per_s > 0 && r.p99_ms > 0 && r.p99_ms <= r.p99_limit_ms + 1e-9);
  /* Generous bound: sessions and warm-up are best effort, and the machine is shared. */
  cr_assert_lt(r.seconds, ap.budget_seconds * 3, "took %.2f s", r.seconds);

  /* Both sides given: nothing to measure. */
  ap.fixed_workers = 1;
  ap.fixed_threads = 2;
  cr_assert_eq(srv_bench_autotune(m, &ap, &r, &err), RT_OK, "%s", err.msg);
  cr_assert(!r.measured && r.workers == 1 && r.threads == 2 && r.configs == 0);

  /* A fixed batch dimension: the larger sizes are skipped, batch 1 still picks. */
  rt_model_destroy(m);
  write_matmul_model("f", "1");
  m = load("f");
  ap.fixed_workers = ap.fixed_threads = 0;
  cr_assert_eq(srv_bench_autotune(m, &ap, &r, &err), RT_OK, "%s", err.msg);
  cr_assert(r.measured && r.batch == 1 && r.configs == 2 && r.skipped == 4);
  rt_model_destroy(m);
}
