/* bench/wl_blocking_burst.c: blocking_burst: from one task, 1,000
 * weft_spawn_blocking calls of a function that sleeps 10 ms, all awaited.
 * wall_ms from the first spawn to the last await; peak_threads is the
 * process's thread count after the burst minus before it (idle pool threads
 * live for the 10 s keep-alive, so the count then is the peak). */
#include <stdio.h>
#include <time.h>

#include "workloads.h"

/* In wl_blocking_throughput.c. */
uint64_t bench_blocking_calls(weft_runtime *rt, weft_blocking_fn fn,
                              size_t n);

static void *sleep_10ms(void *arg, const weft_cancel_token *tok) {
  (void)tok;
  struct timespec ts = {0, 10 * 1000 * 1000};
  while (nanosleep(&ts, &ts) != 0)
    ;
  return arg;
}

static long threads_now(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long n = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "Threads: %ld", &n) == 1)
      break;
  if (f)
    fclose(f);
  return n;
}

void wl_blocking_burst(const bench_env *env) {
  weft_runtime *rt = bench_runtime(env);
  size_t n = bench_count(env, 1000);
  long before = threads_now();
  uint64_t ns = bench_blocking_calls(rt, sleep_10ms, n);
  long after = threads_now();
  bench_result("blocking_burst", "wall_ms", (double)ns / 1e6, "ms");
  printf("RESULT blocking_burst peak_threads=%ld threads\n", after - before);
  fflush(stdout);
  weft_runtime_free(rt);
}
