/* tests/reactor/test_net.c: TCP, UDP, Unix streams, fd readiness and
 * addresses over real loopback sockets on a real runtime. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_helpers.h"

static weft_runtime *rt;

static int setup(void **state) {
  (void)state;
  rt = rt_new(2, NULL);
  return rt ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  weft_runtime_free(rt);
  return 0;
}

static void loopback0(struct sockaddr_storage *ss, socklen_t *len) {
  assert_int_equal(weft_addr_parse("127.0.0.1:0", ss, len), 0);
}

/* ---- an echo task: accept one connection and echo it to EOF ---------- */
typedef struct echo_task {
  weft_coro co;
  weft_listener *l;
  weft_stream *s;
  char buf[1000];
  size_t n, off;
} echo_task;

static weft_poll echo_poll(void *p, weft_context *cx, void *out) {
  echo_task *e = p;
  (void)out;
  int rc;
  WEFT_CORO_BEGIN(&e->co);
  WEFT_AWAIT(&e->co, (rc = weft_listener_poll_accept(e->l, cx, &e->s, NULL,
                                                     NULL)) != 0
                         ? WEFT_READY
                         : WEFT_PENDING);
  if (rc < 0)
    WEFT_CORO_RETURN(&e->co);
  for (;;) {
    WEFT_AWAIT(&e->co, (rc = weft_stream_poll_read(e->s, cx, e->buf,
                                                   sizeof e->buf, &e->n)) != 0
                           ? WEFT_READY
                           : WEFT_PENDING);
    if (rc < 0 || e->n == 0)
      break;
    for (e->off = 0; e->off < e->n;) {
      size_t w = 0;
      WEFT_AWAIT(&e->co,
                 (rc = weft_stream_poll_write(e->s, cx, e->buf + e->off,
                                              e->n - e->off, &w)) != 0
                     ? WEFT_READY
                     : WEFT_PENDING);
      if (rc < 0)
        goto done;
      e->off += w;
    }
  }
done:
  weft_stream_free(e->s);
  e->s = NULL;
  WEFT_CORO_END(&e->co);
}
static const weft_future_vtable echo_vt = {sizeof(weft_future_vtable),
                                           echo_poll, NULL};

static weft_stream *connect_to(const struct sockaddr_storage *ss,
                               socklen_t len, uint64_t timeout_ms,
                               int *err) {
  weft_future *f;
  assert_int_equal(weft_tcp_connect((const struct sockaddr *)ss, len,
                                    timeout_ms, &f),
                   0);
  weft_stream_result *r = block_on_boxed(rt, f);
  assert_non_null(r);
  weft_stream *s = r->stream;
  *err = r->error;
  weft_future_free(f);
  return s;
}

static void exchange(weft_stream *c) {
  /* 200 KB each way: forces short writes and several edges. */
  size_t total = 200000;
  char *msg = malloc(total), *back = malloc(total);
  for (size_t i = 0; i < total; i++)
    msg[i] = (char)(i * 7);
  weft_future *w, *r;
  assert_int_equal(weft_stream_write_all(c, msg, total, &w), 0);
  assert_int_equal(weft_spawn_future(rt, w, NULL), 0); /* runs on a worker */
  size_t got = 0;
  while (got < total) {
    assert_int_equal(weft_stream_read(c, back + got, total - got, &r), 0);
    weft_io_result *res = block_on_boxed(rt, r);
    assert_int_equal(res->error, 0);
    assert_true(res->n > 0);
    got += res->n;
    weft_future_free(r);
  }
  assert_memory_equal(msg, back, total);
  free(msg);
  free(back);
}

