/*
 * api.c — routes and handlers of the REST API.
 *
 * Paths (design.md): /v1/models/{name}[/versions/{v}|/labels/{l}][:predict|/metadata],
 * /v2, /v2/health/{live,ready}, /v2/models/{name}[/versions/{v}][/ready|/infer], /metrics,
 * /monitoring/prometheus/metrics and /. Routing is a pure function (srv_route_parse) so it
 * is unit-tested without sockets.
 *
 * An inference job carries the raw body to a worker of the version the manager picked; the
 * servable stays valid while the job is in that version's pool (a retiring version drains
 * its pool before it unloads). If the request times out first, the job is cancelled when
 * still queued (503) or left to finish unanswered when already running (504). A refusal
 * because a queue is full is a 429 with Retry-After (workers.c estimates it). Metadata
 * answers get an "orchard" key: workers x threads, auto-tune, effective batching, and from
 * orchard.json the task and the inputs that take encoded images.
 *
 * :annotate is :predict plus task.c's reading of the outputs: the body is a raw image
 * (Content-Type image/jpeg or image/png; one answer object) or TF Serving row JSON (one
 * object per instance under "predictions"). Its query (?top_k, ?threshold, ?raw) is checked
 * on the loop thread, before any work; images are decoded on the worker, like every body. On
 * a model whose batch is fixed at 1, several instances run one by one (:predict still
 * refuses them, as TF Serving does).
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "api.h"
#include "auth.h"
#include "garden.h"
#include "log.h"
#include "metrics.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct srv_api {
  srv_models *models;
  srv_loop *loop;
  srv_metrics *metrics; /* NULL: not recorded */
  bool draining;
  const srv_auth *auth; /* NULL: open */
};

/* ---------------------------------------------------------------- routing */

static bool parse_version(const char *s, int64_t *out) {
  if (!*s || *s == '0' || strlen(s) > 18)
    return false;
  int64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return false;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return true;
}

/* Splits `s` (modified) at '/' into at most `max` segments; -1 if more or one is empty. */
static int split(char *s, char **seg, int max) {
  int n = 0;
  for (char *p = s;;) {
    if (n == max)
      return -1;
    seg[n++] = p;
    char *slash = strchr(p, '/');
    if (!slash)
      break;
    *slash = 0;
    p = slash + 1;
  }
  for (int i = 0; i < n; i++)
    if (!*seg[i])
      return -1;
  return n;
}

static int route_model_ref(srv_route *o, char **seg, int n, int *used, bool labels_ok, char *msg,
                           size_t cap) {
  snprintf(o->model, sizeof o->model, "%s", seg[0]);
  o->ref.name = o->model;
  o->ref.sel = SRV_SELECT_LATEST;
  *used = 1;
  if (n >= 3 && !strcmp(seg[1], "versions")) {
    if (!parse_version(seg[2], &o->ref.version)) {
      snprintf(msg, cap, "version '%s' in the path is not a positive integer", seg[2]);
      return 400;
    }
    o->ref.sel = SRV_SELECT_VERSION;
    *used = 3;
  } else if (labels_ok && n >= 3 && !strcmp(seg[1], "labels")) {
    snprintf(o->label, sizeof o->label, "%s", seg[2]);
    o->ref.label = o->label;
    o->ref.sel = SRV_SELECT_LABEL;
    *used = 3;
  }
  return 200;
}

