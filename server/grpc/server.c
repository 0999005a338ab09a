/*
 * server.c — the gRPC front on grpc core: calls, the completion-queue thread, routing,
 * draining (srv_grpc.h).
 *
 * One `gcall` per call, allocated before grpc_server_request_call and freed when its last
 * reference goes: one reference belongs to the pending RECV_CLOSE_ON_SERVER op, one to the
 * answer (held by whoever will answer next: the completion-queue thread, the loop, the
 * worker job, then the SEND op). Every tag points into its gcall, so a gcall outlives all the
 * ops it started. Loop-only fields (closed, in_pool) are touched only on the loop thread;
 * cross-thread hand-offs are srv_loop_post and atomics.
 *
 * A call's deadline becomes the job's deadline: a job that reaches a worker after it does not
 * run (DEADLINE_EXCEEDED), and grpc core cancels the call at the deadline, which cancels a
 * still-queued job. Status codes come from one table (status_of) over the HTTP-like codes
 * the codecs and the model manager return; metrics record those HTTP-like codes, so REST and
 * gRPC series read alike.
 *
 * Draining: health turns NOT_SERVING and new inference calls get UNAVAILABLE while the
 * calls in progress finish; once none is left the server shuts down (GOAWAY) and on_idle
 * fires. srv_grpc_stop cancels what is left (grace period over, second signal).
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "api.h"
#include "auth.h"
#include "codec.h"
#include "log.h"
#include "metrics.h"
#include "srv_grpc.h"
#include "tls.h"
#include "wire.h"
#include "workers.h"

#include "grpc/health/v1/health.pb-c.h"
#include "grpc_predict_v2.pb-c.h"
#include "tensorflow_serving/apis/get_model_metadata.pb-c.h"
#include "tensorflow_serving/apis/get_model_status.pb-c.h"
#include "tensorflow_serving/apis/predict.pb-c.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decoded tensors above this many bytes are refused (a single *_val value is broadcast to
 * the whole shape, so the message size alone does not bound them). */
#define MIN_TENSOR_LIMIT (INT64_C(256) << 20)
#define MAX_CONCURRENT_STREAMS 256
#define MAX_METADATA_BYTES (16 * 1024)
/* grpc core refuses messages over its limit with its own words ("Received message larger
 * than max"); it is set this far above --max_request_bytes so that a message a little over
 * our limit reaches on_recv, which refuses it naming the flag. Larger ones still get grpc's. */
#define OVER_LIMIT_BYTES (1 << 20)

typedef enum gmethod {
  M_UNKNOWN = 0,
  M_PREDICT,
  M_TFS_METADATA,
  M_TFS_STATUS,
  M_LIVE,
  M_READY,
  M_MODEL_READY,
  M_SERVER_METADATA,
  M_MODEL_METADATA,
  M_INFER,
  M_HEALTH,
} gmethod;

/* `req`: the request message, whose string fields are checked for NUL (wire.h). */
static const struct {
  const char *path, *api;
  gmethod m;
  const ProtobufCMessageDescriptor *req;
} METHODS[] = {
    {"/tensorflow.serving.PredictionService/Predict", "grpc_predict", M_PREDICT,
     &tensorflow__serving__predict_request__descriptor},
    {"/tensorflow.serving.PredictionService/GetModelMetadata", "grpc_model_metadata",
     M_TFS_METADATA, &tensorflow__serving__get_model_metadata_request__descriptor},
    {"/tensorflow.serving.ModelService/GetModelStatus", "grpc_model_status", M_TFS_STATUS,
     &tensorflow__serving__get_model_status_request__descriptor},
    {"/inference.GRPCInferenceService/ServerLive", "grpc_server_live", M_LIVE,
     &inference__server_live_request__descriptor},
    {"/inference.GRPCInferenceService/ServerReady", "grpc_server_ready", M_READY,
     &inference__server_ready_request__descriptor},
    {"/inference.GRPCInferenceService/ModelReady", "grpc_model_ready", M_MODEL_READY,
     &inference__model_ready_request__descriptor},
    {"/inference.GRPCInferenceService/ServerMetadata", "grpc_server_metadata", M_SERVER_METADATA,
     &inference__server_metadata_request__descriptor},
    {"/inference.GRPCInferenceService/ModelMetadata", "grpc_v2_model_metadata", M_MODEL_METADATA,
     &inference__model_metadata_request__descriptor},
    {"/inference.GRPCInferenceService/ModelInfer", "grpc_model_infer", M_INFER,
     &inference__model_infer_request__descriptor},
    {"/grpc.health.v1.Health/Check", "grpc_health", M_HEALTH,
     &grpc__health__v1__health_check_request__descriptor},
};

typedef enum tag_kind { TAG_NEW, TAG_RECV, TAG_CLOSE, TAG_SEND, TAG_SHUTDOWN } tag_kind;

typedef struct gcall gcall;
typedef struct gtag {
  tag_kind kind;
  gcall *c;
} gtag;

