/*
 * http.c — libmicrohttpd under the libuv loop.
 *
 * Driving MHD: `kick` calls MHD_run (non-blocking; MHD polls its epoll fd with timeout 0),
 * then re-arms a uv timer from MHD_get_timeout. MHD's epoll set is edge-triggered and may
 * hold work it already knows about without the fd turning readable again; it reports that
 * as a zero timeout, so the timer covers it. kick runs when the epoll fd is readable, when
 * the timer fires, and (via a zero timer) after a suspended connection is resumed.
 *
 * A request moves RECEIVING -> HANDLING -> (DEFERRED ->) ANSWERED -> SENT. Deferred requests
 * sit in a list in deadline order (one timeout for all, so append order is deadline order)
 * watched by one uv timer. A request is freed in MHD's completion callback, which also
 * records its metric and access-log line. Extra response headers (Retry-After) are kept on
 * the request, checked for CR/LF and non-token names, and added when the answer is sent.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "http.h"
#include "tls.h"
#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "workers.h"

#include <gnutls/gnutls.h>
#include <math.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How far over --max_request_bytes a body may be and still be read (and dropped) so the 413
 * reaches a client that only reads after sending. */
#define DRAIN_BYTES (1 << 20)
/* A body without a length (chunked) can only be answered once it ends (MHD cannot queue a
 * response mid-upload): it is read and dropped past the limit, up to this much, then the
 * connection is dropped. */
#define FLOOD_BYTES (64 << 20)

typedef enum rq_state { RQ_RECEIVING, RQ_HANDLING, RQ_DEFERRED, RQ_ANSWERED, RQ_SENT } rq_state;

struct srv_request {
  srv_http *h;
  struct MHD_Connection *conn;
  char *method, *path;
  char id[72];
  srv_buf body;
  int64_t discarded;
  int reject; /* 413 or 503: the body is read and dropped, then this is the answer */
  rq_state state;
  bool suspended, linked;
  int code;
  char *resp;
  size_t resp_len;
  const char *ctype;
  double t_begin, t_ready, deadline;
  srv_request *prev, *next; /* deferred list */
  void (*cb)(srv_request *, void *, srv_abandon);
  void *cb_arg;
  char api[32], model[128], version[24];
  char **extra; /* name, value, name, value ... (srv_request_add_header) */
  int n_extra;
};

struct srv_http {
  srv_http_params p;
  struct MHD_Daemon *d;
  uv_poll_t poll;
  uv_timer_t mhd_timer, deadline_timer;
  int open_handles;
  bool quiescing, stopping, idle_notified;
  int inflight;
  srv_request *def_head, *def_tail;
  uint64_t next_id;
  unsigned id_salt;
};

static void kick(srv_http *h);
static void on_mhd_timer(uv_timer_t *t);

/* ---------------------------------------------------------------- deferred list */

static void unlink_deferred(srv_request *r) {
  if (!r->linked)
    return;
  srv_http *h = r->h;
  if (r->prev)
    r->prev->next = r->next;
  else
    h->def_head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    h->def_tail = r->prev;
  r->prev = r->next = NULL;
  r->linked = false;
}

static void on_deadline(uv_timer_t *t);

static void arm_deadline(srv_http *h) {
  if (!h->def_head || h->stopping || isinf(h->def_head->deadline)) {
    uv_timer_stop(&h->deadline_timer);
    return;
  }
  double ms = (h->def_head->deadline - srv_now()) * 1e3;
  uv_timer_start(&h->deadline_timer, on_deadline, ms > 0 ? (uint64_t)ms + 1 : 0, 0);
}

/* Takes r off the deferred list and tells whoever deferred it (once) that it is abandoned. */
static void abandon(srv_request *r, srv_abandon why) {
  unlink_deferred(r);
  void (*cb)(srv_request *, void *, srv_abandon) = r->cb;
  r->cb = NULL;
  if (cb)
    cb(r, r->cb_arg, why);
}

