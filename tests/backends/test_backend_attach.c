/* tests/backends/test_backend_attach.c: a library backend module attached
 * to a loop that the test itself creates and runs, as an application would.
 * Built three times, once per library (WEFT_TEST_UV, WEFT_TEST_EVENT,
 * WEFT_TEST_EV), each program linking its library; the loop adapter below is
 * the only library-specific part.
 *
 * Usage: test_backend_attach_NAME <path to libweft-backend-NAME.so> */
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

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

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
         ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

/* ---- The application's loop, per library --------------------------------- */
/* app_new: make a loop; app_run_ms: run it for about `ms` (an application
 * timer stops it), or until app_stop; app_stop: stop it from a callback;
 * app_weft_handles: how many handles/events/watchers are left (the loop
 * then must be empty); app_free: free it, which must succeed. */
static int app_timer_fired;

#if defined(WEFT_TEST_UV)
#include <uv.h>
typedef uv_loop_t app_loop;
static uv_timer_t app_timer;
static app_loop *app_new(void) {
  uv_loop_t *l = malloc(sizeof *l);
  assert_int_equal(uv_loop_init(l), 0);
  uv_timer_init(l, &app_timer);
  return l;
}
static void app_timer_cb(uv_timer_t *t) {
  app_timer_fired++;
  uv_stop(t->loop);
}
static void app_run_ms(app_loop *l, int ms) {
  uv_timer_start(&app_timer, app_timer_cb, (uint64_t)ms, 0);
  uv_run(l, UV_RUN_DEFAULT);
  uv_timer_stop(&app_timer);
}
static void app_stop(app_loop *l) { uv_stop(l); }
static void count_cb(uv_handle_t *h, void *arg) {
  if (h != (uv_handle_t *)&app_timer)
    ++*(int *)arg;
}
static int app_weft_handles(app_loop *l) {
  uv_run(l, UV_RUN_NOWAIT); /* lets closing handles finish */
  int n = 0;
  uv_walk(l, count_cb, &n);
  return n;
}
static void app_free(app_loop *l) {
  uv_close((uv_handle_t *)&app_timer, NULL);
  uv_run(l, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(l), 0);
  free(l);
}
#elif defined(WEFT_TEST_EVENT)
#include <event2/event.h>
typedef struct event_base app_loop;
static struct event *app_timer;
static void app_timer_cb(evutil_socket_t fd, short w, void *arg) {
  (void)fd;
  (void)w;
  app_timer_fired++;
  event_base_loopbreak(arg);
}
static app_loop *app_new(void) {
  struct event_base *b = event_base_new();
  assert_non_null(b);
  app_timer = evtimer_new(b, app_timer_cb, b);
  return b;
}
static void app_run_ms(app_loop *l, int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  event_add(app_timer, &tv);
  event_base_dispatch(l);
  event_del(app_timer);
}
static void app_stop(app_loop *l) { event_base_loopbreak(l); }
static int app_weft_handles(app_loop *l) {
  return event_base_get_num_events(
      l, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE |
             EVENT_BASE_COUNT_VIRTUAL);
}
static void app_free(app_loop *l) {
  event_free(app_timer);
  event_base_free(l);
}
#elif defined(WEFT_TEST_EV)
#include <ev.h>
typedef struct ev_loop app_loop;
static ev_timer app_timer;
static void app_timer_cb(struct ev_loop *l, ev_timer *t, int rev) {
  (void)t;
  (void)rev;
  app_timer_fired++;
  ev_break(l, EVBREAK_ALL);
}
static app_loop *app_new(void) {
  struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
  assert_non_null(l);
  ev_init(&app_timer, app_timer_cb);
  return l;
}
static void app_run_ms(app_loop *l, int ms) {
  ev_timer_set(&app_timer, ms / 1000.0, 0.);
  ev_timer_start(l, &app_timer);
  ev_run(l, 0);
  ev_timer_stop(l, &app_timer);
}
static void app_stop(app_loop *l) { ev_break(l, EVBREAK_ALL); }
static int app_weft_handles(app_loop *l) {
  /* ev_run returns true while active (referenced) watchers remain. */
  return ev_run(l, EVRUN_NOWAIT) ? 1 : 0;
}
static void app_free(app_loop *l) { ev_loop_destroy(l); }
#else
#error "define WEFT_TEST_UV, WEFT_TEST_EVENT or WEFT_TEST_EV"
#endif

