/* tests/exec/test_runtime.c: spawn, block_on, builder, metrics, slow-poll
 * detector, coroutine macros, argument checks. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

static void test_runtime_spawn_and_wait_multi(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 2);
  assert_non_null(rt);
  weft_join_handle *h[100];
  for (int i = 0; i < 100; i++) {
    struct value_fut v = {i * 3};
    assert_int_equal(weft_spawn(rt, &value_vt, &v, sizeof v, sizeof(int),
                                &h[i]),
                     0);
  }
  for (int i = 0; i < 100; i++) {
    weft_join_result r;
    assert_int_equal(weft_join_wait(h[i], 5000, &r), 0);
    assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
    assert_int_equal(r.output_size, sizeof(int));
    assert_int_equal(*(int *)r.output, i * 3);
    assert_true(weft_join_is_finished(h[i]));
    assert_true(weft_join_task_id(h[i]) != 0);
    weft_join_free(h[i]);
  }
  weft_runtime_free(rt);
}

/* Spawns from plain threads take their blocks from the runtime's remote
 * cache and get them back from the workers in batches. Two threads spawn at
 * once, in rounds so that blocks are reused, with outputs of several sizes
 * so that several block classes are used; every output must be the task's
 * own. */
#define REMOTE_ROUNDS 20
#define REMOTE_TASKS 200
struct remote_arg {
  weft_runtime *rt;
  int base;
  int bad;
};
static void *remote_spawner(void *arg) {
  struct remote_arg *a = arg;
  static weft_join_handle *h[2][REMOTE_TASKS];
  weft_join_handle **mine = h[a->base];
  for (int round = 0; round < REMOTE_ROUNDS; round++) {
    for (int i = 0; i < REMOTE_TASKS; i++) {
      struct value_fut v = {a->base * 1000000 + round * 1000 + i};
      size_t out = sizeof(int) * (size_t)(1 + (i % 4) * 40);
      if (weft_spawn(a->rt, &value_vt, &v, sizeof v, out, &mine[i]) != 0) {
        a->bad++;
        return NULL;
      }
    }
    for (int i = 0; i < REMOTE_TASKS; i++) {
      weft_join_result r;
      if (weft_join_wait(mine[i], 5000, &r) != 0 ||
          r.status != WEFT_JOIN_COMPLETED ||
          *(int *)r.output != a->base * 1000000 + round * 1000 + i)
        a->bad++;
      weft_join_free(mine[i]);
    }
  }
  return NULL;
}
static void test_runtime_spawn_remote_threads(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 2);
  assert_non_null(rt);
  struct remote_arg a[2] = {{rt, 0, 0}, {rt, 1, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, remote_spawner, &a[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(a[0].bad, 0);
  assert_int_equal(a[1].bad, 0);
  weft_runtime_free(rt);
}

/* A future that spawns a child from inside a task and awaits it. */
struct parent {
  weft_coro co;
  weft_join_handle *h;
  weft_join_result r;
  uint64_t my_id;
  weft_runtime *rt_seen;
};
static weft_poll parent_poll(void *s, weft_context *cx, void *out) {
  struct parent *p = s;
  WEFT_CORO_BEGIN(&p->co);
  p->my_id = weft_task_id_current();
  p->rt_seen = weft_runtime_current();
  {
    struct value_fut v = {41};
    if (weft_spawn(weft_runtime_current(), &value_vt, &v, sizeof v,
                   sizeof(int), &p->h))
      return WEFT_READY;
  }
  WEFT_AWAIT(&p->co, weft_join_poll(p->h, cx, &p->r));
  *(int *)out = *(int *)p->r.output + 1;
  weft_join_free(p->h);
  WEFT_CORO_END(&p->co);
}
static const weft_future_vtable parent_vt = {sizeof(weft_future_vtable),
                                             parent_poll, NULL};

static void spawn_from_task(weft_flavor fl) {
  weft_runtime *rt = test_runtime(fl, 2);
  assert_non_null(rt);
  struct parent p;
  memset(&p, 0, sizeof p);
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &parent_vt, &p, sizeof p, sizeof(int), &h),
                   0);
  struct join_fut j = {h, {0}};
  assert_int_equal(weft_block_on(rt, &join_fut_vt, &j, NULL), 0);
  assert_int_equal(j.res.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(*(int *)j.res.output, 42);
  weft_join_free(h);
  weft_runtime_free(rt);
}
static void test_runtime_spawn_from_task_multi(void **st) {
  (void)st;
  spawn_from_task(WEFT_FLAVOR_MULTI_THREAD);
}
static void test_runtime_spawn_from_task_current(void **st) {
  (void)st;
  spawn_from_task(WEFT_FLAVOR_CURRENT_THREAD);
}

/* weft_runtime_current / weft_task_id_current inside and outside. */
struct ids {
  weft_runtime *rt;
  uint64_t id;
};
static weft_poll ids_poll(void *s, weft_context *cx, void *out) {
  (void)cx;
  (void)s;
  struct ids *o = out;
  o->rt = weft_runtime_current();
  o->id = weft_task_id_current();
  return WEFT_READY;
}
static const weft_future_vtable ids_vt = {sizeof(weft_future_vtable),
                                          ids_poll, NULL};
static void test_runtime_current_and_task_id(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 2);
  assert_null(weft_runtime_current());
  assert_int_equal(weft_task_id_current(), 0);
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &ids_vt, NULL, 0, sizeof(struct ids), &h),
                   0);
  weft_join_result r;
  assert_int_equal(weft_join_wait(h, 5000, &r), 0);
  struct ids *o = r.output;
  assert_ptr_equal(o->rt, rt);
  assert_int_equal(o->id, weft_join_task_id(h));
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* weft_task_fail. */
static weft_poll failing_poll(void *s, weft_context *cx, void *out) {
  (void)s;
  (void)out;
  assert_int_equal(weft_task_fail(cx, WEFT_EIO), 0);
  assert_int_equal(weft_task_fail(cx, 5), WEFT_EINVAL);
  return WEFT_READY;
}
static const weft_future_vtable failing_vt = {sizeof(weft_future_vtable),
                                              failing_poll, NULL};
