/* bench/wl_chained_spawn.c: a chain of 1,000,000 tasks, each spawns the
 * next and completes; the last one signals the main thread. */
#include <stdio.h>

#include "workloads.h"

struct link {
  bench_done *done;
  size_t left;
};

static weft_poll link_poll(void *s, weft_context *cx, void *out);
static const weft_future_vtable link_vt = {sizeof(weft_future_vtable),
                                           link_poll, NULL};

static weft_poll link_poll(void *s, weft_context *cx, void *out) {
  (void)cx;
  (void)out;
  struct link *l = s;
  if (l->left == 0) {
    bench_done_signal(l->done);
    return WEFT_READY;
  }
  struct link next = {l->done, l->left - 1};
  if (weft_spawn_detached(weft_runtime_current(), &link_vt, &next,
                          sizeof next) != 0) {
    fprintf(stderr, "weft-bench: spawn failed\n");
    bench_done_signal(l->done);
  }
  return WEFT_READY;
}

void wl_chained_spawn(const bench_env *env) {
  weft_runtime *rt = bench_runtime(env);
  size_t n = bench_count(env, 1000000);
  bench_done done;
  bench_done_init(&done);
  uint64_t t0 = bench_now_ns();
  struct link first = {&done, n - 1};
  weft_spawn_detached(rt, &link_vt, &first, sizeof first);
  bench_done_wait(&done);
  uint64_t t1 = bench_now_ns();
  bench_result("chained_spawn", "ns_per_task", (double)(t1 - t0) / (double)n,
               "ns");
  weft_runtime_free(rt);
  bench_done_destroy(&done);
}
