/* conformance/test_attach.c: attach mode on the application's own loop.
 *
 * Each test makes a loop of the library the backend under test adapts
 * (libuv, libevent or libev), attaches a runtime to it with the public
 * weft_runtime_attach call, and runs the loop the way an application does:
 * with its own repeating 1 ms timer, which stops the loop once the test's
 * condition holds or its deadline passes. weft's tasks must then run on
 * that thread, between the application's callbacks, and detaching must
 * leave the loop as it found it.
 *
 * The suite links each library it was built with (only to make loops: the
 * backend still comes from its module); a backend whose library this build
 * lacks, or that has no foreign loop at all (epoll, sim, a third-party
 * module), skips the area by name. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/attach.h>
#include <weft/blocking.h>
#include <weft/io.h>
#include <weft/time.h>

#include "conf.h"

#include "floop.h"

/* ---- The application's loop, whichever library it is ------------------ */

static const floop_ops *const all_ops[] = {
#ifdef CONF_HAVE_LIBUV
    &conf_floop_uv,
#endif
#ifdef CONF_HAVE_LIBEVENT
    &conf_floop_event,
#endif
#ifdef CONF_HAVE_LIBEV
    &conf_floop_ev,
#endif
    NULL,
};

static const floop_ops *ops_for(const char *backend) {
  for (size_t i = 0; backend && all_ops[i]; i++)
    if (strcmp(all_ops[i]->name, backend) == 0)
      return all_ops[i];
  return NULL;
}

int conf_attach_supported(const char *backend) {
  return ops_for(backend) != NULL;
}

typedef struct floop {
  const floop_ops *ops;
  void *impl;
  _Atomic int *until; /* stop once *until != 0 (NULL: only the deadline) */
  uint64_t deadline_ms;
  unsigned ticks; /* the application's own callbacks that ran */
} floop;

/* The application's timer callback: one tick, and the stop condition. */
static int floop_tick(void *arg) {
  floop *l = arg;
  l->ticks++;
  return (l->until && atomic_load_explicit(l->until, memory_order_acquire)) ||
         conf_real_ms() >= l->deadline_ms;
}

static floop *floop_new(void) {
  floop *l = calloc(1, sizeof *l);
  assert_non_null(l);
  l->ops = ops_for(conf.resolved_name);
  assert_non_null(l->ops);
  l->impl = l->ops->create();
  assert_non_null(l->impl);
  return l;
}

/* Run the application's loop until *until turns non-zero (or, with NULL,
 * for `max_ms`); fails the test if the condition did not come true in
 * time. */
static void floop_run(floop *l, _Atomic int *until, unsigned max_ms) {
  l->until = until;
  l->deadline_ms = conf_real_ms() + max_ms;
  l->ops->run(l->impl, floop_tick, l);
  if (until && !atomic_load(until))
    fail_msg("the condition did not hold within %u ms of loop run", max_ms);
}

static int floop_leftovers(floop *l) { return l->ops->leftovers(l->impl); }

static void floop_free(floop *l) {
  assert_int_equal(l->ops->destroy(l->impl), 0);
  free(l);
}

/* Attach a runtime the way an application does: the library's own name,
 * or, for a module given by path, the module in the builder. */
static int floop_attach(floop *l, weft_runtime **rt) {
  weft_builder *b = NULL;
  assert_int_equal(weft_builder_new(&b), 0);
  if (conf.module)
    assert_int_equal(weft_builder_backend_module(b, conf.module), 0);
  int rc = weft_runtime_attach(rt, l->ops->name, l->ops->foreign(l->impl), b);
  weft_builder_free(b);
  return rc;
}

static weft_runtime *attach_or_fail(floop *l) {
  weft_runtime *rt = NULL;
  int rc = floop_attach(l, &rt);
  if (rc != 0)
    fail_msg("weft_runtime_attach: %s", weft_err_name(rc));
  assert_string_equal(weft_runtime_backend_name(rt), conf.resolved_name);
  return rt;
}