/* ---- The fake host ---------------------------------------------------- */
typedef struct fake_host {
  weft_backend_host host;
  app_loop *loop;
  atomic_int runs;
  atomic_int io;
  void *io_token;
  int more;               /* run_tasks returns 1 this many more times */
  int64_t deadline_ms;    /* absolute, 0 = none */
  int deadline_hit;
  atomic_int wake_sent;   /* set by the waking thread before wake */
  int run_after_wake;
  int stop_on_wake;
  int stop_on_io;
  int stop_on_deadline;
  int stop_after_more;
  uint64_t deadline_seen_at;
} fake_host;

static void on_io(void *ctx, void *token, uint32_t events) {
  fake_host *h = ctx;
  (void)events;
  h->io_token = token;
  atomic_fetch_add(&h->io, 1);
  if (h->stop_on_io)
    app_stop(h->loop);
}

static int run_tasks(void *ctx) {
  fake_host *h = ctx;
  atomic_fetch_add(&h->runs, 1);
  if (atomic_load(&h->wake_sent) && !h->run_after_wake) {
    h->run_after_wake = 1;
    if (h->stop_on_wake)
      app_stop(h->loop);
  }
  if (h->deadline_ms && (int64_t)now_ms() >= h->deadline_ms &&
      !h->deadline_hit) {
    h->deadline_hit = 1;
    h->deadline_seen_at = now_ms();
    if (h->stop_on_deadline)
      app_stop(h->loop);
  }
  if (h->more > 0) {
    h->more--;
    if (h->more == 0 && h->stop_after_more)
      app_stop(h->loop);
    return 1;
  }
  return 0;
}

static int64_t next_timeout(void *ctx) {
  fake_host *h = ctx;
  if (!h->deadline_ms || h->deadline_hit)
    return -1;
  int64_t left = h->deadline_ms - (int64_t)now_ms();
  return left < 0 ? 0 : left;
}

