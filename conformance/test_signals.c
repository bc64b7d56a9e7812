/* conformance/test_signals.c: real signals delivered to tasks through the
 * backend under test.
 *
 * A backend either watches signals itself (signal_watch) or leaves it to
 * the core, which then registers a self-pipe's read end with the backend
 * like any fd. Either way a delivery must reach every watching task, on
 * every runtime, and nothing may be left behind once the streams are
 * freed. Signals are raised with pthread_kill on the sending thread: a
 * signal sent to the calling thread and not blocked there is handled
 * before pthread_kill returns, so every send is one handler run and the
 * counts below are exact (kill(getpid()) from several threads could merge
 * in the kernel before any handler ran). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <weft/signal.h>

#include "conf.h"

/* A task that receives from `s` until `want` deliveries were counted. */
typedef struct receiver {
  weft_signal *s;
  int want;
  int got;
  int err;
  _Atomic int waiting; /* polled at least once: the stream is registered */
} receiver;

static weft_poll receiver_poll(void *arg, weft_context *cx) {
  receiver *r = arg;
  while (r->got < r->want) {
    int rc = weft_signal_poll_recv(r->s, cx);
    if (rc < 0) {
      r->err = rc;
      return WEFT_READY;
    }
    if (rc == 0) {
      atomic_store_explicit(&r->waiting, 1, memory_order_release);
      return WEFT_PENDING;
    }
    r->got += rc;
  }
  return WEFT_READY;
}

static void wait_waiting(receiver *r) {
  uint64_t end = conf_real_ms() + 5000;
  while (!atomic_load_explicit(&r->waiting, memory_order_acquire)) {
    assert_true(conf_real_ms() < end);
    conf_sleep_ms(1);
  }
}

typedef struct sender {
  int signo, count;
  unsigned delay_ms;
} sender;

static void *sender_thread(void *arg) {
  sender *s = arg;
  conf_sleep_ms(s->delay_ms);
  for (int i = 0; i < s->count; i++)
    if (pthread_kill(pthread_self(), s->signo) != 0)
      return (void *)1;
  return NULL;
}

static void send_from_thread(int signo, int count, unsigned delay_ms) {
  sender s = {signo, count, delay_ms};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, sender_thread, &s), 0);
  void *bad = NULL;
  pthread_join(th, &bad);
  assert_null(bad);
}

/* G1: a signal sent from another thread while the task waits reaches it. */
static void test_signals_delivery_reaches_waiting_task(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  receiver r = {.want = 1};
  assert_int_equal(weft_signal_new(rt, SIGUSR1, &r.s), 0);
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, receiver_poll, &r, &h), 0);
  wait_waiting(&r);
  send_from_thread(SIGUSR1, 1, 10);
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.got, 1);
  weft_signal_free(r.s);
  weft_runtime_free(rt);
}

/* G1: deliveries that arrive before the task polls are counted, not lost:
 * the stream exists from weft_signal_new on. */
static void test_signals_delivered_before_first_poll_count(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  receiver r = {.want = 3};
  assert_int_equal(weft_signal_new(rt, SIGUSR2, &r.s), 0);
  send_from_thread(SIGUSR2, 3, 0);
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, receiver_poll, &r, &h), 0);
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.got, 3);
  weft_signal_free(r.s);
  weft_runtime_free(rt);
}

/* G2: a storm of deliveries from 4 threads at once: every one is counted
 * (merged into fewer ready results, but the counts add up). */
static void test_signals_storm_from_four_threads_all_counted(void **state) {
  (void)state;
  enum { THREADS = 4 };
  int per = (int)conf_scaled(200);
  weft_runtime *rt = conf_rt_new(2);
  receiver r = {.want = THREADS * per};
  assert_int_equal(weft_signal_new(rt, SIGUSR1, &r.s), 0);
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, receiver_poll, &r, &h), 0);
  wait_waiting(&r);
  sender s = {SIGUSR1, per, 0};
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, sender_thread, &s), 0);
  for (int i = 0; i < THREADS; i++) {
    void *bad = NULL;
    pthread_join(th[i], &bad);
    assert_null(bad);
  }
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.got, THREADS * per);
  weft_signal_free(r.s);
  weft_runtime_free(rt);
}

/* Two streams for `signo`, on `rt_a` and `rt_b` (the same runtime or two),
 * each waiting for `want` deliveries of `want` signals sent from a thread:
 * both see every one. */
