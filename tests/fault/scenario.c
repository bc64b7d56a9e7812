/* tests/fault/scenario.c: the scenario the fault tests repeat (see
 * scenario.h). It allocates nothing itself, so that an allocation counter
 * that wraps malloc counts weft's allocations only. */
#include "scenario.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <weft/coro.h>

#define MSG 7

typedef struct run {
  fault_accept_fn accept;
  fault_outcome *out;
} run;

/* 1 if `rc` is 0; otherwise record it (as the stopping error if accepted,
 * as a defect if not) and return 0. */
static int check(run *r, int rc, int line) {
  if (rc == 0)
    return 1;
  if (r->accept(rc)) {
    if (!r->out->stopped_by) {
      r->out->stopped_by = rc;
      r->out->stopped_line = line;
    }
  } else if (!r->out->bad_rc) {
    r->out->bad_rc = rc;
    r->out->bad_line = line;
  }
  return 0;
}

/* ---- The child task: sleep 1 ms, then send on both channels ----------- */
typedef struct child {
  weft_coro co;
  weft_mpsc_tx *tx;
  weft_oneshot_tx *otx;
  weft_future *sleep;
} child;

static weft_poll child_poll(void *st, weft_context *cx, void *out) {
  child *c = st;
  int rc, v = MSG;
  (void)out;
  WEFT_CORO_BEGIN(&c->co);
  rc = weft_sleep(1, &c->sleep);
  if (rc)
    goto fail;
  WEFT_AWAIT(&c->co, weft_future_poll(c->sleep, cx));
  rc = weft_future_result(c->sleep);
  if (rc)
    goto fail;
  rc = weft_mpsc_try_send(c->tx, &v);
  if (rc)
    goto fail;
  rc = weft_oneshot_send(c->otx, &v);
  c->otx = NULL; /* released by the send, whatever the result */
  if (rc)
    goto fail;
  WEFT_CORO_END(&c->co);
fail:
  /* The join handle carries the error to the scenario. */
  c->co.line = -1;
  weft_task_fail(cx, rc);
  return WEFT_READY;
}

static void child_drop(void *st) {
  child *c = st;
  weft_future_free(c->sleep);
  weft_mpsc_tx_free(c->tx);
  weft_oneshot_tx_free(c->otx);
}

static const weft_future_vtable child_vt = {sizeof(weft_future_vtable),
                                            child_poll, child_drop};

/* A task that never finishes; the scenario aborts it. */
static weft_poll idle_poll(void *st, weft_context *cx, void *out) {
  (void)st, (void)cx, (void)out;
  return WEFT_PENDING;
}
static const weft_future_vtable idle_vt = {sizeof(weft_future_vtable),
                                           idle_poll, NULL};

/* A task that finishes at once with output 5 (for the group). */
static weft_poll five_poll(void *st, weft_context *cx, void *out) {
  (void)st, (void)cx;
  *(int *)out = 5;
  return WEFT_READY;
}
static const weft_future_vtable five_vt = {sizeof(weft_future_vtable),
                                           five_poll, NULL};

static void *blocking_job(void *arg, const weft_cancel_token *token) {
  (void)arg, (void)token;
  return (void *)(uintptr_t)42;
}

/* ---- The main future, run by weft_block_on ----------------------------- */
typedef struct main_fut {
  weft_coro co;
  run *r;
  weft_runtime *rt;
  weft_mpsc_tx *tx;
  weft_mpsc_rx *rx;
  weft_oneshot_tx *otx;
  weft_oneshot_rx *orx;
  weft_join_handle *child, *blk, *idle, *boxed, *blk2;
  weft_notify *nt;
  weft_group *grp;
  weft_join_handle *member;
  weft_cancellation_token *root, *kid;
  weft_watch_tx *wtx;
  weft_watch_rx *wrx, *wrx2;
  weft_interval *iv;
  int ticks;
  int sv[2];
  weft_io *io;
  weft_semaphore *sem;
  weft_mutex *mu;
  weft_signal *sig;
  weft_listener *lis;
  weft_stream *cli, *srv;
  weft_mpsc_tx *utx;
  weft_mpsc_rx *urx;
  char buf[4];
  weft_future *f;
  weft_join_result jr;
  int mpsc_rc, oneshot_rc, child_failed;
} main_fut;

