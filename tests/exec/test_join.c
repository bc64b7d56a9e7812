/* tests/exec/test_join.c: the join/abort matrix, on both flavours. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

struct victim {
  atomic_int polls;
  atomic_int drops;
  atomic_int entered;      /* set when a poll starts */
  atomic_int release;      /* a blocking poll waits for it */
  int block;               /* block in the first poll */
  weft_join_handle *self;  /* abort itself during the poll when set */
  weft_waker w;
  int ready;               /* complete on the first poll */
};
static weft_poll victim_poll(void *s, weft_context *cx, void *out) {
  struct victim *v = *(struct victim **)s;
  atomic_fetch_add(&v->polls, 1);
  atomic_store(&v->entered, 1);
  if (v->block) {
    while (!atomic_load(&v->release))
      usleep(100);
  }
  if (v->self)
    weft_join_abort(v->self);
  if (v->ready) {
    if (out)
      *(int *)out = 99;
    return WEFT_READY;
  }
  if (!v->w.vtable)
    weft_waker_clone(weft_context_waker(cx), &v->w);
  return WEFT_PENDING;
}
static void victim_drop(void *s) {
  struct victim *v = *(struct victim **)s;
  weft_waker_drop(&v->w);
  atomic_fetch_add(&v->drops, 1);
}
static const weft_future_vtable victim_vt = {sizeof(weft_future_vtable),
                                             victim_poll, victim_drop};

/* Waits for a handle: from a plain thread (multi-thread) or by driving a
 * current-thread runtime with block_on. */
static void join_any(weft_runtime *rt, weft_flavor fl, weft_join_handle *h,
                     weft_join_result *r) {
  if (fl == WEFT_FLAVOR_MULTI_THREAD) {
    assert_int_equal(weft_join_wait(h, 10000, r), 0);
  } else {
    struct join_fut j = {h, {0}};
    assert_int_equal(weft_block_on(rt, &join_fut_vt, &j, NULL), 0);
    *r = j.res;
  }
}

/* A task that blocks its (only) worker until released. */
static weft_poll blocker_poll(void *s, weft_context *cx, void *out) {
  (void)cx;
  (void)out;
  atomic_int *gate = *(atomic_int **)s;
  atomic_store(&gate[1], 1);
  while (!atomic_load(&gate[0]))
    usleep(100);
  return WEFT_READY;
}
static const weft_future_vtable blocker_vt = {sizeof(weft_future_vtable),
                                              blocker_poll, NULL};

static void abort_before_first_poll(weft_flavor fl) {
  weft_runtime *rt = test_runtime(fl, 1);
  atomic_int gate[2] = {0, 0};
  atomic_int *gp = gate;
  weft_join_handle *bh = NULL;
  if (fl == WEFT_FLAVOR_MULTI_THREAD) {
    /* Occupy the only worker so the victim cannot be polled yet. */
    assert_int_equal(weft_spawn(rt, &blocker_vt, &gp, sizeof gp, 0, &bh), 0);
    while (!atomic_load(&gate[1]))
      usleep(100);
  }
  struct victim v;
  memset(&v, 0, sizeof v);
  struct victim *vp = &v;
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &victim_vt, &vp, sizeof vp, 4, &h), 0);
  assert_int_equal(weft_join_abort(h), 0);
  assert_int_equal(weft_join_abort(h), 0); /* twice: harmless */
  atomic_store(&gate[0], 1);
  weft_join_result r;
  join_any(rt, fl, h, &r);
  assert_int_equal(r.status, WEFT_JOIN_CANCELLED);
  assert_int_equal(r.error, WEFT_ECANCELED);
  assert_null(r.output);
  assert_int_equal(atomic_load(&v.polls), 0);
  assert_int_equal(atomic_load(&v.drops), 1);
  weft_join_free(h);
  if (bh)
    weft_join_free(bh);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&v.drops), 1);
}