static void test_net_tcp_echo_roundtrip(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  socklen_t len;
  loopback0(&ss, &len);
  echo_task e = {0};
  assert_int_equal(weft_tcp_listen((struct sockaddr *)&ss, len, 0, &e.l), 0);
  assert_int_equal(weft_listener_local_addr(e.l, &ss, &len), 0);
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &echo_vt, &e, sizeof e, 0, &h), 0);
  int err;
  weft_stream *c = connect_to(&ss, len, 2000, &err);
  assert_int_equal(err, 0);
  assert_non_null(c);
  assert_int_equal(weft_stream_set_nodelay(c, 1), 0);
  struct sockaddr_storage peer;
  socklen_t plen;
  assert_int_equal(weft_stream_peer_addr(c, &peer, &plen), 0);
  char a[64], b[64];
  assert_true(weft_addr_format((struct sockaddr *)&peer, plen, a, sizeof a) >
              0);
  assert_true(weft_addr_format((struct sockaddr *)&ss, len, b, sizeof b) > 0);
  assert_string_equal(a, b);
  exchange(c);
  /* Half-close: the echo task sees EOF, finishes and closes its side. */
  assert_int_equal(weft_stream_shutdown(c, SHUT_WR), 0);
  assert_int_equal(weft_join_wait(h, 5000, NULL), 0);
  weft_join_free(h);
  char x;
  weft_future *r;
  assert_int_equal(weft_stream_read(c, &x, 1, &r), 0);
  weft_io_result *res = block_on_boxed(rt, r);
  assert_int_equal(res->error, 0);
  assert_int_equal(res->n, 0); /* end of stream */
  weft_future_free(r);
  weft_stream_free(c);
  weft_listener_free(e.l);
}

static void test_net_tcp_connect_refused(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  socklen_t len;
  loopback0(&ss, &len);
  weft_listener *l;
  assert_int_equal(weft_tcp_listen((struct sockaddr *)&ss, len, 0, &l), 0);
  assert_int_equal(weft_listener_local_addr(l, &ss, &len), 0);
  weft_listener_free(l); /* the port is now closed */
  int err;
  assert_null(connect_to(&ss, len, 2000, &err));
  assert_int_equal(err, WEFT_ECONNREFUSED);
}

static void test_net_tcp_connect_timeout(void **state) {
  (void)state;
  /* A listener with a full accept queue that never accepts: Linux drops
   * further SYNs, so a connect hangs until our timeout. */
  struct sockaddr_storage ss;
  socklen_t len;
  loopback0(&ss, &len);
  weft_listener *l;
  assert_int_equal(weft_tcp_listen((struct sockaddr *)&ss, len, 1, &l), 0);
  assert_int_equal(weft_listener_local_addr(l, &ss, &len), 0);
  int nfd = 0, err = 0;
  uint64_t t0 = 0;
  weft_stream *held[8];
  int nheld = 0;
  for (; nfd < 8; nfd++) {
    t0 = mono_ns();
    weft_stream *s = connect_to(&ss, len, 200, &err);
    if (!s)
      break;
    held[nheld++] = s;
  }
  assert_int_equal(err, WEFT_ETIMEDOUT);
  uint64_t el = mono_ns() - t0;
  assert_true(el >= 200000000u && el < 3000000000u);
  for (int i = 0; i < nheld; i++)
    weft_stream_free(held[i]);
  weft_listener_free(l);
}

/* A task blocked in a read is woken with an error when another thread
 * closes the stream; it never hangs. */
typedef struct reader {
  weft_stream *s;
  int rc;
} reader;
static weft_poll reader_poll(void *p, weft_context *cx, void *out) {
  reader *r = p;
  (void)out;
  char b[16];
  size_t n;
  int rc = weft_stream_poll_read(r->s, cx, b, sizeof b, &n);
  if (rc == 0)
    return WEFT_PENDING;
  r->rc = rc;
  if (out)
    *(int *)out = rc;
  return WEFT_READY;
}
static const weft_future_vtable reader_vt = {sizeof(weft_future_vtable),
                                             reader_poll, NULL};

