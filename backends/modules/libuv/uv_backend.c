/* backends/modules/libuv/uv_backend.c: the libuv backend.
 *
 * Owned mode (the driver topology): whichever worker holds the driver calls
 * poll, which applies the queued requests and runs one uv_run iteration.
 * Other threads never touch the loop: they store what they want in the fd's
 * record, push it on the command queue (common/cmdq.c) and send the async
 * handle only if the queue was empty and a poller may be blocked.
 *
 * Attach mode (the loop topology): the application runs the loop. A
 * uv_check runs host->run_tasks after every poll phase; a uv_idle is
 * started while run_tasks says more tasks are ready, so the loop does not
 * block; one uv_timer is armed with host->next_timeout_ms. Requests from
 * other threads go through the same queue and the async handle.
 *
 * Readiness: one uv_poll_t per fd, level-triggered, used lazily. A watcher
 * stays started after it reports; only a spurious callback (the direction is
 * still HELD because the core has not drained the fd) takes the direction
 * out of the watcher, and rearm_fd puts it back. Stopping and restarting a
 * uv_poll_t costs three epoll_ctl calls, so this never happens per event in
 * the steady state.
 *
 * Close: only the loop thread closes an fd, right after uv_close (which
 * removes it from epoll at once). Closing it earlier would let the number be
 * reused and the old handle's removal would hit the new registration. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "../common/fdreq.h"

typedef struct uvb {
  wb_core core; /* first: the vtable's loop pointer is also a wb_core */
  uv_loop_t *loop;
  uv_async_t *async;
  uv_timer_t *timer;
  uv_check_t *check; /* attach mode */
  uv_idle_t *idle;   /* attach mode */
  uint64_t armed_at;  /* attach: deadline of the loop timer, or 0 */
  int idle_on;
} uvb;

typedef struct uvfd {
  uv_poll_t h;
  uvb *L;
  wb_fd *f;
} uvfd;

static void free_handle(uv_handle_t *h) { free(h); }

static int to_uv(uint32_t m) {
  return ((m & WEFT_IO_READABLE) ? UV_READABLE : 0) |
         ((m & WEFT_IO_WRITABLE) ? UV_WRITABLE : 0);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  uvfd *u = (uvfd *)h;
  wb_fd *f = u->f;
  if (f->impl != u || !wb_reportable(f))
    return;
  uint32_t extra = 0, dirs = 0;
  if (status < 0) {
    extra = WEFT_IO_ERROR;
    dirs = f->started;
  } else {
    if (events & UV_READABLE)
      dirs |= WEFT_IO_READABLE;
    if (events & UV_WRITABLE)
      dirs |= WEFT_IO_WRITABLE;
    if (events & UV_DISCONNECT) {
      extra |= WEFT_IO_HANGUP;
      dirs |= f->started;
    }
  }
  wb_report(&u->L->core, f, dirs, extra);
}

/* A uv_poll_t is bound to its fd for life, so every registration gets a new
 * one; the old one was closed by uvb_release. */
static int uvb_open(wb_core *c, wb_fd *f) {
  uvb *L = (uvb *)c;
  uvfd *u = malloc(sizeof *u);
  if (!u)
    return WEFT_ENOMEM;
  u->L = L;
  u->f = f;
  int r = uv_poll_init(L->loop, &u->h, f->fd);
  if (r != 0) {
    /* libuv refuses this fd (a regular file, say): tell the waiting task
     * with an error report rather than leaving it asleep forever. */
    free(u);
    atomic_store_explicit(&f->want, 0, memory_order_relaxed);
    c->host.io_ready(c->host.ctx,
                     atomic_load_explicit(&f->token, memory_order_acquire),
                     WEFT_IO_ERROR);
    return r;
  }
  f->impl = u;
  return 0;
}

/* uv_close removes the fd from epoll at once, so the fd may be closed right
 * after it; the handle's memory goes when libuv is done with it. */
static void uvb_release(wb_core *c, wb_fd *f) {
  (void)c;
  uvfd *u = f->impl;
  if (u)
    uv_close((uv_handle_t *)&u->h, free_handle);
  f->impl = NULL;
}

static int uvb_set_mask(wb_core *c, wb_fd *f, uint32_t want) {
  (void)c;
  uvfd *u = f->impl;
  return want ? uv_poll_start(&u->h, to_uv(want), on_poll)
              : uv_poll_stop(&u->h);
}

static void uvb_kick(wb_core *c) { uv_async_send(((uvb *)c)->async); }

