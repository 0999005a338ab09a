/*
 * loop.h — the one libuv event loop that owns all I/O, plus the hand-off from other threads.
 *
 * Workers never touch connections: they post a srv_loop_item, the loop wakes through a
 * uv_async and runs each item's fn on the loop thread, in post order. Signals (SIGTERM,
 * SIGINT, SIGHUP) arrive as callbacks on the loop thread too. After srv_loop_close, posting
 * fails (returns false) and the poster keeps ownership of its item.
 */
#ifndef ORCHARD_SRV_LOOP_H
#define ORCHARD_SRV_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <uv.h>

typedef struct srv_loop_item srv_loop_item;
struct srv_loop_item {
  void (*fn)(srv_loop_item *it); /* runs on the loop thread; owns the item from then on */
  srv_loop_item *next;
};

typedef struct srv_loop {
  uv_loop_t uv;
  uv_async_t wake;
  uv_signal_t sig_term, sig_int, sig_hup;
  void (*on_signal)(int signum, void *arg);
  void *arg;
  pthread_mutex_t mu;
  srv_loop_item *head, *tail; /* under mu */
  bool closed;                /* under mu */
  bool initialized;
} srv_loop;

/* on_signal gets SIGTERM, SIGINT and SIGHUP on the loop thread. */
int srv_loop_init(srv_loop *l, void (*on_signal)(int signum, void *arg), void *arg);
/* Thread-safe. False once the loop is closing: the caller still owns `it`. */
bool srv_loop_post(srv_loop *l, srv_loop_item *it);
/* Runs until every handle is closed (srv_loop_shutdown closes the loop's own). */
int srv_loop_run(srv_loop *l);
/* Loop thread: refuse further posts, run what was posted, close the loop's handles. The loop
 * then ends once the other modules have closed theirs. */
void srv_loop_shutdown(srv_loop *l);
/* After srv_loop_run returned: frees the loop. Items posted late are not run. */
void srv_loop_close(srv_loop *l);

#endif
