/* core/reactor/io_reg.c: the I/O readiness registry.
 *
 * One weft__io_reg per registered fd. Its `state` word holds the readiness
 * bits, SHUTDOWN and a tick (see reactor.h for the layout).
 *
 * Invariants and orderings:
 * - Only the loop thread sets readiness bits (weft__io_deliver), with one
 *   CAS that also bumps the tick. Tasks clear bits (weft__io_clear) with a
 *   CAS that succeeds only while the tick is the one they saw when they got
 *   EAGAIN: a delivery in between bumps the tick, the clear fails, and the
 *   task retries instead of sleeping through the edge it missed (the "lost
 *   wake-up between EAGAIN and the clear" of BACKENDS.md).
 * - The wakers are under the registration's mutex. The deliverer sets the
 *   bits first, then takes the wakers under the mutex; a task stores its
 *   waker under the mutex first, then re-reads the bits. Whichever of the
 *   two critical sections comes second sees the other's write, so either
 *   the task sees the bit or the deliverer sees the waker: no lost wake.
 *   Bits are stored with acq_rel and read with acquire for the same reason
 *   outside the mutex (the fast path that finds the bit set).
 * - SHUTDOWN is set once (weft__io_close); after it no delivery changes the
 *   word and every poll reports WEFT_ECLOSED. A second weft__io_close
 *   returns only after the first has set close_done (release; read with
 *   acquire), the closer's last access, so a thread that frees after its
 *   own close never frees under a closer still running.
 * - Memory: a registration is freed only by weft__io_free, and if a
 *   backend poll is in progress (or the loop is foreign, attach mode),
 *   only after it, because the backend may still hold the token in its
 *   batch of events (contract clause C4). */
#include <sched.h>
#include <stdlib.h>

#include "driver_impl.h"

#define READY_MASK                                                           \
  (WEFT_IO_READABLE | WEFT_IO_WRITABLE | WEFT_IO_ERROR | WEFT_IO_HANGUP)
#define TICK_ONE ((uint64_t)1 << WEFT__IO_TICK_SHIFT)

