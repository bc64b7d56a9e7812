/* conformance/test_blocking.c: the blocking pool next to the backend.
 *
 * A blocking job runs on a pool thread, outside the runtime's workers, so
 * everything it does to tasks (finishing a job a task awaits, waking a
 * waker, spawning) reaches the runtime from a foreign thread, through the
 * backend's wake while the runtime sleeps in its poll. On sim that poll is
 * a real wait (every task waits on another thread), which these tests
 * exercise as much as the real backends' wakes. The pool's own policies
 * (growth, keep-alive) are unit-tested in tests/blocking; here they are
 * checked only as far as a backend could break them. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/blocking.h>
#include <weft/time.h>

#include "conf.h"

static weft_runtime *rt_with_pool(unsigned max_threads, size_t queue_limit) {
  weft_builder *b = conf_builder(2);
  assert_int_equal(weft_builder_max_blocking_threads(b, max_threads), 0);
  if (queue_limit)
    assert_int_equal(weft_builder_blocking_queue_limit(b, queue_limit), 0);
  weft_runtime *rt = NULL;
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_builder_free(b);
  return rt;
}

static void *triple(void *arg, const weft_cancel_token *t) {
  (void)t;
  return (void *)((intptr_t)arg * 3);
}

static intptr_t output_of(const weft_join_result *res) {
  assert_int_equal(res->status, WEFT_JOIN_COMPLETED);
  assert_int_equal(res->output_size, sizeof(void *));
  return (intptr_t) * (void **)res->output;
}

/* B1: a job's result reaches a joiner on a plain thread. */
static void test_blocking_result_reaches_thread(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn_blocking(rt, triple, (void *)14, &h), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(output_of(&res), 42);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* B1: a task awaits a slow job: the job's completion on a pool thread
 * wakes the runtime asleep in the backend's poll. */
static void *slow(void *arg, const weft_cancel_token *t) {
  (void)t;
  conf_sleep_ms(20);
  return arg;
}

typedef struct awaiter {
  weft_join_handle *h;
  intptr_t result;
  int polls;
} awaiter;

static weft_poll awaiter_poll(void *arg, weft_context *cx) {
  awaiter *a = arg;
  a->polls++;
  if (!a->h)
    assert_int_equal(weft_spawn_blocking(weft_runtime_current(), slow,
                                         (void *)7, &a->h),
                     0);
  weft_join_result res;
  if (weft_join_poll(a->h, cx, &res) == WEFT_PENDING)
    return WEFT_PENDING;
  a->result = output_of(&res);
  weft_join_free(a->h);
  a->h = NULL;
  return WEFT_READY;
}

static void test_blocking_completion_wakes_sleeping_runtime(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  awaiter a = {0};
  conf_block_on_fn(rt, awaiter_poll, &a);
  assert_int_equal(a.result, 7);
  /* Polled to start, and again once finished: not spinning meanwhile. */
  assert_true(a.polls >= 2 && a.polls <= 4);
  weft_runtime_free(rt);
}

/* B1: a job wakes a task's waker from the pool thread, many times. */
typedef struct relay {
  _Atomic int parked;
  _Atomic int polls;
  int rounds;
  weft_waker w;
} relay;

static weft_poll relay_poll(void *arg, weft_context *cx) {
  relay *r = arg;
  int n = atomic_fetch_add_explicit(&r->polls, 1, memory_order_relaxed) + 1;
  if (n > r->rounds)
    return WEFT_READY;
  assert_int_equal(weft_waker_clone(weft_context_waker(cx), &r->w), 0);
  atomic_store_explicit(&r->parked, n, memory_order_release);
  return WEFT_PENDING;
}

static void *relay_job(void *arg, const weft_cancel_token *t) {
  (void)t;
  relay *r = arg;
  for (int i = 1; i <= r->rounds; i++) {
    uint64_t end = conf_real_ms() + 10000;
    while (atomic_load_explicit(&r->parked, memory_order_acquire) < i)
      if (conf_real_ms() > end)
        return (void *)1;
    weft_waker_wake(&r->w);
  }
  return NULL;
}

static void test_blocking_job_wakes_task_repeatedly(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  relay r = {.rounds = (int)conf_scaled(500)};
  weft_join_handle *ht = NULL, *hj = NULL;
  assert_int_equal(conf_spawn_fn(rt, relay_poll, &r, &ht), 0);
  assert_int_equal(weft_spawn_blocking(rt, relay_job, &r, &hj), 0);
  conf_join(rt, ht, NULL);
  weft_join_result res;
  conf_join(rt, hj, &res);
  assert_int_equal(output_of(&res), 0);
  assert_int_equal(atomic_load(&r.polls), r.rounds + 1);
  weft_join_free(ht);
  weft_join_free(hj);
  weft_runtime_free(rt);
}

/* B1: a job spawns tasks onto the runtime from its pool thread. */
static weft_poll count_poll(void *arg, weft_context *cx) {
  (void)cx;
  atomic_fetch_add((_Atomic int *)arg, 1);
  return WEFT_READY;
}

typedef struct spawn_job {
  weft_runtime *rt;
  _Atomic int *n;
  int count;
} spawn_job;

static void *spawner_job(void *arg, const weft_cancel_token *t) {
  (void)t;
  spawn_job *s = arg;
  for (int i = 0; i < s->count; i++)
    if (conf_spawn_fn(s->rt, count_poll, (void *)s->n, NULL) != 0)
      return (void *)1;
  return NULL;
}

typedef struct wait_count {
  _Atomic int *n;
  int want;
  weft_future *tick;
} wait_count;

/* Polls every 1 ms (a timer, so virtual time on sim) until the count is
 * reached. */
static weft_poll wait_count_poll(void *arg, weft_context *cx) {
  wait_count *w = arg;
  for (;;) {
    if (atomic_load(w->n) >= w->want) {
      weft_future_free(w->tick);
      w->tick = NULL;
      return WEFT_READY;
    }
    if (!w->tick)
      assert_int_equal(weft_sleep(1, &w->tick), 0);
    if (weft_future_poll(w->tick, cx) == WEFT_PENDING)
      return WEFT_PENDING;
    weft_future_free(w->tick);
    w->tick = NULL;
  }
}

static void test_blocking_job_spawns_tasks(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int n = 0;
  spawn_job s = {rt, &n, (int)conf_scaled(200)};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn_blocking(rt, spawner_job, &s, &h), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(output_of(&res), 0);
  weft_join_free(h);
  wait_count w = {&n, s.count, NULL};
  conf_block_on_fn(rt, wait_count_poll, &w);
  assert_int_equal(atomic_load(&n), s.count);
  weft_runtime_free(rt);
}

/* B2: a job aborted before it starts never runs; its cleanup runs once,
 * on the aborting thread, and the handle resolves cancelled. */
typedef struct gate {
  _Atomic int open, started;
} gate;

static void *gated(void *arg, const weft_cancel_token *t) {
  (void)t;
  gate *g = arg;
  atomic_store(&g->started, 1);
  while (!atomic_load_explicit(&g->open, memory_order_acquire))
    conf_sleep_ms(1);
  return NULL;
}

static _Atomic int ran, cleaned;
static pthread_t cleaned_on;

static void *must_not_run(void *arg, const weft_cancel_token *t) {
  (void)arg;
  (void)t;
  atomic_fetch_add(&ran, 1);
  return NULL;
}

static void cleanup_count(void *arg) {
  (void)arg;
  cleaned_on = pthread_self();
  atomic_fetch_add(&cleaned, 1);
}

static void wait_started(gate *g) {
  uint64_t end = conf_real_ms() + 5000;
  while (!atomic_load(&g->started)) {
    assert_true(conf_real_ms() < end);
    conf_sleep_ms(1);
  }
}

static void test_blocking_abort_before_start_cleans_up(void **state) {
  (void)state;
  weft_runtime *rt = rt_with_pool(1, 0);
  atomic_store(&ran, 0);
  atomic_store(&cleaned, 0);
  gate g = {0};
  weft_join_handle *busy = NULL, *queued = NULL;
  assert_int_equal(weft_spawn_blocking(rt, gated, &g, &busy), 0);
  wait_started(&g); /* the only pool thread is taken */
  assert_int_equal(weft_spawn_blocking_with_cleanup(rt, must_not_run, NULL,
                                                    cleanup_count, &queued),
                   0);
  assert_int_equal(weft_join_abort(queued), 0);
  assert_int_equal(atomic_load(&cleaned), 1);
  assert_true(pthread_equal(cleaned_on, pthread_self()));
  weft_join_result res;
  conf_join(rt, queued, &res);
  assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
  atomic_store_explicit(&g.open, 1, memory_order_release);
  conf_join(rt, busy, NULL);
  weft_join_free(busy);
  weft_join_free(queued);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&ran), 0);
  assert_int_equal(atomic_load(&cleaned), 1);
}

