/* tests/reactor/test_driver.c: the driver with the real epoll backend:
 * timers against CLOCK_MONOTONIC, unpark, the readiness registry, close
 * while waiting. Wakers are the test's own; no executor is involved. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "reactor/driver_impl.h"

static weft__driver *new_driver(void) {
  weft__driver *d = NULL;
  assert_int_equal(
      weft__driver_new_with(NULL, &weft__backend_epoll, NULL, NULL, &d), 0);
  return d;
}

static double scale(void) {
  const char *s = getenv("WEFT_TEST_SCALE");
  double v = s ? atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

/* A waker that records the CLOCK_MONOTONIC time of its wake. */
typedef struct stamp {
  uint64_t deadline;
  uint64_t woke_at;
  weft__timer timer;
} stamp;
static weft_waker st_clone(const void *p);
static void st_wake(const void *p) {
  stamp *s = (stamp *)(uintptr_t)p;
  s->woke_at = weft__now_ns();
}
static void st_drop(const void *p) { (void)p; }
static const weft_waker_vtable st_vt = {st_clone, st_wake, st_wake, st_drop};
static weft_waker st_clone(const void *p) { return (weft_waker){p, &st_vt}; }

static uint64_t lcg(uint64_t *x) {
  *x = *x * 6364136223846793005ull + 1442695040888963407ull;
  return *x >> 33;
}

static void test_driver_10000_sleeps_none_early(void **state) {
  (void)state;
  int n = (int)(10000 * scale());
  weft__driver *d = new_driver();
  stamp *s = calloc((size_t)n, sizeof *s);
  uint64_t x = 42, base = weft__now_ns();
  for (int i = 0; i < n; i++) {
    /* 0..300 ms, with sub-millisecond offsets, so rounding matters. */
    s[i].deadline = base + lcg(&x) % 300000000u;
    weft_context cx = {{&s[i], &st_vt}, NULL, NULL};
    weft__timer_poll(d, &s[i].timer, s[i].deadline, &cx);
  }
  int done = 0;
  uint64_t give_up = weft__now_ns() + 5000000000ull;
  while (done < n && weft__now_ns() < give_up) {
    weft__driver_turn(d, -1);
    done = 0;
    for (int i = 0; i < n; i++)
      done += atomic_load(&s[i].timer.fired);
  }
  assert_int_equal(done, n);
  uint64_t worst_late = 0;
  for (int i = 0; i < n; i++) {
    /* A timer armed with a deadline already past completes at once and
     * is never woken: only those that were woken carry a stamp. */
    if (s[i].woke_at) {
      assert_true(s[i].woke_at >= s[i].deadline); /* never early */
      uint64_t late = s[i].woke_at - s[i].deadline;
      if (late > worst_late)
        worst_late = late;
    }
  }
  fprintf(stderr, "worst lateness %.2f ms\n", worst_late / 1e6);
  assert_int_equal(d->wheel.count, 0);
  weft__driver_free(d);
  free(s);
}

typedef struct after {
  weft__driver *d;
  int ms;
  int what; /* 0: unpark, 1: arm a timer, 2: close the registration */
  weft__timer timer;
  weft__io_reg *reg;
} after;

static void *after_thread(void *p) {
  after *a = p;
  struct timespec ts = {0, a->ms * 1000000L};
  nanosleep(&ts, NULL);
  if (a->what == 0)
    weft__driver_unpark(a->d);
  else if (a->what == 1)
    weft__timer_poll(a->d, &a->timer, weft__driver_now_ns(a->d) + 20000000u,
                     NULL);
  else
    weft__io_close(a->reg, 1);
  return NULL;
}

static void test_driver_unpark_interrupts_blocked_turn(void **state) {
  (void)state;
  weft__driver *d = new_driver();
  after a = {.d = d, .ms = 50, .what = 0};
  pthread_t t;
  uint64_t t0 = weft__now_ns();
  pthread_create(&t, NULL, after_thread, &a);
  weft__driver_turn(d, -1); /* no timer: blocks until unparked */
  uint64_t el = weft__now_ns() - t0;
  pthread_join(t, NULL);
  assert_true(el >= 40000000u && el < 3000000000u);
  /* An unpark while no turn runs makes the next turn return at once. */
  weft__driver_unpark(d);
  t0 = weft__now_ns();
  weft__driver_turn(d, 2000);
  assert_true(weft__now_ns() - t0 < 1000000000u);
  weft__driver_free(d);
}

