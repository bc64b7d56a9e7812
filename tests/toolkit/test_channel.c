/* tests/toolkit/test_channel.c: oneshot, mpsc (bounded and unbounded) and
 * watch channels: ordering, backpressure, closing with waiters, giving up
 * waits without losing messages or slots, and a multi-thread stress run. */
#include <pthread.h>
#include <sched.h>

#include "tk_test.h"

static int poll_rc(weft_future *f, weft_context *cx) {
  if (weft_future_poll(f, cx) != WEFT_READY)
    return 1; /* pending */
  return weft_future_result(f);
}

/* ---- mpsc ------------------------------------------------------------------ */

static void test_mpsc_fifo_and_backpressure(void **st) {
  (void)st;
  tw trx, tsend;
  weft_context *crx = tw_init(&trx), *cs = tw_init(&tsend);
  weft_mpsc_tx *tx;
  weft_mpsc_rx *rx;
  assert_int_equal(weft_mpsc_new(sizeof(int), 2, &tx, &rx), 0);
  int v = 1, out = 0, rc = 0;
  assert_int_equal(weft_mpsc_try_send(tx, &v), 0);
  v = 2;
  assert_int_equal(weft_mpsc_try_send(tx, &v), 0);
  v = 3;
  assert_int_equal(weft_mpsc_try_send(tx, &v), WEFT_EAGAIN);
  /* A poll-style send waits for room. */
  assert_int_equal(weft_mpsc_poll_send(tx, cs, &v, &rc), WEFT_PENDING);
  assert_int_equal(weft_mpsc_len(rx), 2);
  assert_int_equal(weft_mpsc_poll_recv(rx, crx, &out, &rc), WEFT_READY);
  assert_int_equal(rc, 0);
  assert_int_equal(out, 1);
  assert_int_equal(tw_take(&tsend), 1); /* the freed slot went to it */
  /* The slot is promised: a try_send cannot take it. */
  int w = 99;
  assert_int_equal(weft_mpsc_try_send(tx, &w), WEFT_EAGAIN);
  assert_int_equal(weft_mpsc_poll_send(tx, cs, &v, &rc), WEFT_READY);
  assert_int_equal(rc, 0);
  for (int want = 2; want <= 3; want++) {
    assert_int_equal(weft_mpsc_poll_recv(rx, crx, &out, &rc), WEFT_READY);
    assert_int_equal(out, want);
  }
  /* Empty: the receiver waits and a send wakes it. */
  assert_int_equal(weft_mpsc_poll_recv(rx, crx, &out, &rc), WEFT_PENDING);
  v = 4;
  assert_int_equal(weft_mpsc_try_send(tx, &v), 0);
  assert_int_equal(tw_take(&trx), 1);
  assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
  assert_int_equal(out, 4);
  weft_mpsc_tx_free(tx);
  weft_mpsc_rx_free(rx);
  assert_int_equal(atomic_load(&trx.refs), 0);
  assert_int_equal(atomic_load(&tsend.refs), 0);
}

/* Dropping a pending send that had been promised a slot passes the slot to
 * the next sender; the dropped message never appears. */