static void main_cleanup(main_fut *m) {
  weft_future_free(m->f);
  weft_join_free(m->child);
  weft_join_free(m->blk);
  weft_join_free(m->idle);
  weft_join_free(m->boxed);
  weft_join_free(m->blk2);
  weft_notify_free(m->nt);
  weft_join_free(m->member);
  weft_group_free(m->grp);
  weft_cancellation_token_free(m->kid);
  weft_cancellation_token_free(m->root);
  weft_watch_tx_free(m->wtx);
  weft_watch_rx_free(m->wrx);
  weft_watch_rx_free(m->wrx2);
  weft_interval_free(m->iv);
  weft_mpsc_tx_free(m->tx);
  weft_mpsc_rx_free(m->rx);
  weft_oneshot_tx_free(m->otx);
  weft_oneshot_rx_free(m->orx);
  if (m->io) {
    weft_io_close(m->io); /* closes sv[0] */
    weft_io_free(m->io);
  } else if (m->sv[0] >= 0) {
    close(m->sv[0]);
  }
  if (m->sv[1] >= 0)
    close(m->sv[1]);
  weft_semaphore_free(m->sem);
  weft_mutex_free(m->mu);
  weft_signal_free(m->sig);
  weft_stream_free(m->cli);
  weft_stream_free(m->srv);
  weft_listener_free(m->lis);
  weft_mpsc_tx_free(m->utx);
  weft_mpsc_rx_free(m->urx);
  /* Everything is released: a second call does nothing. */
  m->f = NULL, m->child = m->blk = m->idle = m->boxed = m->blk2 = NULL;
  m->nt = NULL, m->iv = NULL, m->grp = NULL, m->member = NULL;
  m->root = m->kid = NULL, m->wtx = NULL, m->wrx = m->wrx2 = NULL;
  m->tx = NULL, m->rx = NULL, m->otx = NULL, m->orx = NULL;
  m->io = NULL, m->sv[0] = m->sv[1] = -1;
  m->sem = NULL, m->sig = NULL, m->mu = NULL;
  m->lis = NULL, m->cli = NULL, m->srv = NULL, m->utx = NULL, m->urx = NULL;
}

/* Stop the main future: the error was recorded by check(). */
#define STEP(m, expr)                                                        \
  do {                                                                       \
    if (!check((m)->r, (expr), __LINE__)) {                                  \
      main_cleanup(m);                                                       \
      (m)->co.line = -1;                                                     \
      return WEFT_READY;                                                     \
    }                                                                        \
  } while (0)

/* Await the boxed future m->f, then check its int result and free it. */
#define AWAIT_BOXED(m, cx)                                                   \
  do {                                                                       \
    WEFT_AWAIT(&(m)->co, weft_future_poll((m)->f, (cx)));                     \
    int rc_ = weft_future_result((m)->f);                                    \
    weft_future_free((m)->f);                                                \
    (m)->f = NULL;                                                           \
    STEP((m), rc_);                                                          \
  } while (0)

