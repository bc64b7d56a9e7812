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
#include <unistd.h>

#include <fcntl.h>
#include <uv.h>

#include "../common/cmdq.h"

typedef struct uvb {
  wb_core core;
  weft_backend_host host;
  uv_loop_t *loop;
  int attached;
  pthread_t loop_thread; /* attach mode */
  uv_async_t *async;
  uv_timer_t *timer;
  uv_check_t *check; /* attach mode */
  uv_idle_t *idle;   /* attach mode */
  int reported;
  int rerun;          /* attach: a wake from the loop thread during a run */
  uint64_t armed_at;  /* attach: deadline of the loop timer, or 0 */
  int idle_on;
} uvb;

typedef struct uvfd {
  uv_poll_t h;
  uvb *L;
  wb_fd *f;
} uvfd;

/* Owned mode: the loop whose poll runs on this thread, if any. Initial-exec
 * for the reason given in ../libev/ev_backend.c: every waking thread reads
 * it. */
static _Thread_local uvb *tls_loop __attribute__((tls_model("initial-exec")));

static int on_loop_thread(uvb *L) {
  if (L->attached)
    return pthread_equal(pthread_self(), L->loop_thread);
  return tls_loop == L;
}

static void free_handle(uv_handle_t *h) { free(h); }

static int to_uv(uint32_t m) {
  return ((m & WEFT_IO_READABLE) ? UV_READABLE : 0) |
         ((m & WEFT_IO_WRITABLE) ? UV_WRITABLE : 0);
}

static void set_mask(uvb *L, wb_fd *f);

static void on_poll(uv_poll_t *h, int status, int events) {
  uvfd *u = (uvfd *)h;
  uvb *L = u->L;
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

/* Loop thread: stop and close the record's watcher. */
static void release(uvb *L, wb_fd *f) {
  (void)L;
  uvfd *u = f->impl;
  if (u)
    uv_close((uv_handle_t *)&u->h, free_handle);
  f->impl = NULL;
  f->active = 0;
  f->started = 0;
}

/* Loop thread: make the libuv watcher match the wanted mask; libuv is
 * called only when the mask really changes. */
static void set_mask(uvb *L, wb_fd *f) {
  (void)L;
  uint32_t want = wb_desired(f);
  if (want == f->started)
    return;
  uvfd *u = f->impl;
  int r = want ? uv_poll_start(&u->h, to_uv(want), on_poll)
               : uv_poll_stop(&u->h);
  if (r == 0)
    f->started = want;
}

/* Loop thread: bring the record's watcher in line with what was asked. */
static void apply(void *arg, wb_fd *f, uint32_t ops) {
  uvb *L = arg;
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
    uvfd *u = malloc(sizeof *u);
    if (!u)
      return;
    u->L = L;
    u->f = f;
    if (uv_poll_init(L->loop, &u->h, f->fd) != 0) {
      /* libuv refuses this fd (a regular file, say): tell the waiting task
       * with an error report rather than leaving it asleep forever. */
      free(u);
      atomic_store_explicit(&f->want, 0, memory_order_relaxed);
      L->host.io_ready(L->host.ctx,
                       atomic_load_explicit(&f->token, memory_order_acquire),
                       WEFT_IO_ERROR);
      return;
    }
    f->impl = u;
    f->active = 1;
    f->applied_gen = gen;
    f->started = 0;
  }
  if (f->active)
    set_mask(L, f);
}

/* Hand a request to the loop thread: apply it now if we are on it,
 * otherwise queue it and wake the loop if needed. */
static int submit(uvb *L, wb_fd *f, uint32_t ops) {
  if (on_loop_thread(L)) {
    apply(L, f, wb_take(f, ops | WB_OP_SYNC));
    return 0;
  }
  if (wb_push(&L->core, f, ops | WB_OP_SYNC) &&
      (L->attached || wb_poller_blocked(&L->core)))
    uv_async_send(L->async);
  return 0;
}

static int check_fd(int fd) {
  if (fd < 0 || fcntl(fd, F_GETFD) < 0)
    return WEFT_EBADF;
  return 0;
}

static int uvb_register(void *p, int fd, uint32_t interest, void *token) {
  uvb *L = p;
  int r = check_fd(fd);
  if (r)
    return r;
  wb_fd *f = wb_fd_get(&L->core, fd, 1);
  if (!f)
    return fd < 0 ? WEFT_EBADF : WEFT_ENOMEM;
  wb_want_register(f, interest, token);
  return submit(L, f, 0);
}

static int uvb_modify(void *p, int fd, uint32_t interest, void *token) {
  uvb *L = p;
  wb_fd *f = wb_fd_get(&L->core, fd, 0);
  if (!f || !atomic_load_explicit(&f->want, memory_order_relaxed))
    return WEFT_ENOENT;
  wb_want_modify(f, interest, token);
  return submit(L, f, 0);
}

static int uvb_rearm(void *p, int fd, uint32_t events, void *token) {
  (void)token;
  uvb *L = p;
  wb_fd *f = wb_fd_get(&L->core, fd, 0);
  if (!f)
    return WEFT_ENOENT;
  if (wb_rearm(f, events))
    return submit(L, f, 0);
  return 0;
}

