/* bench/wl_yield_many.c: 1,000 tasks, each yields 1,000 times, then
 * completes; the last one signals the main thread. */
#include <stdatomic.h>

#include "workloads.h"

struct shared {
  atomic_size_t left;
  bench_done done;
};

struct yielder {
  struct shared *sh;
  size_t remaining;
};

static weft_poll yielder_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct yielder *y = s;
  if (y->remaining > 0) {
    y->remaining--;
    weft_waker_wake_by_ref(weft_context_waker(cx));
    return WEFT_PENDING;
  }
  if (atomic_fetch_sub_explicit(&y->sh->left, 1, memory_order_acq_rel) == 1)
    bench_done_signal(&y->sh->done);
  return WEFT_READY;
}
static const weft_future_vtable yielder_vt = {sizeof(weft_future_vtable),
                                              yielder_poll, NULL};

void wl_yield_many(const bench_env *env) {
  weft_runtime *rt = bench_runtime(env);
  size_t tasks = 1000;
  size_t yields = bench_count(env, 1000);
  struct shared sh;
  atomic_init(&sh.left, tasks);
  bench_done_init(&sh.done);
  uint64_t t0 = bench_now_ns();
  for (size_t i = 0; i < tasks; i++) {
    struct yielder y = {&sh, yields};
    weft_spawn_detached(rt, &yielder_vt, &y, sizeof y);
  }
  bench_done_wait(&sh.done);
  uint64_t t1 = bench_now_ns();
  bench_result("yield_many", "ns_per_yield",
               (double)(t1 - t0) / (double)(tasks * yields), "ns");
  weft_runtime_free(rt);
  bench_done_destroy(&sh.done);
}
