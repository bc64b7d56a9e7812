/* tests/reliability/test_flood.c: a listener flooded while the server is out
 * of file descriptors (RLIMIT_NOFILE = 32), on the backend named by argv[1].
 *
 * The server runs in a forked child, because the descriptor limit is per
 * process: the child sets the limit and runs a weft echo server; the parent
 * is the clients. The parent first opens a few connections and checks they
 * echo, then floods the listener with many more connections (which use up
 * the child's descriptors and then wait in the backlog) while it keeps
 * doing echo round trips on the first connections.
 *
 * Asserted: every round trip during the flood succeeds; the accept loop saw
 * WEFT_EMFILE and weft_listener_accept_errors counted the episodes; the
 * child's CPU time (getrusage, all its threads) during the flood stays under
 * 50 ms per second. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <weft.h>
#include <weft/net.h>

#include "rel_helpers.h"

#define ESTABLISHED 3
#define FLOOD_CONNS 400

/* argv[1]: the backend to select with weft_builder_backend, or
 * "env:NAME" to leave the builder alone and expect NAME (selected by the
 * WEFT_BACKEND variable meson sets for that run). */
static const char *backend;  /* for the builder, NULL: the default */
static const char *expected; /* the name the runtime must report */

/* ---- The server (child) ------------------------------------------------- */

typedef struct echo_conn {
  weft_stream *s;
  char buf[256];
  size_t len, off;
} echo_conn;

static void echo_conn_drop(void *p) { weft_stream_free(((echo_conn *)p)->s); }

static weft_poll echo_conn_poll(void *p, weft_context *cx, void *out) {
  echo_conn *c = p;
  (void)out;
  for (;;) {
    size_t n = 0;
    if (c->off == c->len) {
      int r = weft_stream_poll_read(c->s, cx, c->buf, sizeof c->buf, &n);
      if (r == 0)
        return WEFT_PENDING;
      if (r < 0 || n == 0)
        return WEFT_READY;
      c->len = n;
      c->off = 0;
    }
    int r = weft_stream_poll_write(c->s, cx, c->buf + c->off,
                                   c->len - c->off, &n);
    if (r == 0)
      return WEFT_PENDING;
    if (r < 0)
      return WEFT_READY;
    c->off += n;
  }
}

static const weft_future_vtable echo_conn_vt = {
    sizeof(weft_future_vtable), echo_conn_poll, echo_conn_drop};

typedef struct server_stats {
  atomic_int accepted;
  atomic_int emfile_returned; /* WEFT_EMFILE seen by the accept loop */
  atomic_int other_errors;
} server_stats;

typedef struct acceptor {
  weft_listener *l;
  weft_runtime *rt;
  server_stats *st;
} acceptor;

static weft_poll acceptor_poll(void *p, weft_context *cx, void *out) {
  acceptor *a = p;
  (void)out;
  for (;;) {
    weft_stream *s;
    int rc = weft_listener_poll_accept(a->l, cx, &s, NULL, NULL);
    if (rc == 0)
      return WEFT_PENDING;
    if (rc == WEFT_EMFILE || rc == WEFT_ENFILE) {
      atomic_fetch_add(&a->st->emfile_returned, 1);
      continue;
    }
    if (rc < 0) {
      atomic_fetch_add(&a->st->other_errors, 1);
      return WEFT_READY;
    }
    echo_conn c = {s, {0}, 0, 0};
    if (weft_spawn_detached(a->rt, &echo_conn_vt, &c, sizeof c) < 0)
      weft_stream_free(s);
    else
      atomic_fetch_add(&a->st->accepted, 1);
  }
}

static const weft_future_vtable acceptor_vt = {sizeof(weft_future_vtable),
                                               acceptor_poll, NULL};

/* What the child reports to the parent at the end. */
typedef struct report {
  int ok;
  uint64_t flood_cpu_ns, flood_wall_ns;
  uint64_t accept_errors;
  int emfile_returned, accepted, other_errors;
  char backend[32];
} report;

/* The child: build the server, send the port on `out`, then wait for the
 * parent's marks on `ctl`: 'S' starts the CPU measure, 'E' ends it. */
static int child_main(int ctl, int out) {
  report rep;
  memset(&rep, 0, sizeof rep);
  weft_runtime *rt = rel_runtime(2, backend);
  if (!rt)
    return 10;
  snprintf(rep.backend, sizeof rep.backend, "%s",
           weft_runtime_backend_name(rt));
  struct sockaddr_storage ss;
  socklen_t len;
  weft_listener *l;
  if (weft_addr_parse("127.0.0.1:0", &ss, &len) < 0 ||
      weft_tcp_listen((struct sockaddr *)&ss, len, 64, &l) < 0 ||
      weft_listener_local_addr(l, &ss, &len) < 0)
    return 11;
  /* The limit comes after the runtime and listener exist: everything the
   * server needs from now on must fit in what is left. */
  struct rlimit rl = {32, 32};
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
    return 12;
  server_stats st;
  atomic_init(&st.accepted, 0);
  atomic_init(&st.emfile_returned, 0);
  atomic_init(&st.other_errors, 0);
  acceptor a = {l, rt, &st};
  weft_join_handle *h;
  if (weft_spawn(rt, &acceptor_vt, &a, sizeof a, 0, &h) < 0)
    return 13;
  uint16_t port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (write(out, &port, sizeof port) != sizeof port)
    return 14;
  char c;
  uint64_t cpu0 = 0, wall0 = 0;
  while (read(ctl, &c, 1) == 1) {
    if (c == 'S') {
      cpu0 = rel_cpu_ns();
      wall0 = rel_mono_ns();
    } else if (c == 'E') {
      rep.flood_cpu_ns = rel_cpu_ns() - cpu0;
      rep.flood_wall_ns = rel_mono_ns() - wall0;
      break;
    }
  }
  rep.accept_errors = weft_listener_accept_errors(l);
  rep.emfile_returned = atomic_load(&st.emfile_returned);
  rep.accepted = atomic_load(&st.accepted);
  rep.other_errors = atomic_load(&st.other_errors);
  rep.ok = 1;
  if (write(out, &rep, sizeof rep) != sizeof rep)
    return 15;
  /* Keep serving until the parent closes the control pipe: it checks the
   * established connections once more after reading the figures. */
  while (read(ctl, &c, 1) > 0)
    ;
  weft_runtime_shutdown(rt, 1000);
  weft_join_free(h);
  weft_listener_free(l);
  weft_runtime_free(rt);
  return 0;
}

