/* tests/blocking/test_blocking.c: weft_spawn_blocking on a real runtime.
 *
 * Jobs are tasks: these tests join them from a task, from a plain thread and
 * from a pool thread, abort them queued and running, bound the queue, and
 * shut the runtime down with jobs queued and running. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "blocking/pool.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static weft_runtime *make_rt(unsigned max, uint64_t keep_ms, size_t limit) {
  weft_builder *b;
  assert_int_equal(weft_builder_new(&b), 0);
  assert_int_equal(weft_builder_worker_threads(b, 2), 0);
  assert_int_equal(weft_builder_max_blocking_threads(b, max), 0);
  assert_int_equal(weft_builder_blocking_keep_alive(b, keep_ms), 0);
  assert_int_equal(weft_builder_blocking_queue_limit(b, limit), 0);
  weft_runtime *rt;
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_builder_free(b);
  return rt;
}

static weft_runtime_metrics metrics(weft_runtime *rt) {
  weft_runtime_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  assert_int_equal(weft_runtime_metrics_get(rt, &m), 0);
  return m;
}

static void *join_value(weft_join_handle *h, weft_join_status want) {
  weft_join_result r;
  assert_int_equal(weft_join_wait(h, 10000, &r), 0);
  assert_int_equal(r.status, want);
  if (want != WEFT_JOIN_COMPLETED)
    return NULL;
  assert_int_equal(r.output_size, sizeof(void *));
  void *v;
  memcpy(&v, r.output, sizeof v);
  return v;
}

/* ---- Jobs ----------------------------------------------------------------- */

static void *job_sleep10(void *arg, const weft_cancel_token *tok) {
  (void)tok;
  sleep_ms(10);
  return arg;
}

static atomic_int g_gate; /* jobs that wait for it */
static atomic_int g_gate_waiting;
static void *job_gate(void *arg, const weft_cancel_token *tok) {
  (void)tok;
  atomic_fetch_add(&g_gate_waiting, 1);
  while (!atomic_load(&g_gate))
    sleep_ms(1);
  return arg;
}

static atomic_int g_never_ran;
static void *job_must_not_run(void *arg, const weft_cancel_token *tok) {
  (void)tok;
  atomic_fetch_add(&g_never_ran, 1);
  return arg;
}

static atomic_int g_cleanups;
static void cleanup_count(void *arg) {
  (void)arg;
  atomic_fetch_add(&g_cleanups, 1);
}

static void wait_gate_waiting(int n) {
  for (int i = 0; i < 5000 && atomic_load(&g_gate_waiting) < n; i++)
    sleep_ms(1);
  assert_int_equal(atomic_load(&g_gate_waiting), n);
}

static void reset_gate(void) {
  atomic_store(&g_gate, 0);
  atomic_store(&g_gate_waiting, 0);
  atomic_store(&g_cleanups, 0);
  atomic_store(&g_never_ran, 0);
}

/* ---- Tests ---------------------------------------------------------------- */

/* 1,000 sleeping jobs, joined from a plain thread: all complete, never more
 * than 512 threads, and the pool is back to 0 threads after a short
 * keep-alive. */
static void test_blocking_burst_bounded_then_idle(void **st) {
  (void)st;
  weft_runtime *rt = make_rt(512, 200, 0);
  enum { N = 1000 };
  weft_join_handle **h = calloc(N, sizeof *h);
  uint64_t t0 = weft__now_ns();
  for (uintptr_t i = 0; i < N; i++)
    assert_int_equal(weft_spawn_blocking(rt, job_sleep10, (void *)i, &h[i]),
                     0);
  for (uintptr_t i = 0; i < N; i++) {
    assert_ptr_equal(join_value(h[i], WEFT_JOIN_COMPLETED), (void *)i);
    weft_join_free(h[i]);
  }
  uint64_t ms = (weft__now_ns() - t0) / 1000000u;
  unsigned peak = weft__bpool_peak_threads(weft__runtime_blocking_pool(rt));
  fprintf(stderr, "burst: %llu ms, peak %u threads\n", (unsigned long long)ms,
          peak);
  assert_true(peak <= 512);
  assert_true(peak >= 32); /* sleeping jobs must spread over threads */
  /* A job is counted done just after its handle resolves. */
  for (int i = 0; i < 5000 && metrics(rt).blocking_jobs_done < N; i++)
    sleep_ms(1);
  assert_int_equal(metrics(rt).blocking_jobs_done, N);
  for (int i = 0; i < 5000 && metrics(rt).blocking_threads; i++)
    sleep_ms(1);
  weft_runtime_metrics m = metrics(rt);
  assert_int_equal(m.blocking_threads, 0);
  assert_int_equal(m.blocking_idle_threads, 0);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  weft_runtime_free(rt);
  free(h);
}

