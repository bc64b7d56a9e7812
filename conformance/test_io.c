/* conformance/test_io.c: readiness on real fds (socketpairs, pipes and TCP
 * on 127.0.0.1) through the backend under test. These are the hazards
 * adapters get wrong: readiness and a timer in the same loop iteration, a
 * registration removed from inside a readiness callback, an fd closed while
 * a task waits on it, and thousands of registrations at once. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/io.h>
#include <weft/time.h>

#include "conf.h"

static void pair(int sv[2]) {
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

/* A task that waits until `io` is readable, drains it, and counts bytes;
 * it finishes after `want` bytes, or with the error poll_ready returned. */
typedef struct reader {
  weft_io *io;
  size_t want, got;
  int err;
  int close_inside; /* close the io from inside the readiness poll */
} reader;

static weft_poll reader_poll(void *arg, weft_context *cx) {
  reader *r = arg;
  for (;;) {
    uint32_t ready = 0;
    int rc = weft_io_poll_ready(r->io, cx, WEFT_IO_READABLE, &ready);
    if (rc < 0) {
      r->err = rc;
      return WEFT_READY;
    }
    if (rc == 0)
      return WEFT_PENDING;
    char buf[512];
    ssize_t n;
    while ((n = read(weft_io_fd(r->io), buf, sizeof buf)) > 0)
      r->got += (size_t)n;
    if (n == 0 || r->got >= r->want) {
      if (r->close_inside)
        assert_int_equal(weft_io_close(r->io), 0);
      return WEFT_READY;
    }
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    weft_io_clear_ready(r->io, WEFT_IO_READABLE);
  }
}

typedef struct writer_arg {
  int fd;
  unsigned delay_ms;
  int chunks;
} writer_arg;

static void *writer_thread(void *arg) {
  writer_arg *w = arg;
  for (int i = 0; i < w->chunks; i++) {
    conf_sleep_ms(w->delay_ms);
    if (write(w->fd, "0123456789", 10) != 10)
      return (void *)1;
  }
  return NULL;
}

/* I: readiness from another thread's write reaches a waiting task, and
 * edge semantics hold: after EAGAIN and clear, the next write is a new
 * edge. */
static void test_io_readable_edges_reach_task(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  int sv[2];
  pair(sv);
  reader r = {.want = 50};
  assert_int_equal(weft_io_new(sv[0], &r.io), 0);
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, reader_poll, &r, &h), 0);
  writer_arg w = {sv[1], 5, 5};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, writer_thread, &w), 0);
  conf_join(rt, h, NULL);
  pthread_join(th, NULL);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.got, 50);
  weft_join_free(h);
  assert_int_equal(weft_io_close(r.io), 0);
  weft_io_free(r.io);
  close(sv[1]);
  weft_runtime_free(rt);
}

/* I: a fresh socket is writable; a peer that hangs up makes the reader
 * see end of stream. */
typedef struct wr {
  weft_io *io;
  uint32_t ready;
} wr;

static weft_poll writable_poll(void *arg, weft_context *cx) {
  wr *w = arg;
  int rc = weft_io_poll_ready(w->io, cx, WEFT_IO_WRITABLE, &w->ready);
  assert_true(rc >= 0);
  return rc == 1 ? WEFT_READY : WEFT_PENDING;
}

static void test_io_writable_and_hangup(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  int sv[2];
  pair(sv);
  wr w = {0};
  assert_int_equal(weft_io_new(sv[0], &w.io), 0);
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, writable_poll, &w, &h), 0);
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_true(w.ready & WEFT_IO_WRITABLE);
  reader r = {.io = w.io, .want = SIZE_MAX};
  assert_int_equal(conf_spawn_fn(rt, reader_poll, &r, &h), 0);
  conf_sleep_ms(10);
  close(sv[1]); /* hang up */
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.got, 0);
  weft_io_close(w.io);
  weft_io_free(w.io);
  weft_runtime_free(rt);
}

/* I: an fd closed (weft_io_close) while a task waits on it: the task wakes
 * with WEFT_ECLOSED; nothing is reported for the fd afterwards. */
typedef struct closer {
  weft_io *io;
  unsigned delay_ms;
} closer;

