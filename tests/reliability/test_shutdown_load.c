/* tests/reliability/test_shutdown_load.c: shutting down a multi-thread
 * runtime that holds a million pending tasks (WEFT_REL_SCALE scales it):
 *
 *   - yielders: wake themselves on every poll, so they are always queued;
 *   - sleepers: wait on an hour-long timer;
 *   - notify waiters: wait on a weft_notify nobody notifies;
 *   - I/O waiters: wait for the read end of a pipe nobody writes to (as
 *     many as the descriptor limit allows);
 *   - blocking jobs: a few running until cancelled, many queued behind
 *     them in the pool.
 *
 * Asserted: weft_runtime_shutdown returns within 5 s with no blocking job
 * left running; every task's drop runs exactly once (a per-task counter,
 * not only a total, so a double drop cannot hide a missing one); every
 * blocking job either ran or had its cleanup called, once. Leaks are the
 * sanitizer build's to find (LeakSanitizer at exit). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <weft.h>
#include <weft/blocking.h>
#include <weft/io.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "rel_helpers.h"

enum kind { YIELD, SLEEP, NOTIFY, IO, KINDS };

typedef struct counters {
  _Atomic unsigned char *drops; /* one per task */
  atomic_long first_polls;      /* tasks that reached their wait */
  atomic_long polls_after_drop; /* must stay 0 */
  atomic_long bad_results;      /* a wait that ended: must stay 0 */
  atomic_long jobs_ran, jobs_cleaned, jobs_started;
} counters;

typedef struct pending_task {
  counters *c;
  long idx;
  int kind;
  int started;
  weft_future *f; /* SLEEP, NOTIFY: the boxed future it waits on */
  weft_io *io;    /* IO: owned, freed by drop */
  int wfd;        /* IO: the pipe's write end, owned */
  weft_notify *n; /* NOTIFY: borrowed */
} pending_task;

static weft_poll pending_poll(void *p, weft_context *cx, void *out) {
  pending_task *t = p;
  (void)out;
  if (atomic_load_explicit(&t->c->drops[t->idx], memory_order_relaxed))
    atomic_fetch_add(&t->c->polls_after_drop, 1);
  if (t->kind == YIELD) {
    weft_waker_wake_by_ref(weft_context_waker(cx));
    return WEFT_PENDING;
  }
  if (!t->started) {
    t->started = 1;
    int rc = 0;
    if (t->kind == SLEEP)
      rc = weft_sleep(3600 * 1000, &t->f);
    else if (t->kind == NOTIFY)
      rc = weft_notify_notified(t->n, &t->f);
    if (rc < 0) {
      atomic_fetch_add(&t->c->bad_results, 1);
      return WEFT_READY;
    }
    atomic_fetch_add(&t->c->first_polls, 1);
  }
  if (t->kind == IO) {
    /* Nobody writes: never ready. */
    if (weft_io_poll_ready(t->io, cx, WEFT_IO_READABLE, NULL) != 0)
      atomic_fetch_add(&t->c->bad_results, 1);
    return WEFT_PENDING;
  }
  /* Neither the timer nor the notify ever completes. */
  if (weft_future_poll(t->f, cx) != WEFT_PENDING)
    atomic_fetch_add(&t->c->bad_results, 1);
  return WEFT_PENDING;
}

static void pending_drop(void *p) {
  pending_task *t = p;
  atomic_fetch_add_explicit(&t->c->drops[t->idx], 1, memory_order_relaxed);
  weft_future_free(t->f);
  if (t->io) {
    int fd = weft_io_fd(t->io);
    weft_io_free(t->io);
    close(fd);
    close(t->wfd);
  }
}

static const weft_future_vtable pending_vt = {sizeof(weft_future_vtable),
                                              pending_poll, pending_drop};

