/* tests/reliability/test_fork.c: fork() in a process with a live
 * multi-thread runtime, a busy blocking pool and signal streams.
 *
 * The rule (docs/exhaustion.md): the child must leave the parent's runtime
 * alone (no call on it, not even weft_runtime_free: its threads do not exist
 * in the child); it may exit, and it may build new runtimes and use them
 * fully. The parent's signal watches do not follow into the child: a signal
 * the child receives goes to the disposition it had before weft installed
 * its handler, never into the parent's runtime.
 *
 * The parent keeps its runtime busy (tasks that yield, sleep, and a blocking
 * job) and has a thread creating and freeing signal streams while it forks,
 * so forks land in the middle of weft's locked sections. Each child runs
 * with a deadline: a hang is a failure. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <weft.h>
#include <weft/blocking.h>
#include <weft/signal.h>
#include <weft/time.h>

#include "rel_helpers.h"

/* ThreadSanitizer cannot follow a multi-threaded fork: in the child it
 * neither delivers signals nor accepts new threads (their ids collide with
 * the parent's threads it still tracks: "dup thread with used id"). Under
 * it the child builds a current-thread runtime, which starts no thread, and
 * runs a timer on it; the parent still checks that nothing reached its
 * runtime. The other builds run the whole child. */
#if defined(__SANITIZE_THREAD__)
#define REL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define REL_TSAN 1
#endif
#endif
#ifndef REL_TSAN
#define REL_TSAN 0
#endif

/* AddressSanitizer's allocator (gcc 12's and clang 14's) installs no fork
 * handler: a fork while another thread holds one of its size-class locks
 * leaves that lock held in the child, whose next allocation of that class
 * hangs (seen: the child's new workers stuck in the allocator as they
 * start). glibc's malloc has no such hazard. So under ASan the parent does
 * not run the thread that churns signal streams (it allocates nonstop);
 * the other builds keep it, to land forks inside weft's own locks. */
#if defined(__SANITIZE_ADDRESS__)
#define REL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REL_ASAN 1
#endif
#endif
#ifndef REL_ASAN
#define REL_ASAN 0
#endif

static volatile sig_atomic_t usr2_before_weft; /* the app's own handler */
static void app_usr2(int signo) {
  (void)signo;
  usr2_before_weft++;
}

/* ---- Futures used on both sides ------------------------------------------ */

typedef struct busy {
  atomic_int *stop;
  atomic_long *polls;
} busy;

static weft_poll busy_poll(void *p, weft_context *cx, void *out) {
  busy *b = p;
  (void)out;
  if (atomic_load(b->stop))
    return WEFT_READY;
  atomic_fetch_add(b->polls, 1);
  weft_waker_wake_by_ref(weft_context_waker(cx));
  return WEFT_PENDING;
}
static const weft_future_vtable busy_vt = {sizeof(weft_future_vtable),
                                           busy_poll, NULL};

/* Sleeps `ms` again and again until *stop (ticks counted). */
typedef struct ticker {
  atomic_int *stop;
  atomic_long *ticks;
  weft_future *sleep;
  uint64_t ms;
} ticker;

static weft_poll ticker_poll(void *p, weft_context *cx, void *out) {
  ticker *t = p;
  (void)out;
  for (;;) {
    if (atomic_load(t->stop))
      return WEFT_READY;
    if (!t->sleep && weft_sleep(t->ms, &t->sleep) < 0)
      return WEFT_READY;
    if (weft_future_poll(t->sleep, cx) == WEFT_PENDING)
      return WEFT_PENDING;
    weft_future_free(t->sleep);
    t->sleep = NULL;
    atomic_fetch_add(t->ticks, 1);
  }
}
static void ticker_drop(void *p) { weft_future_free(((ticker *)p)->sleep); }
static const weft_future_vtable ticker_vt = {sizeof(weft_future_vtable),
                                             ticker_poll, ticker_drop};

