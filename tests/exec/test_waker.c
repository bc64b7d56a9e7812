/* tests/exec/test_waker.c: the waker contract of weft/future.h, on real
 * worker threads and foreign threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

/* A task that keeps a clone of its waker in shared state and completes
 * when `finish` is set. Counts polls and drops. */
struct probe {
  pthread_mutex_t mu;
  weft_waker w; /* clone of the task's waker, under mu */
  atomic_int polls;
  atomic_int drops;
  atomic_int finish;
  atomic_int self_wakes; /* wake_by_ref this many times during next poll */
  atomic_int in_poll;
  atomic_int release_poll; /* poll waits for this before returning */
  int block_in_poll;
};

static weft_poll probe_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct probe *p = *(struct probe **)s;
  atomic_fetch_add(&p->polls, 1);
  pthread_mutex_lock(&p->mu);
  if (!p->w.vtable)
    weft_waker_clone(weft_context_waker(cx), &p->w);
  pthread_mutex_unlock(&p->mu);
  int n = atomic_exchange(&p->self_wakes, 0);
  for (int i = 0; i < n; i++)
    weft_waker_wake_by_ref(weft_context_waker(cx));
  if (p->block_in_poll) {
    p->block_in_poll = 0;
    atomic_store(&p->in_poll, 1);
    while (!atomic_load(&p->release_poll))
      usleep(100);
  }
  return atomic_load(&p->finish) ? WEFT_READY : WEFT_PENDING;
}
static void probe_drop(void *s) {
  struct probe *p = *(struct probe **)s;
  atomic_fetch_add(&p->drops, 1);
}
static const weft_future_vtable probe_vt = {sizeof(weft_future_vtable),
                                            probe_poll, probe_drop};

static void probe_init(struct probe *p) {
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->mu, NULL);
}
static void probe_wake(struct probe *p) {
  pthread_mutex_lock(&p->mu);
  weft_waker_wake_by_ref(&p->w);
  pthread_mutex_unlock(&p->mu);
}
static void probe_drop_waker(struct probe *p) {
  pthread_mutex_lock(&p->mu);
  weft_waker_drop(&p->w);
  pthread_mutex_unlock(&p->mu);
}
static void wait_polls(struct probe *p, int n) {
  for (int i = 0; i < 4000 && atomic_load(&p->polls) < n; i++)
    usleep(500);
  assert_true(atomic_load(&p->polls) >= n);
}

static void test_waker_wake_after_completion(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 2);
  struct probe p;
  probe_init(&p);
  struct probe *pp = &p;
  atomic_store(&p.finish, 1);
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &probe_vt, &pp, sizeof pp, 0, &h), 0);
  assert_int_equal(weft_join_wait(h, 5000, NULL), 0);
  assert_int_equal(atomic_load(&p.polls), 1);
  /* The kept waker outlives the task's completion: waking does nothing. */
  for (int i = 0; i < 10; i++)
    probe_wake(&p);
  weft_waker c;
  assert_int_equal(weft_waker_clone(&p.w, &c), 0);
  weft_waker_wake(&c);
  assert_null(c.vtable);
  usleep(20000);
  assert_int_equal(atomic_load(&p.polls), 1);
  assert_int_equal(atomic_load(&p.drops), 1);
  weft_join_free(h);
  /* Even after the runtime is freed. */
  weft_runtime_free(rt);
  probe_wake(&p);
  probe_drop_waker(&p);
}

