/* core/toolkit/oneshot.c: a channel for exactly one message.
 *
 * One allocation holds the channel, both handles and the message slot; the
 * handles point into it. Invariants (under `lock`):
 * - `full` is 1 from the send until the receiver takes the message, which
 *   it does at most once (`taken`); a message is taken only when it is
 *   delivered, so dropping a pending receive loses nothing.
 * - `rx_waker` is set only while the receiver waits; the send or the
 *   sender's release takes and wakes it.
 * - The allocation is freed by the party that releases the second handle
 *   (`tx_alive` and `rx_alive` both 0). */
#include "toolkit/tk.h"

struct weft_oneshot_tx {
  int unused;
};
struct weft_oneshot_rx {
  int unused;
};

typedef struct weft__oneshot {
  pthread_mutex_t lock;
  struct weft_oneshot_tx tx;
  struct weft_oneshot_rx rx;
  size_t elem_size;
  int full, taken, tx_alive, rx_alive;
  weft_waker rx_waker;
  unsigned char msg[];
} weft__oneshot;

#define FROM_TX(t)                                                           \
  ((weft__oneshot *)((char *)(t) - offsetof(weft__oneshot, tx)))
#define FROM_RX(r)                                                           \
  ((weft__oneshot *)((char *)(r) - offsetof(weft__oneshot, rx)))

int weft_oneshot_new(size_t elem_size, weft_oneshot_tx **tx,
                     weft_oneshot_rx **rx) {
  if (!tx || !rx || elem_size == 0 || elem_size > 65536)
    return WEFT_EINVAL;
  weft__oneshot *o = calloc(1, sizeof *o + elem_size);
  if (!o)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&o->lock, NULL) != 0) {
    free(o);
    return WEFT_ENOMEM;
  }
  o->elem_size = elem_size;
  o->tx_alive = o->rx_alive = 1;
  *tx = &o->tx;
  *rx = &o->rx;
  return 0;
}

static void oneshot_free(weft__oneshot *o) {
  weft_waker_drop(&o->rx_waker);
  pthread_mutex_destroy(&o->lock);
  free(o);
}

/* Release the sender, having sent (`msg` not NULL) or not. */
static int tx_release(weft__oneshot *o, const void *msg) {
  int rc = 0;
  pthread_mutex_lock(&o->lock);
  if (msg) {
    if (o->rx_alive) {
      memcpy(o->msg, msg, o->elem_size);
      o->full = 1;
    } else {
      rc = WEFT_ECLOSED;
    }
  }
  o->tx_alive = 0;
  weft_waker w = weft__waker_take(&o->rx_waker);
  int dead = !o->rx_alive;
  pthread_mutex_unlock(&o->lock);
  weft_waker_wake(&w);
  if (dead)
    oneshot_free(o);
  return rc;
}

int weft_oneshot_send(weft_oneshot_tx *tx, const void *msg) {
  if (!tx)
    return WEFT_EINVAL;
  if (!msg) {
    tx_release(FROM_TX(tx), NULL);
    return WEFT_EINVAL;
  }
  return tx_release(FROM_TX(tx), msg);
}

void weft_oneshot_tx_free(weft_oneshot_tx *tx) {
  if (tx)
    tx_release(FROM_TX(tx), NULL);
}

/* 1 = done (`*rc` set), 0 = waiting (only when cx is not NULL). */
static int recv_step(weft__oneshot *o, weft_context *cx, void *out, int *rc) {
  pthread_mutex_lock(&o->lock);
  if (o->full && !o->taken) {
    memcpy(out, o->msg, o->elem_size);
    o->taken = 1;
    *rc = 0;
  } else if (o->taken || !o->tx_alive) {
    *rc = WEFT_ECLOSED;
  } else if (!cx) {
    *rc = WEFT_EAGAIN;
  } else {
    weft__waker_store(&o->rx_waker, cx);
    pthread_mutex_unlock(&o->lock);
    return 0;
  }
  pthread_mutex_unlock(&o->lock);
  return 1;
}

weft_poll weft_oneshot_poll_recv(weft_oneshot_rx *rx, weft_context *cx,
                                 void *out, int *result) {
  int rc = WEFT_EINVAL;
  if (rx && cx && out) {
    if (!weft__tk_proceed(cx))
      return WEFT_PENDING;
    if (!recv_step(FROM_RX(rx), cx, out, &rc))
      return WEFT_PENDING;
  }
  if (result)
    *result = rc;
  return WEFT_READY;
}

int weft_oneshot_try_recv(weft_oneshot_rx *rx, void *out) {
  if (!rx || !out)
    return WEFT_EINVAL;
  int rc;
  recv_step(FROM_RX(rx), NULL, out, &rc);
  return rc;
}

typedef struct recv_fut {
  weft__oneshot *o;
} recv_fut;

static weft_poll recv_fut_poll(void *state, weft_context *cx, void *out) {
  recv_fut *r = state;
  int rc;
  if (!weft__tk_proceed(cx))
    return WEFT_PENDING;
  if (!recv_step(r->o, cx, (unsigned char *)out + WEFT_RECV_MSG_OFFSET, &rc))
    return WEFT_PENDING;
  memcpy(out, &rc, sizeof rc);
  return WEFT_READY;
}

static void recv_fut_drop(void *state) {
  recv_fut *r = state;
  pthread_mutex_lock(&r->o->lock);
  weft_waker w = weft__waker_take(&r->o->rx_waker);
  pthread_mutex_unlock(&r->o->lock);
  weft_waker_drop(&w);
}

static const weft_future_vtable recv_fut_vt = {
    sizeof(weft_future_vtable), recv_fut_poll, recv_fut_drop};

int weft_oneshot_recv(weft_oneshot_rx *rx, weft_future **out) {
  if (!rx || !out)
    return WEFT_EINVAL;
  recv_fut r = {FROM_RX(rx)};
  return weft_future_new(&recv_fut_vt, &r, sizeof r,
                         WEFT_RECV_OUTPUT_SIZE(r.o->elem_size), out);
}

void weft_oneshot_rx_free(weft_oneshot_rx *rx) {
  if (!rx)
    return;
  weft__oneshot *o = FROM_RX(rx);
  pthread_mutex_lock(&o->lock);
  o->rx_alive = 0;
  weft_waker w = weft__waker_take(&o->rx_waker);
  int dead = !o->tx_alive;
  pthread_mutex_unlock(&o->lock);
  weft_waker_drop(&w);
  if (dead)
    oneshot_free(o);
}
