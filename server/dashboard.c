/*
 * dashboard.c — the static files of GET / and of /dashboard/<file>: the page of issue 9
 * (server/dashboard/), embedded in the binary at build time by cmake/embed.cmake so the page
 * works offline and cannot drift from the server that serves it.
 *
 * "/" is index.html; "/dashboard/<name>" is the file of that name. The page reads only the
 * public JSON and Prometheus endpoints, so nothing here knows a model. Only files whose
 * extension has a Content-Type below are served: a stray file in server/dashboard/ is a 404,
 * never bytes a browser would have to sniff.
 */
#include "api.h"
#include "dashboard_assets.h"

#include <string.h>

static const struct {
  const char *ext, *type;
} CONTENT_TYPES[] = {
    {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},    {".svg", "image/svg+xml"},
    {".png", "image/png"},                  {".ico", "image/x-icon"},
    {".json", "application/json"},          {".txt", "text/plain; charset=utf-8"},
};

static const char *content_type_of(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot)
    return NULL;
  for (size_t i = 0; i < sizeof CONTENT_TYPES / sizeof CONTENT_TYPES[0]; i++)
    if (!strcmp(dot, CONTENT_TYPES[i].ext))
      return CONTENT_TYPES[i].type;
  return NULL;
}

bool srv_dashboard_asset(const char *path, const unsigned char **data, size_t *len,
                         const char **content_type) {
  const char *name;
  if (!strcmp(path, "/"))
    name = "index.html";
  else if (!strncmp(path, "/dashboard/", 11))
    name = path + 11;
  else
    return false;
  const char *type = content_type_of(name);
  if (!type)
    return false;
  for (size_t i = 0; i < srv_dashboard_embedded_count; i++) {
    const srv_dashboard_embedded *f = &srv_dashboard_embedded_files[i];
    if (f->name && !strcmp(f->name, name)) {
      *data = f->data;
      *len = f->len;
      *content_type = type;
      return true;
    }
  }
  return false;
}