static void test_runtime_task_fail(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 1);
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &failing_vt, NULL, 0, 8, &h), 0);
  weft_join_result r;
  assert_int_equal(weft_join_wait(h, 5000, &r), 0);
  assert_int_equal(r.status, WEFT_JOIN_FAILED);
  assert_int_equal(r.error, WEFT_EIO);
  assert_null(r.output);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* Boxed futures and weft_spawn_future. */
static void test_runtime_spawn_future(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 2);
  weft_future *f;
  struct value_fut v = {7};
  assert_int_equal(weft_future_new(&value_vt, &v, sizeof v, sizeof(int), &f),
                   0);
  assert_int_equal(weft_future_output_size(f), sizeof(int));
  weft_join_handle *h;
  assert_int_equal(weft_spawn_future(rt, f, &h), 0);
  weft_join_result r;
  assert_int_equal(weft_join_wait(h, 5000, &r), 0);
  assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(*(int *)r.output, 7);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* Yielding coroutine: counts its polls. */
struct yielder {
  weft_coro co;
  int i, n, y;
};
static weft_poll yielder_poll(void *s, weft_context *cx, void *out) {
  struct yielder *y = s;
  WEFT_CORO_BEGIN(&y->co);
  for (y->i = 0; y->i < y->n; y->i++) {
    y->y = 0;
    WEFT_AWAIT(&y->co, weft_yield_now(&y->y, cx));
    WEFT_YIELD(&y->co, cx);
  }
  *(int *)out = y->i;
  WEFT_CORO_END(&y->co);
}
static const weft_future_vtable yielder_vt = {sizeof(weft_future_vtable),
                                              yielder_poll, NULL};
static void test_runtime_coro_yield(void **st) {
  (void)st;
  for (int fl = 0; fl < 2; fl++) {
    weft_runtime *rt = test_runtime((weft_flavor)fl, 2);
    struct yielder y;
    memset(&y, 0, sizeof y);
    y.n = 100;
    int out = 0;
    assert_int_equal(weft_block_on(rt, &yielder_vt, &y, &out), 0);
    assert_int_equal(out, 100);
    /* Polled again after the end: still READY, output untouched. */
    weft_join_handle *h;
    assert_int_equal(
        weft_spawn(rt, &yielder_vt, &y, sizeof y, sizeof(int), &h), 0);
    /* A current-thread runtime runs tasks only inside block_on. */
    struct join_fut j = {h, {0}};
    assert_int_equal(weft_block_on(rt, &join_fut_vt, &j, NULL), 0);
    assert_int_equal(j.res.status, WEFT_JOIN_COMPLETED);
    weft_join_free(h);
    weft_runtime_free(rt);
  }
}

