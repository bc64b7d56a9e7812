/* bench/wl_timers.c: 1,000,000 tasks, each sleeps a duration drawn from
 * [0, 1000) ms by the spec's LCG, then completes; wall time until all have
 * completed, and the peak resident memory of the process.
 *
 * Each task makes its sleep at its first poll (one boxed weft_sleep future
 * beside the task), so the wheel holds up to a million entries at once. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "workloads.h"

struct sleeper {
  weft_future *sleep;
  uint32_t ms;
  atomic_size_t *left;
  bench_done *done;
};

static weft_poll sleeper_poll(void *s, weft_context *cx, void *out) {
  struct sleeper *t = s;
  (void)out;
  if (!t->sleep && weft_sleep(t->ms, &t->sleep) < 0) {
    fprintf(stderr, "weft-bench: weft_sleep failed\n");
    return WEFT_READY;
  }
  if (weft_future_poll(t->sleep, cx) == WEFT_PENDING)
    return WEFT_PENDING;
  weft_future_free(t->sleep);
  t->sleep = NULL;
  /* The last task to finish tells the main thread. */
  if (atomic_fetch_sub_explicit(t->left, 1, memory_order_acq_rel) == 1)
    bench_done_signal(t->done);
  return WEFT_READY;
}

static const weft_future_vtable sleeper_vt = {sizeof(weft_future_vtable),
                                              sleeper_poll, NULL};

void wl_timers(const bench_env *env) {
  weft_runtime *rt = bench_runtime(env);
  size_t n = bench_count(env, 1000000);
  atomic_size_t left;
  atomic_init(&left, n);
  bench_done done;
  bench_done_init(&done);
  uint64_t x = 42;
  uint64_t t0 = bench_now_ns();
  for (size_t i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    struct sleeper s = {NULL, (uint32_t)((x >> 33) % 1000), &left, &done};
    if (weft_spawn_detached(rt, &sleeper_vt, &s, sizeof s) < 0) {
      fprintf(stderr, "weft-bench: spawn failed\n");
      exit(1);
    }
  }
  bench_done_wait(&done);
  uint64_t t1 = bench_now_ns();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  bench_result("timers", "wall_ms", (double)(t1 - t0) / 1e6, "ms");
  bench_result("timers", "rss_mb", (double)ru.ru_maxrss / 1024.0, "MB");
  weft_runtime_free(rt);
  bench_done_destroy(&done);
}