/* ---- Small tasks --------------------------------------------------------- */

/* Records the thread it ran on and sets a flag. */
typedef struct mark {
  _Atomic int done;
  pthread_t thread;
} mark;

static weft_poll mark_poll(void *arg, weft_context *cx) {
  (void)cx;
  mark *m = arg;
  m->thread = pthread_self();
  atomic_store_explicit(&m->done, 1, memory_order_release);
  return WEFT_READY;
}

/* Sleeps `ms` on weft's timer, recording when it was armed and fired. */
typedef struct sleeper {
  uint64_t ms;
  weft_future *f;
  uint64_t start_ns, end_ns;
  _Atomic int done;
} sleeper;

static weft_poll sleeper_poll(void *arg, weft_context *cx) {
  sleeper *s = arg;
  if (!s->f) {
    assert_int_equal(weft_sleep(s->ms, &s->f), 0);
    s->start_ns = weft_now_ns();
  }
  if (weft_future_poll(s->f, cx) == WEFT_PENDING)
    return WEFT_PENDING;
  s->end_ns = weft_now_ns();
  weft_future_free(s->f);
  s->f = NULL;
  atomic_store_explicit(&s->done, 1, memory_order_release);
  return WEFT_READY;
}

/* Parks a waker clone for another thread; done after one wake. */
typedef struct parked {
  _Atomic int have, done;
  int polls;
  weft_waker w;
  pthread_t thread;
} parked;

static weft_poll parked_poll(void *arg, weft_context *cx) {
  parked *p = arg;
  p->thread = pthread_self();
  if (p->polls++ > 0) {
    atomic_store_explicit(&p->done, 1, memory_order_release);
    return WEFT_READY;
  }
  assert_int_equal(weft_waker_clone(weft_context_waker(cx), &p->w), 0);
  atomic_store_explicit(&p->have, 1, memory_order_release);
  return WEFT_PENDING;
}

static void *wake_parked_later(void *arg) {
  parked *p = arg;
  while (!atomic_load_explicit(&p->have, memory_order_acquire))
    conf_sleep_ms(1);
  conf_sleep_ms(10); /* the loop is idle in its own wait by now */
  weft_waker_wake(&p->w);
  return NULL;
}

/* ---- Tests ----------------------------------------------------------------- */

/* A1: a task spawned on the attached runtime runs on the loop's thread,
 * while the application runs its loop. */
static void test_attach_task_runs_on_loop_thread(void **state) {
  (void)state;
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  mark m = {0};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, mark_poll, &m, &h), 0);
  floop_run(l, &m.done, 5000);
  assert_true(pthread_equal(m.thread, pthread_self()));
  weft_join_result res;
  assert_int_equal(weft_join_wait(h, 0, &res), 0);
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  weft_join_free(h);
  assert_int_equal(weft_runtime_detach(rt), 0);
  floop_free(l);
}

/* A2: weft's timer fires through the loop's timer, never early, and the
 * application's own callbacks keep running while weft's task sleeps. */
static void test_attach_timer_fires_not_early(void **state) {
  (void)state;
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  sleeper s = {.ms = 30};
  assert_int_equal(conf_spawn_fn(rt, sleeper_poll, &s, NULL), 0);
  uint64_t t0 = conf_real_ms();
  floop_run(l, &s.done, 5000);
  assert_true(s.end_ns - s.start_ns >= 30ull * 1000000u);
  assert_true(conf_real_ms() - t0 >= 30);
  /* The application's 1 ms timer ran meanwhile: weft did not hog the
   * thread, and the loop was not stuck in weft's wait. */
  assert_true(l->ticks >= 5);
  assert_int_equal(weft_runtime_detach(rt), 0);
  floop_free(l);
}

/* A2: a 0 ms timer on an attached runtime fires (it must not be armed as
 * "no timeout" in the loop). */
