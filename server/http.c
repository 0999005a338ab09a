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
 *
 * Receive deadline (slowloris): MHD calls nothing while headers trickle in, and its own
 * timeout is an idle timeout that every byte resets. So each TCP connection has an hconn
 * (MHD's socket context, listed on the server) and a sweep timer looks at them once a
 * second. A request starts at its first byte: the sweep sees the kernel's count of bytes
 * received (TCP_INFO) grow past what it was when the previous request ended, or MHD reports
 * the request line. A connection past its deadline is sent a JSON 408 straight on the socket
 * (plain HTTP only: MHD owns the TLS session) and shut down; MHD then reads EOF and closes it
 * the ordinary way, so no descriptor is closed behind its back. Once the body is complete the
 * deadline no longer applies (the request is ours, bounded by --rest_api_timeout_in_ms).
 *
 * Early answers: the handler's first call (headers only) and the checks before it may answer
 * at once. Answering with the body unread makes MHD close the connection, and a client still
 * sending its body would see a reset instead of the answer; so a body up to a bound is read
 * and dropped first (DRAIN_BYTES for a refusal that must not make us read a body: 401, 414,
 * 431; the limit plus DRAIN_BYTES for the others, which used to read it anyway).
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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How far over --max_request_bytes a body may be and still be read (and dropped) so the 413
 * reaches a client that only reads after sending. */
#define DRAIN_BYTES (1 << 20)
/* A body without a length (chunked) can only be answered once it ends (MHD cannot queue a
 * response mid-upload): it is read and dropped past the limit, up to this much, then the
 * connection is dropped. */
#define FLOOD_BYTES (64 << 20)

/* Receive deadline: the base (receive_timeout_ms, default below) plus a second per
 * RECEIVE_RATE bytes of the declared body, so a large body on a slow but honest link fits. */
#define RECEIVE_TIMEOUT_MS_DEFAULT 30000
#define RECEIVE_RATE (64 << 10)
/* Our JSON 414 / 431 limits, under MHD's per-connection memory (MHD_MEMORY), which must hold
 * the head plus MHD's own bookkeeping so that MHD reaches our checks first. */
#define MAX_URI_BYTES (16 << 10)
#define MAX_HEAD_BYTES (64 << 10)
#define MHD_MEMORY (256 << 10)

/* One per TCP connection (MHD's socket context). */
typedef struct hconn {
  struct srv_http *h;
  int fd;
  struct srv_request *r; /* the request on it, from its headers to its completion */
  double t_start;        /* first byte of the current request (0: none seen yet) */
  uint64_t idle_bytes;   /* bytes received when the previous request ended */
  size_t uri_len;        /* request line's URI, as MHD logged it */
  bool cut;
  struct hconn *prev, *next;
} hconn;

typedef enum rq_state { RQ_RECEIVING, RQ_HANDLING, RQ_DEFERRED, RQ_ANSWERED, RQ_SENT } rq_state;

struct srv_request {
  srv_http *h;
  struct MHD_Connection *conn;
  char *method, *path;
  char id[72];
  srv_buf body;
  int64_t discarded;
  int reject; /* answered before the body: the body is read and dropped, up to `drain` */
  int64_t drain;
  rq_state state;
  bool suspended, linked;
  int code;
  char *resp;
  size_t resp_len;
  const char *ctype;
  double t_begin, t_ready, deadline;
  srv_request *prev, *next; /* deferred list */
  hconn *hc;                /* NULL once the connection is gone */
  double recv_deadline;     /* the body must be complete by then (0: none) */
  bool body_done, cut;
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
  hconn *conns;
  uv_timer_t sweep_timer;
  double recv_base; /* seconds; 0: no receive deadline */
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

bool srv_request_headers_only(const srv_request *r) { return r->state == RQ_RECEIVING; }

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

/* ---------------------------------------------------------------- connections, deadlines */

static hconn *conn_of(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

/* glibc's tcp_info stops before the byte counters Linux 4.1+ appends (linux/tcp.h, which
 * clashes with glibc's header); the kernel ABI only ever grows at the end. */
struct tcp_info_bytes {
  struct tcp_info base;
  uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
};
_Static_assert(offsetof(struct tcp_info_bytes, bytes_received) == 128, "Linux tcp_info layout");

/* Bytes the kernel received on the connection so far (0 when it cannot tell). */
static uint64_t bytes_received(int fd) {
  struct tcp_info_bytes ti;
  socklen_t n = sizeof ti;
  memset(&ti, 0, sizeof ti);
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &n) != 0 || n < sizeof ti)
    return 0;
  return ti.bytes_received;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  srv_http *h = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    hconn *hc = calloc(1, sizeof *hc);
    *socket_context = hc;
    if (!hc)
      return; /* served all the same, only without a receive deadline */
    hc->h = h;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    hc->fd = ci ? (int)ci->connect_fd : -1;
    hc->next = h->conns;
    if (h->conns)
      h->conns->prev = hc;
    h->conns = hc;
    return;
  }
  hconn *hc = *socket_context;
  *socket_context = NULL;
  if (!hc)
    return;
  if (hc->r)
    hc->r->hc = NULL;
  if (hc->prev)
    hc->prev->next = hc->next;
  else
    h->conns = hc->next;
  if (hc->next)
    hc->next->prev = hc->prev;
  free(hc);
}