static void host_init(fake_host *h, app_loop *l) {
  memset(h, 0, sizeof *h);
  h->host.struct_size = sizeof h->host;
  h->host.ctx = h;
  h->host.io_ready = on_io;
  h->host.run_tasks = run_tasks;
  h->host.next_timeout_ms = next_timeout;
  h->loop = l;
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_attach_runs_tasks_and_detaches_clean(void **state) {
  (void)state;
  app_loop *l = app_new();
  fake_host h;
  host_init(&h, l);
  void *w;
  assert_int_equal(be->attach(&w, l, &h.host), 0);
  void *native = NULL;
  assert_int_equal(be->ctl(w, WEFT_BACKEND_CTL_NATIVE_LOOP, &native), 0);
  assert_ptr_equal(native, l);
  app_run_ms(l, 30);
  assert_true(atomic_load(&h.runs) >= 1);
  be->destroy(w);
  assert_int_equal(app_weft_handles(l), 0);
  app_free(l);
}

/* run_tasks saying "more" keeps the loop from blocking, and the tasks run
 * between the application's own callbacks. */
static void test_attach_more_keeps_loop_turning(void **state) {
  (void)state;
  app_loop *l = app_new();
  fake_host h;
  host_init(&h, l);
  h.more = 50;
  void *w;
  assert_int_equal(be->attach(&w, l, &h.host), 0);
  uint64_t t0 = now_ms();
  app_run_ms(l, 2000);
  assert_true(atomic_load(&h.runs) >= 50);
  assert_true(now_ms() - t0 >= 1900); /* the application's timer ended it */
  be->destroy(w);
  assert_int_equal(app_weft_handles(l), 0);
  app_free(l);
}

static void test_attach_next_timeout_honoured(void **state) {
  (void)state;
  app_loop *l = app_new();
  fake_host h;
  host_init(&h, l);
  uint64_t t0 = now_ms();
  h.deadline_ms = (int64_t)t0 + 150;
  h.stop_on_deadline = 1;
  void *w;
  assert_int_equal(be->attach(&w, l, &h.host), 0);
  double c0 = cpu_ms();
  app_run_ms(l, 3000);
  assert_true(h.deadline_hit);
  assert_true(h.deadline_seen_at - t0 >= 150);
  assert_true(h.deadline_seen_at - t0 < 1000);
  assert_true(atomic_load(&h.runs) < 20); /* it slept, it did not spin */
  assert_true(cpu_ms() - c0 < 50);
  be->destroy(w);
  assert_int_equal(app_weft_handles(l), 0);
  app_free(l);
}

typedef struct wake_arg {
  fake_host *h;
  void *w;
  int fd;
  int token;
} wake_arg;

static void *waker(void *p) {
  wake_arg *a = p;
  struct timespec ts = {0, 100 * 1000000L};
  nanosleep(&ts, NULL);
  atomic_store(&a->h->wake_sent, 1);
  if (a->fd >= 0)
    be->register_fd(a->w, a->fd, WEFT_IO_READABLE, &a->token);
  else
    be->wake(a->w);
  return NULL;
}

static void test_attach_wake_from_thread_runs_tasks(void **state) {
  (void)state;
  app_loop *l = app_new();
  fake_host h;
  host_init(&h, l);
  h.stop_on_wake = 1;
  void *w;
  assert_int_equal(be->attach(&w, l, &h.host), 0);
  wake_arg a = {&h, w, -1, 0};
  pthread_t th;
  pthread_create(&th, NULL, waker, &a);
  uint64_t t0 = now_ms();
  app_run_ms(l, 5000);
  pthread_join(th, NULL);
  assert_true(h.run_after_wake);
  assert_int_equal(app_timer_fired > 0 && now_ms() - t0 >= 4900, 0);
  be->destroy(w);
  assert_int_equal(app_weft_handles(l), 0);
  app_free(l);
}

/* An fd registered from another thread while the application's loop
 * blocks is watched, reported once (no busy loop while nobody reads), and
 * run_tasks follows. */
static void test_attach_io_from_thread_no_busy_loop(void **state) {
  (void)state;
  app_loop *l = app_new();
  fake_host h;
  host_init(&h, l);
  void *w;
  assert_int_equal(be->attach(&w, l, &h.host), 0);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                   0);
  assert_int_equal(write(sv[1], "x", 1), 1);
  wake_arg a = {&h, w, sv[0], 0};
  pthread_t th;
  pthread_create(&th, NULL, waker, &a);
  double c0 = cpu_ms();
  app_run_ms(l, 400);
  pthread_join(th, NULL);
  assert_int_equal(atomic_load(&h.io), 1);
  assert_ptr_equal(h.io_token, &a.token);
  assert_true(atomic_load(&h.runs) < 30);
  assert_true(cpu_ms() - c0 < 60);
  /* Drain, re-arm on the loop thread (here: the test thread between runs),
   * and new data is reported again. */
  char buf[8];
  assert_int_equal(read(sv[0], buf, sizeof buf), 1);
  if (be->rearm_fd)
    be->rearm_fd(w, sv[0], WEFT_IO_READABLE, &a.token);
  assert_int_equal(write(sv[1], "y", 1), 1);
  h.stop_on_io = 1;
  app_run_ms(l, 2000);
  assert_int_equal(atomic_load(&h.io), 2);
  assert_int_equal(be->close_fd(w, sv[0], &a.token), 0);
  be->destroy(w);
  assert_int_equal(fcntl(sv[0], F_GETFD), -1);
  close(sv[1]);
  assert_int_equal(app_weft_handles(l), 0);
  app_free(l);
}

/* Attached and idle: no CPU. */
static void test_attach_idle_uses_no_cpu(void **state) {
  (void)state;
  app_loop *l = app_new();
  fake_host h;
  host_init(&h, l);
  void *w;
  assert_int_equal(be->attach(&w, l, &h.host), 0);
  app_run_ms(l, 10);
  double c0 = cpu_ms();
  int r0 = atomic_load(&h.runs);
  app_run_ms(l, 300);
  assert_true(cpu_ms() - c0 < 20);
  assert_true(atomic_load(&h.runs) - r0 < 10);
  be->destroy(w);
  assert_int_equal(app_weft_handles(l), 0);
  app_free(l);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : getenv("WEFT_TEST_MODULE");
  if (!path)
    return 1;
  void *dl = dlopen(path, DLOPEN_FLAGS);
  if (!dl) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  void *sym = dlsym(dl, "weft_backend_module_entry");
  weft_backend_module_entry_fn entry = NULL;
  if (sym)
    memcpy(&entry, &sym, sizeof entry);
  if (!entry)
    return 1;
  be = entry();
  if (!be || be->abi_version != WEFT_BACKEND_ABI_V1 || !be->attach)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_attach_runs_tasks_and_detaches_clean),
      cmocka_unit_test(test_attach_more_keeps_loop_turning),
      cmocka_unit_test(test_attach_next_timeout_honoured),
      cmocka_unit_test(test_attach_wake_from_thread_runs_tasks),
      cmocka_unit_test(test_attach_io_from_thread_no_busy_loop),
      cmocka_unit_test(test_attach_idle_uses_no_cpu),
  };
  return cmocka_run_group_tests_name(be->name, tests, NULL, NULL);
}
