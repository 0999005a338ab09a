/*
 * http.h — the HTTP/1.1 front: libmicrohttpd driven by the libuv loop.
 *
 * MHD runs in external-polling epoll mode: its epoll fd is watched by a uv_poll_t and its
 * timeouts by a uv_timer_t, so every MHD callback runs on the loop thread and no thread
 * exists per connection. When a request body is complete the handler is called once; it
 * either answers at once (srv_request_respond) or defers: the connection is suspended until
 * someone on the loop thread answers, or the --rest_api_timeout_in_ms deadline passes and
 * the deferral callback is told to give up (it answers, typically 503/504).
 *
 * Limits: bodies over max_request_bytes get 413 — from the Content-Length header alone,
 * before the body is read, when the client sends one; a connection limit and an idle
 * timeout per connection keep idle clients from exhausting the server. A whole request
 * (headers and body) must arrive within receive_timeout_ms plus one second per 64 KiB of
 * the body (its Content-Length, or max_request_bytes when it has none), counted from its
 * first byte: a client that trickles bytes (slowloris) is answered a JSON 408 and closed
 * (over TLS only closed: the 408 is written on the raw socket).
 * A request line over 16 KiB gets a JSON 414 and a head (request line and headers) over
 * 64 KiB a JSON 431; libmicrohttpd answers heads over its per-connection memory (256 KiB)
 * and request lines it cannot parse itself, with a small HTML page.
 *
 * The handler is called twice per request: first when the headers are complete, before any
 * body byte is read (srv_request_headers_only true), where it may answer at once — a 401 or
 * a route error, so that a client that may not send a body cannot make the server buffer
 * one — or return without answering; then, unless it answered, once the body is complete.
 * After a 401 / 414 / 431 at most 1 MiB of body is read (and dropped, so that a client that
 * sends before it reads still gets the answer); a larger declared body is answered at once,
 * a chunked one is cut off past 1 MiB.
 *
 * Everything here is loop-thread only.
 */
#ifndef ORCHARD_SRV_HTTP_H
#define ORCHARD_SRV_HTTP_H

#include "metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct srv_http srv_http;
typedef struct srv_request srv_request;

typedef struct srv_http_params {
  uv_loop_t *loop;
  int port;
  int64_t max_request_bytes;
  int64_t timeout_ms; /* deadline of a deferred request; 0 = none */
  unsigned connection_limit;
  unsigned idle_timeout_seconds;              /* per connection, between requests / bytes */
  int64_t receive_timeout_ms; /* a whole request's base receive deadline; 0 = 30 s, <0 = none */
  void (*handler)(srv_request *r, void *arg); /* headers complete, then body complete */
  void *arg;
  void (*on_idle)(void *idle_arg); /* quiescing and the last request finished */
  void *idle_arg;
  /* HTTPS with these settings (tls.h), or NULL for plain HTTP. With client_verify, a request
   * on a connection without a client certificate that chains to custom_ca gets 403. Borrowed:
   * must outlive the server. */
  const struct srv_tls *tls;
  /* Every finished request is counted here (model, version, API, code, latency); NULL:
   * nothing recorded. Borrowed: must outlive the server. */
  srv_metrics *metrics;
} srv_http_params;

int srv_http_start(const srv_http_params *p, srv_http **out, char *msg, size_t cap);
/* Stops accepting connections (the port closes now); requests already in progress finish;
 * new requests on open connections get 503 and "Connection: close". */
void srv_http_quiesce(srv_http *h);
/* Requests received or being handled and not yet answered. */
int srv_http_inflight(const srv_http *h);
/* Answers every deferred request 503, stops MHD and closes the loop handles; `h` is freed
 * once they are closed. */
void srv_http_stop(srv_http *h);

const char *srv_request_method(const srv_request *r);
const char *srv_request_path(const srv_request *r);
const char *srv_request_id(const srv_request *r);
const char *srv_request_header(srv_request *r, const char *name);
/* A query-string argument ("?raw=true" -> "true"; "?raw" -> ""), NULL if absent. */
const char *srv_request_query(srv_request *r, const char *name);
/* True during the handler's first call (headers complete, body not read yet). */
bool srv_request_headers_only(const srv_request *r);
const char *srv_request_body(const srv_request *r, size_t *len);
/* Moves the body out (malloc'd, NUL-terminated; the caller frees). */
char *srv_request_take_body(srv_request *r, size_t *len);
/* Labels for the request's metric and log line. Copied. */
void srv_request_label(srv_request *r, const char *api, const char *model, const char *version);
/* Answers. Takes `body` (malloc'd; may be NULL with len 0). */
void srv_request_respond(srv_request *r, int code, const char *content_type, char *body,
                         size_t len);
/* Adds a response header (e.g. Retry-After) to the answer, whichever way it is answered
 * later; call it before srv_request_respond / srv_request_error. Up to 16 headers. false
 * (nothing added) when the request was already sent, or the name is not an HTTP token or
 * the value holds control characters. Both are copied. */
bool srv_request_add_header(srv_request *r, const char *name, const char *value);
/* {"error": message} with `code`. */
void srv_request_error(srv_request *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef enum srv_abandon {
  SRV_ABANDON_TIMEOUT, /* deadline passed: the callback must answer the request */
  SRV_ABANDON_GONE     /* connection closed or server stopping: forget the request */
} srv_abandon;
/* Answer later. cb is called at most once, and never after the request is answered. */
void srv_request_defer(srv_request *r, void (*cb)(srv_request *r, void *arg, srv_abandon why),
                       void *arg);
/* Seconds since the request's body was complete. */
double srv_request_age(const srv_request *r);

#endif
