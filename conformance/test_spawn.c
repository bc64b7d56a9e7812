/* conformance/test_spawn.c: spawn, join and abort on the backend under
 * test. The executor does the work, but a runtime's tasks only run if the
 * backend parks and unparks its thread correctly, so every backend must
 * pass these. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* A future with output and a drop counter, spawned by value. */
typedef struct counted {
  int value;
  _Atomic int *drops;
  _Atomic int *polls;
  int pending_polls; /* return PENDING (self-waking) this many times */
} counted;

static weft_poll counted_poll(void *p, weft_context *cx, void *out) {
  counted *c = p;
  if (c->polls)
    atomic_fetch_add_explicit(c->polls, 1, memory_order_relaxed);
  if (c->pending_polls > 0) {
    c->pending_polls--;
    weft_waker_wake_by_ref(weft_context_waker(cx));
    return WEFT_PENDING;
  }
  if (out)
    memcpy(out, &c->value, sizeof c->value);
  return WEFT_READY;
}

static void counted_drop(void *p) {
  counted *c = p;
  if (c->drops)
    atomic_fetch_add_explicit(c->drops, 1, memory_order_relaxed);
}

static const weft_future_vtable counted_vt = {sizeof(weft_future_vtable),
                                              counted_poll, counted_drop};

/* A future that never completes unless its flag is set, and counts drops. */
typedef struct parked {
  _Atomic int *drops;
  _Atomic int *polled;
  weft_waker *keep; /* where to park a waker clone, or NULL */
} parked;

static weft_poll parked_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  parked *k = p;
  if (k->polled)
    atomic_store_explicit(k->polled, 1, memory_order_release);
  if (k->keep && !k->keep->vtable)
    weft_waker_clone(weft_context_waker(cx), k->keep);
  return WEFT_PENDING;
}

static void parked_drop(void *p) {
  parked *k = p;
  if (k->drops)
    atomic_fetch_add_explicit(k->drops, 1, memory_order_relaxed);
}

static const weft_future_vtable parked_vt = {sizeof(weft_future_vtable),
                                             parked_poll, parked_drop};

static void wait_flag(_Atomic int *flag) {
  uint64_t end = conf_real_ms() + 5000;
  while (!atomic_load_explicit(flag, memory_order_acquire)) {
    if (conf_real_ms() > end)
      fail_msg("timed out waiting for a task to run");
    conf_sleep_ms(1);
  }
}

/* S: a spawned task runs, its output is readable through the handle, and
 * its future is dropped exactly once. */
static void test_spawn_join_output_and_single_drop(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0;
  counted c = {.value = 4242, .drops = &drops, .pending_polls = 3};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &counted_vt, &c, sizeof c, sizeof(int), &h),
                   0);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(res.error, 0);
  assert_non_null(res.output);
  assert_int_equal(res.output_size, sizeof(int));
  assert_int_equal(*(int *)res.output, 4242);
  assert_int_equal(atomic_load(&drops), 1);
  weft_join_free(h);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&drops), 1);
}

/* S: a detached task runs to completion without anyone joining it. */
static void test_spawn_detached_runs(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0, polls = 0;
  counted c = {.value = 1, .drops = &drops, .polls = &polls};
  assert_int_equal(weft_spawn_detached(rt, &counted_vt, &c, sizeof c), 0);
  /* Run the runtime until the detached task is done: join a later task,
   * and on a current-thread runtime keep block_on-ing until it has run. */
  uint64_t end = conf_real_ms() + 5000;
  while (atomic_load(&drops) == 0 && conf_real_ms() < end) {
    weft_join_handle *h = NULL;
    counted d = {.value = 0};
    assert_int_equal(weft_spawn(rt, &counted_vt, &d, sizeof d, 0, &h), 0);
    conf_join(rt, h, NULL);
    weft_join_free(h);
  }
  assert_int_equal(atomic_load(&drops), 1);
  assert_int_equal(atomic_load(&polls), 1);
  weft_runtime_free(rt);
}