/* Builder settings and hooks. */
static atomic_int started, stopped;
static void on_start(void *a) {
  assert_ptr_equal(a, &started);
  atomic_fetch_add(&started, 1);
}
static void on_stop(void *a) {
  assert_ptr_equal(a, &stopped);
  atomic_fetch_add(&stopped, 1);
}
static void test_runtime_builder(void **st) {
  (void)st;
  weft_builder *b;
  assert_int_equal(weft_builder_new(&b), 0);
  assert_int_equal(weft_builder_worker_threads(b, 0), WEFT_EINVAL);
  assert_int_equal(weft_builder_worker_threads(b, 1025), WEFT_EINVAL);
  assert_int_equal(weft_builder_worker_threads(b, 3), 0);
  assert_int_equal(weft_builder_flavor(b, (weft_flavor)7), WEFT_EINVAL);
  assert_int_equal(weft_builder_thread_name(b, NULL), WEFT_EINVAL);
  assert_int_equal(weft_builder_thread_name(b, "a-very-long-prefix-x"), 0);
  assert_int_equal(weft_builder_thread_stack_size(b, 1000), WEFT_EINVAL);
  assert_int_equal(weft_builder_thread_stack_size(b, 256 * 1024), 0);
  assert_int_equal(weft_builder_max_blocking_threads(b, 0), WEFT_EINVAL);
  assert_int_equal(weft_builder_max_blocking_threads(b, 70000), WEFT_EINVAL);
  assert_int_equal(weft_builder_max_blocking_threads(b, 8), 0);
  assert_int_equal(weft_builder_blocking_keep_alive(b, 100), 0);
  assert_int_equal(weft_builder_blocking_queue_limit(b, 10), 0);
  assert_int_equal(weft_builder_on_thread_start(b, on_start, &started), 0);
  assert_int_equal(weft_builder_on_thread_stop(b, on_stop, &stopped), 0);
  weft_runtime *rt;
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_runtime_metrics m;
  m.struct_size = sizeof m;
  assert_int_equal(weft_runtime_metrics_get(rt, &m), 0);
  assert_int_equal(m.workers, 3);
  /* Hooks run on the workers before anything else. */
  for (int i = 0; i < 200 && atomic_load(&started) < 3; i++)
    usleep(5000);
  assert_true(atomic_load(&started) >= 3);
  weft_runtime_free(rt);
  assert_true(atomic_load(&stopped) >= 3);
  weft_builder_free(b);
  weft_builder_free(NULL);
}

static void test_runtime_default_workers(void **st) {
  (void)st;
  weft_runtime *rt;
  assert_int_equal(weft_runtime_new(&rt, NULL), 0);
  weft_runtime_metrics m;
  m.struct_size = sizeof m;
  assert_int_equal(weft_runtime_metrics_get(rt, &m), 0);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  assert_true(m.workers >= 1 && m.workers <= (unsigned)cpus);
  assert_non_null(weft_runtime_backend_name(rt));
  weft_runtime_free(rt);
}

static void test_runtime_metrics(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 2);
  for (int i = 0; i < 1000; i++) {
    struct value_fut v = {i};
    assert_int_equal(weft_spawn_detached(rt, &value_vt, &v, sizeof v), 0);
  }
  weft_runtime_metrics m;
  for (int i = 0; i < 500; i++) {
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    assert_int_equal(weft_runtime_metrics_get(rt, &m), 0);
    if (m.polls >= 1000 && m.tasks_alive == 0)
      break;
    usleep(2000);
  }
  assert_int_equal(m.tasks_spawned, 1000);
  assert_true(m.polls >= 1000);
  assert_int_equal(m.tasks_alive, 0);
  uint64_t sum = 0;
  for (unsigned w = 0; w < 2; w++) {
    weft_worker_metrics wm;
    wm.struct_size = sizeof wm;
    assert_int_equal(weft_runtime_worker_metrics_get(rt, w, &wm), 0);
    sum += wm.polls;
  }
  assert_int_equal(sum, m.polls);
  weft_worker_metrics wm;
  wm.struct_size = sizeof wm;
  assert_int_equal(weft_runtime_worker_metrics_get(rt, 2, &wm), WEFT_EINVAL);
  /* A short struct_size is filled only up to it. */
  struct {
    weft_runtime_metrics m;
    uint64_t guard;
  } small;
  memset(&small, 0xab, sizeof small);
  small.m.struct_size = offsetof(weft_runtime_metrics, tasks_spawned);
  assert_int_equal(weft_runtime_metrics_get(rt, &small.m), 0);
  assert_int_equal(small.m.workers, 2);
  assert_int_equal(small.m.tasks_spawned, 0xababababababababull);
  weft_runtime_free(rt);
}

