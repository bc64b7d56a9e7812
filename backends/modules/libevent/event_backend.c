/* backends/modules/libevent/event_backend.c: the libevent backend.
 *
 * Owned mode: weft calls evthread_use_pthreads() before it creates its base,
 * so the base has locks and every call below is safe from any thread. Fds are
 * registered from whichever thread asks, as EV_ET|EV_PERSIST events: edge-
 * triggered, so a task that has not drained an fd causes no repeat reports
 * and no re-arm is needed. A wake is event_active() on weft's own event.
 * The worker holding the driver runs event_base_loop(EVLOOP_ONCE).
 *
 * Attach mode: a foreign base may have been created before evthread was
 * enabled, so it may have no locks. It is treated like a libuv loop: requests
 * from other threads go through the command queue (common/cmdq.c) and are
 * applied on the loop thread; the wake is an eventfd watched by the base,
 * the only cross-thread signal that needs no lock. host->run_tasks runs from
 * an event weft activates after delivering readiness, after a wake and when
 * its timer fires; a zero-timeout timer stands in for libuv's idle handle
 * while tasks remain. If the base's method has no edge-triggered support,
 * watchers are used lazily, as on libuv.
 *
 * libev exports libevent's API names; the core dlopens this module with
 * RTLD_DEEPBIND so that it binds to libevent's own symbols. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sys/eventfd.h>

#include "../common/fdreq.h"

typedef struct evtb {
  wb_core core; /* first: the vtable's loop pointer is also a wb_core */
  struct event_base *base;
  int et; /* EV_ET available */
  struct event *wake_ev;  /* owned: activated by wake; attach: eventfd */
  struct event *keep_ev;  /* owned: keeps EVLOOP_ONCE from returning */
  struct event *timer_ev; /* owned: poll timeout; attach: next deadline */
  struct event *run_ev;   /* attach: runs the tasks */
  int efd;                /* attach: the wake eventfd */
} evtb;

typedef struct evtfd {
  evtb *L;
  wb_fd *f;
  struct event *ev;
} evtfd;

static short to_evt(const evtb *L, uint32_t m) {
  short f = EV_PERSIST;
  /* EV_CLOSED with EV_ET: the peer's FIN is reported as a hang-up, which
   * the core keeps readable, even when it came in the data's edge. */
  if (L->et)
    f |= EV_ET | EV_CLOSED;
  if (m & WEFT_IO_READABLE)
    f |= EV_READ;
  if (m & WEFT_IO_WRITABLE)
    f |= EV_WRITE;
  return f;
}

static void schedule_run(evtb *L);

static void on_io(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  evtfd *e = arg;
  evtb *L = e->L;
  wb_fd *f = e->f;
  /* In attach mode a deregistration from another thread may be waiting in
   * the queue; in owned mode event_del waits for this callback instead. */
  if (L->core.attached && !wb_reportable(f))
    return;
  uint32_t dirs = 0;
  if (what & EV_READ)
    dirs |= WEFT_IO_READABLE;
  if (what & EV_WRITE)
    dirs |= WEFT_IO_WRITABLE;
  uint32_t extra = 0;
  if (what & EV_CLOSED) {
    dirs |= WEFT_IO_READABLE;
    extra = WEFT_IO_HANGUP;
  }
  if (wb_report(&L->core, f, dirs, extra) && L->core.attached)
    schedule_run(L);
}

/* One event per fd record, reused by later registrations of the number
 * (event_assign rebinds it). */
static int evtb_open(wb_core *c, wb_fd *f) {
  evtb *L = (evtb *)c;
  if (f->impl)
    return 0;
  evtfd *e = calloc(1, sizeof *e);
  if (!e)
    return WEFT_ENOMEM;
  e->L = L;
  e->f = f;
  e->ev = event_new(L->base, f->fd, EV_PERSIST, on_io, e);
  if (!e->ev) {
    free(e);
    return WEFT_ENOMEM;
  }
  f->impl = e;
  return 0;
}

static void evtb_release(wb_core *c, wb_fd *f) {
  (void)c;
  evtfd *e = f->impl;
  if (e)
    event_del(e->ev);
}

/* Loop thread in attach mode; the calling thread in owned mode, where the
 * base is locked. */