static void *until_cancelled(void *arg, const weft_cancel_token *token) {
  while (!weft_cancel_token_is_cancelled(token) && !atomic_load((atomic_int *)arg)) {
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return arg;
}

static void *double_it(void *arg, const weft_cancel_token *token) {
  (void)token;
  return (void *)((uintptr_t)arg * 2);
}

/* Waits for one delivery of a signal stream. */
typedef struct sig_wait {
  weft_signal *s;
  int got;
} sig_wait;
static weft_poll sig_wait_poll(void *p, weft_context *cx, void *out) {
  sig_wait *w = p;
  (void)out;
  int rc = weft_signal_poll_recv(w->s, cx);
  if (rc == 0)
    return WEFT_PENDING;
  w->got = rc;
  return WEFT_READY;
}
static const weft_future_vtable sig_wait_vt = {sizeof(weft_future_vtable),
                                               sig_wait_poll, NULL};

/* Polls a boxed future to completion (block_on helper). */
typedef struct boxed {
  weft_future *f;
} boxed;
static weft_poll boxed_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  return weft_future_poll(((boxed *)p)->f, cx);
}
static const weft_future_vtable boxed_vt = {sizeof(weft_future_vtable),
                                            boxed_poll, NULL};

/* ---- The child ------------------------------------------------------------ */

/* LeakSanitizer checks the child at exit too, and there the parent's
 * objects that only the vanished threads referenced (a stream the churn
 * thread was creating, a task a worker was polling) look leaked: they are
 * the child's to abandon, per the rule above. LSan calls this hook before
 * its check; the parent, which shuts its runtime down, stays checked. */
static volatile int in_forked_child;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return in_forked_child; }

/* ThreadSanitizer defers a signal to the thread's next intercepted call:
 * give the handler up to 100 ms of such calls to run. */
