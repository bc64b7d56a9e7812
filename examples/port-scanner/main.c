/* examples/port-scanner: a concurrent TCP connect scanner on weft.
 *
 *   port-scanner HOST FIRST-LAST [--concurrency N] [--timeout-ms M]
 *
 * A feeder task sends the ports, one by one, into a bounded mpsc channel
 * (so it runs at most a channel's length ahead of the scan). The main
 * future receives them, takes a permit from a semaphore of N permits, and
 * spawns one probe task per port; a probe connects with a timeout, records
 * the outcome, and gives its permit back when it is dropped. So no more than
 * N connects are ever in flight, however long the range. When the feeder
 * is done the channel closes; the main future then waits for every probe
 * (a task group) and prints the open ports in order, on stdout, one per
 * line. A summary goes to stderr. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include <weft.h>

enum { CLOSED = 0, OPEN = 1, TIMED_OUT = 2, FAILED = 3 };

/* What every task reads; lives in main()'s frame, which outlives them. */
typedef struct scan {
  struct sockaddr_storage addr; /* the host, port filled in per probe */
  socklen_t addr_len;
  unsigned first, last;
  unsigned concurrency;
  uint64_t timeout_ms;
  unsigned char *outcome; /* one byte per port, written by its probe only */
  weft_semaphore *sem;
  atomic_uint in_flight, max_in_flight;
} scan;

/* ---- probe: one connect --------------------------------------------------- */

typedef struct probe {
  weft_coro co;
  scan *sc;
  unsigned port;
  weft_future *connect;
} probe;

static weft_poll probe_poll(void *p, weft_context *cx, void *out) {
  probe *pr = p;
  (void)out;
  WEFT_CORO_BEGIN(&pr->co);
  {
    scan *sc = pr->sc;
    unsigned now = atomic_fetch_add(&sc->in_flight, 1) + 1;
    unsigned seen = atomic_load(&sc->max_in_flight);
    while (now > seen &&
           !atomic_compare_exchange_weak(&sc->max_in_flight, &seen, now))
      ;
    struct sockaddr_storage a = sc->addr;
    if (a.ss_family == AF_INET6)
      ((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)pr->port);
    else
      ((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)pr->port);
    if (weft_tcp_connect((struct sockaddr *)&a, sc->addr_len, sc->timeout_ms,
                         &pr->connect) < 0) {
      sc->outcome[pr->port - sc->first] = FAILED;
      WEFT_CORO_RETURN(&pr->co);
    }
  }
  WEFT_AWAIT(&pr->co, weft_future_poll(pr->connect, cx));
  {
    weft_stream_result *r = weft_future_output(pr->connect);
    unsigned char o = r->error == 0                ? OPEN
                      : r->error == WEFT_ETIMEDOUT ? TIMED_OUT
                                                   : CLOSED;
    weft_stream_free(r->stream); /* we only wanted to know */
    pr->sc->outcome[pr->port - pr->sc->first] = o;
  }
  WEFT_CORO_END(&pr->co);
}

/* The permit is given back here, whether the probe finished or was
 * aborted, so a cancelled scan never leaks permits. */
static void probe_drop(void *p) {
  probe *pr = p;
  weft_future_free(pr->connect);
  if (pr->co.line != 0) /* it started, so it counted itself in flight */
    atomic_fetch_sub(&pr->sc->in_flight, 1);
  weft_semaphore_release(pr->sc->sem, 1);
}

static const weft_future_vtable probe_vt = {sizeof(weft_future_vtable),
                                            probe_poll, probe_drop};

/* ---- feeder: the ports, into the channel ---------------------------------- */

typedef struct feeder {
  weft_mpsc_tx *tx;
  unsigned next, last;
} feeder;

static weft_poll feeder_poll(void *p, weft_context *cx, void *out) {
  feeder *f = p;
  (void)out;
  while (f->next <= f->last) {
    int rc;
    /* PENDING while the channel is full: the scan sets the pace. */
    if (weft_mpsc_poll_send(f->tx, cx, &f->next, &rc) == WEFT_PENDING)
      return WEFT_PENDING;
    if (rc < 0)
      break; /* the receiver is gone */
    f->next++;
  }
  return WEFT_READY;
}

/* Releasing the only sender closes the channel: the receiver sees
 * WEFT_ECLOSED once it has taken every port. */
static void feeder_drop(void *p) { weft_mpsc_tx_free(((feeder *)p)->tx); }

static const weft_future_vtable feeder_vt = {sizeof(weft_future_vtable),
                                             feeder_poll, feeder_drop};

/* ---- main future: receive, throttle, spawn, wait -------------------------- */

typedef struct scanner {
  weft_coro co;
  scan *sc;
  weft_mpsc_rx *rx;
  weft_group *g;
  weft_future *acquire;
  weft_join_handle *done;
  unsigned port;
  int error;
} scanner;

static weft_poll scanner_poll(void *p, weft_context *cx, void *out) {
  scanner *s = p;
  int rc;
  (void)out;
  WEFT_CORO_BEGIN(&s->co);
  for (;;) {
    WEFT_AWAIT(&s->co, weft_mpsc_poll_recv(s->rx, cx, &s->port, &rc));
    if (rc < 0)
      break; /* closed: every port has been handed out */
    if ((s->error = weft_semaphore_acquire(s->sc->sem, &s->acquire)) < 0)
      break;
    WEFT_AWAIT(&s->co, weft_future_poll(s->acquire, cx));
    weft_future_free(s->acquire);
    s->acquire = NULL;
    probe pr = {WEFT_CORO_INIT, s->sc, s->port, NULL};
    if ((s->error = weft_group_spawn(s->g, &probe_vt, &pr, sizeof pr, 0)) < 0) {
      weft_semaphore_release(s->sc->sem, 1);
      break;
    }
  }
  /* Collect every task of the group (the feeder and the probes) as it
   * finishes. */
  for (;;) {
    WEFT_AWAIT(&s->co, weft_group_poll_next(s->g, cx, &s->done));
    if (!s->done)
      break;
    weft_join_free(s->done);
  }
  WEFT_CORO_END(&s->co);
}