struct srv_grpc {
  srv_grpc_params p;
  grpc_server *server;
  grpc_completion_queue *cq;
  pthread_t thread;
  bool thread_started, grpc_inited, collecting;
  atomic_bool draining;
  atomic_bool not_serving; /* lame duck (serve.c): health off, inference still served */
  atomic_int alive;                              /* accepted calls not yet freed */
  bool shutdown_started, idle_notified, stopped; /* loop thread */
  atomic_bool check_posted;
  srv_loop_item check_item;
  gtag shutdown_tag;
  atomic_bool shutdown_done;
};

struct gcall {
  srv_grpc *g;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  gtag t_new, t_recv, t_close, t_send;
  grpc_byte_buffer *recv_buf, *send_buf;
  int cancelled; /* RECV_CLOSE_ON_SERVER result */
  atomic_int refs;
  gmethod method;
  const char *api;
  const ProtobufCMessageDescriptor *req_desc;
  double t_start, deadline; /* srv_now(); deadline 0: none */
  grpc_slice req;           /* the request message, contiguous */
  bool has_req;
  srv_loop_item it_dispatch, it_close, it_done;
  /* loop thread */
  bool closed, in_pool;
  /* the inference job */
  srv_job job;
  const srv_servable *sv; /* valid while the job is in sv->pool */
  char model[256], version[24];
  srv_batch_task task;
  srv_infer_req breq;
  atomic_int jrefs;
  bool ran;
  double infer_seconds;
  /* the answer */
  int code; /* HTTP-like; 200 = OK */
  char msg[1024];
  uint8_t *resp;
  size_t resp_len;
};

#define CALL_OF(p, member) ((gcall *)((char *)(p)-offsetof(gcall, member)))

/* One table from the codes the codecs and the model manager use to gRPC's. */
static grpc_status_code status_of(int code) {
  switch (code) {
  case 200: return GRPC_STATUS_OK;
  case 400: return GRPC_STATUS_INVALID_ARGUMENT;
  case 401: return GRPC_STATUS_UNAUTHENTICATED; /* bearer token (auth.h) */
  case 404: return GRPC_STATUS_NOT_FOUND;
  case 405: return GRPC_STATUS_UNIMPLEMENTED;
  case 413: return GRPC_STATUS_RESOURCE_EXHAUSTED;
  case 429: return GRPC_STATUS_UNAVAILABLE; /* queue full: retry later */
  case 499: return GRPC_STATUS_CANCELLED;
  case 503: return GRPC_STATUS_UNAVAILABLE;
  case 504: return GRPC_STATUS_DEADLINE_EXCEEDED;
  case 500: return GRPC_STATUS_INTERNAL;
  default: return GRPC_STATUS_UNKNOWN;
  }
}

static void post_check(srv_grpc *g);

static void call_free(gcall *c) {
  srv_grpc *g = c->g;
  bool accepted = c->call != NULL;
  if (c->call)
    grpc_call_unref(c->call);
  grpc_call_details_destroy(&c->details);
  grpc_metadata_array_destroy(&c->md);
  if (c->recv_buf)
    grpc_byte_buffer_destroy(c->recv_buf);
  if (c->send_buf)
    grpc_byte_buffer_destroy(c->send_buf);
  if (c->has_req)
    grpc_slice_unref(c->req);
  srv_infer_req_free(&c->breq);
  free(c->resp);
  free(c);
  if (accepted && atomic_fetch_sub(&g->alive, 1) == 1 && atomic_load(&g->draining))
    post_check(g);
}

static void call_unref(gcall *c) {
  if (atomic_fetch_sub(&c->refs, 1) == 1)
    call_free(c);
}

static void set_error(gcall *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(gcall *c, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof c->msg, fmt, ap);
  va_end(ap);
  c->code = code;
  free(c->resp);
  c->resp = NULL;
  c->resp_len = 0;
}

/* Any thread: sends the answer in c (code, msg, resp); the answer reference moves to the
 * SEND op. */
static void send_answer(gcall *c) {
  srv_metrics_request(c->g->p.metrics, c->model, c->version, c->api ? c->api : "grpc_unknown",
                      c->code, srv_now() - c->t_start);
  grpc_op ops[3];
  memset(ops, 0, sizeof ops);
  int n = 0;
  ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[n].data.send_initial_metadata.count = 0;
  n++;
  if (c->code == 200) {
    grpc_slice s = c->resp_len ? grpc_slice_new(c->resp, c->resp_len, free) : grpc_empty_slice();
    if (!c->resp_len)
      free(c->resp);
    c->resp = NULL; /* the slice owns it now */
    c->send_buf = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->send_buf;
    n++;
  }
  grpc_slice details = grpc_slice_from_copied_string(c->code == 200 ? "" : c->msg);
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.trailing_metadata_count = 0;
  ops[n].data.send_status_from_server.status = status_of(c->code);
  ops[n].data.send_status_from_server.status_details = c->code == 200 ? NULL : &details;
  n++;
  grpc_call_error e = grpc_call_start_batch(c->call, ops, (size_t)n, &c->t_send, NULL);
  grpc_slice_unref(details);
  if (e != GRPC_CALL_OK)
    call_unref(c);
}