static void test_mpsc_drop_pending_send_passes_slot(void **st) {
  (void)st;
  tw t1, t2, t3;
  weft_context *c1 = tw_init(&t1), *c2 = tw_init(&t2), *c3 = tw_init(&t3);
  weft_mpsc_tx *tx;
  weft_mpsc_rx *rx;
  assert_int_equal(weft_mpsc_new(sizeof(int), 1, &tx, &rx), 0);
  int v = 10, out;
  assert_int_equal(weft_mpsc_try_send(tx, &v), 0);
  weft_future *s1, *s2, *s3;
  v = 11;
  assert_int_equal(weft_mpsc_send(tx, &v, &s1), 0);
  v = 12;
  assert_int_equal(weft_mpsc_send(tx, &v, &s2), 0);
  v = 13;
  assert_int_equal(weft_mpsc_send(tx, &v, &s3), 0);
  assert_int_equal(poll_rc(s1, c1), 1);
  assert_int_equal(poll_rc(s2, c2), 1);
  assert_int_equal(poll_rc(s3, c3), 1);
  /* s3 gives up while still queued. */
  weft_future_free(s3);
  assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
  assert_int_equal(out, 10);
  assert_int_equal(tw_take(&t1), 1); /* s1 holds the slot now */
  assert_int_equal(tw_take(&t2), 0);
  weft_future_free(s1); /* ... and drops it: the slot moves to s2 */
  assert_int_equal(tw_take(&t2), 1);
  assert_int_equal(poll_rc(s2, c2), 0);
  weft_future_free(s2);
  assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
  assert_int_equal(out, 12);
  assert_int_equal(weft_mpsc_try_recv(rx, &out), WEFT_EAGAIN);
  /* No slot leaked: the channel takes exactly its capacity again. */
  assert_int_equal(weft_mpsc_try_send(tx, &v), 0);
  assert_int_equal(weft_mpsc_try_send(tx, &v), WEFT_EAGAIN);
  /* The same through a handle: a pending poll-style send released with
   * its handle passes its promised slot on. */
  weft_mpsc_tx *tx2;
  assert_int_equal(weft_mpsc_tx_clone(tx, &tx2), 0);
  int rc;
  assert_int_equal(weft_mpsc_poll_send(tx2, c1, &v, &rc), WEFT_PENDING);
  assert_int_equal(weft_mpsc_poll_send(tx, c2, &v, &rc), WEFT_PENDING);
  assert_int_equal(weft_mpsc_try_recv(rx, &out), 0);
  assert_int_equal(tw_take(&t1), 1);
  weft_mpsc_tx_free(tx2);
  assert_int_equal(tw_take(&t2), 1);
  assert_int_equal(weft_mpsc_poll_send(tx, c2, &v, &rc), WEFT_READY);
  assert_int_equal(rc, 0);
  weft_mpsc_tx_free(tx);
  weft_mpsc_rx_free(rx);
  assert_int_equal(atomic_load(&t1.refs), 0);
  assert_int_equal(atomic_load(&t2.refs), 0);
  assert_int_equal(atomic_load(&t3.refs), 0);
}

/* Dropping a pending receive loses nothing: the message stays queued. */
static void test_mpsc_drop_pending_recv_loses_nothing(void **st) {
  (void)st;
  tw t;
  weft_context *c = tw_init(&t);
  weft_mpsc_tx *tx;
  weft_mpsc_rx *rx;
  assert_int_equal(weft_mpsc_new(sizeof(long), 4, &tx, &rx), 0);
  weft_future *r;
  assert_int_equal(weft_mpsc_recv(rx, &r), 0);
  assert_int_equal(poll_rc(r, c), 1);
  weft_future_free(r);
  assert_int_equal(atomic_load(&t.refs), 0); /* its waker was released */
  long v = 77, out = 0;
  assert_int_equal(weft_mpsc_try_send(tx, &v), 0);
  assert_int_equal(weft_mpsc_recv(rx, &r), 0);
  assert_int_equal(poll_rc(r, c), 0);
  memcpy(&out, weft_future_msg(r), sizeof out);
  assert_int_equal(out, 77);
  weft_future_free(r);
  weft_mpsc_tx_free(tx);
  weft_mpsc_rx_free(rx);
}

/* Close with senders waiting: they finish with ECLOSED, keeping their
 * messages; queued messages are still received, then ECLOSED. */
