/* backends/modules/libev/ev_backend.c: the libev backend.
 *
 * The same shape as the libuv backend (see uv_backend.c): owned mode is the
 * driver topology with a command queue and an ev_async for requests from
 * other threads; attach mode runs host->run_tasks from an ev_check, with an
 * ev_idle while tasks remain and one ev_timer for the next deadline.
 *
 * libev specifics:
 * - One ev_io per fd, embedded in the backend's per-fd watcher and reused.
 *   ev_io_set is called exactly when the fd or the mask changes: on a new
 *   registration (the number may now name another file, and libev must
 *   re-add it) and when a direction is dropped or restored. Calling it on
 *   every restart would force an epoll_ctl each time.
 * - The check watcher runs at EV_MINPRI. libev queues check watchers with
 *   the iteration's io watchers and invokes them by priority, so at the
 *   default priority the tasks would run before the io callbacks of the same
 *   iteration and see stale level-triggered readiness.
 * - Watchers are level-triggered and used lazily, as on libuv; libev defers
 *   watcher changes to its next iteration, so a drop and restore between two
 *   polls costs no system call. */
#include <stdlib.h>
#include <unistd.h>

#include <ev.h>
#include <fcntl.h>

#include "../common/cmdq.h"

typedef struct evb {
  wb_core core;
  weft_backend_host host;
  struct ev_loop *loop;
  int attached;
  pthread_t loop_thread;
  ev_async async;
  ev_timer timer;
  ev_check check;
  ev_idle idle;
  int reported;
  int rerun;
  int timer_on;
  ev_tstamp armed_at;
} evb;

typedef struct evfd {
  ev_io io;
  evb *L;
  wb_fd *f;
  int fresh; /* a new registration: ev_io_set must run before the start */
} evfd;

/* Owned mode: the loop whose poll runs on this thread, if any. Any thread
 * that wakes the loop reads it, blocking-pool threads included, so it is
 * initial-exec: a dynamic TLS block (the default in a dlopen'ed module)
 * would be allocated in each of those threads, and LeakSanitizer crashes
 * scanning the freed block of a pool thread still exiting at process exit.
 * One pointer fits glibc's static TLS surplus for dlopen'ed modules. */
static _Thread_local evb *tls_loop __attribute__((tls_model("initial-exec")));

static int on_loop_thread(evb *L) {
  if (L->attached)
    return pthread_equal(pthread_self(), L->loop_thread);
  return tls_loop == L;
}

static int to_ev(uint32_t m) {
  return ((m & WEFT_IO_READABLE) ? EV_READ : 0) |
         ((m & WEFT_IO_WRITABLE) ? EV_WRITE : 0);
}

static void set_mask(evb *L, wb_fd *f);

static void on_io(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  evfd *e = (evfd *)w;
  evb *L = e->L;
  wb_fd *f = e->f;
  if (!wb_reportable(f))
    return;
  uint32_t dirs = 0, extra = 0;
  if (revents & EV_READ)
    dirs |= WEFT_IO_READABLE;
  if (revents & EV_WRITE)
    dirs |= WEFT_IO_WRITABLE;
  if (revents & EV_ERROR) {
    extra = WEFT_IO_ERROR;
    dirs |= f->started;
  }
  uint32_t drop;
  uint32_t report = wb_on_ready(&L->core, f, dirs, &drop);
  if (drop)
    set_mask(L, f);
  if (report) {
    L->reported++;
    L->host.io_ready(L->host.ctx,
                     atomic_load_explicit(&f->token, memory_order_acquire),
                     report | extra);
  }
}

static void set_mask(evb *L, wb_fd *f) {
  uint32_t want = wb_desired(f);
  if (want == f->started)
    return;
  evfd *e = f->impl;
  ev_io_stop(L->loop, &e->io);
  if (want) {
    /* ev_io_set makes libev re-add the fd to the kernel: only for a new
     * registration or a new mask, not when a dropped direction returns. */
    if (e->fresh || (e->io.events & (EV_READ | EV_WRITE)) != to_ev(want))
      ev_io_set(&e->io, f->fd, to_ev(want));
    e->fresh = 0;
    ev_io_start(L->loop, &e->io);
  }
  f->started = want;
}

static void release(evb *L, wb_fd *f) {
  evfd *e = f->impl;
  if (e)
    ev_io_stop(L->loop, &e->io);
  f->active = 0;
  f->started = 0;
}

static void apply(void *arg, wb_fd *f, uint32_t ops) {
  evb *L = arg;
  if (ops & WB_OP_CLOSE) {
    if (f->active)
      release(L, f);
    close(f->fd);
  }
  uint32_t want = atomic_load_explicit(&f->want, memory_order_acquire);
  uint32_t gen = atomic_load_explicit(&f->gen, memory_order_acquire);
  if (f->active && (!want || gen != f->applied_gen))
    release(L, f);
  if (want && !f->active) {
    evfd *e = f->impl;
    if (!e) {
      e = calloc(1, sizeof *e);
      if (!e)
        return;
      e->L = L;
      e->f = f;
      ev_init(&e->io, on_io);
      f->impl = e;
    }
    f->active = 1;
    f->applied_gen = gen;
    f->started = 0;
    /* A new registration: the number may name a new file, so set_mask's
     * ev_io_set tells libev to add it afresh. */
    e->fresh = 1;
  }
  if (f->active)
    set_mask(L, f);
}

