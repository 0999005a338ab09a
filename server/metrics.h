/*
 * metrics.h — Prometheus metrics, rendered as text at /monitoring/prometheus/metrics and
 * /metrics. Every name starts with orchard_. Recording is safe from any thread.
 *
 * Families recorded here: requests by model, version, API and status code; request latency
 * by model and API and inference latency by model and version (histograms); model load time
 * and load failures. Point-in-time gauges (model state, queue depth, in-flight requests) come
 * from collectors the owning modules register; they are asked at render time.
 */
#ifndef ORCHARD_SRV_METRICS_H
#define ORCHARD_SRV_METRICS_H

#include "buf.h"

#include <stdbool.h>

void srv_metrics_init(void);
void srv_metrics_reset(void); /* drops every series (tests) */

/* model/version may be "" for requests that address no model. */
void srv_metrics_request(const char *model, const char *version, const char *api, int code,
                         double seconds);
void srv_metrics_inference(const char *model, const char *version, double seconds);
void srv_metrics_load(const char *model, const char *version, double seconds, bool ok);

/* A collector appends complete lines (with # HELP / # TYPE) for its own families. */
typedef void (*srv_metrics_collector)(srv_buf *b, void *arg);
void srv_metrics_add_collector(srv_metrics_collector fn, void *arg);
void srv_metrics_remove_collector(srv_metrics_collector fn, void *arg);

/* Appends one sample line `name{labels} value`, escaping label values. labels is a
 * NULL-terminated list of key, value pairs. For collectors. */
void srv_metrics_sample(srv_buf *b, const char *name, const char *const *labels, double value);

/* The whole exposition; malloc'd, caller frees. */
char *srv_metrics_render(size_t *len);

#endif