static void test_mpsc_close_wakes_waiting_senders(void **st) {
  (void)st;
  tw t1, t2, tr;
  weft_context *c1 = tw_init(&t1), *c2 = tw_init(&t2), *cr = tw_init(&tr);
  weft_mpsc_tx *tx;
  weft_mpsc_rx *rx;
  assert_int_equal(weft_mpsc_new(sizeof(int), 1, &tx, &rx), 0);
  int v = 5, out, rc;
  assert_int_equal(weft_mpsc_try_send(tx, &v), 0);
  weft_future *s1;
  assert_int_equal(weft_mpsc_send(tx, &v, &s1), 0);
  assert_int_equal(poll_rc(s1, c1), 1);
  assert_int_equal(weft_mpsc_poll_send(tx, c2, &v, &rc), WEFT_PENDING);
  weft_mpsc_close(rx);
  assert_int_equal(tw_take(&t1), 1);
  assert_int_equal(tw_take(&t2), 1);
  assert_int_equal(poll_rc(s1, c1), WEFT_ECLOSED);
  assert_int_equal(weft_mpsc_poll_send(tx, c2, &v, &rc), WEFT_READY);
  assert_int_equal(rc, WEFT_ECLOSED);
  assert_int_equal(weft_mpsc_try_send(tx, &v), WEFT_ECLOSED);
  assert_int_equal(weft_mpsc_poll_recv(rx, cr, &out, &rc), WEFT_READY);
  assert_int_equal(rc, 0);
  assert_int_equal(out, 5);
  assert_int_equal(weft_mpsc_poll_recv(rx, cr, &out, &rc), WEFT_READY);
  assert_int_equal(rc, WEFT_ECLOSED);
  weft_future_free(s1);
  weft_mpsc_tx_free(tx);
  weft_mpsc_rx_free(rx);
  assert_int_equal(atomic_load(&t1.refs) + atomic_load(&t2.refs), 0);
}

/* Receiver released while senders wait, and senders released while the
 * receiver waits. */
static void test_mpsc_drop_sides(void **st) {
  (void)st;
  tw t1, tr;
  weft_context *c1 = tw_init(&t1), *cr = tw_init(&tr);
  weft_mpsc_tx *tx, *tx2;
  weft_mpsc_rx *rx;
  int v = 1, out, rc;
  assert_int_equal(weft_mpsc_new(sizeof(int), 1, &tx, &rx), 0);
  assert_int_equal(weft_mpsc_try_send(tx, &v), 0);
  assert_int_equal(weft_mpsc_poll_send(tx, c1, &v, &rc), WEFT_PENDING);
  weft_mpsc_rx_free(rx);
  assert_int_equal(tw_take(&t1), 1);
  assert_int_equal(weft_mpsc_poll_send(tx, c1, &v, &rc), WEFT_READY);
  assert_int_equal(rc, WEFT_ECLOSED);
  weft_mpsc_tx_free(tx);

  assert_int_equal(weft_mpsc_unbounded_new(sizeof(int), &tx, &rx), 0);
  assert_int_equal(weft_mpsc_tx_clone(tx, &tx2), 0);
  assert_int_equal(weft_mpsc_poll_recv(rx, cr, &out, &rc), WEFT_PENDING);
  v = 8;
  assert_int_equal(weft_mpsc_try_send(tx2, &v), 0);
  weft_mpsc_tx_free(tx);
  weft_mpsc_tx_free(tx2);
  assert_true(tw_take(&tr) >= 1);
  assert_int_equal(weft_mpsc_poll_recv(rx, cr, &out, &rc), WEFT_READY);
  assert_int_equal(rc, 0);
  assert_int_equal(out, 8);
  assert_int_equal(weft_mpsc_poll_recv(rx, cr, &out, &rc), WEFT_READY);
  assert_int_equal(rc, WEFT_ECLOSED);
  weft_mpsc_rx_free(rx);
  assert_int_equal(atomic_load(&tr.refs) + atomic_load(&t1.refs), 0);
}