static int submit(evb *L, wb_fd *f, uint32_t ops) {
  if (on_loop_thread(L)) {
    apply(L, f, wb_take(f, ops | WB_OP_SYNC));
    return 0;
  }
  if (wb_push(&L->core, f, ops | WB_OP_SYNC) &&
      (L->attached || wb_poller_blocked(&L->core)))
    ev_async_send(L->loop, &L->async);
  return 0;
}

static int evb_register(void *p, int fd, uint32_t interest, void *token) {
  evb *L = p;
  if (fd < 0 || fcntl(fd, F_GETFD) < 0)
    return WEFT_EBADF;
  wb_fd *f = wb_fd_get(&L->core, fd, 1);
  if (!f)
    return WEFT_ENOMEM;
  wb_want_register(f, interest, token);
  return submit(L, f, 0);
}

static int evb_modify(void *p, int fd, uint32_t interest, void *token) {
  evb *L = p;
  wb_fd *f = wb_fd_get(&L->core, fd, 0);
  if (!f || !atomic_load_explicit(&f->want, memory_order_relaxed))
    return WEFT_ENOENT;
  wb_want_modify(f, interest, token);
  return submit(L, f, 0);
}

static int evb_rearm(void *p, int fd, uint32_t events, void *token) {
  (void)token;
  evb *L = p;
  wb_fd *f = wb_fd_get(&L->core, fd, 0);
  if (!f)
    return WEFT_ENOENT;
  if (wb_rearm(f, events))
    return submit(L, f, 0);
  return 0;
}

static int evb_deregister(void *p, int fd, void *token) {
  (void)token;
  evb *L = p;
  wb_fd *f = wb_fd_get(&L->core, fd, 0);
  if (!f)
    return WEFT_ENOENT;
  wb_want_deregister(f);
  return submit(L, f, 0);
}

static int evb_close_fd(void *p, int fd, void *token) {
  (void)token;
  evb *L = p;
  wb_fd *f = wb_fd_get(&L->core, fd, 1);
  if (!f)
    return WEFT_EBADF;
  wb_want_deregister(f);
  return submit(L, f, WB_OP_CLOSE);
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)revents;
  evb *L = w->data;
  wb_drain(&L->core, apply, L);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
}

static int evb_poll(void *p, int64_t timeout_ms) {
  evb *L = p;
  if (L->attached)
    return WEFT_ENOTSUP;
  tls_loop = L;
  L->reported = 0;
  wb_poll_enter(&L->core, &timeout_ms);
  wb_drain(&L->core, apply, L);
  if (timeout_ms == 0) {
    ev_run(L->loop, EVRUN_NOWAIT);
  } else {
    if (timeout_ms > 0) {
      ev_now_update(L->loop);
      ev_timer_set(&L->timer, (ev_tstamp)timeout_ms / 1000.0, 0.);
      ev_timer_start(L->loop, &L->timer);
    }
    ev_run(L->loop, EVRUN_ONCE);
    if (timeout_ms > 0)
      ev_timer_stop(L->loop, &L->timer);
  }
  wb_poll_leave(&L->core);
  tls_loop = NULL;
  return L->reported;
}

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
}

static int evb_wake(void *p) {
  evb *L = p;
  if (L->attached) {
    if (on_loop_thread(L)) {
      L->rerun = 1;
      ev_idle_start(L->loop, &L->idle);
      return 0;
    }
    ev_async_send(L->loop, &L->async);
    return 0;
  }
  if (tls_loop == L) {
    atomic_store_explicit(&L->core.woken, 1, memory_order_relaxed);
    return 0;
  }
  if (wb_wake_needed(&L->core))
    ev_async_send(L->loop, &L->async);
  return 0;
}

static evb *alloc_loop(const weft_backend_host *host) {
  if (!host || !host->io_ready)
    return NULL;
  evb *L = calloc(1, sizeof *L);
  if (!L)
    return NULL;
  wb_core_init(&L->core, 1);
  L->host = *host;
  return L;
}

static int evb_create(void **out, const weft_backend_host *host) {
  if (!out || !host)
    return WEFT_EINVAL;
  evb *L = alloc_loop(host);
  if (!L)
    return host->io_ready ? WEFT_ENOMEM : WEFT_EINVAL;
  L->loop = ev_loop_new(EVFLAG_AUTO);
  if (!L->loop) {
    free(L);
    return WEFT_ENOMEM;
  }
  ev_async_init(&L->async, on_async);
  L->async.data = L;
  ev_async_start(L->loop, &L->async);
  ev_init(&L->timer, on_timeout);
  *out = L;
  return 0;
}

