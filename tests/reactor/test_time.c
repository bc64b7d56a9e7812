/* tests/reactor/test_time.c: sleeps, intervals and timeouts on a real
 * multi-thread runtime and CLOCK_MONOTONIC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "rt_helpers.h"

static void test_time_sleep_is_not_early(void **state) {
  (void)state;
  weft_runtime *rt = rt_new(2, NULL);
  assert_non_null(rt);
  for (int ms = 0; ms <= 40; ms += 10) {
    uint64_t t0 = mono_ns();
    weft_future *f;
    assert_int_equal(weft_sleep((uint64_t)ms, &f), 0);
    int *res = block_on_boxed(rt, f);
    assert_non_null(res);
    assert_int_equal(*res, 0);
    assert_true(mono_ns() - t0 >= (uint64_t)ms * 1000000u);
    weft_future_free(f);
  }
  /* sleep_until a deadline in the past completes at once. */
  weft_future *f;
  assert_int_equal(weft_sleep_until(weft_now_ns() - 1000, &f), 0);
  assert_non_null(block_on_boxed(rt, f));
  weft_future_free(f);
  assert_int_equal(weft_sleep(1, NULL), WEFT_EINVAL);
  weft_runtime_free(rt);
}

/* 10,000 tasks, each sleeping 0..250 ms; each checks on completion that
 * CLOCK_MONOTONIC has passed its deadline. */
typedef struct sleeper {
  uint64_t deadline;
  uint64_t ms;
  weft_future *f;
  atomic_int *early, *done;
} sleeper;

static weft_poll sleeper_poll(void *p, weft_context *cx, void *out) {
  sleeper *s = p;
  (void)out;
  if (!s->f) {
    s->deadline = mono_ns() + s->ms * 1000000u;
    if (weft_sleep(s->ms, &s->f) < 0)
      abort();
  }
  if (weft_future_poll(s->f, cx) == WEFT_PENDING)
    return WEFT_PENDING;
  if (mono_ns() < s->deadline)
    atomic_fetch_add(s->early, 1);
  atomic_fetch_add(s->done, 1);
  weft_future_free(s->f);
  s->f = NULL;
  return WEFT_READY;
}
static const weft_future_vtable sleeper_vt = {sizeof(weft_future_vtable),
                                              sleeper_poll, NULL};