static void abort_during_poll(weft_flavor fl) {
  weft_runtime *rt = test_runtime(fl, 2);
  struct victim v;
  memset(&v, 0, sizeof v);
  struct victim *vp = &v;
  weft_join_handle *h;
  /* The task aborts itself from inside its poll (works on both flavours);
   * the future must be dropped after the poll, never polled again. */
  v.block = 1; /* hold the first poll until `self` is known */
  assert_int_equal(weft_spawn(rt, &victim_vt, &vp, sizeof vp, 0, &h), 0);
  v.self = h;
  atomic_store(&v.release, 1);
  weft_join_result r;
  join_any(rt, fl, h, &r);
  assert_int_equal(r.status, WEFT_JOIN_CANCELLED);
  assert_int_equal(atomic_load(&v.polls), 1);
  assert_int_equal(atomic_load(&v.drops), 1);
  weft_join_free(h);
  if (fl == WEFT_FLAVOR_MULTI_THREAD) {
    /* And aborted from another thread while its poll runs. */
    struct victim v2;
    memset(&v2, 0, sizeof v2);
    v2.block = 1;
    struct victim *vp2 = &v2;
    assert_int_equal(weft_spawn(rt, &victim_vt, &vp2, sizeof vp2, 0, &h), 0);
    while (!atomic_load(&v2.entered))
      usleep(100);
    assert_int_equal(weft_join_abort(h), 0);
    assert_false(weft_join_is_finished(h));
    atomic_store(&v2.release, 1);
    join_any(rt, fl, h, &r);
    assert_int_equal(r.status, WEFT_JOIN_CANCELLED);
    assert_int_equal(atomic_load(&v2.polls), 1);
    assert_int_equal(atomic_load(&v2.drops), 1);
    weft_join_free(h);
  }
  weft_runtime_free(rt);
}

static void abort_after_completion(weft_flavor fl) {
  weft_runtime *rt = test_runtime(fl, 2);
  struct victim v;
  memset(&v, 0, sizeof v);
  v.ready = 1;
  struct victim *vp = &v;
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &victim_vt, &vp, sizeof vp, sizeof(int),
                              &h), 0);
  weft_join_result r;
  join_any(rt, fl, h, &r);
  assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(weft_join_abort(h), 0);
  join_any(rt, fl, h, &r);
  assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(*(int *)r.output, 99);
  assert_int_equal(atomic_load(&v.drops), 1);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* A future counting its polls to completion, signalling a counter. */
struct counter_fut {
  atomic_int *done;
  int yields;
};
static weft_poll counter_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct counter_fut *c = s;
  if (c->yields-- > 0) {
    weft_waker_wake_by_ref(weft_context_waker(cx));
    return WEFT_PENDING;
  }
  atomic_fetch_add(c->done, 1);
  return WEFT_READY;
}
static void counter_drop(void *s) {
  struct counter_fut *c = s;
  atomic_fetch_add(&c->done[1], 1);
}
static const weft_future_vtable counter_vt = {sizeof(weft_future_vtable),
                                              counter_poll, counter_drop};

/* Waits in block_on until `*flag` reaches `n` (current-thread driver). */
struct until {
  atomic_int *flag;
  int n;
};
static weft_poll until_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct until *u = s;
  if (atomic_load(u->flag) >= u->n)
    return WEFT_READY;
  weft_waker_wake_by_ref(weft_context_waker(cx));
  return WEFT_PENDING;
}
static const weft_future_vtable until_vt = {sizeof(weft_future_vtable),
                                            until_poll, NULL};

static void drop_handle(weft_flavor fl) {
  weft_runtime *rt = test_runtime(fl, 2);
  atomic_int done[2] = {0, 0};
  /* Before completion: the task keeps running to the end. */
  struct counter_fut c = {done, 50};
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &counter_vt, &c, sizeof c, 16, &h), 0);
  weft_join_free(h);
  /* After completion. */
  struct counter_fut c2 = {done, 0};
  assert_int_equal(weft_spawn(rt, &counter_vt, &c2, sizeof c2, 16, &h), 0);
  weft_join_result r;
  join_any(rt, fl, h, &r);
  assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
  weft_join_detach(h);
  struct until u = {done, 2};
  if (fl == WEFT_FLAVOR_CURRENT_THREAD) {
    assert_int_equal(weft_block_on(rt, &until_vt, &u, NULL), 0);
  } else {
    for (int i = 0; i < 4000 && atomic_load(&done[0]) < 2; i++)
      usleep(500);
  }
  assert_int_equal(atomic_load(&done[0]), 2);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&done[1]), 2);
}