int srv_route_parse(const char *method, const char *path, srv_route *o, char *msg, size_t cap) {
  memset(o, 0, sizeof *o);
  bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  bool post = !strcmp(method, "POST");
  char p[2048];
  size_t len = strlen(path);
  if (len >= sizeof p) {
    snprintf(msg, cap, "path too long");
    return 404;
  }
  memcpy(p, path, len + 1);
  if (len > 1 && p[len - 1] == '/')
    p[--len] = 0;
  bool want_post = false;
  int code = 200;
  char *seg[8];
  int n, used;
  if (!strcmp(p, "/")) {
    o->kind = SRV_ROUTE_DASHBOARD;
    o->api = "dashboard";
  } else if (!strncmp(p, "/dashboard/", 11) && p[11] && !strchr(p + 11, '/')) {
    o->kind = SRV_ROUTE_DASHBOARD_ASSET;
    o->api = "dashboard";
  } else if (!strcmp(p, "/v2/repository/index")) {
    o->kind = SRV_ROUTE_V2_REPO_INDEX;
    o->api = "v2_repository_index";
    want_post = true;
  } else if (!strcmp(p, "/metrics") || !strcmp(p, "/monitoring/prometheus/metrics")) {
    o->kind = SRV_ROUTE_METRICS;
    o->api = "metrics";
  } else if (!strncmp(p, "/v1/models/", 11)) {
    char *rest = p + 11, *verb = NULL;
    char *last = strrchr(rest, '/');
    char *colon = strrchr(last ? last : rest, ':');
    if (colon) {
      *colon = 0;
      verb = colon + 1;
    }
    if ((n = split(rest, seg, 8)) < 1)
      goto not_found;
    if ((code = route_model_ref(o, seg, n, &used, true, msg, cap)) != 200)
      return code;
    if (verb) {
      if (used != n)
        goto not_found;
      if (!strcmp(verb, "predict")) {
        o->kind = SRV_ROUTE_TFS_PREDICT;
        o->api = "predict";
      } else if (!strcmp(verb, "annotate")) {
        o->kind = SRV_ROUTE_TFS_ANNOTATE;
        o->api = "annotate";
      } else {
        snprintf(msg, cap, "':%s' is not supported; Orchard serves ':predict' and ':annotate'",
                 verb);
        return 400;
      }
      want_post = true;
    } else if (used + 1 == n && !strcmp(seg[used], "metadata")) {
      o->kind = SRV_ROUTE_TFS_METADATA;
      o->api = "model_metadata";
    } else if (used == n) {
      o->kind = SRV_ROUTE_TFS_STATUS;
      o->api = "model_status";
    } else {
      goto not_found;
    }
  } else if (!strcmp(p, "/v2")) {
    o->kind = SRV_ROUTE_V2_SERVER;
    o->api = "v2_server";
  } else if (!strcmp(p, "/v2/health/live")) {
    o->kind = SRV_ROUTE_V2_LIVE;
    o->api = "v2_live";
  } else if (!strcmp(p, "/v2/health/ready")) {
    o->kind = SRV_ROUTE_V2_READY;
    o->api = "v2_ready";
  } else if (!strncmp(p, "/v2/models/", 11)) {
    if ((n = split(p + 11, seg, 8)) < 1)
      goto not_found;
    if ((code = route_model_ref(o, seg, n, &used, false, msg, cap)) != 200)
      return code;
    if (used == n) {
      o->kind = SRV_ROUTE_V2_MODEL;
      o->api = "v2_model_metadata";
    } else if (used + 1 == n && !strcmp(seg[used], "ready")) {
      o->kind = SRV_ROUTE_V2_MODEL_READY;
      o->api = "v2_model_ready";
    } else if (used + 1 == n && !strcmp(seg[used], "infer")) {
      o->kind = SRV_ROUTE_V2_INFER;
      o->api = "v2_infer";
      want_post = true;
    } else {
      goto not_found;
    }
  } else {
    goto not_found;
  }
  if (want_post ? !post : !get) {
    snprintf(msg, cap, "%s %s: use %s", method, path, want_post ? "POST" : "GET");
    return 405;
  }
  return 200;
not_found:
  memset(o, 0, sizeof *o);
  snprintf(msg, cap, "no such endpoint: %s %s", method, path);
  return 404;
}

/* ---------------------------------------------------------------- helpers */

static void respond_json(srv_request *r, int code, json_t *j) {
  char *body = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  if (!body) {
    srv_request_error(r, 500, "out of memory");
    return;
  }
  srv_request_respond(r, code, "application/json", body, strlen(body));
}

static char *error_body(const char *msg, size_t *len) {
  srv_buf b;
  srv_buf_init(&b);
  srv_buf_puts(&b, "{\"error\":");
  srv_buf_json_string(&b, msg);
  srv_buf_putc(&b, '}');
  return srv_buf_take(&b, len);
}

static void set_retry_after(srv_request *r, int seconds) {
  char v[16];
  snprintf(v, sizeof v, "%d", seconds);
  srv_request_add_header(r, "Retry-After", v);
}

/* ---------------------------------------------------------------- inference jobs */

typedef enum job_kind { JOB_TFS, JOB_KSERVE, JOB_ANNOTATE } job_kind;

typedef struct api_job {
  srv_job job;
  srv_loop_item item;
  srv_api *api;
  srv_request *req; /* NULL once the request was answered without us */
  job_kind kind;
  const srv_servable *sv; /* valid while the job is in sv->pool */
  char model[256], version[24];
  char *body;
  size_t body_len;
  int code;
  char *resp;
  size_t resp_len;
  bool ran;
  double infer_seconds;
  /* Batching: the decoded request waits in the batcher after job_run returns; job_done and
   * batch_deliver may run on different workers in either order, and the last one posts. */
  srv_batch_task task;
  srv_infer_req breq;
  atomic_int refs;
  int retry_after; /* > 0: refused because the queue was full; sent as Retry-After */
  bool image_body;  /* the body is one encoded image (Content-Type image/jpeg|png) */
  bool raw;         /* :annotate?raw=true: answer as :predict would */
  srv_task_opts opts;
} api_job;

#define JOB_OF(p, member) ((api_job *)((char *)(p)-offsetof(api_job, member)))

static void job_free(api_job *j) {
  free(j->body);
  free(j->resp);
  free(j);
}

static int runtime_code(rt_status st) {
  return st == RT_ERR_INVALID_ARG || st == RT_ERR_SHAPE ? 400 : 500;
}

