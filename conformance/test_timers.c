/* conformance/test_timers.c: timers on the backend under test. The wheel is
 * the core's, but a backend must wake up at the deadline the core asks for
 * (its poll timeout) and report its clock truthfully: the classic adapter
 * bug is a loop that never wakes up for a timer at all. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <weft/time.h>

#include "conf.h"

/* A task that sleeps `ms` once and records when it started and ended on
 * the runtime's clock, and in which order it finished among its peers. */
typedef struct sleeper {
  uint64_t ms;
  weft_future *f;
  uint64_t start_ns, end_ns;
  int *order;
  _Atomic int *next;
  int id;
  int polls_after_ready;
  /* When set, the deadline is `ms` after a base shared by the group (taken
   * by the first of them to run), not after this sleeper's own first poll:
   * a slow build that polls the group over several ms then cannot reorder
   * deadlines a test means to be 1 ms apart. */
  _Atomic uint64_t *base;
} sleeper;

static weft_poll sleeper_poll(void *arg, weft_context *cx) {
  sleeper *s = arg;
  if (!s->f) {
    s->start_ns = weft_now_ns();
    if (s->base) {
      uint64_t expected = 0;
      atomic_compare_exchange_strong(s->base, &expected, s->start_ns);
      uint64_t base = atomic_load(s->base);
      assert_int_equal(
          weft_sleep_until(base + s->ms * 1000000u, &s->f), 0);
    } else {
      assert_int_equal(weft_sleep(s->ms, &s->f), 0);
    }
  }
  if (weft_future_poll(s->f, cx) == WEFT_PENDING)
    return WEFT_PENDING;
  s->end_ns = weft_now_ns();
  assert_int_equal(*(int *)weft_future_output(s->f), 0);
  weft_future_free(s->f);
  s->f = NULL;
  if (s->order)
    s->order[atomic_fetch_add(s->next, 1)] = s->id;
  return WEFT_READY;
}

static void run_sleeper(weft_runtime *rt, sleeper *s) {
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, sleeper_poll, s, &h), 0);
  weft_join_result res;
  conf_join(rt, h, &res);
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  weft_join_free(h);
}

/* T: a timer never fires before its deadline on the runtime's clock. */
static void test_timers_never_fire_early(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  for (uint64_t ms = 1; ms <= 25; ms += 8) {
    sleeper s = {.ms = ms};
    run_sleeper(rt, &s);
    assert_true(s.end_ns - s.start_ns >= ms * 1000000u);
  }
  weft_runtime_free(rt);
}

/* T: a 0 ms timer completes (at once, without waiting for a tick). */
static void test_timers_zero_ms_fires(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  uint64_t t0 = conf_real_ms();
  for (int i = 0; i < 100; i++) {
    sleeper s = {.ms = 0};
    run_sleeper(rt, &s);
  }
  assert_true(conf_real_ms() - t0 < 2000);
  weft_runtime_free(rt);
}

