/* conformance/test_wake.c: the backend's wake(). A runtime with nothing to
 * do sleeps inside the backend's poll; a wake or spawn from any other
 * thread must get through to it, every time, however the calls race and
 * however many there are. A lost wake-up shows up here as a test that
 * hangs until its deadline. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "conf.h"

/* A task that parks a clone of its waker for a helper thread and completes
 * after `rounds` wakes. The helper waits for each park (the `parks` count,
 * release-stored by the task after the clone is written) and wakes it. */
typedef struct pingpong {
  _Atomic int parks;
  _Atomic int polls;
  int rounds;
  weft_waker w;
  unsigned delay_ms; /* before each wake */
} pingpong;

static weft_poll pingpong_poll(void *arg, weft_context *cx) {
  pingpong *p = arg;
  int n = atomic_fetch_add_explicit(&p->polls, 1, memory_order_relaxed) + 1;
  if (n > p->rounds)
    return WEFT_READY;
  assert_int_equal(weft_waker_clone(weft_context_waker(cx), &p->w), 0);
  atomic_store_explicit(&p->parks, n, memory_order_release);
  return WEFT_PENDING;
}

static void *pingpong_thread(void *arg) {
  pingpong *p = arg;
  for (int i = 1; i <= p->rounds; i++) {
    uint64_t end = conf_real_ms() + 10000;
    while (atomic_load_explicit(&p->parks, memory_order_acquire) < i) {
      if (conf_real_ms() > end)
        return (void *)1;
    }
    if (p->delay_ms)
      conf_sleep_ms(p->delay_ms);
    weft_waker_wake(&p->w);
  }
  return NULL;
}

static void run_pingpong(int rounds, unsigned delay_ms) {
  weft_runtime *rt = conf_rt_new(2);
  pingpong p = {.rounds = rounds, .delay_ms = delay_ms};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, pingpong_poll, &p, &h), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, pingpong_thread, &p), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  void *bad = NULL;
  pthread_join(th, &bad);
  assert_null(bad);
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(atomic_load(&p.polls), rounds + 1);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* K: a wake from another thread reaches a runtime asleep in poll(-1). */
static void test_wake_reaches_runtime_asleep_in_poll(void **state) {
  (void)state;
  uint64_t t0 = conf_real_ms();
  run_pingpong(3, 30);
  /* Three 30 ms sleeps; the wakes themselves must not wait for anything. */
  assert_true(conf_real_ms() - t0 < 3000);
}

/* K: back-to-back wakes racing the task's return of PENDING: none lost. */
static void test_wake_races_with_park_never_lost(void **state) {
  (void)state;
  run_pingpong((int)conf_scaled(3000), 0);
}

/* K: wake storms from 4 threads merge, and the last one is never lost. */
typedef struct storm {
  _Atomic int polls;
  _Atomic int done_threads;
  _Atomic int have;
  weft_waker w;
  unsigned per_thread;
} storm;

static weft_poll storm_poll(void *arg, weft_context *cx) {
  storm *s = arg;
  atomic_fetch_add_explicit(&s->polls, 1, memory_order_relaxed);
  if (!atomic_load_explicit(&s->have, memory_order_relaxed)) {
    assert_int_equal(weft_waker_clone(weft_context_waker(cx), &s->w), 0);
    atomic_store_explicit(&s->have, 1, memory_order_release);
  }
  return atomic_load_explicit(&s->done_threads, memory_order_acquire) == 4
             ? WEFT_READY
             : WEFT_PENDING;
}

static void *storm_thread(void *arg) {
  storm *s = arg;
  while (!atomic_load_explicit(&s->have, memory_order_acquire))
    ;
  weft_waker mine;
  if (weft_waker_clone(&s->w, &mine) != 0)
    return (void *)1;
  for (unsigned i = 0; i < s->per_thread; i++)
    weft_waker_wake_by_ref(&mine);
  /* Count ourselves done before the last wake, so that the poll it causes
   * sees the count: that wake must not be lost. */
  atomic_fetch_add_explicit(&s->done_threads, 1, memory_order_release);
  weft_waker_wake(&mine);
  return NULL;
}