static void job_post(api_job *j);

/* One answer object per instance: {"model", "version", <task.c's members>}. */
static int annotate_encode(api_job *j, const srv_infer_req *req, const rt_tensor *outs,
                           srv_buf *b, char *msg, size_t cap) {
  const srv_sig *sig = j->sv->sig;
  const srv_task *task = srv_garden_task(sig->garden);
  int64_t n = req->n_instances;
  if (!task) { /* checked before queueing; kept for safety */
    snprintf(msg, cap, "model '%s' has no task (no orchard.json task)", j->model);
    return 400;
  }
  for (int k = 0; k < sig->n_out; k++)
    if (outs[k].rank < 1 || outs[k].dims[0] != n) {
      snprintf(msg, cap, "output '%s' has no batch dimension of the %" PRId64 " instances",
               sig->out[k].name, n);
      return 500;
    }
  if (!j->image_body)
    srv_buf_puts(b, "{\"predictions\":[");
  for (int64_t i = 0; i < n; i++) {
    srv_task_opts o = j->opts;
    if (req->sizes && i < req->n_sizes) {
      o.image_width = req->sizes[2 * i];
      o.image_height = req->sizes[2 * i + 1];
    }
    if (i)
      srv_buf_putc(b, ',');
    srv_buf_puts(b, "{\"model\":");
    srv_buf_json_string(b, j->model);
    srv_buf_puts(b, ",\"version\":");
    srv_buf_json_string(b, j->version);
    srv_buf_putc(b, ',');
    int code = srv_task_answer(task, sig, outs, i, &o, b, msg, cap);
    if (code != 200)
      return code;
    srv_buf_putc(b, '}');
  }
  if (!j->image_body)
    srv_buf_puts(b, "]}");
  if (b->oom) {
    snprintf(msg, cap, "out of memory writing the response");
    return 500;
  }
  return 200;
}

/* The response body for outs, per the job's API. */
static int job_encode(api_job *j, const srv_infer_req *req, const rt_tensor *outs, srv_buf *b,
                      char *msg, size_t cap) {
  const srv_sig *sig = j->sv->sig;
  switch (j->kind) {
  case JOB_KSERVE: return srv_kserve_encode(sig, req, j->model, j->version, outs, b, msg, cap);
  case JOB_ANNOTATE:
    if (!j->raw)
      return annotate_encode(j, req, outs, b, msg, cap);
    return srv_tfs_encode(sig, req, outs, b, msg, cap);
  default: return srv_tfs_encode(sig, req, outs, b, msg, cap);
  }
}

/* Worker thread, from the batcher: encode this request's rows (valid only in this call). */
static void batch_deliver(srv_batch_task *t, srv_batch_result r, const char *m,
                          const rt_tensor *outs, int n_out) {
  api_job *j = t->arg;
  char msg[1024];
  int code = 500;
  (void)n_out;
  if (r == SRV_BATCH_OK) {
    j->ran = true;
    j->infer_seconds = srv_now() - j->job.t_started;
    srv_buf b;
    srv_buf_init(&b);
    code = job_encode(j, &j->breq, outs, &b, msg, sizeof msg);
    if (code == 200)
      j->resp = srv_buf_take(&b, &j->resp_len);
    else
      srv_buf_free(&b);
    if (code == 200 && !j->resp) {
      code = 500;
      snprintf(msg, sizeof msg, "out of memory writing the response");
    }
  } else {
    code = r == SRV_BATCH_EXPIRED || r == SRV_BATCH_CANCELLED ? 504 : runtime_code(t->status);
    snprintf(msg, sizeof msg, "model '%s' version %s: %s", j->model, j->version, m);
  }
  srv_infer_req_free(&j->breq);
  j->code = code;
  if (code != 200)
    j->resp = error_body(msg, &j->resp_len);
  if (atomic_fetch_sub(&j->refs, 1) == 1)
    job_post(j);
}

/* After decoding: queue for a batch. True when the batcher owns the request now. */
static bool job_batch(api_job *j, srv_infer_req *req) {
  char msg[1024];
  j->breq = *req;
  j->task = (srv_batch_task){.in = j->breq.in, .n_in = j->breq.n_in, .deliver = batch_deliver,
                             .arg = j};
  atomic_store(&j->refs, 2);
  srv_batch_submit sub = srv_pool_submit_task(j->sv->pool, &j->task, msg, sizeof msg);
  if (sub == SRV_BATCH_SUBMIT_OK)
    return true;
  atomic_store(&j->refs, 0);
  *req = j->breq;
  memset(&j->breq, 0, sizeof j->breq);
  if (sub == SRV_BATCH_SUBMIT_FULL)
    j->retry_after = srv_pool_retry_after(j->sv->pool);
  j->code = sub == SRV_BATCH_SUBMIT_FULL     ? 429
            : sub == SRV_BATCH_SUBMIT_CLOSED ? 503
            : sub == SRV_BATCH_SUBMIT_NOMEM  ? 500
                                             : 400;
  char full[1200];
  snprintf(full, sizeof full, "model '%s' version %s: %s%s", j->model, j->version, msg,
           sub == SRV_BATCH_SUBMIT_FULL ? "; retry later" : "");
  j->resp = error_body(full, &j->resp_len);
  return false;
}