/* Loop thread: the call is over without an answer (client gone). */
static void drop_answer(gcall *c) {
  srv_metrics_request(c->g->p.metrics, c->model, c->version, c->api ? c->api : "grpc_unknown", 499,
                      srv_now() - c->t_start);
  call_unref(c);
}

/* ---------------------------------------------------------------- inference jobs */

static const uint8_t *req_data(const gcall *c) { return GRPC_SLICE_START_PTR(c->req); }
static size_t req_len(const gcall *c) { return GRPC_SLICE_LENGTH(c->req); }

static int64_t tensor_limit(const gcall *c) {
  int64_t l = c->g->p.max_request_bytes * 4;
  return l < MIN_TENSOR_LIMIT ? MIN_TENSOR_LIMIT : l;
}

static int encode(gcall *c, const srv_infer_req *r, const rt_tensor *outs) {
  const srv_sig *sig = c->sv->sig;
  return c->method == M_PREDICT
             ? srv_grpc_tfs_encode(sig, r, c->model, c->sv->version, outs, &c->resp, &c->resp_len,
                                   c->msg, sizeof c->msg)
             : srv_grpc_kserve_encode(sig, r, c->model, c->version, outs, &c->resp, &c->resp_len,
                                      c->msg, sizeof c->msg);
}

static void job_post(gcall *c);

/* Worker, from the batcher: encode this request's rows (valid only in this call). */
static void batch_deliver(srv_batch_task *t, srv_batch_result r, const char *m,
                          const rt_tensor *outs, int n_out) {
  gcall *c = t->arg;
  (void)n_out;
  if (r == SRV_BATCH_OK) {
    c->ran = true;
    c->infer_seconds = srv_now() - c->job.t_started;
    c->code = encode(c, &c->breq, outs);
  } else {
    /* t->status: the runtime's verdict on this request alone (batcher re-runs a failed batch
     * request by request), so bad data is INVALID_ARGUMENT as it is unbatched. */
    c->code = r == SRV_BATCH_EXPIRED     ? 504
              : r == SRV_BATCH_CANCELLED ? 499
              : t->status == RT_ERR_INVALID_ARG || t->status == RT_ERR_SHAPE ? 400
                                                                             : 500;
    snprintf(c->msg, sizeof c->msg, "model '%s' version %s: %s", c->model, c->version, m);
  }
  srv_infer_req_free(&c->breq);
  if (atomic_fetch_sub(&c->jrefs, 1) == 1)
    job_post(c);
}

static void job_run(srv_job *jb, const rt_model *m, rt_session *s) {
  gcall *c = CALL_OF(jb, job);
  const srv_sig *sig = c->sv->sig;
  (void)m;
  if (c->deadline > 0 && srv_now() >= c->deadline) {
    set_error(c, 504,
              "model '%s' version %s: the call's deadline passed while it waited for a worker; "
              "it did not run",
              c->model, c->version);
    return;
  }
  srv_infer_req req;
  int code = c->method == M_PREDICT
                 ? srv_grpc_tfs_decode(sig, req_data(c), req_len(c), tensor_limit(c), &req, c->msg,
                                       sizeof c->msg)
                 : srv_grpc_kserve_decode(sig, req_data(c), req_len(c), tensor_limit(c), &req,
                                          c->msg, sizeof c->msg);
  grpc_slice_unref(c->req);
  c->has_req = false;
  if (code != 200) {
    c->code = code;
    return;
  }
  if (srv_pool_batching(c->sv->pool)) {
    char msg[900];
    c->breq = req;
    c->task = (srv_batch_task){.in = c->breq.in,
                               .n_in = c->breq.n_in,
                               .deadline = c->deadline,
                               .deliver = batch_deliver,
                               .arg = c};
    atomic_store(&c->jrefs, 2);
    srv_batch_submit sub = srv_pool_submit_task(c->sv->pool, &c->task, msg, sizeof msg);
    if (sub == SRV_BATCH_SUBMIT_OK)
      return;
    atomic_store(&c->jrefs, 0);
    srv_infer_req_free(&c->breq);
    set_error(c,
              sub == SRV_BATCH_SUBMIT_FULL     ? 429
              : sub == SRV_BATCH_SUBMIT_CLOSED ? 503
              : sub == SRV_BATCH_SUBMIT_NOMEM  ? 500
                                               : 400,
              "model '%s' version %s: %s%s", c->model, c->version, msg,
              sub == SRV_BATCH_SUBMIT_FULL ? "; retry later" : "");
    return;
  }
  rt_tensor *outs = calloc((size_t)sig->n_out + 1, sizeof *outs);
  if (!outs) {
    set_error(c, 500, "out of memory");
  } else {
    rt_error err = {0};
    double t0 = srv_now();
    rt_status st = rt_session_run(s, req.in, req.n_in, outs, &err);
    c->infer_seconds = srv_now() - t0;
    c->ran = true;
    if (st != RT_OK)
      set_error(c, st == RT_ERR_INVALID_ARG || st == RT_ERR_SHAPE ? 400 : 500, "%s", err.msg);
    else
      c->code = encode(c, &req, outs);
    free(outs);
  }
  srv_infer_req_free(&req);
}

