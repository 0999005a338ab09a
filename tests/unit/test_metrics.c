/*
 * test_metrics.c — the Prometheus registry (metrics.c): counters by label set, histograms
 * with cumulative buckets, collectors, escaping; the text is what Prometheus parses. Each
 * test owns its srv_metrics handle: handles share nothing, and a NULL one records nothing.
 */
#include "metrics.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void collect(srv_buf *b, void *arg) {
  const char *l[] = {"model", "q\"x\\y\nz", NULL};
  srv_buf_puts(b, "# TYPE orchard_test_gauge gauge\n");
  srv_metrics_sample(b, "orchard_test_gauge", l, *(double *)arg);
}

Test(metrics, counters_histograms_and_collectors) {
  srv_metrics *m;
  cr_assert_eq(srv_metrics_create(&m), 0);
  srv_metrics_request(m, "emotion", "1", "predict", 200, 0.003);
  srv_metrics_request(m, "emotion", "1", "predict", 200, 0.2);
  srv_metrics_request(m, "emotion", "", "predict", 404, 0.0001);
  srv_metrics_inference(m, "emotion", "1", 0.002);
  srv_metrics_load(m, "emotion", "1", 0.25, true);
  srv_metrics_load(m, "emotion", "2", 0.1, false);
  double g = 7;
  srv_metrics_add_collector(m, collect, &g);
  size_t len;
  char *t = srv_metrics_render(m, &len);
  cr_assert_not_null(t);
  cr_assert_eq(strlen(t), len);
  const char *want[] = {
      "# TYPE orchard_requests_total counter\n",
      "orchard_requests_total{model=\"emotion\",version=\"1\",api=\"predict\",code=\"200\"} 2\n",
      "orchard_requests_total{model=\"emotion\",version=\"\",api=\"predict\",code=\"404\"} 1\n",
      "# TYPE orchard_request_duration_seconds histogram\n",
      /* 0.003 and 0.2 and 0.0001 s: cumulative counts per bucket */
      ("orchard_request_duration_seconds_bucket{model=\"emotion\",api=\"predict\",le=\"0.0005\"} "
       "1\n"),
      "orchard_request_duration_seconds_bucket{model=\"emotion\",api=\"predict\",le=\"0.005\"} 2\n",
      "orchard_request_duration_seconds_bucket{model=\"emotion\",api=\"predict\",le=\"0.25\"} 3\n",
      "orchard_request_duration_seconds_bucket{model=\"emotion\",api=\"predict\",le=\"+Inf\"} 3\n",
      "orchard_request_duration_seconds_count{model=\"emotion\",api=\"predict\"} 3\n",
      "orchard_inference_duration_seconds_count{model=\"emotion\",version=\"1\"} 1\n",
      "orchard_model_load_seconds{model=\"emotion\",version=\"1\"} 0.25\n",
      "orchard_model_load_failures_total{model=\"emotion\",version=\"2\"} 1\n",
      "orchard_test_gauge{model=\"q\\\"x\\\\y\\nz\"} 7\n",
      "# TYPE orchard_process_resident_memory_bytes gauge\n"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_assert(strstr(t, want[i]), "missing line: %s\n--- got:\n%s", want[i], t);
  free(t);
  srv_metrics_remove_collector(m, collect, &g);
  t = srv_metrics_render(m, &len);
  cr_assert_null(strstr(t, "orchard_test_gauge"));
  free(t);
  srv_metrics_destroy(m);
}

/* The exposition up to the process gauges, byte for byte. Produced by the registry as it was
 * before it became a handle (git HEAD server/metrics.c with srv_metrics_init and the same
 * two calls), so scrapers, the dashboard (prom.js) and test_ops.py see the same text. */
Test(metrics, exposition_bytes_unchanged) {
  static const char golden[] =
      "# HELP orchard_requests_total HTTP requests by model, version, API and status code\n"
      "# TYPE orchard_requests_total counter\n"
      "orchard_requests_total{model=\"m\",version=\"1\",api=\"predict\",code=\"200\"} 1\n"
      "# HELP orchard_request_duration_seconds HTTP request latency, body received to response\n"
      "# TYPE orchard_request_duration_seconds histogram\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.0005\"} 0\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.001\"} 0\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.0025\"} 0\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.005\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.01\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.025\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.05\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.1\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.25\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"0.5\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"1\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"2.5\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"5\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"10\"} 1\n"
      "orchard_request_duration_seconds_bucket{model=\"m\",api=\"predict\",le=\"+Inf\"} 1\n"
      "orchard_request_duration_seconds_sum{model=\"m\",api=\"predict\"} 0.003\n"
      "orchard_request_duration_seconds_count{model=\"m\",api=\"predict\"} 1\n"
      "# HELP orchard_inference_duration_seconds Model execution time on a worker\n"
      "# TYPE orchard_inference_duration_seconds histogram\n"
      "# HELP orchard_model_load_seconds Time the last load of a model version took\n"
      "# TYPE orchard_model_load_seconds gauge\n"
      "orchard_model_load_seconds{model=\"m\",version=\"1\"} 0.5\n"
      "# HELP orchard_model_load_failures_total Model version loads that failed\n"
      "# TYPE orchard_model_load_failures_total counter\n";
  srv_metrics *m;
  cr_assert_eq(srv_metrics_create(&m), 0);
  srv_metrics_request(m, "m", "1", "predict", 200, 0.003);
  srv_metrics_load(m, "m", "1", 0.5, true);
  size_t len;
  char *t = srv_metrics_render(m, &len);
  cr_assert_not_null(t);
  char *proc = strstr(t, "# HELP orchard_process_resident_memory_bytes");
  cr_assert_not_null(proc, "%s", t);
  cr_assert_eq((size_t)(proc - t), sizeof golden - 1, "%s", t);
  cr_assert_eq(memcmp(t, golden, sizeof golden - 1), 0, "%s", t);
  free(t);
  srv_metrics_destroy(m);
}

Test(metrics, handles_share_nothing) {
  srv_metrics *a, *b;
  cr_assert_eq(srv_metrics_create(&a), 0);
  cr_assert_eq(srv_metrics_create(&b), 0);
  double g = 3;
  srv_metrics_request(a, "only_a", "1", "predict", 200, 0.01);
  srv_metrics_add_collector(a, collect, &g);
  size_t len;
  char *ta = srv_metrics_render(a, &len), *tb = srv_metrics_render(b, &len);
  cr_assert(strstr(ta, "model=\"only_a\""));
  cr_assert(strstr(ta, "orchard_test_gauge"));
  cr_assert_null(strstr(tb, "only_a"), "%s", tb);
  cr_assert_null(strstr(tb, "orchard_test_gauge"), "%s", tb);
  /* Each handle has its own start time, taken at create. */
  cr_assert(strstr(tb, "\norchard_process_start_time_seconds 1"), "%s", tb);
  free(ta);
  free(tb);
  /* Destroying one leaves the other whole. */
  srv_metrics_destroy(b);
  ta = srv_metrics_render(a, &len);
  cr_assert(strstr(ta, "model=\"only_a\""));
  free(ta);
  srv_metrics_destroy(a);
}

Test(metrics, reset_drops_series_and_collectors) {
  srv_metrics *m;
  cr_assert_eq(srv_metrics_create(&m), 0);
  double g = 1;
  srv_metrics_request(m, "emotion", "1", "predict", 200, 0.01);
  srv_metrics_add_collector(m, collect, &g);
  srv_metrics_reset(m);
  size_t len;
  char *t = srv_metrics_render(m, &len);
  cr_assert_null(strstr(t, "emotion"), "%s", t);
  cr_assert_null(strstr(t, "orchard_test_gauge"), "%s", t);
  cr_assert(strstr(t, "# TYPE orchard_requests_total counter\n")); /* families stay */
  free(t);
  srv_metrics_request(m, "after", "1", "predict", 200, 0.01);
  t = srv_metrics_render(m, &len);
  cr_assert(strstr(t, "model=\"after\""), "%s", t);
  free(t);
  srv_metrics_destroy(m);
}

/* Offline commands and tests that do not care pass NULL: nothing is recorded, nothing
 * crashes. */
Test(metrics, null_handle_records_nothing) {
  double g = 1;
  srv_metrics_request(NULL, "emotion", "1", "predict", 200, 0.01);
  srv_metrics_inference(NULL, "emotion", "1", 0.01);
  srv_metrics_load(NULL, "emotion", "1", 0.01, false);
  srv_metrics_add_collector(NULL, collect, &g);
  srv_metrics_remove_collector(NULL, collect, &g);
  srv_metrics_reset(NULL);
  size_t len = 99;
  cr_assert_null(srv_metrics_render(NULL, &len));
  cr_assert_eq(len, 0);
  srv_metrics_destroy(NULL);
}
