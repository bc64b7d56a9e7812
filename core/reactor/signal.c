/* core/reactor/signal.c: signals as streams, with the core's own handler.
 *
 * Why a self-pipe and not signalfd: a signalfd only receives a signal that
 * is blocked in every thread of the process, and a library cannot block
 * signals in threads it did not create (the application's, a plugin's);
 * any thread that leaves it unblocked takes the default action instead.
 * And a signal read from one signalfd is consumed: two runtimes in one
 * process could not both see it. A sigaction handler runs whatever the
 * masks, and fans out: it writes one byte to the pipe of every runtime
 * that watches the signal. Each runtime registers its pipe's read end with
 * its backend like any fd, and its driver drains it on the loop thread.
 *
 * A backend with its own signal_watch (the library backends) is used
 * instead; it reports through host->signal_ready.
 *
 * The handler is async-signal-safe: it reads the slot table through
 * lock-free atomics and calls write(2) only. Slots are claimed and released
 * under `table_mu` by ordinary threads; the handler never locks.
 * Orderings: a slot's mask is written before its fd is published with
 * release, and the handler loads the fd with acquire before the mask.
 * Retiring a slot must not close a pipe that a handler on another thread
 * is about to write to (the number could be reused by then): the handler
 * counts itself in `in_flight` before it reads any slot, and the retiring
 * thread stores fd = -1 and then waits until `in_flight` is zero before it
 * closes. Both sides are seq_cst (a Dekker pair): either the retiring
 * thread sees the handler in flight, or the handler sees fd = -1. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/signal.h>

#include "driver_impl.h"

#define MAX_RUNTIMES 64
#define MAX_SIGNO 64 /* signals 1..63 fit the 64-bit masks */

typedef struct slot {
  _Atomic int fd;        /* the pipe's write end, -1 when free */
  _Atomic uint64_t mask; /* bit n: signal n is watched */
} slot;

static _Atomic unsigned in_flight; /* handlers running right now */

static slot table[MAX_RUNTIMES];
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static unsigned handler_refs[MAX_SIGNO];           /* under table_mu */
static struct sigaction old_actions[MAX_SIGNO];    /* under table_mu */

static void table_init(void) {
  for (int i = 0; i < MAX_RUNTIMES; i++) {
    atomic_init(&table[i].fd, -1);
    atomic_init(&table[i].mask, 0);
  }
}

static void on_signal(int signo) {
  int saved = errno;
  unsigned char b = (unsigned char)signo;
  /* seq_cst: the handler's half of the retire protocol (file comment). */
  atomic_fetch_add_explicit(&in_flight, 1, memory_order_seq_cst);
  for (int i = 0; i < MAX_RUNTIMES; i++) {
    /* seq_cst (which includes acquire, pairing with the release that
     * published the slot): see the file comment. */
    int fd = atomic_load_explicit(&table[i].fd, memory_order_seq_cst);
    if (fd < 0)
      continue;
    uint64_t m = atomic_load_explicit(&table[i].mask, memory_order_relaxed);
    if (m & ((uint64_t)1 << signo)) {
      /* A full pipe already holds a wake-up: dropping the byte merges. */
      ssize_t n = write(fd, &b, 1);
      (void)n;
    }
  }
  atomic_fetch_sub_explicit(&in_flight, 1, memory_order_release);
  errno = saved;
}

struct weft_signal {
  weft__signal_hub *hub;
  int signo;
  unsigned pending; /* under hub->mu */
  weft_waker waker; /* under hub->mu */
  weft_signal *next; /* under hub->mu */
};

struct weft__signal_hub {
  weft__driver *d;
  pthread_mutex_t mu;
  weft_signal *streams;      /* under mu */
  unsigned watchers[MAX_SIGNO]; /* under mu */
  int own;                   /* 1: the core's handler + pipe; 0: backend */
  int rfd, wfd, slot;
};