static void on_deadline(uv_timer_t *t) {
  srv_http *h = t->data;
  double now = srv_now();
  while (h->def_head && h->def_head->deadline <= now) {
    srv_request *r = h->def_head;
    abandon(r, SRV_ABANDON_TIMEOUT);
    if (r->state == RQ_DEFERRED)
      srv_request_error(r, 504, "request timed out after %lld ms (--rest_api_timeout_in_ms)",
                        (long long)h->p.timeout_ms);
  }
  arm_deadline(h);
}

/* ---------------------------------------------------------------- responses */

static enum MHD_Result send_response(srv_request *r) {
  struct MHD_Response *resp =
      r->resp ? MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE)
              : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!resp)
    return MHD_NO;
  r->resp = NULL; /* MHD frees it with the response */
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
  MHD_add_response_header(resp, "X-Request-Id", r->id);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, "orchard");
  if (r->h->quiescing)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  for (int i = 0; i + 1 < r->n_extra; i += 2)
    MHD_add_response_header(resp, r->extra[i], r->extra[i + 1]);
  enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->code, resp);
  MHD_destroy_response(resp);
  r->state = RQ_SENT;
  return ok;
}

void srv_request_respond(srv_request *r, int code, const char *content_type, char *body,
                         size_t len) {
  if (r->state == RQ_ANSWERED || r->state == RQ_SENT) {
    free(body);
    return;
  }
  free(r->resp);
  r->code = code;
  r->resp = body;
  r->resp_len = body ? len : 0;
  r->ctype = content_type ? content_type : "application/json";
  bool was_deferred = r->state == RQ_DEFERRED;
  r->state = RQ_ANSWERED;
  r->cb = NULL;
  if (was_deferred) {
    unlink_deferred(r);
    if (r->suspended) {
      r->suspended = false;
      MHD_resume_connection(r->conn);
      uv_timer_start(&r->h->mhd_timer, on_mhd_timer, 0, 0); /* MHD applies resumes in MHD_run */
    }
  }
}

/* A token (RFC 9110) for names; visible ASCII and spaces for values: nothing a client could
 * smuggle a second header or a body through. */
static bool header_ok(const char *s, bool name) {
  if (!*s && name)
    return false;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c > 0x7e || (name && (c == ' ' || c == ':' || c == '"' || c == ',')))
      return false;
  }
  return true;
}

bool srv_request_add_header(srv_request *r, const char *name, const char *value) {
  if (r->state == RQ_SENT || r->n_extra >= 32 || !header_ok(name, true) || !header_ok(value, false))
    return false;
  char **ne = realloc(r->extra, (size_t)(r->n_extra + 2) * sizeof *ne);
  if (!ne)
    return false;
  r->extra = ne;
  char *n = strdup(name), *v = strdup(value);
  if (!n || !v) {
    free(n);
    free(v);
    return false;
  }
  r->extra[r->n_extra++] = n;
  r->extra[r->n_extra++] = v;
  return true;
}

void srv_request_error(srv_request *r, int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  srv_buf b;
  srv_buf_init(&b);
  srv_buf_puts(&b, "{\"error\":");
  srv_buf_json_string(&b, msg);
  srv_buf_puts(&b, "}");
  size_t len;
  char *body = srv_buf_take(&b, &len);
  srv_request_respond(r, code, "application/json", body, len);
}

void srv_request_defer(srv_request *r, void (*cb)(srv_request *, void *, srv_abandon), void *arg) {
  if (r->state != RQ_HANDLING)
    return;
  srv_http *h = r->h;
  r->state = RQ_DEFERRED;
  r->cb = cb;
  r->cb_arg = arg;
  /* Listed even without a timeout, so that stopping can find every suspended connection. */
  r->deadline = h->p.timeout_ms > 0 ? r->t_ready + (double)h->p.timeout_ms / 1e3 : INFINITY;
  r->prev = h->def_tail;
  r->next = NULL;
  if (h->def_tail)
    h->def_tail->next = r;
  else
    h->def_head = r;
  h->def_tail = r;
  r->linked = true;
  if (h->def_head == r)
    arm_deadline(h);
}

/* ---------------------------------------------------------------- accessors */

const char *srv_request_method(const srv_request *r) { return r->method; }
const char *srv_request_path(const srv_request *r) { return r->path; }
const char *srv_request_id(const srv_request *r) { return r->id; }
double srv_request_age(const srv_request *r) { return srv_now() - r->t_ready; }