static void two_streams_both_see(weft_runtime *rt_a, weft_runtime *rt_b,
                                 int signo, int want) {
  receiver a = {.want = want}, b = {.want = want};
  assert_int_equal(weft_signal_new(rt_a, signo, &a.s), 0);
  assert_int_equal(weft_signal_new(rt_b, signo, &b.s), 0);
  weft_join_handle *ha = NULL, *hb = NULL;
  assert_int_equal(conf_spawn_fn(rt_a, receiver_poll, &a, &ha), 0);
  assert_int_equal(conf_spawn_fn(rt_b, receiver_poll, &b, &hb), 0);
  wait_waiting(&a);
  wait_waiting(&b);
  send_from_thread(signo, want, 5);
  conf_join(rt_a, ha, NULL);
  conf_join(rt_b, hb, NULL);
  assert_int_equal(a.got, want);
  assert_int_equal(b.got, want);
  weft_join_free(ha);
  weft_join_free(hb);
  weft_signal_free(a.s);
  weft_signal_free(b.s);
}

/* G3: two streams for the same signal on one runtime both see it. */
static void test_signals_two_streams_one_runtime_both_see(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  two_streams_both_see(rt, rt, SIGUSR2, 2);
  weft_runtime_free(rt);
}

/* G3: two runtimes on the same backend both see one delivery. */
static void test_signals_two_runtimes_both_see(void **state) {
  (void)state;
  weft_runtime *rt1 = conf_rt_new(1), *rt2 = conf_rt_new(1);
  two_streams_both_see(rt1, rt2, SIGUSR1, 1);
  weft_runtime_free(rt1);
  weft_runtime_free(rt2);
}

/* G4: freeing the last stream gives the signal back: the application's
 * own handler, installed before, is in place again and runs. */
static _Atomic int app_handler_runs;
static void app_handler(int signo) {
  (void)signo;
  atomic_fetch_add_explicit(&app_handler_runs, 1, memory_order_relaxed);
}

static void test_signals_free_restores_previous_handler(void **state) {
  (void)state;
  struct sigaction sa, old, now;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = app_handler;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGUSR2, &sa, &old), 0);
  weft_runtime *rt = conf_rt_new(1);
  receiver r = {.want = 1};
  assert_int_equal(weft_signal_new(rt, SIGUSR2, &r.s), 0);
  assert_int_equal(sigaction(SIGUSR2, NULL, &now), 0);
  assert_true(now.sa_handler != app_handler); /* weft's handler now */
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, receiver_poll, &r, &h), 0);
  wait_waiting(&r);
  send_from_thread(SIGUSR2, 1, 0);
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_int_equal(r.got, 1);
  weft_signal_free(r.s);
  assert_int_equal(sigaction(SIGUSR2, NULL, &now), 0);
  assert_true(now.sa_handler == app_handler);
  atomic_store(&app_handler_runs, 0);
  send_from_thread(SIGUSR2, 1, 0);
  assert_int_equal(atomic_load(&app_handler_runs), 1);
  weft_runtime_free(rt);
  assert_int_equal(sigaction(SIGUSR2, &old, NULL), 0);
}

/* G5: argument checks; on a backend without fds (sim) a valid signal is
 * refused with an error instead of being accepted and never delivered. */
static void test_signals_invalid_arguments_and_unsupported(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(1);
  weft_signal *s = NULL;
  assert_int_equal(weft_signal_new(rt, SIGKILL, &s), WEFT_EINVAL);
  assert_int_equal(weft_signal_new(rt, SIGSTOP, &s), WEFT_EINVAL);
  assert_int_equal(weft_signal_new(rt, 0, &s), WEFT_EINVAL);
  assert_int_equal(weft_signal_new(rt, -3, &s), WEFT_EINVAL);
  assert_int_equal(weft_signal_new(rt, SIGUSR1, NULL), WEFT_EINVAL);
  assert_null(s);
  assert_int_equal(weft_signal_poll_recv(NULL, NULL), WEFT_EINVAL);
  weft_signal_free(NULL);
  int rc = weft_signal_new(rt, SIGUSR1, &s);
  if (conf.has_signals) {
    assert_int_equal(rc, 0);
    weft_signal_free(s);
  } else {
    assert_true(rc < 0);
    assert_null(s);
  }
  weft_runtime_free(rt);
}

/* G6: the runtime shut down while a task waits for a signal: the task is
 * dropped; the stream, which outlives the runtime, reports WEFT_ESHUTDOWN;
 * and the process-wide handler is given back at once (no runtime is left
 * to see the signal, so it must not be swallowed): the application's
 * handler runs for the next delivery, and nothing freed is touched. */