static int evtb_set_mask(wb_core *c, wb_fd *f, uint32_t want) {
  evtb *L = (evtb *)c;
  evtfd *e = f->impl;
  event_del(e->ev);
  if (want) {
    event_assign(e->ev, L->base, f->fd, to_evt(L, want), on_io, e);
    event_add(e->ev, NULL);
  }
  return 0;
}

/* Attach mode: the eventfd is the only cross-thread wake that needs no lock
 * in the application's base. */
static void evtb_kick(wb_core *c) {
  uint64_t one = 1;
  ssize_t n = write(((evtb *)c)->efd, &one, sizeof one);
  (void)n; /* EAGAIN: the counter is already non-zero, a wake is due */
}

/* forgive: only used on a foreign base without edge triggering, where a
 * drop is an immediate epoll_ctl, as on libuv. */
static const wb_ops evtb_ops = {evtb_open, evtb_release, evtb_set_mask,
                                evtb_kick, 2};

static void on_noop(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
}

static int evtb_poll(void *p, int64_t timeout_ms) {
  evtb *L = p;
  if (L->core.attached)
    return WEFT_ENOTSUP;
  L->core.reported = 0;
  if (timeout_ms == 0) {
    event_base_loop(L->base, EVLOOP_NONBLOCK);
  } else {
    if (timeout_ms > 0) {
      struct timeval tv = {(time_t)(timeout_ms / 1000),
                           (suseconds_t)(timeout_ms % 1000) * 1000};
      event_add(L->timer_ev, &tv);
    }
    event_base_loop(L->base, EVLOOP_ONCE);
    if (timeout_ms > 0)
      event_del(L->timer_ev);
  }
  return L->core.reported;
}

static int evtb_wake(void *p) {
  evtb *L = p;
  if (!L->core.attached) {
    /* The base is locked: event_active from any thread wakes a loop in
     * progress, and an event left active makes the next loop return. */
    event_active(L->wake_ev, EV_READ, 0);
    return 0;
  }
  if (wb_on_loop_thread(&L->core)) {
    if (L->core.in_run)
      L->core.rerun = 1;
    else
      schedule_run(L);
    return 0;
  }
  evtb_kick(&L->core);
  return 0;
}

/* evthread_use_pthreads allocates libevent's global locks, which live until
 * the process ends. If the core unloaded this module (and libevent with it)
 * after the runtime is freed, the next runtime would load and allocate them
 * again, leaking the first set. So enabling evthread also pins the module
 * (RTLD_NODELETE), and it happens once per process. */