const char *srv_request_header(srv_request *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *srv_request_query(srv_request *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_request_body(const srv_request *r, size_t *len) {
  *len = r->body.len;
  return r->body.data ? r->body.data : "";
}

char *srv_request_take_body(srv_request *r, size_t *len) {
  char *b = srv_buf_take(&r->body, len);
  if (!b) {
    b = calloc(1, 1);
    *len = 0;
  }
  return b;
}

void srv_request_label(srv_request *r, const char *api, const char *model, const char *version) {
  snprintf(r->api, sizeof r->api, "%s", api ? api : "");
  snprintf(r->model, sizeof r->model, "%s", model ? model : "");
  snprintf(r->version, sizeof r->version, "%s", version ? version : "");
}

/* ---------------------------------------------------------------- MHD callbacks */

static bool sane_id(const char *s) {
  size_t n = 0;
  for (; s[n]; n++)
    if (n >= 64 || s[n] <= ' ' || s[n] > '~' || s[n] == '"' || s[n] == '\\')
      return false;
  return n > 0;
}

static srv_request *request_new(srv_http *h, struct MHD_Connection *c, const char *url,
                                const char *method) {
  srv_request *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->h = h;
  r->conn = c;
  r->method = strdup(method);
  r->path = strdup(url);
  if (!r->method || !r->path) {
    free(r->method);
    free(r->path);
    free(r);
    return NULL;
  }
  const char *given = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
  if (given && sane_id(given))
    snprintf(r->id, sizeof r->id, "%s", given);
  else
    snprintf(r->id, sizeof r->id, "%08x%08llx", h->id_salt, (unsigned long long)++h->next_id);
  r->t_begin = r->t_ready = srv_now();
  r->state = RQ_RECEIVING;
  srv_buf_init(&r->body);
  h->inflight++;
  return r;
}

#define PRESIZE_MAX ((long long)8 << 20)

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* libmicrohttpd's own unescaping would turn %00 into a NUL and end the path there, so
 * "/v1/models/emotion:predict%00junk" would be served as emotion. Every other escape is
 * decoded as MHD does; %00 stays as text, and on_access refuses such a path. */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *c, char *s) {
  char *w = s;
  for (const char *r = s; *r;) {
    int hi, lo;
    if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
      *w++ = (char)(hi * 16 + lo);
      r += 3;
    } else {
      *w++ = *r++;
    }
  }
  *w = 0;
  return (size_t)(w - s);
}

#define NUL_PATH_MSG "request path: contains a NUL byte (%%00), which no model or endpoint name has"

#define CLIENT_CERT_MSG                                                                         \
  "a client certificate that chains to the server's custom_ca is required (client_verify)"

/* libmicrohttpd asks GnuTLS for the client's certificate when it has a trust list but does
 * not insist on one, so the verdict is checked here, once per request: a certificate was sent
 * and it verifies against custom_ca. */