typedef struct owned_sig {
  weft_signal *s;
  _Atomic int *drops;
} owned_sig;

static weft_poll owned_sig_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  owned_sig *o = p;
  return weft_signal_poll_recv(o->s, cx) > 0 ? WEFT_READY : WEFT_PENDING;
}

static void owned_sig_drop(void *p) {
  owned_sig *o = p;
  atomic_fetch_add(o->drops, 1);
}

static const weft_future_vtable owned_sig_vt = {sizeof(weft_future_vtable),
                                                owned_sig_poll,
                                                owned_sig_drop};

typedef struct recv_once {
  weft_signal *s;
  int rc;
} recv_once;

static weft_poll recv_once_poll(void *arg, weft_context *cx) {
  recv_once *r = arg;
  r->rc = weft_signal_poll_recv(r->s, cx);
  return WEFT_READY;
}

static void test_signals_shutdown_while_waiting(void **state) {
  (void)state;
  struct sigaction sa, old, now;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = app_handler;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
  weft_runtime *rt = conf_rt_new(2);
  _Atomic int drops = 0;
  owned_sig o = {NULL, &drops};
  assert_int_equal(weft_signal_new(rt, SIGUSR1, &o.s), 0);
  assert_int_equal(weft_spawn_detached(rt, &owned_sig_vt, &o, sizeof o), 0);
  conf_sleep_ms(10);
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&drops), 1);
  assert_int_equal(sigaction(SIGUSR1, NULL, &now), 0);
  assert_true(now.sa_handler == app_handler);
  atomic_store(&app_handler_runs, 0);
  send_from_thread(SIGUSR1, 1, 0);
  assert_int_equal(atomic_load(&app_handler_runs), 1);
  /* Polled from a task of another runtime, the orphan stream says why it
   * will never be ready. */
  weft_runtime *rt2 = conf_rt_new(1);
  recv_once r = {o.s, 0};
  conf_block_on_fn(rt2, recv_once_poll, &r);
  assert_int_equal(r.rc, WEFT_ESHUTDOWN);
  weft_runtime_free(rt2);
  weft_signal_free(o.s);
  assert_int_equal(sigaction(SIGUSR1, NULL, &now), 0);
  assert_true(now.sa_handler == app_handler); /* not unref'd twice */
  assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
}

/* G1: the task raises the signal itself, from inside its poll, then
 * waits: the delivery (handled on a worker) wakes the same task. */
typedef struct self_raise {
  weft_signal *s;
  int raised, got;
} self_raise;

static weft_poll self_raise_poll(void *arg, weft_context *cx) {
  self_raise *r = arg;
  if (!r->raised) {
    r->raised = 1;
    assert_int_equal(pthread_kill(pthread_self(), SIGUSR2), 0);
  }
  int rc = weft_signal_poll_recv(r->s, cx);
  assert_true(rc >= 0);
  if (rc == 0)
    return WEFT_PENDING;
  r->got += rc;
  return WEFT_READY;
}

static void test_signals_raised_inside_task(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  self_raise r = {0};
  assert_int_equal(weft_signal_new(rt, SIGUSR2, &r.s), 0);
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, self_raise_poll, &r, &h), 0);
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_int_equal(r.got, 1);
  weft_signal_free(r.s);
  weft_runtime_free(rt);
}

static const conf_test tests[] = {
    CONF_TEST("G1", test_signals_delivery_reaches_waiting_task,
              CONF_NEEDS_SIGNALS),
    CONF_TEST("G1", test_signals_delivered_before_first_poll_count,
              CONF_NEEDS_SIGNALS),
    CONF_TEST("G1", test_signals_raised_inside_task, CONF_NEEDS_SIGNALS),
    CONF_TEST("G2", test_signals_storm_from_four_threads_all_counted,
              CONF_NEEDS_SIGNALS | CONF_NEEDS_THREADS),
    CONF_TEST("G3", test_signals_two_streams_one_runtime_both_see,
              CONF_NEEDS_SIGNALS),
    CONF_TEST("G3", test_signals_two_runtimes_both_see, CONF_NEEDS_SIGNALS),
    CONF_TEST("G4", test_signals_free_restores_previous_handler,
              CONF_NEEDS_SIGNALS),
    CONF_TEST("G5", test_signals_invalid_arguments_and_unsupported, 0),
    CONF_TEST("G6", test_signals_shutdown_while_waiting, CONF_NEEDS_SIGNALS),
};

CONF_AREA(conf_area_signals, "signals", tests);
