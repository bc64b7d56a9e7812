/* core/toolkit/sema.c: a FIFO-fair counting semaphore.
 *
 * Invariants (under `lock`):
 * - `permits` are free permits; waiters wait in `waiting` in arrival order,
 *   each for `n` permits. Permits go only to the head: when the head wants
 *   more than is free, everyone waits (no barging, so a large request is
 *   never starved by small ones), and a new acquire takes permits directly
 *   only when nobody waits.
 * - Whoever frees permits or removes the head runs grant(), which moves
 *   permits to waiters from the head while they fit: such a waiter is
 *   unlinked, set GRANTED (owning its `n` permits) and woken.
 * - A future dropped while GRANTED gives its `n` permits back through
 *   release, so they go to the next waiter; one dropped while linked is
 *   unlinked, and grant() runs in case it was the head blocking others.
 * - After close, waiters are unlinked as CLOSED and finish with
 *   WEFT_ECLOSED; GRANTED ones keep their permits (they were handed over
 *   before the close). */
#include "toolkit/sema.h"

int weft__sema_init(weft__sema *s, size_t permits) {
  memset(s, 0, sizeof *s);
  s->permits = permits;
  return pthread_mutex_init(&s->lock, NULL) == 0 ? 0 : WEFT_ENOMEM;
}

void weft__sema_destroy(weft__sema *s) { pthread_mutex_destroy(&s->lock); }

static void grant(weft__sema *s, weft__wakebatch *b) {
  weft__waiter *w;
  while ((w = s->waiting.head) != NULL && w->n <= s->permits) {
    s->permits -= w->n;
    weft__wlist_remove(&s->waiting, w);
    w->state = WEFT__W_GRANTED;
    weft__wakebatch_add(b, weft__waker_take(&w->waker));
  }
}

int weft__sema_try_acquire(weft__sema *s, size_t n) {
  int rc;
  pthread_mutex_lock(&s->lock);
  if (s->closed) {
    rc = WEFT_ECLOSED;
  } else if (!s->waiting.head && s->permits >= n) {
    s->permits -= n;
    rc = 0;
  } else {
    rc = WEFT_EAGAIN;
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

int weft__sema_release(weft__sema *s, size_t n) {
  return weft__sema_release_bounded(s, n, 0);
}

int weft__sema_release_bounded(weft__sema *s, size_t n, size_t total) {
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  pthread_mutex_lock(&s->lock);
  /* Permits still held by waiters that were granted but not yet polled
   * count as held, so `permits` alone is what is free. */
  if (total && (n > total || s->permits > total - n)) {
    pthread_mutex_unlock(&s->lock);
    return WEFT_EINVAL;
  }
  if (n > WEFT_SEMAPHORE_MAX_PERMITS - s->permits) {
    pthread_mutex_unlock(&s->lock);
    return WEFT_EOVERFLOW;
  }
  s->permits += n;
  grant(s, &b);
  pthread_mutex_unlock(&s->lock);
  weft__wakebatch_run(&b);
  return 0;
}

void weft__sema_close(weft__sema *s) {
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  pthread_mutex_lock(&s->lock);
  s->closed = 1;
  weft__waiter *w;
  while ((w = s->waiting.head) != NULL) {
    weft__wlist_remove(&s->waiting, w);
    w->state = WEFT__W_CLOSED;
    weft__wakebatch_add(&b, weft__waker_take(&w->waker));
  }
  pthread_mutex_unlock(&s->lock);
  weft__wakebatch_run(&b);
}

typedef struct acq_fut {
  weft__sema *s;
  weft__waiter w;
  int done; /* 1 once READY: the permits belong to the caller */
} acq_fut;

static weft_poll acq_poll(void *state, weft_context *cx, void *out) {
  acq_fut *a = state;
  weft__sema *s = a->s;
  int rc = 0;
  if (!weft__tk_proceed(cx))
    return WEFT_PENDING;
  pthread_mutex_lock(&s->lock);
  if (a->w.state == WEFT__W_GRANTED) {
    rc = 0;
  } else if (a->w.state == WEFT__W_CLOSED || s->closed) {
    if (a->w.linked)
      weft__wlist_remove(&s->waiting, &a->w);
    rc = WEFT_ECLOSED;
  } else if (a->w.linked) {
    weft__waker_store(&a->w.waker, cx);
    pthread_mutex_unlock(&s->lock);
    return WEFT_PENDING;
  } else if (!s->waiting.head && s->permits >= a->w.n) {
    s->permits -= a->w.n;
    rc = 0;
  } else {
    weft__waker_store(&a->w.waker, cx);
    weft__wlist_push(&s->waiting, &a->w);
    pthread_mutex_unlock(&s->lock);
    return WEFT_PENDING;
  }
  a->w.state = WEFT__W_IDLE;
  a->done = 1;
  weft_waker ww = weft__waker_take(&a->w.waker);
  pthread_mutex_unlock(&s->lock);
  weft_waker_drop(&ww);
  memcpy(out, &rc, sizeof rc);
  return WEFT_READY;
}

static void acq_drop(void *state) {
  acq_fut *a = state;
  weft__sema *s = a->s;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  if (a->done)
    return;
  pthread_mutex_lock(&s->lock);
  if (a->w.linked) {
    int was_head = s->waiting.head == &a->w;
    weft__wlist_remove(&s->waiting, &a->w);
    if (was_head)
      grant(s, &b);
  } else if (a->w.state == WEFT__W_GRANTED) {
    /* Handed permits it never used: they go to the next waiter. */
    s->permits += a->w.n;
    grant(s, &b);
  }
  weft_waker ww = weft__waker_take(&a->w.waker);
  pthread_mutex_unlock(&s->lock);
  weft_waker_drop(&ww);
  weft__wakebatch_run(&b);
}

static const weft_future_vtable acq_vt = {sizeof(weft_future_vtable),
                                          acq_poll, acq_drop};

int weft__sema_acquire(weft__sema *s, size_t n, weft_future **out) {
  acq_fut a = {.s = s};
  a.w.n = n;
  return weft_future_new(&acq_vt, &a, sizeof a, sizeof(int), out);
}
