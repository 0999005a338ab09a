/*
 * dashboard.c — the static files of GET / and of /dashboard/, embedded in the binary so the
 * page works offline and cannot drift from the server that serves it. Placeholder until the
 * dashboard of issue 9 lands: one page that points at the JSON endpoints.
 */
#include "api.h"

#include <string.h>

static const char INDEX[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Orchard</title>"
    "</head><body><h1>Orchard</h1><p>Models: <code>POST /v2/repository/index</code>, metrics: "
    "<a href=\"/metrics\">/metrics</a>.</p></body></html>\n";

bool srv_dashboard_asset(const char *path, const unsigned char **data, size_t *len,
                         const char **content_type) {
  if (strcmp(path, "/") != 0)
    return false;
  *data = (const unsigned char *)INDEX;
  *len = sizeof INDEX - 1;
  *content_type = "text/html; charset=utf-8";
  return true;
}
