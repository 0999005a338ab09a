/*
 * dashboard.c — GET /: a small static HTML page, embedded in the binary, listing the models
 * and versions with their state and linking every endpoint. A placeholder until the full
 * dashboard lands; it needs no JavaScript and no assets.
 */
#include "api.h"
#include "buf.h"

#include <inttypes.h>
#include <string.h>

static void esc(srv_buf *b, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': srv_buf_puts(b, "&lt;"); break;
    case '>': srv_buf_puts(b, "&gt;"); break;
    case '&': srv_buf_puts(b, "&amp;"); break;
    case '"': srv_buf_puts(b, "&quot;"); break;
    case '\'': srv_buf_puts(b, "&#39;"); break;
    default: srv_buf_putc(b, *s);
    }
  }
}

static const char HEAD[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>Orchard</title><style>"
    "body{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;"
    "color:#222}h1{font-size:1.6em;margin-bottom:.2em}table{border-collapse:collapse;"
    "width:100%}th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #ddd;"
    "vertical-align:top}th{background:#f4f4f4}code{font-size:.92em}.AVAILABLE{color:#176f2c;"
    "font-weight:600}.LOADING,.UNLOADING,.START{color:#8a6100}.END{color:#777}"
    ".err{color:#a11}.pill{display:inline-block;padding:.1em .6em;border-radius:1em;"
    "font-weight:600}.ready{background:#d8f3dc}.notready{background:#fde2e1}"
    "</style></head><body>\n";

char *srv_dashboard_html(json_t *models, bool ready, size_t *len) {
  srv_buf b;
  srv_buf_init(&b);
  srv_buf_puts(&b, HEAD);
  srv_buf_printf(&b,
                 "<h1>Orchard <small>%s</small></h1>\n<p>Server: <span class=\"pill %s\">%s"
                 "</span></p>\n",
                 ORCHARD_VERSION, ready ? "ready" : "notready", ready ? "ready" : "not ready");
  srv_buf_puts(&b, "<h2>Models</h2>\n<table><tr><th>model</th><th>version</th><th>state</th>"
                   "<th>workers</th><th>load</th><th>endpoints</th></tr>\n");
  size_t i;
  json_t *m;
  json_array_foreach(models, i, m) {
    const char *name = json_string_value(json_object_get(m, "name"));
    json_t *vers = json_object_get(m, "versions");
    if (json_array_size(vers) == 0) {
      srv_buf_puts(&b, "<tr><td>");
      esc(&b, name);
      srv_buf_puts(&b, "</td><td colspan=\"5\">no version yet under <code>");
      esc(&b, json_string_value(json_object_get(m, "base_path")));
      srv_buf_puts(&b, "</code></td></tr>\n");
    }
    size_t k;
    json_t *v;
    json_array_foreach(vers, k, v) {
      const char *ver = json_string_value(json_object_get(v, "version"));
      const char *state = json_string_value(json_object_get(v, "state"));
      const char *err =
          json_string_value(json_object_get(json_object_get(v, "status"), "error_message"));
      srv_buf_puts(&b, "<tr><td>");
      esc(&b, name);
      srv_buf_puts(&b, "</td><td>");
      esc(&b, ver);
      srv_buf_printf(&b, "</td><td class=\"%s\">", state);
      esc(&b, state);
      if (err && *err) {
        srv_buf_puts(&b, "<div class=\"err\">");
        esc(&b, err);
        srv_buf_puts(&b, "</div>");
      }
      srv_buf_puts(&b, "</td><td>");
      json_t *w = json_object_get(v, "workers");
      if (w)
        srv_buf_printf(&b, "%" JSON_INTEGER_FORMAT " &times; %" JSON_INTEGER_FORMAT,
                       json_integer_value(w),
                       json_integer_value(json_object_get(v, "intra_op_threads")));
      srv_buf_printf(&b, "</td><td>%.2f s</td><td>",
                     json_real_value(json_object_get(v, "load_seconds")));
      if (!strcmp(state, "AVAILABLE")) {
        const char *links[][2] = {{"/v1/models/%s/versions/%s", "status"},
                                  {"/v1/models/%s/versions/%s/metadata", "metadata"},
                                  {"/v2/models/%s/versions/%s", "v2 metadata"},
                                  {"/v2/models/%s/versions/%s/ready", "v2 ready"}};
        for (size_t l = 0; l < sizeof links / sizeof links[0]; l++) {
          srv_buf url;
          srv_buf_init(&url);
          srv_buf_printf(&url, links[l][0], name, ver);
          srv_buf_puts(&b, l ? " &middot; <a href=\"" : "<a href=\"");
          esc(&b, url.data);
          srv_buf_printf(&b, "\">%s</a>", links[l][1]);
          srv_buf_free(&url);
        }
        srv_buf_puts(&b, "<br><code>POST /v1/models/");
        esc(&b, name);
        srv_buf_puts(&b, ":predict</code><br><code>POST /v2/models/");
        esc(&b, name);
        srv_buf_puts(&b, "/infer</code>");
      }
      srv_buf_puts(&b, "</td></tr>\n");
    }
  }
  srv_buf_puts(&b, "</table>\n<h2>Server</h2>\n<ul>"
                   "<li><a href=\"/v2\">/v2</a> server metadata</li>"
                   "<li><a href=\"/v2/health/live\">/v2/health/live</a> &middot; "
                   "<a href=\"/v2/health/ready\">/v2/health/ready</a></li>"
                   "<li><a href=\"/monitoring/prometheus/metrics\">/monitoring/prometheus/"
                   "metrics</a> &middot; <a href=\"/metrics\">/metrics</a> Prometheus</li>"
                   "</ul>\n</body></html>\n");
  json_decref(models);
  return srv_buf_take(&b, len);
}
