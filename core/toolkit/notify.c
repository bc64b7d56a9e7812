/* core/toolkit/notify.c: Notify, a wake-up with at most one stored permit.
 *
 * Invariants (under `lock`):
 * - `permit` is 1 only while nobody waits: notify_one with a waiter hands
 *   the notification to the head (unlinked, GRANTED, woken) instead.
 * - `gen` counts notify_waiters calls. A future records `gen` when it is
 *   made; if `gen` moved by its poll, it was made before a notify_waiters
 *   and finishes. notify_waiters also unlinks every waiter as ALL.
 * - A future dropped while GRANTED by notify_one has not consumed the
 *   notification: it goes to the next waiter, or becomes the permit. ALL
 *   hands nothing over, so dropping such a future passes nothing on. */
#include "toolkit/tk.h"

struct weft_notify {
  pthread_mutex_t lock;
  int permit;
  uint64_t gen;
  weft__wlist waiting;
};

int weft_notify_new(weft_notify **out) {
  if (!out)
    return WEFT_EINVAL;
  weft_notify *n = calloc(1, sizeof *n);
  if (!n)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&n->lock, NULL) != 0) {
    free(n);
    return WEFT_ENOMEM;
  }
  *out = n;
  return 0;
}

void weft_notify_free(weft_notify *n) {
  if (!n)
    return;
  pthread_mutex_destroy(&n->lock);
  free(n);
}

/* Give one notification to the head waiter, or store it. Under the lock. */
static void notify_one_locked(weft_notify *n, weft__wakebatch *b) {
  weft__waiter *w = n->waiting.head;
  if (!w) {
    n->permit = 1;
    return;
  }
  weft__wlist_remove(&n->waiting, w);
  w->state = WEFT__W_GRANTED;
  weft__wakebatch_add(b, weft__waker_take(&w->waker));
}

int weft_notify_one(weft_notify *n) {
  if (!n)
    return WEFT_EINVAL;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  pthread_mutex_lock(&n->lock);
  notify_one_locked(n, &b);
  pthread_mutex_unlock(&n->lock);
  weft__wakebatch_run(&b);
  return 0;
}

int weft_notify_waiters(weft_notify *n) {
  if (!n)
    return WEFT_EINVAL;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  pthread_mutex_lock(&n->lock);
  n->gen++;
  weft__waiter *w;
  while ((w = n->waiting.head) != NULL) {
    weft__wlist_remove(&n->waiting, w);
    w->state = WEFT__W_ALL;
    weft__wakebatch_add(&b, weft__waker_take(&w->waker));
  }
  pthread_mutex_unlock(&n->lock);
  weft__wakebatch_run(&b);
  return 0;
}

typedef struct notified_fut {
  weft_notify *n;
  weft__waiter w; /* w.tag: `gen` when the future was made */
  int done;
} notified_fut;

static weft_poll notified_poll(void *state, weft_context *cx, void *out) {
  notified_fut *f = state;
  weft_notify *n = f->n;
  if (!weft__tk_proceed(cx))
    return WEFT_PENDING;
  pthread_mutex_lock(&n->lock);
  if (f->w.state == WEFT__W_IDLE && !f->w.linked) {
    if (n->gen != f->w.tag) {
      f->w.state = WEFT__W_ALL;
    } else if (n->permit) {
      n->permit = 0;
      f->w.state = WEFT__W_GRANTED;
    } else {
      weft__waker_store(&f->w.waker, cx);
      weft__wlist_push(&n->waiting, &f->w);
      pthread_mutex_unlock(&n->lock);
      return WEFT_PENDING;
    }
  } else if (f->w.linked) {
    weft__waker_store(&f->w.waker, cx);
    pthread_mutex_unlock(&n->lock);
    return WEFT_PENDING;
  }
  f->done = 1;
  weft_waker ww = weft__waker_take(&f->w.waker);
  pthread_mutex_unlock(&n->lock);
  weft_waker_drop(&ww);
  int rc = 0;
  memcpy(out, &rc, sizeof rc);
  return WEFT_READY;
}

static void notified_drop(void *state) {
  notified_fut *f = state;
  weft_notify *n = f->n;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  if (f->done)
    return;
  pthread_mutex_lock(&n->lock);
  if (f->w.linked)
    weft__wlist_remove(&n->waiting, &f->w);
  else if (f->w.state == WEFT__W_GRANTED)
    notify_one_locked(n, &b); /* pass the unconsumed notification on */
  weft_waker ww = weft__waker_take(&f->w.waker);
  pthread_mutex_unlock(&n->lock);
  weft_waker_drop(&ww);
  weft__wakebatch_run(&b);
}

static const weft_future_vtable notified_vt = {
    sizeof(weft_future_vtable), notified_poll, notified_drop};

int weft_notify_notified(weft_notify *n, weft_future **out) {
  if (!n || !out)
    return WEFT_EINVAL;
  notified_fut f = {.n = n};
  pthread_mutex_lock(&n->lock);
  f.w.tag = n->gen;
  pthread_mutex_unlock(&n->lock);
  return weft_future_new(&notified_vt, &f, sizeof f, sizeof(int), out);
}
