/* core/toolkit/watch.c: a watched value with one sender, many receivers.
 *
 * Invariants (under `lock`):
 * - `version` counts sends (the initial value is version 0); a receiver's
 *   `seen` is the version it last saw, never above `version`.
 * - Waiting receivers (handle or boxed future nodes) are linked in
 *   `waiting`; a send or the sender's release unlinks them all and wakes
 *   them. A watch hands nothing over to a waiter (the value stays in the
 *   channel), so giving up a wait is just unlinking.
 * - The channel is freed with its last handle (`tx_alive` 0, `rx_count` 0).
 *   Boxed futures borrow a receiver, so none outlive it. */
#include "toolkit/tk.h"

typedef struct weft__watch {
  pthread_mutex_t lock;
  size_t elem_size;
  uint64_t version;
  size_t rx_count;
  int tx_alive;
  weft__wlist waiting;
  unsigned char value[];
} weft__watch;

struct weft_watch_tx {
  weft__watch *ch;
};

struct weft_watch_rx {
  weft__watch *ch;
  uint64_t seen;
  weft__waiter w;
};

int weft_watch_new(size_t elem_size, const void *init, weft_watch_tx **tx,
                   weft_watch_rx **rx) {
  if (!tx || !rx || !init || elem_size == 0 || elem_size > 65536)
    return WEFT_EINVAL;
  weft__watch *ch = calloc(1, sizeof *ch + elem_size);
  weft_watch_tx *t = calloc(1, sizeof *t);
  weft_watch_rx *r = calloc(1, sizeof *r);
  if (!ch || !t || !r || pthread_mutex_init(&ch->lock, NULL) != 0) {
    free(ch);
    free(t);
    free(r);
    return WEFT_ENOMEM;
  }
  ch->elem_size = elem_size;
  memcpy(ch->value, init, elem_size);
  ch->rx_count = 1;
  ch->tx_alive = 1;
  t->ch = ch;
  r->ch = ch;
  *tx = t;
  *rx = r;
  return 0;
}

static void wake_all(weft__watch *ch, weft__wakebatch *b) {
  weft__waiter *w;
  while ((w = ch->waiting.head) != NULL) {
    weft__wlist_remove(&ch->waiting, w);
    w->state = WEFT__W_ALL;
    weft__wakebatch_add(b, weft__waker_take(&w->waker));
  }
}

static void watch_free(weft__watch *ch) {
  pthread_mutex_destroy(&ch->lock);
  free(ch);
}

int weft_watch_send(weft_watch_tx *tx, const void *msg) {
  if (!tx || !msg)
    return WEFT_EINVAL;
  weft__watch *ch = tx->ch;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  pthread_mutex_lock(&ch->lock);
  memcpy(ch->value, msg, ch->elem_size);
  ch->version++;
  wake_all(ch, &b);
  int rc = ch->rx_count ? 0 : WEFT_ECLOSED;
  pthread_mutex_unlock(&ch->lock);
  weft__wakebatch_run(&b);
  return rc;
}

void weft_watch_tx_free(weft_watch_tx *tx) {
  if (!tx)
    return;
  weft__watch *ch = tx->ch;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  pthread_mutex_lock(&ch->lock);
  ch->tx_alive = 0;
  wake_all(ch, &b);
  int dead = ch->rx_count == 0;
  pthread_mutex_unlock(&ch->lock);
  weft__wakebatch_run(&b);
  free(tx);
  if (dead)
    watch_free(ch);
}

int weft_watch_rx_clone(weft_watch_rx *rx, weft_watch_rx **out) {
  if (!rx || !out)
    return WEFT_EINVAL;
  weft_watch_rx *r = calloc(1, sizeof *r);
  if (!r)
    return WEFT_ENOMEM;
  r->ch = rx->ch;
  r->seen = rx->seen;
  pthread_mutex_lock(&rx->ch->lock);
  rx->ch->rx_count++;
  pthread_mutex_unlock(&rx->ch->lock);
  *out = r;
  return 0;
}

/* 1 = done (`*rc` set), 0 = waiting with `w` linked. */
static int changed_step(weft_watch_rx *rx, weft__waiter *w, weft_context *cx,
                        int *rc) {
  weft__watch *ch = rx->ch;
  pthread_mutex_lock(&ch->lock);
  if (ch->version != rx->seen || !ch->tx_alive) {
    if (w->linked)
      weft__wlist_remove(&ch->waiting, w);
    weft_waker_drop(&w->waker);
    *rc = ch->version != rx->seen ? 0 : WEFT_ECLOSED;
    rx->seen = ch->version;
    pthread_mutex_unlock(&ch->lock);
    return 1;
  }
  weft__waker_store(&w->waker, cx);
  if (!w->linked)
    weft__wlist_push(&ch->waiting, w);
  pthread_mutex_unlock(&ch->lock);
  return 0;
}

static void waiter_leave(weft__watch *ch, weft__waiter *w) {
  pthread_mutex_lock(&ch->lock);
  if (w->linked)
    weft__wlist_remove(&ch->waiting, w);
  weft_waker ww = weft__waker_take(&w->waker);
  pthread_mutex_unlock(&ch->lock);
  weft_waker_drop(&ww);
}

weft_poll weft_watch_poll_changed(weft_watch_rx *rx, weft_context *cx,
                                  int *result) {
  int rc = WEFT_EINVAL;
  if (rx && cx) {
    if (!weft__tk_proceed(cx))
      return WEFT_PENDING;
    if (!changed_step(rx, &rx->w, cx, &rc))
      return WEFT_PENDING;
  }
  if (result)
    *result = rc;
  return WEFT_READY;
}

typedef struct changed_fut {
  weft_watch_rx *rx;
  weft__waiter w;
} changed_fut;

static weft_poll changed_fut_poll(void *state, weft_context *cx, void *out) {
  changed_fut *c = state;
  int rc;
  if (!weft__tk_proceed(cx))
    return WEFT_PENDING;
  if (!changed_step(c->rx, &c->w, cx, &rc))
    return WEFT_PENDING;
  memcpy(out, &rc, sizeof rc);
  return WEFT_READY;
}

static void changed_fut_drop(void *state) {
  changed_fut *c = state;
  waiter_leave(c->rx->ch, &c->w);
}

static const weft_future_vtable changed_fut_vt = {
    sizeof(weft_future_vtable), changed_fut_poll, changed_fut_drop};

int weft_watch_changed(weft_watch_rx *rx, weft_future **out) {
  if (!rx || !out)
    return WEFT_EINVAL;
  changed_fut c = {.rx = rx};
  return weft_future_new(&changed_fut_vt, &c, sizeof c, sizeof(int), out);
}

int weft_watch_get(weft_watch_rx *rx, void *out) {
  if (!rx || !out)
    return WEFT_EINVAL;
  pthread_mutex_lock(&rx->ch->lock);
  memcpy(out, rx->ch->value, rx->ch->elem_size);
  rx->seen = rx->ch->version;
  pthread_mutex_unlock(&rx->ch->lock);
  return 0;
}

void weft_watch_rx_free(weft_watch_rx *rx) {
  if (!rx)
    return;
  weft__watch *ch = rx->ch;
  pthread_mutex_lock(&ch->lock);
  if (rx->w.linked)
    weft__wlist_remove(&ch->waiting, &rx->w);
  weft_waker_drop(&rx->w.waker);
  int dead = --ch->rx_count == 0 && !ch->tx_alive;
  pthread_mutex_unlock(&ch->lock);
  free(rx);
  if (dead)
    watch_free(ch);
}