static void test_mpsc_unbounded_grows_in_order(void **st) {
  (void)st;
  weft_mpsc_tx *tx;
  weft_mpsc_rx *rx;
  assert_int_equal(weft_mpsc_unbounded_new(3, &tx, &rx), 0);
  for (int i = 0; i < 5000; i++) {
    unsigned char m[3] = {(unsigned char)i, (unsigned char)(i >> 8), 7};
    assert_int_equal(weft_mpsc_try_send(tx, m), 0);
    if (i % 3 == 0) { /* interleave receives to wrap the ring */
      unsigned char o[3];
      assert_int_equal(weft_mpsc_try_recv(rx, o), 0);
    }
  }
  int expect = 0;
  for (int i = 0; i < 5000; i++)
    if (i % 3 == 0)
      expect++;
  unsigned char o[3];
  int prev = -1, n = 0;
  while (weft_mpsc_try_recv(rx, o) == 0) {
    int v = o[0] | o[1] << 8;
    assert_true(v > prev);
    assert_int_equal(o[2], 7);
    prev = v;
    n++;
  }
  assert_int_equal(n, 5000 - expect);
  assert_int_equal(weft_mpsc_new(0, 1, &tx, &rx), WEFT_EINVAL);
  weft_mpsc_tx_free(tx);
  weft_mpsc_rx_free(rx);
}

/* ---- oneshot ---------------------------------------------------------------- */

static void test_oneshot_send_recv_and_drops(void **st) {
  (void)st;
  tw t;
  weft_context *c = tw_init(&t);
  weft_oneshot_tx *tx;
  weft_oneshot_rx *rx;
  double d = 2.5, out = 0;
  int rc;
  assert_int_equal(weft_oneshot_new(sizeof d, &tx, &rx), 0);
  assert_int_equal(weft_oneshot_poll_recv(rx, c, &out, &rc), WEFT_PENDING);
  /* A dropped pending receive loses nothing. */
  weft_future *r;
  assert_int_equal(weft_oneshot_recv(rx, &r), 0);
  assert_int_equal(poll_rc(r, c), 1);
  weft_future_free(r);
  assert_int_equal(weft_oneshot_send(tx, &d), 0);
  assert_int_equal(weft_oneshot_try_recv(rx, &out), 0);
  assert_true(out == 2.5);
  assert_int_equal(weft_oneshot_try_recv(rx, &out), WEFT_ECLOSED);
  weft_oneshot_rx_free(rx);

  /* Sender released without sending while the receiver waits. */
  assert_int_equal(weft_oneshot_new(sizeof d, &tx, &rx), 0);
  assert_int_equal(weft_oneshot_recv(rx, &r), 0);
  assert_int_equal(poll_rc(r, c), 1);
  tw_take(&t);
  weft_oneshot_tx_free(tx);
  assert_int_equal(tw_take(&t), 1);
  assert_int_equal(poll_rc(r, c), WEFT_ECLOSED);
  weft_future_free(r);
  weft_oneshot_rx_free(rx);

  /* Receiver gone: the send fails and the message stays the caller's. */
  assert_int_equal(weft_oneshot_new(sizeof d, &tx, &rx), 0);
  weft_oneshot_rx_free(rx);
  assert_int_equal(weft_oneshot_send(tx, &d), WEFT_ECLOSED);
  assert_int_equal(atomic_load(&t.refs), 0);
}

/* ---- watch ------------------------------------------------------------------ */

