/* conformance/test_waker.c: the waker contract (weft/future.h) as every
 * backend must deliver it: clone/wake/wake_by_ref/drop from any thread, one
 * more poll per wake during a poll, merging, and no effect on a finished
 * task. The backend is involved because a wake from another thread must
 * get through its wake() to a runtime that sleeps in poll(). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "conf.h"

/* A task that records its polls and parks a clone of its waker where a
 * foreign thread can take it. The test thread and helpers read `polls`
 * with acquire loads, and the task stores it with release, so that the
 * saved waker written before the count is visible with it. */
typedef struct probe {
  _Atomic int polls;
  _Atomic int saved_ready; /* 1 once `saved` holds a clone */
  weft_waker saved;
  int ready_at; /* return READY on this poll (1-based) */
  int wakes_in_first_poll;
  _Atomic int dropped;
} probe;

static weft_poll probe_poll(void *arg, weft_context *cx) {
  probe *p = arg;
  int n = atomic_load_explicit(&p->polls, memory_order_relaxed) + 1;
  if (n == 1) {
    for (int i = 0; i < p->wakes_in_first_poll; i++)
      weft_waker_wake_by_ref(weft_context_waker(cx));
  }
  if (n >= p->ready_at) {
    atomic_store_explicit(&p->polls, n, memory_order_release);
    return WEFT_READY;
  }
  if (!atomic_load_explicit(&p->saved_ready, memory_order_relaxed) &&
      p->wakes_in_first_poll == 0) {
    assert_int_equal(weft_waker_clone(weft_context_waker(cx), &p->saved), 0);
    atomic_store_explicit(&p->saved_ready, 1, memory_order_release);
  }
  atomic_store_explicit(&p->polls, n, memory_order_release);
  return WEFT_PENDING;
}

static void wait_saved(probe *p) {
  uint64_t end = conf_real_ms() + 5000;
  while (!atomic_load_explicit(&p->saved_ready, memory_order_acquire)) {
    if (conf_real_ms() > end)
      fail_msg("the task was never polled");
    conf_sleep_ms(1);
  }
}

/* A thread that waits for the probe to park its waker, then wakes it. */
static void *waker_thread(void *arg) {
  probe *p = arg;
  wait_saved(p);
  conf_sleep_ms(5);
  weft_waker_wake(&p->saved);
  return NULL;
}

/* W: a clone woken from another thread wakes the same task, and wake()
 * consumes the waker it is given. */
static void test_waker_clone_woken_from_foreign_thread(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  probe p = {.ready_at = 2};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, probe_poll, &p, &h), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, waker_thread, &p), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  pthread_join(th, NULL);
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(atomic_load(&p.polls), 2);
  assert_null(p.saved.vtable); /* wake consumed it */
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* W: wakes made during a poll cause exactly one more poll, however many
 * there were (they merge), and no poll after that without a new wake. */
static void *late_waker_thread(void *arg) {
  probe *p = arg;
  /* Wait for the second poll, give the runtime time to poll a third time
   * if it (wrongly) would, then check and release the task. */
  uint64_t end = conf_real_ms() + 5000;
  while (atomic_load_explicit(&p->polls, memory_order_acquire) < 2 &&
         conf_real_ms() < end)
    conf_sleep_ms(1);
  conf_sleep_ms(30);
  int seen = atomic_load_explicit(&p->polls, memory_order_acquire);
  wait_saved(p);
  weft_waker_wake(&p->saved);
  return (void *)(intptr_t)seen;
}

static weft_poll merge_poll(void *arg, weft_context *cx) {
  probe *p = arg;
  int n = atomic_load_explicit(&p->polls, memory_order_relaxed) + 1;
  if (n == 1) {
    for (int i = 0; i < 3; i++)
      weft_waker_wake_by_ref(weft_context_waker(cx));
  } else if (n == 2) {
    assert_int_equal(weft_waker_clone(weft_context_waker(cx), &p->saved), 0);
    atomic_store_explicit(&p->saved_ready, 1, memory_order_release);
  }
  atomic_store_explicit(&p->polls, n, memory_order_release);
  return n >= 3 ? WEFT_READY : WEFT_PENDING;
}