/* ---- Attach mode ---------------------------------------------------------- */

static void service(evb *L);

static void on_attach_timer(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  evb *L = w->data;
  L->timer_on = 0;
  service(L);
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents) {
  (void)loop;
  (void)revents;
  service(w->data);
}

static void arm_timer(evb *L) {
  int64_t t = L->host.next_timeout_ms ? L->host.next_timeout_ms(L->host.ctx)
                                      : -1;
  if (t < 0) {
    if (L->timer_on) {
      ev_timer_stop(L->loop, &L->timer);
      L->timer_on = 0;
    }
    return;
  }
  ev_tstamp at = ev_now(L->loop) + (ev_tstamp)t / 1000.0;
  if (L->timer_on && at == L->armed_at)
    return;
  if (L->timer_on)
    ev_timer_stop(L->loop, &L->timer);
  ev_timer_set(&L->timer, (ev_tstamp)t / 1000.0, 0.);
  ev_timer_start(L->loop, &L->timer);
  L->timer_on = 1;
  L->armed_at = at;
}

static void service(evb *L) {
  wb_drain(&L->core, apply, L);
  L->rerun = 0;
  int more = L->host.run_tasks ? L->host.run_tasks(L->host.ctx) : 0;
  if (more || L->rerun)
    ev_idle_start(L->loop, &L->idle);
  else
    ev_idle_stop(L->loop, &L->idle);
  arm_timer(L);
}

static int evb_attach(void **out, void *foreign, const weft_backend_host *host) {
  if (!out || !foreign || !host)
    return WEFT_EINVAL;
  evb *L = alloc_loop(host);
  if (!L)
    return host->io_ready ? WEFT_ENOMEM : WEFT_EINVAL;
  L->loop = foreign;
  L->attached = 1;
  L->loop_thread = pthread_self();
  ev_async_init(&L->async, on_async);
  L->async.data = L;
  ev_async_start(L->loop, &L->async);
  /* As on libuv, the async and check watchers alone do not keep the
   * application's loop alive (ev_unref); ready tasks (idle), a deadline
   * (timer) and fd interest do. */
  ev_unref(L->loop);
  ev_check_init(&L->check, on_check);
  L->check.data = L;
  ev_set_priority(&L->check, EV_MINPRI);
  ev_check_start(L->loop, &L->check);
  ev_unref(L->loop);
  ev_idle_init(&L->idle, on_idle);
  L->idle.data = L;
  ev_init(&L->timer, on_attach_timer);
  L->timer.data = L;
  /* Tasks spawned before the loop runs must get a first turn. */
  ev_idle_start(L->loop, &L->idle);
  *out = L;
  return 0;
}

/* ---- Teardown ------------------------------------------------------------- */

static void release_cb(void *arg, wb_fd *f) {
  evb *L = arg;
  if (f->active)
    release(L, f);
  free(f->impl);
  f->impl = NULL;
}

static void evb_destroy(void *p) {
  evb *L = p;
  if (!L)
    return;
  wb_drain(&L->core, apply, L);
  wb_foreach(&L->core, release_cb, L);
  ev_timer_stop(L->loop, &L->timer);
  if (L->attached) {
    /* Give back the references taken by ev_unref before stopping. */
    ev_ref(L->loop);
    ev_async_stop(L->loop, &L->async);
    ev_ref(L->loop);
    ev_check_stop(L->loop, &L->check);
    ev_idle_stop(L->loop, &L->idle);
  } else {
    ev_async_stop(L->loop, &L->async);
    ev_loop_destroy(L->loop);
  }
  wb_core_fini(&L->core);
  free(L);
}

static int evb_ctl(void *p, int op, void *arg) {
  evb *L = p;
  if (op == WEFT_BACKEND_CTL_NATIVE_LOOP) {
    if (!arg)
      return WEFT_EINVAL;
    *(void **)arg = L->loop;
    return 0;
  }
  return WEFT_ENOTSUP;
}

static const weft_backend ev_vtable = {
    .abi_version = WEFT_BACKEND_ABI_V1,
    .struct_size = sizeof(weft_backend),
    .name = "libev",
    .create = evb_create,
    .attach = evb_attach,
    .destroy = evb_destroy,
    .register_fd = evb_register,
    .modify_fd = evb_modify,
    .rearm_fd = evb_rearm,
    .deregister_fd = evb_deregister,
    .close_fd = evb_close_fd,
    .poll = evb_poll,
    .wake = evb_wake,
    .signal_watch = NULL,
    .signal_unwatch = NULL,
    .ctl = evb_ctl,
    .now_ns = NULL,
};

__attribute__((visibility("default"))) const weft_backend *
weft_backend_module_entry(void) {
  return &ev_vtable;
}
