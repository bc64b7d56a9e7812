/* tests/backends/test_backend_owned.c: a library backend module in owned
 * mode, driven directly through its vtable with a fake host, as the driver
 * would: readiness, wakes from other threads, registration during a poll,
 * no busy loop on an undrained fd, and close with fd-number reuse.
 *
 * Usage: test_backend_owned <path to libweft-backend-NAME.so> */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

static const char *module_path;
static const weft_backend *be;

/* As the core does: RTLD_DEEPBIND, because libev exports libevent's names,
 * except under the sanitizers, whose runtimes refuse it. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#endif
#endif
#ifndef DLOPEN_FLAGS
#define DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
#endif

#define MAX_EV 64
typedef struct fake_host {
  weft_backend_host host;
  atomic_int n;
  void *tokens[MAX_EV];
  uint32_t events[MAX_EV];
} fake_host;

static void on_io(void *ctx, void *token, uint32_t events) {
  fake_host *h = ctx;
  int i = atomic_load(&h->n);
  if (i < MAX_EV) {
    h->tokens[i] = token;
    h->events[i] = events;
  }
  atomic_store(&h->n, i + 1);
}

static void host_init(fake_host *h) {
  memset(h, 0, sizeof *h);
  h->host.struct_size = sizeof h->host;
  h->host.ctx = h;
  h->host.io_ready = on_io;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nonblock_pair(int sv[2]) {
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static int setup(void **state) {
  (void)state;
  return be ? 0 : -1;
}

static void test_owned_reports_readable(void **state) {
  (void)state;
  fake_host h;
  host_init(&h);
  void *loop;
  assert_int_equal(be->create(&loop, &h.host), 0);
  int sv[2];
  nonblock_pair(sv);
  int token;
  assert_int_equal(be->register_fd(loop, sv[0], WEFT_IO_READABLE, &token), 0);
  assert_int_equal(be->poll(loop, 0), 0);
  assert_int_equal(atomic_load(&h.n), 0);
  assert_int_equal(write(sv[1], "x", 1), 1);
  uint64_t t0 = now_ms();
  while (atomic_load(&h.n) == 0 && now_ms() - t0 < 2000)
    be->poll(loop, 100);
  assert_int_equal(atomic_load(&h.n), 1);
  assert_ptr_equal(h.tokens[0], &token);
  assert_true(h.events[0] & WEFT_IO_READABLE);
  void *native = NULL;
  if (be->ctl) {
    assert_int_equal(be->ctl(loop, WEFT_BACKEND_CTL_NATIVE_LOOP, &native), 0);
    assert_non_null(native);
  }
  assert_int_equal(be->deregister_fd(loop, sv[0], &token), 0);
  be->destroy(loop);
  close(sv[0]);
  close(sv[1]);
}

/* A reader that has not drained the fd must not see it reported over and
 * over; after it drains and re-arms, new data is reported again. */
static void test_owned_no_busy_loop_until_rearm(void **state) {
  (void)state;
  fake_host h;
  host_init(&h);
  void *loop;
  assert_int_equal(be->create(&loop, &h.host), 0);
  int sv[2];
  nonblock_pair(sv);
  int token;
  assert_int_equal(be->register_fd(loop, sv[0], WEFT_IO_READABLE, &token), 0);
  assert_int_equal(write(sv[1], "abc", 3), 3);
  uint64_t t0 = now_ms();
  int polls = 0;
  while (now_ms() - t0 < 200) {
    be->poll(loop, 50);
    polls++;
  }
  assert_in_range(atomic_load(&h.n), 1, 2);
  /* The polls blocked rather than spun: 200 ms of 50 ms polls. */
  assert_true(polls < 50);
  char buf[16];
  assert_int_equal(read(sv[0], buf, sizeof buf), 3);
  assert_int_equal(read(sv[0], buf, sizeof buf), -1);
  assert_int_equal(errno, EAGAIN);
  int before = atomic_load(&h.n);
  if (be->rearm_fd)
    assert_int_equal(be->rearm_fd(loop, sv[0], WEFT_IO_READABLE, &token), 0);
  assert_int_equal(write(sv[1], "d", 1), 1);
  t0 = now_ms();
  while (atomic_load(&h.n) == before && now_ms() - t0 < 2000)
    be->poll(loop, 100);
  assert_int_equal(atomic_load(&h.n), before + 1);
  assert_ptr_equal(h.tokens[before], &token);
  assert_int_equal(be->deregister_fd(loop, sv[0], &token), 0);
  be->destroy(loop);
  close(sv[0]);
  close(sv[1]);
}

