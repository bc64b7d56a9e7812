/* core/toolkit/mpsc.c: multi-producer, single-consumer channels, bounded
 * and unbounded.
 *
 * One lock (weft__tk_lock, tk.h) guards everything in the channel; nothing
 * blocks while it is held. Invariants (under `lock`):
 * - `len` messages sit in the ring, oldest at `head`; `ring_cap` slots are
 *   allocated. Bounded: ring_cap == cap, and len + reserved <= cap.
 * - `reserved` counts slots promised to senders that were waiting: when the
 *   receiver frees a slot and senders wait, the slot goes to the first of
 *   them (state GRANTED, unlinked, woken); it then copies its message in on
 *   its next poll. A sender that gives up while GRANTED passes its slot to
 *   the next waiting sender, so giving up never strands a slot. Only while
 *   nobody waits may a new send take a free slot directly (FIFO fairness).
 * - `closed` is set by close or by the receiver's release and never
 *   cleared; from then on sends fail and GRANTED slots are void (the
 *   sender finishes with WEFT_ECLOSED, keeping its message).
 * - `rx_waker` is the receiver's waker while it waits; any change that lets
 *   it progress (a message, the last sender leaving) takes and wakes it.
 * - The channel is freed by whoever drops the last handle: `senders` == 0
 *   and `rx_alive` == 0. Futures borrow handles, so none outlive it.
 *
 * Layout: one allocation holds the channel, the receiver's handle, the
 * first sender's handle and (bounded channels) the ring, and the fields
 * every send and receive touches share the mutex's cache line or the next
 * one. A message hand-off is bound by cache misses more than by
 * instructions: this keeps it to about three lines of the channel. */
#include "toolkit/tk.h"

#define WEFT__ELEM_MAX 65536u
#define WEFT__CAP_MAX ((size_t)1 << 30)

struct weft_mpsc_tx {
  struct weft__mpsc *ch;
  weft__waiter w; /* the place of this handle's poll-style send */
};

struct weft_mpsc_rx {
  struct weft__mpsc *ch;
};

typedef struct weft__mpsc {
  /* Touched by every send and receive. */
  weft__tk_lock lock;
  size_t head, len;
  unsigned char *ring;
  weft_waker rx_waker;
  weft__wlist senders_waiting;
  size_t cap;      /* 0 = unbounded */
  size_t reserved;
  size_t ring_cap; /* allocated slots */
  uint32_t elem_size;
  int closed;
  /* Handles and counts. */
  struct weft_mpsc_rx rx;  /* the receiver's handle */
  struct weft_mpsc_tx tx0; /* the first sender's handle; clones are malloc'd */
  size_t senders;
  int rx_alive;
  unsigned char inline_ring[]; /* the ring of a bounded channel */
} weft__mpsc;

/* ---- ring ---------------------------------------------------------------- */

static unsigned char *slot_at(weft__mpsc *ch, size_t i) {
  size_t idx = ch->head + i;
  if (idx >= ch->ring_cap)
    idx -= ch->ring_cap;
  return ch->ring + idx * ch->elem_size;
}

/* Unbounded only: double the ring, keeping the order. */
static int ring_grow(weft__mpsc *ch) {
  size_t ncap = ch->ring_cap ? ch->ring_cap * 2 : 16;
  if (ncap > SIZE_MAX / ch->elem_size)
    return WEFT_ENOMEM;
  unsigned char *nr = malloc(ncap * ch->elem_size);
  if (!nr)
    return WEFT_ENOMEM;
  for (size_t i = 0; i < ch->len; i++)
    memcpy(nr + i * ch->elem_size, slot_at(ch, i), ch->elem_size);
  free(ch->ring);
  ch->ring = nr;
  ch->ring_cap = ncap;
  ch->head = 0;
  return 0;
}

static void ring_push(weft__mpsc *ch, const void *msg) {
  memcpy(slot_at(ch, ch->len), msg, ch->elem_size);
  ch->len++;
}

static void ring_pop(weft__mpsc *ch, void *out) {
  memcpy(out, ch->ring + ch->head * ch->elem_size, ch->elem_size);
  if (++ch->head == ch->ring_cap)
    ch->head = 0;
  ch->len--;
}

/* Promise free slots to waiting senders, in order. Called under the lock
 * whenever a slot frees up or a waiter leaves. */
