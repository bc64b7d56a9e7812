/* tests/toolkit/test_tasks.c: select and join_all, task groups and
 * cancellation tokens, by hand-polling and on a real runtime. */
#include <pthread.h>

#include "tk_test.h"

static int poll_rc(weft_future *f, weft_context *cx) {
  if (weft_future_poll(f, cx) != WEFT_READY)
    return 1;
  return weft_future_result(f);
}

/* ---- combinators ---------------------------------------------------------------- */

static void test_select_drops_losers(void **st) {
  (void)st;
  tw t;
  weft_context *c = tw_init(&t);
  weft_notify *n1, *n2;
  assert_int_equal(weft_notify_new(&n1), 0);
  assert_int_equal(weft_notify_new(&n2), 0);
  weft_future *kids[2], *sel;
  assert_int_equal(weft_notify_notified(n1, &kids[0]), 0);
  assert_int_equal(weft_notify_notified(n2, &kids[1]), 0);
  assert_int_equal(weft_select(kids, 2, &sel), 0);
  assert_int_equal(weft_future_poll(sel, c), WEFT_PENDING);
  assert_null(weft_select_take(sel, NULL));
  weft_notify_one(n2);
  assert_true(tw_take(&t) >= 1);
  assert_int_equal(weft_future_poll(sel, c), WEFT_READY);
  size_t idx = 9;
  weft_future *win = weft_select_take(sel, &idx);
  assert_int_equal(idx, 1);
  assert_ptr_equal(win, kids[1]);
  assert_null(weft_select_take(sel, NULL));
  weft_future_free(win);
  weft_future_free(sel);
  /* The loser was dropped at once and left n1's wait list: a notify now
   * becomes a permit that a fresh future consumes at once. */
  weft_notify_one(n1);
  assert_int_equal(weft_notify_notified(n1, &kids[0]), 0);
  assert_int_equal(poll_rc(kids[0], c), 0);
  weft_future_free(kids[0]);
  /* Dropping a pending select drops every child. */
  assert_int_equal(weft_notify_notified(n1, &kids[0]), 0);
  assert_int_equal(weft_notify_notified(n2, &kids[1]), 0);
  assert_int_equal(weft_select(kids, 2, &sel), 0);
  assert_int_equal(weft_future_poll(sel, c), WEFT_PENDING);
  weft_future_free(sel);
  assert_int_equal(atomic_load(&t.refs), 0);
  assert_int_equal(weft_select(kids, 0, &sel), WEFT_EINVAL);
  weft_notify_free(n1);
  weft_notify_free(n2);
}

static void test_join_all_waits_for_every_child(void **st) {
  (void)st;
  enum { N = 3 };
  tw t;
  weft_context *c = tw_init(&t);
  weft_oneshot_tx *tx[N];
  weft_oneshot_rx *rx[N];
  weft_future *kids[N], *ja;
  for (int i = 0; i < N; i++) {
    assert_int_equal(weft_oneshot_new(sizeof(int), &tx[i], &rx[i]), 0);
    assert_int_equal(weft_oneshot_recv(rx[i], &kids[i]), 0);
  }
  assert_int_equal(weft_join_all(kids, N, &ja), 0);
  for (int i = N - 1; i >= 0; i--) {
    assert_int_equal(weft_future_poll(ja, c), WEFT_PENDING);
    int v = 10 * i;
    assert_int_equal(weft_oneshot_send(tx[i], &v), 0);
  }
  assert_int_equal(weft_future_poll(ja, c), WEFT_READY);
  for (int i = 0; i < N; i++) {
    weft_future *k = weft_join_all_take(ja, i);
    assert_ptr_equal(k, kids[i]);
    assert_int_equal(weft_future_result(k), 0);
    assert_int_equal(*(int *)weft_future_msg(k), 10 * i);
    weft_future_free(k);
    weft_oneshot_rx_free(rx[i]);
  }
  assert_null(weft_join_all_take(ja, N));
  weft_future_free(ja);
  assert_int_equal(atomic_load(&t.refs), 0);
}

/* ---- task groups ------------------------------------------------------------- */

static _Atomic int g_drops;

/* A task that waits for its oneshot, then returns the value. */
typedef struct waiter_task {
  weft_oneshot_rx *rx;
  int v, rc;
} waiter_task;

static weft_poll waiter_poll(void *st, weft_context *cx, void *out) {
  waiter_task *w = st;
  if (weft_oneshot_poll_recv(w->rx, cx, &w->v, &w->rc) != WEFT_READY)
    return WEFT_PENDING;
  memcpy(out, &w->v, sizeof w->v);
  return WEFT_READY;
}

static void waiter_drop(void *st) {
  weft_oneshot_rx_free(((waiter_task *)st)->rx);
  atomic_fetch_add(&g_drops, 1);
}

static const weft_future_vtable waiter_vt = {sizeof(weft_future_vtable),
                                             waiter_poll, waiter_drop};

