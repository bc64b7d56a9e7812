/* fuzz/fuzz_api.c: libFuzzer harness for the public API.
 *
 * Each input is a script of public API calls run on a fresh current-thread
 * runtime on the sim backend (virtual time: a sleep of any length costs
 * nothing, and the schedule is fixed, so a crash replays). The script is
 * read byte by byte; an opcode byte is followed by its operands:
 *
 *   0 kind slot    spawn a task of `kind` (see task_kind) into `slot`
 *   1 slot         wake the task in `slot` (its stored waker)
 *   2 slot         abort it
 *   3 slot ms      join it, giving up after `ms` virtual ms
 *   4 ms           sleep in the main future
 *   5 v            try_send `v` on the shared channel
 *   6              try_recv on the shared channel
 *   7 slot         spawn a blocking job into `slot`
 *   8 slot         detach the task in `slot` (free its handle)
 *   9              yield once
 *   10 slot        send the oneshot of the task in `slot`
 *   11             close the channel's receiving side
 *   12             end the script: shut down with whatever is still running
 *
 * Checks (a failed check traps, which libFuzzer reports as a crash): every
 * call returns 0 or an error its contract lists, a join result matches what
 * the task did (completed with its value, cancelled only after an abort or
 * at shutdown, failed only for a failing task), and after weft_runtime_free
 * every task's destructor has run exactly once. ASan and UBSan check the
 * memory underneath.
 *
 * LLVMFuzzerTestOneInput is the libFuzzer entry point; the corpus replay
 * test (tests/fuzz) calls it on every file in fuzz/corpus, so the harness
 * is built and run by every build, with or without libFuzzer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>
#include <weft/coro.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 8
#define VALUE 0x5eed

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond))                                                             \
      __builtin_trap();                                                      \
  } while (0)

enum task_kind {
  K_WAIT,    /* pending until woken by op 1 */
  K_SLEEP,   /* sleeps a few virtual ms */
  K_SEND,    /* sends on the shared channel (boxed send future) */
  K_ONESHOT, /* waits for its oneshot (op 10) */
  K_YIELD,   /* yields a few times */
  K_FAIL,    /* fails with WEFT_EIO */
  K_COUNT
};

typedef struct slot {
  weft_join_handle *h;
  int kind;      /* enum task_kind, or -1 for a blocking job */
  int aborted;   /* op 2 was called on it */
  struct task *t;        /* the task's state while it is alive */
  weft_oneshot_tx *otx;  /* K_ONESHOT: the sending side, held here */
} slot;

typedef struct fz {
  weft_runtime *rt;
  slot s[SLOTS];
  weft_mpsc_tx *tx;
  weft_mpsc_rx *rx;
  long alive; /* tasks made minus tasks dropped */
  const uint8_t *p, *end;
} fz;

typedef struct task {
  weft_coro co;
  fz *z;
  int kind, slot, woken, n;
  weft_waker w;
  weft_future *f;
  weft_mpsc_tx *tx;
  weft_oneshot_rx *orx;
} task;

static weft_poll task_poll(void *st, weft_context *cx, void *out) {
  task *t = st;
  int rc;
  t->z->s[t->slot].t = t; /* the state does not move while the task lives */
  WEFT_CORO_BEGIN(&t->co);
  /* if/else, not switch: the coroutine's own switch owns the case labels
   * that WEFT_AWAIT and WEFT_YIELD plant. */
  if (t->kind == K_WAIT) {
    weft_waker_drop(&t->w);
    CHECK(weft_waker_clone(weft_context_waker(cx), &t->w) == 0);
    WEFT_AWAIT(&t->co, t->woken ? WEFT_READY : WEFT_PENDING);
  } else if (t->kind == K_SLEEP) {
    CHECK(weft_sleep((uint64_t)t->n, &t->f) == 0);
    WEFT_AWAIT(&t->co, weft_future_poll(t->f, cx));
    CHECK(weft_future_result(t->f) == 0);
  } else if (t->kind == K_SEND) {
    CHECK(weft_mpsc_send(t->tx, &t->n, &t->f) == 0);
    WEFT_AWAIT(&t->co, weft_future_poll(t->f, cx));
    rc = weft_future_result(t->f);
    CHECK(rc == 0 || rc == WEFT_ECLOSED);
  } else if (t->kind == K_ONESHOT) {
    CHECK(weft_oneshot_recv(t->orx, &t->f) == 0);
    WEFT_AWAIT(&t->co, weft_future_poll(t->f, cx));
    rc = weft_future_result(t->f);
    CHECK(rc == 0 || rc == WEFT_ECLOSED);
    if (rc == 0)
      CHECK(*(int *)weft_future_msg(t->f) == VALUE);
  } else if (t->kind == K_YIELD) {
    while (t->n-- > 0)
      WEFT_YIELD(&t->co, cx);
  } else {
    weft_task_fail(cx, WEFT_EIO);
  }
  *(int *)out = VALUE + t->kind;
  WEFT_CORO_END(&t->co);
}

