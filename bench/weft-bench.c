/* bench/weft-bench.c: weft's side of the shared benchmark suite.
 *
 *   weft-bench [workload...]     (no argument: every workload)
 *
 * Environment: WORKERS (default 2), SCALE (default 1.0). Results go to
 * stdout as `RESULT <workload> <metric>=<value> <unit>` lines, diagnostics
 * to stderr. Each workload lives in its own bench/wl_<name>.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads.h"

static const struct {
  const char *name;
  void (*run)(const bench_env *env);
} workloads[] = {
    {"spawn_local", wl_spawn_local},
    {"spawn_remote", wl_spawn_remote},
    {"yield_many", wl_yield_many},
    {"chained_spawn", wl_chained_spawn},
    {"ping_pong", wl_ping_pong},
    {"timers", wl_timers},
    {"idle_tasks", wl_idle_tasks},
    {"blocking_throughput", wl_blocking_throughput},
    {"blocking_burst", wl_blocking_burst},
};
#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

int main(int argc, char **argv) {
  bench_env env = {2, 1.0};
  const char *w = getenv("WORKERS");
  if (w && atoi(w) > 0)
    env.workers = (unsigned)atoi(w);
  const char *s = getenv("SCALE");
  if (s && atof(s) > 0)
    env.scale = atof(s);
  if (argc < 2) {
    for (size_t i = 0; i < NWORKLOADS; i++)
      workloads[i].run(&env);
    return 0;
  }
  for (int a = 1; a < argc; a++) {
    size_t i;
    for (i = 0; i < NWORKLOADS; i++)
      if (strcmp(argv[a], workloads[i].name) == 0)
        break;
    if (i == NWORKLOADS) {
      fprintf(stderr, "weft-bench: unknown workload '%s'; known:", argv[a]);
      for (i = 0; i < NWORKLOADS; i++)
        fprintf(stderr, " %s", workloads[i].name);
      fprintf(stderr, "\n");
      return 2;
    }
    workloads[i].run(&env);
  }
  return 0;
}
