/* core/exec/parker.c: a refcounted thread parker usable as a waker.
 *
 * weft_join_wait and weft_block_on block a plain thread until a waker is
 * woken. The waker may be kept by the awaited task long after the wait
 * gave up (timeout), so the parker is heap-allocated and refcounted: every
 * waker clone holds a reference, and so does the waiter.
 */
#include <stdlib.h>
#include <time.h>

#include "exec.h"

static const weft_waker_vtable parker_vtable;

weft__parker *weft__parker_new(weft_runtime *rt) {
  weft__parker *p = malloc(sizeof *p);
  if (!p)
    return NULL;
  atomic_init(&p->refs, 1);
  atomic_init(&p->notified, 0);
  p->rt = rt;
  if (rt)
    weft__runtime_ref(rt);
  pthread_mutex_init(&p->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  return p;
}

void weft__parker_unref(weft__parker *p) {
  /* acq_rel: the last owner sees every other owner's use. */
  if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
    return;
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  if (p->rt)
    weft__runtime_unref(p->rt);
  free(p);
}

static void parker_unpark(weft__parker *p) {
  /* Release: the waker's writes happen before the woken thread's poll. */
  atomic_store_explicit(&p->notified, 1, memory_order_release);
  if (p->rt) {
    weft__sched_ct_wake(p->rt);
    return;
  }
  pthread_mutex_lock(&p->mu);
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

weft_waker weft__parker_waker(weft__parker *p) {
  atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  weft_waker w;
  w.data = p;
  w.vtable = &parker_vtable;
  return w;
}

int weft__parker_wait(weft__parker *p, uint64_t deadline_ns) {
  int got = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    /* Acquire: pairs with the release in parker_unpark. */
    if (atomic_exchange_explicit(&p->notified, 0, memory_order_acquire)) {
      got = 1;
      break;
    }
    if (deadline_ns == 0) {
      pthread_cond_wait(&p->cv, &p->mu);
    } else {
      uint64_t now = weft__now_ns();
      if (now >= deadline_ns)
        break;
      struct timespec ts;
      ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
      ts.tv_nsec = (long)(deadline_ns % 1000000000u);
      pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
  }
  pthread_mutex_unlock(&p->mu);
  return got;
}

static weft_waker parker_clone(const void *data) {
  return weft__parker_waker((weft__parker *)data);
}
static void parker_wake(const void *data) {
  weft__parker *p = (weft__parker *)data;
  parker_unpark(p);
  weft__parker_unref(p);
}
static void parker_wake_by_ref(const void *data) {
  parker_unpark((weft__parker *)data);
}
static void parker_drop(const void *data) {
  weft__parker_unref((weft__parker *)data);
}

static const weft_waker_vtable parker_vtable = {
    parker_clone, parker_wake, parker_wake_by_ref, parker_drop};