typedef struct waker_arg {
  void *loop;
  int delay_ms;
  int fd; /* >= 0: register this fd instead of waking */
  void *token;
} waker_arg;

static void *waker_main(void *p) {
  waker_arg *a = p;
  struct timespec ts = {0, (long)a->delay_ms * 1000000L};
  nanosleep(&ts, NULL);
  if (a->fd >= 0)
    be->register_fd(a->loop, a->fd, WEFT_IO_READABLE, a->token);
  else
    be->wake(a->loop);
  return NULL;
}

static void test_owned_wake_interrupts_poll(void **state) {
  (void)state;
  fake_host h;
  host_init(&h);
  void *loop;
  assert_int_equal(be->create(&loop, &h.host), 0);
  for (int round = 0; round < 3; round++) {
    waker_arg a = {loop, 50, -1, NULL};
    pthread_t th;
    pthread_create(&th, NULL, waker_main, &a);
    uint64_t t0 = now_ms();
    assert_true(be->poll(loop, -1) >= 0);
    uint64_t took = now_ms() - t0;
    pthread_join(th, NULL);
    assert_true(took < 2000);
  }
  /* A wake with no poll in progress makes the next poll return at once. */
  assert_int_equal(be->wake(loop), 0);
  assert_int_equal(be->wake(loop), 0);
  uint64_t t0 = now_ms();
  be->poll(loop, 5000);
  assert_true(now_ms() - t0 < 1000);
  /* And the wakes merged: the poll after that waits its full timeout. */
  t0 = now_ms();
  be->poll(loop, 100);
  uint64_t took = now_ms() - t0;
  assert_true(took >= 80);
  be->destroy(loop);
}

static void test_owned_register_during_poll(void **state) {
  (void)state;
  fake_host h;
  host_init(&h);
  void *loop;
  assert_int_equal(be->create(&loop, &h.host), 0);
  int sv[2];
  nonblock_pair(sv);
  assert_int_equal(write(sv[1], "x", 1), 1);
  int token;
  waker_arg a = {loop, 50, sv[0], &token};
  pthread_t th;
  pthread_create(&th, NULL, waker_main, &a);
  uint64_t t0 = now_ms();
  while (atomic_load(&h.n) == 0 && now_ms() - t0 < 3000)
    be->poll(loop, -1);
  pthread_join(th, NULL);
  assert_int_equal(atomic_load(&h.n), 1);
  assert_ptr_equal(h.tokens[0], &token);
  assert_true(now_ms() - t0 < 2000);
  be->deregister_fd(loop, sv[0], &token);
  be->destroy(loop);
  close(sv[0]);
  close(sv[1]);
}

static void test_owned_timeout_honoured(void **state) {
  (void)state;
  fake_host h;
  host_init(&h);
  void *loop;
  assert_int_equal(be->create(&loop, &h.host), 0);
  uint64_t t0 = now_ms();
  assert_int_equal(be->poll(loop, 100), 0);
  uint64_t took = now_ms() - t0;
  assert_true(took >= 90 && took < 1000);
  be->destroy(loop);
}

/* close_fd closes on the loop thread; the number, once free, may come back
 * for a new socket whose registration must work. */