static void grant_slots(weft__mpsc *ch, weft__wakebatch *b) {
  while (ch->senders_waiting.head && !ch->closed &&
         ch->len + ch->reserved < ch->cap) {
    weft__waiter *w = ch->senders_waiting.head;
    weft__wlist_remove(&ch->senders_waiting, w);
    w->state = WEFT__W_GRANTED;
    ch->reserved++;
    weft__wakebatch_add(b, weft__waker_take(&w->waker));
  }
}

/* Wake every waiting sender after close: they see `closed` on their poll. */
static void fail_waiters(weft__mpsc *ch, weft__wakebatch *b) {
  weft__waiter *w;
  while ((w = ch->senders_waiting.head) != NULL) {
    weft__wlist_remove(&ch->senders_waiting, w);
    w->state = WEFT__W_CLOSED;
    weft__wakebatch_add(b, weft__waker_take(&w->waker));
  }
}

static void chan_free(weft__mpsc *ch) {
  weft_waker_drop(&ch->rx_waker);
  if (ch->ring != ch->inline_ring)
    free(ch->ring);
  free(ch);
}

/* ---- creation and handles -------------------------------------------------- */

static int chan_new(size_t elem_size, size_t cap, weft_mpsc_tx **tx,
                    weft_mpsc_rx **rx) {
  if (!tx || !rx || elem_size == 0 || elem_size > WEFT__ELEM_MAX ||
      cap > WEFT__CAP_MAX)
    return WEFT_EINVAL;
  /* cap <= 2^30 and elem_size <= 2^16: the product fits. */
  weft__mpsc *ch = calloc(1, sizeof *ch + cap * elem_size);
  if (!ch)
    return WEFT_ENOMEM;
  weft__tk_lock_init(&ch->lock);
  ch->elem_size = (uint32_t)elem_size;
  ch->cap = cap;
  if (cap) {
    ch->ring = ch->inline_ring;
    ch->ring_cap = cap;
  }
  ch->senders = 1;
  ch->rx_alive = 1;
  ch->tx0.ch = ch;
  ch->rx.ch = ch;
  *tx = &ch->tx0;
  *rx = &ch->rx;
  return 0;
}

int weft_mpsc_new(size_t elem_size, size_t capacity, weft_mpsc_tx **tx,
                  weft_mpsc_rx **rx) {
  if (capacity == 0)
    return WEFT_EINVAL;
  return chan_new(elem_size, capacity, tx, rx);
}

int weft_mpsc_unbounded_new(size_t elem_size, weft_mpsc_tx **tx,
                            weft_mpsc_rx **rx) {
  return chan_new(elem_size, 0, tx, rx);
}

int weft_mpsc_tx_clone(weft_mpsc_tx *tx, weft_mpsc_tx **out) {
  if (!tx || !out)
    return WEFT_EINVAL;
  weft_mpsc_tx *t = calloc(1, sizeof *t);
  if (!t)
    return WEFT_ENOMEM;
  t->ch = tx->ch;
  weft__tk_lock_acquire(&tx->ch->lock);
  tx->ch->senders++;
  weft__tk_lock_release(&tx->ch->lock);
  *out = t;
  return 0;
}

/* Give up the place of waiter `w`: unlink it, or pass on a granted slot.
 * Under the lock. */
static void waiter_leave(weft__mpsc *ch, weft__waiter *w, weft__wakebatch *b) {
  if (w->linked) {
    weft__wlist_remove(&ch->senders_waiting, w);
  } else if (w->state == WEFT__W_GRANTED) {
    ch->reserved--;
    grant_slots(ch, b);
  }
  w->state = WEFT__W_IDLE;
  weft_waker_drop(&w->waker);
}

void weft_mpsc_tx_free(weft_mpsc_tx *tx) {
  if (!tx)
    return;
  weft__mpsc *ch = tx->ch;
  int embedded = tx == &ch->tx0; /* the first sender lives in the channel */
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  weft__tk_lock_acquire(&ch->lock);
  waiter_leave(ch, &tx->w, &b);
  int last = --ch->senders == 0;
  if (last)
    weft__wakebatch_add(&b, weft__waker_take(&ch->rx_waker));
  int dead = last && !ch->rx_alive;
  weft__tk_lock_release(&ch->lock);
  weft__wakebatch_run(&b);
  if (!embedded)
    free(tx);
  if (dead)
    chan_free(ch);
}

/* ---- sending --------------------------------------------------------------- */