static void test_attach_zero_ms_timer_fires(void **state) {
  (void)state;
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  sleeper s = {.ms = 0};
  assert_int_equal(conf_spawn_fn(rt, sleeper_poll, &s, NULL), 0);
  floop_run(l, &s.done, 5000);
  assert_int_equal(weft_runtime_detach(rt), 0);
  floop_free(l);
}

/* A3: a wake from another thread reaches a task of an attached runtime
 * while the loop waits in its own poll; the task runs on the loop thread. */
static void test_attach_wake_from_foreign_thread(void **state) {
  (void)state;
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  for (int round = 0; round < 5; round++) {
    parked p = {0};
    assert_int_equal(conf_spawn_fn(rt, parked_poll, &p, NULL), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wake_parked_later, &p), 0);
    floop_run(l, &p.done, 5000);
    pthread_join(th, NULL);
    assert_true(pthread_equal(p.thread, pthread_self()));
  }
  assert_int_equal(weft_runtime_detach(rt), 0);
  floop_free(l);
}

/* A3: spawns from other threads reach the attached runtime, every one. */
typedef struct spawner {
  weft_runtime *rt;
  mark *marks;
  int n;
} spawner;

static void *spawn_thread(void *arg) {
  spawner *s = arg;
  for (int i = 0; i < s->n; i++)
    if (conf_spawn_fn(s->rt, mark_poll, &s->marks[i], NULL) != 0)
      return (void *)1;
  return NULL;
}

typedef struct all_marks {
  mark *marks;
  int n;
  _Atomic int all;
} all_marks;

static weft_poll all_marks_poll(void *arg, weft_context *cx) {
  all_marks *a = arg;
  for (int i = 0; i < a->n; i++)
    if (!atomic_load_explicit(&a->marks[i].done, memory_order_acquire)) {
      /* Check again on the next loop iteration: the spawned tasks run in
       * between, and a yield keeps this cheap. */
      weft_waker_wake_by_ref(weft_context_waker(cx));
      return WEFT_PENDING;
    }
  atomic_store_explicit(&a->all, 1, memory_order_release);
  return WEFT_READY;
}

static void test_attach_spawn_from_foreign_threads(void **state) {
  (void)state;
  enum { THREADS = 2, PER = 100 };
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  mark *marks = calloc(THREADS * PER, sizeof *marks);
  assert_non_null(marks);
  spawner sp[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    sp[i] = (spawner){rt, marks + i * PER, PER};
    assert_int_equal(pthread_create(&th[i], NULL, spawn_thread, &sp[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    void *bad = NULL;
    pthread_join(th[i], &bad);
    assert_null(bad);
  }
  all_marks a = {marks, THREADS * PER, 0};
  assert_int_equal(conf_spawn_fn(rt, all_marks_poll, &a, NULL), 0);
  floop_run(l, &a.all, 10000);
  for (int i = 0; i < THREADS * PER; i++)
    assert_true(pthread_equal(marks[i].thread, pthread_self()));
  assert_int_equal(weft_runtime_detach(rt), 0);
  free(marks);
  floop_free(l);
}

/* A4: readiness of a socket reaches a task through the loop's own fd
 * watcher, and a task that reads to EAGAIN waits for the next edge. */
typedef struct attach_reader {
  weft_io *io;
  size_t got, want;
  _Atomic int done;
} attach_reader;

static weft_poll attach_reader_poll(void *arg, weft_context *cx) {
  attach_reader *r = arg;
  for (;;) {
    int rc = weft_io_poll_ready(r->io, cx, WEFT_IO_READABLE, NULL);
    assert_true(rc >= 0);
    if (rc == 0)
      return WEFT_PENDING;
    char buf[64];
    ssize_t n;
    while ((n = read(weft_io_fd(r->io), buf, sizeof buf)) > 0)
      r->got += (size_t)n;
    if (r->got >= r->want) {
      atomic_store_explicit(&r->done, 1, memory_order_release);
      return WEFT_READY;
    }
    assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    weft_io_clear_ready(r->io, WEFT_IO_READABLE);
  }
}

typedef struct drip {
  int fd, chunks;
} drip;

static void *drip_thread(void *arg) {
  drip *d = arg;
  for (int i = 0; i < d->chunks; i++) {
    conf_sleep_ms(3);
    if (write(d->fd, "abcd", 4) != 4)
      return (void *)1;
  }
  return NULL;
}

static void test_attach_io_readiness_reaches_task(void **state) {
  (void)state;
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  attach_reader r = {.want = 40};
  assert_int_equal(weft_io_new(sv[0], &r.io), 0);
  assert_int_equal(conf_spawn_fn(rt, attach_reader_poll, &r, NULL), 0);
  drip d = {sv[1], 10};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, drip_thread, &d), 0);
  floop_run(l, &r.done, 5000);
  void *bad = NULL;
  pthread_join(th, &bad);
  assert_null(bad);
  assert_int_equal(r.got, 40);
  assert_int_equal(weft_io_close(r.io), 0);
  weft_io_free(r.io);
  close(sv[1]);
  assert_int_equal(weft_runtime_detach(rt), 0);
  floop_free(l);
}

/* A5: detaching with tasks still waiting (on a timer, on an fd, on a
 * waker nobody will wake) drops each exactly once, resolves their handles
 * cancelled, and leaves none of weft's handles in the loop. */
typedef struct counted {
  _Atomic int *drops;
  int kind; /* 0: a far timer, 1: an fd, 2: a waker nobody wakes */
  weft_future *f;
  weft_io *io;
} counted;

static weft_poll counted_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  counted *c = p;
  if (c->kind == 0) {
    if (!c->f)
      assert_int_equal(weft_sleep(3600u * 1000u, &c->f), 0);
    return weft_future_poll(c->f, cx);
  }
  if (c->kind == 1) {
    int rc = weft_io_poll_ready(c->io, cx, WEFT_IO_READABLE, NULL);
    assert_true(rc >= 0);
    return rc == 1 ? WEFT_READY : WEFT_PENDING;
  }
  return WEFT_PENDING;
}