/* Every input has a batch dimension fixed at 1 (blazeface, movenet, selfie, ...). */
static bool batch_of_one(const srv_sig *sig) {
  for (int k = 0; k < sig->n_in; k++)
    if (sig->in[k].rank < 1 || sig->in[k].dims[0] != 1)
      return false;
  return sig->n_in > 0;
}

/* :annotate of several instances on a batch-of-one model: one run per instance, each output
 * copied into a tensor of n rows (session outputs are views the next run overwrites). The
 * rows' buffers go to keep[k] (n_out entries), freed by the caller. */
static rt_status run_per_instance(rt_session *s, const srv_sig *sig, const srv_infer_req *req,
                                  rt_tensor *outs, void **keep, rt_error *err) {
  int64_t n = req->n_instances;
  rt_tensor *in = calloc((size_t)req->n_in + 1, sizeof *in);
  rt_tensor *one = calloc((size_t)sig->n_out + 1, sizeof *one);
  rt_status st = in && one ? RT_OK : RT_ERR_NOMEM;
  if (st != RT_OK)
    snprintf(err->msg, sizeof err->msg, "out of memory");
  for (int64_t i = 0; i < n && st == RT_OK; i++) {
    for (int k = 0; k < req->n_in; k++) {
      in[k] = req->in[k];
      in[k].dims[0] = 1;
      in[k].data = (char *)req->in[k].data + rt_tensor_nbytes(&in[k]) * (size_t)i;
    }
    if ((st = rt_session_run(s, in, req->n_in, one, err)) != RT_OK)
      break;
    for (int k = 0; k < sig->n_out && st == RT_OK; k++) {
      size_t each = rt_tensor_nbytes(&one[k]);
      if (i == 0) {
        outs[k] = one[k];
        outs[k].dims[0] = n;
        keep[k] = outs[k].data = malloc(each * (size_t)n + 1);
        if (!keep[k]) {
          st = RT_ERR_NOMEM;
          snprintf(err->msg, sizeof err->msg, "out of memory");
          break;
        }
      }
      if (one[k].rank < 1 || one[k].dims[0] != 1 || one[k].rank != outs[k].rank ||
          memcmp(one[k].dims + 1, outs[k].dims + 1, sizeof(int64_t) * (size_t)(one[k].rank - 1))) {
        st = RT_ERR_SHAPE;
        snprintf(err->msg, sizeof err->msg,
                 "output '%s' has no batch dimension of 1 or changes shape between instances",
                 sig->out[k].name);
        break;
      }
      memcpy((char *)keep[k] + each * (size_t)i, one[k].data, each);
    }
  }
  free(in);
  free(one);
  return st;
}

/* Worker thread: decode, run, encode. Session outputs are views valid until the next run
 * on this session, so they are encoded here, before the worker takes another job. */
static void job_run(srv_job *jb, const rt_model *m, rt_session *s) {
  api_job *j = JOB_OF(jb, job);
  const srv_sig *sig = j->sv->sig;
  char msg[1024];
  srv_infer_req req;
  /* :annotate takes any number of images even where the model's batch is fixed at 1: the
   * codec sees a batch dimension left open, and the instances run one by one. */
  srv_sig loose = *sig;
  rt_io_info *loose_in = NULL;
  bool per_instance = j->kind == JOB_ANNOTATE && batch_of_one(sig) &&
                      (loose_in = malloc(sizeof *loose_in * (size_t)sig->n_in)) != NULL;
  if (per_instance) {
    memcpy(loose_in, sig->in, sizeof *loose_in * (size_t)sig->n_in);
    for (int k = 0; k < sig->n_in; k++)
      loose_in[k].dims[0] = -1;
    loose.in = loose_in;
  }
  int code = j->image_body ? srv_tfs_decode_image(&loose, j->body, j->body_len, &req, msg,
                                                  sizeof msg)
             : j->kind == JOB_KSERVE
                 ? srv_kserve_decode(&loose, j->body, j->body_len, &req, msg, sizeof msg)
                 : srv_tfs_decode(&loose, j->body, j->body_len, &req, msg, sizeof msg);
  free(loose_in);
  per_instance = per_instance && code == 200 && req.row && req.n_instances > 1;
  if (code == 200 && j->kind == JOB_ANNOTATE && !j->raw && !req.row) {
    srv_infer_req_free(&req);
    code = 400;
    snprintf(msg, sizeof msg,
             "':annotate' takes {\"instances\": [...]} (row format) or a raw image body, not "
             "\"inputs\"");
  }
  free(j->body);
  j->body = NULL;
  if (code == 200 && !per_instance && srv_pool_batching(j->sv->pool)) {
    if (!job_batch(j, &req))
      srv_infer_req_free(&req);
    return;
  }
  if (code == 200) {
    rt_tensor *outs = calloc((size_t)sig->n_out + 1, sizeof *outs);
    void **keep = calloc((size_t)sig->n_out + 1, sizeof *keep);
    rt_error err = {0};
    if (!outs || !keep) {
      code = 500;
      snprintf(msg, sizeof msg, "out of memory");
    } else {
      double t0 = srv_now();
      rt_status st = per_instance ? run_per_instance(s, sig, &req, outs, keep, &err)
                                  : rt_session_run(s, req.in, req.n_in, outs, &err);
      j->infer_seconds = srv_now() - t0;
      j->ran = true;
      if (st != RT_OK) {
        code = runtime_code(st);
        snprintf(msg, sizeof msg, "%s", err.msg);
      } else {
        srv_buf b;
        srv_buf_init(&b);
        code = job_encode(j, &req, outs, &b, msg, sizeof msg);
        if (code == 200)
          j->resp = srv_buf_take(&b, &j->resp_len);
        else
          srv_buf_free(&b);
        if (code == 200 && !j->resp) {
          code = 500;
          snprintf(msg, sizeof msg, "out of memory writing the response");
        }
      }
    }
    for (int k = 0; keep && k < sig->n_out; k++)
      free(keep[k]);
    free(keep);
    free(outs);
    srv_infer_req_free(&req);
  }
  j->code = code;
  if (code != 200)
    j->resp = error_body(msg, &j->resp_len);
  (void)m;
}