/* Await the group's next task from a plain thread. */
typedef struct next_state {
  weft_group *g;
  weft_join_handle *h;
} next_state;
static weft_poll next_poll(void *st, weft_context *cx, void *out) {
  next_state *n = st;
  (void)out;
  return weft_group_poll_next(n->g, cx, &n->h);
}
static const weft_future_vtable next_vt = {sizeof(weft_future_vtable),
                                           next_poll, NULL};

static weft_join_handle *group_next(weft_runtime *rt, weft_group *g) {
  next_state n = {g, NULL};
  assert_int_equal(weft_block_on(rt, &next_vt, &n, NULL), 0);
  return n.h;
}

static void test_group_yields_in_finish_order_and_aborts(void **st) {
  (void)st;
  enum { N = 6 };
  weft_runtime *rt = tk_runtime(2);
  weft_group *g;
  weft_oneshot_tx *tx[N];
  atomic_store(&g_drops, 0);
  assert_int_equal(weft_group_new(rt, &g), 0);
  for (int i = 0; i < N; i++) {
    waiter_task w = {0};
    assert_int_equal(weft_oneshot_new(sizeof(int), &tx[i], &w.rx), 0);
    assert_int_equal(weft_group_spawn(g, &waiter_vt, &w, sizeof w, sizeof(int)),
                     0);
  }
  assert_int_equal(weft_group_len(g), N);
  /* Finish 4, then 1: the group yields them in that order. */
  int order[] = {4, 1};
  for (int k = 0; k < 2; k++) {
    int v = 100 + order[k];
    assert_int_equal(weft_oneshot_send(tx[order[k]], &v), 0);
    tx[order[k]] = NULL;
    weft_join_handle *h = group_next(rt, g);
    assert_non_null(h);
    weft_join_result r;
    assert_int_equal(weft_join_wait(h, 1000, &r), 0);
    assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
    assert_int_equal(*(int *)r.output, 100 + order[k]);
    weft_join_free(h);
  }
  assert_int_equal(weft_group_len(g), N - 2);
  /* Abort all: the rest come back cancelled. */
  assert_int_equal(weft_group_abort_all(g), 0);
  for (int k = 0; k < N - 2; k++) {
    weft_join_handle *h = group_next(rt, g);
    assert_non_null(h);
    weft_join_result r;
    assert_int_equal(weft_join_wait(h, 1000, &r), 0);
    assert_int_equal(r.status, WEFT_JOIN_CANCELLED);
    weft_join_free(h);
  }
  assert_null(group_next(rt, g));
  assert_int_equal(atomic_load(&g_drops), N);
  weft_group_free(g);
  for (int i = 0; i < N; i++)
    weft_oneshot_tx_free(tx[i]);

  /* Freeing a group aborts what it still holds. */
  atomic_store(&g_drops, 0);
  assert_int_equal(weft_group_new(rt, &g), 0);
  for (int i = 0; i < N; i++) {
    waiter_task w = {0};
    assert_int_equal(weft_oneshot_new(sizeof(int), &tx[i], &w.rx), 0);
    assert_int_equal(weft_group_spawn(g, &waiter_vt, &w, sizeof w, sizeof(int)),
                     0);
  }
  weft_group_free(g);
  weft_runtime_free(rt); /* waits for the aborted tasks to be dropped */
  assert_int_equal(atomic_load(&g_drops), N);
  for (int i = 0; i < N; i++)
    weft_oneshot_tx_free(tx[i]);
}

/* ---- cancellation tokens ---------------------------------------------------- */

static void test_cancel_propagates_to_children_only(void **st) {
  (void)st;
  tw t;
  weft_context *c = tw_init(&t);
  weft_cancellation_token *root, *mid, *leaf, *other;
  assert_int_equal(weft_cancellation_token_new(&root), 0);
  assert_int_equal(weft_cancellation_token_child(root, &mid), 0);
  assert_int_equal(weft_cancellation_token_child(mid, &leaf), 0);
  assert_int_equal(weft_cancellation_token_child(root, &other), 0);
  weft_future *f;
  assert_int_equal(weft_cancellation_token_cancelled(leaf, &f), 0);
  assert_int_equal(poll_rc(f, c), 1);
  /* Freeing the middle keeps the leaf attached to the root. */
  weft_cancellation_token_free(mid);
  /* Cancelling a child does not touch its parent or siblings. */
  weft_cancellation_token *x;
  assert_int_equal(weft_cancellation_token_child(other, &x), 0);
  weft_cancellation_token_cancel(other);
  assert_true(weft_cancellation_token_is_cancelled(x));
  assert_false(weft_cancellation_token_is_cancelled(root));
  assert_false(weft_cancellation_token_is_cancelled(leaf));
  assert_int_equal(tw_take(&t), 0);
  weft_cancellation_token_cancel(root);
  assert_int_equal(tw_take(&t), 1);
  assert_true(weft_cancellation_token_is_cancelled(leaf));
  /* The future holds its own reference: the token may go first. */
  weft_cancellation_token_free(leaf);
  assert_int_equal(poll_rc(f, c), 0);
  weft_future_free(f);
  /* A child of a cancelled token starts cancelled. */
  weft_cancellation_token *late;
  assert_int_equal(weft_cancellation_token_child(root, &late), 0);
  assert_true(weft_cancellation_token_is_cancelled(late));
  /* A dropped pending wait leaves nothing behind. */
  weft_cancellation_token *fresh;
  assert_int_equal(weft_cancellation_token_new(&fresh), 0);
  assert_int_equal(weft_cancellation_token_cancelled(fresh, &f), 0);
  assert_int_equal(poll_rc(f, c), 1);
  weft_future_free(f);
  weft_cancellation_token_free(fresh);
  weft_cancellation_token_free(late);
  weft_cancellation_token_free(x);
  weft_cancellation_token_free(other);
  weft_cancellation_token_free(root);
  assert_int_equal(atomic_load(&t.refs), 0);
}