int weft__io_register(weft__driver *d, int fd, weft__io_reg **out) {
  if (!d || fd < 0 || !out)
    return WEFT_EINVAL;
  weft__io_reg *r = calloc(1, sizeof *r);
  if (!r)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&r->mu, NULL) != 0) {
    free(r);
    return WEFT_ENOMEM;
  }
  r->d = d;
  r->fd = fd;
  atomic_init(&r->state, 0);
  atomic_init(&r->close_done, 0);
  int rc = weft__backend_register(d->be, d->loop, fd,
                                  WEFT_IO_READABLE | WEFT_IO_WRITABLE, r);
  if (rc < 0) {
    pthread_mutex_destroy(&r->mu);
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void weft__io_deliver(weft__io_reg *r, uint32_t events) {
  uint64_t add = events & READY_MASK;
  /* An error or a hang-up ends both directions: the reader and the writer
   * each get to see it from their next system call. */
  if (add & (WEFT_IO_ERROR | WEFT_IO_HANGUP))
    add |= WEFT_IO_READABLE | WEFT_IO_WRITABLE;
  uint64_t s = atomic_load_explicit(&r->state, memory_order_relaxed);
  for (;;) {
    if (s & WEFT__IO_SHUTDOWN)
      return;
    uint64_t n = (s | add) + TICK_ONE;
    /* acq_rel on success: release publishes the bits to a task's acquire
     * load; the acquire side orders this against a concurrent clear. */
    if (atomic_compare_exchange_weak_explicit(&r->state, &s, n,
                                              memory_order_acq_rel,
                                              memory_order_relaxed))
      break;
  }
  weft_waker rd = {NULL, NULL}, wr = {NULL, NULL};
  pthread_mutex_lock(&r->mu);
  if (add & WEFT_IO_READABLE) {
    rd = r->reader;
    r->reader = (weft_waker){NULL, NULL};
  }
  if (add & WEFT_IO_WRITABLE) {
    wr = r->writer;
    r->writer = (weft_waker){NULL, NULL};
  }
  pthread_mutex_unlock(&r->mu);
  weft__wake_take(&rd);
  weft__wake_take(&wr);
}

static int check(uint64_t s, uint32_t dir, uint32_t *ready, uint64_t *tick) {
  if (s & WEFT__IO_SHUTDOWN)
    return WEFT_ECLOSED;
  if (s & dir) {
    if (ready)
      *ready = (uint32_t)(s & READY_MASK);
    if (tick)
      *tick = s >> WEFT__IO_TICK_SHIFT;
    return 1;
  }
  return 0;
}

int weft__io_poll(weft__io_reg *r, weft_context *cx, uint32_t dir,
                  uint32_t *ready, uint64_t *tick) {
  /* Acquire: pairs with the deliverer's release (see the header). */
  int rc = check(atomic_load_explicit(&r->state, memory_order_acquire), dir,
                 ready, tick);
  if (rc != 0 || !cx)
    return rc;
  weft_waker old_r = {NULL, NULL}, old_w = {NULL, NULL};
  pthread_mutex_lock(&r->mu);
  if (dir & WEFT_IO_READABLE)
    weft__waker_replace(&r->reader, &cx->waker, &old_r);
  if (dir & WEFT_IO_WRITABLE)
    weft__waker_replace(&r->writer, &cx->waker, &old_w);
  pthread_mutex_unlock(&r->mu);
  weft__waker_drop_take(&old_r);
  weft__waker_drop_take(&old_w);
  /* The re-check after storing the waker closes the race with a delivery
   * that came between the first load and the store. */
  return check(atomic_load_explicit(&r->state, memory_order_acquire), dir,
               ready, tick);
}

void weft__io_clear(weft__io_reg *r, uint32_t bits, uint64_t tick) {
  bits &= READY_MASK;
  uint64_t s = atomic_load_explicit(&r->state, memory_order_relaxed);
  for (;;) {
    /* A hang-up is final: the end of stream stays readable however much
     * was read, so a reader that stops after a short read still finds it
     * (an edge-triggered backend reports the data and the peer's FIN in
     * one event, and nothing after it). */
    if (s & WEFT_IO_HANGUP)
      bits &= ~(uint64_t)WEFT_IO_READABLE;
    if ((s >> WEFT__IO_TICK_SHIFT) != tick || !(s & bits) ||
        (s & WEFT__IO_SHUTDOWN))
      return; /* a newer delivery, nothing to clear, or closed */
    /* Relaxed suffices: clearing publishes nothing; the tick comparison
     * inside the CAS is what makes the clear safe. */
    if (atomic_compare_exchange_weak_explicit(&r->state, &s, s & ~(uint64_t)bits,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
      break;
  }
  /* A backend that goes quiet after reporting (level-triggered watchers
   * stopped lazily) must report the next readiness from now on. */
  weft__backend_rearm(r->d->be, r->d->loop, r->fd, bits, r);
}

int weft__io_close(weft__io_reg *r, int close_fd) {
  uint64_t old = atomic_fetch_or_explicit(&r->state, WEFT__IO_SHUTDOWN,
                                          memory_order_acq_rel);
  if (old & WEFT__IO_SHUTDOWN) {
    /* Another thread is closing: wait for it to finish with `r`, because
     * our caller may free it next (a listener closed on one thread while
     * the task that owns it sees ECLOSED and frees it on another). The
     * closer does nothing that could wait for us: a backend call that only
     * queues, a mutex we do not hold, and its wakes run after the flag. */
    while (!atomic_load_explicit(&r->close_done, memory_order_acquire))
      sched_yield();
    return 0;
  }
  int rc = close_fd ? weft__backend_close(r->d->be, r->d->loop, r->fd, r)
                    : weft__backend_deregister(r->d->be, r->d->loop, r->fd, r);
  weft_waker rd, wr;
  pthread_mutex_lock(&r->mu);
  rd = r->reader;
  wr = r->writer;
  r->reader = r->writer = (weft_waker){NULL, NULL};
  pthread_mutex_unlock(&r->mu);
  /* Our last touch of `r`: from here another thread may free it. */
  atomic_store_explicit(&r->close_done, 1, memory_order_release);
  /* Waiters wake and see SHUTDOWN: an error, never a hang. */
  weft__wake_take(&rd);
  weft__wake_take(&wr);
  return rc;
}

void weft__io_free_now(weft__io_reg *r) {
  weft__waker_drop_take(&r->reader);
  weft__waker_drop_take(&r->writer);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

void weft__io_free(weft__io_reg *r) {
  if (!r)
    return;
  weft__io_close(r, 0);
  weft__driver *d = r->d;
  pthread_mutex_lock(&d->mu);
  int defer = d->polling || d->attached;
  if (defer) {
    r->free_next = d->free_later;
    d->free_later = r;
  }
  pthread_mutex_unlock(&d->mu);
  if (!defer)
    weft__io_free_now(r);
}