static void test_net_close_while_reading_wakes_with_error(void **state) {
  (void)state;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  weft_stream *s;
  assert_int_equal(weft_stream_from_fd(sv[0], &s), 0);
  reader r = {s, 1};
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &reader_vt, &r, sizeof r, sizeof(int), &h),
                   0);
  /* Let it block in the read. */
  assert_int_equal(weft_join_wait(h, 100, NULL), WEFT_ETIMEDOUT);
  assert_int_equal(weft_stream_close(s), 0);
  assert_int_equal(weft_stream_fd(s), -1);
  weft_join_result jr;
  assert_int_equal(weft_join_wait(h, 5000, &jr), 0);
  assert_int_equal(jr.status, WEFT_JOIN_COMPLETED);
  assert_int_equal(*(int *)jr.output, WEFT_ECLOSED);
  weft_join_free(h);
  /* Every later poll fails the same way. */
  reader again = {s, 1};
  assert_int_equal(weft_block_on(rt, &reader_vt, &again, NULL), 0);
  assert_int_equal(again.rc, WEFT_ECLOSED);
  weft_stream_free(s);
  close(sv[1]);
}

typedef struct udp_op {
  weft_udp *u;
  int send;
  const struct sockaddr_storage *to;
  socklen_t tol;
  char buf[32];
  size_t len, n;
  struct sockaddr_storage from;
  socklen_t froml;
  int rc;
} udp_op;

static weft_poll udp_op_poll(void *p, weft_context *cx, void *out) {
  udp_op *o = p;
  (void)out;
  int rc = o->send ? weft_udp_poll_send_to(o->u, cx, o->buf, o->len,
                                           (const struct sockaddr *)o->to,
                                           o->tol, &o->n)
                   : weft_udp_poll_recv_from(o->u, cx, o->buf, sizeof o->buf,
                                             &o->n, &o->from, &o->froml);
  if (rc == 0)
    return WEFT_PENDING;
  o->rc = rc;
  return WEFT_READY;
}
static const weft_future_vtable udp_op_vt = {sizeof(weft_future_vtable),
                                             udp_op_poll, NULL};

static void *late_sender(void *p) {
  const struct sockaddr_storage *to = p;
  struct timespec ts = {0, 50000000};
  nanosleep(&ts, NULL);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sendto(fd, "late", 4, 0, (const struct sockaddr *)to,
         sizeof(struct sockaddr_in));
  close(fd);
  return NULL;
}

static void test_net_udp_send_recv(void **state) {
  (void)state;
  struct sockaddr_storage a, b;
  socklen_t al, bl;
  loopback0(&a, &al);
  loopback0(&b, &bl);
  weft_udp *ua, *ub;
  assert_int_equal(weft_udp_bind((struct sockaddr *)&a, al, &ua), 0);
  assert_int_equal(weft_udp_bind((struct sockaddr *)&b, bl, &ub), 0);
  assert_int_equal(weft_udp_local_addr(ub, &b, &bl), 0);
  assert_int_equal(weft_udp_local_addr(ua, &a, &al), 0);
  udp_op snd = {.u = ua, .send = 1, .to = &b, .tol = bl, .len = 5};
  memcpy(snd.buf, "hello", 5);
  assert_int_equal(weft_block_on(rt, &udp_op_vt, &snd, NULL), 0);
  assert_int_equal(snd.rc, 1);
  assert_int_equal(snd.n, 5);
  udp_op rcv = {.u = ub};
  assert_int_equal(weft_block_on(rt, &udp_op_vt, &rcv, NULL), 0);
  assert_int_equal(rcv.rc, 1);
  assert_int_equal(rcv.n, 5);
  assert_memory_equal(rcv.buf, "hello", 5);
  char x[64], y[64];
  weft_addr_format((struct sockaddr *)&rcv.from, rcv.froml, x, sizeof x);
  weft_addr_format((struct sockaddr *)&a, al, y, sizeof y);
  assert_string_equal(x, y);
  /* A receive that has to wait for a datagram from another thread. */
  pthread_t t;
  pthread_create(&t, NULL, late_sender, &b);
  udp_op rcv2 = {.u = ub};
  assert_int_equal(weft_block_on(rt, &udp_op_vt, &rcv2, NULL), 0);
  pthread_join(t, NULL);
  assert_int_equal(rcv2.n, 4);
  assert_memory_equal(rcv2.buf, "late", 4);
  weft_udp_free(ua);
  weft_udp_free(ub);
}