/* Loop thread: answer unless the client is gone. */
static void job_complete(srv_loop_item *it) {
  gcall *c = CALL_OF(it, it_done);
  c->in_pool = false;
  if (c->ran)
    srv_metrics_inference(c->g->p.metrics, c->model, c->version, c->infer_seconds);
  if (c->closed)
    drop_answer(c);
  else
    send_answer(c);
}

static void job_post(gcall *c) {
  c->it_done.fn = job_complete;
  if (!srv_loop_post(c->g->p.loop, &c->it_done))
    call_unref(c); /* shutting down: nobody will answer */
}

/* Worker (or a pool draining): back to the loop unless the batcher still holds the task. */
static void job_done(srv_job *jb) {
  gcall *c = CALL_OF(jb, job);
  if (atomic_load(&c->jrefs) > 0 && atomic_fetch_sub(&c->jrefs, 1) != 1)
    return;
  job_post(c);
}

static void submit_infer(gcall *c) {
  srv_grpc *g = c->g;
  srv_grpc_spec spec;
  char msg[1024];
  int code = c->method == M_PREDICT
                 ? srv_grpc_peek_tfs_spec(req_data(c), req_len(c), 1, &spec, msg, sizeof msg)
                 : srv_grpc_peek_kserve_spec(req_data(c), req_len(c), &spec, msg, sizeof msg);
  if (code != 200) {
    set_error(c, code, "%s", msg);
    send_answer(c);
    return;
  }
  snprintf(c->model, sizeof c->model, "%s", spec.name);
  if (atomic_load(&g->draining)) {
    set_error(c, 503, "the server is shutting down; retry on another replica");
    send_answer(c);
    return;
  }
  if (c->deadline > 0 && srv_now() >= c->deadline) {
    set_error(c, 504, "model '%s': the call's deadline passed before it was queued", spec.name);
    send_answer(c);
    return;
  }
  const srv_servable *sv;
  code = srv_models_acquire(g->p.models, &spec.ref, &sv, msg, sizeof msg);
  if (code != 200) {
    set_error(c, code, "%s", msg);
    send_answer(c);
    return;
  }
  c->sv = sv;
  snprintf(c->model, sizeof c->model, "%s", sv->model_name);
  snprintf(c->version, sizeof c->version, "%s", sv->version_str);
  c->job.run = job_run;
  c->job.done = job_done;
  set_error(c, 499, "cancelled before it ran");
  srv_submit sub = srv_pool_submit(sv->pool, &c->job);
  srv_models_release(g->p.models);
  if (sub == SRV_SUBMIT_OK) {
    c->in_pool = true;
    return;
  }
  if (sub == SRV_SUBMIT_FULL)
    set_error(c, 429, "model '%s' version %s: the request queue is full; retry later", c->model,
              c->version);
  else
    set_error(c, 503, "model '%s' version %s is being unloaded; retry", c->model, c->version);
  send_answer(c);
}

/* ---------------------------------------------------------------- the other methods */

static void answer_packed(gcall *c, int code, uint8_t *buf, size_t len, const char *msg) {
  if (code == 200) {
    c->code = 200;
    c->resp = buf;
    c->resp_len = len;
  } else {
    free(buf);
    set_error(c, code, "%s", msg);
  }
  send_answer(c);
}

#define PACK_AND_ANSWER(c, type, lower, var)                                                       \
  do {                                                                                             \
    size_t n_ = lower##__get_packed_size(&(var));                                                  \
    uint8_t *b_ = malloc(n_ ? n_ : 1);                                                             \
    if (b_)                                                                                        \
      lower##__pack(&(var), b_);                                                                   \
    answer_packed((c), b_ ? 200 : 500, b_, n_, "out of memory");                                   \
  } while (0)

static bool server_ready(srv_grpc *g) {
  return !atomic_load(&g->draining) && !atomic_load(&g->not_serving) &&
         srv_models_ready(g->p.models);
}

static void handle_health(gcall *c) {
  srv_grpc *g = c->g;
  Grpc__Health__V1__HealthCheckRequest *req =
      grpc__health__v1__health_check_request__unpack(NULL, req_len(c), req_data(c));
  if (!req) {
    set_error(c, 400, "request: not a valid HealthCheckRequest message");
    send_answer(c);
    return;
  }
  Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  bool ok = true;
  if (!req->service || !*req->service) {
    resp.status = server_ready(g)
                      ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                      : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
  } else {
    /* A model name as the service: that model's readiness. */
    srv_model_ref ref = {.name = req->service, .sel = SRV_SELECT_LATEST};
    const srv_servable *sv;
    char msg[1024];
    int code = srv_models_acquire(g->p.models, &ref, &sv, msg, sizeof msg);
    if (code == 200)
      srv_models_release(g->p.models);
    if (code == 404) {
      set_error(c, 404, "service: '%s' is neither \"\" nor a model served here (%s)", req->service,
                msg);
      ok = false;
    } else {
      resp.status = code == 200 && !atomic_load(&g->draining) && !atomic_load(&g->not_serving)
                        ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                        : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    }
  }
  grpc__health__v1__health_check_request__free_unpacked(req, NULL);
  if (!ok) {
    send_answer(c);
    return;
  }
  PACK_AND_ANSWER(c, Grpc__Health__V1__HealthCheckResponse, grpc__health__v1__health_check_response,
                  resp);
}