static void test_waker_wake_during_poll_gives_one_more_poll(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  probe p = {0};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, merge_poll, &p, &h), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, late_waker_thread, &p), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  void *seen = NULL;
  pthread_join(th, &seen);
  assert_int_equal((int)(intptr_t)seen, 2);
  assert_int_equal(atomic_load(&p.polls), 3);
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* W: wake_by_ref does not consume; the same waker wakes twice. */
typedef struct twice {
  _Atomic int polls;
  weft_waker w;
  _Atomic int have;
} twice;

static weft_poll twice_poll(void *arg, weft_context *cx) {
  twice *t = arg;
  int n = atomic_load_explicit(&t->polls, memory_order_relaxed) + 1;
  if (n == 1) {
    assert_int_equal(weft_waker_clone(weft_context_waker(cx), &t->w), 0);
    atomic_store_explicit(&t->have, 1, memory_order_release);
  }
  atomic_store_explicit(&t->polls, n, memory_order_release);
  return n >= 3 ? WEFT_READY : WEFT_PENDING;
}

static void *twice_thread(void *arg) {
  twice *t = arg;
  while (!atomic_load_explicit(&t->have, memory_order_acquire))
    conf_sleep_ms(1);
  for (int target = 2; target <= 3; target++) {
    weft_waker_wake_by_ref(&t->w);
    uint64_t end = conf_real_ms() + 5000;
    while (atomic_load_explicit(&t->polls, memory_order_acquire) < target &&
           conf_real_ms() < end)
      conf_sleep_ms(1);
  }
  return NULL;
}

static void test_waker_wake_by_ref_keeps_waker(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  twice t = {0};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, twice_poll, &t, &h), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, twice_thread, &t), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  pthread_join(th, NULL);
  assert_int_equal(atomic_load(&t.polls), 3);
  assert_non_null(t.w.vtable); /* still ours: drop it */
  weft_waker_drop(&t.w);
  assert_null(t.w.vtable);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* W: waking a finished task does nothing (and is not a use-after-free:
 * the clone keeps what it needs alive). */
static weft_poll keep_clone_poll(void *arg, weft_context *cx) {
  weft_waker *w = arg;
  assert_int_equal(weft_waker_clone(weft_context_waker(cx), w), 0);
  return WEFT_READY;
}

static void test_waker_wake_after_completion_is_noop(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  weft_waker w[3];
  weft_join_handle *h[3];
  for (int i = 0; i < 3; i++)
    assert_int_equal(conf_spawn_fn(rt, keep_clone_poll, &w[i], &h[i]), 0);
  for (int i = 0; i < 3; i++) {
    weft_join_result res;
    conf_join(rt, h[i], &res);
    assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
    weft_join_free(h[i]);
  }
  weft_waker_wake_by_ref(&w[0]);
  weft_waker_wake(&w[0]);
  weft_waker_wake(&w[1]);
  weft_runtime_free(rt);
  /* After the runtime is gone too: still nothing, still no crash. */
  weft_waker_wake(&w[2]);
  assert_null(w[2].vtable);
}

/* W: clones balance with drops from any thread; will_wake tells tasks
 * apart. */
typedef struct clones {
  weft_waker w[64];
  int n;
  int same;
  int other_task_differs;
  weft_waker other;
} clones;

static void *drop_half_thread(void *arg) {
  clones *c = arg;
  for (int i = 0; i < c->n; i += 2)
    weft_waker_drop(&c->w[i]);
  return NULL;
}

static weft_poll clones_poll(void *arg, weft_context *cx) {
  clones *c = arg;
  const weft_waker *mine = weft_context_waker(cx);
  c->n = 64;
  for (int i = 0; i < c->n; i++)
    assert_int_equal(weft_waker_clone(mine, &c->w[i]), 0);
  c->same = weft_waker_will_wake(&c->w[7], mine);
  return WEFT_READY;
}