static void test_waker_wake_during_poll_polls_once_more(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 2);
  struct probe p;
  probe_init(&p);
  struct probe *pp = &p;
  p.block_in_poll = 1;
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &probe_vt, &pp, sizeof pp, 0, &h), 0);
  while (!atomic_load(&p.in_poll))
    usleep(100);
  /* Wake from this (foreign) thread while the poll runs, several times:
   * they merge into exactly one more poll. */
  probe_wake(&p);
  probe_wake(&p);
  probe_wake(&p);
  atomic_store(&p.release_poll, 1);
  wait_polls(&p, 2);
  usleep(30000);
  assert_int_equal(atomic_load(&p.polls), 2);
  /* Self-wakes during a poll also give exactly one more poll. */
  atomic_store(&p.self_wakes, 5);
  probe_wake(&p);
  wait_polls(&p, 4);
  usleep(30000);
  assert_int_equal(atomic_load(&p.polls), 4);
  atomic_store(&p.finish, 1);
  probe_wake(&p);
  assert_int_equal(weft_join_wait(h, 5000, NULL), 0);
  assert_int_equal(atomic_load(&p.polls), 5);
  probe_drop_waker(&p);
  weft_join_free(h);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&p.drops), 1);
}

static void *foreign_waker(void *arg) {
  struct probe *p = arg;
  /* The first poll stores the waker; a wake before it would be a no-op
   * (in the current-thread flavour this thread starts before block_on
   * polls), and the count below would come out one short. */
  while (atomic_load(&p->polls) == 0)
    usleep(50);
  for (int i = 0; i < 100; i++) {
    int before = atomic_load(&p->polls);
    probe_wake(p);
    while (atomic_load(&p->polls) == before)
      usleep(50);
  }
  atomic_store(&p->finish, 1);
  probe_wake(p);
  return NULL;
}

static void foreign_wake(weft_flavor fl) {
  weft_runtime *rt = test_runtime(fl, 2);
  struct probe p;
  probe_init(&p);
  struct probe *pp = &p;
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &probe_vt, &pp, sizeof pp, 0, &h), 0);
  pthread_t th;
  if (fl == WEFT_FLAVOR_MULTI_THREAD) {
    wait_polls(&p, 1);
    pthread_create(&th, NULL, foreign_waker, &p);
    assert_int_equal(weft_join_wait(h, 10000, NULL), 0);
  } else {
    /* The main thread drives the runtime inside block_on while a foreign
     * thread wakes the task. */
    pthread_create(&th, NULL, foreign_waker, &p);
    struct join_fut j = {h, {0}};
    assert_int_equal(weft_block_on(rt, &join_fut_vt, &j, NULL), 0);
    assert_int_equal(j.res.status, WEFT_JOIN_COMPLETED);
  }
  pthread_join(th, NULL);
  assert_true(atomic_load(&p.polls) >= 101);
  probe_drop_waker(&p);
  weft_join_free(h);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&p.drops), 1);
}
static void test_waker_foreign_thread_multi(void **st) {
  (void)st;
  foreign_wake(WEFT_FLAVOR_MULTI_THREAD);
}
static void test_waker_foreign_thread_current(void **st) {
  (void)st;
  foreign_wake(WEFT_FLAVOR_CURRENT_THREAD);
}

/* Merged wakes: on a current-thread runtime nothing runs between
 * block_on calls, so ten wakes of an idle task give exactly one poll. */
static weft_poll yield_twice_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  int *n = s;
  if ((*n)++ < 2) {
    weft_waker_wake_by_ref(weft_context_waker(cx));
    return WEFT_PENDING;
  }
  return WEFT_READY;
}
static const weft_future_vtable yield_twice_vt = {sizeof(weft_future_vtable),
                                                  yield_twice_poll, NULL};
static void test_waker_merged_wakes(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_CURRENT_THREAD, 1);
  struct probe p;
  probe_init(&p);
  struct probe *pp = &p;
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &probe_vt, &pp, sizeof pp, 0, &h), 0);
  int n = 0;
  assert_int_equal(weft_block_on(rt, &yield_twice_vt, &n, NULL), 0);
  assert_int_equal(atomic_load(&p.polls), 1);
  for (int i = 0; i < 10; i++)
    probe_wake(&p);
  weft_waker c;
  weft_waker_clone(&p.w, &c);
  weft_waker_wake(&c);
  n = 0;
  assert_int_equal(weft_block_on(rt, &yield_twice_vt, &n, NULL), 0);
  assert_int_equal(atomic_load(&p.polls), 2);
  probe_drop_waker(&p);
  weft_join_free(h);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&p.drops), 1);
}