static void test_driver_earlier_timer_from_other_thread_wakes_turn(
    void **state) {
  (void)state;
  weft__driver *d = new_driver();
  after a = {.d = d, .ms = 30, .what = 1};
  pthread_t t;
  uint64_t t0 = weft__now_ns();
  pthread_create(&t, NULL, after_thread, &a);
  /* Blocks with no deadline; the new timer must cut the wait short and
   * the following turns fire it. */
  while (!atomic_load(&a.timer.fired) &&
         weft__now_ns() - t0 < 3000000000u)
    weft__driver_turn(d, -1);
  pthread_join(t, NULL);
  assert_true(atomic_load(&a.timer.fired));
  assert_true(weft__now_ns() - t0 < 2000000000u);
  weft__driver_free(d);
}

static void test_driver_timer_cancel_leaves_wheel(void **state) {
  (void)state;
  weft__driver *d = new_driver();
  test_waker tw = {0};
  weft_context cx = tw_context(&tw);
  weft__timer t[100];
  memset(t, 0, sizeof t);
  for (int i = 0; i < 100; i++)
    assert_int_equal(weft__timer_poll(d, &t[i],
                                      weft__driver_now_ns(d) +
                                          (uint64_t)(i + 1) * 60000000000ull,
                                      &cx),
                     0);
  assert_int_equal(d->wheel.count, 100);
  assert_int_equal(atomic_load(&tw.clones), 100);
  for (int i = 0; i < 100; i++)
    weft__timer_cancel(d, &t[i]);
  assert_int_equal(d->wheel.count, 0);
  assert_int_equal(atomic_load(&tw.clones), 0); /* wakers dropped */
  /* Freeing the driver with armed timers drops (not wakes) their wakers. */
  weft__timer_poll(d, &t[0], weft__driver_now_ns(d) + 1000000000u, &cx);
  weft__driver_free(d);
  assert_int_equal(atomic_load(&tw.clones), 0);
  assert_int_equal(atomic_load(&tw.wakes), 0);
}

static void test_driver_readiness_tick_protects_clear(void **state) {
  (void)state;
  weft__driver *d = new_driver();
  int p[2];
  assert_int_equal(pipe2(p, O_NONBLOCK), 0);
  weft__io_reg *r;
  assert_int_equal(weft__io_register(d, p[0], &r), 0);
  test_waker tw = {0};
  weft_context cx = tw_context(&tw);
  uint32_t ready;
  uint64_t tick;
  weft__driver_turn(d, 0); /* the pipe's initial report, if any */
  /* Drain any initial readiness so we start from "not ready". */
  while (weft__io_poll(r, &cx, WEFT_IO_READABLE, &ready, &tick) == 1)
    weft__io_clear(r, WEFT_IO_READABLE, tick);
  assert_int_equal(weft__io_poll(r, &cx, WEFT_IO_READABLE, &ready, &tick), 0);
  assert_int_equal(write(p[1], "a", 1), 1);
  weft__driver_turn(d, 1000);
  assert_int_equal(atomic_load(&tw.wakes), 1);
  assert_int_equal(weft__io_poll(r, &cx, WEFT_IO_READABLE, &ready, &tick), 1);
  char buf[8];
  assert_int_equal(read(p[0], buf, sizeof buf), 1);
  assert_int_equal(read(p[0], buf, sizeof buf), -1); /* EAGAIN */
  /* A new edge is delivered between the EAGAIN and the clear... */
  assert_int_equal(write(p[1], "b", 1), 1);
  weft__driver_turn(d, 1000);
  /* ...so the clear with the stale tick must not clear the bit. */
  weft__io_clear(r, WEFT_IO_READABLE, tick);
  uint64_t tick2;
  assert_int_equal(weft__io_poll(r, &cx, WEFT_IO_READABLE, &ready, &tick2), 1);
  assert_true(tick2 != tick);
  assert_int_equal(read(p[0], buf, sizeof buf), 1);
  weft__io_clear(r, WEFT_IO_READABLE, tick2); /* now it clears */
  assert_int_equal(weft__io_poll(r, &cx, WEFT_IO_READABLE, &ready, &tick), 0);
  weft__io_close(r, 1);
  weft__io_free(r);
  close(p[1]);
  weft__driver_free(d);
  assert_int_equal(atomic_load(&tw.clones), 0);
}