/* B2: a running job sees its cancel token turn true on abort, and what it
 * returns is still its output. */
static void *until_cancelled(void *arg, const weft_cancel_token *t) {
  gate *g = arg;
  atomic_store(&g->started, 1);
  uint64_t end = conf_real_ms() + 10000;
  while (weft_cancel_token_is_cancelled(t) == 0)
    if (conf_real_ms() > end)
      return (void *)2;
  return (void *)1;
}

static void test_blocking_running_job_sees_abort(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  gate g = {0};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn_blocking(rt, until_cancelled, &g, &h), 0);
  wait_started(&g);
  assert_int_equal(weft_join_abort(h), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(output_of(&res), 1);
  assert_int_equal(weft_cancel_token_is_cancelled(NULL), WEFT_EINVAL);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* B3: many jobs through a small pool all complete, each once, and no more
 * than the bound run at once. */
typedef struct bounded {
  _Atomic int running, peak, done;
} bounded;

static void *bounded_job(void *arg, const weft_cancel_token *t) {
  (void)t;
  bounded *b = arg;
  int now = atomic_fetch_add(&b->running, 1) + 1;
  int peak = atomic_load(&b->peak);
  while (now > peak && !atomic_compare_exchange_weak(&b->peak, &peak, now))
    ;
  conf_sleep_ms(1);
  atomic_fetch_sub(&b->running, 1);
  atomic_fetch_add(&b->done, 1);
  return NULL;
}

static void test_blocking_many_jobs_bounded_pool(void **state) {
  (void)state;
  enum { MAX = 3 };
  weft_runtime *rt = rt_with_pool(MAX, 0);
  int n = (int)conf_scaled(120);
  bounded b = {0};
  weft_join_handle **hs = calloc((size_t)n, sizeof *hs);
  assert_non_null(hs);
  for (int i = 0; i < n; i++)
    assert_int_equal(weft_spawn_blocking(rt, bounded_job, &b, &hs[i]), 0);
  for (int i = 0; i < n; i++) {
    conf_join(rt, hs[i], NULL);
    weft_join_free(hs[i]);
  }
  free(hs);
  assert_int_equal(atomic_load(&b.done), n);
  assert_true(atomic_load(&b.peak) >= 1 && atomic_load(&b.peak) <= MAX);
  weft_runtime_free(rt);
}

/* B3: the queue bound: past it, spawn fails with WEFT_EAGAIN and nothing
 * is allocated or run. */
static void test_blocking_queue_bound_refuses(void **state) {
  (void)state;
  weft_runtime *rt = rt_with_pool(1, 1);
  atomic_store(&ran, 0);
  gate g = {0};
  weft_join_handle *busy = NULL, *queued = NULL, *refused = NULL;
  assert_int_equal(weft_spawn_blocking(rt, gated, &g, &busy), 0);
  wait_started(&g);
  assert_int_equal(weft_spawn_blocking(rt, triple, (void *)1, &queued), 0);
  assert_int_equal(weft_spawn_blocking(rt, must_not_run, NULL, &refused),
                   WEFT_EAGAIN);
  assert_null(refused);
  atomic_store_explicit(&g.open, 1, memory_order_release);
  weft_join_result res;
  conf_join(rt, queued, &res);
  assert_int_equal(output_of(&res), 3);
  conf_join(rt, busy, NULL);
  weft_join_free(busy);
  weft_join_free(queued);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&ran), 0);
}

