/*
 * metrics.h — Prometheus metrics, rendered as text at /monitoring/prometheus/metrics and
 * /metrics. Every name starts with orchard_. Recording is safe from any thread.
 *
 * Families recorded here: requests by model, version, API and status code; request latency
 * by model and API and inference latency by model and version (histograms); model load time
 * and load failures. Point-in-time gauges (model state, queue depth, in-flight requests) come
 * from collectors the owning modules register; they are asked at render time.
 *
 * The registry is an opaque handle owned by main (serve.c creates it before anything records
 * and destroys it last) and handed to every module that records. Every stateful function is
 * NULL-safe: a NULL handle records nothing and renders nothing, so offline commands and tests
 * that do not care about metrics pass NULL.
 */
#ifndef ORCHARD_SRV_METRICS_H
#define ORCHARD_SRV_METRICS_H

#include "buf.h"

#include <stdbool.h>

typedef struct srv_metrics srv_metrics;

/* Returns 0, or -1 when out of memory. The process start time is taken here. */
int srv_metrics_create(srv_metrics **out);
/* After every module that records or registered a collector has stopped. NULL-safe. */
void srv_metrics_destroy(srv_metrics *m);
void srv_metrics_reset(srv_metrics *m); /* drops every series and collector (tests) */

/* model/version may be "" for requests that address no model. */
void srv_metrics_request(srv_metrics *m, const char *model, const char *version, const char *api,
                         int code, double seconds);
void srv_metrics_inference(srv_metrics *m, const char *model, const char *version, double seconds);
void srv_metrics_load(srv_metrics *m, const char *model, const char *version, double seconds,
                      bool ok);

/* A collector appends complete lines (with # HELP / # TYPE) for its own families. */
typedef void (*srv_metrics_collector)(srv_buf *b, void *arg);
void srv_metrics_add_collector(srv_metrics *m, srv_metrics_collector fn, void *arg);
void srv_metrics_remove_collector(srv_metrics *m, srv_metrics_collector fn, void *arg);

/* Appends one sample line `name{labels} value`, escaping label values. labels is a
 * NULL-terminated list of key, value pairs. For collectors. */
void srv_metrics_sample(srv_buf *b, const char *name, const char *const *labels, double value);

/* The whole exposition; malloc'd, caller frees. NULL when out of memory or m is NULL. */
char *srv_metrics_render(srv_metrics *m, size_t *len);

#endif
