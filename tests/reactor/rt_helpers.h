/* tests/reactor/rt_helpers.h: running test futures on a real runtime. */
#ifndef WEFT_TEST_REACTOR_RT_HELPERS_H
#define WEFT_TEST_REACTOR_RT_HELPERS_H

#include <stdlib.h>
#include <time.h>
#include <weft.h>

static inline double test_scale(void) {
  const char *s = getenv("WEFT_TEST_SCALE");
  double v = s ? atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

static inline uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A multi-thread runtime with `workers` workers on `backend` (NULL:
 * default). */
static inline weft_runtime *rt_new(unsigned workers, const char *backend) {
  weft_builder *b;
  weft_runtime *rt = NULL;
  if (weft_builder_new(&b) < 0)
    return NULL;
  if (workers)
    weft_builder_worker_threads(b, workers);
  if (backend)
    weft_builder_backend(b, backend);
  if (weft_builder_build(b, &rt) < 0)
    rt = NULL;
  weft_builder_free(b);
  return rt;
}

/* Poll a boxed future to completion from main; returns its output room. */
typedef struct boxed_wait {
  weft_future *f;
} boxed_wait;
static weft_poll boxed_wait_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  return weft_future_poll(((boxed_wait *)s)->f, cx);
}
static const weft_future_vtable boxed_wait_vt = {sizeof(weft_future_vtable),
                                                 boxed_wait_poll, NULL};
static inline void *block_on_boxed(weft_runtime *rt, weft_future *f) {
  boxed_wait w = {f};
  if (weft_block_on(rt, &boxed_wait_vt, &w, NULL) < 0)
    return NULL;
  return weft_future_output(f);
}

#endif /* WEFT_TEST_REACTOR_RT_HELPERS_H */