/* T: timers fire in deadline order, whatever the order they were set. */
static void test_timers_fire_in_deadline_order(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(1);
  static const uint64_t ms[] = {50, 10, 40, 20, 30, 60};
  enum { N = sizeof ms / sizeof ms[0] };
  int order[N];
  _Atomic int next = 0;
  sleeper s[N];
  weft_join_handle *h[N];
  for (int i = 0; i < N; i++) {
    s[i] = (sleeper){.ms = ms[i], .order = order, .next = &next, .id = i};
    assert_int_equal(conf_spawn_fn(rt, sleeper_poll, &s[i], &h[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    conf_join(rt, h[i], NULL);
    weft_join_free(h[i]);
  }
  static const int expect[N] = {1, 3, 4, 2, 0, 5};
  for (int i = 0; i < N; i++)
    assert_int_equal(order[i], expect[i]);
  weft_runtime_free(rt);
}

/* T: timers that come due in the same turn (the only worker was busy
 * while their deadlines passed) still run in deadline order: the driver
 * wakes them in that order, and the scheduler must not turn it around. */
static weft_poll busy_40ms_poll(void *arg, weft_context *cx) {
  (void)arg;
  (void)cx;
  conf_sleep_ms(40); /* blocks the worker: every deadline below passes */
  return WEFT_READY;
}

static void test_timers_due_together_run_in_deadline_order(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(1);
  enum { N = 5 };
  static const uint64_t ms[N] = {13, 10, 14, 11, 12};
  int order[N];
  _Atomic int next = 0;
  _Atomic uint64_t base = 0;
  sleeper s[N];
  weft_join_handle *h[N], *hb = NULL;
  for (int i = 0; i < N; i++) {
    s[i] = (sleeper){.ms = ms[i], .order = order, .next = &next, .id = i,
                     .base = &base};
    assert_int_equal(conf_spawn_fn(rt, sleeper_poll, &s[i], &h[i]), 0);
  }
  assert_int_equal(conf_spawn_fn(rt, busy_40ms_poll, NULL, &hb), 0);
  for (int i = 0; i < N; i++) {
    conf_join(rt, h[i], NULL);
    weft_join_free(h[i]);
  }
  conf_join(rt, hb, NULL);
  weft_join_free(hb);
  static const int expect[N] = {1, 3, 4, 0, 2};
  for (int i = 0; i < N; i++)
    assert_int_equal(order[i], expect[i]);
  weft_runtime_free(rt);
}

/* T: timers days in the future: on virtual time they complete and the
 * clock moved by exactly that much; on a real clock they stay pending and
 * cancel cleanly when freed. */
typedef struct far {
  weft_future *f;
  weft_future *near; /* real clock: a short timer fired meanwhile */
  int polled_pending;
  uint64_t start_ns, end_ns;
  int run_to_end;
} far;

static weft_poll far_poll(void *arg, weft_context *cx) {
  far *d = arg;
  if (!d->f) {
    d->start_ns = weft_now_ns();
    assert_int_equal(weft_sleep(3ull * 24 * 3600 * 1000, &d->f), 0);
  }
  if (weft_future_poll(d->f, cx) == WEFT_PENDING) {
    d->polled_pending++;
    if (d->run_to_end)
      return WEFT_PENDING;
    /* Armed in the wheel's upper levels, it must neither fire nor get in
     * the way of a 10 ms timer armed after it. */
    if (!d->near)
      assert_int_equal(weft_sleep(10, &d->near), 0);
    if (weft_future_poll(d->near, cx) == WEFT_PENDING)
      return WEFT_PENDING;
    weft_future_free(d->near);
    d->near = NULL;
    assert_true(weft_now_ns() - d->start_ns >= 10000000u);
    weft_future_free(d->f); /* cancel: leaves the wheel at once */
    d->f = NULL;
    return WEFT_READY;
  }
  d->end_ns = weft_now_ns();
  weft_future_free(d->f);
  d->f = NULL;
  return WEFT_READY;
}

static void test_timers_days_in_future(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  far d = {.run_to_end = conf.is_sim};
  uint64_t t0 = conf_real_ms();
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, far_poll, &d, &h), 0);
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_true(d.polled_pending >= (conf.is_sim ? 1 : 2));
  if (conf.is_sim) {
    assert_true(d.end_ns - d.start_ns >= 3ull * 24 * 3600 * 1000000000ull);
    assert_true(conf_real_ms() - t0 < 5000);
  }
  weft_runtime_free(rt);
}

/* T: a timer cancelled (freed) before its deadline never wakes anything,
 * and the wheel goes on firing the others. */
typedef struct cancel {
  weft_future *a, *b;
  int stage;
} cancel;

static weft_poll cancel_poll(void *arg, weft_context *cx) {
  cancel *c = arg;
  if (c->stage == 0) {
    assert_int_equal(weft_sleep(5, &c->a), 0);
    assert_int_equal(weft_future_poll(c->a, cx), WEFT_PENDING);
    weft_future_free(c->a); /* armed, then cancelled */
    c->a = NULL;
    assert_int_equal(weft_sleep(20, &c->b), 0);
    c->stage = 1;
  }
  if (weft_future_poll(c->b, cx) == WEFT_PENDING)
    return WEFT_PENDING;
  weft_future_free(c->b);
  c->b = NULL;
  return WEFT_READY;
}

static void test_timers_cancel_before_deadline(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  for (int i = 0; i < 20; i++) {
    cancel c = {0};
    weft_join_handle *h = NULL;
    assert_int_equal(conf_spawn_fn(rt, cancel_poll, &c, &h), 0);
    conf_join(rt, h, NULL);
    weft_join_free(h);
  }
  weft_runtime_free(rt);
}

/* T: weft_timeout gives up on a slow inner future and lets a fast one
 * through. */
typedef struct to {
  weft_future *f;
  int status;
  uint64_t inner_ms, limit_ms;
} to;

static weft_poll to_poll(void *arg, weft_context *cx) {
  to *t = arg;
  if (!t->f) {
    weft_future *inner = NULL;
    assert_int_equal(weft_sleep(t->inner_ms, &inner), 0);
    assert_int_equal(weft_timeout(inner, t->limit_ms, &t->f), 0);
  }
  if (weft_future_poll(t->f, cx) == WEFT_PENDING)
    return WEFT_PENDING;
  weft_timeout_output *o = weft_future_output(t->f);
  t->status = o->status;
  weft_future_free(o->inner);
  weft_future_free(t->f);
  t->f = NULL;
  return WEFT_READY;
}

static void test_timers_timeout_expires_and_passes(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  to slow = {.inner_ms = 10000, .limit_ms = 10, .status = 1};
  to fast = {.inner_ms = 5, .limit_ms = 10000, .status = 1};
  weft_join_handle *h1 = NULL, *h2 = NULL;
  assert_int_equal(conf_spawn_fn(rt, to_poll, &slow, &h1), 0);
  assert_int_equal(conf_spawn_fn(rt, to_poll, &fast, &h2), 0);
  conf_join(rt, h1, NULL);
  conf_join(rt, h2, NULL);
  assert_int_equal(slow.status, WEFT_ETIMEDOUT);
  assert_int_equal(fast.status, 0);
  weft_join_free(h1);
  weft_join_free(h2);
  weft_runtime_free(rt);
}

/* T: an interval ticks on schedule, never early. */
typedef struct iv {
  weft_interval *iv;
  uint64_t ticks[4];
  int n;
} iv;

static weft_poll iv_poll(void *arg, weft_context *cx) {
  iv *v = arg;
  if (!v->iv)
    assert_int_equal(weft_interval_new(5, WEFT_MISSED_TICK_BURST, &v->iv), 0);
  while (v->n < 4) {
    uint64_t t = 0;
    int r = weft_interval_poll_tick(v->iv, cx, &t);
    assert_true(r >= 0);
    if (r == 0)
      return WEFT_PENDING;
    assert_true(weft_now_ns() >= t);
    v->ticks[v->n++] = t;
  }
  weft_interval_free(v->iv);
  v->iv = NULL;
  return WEFT_READY;
}

static void test_timers_interval_ticks_on_schedule(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  iv v = {0};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, iv_poll, &v, &h), 0);
  conf_join(rt, h, NULL);
  for (int i = 1; i < 4; i++)
    assert_true(v.ticks[i] - v.ticks[i - 1] == 5000000u);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* T: many timers with spread deadlines all fire. */
