/* conformance/test_shutdown.c: tearing a runtime down on the backend under
 * test. The bugs this area rules out are the ones loop adapters ship most:
 * a use-after-free when a watcher or a waker outlives the loop, a task
 * dropped twice or never, a thread left blocked in the backend's poll. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "conf.h"

typedef struct idle {
  _Atomic int *drops;
  _Atomic int *polled;
  weft_waker *keep;
} idle;

static weft_poll idle_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  idle *k = p;
  if (k->keep && !k->keep->vtable)
    assert_int_equal(weft_waker_clone(weft_context_waker(cx), k->keep), 0);
  if (k->polled)
    atomic_fetch_add_explicit(k->polled, 1, memory_order_release);
  return WEFT_PENDING;
}

static void idle_drop(void *p) {
  idle *k = p;
  atomic_fetch_add_explicit(k->drops, 1, memory_order_relaxed);
}

static const weft_future_vtable idle_vt = {sizeof(weft_future_vtable),
                                           idle_poll, idle_drop};

/* Run the runtime until `n` tasks have been polled at least once. */
typedef struct until {
  _Atomic int *polled;
  int n;
} until;

static weft_poll until_poll(void *arg, weft_context *cx) {
  until *u = arg;
  if (atomic_load_explicit(u->polled, memory_order_acquire) >= u->n)
    return WEFT_READY;
  weft_waker_wake_by_ref(weft_context_waker(cx));
  return WEFT_PENDING;
}

static void run_until_polled(weft_runtime *rt, _Atomic int *polled, int n) {
  until u = {polled, n};
  conf_block_on_fn(rt, until_poll, &u);
}

/* D: shutdown drops every unfinished task exactly once, and their handles
 * resolve CANCELLED. */
static void test_shutdown_drops_waiting_tasks_once(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0, polled = 0;
  enum { N = 32 };
  weft_join_handle *h[N];
  for (int i = 0; i < N; i++) {
    idle k = {&drops, &polled, NULL};
    assert_int_equal(weft_spawn(rt, &idle_vt, &k, sizeof k, 0, &h[i]), 0);
  }
  run_until_polled(rt, &polled, N);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  assert_int_equal(atomic_load(&drops), N);
  for (int i = 0; i < N; i++) {
    weft_join_result res;
    assert_int_equal(weft_join_wait(h[i], 5000, &res), 0);
    assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
    weft_join_free(h[i]);
  }
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&drops), N);
}

/* D: tasks spawned but never polled are dropped too. */
static void test_shutdown_drops_never_polled_tasks(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new_current(); /* nothing runs them */
  _Atomic int drops = 0;
  for (int i = 0; i < 16; i++) {
    idle k = {&drops, NULL, NULL};
    assert_int_equal(weft_spawn_detached(rt, &idle_vt, &k, sizeof k), 0);
  }
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&drops), 16);
}

/* D: shutdown is idempotent; spawn and block_on afterwards are refused
 * with WEFT_ESHUTDOWN and the refused future is not dropped. */
static void test_shutdown_idempotent_then_refuses(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  assert_int_equal(weft_runtime_shutdown(rt, 0), 0);
  _Atomic int drops = 0;
  idle k = {&drops, NULL, NULL};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &idle_vt, &k, sizeof k, 0, &h),
                   WEFT_ESHUTDOWN);
  assert_null(h);
  assert_int_equal(weft_block_on(rt, &idle_vt, &k, NULL), WEFT_ESHUTDOWN);
  assert_int_equal(atomic_load(&drops), 0);
  assert_int_equal(weft_runtime_shutdown(NULL, 0), WEFT_EINVAL);
  weft_runtime_free(rt);
  weft_runtime_free(NULL);
}

/* D: join handles outlive the runtime and report CANCELLED. */
static void test_shutdown_handles_outlive_runtime(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0, polled = 0;
  weft_join_handle *h = NULL;
  idle k = {&drops, &polled, NULL};
  assert_int_equal(weft_spawn(rt, &idle_vt, &k, sizeof k, 0, &h), 0);
  run_until_polled(rt, &polled, 1);
  weft_runtime_free(rt);
  assert_int_equal(weft_join_is_finished(h), 1);
  weft_join_result res;
  assert_int_equal(weft_join_wait(h, 0, &res), 0);
  assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
  assert_int_equal(weft_join_abort(h), 0);
  weft_join_free(h);
}

/* D: shutdown from inside a task is refused with WEFT_EBUSY. */
static weft_poll shut_inside_poll(void *arg, weft_context *cx) {
  (void)cx;
  *(int *)arg = weft_runtime_shutdown(weft_runtime_current(), 0);
  return WEFT_READY;
}

static void test_shutdown_inside_task_is_busy(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  int rc = 1;
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, shut_inside_poll, &rc, &h), 0);
  conf_join(rt, h, NULL);
  assert_int_equal(rc, WEFT_EBUSY);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* D: a waker of a task that shutdown dropped, held by foreign code, is safe
 * to wake and drop after the runtime is freed. */