static void counted_drop(void *p) {
  counted *c = p;
  weft_future_free(c->f);
  if (c->io) {
    weft_io_close(c->io);
    weft_io_free(c->io);
  }
  atomic_fetch_add(c->drops, 1);
}

static const weft_future_vtable counted_vt = {sizeof(weft_future_vtable),
                                              counted_poll, counted_drop};

static void test_attach_detach_drops_pending_tasks_once(void **state) {
  (void)state;
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  _Atomic int drops = 0;
  enum { N = 6 };
  weft_join_handle *h[N];
  int sv[N][2];
  for (int i = 0; i < N; i++) {
    counted c = {&drops, i % 3, NULL, NULL};
    sv[i][0] = sv[i][1] = -1;
    if (c.kind == 1) {
      assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
      assert_int_equal(weft_io_new(sv[i][0], &c.io), 0);
    }
    assert_int_equal(weft_spawn(rt, &counted_vt, &c, sizeof c, 0, &h[i]), 0);
  }
  /* Let every task run once and arm what it waits on. */
  floop_run(l, NULL, 30);
  assert_int_equal(atomic_load(&drops), 0);
  assert_int_equal(weft_runtime_detach(rt), 0);
  assert_int_equal(atomic_load(&drops), N);
  for (int i = 0; i < N; i++) {
    weft_join_result res;
    assert_int_equal(weft_join_wait(h[i], 0, &res), 0);
    assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
    weft_join_free(h[i]);
    if (sv[i][1] >= 0)
      close(sv[i][1]);
  }
  assert_int_equal(floop_leftovers(l), 0);
  floop_free(l);
}

/* A5: after a detach the loop is the application's again: none of weft's
 * handles remain, and the application's own timer still runs. */
static void test_attach_detach_leaves_loop_usable(void **state) {
  (void)state;
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  sleeper s = {.ms = 2};
  assert_int_equal(conf_spawn_fn(rt, sleeper_poll, &s, NULL), 0);
  floop_run(l, &s.done, 5000);
  assert_int_equal(weft_runtime_detach(rt), 0);
  assert_int_equal(floop_leftovers(l), 0);
  unsigned before = l->ticks;
  floop_run(l, NULL, 20);
  assert_true(l->ticks > before);
  floop_free(l);
}