static void test_wake_storm_from_four_threads(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  storm s = {.per_thread = conf_scaled(50000)};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, storm_poll, &s, &h), 0);
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, storm_thread, &s), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  for (int i = 0; i < 4; i++) {
    void *bad = NULL;
    pthread_join(th[i], &bad);
    assert_null(bad);
  }
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  /* Wakes merge: never more polls than wakes (+ the first poll). */
  assert_true(atomic_load(&s.polls) <= (int)(4 * s.per_thread + 5));
  weft_waker_drop(&s.w);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* K: many parked tasks woken from two threads in opposite orders. */
typedef struct parked_task {
  _Atomic int have;
  weft_waker w;
  _Atomic int polls;
} parked_task;

static weft_poll parked_task_poll(void *arg, weft_context *cx) {
  parked_task *t = arg;
  if (atomic_fetch_add_explicit(&t->polls, 1, memory_order_relaxed) > 0)
    return WEFT_READY;
  assert_int_equal(weft_waker_clone(weft_context_waker(cx), &t->w), 0);
  atomic_store_explicit(&t->have, 1, memory_order_release);
  return WEFT_PENDING;
}

typedef struct many {
  parked_task *tasks;
  int n;
  int reverse;
} many;

static void *many_thread(void *arg) {
  many *m = arg;
  for (int k = 0; k < m->n; k++) {
    int i = m->reverse ? m->n - 1 - k : k;
    if (i % 2 != m->reverse)
      continue; /* each thread owns half the wakers */
    parked_task *t = &m->tasks[i];
    while (!atomic_load_explicit(&t->have, memory_order_acquire))
      conf_sleep_ms(1);
    weft_waker_wake(&t->w);
  }
  return NULL;
}

static void test_wake_many_tasks_from_two_threads(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  int n = 256;
  parked_task *tasks = calloc((size_t)n, sizeof *tasks);
  weft_join_handle **hs = calloc((size_t)n, sizeof *hs);
  assert_non_null(tasks);
  assert_non_null(hs);
  for (int i = 0; i < n; i++)
    assert_int_equal(conf_spawn_fn(rt, parked_task_poll, &tasks[i], &hs[i]),
                     0);
  many a = {tasks, n, 0}, b = {tasks, n, 1};
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, many_thread, &a), 0);
  assert_int_equal(pthread_create(&tb, NULL, many_thread, &b), 0);
  for (int i = 0; i < n; i++) {
    weft_join_result res;
    conf_join(rt, hs[i], &res);
    assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
    weft_join_free(hs[i]);
  }
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  for (int i = 0; i < n; i++)
    assert_int_equal(atomic_load(&tasks[i].polls), 2);
  free(tasks);
  free(hs);
  weft_runtime_free(rt);
}

/* K: spawn storms from 4 plain threads all get run. */
static weft_poll count_poll(void *arg, weft_context *cx) {
  (void)cx;
  atomic_fetch_add_explicit((_Atomic int *)arg, 1, memory_order_release);
  return WEFT_READY;
}

typedef struct spawn_storm {
  weft_runtime *rt;
  _Atomic int *ran;
  unsigned n;
  _Atomic int failed;
} spawn_storm;

static void *spawn_storm_thread(void *arg) {
  spawn_storm *s = arg;
  for (unsigned i = 0; i < s->n; i++)
    if (conf_spawn_fn(s->rt, count_poll, s->ran, NULL) != 0)
      atomic_fetch_add(&s->failed, 1);
  return NULL;
}

