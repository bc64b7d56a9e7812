/* tests/reactor/test_emfile.c: an accept loop that runs out of file
 * descriptors (RLIMIT_NOFILE = 32) backs off instead of spinning, reports
 * the error once, and recovers when descriptors are freed. */
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_helpers.h"

#define CLIENTS 4

typedef struct shared {
  atomic_int errors_returned;
  atomic_int accepted;
  int last_error;
} shared;

typedef struct acceptor {
  weft_listener *l;
  shared *sh;
} acceptor;

static weft_poll acceptor_poll(void *p, weft_context *cx, void *out) {
  acceptor *a = p;
  (void)out;
  while (atomic_load(&a->sh->accepted) < CLIENTS) {
    weft_stream *s;
    int rc = weft_listener_poll_accept(a->l, cx, &s, NULL, NULL);
    if (rc == 0)
      return WEFT_PENDING;
    if (rc < 0) {
      a->sh->last_error = rc;
      atomic_fetch_add(&a->sh->errors_returned, 1);
      continue; /* a naive loop: try again at once */
    }
    weft_stream_free(s);
    atomic_fetch_add(&a->sh->accepted, 1);
  }
  return WEFT_READY;
}
static const weft_future_vtable acceptor_vt = {sizeof(weft_future_vtable),
                                               acceptor_poll, NULL};

static uint64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
             1000000000u +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
             1000u;
}

static void test_emfile_accept_backs_off_without_spinning(void **state) {
  (void)state;
  struct rlimit rl = {32, 32};
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
  weft_runtime *rt = rt_new(2, NULL);
  assert_non_null(rt);
  struct sockaddr_storage ss;
  socklen_t len;
  assert_int_equal(weft_addr_parse("127.0.0.1:0", &ss, &len), 0);
  weft_listener *l;
  assert_int_equal(weft_tcp_listen((struct sockaddr *)&ss, len, 16, &l), 0);
  assert_int_equal(weft_listener_local_addr(l, &ss, &len), 0);
  int clients[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) {
    clients[i] = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(clients[i] >= 0);
    /* Completes in the kernel: the connection waits in the backlog. */
    assert_int_equal(connect(clients[i], (struct sockaddr *)&ss, len), 0);
  }
  /* Use up every descriptor left. */
  int fill[64], nfill = 0;
  while (nfill < 64) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      break;
    fill[nfill++] = fd;
  }
  assert_true(nfill < 64);

  shared sh = {0};
  acceptor a = {l, &sh};
  weft_join_handle *h;
  uint64_t cpu0 = cpu_ns();
  assert_int_equal(weft_spawn(rt, &acceptor_vt, &a, sizeof a, 0, &h), 0);
  assert_int_equal(weft_join_wait(h, 1000, NULL), WEFT_ETIMEDOUT);
  uint64_t cpu = cpu_ns() - cpu0;
  uint64_t errs = weft_listener_accept_errors(l);
  fprintf(stderr, "1 s out of fds: %.1f ms CPU, %llu accept errors\n",
          cpu / 1e6, (unsigned long long)errs);
  /* Spinning would burn most of a core; backing off costs ~nothing. */
  assert_true(cpu < 250000000u);
  assert_true(errs >= 2 && errs <= 40); /* ~every 100 ms */
  assert_int_equal(atomic_load(&sh.errors_returned), 1); /* reported once */
  assert_int_equal(sh.last_error, WEFT_EMFILE);
  assert_int_equal(atomic_load(&sh.accepted), 0);

  /* Free descriptors: the next attempt after the back-off succeeds. */
  for (int i = 0; i < nfill; i++)
    close(fill[i]);
  assert_int_equal(weft_join_wait(h, 3000, NULL), 0);
  assert_int_equal(atomic_load(&sh.accepted), CLIENTS);
  weft_join_free(h);
  for (int i = 0; i < CLIENTS; i++)
    close(clients[i]);
  weft_listener_free(l);
  weft_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_emfile_accept_backs_off_without_spinning),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