/* Loop thread: answer (unless the request is gone) and free. */
static void job_complete(srv_loop_item *it) {
  api_job *j = JOB_OF(it, item);
  if (j->ran)
    srv_metrics_inference(j->api->metrics, j->model, j->version, j->infer_seconds);
  if (j->req) {
    if (j->retry_after > 0)
      set_retry_after(j->req, j->retry_after);
    srv_request_respond(j->req, j->code ? j->code : 500, "application/json", j->resp, j->resp_len);
    j->resp = NULL;
  }
  job_free(j);
}

static void job_post(api_job *j) {
  j->item.fn = job_complete;
  if (!srv_loop_post(j->api->loop, &j->item))
    job_free(j); /* shutting down: nobody is waiting any more */
}

/* Worker thread (or the manager draining a pool): back to the loop, unless the batcher
 * still holds the request (then the last of job_done and batch_deliver posts). */
static void job_done(srv_job *jb) {
  api_job *j = JOB_OF(jb, job);
  if (atomic_load(&j->refs) > 0 && atomic_fetch_sub(&j->refs, 1) != 1)
    return;
  j->item.fn = job_complete;
  if (!srv_loop_post(j->api->loop, &j->item))
    job_free(j); /* shutting down: nobody is waiting any more */
}

static void job_abandon(srv_request *r, void *arg, srv_abandon why) {
  api_job *j = arg;
  j->req = NULL;
  bool unstarted = srv_job_cancel(&j->job) ||
                   (atomic_load(&j->refs) > 0 && srv_batch_task_cancel(&j->task));
  if (why != SRV_ABANDON_TIMEOUT)
    return;
  double ms = srv_request_age(r) * 1e3;
  if (unstarted)
    srv_request_error(r, 503,
                      "model '%s' version %s: no worker was free within %.0f ms "
                      "(--rest_api_timeout_in_ms); try again later",
                      j->model, j->version, ms);
  else
    srv_request_error(r, 504,
                      "model '%s' version %s: inference did not finish within %.0f ms "
                      "(--rest_api_timeout_in_ms)",
                      j->model, j->version, ms);
}

/* The servable the route names, with the request labelled for metrics and logs; NULL when it
 * answered the error itself. The caller releases what it got. */
static const srv_servable *acquire_or_answer(srv_api *a, srv_request *r, const srv_route *rt) {
  char msg[1024];
  const srv_servable *sv;
  int code = srv_models_acquire(a->models, &rt->ref, &sv, msg, sizeof msg);
  if (code != 200) {
    srv_request_label(r, rt->api, rt->model, "");
    srv_request_error(r, code, "%s", msg);
    return NULL;
  }
  srv_request_label(r, rt->api, sv->model_name, sv->version_str);
  return sv;
}

/* "image/jpeg" or "image/png" (parameters after ';' ignored). */
static bool image_content_type(const char *ct) {
  if (!ct)
    return false;
  while (*ct == ' ')
    ct++;
  size_t n = strcspn(ct, "; ");
  return (n == 10 && !strncasecmp(ct, "image/jpeg", 10)) ||
         (n == 9 && !strncasecmp(ct, "image/png", 9));
}

