/* tests/reactor/test_epoll.c: the epoll backend through its vtable, with a
 * fake host that records what the backend reports. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>

#include <cmocka.h>

#include "../../backends/epoll/epoll.h"
#include <weft/error.h>

typedef struct rec {
  int calls;
  void *token;
  uint32_t events;
} rec;

static void rec_io_ready(void *ctx, void *token, uint32_t events) {
  rec *r = ctx;
  r->calls++;
  r->token = token;
  r->events |= events;
}

static const weft_backend *be = &weft__backend_epoll;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *make_loop(rec *r, weft_backend_host *h) {
  *h = (weft_backend_host){.struct_size = sizeof *h,
                           .ctx = r,
                           .io_ready = rec_io_ready};
  void *loop = NULL;
  assert_int_equal(be->create(&loop, h), 0);
  return loop;
}

static void test_epoll_vtable_header(void **state) {
  (void)state;
  assert_int_equal(be->abi_version, WEFT_BACKEND_ABI_V1);
  assert_int_equal(be->struct_size, sizeof(weft_backend));
  assert_string_equal(be->name, "epoll");
  assert_null(be->rearm_fd); /* edge-triggered */
}

static void test_epoll_reports_edge_once(void **state) {
  (void)state;
  rec r = {0};
  weft_backend_host h;
  void *loop = make_loop(&r, &h);
  int p[2];
  assert_int_equal(pipe2(p, O_NONBLOCK), 0);
  int token;
  assert_int_equal(be->register_fd(loop, p[0], WEFT_IO_READABLE, &token), 0);
  assert_int_equal(be->poll(loop, 0), 0);
  assert_int_equal(write(p[1], "x", 1), 1);
  assert_int_equal(be->poll(loop, 1000), 1);
  assert_int_equal(r.calls, 1);
  assert_ptr_equal(r.token, &token);
  assert_true(r.events & WEFT_IO_READABLE);
  /* Not drained, yet no second report: edge-triggered, no busy loop. */
  assert_int_equal(be->poll(loop, 20), 0);
  assert_int_equal(r.calls, 1);
  /* New data is a new edge. */
  assert_int_equal(write(p[1], "y", 1), 1);
  assert_int_equal(be->poll(loop, 1000), 1);
  assert_int_equal(r.calls, 2);
  /* Deregistered: silence. */
  assert_int_equal(be->deregister_fd(loop, p[0], &token), 0);
  assert_int_equal(write(p[1], "z", 1), 1);
  assert_int_equal(be->poll(loop, 20), 0);
  assert_int_equal(r.calls, 2);
  close(p[0]);
  close(p[1]);
  be->destroy(loop);
}

static void test_epoll_hangup_reported(void **state) {
  (void)state;
  rec r = {0};
  weft_backend_host h;
  void *loop = make_loop(&r, &h);
  int p[2];
  assert_int_equal(pipe2(p, O_NONBLOCK), 0);
  int token;
  assert_int_equal(
      be->register_fd(loop, p[0], WEFT_IO_READABLE | WEFT_IO_WRITABLE, &token),
      0);
  close(p[1]);
  assert_int_equal(be->poll(loop, 1000), 1);
  assert_true(r.events & WEFT_IO_HANGUP);
  close(p[0]);
  be->destroy(loop);
}

static void *waker_thread(void *arg) {
  struct timespec ts = {0, 50 * 1000000};
  nanosleep(&ts, NULL);
  be->wake(arg);
  return NULL;
}

static void test_epoll_wake_interrupts_blocked_poll(void **state) {
  (void)state;
  rec r = {0};
  weft_backend_host h;
  void *loop = make_loop(&r, &h);
  pthread_t t;
  uint64_t t0 = now_ms();
  pthread_create(&t, NULL, waker_thread, loop);
  assert_int_equal(be->poll(loop, -1), 0); /* would block forever */
  uint64_t el = now_ms() - t0;
  assert_true(el >= 40 && el < 5000);
  pthread_join(t, NULL);
  /* Wakes merge, and a wake before the poll makes it return at once. */
  for (int i = 0; i < 100; i++)
    assert_int_equal(be->wake(loop), 0);
  t0 = now_ms();
  assert_int_equal(be->poll(loop, 5000), 0);
  assert_true(now_ms() - t0 < 1000);
  /* Drained: the next poll times out. */
  t0 = now_ms();
  assert_int_equal(be->poll(loop, 30), 0);
  assert_true(now_ms() - t0 >= 29);
  assert_int_equal(r.calls, 0);
  be->destroy(loop);
}

static void test_epoll_errors(void **state) {
  (void)state;
  rec r = {0};
  weft_backend_host h;
  void *loop = make_loop(&r, &h);
  int token;
  assert_int_equal(be->register_fd(loop, 9999, WEFT_IO_READABLE, &token),
                   WEFT_EBADF);
  int p[2];
  assert_int_equal(pipe2(p, O_NONBLOCK), 0);
  assert_int_equal(be->register_fd(loop, p[0], WEFT_IO_READABLE, &token), 0);
  assert_int_equal(be->register_fd(loop, p[0], WEFT_IO_READABLE, &token),
                   WEFT_EEXIST);
  assert_int_equal(be->modify_fd(loop, p[0], WEFT_IO_WRITABLE, &token), 0);
  assert_int_equal(be->deregister_fd(loop, p[0], &token), 0);
  assert_int_equal(be->deregister_fd(loop, p[0], &token), WEFT_ENOENT);
  void *native = NULL;
  assert_int_equal(be->ctl(loop, WEFT_BACKEND_CTL_NATIVE_LOOP, &native), 0);
  assert_non_null(native);
  assert_int_equal(be->ctl(loop, 999, NULL), WEFT_ENOTSUP);
  close(p[0]);
  close(p[1]);
  be->destroy(loop);
}

static void on_alarm(int s) { (void)s; }

static void test_epoll_eintr_returns_zero(void **state) {
  (void)state;
  rec r = {0};
  weft_backend_host h;
  void *loop = make_loop(&r, &h);
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm; /* no SA_RESTART: epoll_wait gets EINTR */
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 30000}};
  setitimer(ITIMER_REAL, &it, NULL);
  assert_int_equal(be->poll(loop, 2000), 0);
  be->destroy(loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_epoll_vtable_header),
      cmocka_unit_test(test_epoll_reports_edge_once),
      cmocka_unit_test(test_epoll_hangup_reported),
      cmocka_unit_test(test_epoll_wake_interrupts_blocked_poll),
      cmocka_unit_test(test_epoll_errors),
      cmocka_unit_test(test_epoll_eintr_returns_zero),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
