/* tests/toolkit/test_sync.c: Notify, Semaphore, Mutex and RwLock: FIFO
 * order, permits handed on when a waiter gives up, closing with waiters,
 * and a multi-thread stress run on a real runtime. */
#include <pthread.h>

#include "tk_test.h"

static int poll_rc(weft_future *f, weft_context *cx) {
  if (weft_future_poll(f, cx) != WEFT_READY)
    return 1;
  return weft_future_result(f);
}

static void test_notify_permit_and_waiters(void **st) {
  (void)st;
  tw t1, t2, t3;
  weft_context *c1 = tw_init(&t1), *c2 = tw_init(&t2), *c3 = tw_init(&t3);
  weft_notify *n;
  assert_int_equal(weft_notify_new(&n), 0);
  /* notify_one with nobody waiting stores one permit (not two). */
  weft_notify_one(n);
  weft_notify_one(n);
  weft_future *a, *b, *c;
  assert_int_equal(weft_notify_notified(n, &a), 0);
  assert_int_equal(poll_rc(a, c1), 0);
  weft_future_free(a);
  assert_int_equal(weft_notify_notified(n, &a), 0);
  assert_int_equal(poll_rc(a, c1), 1);
  /* notify_waiters wakes futures made before it, even unpolled ones, and
   * stores nothing. */
  assert_int_equal(weft_notify_notified(n, &b), 0);
  weft_notify_waiters(n);
  assert_int_equal(tw_take(&t1), 1);
  assert_int_equal(poll_rc(a, c1), 0);
  assert_int_equal(poll_rc(b, c2), 0);
  weft_future_free(a);
  weft_future_free(b);
  assert_int_equal(weft_notify_notified(n, &c), 0);
  assert_int_equal(poll_rc(c, c3), 1);
  /* A notification handed to a future that is dropped before consuming it
   * goes to the next waiter. */
  assert_int_equal(weft_notify_notified(n, &a), 0);
  assert_int_equal(poll_rc(a, c1), 1);
  weft_notify_one(n); /* goes to c, the first waiter */
  assert_int_equal(tw_take(&t3), 1);
  weft_future_free(c);
  assert_int_equal(tw_take(&t1), 1);
  assert_int_equal(poll_rc(a, c1), 0);
  weft_future_free(a);
  /* ... and with nobody left, it becomes the permit. */
  assert_int_equal(weft_notify_notified(n, &a), 0);
  assert_int_equal(poll_rc(a, c1), 1);
  weft_notify_one(n);
  weft_future_free(a);
  assert_int_equal(weft_notify_notified(n, &a), 0);
  assert_int_equal(poll_rc(a, c1), 0);
  weft_future_free(a);
  weft_notify_free(n);
  assert_int_equal(atomic_load(&t1.refs) + atomic_load(&t2.refs) +
                       atomic_load(&t3.refs),
                   0);
}

static void test_semaphore_fifo_and_drop_passes_permits(void **st) {
  (void)st;
  tw ta, tb, tc;
  weft_context *ca = tw_init(&ta), *cb = tw_init(&tb), *cc = tw_init(&tc);
  weft_semaphore *s;
  assert_int_equal(weft_semaphore_new(3, &s), 0);
  weft_future *a, *b, *c;
  assert_int_equal(weft_semaphore_acquire_many(s, 2, &a), 0);
  assert_int_equal(poll_rc(a, ca), 0);
  assert_int_equal(weft_semaphore_acquire_many(s, 2, &b), 0);
  assert_int_equal(poll_rc(b, cb), 1);
  /* FIFO: c waits behind b although one permit is free. */
  assert_int_equal(weft_semaphore_acquire(s, &c), 0);
  assert_int_equal(poll_rc(c, cc), 1);
  assert_int_equal(weft_semaphore_try_acquire(s, 1), WEFT_EAGAIN);
  assert_int_equal(weft_semaphore_available(s), 1);
  assert_int_equal(weft_semaphore_release(s, 1), 0);
  assert_int_equal(tw_take(&tb), 1); /* b has its 2 permits now */
  assert_int_equal(tw_take(&tc), 0);
  /* b is dropped unpolled: its permits go on to c, one is left over. */
  weft_future_free(b);
  assert_int_equal(tw_take(&tc), 1);
  assert_int_equal(poll_rc(c, cc), 0);
  assert_int_equal(weft_semaphore_available(s), 1);
  weft_future_free(a);
  weft_future_free(c);
  /* A dropped head waiter lets the ones behind it through. */
  assert_int_equal(weft_semaphore_acquire_many(s, 5, &a), 0);
  assert_int_equal(poll_rc(a, ca), 1);
  assert_int_equal(weft_semaphore_acquire(s, &b), 0);
  assert_int_equal(poll_rc(b, cb), 1);
  weft_future_free(a);
  assert_int_equal(tw_take(&tb), 1);
  assert_int_equal(poll_rc(b, cb), 0);
  weft_future_free(b);
  /* Four permits exist now (three plus the one released above) and every
   * one is held or free: holding 4, releasing 3 leaves 3 available. */
  assert_int_equal(weft_semaphore_release(s, 3), 0);
  assert_int_equal(weft_semaphore_available(s), 3);
  assert_int_equal(weft_semaphore_release(s, WEFT_SEMAPHORE_MAX_PERMITS),
                   WEFT_EOVERFLOW);
  weft_semaphore_free(s);
  assert_int_equal(atomic_load(&ta.refs) + atomic_load(&tb.refs) +
                       atomic_load(&tc.refs),
                   0);
}