static void wait_for_app_handler(void) {
  for (int i = 0; i < 100 && usr2_before_weft == 0; i++) {
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* The child under ThreadSanitizer (see REL_TSAN). */
static int child_work_no_threads(void) {
  weft_builder *b;
  weft_runtime *rt;
  if (weft_builder_new(&b) < 0)
    return 20;
  weft_builder_flavor(b, WEFT_FLAVOR_CURRENT_THREAD);
  int rc = weft_builder_build(b, &rt);
  weft_builder_free(b);
  if (rc < 0)
    return 21;
  boxed bx;
  if (weft_sleep(10, &bx.f) < 0)
    return 22;
  uint64_t t0 = rel_mono_ns();
  if (weft_block_on(rt, &boxed_vt, &bx, NULL) < 0)
    return 23;
  weft_future_free(bx.f);
  if (rel_mono_ns() - t0 < 9000000u)
    return 24;
  weft_runtime_free(rt);
  return 0;
}

/* Returns the exit code: 0, or the number of the step that failed. */
static int child_work(void) {
  if (REL_TSAN)
    return child_work_no_threads();
  /* The parent's watch on SIGUSR2 did not follow: the application's own
   * handler (installed before weft's) gets the signal. */
  raise(SIGUSR2);
  wait_for_app_handler();
  if (usr2_before_weft != 1)
    return 2;

  weft_runtime *rt = rel_runtime(2, NULL);
  if (!rt)
    return 3;
  /* spawn + join */
  atomic_int stop = 1;
  atomic_long polls = 0, ticks = 0;
  busy b = {&stop, &polls};
  weft_join_handle *h;
  if (weft_spawn(rt, &busy_vt, &b, sizeof b, 0, &h) < 0)
    return 4;
  weft_join_result r;
  if (weft_join_wait(h, 5000, &r) < 0 || r.status != WEFT_JOIN_COMPLETED)
    return 5;
  weft_join_free(h);
  /* block_on a timer */
  boxed bx;
  if (weft_sleep(10, &bx.f) < 0)
    return 6;
  uint64_t t0 = rel_mono_ns();
  if (weft_block_on(rt, &boxed_vt, &bx, NULL) < 0)
    return 7;
  weft_future_free(bx.f);
  if (rel_mono_ns() - t0 < 9000000u)
    return 8;
  /* a timer inside a task */
  atomic_store(&stop, 0);
  ticker tk = {&stop, &ticks, NULL, 2};
  if (weft_spawn(rt, &ticker_vt, &tk, sizeof tk, 0, &h) < 0)
    return 9;
  while (atomic_load(&ticks) < 3 && rel_mono_ns() - t0 < 5000000000u) {
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  atomic_store(&stop, 1);
  if (weft_join_wait(h, 5000, NULL) < 0 || atomic_load(&ticks) < 3)
    return 10;
  weft_join_free(h);
  /* a blocking job */
  if (weft_spawn_blocking(rt, double_it, (void *)(uintptr_t)21, &h) < 0)
    return 11;
  if (weft_join_wait(h, 5000, &r) < 0 || r.status != WEFT_JOIN_COMPLETED ||
      r.output_size != sizeof(void *) ||
      *(void **)r.output != (void *)(uintptr_t)42)
    return 12;
  weft_join_free(h);
  /* a signal stream of the child's own runtime */
  sig_wait sw = {NULL, 0};
  if (weft_signal_new(rt, SIGUSR2, &sw.s) < 0)
    return 13;
  raise(SIGUSR2);
  if (weft_block_on(rt, &sig_wait_vt, &sw, NULL) < 0 || sw.got < 1)
    return 14;
  if (usr2_before_weft != 1)
    return 15;
  weft_signal_free(sw.s);
  weft_runtime_free(rt);
  return 0;
}

/* ---- The parent ------------------------------------------------------------ */

static void *stream_churn(void *arg) {
  void **a = arg;
  weft_runtime *rt = a[0];
  atomic_int *stop = a[1];
  while (!atomic_load(stop)) {
    weft_signal *s;
    if (weft_signal_new(rt, SIGUSR2, &s) == 0)
      weft_signal_free(s);
  }
  return NULL;
}

static void test_fork_child_exits_and_runs_a_new_runtime(void **state) {
  (void)state;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = app_usr2;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGUSR2, &sa, NULL), 0);

  weft_builder *bld;
  assert_int_equal(weft_builder_new(&bld), 0);
  weft_builder_worker_threads(bld, 2);
  weft_builder_max_blocking_threads(bld, 2);
  weft_runtime *rt;
  assert_int_equal(weft_builder_build(bld, &rt), 0);
  weft_builder_free(bld);

  atomic_int stop = 0;
  atomic_long polls = 0, ticks = 0;
  busy b = {&stop, &polls};
  ticker tk = {&stop, &ticks, NULL, 1};
  weft_join_handle *hb[2], *ht, *hj;
  for (int i = 0; i < 2; i++)
    assert_int_equal(weft_spawn(rt, &busy_vt, &b, sizeof b, 0, &hb[i]), 0);
  assert_int_equal(weft_spawn(rt, &ticker_vt, &tk, sizeof tk, 0, &ht), 0);
  assert_int_equal(weft_spawn_blocking(rt, until_cancelled, &stop, &hj), 0);
  weft_signal *mine;
  assert_int_equal(weft_signal_new(rt, SIGUSR2, &mine), 0);
  pthread_t churn;
  void *churn_args[2] = {rt, &stop};
  if (!REL_ASAN)
    assert_int_equal(pthread_create(&churn, NULL, stream_churn, churn_args), 0);

  int forks = (int)(40 * rel_scale());
  if (forks < 8)
    forks = 8;
  for (int i = 0; i < forks; i++) {
    long before = atomic_load(&polls);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      in_forked_child = 1;
      exit(i % 2 ? child_work() : 0); /* exit(), not _exit(): atexit runs */
    }
    int status;
    assert_int_equal(rel_wait_child(pid, 20000, &status), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail_msg("fork %d: child %s %d", i,
               WIFEXITED(status) ? "exited with" : "killed by signal",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    /* The parent's runtime kept running through the fork. */
    while (atomic_load(&polls) == before)
      sched_yield();
  }
  atomic_store(&stop, 1);
  if (!REL_ASAN)
    assert_int_equal(pthread_join(churn, NULL), 0);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(weft_join_wait(hb[i], 5000, NULL), 0);
    weft_join_free(hb[i]);
  }
  assert_int_equal(weft_join_wait(ht, 5000, NULL), 0);
  assert_int_equal(weft_join_wait(hj, 5000, NULL), 0);
  weft_join_free(ht);
  weft_join_free(hj);
  assert_true(atomic_load(&ticks) > 0);
  /* No child's SIGUSR2 reached the parent's runtime (nobody sent the
   * parent one): its stream has nothing pending. */
  sig_wait sw = {mine, 0};
  weft_join_handle *hs;
  assert_int_equal(weft_spawn(rt, &sig_wait_vt, &sw, sizeof sw, 0, &hs), 0);
  assert_int_equal(weft_join_wait(hs, 200, NULL), WEFT_ETIMEDOUT);
  weft_join_abort(hs);
  weft_join_wait(hs, 5000, NULL);
  weft_join_free(hs);
  weft_signal_free(mine);
  assert_int_equal(usr2_before_weft, 0);
  fprintf(stderr, "%d forks: every child exited 0\n", forks);
  weft_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fork_child_exits_and_runs_a_new_runtime),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
