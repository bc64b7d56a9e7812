/* bench/wl_idle_tasks.c: 1,000,000 tasks, each awaiting something that
 * never becomes ready; resident memory before spawning and once every task
 * has been polled and parked, per task. Then the runtime shuts down,
 * dropping them all.
 *
 * "Something that never becomes ready" is a future that returns PENDING
 * and keeps no waker, like an awaited std::future::pending() in the peer:
 * what is measured is the task itself, header and state. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "workloads.h"

struct idle {
  atomic_size_t *parked;
  int polled;
};

static weft_poll idle_poll(void *s, weft_context *cx, void *out) {
  struct idle *t = s;
  (void)cx;
  (void)out;
  if (!t->polled) {
    t->polled = 1;
    atomic_fetch_add_explicit(t->parked, 1, memory_order_relaxed);
  }
  return WEFT_PENDING;
}

static const weft_future_vtable idle_vt = {sizeof(weft_future_vtable),
                                           idle_poll, NULL};

/* Resident set size in bytes, from /proc/self/statm. */
static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

void wl_idle_tasks(const bench_env *env) {
  weft_runtime *rt = bench_runtime(env);
  size_t n = bench_count(env, 1000000);
  atomic_size_t parked;
  atomic_init(&parked, 0);
  size_t before = rss_bytes();
  for (size_t i = 0; i < n; i++) {
    struct idle t = {&parked, 0};
    if (weft_spawn_detached(rt, &idle_vt, &t, sizeof t) < 0) {
      fprintf(stderr, "weft-bench: spawn failed\n");
      exit(1);
    }
  }
  while (atomic_load_explicit(&parked, memory_order_relaxed) < n)
    usleep(1000);
  size_t after = rss_bytes();
  bench_result("idle_tasks", "bytes_per_task",
               (double)(after - before) / (double)n, "bytes");
  weft_runtime_shutdown(rt, -1);
  weft_runtime_free(rt);
}