/* Two spurious reports are forgiven: with two workers, a third of the
 * watcher callbacks repeat a report whose task has not read yet, and a drop
 * costs three epoll_ctl calls here (uv_poll_stop deletes the fd from epoll
 * at once, uv_poll_start deletes and adds it again). Forgiving one left a
 * drop for about one report in fifteen under load (0.36 epoll_ctl per
 * request); forgiving two, one in a hundred. A task that really stops
 * reading costs three quick polls before its fd goes quiet. */
static const wb_ops uvb_ops = {uvb_open, uvb_release, uvb_set_mask, uvb_kick,
                               2};

static void on_async(uv_async_t *h) {
  uvb *L = h->data;
  wb_drain_all(&L->core);
}

/* uv_run runs due timers before it computes its poll timeout. When the
 * poll's own timer is already due by then (a slow thread: the 1 ms passed
 * between uv_timer_start and uv_run), it fires there and is gone, and with
 * no other timer the poll phase would block with no timeout at all, while
 * the core expects to be back by its deadline. uv_stop makes that poll
 * phase non-blocking; uv_run clears the flag before it returns. */
static void on_timeout(uv_timer_t *h) { uv_stop(h->loop); }

/* The idle handle only keeps the loop from blocking; the check handle that
 * follows the poll phase runs the tasks. */
static void on_idle(uv_idle_t *h) { (void)h; }

static int uvb_poll(void *p, int64_t timeout_ms) {
  uvb *L = p;
  if (L->core.attached)
    return WEFT_ENOTSUP;
  L->core.reported = 0;
  wb_poll_enter(&L->core, &timeout_ms);
  wb_drain_all(&L->core);
  if (timeout_ms == 0) {
    uv_run(L->loop, UV_RUN_NOWAIT);
  } else {
    if (timeout_ms > 0) {
      uv_update_time(L->loop);
      uv_timer_start(L->timer, on_timeout, (uint64_t)timeout_ms, 0);
    }
    uv_run(L->loop, UV_RUN_ONCE);
    if (timeout_ms > 0)
      uv_timer_stop(L->timer);
  }
  wb_poll_leave(&L->core);
  return L->core.reported;
}

static int uvb_wake(void *p) {
  uvb *L = p;
  if (L->core.attached) {
    if (wb_on_loop_thread(&L->core)) {
      /* Safe to touch the loop: make the next iteration run our tasks
       * without blocking. */
      L->core.rerun = 1;
      if (!L->idle_on) {
        uv_idle_start(L->idle, on_idle);
        L->idle_on = 1;
      }
      return 0;
    }
    uv_async_send(L->async);
    return 0;
  }
  if (wb_wake_owned(&L->core))
    uv_async_send(L->async);
  return 0;
}

static int make_common(uvb *L) {
  L->async = malloc(sizeof *L->async);
  L->timer = malloc(sizeof *L->timer);
  if (!L->async || !L->timer) {
    free(L->async);
    free(L->timer);
    return WEFT_ENOMEM;
  }
  uv_async_init(L->loop, L->async, on_async);
  L->async->data = L;
  uv_timer_init(L->loop, L->timer);
  L->timer->data = L;
  return 0;
}

static int uvb_create(void **out, const weft_backend_host *host) {
  uvb *L;
  int r = wb_loop_new((void **)&L, sizeof *L, host, &uvb_ops, 1);
  if (r)
    return r;
  L->loop = malloc(sizeof *L->loop);
  if (!L->loop) {
    free(L);
    return WEFT_ENOMEM;
  }
  r = uv_loop_init(L->loop);
  if (r != 0) {
    free(L->loop);
    free(L);
    return r;
  }
  r = make_common(L);
  if (r != 0) {
    uv_loop_close(L->loop);
    free(L->loop);
    free(L);
    return r;
  }
  L->core.native = L->loop;
  *out = L;
  return 0;
}

/* ---- Attach mode ---------------------------------------------------------- */

static void service(uvb *L);

static void on_attach_timer(uv_timer_t *h) {
  uvb *L = h->data;
  L->armed_at = 0;
  service(L);
}

static void on_check(uv_check_t *h) { service(h->data); }

/* One loop timer, re-armed only when the deadline moves. */
static void arm_timer(uvb *L) {
  int64_t t = wb_next_timeout(&L->core);
  if (t < 0) {
    if (L->armed_at) {
      uv_timer_stop(L->timer);
      L->armed_at = 0;
    }
    return;
  }
  uint64_t at = uv_now(L->loop) + (uint64_t)t + 1; /* +1: 0 means unarmed */
  if (at == L->armed_at)
    return;
  uv_timer_start(L->timer, on_attach_timer, (uint64_t)t, 0);
  L->armed_at = at;
}