static void test_timers_many_all_fire(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  unsigned n = conf_scaled(1000);
  sleeper *s = calloc(n, sizeof *s);
  weft_join_handle **h = calloc(n, sizeof *h);
  assert_non_null(s);
  assert_non_null(h);
  for (unsigned i = 0; i < n; i++) {
    s[i].ms = (i * 7919u) % 40u;
    assert_int_equal(conf_spawn_fn(rt, sleeper_poll, &s[i], &h[i]), 0);
  }
  for (unsigned i = 0; i < n; i++) {
    conf_join(rt, h[i], NULL);
    weft_join_free(h[i]);
    assert_true(s[i].end_ns - s[i].start_ns >= s[i].ms * 1000000u);
  }
  free(s);
  free(h);
  weft_runtime_free(rt);
}

/* T: shutdown with timers pending drops the tasks without firing them;
 * each task's drop frees its armed timer while the runtime still exists. */
typedef struct owned_sleeper {
  sleeper *s;
} owned_sleeper;

static weft_poll owned_sleeper_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  return sleeper_poll(((owned_sleeper *)p)->s, cx);
}

static void owned_sleeper_drop(void *p) {
  sleeper *s = ((owned_sleeper *)p)->s;
  weft_future_free(s->f);
  s->f = NULL;
}

static const weft_future_vtable owned_sleeper_vt = {
    sizeof(weft_future_vtable), owned_sleeper_poll, owned_sleeper_drop};

static void test_timers_pending_at_shutdown_are_dropped(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  sleeper s[8];
  for (int i = 0; i < 8; i++) {
    s[i] = (sleeper){.ms = 60000};
    owned_sleeper o = {&s[i]};
    assert_int_equal(weft_spawn_detached(rt, &owned_sleeper_vt, &o, sizeof o),
                     0);
  }
  /* Let them arm their timers, then tear down. */
  sleeper quick = {.ms = 2};
  run_sleeper(rt, &quick);
  weft_runtime_free(rt);
  for (int i = 0; i < 8; i++) {
    assert_true(s[i].end_ns == 0);
    assert_null(s[i].f);
  }
}

static const conf_test tests[] = {
    CONF_TEST("T1", test_timers_never_fire_early, 0),
    CONF_TEST("T2", test_timers_zero_ms_fires, 0),
    CONF_TEST("T3", test_timers_fire_in_deadline_order, 0),
    CONF_TEST("T4", test_timers_days_in_future, 0),
    CONF_TEST("T5", test_timers_cancel_before_deadline, 0),
    CONF_TEST("T5", test_timers_timeout_expires_and_passes, 0),
    CONF_TEST("T1", test_timers_interval_ticks_on_schedule, 0),
    CONF_TEST("T3", test_timers_many_all_fire, 0),
    CONF_TEST("T3", test_timers_due_together_run_in_deadline_order, 0),
    CONF_TEST("T6", test_timers_pending_at_shutdown_are_dropped, 0),
};

CONF_AREA(conf_area_timers, "timers", tests);
