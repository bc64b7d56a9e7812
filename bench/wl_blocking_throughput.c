/* bench/wl_blocking_throughput.c: blocking_throughput and blocking_burst.
 *
 * From one task: n weft_spawn_blocking calls, then every join handle awaited
 * in order, timed inside the task from the first spawn to the last await.
 * blocking_throughput: 100,000 calls of a function that returns at once
 * (ns_per_call). blocking_burst (bench/wl_blocking_burst.c): 1,000 calls of
 * a function that sleeps 10 ms (wall_ms and peak_threads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads.h"

uint64_t bench_blocking_calls(weft_runtime *rt, weft_blocking_fn fn,
                              size_t n);

typedef struct calls {
  weft_runtime *rt;
  weft_blocking_fn fn;
  weft_join_handle **h;
  size_t n, spawned, joined;
  uint64_t t0, t1;
  int failed;
  uint64_t t_spawned; /* when the last spawn returned (for stderr) */
  bench_done done;
} calls;

static weft_poll calls_poll(void *state, weft_context *cx, void *out) {
  (void)out;
  calls *c = *(calls **)state;
  if (c->spawned == 0)
    c->t0 = bench_now_ns();
  for (; c->spawned < c->n; c->spawned++) {
    int rc = weft_spawn_blocking(c->rt, c->fn, NULL, &c->h[c->spawned]);
    if (rc != 0) {
      fprintf(stderr, "weft-bench: spawn_blocking: %s\n", weft_strerror(rc));
      c->failed = 1;
      c->n = c->spawned;
      break;
    }
  }
  if (!c->t_spawned)
    c->t_spawned = bench_now_ns();
  for (; c->joined < c->n; c->joined++) {
    weft_join_result r;
    if (weft_join_poll(c->h[c->joined], cx, &r) == WEFT_PENDING)
      return WEFT_PENDING;
    weft_join_free(c->h[c->joined]);
  }
  c->t1 = bench_now_ns();
  bench_done_signal(&c->done);
  return WEFT_READY;
}
static const weft_future_vtable calls_vt = {sizeof(weft_future_vtable),
                                            calls_poll, NULL};

/* Shared with wl_blocking_burst.c: from one task on `rt`, spawn `n` calls
 * of `fn`, then await them all in order. Returns the ns from the first spawn
 * to the last await. Exits the program on failure. */
uint64_t bench_blocking_calls(weft_runtime *rt, weft_blocking_fn fn,
                              size_t n) {
  calls c;
  memset(&c, 0, sizeof c);
  c.rt = rt;
  c.fn = fn;
  c.n = n;
  c.h = calloc(n, sizeof *c.h);
  if (!c.h) {
    fprintf(stderr, "weft-bench: out of memory\n");
    exit(1);
  }
  bench_done_init(&c.done);
  calls *cp = &c;
  if (weft_spawn_detached(rt, &calls_vt, &cp, sizeof cp) != 0) {
    fprintf(stderr, "weft-bench: spawn failed\n");
    exit(1);
  }
  bench_done_wait(&c.done);
  bench_done_destroy(&c.done);
  free(c.h);
  if (c.failed)
    exit(1);
  fprintf(stderr, "weft-bench: %zu calls spawned in %.1f ms, all awaited "
          "after %.1f ms\n", n, (double)(c.t_spawned - c.t0) / 1e6,
          (double)(c.t1 - c.t0) / 1e6);
  return c.t1 - c.t0;
}

static void *return_at_once(void *arg, const weft_cancel_token *tok) {
  (void)tok;
  return arg;
}

void wl_blocking_throughput(const bench_env *env) {
  weft_runtime *rt = bench_runtime(env);
  size_t n = bench_count(env, 100000);
  uint64_t ns = bench_blocking_calls(rt, return_at_once, n);
  bench_result("blocking_throughput", "ns_per_call", (double)ns / (double)n,
               "ns");
  weft_runtime_free(rt);
}