/* A6: attach/detach cycles on one loop leak nothing (ASan) and leave
 * nothing behind; each cycle runs a task. */
static void test_attach_detach_cycles(void **state) {
  (void)state;
  floop *l = floop_new();
  unsigned cycles = conf_scaled(30);
  for (unsigned i = 0; i < cycles; i++) {
    weft_runtime *rt = attach_or_fail(l);
    mark m = {0};
    assert_int_equal(conf_spawn_fn(rt, mark_poll, &m, NULL), 0);
    floop_run(l, &m.done, 5000);
    assert_int_equal(weft_runtime_detach(rt), 0);
  }
  assert_int_equal(floop_leftovers(l), 0);
  floop_free(l);
}

/* A1: a blocking job started from an attached task hands its result back
 * to the loop thread: the pool thread's completion wakes the loop. */
static void *slow_double(void *arg, const weft_cancel_token *t) {
  (void)t;
  conf_sleep_ms(10);
  return (void *)((intptr_t)arg * 2);
}

typedef struct await_job {
  weft_join_handle *h;
  intptr_t result;
  _Atomic int done;
} await_job;

static weft_poll await_job_poll(void *arg, weft_context *cx) {
  await_job *a = arg;
  if (!a->h)
    assert_int_equal(
        weft_spawn_blocking(weft_runtime_current(), slow_double,
                            (void *)(intptr_t)21, &a->h),
        0);
  weft_join_result res;
  if (weft_join_poll(a->h, cx, &res) == WEFT_PENDING)
    return WEFT_PENDING;
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  a->result = (intptr_t) * (void **)res.output;
  weft_join_free(a->h);
  a->h = NULL;
  atomic_store_explicit(&a->done, 1, memory_order_release);
  return WEFT_READY;
}

static void test_attach_blocking_job_result_reaches_loop(void **state) {
  (void)state;
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  await_job a = {0};
  assert_int_equal(conf_spawn_fn(rt, await_job_poll, &a, NULL), 0);
  floop_run(l, &a.done, 5000);
  assert_int_equal(a.result, 42);
  assert_int_equal(weft_runtime_detach(rt), 0);
  floop_free(l);
}

/* A7: argument checks of the attach calls, and detach refused from inside
 * one of the runtime's own tasks. */
typedef struct detach_inside {
  weft_runtime *rt;
  int rc;
  _Atomic int done;
} detach_inside;

static weft_poll detach_inside_poll(void *arg, weft_context *cx) {
  (void)cx;
  detach_inside *d = arg;
  d->rc = weft_runtime_detach(d->rt);
  atomic_store_explicit(&d->done, 1, memory_order_release);
  return WEFT_READY;
}

static void test_attach_invalid_arguments(void **state) {
  (void)state;
  floop *l = floop_new();
  weft_runtime *rt = NULL;
  void *loop = l->ops->foreign(l->impl);
  assert_int_equal(weft_runtime_attach(NULL, l->ops->name, loop, NULL),
                   WEFT_EINVAL);
  assert_int_equal(weft_runtime_attach(&rt, l->ops->name, NULL, NULL),
                   WEFT_EINVAL);
  assert_int_equal(weft_runtime_attach(&rt, NULL, loop, NULL), WEFT_EINVAL);
  assert_int_equal(weft_runtime_attach(&rt, "", loop, NULL), WEFT_EINVAL);
  assert_null(rt);
  assert_int_equal(weft_runtime_detach(NULL), WEFT_EINVAL);
  rt = attach_or_fail(l);
  detach_inside d = {rt, 0, 0};
  assert_int_equal(conf_spawn_fn(rt, detach_inside_poll, &d, NULL), 0);
  floop_run(l, &d.done, 5000);
  assert_int_equal(d.rc, WEFT_EBUSY);
  assert_int_equal(weft_runtime_detach(rt), 0);
  floop_free(l);
}