static void test_watch_latest_value_and_close(void **st) {
  (void)st;
  tw t1, t2;
  weft_context *c1 = tw_init(&t1), *c2 = tw_init(&t2);
  weft_watch_tx *tx;
  weft_watch_rx *rx, *rx2;
  int v = 0, out, rc;
  assert_int_equal(weft_watch_new(sizeof v, &v, &tx, &rx), 0);
  assert_int_equal(weft_watch_rx_clone(rx, &rx2), 0);
  assert_int_equal(weft_watch_poll_changed(rx, c1, &rc), WEFT_PENDING);
  weft_future *f;
  assert_int_equal(weft_watch_changed(rx2, &f), 0);
  assert_int_equal(poll_rc(f, c2), 1);
  for (v = 1; v <= 3; v++)
    assert_int_equal(weft_watch_send(tx, &v), 0);
  assert_int_equal(tw_take(&t1), 1);
  assert_int_equal(tw_take(&t2), 1);
  assert_int_equal(weft_watch_poll_changed(rx, c1, &rc), WEFT_READY);
  assert_int_equal(rc, 0);
  assert_int_equal(weft_watch_get(rx, &out), 0);
  assert_int_equal(out, 3); /* intermediate values are skipped */
  assert_int_equal(poll_rc(f, c2), 0);
  weft_future_free(f);
  /* A dropped pending wait unlinks itself. */
  assert_int_equal(weft_watch_changed(rx2, &f), 0);
  assert_int_equal(poll_rc(f, c2), 1);
  weft_future_free(f);
  assert_int_equal(weft_watch_poll_changed(rx, c1, &rc), WEFT_PENDING);
  weft_watch_tx_free(tx);
  assert_int_equal(tw_take(&t1), 1);
  assert_int_equal(weft_watch_poll_changed(rx, c1, &rc), WEFT_READY);
  assert_int_equal(rc, WEFT_ECLOSED);
  weft_watch_rx_free(rx);
  weft_watch_rx_free(rx2);
  assert_int_equal(atomic_load(&t1.refs) + atomic_load(&t2.refs), 0);
}

/* ---- stress: tasks and plain threads on a real runtime ---------------------- */

#define PRODUCERS 8
#define THREADS 2

typedef struct stress {
  weft_mpsc_rx *rx;
  _Atomic long sent; /* messages whose send reported 0 */
  _Atomic long sum_sent;
  long per_producer;
} stress;

/* A producer task: sends through boxed futures and, every few messages,
 * gives one up while it is pending (counted as not sent). */
typedef struct prod {
  weft_coro co;
  stress *s;
  weft_mpsc_tx *tx;
  weft_future *f;
  long i, id;
} prod;

static weft_poll prod_poll(void *st, weft_context *cx, void *out) {
  prod *p = st;
  (void)out;
  WEFT_CORO_BEGIN(&p->co);
  for (p->i = 0; p->i < p->s->per_producer; p->i++) {
    {
      long m = p->id * 1000000 + p->i;
      assert_int_equal(weft_mpsc_send(p->tx, &m, &p->f), 0);
    }
    if (p->i % 7 == 3 && weft_future_poll(p->f, cx) == WEFT_PENDING) {
      weft_future_free(p->f); /* give up: the message was not sent */
      p->f = NULL;
      continue;
    }
    WEFT_AWAIT(&p->co, weft_future_poll(p->f, cx));
    if (weft_future_result(p->f) == 0) {
      atomic_fetch_add(&p->s->sent, 1);
      atomic_fetch_add(&p->s->sum_sent, p->id * 1000000 + p->i);
    }
    weft_future_free(p->f);
    p->f = NULL;
  }
  WEFT_CORO_END(&p->co);
}

static void prod_drop(void *st) {
  prod *p = st;
  weft_future_free(p->f);
  weft_mpsc_tx_free(p->tx);
}

static const weft_future_vtable prod_vt = {sizeof(weft_future_vtable),
                                           prod_poll, prod_drop};

typedef struct cons {
  weft_coro co;
  weft_mpsc_rx *rx;
  long got, sum, msg;
  int rc;
} cons;

static weft_poll cons_poll(void *st, weft_context *cx, void *out) {
  cons *c = st;
  WEFT_CORO_BEGIN(&c->co);
  for (;;) {
    WEFT_AWAIT(&c->co, weft_mpsc_poll_recv(c->rx, cx, &c->msg, &c->rc));
    if (c->rc != 0)
      break;
    c->got++;
    c->sum += c->msg;
  }
  {
    long res[2] = {c->got, c->sum};
    memcpy(out, res, sizeof res);
  }
  WEFT_CORO_END(&c->co);
}