static void *closer_thread(void *arg) {
  closer *c = arg;
  conf_sleep_ms(c->delay_ms);
  return (void *)(intptr_t)weft_io_close(c->io);
}

static void test_io_close_while_task_waits(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  for (int round = 0; round < 10; round++) {
    int sv[2];
    pair(sv);
    reader r = {.want = 1};
    assert_int_equal(weft_io_new(sv[0], &r.io), 0);
    weft_join_handle *h = NULL;
    assert_int_equal(conf_spawn_fn(rt, reader_poll, &r, &h), 0);
    closer c = {r.io, (unsigned)(round % 3) * 5};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, closer_thread, &c), 0);
    conf_join(rt, h, NULL);
    void *rc = NULL;
    pthread_join(th, &rc);
    assert_int_equal((int)(intptr_t)rc, 0);
    /* Either the close came first (ECLOSED) or the task never saw data. */
    assert_int_equal(r.err, WEFT_ECLOSED);
    assert_int_equal(weft_io_fd(r.io), -1);
    /* The peer's write now goes nowhere, and must not reach a freed
     * registration. */
    (void)!write(sv[1], "x", 1);
    weft_io_free(r.io);
    close(sv[1]);
    weft_join_free(h);
  }
  weft_runtime_free(rt);
}

/* I: deregistering from inside a readiness callback: tasks close their own
 * and each other's fds in the poll that readiness caused, while other fds
 * of the same loop iteration are still to be delivered. */
static void test_io_deregister_inside_readiness(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(1);
  enum { N = 16 };
  int sv[N][2];
  reader r[N];
  weft_join_handle *h[N];
  for (int i = 0; i < N; i++) {
    pair(sv[i]);
    r[i] = (reader){.want = 1, .close_inside = 1};
    assert_int_equal(weft_io_new(sv[i][0], &r[i].io), 0);
    assert_int_equal(conf_spawn_fn(rt, reader_poll, &r[i], &h[i]), 0);
  }
  /* Let every task register, then make all fds ready at once, so one
   * backend poll reports them together. */
  conf_sleep_ms(20);
  for (int i = 0; i < N; i++)
    assert_int_equal(write(sv[i][1], "y", 1), 1);
  for (int i = 0; i < N; i++) {
    conf_join(rt, h[i], NULL);
    weft_join_free(h[i]);
    assert_int_equal(r[i].err, 0);
    assert_int_equal(r[i].got, 1);
    assert_int_equal(weft_io_fd(r[i].io), -1);
    weft_io_free(r[i].io);
    close(sv[i][1]);
  }
  weft_runtime_free(rt);
}

/* I: a timer and readiness due in the same loop iteration are both
 * delivered. One worker is kept busy while the data arrives and the timer
 * expires, so the next backend poll sees both at once. */
typedef struct both {
  weft_io *io;
  weft_future *sleep;
  int got_timer, got_io;
} both;

static weft_poll both_poll(void *arg, weft_context *cx) {
  both *b = arg;
  if (!b->sleep)
    assert_int_equal(weft_sleep(20, &b->sleep), 0);
  if (!b->got_timer && weft_future_poll(b->sleep, cx) == WEFT_READY)
    b->got_timer = 1;
  if (!b->got_io) {
    int rc = weft_io_poll_ready(b->io, cx, WEFT_IO_READABLE, NULL);
    assert_true(rc >= 0);
    b->got_io = rc == 1;
  }
  if (b->got_timer && b->got_io) {
    weft_future_free(b->sleep);
    b->sleep = NULL;
    return WEFT_READY;
  }
  return WEFT_PENDING;
}

static weft_poll busy_poll(void *arg, weft_context *cx) {
  (void)cx;
  int fd = *(int *)arg;
  conf_sleep_ms(10);
  assert_int_equal(write(fd, "z", 1), 1);
  conf_sleep_ms(40); /* the timer expires meanwhile */
  return WEFT_READY;
}