static int hub_new(weft__driver *d, weft__signal_hub **out) {
  weft__signal_hub *h = calloc(1, sizeof *h);
  if (!h)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&h->mu, NULL) != 0) {
    free(h);
    return WEFT_ENOMEM;
  }
  h->d = d;
  h->rfd = h->wfd = h->slot = -1;
  h->own = !weft__backend_has_signals(d->be);
  if (h->own) {
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
      int e = -errno;
      pthread_mutex_destroy(&h->mu);
      free(h);
      return e;
    }
    h->rfd = p[0];
    h->wfd = p[1];
    int rc = weft__backend_register(d->be, d->loop, h->rfd, WEFT_IO_READABLE,
                                    weft__signal_pipe_token);
    if (rc < 0) {
      close(p[0]);
      close(p[1]);
      pthread_mutex_destroy(&h->mu);
      free(h);
      return rc;
    }
    pthread_once(&table_once, table_init);
    pthread_mutex_lock(&table_mu);
    for (int i = 0; i < MAX_RUNTIMES; i++) {
      if (atomic_load_explicit(&table[i].fd, memory_order_relaxed) < 0) {
        h->slot = i;
        atomic_store_explicit(&table[i].mask, 0, memory_order_relaxed);
        /* Release: the handler that sees the fd sees the cleared mask. */
        atomic_store_explicit(&table[i].fd, h->wfd, memory_order_release);
        break;
      }
    }
    pthread_mutex_unlock(&table_mu);
    if (h->slot < 0) {
      weft__backend_deregister(d->be, d->loop, h->rfd, weft__signal_pipe_token);
      close(p[0]);
      close(p[1]);
      pthread_mutex_destroy(&h->mu);
      free(h);
      return WEFT_EBUSY; /* more runtimes with signals than slots */
    }
  }
  *out = h;
  return 0;
}

/* Install the process-wide handler for `signo` (refcounted). */
static int handler_ref(int signo) {
  int rc = 0;
  pthread_mutex_lock(&table_mu);
  if (handler_refs[signo]++ == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(signo, &sa, &old_actions[signo]) < 0) {
      rc = -errno;
      handler_refs[signo]--;
    }
  }
  pthread_mutex_unlock(&table_mu);
  return rc;
}

static void handler_unref(int signo) {
  pthread_mutex_lock(&table_mu);
  if (handler_refs[signo] > 0 && --handler_refs[signo] == 0)
    sigaction(signo, &old_actions[signo], NULL);
  pthread_mutex_unlock(&table_mu);
}

void weft__signal_hub_free(weft__driver *d, weft__signal_hub *h) {
  (void)d;
  if (h->own) {
    pthread_mutex_lock(&table_mu);
    atomic_store_explicit(&table[h->slot].mask, 0, memory_order_relaxed);
    /* seq_cst: the retiring half of the protocol in the file comment. */
    atomic_store_explicit(&table[h->slot].fd, -1, memory_order_seq_cst);
    while (atomic_load_explicit(&in_flight, memory_order_seq_cst) != 0)
      sched_yield();
    pthread_mutex_unlock(&table_mu);
    close(h->wfd);
    weft__backend_deregister(h->d->be, h->d->loop, h->rfd,
                             weft__signal_pipe_token);
    close(h->rfd);
  }
  /* Signals still watched by streams that outlive the runtime: give the
   * process-wide handler back, or the signals would be swallowed with no
   * runtime left to see them (SIGINT would stop ending the process). */
  if (h->own)
    for (int signo = 1; signo < MAX_SIGNO; signo++)
      if (h->watchers[signo] > 0)
        handler_unref(signo);
  /* The streams themselves are told nothing more: their next poll reports
   * WEFT_ESHUTDOWN. Their memory is their owner's. */
  for (weft_signal *s = h->streams; s; s = s->next) {
    weft__waker_drop_take(&s->waker);
    s->hub = NULL;
  }
  pthread_mutex_destroy(&h->mu);
  free(h);
}

void weft__signal_hub_deliver(weft__signal_hub *h, int signo) {
  enum { BATCH = 32 };
  weft_waker wake[BATCH];
  size_t n = 0;
  pthread_mutex_lock(&h->mu);
  for (weft_signal *s = h->streams; s; s = s->next) {
    if (s->signo != signo)
      continue;
    s->pending++;
    if (s->waker.vtable && n < BATCH) {
      wake[n++] = s->waker;
      s->waker = (weft_waker){NULL, NULL};
    }
  }
  pthread_mutex_unlock(&h->mu);
  /* Streams beyond the batch keep their waker stored: each gets woken by
   * its next delivery; more than 32 streams on one signal in one runtime
   * is not a case worth a heap allocation in this path. */
  for (size_t i = 0; i < n; i++)
    weft__wake_take(&wake[i]);
}

