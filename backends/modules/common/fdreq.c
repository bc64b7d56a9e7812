/* backends/modules/common/fdreq.c: the fd requests, poll bookkeeping and
 * attach-mode task run shared by the library backends (see fdreq.h). The
 * record (cmdq.h) holds what the core wants; the loop thread makes the
 * library's watcher match it through the module's wb_ops.
 * Because the loop thread always applies the record's *final* state, the
 * order in which requests from several threads reach it does not matter. */
#include "fdreq.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int wb_loop_new(void **out, size_t size, const weft_backend_host *host,
                const wb_ops *ops, int lazy) {
  if (!out || !host || !host->io_ready)
    return WEFT_EINVAL;
  wb_core *c = calloc(1, size);
  if (!c)
    return WEFT_ENOMEM;
  wb_core_init(c, lazy);
  c->host = *host;
  c->ops = ops;
  c->forgive = ops->forgive < WB_STRIKES_MAX ? ops->forgive : WB_STRIKES_MAX;
  *out = c;
  return 0;
}

int wb_on_loop_thread(wb_core *c) {
  if (c->attached)
    return pthread_equal(pthread_self(), c->loop_thread);
  return wb_in_poll(c);
}

/* Loop thread: make the watcher's mask match the record; the library is
 * called only when the mask really changes. */
static void set_mask(wb_core *c, wb_fd *f) {
  uint32_t want = wb_desired(f);
  if (want == f->started)
    return;
  if (c->ops->set_mask(c, f, want) == 0)
    f->started = want;
}

static void release(wb_core *c, wb_fd *f) {
  c->ops->release(c, f);
  f->active = 0;
  f->started = 0;
}

void wb_apply(void *core, wb_fd *f, uint32_t ops) {
  wb_core *c = core;
  if (ops & WB_OP_CLOSE) {
    /* The library forgets the fd before the number can be reused. */
    if (f->active)
      release(c, f);
    close(f->fd);
  }
  uint32_t want = atomic_load_explicit(&f->want, memory_order_acquire);
  uint32_t gen = atomic_load_explicit(&f->gen, memory_order_acquire);
  /* A new generation is a new registration of the number, perhaps for
   * another file: the old watcher must go even though `want` is 1. */
  if (f->active && (!want || gen != f->applied_gen))
    release(c, f);
  if (want && !f->active) {
    if (c->ops->open(c, f) != 0)
      return;
    f->active = 1;
    f->applied_gen = gen;
    f->started = 0;
  }
  if (f->active)
    set_mask(c, f);
}

int wb_drain_all(wb_core *c) { return wb_drain(c, wb_apply, c); }

int wb_report(wb_core *c, wb_fd *f, uint32_t dirs, uint32_t extra) {
  uint32_t drop;
  uint32_t report = wb_on_ready(c, f, dirs, &drop);
  if (drop)
    set_mask(c, f);
  if (!report)
    return 0;
  c->reported++;
  c->host.io_ready(c->host.ctx,
                   atomic_load_explicit(&f->token, memory_order_acquire),
                   report | extra);
  return 1;
}

int wb_attach_run(wb_core *c) {
  wb_drain_all(c);
  c->rerun = 0;
  c->in_run = 1;
  int more = c->host.run_tasks ? c->host.run_tasks(c->host.ctx) : 0;
  c->in_run = 0;
  return more || c->rerun;
}

int64_t wb_next_timeout(wb_core *c) {
  return c->host.next_timeout_ms ? c->host.next_timeout_ms(c->host.ctx) : -1;
}

int wb_wake_owned(wb_core *c) {
  if (wb_in_poll(c)) {
    /* Inside this thread's poll: it returns after this iteration, and the
     * flag makes the next poll return at once. */
    atomic_store_explicit(&c->woken, 1, memory_order_relaxed);
    return 0;
  }
  return wb_wake_needed(c);
}

/* Hand a request to the loop thread: apply it now when this thread may
 * touch the library, otherwise queue it and kick the loop only if the queue
 * was empty and someone may be blocked in the loop (a non-empty queue
 * already has a kick, or a poll, on its way). */
static int submit(wb_core *c, wb_fd *f, uint32_t ops) {
  ops |= WB_OP_SYNC;
  if (c->direct) {
    /* Two threads may act on one fd number at once (a close on one worker,
     * a new socket with the same number registered on another). */
    wb_fd_lock(f);
    wb_apply(c, f, ops);
    wb_fd_unlock(f);
    return 0;
  }
  if (wb_on_loop_thread(c)) {
    wb_apply(c, f, wb_take(f, ops));
    return 0;
  }
  if (wb_push(c, f, ops) && (c->attached || wb_poller_blocked(c)))
    c->ops->kick(c);
  return 0;
}

int wb_be_register(void *loop, int fd, uint32_t interest, void *token) {
  wb_core *c = loop;
  /* Checked here, on the caller's thread, because the library would only
   * find out on the loop thread, where the error could not be returned. */
  if (fd < 0 || fcntl(fd, F_GETFD) < 0)
    return WEFT_EBADF;
  wb_fd *f = wb_fd_get(c, fd, 1);
  if (!f)
    return WEFT_ENOMEM;
  wb_want_register(f, interest, token);
  return submit(c, f, 0);
}

int wb_be_modify(void *loop, int fd, uint32_t interest, void *token) {
  wb_core *c = loop;
  wb_fd *f = wb_fd_get(c, fd, 0);
  if (!f || !atomic_load_explicit(&f->want, memory_order_relaxed))
    return WEFT_ENOENT;
  wb_want_modify(f, interest, token);
  return submit(c, f, 0);
}

int wb_be_rearm(void *loop, int fd, uint32_t events, void *token) {
  (void)token;
  wb_core *c = loop;
  if (!c->lazy)
    return 0; /* edge-triggered: nothing is ever dropped */
  wb_fd *f = wb_fd_get(c, fd, 0);
  if (!f)
    return WEFT_ENOENT;
  /* Only a direction that was taken out of the watcher needs the loop. */
  if (wb_rearm(f, events))
    return submit(c, f, 0);
  return 0;
}

int wb_be_deregister(void *loop, int fd, void *token) {
  (void)token;
  wb_core *c = loop;
  wb_fd *f = wb_fd_get(c, fd, 0);
  if (!f)
    return WEFT_ENOENT;
  wb_want_deregister(f);
  return submit(c, f, 0);
}

int wb_be_close_fd(void *loop, int fd, void *token) {
  (void)token;
  wb_core *c = loop;
  /* create: an fd that was never registered is still closed, on the loop
   * thread like the others. */
  wb_fd *f = wb_fd_get(c, fd, 1);
  if (!f)
    return WEFT_EBADF;
  wb_want_deregister(f);
  return submit(c, f, WB_OP_CLOSE);
}

int wb_be_ctl(void *loop, int op, void *arg) {
  wb_core *c = loop;
  if (op == WEFT_BACKEND_CTL_NATIVE_LOOP) {
    if (!arg)
      return WEFT_EINVAL;
    *(void **)arg = c->native;
    return 0;
  }
  return WEFT_ENOTSUP;
}