static void task_drop(void *st) {
  task *t = st;
  if (t->z->s[t->slot].t == t)
    t->z->s[t->slot].t = NULL;
  weft_waker_drop(&t->w);
  weft_future_free(t->f);
  weft_mpsc_tx_free(t->tx);
  weft_oneshot_rx_free(t->orx);
  t->z->alive--;
  CHECK(t->z->alive >= 0);
}

static const weft_future_vtable task_vt = {sizeof(weft_future_vtable),
                                           task_poll, task_drop};

static void *blocking_job(void *arg, const weft_cancel_token *token) {
  unsigned us = (unsigned)(uintptr_t)arg;
  for (unsigned i = 0; i < us && !weft_cancel_token_is_cancelled(token);
       i += 50)
    usleep(50);
  return (void *)(uintptr_t)VALUE;
}

static int next(fz *z) { return z->p < z->end ? *z->p++ : -1; }

static void slot_clear(slot *s) {
  weft_join_free(s->h);
  weft_oneshot_tx_free(s->otx);
  s->h = NULL, s->otx = NULL, s->aborted = 0;
}

static void spawn_task(fz *z, int kind, int i) {
  slot *s = &z->s[i];
  task t = {.co = WEFT_CORO_INIT, .z = z, .kind = kind, .slot = i,
            .n = kind == K_SLEEP ? 1 + i : 3};
  weft_oneshot_tx *otx = NULL;
  if (kind == K_SEND) {
    CHECK(weft_mpsc_tx_clone(z->tx, &t.tx) == 0);
    t.n = VALUE;
  }
  if (kind == K_ONESHOT)
    CHECK(weft_oneshot_new(sizeof(int), &otx, &t.orx) == 0);
  slot_clear(s);
  int rc = weft_spawn(z->rt, &task_vt, &t, sizeof t, sizeof(int), &s->h);
  CHECK(rc == 0);
  z->alive++;
  s->kind = kind;
  s->otx = otx;
}

/* The main future: runs the script. */
typedef struct main_fut {
  weft_coro co;
  fz *z;
  int op, i;
  weft_future *sleep;
  weft_join_result jr;
} main_fut;