static int uvb_deregister(void *p, int fd, void *token) {
  (void)token;
  uvb *L = p;
  wb_fd *f = wb_fd_get(&L->core, fd, 0);
  if (!f)
    return WEFT_ENOENT;
  wb_want_deregister(f);
  return submit(L, f, 0);
}

static int uvb_close_fd(void *p, int fd, void *token) {
  (void)token;
  uvb *L = p;
  wb_fd *f = wb_fd_get(&L->core, fd, 1);
  if (!f)
    return WEFT_EBADF;
  wb_want_deregister(f);
  return submit(L, f, WB_OP_CLOSE);
}

static void on_async(uv_async_t *h) {
  uvb *L = h->data;
  wb_drain(&L->core, apply, L);
}

static void on_timeout(uv_timer_t *h) { (void)h; }

/* The idle handle only keeps the loop from blocking; the check handle that
 * follows the poll phase runs the tasks. */
static void on_idle(uv_idle_t *h) { (void)h; }

static int uvb_poll(void *p, int64_t timeout_ms) {
  uvb *L = p;
  if (L->attached)
    return WEFT_ENOTSUP;
  tls_loop = L;
  L->reported = 0;
  wb_poll_enter(&L->core, &timeout_ms);
  wb_drain(&L->core, apply, L);
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
  tls_loop = NULL;
  return L->reported;
}

static int uvb_wake(void *p) {
  uvb *L = p;
  if (L->attached) {
    if (on_loop_thread(L)) {
      /* Safe to touch the loop: make the next iteration run our tasks
       * without blocking. */
      L->rerun = 1;
      if (!L->idle_on) {
        uv_idle_start(L->idle, on_idle);
        L->idle_on = 1;
      }
      return 0;
    }
    uv_async_send(L->async);
    return 0;
  }
  if (tls_loop == L) {
    /* Inside this thread's poll: it returns after this iteration; the
     * flag makes the next poll return at once. */
    atomic_store_explicit(&L->core.woken, 1, memory_order_relaxed);
    return 0;
  }
  if (wb_wake_needed(&L->core))
    uv_async_send(L->async);
  return 0;
}

static uvb *alloc_loop(const weft_backend_host *host) {
  if (!host || !host->io_ready)
    return NULL;
  uvb *L = calloc(1, sizeof *L);
  if (!L)
    return NULL;
  wb_core_init(&L->core, 1);
  L->host = *host;
  return L;
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
  if (!out)
    return WEFT_EINVAL;
  uvb *L = alloc_loop(host);
  if (!L)
    return host ? WEFT_ENOMEM : WEFT_EINVAL;
  L->loop = malloc(sizeof *L->loop);
  if (!L->loop) {
    free(L);
    return WEFT_ENOMEM;
  }
  int r = uv_loop_init(L->loop);
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
  int64_t t = L->host.next_timeout_ms ? L->host.next_timeout_ms(L->host.ctx)
                                      : -1;
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
  wb_drain(&L->core, apply, L);
  L->rerun = 0;
  int more = L->host.run_tasks ? L->host.run_tasks(L->host.ctx) : 0;
  if (more || L->rerun) {
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
  uvb *L = alloc_loop(host);
  if (!L)
    return host ? WEFT_ENOMEM : WEFT_EINVAL;
  L->loop = foreign;
  L->attached = 1;
  L->loop_thread = pthread_self();
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
  uvb *L = arg;
  if (f->active)
    release(L, f);
}

static void uvb_destroy(void *p) {
  uvb *L = p;
  if (!L)
    return;
  /* Apply queued requests first: a pending close must still close its fd. */
  wb_drain(&L->core, apply, L);
  wb_foreach(&L->core, release_cb, L);
  uv_close((uv_handle_t *)L->async, free_handle);
  uv_close((uv_handle_t *)L->timer, free_handle);
  if (L->attached) {
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

static int uvb_ctl(void *p, int op, void *arg) {
  uvb *L = p;
  if (op == WEFT_BACKEND_CTL_NATIVE_LOOP) {
    if (!arg)
      return WEFT_EINVAL;
    *(void **)arg = L->loop;
    return 0;
  }
  return WEFT_ENOTSUP;
}

static const weft_backend uv_vtable = {
    .abi_version = WEFT_BACKEND_ABI_V1,
    .struct_size = sizeof(weft_backend),
    .name = "libuv",
    .create = uvb_create,
    .attach = uvb_attach,
    .destroy = uvb_destroy,
    .register_fd = uvb_register,
    .modify_fd = uvb_modify,
    .rearm_fd = uvb_rearm,
    .deregister_fd = uvb_deregister,
    .close_fd = uvb_close_fd,
    .poll = uvb_poll,
    .wake = uvb_wake,
    .signal_watch = NULL,
    .signal_unwatch = NULL,
    .ctl = uvb_ctl,
    .now_ns = NULL,
};

__attribute__((visibility("default"))) const weft_backend *
weft_backend_module_entry(void) {
  return &uv_vtable;
}