/* Clone/drop balance of the weft_waker_* helpers, on a counting waker. */
static atomic_int live;
static atomic_int wakes;
static const weft_waker_vtable counting_vt;
static weft_waker counting_clone(const void *d) {
  atomic_fetch_add(&live, 1);
  weft_waker w = {d, &counting_vt};
  return w;
}
static void counting_wake(const void *d) {
  (void)d;
  atomic_fetch_add(&wakes, 1);
  atomic_fetch_sub(&live, 1);
}
static void counting_wake_by_ref(const void *d) {
  (void)d;
  atomic_fetch_add(&wakes, 1);
}
static void counting_drop(const void *d) {
  (void)d;
  atomic_fetch_sub(&live, 1);
}
static const weft_waker_vtable counting_vt = {
    counting_clone, counting_wake, counting_wake_by_ref, counting_drop};

static void test_waker_clone_drop_balance(void **st) {
  (void)st;
  atomic_store(&live, 1);
  weft_waker root = {&live, &counting_vt};
  weft_waker c[100];
  for (int i = 0; i < 100; i++)
    assert_int_equal(weft_waker_clone(&root, &c[i]), 0);
  assert_int_equal(atomic_load(&live), 101);
  assert_true(weft_waker_will_wake(&root, &c[5]));
  for (int i = 0; i < 50; i++)
    weft_waker_wake(&c[i]);
  for (int i = 50; i < 100; i++) {
    weft_waker_wake_by_ref(&c[i]);
    weft_waker_drop(&c[i]);
    assert_null(c[i].vtable);
    weft_waker_drop(&c[i]); /* "no waker": nothing happens */
  }
  assert_int_equal(atomic_load(&live), 1);
  assert_int_equal(atomic_load(&wakes), 100);
  weft_waker none = {NULL, NULL};
  weft_waker out;
  assert_int_equal(weft_waker_clone(&none, &out), 0);
  assert_null(out.vtable);
  weft_waker_wake(&none);
  assert_false(weft_waker_will_wake(&root, &none));
}

/* Clone/drop balance on real task wakers: many clones taken and released
 * from several threads; the task must complete and be freed exactly once
 * (ASan/LSan check the freeing in the sanitizer builds). */
static void *clone_churn(void *arg) {
  struct probe *p = arg;
  for (int i = 0; i < 20000; i++) {
    weft_waker c;
    pthread_mutex_lock(&p->mu);
    weft_waker_clone(&p->w, &c);
    pthread_mutex_unlock(&p->mu);
    if (i % 3 == 0)
      weft_waker_wake(&c);
    else
      weft_waker_drop(&c);
  }
  return NULL;
}
static void test_waker_task_clone_drop_balance(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 2);
  struct probe p;
  probe_init(&p);
  struct probe *pp = &p;
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &probe_vt, &pp, sizeof pp, 0, &h), 0);
  wait_polls(&p, 1);
  pthread_t th[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&th[i], NULL, clone_churn, &p);
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  atomic_store(&p.finish, 1);
  probe_wake(&p);
  assert_int_equal(weft_join_wait(h, 5000, NULL), 0);
  probe_drop_waker(&p);
  weft_join_free(h);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&p.drops), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_waker_wake_after_completion),
      cmocka_unit_test(test_waker_wake_during_poll_polls_once_more),
      cmocka_unit_test(test_waker_foreign_thread_multi),
      cmocka_unit_test(test_waker_foreign_thread_current),
      cmocka_unit_test(test_waker_merged_wakes),
      cmocka_unit_test(test_waker_clone_drop_balance),
      cmocka_unit_test(test_waker_task_clone_drop_balance),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