/* The heart of every send. `w` is the sender's place (in the handle or in a
 * boxed future), `cx` NULL for try_send (never queue). Returns 1 = done
 * (`*rc` set) or 0 = queued. */
static int send_step(weft__mpsc *ch, weft__waiter *w, weft_context *cx,
                     const void *msg, int *rc) {
  weft_waker rxw = {0};
  weft__tk_lock_acquire(&ch->lock);
  if (ch->closed) {
    weft__wakebatch b;
    weft__wakebatch_init(&b);
    waiter_leave(ch, w, &b); /* closed: grant_slots hands out nothing */
    weft__tk_lock_release(&ch->lock);
    *rc = WEFT_ECLOSED;
    return 1;
  }
  if (w->state == WEFT__W_GRANTED) {
    ch->reserved--;
    w->state = WEFT__W_IDLE;
  } else if (w->linked) {
    /* Still waiting for a slot. */
    if (cx)
      weft__waker_store(&w->waker, cx);
    weft__tk_lock_release(&ch->lock);
    return 0;
  } else if (ch->cap == 0) {
    if (ch->len == ch->ring_cap && ring_grow(ch) != 0) {
      weft__tk_lock_release(&ch->lock);
      *rc = WEFT_ENOMEM;
      return 1;
    }
  } else if (ch->senders_waiting.head || ch->len + ch->reserved >= ch->cap) {
    if (!cx) {
      weft__tk_lock_release(&ch->lock);
      *rc = WEFT_EAGAIN;
      return 1;
    }
    w->state = WEFT__W_IDLE;
    weft__waker_store(&w->waker, cx);
    weft__wlist_push(&ch->senders_waiting, w);
    weft__tk_lock_release(&ch->lock);
    return 0;
  }
  ring_push(ch, msg);
  rxw = weft__waker_take(&ch->rx_waker);
  weft__tk_lock_release(&ch->lock);
  weft_waker_wake(&rxw);
  *rc = 0;
  return 1;
}

weft_poll weft_mpsc_poll_send(weft_mpsc_tx *tx, weft_context *cx,
                              const void *msg, int *result) {
  int rc = WEFT_EINVAL;
  if (tx && cx && msg) {
    if (!weft__tk_proceed(cx))
      return WEFT_PENDING;
    if (!send_step(tx->ch, &tx->w, cx, msg, &rc))
      return WEFT_PENDING;
  }
  if (result)
    *result = rc;
  return WEFT_READY;
}

void weft_mpsc_send_cancel(weft_mpsc_tx *tx) {
  if (!tx)
    return;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  weft__tk_lock_acquire(&tx->ch->lock);
  waiter_leave(tx->ch, &tx->w, &b);
  weft__tk_lock_release(&tx->ch->lock);
  weft__wakebatch_run(&b);
}

int weft_mpsc_try_send(weft_mpsc_tx *tx, const void *msg) {
  if (!tx || !msg)
    return WEFT_EINVAL;
  weft__waiter w = {0};
  int rc;
  send_step(tx->ch, &w, NULL, msg, &rc);
  return rc;
}

/* The boxed send: a place of its own and a copy of the message. */
typedef struct send_fut {
  weft__mpsc *ch;
  weft__waiter w;
} send_fut;
#define SEND_MSG_OFF WEFT__ALIGN_UP(sizeof(send_fut))

static weft_poll send_fut_poll(void *state, weft_context *cx, void *out) {
  send_fut *s = state;
  int rc;
  if (!weft__tk_proceed(cx))
    return WEFT_PENDING;
  if (!send_step(s->ch, &s->w, cx, (unsigned char *)state + SEND_MSG_OFF,
                 &rc))
    return WEFT_PENDING;
  memcpy(out, &rc, sizeof rc);
  return WEFT_READY;
}

static void send_fut_drop(void *state) {
  send_fut *s = state;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  weft__tk_lock_acquire(&s->ch->lock);
  waiter_leave(s->ch, &s->w, &b);
  weft__tk_lock_release(&s->ch->lock);
  weft__wakebatch_run(&b);
}

static const weft_future_vtable send_fut_vt = {
    sizeof(weft_future_vtable), send_fut_poll, send_fut_drop};

int weft_mpsc_send(weft_mpsc_tx *tx, const void *msg, weft_future **out) {
  if (!tx || !msg || !out)
    return WEFT_EINVAL;
  send_fut s = {.ch = tx->ch};
  return weft__tk_box(&send_fut_vt, &s, sizeof s, SEND_MSG_OFF, msg,
                      tx->ch->elem_size, sizeof(int), out);
}