/* Stress: tasks wait on child tokens (and some give up) while plain
 * threads make children and cancel subtrees; every waiter finishes. */
typedef struct ct_task {
  weft_future *f;
} ct_task;
static weft_poll ct_poll(void *st, weft_context *cx, void *out) {
  (void)out;
  return weft_future_poll(((ct_task *)st)->f, cx);
}
static void ct_drop(void *st) { weft_future_free(((ct_task *)st)->f); }
static const weft_future_vtable ct_vt = {sizeof(weft_future_vtable), ct_poll,
                                         ct_drop};

typedef struct ct_thr {
  weft_runtime *rt;
  weft_cancellation_token *root;
  long rounds;
} ct_thr;

static void *ct_main(void *a) {
  ct_thr *t = a;
  enum { K = 8 };
  for (long r = 0; r < t->rounds; r++) {
    weft_cancellation_token *mid, *kids[K];
    weft_join_handle *h[K];
    assert_int_equal(weft_cancellation_token_child(t->root, &mid), 0);
    for (int i = 0; i < K; i++) {
      ct_task ct;
      assert_int_equal(weft_cancellation_token_child(mid, &kids[i]), 0);
      assert_int_equal(weft_cancellation_token_cancelled(kids[i], &ct.f), 0);
      assert_int_equal(weft_spawn(t->rt, &ct_vt, &ct, sizeof ct, 0, &h[i]),
                       0);
      if (i % 2)
        weft_cancellation_token_free(kids[i]), kids[i] = NULL;
    }
    weft_join_abort(h[0]); /* one gives up its wait */
    weft_cancellation_token_cancel(mid);
    for (int i = 0; i < K; i++) {
      weft_join_result res;
      assert_int_equal(weft_join_wait(h[i], 10000, &res), 0);
      if (i != 0)
        assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
      weft_join_free(h[i]);
      weft_cancellation_token_free(kids[i]);
    }
    weft_cancellation_token_free(mid);
  }
  return NULL;
}

static void test_cancel_stress_threads_and_tasks(void **st) {
  (void)st;
  enum { THREADS = 3 };
  weft_runtime *rt = tk_runtime(2);
  weft_cancellation_token *root;
  assert_int_equal(weft_cancellation_token_new(&root), 0);
  ct_thr a = {rt, root, tk_scaled(300)};
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, ct_main, &a), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  assert_false(weft_cancellation_token_is_cancelled(root));
  weft_cancellation_token_free(root);
  weft_runtime_free(rt);
}

/* Stress for groups: many short tasks finishing on two workers while a plain
 * thread collects them. */
typedef struct yield_task {
  int yielded;
  int v;
} yield_task;
static weft_poll yield_poll(void *st, weft_context *cx, void *out) {
  yield_task *y = st;
  if (weft_yield_now(&y->yielded, cx) != WEFT_READY)
    return WEFT_PENDING;
  memcpy(out, &y->v, sizeof y->v);
  return WEFT_READY;
}
static const weft_future_vtable yield_vt = {sizeof(weft_future_vtable),
                                            yield_poll, NULL};

static void test_group_stress_collects_every_task(void **st) {
  (void)st;
  weft_runtime *rt = tk_runtime(2);
  weft_group *g;
  assert_int_equal(weft_group_new(rt, &g), 0);
  long n = tk_scaled(2000), sum = 0, want = 0;
  for (long i = 0; i < n; i++) {
    yield_task y = {0, (int)i};
    want += i;
    assert_int_equal(weft_group_spawn(g, &yield_vt, &y, sizeof y, sizeof(int)),
                     0);
  }
  long got = 0;
  weft_join_handle *h;
  while ((h = group_next(rt, g)) != NULL) {
    weft_join_result r;
    assert_int_equal(weft_join_wait(h, 0, &r), 0);
    assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
    sum += *(int *)r.output;
    got++;
    weft_join_free(h);
  }
  assert_int_equal(got, n);
  assert_int_equal(sum, want);
  weft_group_free(g);
  weft_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_select_drops_losers),
      cmocka_unit_test(test_join_all_waits_for_every_child),
      cmocka_unit_test(test_group_yields_in_finish_order_and_aborts),
      cmocka_unit_test(test_group_stress_collects_every_task),
      cmocka_unit_test(test_cancel_propagates_to_children_only),
      cmocka_unit_test(test_cancel_stress_threads_and_tasks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
