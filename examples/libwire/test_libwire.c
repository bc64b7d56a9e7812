/* examples/libwire/test_libwire.c: libwire on a runtime of its own.
 *
 *   test_libwire BACKEND
 *
 * Many requests at once, pipelined requests on one connection, a request
 * line too long, and requests after the server stopped, on a
 * multi-threaded runtime over the given backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "demo.h"

static const char *backend;

static weft_runtime *runtime(void) {
  weft_builder *b;
  weft_runtime *rt = NULL;
  assert_int_equal(weft_builder_new(&b), 0);
  assert_int_equal(weft_builder_backend(b, backend), 0);
  assert_int_equal(weft_builder_worker_threads(b, 2), 0);
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_builder_free(b);
  return rt;
}

/* Start the demo server on an ephemeral port of 127.0.0.1. */
static wire_server *start_demo_server(weft_runtime *rt) {
  wire_server *s = NULL;
  assert_int_equal(
      wire_server_start(rt, "127.0.0.1:0", demo_handler, NULL, &s), 0);
  return s;
}

/* The address a client dials to reach `s`. */
static void server_addr(wire_server *s, char *addr, size_t len) {
  snprintf(addr, len, "127.0.0.1:%d", wire_server_port(s));
}

/* Await a boxed future from main() (weft_block_on takes a vtable). */
typedef struct awaiter {
  weft_future *f;
} awaiter;

static weft_poll awaiter_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  return weft_future_poll(((awaiter *)p)->f, cx);
}

static const weft_future_vtable awaiter_vt = {sizeof(weft_future_vtable),
                                              awaiter_poll, NULL};

static void await(weft_runtime *rt, weft_future *f) {
  awaiter a = {f};
  assert_int_equal(weft_block_on(rt, &awaiter_vt, &a, NULL), 0);
}

static void test_libwire_concurrent_requests(void **state) {
  (void)state;
  weft_runtime *rt = runtime();
  wire_server *s = start_demo_server(rt);
  char addr[32];
  server_addr(s, addr, sizeof addr);
  enum { N = 32 };
  weft_future *reqs[N];
  for (int i = 0; i < N; i++) {
    char line[32];
    snprintf(line, sizeof line, "ADD %d 1000", i);
    assert_int_equal(wire_client_request(addr, line, 2000, &reqs[i]), 0);
  }
  weft_future *all;
  assert_int_equal(weft_join_all(reqs, N, &all), 0);
  await(rt, all);
  for (int i = 0; i < N; i++) {
    weft_future *f = weft_join_all_take(all, (size_t)i);
    wire_reply *r = weft_future_output(f);
    assert_int_equal(r->error, 0);
    assert_int_equal(atoi(r->line), i + 1000);
    weft_future_free(f);
  }
  weft_future_free(all);
  wire_server_stop(s);
  weft_runtime_free(rt);
}

/* A plain blocking socket speaking the protocol: pipelining, and a line
 * longer than the limit, which closes the connection. */
static int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

static size_t read_all(int fd, char *buf, size_t cap) {
  size_t n = 0;
  ssize_t k;
  while (n < cap - 1 && (k = read(fd, buf + n, cap - 1 - n)) > 0)
    n += (size_t)k;
  buf[n] = '\0';
  return n;
}

static void test_libwire_pipelined_and_too_long(void **state) {
  (void)state;
  weft_runtime *rt = runtime();
  wire_server *s = start_demo_server(rt);
  int fd = raw_connect(wire_server_port(s));
  const char req[] = "PING\r\nUPPER abc\nADD 1 2\n";
  assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)sizeof req - 1);
  shutdown(fd, SHUT_WR); /* the server answers, then sees the end */
  char buf[256];
  read_all(fd, buf, sizeof buf);
  assert_string_equal(buf, "PONG\nABC\n3\n");
  close(fd);

  fd = raw_connect(wire_server_port(s));
  char big[WIRE_MAX_LINE + 64];
  memset(big, 'x', sizeof big);
  assert_int_equal(write(fd, big, sizeof big), (ssize_t)sizeof big);
  assert_int_equal(read_all(fd, buf, sizeof buf), 0); /* closed, no reply */
  close(fd);
  wire_server_stop(s);
  weft_runtime_free(rt);
}

static void test_libwire_request_after_stop_is_refused(void **state) {
  (void)state;
  weft_runtime *rt = runtime();
  wire_server *s = start_demo_server(rt);
  char addr[32];
  server_addr(s, addr, sizeof addr);
  wire_server_stop(s);
  weft_future *f;
  assert_int_equal(wire_client_request(addr, "PING", 2000, &f), 0);
  await(rt, f);
  wire_reply *r = weft_future_output(f);
  assert_int_equal(r->error, WEFT_ECONNREFUSED);
  weft_future_free(f);
  assert_int_equal(wire_client_request(addr, "two\nlines", 0, &f),
                   WEFT_EINVAL);
  assert_int_equal(wire_client_request("not an address", "PING", 0, &f),
                   WEFT_EINVAL);
  weft_runtime_free(rt);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s BACKEND\n", argv[0]);
    return 2;
  }
  backend = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_libwire_concurrent_requests),
      cmocka_unit_test(test_libwire_pipelined_and_too_long),
      cmocka_unit_test(test_libwire_request_after_stop_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