/* MHD parsed a request line: the request has begun, whatever the sweep saw. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  hconn *hc = conn_of(c);
  if (hc) {
    hc->uri_len = strlen(uri);
    if (hc->t_start == 0)
      hc->t_start = srv_now();
  }
  return NULL;
}

/* Past the receive deadline: a JSON 408 if the socket takes it now, then both directions
 * shut, which MHD sees as the client leaving. */
static void cut(hconn *hc, double now) {
  srv_http *h = hc->h;
  srv_request *r = hc->r;
  hc->cut = true;
  char msg[320], head[320];
  if (r)
    snprintf(msg, sizeof msg,
             "request body not complete within %.0f s of the request's first byte (a whole "
             "request must arrive within %.0f s, plus 1 s per %d KiB of body)",
             r->recv_deadline - hc->t_start, h->recv_base, RECEIVE_RATE >> 10);
  else
    snprintf(msg, sizeof msg,
             "request headers not complete within %.0f s of the first byte (a whole request "
             "must arrive within %.0f s, plus 1 s per %d KiB of body)",
             h->recv_base, h->recv_base, RECEIVE_RATE >> 10);
  if (r)
    r->cut = true;
  if (!h->p.tls && hc->fd >= 0) {
    int body_len = (int)strlen(msg) + 12; /* {"error":"..."} */
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\nServer: orchard\r\n"
                     "%s%s%s\r\n{\"error\":\"",
                     body_len, r ? "X-Request-Id: " : "", r ? r->id : "", r ? "\r\n" : "");
    /* Best effort and never blocking: a client that does not read loses the answer. */
    const int fl = MSG_NOSIGNAL | MSG_DONTWAIT;
    if (n > 0 && n < (int)sizeof head && send(hc->fd, head, (size_t)n, fl) == n &&
        send(hc->fd, msg, strlen(msg), fl) == (ssize_t)strlen(msg))
      (void)send(hc->fd, "\"}", 2, fl);
  }
  shutdown(hc->fd, SHUT_RDWR);
  srv_log_info("http: %s%s%s", r ? r->id : "", r ? ": " : "", msg);
}