static void handle_tfs_metadata(gcall *c) {
  srv_grpc *g = c->g;
  srv_grpc_spec spec;
  char msg[1024];
  int code = srv_grpc_tfs_metadata_request(req_data(c), req_len(c), &spec, msg, sizeof msg);
  const srv_servable *sv;
  if (code == 200) {
    snprintf(c->model, sizeof c->model, "%s", spec.name);
    code = srv_models_acquire(g->p.models, &spec.ref, &sv, msg, sizeof msg);
  }
  if (code != 200) {
    set_error(c, code, "%s", msg);
    send_answer(c);
    return;
  }
  snprintf(c->version, sizeof c->version, "%s", sv->version_str);
  uint8_t *buf;
  size_t len;
  code = srv_grpc_tfs_metadata(sv->sig, sv->model_name, sv->version, &buf, &len, msg, sizeof msg);
  srv_models_release(g->p.models);
  answer_packed(c, code, buf, len, msg);
}

static void handle_tfs_status(gcall *c) {
  srv_grpc *g = c->g;
  srv_grpc_spec spec;
  char msg[1024];
  json_t *st = NULL;
  int code = srv_grpc_tfs_status_request(req_data(c), req_len(c), &spec, msg, sizeof msg);
  if (code == 200) {
    snprintf(c->model, sizeof c->model, "%s", spec.name);
    code = srv_models_status(g->p.models, &spec.ref, &st, msg, sizeof msg);
  }
  if (code != 200) {
    set_error(c, code, "%s", msg);
    send_answer(c);
    return;
  }
  uint8_t *buf;
  size_t len;
  code = srv_grpc_tfs_status(st, &buf, &len, msg, sizeof msg);
  json_decref(st);
  answer_packed(c, code, buf, len, msg);
}

/* ModelReady and ModelMetadata share their request layout (name = 1, version = 2). */
static void handle_kserve_model(gcall *c, bool metadata) {
  srv_grpc *g = c->g;
  Inference__ModelReadyRequest *req =
      inference__model_ready_request__unpack(NULL, req_len(c), req_data(c));
  if (!req) {
    set_error(c, 400, "request: not a valid %s message",
              metadata ? "ModelMetadataRequest" : "ModelReadyRequest");
    send_answer(c);
    return;
  }
  srv_grpc_spec spec;
  char msg[1024];
  int code = srv_grpc_kserve_spec(req->name, req->version, &spec, msg, sizeof msg);
  inference__model_ready_request__free_unpacked(req, NULL);
  const srv_servable *sv = NULL;
  if (code == 200) {
    snprintf(c->model, sizeof c->model, "%s", spec.name);
    code = srv_models_acquire(g->p.models, &spec.ref, &sv, msg, sizeof msg);
  }
  if (!metadata && code == 503) { /* known but not ready: an answer, not an error */
    Inference__ModelReadyResponse resp = INFERENCE__MODEL_READY_RESPONSE__INIT;
    resp.ready = 0;
    PACK_AND_ANSWER(c, Inference__ModelReadyResponse, inference__model_ready_response, resp);
    return;
  }
  if (code != 200) {
    set_error(c, code, "%s", msg);
    send_answer(c);
    return;
  }
  snprintf(c->version, sizeof c->version, "%s", sv->version_str);
  if (!metadata) {
    srv_models_release(g->p.models);
    Inference__ModelReadyResponse resp = INFERENCE__MODEL_READY_RESPONSE__INIT;
    resp.ready = 1;
    PACK_AND_ANSWER(c, Inference__ModelReadyResponse, inference__model_ready_response, resp);
    return;
  }
  json_t *versions = srv_models_available_locked(g->p.models, sv->model_name);
  uint8_t *buf;
  size_t len;
  code = srv_grpc_kserve_metadata(sv->sig, sv->model_name, sv->platform, versions, &buf, &len, msg,
                                  sizeof msg);
  srv_models_release(g->p.models);
  json_decref(versions);
  answer_packed(c, code, buf, len, msg);
}

/* Bearer-token check (auth.h) on the call's "authorization" metadata: probes open,
 * inference needs the predict token, the rest the admin token. False when it answered. */