/* S: aborting an idle task drops its future and resolves CANCELLED. */
static void test_spawn_abort_idle_task_cancels(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0;
  parked k = {.drops = &drops};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &parked_vt, &k, sizeof k, 0, &h), 0);
  assert_int_equal(weft_join_abort(h), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
  assert_int_equal(res.error, WEFT_ECANCELED);
  assert_int_equal(atomic_load(&drops), 1);
  assert_int_equal(weft_join_is_finished(h), 1);
  assert_int_equal(weft_join_abort(h), 0); /* again: nothing */
  weft_join_free(h);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&drops), 1);
}

/* S: aborting a task that has been polled and waits (a waker is out)
 * cancels it; the outstanding waker stays safe to use afterwards. */
static void test_spawn_abort_waiting_task_keeps_waker_safe(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0, polled = 0;
  weft_waker keep = {0};
  parked k = {.drops = &drops, .polled = &polled, .keep = &keep};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &parked_vt, &k, sizeof k, 0, &h), 0);
  if (conf.is_sim) {
    /* On a current-thread runtime, the task runs inside block_on only. */
    counted d = {0};
    weft_join_handle *h2 = NULL;
    assert_int_equal(weft_spawn(rt, &counted_vt, &d, sizeof d, 0, &h2), 0);
    conf_join(rt, h2, NULL);
    weft_join_free(h2);
  }
  wait_flag(&polled);
  assert_int_equal(weft_join_abort(h), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
  assert_int_equal(atomic_load(&drops), 1);
  weft_waker_wake(&keep); /* finished task: nothing happens */
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* S: aborting a finished task changes nothing. */
static void test_spawn_abort_after_completion_is_noop(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  counted c = {.value = 7};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &counted_vt, &c, sizeof c, sizeof(int), &h),
                   0);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(weft_join_abort(h), 0);
  conf_join(rt, h, &res);
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(*(int *)res.output, 7);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* S: weft_task_fail resolves the handle FAILED with the error. */
static weft_poll failing_poll(void *arg, weft_context *cx) {
  (void)arg;
  assert_int_equal(weft_task_fail(cx, WEFT_ECONNRESET), 0);
  return WEFT_READY;
}

static void test_spawn_task_fail_reports_error(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, failing_poll, NULL, &h), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(res.status, WEFT_JOIN_FAILED);
  assert_int_equal(res.error, WEFT_ECONNRESET);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* S: a task can spawn and await another (join_poll from a future), and
 * task ids and weft_runtime_current are right inside and outside. */
typedef struct parent {
  weft_join_handle *child;
  uint64_t my_id, child_id;
  weft_runtime *seen_rt;
  int child_value;
} parent;

static weft_poll child_poll(void *arg, weft_context *cx) {
  (void)cx;
  (void)arg;
  return WEFT_READY;
}

static weft_poll parent_poll(void *arg, weft_context *cx) {
  parent *p = arg;
  if (!p->child) {
    p->my_id = weft_task_id_current();
    p->seen_rt = weft_runtime_current();
    assert_int_equal(conf_spawn_fn(p->seen_rt, child_poll, NULL, &p->child),
                     0);
    p->child_id = weft_join_task_id(p->child);
  }
  weft_join_result r;
  if (weft_join_poll(p->child, cx, &r) == WEFT_PENDING)
    return WEFT_PENDING;
  assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
  weft_join_free(p->child);
  p->child = NULL;
  p->child_value = 1;
  return WEFT_READY;
}

static void test_spawn_task_awaits_child_and_ids(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  parent p = {0};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, parent_poll, &p, &h), 0);
  conf_join(rt, h, NULL);
  assert_int_equal(p.child_value, 1);
  assert_ptr_equal(p.seen_rt, rt);
  assert_true(p.my_id != 0);
  assert_true(p.child_id != 0);
  assert_true(p.my_id != p.child_id);
  assert_true(weft_join_task_id(h) == p.my_id);
  assert_null(weft_runtime_current());
  assert_true(weft_task_id_current() == 0);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* S: many tasks, spawned from the test thread and from tasks, all run once
 * with unique ids. */