static void test_time_10000_sleeps_none_early(void **state) {
  (void)state;
  weft_runtime *rt = rt_new(2, NULL);
  assert_non_null(rt);
  atomic_int early = 0, done = 0;
  int n = (int)(10000 * test_scale());
  uint64_t x = 42;
  for (int i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    sleeper s = {0, (x >> 33) % 250, NULL, &early, &done};
    assert_int_equal(weft_spawn_detached(rt, &sleeper_vt, &s, sizeof s), 0);
  }
  uint64_t give_up = mono_ns() + 10000000000ull;
  while (atomic_load(&done) < n && mono_ns() < give_up) {
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(atomic_load(&done), n);
  assert_int_equal(atomic_load(&early), 0);
  weft_runtime_free(rt);
}

/* A future that never completes (the inner of a timeout). */
static weft_poll never_poll(void *p, weft_context *cx, void *out) {
  (void)p;
  (void)cx;
  (void)out;
  return WEFT_PENDING;
}
static const weft_future_vtable never_vt = {sizeof(weft_future_vtable),
                                            never_poll, NULL};

static void test_time_timeout_expires_and_passes(void **state) {
  (void)state;
  weft_runtime *rt = rt_new(2, NULL);
  weft_future *inner, *f;
  assert_int_equal(weft_future_new(&never_vt, NULL, 0, 0, &inner), 0);
  assert_int_equal(weft_timeout(inner, 30, &f), 0);
  uint64_t t0 = mono_ns();
  weft_timeout_output *o = block_on_boxed(rt, f);
  assert_non_null(o);
  assert_int_equal(o->status, WEFT_ETIMEDOUT);
  assert_null(o->inner);
  assert_true(mono_ns() - t0 >= 30000000u);
  weft_future_free(f);
  /* An inner sleep shorter than the timeout completes in time. */
  assert_int_equal(weft_sleep(10, &inner), 0);
  assert_int_equal(weft_timeout(inner, 2000, &f), 0);
  o = block_on_boxed(rt, f);
  assert_int_equal(o->status, 0);
  assert_ptr_equal(o->inner, inner);
  assert_int_equal(*(int *)weft_future_output(o->inner), 0);
  weft_future_free(o->inner);
  weft_future_free(f);
  /* Freed before completion: the inner goes with it. */
  assert_int_equal(weft_sleep(100000, &inner), 0);
  assert_int_equal(weft_timeout(inner, 100000, &f), 0);
  weft_future_free(f);
  assert_int_equal(weft_timeout(NULL, 1, &f), WEFT_EINVAL);
  weft_runtime_free(rt);
}

typedef struct ticker {
  weft_interval *iv;
  int want, got;
  uint64_t ticks[8];
  uint64_t seen[8];
  int stall_after; /* busy-wait 75 ms after this tick (-1: never) */
} ticker;

static weft_poll ticker_poll(void *p, weft_context *cx, void *out) {
  ticker *t = p;
  (void)out;
  while (t->got < t->want) {
    uint64_t tick;
    int rc = weft_interval_poll_tick(t->iv, cx, &tick);
    if (rc == 0)
      return WEFT_PENDING;
    if (rc < 0)
      abort();
    t->ticks[t->got] = tick;
    t->seen[t->got] = mono_ns();
    if (t->got++ == t->stall_after) {
      uint64_t until = mono_ns() + 75000000u;
      while (mono_ns() < until)
        ;
    }
  }
  return WEFT_READY;
}
static const weft_future_vtable ticker_vt = {sizeof(weft_future_vtable),
                                             ticker_poll, NULL};

static void run_ticker(weft_runtime *rt, weft_missed_tick policy,
                       ticker *t) {
  memset(t, 0, sizeof *t);
  t->want = 6;
  t->stall_after = 1;
  assert_int_equal(weft_interval_new(20, policy, &t->iv), 0);
  assert_int_equal(weft_block_on(rt, &ticker_vt, t, NULL), 0);
  weft_interval_free(t->iv);
  for (int i = 0; i < t->want; i++)
    assert_true(t->seen[i] >= t->ticks[i]); /* never early */
}

static void test_time_interval_missed_tick_policies(void **state) {
  (void)state;
  weft_runtime *rt = rt_new(2, NULL);
  ticker t;
  /* BURST: the schedule is kept: tick k is at start + 20k ms. */
  run_ticker(rt, WEFT_MISSED_TICK_BURST, &t);
  for (int i = 1; i < 6; i++)
    assert_int_equal(t.ticks[i] - t.ticks[0], (uint64_t)i * 20000000u);
  /* ...so after the 75 ms stall, the missed ticks come back to back. */
  assert_true(t.seen[3] - t.seen[2] < 10000000u);
  /* DELAY: one tick at once after the stall, then 20 ms from there. */
  run_ticker(rt, WEFT_MISSED_TICK_DELAY, &t);
  assert_true(t.ticks[3] - t.seen[2] >= 20000000u - 1000000u);
  assert_true(t.ticks[3] - t.ticks[2] >= 20000000u);
  /* SKIP: back on the original grid after the stall, at the next point. */
  run_ticker(rt, WEFT_MISSED_TICK_SKIP, &t);
  for (int i = 1; i < 6; i++)
    assert_int_equal((t.ticks[i] - t.ticks[0]) % 20000000u, 0);
  assert_true(t.ticks[3] > t.seen[2]);
  assert_int_equal(weft_interval_new(0, WEFT_MISSED_TICK_BURST, &t.iv),
                   WEFT_EINVAL);
  weft_runtime_free(rt);
}

static void test_time_sleep_outside_runtime_reports_shutdown(void **state) {
  (void)state;
  /* now_ns works anywhere; a sleep made outside a runtime binds at its
   * first poll (covered above); a timer freed unpolled costs nothing. */
  uint64_t a = weft_now_ns(), b = weft_now_ns();
  assert_true(b >= a);
  weft_future *f;
  assert_int_equal(weft_sleep(5, &f), 0);
  weft_future_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_time_sleep_is_not_early),
      cmocka_unit_test(test_time_10000_sleeps_none_early),
      cmocka_unit_test(test_time_timeout_expires_and_passes),
      cmocka_unit_test(test_time_interval_missed_tick_policies),
      cmocka_unit_test(test_time_sleep_outside_runtime_reports_shutdown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
