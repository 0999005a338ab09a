/*
 * serve.c — wires the daemon together and owns its lifecycle.
 *
 * Start: flags -> log -> config validation -> loop and signal handlers (so a SIGTERM during
 * the first load is not lost) -> first model load (TF Serving also loads before it listens)
 * -> gRPC listener (--port) -> REST listener -> poll thread -> loop.
 * Stop (SIGTERM/SIGINT): readiness turns false (REST and gRPC health) at once. With
 * --lame_duck_seconds N both listeners then keep accepting and serving inference for N s:
 * Kubernetes removes a pod from its endpoints only some time after readiness turns false, and
 * requests routed to it meanwhile must not be refused. Then (or at once when N is 0) the
 * drain: the REST listener closes and gRPC refuses new inference, requests in progress on
 * both finish (bounded by a grace period, after which gRPC calls are cancelled), then HTTP and
 * gRPC stop, workers drain, models unload, gRPC core is torn down, exit 0.
 * A second signal skips every wait. SIGHUP re-reads the model config.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "serve.h"
#include "auth.h"
#include "tls.h"
#include "api.h"
#include "config.h"
#include "flags.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "models.h"
#include "workers.h"
#ifdef ORCHARD_HAVE_GRPC
#include "grpc/srv_grpc.h"
#endif

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define GRACE_SECONDS 30.0
#define CONNECTION_LIMIT 4096
#define IDLE_TIMEOUT_SECONDS 120
#define QUEUE_CAPACITY 256
#define DEFAULT_CONFIG "config/models.json"

typedef struct serve {
  srv_flags flags;
  srv_loop loop;
  srv_models *models;
  srv_metrics *metrics; /* created first, destroyed last: every module records into it */
  srv_http *http;
  srv_api *api;
#ifdef ORCHARD_HAVE_GRPC
  srv_grpc *grpc;
#endif
  bool http_idle;
  srv_batching_params batching; /* read by the model manager for its whole life */
  srv_tls *tls;                 /* --ssl_config_file, or NULL; read by the listeners */
  srv_auth auth;                /* --auth_token_file / --admin_token_file (issue 8) */
  uv_timer_t grace, lame;
  bool grace_started, lame_started, stopping, stopped;
  bool grpc_on;
  int signals;
} serve;

static void stop_now(serve *s) {
  if (s->stopped)
    return;
  s->stopped = true;
  if (s->grace_started)
    uv_close((uv_handle_t *)&s->grace, NULL);
  if (s->lame_started)
    uv_close((uv_handle_t *)&s->lame, NULL);
  srv_http_stop(s->http);
  s->http = NULL;
#ifdef ORCHARD_HAVE_GRPC
  srv_grpc_stop(s->grpc); /* cancels what is left; freed after the pools drain */
#endif
  srv_loop_shutdown(&s->loop);
}

static int grpc_inflight(serve *s) {
#ifdef ORCHARD_HAVE_GRPC
  return srv_grpc_inflight(s->grpc);
#else
  (void)s;
  return 0;
#endif
}

static bool grpc_idle(serve *s) {
#ifdef ORCHARD_HAVE_GRPC
  return srv_grpc_idle(s->grpc);
#else
  (void)s;
  return true;
#endif
}

static void on_grace(uv_timer_t *t) {
  serve *s = t->data;
  srv_log_warn("grace period of %.0f s over with %d REST and %d gRPC requests unanswered; "
               "stopping",
               GRACE_SECONDS, srv_http_inflight(s->http), grpc_inflight(s));
  stop_now(s);
}

/* The HTTP side went quiet after quiescing: nothing in progress any more. */
static void on_http_idle(void *arg) {
  serve *s = arg;
  s->http_idle = true;
  if (s->stopping && grpc_idle(s))
    stop_now(s);
}

/* The gRPC side drained: no call in progress any more. */
static void on_grpc_idle(void *arg) {
  serve *s = arg;
  if (s->stopping && (s->http_idle || !s->http))
    stop_now(s);
}

static void begin_drain(serve *s, const char *why) {
  if (s->stopping)
    return;
  s->stopping = true;
  srv_log_info("%s: readiness off, listener closed, finishing %d REST and %d gRPC requests in "
               "progress",
               why, srv_http_inflight(s->http), grpc_inflight(s));
  srv_api_set_draining(s->api, true);
#ifdef ORCHARD_HAVE_GRPC
  srv_grpc_drain(s->grpc); /* on_grpc_idle fires when its last call is over */
#endif
  if ((!s->http || srv_http_inflight(s->http) == 0) && !s->grpc_on) {
    stop_now(s);
    return;
  }
  srv_http_quiesce(s->http); /* on_http_idle fires when the last one is answered */
  uv_timer_init(&s->loop.uv, &s->grace);
  s->grace.data = s;
  s->grace_started = true;
  uv_timer_start(&s->grace, on_grace, (uint64_t)(GRACE_SECONDS * 1e3), 0);
}

static void on_lame_duck_over(uv_timer_t *t) {
  begin_drain(t->data, "lame duck over");
}

