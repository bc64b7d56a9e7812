/* core/reactor/driver_impl.h: the driver's structure, shared by driver.c,
 * io_reg.c and signal.c only. */
#ifndef WEFT_REACTOR_DRIVER_IMPL_H
#define WEFT_REACTOR_DRIVER_IMPL_H

#include "reactor.h"

struct weft__driver {
  weft_runtime *rt; /* NULL for a driver made by a unit test */
  const weft_backend *be;
  void *loop;
  void *module; /* dlopen handle, NULL for a built-in */
  weft_backend_host host;

  /* One mutex for the wheel, the poll state and the deferred frees:
   * timers and registrations come from every worker while one of them
   * runs a turn. A plain mutex first; it is held for a few list
   * operations only, never across a backend poll or a wake. */
  pthread_mutex_t mu;
  weft__wheel wheel;        /* under mu */
  int polling;              /* under mu: a turn is inside backend poll */
  uint64_t poll_until_tick; /* under mu: the tick that poll waits for */
  weft__io_reg *free_later; /* under mu: freed once the poll returns */

  /* The wake protocol (a Dekker pair, hence seq_cst on both sides): the
   * turn stores in_turn = 1 and then swaps unpark_pending to 0; unpark
   * stores unpark_pending = 1 and then loads in_turn. Either the turn sees
   * the pending unpark (and does not block), or unpark sees the turn and
   * wakes the backend. Unparks outside any turn cost no system call. */
  _Atomic int in_turn;
  /* Set once the backend's wake kept failing through every retry
   * (driver_wake in driver.c): from then on no turn blocks longer than
   * WEFT__WAKE_FALLBACK_MS, so a wake the backend drops is late, never
   * lost. Relaxed: it only bounds later timeouts. */
  _Atomic int wake_unreliable;
  _Atomic int unpark_pending;

  /* Created on first use under mu, published with release; the loop
   * thread reads it with acquire in the host callbacks, without the lock. */
  _Atomic(weft__signal_hub *) signals;
  int attached;              /* attach mode: no turn, wakes always go out */
  int virtual_clock;         /* the backend keeps its own clock (sim) */
  int following_real_time;   /* turn thread: FOLLOW_REAL_TIME last sent */
};

/* Wake the waker in *w (consuming it) or do nothing for "no waker". The
 * reactor calls wakers through their vtable directly. */
static inline void weft__wake_take(weft_waker *w) {
  weft_waker taken = *w;
  w->vtable = NULL;
  w->data = NULL;
  if (taken.vtable)
    taken.vtable->wake(taken.data);
}

static inline void weft__waker_drop_take(weft_waker *w) {
  weft_waker taken = *w;
  w->vtable = NULL;
  w->data = NULL;
  if (taken.vtable)
    taken.vtable->drop(taken.data);
}

/* Store a clone of `src` in `*slot` unless it already wakes the same task;
 * the waker it replaces goes to `*old`, to be dropped outside any lock
 * (dropping the last reference to a task may free it, and freeing it may
 * drop futures that take this very lock). */
static inline void weft__waker_replace(weft_waker *slot, const weft_waker *src,
                                       weft_waker *old) {
  old->vtable = NULL;
  old->data = NULL;
  if (slot->vtable == src->vtable && slot->data == src->data)
    return;
  *old = *slot;
  if (src->vtable)
    *slot = src->vtable->clone(src->data);
  else
    *slot = (weft_waker){NULL, NULL};
}

/* io_reg.c: the driver's side of the registry. */
void weft__io_deliver(weft__io_reg *r, uint32_t events);
void weft__io_free_now(weft__io_reg *r);

#endif /* WEFT_REACTOR_DRIVER_IMPL_H */