/* :annotate's query into j (400 naming the parameter when one is bad). */
static int annotate_query(srv_request *r, api_job *j, char *msg, size_t cap) {
  j->opts.top_k = 0;
  j->opts.threshold = -1;
  const char *v = srv_request_query(r, "top_k");
  if (v) {
    char *end;
    long k = strtol(v, &end, 10);
    if (!*v || *end || k < 1 || k > 1000000) {
      snprintf(msg, cap, "top_k: '%s' is not a positive integer", v);
      return 400;
    }
    j->opts.top_k = (int)k;
  }
  v = srv_request_query(r, "threshold");
  if (v) {
    char *end;
    double t = strtod(v, &end);
    if (!*v || *end || !(t >= 0 && t <= 1)) {
      snprintf(msg, cap, "threshold: '%s' is not a number between 0 and 1", v);
      return 400;
    }
    j->opts.threshold = t;
  }
  v = srv_request_query(r, "raw");
  if (v) {
    if (!strcmp(v, "true") || !strcmp(v, "1")) {
      j->raw = true;
    } else if (strcmp(v, "false") && strcmp(v, "0")) {
      snprintf(msg, cap, "raw: '%s' is not true or false", v);
      return 400;
    }
  }
  return 200;
}

static void handle_infer(srv_api *a, srv_request *r, const srv_route *rt, job_kind kind) {
  char qmsg[512];
  api_job *j = calloc(1, sizeof *j);
  if (!j) {
    srv_request_error(r, 500, "out of memory");
    return;
  }
  if (kind != JOB_KSERVE)
    j->image_body = image_content_type(srv_request_header(r, "Content-Type"));
  if (kind == JOB_ANNOTATE && annotate_query(r, j, qmsg, sizeof qmsg) != 200) {
    srv_request_label(r, rt->api, rt->model, "");
    srv_request_error(r, 400, "%s", qmsg);
    free(j);
    return;
  }
  const srv_servable *sv = acquire_or_answer(a, r, rt);
  if (!sv) {
    free(j);
    return;
  }
  if (kind == JOB_ANNOTATE && !j->raw && !srv_garden_task(sv->sig->garden)) {
    srv_request_error(r, 400, "model '%s' has no task (no orchard.json task)", sv->model_name);
    srv_models_release(a->models);
    free(j);
    return;
  }
  j->api = a;
  j->req = r;
  j->kind = kind;
  j->sv = sv;
  snprintf(j->model, sizeof j->model, "%s", sv->model_name);
  snprintf(j->version, sizeof j->version, "%s", sv->version_str);
  j->body = srv_request_take_body(r, &j->body_len);
  j->job.run = job_run;
  j->job.done = job_done;
  srv_pool *pool = sv->pool;
  srv_submit sub = srv_pool_submit(pool, &j->job);
  /* Estimated under the manager lock: the pool cannot be retired meanwhile. */
  int retry = sub == SRV_SUBMIT_FULL ? srv_pool_retry_after(pool) : 0;
  srv_models_release(a->models);
  if (sub == SRV_SUBMIT_OK) {
    srv_request_defer(r, job_abandon, j);
    return;
  }
  if (retry > 0)
    set_retry_after(r, retry);
  if (sub == SRV_SUBMIT_FULL)
    srv_request_error(r, 429, "model '%s' version %s: the request queue is full; retry later",
                      j->model, j->version);
  else
    srv_request_error(r, 503, "model '%s' version %s is being unloaded; retry", j->model,
                      j->version);
  job_free(j);
}

/* ---------------------------------------------------------------- other handlers */

static void handle_status(srv_api *a, srv_request *r, const srv_route *rt) {
  char msg[1024];
  json_t *out;
  srv_request_label(r, rt->api, rt->model, "");
  int code = srv_models_status(a->models, &rt->ref, &out, msg, sizeof msg);
  if (code != 200)
    srv_request_error(r, code, "%s", msg);
  else
    respond_json(r, 200, out);
}

/* The "orchard" key of the metadata answers: how this version is served. Under the manager
 * lock (the servable and its pool are alive). */
