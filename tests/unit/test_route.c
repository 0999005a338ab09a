/*
 * test_route.c — REST routing (api.c, srv_route_parse): every path of design.md maps to its
 * endpoint with the model, version or label it names; anything else is 404, 405 or 400.
 */
#include "api.h"

#include <criterion/criterion.h>
#include <string.h>

static char msg[512];

Test(route, tf_serving_paths) {
  srv_route r;
  cr_assert_eq(srv_route_parse("POST", "/v1/models/emotion:predict", &r, msg, sizeof msg), 200);
  cr_assert_eq(r.kind, SRV_ROUTE_TFS_PREDICT);
  cr_assert_str_eq(r.ref.name, "emotion");
  cr_assert_eq(r.ref.sel, SRV_SELECT_LATEST);
  cr_assert_eq(srv_route_parse("POST", "/v1/models/m/versions/12:predict", &r, msg, sizeof msg),
               200);
  cr_assert_eq(r.ref.sel, SRV_SELECT_VERSION);
  cr_assert_eq(r.ref.version, 12);
  cr_assert_eq(srv_route_parse("POST", "/v1/models/m/labels/stable:predict", &r, msg, sizeof msg),
               200);
  cr_assert_eq(r.ref.sel, SRV_SELECT_LABEL);
  cr_assert_str_eq(r.ref.label, "stable");
  cr_assert_eq(srv_route_parse("GET", "/v1/models/m", &r, msg, sizeof msg), 200);
  cr_assert_eq(r.kind, SRV_ROUTE_TFS_STATUS);
  cr_assert_eq(srv_route_parse("GET", "/v1/models/m/versions/3", &r, msg, sizeof msg), 200);
  cr_assert_eq(r.kind, SRV_ROUTE_TFS_STATUS);
  cr_assert_eq(r.ref.version, 3);
  cr_assert_eq(srv_route_parse("GET", "/v1/models/m/labels/l", &r, msg, sizeof msg), 200);
  cr_assert_eq(r.kind, SRV_ROUTE_TFS_STATUS);
  cr_assert_eq(srv_route_parse("GET", "/v1/models/m/metadata", &r, msg, sizeof msg), 200);
  cr_assert_eq(r.kind, SRV_ROUTE_TFS_METADATA);
  cr_assert_eq(srv_route_parse("HEAD", "/v1/models/m/versions/2/metadata", &r, msg, sizeof msg),
               200);
  cr_assert_eq(r.kind, SRV_ROUTE_TFS_METADATA);
  cr_assert_eq(r.ref.version, 2);
}

Test(route, kserve_and_operations_paths) {
  srv_route r;
  struct {
    const char *method, *path;
    srv_route_kind kind;
  } ok[] = {{"GET", "/v2", SRV_ROUTE_V2_SERVER},
            {"GET", "/v2/", SRV_ROUTE_V2_SERVER},
            {"GET", "/v2/health/live", SRV_ROUTE_V2_LIVE},
            {"GET", "/v2/health/ready", SRV_ROUTE_V2_READY},
            {"GET", "/v2/models/m", SRV_ROUTE_V2_MODEL},
            {"GET", "/v2/models/m/versions/4", SRV_ROUTE_V2_MODEL},
            {"GET", "/v2/models/m/ready", SRV_ROUTE_V2_MODEL_READY},
            {"GET", "/v2/models/m/versions/4/ready", SRV_ROUTE_V2_MODEL_READY},
            {"POST", "/v2/models/m/infer", SRV_ROUTE_V2_INFER},
            {"POST", "/v2/models/m/versions/4/infer", SRV_ROUTE_V2_INFER},
            {"GET", "/metrics", SRV_ROUTE_METRICS},
            {"GET", "/monitoring/prometheus/metrics", SRV_ROUTE_METRICS},
            {"GET", "/", SRV_ROUTE_DASHBOARD}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    cr_assert_eq(srv_route_parse(ok[i].method, ok[i].path, &r, msg, sizeof msg), 200, "%s: %s",
                 ok[i].path, msg);
    cr_assert_eq(r.kind, ok[i].kind, "%s", ok[i].path);
  }
  cr_assert_eq(srv_route_parse("POST", "/v2/models/m/versions/4/infer", &r, msg, sizeof msg), 200);
  cr_assert_eq(r.ref.version, 4);
  cr_assert_str_eq(r.model, "m");
}

Test(route, errors) {
  srv_route r;
  cr_assert_eq(srv_route_parse("GET", "/v3/models/m", &r, msg, sizeof msg), 404);
  cr_assert(strstr(msg, "/v3/models/m"), "%s", msg);
  cr_assert_eq(srv_route_parse("GET", "/v1/models/m/versions/1/extra", &r, msg, sizeof msg), 404);
  cr_assert_eq(srv_route_parse("GET", "/v1/models//versions/1", &r, msg, sizeof msg), 404);
  cr_assert_eq(srv_route_parse("GET", "/v1/models/m:predict", &r, msg, sizeof msg), 405);
  cr_assert(strstr(msg, "POST"), "%s", msg);
  cr_assert_eq(srv_route_parse("POST", "/v1/models/m", &r, msg, sizeof msg), 405);
  cr_assert_eq(srv_route_parse("POST", "/v1/models/m:classify", &r, msg, sizeof msg), 400);
  cr_assert(strstr(msg, "classify"), "%s", msg);
  cr_assert_eq(srv_route_parse("GET", "/v1/models/m/versions/x", &r, msg, sizeof msg), 400);
  cr_assert(strstr(msg, "'x'"), "%s", msg);
  cr_assert_eq(srv_route_parse("GET", "/v1/models/m/versions/0", &r, msg, sizeof msg), 400);
  cr_assert_eq(srv_route_parse("GET", "/v2/models/m/labels/l", &r, msg, sizeof msg), 404);
  cr_assert_eq(srv_route_parse("DELETE", "/v2/health/live", &r, msg, sizeof msg), 405);
}
