/* tests/exec/test_stress.c: at least 10 million spawn / wake / abort / join
 * operations across the workers and two foreign threads (scaled by
 * WEFT_TEST_SCALE). Meant to run under ThreadSanitizer with no
 * suppressions; in every build it checks that each future is dropped
 * exactly once and every handle resolves. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#define NSLOTS 64

static atomic_long ops;
static atomic_long spawned, dropped;
static long target;

/* Long-lived "sleeper" tasks publish their waker in a slot; anyone may
 * wake them. Each poll re-publishes and counts. */
struct slot {
  pthread_mutex_t mu;
  weft_waker w;
};
static struct slot slots[NSLOTS];
static atomic_int stop;

struct sleeper {
  int idx;
};
static weft_poll sleeper_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct sleeper *sl = s;
  atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
  if (atomic_load(&stop))
    return WEFT_READY;
  struct slot *sp = &slots[sl->idx];
  pthread_mutex_lock(&sp->mu);
  if (!sp->w.vtable)
    weft_waker_clone(weft_context_waker(cx), &sp->w);
  pthread_mutex_unlock(&sp->mu);
  return WEFT_PENDING;
}
static void counted_drop(void *s) {
  (void)s;
  atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}
static const weft_future_vtable sleeper_vt = {sizeof(weft_future_vtable),
                                              sleeper_poll, counted_drop};

static void wake_slot(unsigned i) {
  struct slot *sp = &slots[i % NSLOTS];
  weft_waker w = {NULL, NULL};
  pthread_mutex_lock(&sp->mu);
  w = sp->w;
  sp->w.vtable = NULL;
  pthread_mutex_unlock(&sp->mu);
  weft_waker_wake(&w); /* no waker: nothing */
  atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
}

/* A leaf task: yields `n` times, waking a sleeper each time. */
struct leaf {
  int n;
  unsigned seed;
};
static weft_poll leaf_poll(void *s, weft_context *cx, void *out) {
  struct leaf *l = s;
  atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
  if (l->n-- > 0) {
    wake_slot(l->seed++);
    weft_waker_wake_by_ref(weft_context_waker(cx));
    return WEFT_PENDING;
  }
  if (out)
    *(unsigned *)out = l->seed;
  return WEFT_READY;
}
static const weft_future_vtable leaf_vt = {sizeof(weft_future_vtable),
                                           leaf_poll, counted_drop};

/* A parent task spawns children, aborts some, awaits the rest. */
#define KIDS 8
struct parent {
  int state, i;
  unsigned seed;
  weft_join_handle *h[KIDS];
};
static weft_poll parent_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct parent *p = s;
  atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
  if (p->state == 0) {
    for (int i = 0; i < KIDS; i++) {
      struct leaf l = {(int)(p->seed + (unsigned)i) % 4, p->seed + (unsigned)i};
      if (weft_spawn(weft_runtime_current(), &leaf_vt, &l, sizeof l,
                     sizeof(unsigned), &p->h[i]) == 0) {
        atomic_fetch_add_explicit(&spawned, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
      } else {
        p->h[i] = NULL;
      }
    }
    for (int i = 0; i < KIDS; i += 3) {
      if (p->h[i]) {
        weft_join_abort(p->h[i]);
        atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
      }
    }
    p->state = 1;
  }
  for (; p->i < KIDS; p->i++) {
    if (!p->h[p->i])
      continue;
    weft_join_result r;
    if (weft_join_poll(p->h[p->i], cx, &r) == WEFT_PENDING)
      return WEFT_PENDING;
    assert_true(r.status == WEFT_JOIN_COMPLETED ||
                r.status == WEFT_JOIN_CANCELLED);
    weft_join_free(p->h[p->i]);
    atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
  }
  return WEFT_READY;
}
static void parent_drop(void *s) {
  struct parent *p = s;
  for (; p->i < KIDS; p->i++)
    if (p->h[p->i])
      weft_join_free(p->h[p->i]);
  counted_drop(s);
}
static const weft_future_vtable parent_vt = {sizeof(weft_future_vtable),
                                             parent_poll, parent_drop};

/* Foreign thread A: spawns parents and joins them from a plain thread,
 * waking sleepers in between. */
static void *foreign_a(void *arg) {
  weft_runtime *rt = arg;
  unsigned seed = 1;
  while (atomic_load_explicit(&ops, memory_order_relaxed) < target) {
    weft_join_handle *h[16];
    int n = 0;
    for (int i = 0; i < 16; i++) {
      struct parent p;
      memset(&p, 0, sizeof p);
      p.seed = seed++;
      if (weft_spawn(rt, &parent_vt, &p, sizeof p, 0, &h[n]) == 0) {
        n++;
        atomic_fetch_add_explicit(&spawned, 1, memory_order_relaxed);
      }
      wake_slot(seed * 7);
    }
    for (int i = 0; i < n; i++) {
      weft_join_result r;
      /* A generous bound: under TSan on a loaded 2-core machine the whole
       * test takes 17-40 s, and one parent behind thread B's flood of
       * spawns once took longer than 30 s to finish. */
      assert_int_equal(weft_join_wait(h[i], 120000, &r), 0);
      assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
      weft_join_free(h[i]);
      atomic_fetch_add_explicit(&ops, 2, memory_order_relaxed);
    }
  }
  return NULL;
}

/* Foreign thread B: spawns leaves, aborts half at once, detaches the
 * rest, and wakes sleepers. */
static void *foreign_b(void *arg) {
  weft_runtime *rt = arg;
  unsigned seed = 99;
  while (atomic_load_explicit(&ops, memory_order_relaxed) < target) {
    for (int i = 0; i < 64; i++) {
      struct leaf l = {(int)(seed % 3), seed};
      seed++;
      weft_join_handle *h;
      if (weft_spawn(rt, &leaf_vt, &l, sizeof l, sizeof(unsigned), &h))
        continue;
      atomic_fetch_add_explicit(&spawned, 1, memory_order_relaxed);
      if (seed % 2)
        weft_join_abort(h);
      weft_join_free(h);
      wake_slot(seed);
      atomic_fetch_add_explicit(&ops, 3, memory_order_relaxed);
    }
    sched_yield();
  }
  return NULL;
}

static void test_stress_mixed_ops(void **st) {
  (void)st;
  target = (long)(10000000.0 * test_scale());
  for (int i = 0; i < NSLOTS; i++)
    pthread_mutex_init(&slots[i].mu, NULL);
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 0);
  for (int i = 0; i < NSLOTS; i++) {
    struct sleeper s = {i};
    assert_int_equal(weft_spawn_detached(rt, &sleeper_vt, &s, sizeof s), 0);
    atomic_fetch_add(&spawned, 1);
  }
  pthread_t a, b;
  pthread_create(&a, NULL, foreign_a, rt);
  pthread_create(&b, NULL, foreign_b, rt);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  atomic_store(&stop, 1);
  for (int i = 0; i < NSLOTS; i++)
    wake_slot((unsigned)i);
  weft_runtime_free(rt);
  for (int i = 0; i < NSLOTS; i++) {
    weft_waker_drop(&slots[i].w);
    pthread_mutex_destroy(&slots[i].mu);
  }
  fprintf(stderr, "stress: %ld ops, %ld tasks\n", atomic_load(&ops),
          atomic_load(&spawned));
  assert_true(atomic_load(&ops) >= target);
  assert_int_equal(atomic_load(&dropped), atomic_load(&spawned));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stress_mixed_ops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