static json_t *serving_json(const srv_servable *sv) {
  const srv_serving_info *in = sv->serving;
  json_t *o = json_object();
  if (!o || !in)
    return o;
  json_object_set_new(o, "workers", json_integer(in->workers));
  json_object_set_new(o, "intra_op_threads", json_integer(in->intra_op_threads));
  json_object_set_new(o, "auto_tuned", json_boolean(in->auto_tuned));
  if (in->auto_tuned)
    json_object_set_new(o, "auto_tune",
                        json_pack("{s:b, s:i, s:i, s:i, s:f, s:f, s:i, s:i, s:f}", "measured",
                                  in->tune.measured, "workers", in->tune.workers, "threads",
                                  in->tune.threads, "batch", in->tune.batch, "inferences_per_s",
                                  in->tune.inferences_per_s, "p99_ms", in->tune.p99_ms,
                                  "configs_measured", in->tune.configs, "configs_skipped",
                                  in->tune.skipped, "seconds", in->tune.seconds));
  const srv_batcher_params *bp = srv_pool_batcher_params(sv->pool);
  json_t *b = json_null();
  if (bp) {
    json_t *al = json_array();
    for (int i = 0; i < bp->n_allowed; i++)
      json_array_append_new(al, json_integer(bp->allowed[i]));
    b = json_pack("{s:i, s:I, s:i, s:i, s:o, s:b, s:b}", "max_batch_size", bp->max_batch_size,
                  "batch_timeout_micros", (json_int_t)bp->batch_timeout_micros,
                  "max_enqueued_batches", bp->max_enqueued_batches, "num_batch_threads",
                  in->workers, "allowed_batch_sizes", al, "enable_large_batch_splitting", bp->split,
                  "model_override", in->batching_override);
  }
  json_object_set_new(o, "batching", b ? b : json_null());
  const srv_garden *g = sv->sig->garden;
  const srv_task *task = srv_garden_task(g);
  json_object_set_new(o, "task", task ? srv_task_describe(task) : json_null());
  json_object_set_new(o, "image_inputs", srv_garden_image_inputs(g, sv->sig));
  if (!bp && in->batching_requested)
    json_object_set_new(o, "batching_off_reason",
                        json_string("an input has no open batch dimension (dim 0)"));
  return o;
}

static void handle_metadata(srv_api *a, srv_request *r, const srv_route *rt, bool v2) {
  const srv_servable *sv = acquire_or_answer(a, r, rt);
  if (!sv)
    return;
  json_t *j = v2 ? srv_kserve_metadata(sv->sig, sv->model_name, sv->platform,
                                       srv_models_available_locked(a->models, sv->model_name))
                 : srv_tfs_metadata(sv->sig, sv->model_name, sv->version);
  if (j)
    json_object_set_new(j, "orchard", serving_json(sv));
  srv_models_release(a->models);
  respond_json(r, 200, j);
}

static void handle_model_ready(srv_api *a, srv_request *r, const srv_route *rt) {
  char msg[1024];
  const srv_servable *sv;
  int code = srv_models_acquire(a->models, &rt->ref, &sv, msg, sizeof msg);
  if (code == 200) {
    srv_request_label(r, rt->api, sv->model_name, sv->version_str);
    json_t *j = json_pack("{s:s, s:s, s:b}", "name", sv->model_name, "version", sv->version_str,
                          "ready", 1);
    srv_models_release(a->models);
    respond_json(r, 200, j);
    return;
  }
  srv_request_label(r, rt->api, rt->model, "");
  if (code == 404)
    srv_request_error(r, 404, "%s", msg);
  else
    respond_json(r, code,
                 json_pack("{s:s, s:b, s:s}", "name", rt->model, "ready", 0, "error", msg));
}

static void handle_asset(srv_request *r) {
  const unsigned char *data;
  size_t len;
  const char *ctype;
  if (!srv_dashboard_asset(srv_request_path(r), &data, &len, &ctype)) {
    srv_request_error(r, 404, "no such file: %s", srv_request_path(r));
    return;
  }
  char *copy = malloc(len ? len : 1);
  if (!copy) {
    srv_request_error(r, 500, "out of memory");
    return;
  }
  memcpy(copy, data, len);
  /* The files are part of the binary: a browser must revalidate them (no-cache, not no-store)
   * so that an upgraded server is never shown with a cached page of the old one. */
  srv_request_add_header(r, "Cache-Control", "no-cache");
  srv_request_add_header(r, "X-Content-Type-Options", "nosniff");
  srv_request_respond(r, 200, ctype, copy, len);
}

/* KServe's model repository extension: [{"name", "version", "state", "reason"}], one entry
 * per version the manager knows, states in KServe's words (READY / UNAVAILABLE / LOADING). */
static void handle_repo_index(srv_api *a, srv_request *r) {
  json_t *models = srv_models_describe(a->models), *out = json_array();
  size_t i;
  json_t *m;
  json_array_foreach(models, i, m) {
    const char *name = json_string_value(json_object_get(m, "name"));
    json_t *versions = json_object_get(m, "versions"), *v;
    size_t k;
    json_array_foreach(versions, k, v) {
      const char *state = json_string_value(json_object_get(v, "state"));
      const char *err =
          json_string_value(json_object_get(json_object_get(v, "status"), "error_message"));
      const char *vs = json_string_value(json_object_get(v, "version"));
      const char *kstate = !state                         ? "UNAVAILABLE"
                           : !strcmp(state, "AVAILABLE")  ? "READY"
                           : !strcmp(state, "LOADING") || !strcmp(state, "START") ? "LOADING"
                                                                                  : "UNAVAILABLE";
      json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s}", "name", name ? name : "",
                                           "version", vs ? vs : "", "state", kstate, "reason",
                                           err ? err : ""));
    }
  }
  json_decref(models);
  respond_json(r, 200, out);
}

