/* core/toolkit/tk.h: what every toolkit file shares: waiter lists, waker
 * slots, the cooperative budget hook and boxing of futures with a payload.
 *
 * Invariants, for every primitive built on these helpers:
 * - A waiter node lives inside the object that waits (a future's state, or a
 *   handle for the poll-style calls) and is linked into at most one list,
 *   always under the mutex of the primitive that owns the list.
 * - A node is unlinked by exactly one party, under that mutex: the party
 *   that hands it something (a permit, a message slot, a notification; it
 *   then sets `state` and takes the waker), or the owner when it gives up.
 *   Once unlinked and the mutex released, the node may be freed by its owner
 *   at any moment, so nobody keeps a pointer to it: wakers are moved out of
 *   the node under the mutex and woken after it is released.
 * - An owner that gives up a node in state WEFT__W_GRANTED hands what it was
 *   given on to the next waiter (or back to the primitive), so dropping a
 *   future never loses a permit, a slot or a notification. */
#ifndef WEFT_CORE_TOOLKIT_TK_H
#define WEFT_CORE_TOOLKIT_TK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum {
  WEFT__W_IDLE = 0,    /* not waiting, holds nothing */
  WEFT__W_GRANTED = 1, /* unlinked by a giver; holds what it was given */
  WEFT__W_ALL = 2,     /* woken by a broadcast that hands nothing over */
  WEFT__W_CLOSED = 3   /* unlinked because the primitive closed */
};

typedef struct weft__waiter {
  struct weft__waiter *prev, *next;
  weft_waker waker;
  int linked; /* 1 while in a list */
  int state;  /* WEFT__W_* */
  size_t n;   /* permits wanted (semaphores); unused elsewhere */
  uint64_t tag; /* free for the primitive (e.g. a generation) */
} weft__waiter;

typedef struct weft__wlist {
  weft__waiter *head, *tail;
} weft__wlist;

static inline void weft__wlist_push(weft__wlist *l, weft__waiter *w) {
  w->next = NULL;
  w->prev = l->tail;
  if (l->tail)
    l->tail->next = w;
  else
    l->head = w;
  l->tail = w;
  w->linked = 1;
}

static inline void weft__wlist_remove(weft__wlist *l, weft__waiter *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    l->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    l->tail = w->prev;
  w->prev = w->next = NULL;
  w->linked = 0;
}

/* Store the task's waker in `slot`, reusing the one already there when it
 * wakes the same task: that is the common case when a task is polled again,
 * and it saves a clone/drop pair (two atomic operations) per poll. */
static inline void weft__waker_store(weft_waker *slot, weft_context *cx) {
  const weft_waker *w = weft_context_waker(cx);
  if (slot->vtable && weft_waker_will_wake(slot, w))
    return;
  weft_waker_drop(slot);
  if (weft_waker_clone(w, slot) != 0)
    slot->vtable = NULL;
}

/* Move the waker out of `slot` (leaving "no waker"), to wake it later. */
static inline weft_waker weft__waker_take(weft_waker *slot) {
  weft_waker w = *slot;
  slot->data = NULL;
  slot->vtable = NULL;
  return w;
}

/* Wakers collected under a mutex and woken after it is released. When the
 * batch is full the next one is woken on the spot, under the mutex: that is
 * correct (waking only schedules a task) and keeps the batch on the stack. */
#define WEFT__WAKEBATCH 32
typedef struct weft__wakebatch {
  unsigned n;
  weft_waker w[WEFT__WAKEBATCH];
} weft__wakebatch;

/* Only the count is set: zeroing the whole array (half a kilobyte) on every
 * channel operation showed as the top cost of a message hand-off. */
static inline void weft__wakebatch_init(weft__wakebatch *b) { b->n = 0; }

static inline void weft__wakebatch_add(weft__wakebatch *b, weft_waker w) {
  if (!w.vtable)
    return;
  if (b->n < WEFT__WAKEBATCH)
    b->w[b->n++] = w;
  else
    weft_waker_wake(&w);
}

static inline void weft__wakebatch_run(weft__wakebatch *b) {
  for (unsigned i = 0; i < b->n; i++)
    weft_waker_wake(&b->w[i]);
  b->n = 0;
}

/* The cooperative budget: leaf futures ask before doing work. When the task
 * has used its budget, the hook arranges a wake and we return PENDING. */
static inline int weft__tk_proceed(weft_context *cx) {
  return weft__coop_proceed(cx);
}

/* Box a future whose state is `hdr` followed by `payload` (copied), at
 * offset `payload_off` (>= hdr_size, aligned by the caller). The state is
 * assembled on the stack when small, so the common case allocates once. */
int weft__tk_box(const weft_future_vtable *vt, const void *hdr,
                 size_t hdr_size, size_t payload_off, const void *payload,
                 size_t payload_size, size_t output_size, weft_future **out);

/* A lock for critical sections of a few dozen instructions that never
 * block (the channels' hand-offs). Taking it free is one exchange and
 * releasing it is a plain release store, where a mutex pays a call, a
 * locked instruction and a check for sleepers on each side; a message
 * hand-off takes three such sections. Contended, it spins briefly and then
 * yields the CPU, so a preempted holder is not spun against for long. */
typedef struct weft__tk_lock {
  atomic_int v;
} weft__tk_lock;

static inline void weft__tk_lock_init(weft__tk_lock *l) {
  atomic_init(&l->v, 0);
}

void weft__tk_lock_wait(weft__tk_lock *l);

static inline void weft__tk_lock_acquire(weft__tk_lock *l) {
  /* Acquire: what the previous holder wrote is visible to us. */
  if (atomic_exchange_explicit(&l->v, 1, memory_order_acquire) != 0)
    weft__tk_lock_wait(l);
}

static inline void weft__tk_lock_release(weft__tk_lock *l) {
  /* Release: publish our writes to the next holder. */
  atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* Round up to the alignment of any object (16 on the targets weft supports),
 * so a payload placed after a header can hold any type. */
#define WEFT__ALIGN_UP(x) (((x) + 15u) & ~(size_t)15u)

#endif /* WEFT_CORE_TOOLKIT_TK_H */