static void test_semaphore_close_wakes_waiters(void **st) {
  (void)st;
  tw ta, tb;
  weft_context *ca = tw_init(&ta), *cb = tw_init(&tb);
  weft_semaphore *s;
  assert_int_equal(weft_semaphore_new(0, &s), 0);
  weft_future *a, *b;
  assert_int_equal(weft_semaphore_acquire(s, &a), 0);
  assert_int_equal(weft_semaphore_acquire_many(s, 4, &b), 0);
  assert_int_equal(poll_rc(a, ca), 1);
  assert_int_equal(poll_rc(b, cb), 1);
  weft_semaphore_close(s);
  assert_int_equal(tw_take(&ta), 1);
  assert_int_equal(tw_take(&tb), 1);
  assert_int_equal(poll_rc(a, ca), WEFT_ECLOSED);
  assert_int_equal(poll_rc(b, cb), WEFT_ECLOSED);
  assert_int_equal(weft_semaphore_try_acquire(s, 1), WEFT_ECLOSED);
  weft_future_free(a);
  weft_future_free(b);
  weft_semaphore_free(s);
  assert_int_equal(atomic_load(&ta.refs) + atomic_load(&tb.refs), 0);
}

static void test_mutex_fifo_order(void **st) {
  (void)st;
  enum { N = 4 };
  tw t[N];
  weft_context *c[N];
  weft_future *f[N];
  weft_mutex *m;
  assert_int_equal(weft_mutex_new(sizeof(int), &m), 0);
  assert_int_equal(weft_mutex_try_lock(m), 0);
  assert_int_equal(weft_mutex_try_lock(m), WEFT_EBUSY);
  for (int i = 0; i < N; i++) {
    c[i] = tw_init(&t[i]);
    assert_int_equal(weft_mutex_lock(m, &f[i]), 0);
    assert_int_equal(poll_rc(f[i], c[i]), 1);
  }
  weft_future_free(f[1]); /* gives up while queued */
  f[1] = NULL;
  int order[] = {0, 2, 3};
  for (int k = 0; k < 3; k++) {
    assert_int_equal(weft_mutex_unlock(m), 0);
    for (int i = 0; i < N; i++)
      assert_int_equal(tw_take(&t[i]), i == order[k]);
    if (k == 1) {
      /* Holder 2 was handed the lock and drops it unpolled: it goes to 3. */
      weft_future_free(f[2]);
      f[2] = NULL;
      assert_int_equal(tw_take(&t[3]), 1);
      assert_int_equal(poll_rc(f[3], c[3]), 0);
      break;
    }
    assert_int_equal(poll_rc(f[order[k]], c[order[k]]), 0);
    *(int *)weft_mutex_data(m) += 1;
  }
  assert_int_equal(*(int *)weft_mutex_data(m), 1);
  assert_int_equal(weft_mutex_unlock(m), 0);
  assert_int_equal(weft_mutex_unlock(m), WEFT_EINVAL); /* not held */
  assert_int_equal(weft_mutex_try_lock(m), 0);
  assert_int_equal(weft_mutex_unlock(m), 0);
  for (int i = 0; i < N; i++) {
    weft_future_free(f[i]);
    assert_int_equal(atomic_load(&t[i].refs), 0);
  }
  weft_mutex_free(m);
}

static void test_rwlock_writer_not_starved(void **st) {
  (void)st;
  tw tw1, tr;
  weft_context *cw = tw_init(&tw1), *cr = tw_init(&tr);
  weft_rwlock *l;
  assert_int_equal(weft_rwlock_new(0, &l), 0);
  assert_int_equal(weft_rwlock_try_read(l), 0);
  assert_int_equal(weft_rwlock_try_read(l), 0);
  weft_future *w, *r;
  assert_int_equal(weft_rwlock_write(l, &w), 0);
  assert_int_equal(poll_rc(w, cw), 1);
  /* A reader that comes after a waiting writer waits too. */
  assert_int_equal(weft_rwlock_try_read(l), WEFT_EBUSY);
  assert_int_equal(weft_rwlock_read(l, &r), 0);
  assert_int_equal(poll_rc(r, cr), 1);
  assert_int_equal(weft_rwlock_read_unlock(l), 0);
  assert_int_equal(tw_take(&tw1), 0);
  assert_int_equal(weft_rwlock_read_unlock(l), 0);
  assert_int_equal(tw_take(&tw1), 1);
  assert_int_equal(poll_rc(w, cw), 0);
  assert_int_equal(weft_rwlock_write_unlock(l), 0);
  assert_int_equal(tw_take(&tr), 1);
  assert_int_equal(poll_rc(r, cr), 0);
  assert_int_equal(weft_rwlock_try_write(l), WEFT_EBUSY);
  assert_int_equal(weft_rwlock_read_unlock(l), 0);
  assert_int_equal(weft_rwlock_write_unlock(l), WEFT_EINVAL);
  weft_future_free(w);
  weft_future_free(r);
  weft_rwlock_free(l);
}

