/* tests/exec/helpers.h: small futures shared by the executor tests. */
#ifndef WEFT_TESTS_EXEC_HELPERS_H
#define WEFT_TESTS_EXEC_HELPERS_H

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <weft.h>

/* WEFT_TEST_SCALE (default 1.0) scales the heavy loops down, e.g. under
 * sanitizers on small machines. */
static inline double test_scale(void) {
  const char *s = getenv("WEFT_TEST_SCALE");
  double v = s ? atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

static inline uint64_t weft__test_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline weft_runtime *test_runtime(weft_flavor flavor, unsigned n) {
  weft_builder *b;
  weft_runtime *rt = NULL;
  if (weft_builder_new(&b))
    return NULL;
  weft_builder_flavor(b, flavor);
  if (n)
    weft_builder_worker_threads(b, n);
  if (weft_builder_build(b, &rt))
    rt = NULL;
  weft_builder_free(b);
  return rt;
}

/* A future that completes at once, writing `value` as its output. */
struct value_fut {
  int value;
};
static weft_poll value_poll(void *s, weft_context *cx, void *out) {
  (void)cx;
  if (out)
    *(int *)out = ((struct value_fut *)s)->value;
  return WEFT_READY;
}
static const weft_future_vtable value_vt = {sizeof(weft_future_vtable),
                                            value_poll, NULL};

/* A future that never completes and counts drops. It stores a waker clone
 * (so wakers are kept alive by someone, as a real leaf would) if asked. */
struct pending_fut {
  atomic_int *drops;
  weft_waker w;
  int keep_waker;
};
static weft_poll pending_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct pending_fut *p = s;
  if (p->keep_waker && !p->w.vtable)
    weft_waker_clone(weft_context_waker(cx), &p->w);
  return WEFT_PENDING;
}
static void pending_drop(void *s) {
  struct pending_fut *p = s;
  weft_waker_drop(&p->w);
  if (p->drops)
    atomic_fetch_add(p->drops, 1);
}
static const weft_future_vtable pending_vt = {sizeof(weft_future_vtable),
                                              pending_poll, pending_drop};

/* block_on helper: await a join handle. */
struct join_fut {
  weft_join_handle *h;
  weft_join_result res;
};
static weft_poll join_fut_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct join_fut *j = s;
  return weft_join_poll(j->h, cx, &j->res);
}
static const weft_future_vtable join_fut_vt = {sizeof(weft_future_vtable),
                                               join_fut_poll, NULL};

#endif
