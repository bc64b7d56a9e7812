/* bench/workloads.h: what every workload of weft-bench shares.
 *
 * A workload is `void wl_<name>(const bench_env *env)` in bench/wl_<name>.c.
 * It builds its runtime with bench_runtime(), times only the workload with
 * bench_now_ns(), scales every count with bench_count(), and prints its
 * results with bench_result() (the only thing weft-bench writes to stdout,
 * in the format of the shared benchmark spec). To add one: write the file,
 * declare it below, add a line to the table in weft-bench.c and the file to
 * bench/meson.build. */
#ifndef WEFT_BENCH_WORKLOADS_H
#define WEFT_BENCH_WORKLOADS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <weft.h>

typedef struct bench_env {
  unsigned workers; /* WORKERS, default 2 */
  double scale;     /* SCALE, default 1.0 */
} bench_env;

/* A multi-thread runtime with env->workers workers, a blocking pool of at
 * most 512 threads and 10 s keep-alive. Exits the program on failure. */
weft_runtime *bench_runtime(const bench_env *env);
/* `base` scaled by SCALE, at least 1. */
size_t bench_count(const bench_env *env, size_t base);
uint64_t bench_now_ns(void);
/* Print `RESULT <workload> <metric>=<value> <unit>`. */
void bench_result(const char *workload, const char *metric, double value,
                  const char *unit);

/* A one-shot completion signal from a task to the main thread. */
typedef struct bench_done {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
} bench_done;
void bench_done_init(bench_done *d);
void bench_done_signal(bench_done *d);
void bench_done_wait(bench_done *d);
void bench_done_destroy(bench_done *d);

/* The workloads. */
void wl_spawn_local(const bench_env *env);
void wl_spawn_remote(const bench_env *env);
void wl_yield_many(const bench_env *env);
void wl_chained_spawn(const bench_env *env);
void wl_ping_pong(const bench_env *env);
void wl_timers(const bench_env *env);
void wl_idle_tasks(const bench_env *env);
void wl_blocking_throughput(const bench_env *env);
void wl_blocking_burst(const bench_env *env);

#endif