static bool call_authorized(gcall *c) {
  srv_auth_scope scope = c->method == M_HEALTH || c->method == M_LIVE || c->method == M_READY
                             ? SRV_AUTH_OPEN
                         : c->method == M_PREDICT || c->method == M_INFER ? SRV_AUTH_PREDICT
                                                                           : SRV_AUTH_ADMIN;
  if (!srv_auth_required(c->g->p.auth, scope))
    return true; /* no token for this scope: the metadata is not even looked at */
  const char *h = NULL;
  size_t hlen = 0;
  for (size_t i = 0; i < c->md.count; i++)
    if (!grpc_slice_str_cmp(c->md.metadata[i].key, "authorization")) {
      h = (const char *)GRPC_SLICE_START_PTR(c->md.metadata[i].value);
      hlen = GRPC_SLICE_LENGTH(c->md.metadata[i].value);
      break;
    }
  srv_auth_verdict v = srv_auth_check(c->g->p.auth, scope, h, hlen);
  if (v == SRV_AUTH_OK)
    return true;
  set_error(c, 401,
            v == SRV_AUTH_WRONG ? "the bearer token is not the one this method takes (%s)"
                                : "this method needs metadata 'authorization: Bearer <token>' (%s)",
            srv_auth_flag(scope));
  send_answer(c);
  return false;
}

/* Loop thread: a call's request message arrived. */
static void dispatch(srv_loop_item *it) {
  gcall *c = CALL_OF(it, it_dispatch);
  srv_grpc *g = c->g;
  if (c->closed) {
    drop_answer(c);
    return;
  }
  if (!call_authorized(c))
    return;
  /* protobuf-c would read a string up to its first NUL: "emo\0tion" as "emo". */
  char where[512];
  if (c->req_desc && c->has_req &&
      srv_wire_check(c->req_desc, req_data(c), req_len(c), where, sizeof where) == SRV_WIRE_NUL) {
    set_error(c, 400, "%s: contains a NUL byte, which no name or string field may hold", where);
    send_answer(c);
    return;
  }
  switch (c->method) {
  case M_PREDICT:
  case M_INFER: submit_infer(c); return;
  case M_TFS_METADATA: handle_tfs_metadata(c); return;
  case M_TFS_STATUS: handle_tfs_status(c); return;
  case M_MODEL_READY: handle_kserve_model(c, false); return;
  case M_MODEL_METADATA: handle_kserve_model(c, true); return;
  case M_HEALTH: handle_health(c); return;
  case M_LIVE: {
    Inference__ServerLiveResponse resp = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
    resp.live = 1;
    PACK_AND_ANSWER(c, Inference__ServerLiveResponse, inference__server_live_response, resp);
    return;
  }
  case M_READY: {
    Inference__ServerReadyResponse resp = INFERENCE__SERVER_READY_RESPONSE__INIT;
    resp.ready = server_ready(g);
    PACK_AND_ANSWER(c, Inference__ServerReadyResponse, inference__server_ready_response, resp);
    return;
  }
  case M_SERVER_METADATA: {
    Inference__ServerMetadataResponse resp = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
    resp.name = "orchard";
    resp.version = ORCHARD_VERSION;
    PACK_AND_ANSWER(c, Inference__ServerMetadataResponse, inference__server_metadata_response,
                    resp);
    return;
  }
  case M_UNKNOWN: break;
  }
  char *method = grpc_slice_to_c_string(c->details.method);
  set_error(c, 405, "method %s is not served here (see design.md \"gRPC\")", method);
  gpr_free(method);
  send_answer(c);
}

/* Loop thread: RECV_CLOSE_ON_SERVER completed; a cancelled call cancels its queued job. */
static void on_close_loop(srv_loop_item *it) {
  gcall *c = CALL_OF(it, it_close);
  if (c->cancelled) {
    c->closed = true;
    if (c->in_pool)
      (void)(srv_job_cancel(&c->job) ||
             (atomic_load(&c->jrefs) > 0 && srv_batch_task_cancel(&c->task)));
  }
  call_unref(c);
}

/* ---------------------------------------------------------------- completion queue */

static gcall *call_new(srv_grpc *g) {
  gcall *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->g = g;
  grpc_call_details_init(&c->details);
  grpc_metadata_array_init(&c->md);
  c->t_new = (gtag){TAG_NEW, c};
  c->t_recv = (gtag){TAG_RECV, c};
  c->t_close = (gtag){TAG_CLOSE, c};
  c->t_send = (gtag){TAG_SEND, c};
  return c;
}

/* Arms the next accept. False when the server no longer takes calls. */
static bool request_next(srv_grpc *g) {
  gcall *c = call_new(g);
  if (!c) {
    srv_log_error("grpc: out of memory; no longer accepting calls");
    return false;
  }
  if (grpc_server_request_call(g->server, &c->call, &c->details, &c->md, g->cq, g->cq, &c->t_new) !=
      GRPC_CALL_OK) {
    call_free(c);
    return false;
  }
  return true;
}