static const weft_future_vtable cons_vt = {sizeof(weft_future_vtable),
                                           cons_poll, NULL};

typedef struct thr_arg {
  stress *s;
  weft_runtime *rt;
  weft_mpsc_tx *tx;
  long id;
} thr_arg;

/* A plain thread sending with weft_block_on on boxed sends. */
static void *thr_main(void *a) {
  thr_arg *t = a;
  for (long i = 0; i < t->s->per_producer; i++) {
    long m = t->id * 1000000 + i;
    weft_future *f;
    assert_int_equal(weft_mpsc_send(t->tx, &m, &f), 0);
    assert_int_equal(tk_block_on_future(t->rt, f), 0);
    if (weft_future_result(f) == 0) {
      atomic_fetch_add(&t->s->sent, 1);
      atomic_fetch_add(&t->s->sum_sent, m);
    }
    weft_future_free(f);
  }
  weft_mpsc_tx_free(t->tx);
  return NULL;
}

static void test_mpsc_stress_tasks_and_threads(void **st) {
  (void)st;
  weft_runtime *rt = tk_runtime(2);
  stress s = {.per_producer = tk_scaled(3000)};
  weft_mpsc_tx *tx;
  assert_int_equal(weft_mpsc_new(sizeof(long), 4, &tx, &s.rx), 0);
  weft_join_handle *hc, *hp[PRODUCERS];
  cons c = {.rx = s.rx};
  assert_int_equal(
      weft_spawn(rt, &cons_vt, &c, sizeof c, 2 * sizeof(long), &hc), 0);
  for (long i = 0; i < PRODUCERS; i++) {
    prod p = {.s = &s, .id = i + 1};
    assert_int_equal(weft_mpsc_tx_clone(tx, &p.tx), 0);
    assert_int_equal(weft_spawn(rt, &prod_vt, &p, sizeof p, 0, &hp[i]), 0);
  }
  pthread_t th[THREADS];
  thr_arg ta[THREADS];
  for (long i = 0; i < THREADS; i++) {
    ta[i] = (thr_arg){&s, rt, NULL, 100 + i};
    assert_int_equal(weft_mpsc_tx_clone(tx, &ta[i].tx), 0);
    assert_int_equal(pthread_create(&th[i], NULL, thr_main, &ta[i]), 0);
  }
  weft_mpsc_tx_free(tx);
  for (int i = 0; i < PRODUCERS; i++) {
    assert_int_equal(weft_join_wait(hp[i], -1, NULL), 0);
    weft_join_free(hp[i]);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  /* Every sender is gone: the consumer drains and sees ECLOSED. */
  weft_join_result r;
  assert_int_equal(weft_join_wait(hc, 20000, &r), 0);
  assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
  long res[2];
  memcpy(res, r.output, sizeof res);
  weft_join_free(hc);
  weft_runtime_free(rt);
  weft_mpsc_rx_free(s.rx);
  /* Every message reported sent was received once, none other. */
  long sent = atomic_load(&s.sent);
  assert_int_equal(res[0], sent);
  assert_int_equal(res[1], atomic_load(&s.sum_sent));
  long total = s.per_producer * (PRODUCERS + THREADS);
  assert_true(sent > total / 2);
  assert_true(sent <= total);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mpsc_fifo_and_backpressure),
      cmocka_unit_test(test_mpsc_drop_pending_send_passes_slot),
      cmocka_unit_test(test_mpsc_drop_pending_recv_loses_nothing),
      cmocka_unit_test(test_mpsc_close_wakes_waiting_senders),
      cmocka_unit_test(test_mpsc_drop_sides),
      cmocka_unit_test(test_mpsc_unbounded_grows_in_order),
      cmocka_unit_test(test_oneshot_send_recv_and_drops),
      cmocka_unit_test(test_watch_latest_value_and_close),
      cmocka_unit_test(test_mpsc_stress_tasks_and_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