static void on_sweep(uv_timer_t *t) {
  srv_http *h = t->data;
  double now = srv_now();
  bool any = false;
  for (hconn *hc = h->conns; hc; hc = hc->next) {
    if (hc->cut || hc->fd < 0)
      continue;
    double deadline;
    if (hc->r) {
      srv_request *r = hc->r;
      if (r->body_done || r->state == RQ_SENT || r->recv_deadline <= 0)
        continue;
      deadline = r->recv_deadline;
    } else {
      if (hc->t_start == 0) {
        if (bytes_received(hc->fd) > hc->idle_bytes)
          hc->t_start = now; /* within a sweep period of the first byte: lenient by <= 1 s */
        continue;
      }
      deadline = hc->t_start + h->recv_base;
    }
    if (now >= deadline) {
      cut(hc, now);
      any = true;
    }
  }
  if (any)
    kick(h);
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
    if (declared < 0)
      declared = 0;
    hconn *hc = conn_of(c);
    if (hc) {
      hc->r = r;
      r->hc = hc;
      if (hc->t_start == 0)
        hc->t_start = r->t_begin;
      if (h->recv_base > 0) {
        bool chunked = !cl && MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_TRANSFER_ENCODING);
        double body = chunked ? (double)max : (double)(declared < max ? declared : max);
        r->recv_deadline = hc->t_start + h->recv_base + body / RECEIVE_RATE;
      }
    }
    const union MHD_ConnectionInfo *hi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t head = hi ? hi->header_size : 0;
    /* How much of a refused body is read and dropped before answering (see the top). */
    long long drain = max + DRAIN_BYTES;
    if (h->quiescing) {
      srv_request_error(r, 503, "server is shutting down");
      drain = max;
    } else if (hc && hc->uri_len > MAX_URI_BYTES) {
      srv_request_error(r, 414, "request URI: %zu bytes, over the limit of %d", hc->uri_len,
                        MAX_URI_BYTES);
      srv_request_add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
      drain = DRAIN_BYTES;
    } else if (head > MAX_HEAD_BYTES) {
      srv_request_error(r, 431,
                        "request headers: %zu bytes with the request line, over the limit of %d",
                        head, MAX_HEAD_BYTES);
      srv_request_add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
      drain = DRAIN_BYTES;
    } else if (strstr(url, "%00")) {
      srv_request_error(r, 400, NUL_PATH_MSG);
    } else if (h->p.tls && srv_tls_client_verify(h->p.tls) && !client_cert_ok(c)) {
      srv_request_error(r, 403, CLIENT_CERT_MSG);
    } else if (declared > max) {
      srv_request_error(r, 413, "request body of %lld bytes is over --max_request_bytes (%lld)",
                        declared, (long long)max);
    } else {
      h->p.handler(r, h->p.arg); /* headers only: may refuse before the body (http.h) */
      if (r->state == RQ_ANSWERED && r->code == 401)
        drain = DRAIN_BYTES;
    }
    if (r->state == RQ_ANSWERED) {
      /* Answering now (from the headers) makes MHD close the connection with the body unread,
       * which resets it: a client that sends the whole body before reading (Python's
       * http.client, requests) would lose the answer. So a body up to `drain` is read and
       * dropped, then answered; a larger one, or a client waiting for 100-continue, is
       * answered at once and never sends it. */
      r->reject = r->code;
      r->drain = drain;
      const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
      if (expect || declared > drain)
        return send_response(r);
      return MHD_YES;
    }
    /* One allocation for the declared body instead of a doubling series of copies (5% of the
     * CPU on 4 MB bodies). Capped: a client may declare a length it never sends. */
    if (declared > 0)
      srv_buf_reserve(&r->body, (size_t)(declared < PRESIZE_MAX ? declared : PRESIZE_MAX));
    return MHD_YES;
  }
  if (*upload_size) {
    if (!r->reject && (int64_t)(r->body.len + *upload_size) > max) {
      r->reject = 413; /* chunked upload without a length: we only learn it now */
      r->drain = FLOOD_BYTES;
      srv_buf_free(&r->body);
    }
    if (r->reject) {
      r->discarded += (int64_t)*upload_size;
      if (r->discarded > r->drain)
        return MHD_NO; /* stop reading a flood; drop the connection */
    } else {
      srv_buf_append(&r->body, upload_data, *upload_size);
    }
    *upload_size = 0;
    return MHD_YES;
  }
  r->body_done = true;
  if (r->state == RQ_RECEIVING) {
    r->t_ready = srv_now();
    if (r->reject)
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
  hconn *hc = r->hc;
  if (hc) { /* the next request's deadline starts at its first byte */
    hc->r = NULL;
    hc->t_start = 0;
    hc->uri_len = 0;
    hc->idle_bytes = bytes_received(hc->fd);
  }
  /* 499: nginx's "client closed request" */
  int code = r->cut ? 408 : r->state == RQ_SENT ? r->code : 499;
  double secs = srv_now() - r->t_ready;
  srv_metrics_request(h->p.metrics, r->model, r->version, r->api[0] ? r->api : "other", code, secs);
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
  h->recv_base = p->receive_timeout_ms < 0    ? 0
                 : p->receive_timeout_ms == 0 ? RECEIVE_TIMEOUT_MS_DEFAULT / 1e3
                                              : (double)p->receive_timeout_ms / 1e3;
  struct MHD_OptionItem opts[16] = {
      {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)p->connection_limit, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)p->idle_timeout_seconds, NULL},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h},
      {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, h},
      {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
      {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_keep_nul, NULL},
      {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h},
      {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, MHD_MEMORY, NULL},
  };
  int n_opts = 9;
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
  uv_timer_init(p->loop, &h->sweep_timer);
  h->poll.data = h->mhd_timer.data = h->deadline_timer.data = h->sweep_timer.data = h;
  h->open_handles = 4;
  uv_poll_start(&h->poll, UV_READABLE, on_poll);
  if (h->recv_base > 0)
    uv_timer_start(&h->sweep_timer, on_sweep, 1000, 1000);
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
  while (h->conns) { /* MHD says when it closes a connection; this is in case it did not */
    hconn *hc = h->conns;
    h->conns = hc->next;
    free(hc);
  }
  uv_poll_stop(&h->poll);
  uv_close((uv_handle_t *)&h->poll, on_handle_closed);
  uv_close((uv_handle_t *)&h->mhd_timer, on_handle_closed);
  uv_close((uv_handle_t *)&h->deadline_timer, on_handle_closed);
  uv_close((uv_handle_t *)&h->sweep_timer, on_handle_closed);
}