/* A blocking job: runs until its token says the runtime shuts down. */
static void *job_fn(void *arg, const weft_cancel_token *token) {
  counters *c = arg;
  atomic_fetch_add(&c->jobs_started, 1);
  while (!weft_cancel_token_is_cancelled(token)) {
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  atomic_fetch_add(&c->jobs_ran, 1);
  return NULL;
}

static void job_cleanup(void *arg) {
  atomic_fetch_add(&((counters *)arg)->jobs_cleaned, 1);
}

static void test_shutdown_million_pending_tasks(void **state) {
  (void)state;
  long total = (long)(1000000 * rel_scale());
  /* I/O waiters: one pipe (two fds) each, within the descriptor limit. */
  struct rlimit rl;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  long io_tasks = ((long)rl.rlim_cur - 64) / 2;
  if (io_tasks > 2000)
    io_tasks = 2000;
  assert_true(io_tasks >= 100);

  counters c;
  memset(&c, 0, sizeof c);
  c.drops = calloc((size_t)total, 1);
  assert_non_null(c.drops);

  weft_builder *b;
  assert_int_equal(weft_builder_new(&b), 0);
  assert_int_equal(weft_builder_worker_threads(b, 2), 0);
  assert_int_equal(weft_builder_max_blocking_threads(b, 4), 0);
  weft_runtime *rt;
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_builder_free(b);
  weft_notify *n;
  assert_int_equal(weft_notify_new(&n), 0);

  /* Blocking jobs: 4 run (the pool's bound), the rest wait in its queue. */
  long jobs = 1000;
  for (long i = 0; i < jobs; i++)
    assert_int_equal(
        weft_spawn_blocking_with_cleanup(rt, job_fn, &c, job_cleanup, NULL),
        0);

  long waiters = 0; /* tasks that reach a wait and stay there */
  for (long i = 0; i < total; i++) {
    pending_task t = {&c, i, (int)(i % KINDS), 0, NULL, NULL, -1, n};
    if (t.kind == IO) {
      if (i / KINDS < io_tasks) {
        /* The write end stays open (a closed one would make the read
         * end report EOF) and unused; the task's drop closes both. */
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(weft_io_new(p[0], &t.io), 0);
        t.wfd = p[1];
      } else {
        t.kind = NOTIFY;
      }
    }
    if (t.kind != YIELD)
      waiters++;
    assert_int_equal(weft_spawn_detached(rt, &pending_vt, &t, sizeof t), 0);
  }
  /* Let every waiter reach its wait (the yielders keep running). */
  uint64_t t0 = rel_mono_ns();
  while (atomic_load(&c.first_polls) < waiters &&
         rel_mono_ns() - t0 < 60ull * 1000000000u) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(atomic_load(&c.first_polls), waiters);
  assert_int_equal(atomic_load(&c.jobs_started), 4);

  uint64_t s0 = rel_mono_ns();
  int left = weft_runtime_shutdown(rt, 5000);
  double took = (rel_mono_ns() - s0) / 1e9;
  fprintf(stderr,
          "shutdown with %ld pending tasks (%ld waiting, %ld on pipes) and "
          "%ld blocking jobs: %.3f s\n",
          total, waiters, io_tasks, jobs, took);
  assert_int_equal(left, 0);
  assert_true(took < 5.0);

  for (long i = 0; i < total; i++)
    if (atomic_load_explicit(&c.drops[i], memory_order_relaxed) != 1)
      fail_msg("task %ld dropped %d times", i, (int)c.drops[i]);
  assert_int_equal(atomic_load(&c.polls_after_drop), 0);
  assert_int_equal(atomic_load(&c.bad_results), 0);
  assert_int_equal(atomic_load(&c.jobs_ran) + atomic_load(&c.jobs_cleaned),
                   jobs);
  assert_int_equal(atomic_load(&c.jobs_ran), 4);

  weft_runtime_free(rt);
  weft_notify_free(n);
  free((void *)c.drops);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shutdown_million_pending_tasks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