void weft__signal_hub_drain(weft__signal_hub *h) {
  unsigned char buf[128];
  for (;;) {
    ssize_t n = read(h->rfd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      /* EAGAIN: drained, as an edge-triggered fd requires. A backend with
       * level-triggered watchers stops reporting an fd once it reported
       * it, until rearm_fd says the core drained it (contract C5); without
       * this, every signal after the first waited forever on libuv and
       * libev. */
      weft__backend_rearm(h->d->be, h->d->loop, h->rfd, WEFT_IO_READABLE,
                          weft__signal_pipe_token);
      return;
    }
    for (ssize_t i = 0; i < n; i++)
      weft__signal_hub_deliver(h, buf[i]);
  }
}

/* ---- Public API ---------------------------------------------------------- */

int weft_signal_new(weft_runtime *rt, int signo, weft_signal **out) {
  if (!out || signo <= 0 || signo >= MAX_SIGNO || signo == SIGKILL ||
      signo == SIGSTOP)
    return WEFT_EINVAL;
  *out = NULL;
  weft__driver *d = rt ? weft__runtime_driver(rt) : weft__driver_of(NULL);
  if (!d)
    return WEFT_EINVAL;
  weft_signal *s = calloc(1, sizeof *s);
  if (!s)
    return WEFT_ENOMEM;
  s->signo = signo;
  pthread_mutex_lock(&d->mu);
  weft__signal_hub *h = atomic_load_explicit(&d->signals, memory_order_relaxed);
  int rc = 0;
  if (!h && (rc = hub_new(d, &h)) == 0)
    /* Release: the loop thread's acquire load sees a whole hub. */
    atomic_store_explicit(&d->signals, h, memory_order_release);
  pthread_mutex_unlock(&d->mu);
  if (rc < 0) {
    free(s);
    return rc;
  }
  pthread_mutex_lock(&h->mu);
  int first = h->watchers[signo]++ == 0;
  if (first) {
    rc = h->own ? handler_ref(signo)
                : weft__backend_signal_watch(d->be, d->loop, signo);
    if (rc < 0)
      h->watchers[signo]--;
    else if (h->own)
      atomic_fetch_or_explicit(&table[h->slot].mask, (uint64_t)1 << signo,
                               memory_order_relaxed);
  }
  if (rc == 0) {
    s->hub = h;
    s->next = h->streams;
    h->streams = s;
  }
  pthread_mutex_unlock(&h->mu);
  if (rc < 0) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int weft_signal_poll_recv(weft_signal *s, weft_context *cx) {
  if (!s || !cx)
    return WEFT_EINVAL;
  weft__signal_hub *h = s->hub;
  if (!h)
    return WEFT_ESHUTDOWN;
  if (!weft__coop_proceed(cx))
    return 0;
  weft_waker old = {NULL, NULL};
  int rc;
  pthread_mutex_lock(&h->mu);
  if (s->pending) {
    rc = (int)(s->pending > 0x7fffffffu ? 0x7fffffffu : s->pending);
    s->pending = 0;
  } else {
    weft__waker_replace(&s->waker, &cx->waker, &old);
    rc = 0;
  }
  pthread_mutex_unlock(&h->mu);
  weft__waker_drop_take(&old);
  return rc;
}

void weft_signal_free(weft_signal *s) {
  if (!s)
    return;
  weft__signal_hub *h = s->hub;
  if (h) {
    pthread_mutex_lock(&h->mu);
    for (weft_signal **p = &h->streams; *p; p = &(*p)->next) {
      if (*p == s) {
        *p = s->next;
        break;
      }
    }
    if (--h->watchers[s->signo] == 0) {
      if (h->own) {
        atomic_fetch_and_explicit(&table[h->slot].mask,
                                  ~((uint64_t)1 << s->signo),
                                  memory_order_relaxed);
        handler_unref(s->signo);
      } else {
        weft__backend_signal_unwatch(h->d->be, h->d->loop, s->signo);
      }
    }
    pthread_mutex_unlock(&h->mu);
  }
  weft__waker_drop_take(&s->waker);
  free(s);
}