static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_ok;
static void enable_evthread(void) {
  evthread_ok = evthread_use_pthreads() == 0;
  Dl_info info;
  void *self;
  void (*fn)(void) = enable_evthread;
  memcpy(&self, &fn, sizeof self);
  if (dladdr(self, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static void free_events(evtb *L) {
  struct event *evs[] = {L->wake_ev, L->keep_ev, L->timer_ev, L->run_ev};
  for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
    if (evs[i])
      event_free(evs[i]);
  L->wake_ev = L->keep_ev = L->timer_ev = L->run_ev = NULL;
}

static int evtb_create(void **out, const weft_backend_host *host) {
  if (!out || !host)
    return WEFT_EINVAL;
  pthread_once(&evthread_once, enable_evthread);
  if (!evthread_ok)
    return WEFT_ENOMEM;
  evtb *L;
  int rc = wb_loop_new((void **)&L, sizeof *L, host, &evtb_ops, 0);
  if (rc)
    return rc;
  L->efd = -1;
  /* Owned mode relies on edge triggering: requests are applied on the
   * calling thread, so a level-triggered watcher could not be dropped from
   * the loop thread without racing with them. Every Linux method but
   * select/poll has it (EVENT_NOEPOLL would leave none: WEFT_ENOTSUP). */
  struct event_config *cfg = event_config_new();
  if (!cfg) {
    free(L);
    return WEFT_ENOMEM;
  }
  event_config_require_features(cfg, EV_FEATURE_ET | EV_FEATURE_EARLY_CLOSE);
  L->base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (!L->base) {
    free(L);
    return WEFT_ENOTSUP;
  }
  L->et = 1;
  L->core.native = L->base;
  L->core.direct = 1;
  L->wake_ev = event_new(L->base, -1, 0, on_noop, L);
  /* EVLOOP_ONCE returns at once on a base with no events; this far-off
   * persistent timer keeps a poll with no fds blocking until woken. */
  L->keep_ev = event_new(L->base, -1, EV_PERSIST, on_noop, L);
  L->timer_ev = evtimer_new(L->base, on_noop, L);
  struct timeval hour = {3600, 0};
  if (!L->wake_ev || !L->keep_ev || !L->timer_ev ||
      event_add(L->keep_ev, &hour) != 0) {
    free_events(L);
    event_base_free(L->base);
    free(L);
    return WEFT_ENOMEM;
  }
  *out = L;
  return 0;
}

/* ---- Attach mode ---------------------------------------------------------- */

static void service(evtb *L);

static void schedule_run(evtb *L) {
  /* event_active on an already active event does nothing: runs merge. */
  event_active(L->run_ev, EV_READ, 0);
}

static void on_run(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  service(arg);
}

static void on_efd(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  uint64_t v;
  ssize_t n = read(fd, &v, sizeof v);
  (void)n;
  service(arg);
}

static void arm_timer(evtb *L, int64_t t) {
  if (t < 0) {
    event_del(L->timer_ev);
    return;
  }
  struct timeval tv = {(time_t)(t / 1000), (suseconds_t)(t % 1000) * 1000};
  event_add(L->timer_ev, &tv);
}

static void service(evtb *L) {
  if (wb_attach_run(&L->core)) {
    /* A zero timeout: the base polls without blocking, runs the
     * application's ready callbacks, then comes back here. */
    arm_timer(L, 0);
    return;
  }
  arm_timer(L, wb_next_timeout(&L->core));
}

static int evtb_attach(void **out, void *foreign,
                       const weft_backend_host *host) {
  if (!foreign)
    return WEFT_EINVAL;
  /* Edge-triggered only with early-close support (see to_evt); a base
   * without it is used lazily, level-triggered, where a FIN stays
   * readable anyway. */
  int feats = event_base_get_features(foreign);
  int et = (feats & EV_FEATURE_ET) && (feats & EV_FEATURE_EARLY_CLOSE);
  evtb *L;
  int rc = wb_loop_new((void **)&L, sizeof *L, host, &evtb_ops, !et);
  if (rc)
    return rc;
  L->base = foreign;
  L->et = et;
  L->core.native = foreign;
  L->core.attached = 1;
  L->core.loop_thread = pthread_self();
  L->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (L->efd < 0) {
    int e = errno;
    free(L);
    return -e;
  }
  L->wake_ev = event_new(L->base, L->efd, EV_READ | EV_PERSIST, on_efd, L);
  L->timer_ev = evtimer_new(L->base, on_run, L);
  L->run_ev = event_new(L->base, -1, 0, on_run, L);
  if (!L->wake_ev || !L->timer_ev || !L->run_ev ||
      event_add(L->wake_ev, NULL) != 0) {
    free_events(L);
    close(L->efd);
    free(L);
    return WEFT_ENOMEM;
  }
  /* Tasks spawned before the loop runs must get a first turn. */
  schedule_run(L);
  *out = L;
  return 0;
}

/* ---- Teardown ------------------------------------------------------------- */

static void release_cb(void *arg, wb_fd *f) {
  if (f->active)
    evtb_release(arg, f);
  f->active = 0;
  evtfd *e = f->impl;
  if (e) {
    event_free(e->ev);
    free(e);
  }
  f->impl = NULL;
}

static void evtb_destroy(void *p) {
  evtb *L = p;
  if (!L)
    return;
  if (L->core.attached)
    wb_drain_all(&L->core);
  wb_foreach(&L->core, release_cb, L);
  free_events(L);
  if (L->core.attached)
    close(L->efd);
  else
    event_base_free(L->base);
  wb_core_fini(&L->core);
  free(L);
}

static const weft_backend event_vtable = {
    .abi_version = WEFT_BACKEND_ABI_V1,
    .struct_size = sizeof(weft_backend),
    .name = "libevent",
    .create = evtb_create,
    .attach = evtb_attach,
    .destroy = evtb_destroy,
    .register_fd = wb_be_register,
    .modify_fd = wb_be_modify,
    .rearm_fd = wb_be_rearm,
    .deregister_fd = wb_be_deregister,
    .close_fd = wb_be_close_fd,
    .poll = evtb_poll,
    .wake = evtb_wake,
    .signal_watch = NULL,
    .signal_unwatch = NULL,
    .ctl = wb_be_ctl,
    .now_ns = NULL,
};

__attribute__((visibility("default"))) const weft_backend *
weft_backend_module_entry(void) {
  return &event_vtable;
}