/* Aborting a job that has not started takes it out of the queue at once:
 * its handle resolves CANCELLED and its cleanup runs while the only pool
 * thread is still busy, and it never runs. */
static void test_blocking_abort_before_start_runs_cleanup(void **st) {
  (void)st;
  reset_gate();
  weft_runtime *rt = make_rt(1, 10000, 0);
  weft_join_handle *blocker, *victim;
  assert_int_equal(weft_spawn_blocking(rt, job_gate, NULL, &blocker), 0);
  wait_gate_waiting(1);
  assert_int_equal(weft_spawn_blocking_with_cleanup(rt, job_must_not_run,
                                                    NULL, cleanup_count,
                                                    &victim),
                   0);
  assert_int_equal(metrics(rt).blocking_queue_depth, 1);
  assert_int_equal(weft_join_abort(victim), 0);
  assert_int_equal(atomic_load(&g_cleanups), 1);
  assert_int_equal(metrics(rt).blocking_queue_depth, 0);
  weft_join_result r;
  assert_int_equal(weft_join_wait(victim, 0, &r), 0); /* already resolved */
  assert_int_equal(r.status, WEFT_JOIN_CANCELLED);
  assert_int_equal(r.error, WEFT_ECANCELED);
  weft_join_free(victim);
  atomic_store(&g_gate, 1);
  join_value(blocker, WEFT_JOIN_COMPLETED);
  weft_join_free(blocker);
  assert_int_equal(atomic_load(&g_never_ran), 0);
  assert_int_equal(atomic_load(&g_cleanups), 1);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  weft_runtime_free(rt);
}

static atomic_int g_saw_cancel, g_job_started;
static void *job_until_cancelled(void *arg, const weft_cancel_token *tok) {
  atomic_store(&g_job_started, 1);
  assert_int_equal(weft_cancel_token_is_cancelled(tok), 0);
  for (int i = 0; i < 10000; i++) {
    if (weft_cancel_token_is_cancelled(tok) == 1) {
      atomic_store(&g_saw_cancel, 1);
      break;
    }
    sleep_ms(1);
  }
  return arg;
}

/* The token of a running job turns true when its handle is aborted. */
static void test_blocking_token_turns_true_on_abort(void **st) {
  (void)st;
  atomic_store(&g_saw_cancel, 0);
  atomic_store(&g_job_started, 0);
  weft_runtime *rt = make_rt(4, 10000, 0);
  weft_join_handle *h;
  assert_int_equal(weft_spawn_blocking(rt, job_until_cancelled, NULL, &h), 0);
  while (!atomic_load(&g_job_started))
    sleep_ms(1);
  sleep_ms(20);
  assert_int_equal(atomic_load(&g_saw_cancel), 0);
  assert_int_equal(weft_join_abort(h), 0);
  weft_join_result r;
  assert_int_equal(weft_join_wait(h, 5000, &r), 0);
  assert_int_equal(atomic_load(&g_saw_cancel), 1);
  /* What a job returns after an abort is still its output. */
  assert_int_equal(r.status, WEFT_JOIN_COMPLETED);
  weft_join_free(h);
  assert_int_equal(weft_cancel_token_is_cancelled(NULL), WEFT_EINVAL);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  weft_runtime_free(rt);
}

/* ...and when the runtime shuts down while it runs: shutdown then waits for
 * it and reports nothing left running. */
static void test_blocking_token_turns_true_on_shutdown(void **st) {
  (void)st;
  atomic_store(&g_saw_cancel, 0);
  atomic_store(&g_job_started, 0);
  weft_runtime *rt = make_rt(4, 10000, 0);
  weft_join_handle *h;
  assert_int_equal(weft_spawn_blocking(rt, job_until_cancelled, NULL, &h), 0);
  while (!atomic_load(&g_job_started))
    sleep_ms(1);
  assert_int_equal(weft_runtime_shutdown(rt, 5000), 0);
  assert_int_equal(atomic_load(&g_saw_cancel), 1);
  weft_join_free(h);
  weft_runtime_free(rt);
}

/* The bounded queue: WEFT_EAGAIN when full; the async variant waits for
 * room, then spawns. Driven from weft_block_on. */