static void on_new(srv_grpc *g, gcall *c, bool ok) {
  if (!ok) { /* shutting down: the pending accept comes back without a call */
    call_free(c);
    return;
  }
  atomic_fetch_add(&g->alive, 1);
  request_next(g);
  c->t_start = srv_now();
  for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
    if (!grpc_slice_str_cmp(c->details.method, METHODS[i].path)) {
      c->method = METHODS[i].m;
      c->api = METHODS[i].api;
      c->req_desc = METHODS[i].req;
    }
  gpr_timespec inf = gpr_inf_future(c->details.deadline.clock_type);
  if (gpr_time_cmp(c->details.deadline, inf) != 0) {
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    gpr_timespec dl = gpr_convert_clock_type(c->details.deadline, GPR_CLOCK_MONOTONIC);
    double left = (double)gpr_timespec_to_micros(gpr_time_sub(dl, now)) / 1e6;
    c->deadline = c->t_start + left;
    if (c->deadline <= 0)
      c->deadline = 1e-9; /* already past, but not "none" */
  }
  atomic_store(&c->refs, 2); /* the close op and the answer */
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &c->cancelled;
  if (grpc_call_start_batch(c->call, &op, 1, &c->t_close, NULL) != GRPC_CALL_OK)
    atomic_fetch_sub(&c->refs, 1);
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &c->recv_buf;
  if (grpc_call_start_batch(c->call, &op, 1, &c->t_recv, NULL) != GRPC_CALL_OK)
    call_unref(c);
}

static void on_recv(gcall *c, bool ok) {
  srv_grpc *g = c->g;
  if (!ok || !c->recv_buf) {
    /* No message: the client half-closed without one, or the call is already gone (a
     * message over the size limit ends here, with grpc core's RESOURCE_EXHAUSTED). */
    set_error(c, 400, "request: no message (a unary call needs exactly one)");
    send_answer(c);
    return;
  }
  size_t got = grpc_byte_buffer_length(c->recv_buf);
  if ((int64_t)got > g->p.max_request_bytes) {
    set_error(c, 413, "request message of %zu bytes is over --max_request_bytes (%lld)", got,
              (long long)g->p.max_request_bytes);
    send_answer(c);
    return;
  }
  grpc_byte_buffer_reader rd;
  if (!grpc_byte_buffer_reader_init(&rd, c->recv_buf)) {
    set_error(c, 400, "request: the message cannot be decompressed");
    send_answer(c);
    return;
  }
  c->req = grpc_byte_buffer_reader_readall(&rd);
  c->has_req = true;
  grpc_byte_buffer_reader_destroy(&rd);
  grpc_byte_buffer_destroy(c->recv_buf);
  c->recv_buf = NULL;
  c->it_dispatch.fn = dispatch;
  if (!srv_loop_post(g->p.loop, &c->it_dispatch)) {
    set_error(c, 503, "the server is shutting down");
    send_answer(c);
  }
}

static void on_close(gcall *c) {
  c->it_close.fn = on_close_loop;
  if (!srv_loop_post(c->g->p.loop, &c->it_close))
    call_unref(c);
}

static void *cq_main(void *arg) {
  srv_grpc *g = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      break;
    if (ev.type != GRPC_OP_COMPLETE)
      continue;
    gtag *t = ev.tag;
    switch (t->kind) {
    case TAG_NEW: on_new(g, t->c, ev.success); break;
    case TAG_RECV: on_recv(t->c, ev.success); break;
    case TAG_CLOSE: on_close(t->c); break;
    case TAG_SEND: call_unref(t->c); break;
    case TAG_SHUTDOWN:
      atomic_store(&g->shutdown_done, true);
      grpc_completion_queue_shutdown(g->cq); /* no call is left to start an op */
      break;
    }
  }
  return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

/* Prometheus collector: calls in progress (accepted, not yet over). */
static void collect(srv_buf *b, void *arg) {
  srv_grpc *g = arg;
  srv_buf_puts(b, "# HELP orchard_grpc_calls_in_progress gRPC calls accepted and not yet over\n"
                  "# TYPE orchard_grpc_calls_in_progress gauge\n");
  srv_metrics_sample(b, "orchard_grpc_calls_in_progress", NULL, atomic_load(&g->alive));
}

/* Loop thread: when draining and no call is left, shut the server down and say so. */
static void drain_check(srv_loop_item *it) {
  srv_grpc *g = (srv_grpc *)((char *)it - offsetof(srv_grpc, check_item));
  atomic_store(&g->check_posted, false);
  if (!atomic_load(&g->draining) || atomic_load(&g->alive) > 0)
    return;
  if (!g->shutdown_started) {
    g->shutdown_started = true;
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
  }
  if (!g->idle_notified) {
    g->idle_notified = true;
    if (g->p.on_idle)
      g->p.on_idle(g->p.idle_arg);
  }
}

static void post_check(srv_grpc *g) {
  if (atomic_exchange(&g->check_posted, true))
    return;
  g->check_item.fn = drain_check;
  if (!srv_loop_post(g->p.loop, &g->check_item))
    atomic_store(&g->check_posted, false);
}