/* Join from inside a task. */
struct joiner {
  weft_coro co;
  weft_join_handle *h;
  weft_join_result r;
  struct counter_fut child;
};
static weft_poll joiner_poll(void *s, weft_context *cx, void *out) {
  struct joiner *j = s;
  WEFT_CORO_BEGIN(&j->co);
  if (weft_spawn(weft_runtime_current(), &counter_vt, &j->child,
                 sizeof j->child, 8, &j->h))
    return WEFT_READY;
  WEFT_AWAIT(&j->co, weft_join_poll(j->h, cx, &j->r));
  *(int *)out = (int)j->r.status + 10;
  weft_join_free(j->h);
  WEFT_CORO_END(&j->co);
}
static const weft_future_vtable joiner_vt = {sizeof(weft_future_vtable),
                                             joiner_poll, NULL};

static void join_from_task(weft_flavor fl) {
  weft_runtime *rt = test_runtime(fl, 2);
  atomic_int done[2] = {0, 0};
  struct joiner j;
  memset(&j, 0, sizeof j);
  j.child.done = done;
  j.child.yields = 20;
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &joiner_vt, &j, sizeof j, sizeof(int), &h),
                   0);
  weft_join_result r;
  join_any(rt, fl, h, &r);
  assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(*(int *)r.output, 10 + WEFT_JOIN_COMPLETED);
  assert_int_equal(atomic_load(&done[0]), 1);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* Join from a plain thread: with a timeout that expires, then succeeds. On
 * the current-thread flavour another thread drives the runtime. */
struct driver_arg {
  weft_runtime *rt;
  atomic_int *flag;
};
static void *drive(void *arg) {
  struct driver_arg *d = arg;
  struct until u = {d->flag, 1};
  weft_block_on(d->rt, &until_vt, &u, NULL);
  return NULL;
}
static void join_from_thread(weft_flavor fl) {
  weft_runtime *rt = test_runtime(fl, 2);
  struct victim v;
  memset(&v, 0, sizeof v);
  struct victim *vp = &v;
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &victim_vt, &vp, sizeof vp, 4, &h), 0);
  atomic_int stop = 0;
  struct driver_arg da = {rt, &stop};
  pthread_t th;
  if (fl == WEFT_FLAVOR_CURRENT_THREAD)
    pthread_create(&th, NULL, drive, &da);
  uint64_t t0 = weft__test_now();
  assert_int_equal(weft_join_wait(h, 50, NULL), WEFT_ETIMEDOUT);
  assert_true(weft__test_now() - t0 >= 45000000u);
  /* Abort from this thread: the wait then resolves CANCELLED. */
  while (!atomic_load(&v.entered))
    usleep(100);
  assert_int_equal(weft_join_abort(h), 0);
  weft_join_result r;
  assert_int_equal(weft_join_wait(h, 10000, &r), 0);
  assert_int_equal(r.status, WEFT_JOIN_CANCELLED);
  assert_int_equal(atomic_load(&v.drops), 1);
  weft_join_free(h);
  if (fl == WEFT_FLAVOR_CURRENT_THREAD) {
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
  }
  weft_runtime_free(rt);
}

#define BOTH(name)                                                           \
  static void test_join_##name##_multi(void **st) {                          \
    (void)st;                                                                \
    name(WEFT_FLAVOR_MULTI_THREAD);                                          \
  }                                                                          \
  static void test_join_##name##_current(void **st) {                        \
    (void)st;                                                                \
    name(WEFT_FLAVOR_CURRENT_THREAD);                                        \
  }
BOTH(abort_before_first_poll)
BOTH(abort_during_poll)
BOTH(abort_after_completion)
BOTH(drop_handle)
BOTH(join_from_task)
BOTH(join_from_thread)

#define T(name)                                                              \
  cmocka_unit_test(test_join_##name##_multi),                                \
      cmocka_unit_test(test_join_##name##_current)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(abort_before_first_poll), T(abort_during_poll),
      T(abort_after_completion),  T(drop_handle),
      T(join_from_task),          T(join_from_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
