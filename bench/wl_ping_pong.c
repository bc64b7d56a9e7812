/* bench/wl_ping_pong.c: 1,000 pairs of tasks; each pair passes a token back
 * and forth over two bounded channels of capacity 1, 1,000 round trips per
 * pair. One hop is one send plus the wake-up of its receiver, so a round
 * trip is two hops. As in the peers, a task on the runtime spawns the
 * pairs, and the clock runs from before the first spawn until the last
 * pinger finishes. The tasks use the poll-style channel calls, which
 * allocate nothing per message. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "workloads.h"

struct shared {
  atomic_size_t left; /* pingers still running */
  size_t trips;
  bench_done done;
};

/* Sends ping, waits for pong, `trips` times. */
struct pinger {
  weft_coro co;
  struct shared *sh;
  weft_mpsc_tx *ping;
  weft_mpsc_rx *pong;
  size_t i;
  char token;
  int rc;
};

static weft_poll pinger_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct pinger *p = s;
  WEFT_CORO_BEGIN(&p->co);
  for (p->i = 0; p->i < p->sh->trips; p->i++) {
    WEFT_AWAIT(&p->co, weft_mpsc_poll_send(p->ping, cx, &p->token, &p->rc));
    WEFT_AWAIT(&p->co, weft_mpsc_poll_recv(p->pong, cx, &p->token, &p->rc));
    if (p->rc != 0) {
      fprintf(stderr, "ping_pong: pong closed\n");
      exit(1);
    }
  }
  if (atomic_fetch_sub_explicit(&p->sh->left, 1, memory_order_acq_rel) == 1)
    bench_done_signal(&p->sh->done);
  WEFT_CORO_END(&p->co);
}

static void pinger_drop(void *s) {
  struct pinger *p = s;
  weft_mpsc_tx_free(p->ping);
  weft_mpsc_rx_free(p->pong);
}

static const weft_future_vtable pinger_vt = {sizeof(weft_future_vtable),
                                             pinger_poll, pinger_drop};

/* Waits for ping, sends pong, `trips` times. */
struct ponger {
  weft_coro co;
  size_t trips, i;
  weft_mpsc_rx *ping;
  weft_mpsc_tx *pong;
  char token;
  int rc;
};

static weft_poll ponger_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  struct ponger *p = s;
  WEFT_CORO_BEGIN(&p->co);
  for (p->i = 0; p->i < p->trips; p->i++) {
    WEFT_AWAIT(&p->co, weft_mpsc_poll_recv(p->ping, cx, &p->token, &p->rc));
    if (p->rc != 0) {
      fprintf(stderr, "ping_pong: ping closed\n");
      exit(1);
    }
    WEFT_AWAIT(&p->co, weft_mpsc_poll_send(p->pong, cx, &p->token, &p->rc));
  }
  WEFT_CORO_END(&p->co);
}

static void ponger_drop(void *s) {
  struct ponger *p = s;
  weft_mpsc_rx_free(p->ping);
  weft_mpsc_tx_free(p->pong);
}

static const weft_future_vtable ponger_vt = {sizeof(weft_future_vtable),
                                             ponger_poll, ponger_drop};

/* The task that spawns every pair from inside the runtime. */
struct starter {
  struct shared *sh;
  size_t pairs;
};

static weft_poll starter_poll(void *s, weft_context *cx, void *out) {
  (void)out;
  (void)cx;
  struct starter *st = s;
  weft_runtime *rt = weft_runtime_current();
  for (size_t i = 0; i < st->pairs; i++) {
    struct pinger pi = {.sh = st->sh};
    struct ponger po = {.trips = st->sh->trips};
    if (weft_mpsc_new(1, 1, &pi.ping, &po.ping) != 0 ||
        weft_mpsc_new(1, 1, &po.pong, &pi.pong) != 0 ||
        weft_spawn_detached(rt, &ponger_vt, &po, sizeof po) != 0 ||
        weft_spawn_detached(rt, &pinger_vt, &pi, sizeof pi) != 0) {
      fprintf(stderr, "ping_pong: setup failed\n");
      exit(1);
    }
  }
  return WEFT_READY;
}

static const weft_future_vtable starter_vt = {sizeof(weft_future_vtable),
                                              starter_poll, NULL};

void wl_ping_pong(const bench_env *env) {
  weft_runtime *rt = bench_runtime(env);
  struct shared sh;
  size_t pairs = bench_count(env, 1000);
  sh.trips = bench_count(env, 1000);
  atomic_init(&sh.left, pairs);
  bench_done_init(&sh.done);
  uint64_t t0 = bench_now_ns();
  struct starter st = {&sh, pairs};
  if (weft_spawn_detached(rt, &starter_vt, &st, sizeof st) != 0) {
    fprintf(stderr, "ping_pong: spawn failed\n");
    exit(1);
  }
  bench_done_wait(&sh.done);
  uint64_t t1 = bench_now_ns();
  bench_result("ping_pong", "ns_per_hop",
               (double)(t1 - t0) / (double)(pairs * sh.trips * 2), "ns");
  weft_runtime_free(rt);
  bench_done_destroy(&sh.done);
}
