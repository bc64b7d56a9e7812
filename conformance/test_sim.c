/* conformance/test_sim.c: what the sim backend promises its users.
 *
 * - The schedule depends only on WEFT_SIM_SEED: the same seed gives the
 *   same interleaving of tasks, another seed a different one.
 * - Time is virtual: a library's one-hour retry timer runs in milliseconds
 *   of real time while the runtime's clock moves by exactly one hour.
 * - Virtual time follows real time while a blocking job runs.
 *
 * The retry test is written the way a library author would write one for
 * their own code: the library under test is a tiny "connect with retry"
 * coroutine that knows nothing of sim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

/* ---- A trace of which task ran when ------------------------------------ */

enum { TASKS = 8, STEPS = 6, TRACE_MAX = TASKS * (STEPS + 1) };

typedef struct trace {
  int n;
  unsigned char who[TRACE_MAX];
} trace;

typedef struct stepper {
  trace *tr;
  int id;
  int steps;
  int yielded;
} stepper;

static weft_poll stepper_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  stepper *s = p;
  if (s->tr->n < TRACE_MAX)
    s->tr->who[s->tr->n++] = (unsigned char)s->id;
  if (s->steps-- == 0)
    return WEFT_READY;
  /* Yield: ready again at once, so the scheduler has a real choice among
   * every task at every step. */
  weft_waker_wake_by_ref(weft_context_waker(cx));
  return WEFT_PENDING;
}

static const weft_future_vtable stepper_vt = {sizeof(weft_future_vtable),
                                              stepper_poll, NULL};

typedef struct all_done {
  weft_join_handle **hs;
  int n;
  int next;
} all_done;

static weft_poll all_done_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  all_done *a = p;
  while (a->next < a->n) {
    if (weft_join_poll(a->hs[a->next], cx, NULL) == WEFT_PENDING)
      return WEFT_PENDING;
    a->next++;
  }
  return WEFT_READY;
}

static const weft_future_vtable all_done_vt = {sizeof(weft_future_vtable),
                                               all_done_poll, NULL};

static weft_runtime *sim_runtime(const char *seed) {
  if (seed)
    setenv("WEFT_SIM_SEED", seed, 1);
  else
    unsetenv("WEFT_SIM_SEED");
  weft_builder *b = NULL;
  assert_int_equal(weft_builder_new(&b), 0);
  assert_int_equal(weft_builder_backend(b, "sim"), 0);
  assert_int_equal(weft_builder_flavor(b, WEFT_FLAVOR_CURRENT_THREAD), 0);
  weft_runtime *rt = NULL;
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_builder_free(b);
  assert_string_equal(weft_runtime_backend_name(rt), "sim");
  return rt;
}

static void run_trace(const char *seed, trace *tr) {
  memset(tr, 0, sizeof *tr);
  weft_runtime *rt = sim_runtime(seed);
  weft_join_handle *hs[TASKS];
  for (int i = 0; i < TASKS; i++) {
    stepper s = {tr, i, STEPS, 0};
    assert_int_equal(weft_spawn(rt, &stepper_vt, &s, sizeof s, 0, &hs[i]), 0);
  }
  all_done a = {hs, TASKS, 0};
  assert_int_equal(weft_block_on(rt, &all_done_vt, &a, NULL), 0);
  for (int i = 0; i < TASKS; i++)
    weft_join_free(hs[i]);
  weft_runtime_free(rt);
  assert_int_equal(tr->n, TRACE_MAX);
}

static void print_trace(const char *label, const trace *tr) {
  char buf[TRACE_MAX + 1];
  for (int i = 0; i < tr->n; i++)
    buf[i] = (char)('0' + tr->who[i]);
  buf[tr->n] = '\0';
  print_message("%s %s\n", label, buf);
}

static void test_sim_same_seed_same_trace(void **state) {
  (void)state;
  trace a, b;
  run_trace("12345", &a);
  run_trace("12345", &b);
  print_trace("seed 12345:", &a);
  assert_memory_equal(a.who, b.who, TRACE_MAX);
}

