/*
 * test_threadpool.c — rt__parallel_for covers every index exactly once, for any thread count,
 * range and grain, and a pool survives many jobs back to back.
 */
#include "ops.h"

#include <criterion/criterion.h>
#include <stdatomic.h>

typedef struct {
  atomic_int *hits;
  atomic_int calls;
} cover_ctx;

static void mark(void *p, int64_t b, int64_t e) {
  cover_ctx *c = p;
  atomic_fetch_add(&c->calls, 1);
  for (int64_t i = b; i < e; i++)
    atomic_fetch_add(&c->hits[i], 1);
}

Test(threadpool, every_index_once) {
  static atomic_int hits[10007];
  for (int threads = 1; threads <= 4; threads++) {
    rt_threadpool *tp;
    rt_error err;
    cr_assert_eq(rt__threadpool_create(threads, &tp, &err), RT_OK);
    cr_assert_eq(rt__threadpool_size(tp), threads);
    const int64_t sizes[] = {0, 1, 2, 7, 64, 1000, 10007};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
      for (int64_t grain = 1; grain <= 4096; grain *= 16) {
        for (int64_t i = 0; i < sizes[si]; i++)
          atomic_store(&hits[i], 0);
        cover_ctx c = {.hits = hits};
        rt__parallel_for(tp, sizes[si], grain, mark, &c);
        for (int64_t i = 0; i < sizes[si]; i++)
          cr_assert_eq(atomic_load(&hits[i]), 1, "threads %d n %lld grain %lld index %lld",
                       threads, (long long)sizes[si], (long long)grain, (long long)i);
        if (sizes[si] == 0)
          cr_assert_eq(atomic_load(&c.calls), 0);
      }
    }
    rt__threadpool_destroy(tp);
  }
}

Test(threadpool, null_pool_is_one_call) {
  static atomic_int hits[100];
  cover_ctx c = {.hits = hits};
  rt__parallel_for(NULL, 100, 1, mark, &c);
  cr_assert_eq(atomic_load(&c.calls), 1);
  rt__threadpool_destroy(NULL);
  cr_assert_eq(rt__threadpool_size(NULL), 1);
}
