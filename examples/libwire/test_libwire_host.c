/* examples/libwire/test_libwire_host.c: run a libwire host program and
 * check what it printed.
 *
 *   test_libwire_host HOST-PROGRAM LOOP       (LOOP: libuv, libevent, libev)
 *
 * The host must attach weft to its own loop (the runtime reports the
 * matching backend), get every scripted reply right, show its own timer
 * firing between weft's requests (the tick count printed with each reply
 * grows), and end with its loop closed cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../common/run_example.h"

static char *host;
static char *loop;

static const char *const replies[] = {
    "client: PING -> PONG (host timer ticks so far: ",
    "client: UPPER hello, loop -> HELLO, LOOP (host timer ticks so far: ",
    "client: ADD 2 40 -> 42 (host timer ticks so far: ",
    "client: FLY -> ERR unknown command (host timer ticks so far: ",
};

static void test_libwire_host_serves_and_queries_on_its_loop(void **state) {
  (void)state;
  char *argv[] = {host, NULL};
  run_output r;
  assert_int_equal(run_example(argv, NULL, 20000, &r), 0);
  fprintf(stderr, "%s%s", r.out, r.err);
  assert_int_equal(r.status, 0);

  char first[96];
  snprintf(first, sizeof first, "host: %s loop, weft on backend %s, "
                                "server on port ", loop, loop);
  assert_int_equal(strncmp(r.out, first, strlen(first)), 0);

  /* The replies, in order, each with the host's tick count at the time. */
  const char *at = r.out;
  int ticks[4];
  for (int i = 0; i < 4; i++) {
    at = strstr(at, replies[i]);
    assert_non_null(at);
    at += strlen(replies[i]);
    ticks[i] = atoi(at);
  }
  /* 20 ms pauses between requests, a 5 ms host timer: the host's callback
   * ran while weft's client waited. */
  assert_true(ticks[3] > ticks[0]);
  assert_null(strstr(r.out, "UNEXPECTED"));

  const char *last = strstr(at, "host: ");
  assert_non_null(last);
  assert_non_null(strstr(last, " timer ticks; loop closed cleanly\n"));
  assert_true(atoi(last + strlen("host: ")) >= ticks[3]);
  run_output_free(&r);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s HOST-PROGRAM LOOP\n", argv[0]);
    return 2;
  }
  host = argv[1];
  loop = argv[2];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_libwire_host_serves_and_queries_on_its_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