/* B4: shutdown with a job running and jobs queued: queued ones are
 * cancelled with their cleanup, the running one sees its token, and the
 * runtime's free waits for it (nothing runs after free returns). */
static _Atomic int after_free;

static void *until_shutdown(void *arg, const weft_cancel_token *t) {
  gate *g = arg;
  atomic_store(&g->started, 1);
  uint64_t end = conf_real_ms() + 10000;
  while (weft_cancel_token_is_cancelled(t) == 0 && conf_real_ms() < end)
    conf_sleep_ms(1);
  conf_sleep_ms(5);
  atomic_store(&after_free, 1);
  return NULL;
}

static void test_blocking_shutdown_cancels_queued_jobs(void **state) {
  (void)state;
  weft_runtime *rt = rt_with_pool(1, 0);
  atomic_store(&ran, 0);
  atomic_store(&cleaned, 0);
  atomic_store(&after_free, 0);
  gate g = {0};
  weft_join_handle *running = NULL, *q[3];
  assert_int_equal(weft_spawn_blocking(rt, until_shutdown, &g, &running), 0);
  wait_started(&g);
  for (int i = 0; i < 3; i++)
    assert_int_equal(weft_spawn_blocking_with_cleanup(
                         rt, must_not_run, NULL, cleanup_count, &q[i]),
                     0);
  uint64_t t0 = conf_real_ms();
  weft_runtime_free(rt);
  assert_true(conf_real_ms() - t0 < 5000); /* the token ended it early */
  assert_int_equal(atomic_load(&after_free), 1);
  assert_int_equal(atomic_load(&ran), 0);
  assert_int_equal(atomic_load(&cleaned), 3);
  for (int i = 0; i < 3; i++) {
    weft_join_result res;
    assert_int_equal(weft_join_wait(q[i], 0, &res), 0);
    assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
    weft_join_free(q[i]);
  }
  weft_join_free(running);
}