/* Bearer-token check (auth.h): probes stay open, inference needs the predict token, the rest
 * the admin token. False when it answered 401 itself. */
static bool api_authorized(const srv_api *a, srv_request *r, srv_route_kind kind) {
  /* The dashboard's static files hold no data (the page asks the guarded endpoints for it,
   * with the tokens pasted into it): a browser cannot send a bearer token when it opens a
   * page, so they stay open. */
  srv_auth_scope scope = kind == SRV_ROUTE_V2_LIVE || kind == SRV_ROUTE_V2_READY ||
                                 kind == SRV_ROUTE_METRICS || kind == SRV_ROUTE_DASHBOARD ||
                                 kind == SRV_ROUTE_DASHBOARD_ASSET
                             ? SRV_AUTH_OPEN
                         : kind == SRV_ROUTE_TFS_PREDICT || kind == SRV_ROUTE_V2_INFER ||
                                   kind == SRV_ROUTE_TFS_ANNOTATE
                             ? SRV_AUTH_PREDICT
                             : SRV_AUTH_ADMIN;
  const char *h = srv_request_header(r, "Authorization");
  srv_auth_verdict v = srv_auth_check(a->auth, scope, h, h ? strlen(h) : 0);
  if (v == SRV_AUTH_OK)
    return true;
  srv_request_add_header(r, "WWW-Authenticate",
                         v == SRV_AUTH_WRONG ? "Bearer error=\"invalid_token\"" : "Bearer");
  srv_request_error(r, 401,
                    v == SRV_AUTH_WRONG
                        ? "the bearer token is not the one this endpoint takes (%s)"
                        : "this endpoint needs 'Authorization: Bearer <token>' (%s)",
                    srv_auth_flag(scope));
  return false;
}

void srv_api_handle(srv_request *r, void *arg) {
  srv_api *a = arg;
  srv_route rt;
  char msg[1024];
  int code = srv_route_parse(srv_request_method(r), srv_request_path(r), &rt, msg, sizeof msg);
  if (code != 200) {
    srv_request_label(r, "unknown", "", "");
    srv_request_error(r, code, "%s", msg);
    return;
  }
  srv_request_label(r, rt.api, "", "");
  if (!api_authorized(a, r, rt.kind))
    return;
  /* First call, headers only (http.h): a route error or a 401 was answered before the body
   * was read; anything else waits for the body. */
  if (srv_request_headers_only(r))
    return;
  switch (rt.kind) {
  case SRV_ROUTE_DASHBOARD:
  case SRV_ROUTE_DASHBOARD_ASSET: handle_asset(r); return;
  case SRV_ROUTE_V2_REPO_INDEX: handle_repo_index(a, r); return;
  case SRV_ROUTE_TFS_ANNOTATE: handle_infer(a, r, &rt, JOB_ANNOTATE); return;
  case SRV_ROUTE_METRICS: {
    size_t len;
    if (!a->metrics) {
      srv_request_error(r, 404, "metrics are not recorded by this server");
      return;
    }
    char *text = srv_metrics_render(a->metrics, &len);
    if (!text)
      srv_request_error(r, 500, "out of memory");
    else
      srv_request_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    return;
  }
  case SRV_ROUTE_TFS_PREDICT: handle_infer(a, r, &rt, JOB_TFS); return;
  case SRV_ROUTE_V2_INFER: handle_infer(a, r, &rt, JOB_KSERVE); return;
  case SRV_ROUTE_TFS_STATUS: handle_status(a, r, &rt); return;
  case SRV_ROUTE_TFS_METADATA: handle_metadata(a, r, &rt, false); return;
  case SRV_ROUTE_V2_MODEL: handle_metadata(a, r, &rt, true); return;
  case SRV_ROUTE_V2_MODEL_READY: handle_model_ready(a, r, &rt); return;
  case SRV_ROUTE_V2_SERVER:
    respond_json(
        r, 200,
        json_pack("{s:s, s:s, s:[]}", "name", "orchard", "version", ORCHARD_VERSION, "extensions"));
    return;
  case SRV_ROUTE_V2_LIVE: respond_json(r, 200, json_pack("{s:b}", "live", 1)); return;
  case SRV_ROUTE_V2_READY: {
    bool ready = !a->draining && srv_models_ready(a->models);
    respond_json(r, ready ? 200 : 503, json_pack("{s:b}", "ready", ready));
    return;
  }
  }
  srv_request_error(r, 500, "internal error: unhandled route");
}

void srv_api_set_auth(srv_api *a, const srv_auth *auth) { a->auth = auth; }

srv_api *srv_api_create(srv_models *models, srv_loop *loop, srv_metrics *metrics) {
  srv_api *a = calloc(1, sizeof *a);
  if (a) {
    a->models = models;
    a->loop = loop;
    a->metrics = metrics;
  }
  return a;
}

void srv_api_destroy(srv_api *a) { free(a); }

void srv_api_set_draining(srv_api *a, bool draining) { a->draining = draining; }
