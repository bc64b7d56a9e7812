/* tests/reactor/test_stream_eof.c: an end of stream queued behind data.
 *
 *   test_reactor_stream_eof BACKEND
 *
 * The peer sends a few bytes and shuts its side down before the reader
 * first polls, so the data and the FIN are reported by one readiness event.
 * The reader's first read is short (fewer bytes than it asked for); the
 * next one must find the end of stream. An edge-triggered backend reports
 * nothing more after that event, so a stream that took the short read as
 * "drained" and waited for the next edge would wait forever. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

static const char *backend;

typedef struct reader {
  weft_stream *s;
  size_t total;
  char buf[64];
} reader;

typedef struct reader_out {
  size_t total; /* bytes read */
  int end;      /* 1: end of stream seen; else the error */
} reader_out;

static weft_poll reader_poll(void *p, weft_context *cx, void *out) {
  reader *r = p;
  reader_out *o = out;
  for (;;) {
    size_t n;
    int rc = weft_stream_poll_read(r->s, cx, r->buf, sizeof r->buf, &n);
    if (rc == WEFT_PENDING)
      return WEFT_PENDING;
    if (rc < 0 || n == 0) {
      *o = (reader_out){r->total, rc < 0 ? rc : 1};
      return WEFT_READY;
    }
    r->total += n;
  }
}

static void reader_drop(void *p) { weft_stream_free(((reader *)p)->s); }

static const weft_future_vtable reader_vt = {sizeof(weft_future_vtable),
                                             reader_poll, reader_drop};

static void test_stream_eof_after_short_read_is_seen(void **state) {
  (void)state;
  weft_builder *b;
  weft_runtime *rt;
  assert_int_equal(weft_builder_new(&b), 0);
  assert_int_equal(weft_builder_backend(b, backend), 0);
  assert_int_equal(weft_builder_worker_threads(b, 2), 0);
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_builder_free(b);

  for (int round = 0; round < 20; round++) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* Data and FIN are queued before weft ever sees the socket. */
    assert_int_equal(write(sv[1], "hello", 5), 5);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    reader r = {0};
    assert_int_equal(weft_stream_from_fd(sv[0], &r.s), 0);
    weft_join_handle *h;
    assert_int_equal(
        weft_spawn(rt, &reader_vt, &r, sizeof r, sizeof(reader_out), &h), 0);
    weft_join_result res;
    assert_int_equal(weft_join_wait(h, 5000, &res), 0); /* not a hang */
    assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
    reader_out *o = res.output;
    assert_int_equal(o->end, 1);
    assert_int_equal(o->total, 5);
    weft_join_free(h);
    close(sv[1]);
  }
  weft_runtime_free(rt);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s BACKEND\n", argv[0]);
    return 2;
  }
  backend = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream_eof_after_short_read_is_seen),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