static weft_poll bump_poll(void *arg, weft_context *cx) {
  (void)cx;
  atomic_fetch_add_explicit((_Atomic int *)arg, 1, memory_order_relaxed);
  return WEFT_READY;
}

static void test_spawn_many_tasks_all_run_once(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  unsigned n = conf_scaled(2000);
  _Atomic int ran = 0;
  weft_join_handle **hs = calloc(n, sizeof *hs);
  assert_non_null(hs);
  for (unsigned i = 0; i < n; i++)
    assert_int_equal(conf_spawn_fn(rt, bump_poll, &ran, &hs[i]), 0);
  for (unsigned i = 0; i < n; i++) {
    weft_join_result res;
    conf_join(rt, hs[i], &res);
    assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  }
  for (unsigned i = 1; i < n; i++)
    assert_true(weft_join_task_id(hs[i]) != weft_join_task_id(hs[i - 1]));
  for (unsigned i = 0; i < n; i++)
    weft_join_free(hs[i]);
  free(hs);
  assert_int_equal(atomic_load(&ran), (int)n);
  weft_runtime_free(rt);
}

/* S: spawning copies the state (a large one too) and the caller's copy may
 * be reused at once. */
typedef struct big {
  unsigned char bytes[4096];
  int sum_out;
} big;

static weft_poll big_poll(void *p, weft_context *cx, void *out) {
  (void)cx;
  big *b = p;
  int sum = 0;
  for (size_t i = 0; i < sizeof b->bytes; i++)
    sum += b->bytes[i];
  memcpy(out, &sum, sizeof sum);
  return WEFT_READY;
}

static const weft_future_vtable big_vt = {sizeof(weft_future_vtable),
                                          big_poll, NULL};

static void test_spawn_copies_large_state(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  big *b = calloc(1, sizeof *b);
  assert_non_null(b);
  memset(b->bytes, 1, sizeof b->bytes);
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &big_vt, b, sizeof *b, sizeof(int), &h), 0);
  memset(b->bytes, 0, sizeof b->bytes); /* must not affect the task */
  free(b);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(*(int *)res.output, 4096);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* S: bad arguments are refused with WEFT_EINVAL and nothing runs. */
static void test_spawn_invalid_arguments(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  counted c = {0};
  weft_join_handle *h = NULL;
  weft_future_vtable no_poll = {sizeof(weft_future_vtable), NULL, NULL};
  weft_future_vtable small = {4, counted_poll, NULL};
  assert_int_equal(weft_spawn(NULL, &counted_vt, &c, sizeof c, 0, &h),
                   WEFT_EINVAL);
  assert_int_equal(weft_spawn(rt, NULL, &c, sizeof c, 0, &h), WEFT_EINVAL);
  assert_int_equal(weft_spawn(rt, &no_poll, &c, sizeof c, 0, &h),
                   WEFT_EINVAL);
  assert_int_equal(weft_spawn(rt, &small, &c, sizeof c, 0, &h), WEFT_EINVAL);
  assert_int_equal(weft_spawn(rt, &counted_vt, NULL, sizeof c, 0, &h),
                   WEFT_EINVAL);
  weft_runtime_free(rt);
}

/* S: spawning from a plain thread while the runtime idles gets the task
 * run (the spawn must unpark a runtime asleep in the backend's poll). */
typedef struct spawner {
  weft_runtime *rt;
  _Atomic int *ran;
  weft_join_handle *h;
} spawner;

static void *spawn_thread(void *arg) {
  spawner *s = arg;
  conf_sleep_ms(20);
  if (conf_spawn_fn(s->rt, bump_poll, s->ran, &s->h) != 0)
    s->h = NULL;
  return NULL;
}