/* Readiness goes false before anything is refused; the drain follows --lame_duck_seconds
 * later (at once when 0, the behaviour before the flag existed). */
static void begin_shutdown(serve *s, const char *why) {
  if (s->stopping || s->lame_started)
    return;
  int64_t n = s->flags.lame_duck_seconds;
  if (n <= 0) {
    begin_drain(s, why);
    return;
  }
  srv_api_set_draining(s->api, true); /* readiness only: REST inference is still served */
#ifdef ORCHARD_HAVE_GRPC
  srv_grpc_set_not_serving(s->grpc);
#endif
  srv_log_info("%s: readiness off; lame duck: still serving REST and gRPC for %lld s, then "
               "draining (a second signal stops at once)",
               why, (long long)n);
  uv_timer_init(&s->loop.uv, &s->lame);
  s->lame.data = s;
  s->lame_started = true;
  uv_timer_start(&s->lame, on_lame_duck_over, (uint64_t)n * 1000, 0);
}

static void on_signal(int signum, void *arg) {
  serve *s = arg;
  if (signum == SIGHUP) {
    srv_log_info("SIGHUP: re-reading the model config and rescanning");
    if (s->models)
      srv_models_reload(s->models);
    return;
  }
  if (++s->signals > 1) {
    srv_log_warn("second signal: stopping without waiting");
    stop_now(s);
    return;
  }
  begin_shutdown(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Raises the open-file limit to its hard maximum and keeps the connection limit under it, so
 * accept() never fails for lack of descriptors (model files and epoll need some too). */
static unsigned connection_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 512;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  rlim_t room = rl.rlim_cur > 256 ? rl.rlim_cur - 128 : rl.rlim_cur / 2;
  return room < CONNECTION_LIMIT ? (unsigned)room : CONNECTION_LIMIT;
}

static bool file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int srv_serve_main(int argc, char **argv) {
  serve *s = calloc(1, sizeof *s);
  if (!s) {
    fprintf(stderr, "orchard serve: out of memory\n");
    return 1;
  }
  int rc = 2;
  char msg[1024];
  srv_flags_init(&s->flags);
  srv_flags *f = &s->flags;
  int pr = srv_flags_parse(f, argc, argv, msg, sizeof msg);
  if (pr == 1) {
    srv_flags_help(stdout);
    rc = 0;
    goto out;
  }
  if (pr < 0) {
    fprintf(stderr, "orchard serve: %s\n", msg);
    goto out;
  }
  srv_log_init(f->log_format, f->log_level);
  if (srv_metrics_create(&s->metrics) != 0) {
    srv_log_error("out of memory");
    goto out;
  }
  if (f->ssl_config_file) {
    if (srv_tls_load(f->ssl_config_file, &s->tls, msg, sizeof msg) != 0) {
      srv_log_error("--ssl_config_file: %s", msg);
      goto out;
    }
    srv_log_info("TLS on REST and gRPC: %s", srv_tls_summary(s->tls));
  }
  /* Access tokens: read once, handed to the REST API and the gRPC front before they open. */
  if (srv_auth_load(&s->auth, f->auth_token_file, f->admin_token_file, msg, sizeof msg) != 0) {
    srv_log_error("%s", msg);
    goto out;
  }
  if (s->auth.predict || s->auth.admin)
    srv_log_info("bearer tokens required for: %s%s%s", s->auth.predict ? "predict/infer" : "",
                 s->auth.predict && s->auth.admin ? ", " : "",
                 s->auth.admin ? "status/metadata/dashboard" : "");

  /* Without a file, batching runs on TF Serving's defaults (config.c). */
  if (f->batching_parameters_file
          ? srv_config_load_batching(f->batching_parameters_file, &s->batching, msg, sizeof msg)
          : srv_config_parse_batching("{}", 2, "(defaults)", &s->batching, msg, sizeof msg)) {
    srv_log_error("--batching_parameters_file: %s", msg);
    goto out;
  }
  if (f->batching_parameters_file && !f->enable_batching)
    srv_log_warn("--batching_parameters_file given without --enable_batching: not batching");
  if (f->enable_batching)
    srv_log_info("batching: max_batch_size %lld, batch_timeout_micros %lld, "
                 "max_enqueued_batches %lld, num_batch_threads %lld (workers per version)",
                 (long long)s->batching.max_batch_size, (long long)s->batching.batch_timeout_micros,
                 (long long)s->batching.max_enqueued_batches,
                 (long long)s->batching.num_batch_threads);
  if (f->model_config_file && f->model_base_path)
    srv_log_warn("--model_config_file given: ignoring --model_name/--model_base_path, as TF "
                 "Serving does");
  const char *config = f->model_config_file;
  if (!config && !f->model_base_path && file_exists(DEFAULT_CONFIG)) {
    config = DEFAULT_CONFIG;
    srv_log_info("no --model_base_path or --model_config_file: serving %s", DEFAULT_CONFIG);
  }

  int cpus = srv_cpu_quota(), inter, intra;
  srv_pool_decide((int)f->tensorflow_inter_op_parallelism, (int)f->tensorflow_intra_op_parallelism,
                  cpus, &inter, &intra);
  if (f->auto_tune)
    srv_log_info("orchard %s: %d CPUs; --auto_tune: each model version measures its workers x "
                 "threads as it loads (given --tensorflow_*_parallelism win)",
                 ORCHARD_VERSION, cpus);
  else
    srv_log_info("orchard %s: %d CPUs; each model version runs %d workers x %d threads",
                 ORCHARD_VERSION, cpus, inter, intra);

  srv_models_params mp = {.config_file = config,
                          .model_name = f->model_name,
                          .base_path = config ? NULL : f->model_base_path,
                          .poll_seconds = (int)f->file_system_poll_wait_seconds,
                          .inter_op = inter,
                          .intra_op = intra,
                          .queue_capacity = QUEUE_CAPACITY,
                          .warmup = f->enable_model_warmup,
                          .batching = f->enable_batching ? &s->batching : NULL,
                          .auto_tune = f->auto_tune,
                          .inter_op_given = (int)f->tensorflow_inter_op_parallelism,
                          .intra_op_given = (int)f->tensorflow_intra_op_parallelism,
                          .metrics = s->metrics};
  if (srv_models_create(&mp, &s->models, msg, sizeof msg) != 0) {
    srv_log_error("%s", msg);
    goto out;
  }
  rc = 1;
  if (srv_loop_init(&s->loop, on_signal, s) != 0) {
    srv_log_error("cannot create the event loop");
    goto out;
  }
  if (srv_models_start(s->models, msg, sizeof msg) != 0) {
    srv_log_error("%s", msg);
    goto out;
  }
  srv_metrics_add_collector(s->metrics, srv_models_collect, s->models);
  if (!(s->api = srv_api_create(s->models, &s->loop, s->metrics))) {
    srv_log_error("out of memory");
    goto out;
  }
  srv_api_set_auth(s->api, &s->auth);
  if (f->port) {
#ifdef ORCHARD_HAVE_GRPC
    srv_grpc_params gp = {.loop = &s->loop,
                          .models = s->models,
                          .port = (int)f->port,
                          .max_request_bytes = f->max_request_bytes,
                          .idle_timeout_seconds = IDLE_TIMEOUT_SECONDS,
                          .on_idle = on_grpc_idle,
                          .idle_arg = s,
                          .tls = s->tls,
                          .auth = &s->auth,
                          .metrics = s->metrics};
    if (srv_grpc_start(&gp, &s->grpc, msg, sizeof msg) != 0) {
      srv_log_error("%s", msg);
      goto out;
    }
    s->grpc_on = true;
    srv_log_info("gRPC API listening on port %lld", (long long)f->port);
#else
    srv_log_warn("--port %lld: this build has no gRPC (scripts/bootstrap, then rebuild); the "
                 "port stays closed",
                 (long long)f->port);
#endif
  }
  if (f->rest_api_port) {
    srv_http_params hp = {.loop = &s->loop.uv,
                          .port = (int)f->rest_api_port,
                          .max_request_bytes = f->max_request_bytes,
                          .timeout_ms = f->rest_api_timeout_in_ms,
                          .connection_limit = connection_limit(),
                          .idle_timeout_seconds = IDLE_TIMEOUT_SECONDS,
                          .handler = srv_api_handle,
                          .arg = s->api,
                          .on_idle = on_http_idle,
                          .idle_arg = s,
                          .tls = s->tls,
                          .metrics = s->metrics};
    if (srv_http_start(&hp, &s->http, msg, sizeof msg) != 0) {
      srv_log_error("%s", msg);
      goto out;
    }
    srv_log_info("REST API listening on port %lld", (long long)f->rest_api_port);
  } else {
    srv_log_warn("--rest_api_port=0: REST is off");
  }
  /* Signals that arrived during the first load are handled by the first loop turn. */
  srv_loop_run(&s->loop);
  srv_log_info("listener closed and requests answered; unloading models");
  rc = 0;
out:
  if (s->http) { /* start failed after the listener opened */
    srv_http_stop(s->http);
    s->http = NULL;
  }
#ifdef ORCHARD_HAVE_GRPC
  srv_grpc_stop(s->grpc); /* start failed after gRPC started: nothing is waiting any more */
#endif
  srv_metrics_remove_collector(s->metrics, srv_models_collect, s->models);
  srv_models_destroy(s->models); /* drains the worker queues, then unloads */
#ifdef ORCHARD_HAVE_GRPC
  srv_grpc_destroy(s->grpc); /* every call has ended with the pools: grpc core can go */
#endif
  srv_loop_close(&s->loop);
  srv_api_destroy(s->api);
  srv_flags_free(&s->flags);
  srv_batching_params_free(&s->batching);
  srv_tls_free(s->tls);
  srv_auth_free(&s->auth);
  srv_metrics_destroy(s->metrics); /* last: nothing records or collects any more */
  if (rc == 0 && s->stopping)
    srv_log_info("stopped");
  free(s);
  return rc;
}