typedef struct async_join {
  weft_future *spawn;
  weft_join_handle *h;
  int pending_polls;
} async_join;

static weft_poll async_join_poll(void *state, weft_context *cx, void *out) {
  async_join *s = state;
  if (!s->h) {
    if (weft_future_poll(s->spawn, cx) == WEFT_PENDING) {
      s->pending_polls++;
      return WEFT_PENDING;
    }
    memcpy(&s->h, weft_future_output(s->spawn), sizeof s->h);
    if (!s->h)
      return WEFT_READY;
  }
  weft_join_result r;
  if (weft_join_poll(s->h, cx, &r) == WEFT_PENDING)
    return WEFT_PENDING;
  memcpy(out, r.output, sizeof(void *));
  return WEFT_READY;
}
static const weft_future_vtable async_join_vt = {sizeof(weft_future_vtable),
                                                 async_join_poll, NULL};

static void *open_gate_later(void *arg) {
  (void)arg;
  sleep_ms(50);
  atomic_store(&g_gate, 1);
  return NULL;
}

static void test_blocking_queue_bound_eagain_and_async(void **st) {
  (void)st;
  reset_gate();
  weft_runtime *rt = make_rt(1, 10000, 2);
  weft_join_handle *blocker, *q1, *q2, *extra = NULL;
  assert_int_equal(weft_spawn_blocking(rt, job_gate, NULL, &blocker), 0);
  wait_gate_waiting(1);
  assert_int_equal(weft_spawn_blocking(rt, job_sleep10, NULL, &q1), 0);
  assert_int_equal(weft_spawn_blocking(rt, job_sleep10, NULL, &q2), 0);
  assert_int_equal(weft_spawn_blocking(rt, job_sleep10, NULL, &extra),
                   WEFT_EAGAIN);
  assert_null(extra);

  async_join s;
  memset(&s, 0, sizeof s);
  assert_int_equal(weft_spawn_blocking_async(rt, job_sleep10, (void *)7,
                                             NULL, &s.spawn),
                   0);
  pthread_t opener;
  assert_int_equal(pthread_create(&opener, NULL, open_gate_later, NULL), 0);
  void *out = NULL;
  assert_int_equal(weft_block_on(rt, &async_join_vt, &s, &out), 0);
  pthread_join(opener, NULL);
  assert_ptr_equal(out, (void *)7);
  assert_true(s.pending_polls >= 1); /* it did wait for room */
  weft_join_free(s.h);
  weft_future_free(s.spawn);
  join_value(blocker, WEFT_JOIN_COMPLETED);
  join_value(q1, WEFT_JOIN_COMPLETED);
  join_value(q2, WEFT_JOIN_COMPLETED);
  weft_join_free(blocker);
  weft_join_free(q1);
  weft_join_free(q2);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  weft_runtime_free(rt);
}

/* Join from a task: a task spawns a blocking job and awaits it. */
typedef struct task_join {
  weft_runtime *rt;
  weft_join_handle *h;
} task_join;

static weft_poll task_join_poll(void *state, weft_context *cx, void *out) {
  task_join *s = state;
  if (!s->h) {
    int rc = weft_spawn_blocking(s->rt, job_sleep10, (void *)99, &s->h);
    if (rc != 0) {
      weft_task_fail(cx, rc);
      return WEFT_READY;
    }
  }
  weft_join_result r;
  if (weft_join_poll(s->h, cx, &r) == WEFT_PENDING)
    return WEFT_PENDING;
  memcpy(out, r.output, sizeof(void *));
  weft_join_free(s->h);
  s->h = NULL;
  return WEFT_READY;
}
static const weft_future_vtable task_join_vt = {sizeof(weft_future_vtable),
                                                task_join_poll, NULL};

static void test_blocking_join_from_task(void **st) {
  (void)st;
  weft_runtime *rt = make_rt(8, 10000, 0);
  task_join s = {rt, NULL};
  weft_join_handle *t;
  assert_int_equal(weft_spawn(rt, &task_join_vt, &s, sizeof s,
                              sizeof(void *), &t),
                   0);
  assert_ptr_equal(join_value(t, WEFT_JOIN_COMPLETED), (void *)99);
  weft_join_free(t);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  weft_runtime_free(rt);
}

