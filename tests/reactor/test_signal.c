/* tests/reactor/test_signal.c: signals as streams; two runtimes in one
 * process both see every delivery. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rt_helpers.h"

typedef struct waiter {
  weft_signal *s;
  int count;
} waiter;

static weft_poll waiter_poll(void *p, weft_context *cx, void *out) {
  waiter *w = p;
  int rc = weft_signal_poll_recv(w->s, cx);
  if (rc == 0)
    return WEFT_PENDING;
  w->count = rc;
  if (out)
    *(int *)out = rc;
  return WEFT_READY;
}
static const weft_future_vtable waiter_vt = {sizeof(weft_future_vtable),
                                             waiter_poll, NULL};

static void *raiser(void *p) {
  struct timespec ts = {0, 50000000};
  nanosleep(&ts, NULL);
  kill(getpid(), *(int *)p);
  return NULL;
}

static void test_signal_two_runtimes_both_receive(void **state) {
  (void)state;
  weft_runtime *a = rt_new(2, NULL), *b = rt_new(1, NULL);
  assert_non_null(a);
  assert_non_null(b);
  weft_signal *sa, *sb, *sa2;
  assert_int_equal(weft_signal_new(a, SIGUSR1, &sa), 0);
  assert_int_equal(weft_signal_new(b, SIGUSR1, &sb), 0);
  assert_int_equal(weft_signal_new(a, SIGUSR1, &sa2), 0); /* two streams */
  for (int round = 0; round < 3; round++) {
    waiter wb = {sb, 0}, wa2 = {sa2, 0};
    weft_join_handle *hb, *ha2;
    assert_int_equal(weft_spawn(b, &waiter_vt, &wb, sizeof wb, sizeof(int),
                                &hb),
                     0);
    assert_int_equal(weft_spawn(a, &waiter_vt, &wa2, sizeof wa2, sizeof(int),
                                &ha2),
                     0);
    int sig = SIGUSR1;
    pthread_t t;
    pthread_create(&t, NULL, raiser, &sig);
    waiter wa = {sa, 0};
    assert_int_equal(weft_block_on(a, &waiter_vt, &wa, NULL), 0);
    pthread_join(t, NULL);
    assert_true(wa.count >= 1);
    weft_join_result r;
    assert_int_equal(weft_join_wait(hb, 5000, &r), 0);
    assert_true(*(int *)r.output >= 1);
    assert_int_equal(weft_join_wait(ha2, 5000, &r), 0);
    assert_true(*(int *)r.output >= 1);
    weft_join_free(hb);
    weft_join_free(ha2);
  }
  weft_signal_free(sa);
  weft_signal_free(sa2);
  weft_signal_free(sb);
  weft_runtime_free(a);
  weft_runtime_free(b);
}

static void test_signal_merges_and_restores_disposition(void **state) {
  (void)state;
  weft_runtime *rt = rt_new(1, NULL);
  struct sigaction before;
  sigaction(SIGUSR2, NULL, &before);
  weft_signal *s;
  assert_int_equal(weft_signal_new(rt, SIGUSR2, &s), 0);
  /* Three deliveries before the task polls merge into one result >= 1. */
  for (int i = 0; i < 3; i++)
    kill(getpid(), SIGUSR2);
  waiter w = {s, 0};
  assert_int_equal(weft_block_on(rt, &waiter_vt, &w, NULL), 0);
  assert_true(w.count >= 1 && w.count <= 3);
  weft_signal_free(s);
  struct sigaction after;
  sigaction(SIGUSR2, NULL, &after);
  assert_true(after.sa_handler == before.sa_handler);
  assert_int_equal(weft_signal_new(rt, SIGKILL, &s), WEFT_EINVAL);
  assert_int_equal(weft_signal_new(rt, 0, &s), WEFT_EINVAL);
  assert_int_equal(weft_signal_new(NULL, SIGUSR2, &s), WEFT_EINVAL);
  weft_runtime_free(rt);
}

static void test_signal_stream_outliving_runtime(void **state) {
  (void)state;
  struct sigaction before, after;
  sigaction(SIGUSR2, NULL, &before);
  weft_runtime *rt = rt_new(1, NULL), *other = rt_new(1, NULL);
  weft_signal *s;
  assert_int_equal(weft_signal_new(rt, SIGUSR2, &s), 0);
  weft_runtime_free(rt);
  /* The handler is gone with the runtime... */
  sigaction(SIGUSR2, NULL, &after);
  assert_true(after.sa_handler == before.sa_handler);
  /* ...and the stream says so instead of waiting forever. */
  waiter w = {s, 0};
  int out = 0;
  assert_int_equal(weft_block_on(other, &waiter_vt, &w, &out), 0);
  assert_int_equal(out, WEFT_ESHUTDOWN);
  weft_signal_free(s);
  weft_runtime_free(other);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signal_two_runtimes_both_receive),
      cmocka_unit_test(test_signal_merges_and_restores_disposition),
      cmocka_unit_test(test_signal_stream_outliving_runtime),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