static void test_sim_different_seeds_different_traces(void **state) {
  (void)state;
  trace a, b, c;
  run_trace("1", &a);
  run_trace("2", &b);
  run_trace("0xdeadbeef", &c);
  print_trace("seed 1:", &a);
  print_trace("seed 2:", &b);
  print_trace("seed 0xdeadbeef:", &c);
  /* With 8 tasks and 48 choices, two seeds agreeing on the whole trace
   * would mean the seed is ignored. */
  assert_true(memcmp(a.who, b.who, TRACE_MAX) != 0);
  assert_true(memcmp(a.who, c.who, TRACE_MAX) != 0);
  assert_true(memcmp(b.who, c.who, TRACE_MAX) != 0);
}

static void test_sim_unset_seed_is_reproducible(void **state) {
  (void)state;
  trace a, b;
  run_trace(NULL, &a);
  run_trace(NULL, &b);
  assert_memory_equal(a.who, b.who, TRACE_MAX);
}


/* ---- A library's one-hour retry timer ---------------------------------- */

/* The library under test: connect to something, and when that fails, wait
 * an hour and try again, up to `max_tries`. It is written against weft
 * only; nothing in it knows about sim. `try_connect` stands for the real
 * attempt; here it fails `fail_first` times. */
typedef struct lib_connect {
  weft_coro co;
  int tries, max_tries, fail_first;
  weft_future *backoff;
  uint64_t attempt_ns[8]; /* the runtime's clock at each attempt */
  int connected;
} lib_connect;

enum { LIB_RETRY_MS = 3600u * 1000u };

static int try_connect(lib_connect *c) { return c->tries > c->fail_first; }

static weft_poll lib_connect_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  lib_connect *c = p;
  WEFT_CORO_BEGIN(&c->co);
  for (;;) {
    c->attempt_ns[c->tries] = weft_now_ns();
    c->tries++;
    if (try_connect(c)) {
      c->connected = 1;
      break;
    }
    if (c->tries == c->max_tries)
      break;
    if (weft_sleep(LIB_RETRY_MS, &c->backoff) != 0)
      break;
    WEFT_AWAIT(&c->co, weft_future_poll(c->backoff, cx));
    weft_future_free(c->backoff);
    c->backoff = NULL;
  }
  WEFT_CORO_END(&c->co);
}

static const weft_future_vtable lib_connect_vt = {sizeof(weft_future_vtable),
                                                  lib_connect_poll, NULL};

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The test a library author writes: three failed attempts an hour apart,
 * then success, in well under a second of real time, while the runtime's
 * clock shows exactly the hours the library waited. */
static void test_sim_one_hour_retry_timer_runs_in_milliseconds(void **state) {
  (void)state;
  weft_runtime *rt = sim_runtime("7");
  lib_connect c = {.max_tries = 5, .fail_first = 3};
  uint64_t t0 = wall_ms();
  assert_int_equal(weft_block_on(rt, &lib_connect_vt, &c, NULL), 0);
  uint64_t took = wall_ms() - t0;
  print_message("4 attempts, 3 one-hour waits: %llu ms of real time\n",
                (unsigned long long)took);
  assert_int_equal(c.connected, 1);
  assert_int_equal(c.tries, 4);
  const uint64_t hour_ns = (uint64_t)LIB_RETRY_MS * 1000000u;
  for (int i = 1; i < c.tries; i++) {
    uint64_t gap = c.attempt_ns[i] - c.attempt_ns[i - 1];
    /* Never early; late by at most the wheel's 1 ms resolution. */
    assert_true(gap >= hour_ns);
    assert_true(gap <= hour_ns + 2000000u);
  }
  assert_true(took < 1000);
  weft_runtime_free(rt);
}

/* The same seed in another process (another address-space layout, other
 * heap addresses for every task) still gives the same trace: the order
 * depends on the seed alone, not on pointers or timing. */