/* A job spawns another job and waits for it on its pool thread. */
static void *job_inner(void *arg, const weft_cancel_token *tok) {
  (void)tok;
  return (void *)((uintptr_t)arg + 1);
}
static void *job_outer(void *arg, const weft_cancel_token *tok) {
  (void)tok;
  weft_runtime *rt = arg;
  weft_join_handle *h;
  if (weft_spawn_blocking(rt, job_inner, (void *)41, &h) != 0)
    return NULL;
  weft_join_result r;
  void *v = NULL;
  if (weft_join_wait(h, 5000, &r) == 0 && r.status == WEFT_JOIN_COMPLETED)
    memcpy(&v, r.output, sizeof v);
  weft_join_free(h);
  return v;
}

static void test_blocking_spawn_from_pool_thread(void **st) {
  (void)st;
  weft_runtime *rt = make_rt(4, 10000, 0);
  for (int round = 0; round < 20; round++) {
    weft_join_handle *h;
    assert_int_equal(weft_spawn_blocking(rt, job_outer, rt, &h), 0);
    assert_ptr_equal(join_value(h, WEFT_JOIN_COMPLETED), (void *)42);
    weft_join_free(h);
  }
  /* Detached jobs run too. */
  assert_int_equal(weft_spawn_blocking(rt, job_inner, NULL, NULL), 0);
  for (int i = 0; i < 5000 && metrics(rt).blocking_jobs_done < 41; i++)
    sleep_ms(1);
  assert_int_equal(metrics(rt).blocking_jobs_done, 41);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  weft_runtime_free(rt);
}

/* Shutdown with 2 running and 3 queued jobs: the queued ones are cancelled
 * (cleanup runs, handles resolve CANCELLED), shutdown gives up on the
 * running ones after its timeout and reports 2, and they finish later after
 * the runtime is freed, without touching freed memory. */
static void test_blocking_shutdown_queued_and_running(void **st) {
  (void)st;
  reset_gate();
  weft_runtime *rt = make_rt(2, 10000, 0);
  weft_join_handle *run[2], *q[3];
  for (int i = 0; i < 2; i++)
    assert_int_equal(weft_spawn_blocking(rt, job_gate, NULL, &run[i]), 0);
  wait_gate_waiting(2);
  for (int i = 0; i < 3; i++)
    assert_int_equal(weft_spawn_blocking_with_cleanup(
                         rt, job_must_not_run, NULL, cleanup_count, &q[i]),
                     0);
  uint64_t t0 = weft__now_ns();
  assert_int_equal(weft_runtime_shutdown(rt, 50), 2);
  assert_true(weft__now_ns() - t0 >= 45000000u);
  assert_int_equal(atomic_load(&g_cleanups), 3);
  for (int i = 0; i < 3; i++) {
    join_value(q[i], WEFT_JOIN_CANCELLED);
    weft_join_free(q[i]);
  }
  weft_join_handle *late = NULL;
  assert_int_equal(weft_spawn_blocking(rt, job_inner, NULL, &late),
                   WEFT_ESHUTDOWN);
  weft_runtime_free(rt);
  atomic_store(&g_gate, 1);
  for (int i = 0; i < 2; i++) {
    weft_join_result r;
    assert_int_equal(weft_join_wait(run[i], 5000, &r), 0);
    weft_join_free(run[i]);
  }
  assert_int_equal(atomic_load(&g_never_ran), 0);
  sleep_ms(20); /* the last threads leave and free the pool */
}

/* Arguments are checked. */
static void test_blocking_rejects_bad_arguments(void **st) {
  (void)st;
  weft_join_handle *h = NULL;
  weft_future *f = NULL;
  assert_int_equal(weft_spawn_blocking(NULL, job_inner, NULL, &h),
                   WEFT_EINVAL);
  weft_runtime *rt = make_rt(2, 10000, 0);
  assert_int_equal(weft_spawn_blocking(rt, NULL, NULL, &h), WEFT_EINVAL);
  assert_int_equal(weft_spawn_blocking_async(rt, NULL, NULL, NULL, &f),
                   WEFT_EINVAL);
  assert_int_equal(weft_spawn_blocking_async(rt, job_inner, NULL, NULL, NULL),
                   WEFT_EINVAL);
  assert_null(h);
  assert_int_equal(weft_runtime_shutdown(rt, -1), 0);
  weft_runtime_free(rt);
}

/* ---- Thread-creation failure through the public API, as an unprivileged user ---- */

static int own_threads(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "Threads: %d", &n) == 1)
      break;
  if (f)
    fclose(f);
  return n;
}

/* In the child, as an unprivileged user: with no room for a pool thread, the first spawn
 * fails with WEFT_EAGAIN (nothing to queue it for); with room for one, six
 * sleeping jobs queue behind that one thread and all complete. */
