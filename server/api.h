/*
 * api.h — the REST API of `orchard serve` (design.md "REST"): routing, and the handlers that
 * answer from the model manager on the loop thread (status, metadata, health, metrics,
 * dashboard) or hand predict/infer to the model version's workers.
 *
 * Data flow of an inference: loop (route, pick the version, queue the raw body) -> worker
 * (decode JSON, run, encode JSON) -> loop (answer). The loop thread never parses a tensor or
 * waits on a model, so one large request cannot stall every connection.
 */
#ifndef ORCHARD_SRV_API_H
#define ORCHARD_SRV_API_H

#include "http.h"
#include "loop.h"
#include "models.h"

typedef enum srv_route_kind {
  SRV_ROUTE_DASHBOARD = 0,
  SRV_ROUTE_METRICS,
  SRV_ROUTE_TFS_PREDICT,
  SRV_ROUTE_TFS_STATUS,
  SRV_ROUTE_TFS_METADATA,
  SRV_ROUTE_V2_SERVER,
  SRV_ROUTE_V2_LIVE,
  SRV_ROUTE_V2_READY,
  SRV_ROUTE_V2_MODEL,
  SRV_ROUTE_V2_MODEL_READY,
  SRV_ROUTE_V2_INFER,
  SRV_ROUTE_TFS_ANNOTATE,  /* POST /v1/models/{name}[...]:annotate (task answers, issue 9) */
  SRV_ROUTE_DASHBOARD_ASSET, /* GET /dashboard/{file} */
  SRV_ROUTE_V2_REPO_INDEX    /* POST /v2/repository/index (KServe model repository) */
} srv_route_kind;

typedef struct srv_route {
  srv_route_kind kind;
  const char *api; /* metric label: "predict", "v2_infer", ... */
  char model[256];
  char label[256];
  srv_model_ref ref; /* name and label point into this struct: do not copy it */
} srv_route;

/* 200 with *out filled, else 404 (no such path), 405 (wrong method) or 400 (bad version or
 * verb in the path) with msg. HEAD is accepted wherever GET is. */
int srv_route_parse(const char *method, const char *path, srv_route *out, char *msg, size_t cap);

typedef struct srv_api srv_api;

/* metrics: inference times are recorded there and /metrics renders it (NULL: nothing
 * recorded, /metrics answers 404). Borrowed: must outlive the API. */
srv_api *srv_api_create(srv_models *models, srv_loop *loop, srv_metrics *metrics);
void srv_api_destroy(srv_api *a);
/* Bearer tokens the routes require (auth.h); NULL or never set: everything open. Borrowed:
 * must outlive the API. */
struct srv_auth;
void srv_api_set_auth(srv_api *a, const struct srv_auth *auth);
/* Readiness turns false (SIGTERM). */
void srv_api_set_draining(srv_api *a, bool draining);
/* srv_http_params.handler. */
void srv_api_handle(srv_request *r, void *arg);

/* dashboard.c: static files embedded in the binary. `path` is the request path: "/" is the
 * page, "/dashboard/<file>" its assets. False when there is no such file. */
bool srv_dashboard_asset(const char *path, const unsigned char **data, size_t *len,
                         const char **content_type);

#define ORCHARD_VERSION "0.1.0"

#endif