static bool client_cert_ok(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (!ci || !ci->tls_session)
    return false;
  gnutls_session_t s = (gnutls_session_t)ci->tls_session;
  unsigned n = 0, status = 0;
  if (!gnutls_certificate_get_peers(s, &n) || n == 0)
    return false;
  return gnutls_certificate_verify_peers2(s, &status) == GNUTLS_E_SUCCESS && status == 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls) {
  srv_http *h = cls;
  srv_request *r = *con_cls;
  int64_t max = h->p.max_request_bytes;
  if (!r) {
    if (!(r = request_new(h, c, url, method)))
      return MHD_NO;
    *con_cls = r;
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    long long declared = cl ? strtoll(cl, NULL, 10) : 0;
    if (h->quiescing)
      r->reject = 503;
    else if (strstr(url, "%00"))
      r->reject = 400;
    else if (h->p.tls && srv_tls_client_verify(h->p.tls) && !client_cert_ok(c))
      r->reject = 403;
    else if (declared > max)
      r->reject = 413;
    /* One allocation for the declared body instead of a doubling series of copies (5% of the
     * CPU on 4 MB bodies). Capped: a client may declare a length it never sends. */
    if (!r->reject && declared > 0)
      srv_buf_reserve(&r->body, (size_t)(declared < PRESIZE_MAX ? declared : PRESIZE_MAX));
    /* Answering now (from the headers) makes MHD close the connection with the body unread,
     * which resets it: a client that sends the whole body before reading (Python's
     * http.client, requests) would lose the answer. So a body at most DRAIN_BYTES over the
     * limit is read and dropped, then answered; a larger one, or a client waiting for
     * 100-continue, is answered at once and never sends it. */
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    long long allowed = r->reject == 503 ? max : max + DRAIN_BYTES;
    if (r->reject && (expect || declared > allowed)) {
      if (r->reject == 503)
        srv_request_error(r, 503, "server is shutting down");
      else if (r->reject == 403)
        srv_request_error(r, 403, CLIENT_CERT_MSG);
      else if (r->reject == 400)
        srv_request_error(r, 400, NUL_PATH_MSG);
      else
        srv_request_error(r, 413,
                          "request body of %lld bytes is over --max_request_bytes "
                          "(%lld)",
                          declared, (long long)max);
      return send_response(r);
    }
    return MHD_YES;
  }
  if (*upload_size) {
    if (!r->reject && (int64_t)(r->body.len + *upload_size) > max) {
      r->reject = 413; /* chunked upload without a length: we only learn it now */
      srv_buf_free(&r->body);
    }
    if (r->reject) {
      r->discarded += (int64_t)*upload_size;
      if (r->discarded > FLOOD_BYTES)
        return MHD_NO; /* stop reading a flood; drop the connection */
    } else {
      srv_buf_append(&r->body, upload_data, *upload_size);
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (r->state == RQ_RECEIVING) {
    r->t_ready = srv_now();
    if (r->reject == 503)
      srv_request_error(r, 503, "server is shutting down");
    else if (r->reject == 403)
      srv_request_error(r, 403, CLIENT_CERT_MSG);
    else if (r->reject == 400)
      srv_request_error(r, 400, NUL_PATH_MSG);
    else if (r->reject)
      srv_request_error(r, 413, "request body is over --max_request_bytes (%lld)", (long long)max);
    else if (r->body.oom)
      srv_request_error(r, 500, "out of memory reading the request body");
    else {
      r->state = RQ_HANDLING;
      h->p.handler(r, h->p.arg);
      if (r->state == RQ_HANDLING)
        srv_request_error(r, 500, "internal error: the request was not answered");
    }
  }
  if (r->state == RQ_ANSWERED)
    return send_response(r);
  if (r->state == RQ_DEFERRED && !r->suspended) {
    r->suspended = true;
    MHD_suspend_connection(c);
  }
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  srv_http *h = cls;
  srv_request *r = *con_cls;
  if (!r)
    return;
  *con_cls = NULL;
  if (r->state == RQ_DEFERRED || r->state == RQ_HANDLING) {
    abandon(r, SRV_ABANDON_GONE);
  }
  int code = r->state == RQ_SENT ? r->code : 499; /* nginx's "client closed request" */
  double secs = srv_now() - r->t_ready;
  srv_metrics_request(r->model, r->version, r->api[0] ? r->api : "other", code, secs);
  int level = code >= 500 ? SRV_LOG_WARN : code >= 400 ? SRV_LOG_INFO : SRV_LOG_DEBUG;
  if (srv_log_enabled(level))
    srv_logf(level, r->id, "%s %s -> %d (%.2f ms)%s", r->method, r->path, code, secs * 1e3,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " [connection ended early]");
  free(r->resp);
  for (int i = 0; i < r->n_extra; i++)
    free(r->extra[i]);
  free(r->extra);
  srv_buf_free(&r->body);
  free(r->method);
  free(r->path);
  free(r);
  h->inflight--;
  (void)c;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = 0;
  srv_log_debug("http: %s", msg);
}

/* ---------------------------------------------------------------- driving MHD */

static void on_mhd_timer(uv_timer_t *t) { kick(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) { kick(p->data); }

static void kick(srv_http *h) {
  if (!h->d)
    return;
  MHD_run(h->d);
  MHD_UNSIGNED_LONG_LONG to;
  if (MHD_get_timeout(h->d, &to) == MHD_YES)
    uv_timer_start(&h->mhd_timer, on_mhd_timer, to, 0);
  else
    uv_timer_stop(&h->mhd_timer);
  if (h->quiescing && h->inflight == 0 && !h->idle_notified && h->p.on_idle) {
    h->idle_notified = true;
    h->p.on_idle(h->p.idle_arg);
  }
}

int srv_http_start(const srv_http_params *p, srv_http **out, char *msg, size_t cap) {
  *out = NULL;
  srv_http *h = calloc(1, sizeof *h);
  if (!h) {
    snprintf(msg, cap, "out of memory");
    return -1;
  }
  h->p = *p;
  h->id_salt = (unsigned)getpid() * 2654435761u ^ (unsigned)(srv_now() * 1e6);
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  /* Function pointers travel in `value`, their closures in `ptr_value` (MHD_OPTION_ARRAY). */
  struct MHD_OptionItem opts[12] = {
      {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)p->connection_limit, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)p->idle_timeout_seconds, NULL},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h},
      {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, h},
      {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
      {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_keep_nul, NULL},
  };
  int n_opts = 6;
  if (p->tls) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      snprintf(msg, cap, "--ssl_config_file: this libmicrohttpd was built without TLS");
      free(h);
      return -1;
    }
    flags |= MHD_USE_TLS;
    /* MHD copies neither: the srv_tls they point into outlives the daemon (http.h). */
    opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
                                             (void *)srv_tls_key_pem(p->tls)};
    opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                             (void *)srv_tls_cert_pem(p->tls)};
    if (srv_tls_ca_pem(p->tls))
      opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                               (void *)srv_tls_ca_pem(p->tls)};
  }
  opts[n_opts] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  for (int attempt = 0; attempt < 2 && !h->d; attempt++)
    h->d = MHD_start_daemon(flags | (attempt == 0 ? MHD_USE_DUAL_STACK : 0), (uint16_t)p->port,
                            NULL, NULL, on_access, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  if (!h->d) {
    snprintf(msg, cap, "--rest_api_port: cannot listen on port %d (in use?)", p->port);
    free(h);
    return -1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
  if (!info) {
    MHD_stop_daemon(h->d);
    free(h);
    snprintf(msg, cap, "http: libmicrohttpd has no epoll support");
    return -1;
  }
  uv_poll_init(p->loop, &h->poll, info->epoll_fd);
  uv_timer_init(p->loop, &h->mhd_timer);
  uv_timer_init(p->loop, &h->deadline_timer);
  h->poll.data = h->mhd_timer.data = h->deadline_timer.data = h;
  h->open_handles = 3;
  uv_poll_start(&h->poll, UV_READABLE, on_poll);
  kick(h);
  *out = h;
  return 0;
}

void srv_http_quiesce(srv_http *h) {
  if (!h || h->quiescing)
    return;
  h->quiescing = true;
  MHD_socket fd = MHD_quiesce_daemon(h->d);
  if (fd != MHD_INVALID_SOCKET)
    close(fd);
  uv_timer_start(&h->mhd_timer, on_mhd_timer, 0, 0);
}

int srv_http_inflight(const srv_http *h) { return h ? h->inflight : 0; }

static void on_handle_closed(uv_handle_t *hd) {
  srv_http *h = hd->data;
  if (--h->open_handles == 0)
    free(h);
}

void srv_http_stop(srv_http *h) {
  if (!h || h->stopping)
    return;
  h->quiescing = true;
  while (h->def_head) {
    srv_request *r = h->def_head;
    abandon(r, SRV_ABANDON_GONE);
    if (r->state == RQ_DEFERRED)
      srv_request_error(r, 503, "server is shutting down");
  }
  h->stopping = true;
  /* MHD must not hold a suspended connection when it stops: the answers above resumed them
   * all, and this run applies the resumes and flushes what can be flushed. */
  MHD_run(h->d);
  MHD_stop_daemon(h->d);
  h->d = NULL;
  uv_poll_stop(&h->poll);
  uv_close((uv_handle_t *)&h->poll, on_handle_closed);
  uv_close((uv_handle_t *)&h->mhd_timer, on_handle_closed);
  uv_close((uv_handle_t *)&h->deadline_timer, on_handle_closed);
}