static int nproc_child(void) {
  if (getuid() == 0)
    return 10;
  weft_builder *b;
  weft_runtime *rt;
  if (weft_builder_new(&b) != 0 || weft_builder_worker_threads(b, 1) != 0 ||
      weft_builder_build(b, &rt) != 0)
    return 11;
  weft_builder_free(b);
  int base = own_threads(); /* this thread, the worker, any helpers */
  struct rlimit rl = {(rlim_t)base, (rlim_t)base + 16};
  if (setrlimit(RLIMIT_NPROC, &rl) != 0)
    return 12;
  weft_join_handle *h[6];
  int rc = weft_spawn_blocking(rt, job_sleep10, NULL, &h[0]);
  if (rc != WEFT_EAGAIN) {
    fprintf(stderr, "nproc child: first spawn gave %d\n", rc);
    return 13;
  }
  rl.rlim_cur = (rlim_t)base + 1;
  if (setrlimit(RLIMIT_NPROC, &rl) != 0)
    return 14;
  for (uintptr_t i = 0; i < 6; i++)
    if (weft_spawn_blocking(rt, job_sleep10, (void *)i, &h[i]) != 0)
      return 15;
  for (uintptr_t i = 0; i < 6; i++) {
    weft_join_result r;
    void *v = NULL;
    if (weft_join_wait(h[i], 10000, &r) != 0 ||
        r.status != WEFT_JOIN_COMPLETED)
      return 16;
    memcpy(&v, r.output, sizeof v);
    if (v != (void *)i)
      return 17;
    weft_join_free(h[i]);
  }
  unsigned peak = weft__bpool_peak_threads(weft__runtime_blocking_pool(rt));
  fprintf(stderr, "nproc child: 6 jobs done, pool peak %u\n", peak);
  if (peak != 1)
    return 19; /* the limit left room for exactly one pool thread */
  rl.rlim_cur = rl.rlim_max; /* room for the leak checker at exit */
  setrlimit(RLIMIT_NPROC, &rl);
  if (weft_runtime_shutdown(rt, -1) != 0)
    return 18;
  weft_runtime_free(rt);
  return 0;
}

static char g_self[4096];

static void test_blocking_thread_creation_failure(void **st) {
  (void)st;
  if (getuid() != 0) {
    assert_int_equal(nproc_child(), 0); /* RLIMIT_NPROC applies to us */
    return;
  }
  if (access("/usr/bin/setpriv", X_OK) != 0)
    skip(); /* setpriv (util-linux) is needed to drop root */
  /* Build dirs are root-owned: copy the binary where any user can run it.
   * It links libweft statically, so the copy runs on its own. */
  char dir[] = "/tmp/weft-nproc-XXXXXX";
  assert_non_null(mkdtemp(dir));
  chmod(dir, 0755);
  char bin[256];
  snprintf(bin, sizeof bin, "%s/test_blocking", dir);
  int in = open(g_self, O_RDONLY), out = open(bin, O_WRONLY | O_CREAT, 0755);
  assert_true(in >= 0 && out >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    assert_int_equal(write(out, buf, (size_t)n), n);
  close(in);
  close(out);
  chmod(bin, 0755);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* RLIMIT_NPROC counts every process of a user: a uid of its own (no
     * account needed) keeps tests running in parallel out of each other's
     * count. */
    char uid[32];
    snprintf(uid, sizeof uid, "--reuid=%ld", 40000L + (long)getpid() % 20000);
    execl("/usr/bin/setpriv", "setpriv", uid, "--regid=nogroup",
          "--clear-groups", bin, "--nproc-child", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  unlink(bin);
  rmdir(dir);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--nproc-child") == 0)
    return nproc_child();
  ssize_t sn = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
  if (sn > 0)
    g_self[sn] = '\0';
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocking_burst_bounded_then_idle),
      cmocka_unit_test(test_blocking_abort_before_start_runs_cleanup),
      cmocka_unit_test(test_blocking_token_turns_true_on_abort),
      cmocka_unit_test(test_blocking_token_turns_true_on_shutdown),
      cmocka_unit_test(test_blocking_queue_bound_eagain_and_async),
      cmocka_unit_test(test_blocking_join_from_task),
      cmocka_unit_test(test_blocking_spawn_from_pool_thread),
      cmocka_unit_test(test_blocking_shutdown_queued_and_running),
      cmocka_unit_test(test_blocking_rejects_bad_arguments),
      cmocka_unit_test(test_blocking_thread_creation_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