static void test_driver_close_while_waiting_wakes_with_error(void **state) {
  (void)state;
  weft__driver *d = new_driver();
  int p[2];
  assert_int_equal(pipe2(p, O_NONBLOCK), 0);
  weft__io_reg *r;
  assert_int_equal(weft__io_register(d, p[0], &r), 0);
  test_waker tw = {0};
  weft_context cx = tw_context(&tw);
  uint32_t ready;
  uint64_t tick;
  weft__driver_turn(d, 0);
  while (weft__io_poll(r, &cx, WEFT_IO_READABLE, &ready, &tick) == 1)
    weft__io_clear(r, WEFT_IO_READABLE, tick);
  /* Another thread closes it while the driver is blocked in a turn. */
  after a = {.d = d, .ms = 30, .what = 2, .reg = r};
  pthread_t t;
  pthread_create(&t, NULL, after_thread, &a);
  uint64_t t0 = weft__now_ns();
  while (atomic_load(&tw.wakes) == 0 && weft__now_ns() - t0 < 3000000000u)
    weft__driver_turn(d, 100);
  pthread_join(t, NULL);
  assert_int_equal(atomic_load(&tw.wakes), 1);
  assert_int_equal(weft__io_poll(r, &cx, WEFT_IO_READABLE, &ready, &tick),
                   WEFT_ECLOSED);
  weft__io_free(r);
  close(p[1]);
  weft__driver_free(d);
  assert_int_equal(atomic_load(&tw.clones), 0);
}

/* Fault injection through the wrappers of backend_call.c. */
static weft__backend_method fail_method;
static int fail_hook(weft__backend_method m) {
  return m == fail_method ? WEFT_ENOMEM : 0;
}

static void test_driver_backend_faults_are_survived(void **state) {
  (void)state;
  weft__driver *d = new_driver();
  int p[2];
  assert_int_equal(pipe2(p, O_NONBLOCK), 0);
  weft__io_reg *r = NULL;
  weft__backend_fault_hook = fail_hook;
  /* A failing registration returns its error and leaks nothing. */
  fail_method = WEFT__BM_REGISTER;
  assert_int_equal(weft__io_register(d, p[0], &r), WEFT_ENOMEM);
  /* A failing poll is reported by the turn; the driver stays usable. */
  fail_method = WEFT__BM_POLL;
  assert_int_equal(weft__driver_turn(d, 1000), WEFT_ENOMEM);
  /* A failing wake does not crash the unparker. */
  fail_method = WEFT__BM_WAKE;
  weft__driver_unpark(d);
  /* A failing close still closes the fd (no leak, no reuse hazard). */
  fail_method = WEFT__BM_COUNT;
  assert_int_equal(weft__io_register(d, p[0], &r), 0);
  fail_method = WEFT__BM_CLOSE;
  assert_int_equal(weft__io_close(r, 1), WEFT_ENOMEM);
  assert_int_equal(fcntl(p[0], F_GETFD), -1);
  weft__backend_fault_hook = NULL;
  weft__io_free(r);
  /* The driver still works: a timer fires. */
  test_waker tw = {0};
  weft_context cx = tw_context(&tw);
  weft__timer t;
  memset(&t, 0, sizeof t);
  assert_int_equal(
      weft__timer_poll(d, &t, weft__driver_now_ns(d) + 5000000u, &cx), 0);
  while (!atomic_load(&t.fired))
    weft__driver_turn(d, -1);
  assert_int_equal(atomic_load(&tw.wakes), 1);
  close(p[1]);
  weft__driver_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_driver_10000_sleeps_none_early),
      cmocka_unit_test(test_driver_unpark_interrupts_blocked_turn),
      cmocka_unit_test(test_driver_earlier_timer_from_other_thread_wakes_turn),
      cmocka_unit_test(test_driver_timer_cancel_leaves_wheel),
      cmocka_unit_test(test_driver_readiness_tick_protects_clear),
      cmocka_unit_test(test_driver_close_while_waiting_wakes_with_error),
      cmocka_unit_test(test_driver_backend_faults_are_survived),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
