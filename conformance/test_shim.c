/* conformance/test_shim.c: how the core copes with a backend that fails.
 *
 * The shim backend module (backends/shim) wraps another backend and makes
 * chosen calls fail. These tests load it by path (argv[1], passed by meson)
 * and configure it through its exported weft_shim_configure(), reached by
 * dlopen()ing the same path: dlopen returns the handle weft already holds,
 * so both see the same counters.
 *
 * - wake failing: a wake from another thread must still reach the task,
 *   because the core retries a failed backend wake (or falls back to
 *   another way of unparking the driver); a wake-up lost forever shows up
 *   as a join that times out;
 * - poll returning -EINTR: the core treats it as "nothing happened" and
 *   polls again, instead of failing the runtime or spinning forever. */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "../backends/shim/shim.h"

static const char *shim_path;
static weft_shim_configure_fn shim_configure;
static weft_shim_stats_fn shim_stats;

static weft_runtime *shim_runtime(void) {
  weft_builder *b = NULL;
  assert_int_equal(weft_builder_new(&b), 0);
  assert_int_equal(weft_builder_backend_module(b, shim_path), 0);
  /* The default inner backend is sim: current-thread, virtual time. */
  assert_int_equal(weft_builder_flavor(b, WEFT_FLAVOR_CURRENT_THREAD), 0);
  weft_runtime *rt = NULL;
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_builder_free(b);
  assert_string_equal(weft_runtime_backend_name(rt), "shim");
  return rt;
}

static uint64_t real_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A task that parks its waker for a helper thread, then completes when
 * woken. */
typedef struct parked {
  _Atomic int have;
  _Atomic int polls;
  weft_waker w;
} parked;

/* The task's state is a pointer to the test's `parked`: weft_spawn copies
 * the state into the task, and the helper thread must see the same one. */
static weft_poll parked_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  parked *k = *(parked **)p;
  if (atomic_fetch_add_explicit(&k->polls, 1, memory_order_relaxed) > 0)
    return WEFT_READY;
  assert_int_equal(weft_waker_clone(weft_context_waker(cx), &k->w), 0);
  atomic_store_explicit(&k->have, 1, memory_order_release);
  return WEFT_PENDING;
}

static const weft_future_vtable parked_vt = {sizeof(weft_future_vtable),
                                             parked_poll, NULL};

static void *wake_later(void *arg) {
  parked *k = arg;
  while (!atomic_load_explicit(&k->have, memory_order_acquire)) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  /* Let the runtime go to sleep in the backend's poll(-1) first. */
  struct timespec ts = {0, 20000000};
  nanosleep(&ts, NULL);
  weft_waker_wake(&k->w);
  return NULL;
}

typedef struct join_state {
  weft_join_handle *h;
} join_state;

static weft_poll join_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  join_state *j = p;
  return weft_join_poll(j->h, cx, NULL);
}

static const weft_future_vtable join_vt = {sizeof(weft_future_vtable),
                                           join_poll, NULL};

/* Run one parked task to completion with a helper thread's wake. The
 * block_on is bounded by a watchdog thread: if the wake-up is lost, the
 * test fails instead of hanging until meson's timeout. */
static void *watchdog(void *arg) {
  _Atomic int *done = arg;
  uint64_t end = real_ms() + 10000;
  while (!atomic_load_explicit(done, memory_order_acquire)) {
    if (real_ms() > end) {
      fprintf(stderr, "test_shim: wake-up lost: the task was never "
                      "polled again after its wake\n");
      _Exit(1);
    }
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static void run_parked_round(weft_runtime *rt) {
  parked k = {0};
  weft_join_handle *h = NULL;
  parked *kp = &k;
  assert_int_equal(weft_spawn(rt, &parked_vt, &kp, sizeof kp, 0, &h), 0);
  pthread_t th, wd;
  _Atomic int done = 0;
  assert_int_equal(pthread_create(&th, NULL, wake_later, &k), 0);
  assert_int_equal(pthread_create(&wd, NULL, watchdog, &done), 0);
  join_state j = {h};
  assert_int_equal(weft_block_on(rt, &join_vt, &j, NULL), 0);
  atomic_store_explicit(&done, 1, memory_order_release);
  pthread_join(th, NULL);
  pthread_join(wd, NULL);
  assert_int_equal(atomic_load(&k.polls), 2);
  weft_join_free(h);
}

static void test_shim_failing_wake_is_not_lost(void **state) {
  (void)state;
  weft_runtime *rt = shim_runtime();
  weft_shim_stats st;
  shim_stats(&st, 1);
  shim_configure(0, 1, 0); /* the next wake fails */
  run_parked_round(rt);
  shim_stats(&st, 0);
  assert_int_equal(st.wake_failed, 1);
  /* The core got through some other way: a retried wake, or a fallback. */
  shim_configure(0, 3, 0); /* several in a row */
  run_parked_round(rt);
  shim_configure(0, 0, 0);
  weft_runtime_free(rt);
}

static void test_shim_poll_eintr_is_retried(void **state) {
  (void)state;
  weft_runtime *rt = shim_runtime();
  weft_shim_stats st;
  shim_stats(&st, 1);
  shim_configure(0, 0, 5); /* the next five polls return -EINTR */
  run_parked_round(rt);
  shim_stats(&st, 0);
  assert_int_equal(st.poll_eintr, 5);
  assert_true(st.polls >= 1); /* and then the core polled for real */
  shim_configure(0, 0, 0);
  weft_runtime_free(rt);
}

static void test_shim_runtime_free_destroys_loop(void **state) {
  (void)state;
  weft_shim_stats st;
  weft_runtime *rt = shim_runtime();
  shim_stats(&st, 0);
  assert_int_equal(st.loops_live, 1);
  weft_runtime_free(rt);
  shim_stats(&st, 0);
  assert_int_equal(st.loops_live, 0);
}

/* ---- register_fd failing with ENOMEM ------------------------------------ */

/* Whether the shim wraps a real backend (WEFT_SHIM_INNER, as meson's
 * second run sets) or its own sim, which has no fds at all. */
static int real_inner(void) {
  const char *p = getenv("WEFT_SHIM_INNER");
  return p && *p;
}

typedef struct io_try {
  weft_io *io;
  int rc;   /* what weft_io_poll_ready returned last */
  int want; /* 1: wait until readable; 0: return after the first poll */
} io_try;

static weft_poll io_try_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  io_try *t = *(io_try **)p;
  t->rc = weft_io_poll_ready(t->io, cx, WEFT_IO_READABLE, NULL);
  if (t->want && t->rc == 0)
    return WEFT_PENDING;
  return WEFT_READY;
}

static const weft_future_vtable io_try_vt = {sizeof(weft_future_vtable),
                                             io_try_poll, NULL};

static void run_io_try(weft_runtime *rt, io_try *t) {
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &io_try_vt, &t, sizeof t, 0, &h), 0);
  join_state j = {h};
  assert_int_equal(weft_block_on(rt, &join_vt, &j, NULL), 0);
  weft_join_free(h);
}