/* Slow-poll detector. */
struct slow_seen {
  atomic_int n;
  uint64_t id;
  int line;
  uint64_t ns;
};
static void slow_hook(const weft_slow_poll_info *info, void *arg) {
  struct slow_seen *s = arg;
  s->id = info->task_id;
  s->line = info->spawn_line;
  s->ns = info->duration_ns;
  assert_non_null(info->spawn_file);
  assert_non_null(strstr(info->spawn_file, "test_runtime.c"));
  atomic_fetch_add(&s->n, 1);
}
static weft_poll sleepy_poll(void *s, weft_context *cx, void *out) {
  (void)s;
  (void)cx;
  (void)out;
  struct timespec ts = {0, 3000000};
  nanosleep(&ts, NULL);
  return WEFT_READY;
}
static const weft_future_vtable sleepy_vt = {sizeof(weft_future_vtable),
                                             sleepy_poll, NULL};
static void test_runtime_slow_poll(void **st) {
  (void)st;
  struct slow_seen seen;
  memset(&seen, 0, sizeof seen);
  weft_builder *b;
  assert_int_equal(weft_builder_new(&b), 0);
  weft_builder_worker_threads(b, 1);
  assert_int_equal(weft_builder_slow_poll(b, 1000, slow_hook, &seen), 0);
  weft_runtime *rt;
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_join_handle *h;
  int line = __LINE__ + 1;
  assert_int_equal(weft_spawn(rt, &sleepy_vt, NULL, 0, 0, &h), 0);
  assert_int_equal(weft_join_wait(h, 5000, NULL), 0);
  /* A fast task is not reported. */
  struct value_fut v = {1};
  weft_join_handle *h2;
  assert_int_equal(weft_spawn(rt, &value_vt, &v, sizeof v, 0, &h2), 0);
  assert_int_equal(weft_join_wait(h2, 5000, NULL), 0);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&seen.n), 1);
  assert_int_equal(seen.id, weft_join_task_id(h));
  assert_int_equal(seen.line, line);
  assert_true(seen.ns >= 3000000);
  weft_join_free(h);
  weft_join_free(h2);
  weft_builder_free(b);
}

static void test_runtime_slow_poll_env(void **st) {
  (void)st;
  setenv("WEFT_SLOW_POLL_US", "1000", 1);
  /* The default hook prints to stderr: capture it through a pipe. */
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fds[1], 2);
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 1);
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &sleepy_vt, NULL, 0, 0, &h), 0);
  assert_int_equal(weft_join_wait(h, 5000, NULL), 0);
  weft_runtime_free(rt);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fds[1]);
  char buf[512] = {0};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  unsetenv("WEFT_SLOW_POLL_US");
  assert_true(n > 0);
  assert_non_null(strstr(buf, "slow poll"));
  assert_non_null(strstr(buf, "test_runtime.c"));
  weft_join_free(h);
}

