/*
 * peak.c — this machine's peak float32 FMA throughput, the yardstick bench/tfjs-compare holds
 * Orchard's GFLOP/s against.
 *
 * Each thread runs 12 independent chains of 8-wide AVX2 FMAs (a = a*b + c): 12 chains hide the
 * 4-5 cycle FMA latency on both FMA ports of current x86 cores, so the loop is bound by FMA
 * issue alone — the most any convolution or GEMM kernel can reach. b < 1 keeps the values
 * bounded and normal (no denormal slow-down). Best of 5 windows, ~0.2 s each.
 *
 * Build: cc -O2 -mavx2 -mfma -pthread peak.c -o peak
 * Usage: peak [THREADS]   prints one JSON line {"threads", "gflops", "gflops_per_thread"}
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct job {
  long iters;
  float sink;
} job;

static void *fma_loop(void *arg) {
  job *j = arg;
  const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-6f);
  __m256 a[CHAINS];
  for (int k = 0; k < CHAINS; k++)
    a[k] = _mm256_set1_ps(1.0f + (float)k);
  for (long i = 0; i < j->iters; i++) {
    /* Unrolled by hand so every chain stays in a register. */
    a[0] = _mm256_fmadd_ps(a[0], b, c);
    a[1] = _mm256_fmadd_ps(a[1], b, c);
    a[2] = _mm256_fmadd_ps(a[2], b, c);
    a[3] = _mm256_fmadd_ps(a[3], b, c);
    a[4] = _mm256_fmadd_ps(a[4], b, c);
    a[5] = _mm256_fmadd_ps(a[5], b, c);
    a[6] = _mm256_fmadd_ps(a[6], b, c);
    a[7] = _mm256_fmadd_ps(a[7], b, c);
    a[8] = _mm256_fmadd_ps(a[8], b, c);
    a[9] = _mm256_fmadd_ps(a[9], b, c);
    a[10] = _mm256_fmadd_ps(a[10], b, c);
    a[11] = _mm256_fmadd_ps(a[11], b, c);
  }
  __m256 s = a[0];
  for (int k = 1; k < CHAINS; k++)
    s = _mm256_add_ps(s, a[k]);
  float out[8];
  _mm256_storeu_ps(out, s);
  j->sink = out[0] + out[7];
  return NULL;
}

/* Wall seconds for `threads` threads each running `iters` iterations. */
static double timed(int threads, long iters, float *sink) {
  pthread_t tid[256];
  job jobs[256];
  double t0 = now_s();
  for (int t = 0; t < threads; t++) {
    jobs[t] = (job){.iters = iters};
    if (pthread_create(&tid[t], NULL, fma_loop, &jobs[t]) != 0) {
      fprintf(stderr, "peak: cannot start thread %d\n", t);
      exit(1);
    }
  }
  for (int t = 0; t < threads; t++) {
    pthread_join(tid[t], NULL);
    *sink += jobs[t].sink;
  }
  return now_s() - t0;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (threads < 1 || threads > 256) {
    fprintf(stderr, "usage: peak [THREADS 1..256]\n");
    return 2;
  }
  float sink = 0;
  long iters = 1 << 20;
  while (timed(1, iters, &sink) < 0.05) /* calibrate to ~0.2 s per window */
    iters *= 2;
  iters *= 4;
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    double s = timed(threads, iters, &sink);
    if (s < best)
      best = s;
  }
  double flops = (double)iters * CHAINS * 8 * 2 * threads;
  printf("{\"threads\": %d, \"gflops\": %.2f, \"gflops_per_thread\": %.2f, \"sink\": %g}\n",
         threads, flops / best / 1e9, flops / best / 1e9 / threads, (double)(sink != 0));
  return 0;
}