static weft_poll until_count_poll(void *arg, weft_context *cx) {
  spawn_storm *s = arg;
  if (atomic_load_explicit(s->ran, memory_order_acquire) >= (int)(4 * s->n))
    return WEFT_READY;
  /* Nothing wakes this root future when the count moves: poll it again
   * after the other tasks had their turn. */
  weft_waker_wake_by_ref(weft_context_waker(cx));
  return WEFT_PENDING;
}

static void test_wake_spawn_storm_from_four_threads(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int ran = 0;
  spawn_storm s = {rt, &ran, conf_scaled(5000), 0};
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, spawn_storm_thread, &s), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(atomic_load(&s.failed), 0);
  conf_block_on_fn(rt, until_count_poll, &s);
  assert_int_equal(atomic_load(&ran), (int)(4 * s.n));
  weft_runtime_free(rt);
}

/* K: freeing the runtime while a foreign thread keeps waking one of its
 * tasks: the wakes turn into no-ops, nothing is used after it is freed. */
typedef struct waking {
  _Atomic int have;
  _Atomic int stop;
  _Atomic long wakes;
  weft_waker w;
} waking;

static weft_poll hold_poll(void *arg, weft_context *cx) {
  waking *k = arg;
  if (!atomic_load_explicit(&k->have, memory_order_relaxed)) {
    assert_int_equal(weft_waker_clone(weft_context_waker(cx), &k->w), 0);
    atomic_store_explicit(&k->have, 1, memory_order_release);
  }
  return WEFT_PENDING; /* never finishes: shutdown drops it */
}

static void *waking_thread(void *arg) {
  waking *k = arg;
  while (!atomic_load_explicit(&k->have, memory_order_acquire))
    conf_sleep_ms(1);
  while (!atomic_load_explicit(&k->stop, memory_order_acquire)) {
    weft_waker_wake_by_ref(&k->w);
    atomic_fetch_add_explicit(&k->wakes, 1, memory_order_relaxed);
  }
  /* One more after the runtime is certainly gone. */
  weft_waker_wake(&k->w);
  return NULL;
}

static weft_poll first_poll_seen(void *arg, weft_context *cx) {
  waking *k = arg;
  if (atomic_load_explicit(&k->have, memory_order_acquire))
    return WEFT_READY;
  weft_waker_wake_by_ref(weft_context_waker(cx));
  return WEFT_PENDING;
}

static void test_wake_runtime_freed_while_foreign_thread_wakes(void **state) {
  (void)state;
  for (int round = 0; round < 5; round++) {
    weft_runtime *rt = conf_rt_new(2);
    waking k = {0};
    assert_int_equal(conf_spawn_fn(rt, hold_poll, &k, NULL), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, waking_thread, &k), 0);
    conf_block_on_fn(rt, first_poll_seen, &k);
    /* Free only once the thread is certainly in its waking loop (a loaded
     * machine can keep it off the CPU for longer than any fixed sleep). */
    uint64_t end = conf_real_ms() + 10000;
    while (atomic_load_explicit(&k.wakes, memory_order_relaxed) < 100 &&
           conf_real_ms() < end)
      conf_sleep_ms(1);
    weft_runtime_free(rt); /* while the thread wakes in a tight loop */
    conf_sleep_ms(2);
    atomic_store_explicit(&k.stop, 1, memory_order_release);
    pthread_join(th, NULL);
    assert_true(atomic_load(&k.wakes) > 0);
  }
}

static const conf_test tests[] = {
    CONF_TEST("K1", test_wake_reaches_runtime_asleep_in_poll, 0),
    CONF_TEST("K1", test_wake_races_with_park_never_lost, 0),
    CONF_TEST("K2", test_wake_storm_from_four_threads, 0),
    CONF_TEST("K2", test_wake_many_tasks_from_two_threads, 0),
    CONF_TEST("K1", test_wake_spawn_storm_from_four_threads, 0),
    CONF_TEST("K3", test_wake_runtime_freed_while_foreign_thread_wakes, 0),
};

CONF_AREA(conf_area_wake, "wake", tests);