static weft_poll main_poll(void *st, weft_context *cx, void *out) {
  main_fut *m = st;
  int rc;
  (void)out;
  WEFT_CORO_BEGIN(&m->co);
  STEP(m, weft_mpsc_new(sizeof(int), 4, &m->tx, &m->rx));
  STEP(m, weft_oneshot_new(sizeof(int), &m->otx, &m->orx));
  {
    child c = {WEFT_CORO_INIT, m->tx, m->otx, NULL};
    rc = weft_spawn(m->rt, &child_vt, &c, sizeof c, 0, &m->child);
    if (rc == 0)
      m->tx = NULL, m->otx = NULL; /* the task owns them now */
    STEP(m, rc);
  }
  STEP(m, weft_spawn_blocking(m->rt, blocking_job, NULL, &m->blk));
  STEP(m, weft_spawn(m->rt, &idle_vt, NULL, 0, 0, &m->idle));
  STEP(m, weft_join_abort(m->idle));

  /* I/O: readiness of one end of a socketpair. */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, m->sv) != 0)
    STEP(m, WEFT_EIO);
  STEP(m, weft_io_new(m->sv[0], &m->io));
  if (write(m->sv[1], "x", 1) != 1)
    STEP(m, WEFT_EIO);
  STEP(m, weft_io_readable(m->io, &m->f));
  AWAIT_BOXED(m, cx);

  STEP(m, weft_semaphore_new(1, &m->sem));
  STEP(m, weft_semaphore_acquire(m->sem, &m->f));
  AWAIT_BOXED(m, cx);
  STEP(m, weft_semaphore_release(m->sem, 1));

  STEP(m, weft_mutex_new(sizeof(int), &m->mu));
  STEP(m, weft_mutex_lock(m->mu, &m->f));
  AWAIT_BOXED(m, cx);
  STEP(m, weft_mutex_unlock(m->mu));

  /* A notify whose permit is stored before the wait. */
  STEP(m, weft_notify_new(&m->nt));
  STEP(m, weft_notify_one(m->nt));
  STEP(m, weft_notify_notified(m->nt, &m->f));
  AWAIT_BOXED(m, cx);

  /* An interval: an immediate tick, then one 1 ms later. */
  STEP(m, weft_interval_new(1, WEFT_MISSED_TICK_DELAY, &m->iv));
  for (m->ticks = 0; m->ticks < 2; m->ticks++) {
    WEFT_AWAIT(&m->co, (rc = weft_interval_poll_tick(m->iv, cx, NULL)) != 0
                           ? WEFT_READY
                           : WEFT_PENDING);
    if (rc < 0)
      STEP(m, rc);
  }

  /* A boxed future (a sleep) spawned as a task. */
  {
    weft_future *nap;
    STEP(m, weft_sleep(1, &nap));
    rc = weft_spawn_future(m->rt, nap, &m->boxed);
    if (rc)
      weft_future_free(nap);
    STEP(m, rc);
  }
  WEFT_AWAIT(&m->co, weft_join_poll(m->boxed, cx, &m->jr));
  if (m->jr.status == WEFT_JOIN_FAILED)
    STEP(m, m->jr.error);
  else if (m->jr.status != WEFT_JOIN_COMPLETED || !m->jr.output)
    STEP(m, WEFT_EFAILED);
  STEP(m, *(int *)m->jr.output); /* the sleep's own result */

  /* A blocking job spawned by a future; a NULL handle means it could not
   * be spawned (the contract does not say why). */
  STEP(m, weft_spawn_blocking_async(m->rt, blocking_job, NULL, NULL, &m->f));
  WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
  m->blk2 = *(weft_join_handle **)weft_future_output(m->f);
  weft_future_free(m->f);
  m->f = NULL;
  STEP(m, m->blk2 ? 0 : WEFT_ENOMEM);
  WEFT_AWAIT(&m->co, weft_join_poll(m->blk2, cx, &m->jr));
  if (m->jr.status == WEFT_JOIN_FAILED)
    STEP(m, m->jr.error);
  else if (m->jr.status != WEFT_JOIN_COMPLETED)
    STEP(m, WEFT_EFAILED);

  /* A task group of two: each comes back through weft_group_next. */
  STEP(m, weft_group_new(m->rt, &m->grp));
  STEP(m, weft_group_spawn(m->grp, &five_vt, NULL, 0, sizeof(int)));
  STEP(m, weft_group_spawn(m->grp, &five_vt, NULL, 0, sizeof(int)));
  for (m->ticks = 0; m->ticks < 2; m->ticks++) {
    STEP(m, weft_group_next(m->grp, &m->f));
    WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
    m->member = *(weft_join_handle **)weft_future_output(m->f);
    weft_future_free(m->f);
    m->f = NULL;
    if (!m->member)
      STEP(m, WEFT_EFAILED); /* two were spawned */
    WEFT_AWAIT(&m->co, weft_join_poll(m->member, cx, &m->jr));
    if (m->jr.status == WEFT_JOIN_FAILED)
      STEP(m, m->jr.error);
    else if (m->jr.status != WEFT_JOIN_COMPLETED || *(int *)m->jr.output != 5)
      STEP(m, WEFT_EFAILED);
    weft_join_free(m->member);
    m->member = NULL;
  }

  /* Cancellation: cancelling the root wakes a wait on its child. */
  STEP(m, weft_cancellation_token_new(&m->root));
  STEP(m, weft_cancellation_token_child(m->root, &m->kid));
  STEP(m, weft_cancellation_token_cancelled(m->kid, &m->f));
  STEP(m, weft_cancellation_token_cancel(m->root));
  AWAIT_BOXED(m, cx);

  /* A watch channel with two receivers. */
  {
    int v = 1;
    STEP(m, weft_watch_new(sizeof v, &v, &m->wtx, &m->wrx));
    STEP(m, weft_watch_rx_clone(m->wrx, &m->wrx2));
    v = 2;
    STEP(m, weft_watch_send(m->wtx, &v));
    STEP(m, weft_watch_changed(m->wrx2, &m->f));
  }
  AWAIT_BOXED(m, cx);
  {
    int v = 0;
    STEP(m, weft_watch_get(m->wrx2, &v));
    if (v != 2)
      STEP(m, WEFT_EIO);
  }

  /* Combinators: a select of a short and a long sleep, then a join_all of
   * two short ones. On an error the futures are still ours. */
  {
    weft_future *two[2] = {NULL, NULL};
    rc = weft_sleep(1, &two[0]);
    if (rc == 0)
      rc = weft_sleep(100000, &two[1]);
    if (rc == 0)
      rc = weft_select(two, 2, &m->f);
    if (rc) {
      weft_future_free(two[0]);
      weft_future_free(two[1]);
    }
    STEP(m, rc);
  }
  WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
  {
    size_t idx = 9;
    weft_future *win = weft_select_take(m->f, &idx);
    rc = win && idx == 0 ? weft_future_result(win) : WEFT_EFAILED;
    weft_future_free(win);
    weft_future_free(m->f);
    m->f = NULL;
    STEP(m, rc);
  }
  {
    weft_future *two[2] = {NULL, NULL};
    rc = weft_sleep(1, &two[0]);
    if (rc == 0)
      rc = weft_sleep(2, &two[1]);
    if (rc == 0)
      rc = weft_join_all(two, 2, &m->f);
    if (rc) {
      weft_future_free(two[0]);
      weft_future_free(two[1]);
    }
    STEP(m, rc);
  }
  WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
  {
    weft_future *a = weft_join_all_take(m->f, 0);
    weft_future *b = weft_join_all_take(m->f, 1);
    rc = a && b ? weft_future_result(a) : WEFT_EFAILED;
    if (rc == 0)
      rc = weft_future_result(b);
    weft_future_free(a);
    weft_future_free(b);
    weft_future_free(m->f);
    m->f = NULL;
    STEP(m, rc);
  }

  /* Timers: a sleep inside a timeout. */
  {
    weft_future *nap;
    STEP(m, weft_sleep(1, &nap));
    rc = weft_timeout(nap, 10000, &m->f);
    if (rc)
      weft_future_free(nap);
    STEP(m, rc);
  }
  WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
  {
    weft_timeout_output *to = weft_future_output(m->f);
    rc = to->status;
    if (rc == 0) {
      rc = weft_future_result(to->inner);
      weft_future_free(to->inner);
    }
    weft_future_free(m->f);
    m->f = NULL;
    STEP(m, rc);
  }

  /* An unbounded channel that has to grow. */
  STEP(m, weft_mpsc_unbounded_new(sizeof(int), &m->utx, &m->urx));
  for (int i = 0; i < 100; i++)
    STEP(m, weft_mpsc_try_send(m->utx, &i));
  for (int i = 0, v; i < 100; i++) {
    STEP(m, weft_mpsc_try_recv(m->urx, &v));
    if (v != i)
      STEP(m, WEFT_EIO);
  }

  /* TCP on 127.0.0.1: connect, accept, write, read. */
  {
    struct sockaddr_storage a;
    socklen_t alen;
    STEP(m, weft_addr_parse("127.0.0.1:0", &a, &alen));
    STEP(m, weft_tcp_listen((struct sockaddr *)&a, alen, 4, &m->lis));
    alen = sizeof a;
    STEP(m, weft_listener_local_addr(m->lis, &a, &alen));
    STEP(m, weft_tcp_connect((struct sockaddr *)&a, alen, 10000, &m->f));
  }
  WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
  {
    weft_stream_result *sr = weft_future_output(m->f);
    m->cli = sr->stream;
    rc = sr->error;
    weft_future_free(m->f);
    m->f = NULL;
    STEP(m, rc);
  }
  STEP(m, weft_listener_accept(m->lis, &m->f));
  WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
  {
    weft_stream_result *sr = weft_future_output(m->f);
    m->srv = sr->stream;
    rc = sr->error;
    weft_future_free(m->f);
    m->f = NULL;
    STEP(m, rc);
  }
  STEP(m, weft_stream_write_all(m->cli, "abc", 3, &m->f));
  AWAIT_BOXED(m, cx);
  STEP(m, weft_stream_read(m->srv, m->buf, sizeof m->buf, &m->f));
  WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
  {
    weft_io_result *ior = weft_future_output(m->f);
    rc = ior->error;
    if (rc == 0 && (ior->n == 0 || m->buf[0] != 'a'))
      rc = WEFT_EIO;
    weft_future_free(m->f);
    m->f = NULL;
    STEP(m, rc);
  }

  /* A signal to ourselves, delivered through the runtime. */
  STEP(m, weft_signal_new(m->rt, SIGUSR1, &m->sig));
  kill(getpid(), SIGUSR1);
  WEFT_AWAIT(&m->co, (rc = weft_signal_poll_recv(m->sig, cx)) != 0
                         ? WEFT_READY
                         : WEFT_PENDING);
  if (rc < 0)
    STEP(m, rc);

  /* The child's messages; if it failed, its join result says why. */
  STEP(m, weft_mpsc_recv(m->rx, &m->f));
  WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
  m->mpsc_rc = weft_future_result(m->f);
  if (m->mpsc_rc == 0 && *(int *)weft_future_msg(m->f) != MSG)
    m->mpsc_rc = WEFT_EIO;
  weft_future_free(m->f);
  m->f = NULL;
  STEP(m, weft_oneshot_recv(m->orx, &m->f));
  WEFT_AWAIT(&m->co, weft_future_poll(m->f, cx));
  m->oneshot_rc = weft_future_result(m->f);
  weft_future_free(m->f);
  m->f = NULL;

  WEFT_AWAIT(&m->co, weft_join_poll(m->child, cx, &m->jr));
  if (m->jr.status == WEFT_JOIN_FAILED)
    STEP(m, m->jr.error);
  else if (m->jr.status != WEFT_JOIN_COMPLETED)
    STEP(m, WEFT_EFAILED);
  STEP(m, m->mpsc_rc);
  STEP(m, m->oneshot_rc);

  WEFT_AWAIT(&m->co, weft_join_poll(m->blk, cx, &m->jr));
  if (m->jr.status == WEFT_JOIN_FAILED)
    STEP(m, m->jr.error);
  else if (m->jr.status != WEFT_JOIN_COMPLETED || !m->jr.output ||
           *(void **)m->jr.output != (void *)(uintptr_t)42)
    STEP(m, WEFT_EFAILED);

  WEFT_AWAIT(&m->co, weft_join_poll(m->idle, cx, &m->jr));
  if (m->jr.status != WEFT_JOIN_CANCELLED)
    STEP(m, WEFT_EFAILED);

  main_cleanup(m);
  m->r->out->completed = 1;
  WEFT_CORO_END(&m->co);
}