static void test_net_unix_stream(void **state) {
  (void)state;
  char path[64];
  snprintf(path, sizeof path, "/tmp/weft-test-%d.sock", (int)getpid());
  unlink(path);
  echo_task e = {0};
  assert_int_equal(weft_unix_listen(path, 0, &e.l), 0);
  weft_join_handle *h;
  assert_int_equal(weft_spawn(rt, &echo_vt, &e, sizeof e, 0, &h), 0);
  weft_future *f;
  assert_int_equal(weft_unix_connect(path, 2000, &f), 0);
  weft_stream_result *r = block_on_boxed(rt, f);
  assert_int_equal(r->error, 0);
  weft_stream *c = r->stream;
  weft_future_free(f);
  assert_int_equal(weft_stream_set_nodelay(c, 1), WEFT_ENOTSUP);
  exchange(c);
  weft_stream_free(c);
  assert_int_equal(weft_join_wait(h, 5000, NULL), 0);
  weft_join_free(h);
  weft_listener_free(e.l);
  /* The path is not unlinked by weft: a second listen fails. */
  assert_int_equal(weft_unix_listen(path, 0, &e.l), WEFT_EADDRINUSE);
  unlink(path);
}

/* fd readiness on a pipe: readable future, clear, next edge. */
static void test_net_io_readiness_edges(void **state) {
  (void)state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  weft_io *io;
  assert_int_equal(weft_io_new(p[0], &io), 0);
  assert_int_equal(weft_io_fd(io), p[0]);
  assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
  weft_future *f;
  assert_int_equal(weft_io_readable(io, &f), 0);
  assert_int_equal(write(p[1], "abc", 3), 3);
  int *res = block_on_boxed(rt, f);
  assert_int_equal(*res, 0);
  weft_future_free(f);
  char buf[8];
  assert_int_equal(read(p[0], buf, sizeof buf), 3);
  assert_int_equal(read(p[0], buf, sizeof buf), -1);
  weft_io_clear_ready(io, WEFT_IO_READABLE);
  /* Now a readable future must wait for the next write. */
  assert_int_equal(weft_io_readable(io, &f), 0);
  uint64_t t0 = mono_ns();
  weft_join_handle *h;
  assert_int_equal(weft_spawn_future(rt, f, &h), 0);
  assert_int_equal(weft_join_wait(h, 50, NULL), WEFT_ETIMEDOUT);
  assert_int_equal(write(p[1], "d", 1), 1);
  weft_join_result jr;
  assert_int_equal(weft_join_wait(h, 5000, &jr), 0);
  assert_true(mono_ns() - t0 >= 50000000u);
  assert_int_equal(*(int *)jr.output, 0);
  weft_join_free(h);
  /* weft_io_free does not close the fd; weft_io_close does. */
  assert_int_equal(weft_io_writable(io, &f), 0);
  weft_future_free(f);
  weft_io_free(io);
  assert_int_equal(fcntl(p[0], F_GETFD) >= 0, 1);
  assert_int_equal(weft_io_new(p[0], &io), 0);
  assert_int_equal(weft_io_close(io), 0);
  assert_int_equal(weft_io_fd(io), -1);
  assert_int_equal(fcntl(p[0], F_GETFD), -1); /* closed */
  weft_io_free(io);
  close(p[1]);
  assert_int_equal(weft_io_new(-1, &io), WEFT_EINVAL);
}