/* ---- stress --------------------------------------------------------------------
 * Tasks and plain threads increment a plain (non-atomic) counter guarded by
 * the async mutex; ThreadSanitizer checks the lock orders every access.
 * Tasks also take semaphore permits in varying amounts, sometimes giving up
 * a pending acquire, and check that no more permits are in use than exist. */

#define SEM_PERMITS 5
typedef struct shared {
  weft_mutex *m;
  weft_semaphore *s;
  _Atomic long in_use;
  _Atomic long over;
  long iters;
} shared;

typedef struct worker {
  weft_coro co;
  shared *sh;
  weft_future *f;
  long i;
  size_t n;
} worker;

static weft_poll worker_poll(void *st, weft_context *cx, void *out) {
  worker *w = st;
  (void)out;
  WEFT_CORO_BEGIN(&w->co);
  for (w->i = 0; w->i < w->sh->iters; w->i++) {
    assert_int_equal(weft_mutex_lock(w->sh->m, &w->f), 0);
    WEFT_AWAIT(&w->co, weft_future_poll(w->f, cx));
    weft_future_free(w->f);
    w->f = NULL;
    (*(long *)weft_mutex_data(w->sh->m))++;
    assert_int_equal(weft_mutex_unlock(w->sh->m), 0);

    w->n = 1 + (size_t)(w->i % 3);
    assert_int_equal(weft_semaphore_acquire_many(w->sh->s, w->n, &w->f), 0);
    if (w->i % 5 == 0 && weft_future_poll(w->f, cx) == WEFT_PENDING) {
      weft_future_free(w->f); /* give up; any permits handed over go on */
      w->f = NULL;
      continue;
    }
    WEFT_AWAIT(&w->co, weft_future_poll(w->f, cx));
    weft_future_free(w->f);
    w->f = NULL;
    if (atomic_fetch_add(&w->sh->in_use, (long)w->n) + (long)w->n >
        SEM_PERMITS)
      atomic_fetch_add(&w->sh->over, 1);
    WEFT_YIELD(&w->co, cx);
    atomic_fetch_sub(&w->sh->in_use, (long)w->n);
    assert_int_equal(weft_semaphore_release(w->sh->s, w->n), 0);
  }
  WEFT_CORO_END(&w->co);
}

static void worker_drop(void *st) { weft_future_free(((worker *)st)->f); }

static const weft_future_vtable worker_vt = {sizeof(weft_future_vtable),
                                             worker_poll, worker_drop};

typedef struct thr {
  shared *sh;
  weft_runtime *rt;
} thr;

static void *thr_main(void *a) {
  thr *t = a;
  for (long i = 0; i < t->sh->iters; i++) {
    weft_future *f;
    assert_int_equal(weft_mutex_lock(t->sh->m, &f), 0);
    assert_int_equal(tk_block_on_future(t->rt, f), 0);
    weft_future_free(f);
    (*(long *)weft_mutex_data(t->sh->m))++;
    assert_int_equal(weft_mutex_unlock(t->sh->m), 0);
  }
  return NULL;
}

static void test_sync_stress_tasks_and_threads(void **st) {
  (void)st;
  enum { TASKS = 16, THREADS = 2 };
  weft_runtime *rt = tk_runtime(2);
  shared sh = {.iters = tk_scaled(2000)};
  assert_int_equal(weft_mutex_new(sizeof(long), &sh.m), 0);
  assert_int_equal(weft_semaphore_new(SEM_PERMITS, &sh.s), 0);
  weft_join_handle *h[TASKS];
  for (int i = 0; i < TASKS; i++) {
    worker w = {.sh = &sh};
    assert_int_equal(weft_spawn(rt, &worker_vt, &w, sizeof w, 0, &h[i]), 0);
  }
  pthread_t th[THREADS];
  thr ta = {&sh, rt};
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, thr_main, &ta), 0);
  for (int i = 0; i < TASKS; i++) {
    weft_join_result r;
    assert_int_equal(weft_join_wait(h[i], -1, &r), 0);
    assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
    weft_join_free(h[i]);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  weft_runtime_free(rt);
  assert_int_equal(*(long *)weft_mutex_data(sh.m),
                   sh.iters * (TASKS + THREADS));
  assert_int_equal(atomic_load(&sh.over), 0);
  assert_int_equal(weft_semaphore_available(sh.s), SEM_PERMITS);
  weft_mutex_free(sh.m);
  weft_semaphore_free(sh.s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_notify_permit_and_waiters),
      cmocka_unit_test(test_semaphore_fifo_and_drop_passes_permits),
      cmocka_unit_test(test_semaphore_close_wakes_waiters),
      cmocka_unit_test(test_mutex_fifo_order),
      cmocka_unit_test(test_rwlock_writer_not_starved),
      cmocka_unit_test(test_sync_stress_tasks_and_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