static void test_owned_close_fd_reuse(void **state) {
  (void)state;
  fake_host h;
  host_init(&h);
  void *loop;
  assert_int_equal(be->create(&loop, &h.host), 0);
  for (int round = 0; round < 20; round++) {
    int sv[2];
    nonblock_pair(sv);
    int t1, t2;
    assert_int_equal(be->register_fd(loop, sv[0], WEFT_IO_READABLE, &t1), 0);
    be->poll(loop, 0);
    int old = sv[0];
    if (be->close_fd) {
      assert_int_equal(be->close_fd(loop, sv[0], &t1), 0);
    } else {
      be->deregister_fd(loop, sv[0], &t1);
      close(sv[0]);
    }
    be->poll(loop, 0); /* applies the close */
    assert_int_equal(fcntl(old, F_GETFD), -1);
    close(sv[1]);
    int nv[2];
    nonblock_pair(nv);
    assert_int_equal(nv[0], old); /* the lowest free number comes back */
    assert_int_equal(be->register_fd(loop, nv[0], WEFT_IO_READABLE, &t2), 0);
    int before = atomic_load(&h.n);
    assert_int_equal(write(nv[1], "y", 1), 1);
    uint64_t t0 = now_ms();
    while (atomic_load(&h.n) == before && now_ms() - t0 < 2000)
      be->poll(loop, 100);
    assert_int_equal(atomic_load(&h.n), before + 1);
    assert_ptr_equal(h.tokens[(before) % MAX_EV], &t2);
    be->close_fd ? be->close_fd(loop, nv[0], &t2)
                 : (be->deregister_fd(loop, nv[0], &t2), close(nv[0]));
    be->poll(loop, 0);
    close(nv[1]);
    atomic_store(&h.n, 0);
  }
  be->destroy(loop);
}

/* Writable interest is reported, and modify switches it. */
static void test_owned_modify_interest(void **state) {
  (void)state;
  fake_host h;
  host_init(&h);
  void *loop;
  assert_int_equal(be->create(&loop, &h.host), 0);
  int sv[2];
  nonblock_pair(sv);
  int token;
  assert_int_equal(be->register_fd(loop, sv[0], WEFT_IO_READABLE, &token), 0);
  be->poll(loop, 50);
  assert_int_equal(atomic_load(&h.n), 0);
  assert_int_equal(
      be->modify_fd(loop, sv[0], WEFT_IO_READABLE | WEFT_IO_WRITABLE, &token),
      0);
  uint64_t t0 = now_ms();
  while (atomic_load(&h.n) == 0 && now_ms() - t0 < 2000)
    be->poll(loop, 100);
  assert_true(atomic_load(&h.n) >= 1);
  assert_true(h.events[0] & WEFT_IO_WRITABLE);
  be->deregister_fd(loop, sv[0], &token);
  be->poll(loop, 0);
  int n = atomic_load(&h.n);
  be->poll(loop, 50);
  assert_int_equal(atomic_load(&h.n), n);
  be->destroy(loop);
  close(sv[0]);
  close(sv[1]);
}

int main(int argc, char **argv) {
  module_path = argc > 1 ? argv[1] : getenv("WEFT_TEST_MODULE");
  if (!module_path) {
    fprintf(stderr, "usage: %s MODULE.so\n", argv[0]);
    return 1;
  }
  void *dl = dlopen(module_path, DLOPEN_FLAGS);
  if (!dl) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  /* POSIX allows the object-to-function pointer copy that ISO C does not
   * spell; memcpy keeps -Wpedantic quiet. */
  void *sym = dlsym(dl, "weft_backend_module_entry");
  weft_backend_module_entry_fn entry = NULL;
  if (sym)
    memcpy(&entry, &sym, sizeof entry);
  if (!entry) {
    fprintf(stderr, "no entry point\n");
    return 1;
  }
  be = entry();
  if (!be || be->abi_version != WEFT_BACKEND_ABI_V1) {
    fprintf(stderr, "bad vtable\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_owned_reports_readable),
      cmocka_unit_test(test_owned_no_busy_loop_until_rearm),
      cmocka_unit_test(test_owned_wake_interrupts_poll),
      cmocka_unit_test(test_owned_register_during_poll),
      cmocka_unit_test(test_owned_timeout_honoured),
      cmocka_unit_test(test_owned_close_fd_reuse),
      cmocka_unit_test(test_owned_modify_interest),
  };
  return cmocka_run_group_tests_name(be->name, tests, setup, NULL);
}