/* The backend refuses a registration for lack of memory: the public call
 * that caused it returns WEFT_ENOMEM (not a hang, not a crash, not a
 * generic error), the task that asked gets it and finishes, nothing is
 * leaked (ASan), and once memory is back the same calls work. */
static void test_shim_register_enomem_reaches_caller(void **state) {
  (void)state;
  weft_runtime *rt = shim_runtime();
  weft_shim_stats st;
  shim_stats(&st, 1);

  /* A signal stream registers its runtime's self-pipe on first use (on a
   * backend without signal_watch; sim refuses signals outright). */
  weft_signal *sig = NULL;
  if (real_inner()) {
    shim_configure(1, 0, 0);
    assert_int_equal(weft_signal_new(rt, SIGUSR1, &sig), WEFT_ENOMEM);
    assert_null(sig);
    shim_stats(&st, 0);
    assert_int_equal(st.register_failed, 1);
    shim_configure(0, 0, 0);
    /* The failed attempt left no half-made state behind. */
    assert_int_equal(weft_signal_new(rt, SIGUSR1, &sig), 0);
    weft_signal_free(sig);
  }
  int failed_before = real_inner() ? 1 : 0;

  /* A task's first readiness poll registers its fd. */
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                   0);
  io_try t = {.want = 0};
  assert_int_equal(weft_io_new(sv[0], &t.io), 0);
  shim_configure(1, 0, 0);
  run_io_try(rt, &t);
  assert_int_equal(t.rc, WEFT_ENOMEM);
  shim_configure(0, 0, 0);
  /* The runtime is intact: the same fd, asked again, registers (on a real
   * backend) and its readiness reaches the task. */
  t.want = 1;
  if (real_inner())
    assert_int_equal(write(sv[1], "x", 1), 1);
  run_io_try(rt, &t);
  assert_int_equal(t.rc, real_inner() ? 1 : WEFT_ENOTSUP);
  assert_int_equal(weft_io_close(t.io), 0);
  weft_io_free(t.io);
  close(sv[1]);
  shim_stats(&st, 0);
  assert_int_equal(st.register_failed, failed_before + 1);
  weft_runtime_free(rt);
  /* Every registration that reached the backend was taken back. */
  shim_stats(&st, 0);
  assert_int_equal(st.live, 0);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_shim PATH-TO-libweft-backend-shim.so\n");
    return 2;
  }
  shim_path = argv[1];
  void *h = dlopen(shim_path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "test_shim: %s\n", dlerror());
    return 1;
  }
  *(void **)&shim_configure = dlsym(h, WEFT_SHIM_CONFIGURE_SYM);
  *(void **)&shim_stats = dlsym(h, WEFT_SHIM_STATS_SYM);
  if (!shim_configure || !shim_stats) {
    fprintf(stderr, "test_shim: %s lacks the shim's control functions\n",
            shim_path);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shim_runtime_free_destroys_loop),
      cmocka_unit_test(test_shim_failing_wake_is_not_lost),
      cmocka_unit_test(test_shim_poll_eintr_is_retried),
      cmocka_unit_test(test_shim_register_enomem_reaches_caller),
  };
  int failed = cmocka_run_group_tests_name("shim", tests, NULL, NULL);
  dlclose(h);
  return failed;
}
