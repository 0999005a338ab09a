/*
 * loop.c — libuv loop, cross-thread post queue and signal handling.
 *
 * The post queue is a mutex-guarded FIFO; one uv_async_send per post is cheap because libuv
 * coalesces wake-ups, and the drain takes the whole list at once so the lock is held for a
 * pointer swap only.
 */
#include "loop.h"

#include <signal.h>
#include <string.h>

static void drain(uv_async_t *a) {
  srv_loop *l = a->data;
  pthread_mutex_lock(&l->mu);
  srv_loop_item *it = l->head;
  l->head = l->tail = NULL;
  pthread_mutex_unlock(&l->mu);
  while (it) {
    srv_loop_item *next = it->next;
    it->next = NULL;
    it->fn(it);
    it = next;
  }
}

static void on_sig(uv_signal_t *s, int signum) {
  srv_loop *l = s->data;
  if (l->on_signal)
    l->on_signal(signum, l->arg);
}

int srv_loop_init(srv_loop *l, void (*on_signal)(int, void *), void *arg) {
  memset(l, 0, sizeof *l);
  int rc = uv_loop_init(&l->uv);
  if (rc)
    return rc;
  pthread_mutex_init(&l->mu, NULL);
  l->on_signal = on_signal;
  l->arg = arg;
  uv_async_init(&l->uv, &l->wake, drain);
  l->wake.data = l;
  uv_signal_t *sigs[] = {&l->sig_term, &l->sig_int, &l->sig_hup};
  int nums[] = {SIGTERM, SIGINT, SIGHUP};
  for (int i = 0; i < 3; i++) {
    uv_signal_init(&l->uv, sigs[i]);
    sigs[i]->data = l;
    uv_signal_start(sigs[i], on_sig, nums[i]);
  }
  signal(SIGPIPE, SIG_IGN); /* a client gone mid-response is an error code, not a kill */
  l->initialized = true;
  return 0;
}

bool srv_loop_post(srv_loop *l, srv_loop_item *it) {
  it->next = NULL;
  pthread_mutex_lock(&l->mu);
  if (l->closed) {
    pthread_mutex_unlock(&l->mu);
    return false;
  }
  if (l->tail)
    l->tail->next = it;
  else
    l->head = it;
  l->tail = it;
  uv_async_send(&l->wake); /* under mu so close cannot race it */
  pthread_mutex_unlock(&l->mu);
  return true;
}

int srv_loop_run(srv_loop *l) { return uv_run(&l->uv, UV_RUN_DEFAULT); }

void srv_loop_shutdown(srv_loop *l) {
  pthread_mutex_lock(&l->mu);
  bool was = l->closed;
  l->closed = true;
  pthread_mutex_unlock(&l->mu);
  if (was)
    return;
  drain(&l->wake);
  uv_close((uv_handle_t *)&l->wake, NULL);
  uv_close((uv_handle_t *)&l->sig_term, NULL);
  uv_close((uv_handle_t *)&l->sig_int, NULL);
  uv_close((uv_handle_t *)&l->sig_hup, NULL);
}

void srv_loop_close(srv_loop *l) {
  if (!l->initialized)
    return;
  srv_loop_shutdown(l);
  uv_run(&l->uv, UV_RUN_NOWAIT); /* let the close callbacks run */
  uv_loop_close(&l->uv);
  pthread_mutex_destroy(&l->mu);
  l->initialized = false;
}
