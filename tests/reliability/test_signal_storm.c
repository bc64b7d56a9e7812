/* tests/reliability/test_signal_storm.c: two runtimes (the second on the
 * backend named by argv[1], default the build's) watch SIGUSR1 while
 * several threads send it in storms, and two more threads each build a
 * runtime, watch the signal and free both, again and again, meanwhile (a
 * new runtime's first watch registers its pipe while the other runtimes'
 * loops are draining theirs).
 *
 * Signals coalesce (a signal sent while the same one is pending is merged),
 * so "no notification lost" is checked as: after each storm, once the last
 * signal is sent, every stream yields at least once more. Each storm ends
 * with the sender storing the storm's number in `done` and then sending one
 * last signal; a receiver records the value of `done` it reads after each
 * delivery; the test waits until every receiver has recorded the storm.
 * A delivery that reflects the last signal necessarily reads `done` after
 * it was stored, whether that signal was delivered on its own or merged
 * into one still pending.
 *
 * Counts: every run of the handler writes one byte to each watching
 * runtime's pipe, so both streams of the first runtime and the stream of
 * the second end with the same total, between the number of storms and
 * the number of signals sent. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <weft.h>
#include <weft/signal.h>

#include "rel_helpers.h"

#define SENDERS 4
#define PER_SENDER 64
#define STREAMS 3
#define CHURNERS 2 /* threads building and freeing runtimes */

static const char *backend_b;

static atomic_long done_storm; /* the last storm fully sent */

typedef struct receiver {
  weft_signal *s;
  atomic_long total; /* sum of what poll_recv returned */
  atomic_long seen;  /* done_storm read after the latest delivery */
} receiver;

typedef struct recv_task {
  receiver *r;
} recv_task;

static weft_poll recv_poll(void *p, weft_context *cx, void *out) {
  receiver *r = ((recv_task *)p)->r;
  (void)out;
  for (;;) {
    int rc = weft_signal_poll_recv(r->s, cx);
    if (rc < 0)
      return WEFT_READY;
    if (rc == 0)
      return WEFT_PENDING;
    atomic_fetch_add(&r->total, rc);
    atomic_store(&r->seen, atomic_load(&done_storm));
  }
}
static const weft_future_vtable recv_vt = {sizeof(weft_future_vtable),
                                           recv_poll, NULL};

static void *sender(void *arg) {
  (void)arg;
  for (int i = 0; i < PER_SENDER; i++)
    kill(getpid(), SIGUSR1);
  return NULL;
}

/* Builds a runtime, watches SIGUSR1, frees both; again until told. */
static void *churn(void *arg) {
  atomic_int *stop = arg;
  long rounds = 0;
  while (!atomic_load(stop)) {
    weft_runtime *rt = rel_runtime(1, NULL);
    if (!rt)
      continue;
    weft_signal *s;
    if (weft_signal_new(rt, SIGUSR1, &s) == 0) {
      receiver r = {s, 0, 0};
      recv_task t = {&r};
      weft_join_handle *h;
      if (weft_spawn(rt, &recv_vt, &t, sizeof t, 0, &h) == 0) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        weft_join_abort(h);
        weft_join_wait(h, 5000, NULL);
        weft_join_free(h);
      }
      weft_signal_free(s);
    }
    weft_runtime_free(rt);
    rounds++;
  }
  return (void *)rounds;
}

static void test_signal_storm_two_runtimes_lose_nothing(void **state) {
  (void)state;
  weft_runtime *a = rel_runtime(2, NULL), *b = rel_runtime(2, backend_b);
  assert_non_null(a);
  assert_non_null(b);
  receiver rs[STREAMS];
  weft_join_handle *hs[STREAMS];
  memset(rs, 0, sizeof rs);
  for (int i = 0; i < STREAMS; i++) {
    weft_runtime *rt = i < 2 ? a : b;
    assert_int_equal(weft_signal_new(rt, SIGUSR1, &rs[i].s), 0);
    recv_task t = {&rs[i]};
    assert_int_equal(weft_spawn(rt, &recv_vt, &t, sizeof t, 0, &hs[i]), 0);
  }
  atomic_int stop = 0;
  pthread_t ch[CHURNERS];
  for (int i = 0; i < CHURNERS; i++)
    assert_int_equal(pthread_create(&ch[i], NULL, churn, &stop), 0);

  long storms = (long)(100 * rel_scale());
  if (storms < 10)
    storms = 10;
  long sent = 0;
  uint64_t worst_ns = 0;
  for (long storm = 1; storm <= storms; storm++) {
    pthread_t th[SENDERS];
    for (int i = 0; i < SENDERS; i++)
      assert_int_equal(pthread_create(&th[i], NULL, sender, NULL), 0);
    for (int i = 0; i < SENDERS; i++)
      pthread_join(th[i], NULL);
    atomic_store(&done_storm, storm);
    kill(getpid(), SIGUSR1); /* the last signal of the storm */
    sent += SENDERS * PER_SENDER + 1;
    uint64_t t0 = rel_mono_ns();
    for (int i = 0; i < STREAMS; i++) {
      while (atomic_load(&rs[i].seen) < storm) {
        if (rel_mono_ns() - t0 > 5000000000u)
          fail_msg("storm %ld: stream %d never yielded after the last "
                   "signal (it saw storm %ld)",
                   storm, i, atomic_load(&rs[i].seen));
        sched_yield();
      }
    }
    if (rel_mono_ns() - t0 > worst_ns)
      worst_ns = rel_mono_ns() - t0;
  }
  atomic_store(&stop, 1);
  long churned = 0;
  for (int i = 0; i < CHURNERS; i++) {
    void *n;
    pthread_join(ch[i], &n);
    churned += (long)(intptr_t)n;
  }

  /* Every byte written is eventually counted: wait for the totals to
   * agree (the last bytes may still be in a pipe). */
  uint64_t t0 = rel_mono_ns();
  while ((atomic_load(&rs[0].total) != atomic_load(&rs[1].total) ||
          atomic_load(&rs[0].total) != atomic_load(&rs[2].total)) &&
         rel_mono_ns() - t0 < 5000000000u)
    sched_yield();
  long tot[STREAMS];
  for (int i = 0; i < STREAMS; i++)
    tot[i] = atomic_load(&rs[i].total);
  fprintf(stderr,
          "%ld storms, %ld signals sent, %ld/%ld/%ld deliveries counted, "
          "%ld runtimes churned, worst wait for the last signal %.2f ms\n",
          storms, sent, tot[0], tot[1], tot[2], churned,
          worst_ns / 1e6);
  assert_int_equal(tot[0], tot[1]);
  assert_int_equal(tot[0], tot[2]);
  assert_true(tot[0] >= storms);
  assert_true(tot[0] <= sent);

  for (int i = 0; i < STREAMS; i++) {
    weft_join_abort(hs[i]);
    assert_int_equal(weft_join_wait(hs[i], 5000, NULL), 0);
    weft_join_free(hs[i]);
    weft_signal_free(rs[i].s);
  }
  weft_runtime_free(a);
  weft_runtime_free(b);
}

int main(int argc, char **argv) {
  backend_b = argc > 1 ? argv[1] : NULL;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signal_storm_two_runtimes_lose_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
