/* examples/port-scanner/test_port_scanner.c: run the scanner against
 * listeners this test opens itself on 127.0.0.1.
 *
 *   test_port_scanner PORT-SCANNER BACKEND
 *
 * It finds ten consecutive free ports, listens on three of them, makes one
 * listener whose accept queue is full (Linux then drops new SYNs, so a
 * connect there hangs until its timeout) and leaves the others closed. It
 * checks that the scanner prints exactly the three open ones, in order,
 * counts the full one as timed out, and kept within its bound of connects
 * in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../common/run_example.h"

static char *scanner_path;
static char *backend;

enum { SPAN = 10 };
static const int open_at[] = {1, 4, 7}; /* offsets in the span */
enum { FULL_AT = 9 };

static int bind_port(unsigned port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* A base port such that base..base+SPAN-1 are all free now. The open ones
 * stay bound (and listen); the closed ones are bound and released, so
 * nothing else listens there. */
static unsigned find_span(int fds[SPAN]) {
  srand((unsigned)getpid());
  for (int attempt = 0; attempt < 200; attempt++) {
    /* Below Linux's ephemeral range (32768 and up), so that listeners on
     * port 0 opened meanwhile by other programs cannot land in the span. */
    unsigned base = 20000 + (unsigned)rand() % 12000;
    int ok = 1;
    for (int i = 0; i < SPAN; i++)
      fds[i] = -1;
    for (int i = 0; i < SPAN && ok; i++)
      ok = (fds[i] = bind_port(base + (unsigned)i)) >= 0;
    if (ok)
      return base;
    for (int i = 0; i < SPAN; i++)
      if (fds[i] >= 0)
        close(fds[i]);
  }
  return 0;
}

static int is_open(int i) {
  for (size_t k = 0; k < sizeof open_at / sizeof *open_at; k++)
    if (open_at[k] == i)
      return 1;
  return 0;
}

static void test_port_scanner_prints_open_ports_sorted(void **state) {
  (void)state;
  int fds[SPAN];
  unsigned base = find_span(fds);
  assert_true(base > 0);
  char expected[256] = "";
  int fillers[3];
  for (int i = 0; i < SPAN; i++) {
    if (i == FULL_AT) {
      /* Backlog 0 holds one connection; the others wait in SYN retries. */
      assert_int_equal(listen(fds[i], 0), 0);
      struct sockaddr_in a = {0};
      a.sin_family = AF_INET;
      a.sin_port = htons((uint16_t)(base + (unsigned)i));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      for (int k = 0; k < 3; k++) {
        fillers[k] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fillers[k] >= 0);
        connect(fillers[k], (struct sockaddr *)&a, sizeof a);
      }
      usleep(50 * 1000); /* let the handshakes land in the queue */
    } else if (is_open(i)) {
      assert_int_equal(listen(fds[i], 16), 0);
      char line[32];
      snprintf(line, sizeof line, "%u open\n", base + (unsigned)i);
      strcat(expected, line);
    } else {
      close(fds[i]);
      fds[i] = -1;
    }
  }
  char range[32];
  snprintf(range, sizeof range, "%u-%u", base, base + SPAN - 1);
  char *argv[] = {scanner_path, "127.0.0.1", range, "--concurrency", "3",
                  "--timeout-ms", "300", NULL};
  run_output r;
  assert_int_equal(run_example(argv, backend, 20000, &r), 0);
  fprintf(stderr, "%s", r.err);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, expected);
  /* The summary names the counts and the bound it kept. */
  char summary[160];
  snprintf(summary, sizeof summary, "%d ports, 3 open, 6 closed, 1 timed out",
           SPAN);
  assert_non_null(strstr(r.err, summary));
  const char *at_most = strstr(r.err, "at most ");
  assert_non_null(at_most);
  int in_flight = atoi(at_most + strlen("at most "));
  assert_true(in_flight >= 1 && in_flight <= 3);
  char on[64];
  snprintf(on, sizeof on, "on %s\n", backend);
  assert_non_null(strstr(r.err, on));
  run_output_free(&r);
  for (int k = 0; k < 3; k++)
    close(fillers[k]);
  for (int i = 0; i < SPAN; i++)
    if (fds[i] >= 0)
      close(fds[i]);
}

static void test_port_scanner_rejects_bad_arguments(void **state) {
  (void)state;
  char *bad[][6] = {
      {scanner_path, "127.0.0.1", NULL},
      {scanner_path, "127.0.0.1", "90-80", NULL},
      {scanner_path, "127.0.0.1", "1-2", "--concurrency", "0", NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    run_output r;
    assert_int_equal(run_example(bad[i], backend, 10000, &r), 0);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "usage: port-scanner"));
    run_output_free(&r);
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT-SCANNER BACKEND\n", argv[0]);
    return 2;
  }
  scanner_path = argv[1];
  backend = argv[2];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_port_scanner_prints_open_ports_sorted),
      cmocka_unit_test(test_port_scanner_rejects_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
