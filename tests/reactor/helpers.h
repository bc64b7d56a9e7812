/* tests/reactor/helpers.h: a counting waker and a hand-made poll context,
 * so that the reactor's pieces can be tested without the executor. */
#ifndef WEFT_TEST_REACTOR_HELPERS_H
#define WEFT_TEST_REACTOR_HELPERS_H

#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"

typedef struct test_waker {
  atomic_int wakes;
  atomic_int clones; /* live clones: clone +1, wake/drop -1 */
} test_waker;

static weft_waker tw_clone(const void *d);
static void tw_wake(const void *d) {
  test_waker *t = (test_waker *)(uintptr_t)d;
  atomic_fetch_add(&t->wakes, 1);
  atomic_fetch_sub(&t->clones, 1);
}
static void tw_wake_by_ref(const void *d) {
  test_waker *t = (test_waker *)(uintptr_t)d;
  atomic_fetch_add(&t->wakes, 1);
}
static void tw_drop(const void *d) {
  test_waker *t = (test_waker *)(uintptr_t)d;
  atomic_fetch_sub(&t->clones, 1);
}
static const weft_waker_vtable tw_vt = {tw_clone, tw_wake, tw_wake_by_ref,
                                        tw_drop};
static weft_waker tw_clone(const void *d) {
  test_waker *t = (test_waker *)(uintptr_t)d;
  atomic_fetch_add(&t->clones, 1);
  return (weft_waker){d, &tw_vt};
}

/* A context whose waker counts wakes; rt is NULL, so futures use
 * weft__driver_test_default. */
static inline weft_context tw_context(test_waker *t) {
  weft_context cx;
  cx.waker = (weft_waker){t, &tw_vt};
  cx.rt = NULL;
  cx.task = NULL;
  return cx;
}

#endif /* WEFT_TEST_REACTOR_HELPERS_H */