static void test_io_timer_and_readiness_same_iteration(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(1);
  int sv[2];
  pair(sv);
  both b = {0};
  assert_int_equal(weft_io_new(sv[0], &b.io), 0);
  weft_join_handle *h = NULL, *hb = NULL;
  assert_int_equal(conf_spawn_fn(rt, both_poll, &b, &h), 0);
  conf_sleep_ms(5);
  assert_int_equal(conf_spawn_fn(rt, busy_poll, &sv[1], &hb), 0);
  conf_join(rt, hb, NULL);
  conf_join(rt, h, NULL);
  assert_int_equal(b.got_timer, 1);
  assert_int_equal(b.got_io, 1);
  weft_join_free(h);
  weft_join_free(hb);
  weft_io_close(b.io);
  weft_io_free(b.io);
  close(sv[1]);
  weft_runtime_free(rt);
}

/* I: 10,000 fds registered at once; readiness on a few of them is still
 * reported to the right tasks. */
typedef struct reg_all {
  weft_io **ios;
  int n;
  int registered;
} reg_all;

static weft_poll reg_all_poll(void *arg, weft_context *cx) {
  reg_all *a = arg;
  for (; a->registered < a->n; a->registered++) {
    int rc = weft_io_poll_ready(a->ios[a->registered], cx, WEFT_IO_READABLE,
                                NULL);
    assert_int_equal(rc, 0); /* registered, nothing to read yet */
  }
  return WEFT_READY;
}

static void test_io_ten_thousand_fds(void **state) {
  (void)state;
  enum { FDS = 10000 };
  struct rlimit rl;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < FDS + 200) {
    print_message("skipping: RLIMIT_NOFILE hard limit %llu < %d\n",
                  (unsigned long long)rl.rlim_max, FDS + 200);
    skip();
  }
  rl.rlim_cur = rl.rlim_max;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
  weft_runtime *rt = conf_rt_new(2);
  int pairs = FDS / 2;
  int(*sv)[2] = calloc((size_t)pairs, sizeof *sv);
  weft_io **ios = calloc((size_t)pairs, sizeof *ios);
  assert_non_null(sv);
  assert_non_null(ios);
  for (int i = 0; i < pairs; i++) {
    pair(sv[i]);
    assert_int_equal(weft_io_new(sv[i][0], &ios[i]), 0);
  }
  reg_all a = {ios, pairs, 0};
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, reg_all_poll, &a, &h), 0);
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_int_equal(a.registered, pairs);
  /* Every other end is an fd too: 10,000 in all. Now wake a few. */
  for (int k = 0; k < 5; k++) {
    int i = (k * 997) % pairs;
    reader r = {.io = ios[i], .want = 1};
    assert_int_equal(conf_spawn_fn(rt, reader_poll, &r, &h), 0);
    assert_int_equal(write(sv[i][1], "k", 1), 1);
    conf_join(rt, h, NULL);
    weft_join_free(h);
    assert_int_equal(r.got, 1);
  }
  for (int i = 0; i < pairs; i++) {
    assert_int_equal(weft_io_close(ios[i]), 0);
    weft_io_free(ios[i]);
    close(sv[i][1]);
  }
  free(sv);
  free(ios);
  weft_runtime_free(rt);
}

/* I: TCP on 127.0.0.1: a non-blocking accept and connect driven by
 * readiness, then data both ways. */
typedef struct tcp {
  weft_io *lis, *cli, *srv;
  int stage;
  char got[8];
} tcp;

static weft_poll tcp_poll(void *arg, weft_context *cx) {
  tcp *t = arg;
  int rc;
  if (t->stage == 0) { /* accept */
    rc = weft_io_poll_ready(t->lis, cx, WEFT_IO_READABLE, NULL);
    assert_true(rc >= 0);
    if (rc == 0)
      return WEFT_PENDING;
    int fd = accept(weft_io_fd(t->lis), NULL, NULL);
    if (fd < 0) {
      assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
      weft_io_clear_ready(t->lis, WEFT_IO_READABLE);
      return tcp_poll(arg, cx);
    }
    assert_int_equal(weft_io_new(fd, &t->srv), 0);
    t->stage = 1;
  }
  if (t->stage == 1) { /* connect completes: writable */
    rc = weft_io_poll_ready(t->cli, cx, WEFT_IO_WRITABLE, NULL);
    assert_true(rc >= 0);
    if (rc == 0)
      return WEFT_PENDING;
    assert_int_equal(write(weft_io_fd(t->cli), "ping", 4), 4);
    t->stage = 2;
  }
  rc = weft_io_poll_ready(t->srv, cx, WEFT_IO_READABLE, NULL);
  assert_true(rc >= 0);
  if (rc == 0)
    return WEFT_PENDING;
  ssize_t n = read(weft_io_fd(t->srv), t->got, 4);
  if (n < 0) {
    assert_true(errno == EAGAIN);
    weft_io_clear_ready(t->srv, WEFT_IO_READABLE);
    return tcp_poll(arg, cx);
  }
  assert_int_equal(n, 4);
  return WEFT_READY;
}