static void test_net_addr_parse_format(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  socklen_t len;
  char buf[128];
  const char *ok[] = {"127.0.0.1:80", "[::1]:8080", "0.0.0.0:0",
                      "/tmp/x.sock", "unix:rel/x.sock", "[fe80::1]:65535"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    assert_int_equal(weft_addr_parse(ok[i], &ss, &len), 0);
    assert_true(weft_addr_format((struct sockaddr *)&ss, len, buf,
                                 sizeof buf) > 0);
    assert_string_equal(buf, ok[i]);
  }
  const char *bad[] = {"", "127.0.0.1", "127.0.0.1:65536", "1.2.3:4",
                       "[::1:80", "host:80", "1.2.3.4:-1", "unix:", "1.2.3.4:"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(weft_addr_parse(bad[i], &ss, &len), WEFT_EINVAL);
  assert_int_equal(weft_addr_parse("127.0.0.1:80", &ss, &len), 0);
  assert_int_equal(weft_addr_format((struct sockaddr *)&ss, len, buf, 5),
                   WEFT_ERANGE);
  assert_int_equal(weft_addr_parse(NULL, &ss, &len), WEFT_EINVAL);
}

/* Poll a future once, then free it: the drop of a started lookup. */
typedef struct poll_once {
  weft_future *f;
} poll_once;
static weft_poll poll_once_poll(void *p, weft_context *cx, void *out) {
  poll_once *o = p;
  (void)out;
  weft_future_poll(o->f, cx);
  weft_future_free(o->f);
  o->f = NULL;
  return WEFT_READY;
}
static const weft_future_vtable poll_once_vt = {sizeof(weft_future_vtable),
                                                poll_once_poll, NULL};

static void test_net_resolve_on_blocking_pool(void **state) {
  (void)state;
  weft_future *f;
  assert_int_equal(weft_resolve("127.0.0.1", "8080", AF_INET, &f), 0);
  weft_resolve_output *o = block_on_boxed(rt, f);
  assert_int_equal(o->error, 0);
  assert_true(o->count >= 1);
  char text[64];
  weft_addr_format((struct sockaddr *)&o->addrs[0], o->lens[0], text,
                   sizeof text);
  assert_string_equal(text, "127.0.0.1:8080");
  weft_future_free(f);
  /* "localhost" comes from /etc/hosts: no network needed. */
  assert_int_equal(weft_resolve("localhost", "http", AF_UNSPEC, &f), 0);
  o = block_on_boxed(rt, f);
  assert_int_equal(o->error, 0);
  assert_true(o->count >= 1);
  weft_future_free(f);
  /* An unknown service name is the caller's error. */
  assert_int_equal(weft_resolve("localhost", "no-such-service-xyz", AF_INET,
                                &f),
                   0);
  o = block_on_boxed(rt, f);
  assert_int_equal(o->error, WEFT_EINVAL);
  assert_int_equal(o->count, 0);
  weft_future_free(f);
  /* Dropped before its first poll, or while the lookup runs: no leak
   * (checked under ASan). */
  assert_int_equal(weft_resolve("localhost", "80", AF_INET, &f), 0);
  weft_future_free(f);
  for (int i = 0; i < 20; i++) {
    poll_once po;
    assert_int_equal(weft_resolve("localhost", "80", AF_INET, &po.f), 0);
    assert_int_equal(weft_block_on(rt, &poll_once_vt, &po, NULL), 0);
  }
  assert_int_equal(weft_resolve(NULL, "80", AF_INET, &f), WEFT_EINVAL);
  assert_int_equal(weft_resolve("x", "80", 12345, &f), WEFT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_net_tcp_echo_roundtrip),
      cmocka_unit_test(test_net_tcp_connect_refused),
      cmocka_unit_test(test_net_tcp_connect_timeout),
      cmocka_unit_test(test_net_close_while_reading_wakes_with_error),
      cmocka_unit_test(test_net_udp_send_recv),
      cmocka_unit_test(test_net_unix_stream),
      cmocka_unit_test(test_net_io_readiness_edges),
      cmocka_unit_test(test_net_addr_parse_format),
      cmocka_unit_test(test_net_resolve_on_blocking_pool),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
