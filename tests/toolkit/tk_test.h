/* tests/toolkit/tk_test.h: helpers for the toolkit tests.
 *
 * A hand-made poll context with a counting waker lets a test poll futures
 * one step at a time, see exactly which waits were woken, and check that
 * every waker clone was released (refs back to 0). The stress tests use a
 * real multi-thread runtime instead. */
#ifndef WEFT_TESTS_TOOLKIT_TK_TEST_H
#define WEFT_TESTS_TOOLKIT_TK_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

typedef struct tw {
  _Atomic int wakes;
  _Atomic int refs; /* clones alive */
  struct weft_context cx;
} tw;

static weft_waker tw_clone(const void *d);
static void tw_wake(const void *d) {
  tw *t = (tw *)d;
  atomic_fetch_add(&t->wakes, 1);
  atomic_fetch_sub(&t->refs, 1);
}
static void tw_wake_by_ref(const void *d) {
  atomic_fetch_add(&((tw *)d)->wakes, 1);
}
static void tw_drop(const void *d) { atomic_fetch_sub(&((tw *)d)->refs, 1); }
static const weft_waker_vtable tw_vt = {tw_clone, tw_wake, tw_wake_by_ref,
                                        tw_drop};
static weft_waker tw_clone(const void *d) {
  atomic_fetch_add(&((tw *)d)->refs, 1);
  weft_waker w = {d, &tw_vt};
  return w;
}

/* Initialise a counting context. Each waiting party gets its own, so a test
 * can tell which one was woken. */
static inline weft_context *tw_init(tw *t) {
  memset(t, 0, sizeof *t);
  t->cx.waker.data = t;
  t->cx.waker.vtable = &tw_vt;
  return &t->cx;
}

/* Wakes since the last call. */
static inline int tw_take(tw *t) { return atomic_exchange(&t->wakes, 0); }

/* The scale of the stress loops (WEFT_TEST_SCALE, default 1.0). */
static inline double tk_scale(void) {
  const char *s = getenv("WEFT_TEST_SCALE");
  double f = s ? atof(s) : 1.0;
  return f > 0 ? f : 1.0;
}
static inline long tk_scaled(long n) {
  long v = (long)(n * tk_scale());
  return v > 0 ? v : 1;
}

/* A runtime with `workers` worker threads. */
static inline weft_runtime *tk_runtime(unsigned workers) {
  weft_builder *b = NULL;
  weft_runtime *rt = NULL;
  assert_int_equal(weft_builder_new(&b), 0);
  assert_int_equal(weft_builder_worker_threads(b, workers), 0);
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_builder_free(b);
  return rt;
}

/* Drive a boxed future to completion from a plain thread. */
typedef struct tk_boxed {
  weft_future *f;
} tk_boxed;
static inline weft_poll tk_boxed_poll(void *s, weft_context *cx, void *o) {
  (void)o;
  return weft_future_poll(((tk_boxed *)s)->f, cx);
}
static const weft_future_vtable tk_boxed_vt = {sizeof(weft_future_vtable),
                                               tk_boxed_poll, NULL};
static inline int tk_block_on_future(weft_runtime *rt, weft_future *f) {
  tk_boxed b = {f};
  return weft_block_on(rt, &tk_boxed_vt, &b, NULL);
}

#endif /* WEFT_TESTS_TOOLKIT_TK_TEST_H */
