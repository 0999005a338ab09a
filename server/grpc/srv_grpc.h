/*
 * srv_grpc.h — the gRPC front of `orchard serve` on --port (issue 6, design.md "gRPC"):
 * tensorflow.serving.PredictionService/{Predict,GetModelMetadata},
 * tensorflow.serving.ModelService/GetModelStatus, inference.GRPCInferenceService/{ServerLive,
 * ServerReady,ModelReady,ServerMetadata,ModelMetadata,ModelInfer} and grpc.health.v1.Health/
 * Check, on grpc core (grpc/grpc.h) with protobuf-c messages.
 *
 * Threads: one completion-queue thread only moves events: it hands every received call and
 * every cancellation to the libuv loop (srv_loop_post). The loop routes (model manager),
 * answers what needs no model run, and submits inference to the version's worker pool, where
 * the tensors are decoded, run and encoded, as for REST; the answer goes back through the loop,
 * which starts the send (grpc_call_start_batch never blocks). Nothing here blocks the loop.
 *
 * Lifecycle (loop thread unless noted): srv_grpc_start binds and starts listening;
 * srv_grpc_drain (SIGTERM) stops accepting calls, turns health to NOT_SERVING and calls
 * on_idle once no call is left; srv_grpc_stop cancels whatever is still in progress;
 * srv_grpc_destroy (after the loop ended and the worker pools drained) waits for grpc core to
 * finish and frees everything.
 */
#ifndef ORCHARD_SRV_GRPC_H
#define ORCHARD_SRV_GRPC_H

#include "loop.h"
#include "models.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct srv_grpc srv_grpc;

typedef struct srv_grpc_params {
  srv_loop *loop;
  srv_models *models;
  int port;                   /* bound on 0.0.0.0 */
  int64_t max_request_bytes;  /* larger messages: RESOURCE_EXHAUSTED */
  int idle_timeout_seconds;   /* idle connections are closed after this */
  void (*on_idle)(void *arg); /* after srv_grpc_drain: the last call is gone (loop thread) */
  void *idle_arg;
  /* TLS (tls.h) or NULL for plaintext; with client_verify, grpc core refuses in the handshake
   * a client without a certificate that chains to custom_ca. Read only during start. */
  const struct srv_tls *tls;
  /* Bearer tokens the methods require (auth.h), or NULL: open. Borrowed: outlives the front. */
  const struct srv_auth *auth;
  /* Calls and inference times are recorded here, and the front's gauges are collected from
   * it; NULL: nothing recorded. Borrowed: must outlive the front. */
  srv_metrics *metrics;
} srv_grpc_params;

/* 0, or -1 with msg (cannot bind the port, out of memory). */
int srv_grpc_start(const srv_grpc_params *p, srv_grpc **out, char *msg, size_t cap);
void srv_grpc_drain(srv_grpc *g);
/* --lame_duck_seconds: health (and KServe ServerReady / ModelReady) answer NOT_SERVING from
 * now on while inference is still served; srv_grpc_drain follows when the window ends. */
void srv_grpc_set_not_serving(srv_grpc *g);
/* Drained and no call left (true for NULL). */
bool srv_grpc_idle(const srv_grpc *g);
/* Calls in progress (accepted and not finished). */
int srv_grpc_inflight(const srv_grpc *g);
void srv_grpc_stop(srv_grpc *g);
void srv_grpc_destroy(srv_grpc *g); /* NULL-safe */

#endif