static const weft_future_vtable main_vt = {sizeof(weft_future_vtable),
                                           main_poll, NULL};

void fault_scenario_run(weft_flavor flavor, fault_accept_fn accept,
                        fault_outcome *out) {
  run r = {accept, out};
  weft_builder *b = NULL;
  weft_runtime *rt = NULL;
  memset(out, 0, sizeof *out);
  if (!check(&r, weft_builder_new(&b), __LINE__))
    return;
  if (check(&r, weft_builder_flavor(b, flavor), __LINE__) &&
      (flavor != WEFT_FLAVOR_MULTI_THREAD ||
       check(&r, weft_builder_worker_threads(b, 2), __LINE__)) &&
      check(&r, weft_builder_max_blocking_threads(b, 2), __LINE__) &&
      check(&r, weft_builder_thread_name(b, "fault"), __LINE__))
    check(&r, weft_builder_build(b, &rt), __LINE__);
  weft_builder_free(b);
  if (!rt)
    return;
  main_fut m = {.co = WEFT_CORO_INIT, .r = &r, .rt = rt, .sv = {-1, -1}};
  check(&r, weft_block_on(rt, &main_vt, &m, NULL), __LINE__);
  main_cleanup(&m); /* in case block_on gave up before the end */
  int left = weft_runtime_shutdown(rt, 5000);
  if (left != 0 && !r.out->bad_rc) {
    r.out->bad_rc = left > 0 ? WEFT_ETIMEDOUT : left;
    r.out->bad_line = __LINE__;
  }
  weft_runtime_free(rt);
}