/* A2: timers on an attached runtime fire in deadline order, none early,
 * through the one loop timer weft keeps armed for its next deadline. The
 * deadlines are 15 ms apart, so that the loop's own latency (sanitizers,
 * a loaded machine) cannot make two of them due in the same iteration,
 * where the order the woken tasks run in is the scheduler's to choose. */
typedef struct ordered {
  int *log, *n;
  int id;
  uint64_t ms;
  weft_future *f;
  uint64_t armed_ns, fired_ns;
  _Atomic int *left;
} ordered;

static weft_poll ordered_poll(void *arg, weft_context *cx) {
  ordered *o = arg;
  if (!o->f) {
    assert_int_equal(weft_sleep(o->ms, &o->f), 0);
    o->armed_ns = weft_now_ns();
  }
  if (weft_future_poll(o->f, cx) == WEFT_PENDING)
    return WEFT_PENDING;
  o->fired_ns = weft_now_ns();
  weft_future_free(o->f);
  o->f = NULL;
  o->log[(*o->n)++] = o->id;
  atomic_fetch_sub_explicit(o->left, 1, memory_order_release);
  return WEFT_READY;
}

static void test_attach_timers_fire_in_order(void **state) {
  (void)state;
  enum { N = 6 };
  floop *l = floop_new();
  weft_runtime *rt = attach_or_fail(l);
  int log[N], n = 0;
  _Atomic int left = N;
  ordered o[N];
  /* Spawned in scrambled order. */
  for (int i = 0; i < N; i++) {
    int id = (i * 5) % N;
    o[i] = (ordered){log, &n, id, 5u + 15u * (unsigned)id, NULL, 0, 0,
                     &left};
    assert_int_equal(conf_spawn_fn(rt, ordered_poll, &o[i], NULL), 0);
  }
  for (uint64_t end = conf_real_ms() + 5000;
       atomic_load(&left) > 0 && conf_real_ms() < end;)
    floop_run(l, NULL, 5);
  assert_int_equal(n, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(log[i], i);
    assert_true(o[i].fired_ns - o[i].armed_ns >= o[i].ms * 1000000u);
  }
  assert_int_equal(weft_runtime_detach(rt), 0);
  floop_free(l);
}

static const conf_test tests[] = {
    CONF_TEST("A1", test_attach_task_runs_on_loop_thread, CONF_NEEDS_ATTACH),
    CONF_TEST("A2", test_attach_timer_fires_not_early,
              CONF_NEEDS_ATTACH | CONF_NEEDS_REAL_TIME),
    CONF_TEST("A2", test_attach_zero_ms_timer_fires, CONF_NEEDS_ATTACH),
    CONF_TEST("A2", test_attach_timers_fire_in_order, CONF_NEEDS_ATTACH),
    CONF_TEST("A3", test_attach_wake_from_foreign_thread, CONF_NEEDS_ATTACH),
    CONF_TEST("A3", test_attach_spawn_from_foreign_threads,
              CONF_NEEDS_ATTACH),
    CONF_TEST("A4", test_attach_io_readiness_reaches_task,
              CONF_NEEDS_ATTACH | CONF_NEEDS_IO),
    CONF_TEST("A5", test_attach_detach_drops_pending_tasks_once,
              CONF_NEEDS_ATTACH | CONF_NEEDS_IO),
    CONF_TEST("A5", test_attach_detach_leaves_loop_usable,
              CONF_NEEDS_ATTACH),
    CONF_TEST("A6", test_attach_detach_cycles, CONF_NEEDS_ATTACH),
    CONF_TEST("A1", test_attach_blocking_job_result_reaches_loop,
              CONF_NEEDS_ATTACH),
    CONF_TEST("A7", test_attach_invalid_arguments, CONF_NEEDS_ATTACH),
};

CONF_AREA(conf_area_attach, "attach", tests);