/* Run weft's tasks on the loop thread, then decide whether the loop may
 * block (the idle handle) and when it must come back (the timer). */
static void service(uvb *L) {
  if (wb_attach_run(&L->core)) {
    if (!L->idle_on) {
      uv_idle_start(L->idle, on_idle);
      L->idle_on = 1;
    }
  } else if (L->idle_on) {
    uv_idle_stop(L->idle);
    L->idle_on = 0;
  }
  arm_timer(L);
}

/* uv_close completes on the application's next iteration, after detach has
 * returned and the core may have unloaded this module: the close callbacks
 * (free_handle) must still be mapped then. So the first attach pins the
 * module in memory for the life of the process (RTLD_NODELETE). */
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;
static void pin_module(void) {
  Dl_info info;
  void *self;
  void (*entry)(uv_handle_t *) = free_handle;
  memcpy(&self, &entry, sizeof self);
  if (dladdr(self, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static int uvb_attach(void **out, void *foreign, const weft_backend_host *host) {
  if (!out || !foreign)
    return WEFT_EINVAL;
  pthread_once(&pin_once, pin_module);
  uvb *L;
  int r = wb_loop_new((void **)&L, sizeof *L, host, &uvb_ops, 1);
  if (r)
    return r;
  L->loop = foreign;
  L->core.native = foreign;
  L->core.attached = 1;
  L->core.loop_thread = pthread_self();
  L->check = malloc(sizeof *L->check);
  L->idle = malloc(sizeof *L->idle);
  if (!L->check || !L->idle || make_common(L) != 0) {
    free(L->check);
    free(L->idle);
    free(L);
    return WEFT_ENOMEM;
  }
  /* The async and check handles do not keep the application's loop alive
   * on their own; the idle handle (tasks ready), the timer (a deadline) and
   * the fd watchers (I/O interest) do, as any libuv handle would. */
  uv_unref((uv_handle_t *)L->async);
  uv_check_init(L->loop, L->check);
  L->check->data = L;
  uv_check_start(L->check, on_check);
  uv_unref((uv_handle_t *)L->check);
  uv_idle_init(L->loop, L->idle);
  L->idle->data = L;
  /* Tasks spawned before the loop runs must get a first turn. */
  uv_idle_start(L->idle, on_idle);
  L->idle_on = 1;
  *out = L;
  return 0;
}

/* ---- Teardown ------------------------------------------------------------- */

static void release_cb(void *arg, wb_fd *f) {
  if (f->active)
    uvb_release(arg, f);
  f->active = 0;
}

static void uvb_destroy(void *p) {
  uvb *L = p;
  if (!L)
    return;
  /* Apply queued requests first: a pending close must still close its fd. */
  wb_drain_all(&L->core);
  wb_foreach(&L->core, release_cb, L);
  uv_close((uv_handle_t *)L->async, free_handle);
  uv_close((uv_handle_t *)L->timer, free_handle);
  if (L->core.attached) {
    /* The handles finish closing on the application's next iteration; they
     * are freed by their close callbacks, not with L. */
    uv_close((uv_handle_t *)L->check, free_handle);
    uv_close((uv_handle_t *)L->idle, free_handle);
  } else {
    uv_run(L->loop, UV_RUN_DEFAULT); /* runs the close callbacks */
    uv_loop_close(L->loop);
    free(L->loop);
  }
  wb_core_fini(&L->core);
  free(L);
}

static const weft_backend uv_vtable = {
    .abi_version = WEFT_BACKEND_ABI_V1,
    .struct_size = sizeof(weft_backend),
    .name = "libuv",
    .create = uvb_create,
    .attach = uvb_attach,
    .destroy = uvb_destroy,
    .register_fd = wb_be_register,
    .modify_fd = wb_be_modify,
    .rearm_fd = wb_be_rearm,
    .deregister_fd = wb_be_deregister,
    .close_fd = wb_be_close_fd,
    .poll = uvb_poll,
    .wake = uvb_wake,
    .signal_watch = NULL,
    .signal_unwatch = NULL,
    .ctl = wb_be_ctl,
    .now_ns = NULL,
};

__attribute__((visibility("default"))) const weft_backend *
weft_backend_module_entry(void) {
  return &uv_vtable;
}
