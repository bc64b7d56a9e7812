/* bench/wl_spawn.c: spawn_local and spawn_remote: 1,000,000 empty tasks
 * spawned from inside a task, or from a plain thread; the last task to
 * finish signals the main thread (a countdown). */
#include <stdatomic.h>
#include <stdio.h>

#include "workloads.h"

struct countdown {
  atomic_size_t left;
  bench_done done;
};

static weft_poll empty_poll(void *s, weft_context *cx, void *out) {
  (void)cx;
  (void)out;
  struct countdown *c = *(struct countdown **)s;
  if (atomic_fetch_sub_explicit(&c->left, 1, memory_order_acq_rel) == 1)
    bench_done_signal(&c->done);
  return WEFT_READY;
}
static const weft_future_vtable empty_vt = {sizeof(weft_future_vtable),
                                            empty_poll, NULL};

struct root {
  struct countdown *c;
  size_t n;
};
static weft_poll root_poll(void *s, weft_context *cx, void *out) {
  (void)cx;
  (void)out;
  struct root *r = s;
  weft_runtime *rt = weft_runtime_current();
  for (size_t i = 0; i < r->n; i++) {
    if (weft_spawn_detached(rt, &empty_vt, &r->c, sizeof r->c) != 0) {
      fprintf(stderr, "weft-bench: spawn failed\n");
      return WEFT_READY;
    }
  }
  return WEFT_READY;
}
static const weft_future_vtable root_vt = {sizeof(weft_future_vtable),
                                           root_poll, NULL};

static void run(const bench_env *env, int remote) {
  weft_runtime *rt = bench_runtime(env);
  size_t n = bench_count(env, 1000000);
  struct countdown c;
  atomic_init(&c.left, n);
  bench_done_init(&c.done);
  uint64_t t0 = bench_now_ns();
  if (remote) {
    struct countdown *cp = &c;
    for (size_t i = 0; i < n; i++)
      weft_spawn_detached(rt, &empty_vt, &cp, sizeof cp);
  } else {
    struct root r = {&c, n};
    weft_spawn_detached(rt, &root_vt, &r, sizeof r);
  }
  bench_done_wait(&c.done);
  uint64_t t1 = bench_now_ns();
  bench_result(remote ? "spawn_remote" : "spawn_local", "ns_per_task",
               (double)(t1 - t0) / (double)n, "ns");
  weft_runtime_free(rt);
  bench_done_destroy(&c.done);
}

void wl_spawn_local(const bench_env *env) { run(env, 0); }
void wl_spawn_remote(const bench_env *env) { run(env, 1); }
