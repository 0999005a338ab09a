/*
 * models.h — the model manager: which models and versions are served, per --model_name /
 * --model_base_path or --model_config_file (config.h), kept in step with the disk.
 *
 * A background thread scans every base path each --file_system_poll_wait_seconds (and
 * re-reads the config file when it changed or on srv_models_reload, i.e. SIGHUP). A version
 * the policy wants is loaded on that thread (model, sessions, warm-up) and starts serving only
 * once ready; a version the policy no longer wants is retired only when some wanted version
 * is AVAILABLE: it stops taking requests, its workers finish what they have, then it
 * unloads. A version that fails to load is reported (status, log, metric) and retried only
 * when its directory changes; the versions already serving keep serving. A version's
 * orchard.json (garden.h: image inputs, task), when present, is read with its model and an
 * invalid one fails the load the same way.
 *
 * States follow TF Serving: START, LOADING, AVAILABLE, UNLOADING, END.
 * Threads: the loop thread routes through srv_models_acquire; everything else in here runs
 * on the manager thread. One mutex guards the tables; disk I/O and loading happen outside it.
 */
#ifndef ORCHARD_SRV_MODELS_H
#define ORCHARD_SRV_MODELS_H

#include "bench.h"
#include "config.h"
#include "rest.h"
#include "workers.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct srv_models srv_models;

typedef struct srv_models_params {
  const char *config_file; /* or: */
  const char *model_name, *base_path;
  int poll_seconds;       /* 0: scan once (config re-read only on reload) */
  int inter_op, intra_op; /* resolved (>= 1) */
  int queue_capacity;
  bool warmup;
  const srv_batching_params *batching; /* NULL: off; else every version batches (a model's
                                          batching_parameters override fields for it) */
  /* --auto_tune: measure workers x threads when a version loads (bench.c) and use the pick.
   * inter_op_given / intra_op_given are the flags as given (0: not given, tuned); a given
   * one wins over the tuning. */
  bool auto_tune;
  int inter_op_given, intra_op_given;
  double auto_tune_seconds; /* budget per version; 0: 3 s */
  /* Load times and failures, and the batching metrics of the pools (through a pool registry
   * the manager owns). NULL: nothing recorded. Must outlive the manager. */
  srv_metrics *metrics;
} srv_models_params;

/* How a serving version runs, for the metadata endpoints and the log. */
typedef struct srv_serving_info {
  int workers, intra_op_threads;
  bool auto_tuned;          /* workers x threads come from the measured pick */
  bool auto_tune_pinned;    /* --auto_tune, but both numbers were given explicitly */
  srv_autotune_result tune; /* when auto_tuned */
  bool batching_requested;  /* --enable_batching (the pool may still not batch) */
  bool batching_override;   /* the model's config entry overrides some fields */
} srv_serving_info;

/* A loaded, serving version, as routing sees it. Valid while the manager lock is held. */
typedef struct srv_servable {
  const char *model_name;
  int64_t version;
  const char *version_str;
  const char *platform; /* "tensorflowjs_graph-model" / "tensorflowjs_layers-model" */
  const rt_model *model;
  const srv_sig *sig;
  srv_pool *pool;
  const srv_serving_info *serving;
} srv_servable;

typedef enum srv_select { SRV_SELECT_LATEST = 0, SRV_SELECT_VERSION, SRV_SELECT_LABEL } srv_select;

typedef struct srv_model_ref {
  const char *name;
  srv_select sel;
  int64_t version; /* SRV_SELECT_VERSION */
  const char *label;
} srv_model_ref;

/* Reads and validates the config (errors name the file and field). Loads nothing yet. */
int srv_models_create(const srv_models_params *p, srv_models **out, char *msg, size_t cap);
/* Runs the first scan and load on the calling thread, then starts the poll thread. Returns
 * -1 (message in msg) when a model's base path is missing or none of its versions loads,
 * as TF Serving refuses to start then. */
int srv_models_start(srv_models *m, char *msg, size_t cap);
void srv_models_reload(srv_models *m); /* SIGHUP: re-read the config and rescan now */
/* Stops polling and retires every version (their queues drain first). */
void srv_models_stop(srv_models *m);
void srv_models_destroy(srv_models *m); /* NULL-safe; stops first if needed */

/* Routes a request. On 200, *out is valid and the manager lock is HELD: do the little that
 * needs the servable (submit, build metadata) and call srv_models_release. Otherwise 404
 * (unknown model, version or label) or 503 (still loading / nothing loaded) with msg. */
int srv_models_acquire(srv_models *m, const srv_model_ref *ref, const srv_servable **out, char *msg,
                       size_t cap);
void srv_models_release(srv_models *m);
/* Versions of the acquired model currently AVAILABLE, as a JSON list of strings (new ref).
 * Only between acquire and release. */
json_t *srv_models_available_locked(srv_models *m, const char *name);

/* TF Serving model status ({"model_version_status": [...]}); 200 or 404 with msg. */
int srv_models_status(srv_models *m, const srv_model_ref *ref, json_t **out, char *msg, size_t cap);
/* Every model with its versions, states, errors, labels (dashboard). */
json_t *srv_models_describe(srv_models *m);
/* First load done and every model has an AVAILABLE version. */
bool srv_models_ready(srv_models *m);
/* Prometheus collector (srv_metrics_add_collector with the manager as arg): model state,
 * queue depth and running inferences per version. */
void srv_models_collect(srv_buf *b, void *arg);
/* Completed scans so far (tests and the dashboard use it to see a poll happened). */
int64_t srv_models_scans(srv_models *m);

#endif
