/* tests/exec/test_shutdown.c: shutdown drops every unfinished future
 * exactly once, resolves every handle CANCELLED, and makes later wakes,
 * aborts and spawns harmless. Run under ASan/LSan for the "nothing leaks"
 * half of the contract. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#define NTASKS 100000

/* Every task keeps its own waker (as a leaf would) and also hands a clone
 * to the test every 100th task, so the test can wake it late. */
struct kept {
  pthread_mutex_t mu;
  weft_waker *slots;
  atomic_int drops;
  atomic_int polls;
};
struct sleeper {
  struct kept *k;
  int idx;
  weft_waker own;
};
static weft_poll sleeper_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct sleeper *sl = s;
  atomic_fetch_add(&sl->k->polls, 1);
  if (!sl->own.vtable)
    weft_waker_clone(weft_context_waker(cx), &sl->own);
  if (sl->idx % 100 == 0) {
    pthread_mutex_lock(&sl->k->mu);
    if (!sl->k->slots[sl->idx / 100].vtable)
      weft_waker_clone(weft_context_waker(cx), &sl->k->slots[sl->idx / 100]);
    pthread_mutex_unlock(&sl->k->mu);
  }
  return WEFT_PENDING;
}
static void sleeper_drop(void *s) {
  struct sleeper *sl = s;
  weft_waker_drop(&sl->own);
  atomic_fetch_add(&sl->k->drops, 1);
}
static const weft_future_vtable sleeper_vt = {sizeof(weft_future_vtable),
                                              sleeper_poll, sleeper_drop};

static void shutdown_pending(weft_flavor fl) {
  weft_runtime *rt = test_runtime(fl, 2);
  struct kept k;
  memset(&k, 0, sizeof k);
  pthread_mutex_init(&k.mu, NULL);
  k.slots = calloc(NTASKS / 100, sizeof *k.slots);
  weft_join_handle **hs = calloc(NTASKS / 10, sizeof *hs);
  for (int i = 0; i < NTASKS; i++) {
    struct sleeper sl = {&k, i, {NULL, NULL}};
    /* Every 10th task has a handle, the rest are detached. */
    weft_join_handle **h = i % 10 == 0 ? &hs[i / 10] : NULL;
    assert_int_equal(weft_spawn_at(rt, &sleeper_vt, &sl, sizeof sl, 8, h,
                                   __FILE__, __LINE__),
                     0);
  }
  if (fl == WEFT_FLAVOR_MULTI_THREAD) {
    /* Let some (not necessarily all) tasks be polled first. */
    for (int i = 0; i < 200 && atomic_load(&k.polls) < NTASKS / 2; i++)
      usleep(1000);
  }
  /* Some wakes race with the shutdown. */
  pthread_mutex_lock(&k.mu);
  for (int i = 0; i < NTASKS / 100; i++)
    weft_waker_wake_by_ref(&k.slots[i]);
  pthread_mutex_unlock(&k.mu);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  assert_int_equal(atomic_load(&k.drops), NTASKS);
  weft_runtime_metrics m;
  m.struct_size = sizeof m;
  assert_int_equal(weft_runtime_metrics_get(rt, &m), 0);
  assert_int_equal(m.tasks_alive, 0);
  for (int i = 0; i < NTASKS / 10; i++) {
    assert_true(weft_join_is_finished(hs[i]));
    weft_join_result r;
    assert_int_equal(weft_join_wait(hs[i], 0, &r), 0);
    assert_int_equal(r.status, WEFT_JOIN_CANCELLED);
    assert_int_equal(weft_join_abort(hs[i]), 0);
  }
  /* Spawning now is refused, nothing allocated. */
  struct value_fut v = {1};
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &value_vt, &v, sizeof v, 0, &h),
                   WEFT_ESHUTDOWN);
  weft_runtime_free(rt);
  /* Wakes after the runtime is gone: harmless. */
  for (int i = 0; i < NTASKS / 100; i++) {
    if (i % 2)
      weft_waker_wake(&k.slots[i]);
    else
      weft_waker_wake_by_ref(&k.slots[i]);
  }
  for (int i = 0; i < NTASKS / 100; i++)
    weft_waker_drop(&k.slots[i]);
  for (int i = 0; i < NTASKS / 10; i++)
    weft_join_free(hs[i]);
  assert_int_equal(atomic_load(&k.drops), NTASKS);
  free(k.slots);
  free(hs);
  pthread_mutex_destroy(&k.mu);
}

static void test_shutdown_100k_pending_multi(void **st) {
  (void)st;
  shutdown_pending(WEFT_FLAVOR_MULTI_THREAD);
}
static void test_shutdown_100k_pending_current(void **st) {
  (void)st;
  shutdown_pending(WEFT_FLAVOR_CURRENT_THREAD);
}

/* A future whose drop spawns and wakes: both are harmless during
 * shutdown. */
static weft_runtime *g_rt;
static atomic_int dropped;
static weft_poll pend_poll(void *s, weft_context *cx, void *out) {
  (void)s;
  (void)cx;
  (void)out;
  return WEFT_PENDING;
}
static void spawning_drop(void *s) {
  (void)s;
  struct value_fut v = {1};
  weft_join_handle *h;
  assert_int_equal(weft_spawn(g_rt, &value_vt, &v, sizeof v, 0, &h),
                   WEFT_ESHUTDOWN);
  atomic_fetch_add(&dropped, 1);
}
static const weft_future_vtable spawning_vt = {sizeof(weft_future_vtable),
                                               pend_poll, spawning_drop};
static void test_shutdown_drop_spawns(void **st) {
  (void)st;
  g_rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 2);
  for (int i = 0; i < 100; i++)
    assert_int_equal(weft_spawn_detached(g_rt, &spawning_vt, NULL, 0), 0);
  weft_runtime_free(g_rt);
  assert_int_equal(atomic_load(&dropped), 100);
}

/* Shutdown from another thread while block_on runs: block_on returns
 * WEFT_ESHUTDOWN. */
static weft_poll forever_poll(void *s, weft_context *cx, void *out) {
  (void)s;
  (void)cx;
  (void)out;
  return WEFT_PENDING;
}
static const weft_future_vtable forever_vt = {sizeof(weft_future_vtable),
                                              forever_poll, NULL};
static void *shutdown_later(void *arg) {
  usleep(50000);
  weft_runtime_shutdown(arg, -1);
  return NULL;
}
static void test_shutdown_interrupts_block_on(void **st) {
  (void)st;
  for (int fl = 0; fl < 2; fl++) {
    weft_runtime *rt = test_runtime((weft_flavor)fl, 2);
    pthread_t th;
    pthread_create(&th, NULL, shutdown_later, rt);
    assert_int_equal(weft_block_on(rt, &forever_vt, NULL, NULL),
                     WEFT_ESHUTDOWN);
    pthread_join(th, NULL);
    weft_runtime_free(rt);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shutdown_100k_pending_multi),
      cmocka_unit_test(test_shutdown_100k_pending_current),
      cmocka_unit_test(test_shutdown_drop_spawns),
      cmocka_unit_test(test_shutdown_interrupts_block_on),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
