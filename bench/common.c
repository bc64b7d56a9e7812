/* bench/common.c: helpers shared by the workloads of weft-bench. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "workloads.h"

weft_runtime *bench_runtime(const bench_env *env) {
  weft_builder *b;
  weft_runtime *rt;
  int rc = weft_builder_new(&b);
  if (!rc)
    rc = weft_builder_worker_threads(b, env->workers);
  if (!rc)
    rc = weft_builder_max_blocking_threads(b, 512);
  if (!rc)
    rc = weft_builder_blocking_keep_alive(b, 10000);
  if (!rc)
    rc = weft_builder_build(b, &rt);
  weft_builder_free(b);
  if (rc) {
    fprintf(stderr, "weft-bench: cannot build a runtime: %s\n",
            weft_strerror(rc));
    exit(1);
  }
  return rt;
}

size_t bench_count(const bench_env *env, size_t base) {
  double v = (double)base * env->scale;
  return v < 1 ? 1 : (size_t)v;
}

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_result(const char *workload, const char *metric, double value,
                  const char *unit) {
  printf("RESULT %s %s=%.1f %s\n", workload, metric, value, unit);
  fflush(stdout);
}

void bench_done_init(bench_done *d) {
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  d->done = 0;
}

void bench_done_signal(bench_done *d) {
  pthread_mutex_lock(&d->mu);
  d->done = 1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

void bench_done_wait(bench_done *d) {
  pthread_mutex_lock(&d->mu);
  while (!d->done)
    pthread_cond_wait(&d->cv, &d->mu);
  pthread_mutex_unlock(&d->mu);
}

void bench_done_destroy(bench_done *d) {
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
}