/* ---- The clients (parent) ----------------------------------------------- */

static int connect_to(uint16_t port, int nonblock) {
  int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

/* One echo round trip with a 2 s deadline; 1 on success. */
static int round_trip(int fd, unsigned seq) {
  char msg[16], got[16];
  int n = snprintf(msg, sizeof msg, "m%u", seq);
  if (write(fd, msg, (size_t)n) != n)
    return 0;
  int have = 0;
  while (have < n) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1)
      return 0;
    ssize_t r = read(fd, got + have, (size_t)(n - have));
    if (r <= 0)
      return 0;
    have += (int)r;
  }
  return memcmp(msg, got, (size_t)n) == 0;
}

static void test_flood_existing_connections_served_emfile_reported(void **st) {
  (void)st;
  int ctl[2], res[2];
  assert_int_equal(pipe(ctl), 0);
  assert_int_equal(pipe(res), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(ctl[1]);
    close(res[0]);
    _exit(child_main(ctl[0], res[1]));
  }
  close(ctl[0]);
  close(res[1]);
  uint16_t port;
  assert_int_equal(rel_read_full(res[0], &port, sizeof port, 10000),
                   (int)sizeof port);

  int est[ESTABLISHED];
  unsigned seq = 0;
  for (int i = 0; i < ESTABLISHED; i++) {
    est[i] = connect_to(port, 0);
    assert_true(est[i] >= 0);
    int one = 1;
    setsockopt(est[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    assert_true(round_trip(est[i], seq++));
  }

  /* The flood: FLOOD_CONNS connections opened over the window, never
   * written to, never closed until the end; round trips on the
   * established connections every 10 ms meanwhile. */
  double window_s = rel_scale() < 0.5 ? 0.5 : rel_scale();
  uint64_t window_ns = (uint64_t)(1e9 * window_s);
  int flood[FLOOD_CONNS], nflood = 0;
  unsigned trips = 0, failed = 0;
  assert_int_equal(write(ctl[1], "S", 1), 1);
  uint64_t t0 = rel_mono_ns();
  while (rel_mono_ns() - t0 < window_ns) {
    /* Spread the connections over the first half of the window. */
    uint64_t due = (uint64_t)FLOOD_CONNS * (rel_mono_ns() - t0) * 2 /
                   window_ns;
    while ((uint64_t)nflood < due && nflood < FLOOD_CONNS) {
      int fd = connect_to(port, 1);
      if (fd < 0)
        break;
      flood[nflood++] = fd;
    }
    for (int i = 0; i < ESTABLISHED; i++, trips++)
      if (!round_trip(est[i], seq++))
        failed++;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(write(ctl[1], "E", 1), 1);
  report rep;
  assert_int_equal(rel_read_full(res[0], &rep, sizeof rep, 10000),
                   (int)sizeof rep);
  /* The established connections still work after the measure, too. */
  for (int i = 0; i < ESTABLISHED; i++, trips++)
    if (!round_trip(est[i], seq++))
      failed++;

  double cpu_ms_per_s = rep.flood_cpu_ns / 1e6 / (rep.flood_wall_ns / 1e9);
  fprintf(stderr,
          "flood on %s: %d connections, %u round trips (%u failed), "
          "%.1f ms CPU per s, %llu accept errors, EMFILE returned %d times, "
          "%d accepted\n",
          rep.backend, nflood, trips, failed, cpu_ms_per_s,
          (unsigned long long)rep.accept_errors, rep.emfile_returned,
          rep.accepted);
  for (int i = 0; i < nflood; i++)
    close(flood[i]);
  for (int i = 0; i < ESTABLISHED; i++)
    close(est[i]);
  close(ctl[1]);
  int status;
  assert_int_equal(rel_wait_child(pid, 10000, &status), 0);
  close(res[0]);

  assert_true(rep.ok);
  if (expected)
    assert_string_equal(rep.backend, expected);
  assert_int_equal(failed, 0);
  assert_true(nflood > 100);
  assert_true(rep.accept_errors >= 1);
  assert_true(rep.emfile_returned >= 1);
  assert_int_equal(rep.other_errors, 0);
  /* Fewer accepted than the flood: the limit was really reached. */
  assert_true(rep.accepted < nflood);
  /* Sanitizers multiply the cost of every round trip served; the bound
   * holds for the uninstrumented build. */
  assert_true(cpu_ms_per_s < 50.0 * rel_cpu_factor());
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv) {
  expected = backend = argc > 1 ? argv[1] : NULL;
  if (backend && strncmp(backend, "env:", 4) == 0) {
    expected = backend + 4;
    backend = NULL;
  }
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flood_existing_connections_served_emfile_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