int srv_grpc_start(const srv_grpc_params *p, srv_grpc **out, char *msg, size_t cap) {
  *out = NULL;
  srv_grpc *g = calloc(1, sizeof *g);
  if (!g) {
    snprintf(msg, cap, "grpc: out of memory");
    return -1;
  }
  g->p = *p;
  g->shutdown_tag = (gtag){TAG_SHUTDOWN, NULL};
  grpc_init();
  g->grpc_inited = true;
  int64_t max_msg = p->max_request_bytes > INT_MAX - OVER_LIMIT_BYTES
                        ? INT_MAX
                        : p->max_request_bytes + OVER_LIMIT_BYTES;
  int idle_ms = p->idle_timeout_seconds > 0 ? p->idle_timeout_seconds * 1000 : INT_MAX;
  grpc_arg args[] = {
      {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = (int)max_msg}},
      {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = -1}},
      {GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONCURRENT_STREAMS, {.integer = MAX_CONCURRENT_STREAMS}},
      {GRPC_ARG_INTEGER, GRPC_ARG_MAX_METADATA_SIZE, {.integer = MAX_METADATA_BYTES}},
      {GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONNECTION_IDLE_MS, {.integer = idle_ms}},
      /* Ping an idle peer every 2 min, drop it after 20 s without an answer; let clients
       * keep-alive as often as every 10 s (gRPC's own default refuses anything under 5 min). */
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = 120000}},
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = 20000}},
      {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, {.integer = 10000}},
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, {.integer = 1}},
      /* A port in use must fail start-up, not be shared with another process. */
      {GRPC_ARG_INTEGER, GRPC_ARG_ALLOW_REUSEPORT, {.integer = 0}},
  };
  grpc_channel_args ca = {sizeof args / sizeof args[0], args};
  g->cq = grpc_completion_queue_create_for_next(NULL);
  g->server = grpc_server_create(&ca, NULL);
  grpc_server_register_completion_queue(g->server, g->cq, NULL);
  char addr[64];
  snprintf(addr, sizeof addr, "0.0.0.0:%d", p->port);
  grpc_server_credentials *creds;
  if (p->tls) {
    /* grpc core copies the PEM strings; the pair array only lives through this call. */
    grpc_ssl_pem_key_cert_pair pair = {srv_tls_key_pem(p->tls), srv_tls_cert_pem(p->tls)};
    creds = grpc_ssl_server_credentials_create_ex(
        srv_tls_ca_pem(p->tls), &pair, 1,
        srv_tls_client_verify(p->tls) ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
        NULL);
  } else {
    creds = grpc_insecure_server_credentials_create();
  }
  int bound = grpc_server_add_http2_port(g->server, addr, creds);
  grpc_server_credentials_release(creds);
  if (bound == 0) {
    snprintf(msg, cap, "--port: cannot listen for gRPC on %s (in use?)", addr);
    grpc_server_destroy(g->server); /* never started: no shutdown needed */
    g->server = NULL;
    grpc_completion_queue_shutdown(g->cq);
    grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    srv_grpc_destroy(g);
    return -1;
  }
  grpc_server_start(g->server);
  if (!request_next(g) || pthread_create(&g->thread, NULL, cq_main, g) != 0) {
    snprintf(msg, cap, "grpc: cannot start the completion-queue thread");
    srv_grpc_stop(g);
    /* Without the thread nothing drains the queue: do it here. */
    for (;;) {
      grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
      if (ev.type == GRPC_QUEUE_SHUTDOWN)
        break;
      gtag *t = ev.tag;
      if (t->kind == TAG_NEW)
        call_free(t->c);
      else if (t->kind == TAG_SHUTDOWN)
        grpc_completion_queue_shutdown(g->cq);
    }
    srv_grpc_destroy(g);
    return -1;
  }
  g->thread_started = true;
  srv_metrics_add_collector(g->p.metrics, collect, g);
  g->collecting = true;
  *out = g;
  return 0;
}

void srv_grpc_drain(srv_grpc *g) {
  if (!g || atomic_exchange(&g->draining, true))
    return;
  post_check(g); /* runs after this loop turn: idle at once when no call is in progress */
}

/* Lame duck (serve.c, --lame_duck_seconds): health and ServerReady say NOT_SERVING while
 * calls, inference included, are still accepted, so load balancers drop this server before
 * srv_grpc_drain refuses anything. Declared in serve.c (srv_grpc.h is engineer D1's). */
void srv_grpc_set_not_serving(srv_grpc *g) {
  if (g)
    atomic_store(&g->not_serving, true);
}

bool srv_grpc_idle(const srv_grpc *g) { return !g || g->idle_notified; }

int srv_grpc_inflight(const srv_grpc *g) { return g ? atomic_load(&g->alive) : 0; }

void srv_grpc_stop(srv_grpc *g) {
  if (!g || g->stopped || !g->server)
    return;
  g->stopped = true;
  atomic_store(&g->draining, true);
  if (!g->shutdown_started) {
    g->shutdown_started = true;
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
  }
  grpc_server_cancel_all_calls(g->server);
}

void srv_grpc_destroy(srv_grpc *g) {
  if (!g)
    return;
  if (g->collecting)
    srv_metrics_remove_collector(g->p.metrics, collect, g);
  if (g->server) {
    srv_grpc_stop(g);
    /* The worker pools have drained by now, so every call comes to an end; the queue thread
     * shuts the queue down when grpc core reports the server's shutdown. */
    if (g->thread_started)
      pthread_join(g->thread, NULL);
    grpc_server_destroy(g->server);
  }
  if (g->cq)
    grpc_completion_queue_destroy(g->cq);
  if (g->grpc_inited)
    grpc_shutdown();
  free(g);
}