static void test_runtime_args(void **st) {
  (void)st;
  weft_runtime *rt = test_runtime(WEFT_FLAVOR_MULTI_THREAD, 1);
  weft_join_handle *h;
  weft_future_vtable bad = value_vt;
  bad.struct_size = 4;
  assert_int_equal(weft_spawn(NULL, &value_vt, NULL, 0, 0, &h), WEFT_EINVAL);
  assert_int_equal(weft_spawn(rt, NULL, NULL, 0, 0, &h), WEFT_EINVAL);
  assert_int_equal(weft_spawn(rt, &bad, NULL, 0, 0, &h), WEFT_EINVAL);
  assert_int_equal(weft_spawn(rt, &value_vt, NULL, 4, 0, &h), WEFT_EINVAL);
  {
    /* A future's state and output room are each limited to 1 GiB. */
    struct value_fut big = {1};
    size_t over = ((size_t)1 << 30) + 1;
    assert_int_equal(weft_spawn(rt, &value_vt, &big, over, 0, &h),
                     WEFT_EINVAL);
    assert_int_equal(weft_spawn(rt, &value_vt, &big, sizeof big, over, &h),
                     WEFT_EINVAL);
  }
  assert_int_equal(weft_spawn_future(rt, NULL, &h), WEFT_EINVAL);
  assert_int_equal(weft_block_on(NULL, &value_vt, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_block_on(rt, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_task_fail(NULL, WEFT_EIO), WEFT_EINVAL);
  assert_int_equal(weft_join_wait(NULL, 0, NULL), WEFT_EINVAL);
  assert_int_equal(weft_join_abort(NULL), WEFT_EINVAL);
  assert_int_equal(weft_join_is_finished(NULL), 0);
  assert_int_equal(weft_runtime_shutdown(NULL, 0), WEFT_EINVAL);
  assert_int_equal(weft_runtime_new(NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_builder_new(NULL), WEFT_EINVAL);
  assert_int_equal(weft_builder_build(NULL, &rt), WEFT_EINVAL);
  assert_int_equal(weft_builder_worker_threads(NULL, 1), WEFT_EINVAL);
  assert_int_equal(weft_builder_slow_poll(NULL, 1, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_builder_backend(NULL, "epoll"), WEFT_EINVAL);
  assert_int_equal(weft_runtime_metrics_get(NULL, NULL), WEFT_EINVAL);
  weft_runtime_metrics m;
  m.struct_size = 0;
  assert_int_equal(weft_runtime_metrics_get(rt, &m), WEFT_EINVAL);
  weft_future *f;
  assert_int_equal(weft_future_new(NULL, NULL, 0, 0, &f), WEFT_EINVAL);
  assert_int_equal(weft_future_new(&value_vt, NULL, 4, 0, &f), WEFT_EINVAL);
  assert_int_equal(weft_future_new(&value_vt, NULL, 0, 0, NULL), WEFT_EINVAL);
  assert_int_equal(weft_waker_clone(NULL, NULL), WEFT_EINVAL);
  weft_waker_wake(NULL);
  weft_waker_wake_by_ref(NULL);
  weft_waker_drop(NULL);
  weft_future_free(NULL);
  weft_join_free(NULL);
  weft_runtime_free(NULL);
  assert_int_equal(weft_future_poll(NULL, NULL), WEFT_READY);
  /* After shutdown: spawn and block_on refuse. */
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  struct value_fut v = {1};
  assert_int_equal(weft_spawn(rt, &value_vt, &v, sizeof v, 0, &h),
                   WEFT_ESHUTDOWN);
  assert_int_equal(weft_block_on(rt, &value_vt, &v, NULL), WEFT_ESHUTDOWN);
  weft_runtime_free(rt);
}

/* block_on from inside a task is refused; shutdown from a task too. */
static weft_poll nested_poll(void *s, weft_context *cx, void *out) {
  (void)cx;
  weft_runtime *rt = *(weft_runtime **)s;
  struct value_fut v = {1};
  ((int *)out)[0] = weft_block_on(rt, &value_vt, &v, NULL);
  ((int *)out)[1] = weft_runtime_shutdown(rt, 0);
  return WEFT_READY;
}
static const weft_future_vtable nested_vt = {sizeof(weft_future_vtable),
                                             nested_poll, NULL};
static void test_runtime_nested_block_on(void **st) {
  (void)st;
  for (int fl = 0; fl < 2; fl++) {
    weft_runtime *rt = test_runtime((weft_flavor)fl, 1);
    weft_join_handle *h;
    assert_int_equal(
        weft_spawn(rt, &nested_vt, &rt, sizeof rt, 2 * sizeof(int), &h), 0);
    struct join_fut j = {h, {0}};
    assert_int_equal(weft_block_on(rt, &join_fut_vt, &j, NULL), 0);
    assert_int_equal(((int *)j.res.output)[0], WEFT_EBUSY);
    assert_int_equal(((int *)j.res.output)[1], WEFT_EBUSY);
    weft_join_free(h);
    weft_runtime_free(rt);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_runtime_spawn_and_wait_multi),
      cmocka_unit_test(test_runtime_spawn_remote_threads),
      cmocka_unit_test(test_runtime_spawn_from_task_multi),
      cmocka_unit_test(test_runtime_spawn_from_task_current),
      cmocka_unit_test(test_runtime_current_and_task_id),
      cmocka_unit_test(test_runtime_task_fail),
      cmocka_unit_test(test_runtime_spawn_future),
      cmocka_unit_test(test_runtime_coro_yield),
      cmocka_unit_test(test_runtime_builder),
      cmocka_unit_test(test_runtime_default_workers),
      cmocka_unit_test(test_runtime_metrics),
      cmocka_unit_test(test_runtime_slow_poll),
      cmocka_unit_test(test_runtime_slow_poll_env),
      cmocka_unit_test(test_runtime_args),
      cmocka_unit_test(test_runtime_nested_block_on),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