static void test_spawn_from_foreign_thread_unparks(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int ran = 0;
  spawner s = {rt, &ran, NULL};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, spawn_thread, &s), 0);
  pthread_join(th, NULL);
  assert_non_null(s.h);
  weft_join_result res;
  conf_join(rt, s.h, &res);
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(atomic_load(&ran), 1);
  weft_join_free(s.h);
  weft_runtime_free(rt);
}

/* S: block_on inside a task is refused with WEFT_EBUSY. */
typedef struct nested {
  int rc;
} nested;

static weft_poll nested_poll(void *arg, weft_context *cx) {
  (void)cx;
  nested *n = arg;
  n->rc = weft_block_on(weft_runtime_current(), &counted_vt,
                        &(counted){.value = 0}, NULL);
  return WEFT_READY;
}

static void test_spawn_block_on_inside_task_is_busy(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  nested n = {1};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, nested_poll, &n, &h), 0);
  conf_join(rt, h, NULL);
  assert_int_equal(n.rc, WEFT_EBUSY);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* S: a plain thread can wait on a handle with a timeout on a multi-thread
 * runtime. */
static void test_spawn_join_wait_timeout_then_complete(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0;
  weft_waker keep = {0};
  _Atomic int polled = 0;
  parked k = {.drops = &drops, .polled = &polled, .keep = &keep};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &parked_vt, &k, sizeof k, 0, &h), 0);
  weft_join_result res;
  assert_int_equal(weft_join_wait(h, 30, &res), WEFT_ETIMEDOUT);
  assert_int_equal(weft_join_is_finished(h), 0);
  wait_flag(&polled);
  assert_int_equal(weft_join_abort(h), 0);
  assert_int_equal(weft_join_wait(h, 5000, &res), 0);
  assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
  weft_waker_drop(&keep);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* S: a handle released early (detach) leaves the task running; its output
 * is dropped with it. */
static void test_spawn_detach_handle_task_still_runs(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0, polls = 0;
  counted c = {.value = 3, .drops = &drops, .polls = &polls,
               .pending_polls = 2};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &counted_vt, &c, sizeof c, sizeof(int), &h),
                   0);
  weft_join_detach(h);
  uint64_t end = conf_real_ms() + 5000;
  while (atomic_load(&drops) == 0 && conf_real_ms() < end) {
    weft_join_handle *h2 = NULL;
    counted d = {0};
    assert_int_equal(weft_spawn(rt, &counted_vt, &d, sizeof d, 0, &h2), 0);
    conf_join(rt, h2, NULL);
    weft_join_free(h2);
  }
  assert_int_equal(atomic_load(&drops), 1);
  assert_int_equal(atomic_load(&polls), 3);
  weft_runtime_free(rt);
}

static const conf_test tests[] = {
    CONF_TEST("S1", test_spawn_join_output_and_single_drop, 0),
    CONF_TEST("S1", test_spawn_detached_runs, 0),
    CONF_TEST("S2", test_spawn_abort_idle_task_cancels, 0),
    CONF_TEST("S2", test_spawn_abort_waiting_task_keeps_waker_safe, 0),
    CONF_TEST("S2", test_spawn_abort_after_completion_is_noop, 0),
    CONF_TEST("S3", test_spawn_task_fail_reports_error, 0),
    CONF_TEST("S1", test_spawn_task_awaits_child_and_ids, 0),
    CONF_TEST("S1", test_spawn_many_tasks_all_run_once, 0),
    CONF_TEST("S1", test_spawn_copies_large_state, 0),
    CONF_TEST("S4", test_spawn_invalid_arguments, 0),
    CONF_TEST("S5", test_spawn_from_foreign_thread_unparks, 0),
    CONF_TEST("S4", test_spawn_block_on_inside_task_is_busy, 0),
    CONF_TEST("S3", test_spawn_join_wait_timeout_then_complete,
              CONF_NEEDS_THREADS),
    CONF_TEST("S1", test_spawn_detach_handle_task_still_runs, 0),
};

CONF_AREA(conf_area_spawn, "spawn", tests);
