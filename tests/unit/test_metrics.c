/*
 * test_metrics.c — the Prometheus registry (metrics.c): counters by label set, histograms
 * with cumulative buckets, collectors, escaping; the text is what Prometheus parses.
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
  srv_metrics_reset();
  srv_metrics_init();
  srv_metrics_request("emotion", "1", "predict", 200, 0.003);
  srv_metrics_request("emotion", "1", "predict", 200, 0.2);
  srv_metrics_request("emotion", "", "predict", 404, 0.0001);
  srv_metrics_inference("emotion", "1", 0.002);
  srv_metrics_load("emotion", "1", 0.25, true);
  srv_metrics_load("emotion", "2", 0.1, false);
  double g = 7;
  srv_metrics_add_collector(collect, &g);
  size_t len;
  char *t = srv_metrics_render(&len);
  cr_assert_not_null(t);
  cr_assert_eq(strlen(t), len);
  const char *want[] = {
      "# TYPE orchard_requests_total counter\n",
      "orchard_requests_total{model=\"emotion\",version=\"1\",api=\"predict\",code=\"200\"} 2\n",
      "orchard_requests_total{model=\"emotion\",version=\"\",api=\"predict\",code=\"404\"} 1\n",
      "# TYPE orchard_request_duration_seconds histogram\n",
      /* 0.003 and 0.2 and 0.0001 s: cumulative counts per bucket */
      "orchard_request_duration_seconds_bucket{model=\"emotion\",api=\"predict\",le=\"0.0005\"} "
      "1\n",
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
  srv_metrics_remove_collector(collect, &g);
  t = srv_metrics_render(&len);
  cr_assert_null(strstr(t, "orchard_test_gauge"));
  free(t);
}