static void test_sim_same_seed_same_trace_across_processes(void **state) {
  (void)state;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    trace t;
    run_trace("99", &t);
    ssize_t n = write(fds[1], t.who, TRACE_MAX);
    _exit(n == TRACE_MAX ? 0 : 1);
  }
  close(fds[1]);
  unsigned char child[TRACE_MAX];
  size_t got = 0;
  while (got < TRACE_MAX) {
    ssize_t n = read(fds[0], child + got, TRACE_MAX - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(got, TRACE_MAX);
  trace mine;
  run_trace("99", &mine);
  assert_memory_equal(mine.who, child, TRACE_MAX);
}


/* ---- Virtual time and the blocking pool -------------------------------- */

/* A blocking job takes real time that virtual time cannot skip: while one
 * runs, the clock follows real time, so a timer racing the job (a timeout
 * around a lookup, a ticker beside a hash) does not fire thousands of
 * virtual milliseconds early, and a timer the job waits for still fires.
 * The job is detached, so nothing but the pool's own end-of-job wake
 * tells the clock it may jump again. */
typedef struct ticker_vs_job {
  weft_coro co;
  _Atomic int *job_done;
  weft_future *tick;
  uint64_t start_ns, end_ns;
  unsigned ticks;
} ticker_vs_job;

static void *slow_job(void *arg, const weft_cancel_token *token) {
  (void)token;
  struct timespec ts = {0, 100 * 1000000L}; /* 100 ms of real time */
  nanosleep(&ts, NULL);
  atomic_store_explicit((_Atomic int *)arg, 1, memory_order_release);
  return NULL;
}

static weft_poll ticker_vs_job_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  ticker_vs_job *t = p;
  WEFT_CORO_BEGIN(&t->co);
  t->start_ns = weft_now_ns();
  while (!atomic_load_explicit(t->job_done, memory_order_acquire)) {
    if (weft_sleep(1, &t->tick) != 0)
      break;
    WEFT_AWAIT(&t->co, weft_future_poll(t->tick, cx));
    weft_future_free(t->tick);
    t->tick = NULL;
    t->ticks++;
  }
  t->end_ns = weft_now_ns();
  WEFT_CORO_END(&t->co);
}

static const weft_future_vtable ticker_vs_job_vt = {
    sizeof(weft_future_vtable), ticker_vs_job_poll, NULL};

static void test_sim_clock_follows_real_time_while_blocking_job_runs(
    void **state) {
  (void)state;
  weft_runtime *rt = sim_runtime("5");
  _Atomic int done = 0;
  uint64_t w0 = wall_ms();
  assert_int_equal(weft_spawn_blocking(rt, slow_job, (void *)&done, NULL), 0);
  ticker_vs_job t = {.job_done = &done};
  assert_int_equal(weft_block_on(rt, &ticker_vs_job_vt, &t, NULL), 0);
  uint64_t real_ms = wall_ms() - w0;
  uint64_t virtual_ms = (t.end_ns - t.start_ns) / 1000000u;
  print_message("100 ms blocking job: %u ticks, %llu ms virtual, %llu ms "
                "real\n",
                t.ticks, (unsigned long long)virtual_ms,
                (unsigned long long)real_ms);
  assert_true(atomic_load(&done));
  /* A free-running clock counts over 100,000 virtual ms here (each 1 ms
   * sleep jumps at once); a frozen one would count none, and deadlock a
   * job that waits for a timer. Following real time, the clock moves by
   * no more than the real time that passed, and most of the job's. */
  assert_true(virtual_ms <= real_ms + 2);
  assert_true(virtual_ms >= 50);
  assert_true(t.ticks >= 1);
  weft_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sim_same_seed_same_trace),
      cmocka_unit_test(test_sim_different_seeds_different_traces),
      cmocka_unit_test(test_sim_unset_seed_is_reproducible),
      cmocka_unit_test(test_sim_same_seed_same_trace_across_processes),
      cmocka_unit_test(test_sim_one_hour_retry_timer_runs_in_milliseconds),
      cmocka_unit_test(test_sim_clock_follows_real_time_while_blocking_job_runs),
  };
  return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
