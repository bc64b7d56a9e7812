/* tests/reactor/test_wheel.c: the timer wheel alone, on a test clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "reactor/wheel.h"

static uint64_t lcg(uint64_t *x) {
  *x = *x * 6364136223846793005ull + 1442695040888963407ull;
  return *x >> 11;
}

/* Advance tick by tick through a range, checking that every entry fires at
 * exactly its deadline: never before, never later. */
static void check_exact(weft__wheel *w, weft__timer_entry *e, size_t n,
                        uint64_t from, uint64_t to, uint64_t step) {
  for (uint64_t now = from; now <= to; now += step) {
    weft__wheel_advance(w, now);
    weft__timer_entry *d;
    while ((d = weft__wheel_pop_due(w)) != NULL) {
      assert_true(d->deadline <= now);        /* never early */
      assert_true(d->deadline > now - step);  /* and in this step */
      d->level = -2;                          /* mark as fired */
    }
  }
  for (size_t i = 0; i < n; i++)
    if (e[i].deadline <= to)
      assert_int_equal(e[i].level, -2);
}

static void test_wheel_level0_exact(void **state) {
  (void)state;
  weft__wheel w;
  weft__wheel_init(&w, 1000);
  weft__timer_entry e[64];
  for (int i = 0; i < 64; i++) {
    e[i] = (weft__timer_entry){0};
    e[i].deadline = 1001 + (uint64_t)i;
    assert_int_equal(weft__wheel_insert(&w, &e[i]), 0);
  }
  assert_int_equal(weft__wheel_next(&w), 1001);
  check_exact(&w, e, 64, 1000, 1100, 1);
  assert_int_equal(w.count, 0);
  assert_int_equal(weft__wheel_next(&w), UINT64_MAX);
}

/* Deadlines spread over all six levels (up to 64^6 ms) and beyond into the
 * overflow list; the clock jumps in big steps, so slots cascade through
 * every level. */
static void test_wheel_cascade_all_levels(void **state) {
  (void)state;
  enum { N = 4000 };
  weft__wheel w;
  uint64_t start = 123456789;
  weft__wheel_init(&w, start);
  weft__timer_entry *e = calloc(N, sizeof *e);
  uint64_t x = 42;
  int per_level[8] = {0};
  for (int i = 0; i < N; i++) {
    /* level i % 7: 0..5 are wheel levels, 6 goes past 64^6 ms. */
    int lvl = i % 7;
    uint64_t span = lvl == 6 ? (1ull << 38) : (1ull << (6 * (lvl + 1)));
    e[i].deadline = start + 1 + lcg(&x) % span;
    assert_int_equal(weft__wheel_insert(&w, &e[i]), 0);
    per_level[e[i].level]++;
  }
  for (int l = 0; l <= 6; l++)
    assert_true(per_level[l] > 0); /* every level and the overflow used */
  /* Walk the clock by jumping to the next event each time, as the driver
   * does with its poll timeout, checking nothing fires early or late. */
  uint64_t now = start;
  int fired = 0;
  while (fired < N) {
    uint64_t next = weft__wheel_next(&w);
    assert_true(next != UINT64_MAX);
    assert_true(next >= now);
    now = next;
    weft__wheel_advance(&w, now);
    weft__timer_entry *d;
    while ((d = weft__wheel_pop_due(&w)) != NULL) {
      assert_int_equal(d->deadline, now); /* exactly on time */
      fired++;
    }
  }
  assert_int_equal(w.count, 0);
  free(e);
}

/* Large random jumps of the clock: entries fire at the first advance at or
 * after their deadline. */
static void test_wheel_big_jumps_never_early(void **state) {
  (void)state;
  enum { N = 3000 };
  weft__wheel w;
  weft__wheel_init(&w, 0);
  weft__timer_entry *e = calloc(N, sizeof *e);
  uint64_t x = 7;
  for (int i = 0; i < N; i++) {
    e[i].deadline = 1 + lcg(&x) % (1ull << 30);
    weft__wheel_insert(&w, &e[i]);
  }
  uint64_t now = 0;
  int fired = 0;
  while (fired < N) {
    uint64_t prev = now;
    now += 1 + lcg(&x) % (1ull << 24);
    weft__wheel_advance(&w, now);
    weft__timer_entry *d;
    while ((d = weft__wheel_pop_due(&w)) != NULL) {
      assert_true(d->deadline <= now);
      assert_true(d->deadline > prev);
      fired++;
    }
  }
  free(e);
}

static void test_wheel_remove_everywhere(void **state) {
  (void)state;
  weft__wheel w;
  weft__wheel_init(&w, 5);
  weft__timer_entry e[8] = {{0}};
  uint64_t d[8] = {6, 70, 5000, 300000, 20000000, 1ull << 33, 1ull << 40, 7};
  for (int i = 0; i < 8; i++) {
    e[i].deadline = d[i];
    weft__wheel_insert(&w, &e[i]);
  }
  assert_int_equal(w.count, 8);
  weft__wheel_advance(&w, 6); /* e[0] becomes due, still cancellable */
  for (int i = 0; i < 8; i++)
    weft__wheel_remove(&w, &e[i]);
  assert_int_equal(w.count, 0);
  assert_null(weft__wheel_pop_due(&w));
  assert_int_equal(weft__wheel_next(&w), UINT64_MAX);
  weft__wheel_advance(&w, 1ull << 41);
  assert_null(weft__wheel_pop_due(&w));
}

static void test_wheel_due_now_is_not_inserted(void **state) {
  (void)state;
  weft__wheel w;
  weft__wheel_init(&w, 100);
  weft__timer_entry e = {0};
  e.deadline = 100;
  assert_int_equal(weft__wheel_insert(&w, &e), 1);
  assert_int_equal(w.count, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wheel_level0_exact),
      cmocka_unit_test(test_wheel_cascade_all_levels),
      cmocka_unit_test(test_wheel_big_jumps_never_early),
      cmocka_unit_test(test_wheel_remove_everywhere),
      cmocka_unit_test(test_wheel_due_now_is_not_inserted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
