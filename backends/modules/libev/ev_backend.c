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

#include <ev.h>

#include "../common/fdreq.h"

typedef struct evb {
  wb_core core; /* first: the vtable's loop pointer is also a wb_core */
  struct ev_loop *loop;
  ev_async async;
  ev_timer timer;
  ev_check check;
  ev_idle idle;
  int timer_on;
  ev_tstamp armed_at;
} evb;

typedef struct evfd {
  ev_io io;
  evb *L;
  wb_fd *f;
  int fresh; /* a new registration: ev_io_set must run before the start */
} evfd;

static int to_ev(uint32_t m) {
  return ((m & WEFT_IO_READABLE) ? EV_READ : 0) |
         ((m & WEFT_IO_WRITABLE) ? EV_WRITE : 0);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  evfd *e = (evfd *)w;
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
  wb_report(&e->L->core, f, dirs, extra);
}

static int evb_open(wb_core *c, wb_fd *f) {
  evfd *e = f->impl;
  if (!e) {
    /* The ev_io is reused by later registrations of the same number. */
    e = calloc(1, sizeof *e);
    if (!e)
      return WEFT_ENOMEM;
    e->L = (evb *)c;
    e->f = f;
    ev_init(&e->io, on_io);
    f->impl = e;
  }
  /* A new registration: the number may name a new file, so evb_set_mask's
   * ev_io_set tells libev to add it afresh. */
  e->fresh = 1;
  return 0;
}

static void evb_release(wb_core *c, wb_fd *f) {
  evfd *e = f->impl;
  if (e)
    ev_io_stop(((evb *)c)->loop, &e->io);
}

static int evb_set_mask(wb_core *c, wb_fd *f, uint32_t want) {
  evb *L = (evb *)c;
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
  return 0;
}

static void evb_kick(wb_core *c) {
  evb *L = (evb *)c;
  ev_async_send(L->loop, &L->async);
}

/* libev applies a drop at its next iteration, and usually for free (the
 * fd stays in the kernel's set until it fires again), but the restore still
 * goes through the command queue: forgiving two spurious reports, as on
 * libuv, cuts those round trips for the same bounded cost. */
static const wb_ops evb_ops = {evb_open, evb_release, evb_set_mask, evb_kick,
                               2};

static void on_async(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)revents;
  evb *L = w->data;
  wb_drain_all(&L->core);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
}

static int evb_poll(void *p, int64_t timeout_ms) {
  evb *L = p;
  if (L->core.attached)
    return WEFT_ENOTSUP;
  L->core.reported = 0;
  wb_poll_enter(&L->core, &timeout_ms);
  wb_drain_all(&L->core);
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
  return L->core.reported;
}

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
}

static int evb_wake(void *p) {
  evb *L = p;
  if (L->core.attached) {
    if (wb_on_loop_thread(&L->core)) {
      L->core.rerun = 1;
      ev_idle_start(L->loop, &L->idle);
      return 0;
    }
    ev_async_send(L->loop, &L->async);
    return 0;
  }
  if (wb_wake_owned(&L->core))
    ev_async_send(L->loop, &L->async);
  return 0;
}

static int evb_create(void **out, const weft_backend_host *host) {
  evb *L;
  int rc = wb_loop_new((void **)&L, sizeof *L, host, &evb_ops, 1);
  if (rc)
    return rc;
  L->loop = ev_loop_new(EVFLAG_AUTO);
  if (!L->loop) {
    free(L);
    return WEFT_ENOMEM;
  }
  ev_async_init(&L->async, on_async);
  L->async.data = L;
  ev_async_start(L->loop, &L->async);
  ev_init(&L->timer, on_timeout);
  L->core.native = L->loop;
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
  int64_t t = wb_next_timeout(&L->core);
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
  if (wb_attach_run(&L->core))
    ev_idle_start(L->loop, &L->idle);
  else
    ev_idle_stop(L->loop, &L->idle);
  arm_timer(L);
}

static int evb_attach(void **out, void *foreign, const weft_backend_host *host) {
  if (!foreign)
    return WEFT_EINVAL;
  evb *L;
  int rc = wb_loop_new((void **)&L, sizeof *L, host, &evb_ops, 1);
  if (rc)
    return rc;
  L->loop = foreign;
  L->core.native = foreign;
  L->core.attached = 1;
  L->core.loop_thread = pthread_self();
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
  if (f->active)
    evb_release(arg, f);
  f->active = 0;
  free(f->impl);
  f->impl = NULL;
}

static void evb_destroy(void *p) {
  evb *L = p;
  if (!L)
    return;
  wb_drain_all(&L->core);
  wb_foreach(&L->core, release_cb, L);
  ev_timer_stop(L->loop, &L->timer);
  if (L->core.attached) {
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

static const weft_backend ev_vtable = {
    .abi_version = WEFT_BACKEND_ABI_V1,
    .struct_size = sizeof(weft_backend),
    .name = "libev",
    .create = evb_create,
    .attach = evb_attach,
    .destroy = evb_destroy,
    .register_fd = wb_be_register,
    .modify_fd = wb_be_modify,
    .rearm_fd = wb_be_rearm,
    .deregister_fd = wb_be_deregister,
    .close_fd = wb_be_close_fd,
    .poll = evb_poll,
    .wake = evb_wake,
    .signal_watch = NULL,
    .signal_unwatch = NULL,
    .ctl = wb_be_ctl,
    .now_ns = NULL,
};

__attribute__((visibility("default"))) const weft_backend *
weft_backend_module_entry(void) {
  return &ev_vtable;
}