static void test_shutdown_waker_outlives_runtime(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0, polled = 0;
  weft_waker keep = {0};
  idle k = {&drops, &polled, &keep};
  assert_int_equal(weft_spawn_detached(rt, &idle_vt, &k, sizeof k), 0);
  run_until_polled(rt, &polled, 1);
  weft_waker second;
  assert_int_equal(weft_waker_clone(&keep, &second), 0);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&drops), 1);
  weft_waker_wake_by_ref(&keep);
  weft_waker_wake(&keep);
  weft_waker_drop(&second);
}

/* D: shutdown while plain threads keep spawning: every spawn either fails
 * with WEFT_ESHUTDOWN or gives a handle that resolves. */
typedef struct racer {
  weft_runtime *rt;
  _Atomic int *drops;
  weft_join_handle *hs[4096];
  int n;
  int bad_rc;
} racer;

static void *racer_thread(void *arg) {
  racer *r = arg;
  while (r->n < 4096) {
    idle k = {r->drops, NULL, NULL};
    weft_join_handle *h = NULL;
    int rc = weft_spawn(r->rt, &idle_vt, &k, sizeof k, 0, &h);
    if (rc == WEFT_ESHUTDOWN)
      break;
    if (rc != 0) {
      r->bad_rc = rc;
      break;
    }
    r->hs[r->n++] = h;
  }
  return NULL;
}

static void test_shutdown_races_with_spawning_threads(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0;
  racer *r = calloc(2, sizeof *r);
  assert_non_null(r);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    r[i].rt = rt;
    r[i].drops = &drops;
    assert_int_equal(pthread_create(&th[i], NULL, racer_thread, &r[i]), 0);
  }
  conf_sleep_ms(5);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  int total = 0;
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(r[i].bad_rc, 0);
    for (int j = 0; j < r[i].n; j++) {
      weft_join_result res;
      assert_int_equal(weft_join_wait(r[i].hs[j], 5000, &res), 0);
      assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
      weft_join_free(r[i].hs[j]);
      total++;
    }
  }
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&drops), total);
  free(r);
}

/* D: a future whose drop spawns during shutdown gets WEFT_ESHUTDOWN and
 * does not deadlock. */
typedef struct respawn {
  weft_runtime *rt;
  int *rc;
} respawn;

static weft_poll pending_poll(void *p, weft_context *cx, void *out) {
  (void)p;
  (void)cx;
  (void)out;
  return WEFT_PENDING;
}

static void respawn_drop(void *p) {
  respawn *r = p;
  respawn again = *r;
  static const weft_future_vtable plain = {sizeof(weft_future_vtable),
                                           pending_poll, NULL};
  *r->rc = weft_spawn_detached(r->rt, &plain, &again, sizeof again);
}

static const weft_future_vtable respawn_vt = {sizeof(weft_future_vtable),
                                              pending_poll, respawn_drop};

static void test_shutdown_drop_that_spawns_is_refused(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  int rc = 1;
  respawn r = {rt, &rc};
  assert_int_equal(weft_spawn_detached(rt, &respawn_vt, &r, sizeof r), 0);
  weft_runtime_free(rt);
  assert_int_equal(rc, WEFT_ESHUTDOWN);
}

/* D: repeated build/free cycles leave no thread or handle behind (the
 * sanitizer builds check the leaks; this checks it stays fast). */
static void test_shutdown_build_free_cycles(void **state) {
  (void)state;
  uint64_t t0 = conf_real_ms();
  for (unsigned i = 0; i < conf_scaled(50); i++) {
    weft_runtime *rt = conf_rt_new(2);
    weft_join_handle *h = NULL;
    _Atomic int drops = 0;
    idle k = {&drops, NULL, NULL};
    assert_int_equal(weft_spawn(rt, &idle_vt, &k, sizeof k, 0, &h), 0);
    weft_runtime_free(rt);
    weft_join_free(h);
    assert_int_equal(atomic_load(&drops), 1);
  }
  assert_true(conf_real_ms() - t0 < 15000);
}

static const conf_test tests[] = {
    CONF_TEST("D1", test_shutdown_drops_waiting_tasks_once, 0),
    CONF_TEST("D1", test_shutdown_drops_never_polled_tasks, 0),
    CONF_TEST("D2", test_shutdown_idempotent_then_refuses, 0),
    CONF_TEST("D3", test_shutdown_handles_outlive_runtime, 0),
    CONF_TEST("D2", test_shutdown_inside_task_is_busy, 0),
    CONF_TEST("D3", test_shutdown_waker_outlives_runtime, 0),
    CONF_TEST("D2", test_shutdown_races_with_spawning_threads, 0),
    CONF_TEST("D1", test_shutdown_drop_that_spawns_is_refused, 0),
    CONF_TEST("D4", test_shutdown_build_free_cycles, 0),
};

CONF_AREA(conf_area_shutdown, "shutdown", tests);