static void test_io_tcp_loopback(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  assert_true(lfd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(lfd, 16), 0);
  socklen_t len = sizeof sa;
  assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
  int cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  assert_true(cfd >= 0);
  int rc = connect(cfd, (struct sockaddr *)&sa, sizeof sa);
  assert_true(rc == 0 || errno == EINPROGRESS);
  tcp t = {0};
  assert_int_equal(weft_io_new(lfd, &t.lis), 0);
  assert_int_equal(weft_io_new(cfd, &t.cli), 0);
  weft_join_handle *h = NULL;
  assert_int_equal(conf_spawn_fn(rt, tcp_poll, &t, &h), 0);
  conf_join(rt, h, NULL);
  weft_join_free(h);
  assert_memory_equal(t.got, "ping", 4);
  weft_io_close(t.lis);
  weft_io_close(t.cli);
  weft_io_close(t.srv);
  weft_io_free(t.lis);
  weft_io_free(t.cli);
  weft_io_free(t.srv);
  weft_runtime_free(rt);
}

/* I: shutdown while I/O is pending: the waiting task is dropped, its drop
 * closes the registration while the runtime still exists, and nothing
 * fires afterwards. */
typedef struct owned_io {
  weft_io *io;
  _Atomic int *drops;
} owned_io;

static weft_poll owned_io_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  owned_io *o = p;
  int rc = weft_io_poll_ready(o->io, cx, WEFT_IO_READABLE, NULL);
  assert_true(rc >= 0);
  return rc == 1 ? WEFT_READY : WEFT_PENDING;
}

static void owned_io_drop(void *p) {
  owned_io *o = p;
  weft_io_close(o->io);
  weft_io_free(o->io);
  atomic_fetch_add(o->drops, 1);
}

static const weft_future_vtable owned_io_vt = {sizeof(weft_future_vtable),
                                               owned_io_poll, owned_io_drop};

static void test_io_shutdown_while_io_pending(void **state) {
  (void)state;
  weft_runtime *rt = conf_rt_new(2);
  enum { N = 8 };
  int sv[N][2];
  _Atomic int drops = 0;
  for (int i = 0; i < N; i++) {
    pair(sv[i]);
    owned_io o = {NULL, &drops};
    assert_int_equal(weft_io_new(sv[i][0], &o.io), 0);
    assert_int_equal(weft_spawn_detached(rt, &owned_io_vt, &o, sizeof o), 0);
  }
  conf_sleep_ms(20); /* the workers poll, and so register, every task */
  for (int i = 0; i < N / 2; i++)
    (void)!write(sv[i][1], "q", 1); /* some ready, some not */
  weft_runtime_free(rt);
  assert_int_equal(atomic_load(&drops), N);
  for (int i = 0; i < N; i++)
    close(sv[i][1]);
}

static const conf_test tests[] = {
    CONF_TEST("I1", test_io_readable_edges_reach_task, CONF_NEEDS_IO),
    CONF_TEST("I1", test_io_writable_and_hangup, CONF_NEEDS_IO),
    CONF_TEST("I2", test_io_close_while_task_waits, CONF_NEEDS_IO),
    CONF_TEST("I3", test_io_deregister_inside_readiness, CONF_NEEDS_IO),
    CONF_TEST("I4", test_io_timer_and_readiness_same_iteration,
              CONF_NEEDS_IO | CONF_NEEDS_REAL_TIME),
    CONF_TEST("I5", test_io_ten_thousand_fds, CONF_NEEDS_IO),
    CONF_TEST("I1", test_io_tcp_loopback, CONF_NEEDS_IO),
    CONF_TEST("I6", test_io_shutdown_while_io_pending, CONF_NEEDS_IO),
};

CONF_AREA(conf_area_io, "io", tests);