static weft_poll main_poll(void *st, weft_context *cx, void *out) {
  main_fut *m = st;
  fz *z = m->z;
  int a, rc;
  (void)out;
  WEFT_CORO_BEGIN(&m->co);
  while ((m->op = next(z)) >= 0 && m->op % 13 != 12) {
    int op = m->op % 13;
    /* if/else, not switch: see task_poll. */
    if (op == 0) {
      a = next(z);
      if (a < 0)
        continue;
      spawn_task(z, a % K_COUNT, (next(z) & 0xff) % SLOTS);
    } else if (op == 1) {
      a = (next(z) & 0xff) % SLOTS;
      if (z->s[a].t && z->s[a].t->kind == K_WAIT) {
        z->s[a].t->woken = 1;
        weft_waker_wake_by_ref(&z->s[a].t->w);
      }
    } else if (op == 2) {
      a = (next(z) & 0xff) % SLOTS;
      if (z->s[a].h) {
        CHECK(weft_join_abort(z->s[a].h) == 0);
        z->s[a].aborted = 1;
      }
    } else if (op == 3) {
      m->i = (next(z) & 0xff) % SLOTS;
      if (!z->s[m->i].h)
        continue;
      CHECK(weft_sleep((uint64_t)(next(z) & 0x3f), &m->sleep) == 0);
      /* Wait for the join or the deadline, whichever comes first. */
      WEFT_AWAIT(&m->co,
                 weft_join_poll(z->s[m->i].h, cx, &m->jr) == WEFT_READY ||
                         weft_future_poll(m->sleep, cx) == WEFT_READY
                     ? WEFT_READY
                     : WEFT_PENDING);
      weft_future_free(m->sleep);
      m->sleep = NULL;
      if (!weft_join_is_finished(z->s[m->i].h))
        continue;
      /* Finished, but the poll may still say PENDING once: a join poll is
       * a leaf poll, and past the cooperative budget (128 per poll of the
       * main future) leaf polls yield. */
      WEFT_AWAIT(&m->co, weft_join_poll(z->s[m->i].h, cx, &m->jr));
      if (m->jr.status == WEFT_JOIN_COMPLETED) {
        if (z->s[m->i].kind < 0)
          CHECK(*(void **)m->jr.output == (void *)(uintptr_t)VALUE);
        else
          CHECK(*(int *)m->jr.output == VALUE + z->s[m->i].kind);
        CHECK(z->s[m->i].kind != K_FAIL);
      } else if (m->jr.status == WEFT_JOIN_CANCELLED) {
        CHECK(z->s[m->i].aborted && m->jr.error == WEFT_ECANCELED);
      } else {
        CHECK(z->s[m->i].kind == K_FAIL && m->jr.error == WEFT_EIO);
      }
    } else if (op == 4) {
      CHECK(weft_sleep((uint64_t)(next(z) & 0x3f), &m->sleep) == 0);
      WEFT_AWAIT(&m->co, weft_future_poll(m->sleep, cx));
      CHECK(weft_future_result(m->sleep) == 0);
      weft_future_free(m->sleep);
      m->sleep = NULL;
    } else if (op == 5) {
      a = VALUE;
      rc = weft_mpsc_try_send(z->tx, &a);
      CHECK(rc == 0 || rc == WEFT_EAGAIN || rc == WEFT_ECLOSED);
    } else if (op == 6) {
      rc = weft_mpsc_try_recv(z->rx, &a);
      CHECK(rc == WEFT_EAGAIN || rc == WEFT_ECLOSED ||
            (rc == 0 && a == VALUE));
    } else if (op == 7) {
      a = (next(z) & 0xff) % SLOTS;
      slot_clear(&z->s[a]);
      rc = weft_spawn_blocking(z->rt, blocking_job,
                               (void *)(uintptr_t)((a & 3) * 100),
                               &z->s[a].h);
      CHECK(rc == 0);
      z->s[a].kind = -1;
    } else if (op == 8) {
      slot_clear(&z->s[(next(z) & 0xff) % SLOTS]);
    } else if (op == 9) {
      WEFT_YIELD(&m->co, cx);
    } else if (op == 10) {
      a = (next(z) & 0xff) % SLOTS;
      if (z->s[a].otx) {
        int v = VALUE;
        rc = weft_oneshot_send(z->s[a].otx, &v);
        z->s[a].otx = NULL;
        CHECK(rc == 0 || rc == WEFT_ECLOSED);
      }
    } else if (op == 11) {
      weft_mpsc_close(z->rx);
    }
  }
  WEFT_CORO_END(&m->co);
}

static const weft_future_vtable main_vt = {sizeof(weft_future_vtable),
                                           main_poll, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz z;
  memset(&z, 0, sizeof z);
  z.p = data, z.end = size ? data + size : data; /* data may be NULL */
  weft_builder *b;
  CHECK(weft_builder_new(&b) == 0);
  CHECK(weft_builder_flavor(b, WEFT_FLAVOR_CURRENT_THREAD) == 0);
  CHECK(weft_builder_backend(b, "sim") == 0);
  CHECK(weft_builder_max_blocking_threads(b, 2) == 0);
  CHECK(weft_builder_build(b, &z.rt) == 0);
  weft_builder_free(b);
  CHECK(weft_mpsc_new(sizeof(int), 4, &z.tx, &z.rx) == 0);

  main_fut m = {.co = WEFT_CORO_INIT, .z = &z};
  CHECK(weft_block_on(z.rt, &main_vt, &m, NULL) == 0);

  /* Shut down with whatever is still queued, sleeping or blocked. */
  CHECK(weft_runtime_shutdown(z.rt, -1) == 0);
  for (int i = 0; i < SLOTS; i++) {
    if (z.s[i].h)
      CHECK(weft_join_is_finished(z.s[i].h));
    slot_clear(&z.s[i]);
  }
  weft_mpsc_tx_free(z.tx);
  weft_mpsc_rx_free(z.rx);
  weft_runtime_free(z.rt);
  CHECK(z.alive == 0); /* every task's destructor ran, exactly once */
  return 0;
}