/* ---- receiving ------------------------------------------------------------- */

/* Returns 1 = done (`*rc` set, message in `out` when 0), 0 = waiting. */
static int recv_step(weft__mpsc *ch, weft_context *cx, void *out, int *rc) {
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  weft__tk_lock_acquire(&ch->lock);
  if (ch->len > 0) {
    ring_pop(ch, out);
    grant_slots(ch, &b);
    weft__tk_lock_release(&ch->lock);
    weft__wakebatch_run(&b);
    *rc = 0;
    return 1;
  }
  if (ch->closed || ch->senders == 0) {
    weft__tk_lock_release(&ch->lock);
    *rc = WEFT_ECLOSED;
    return 1;
  }
  if (!cx) {
    weft__tk_lock_release(&ch->lock);
    *rc = WEFT_EAGAIN;
    return 1;
  }
  weft__waker_store(&ch->rx_waker, cx);
  weft__tk_lock_release(&ch->lock);
  return 0;
}

weft_poll weft_mpsc_poll_recv(weft_mpsc_rx *rx, weft_context *cx, void *out,
                              int *result) {
  int rc = WEFT_EINVAL;
  if (rx && cx && out) {
    if (!weft__tk_proceed(cx))
      return WEFT_PENDING;
    if (!recv_step(rx->ch, cx, out, &rc))
      return WEFT_PENDING;
  }
  if (result)
    *result = rc;
  return WEFT_READY;
}

int weft_mpsc_try_recv(weft_mpsc_rx *rx, void *out) {
  if (!rx || !out)
    return WEFT_EINVAL;
  int rc;
  recv_step(rx->ch, NULL, out, &rc);
  return rc;
}

typedef struct recv_fut {
  weft__mpsc *ch;
} recv_fut;

static weft_poll recv_fut_poll(void *state, weft_context *cx, void *out) {
  recv_fut *r = state;
  int rc;
  if (!weft__tk_proceed(cx))
    return WEFT_PENDING;
  if (!recv_step(r->ch, cx, (unsigned char *)out + WEFT_RECV_MSG_OFFSET, &rc))
    return WEFT_PENDING;
  memcpy(out, &rc, sizeof rc);
  return WEFT_READY;
}

/* A message is taken only when it is delivered, so dropping a pending
 * receive only has to let go of the waker it left behind. */
static void recv_fut_drop(void *state) {
  recv_fut *r = state;
  weft__tk_lock_acquire(&r->ch->lock);
  weft_waker w = weft__waker_take(&r->ch->rx_waker);
  weft__tk_lock_release(&r->ch->lock);
  weft_waker_drop(&w);
}

static const weft_future_vtable recv_fut_vt = {
    sizeof(weft_future_vtable), recv_fut_poll, recv_fut_drop};

int weft_mpsc_recv(weft_mpsc_rx *rx, weft_future **out) {
  if (!rx || !out)
    return WEFT_EINVAL;
  recv_fut r = {rx->ch};
  return weft_future_new(&recv_fut_vt, &r, sizeof r,
                         WEFT_RECV_OUTPUT_SIZE(rx->ch->elem_size), out);
}

void weft_mpsc_close(weft_mpsc_rx *rx) {
  if (!rx)
    return;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  weft__tk_lock_acquire(&rx->ch->lock);
  rx->ch->closed = 1;
  fail_waiters(rx->ch, &b);
  weft__tk_lock_release(&rx->ch->lock);
  weft__wakebatch_run(&b);
}

size_t weft_mpsc_len(const weft_mpsc_rx *rx) {
  if (!rx)
    return 0;
  weft__tk_lock_acquire(&rx->ch->lock);
  size_t n = rx->ch->len;
  weft__tk_lock_release(&rx->ch->lock);
  return n;
}

void weft_mpsc_rx_free(weft_mpsc_rx *rx) {
  if (!rx)
    return;
  weft__mpsc *ch = rx->ch;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  weft__tk_lock_acquire(&ch->lock);
  ch->closed = 1;
  ch->rx_alive = 0;
  fail_waiters(ch, &b);
  ch->len = 0; /* queued messages are discarded: they are plain bytes */
  weft_waker_drop(&ch->rx_waker);
  int dead = ch->senders == 0;
  weft__tk_lock_release(&ch->lock);
  weft__wakebatch_run(&b);
  if (dead)
    chan_free(ch);
}