static const weft_future_vtable scanner_vt = {sizeof(weft_future_vtable),
                                              scanner_poll, NULL};

/* ---- command line ---------------------------------------------------------- */

static int usage(void) {
  fprintf(stderr, "usage: port-scanner HOST FIRST-LAST [--concurrency N] "
                  "[--timeout-ms M]\n");
  return 2;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *v) {
  char *end;
  errno = 0;
  *v = strtoul(s, &end, 10);
  return !errno && end != s && !*end && *v <= max && s[0] != '-';
}

/* HOST as a numeric address or a name, resolved with getaddrinfo (on
 * weft's blocking pool, through weft_resolve). */
typedef struct resolver {
  weft_future *f;
} resolver;

static weft_poll resolver_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  return weft_future_poll(((resolver *)p)->f, cx);
}

static const weft_future_vtable resolver_vt = {sizeof(weft_future_vtable),
                                               resolver_poll, NULL};

static int resolve(weft_runtime *rt, const char *host, scan *sc) {
  resolver r;
  int rc = weft_resolve(host, NULL, AF_UNSPEC, &r.f);
  if (rc < 0)
    return rc;
  rc = weft_block_on(rt, &resolver_vt, &r, NULL);
  weft_resolve_output *o = weft_future_output(r.f);
  if (rc == 0)
    rc = o->error < 0 ? o->error : o->count == 0 ? WEFT_EDNS : 0;
  if (rc == 0) {
    memcpy(&sc->addr, &o->addrs[0], sizeof sc->addr);
    sc->addr_len = o->lens[0];
  }
  weft_future_free(r.f);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 3)
    return usage();
  scan sc = {.concurrency = 64, .timeout_ms = 1000};
  unsigned long v1, v2;
  char *dash = strchr(argv[2], '-');
  if (!dash)
    return usage();
  *dash = '\0';
  if (!parse_uint(argv[2], 65535, &v1) || !parse_uint(dash + 1, 65535, &v2) ||
      v1 == 0 || v1 > v2)
    return usage();
  sc.first = (unsigned)v1;
  sc.last = (unsigned)v2;
  /* Options come in pairs: a name and its value. */
  for (int i = 3; i < argc; i += 2) {
    unsigned long v;
    if (!strcmp(argv[i], "--concurrency") && i + 1 < argc &&
        parse_uint(argv[i + 1], 65536, &v) && v > 0)
      sc.concurrency = (unsigned)v;
    else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc &&
             parse_uint(argv[i + 1], 3600000, &v) && v > 0)
      sc.timeout_ms = v;
    else
      return usage();
  }

  weft_runtime *rt;
  int rc = weft_runtime_new(&rt, NULL); /* WEFT_BACKEND picks the backend */
  if (rc < 0) {
    fprintf(stderr, "port-scanner: runtime: %s\n", weft_strerror(rc));
    return 1;
  }
  if ((rc = resolve(rt, argv[1], &sc)) < 0) {
    fprintf(stderr, "port-scanner: %s: %s\n", argv[1], weft_strerror(rc));
    weft_runtime_free(rt);
    return 1;
  }

  unsigned n = sc.last - sc.first + 1;
  scanner s = {.co = WEFT_CORO_INIT, .sc = &sc};
  weft_mpsc_tx *tx = NULL;
  sc.outcome = calloc(n, 1);
  rc = sc.outcome ? 0 : WEFT_ENOMEM;
  if (rc == 0)
    rc = weft_semaphore_new(sc.concurrency, &sc.sem);
  /* A channel as long as the bound: the feeder stays just ahead. */
  if (rc == 0)
    rc = weft_mpsc_new(sizeof(unsigned), sc.concurrency, &tx, &s.rx);
  if (rc == 0)
    rc = weft_group_new(rt, &s.g);
  if (rc == 0) {
    feeder f = {tx, sc.first, sc.last};
    rc = weft_group_spawn(s.g, &feeder_vt, &f, sizeof f, 0);
    if (rc == 0)
      tx = NULL; /* the feeder owns it now */
  }
  if (rc == 0)
    rc = weft_block_on(rt, &scanner_vt, &s, NULL);
  if (rc == 0)
    rc = s.error;

  unsigned counts[4] = {0};
  if (rc == 0) {
    char addr[80];
    weft_addr_format((struct sockaddr *)&sc.addr, sc.addr_len, addr,
                     sizeof addr);
    for (unsigned i = 0; i < n; i++) {
      counts[sc.outcome[i]]++;
      if (sc.outcome[i] == OPEN)
        printf("%u open\n", sc.first + i);
    }
    fprintf(stderr,
            "port-scanner: %s: %u ports, %u open, %u closed, %u timed out, "
            "%u failed; at most %u connects in flight (bound %u) on %s\n",
            argv[1], n, counts[OPEN], counts[CLOSED], counts[TIMED_OUT],
            counts[FAILED], atomic_load(&sc.max_in_flight), sc.concurrency,
            weft_runtime_backend_name(rt));
  } else {
    fprintf(stderr, "port-scanner: %s\n", weft_strerror(rc));
  }
  weft_group_free(s.g);
  weft_mpsc_rx_free(s.rx);
  weft_mpsc_tx_free(tx);
  weft_future_free(s.acquire);
  weft_runtime_free(rt);
  weft_semaphore_free(sc.sem);
  free(sc.outcome);
  return rc == 0 ? 0 : 1;
}