/* B5: argument checks, and a spawn after shutdown is refused. */
static void test_blocking_invalid_arguments(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(1);
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn_blocking(NULL, triple, NULL, &h), WEFT_EINVAL);
  assert_int_equal(weft_spawn_blocking(rt, NULL, NULL, &h), WEFT_EINVAL);
  assert_null(h);
  weft_future *f = NULL;
  assert_int_equal(weft_spawn_blocking_async(rt, triple, NULL, NULL, NULL),
                   WEFT_EINVAL);
  assert_int_equal(weft_spawn_blocking_async(rt, NULL, NULL, NULL, &f),
                   WEFT_EINVAL);
  assert_int_equal(weft_runtime_shutdown(rt, 1000), 0);
  assert_int_equal(weft_spawn_blocking(rt, triple, NULL, &h), WEFT_ESHUTDOWN);
  assert_null(h);
  weft_runtime_free(rt);
}

/* B1: a timer keeps its schedule while a job occupies a pool thread: the
 * backend's poll is not held up by blocking work. The job waits for the
 * task to see its timer fire, so the order is fixed, not a race. */
typedef struct timed {
  weft_future *sleep;
  weft_join_handle *job;
  gate g;
  int slept, joined;
} timed;

static weft_poll timed_poll(void *arg, weft_context *cx) {
  timed *t = arg;
  if (!t->sleep) {
    assert_int_equal(weft_sleep(5, &t->sleep), 0);
    assert_int_equal(weft_spawn_blocking(weft_runtime_current(), gated,
                                         &t->g, &t->job),
                     0);
  }
  if (!t->slept && weft_future_poll(t->sleep, cx) == WEFT_READY) {
    t->slept = 1;
    assert_false(weft_join_is_finished(t->job));
    atomic_store_explicit(&t->g.open, 1, memory_order_release);
  }
  if (!t->joined && weft_join_poll(t->job, cx, NULL) == WEFT_READY)
    t->joined = 1;
  if (!(t->slept && t->joined))
    return WEFT_PENDING;
  weft_future_free(t->sleep);
  weft_join_free(t->job);
  return WEFT_READY;
}

static void test_blocking_timer_fires_while_job_runs(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  timed t = {0};
  conf_block_on_fn(rt, timed_poll, &t);
  assert_int_equal(t.slept, 1);
  assert_int_equal(t.joined, 1);
  weft_runtime_free(rt);
}

static const conf_test tests[] = {
    CONF_TEST("B1", test_blocking_result_reaches_thread, 0),
    CONF_TEST("B1", test_blocking_completion_wakes_sleeping_runtime, 0),
    CONF_TEST("B1", test_blocking_job_wakes_task_repeatedly, 0),
    CONF_TEST("B1", test_blocking_job_spawns_tasks, 0),
    CONF_TEST("B1", test_blocking_timer_fires_while_job_runs, 0),
    CONF_TEST("B2", test_blocking_abort_before_start_cleans_up, 0),
    CONF_TEST("B2", test_blocking_running_job_sees_abort, 0),
    CONF_TEST("B3", test_blocking_many_jobs_bounded_pool, 0),
    CONF_TEST("B3", test_blocking_queue_bound_refuses, 0),
    CONF_TEST("B4", test_blocking_shutdown_cancels_queued_jobs, 0),
    CONF_TEST("B5", test_blocking_invalid_arguments, 0),
};

CONF_AREA(conf_area_blocking, "blocking", tests);