static weft_poll other_poll(void *arg, weft_context *cx) {
  weft_waker *w = arg;
  assert_int_equal(weft_waker_clone(weft_context_waker(cx), w), 0);
  return WEFT_READY;
}

static void test_waker_clone_drop_balance_any_thread(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  clones c = {0};
  weft_join_handle *h = NULL, *h2 = NULL;
  assert_int_equal(conf_spawn_fn(rt, clones_poll, &c, &h), 0);
  assert_int_equal(conf_spawn_fn(rt, other_poll, &c.other, &h2), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  conf_join(rt, h2, &res);
  assert_int_equal(c.same, 1);
  assert_int_equal(weft_waker_will_wake(&c.w[0], &c.other), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, drop_half_thread, &c), 0);
  for (int i = 1; i < c.n; i += 2)
    weft_waker_drop(&c.w[i]);
  pthread_join(th, NULL);
  weft_waker_drop(&c.other);
  weft_join_free(h);
  weft_join_free(h2);
  weft_runtime_free(rt);
}

/* W: "no waker" and NULL are accepted and do nothing. */
static void test_waker_null_and_empty_are_noops(void **state) {
  (void)state;
  weft_waker none = {NULL, NULL};
  weft_waker_wake(NULL);
  weft_waker_wake_by_ref(NULL);
  weft_waker_drop(NULL);
  weft_waker_wake(&none);
  weft_waker_wake_by_ref(&none);
  weft_waker_drop(&none);
  weft_waker out;
  assert_int_equal(weft_waker_clone(NULL, &out), WEFT_EINVAL);
  assert_int_equal(weft_waker_clone(&none, NULL), WEFT_EINVAL);
}

/* W: a wake that arrives before the task's first poll is not lost, and
 * does not cause more than one poll on its own. */
typedef struct early {
  _Atomic int polls;
  _Atomic int have;
  weft_waker w;
} early;

static weft_poll early_poll(void *arg, weft_context *cx) {
  early *e = arg;
  int n = atomic_fetch_add_explicit(&e->polls, 1, memory_order_acq_rel) + 1;
  if (n == 1) {
    /* Hand a clone out and return PENDING: the helper wakes it twice before
     * we could possibly be polled again. */
    assert_int_equal(weft_waker_clone(weft_context_waker(cx), &e->w), 0);
    atomic_store_explicit(&e->have, 1, memory_order_release);
    return WEFT_PENDING;
  }
  return WEFT_READY;
}

static void *early_thread(void *arg) {
  early *e = arg;
  while (!atomic_load_explicit(&e->have, memory_order_acquire))
    conf_sleep_ms(1);
  weft_waker_wake_by_ref(&e->w);
  weft_waker_wake(&e->w);
  return NULL;
}

static void test_waker_wakes_merge_into_one_poll(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  early e = {0};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, early_poll, &e, &h), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, early_thread, &e), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  pthread_join(th, NULL);
  /* Two wakes may give one poll or two, never a poll after READY. */
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(atomic_load(&e.polls), 2);
  weft_join_free(h);
  weft_runtime_free(rt);
}

static const conf_test tests[] = {
    CONF_TEST("W1", test_waker_clone_woken_from_foreign_thread, 0),
    CONF_TEST("W2", test_waker_wake_during_poll_gives_one_more_poll, 0),
    CONF_TEST("W3", test_waker_wake_by_ref_keeps_waker, 0),
    CONF_TEST("W4", test_waker_wake_after_completion_is_noop, 0),
    CONF_TEST("W5", test_waker_clone_drop_balance_any_thread, 0),
    CONF_TEST("W6", test_waker_null_and_empty_are_noops, 0),
    CONF_TEST("W7", test_waker_wakes_merge_into_one_poll, 0),
};

CONF_AREA(conf_area_waker, "waker", tests);
